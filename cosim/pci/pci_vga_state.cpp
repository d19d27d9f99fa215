// pci_set_vga_state (Linux 6.1 drivers/pci/pci.c): the VGA arbiter's one lever on the hardware.
// Config writes through ECAM, so the fabric's ports route the legacy ranges as the bits say.
#include "kernel/kapi.h"
#include <linux/pci.h>

extern "C" int pci_set_vga_state(struct pci_dev* dev, bool decode, unsigned int command_bits, u32 flags) {
  // Only the two decode bits may change with CHANGE_DECODES (Linux WARNs otherwise).
  WARN_ON((flags & PCI_VGA_STATE_CHANGE_DECODES) && (command_bits & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY)));
  // (x86 has no pci_set_vga_state_arch hook registered: nothing before the config writes.)
  u16 cmd = 0;
  if (flags & PCI_VGA_STATE_CHANGE_DECODES) {
    pci_read_config_word(dev, PCI_COMMAND, &cmd);
    if (decode) cmd = static_cast<u16>(cmd | command_bits);
    else cmd = static_cast<u16>(cmd & ~command_bits);
    pci_write_config_word(dev, PCI_COMMAND, cmd);
  }
  if (!(flags & PCI_VGA_STATE_CHANGE_BRIDGE)) return 0;
  // Every bridge from the device's bus up to the root bus.
  for (struct pci_bus* bus = dev->bus; bus; bus = bus->parent) {
    struct pci_dev* bridge = bus->self;
    if (!bridge) continue;
    pci_read_config_word(bridge, PCI_BRIDGE_CONTROL, &cmd);
    if (decode) cmd = static_cast<u16>(cmd | PCI_BRIDGE_CTL_VGA);
    else cmd = static_cast<u16>(cmd & ~PCI_BRIDGE_CTL_VGA);
    pci_write_config_word(bridge, PCI_BRIDGE_CONTROL, cmd);
  }
  return 0;
}
