// ATS as Linux 6.1 enables it for intel-iommu (docs/vtd.md "ATS"):
//   drivers/pci/ats.c      pci_ats_init (ats_cap), pci_ats_supported (capability, not untrusted),
//                          pci_ats_page_aligned, pci_enable_ats (STU = ps - 12, Enable),
//                          pci_disable_ats, pci_ats_queue_depth (Invalidate Queue Depth, 0 = 32);
//   intel/iommu.c          dmar_ats_supported (the device's root port in an ATSR, or an ATSR with
//                          ALL_PORTS; integrated devices always; nothing behind a PCI bridge),
//                          the probe-time ats_supported (ECAP.DT && pci_ats_supported &&
//                          dmar_ats_supported) that makes domain_context_mapping_one write
//                          CONTEXT_TT_DEV_IOTLB, iommu_enable_dev_iotlb (6.2: iommu_enable_pci_caps)
//                          after the context entry is written, iommu_disable_dev_iotlb before it
//                          is cleared.
// The device-TLB flushes themselves (iommu_flush_dev_iotlb -> qi_flush_dev_iotlb on every unmap,
// strict or lazy) are IntelIommu::flush_dev_iotlb. Linux prints nothing on these paths; a
// device that stops answering shows up as "DMAR: Invalidation Time-out Error (ITE) cleared".
//
// The DMAR table's ATSR structures: the kernel layer reads the DMAR table as the topology's iommu
// entries (as it reads DRHD scopes, iommu_api.cpp unit_for); a unit with `device_iotlb: true`
// contributes the ATSR QEMU's build_dmar_q35 emits with device-iotlb=on: its segment, ALL_PORTS.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pciesim::cosim {

class IntelIommu;
class Kernel;
class PciCore;
struct PciDev;

// ACPI DMAR "Root Port ATS Capability Reporting" structure (VT-d 8.5).
struct AtsrUnit {
  int segment = 0;
  bool all_ports = false;            // flag bit 0: ALL_PORTS
  std::vector<std::string> ports;    // device scope (root port names) without ALL_PORTS
};
std::vector<AtsrUnit> dmar_atsr_units(Kernel& kernel);

// drivers/pci/ats.c (Linux 6.1). PCI_ATS_MIN_STU = VTD_PAGE_SHIFT = 12.
inline constexpr int kPciAtsMinStu = 12;
inline constexpr int kPciAtsMaxQdep = 32;  // PCI_ATS_MAX_QDEP: Invalidate Queue Depth 0 means 32
void pci_ats_init(PciCore& pci, PciDev& dev);
bool pci_ats_supported(const PciDev& dev);
bool pci_ats_page_aligned(PciCore& pci, PciDev& dev);
// 0, or -EINVAL (no ATS / untrusted / ps below 12 / a VF whose PF has another STU), -EBUSY
// (already enabled: Linux WARNs).
int pci_enable_ats(PciCore& pci, PciDev& dev, int ps);
void pci_disable_ats(PciCore& pci, PciDev& dev);
int pci_ats_queue_depth(PciCore& pci, PciDev& dev);
// pci_restore_ats_state (from pci_restore_state): a reset cleared the control register; Enable and
// STU are written back while the kernel has ATS enabled.
void pci_restore_ats_state(PciCore& pci, PciDev& dev);

// intel/iommu.c (Linux 6.1).
bool dmar_ats_supported(Kernel& kernel, const PciDev& dev);
// intel_iommu_probe_device: info->ats_supported.
bool intel_ats_supported(Kernel& kernel, IntelIommu& unit, PciDev& dev);
// iommu_enable_dev_iotlb: enables ATS with STU = VTD_PAGE_SHIFT when the device asks for page-
// aligned requests, and registers the device with the unit for device-TLB flushes of domain `did`.
void iommu_enable_dev_iotlb(Kernel& kernel, IntelIommu& unit, PciDev& dev, uint16_t did);
// iommu_disable_dev_iotlb: disables ATS, unregisters the device.
void iommu_disable_dev_iotlb(Kernel& kernel, IntelIommu& unit, PciDev& dev);

}  // namespace pciesim::cosim
