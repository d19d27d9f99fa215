// The co-simulated VGA arbiter (Linux 6.1 drivers/pci/vgaarb.c); see vgaarb.h.
#include "pci/vgaarb.h"

#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "kernel/kapi.h"
#include <linux/vgaarb.h>

namespace pciesim::cosim {

namespace {
bool is_vga(const pci_dev* pdev) { return (pdev->class_ >> 8) == PCI_CLASS_DISPLAY_VGA; }
}  // namespace

const char* VgaArbiter::iostate(unsigned state) {
  switch (state & VGA_RSRC_LEGACY_MASK) {
    case VGA_RSRC_LEGACY_IO | VGA_RSRC_LEGACY_MEM: return "io+mem";
    case VGA_RSRC_LEGACY_IO: return "io";
    case VGA_RSRC_LEGACY_MEM: return "mem";
    default: return "none";
  }
}

void VgaArbiter::init() {
  for (const auto& d : m_kernel.pci().devices()) add(d->dev.get());
  m_kernel.printk(LogLevel::Info, "vgaarb: loaded");
}

VgaDevice* VgaArbiter::find(const pci_dev* pdev) {
  for (auto& d : m_list)
    if (d->pdev == pdev) return d.get();
  return nullptr;
}

bool VgaArbiter::add(pci_dev* pdev) {
  if (!is_vga(pdev) || find(pdev)) return false;
  auto owned = std::make_unique<VgaDevice>();
  VgaDevice& d = *owned;
  d.pdev = pdev;
  // By default a VGA device decodes everything; it owns the legacy resources its Command
  // register decodes, unless a bridge above it does not forward VGA cycles.
  d.decodes = VGA_RSRC_LEGACY_IO | VGA_RSRC_LEGACY_MEM | VGA_RSRC_NORMAL_IO | VGA_RSRC_NORMAL_MEM;
  ++m_decode_count;
  u16 cmd = 0;
  pci_read_config_word(pdev, PCI_COMMAND, &cmd);
  if (cmd & PCI_COMMAND_IO) d.owns |= VGA_RSRC_LEGACY_IO;
  if (cmd & PCI_COMMAND_MEMORY) d.owns |= VGA_RSRC_LEGACY_MEM;
  for (pci_bus* bus = pdev->bus; bus; bus = bus->parent) {
    if (!bus->self) continue;
    u16 bctl = 0;
    pci_read_config_word(bus->self, PCI_BRIDGE_CONTROL, &bctl);
    if (!(bctl & PCI_BRIDGE_CTL_VGA)) {
      d.owns = 0;
      break;
    }
  }
  if (is_boot_device(d)) {
    dev_info(&pdev->dev, "vgaarb: setting as boot VGA device%s\n", m_default ? " (overriding previous)" : "");
    m_default = pdev;
  }
  check_bridge_sharing(d);
  m_list.push_back(std::move(owned));  // list_add_tail
  dev_info(&pdev->dev, "vgaarb: VGA device added: decodes=%s,owns=%s,locks=%s\n", iostate(d.decodes),
           iostate(d.owns), iostate(d.locks));
  return true;
}

bool VgaArbiter::is_boot_device(VgaDevice& d) {
  // (No firmware framebuffer, no ACPI video device: the screen_info and integrated-GPU checks of
  // 6.1 never match here.)
  VgaDevice* boot = m_default ? find(m_default) : nullptr;
  // A legacy VGA device (decoding, with VGA routed to it) wins; the first one found stays.
  if (boot && (boot->owns & VGA_RSRC_LEGACY_MASK) == VGA_RSRC_LEGACY_MASK) return false;
  if ((d.owns & VGA_RSRC_LEGACY_MASK) == VGA_RSRC_LEGACY_MASK) return true;
  // Else the first device that decodes I/O or memory at all, else any device.
  u16 cmd = 0;
  pci_read_config_word(d.pdev, PCI_COMMAND, &cmd);
  if (cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) {
    if (boot) {
      u16 boot_cmd = 0;
      pci_read_config_word(boot->pdev, PCI_COMMAND, &boot_cmd);
      if (boot_cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) return false;
    }
    return true;
  }
  return !boot;
}

void VgaArbiter::check_bridge_sharing(VgaDevice& d) {
  // VGA Enable on a device's parent bridge controls that device alone unless another VGA device
  // sits behind the same bridge (or the bridge is on the other's path): then the arbiter must
  // also switch the devices' own decoding.
  d.bridge_has_one_vga = true;
  const pci_dev* own_parent = d.pdev->bus ? d.pdev->bus->self : nullptr;
  for (pci_bus* new_bus = d.pdev->bus; new_bus; new_bus = new_bus->parent) {
    const pci_dev* new_br = new_bus->self;
    for (auto& other : m_list) {
      pci_bus* bus = other->pdev->bus;
      if (bus && new_br == bus->self) other->bridge_has_one_vga = false;
      for (; bus; bus = bus->parent)
        if (bus->self && bus->self == own_parent) d.bridge_has_one_vga = false;
    }
  }
  dev_info(&d.pdev->dev, "vgaarb: %s\n", d.bridge_has_one_vga ? "bridge control possible" : "no bridge control possible");
}

VgaDevice* VgaArbiter::tryget_locked(VgaDevice& d, unsigned rsrc) {
  // A normal resource needs its legacy counterpart when the device decodes it.
  if ((rsrc & VGA_RSRC_NORMAL_IO) && (d.decodes & VGA_RSRC_LEGACY_IO)) rsrc |= VGA_RSRC_LEGACY_IO;
  if ((rsrc & VGA_RSRC_NORMAL_MEM) && (d.decodes & VGA_RSRC_LEGACY_MEM)) rsrc |= VGA_RSRC_LEGACY_MEM;
  const unsigned wants = rsrc & ~d.owns;
  if (wants) {
    const unsigned legacy_wants = wants & VGA_RSRC_LEGACY_MASK;
    if (legacy_wants) {
      for (auto& c : m_list) {
        VgaDevice& conflict = *c;
        if (&conflict == &d) continue;
        unsigned lwants = legacy_wants;
        bool change_bridge = false;
        // On another bus one bridge bit (VGA Enable) carries both I/O and memory: take both.
        if (d.pdev->bus != conflict.pdev->bus) {
          change_bridge = true;
          lwants = VGA_RSRC_LEGACY_IO | VGA_RSRC_LEGACY_MEM;
        }
        if (conflict.locks & lwants) return &conflict;  // held: the caller waits (or -EBUSY)
        const unsigned match = lwants & conflict.owns;
        if (!match) continue;
        // Not locked: take it away. Without bridge control, its decoding goes off too.
        unsigned flags = 0, pci_bits = 0;
        if (!conflict.bridge_has_one_vga) {
          if ((match & conflict.decodes) & VGA_RSRC_LEGACY_MEM) pci_bits |= PCI_COMMAND_MEMORY;
          if ((match & conflict.decodes) & VGA_RSRC_LEGACY_IO) pci_bits |= PCI_COMMAND_IO;
          if (pci_bits) flags |= PCI_VGA_STATE_CHANGE_DECODES;
        }
        if (change_bridge) flags |= PCI_VGA_STATE_CHANGE_BRIDGE;
        pci_set_vga_state(conflict.pdev, false, pci_bits, flags);
        conflict.owns &= ~match;
        if (pci_bits & PCI_COMMAND_MEMORY) conflict.owns &= ~VGA_RSRC_NORMAL_MEM;
        if (pci_bits & PCI_COMMAND_IO) conflict.owns &= ~VGA_RSRC_NORMAL_IO;
      }
    }
    // Everyone in the way is off: turn this device's decoding and its path on.
    unsigned flags = 0, pci_bits = 0;
    if (!d.bridge_has_one_vga) {
      flags |= PCI_VGA_STATE_CHANGE_DECODES;
      if (wants & (VGA_RSRC_LEGACY_MEM | VGA_RSRC_NORMAL_MEM)) pci_bits |= PCI_COMMAND_MEMORY;
      if (wants & (VGA_RSRC_LEGACY_IO | VGA_RSRC_NORMAL_IO)) pci_bits |= PCI_COMMAND_IO;
    }
    if (wants & VGA_RSRC_LEGACY_MASK) flags |= PCI_VGA_STATE_CHANGE_BRIDGE;
    pci_set_vga_state(d.pdev, true, pci_bits, flags);
    d.owns |= wants;
  }
  d.locks |= rsrc & VGA_RSRC_LEGACY_MASK;
  if (rsrc & VGA_RSRC_LEGACY_IO) ++d.io_lock_cnt;
  if (rsrc & VGA_RSRC_LEGACY_MEM) ++d.mem_lock_cnt;
  if (rsrc & VGA_RSRC_NORMAL_IO) ++d.io_norm_cnt;
  if (rsrc & VGA_RSRC_NORMAL_MEM) ++d.mem_norm_cnt;
  return nullptr;
}

int VgaArbiter::get(pci_dev* pdev, unsigned rsrc, bool interruptible) {
  (void)interruptible;  // no signals in the simulated process: never -ERESTARTSYS
  if (!pdev) pdev = m_default;
  if (!pdev) return 0;
  for (;;) {
    VgaDevice* d = find(pdev);
    if (!d) return -ENODEV;
    if (!tryget_locked(*d, rsrc)) return 0;
    // A conflict: sleep until some vga_put releases a lock (vga_wait_queue), then retry.
    const unsigned long seen = m_released;
    m_kernel.scheduler().wait_until([this, seen] { return m_released != seen; }, "the VGA arbiter (vga_get)");
  }
}

int VgaArbiter::tryget(pci_dev* pdev, unsigned rsrc) {
  if (!pdev) pdev = m_default;
  if (!pdev) return 0;
  VgaDevice* d = find(pdev);
  if (!d) return -ENODEV;
  return tryget_locked(*d, rsrc) ? -EBUSY : 0;
}

void VgaArbiter::put_locked(VgaDevice& d, unsigned rsrc) {
  const unsigned old_locks = d.locks;
  if ((rsrc & VGA_RSRC_NORMAL_IO) && d.io_norm_cnt > 0) {
    --d.io_norm_cnt;
    if (d.decodes & VGA_RSRC_LEGACY_IO) rsrc |= VGA_RSRC_LEGACY_IO;
  }
  if ((rsrc & VGA_RSRC_NORMAL_MEM) && d.mem_norm_cnt > 0) {
    --d.mem_norm_cnt;
    if (d.decodes & VGA_RSRC_LEGACY_MEM) rsrc |= VGA_RSRC_LEGACY_MEM;
  }
  if ((rsrc & VGA_RSRC_LEGACY_IO) && d.io_lock_cnt > 0) --d.io_lock_cnt;
  if ((rsrc & VGA_RSRC_LEGACY_MEM) && d.mem_lock_cnt > 0) --d.mem_lock_cnt;
  // Lazy: only the lock bits go; the routing stays until someone else asks for it.
  if (d.io_lock_cnt == 0) d.locks &= ~VGA_RSRC_LEGACY_IO;
  if (d.mem_lock_cnt == 0) d.locks &= ~VGA_RSRC_LEGACY_MEM;
  if (d.locks != old_locks) {
    ++m_released;
    m_kernel.scheduler().wake_all();
  }
}

void VgaArbiter::put(pci_dev* pdev, unsigned rsrc) {
  if (!pdev) pdev = m_default;
  if (!pdev) return;
  if (VgaDevice* d = find(pdev)) put_locked(*d, rsrc);
}

void VgaArbiter::update_decodes(VgaDevice& d, unsigned decodes) {
  const unsigned old_decodes = d.decodes;
  const unsigned removed = ~decodes & old_decodes;
  const unsigned unlocked = d.locks & removed;
  d.decodes = decodes;
  dev_info(&d.pdev->dev, "vgaarb: changed VGA decodes: olddecodes=%s,decodes=%s:owns=%s\n", iostate(old_decodes),
           iostate(d.decodes), iostate(d.owns));
  // Locks on what it no longer decodes are dropped.
  if (unlocked) {
    if (unlocked & VGA_RSRC_LEGACY_IO) d.io_lock_cnt = 0;
    if (unlocked & VGA_RSRC_LEGACY_MEM) d.mem_lock_cnt = 0;
    put_locked(d, unlocked);
  }
  if ((old_decodes & VGA_RSRC_LEGACY_MASK) && !(decodes & VGA_RSRC_LEGACY_MASK)) --m_decode_count;
  if (!(old_decodes & VGA_RSRC_LEGACY_MASK) && (decodes & VGA_RSRC_LEGACY_MASK)) ++m_decode_count;
}

void VgaArbiter::set_legacy_decoding(pci_dev* pdev, unsigned decodes) {
  if (VgaDevice* d = find(pdev)) update_decodes(*d, decodes);
}

int VgaArbiter::client_register(pci_dev* pdev, unsigned (*set_decode)(pci_dev*, bool)) {
  VgaDevice* d = find(pdev);
  if (!d) return -ENODEV;
  d->set_decode = set_decode;
  return 0;
}

}  // namespace pciesim::cosim

// ---- linux/vgaarb.h ----
using pciesim::cosim::Kernel;

extern "C" void vga_set_legacy_decoding(struct pci_dev* pdev, unsigned int decodes) {
  Kernel::current().vga().set_legacy_decoding(pdev, decodes);
}
extern "C" int vga_get(struct pci_dev* pdev, unsigned int rsrc, int interruptible) {
  return Kernel::current().vga().get(pdev, rsrc, interruptible != 0);
}
extern "C" int vga_tryget(struct pci_dev* pdev, unsigned int rsrc) { return Kernel::current().vga().tryget(pdev, rsrc); }
extern "C" void vga_put(struct pci_dev* pdev, unsigned int rsrc) { Kernel::current().vga().put(pdev, rsrc); }
extern "C" struct pci_dev* vga_default_device(void) { return Kernel::current().vga().default_device(); }
extern "C" void vga_set_default_device(struct pci_dev* pdev) { Kernel::current().vga().set_default_device(pdev); }
extern "C" int vga_client_register(struct pci_dev* pdev, unsigned int (*set_decode)(struct pci_dev* pdev, bool state)) {
  return Kernel::current().vga().client_register(pdev, set_decode);
}
