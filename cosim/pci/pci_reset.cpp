// Config save/restore and resets of the PCI core (drivers/pci/pci.c, Linux 6.1): pcie_flr,
// pci_reset_secondary_bus, __pci_reset_function_locked's method order, pci_reset_bus.
#include <cstdio>

#include "iommu/intel_ats.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "pci/pci_msi.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {

namespace {
// PCIe registers pci_save_pcie_state keeps (offsets in the PCIe capability).
constexpr int kPcieSaved[] = {PCI_EXP_DEVCTL, PCI_EXP_LNKCTL, PCI_EXP_SLTCTL, PCI_EXP_RTCTL, PCI_EXP_DEVCTL2,
                              PCI_EXP_LNKCTL2};
}  // namespace

int PciCore::save_state(PciDev& d) {
  pci_dev* dev = d.dev.get();
  for (int i = 0; i < 16; ++i) config_read(dev, i * 4, 4, d.saved[static_cast<size_t>(i)]);
  if (dev->pcie_cap)
    for (int off : kPcieSaved) config_read(dev, dev->pcie_cap + off, 2, d.saved[static_cast<size_t>((dev->pcie_cap + off) / 2)]);
  if (dev->acs_cap) config_read(dev, dev->acs_cap + PCI_ACS_CTRL, 2, d.saved[static_cast<size_t>((dev->acs_cap + PCI_ACS_CTRL) / 2)]);
  d.state_saved = true;
  return 0;
}

void PciCore::restore_state(PciDev& d) {
  if (!d.state_saved) return;
  pci_dev* dev = d.dev.get();
  // pci_restore_pcie_state first, then the header from the top down so Command comes last
  // (pci_restore_config_space), then ACS and the MSI/MSI-X state.
  if (dev->pcie_cap)
    for (int off : kPcieSaved) config_write(dev, dev->pcie_cap + off, 2, d.saved[static_cast<size_t>((dev->pcie_cap + off) / 2)]);
  pci_restore_ats_state(*this, d);  // after the PCIe state, as Linux 6.1 (cosim/iommu/intel_ats.h)
  for (int i = 15; i >= 0; --i) {
    uint32_t now = 0;
    config_read(dev, i * 4, 4, now);
    if (now != d.saved[static_cast<size_t>(i)]) config_write(dev, i * 4, 4, d.saved[static_cast<size_t>(i)]);
  }
  if (dev->acs_cap) config_write(dev, dev->acs_cap + PCI_ACS_CTRL, 2, d.saved[static_cast<size_t>((dev->acs_cap + PCI_ACS_CTRL) / 2)]);
  msi_write_state(m_kernel, d);
  restore_iov_state(d);  // pci_restore_iov_state, after ACS
  d.state_saved = false;  // pci_restore_state clears state_saved
}

int PciCore::flr(PciDev& d) {
  pci_dev* dev = d.dev.get();
  if (!dev->pcie_cap) return -ENOTTY;
  // pci_wait_for_pending_transaction: Transactions Pending clear within 4 polls of 100 ms << n.
  uint32_t sta = 0;
  bool idle = false;
  for (int i = 0; i < 4; ++i) {
    config_read(dev, dev->pcie_cap + PCI_EXP_DEVSTA, 2, sta);
    if (!(sta & PCI_EXP_DEVSTA_TRPND)) {
      idle = true;
      break;
    }
    msleep((1u << (i - 1 < 0 ? 0 : i - 1)) * 100);
  }
  if (!idle) _dev_printk(KERN_ERR, &dev->dev, "timed out waiting for pending transaction; performing function level reset anyway\n");
  uint32_t ctl = 0;
  config_read(dev, dev->pcie_cap + PCI_EXP_DEVCTL, 2, ctl);
  config_write(dev, dev->pcie_cap + PCI_EXP_DEVCTL, 2, ctl | PCI_EXP_DEVCTL_BCR_FLR);
  msleep(100);  // PCIe 6.6.2: software waits 100 ms after initiating FLR
  // pci_dev_wait: the function answers config reads again (no CRS), up to 60 s.
  for (unsigned waited = 0; waited < 60000; waited += 100) {
    uint32_t id = 0;
    config_read(dev, PCI_COMMAND, 4, id);
    if (id != 0xffffffffu) return 0;
    msleep(100);
  }
  _dev_printk(KERN_WARNING, &dev->dev, "not ready 60000ms after FLR; giving up\n");
  return -ENOTTY;
}

int PciCore::secondary_bus_reset(PciDev& bridge) {
  pci_dev* dev = bridge.dev.get();
  if (!pci_is_bridge(dev)) return -ENOTTY;
  uint32_t ctrl = 0;
  config_read(dev, PCI_BRIDGE_CONTROL, 2, ctrl);
  config_write(dev, PCI_BRIDGE_CONTROL, 2, ctrl | PCI_BRIDGE_CTL_BUS_RESET);
  msleep(2);  // PCI 3.0 7.6.4.2: Trst at least 1 ms; Linux doubles it
  config_write(dev, PCI_BRIDGE_CONTROL, 2, ctrl & ~uint32_t(PCI_BRIDGE_CTL_BUS_RESET));
  ssleep(1);  // Trhfa: 2^25 clocks at 33 MHz before subordinate devices are usable (Linux 6.1)
  return 0;
}

bool PciCore::devices_below(const PciDev& bridge, std::vector<PciDev*>& out) const {
  const pci_bus* sub = bridge.dev->subordinate;
  if (!sub) return false;
  for (const auto& d : m_devices)
    for (const pci_bus* b = d->dev->bus; b; b = b->parent)
      if (b == sub) {
        out.push_back(d.get());
        break;
      }
  return true;
}

int PciCore::reset_function(PciDev& d) {
  pci_dev* dev = d.dev.get();
  // Methods in Linux's order: device-specific (none), ACPI _RST (none), FLR, AF FLR (none),
  // PM D3hot->D0 when No_Soft_Reset is clear (not modelled: skipped), then a bus reset when the
  // device is alone below its bridge.
  if (pcie_has_flr(dev)) return flr(d);
  const pci_bus* bus = dev->bus;
  if (dev->subordinate || !bus->self) return -ENOTTY;
  for (const auto& other : m_devices)
    if (other.get() != &d && other->dev->bus == bus) return -ENOTTY;  // pci_parent_bus_reset
  return secondary_bus_reset(PciCore::of(bus->self));
}

int PciCore::reset_bus(PciDev& d) {
  pci_dev* dev = d.dev.get();
  pci_dev* bridge = dev->bus ? dev->bus->self : nullptr;
  if (!bridge) return -ENOTTY;  // a root bus cannot be reset by a bridge
  std::vector<PciDev*> below;
  devices_below(PciCore::of(bridge), below);
  for (PciDev* x : below) save_and_disable(*x);  // pci_bus_save_and_disable_locked
  const int rc = secondary_bus_reset(PciCore::of(bridge));
  for (PciDev* x : below) restore(*x);  // pci_bus_restore_locked
  return rc;
}

// pci_dev_save_and_disable: the driver's reset_prepare, the saved state, decoding and bus
// mastering off (Command = Interrupt Disable only).
void PciCore::save_and_disable(PciDev& d) {
  pci_dev* dev = d.dev.get();
  if (dev->driver && dev->driver->err_handler && dev->driver->err_handler->reset_prepare)
    dev->driver->err_handler->reset_prepare(dev);
  save_state(d);
  config_write(dev, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
}

// pci_dev_restore: the saved state back, then the driver's reset_done.
void PciCore::restore(PciDev& d) {
  pci_dev* dev = d.dev.get();
  restore_state(d);
  if (dev->driver && dev->driver->err_handler && dev->driver->err_handler->reset_done)
    dev->driver->err_handler->reset_done(dev);
}

}  // namespace pciesim::cosim
