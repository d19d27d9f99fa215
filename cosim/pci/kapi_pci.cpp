// The PCI core's C API (linux/pci.h) over PciCore.
#include <cstdio>

#include "iommu/iommu_api.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "pci/pci_msi.h"
#include "kernel/kapi.h"

namespace {
constexpr __u32 kPciAnyId = static_cast<__u32>(PCI_ANY_ID);
}  // namespace

using pciesim::cosim::Kernel;
using pciesim::cosim::PciCore;
using pciesim::cosim::PciDev;

namespace {
PciCore& core() { return Kernel::current().pci(); }
template <class T>
int read_cfg(const struct pci_dev* dev, int where, T* val) {
  uint32_t v = 0;
  const int rc = core().config_read(dev, where, sizeof(T), v);
  *val = static_cast<T>(v);
  return rc;
}
}  // namespace

extern "C" int pci_read_config_byte(const struct pci_dev* dev, int where, u8* val) { return read_cfg(dev, where, val); }
extern "C" int pci_read_config_word(const struct pci_dev* dev, int where, u16* val) { return read_cfg(dev, where, val); }
extern "C" int pci_read_config_dword(const struct pci_dev* dev, int where, u32* val) { return read_cfg(dev, where, val); }
extern "C" int pci_write_config_byte(const struct pci_dev* dev, int where, u8 val) { return core().config_write(dev, where, 1, val); }
extern "C" int pci_write_config_word(const struct pci_dev* dev, int where, u16 val) { return core().config_write(dev, where, 2, val); }
extern "C" int pci_write_config_dword(const struct pci_dev* dev, int where, u32 val) { return core().config_write(dev, where, 4, val); }

// pcie_capability_*: registers a function does not implement read as zero (access.c).
extern "C" int pcie_capability_read_word(struct pci_dev* dev, int pos, u16* val) {
  *val = 0;
  if (pos & 1) return PCIBIOS_BAD_REGISTER_NUMBER;
  if (!dev->pcie_cap) return 0;
  return read_cfg(dev, dev->pcie_cap + pos, val);
}
extern "C" int pcie_capability_read_dword(struct pci_dev* dev, int pos, u32* val) {
  *val = 0;
  if (pos & 3) return PCIBIOS_BAD_REGISTER_NUMBER;
  if (!dev->pcie_cap) return 0;
  return read_cfg(dev, dev->pcie_cap + pos, val);
}
extern "C" int pcie_capability_write_word(struct pci_dev* dev, int pos, u16 val) {
  if (pos & 1) return PCIBIOS_BAD_REGISTER_NUMBER;
  if (!dev->pcie_cap) return 0;
  return core().config_write(dev, dev->pcie_cap + pos, 2, val);
}
extern "C" int pcie_capability_write_dword(struct pci_dev* dev, int pos, u32 val) {
  if (pos & 3) return PCIBIOS_BAD_REGISTER_NUMBER;
  if (!dev->pcie_cap) return 0;
  return core().config_write(dev, dev->pcie_cap + pos, 4, val);
}
extern "C" int pcie_capability_clear_and_set_word(struct pci_dev* dev, int pos, u16 clear, u16 set) {
  u16 v = 0;
  int rc = pcie_capability_read_word(dev, pos, &v);
  if (rc) return rc;
  return pcie_capability_write_word(dev, pos, static_cast<u16>((v & ~clear) | set));
}
extern "C" u8 pci_find_capability(struct pci_dev* dev, int cap) { return core().find_capability(dev, cap); }
extern "C" u8 pci_find_next_capability(struct pci_dev* dev, u8 pos, int cap) { return core().find_capability(dev, cap, pos); }
extern "C" u16 pci_find_ext_capability(struct pci_dev* dev, int cap) { return core().find_ext_capability(dev, cap); }

// ---- drivers ----
extern "C" int __pci_register_driver(struct pci_driver* drv, struct module* owner, const char* mod_name) {
  drv->driver.owner = owner;
  return core().register_driver(drv, mod_name);
}
extern "C" void pci_unregister_driver(struct pci_driver* drv) { core().unregister_driver(drv); }
extern "C" const struct pci_device_id* pci_match_id(const struct pci_device_id* ids, struct pci_dev* dev) {
  for (; ids && (ids->vendor || ids->subvendor || ids->class_mask); ++ids)
    if ((ids->vendor == kPciAnyId || ids->vendor == dev->vendor) && (ids->device == kPciAnyId || ids->device == dev->device) &&
        (ids->subvendor == kPciAnyId || ids->subvendor == dev->subsystem_vendor) &&
        (ids->subdevice == kPciAnyId || ids->subdevice == dev->subsystem_device) &&
        !((ids->class_ ^ dev->class_) & ids->class_mask))
      return ids;
  return nullptr;
}
extern "C" struct pci_dev* pci_dev_get(struct pci_dev* dev) {
  if (dev) ++PciCore::of(dev).refs;
  return dev;
}
extern "C" void pci_dev_put(struct pci_dev* dev) {
  if (dev && PciCore::of(dev).refs > 0) --PciCore::of(dev).refs;
}
extern "C" struct pci_dev* pci_get_device(unsigned int vendor, unsigned int device, struct pci_dev* from) {
  const auto& devs = core().devices();
  size_t i = 0;
  if (from) {
    while (i < devs.size() && devs[i]->dev.get() != from) ++i;
    ++i;
    pci_dev_put(from);
  }
  for (; i < devs.size(); ++i) {
    pci_dev* d = devs[i]->dev.get();
    if ((vendor == kPciAnyId || d->vendor == vendor) &&
        (device == kPciAnyId || d->device == device))
      return pci_dev_get(d);
  }
  return nullptr;
}
extern "C" struct pci_dev* pci_get_domain_bus_and_slot(int domain, unsigned int bus, unsigned int devfn) {
  PciDev* d = core().find(domain, pciesim::RequesterId{static_cast<uint8_t>(bus), static_cast<uint8_t>(devfn)});
  return d ? pci_dev_get(d->dev.get()) : nullptr;
}
extern "C" struct pci_dev* pci_upstream_bridge(struct pci_dev* dev) { return dev->bus ? dev->bus->self : nullptr; }

// ---- enabling ----
namespace {
int do_enable(struct pci_dev* dev, unsigned bars_mask_flags) {
  if (atomic_inc_return(&dev->enable_cnt) > 1) return 0;  // already enabled
  // pci_enable_resources: decode what the BARs need (Memory and/or I/O Space).
  u16 cmd = 0;
  pci_read_config_word(dev, PCI_COMMAND, &cmd);
  u16 want = cmd;
  for (int i = 0; i < PCI_STD_NUM_BARS; ++i) {
    const unsigned long f = dev->resource[i].flags;
    if (!(f & bars_mask_flags)) continue;
    if (f & IORESOURCE_UNSET) {
      _dev_printk(KERN_ERR, &dev->dev, "BAR %d: not assigned; can't enable device\n", i);
      atomic_dec(&dev->enable_cnt);
      return -EINVAL;
    }
    if (f & IORESOURCE_IO) want |= PCI_COMMAND_IO;
    if (f & IORESOURCE_MEM) want |= PCI_COMMAND_MEMORY;
  }
  if (want != cmd) {
    _dev_printk(KERN_INFO, &dev->dev, "enabling device (%04x -> %04x)\n", cmd, want);
    pci_write_config_word(dev, PCI_COMMAND, want);
  }
  if (pci_is_bridge(dev) == false && dev->pin) {
    // INTx stays as firmware left it; MSI users disable it through pci_alloc_irq_vectors.
  }
  return 0;
}
}  // namespace

extern "C" int pci_enable_device(struct pci_dev* dev) { return do_enable(dev, IORESOURCE_MEM | IORESOURCE_IO); }
extern "C" int pci_enable_device_mem(struct pci_dev* dev) { return do_enable(dev, IORESOURCE_MEM); }
extern "C" void pci_disable_device(struct pci_dev* dev) {
  if (atomic_read(&dev->enable_cnt) <= 0) {
    cosim_warn(__FILE__, __LINE__, "%s: disabling already-disabled device", pci_name(dev));
    return;
  }
  if (atomic_dec_return(&dev->enable_cnt) != 0) return;
  // do_pci_disable_device: clear Bus Master (memory decoding stays, as on Linux)
  u16 cmd = 0;
  pci_read_config_word(dev, PCI_COMMAND, &cmd);
  if (cmd & PCI_COMMAND_MASTER) pci_write_config_word(dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
  dev->is_busmaster = 0;
}
extern "C" void pci_set_master(struct pci_dev* dev) {
  u16 cmd = 0;
  pci_read_config_word(dev, PCI_COMMAND, &cmd);
  if (!(cmd & PCI_COMMAND_MASTER)) {
    pci_write_config_word(dev, PCI_COMMAND, cmd | PCI_COMMAND_MASTER);
  }
  dev->is_busmaster = 1;
}
extern "C" void pci_clear_master(struct pci_dev* dev) {
  u16 cmd = 0;
  pci_read_config_word(dev, PCI_COMMAND, &cmd);
  if (cmd & PCI_COMMAND_MASTER) pci_write_config_word(dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
  dev->is_busmaster = 0;
}
extern "C" void pci_intx(struct pci_dev* dev, int enable) {
  u16 cmd = 0;
  pci_read_config_word(dev, PCI_COMMAND, &cmd);
  const u16 n = enable ? (cmd & ~PCI_COMMAND_INTX_DISABLE) : (cmd | PCI_COMMAND_INTX_DISABLE);
  if (n != cmd) pci_write_config_word(dev, PCI_COMMAND, n);
}
// pci_intx_mask_supported: Interrupt Disable must be writable (and not change the status).
extern "C" bool pci_intx_mask_supported(struct pci_dev* dev) {
  u16 orig = 0, toggled = 0;
  pci_read_config_word(dev, PCI_COMMAND, &orig);
  pci_write_config_word(dev, PCI_COMMAND, orig ^ PCI_COMMAND_INTX_DISABLE);
  pci_read_config_word(dev, PCI_COMMAND, &toggled);
  pci_write_config_word(dev, PCI_COMMAND, orig);
  return (toggled ^ orig) & PCI_COMMAND_INTX_DISABLE;
}

// pci_check_and_set_intx_mask: under Linux's config lock, read Status and Command together; mask
// only if the device is asserting (mask) or unmask only if it is not (unmask).
static bool check_and_set_intx_mask(struct pci_dev* dev, bool mask) {
  u32 cmd_status = 0;
  pci_read_config_dword(dev, PCI_COMMAND, &cmd_status);
  const bool irq_pending = (cmd_status >> 16) & PCI_STATUS_INTERRUPT;
  if (mask != irq_pending) return false;
  u16 cmd = static_cast<u16>(cmd_status);
  const u16 want = mask ? (cmd | PCI_COMMAND_INTX_DISABLE) : (cmd & ~PCI_COMMAND_INTX_DISABLE);
  if (want != cmd) pci_write_config_word(dev, PCI_COMMAND, want);
  return true;
}
extern "C" bool pci_check_and_mask_intx(struct pci_dev* dev) { return check_and_set_intx_mask(dev, true); }
extern "C" bool pci_check_and_unmask_intx(struct pci_dev* dev) { return check_and_set_intx_mask(dev, false); }

extern "C" int pci_set_power_state(struct pci_dev* dev, pci_power_t state) {
  const u8 pm = pci_find_capability(dev, PCI_CAP_ID_PM);
  if (!pm) return state == PCI_D0 ? 0 : -EIO;
  if (state < PCI_D0 || state > PCI_D3hot) return -EINVAL;
  u16 ctrl = 0;
  pci_read_config_word(dev, pm + PCI_PM_CTRL, &ctrl);
  pci_write_config_word(dev, pm + PCI_PM_CTRL, static_cast<u16>((ctrl & ~PCI_PM_CTRL_STATE_MASK) | state));
  if (state == PCI_D3hot || (ctrl & PCI_PM_CTRL_STATE_MASK) == PCI_D3hot) msleep(10);  // PCI PM 1.2: 10 ms D3hot
  return 0;
}

// ---- regions ----
extern "C" int pci_request_region(struct pci_dev* dev, int bar, const char* name) {
  if (bar < 0 || bar >= PCI_STD_NUM_BARS || !pci_resource_len(dev, bar)) return 0;  // nothing to claim
  PciDev& d = PciCore::of(dev);
  if (d.requested_bars & (1u << bar)) {
    _dev_printk(KERN_WARNING, &dev->dev, "BAR %d: can't reserve %s\n", bar, "(already claimed)");
    return -EBUSY;
  }
  d.requested_bars |= 1u << bar;
  dev->resource[bar].name = name;
  return 0;
}
extern "C" void pci_release_region(struct pci_dev* dev, int bar) {
  if (bar < 0 || bar >= PCI_STD_NUM_BARS) return;
  PciCore::of(dev).requested_bars &= ~(1u << bar);
}
extern "C" int pci_select_bars(struct pci_dev* dev, unsigned long flags) {
  int bars = 0;
  for (int i = 0; i < PCI_STD_NUM_BARS; ++i)
    if (pci_resource_flags(dev, i) & flags) bars |= 1 << i;
  return bars;
}
extern "C" int pci_request_selected_regions(struct pci_dev* dev, int bars, const char* name) {
  for (int i = 0; i < PCI_STD_NUM_BARS; ++i) {
    if (!(bars & (1 << i))) continue;
    const int rc = pci_request_region(dev, i, name);
    if (rc) {
      for (int j = 0; j < i; ++j)
        if (bars & (1 << j)) pci_release_region(dev, j);
      return rc;
    }
  }
  return 0;
}
extern "C" void pci_release_selected_regions(struct pci_dev* dev, int bars) {
  for (int i = 0; i < PCI_STD_NUM_BARS; ++i)
    if (bars & (1 << i)) pci_release_region(dev, i);
}
extern "C" int pci_request_regions(struct pci_dev* dev, const char* name) {
  return pci_request_selected_regions(dev, (1 << PCI_STD_NUM_BARS) - 1, name);
}
extern "C" void pci_release_regions(struct pci_dev* dev) { pci_release_selected_regions(dev, (1 << PCI_STD_NUM_BARS) - 1); }

extern "C" void __iomem* pci_iomap_range(struct pci_dev* dev, int bar, unsigned long offset, unsigned long maxlen) {
  if (bar < 0 || bar >= PCI_STD_NUM_BARS) return nullptr;
  const resource_size_t start = pci_resource_start(dev, bar), len = pci_resource_len(dev, bar);
  const unsigned long flags = pci_resource_flags(dev, bar);
  if (len <= offset || !start) return nullptr;
  if (flags & IORESOURCE_IO) return ioport_map(start + offset, static_cast<unsigned int>(len - offset));  // lib/pci_iomap.c
  if (!(flags & IORESOURCE_MEM)) return nullptr;
  (void)maxlen;
  return pciesim::cosim::KernelCpu::cookie(start + offset);
}
extern "C" void __iomem* pci_iomap(struct pci_dev* dev, int bar, unsigned long maxlen) { return pci_iomap_range(dev, bar, 0, maxlen); }
extern "C" void pci_iounmap(struct pci_dev* dev, void __iomem* addr) {
  (void)dev;
  iounmap(addr);
}

// ---- interrupts ----
extern "C" int pci_alloc_irq_vectors(struct pci_dev* dev, unsigned int min_vecs, unsigned int max_vecs, unsigned int flags) {
  return pciesim::cosim::alloc_irq_vectors(Kernel::current(), PciCore::of(dev), min_vecs, max_vecs, flags);
}
extern "C" void pci_free_irq_vectors(struct pci_dev* dev) { pciesim::cosim::free_irq_vectors(Kernel::current(), PciCore::of(dev)); }
extern "C" int pci_irq_vector(struct pci_dev* dev, unsigned int nr) {
  const PciDev& d = PciCore::of(dev);
  if (nr >= d.irqs.size()) return -EINVAL;
  return static_cast<int>(d.irqs[nr]);
}
extern "C" int pci_msi_vec_count(struct pci_dev* dev) { return pciesim::cosim::msi_capable_count(Kernel::current(), PciCore::of(dev), false); }
extern "C" int pci_msix_vec_count(struct pci_dev* dev) { return pciesim::cosim::msi_capable_count(Kernel::current(), PciCore::of(dev), true); }

// ---- resets ----
extern "C" bool pcie_has_flr(struct pci_dev* dev) {
  u32 cap = 0;
  pcie_capability_read_dword(dev, PCI_EXP_DEVCAP, &cap);
  return cap & PCI_EXP_DEVCAP_FLR;
}
extern "C" int pcie_flr(struct pci_dev* dev) { return core().flr(PciCore::of(dev)); }
extern "C" int pci_save_state(struct pci_dev* dev) { return core().save_state(PciCore::of(dev)); }
extern "C" void pci_restore_state(struct pci_dev* dev) { core().restore_state(PciCore::of(dev)); }
extern "C" bool pci_wait_for_pending_transaction(struct pci_dev* dev) {
  u16 sta = 0;
  for (int i = 0; i < 4; ++i) {
    pcie_capability_read_word(dev, PCI_EXP_DEVSTA, &sta);
    if (!(sta & PCI_EXP_DEVSTA_TRPND)) return true;
    msleep(100u << i);
  }
  return false;
}
extern "C" int pci_reset_function_locked(struct pci_dev* dev) {
  if (!dev->reset_fn && !pcie_has_flr(dev) && (!dev->bus || !dev->bus->self)) return -ENOTTY;
  PciDev& d = PciCore::of(dev);
  core().save_and_disable(d);  // around __pci_reset_function_locked
  const int rc = core().reset_function(d);
  core().restore(d);
  return rc;
}
extern "C" void pci_dev_lock(struct pci_dev* dev) {
  PciDev& d = PciCore::of(dev);
  Kernel::current().scheduler().wait_until([&d] { return !d.locked; }, "pci_dev_lock");
  d.locked = true;
}
extern "C" void pci_dev_unlock(struct pci_dev* dev) {
  PciCore::of(dev).locked = false;
  Kernel::current().scheduler().wake_all();
}
extern "C" int pci_dev_trylock(struct pci_dev* dev) {
  PciDev& d = PciCore::of(dev);
  if (d.locked) return 0;
  d.locked = true;
  return 1;
}
extern "C" int pci_reset_function(struct pci_dev* dev) {
  pci_dev_lock(dev);
  const int rc = pci_reset_function_locked(dev);
  pci_dev_unlock(dev);
  return rc;
}
extern "C" int pci_try_reset_function(struct pci_dev* dev) {
  if (!pci_dev_trylock(dev)) return -EAGAIN;
  const int rc = pci_reset_function_locked(dev);
  pci_dev_unlock(dev);
  return rc;
}
extern "C" int pci_reset_bus(struct pci_dev* dev) { return core().reset_bus(PciCore::of(dev)); }
extern "C" int pci_bridge_secondary_bus_reset(struct pci_dev* dev) { return core().secondary_bus_reset(PciCore::of(dev)); }
