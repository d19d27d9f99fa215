// The co-simulated intel-iommu driver for one DRHD (one vtd::RemappingUnit of a Fabric). It
// programs the unit only as Linux's drivers/iommu/intel does: CPU MMIO to the register window
// (DmarRegisters) and tables in kernel memory (KernelMemory = simulated DRAM). Messages go to the
// kernel log in Linux's words.
//
// init() follows Linux's boot order: read VER/CAP/ECAP; program the fault event MSI (FEDATA,
// FEADDR) and unmask it; queued invalidation (IQA, GCMD.QIE); interrupt remapping (IRTA with
// S = 0xF and EIME when ECAP.EIM allows, SIRTP, a global interrupt-entry-cache flush unless
// CAP.ESIRTPS, IRE, compatibility format blocked); the legacy root table (RTADDR, SRTP) followed
// by global context-cache and IOTLB invalidations; translation (GCMD.TE).
//
// Faults. The unit's fault event MSI reaches the local APIC sink while the faulting DMA is still
// inside its b_transport (and the fabric's CPU initiator may be mid-access). The handler must not
// issue MMIO from there, so on_apic_interrupt() only marks the event pending; service_faults()
// runs Linux's dmar_fault (read FSTS, walk FRCD from FRI, log and clear each F bit, clear
// PFO/PPF/PRO) from the kernel's own context, like a threaded IRQ handler. The queue submitter
// calls it too, so faults never wait longer than the next driver operation.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "iommu/dmar_registers.h"
#include "iommu/iommu_domain.h"
#include "iommu/queued_invalidation.h"
#include "iommu/interrupt_remap.h"
#include "iommu/vtd_types.h"
#include "pciesim/tlp.h"

namespace pciesim {
class Fabric;
}
namespace pciesim::vtd {
class RemappingUnit;
struct DeliveredInterrupt;
}  // namespace pciesim::vtd

namespace pciesim::cosim {

class KernelLog;
class KernelMemory;

struct IntelIommuOptions {
  // Fault event MSI: vector and (physical, xAPIC) destination. Linux allocates the vector
  // dynamically; any free vector serves.
  uint8_t fault_vector = 0xee;
  uint8_t fault_apic_id = 0;
  bool interrupt_remapping = true;  // when ECAP.IR
  bool x2apic = true;               // EIME when ECAP.EIM (Linux: x2APIC mode)
  int levels = 0;                   // 0: Linux's choice, the widest SAGAW allows up to 5 levels
};

// One fault as dmar_fault decoded it from a fault recording register.
struct DmarFault {
  uint8_t reason = 0;
  uint16_t source_id = 0;
  uint64_t address = 0;  // page address; interrupt index in 63:48 for interrupt-remapping faults
  bool read = false;     // FRCD.T: 1 = read
  bool pasid_present = false;
  uint32_t pasid = 0;
  unsigned index = 0;    // FRCD register it came from
};

// An MSI as the device must be programmed with (remappable format, Linux fill_msi_msg).
struct MsiMessage {
  uint64_t address = 0;
  uint32_t data = 0;
};

class IntelIommu {
 public:
  IntelIommu(Fabric& fabric, vtd::RemappingUnit& unit, KernelMemory& mem, KernelLog& log,
             IntelIommuOptions options = {});
  ~IntelIommu();
  IntelIommu(const IntelIommu&) = delete;
  IntelIommu& operator=(const IntelIommu&) = delete;

  // Brings the unit up; false (with the reason logged) when it cannot be used.
  bool init();
  bool initialized() const { return m_initialized; }
  const std::string& name() const { return m_name; }
  const vtd::Capabilities& caps() const { return m_caps; }
  DmarRegisters& registers() { return m_regs; }
  QueuedInvalidation& queue() { return *m_qi; }
  uint64_t root_table_phys() const;

  // ---- domains (iommu.c) ----
  IommuDomain& alloc_domain();
  void free_domain(IommuDomain& d);  // must be detached from every device
  IommuDomain* domain(uint16_t did) const;
  // Writes the context entry of `source` (a device or one of its DMA aliases): TT = 0, AW from
  // the domain's levels, DID, SLPTPTR; then a device-selective context-cache and a
  // domain-selective IOTLB invalidation. 0, -EBUSY if attached to another domain, -ENOMEM.
  // `dev_iotlb`: the device's ATS is supported (intel_ats.h intel_ats_supported): the entry's TT is
  // CONTEXT_TT_DEV_IOTLB (01b: translation and translated requests allowed, VT-d 9.3).
  int attach_device(IommuDomain& d, RequesterId source, bool dev_iotlb = false);
  // Clears the context entry and invalidates (context-cache device-selective, IOTLB for the old
  // domain). -ENODEV when nothing was attached.
  int detach_device(RequesterId source);
  IommuDomain* attached_domain(RequesterId source) const;

  // ---- invalidation (qi_flush_*) ----
  int flush_context_global();
  int flush_iotlb_global();
  int flush_iotlb_dsi(uint16_t did);
  // Page-selective over `pages` 4 KiB pages from addr (AM = log2 of the aligned power-of-two
  // span; domain-selective when CAP.PSI is clear or AM would exceed CAP.MAMV).
  // Then, unless `map` under CAP.CM (a non-present to present change), the device TLBs of the
  // domain's ATS devices for the same range (Linux iommu_flush_iotlb_psi).
  int flush_iotlb_psi(uint16_t did, uint64_t addr, uint64_t pages, bool map = false);
  // ---- device TLBs (intel_ats.h; Linux device_domain_info ats_enabled / ats_qdep / pfsid) ----
  void dev_iotlb_enabled(RequesterId sid, uint16_t did, uint16_t qdep, uint16_t pfsid);
  void dev_iotlb_disabled(RequesterId sid);
  bool dev_iotlb(RequesterId sid) const { return m_dev_iotlb.count(sid.raw()) != 0; }
  // iommu_flush_dev_iotlb: one device-TLB invalidation (qi_flush_dev_iotlb) per ATS device of
  // domain `did`, for 2^mask pages at addr (mask 52 = MAX_AGAW_PFN_WIDTH: everything). 0 or the
  // first queue error.
  int flush_dev_iotlb(uint16_t did, uint64_t addr, unsigned mask);
  int submit(const std::vector<QiDescriptor>& batch);

  // ---- faults (dmar.c) ----
  // The APIC sink's listener entry: true when the interrupt was this unit's fault event.
  bool on_apic_interrupt(const vtd::DeliveredInterrupt& irq);
  // Runs the fault handler if a fault event is pending. Returns the faults it logged.
  unsigned service_faults();
  // dmar_fault itself, pending or not.
  unsigned handle_faults();
  const std::vector<DmarFault>& faults() const { return m_faults; }
  uint64_t fault_events() const { return m_fault_events; }
  bool fault_pending() const { return m_fault_pending; }

  // ---- interrupt remapping (irq_remapping.c) ----
  bool ir_enabled() const { return m_irt != nullptr; }
  bool eim() const { return m_eim; }
  // Allocates `count` (a power of two) consecutive IRTEs for `source`, programs them for vectors
  // vector..vector+count-1 at APIC `dest` with source-id validation (SVT 01, SQ 00), and
  // invalidates the entries in the interrupt entry cache. Returns the base index or -errno.
  int alloc_irq(RequesterId source, uint8_t vector, uint32_t dest, unsigned count = 1);
  // The same with the source validation Linux's set_msi_sid chose (requester id or bus range).
  int alloc_irq(const vtd::SourceValidation& check, uint8_t vector, uint32_t dest, unsigned count);
  // Frees IRTEs from alloc_irq (clears them and invalidates).
  void free_irq(unsigned index, unsigned count = 1);
  // The remappable-format MSI address/data for IRTE `index` + `subhandle` (HANDLE, SHV = 1).
  MsiMessage compose_msi(unsigned index, uint16_t subhandle = 0) const;
  unsigned irte_count() const { return m_irte_entries; }

 private:
  bool setup_fault_event();
  bool enable_qi();
  bool enable_irq_remapping();
  bool set_root_table();
  uint64_t* context_entry(RequesterId source, bool allocate);
  int flush_device(uint16_t did_for_context, uint16_t did_for_iotlb, RequesterId source);
  int modify_irte(unsigned index, uint64_t lo, uint64_t hi, unsigned index_mask);

  Fabric& m_fabric;
  vtd::RemappingUnit& m_unit;
  KernelMemory& m_mem;
  KernelLog& m_log;
  IntelIommuOptions m_options;
  std::string m_name;
  DmarRegisters m_regs;
  std::unique_ptr<QueuedInvalidation> m_qi;
  vtd::Capabilities m_caps;
  bool m_initialized = false;
  int m_levels = 4;

  uint64_t* m_root = nullptr;                 // 256 root entries
  std::map<uint8_t, uint64_t*> m_context;     // bus -> context table
  std::map<uint16_t, std::unique_ptr<IommuDomain>> m_domains;
  std::map<uint16_t, uint16_t> m_attached;    // source id -> DID
  struct DevIotlb {
    uint16_t did = 0, qdep = 0, pfsid = 0;
  };
  std::map<uint16_t, DevIotlb> m_dev_iotlb;   // source id -> an ATS-enabled device
  uint16_t m_next_did = 1;                    // DID 0 is reserved (Linux FLPT_DEFAULT_DID / CM)

  bool m_fault_pending = false;
  uint64_t m_fault_events = 0;
  std::vector<DmarFault> m_faults;

  uint64_t* m_irt = nullptr;                  // interrupt remapping table (Linux: 65536 entries)
  unsigned m_irte_entries = 0;
  std::vector<bool> m_irte_used;
  bool m_eim = false;
};

}  // namespace pciesim::cosim
