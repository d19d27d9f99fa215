#include "iommu/intel_ats.h"

#include <cerrno>

#include "iommu/intel_iommu.h"
#include "iommu/remapping_unit.h"
#include "kernel/kapi.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "pcie/fabric.h"

namespace pciesim::cosim {

namespace {
// include/uapi/linux/pci_regs.h
constexpr int kExtCapIdAts = 0x0f;                      // PCI_EXT_CAP_ID_ATS
constexpr int kAtsCap = 0x04, kAtsCtrl = 0x06;          // PCI_ATS_CAP, PCI_ATS_CTRL
constexpr uint32_t kAtsCapQdepMask = 0x1f;              // PCI_ATS_CAP_QDEP(x)
constexpr uint32_t kAtsCapPageAligned = 0x0020;         // PCI_ATS_CAP_PAGE_ALIGNED
constexpr uint32_t kAtsCtrlEnable = 0x8000;             // PCI_ATS_CTRL_ENABLE
constexpr int kVtdPageShift = 12;                       // VTD_PAGE_SHIFT
// VT-d 11.4.3 ECAP.DIT (device-TLB invalidation throttling), Linux ecap_dit(e) = (e >> 41) & 1.
bool ecap_dit(uint64_t ecap) { return (ecap >> 41) & 1; }

PciDev& physfn(Kernel& k, PciDev& dev) {
  if (PciDev* pf = dev.dev && dev.dev->is_virtfn ? k.pci().physfn(dev) : nullptr) return *pf;
  return dev;
}
}  // namespace

std::vector<AtsrUnit> dmar_atsr_units(Kernel& kernel) {
  std::vector<AtsrUnit> out;
  for (const vtd::RemappingUnit* u : kernel.fabric().iommus())
    if (u->spec().device_iotlb) out.push_back(AtsrUnit{u->spec().segment, true, {}});
  return out;
}

// ---- drivers/pci/ats.c ----------------------------------------------------------------------------

void pci_ats_init(PciCore& pci, PciDev& dev) {
  if (!dev.ats_cap) dev.ats_cap = pci.find_ext_capability(dev.dev.get(), kExtCapIdAts);
}

bool pci_ats_supported(const PciDev& dev) { return dev.ats_cap && !dev.untrusted; }

bool pci_ats_page_aligned(PciCore& pci, PciDev& dev) {
  if (!dev.ats_cap) return false;
  uint32_t cap = 0;
  pci.config_read(dev.dev.get(), dev.ats_cap + kAtsCap, 2, cap);
  return cap & kAtsCapPageAligned;
}

int pci_enable_ats(PciCore& pci, PciDev& dev, int ps) {
  if (!pci_ats_supported(dev)) return -EINVAL;
  if (dev.ats_enabled) return -EBUSY;  // Linux: WARN_ON(dev->ats_enabled)
  if (ps < kPciAtsMinStu) return -EINVAL;
  // A VF's ATS follows its PF's STU (PCIe 10.5.1.3: the VF's STU field is RsvdP).
  uint32_t ctrl = kAtsCtrlEnable;
  if (dev.dev->is_virtfn) {
    const PciDev* pf = pci.physfn(dev);
    if (!pf || pf->ats_stu != ps) return -EINVAL;
  } else {
    dev.ats_stu = static_cast<uint8_t>(ps);
    ctrl |= static_cast<uint32_t>(ps - kPciAtsMinStu);  // PCI_ATS_CTRL_STU(x)
  }
  pci.config_write(dev.dev.get(), dev.ats_cap + kAtsCtrl, 2, ctrl);
  dev.ats_enabled = true;
  return 0;
}

void pci_disable_ats(PciCore& pci, PciDev& dev) {
  if (!dev.ats_enabled) return;  // Linux: WARN_ON(!dev->ats_enabled)
  uint32_t ctrl = 0;
  pci.config_read(dev.dev.get(), dev.ats_cap + kAtsCtrl, 2, ctrl);
  pci.config_write(dev.dev.get(), dev.ats_cap + kAtsCtrl, 2, ctrl & ~kAtsCtrlEnable);
  dev.ats_enabled = false;
}

void pci_restore_ats_state(PciCore& pci, PciDev& dev) {
  if (!dev.ats_enabled) return;
  uint32_t ctrl = kAtsCtrlEnable;
  if (!dev.dev->is_virtfn) ctrl |= static_cast<uint32_t>(dev.ats_stu - kPciAtsMinStu);
  pci.config_write(dev.dev.get(), dev.ats_cap + kAtsCtrl, 2, ctrl);
}

int pci_ats_queue_depth(PciCore& pci, PciDev& dev) {
  if (!dev.ats_cap) return -EINVAL;
  if (dev.dev->is_virtfn) return 0;
  uint32_t cap = 0;
  pci.config_read(dev.dev.get(), dev.ats_cap + kAtsCap, 2, cap);
  const int qdep = static_cast<int>(cap & kAtsCapQdepMask);
  return qdep ? qdep : kPciAtsMaxQdep;
}

// ---- drivers/iommu/intel/iommu.c ---------------------------------------------------------------

bool dmar_ats_supported(Kernel& kernel, const PciDev& d) {
  PciDev& dev = physfn(kernel, const_cast<PciDev&>(d));
  if (!dev.info) return false;
  Fabric& fabric = kernel.fabric();
  // Up the bus hierarchy to the root port (the bridge above each bus, bus->self).
  const FunctionInfo* root_port = nullptr;
  for (const FunctionInfo* cur = dev.info; cur;) {
    const FunctionInfo* bridge = cur->parent ? fabric.find(cur->parent) : nullptr;
    if (!bridge) return true;  // an integrated device: ATS allowed
    // Connected via non-PCIe (a conventional bridge, or a PCIe-to-PCI bridge): no ATS.
    if (bridge->role == FunctionRole::PciToPciBridge || bridge->role == FunctionRole::PcieToPciBridge) return false;
    if (bridge->role == FunctionRole::RootPort) {
      root_port = bridge;
      break;
    }
    cur = bridge;
  }
  if (!root_port) return false;
  for (const AtsrUnit& atsr : dmar_atsr_units(kernel)) {
    if (atsr.segment != dev.segment) continue;
    for (const std::string& p : atsr.ports)
      if (p == root_port->fn->name() || p == root_port->component) return true;
    if (atsr.all_ports) return true;
  }
  return false;
}

bool intel_ats_supported(Kernel& kernel, IntelIommu& unit, PciDev& dev) {
  pci_ats_init(kernel.pci(), dev);
  return unit.caps().dt() && pci_ats_supported(dev) && dmar_ats_supported(kernel, dev);
}

void iommu_enable_dev_iotlb(Kernel& kernel, IntelIommu& unit, PciDev& dev, uint16_t did) {
  PciCore& pci = kernel.pci();
  // With ECAP.DIT the descriptors carry the PF's source id (PFSID), else 0 (reserved).
  uint16_t pfsid = 0;
  if (ecap_dit(unit.caps().ecap)) pfsid = physfn(kernel, dev).bdf.raw();
  if (pci_ats_page_aligned(pci, dev) && !pci_enable_ats(pci, dev, kVtdPageShift))
    unit.dev_iotlb_enabled(dev.bdf, did, static_cast<uint16_t>(pci_ats_queue_depth(pci, dev)), pfsid);
}

void iommu_disable_dev_iotlb(Kernel& kernel, IntelIommu& unit, PciDev& dev) {
  if (!dev.ats_enabled) return;
  pci_disable_ats(kernel.pci(), dev);
  unit.dev_iotlb_disabled(dev.bdf);
}

}  // namespace pciesim::cosim
