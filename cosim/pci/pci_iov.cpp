// SR-IOV in the co-simulated PCI core: drivers/pci/iov.c of Linux 6.1 (sriov_numvfs_store,
// sriov_enable / sriov_disable, pci_iov_add_virtfn / pci_iov_remove_virtfn) and its C API.
// VFs are not found by a bus scan (their Vendor ID reads FFFFh, PCIe 9.3.4.1.1): the PF's
// driver enables them and the core builds each pci_dev from the PF's SR-IOV capability, then
// groups them (IOMMU core, Linux's rules) and attaches drivers, as pci_bus_add_device does.
#include <algorithm>
#include <cstdio>

#include "iommu/iommu_api.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "pcie/fabric.h"
#include "kernel/kapi.h"
#include <linux/notifier.h>

namespace pciesim::cosim {

namespace {
uint16_t sriov_pos(PciCore& pci, PciDev& d) {
  if (!d.sriov_pos && !d.dev->is_virtfn) d.sriov_pos = pci.find_ext_capability(d.dev.get(), PCI_EXT_CAP_ID_SRIOV);
  return d.sriov_pos;
}
}  // namespace

unsigned PciCore::sriov_totalvfs(PciDev& pf) {
  const uint16_t pos = sriov_pos(*this, pf);
  if (!pos) return 0;
  uint32_t v = 0;
  config_read(pf.dev.get(), pos + PCI_SRIOV_TOTAL_VF, 2, v);
  return v;
}

PciDev* PciCore::physfn(const PciDev& vf) const {
  return vf.dev->is_virtfn && vf.dev->physfn ? &of(vf.dev->physfn) : nullptr;
}

// drivers/pci/pci-sysfs.c (6.1: iov.c) sriov_numvfs_store.
int PciCore::sriov_numvfs_store(PciDev& pf, unsigned num_vfs) {
  pci_dev* dev = pf.dev.get();
  if (!sriov_pos(*this, pf)) return -EIO;  // no sriov_numvfs attribute: the write cannot happen
  if (num_vfs > sriov_totalvfs(pf)) return -ERANGE;
  if (num_vfs == pf.num_vfs) return 0;
  if (!dev->driver) {
    pci_info(dev, "no driver bound to device; cannot configure SR-IOV\n");
    return -ENOENT;
  }
  if (!dev->driver->sriov_configure) {
    pci_info(dev, "driver does not support SR-IOV configuration via sysfs\n");
    return -ENOENT;
  }
  pci_driver* drv = dev->driver;
  int rc = 0;
  if (num_vfs == 0) {
    m_kernel.run(std::string(drv->name) + ".sriov_configure", [&] { rc = drv->sriov_configure(dev, 0); });
    return rc < 0 ? rc : 0;
  }
  if (pf.num_vfs) {
    pci_warn(dev, "%u VFs already enabled. Disable before enabling %u VFs\n", pf.num_vfs, num_vfs);
    return -EBUSY;
  }
  m_kernel.run(std::string(drv->name) + ".sriov_configure",
               [&] { rc = drv->sriov_configure(dev, static_cast<int>(num_vfs)); });
  if (rc < 0) return rc;
  if (static_cast<unsigned>(rc) != num_vfs) pci_warn(dev, "%u VFs requested; only %d enabled\n", num_vfs, rc);
  return 0;
}

// sriov_enable (iov.c), called from the PF driver's sriov_configure in a kernel task.
int PciCore::enable_sriov(PciDev& pf, unsigned nr_virtfn) {
  pci_dev* dev = pf.dev.get();
  const uint16_t pos = sriov_pos(*this, pf);
  if (!pos || dev->is_virtfn) return -ENODEV;  // pci_enable_sriov: !dev->is_physfn
  if (!nr_virtfn) return 0;
  if (pf.num_vfs) return -EINVAL;
  uint32_t initial = 0, total = 0, cap = 0, offset = 0, stride = 0, ctrl = 0;
  config_read(dev, pos + PCI_SRIOV_INITIAL_VF, 2, initial);
  config_read(dev, pos + PCI_SRIOV_TOTAL_VF, 2, total);
  config_read(dev, pos + PCI_SRIOV_CAP, 4, cap);
  const bool vfm = cap & 1u;  // PCI_SRIOV_CAP_VFM
  if (initial > total || (!vfm && initial != total)) return -EIO;
  if (nr_virtfn > total || (!vfm && nr_virtfn > initial)) return -EINVAL;
  // sriov_init: ARI Capable Hierarchy when the bus above forwards ARI, then offset and stride.
  config_read(dev, pos + PCI_SRIOV_CTRL, 2, ctrl);
  bool ari = false;
  if (const pci_dev* up = dev->bus->self; up && up->pcie_cap) {
    uint32_t ctl2 = 0;
    config_read(up, up->pcie_cap + PCI_EXP_DEVCTL2, 2, ctl2);
    ari = ctl2 & PCI_EXP_DEVCTL2_ARI;
  }
  ctrl = ari ? (ctrl | PCI_SRIOV_CTRL_ARI) : (ctrl & ~uint32_t{PCI_SRIOV_CTRL_ARI});
  config_write(dev, pos + PCI_SRIOV_CTRL, 2, ctrl);
  config_write(dev, pos + PCI_SRIOV_NUM_VF, 2, nr_virtfn);  // pci_iov_set_numvfs
  config_read(dev, pos + PCI_SRIOV_VF_OFFSET, 2, offset);
  config_read(dev, pos + PCI_SRIOV_VF_STRIDE, 2, stride);
  if (!offset || (nr_virtfn > 1 && !stride)) return -EIO;
  // The VF BARs must have been assigned (firmware or pci_assign_unassigned_resources).
  unsigned nres = 0, assigned = 0;
  for (unsigned i = 0; i < PCI_SRIOV_NUM_BARS; ++i) {
    uint32_t lo = 0, sz = 0;
    const int reg = pos + PCI_SRIOV_BAR + 4 * static_cast<int>(i);
    config_read(dev, reg, 4, lo);
    config_write(dev, reg, 4, 0xffffffffu);
    config_read(dev, reg, 4, sz);
    config_write(dev, reg, 4, lo);
    if (!sz) continue;
    ++nres;
    uint64_t base = lo & ~0xfu;
    if (((lo >> 1) & 3) == 2 && i < 5) {
      uint32_t hi = 0;
      config_read(dev, reg + 4, 4, hi);
      base |= uint64_t{hi} << 32;
      ++i;
    }
    if (base) ++assigned;
  }
  if (nres != assigned) {
    pci_err(dev, "not enough MMIO resources for SR-IOV\n");
    return -ENOMEM;
  }
  // pci_iov_virtfn_bus: VFs past the PF's bus need buses the bridge above does not route here.
  const unsigned last = dev->devfn + offset + (nr_virtfn - 1) * stride;
  if (last > 0xff) {
    pci_err(dev, "can't enable %u VFs (bus %02x out of range of [bus %02x])\n", nr_virtfn,
            dev->bus->number + (last >> 8), dev->bus->number);
    return -ENOMEM;
  }
  pf.num_vfs = nr_virtfn;
  // iov->ctrl, iov->pgsz and the IOV resources, for sriov_restore_state after a PF reset.
  pf.iov_ctrl = static_cast<uint16_t>(ctrl | PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
  config_read(dev, pos + PCI_SRIOV_SYS_PGSIZE, 4, pf.iov_pgsz);
  for (unsigned i = 0; i < PCI_SRIOV_NUM_BARS; ++i)
    config_read(dev, pos + PCI_SRIOV_BAR + 4 * static_cast<int>(i), 4, pf.iov_bars[i]);
  config_write(dev, pos + PCI_SRIOV_CTRL, 2, ctrl | PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
  msleep(100);  // PCIe 9.3.3.3.1: VFs may not answer for 100 ms after VF Enable
  std::vector<PciDev*> fresh;
  for (unsigned id = 0; id < nr_virtfn; ++id)
    if (PciDev* vf = add_virtfn(pf, id)) fresh.push_back(vf);
  // pci_bus_add_device: IOMMU groups (iommu_bus_notifier -> iommu_probe_device), then drivers.
  m_kernel.iommu().probe_devices();
  // device_add's bus notifiers (after the IOMMU core's), then the driver.
  for (PciDev* vf : fresh) cosim_bus_notify(&pci_bus_type, BUS_NOTIFY_ADD_DEVICE, &vf->dev->dev);
  for (PciDev* vf : fresh) attach(*vf);
  dev->is_physfn = 1;
  return static_cast<int>(nr_virtfn);
}

// pci_iov_add_virtfn (iov.c) with pci_setup_device's reads: vendor from the PF, device from VF
// Device ID, not multifunction, resources from the PF's VF BARs.
PciDev* PciCore::add_virtfn(PciDev& pf, unsigned id) {
  pci_dev* p = pf.dev.get();
  const uint16_t pos = pf.sriov_pos;
  uint32_t offset = 0, stride = 0, did = 0;
  config_read(p, pos + PCI_SRIOV_VF_OFFSET, 2, offset);
  config_read(p, pos + PCI_SRIOV_VF_STRIDE, 2, stride);
  config_read(p, pos + PCI_SRIOV_VF_DID, 2, did);
  const unsigned rid = (unsigned{pf.bdf.bus} << 8) + pf.bdf.devfn + offset + id * stride;
  auto rec = std::make_unique<PciDev>();
  rec->dev = std::make_unique<pci_dev>();
  pci_dev* dev = rec->dev.get();
  *dev = pci_dev{};
  rec->segment = pf.segment;
  rec->bdf = RequesterId{static_cast<uint8_t>(rid >> 8), static_cast<uint8_t>(rid)};
  // The fabric's index has no entry for a VF: the PF's stands in for the unit lookup (same root
  // port, so the same DMAR unit).
  rec->info = pf.info;
  char name[32];
  std::snprintf(name, sizeof name, "%04x:%02x:%02x.%u", pf.segment, rec->bdf.bus, rec->bdf.devfn >> 3,
                rec->bdf.devfn & 7u);
  rec->name = name;
  dev->bus = p->bus;
  dev->devfn = rec->bdf.devfn;
  dev->dev.cosim = rec.get();
  dev->dev.bus = p->dev.bus;
  dev->dev.parent = p->dev.parent;
  std::snprintf(dev->dev.name, sizeof dev->dev.name, "%s", name);
  dev->vendor = p->vendor;
  dev->device = static_cast<unsigned short>(did);
  dev->is_virtfn = 1;
  dev->physfn = p;
  dev->no_command_memory = 1;  // iov.c: a VF's memory decode is the PF's VF MSE (PCIe 9.3.4.1.3)
  dev->multifunction = 0;
  PciDev* out = rec.get();
  m_devices.push_back(std::move(rec));
  uint32_t v = 0;
  config_read(dev, PCI_CLASS_REVISION, 4, v);
  dev->revision = v & 0xff;
  dev->class_ = v >> 8;
  dev->hdr_type = PCI_HEADER_TYPE_NORMAL;
  config_read(dev, PCI_SUBSYSTEM_VENDOR_ID, 2, v);
  dev->subsystem_vendor = static_cast<unsigned short>(v);
  config_read(dev, PCI_SUBSYSTEM_ID, 2, v);
  dev->subsystem_device = static_cast<unsigned short>(v);
  dev->pin = 0;  // PCIe 9.3.4.1.14
  dev->pcie_cap = find_capability(dev, PCI_CAP_ID_EXP);
  if (dev->pcie_cap) {
    config_read(dev, dev->pcie_cap + PCI_EXP_FLAGS, 2, v);
    dev->pcie_flags_reg = static_cast<u16>(v);
    config_read(dev, dev->pcie_cap + PCI_EXP_DEVCAP, 4, v);
    dev->reset_fn = (v & PCI_EXP_DEVCAP_FLR) != 0;
  }
  dev->msi_cap = find_capability(dev, PCI_CAP_ID_MSI);
  dev->msix_cap = find_capability(dev, PCI_CAP_ID_MSIX);
  dev->cfg_size = PCI_CFG_SPACE_EXP_SIZE;
  dev->acs_cap = find_ext_capability(dev, PCI_EXT_CAP_ID_ACS);
  dev->dma_mask = 0xffffffffull;
  dev->dev.dma_mask = &dev->dma_mask;
  dev->dev.coherent_dma_mask = 0xffffffffull;
  // VF resource i: the PF's VF BARi + id * its size (pci_iov_add_virtfn, PCIe 9.3.3.14).
  for (unsigned i = 0; i < PCI_SRIOV_NUM_BARS; ++i) {
    const int reg = pos + PCI_SRIOV_BAR + 4 * static_cast<int>(i);
    uint32_t lo = 0, sz = 0;
    config_read(p, reg, 4, lo);
    config_write(p, reg, 4, 0xffffffffu);
    config_read(p, reg, 4, sz);
    config_write(p, reg, 4, lo);
    if (!sz) continue;
    uint64_t base = lo & ~0xfu, mask = sz & ~0xfu;
    resource& r = dev->resource[i];
    r.name = out->name.c_str();
    r.flags = IORESOURCE_MEM | IORESOURCE_SIZEALIGN | (lo & 0xfu);
    if (lo & PCI_BASE_ADDRESS_MEM_PREFETCH) r.flags |= IORESOURCE_PREFETCH;
    if (((lo >> 1) & 3) == 2 && i < 5) {
      uint32_t hi = 0, szhi = 0;
      config_read(p, reg + 4, 4, hi);
      config_write(p, reg + 4, 4, 0xffffffffu);
      config_read(p, reg + 4, 4, szhi);
      config_write(p, reg + 4, 4, hi);
      base |= uint64_t{hi} << 32;
      mask |= uint64_t{szhi} << 32;
      r.flags |= IORESOURCE_MEM_64;
    } else {
      mask |= 0xffffffff00000000ull;
    }
    const uint64_t size = ~mask + 1;
    r.start = base + id * size;
    r.end = r.start + size - 1;
    if (r.flags & IORESOURCE_MEM_64) ++i;
  }
  log_device(*out);
  return out;
}

// sriov_init (iov.c), at enumeration: the PF is is_physfn whether or not VFs are ever enabled
// (vfio-pci's vfio_pci_vf_init looks at it), and iov->ctrl, iov->pgsz and the IOV resources (the
// firmware's VF BARs) are kept for sriov_restore_state.
void PciCore::sriov_init(PciDev& pf) {
  pci_dev* dev = pf.dev.get();
  const uint16_t pos = sriov_pos(*this, pf);
  if (!pos) return;
  dev->is_physfn = 1;
  uint32_t ctrl = 0;
  config_read(dev, pos + PCI_SRIOV_CTRL, 2, ctrl);
  pf.iov_ctrl = static_cast<uint16_t>(ctrl);
  config_read(dev, pos + PCI_SRIOV_SYS_PGSIZE, 4, pf.iov_pgsz);
  for (unsigned i = 0; i < PCI_SRIOV_NUM_BARS; ++i)
    config_read(dev, pos + PCI_SRIOV_BAR + 4 * static_cast<int>(i), 4, pf.iov_bars[i]);
}

// sriov_restore_state (iov.c): nothing to do while VF Enable survived the reset; otherwise ARI
// first (offset and stride depend on it), the VF BARs, page size, NumVFs, then Control as cached.
void PciCore::restore_iov_state(PciDev& pf) {
  pci_dev* dev = pf.dev.get();
  if (!pf.sriov_pos || dev->is_virtfn) return;
  const int pos = pf.sriov_pos;
  uint32_t ctrl = 0;
  config_read(dev, pos + PCI_SRIOV_CTRL, 2, ctrl);
  if (ctrl & PCI_SRIOV_CTRL_VFE) return;
  ctrl = (ctrl & ~uint32_t{PCI_SRIOV_CTRL_ARI}) | (pf.iov_ctrl & PCI_SRIOV_CTRL_ARI);
  config_write(dev, pos + PCI_SRIOV_CTRL, 2, ctrl);
  for (unsigned i = 0; i < PCI_SRIOV_NUM_BARS; ++i)
    config_write(dev, pos + PCI_SRIOV_BAR + 4 * static_cast<int>(i), 4, pf.iov_bars[i]);
  config_write(dev, pos + PCI_SRIOV_SYS_PGSIZE, 4, pf.iov_pgsz);
  config_write(dev, pos + PCI_SRIOV_NUM_VF, 2, pf.num_vfs);  // pci_iov_set_numvfs
  config_write(dev, pos + PCI_SRIOV_CTRL, 2, pf.iov_ctrl);
  if (pf.iov_ctrl & PCI_SRIOV_CTRL_VFE) msleep(100);
}

void PciCore::remove_virtfn(PciDev& vf) {
  release(vf);  // device_release_driver
  m_kernel.iommu().remove_device(vf);
  auto it = std::find_if(m_devices.begin(), m_devices.end(), [&](const auto& d) { return d.get() == &vf; });
  if (it != m_devices.end()) m_devices.erase(it);
}

// sriov_disable (iov.c): VFs removed (highest first), then VF Enable and MSE cleared, 100 ms,
// NumVFs 0.
void PciCore::disable_sriov(PciDev& pf) {
  pci_dev* dev = pf.dev.get();
  if (!pf.num_vfs || !pf.sriov_pos) return;
  std::vector<PciDev*> vfs;
  for (const auto& d : m_devices)
    if (d->dev->is_virtfn && d->dev->physfn == dev) vfs.push_back(d.get());
  for (auto it = vfs.rbegin(); it != vfs.rend(); ++it) remove_virtfn(**it);
  uint32_t ctrl = 0;
  config_read(dev, pf.sriov_pos + PCI_SRIOV_CTRL, 2, ctrl);
  config_write(dev, pf.sriov_pos + PCI_SRIOV_CTRL, 2, ctrl & ~uint32_t{PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE});
  msleep(100);
  config_write(dev, pf.sriov_pos + PCI_SRIOV_NUM_VF, 2, 0);
  pf.num_vfs = 0;
}

}  // namespace pciesim::cosim

using pciesim::cosim::PciCore;

extern "C" int pci_enable_sriov(struct pci_dev* dev, int nr_virtfn) {
  if (nr_virtfn < 0) return -EINVAL;
  PciCore& pci = pciesim::cosim::Kernel::current().pci();
  const int rc = pci.enable_sriov(PciCore::of(dev), static_cast<unsigned>(nr_virtfn));
  return rc < 0 ? rc : 0;
}

extern "C" void pci_disable_sriov(struct pci_dev* dev) {
  pciesim::cosim::Kernel::current().pci().disable_sriov(PciCore::of(dev));
}

extern "C" int pci_num_vf(struct pci_dev* dev) {
  return dev && !dev->is_virtfn ? static_cast<int>(PciCore::of(dev).num_vfs) : 0;
}

extern "C" int pci_sriov_get_totalvfs(struct pci_dev* dev) {
  if (!dev || dev->is_virtfn) return 0;
  return static_cast<int>(pciesim::cosim::Kernel::current().pci().sriov_totalvfs(PciCore::of(dev)));
}
