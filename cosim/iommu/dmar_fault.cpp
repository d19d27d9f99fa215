// The fault event handler of the intel-iommu driver (dmar.c dmar_fault, dmar_fault_do_one) and
// Linux's reason strings.
#include "iommu/dmar_fault.h"

#include <cstdio>

#include "iommu/intel_iommu.h"
#include "iommu/local_apic_sink.h"
#include "iommu/vtd_regs.h"
#include "kernel/kernel_log.h"

namespace pciesim::cosim {

namespace {
// dma_remap_fault_reasons (VT-d 7.1.3 legacy codes 0x0-0xD).
const char* const kDmaRemapReasons[] = {
    "Software",
    "Present bit in root entry is clear",
    "Present bit in context entry is clear",
    "Invalid context entry",
    "Access beyond MGAW",
    "PTE Write access is not set",
    "PTE Read access is not set",
    "Next page table ptr is invalid",
    "Root table address invalid",
    "Context table ptr is invalid",
    "non-zero reserved fields in RTP",
    "non-zero reserved fields in CTP",
    "non-zero reserved fields in PTE",
    "PCE for translation request specifies blocking",
};
// irq_remap_fault_reasons (0x20-0x26).
const char* const kIrqRemapReasons[] = {
    "Detected reserved fields in the decoded interrupt-remapped request",
    "Interrupt index exceeded the interrupt-remapping table size",
    "Present field in the IRTE entry is clear",
    "Error accessing interrupt-remapping table pointed by IRTA_REG",
    "Detected reserved fields in the IRTE entry",
    "Blocked a compatibility format interrupt request",
    "Blocked an interrupt request due to source-id verification failure",
};
constexpr unsigned kFrcdLen = 16;  // PRIMARY_FAULT_REG_LEN
}  // namespace

const char* dmar_fault_reason(uint8_t reason, DmarFaultType& type) {
  constexpr unsigned kIrq = sizeof kIrqRemapReasons / sizeof *kIrqRemapReasons;
  constexpr unsigned kDma = sizeof kDmaRemapReasons / sizeof *kDmaRemapReasons;
  if (reason >= 0x20 && reason - 0x20u < kIrq) {
    type = DmarFaultType::IntrRemap;
    return kIrqRemapReasons[reason - 0x20];
  }
  if (reason >= 0x30) {
    // dma_remap_sm_fault_reasons: the model's describe() carries Linux's scalable-mode wording.
    type = DmarFaultType::DmaRemap;
    return vtd::describe(static_cast<vtd::FaultReason>(reason));
  }
  if (reason < kDma) {
    type = DmarFaultType::DmaRemap;
    return kDmaRemapReasons[reason];
  }
  type = DmarFaultType::Unknown;
  return "Unknown";
}

std::string dmar_fault_line(const DmarFault& f) {
  DmarFaultType type;
  const char* reason = dmar_fault_reason(f.reason, type);
  const unsigned bus = f.source_id >> 8, slot = (f.source_id >> 3) & 0x1f, func = f.source_id & 7;
  char buf[512];
  if (type == DmarFaultType::IntrRemap) {
    std::snprintf(buf, sizeof buf,
                  "[INTR-REMAP] Request device [%02x:%02x.%u] fault index 0x%llx [fault reason 0x%02x] %s", bus,
                  slot, func, static_cast<unsigned long long>(f.address >> 48), f.reason, reason);
  } else if (!f.pasid_present) {
    std::snprintf(buf, sizeof buf,
                  "[%s NO_PASID] Request device [%02x:%02x.%u] fault addr 0x%llx [fault reason 0x%02x] %s",
                  f.read ? "DMA Read" : "DMA Write", bus, slot, func, static_cast<unsigned long long>(f.address),
                  f.reason, reason);
  } else {
    std::snprintf(buf, sizeof buf,
                  "[%s PASID 0x%x] Request device [%02x:%02x.%u] fault addr 0x%llx [fault reason 0x%02x] %s",
                  f.read ? "DMA Read" : "DMA Write", f.pasid, bus, slot, func,
                  static_cast<unsigned long long>(f.address), f.reason, reason);
  }
  return buf;
}

bool IntelIommu::on_apic_interrupt(const vtd::DeliveredInterrupt& irq) {
  if (irq.path != vtd::InterruptPath::Unremapped || irq.irq.vector != m_options.fault_vector ||
      irq.irq.destination != m_options.fault_apic_id)
    return false;
  // Deferred: see the header. Several units may share the vector; each checks its own FSTS.
  m_fault_pending = true;
  ++m_fault_events;
  return true;
}

unsigned IntelIommu::service_faults() {
  if (!m_fault_pending) return 0;
  m_fault_pending = false;
  return handle_faults();
}

// dmar_fault: FSTS, then the FRCD ring from FRI until a record without F; each record read
// upper dword first (+12: F, T, FR, PV), then +8 (SID, PP) and +0 (FI); F written back to clear;
// finally PFO | PPF | PRO cleared.
unsigned IntelIommu::handle_faults() {
  const uint32_t fsts = m_regs.read32(vtd::reg::kFsts);
  if (fsts) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "DMAR: DRHD: handling fault status reg %x", fsts);
    m_log.log(LogLevel::Err, buf);
  }
  unsigned logged = 0;
  if (fsts & vtd::fsts::kPpf) {
    const unsigned nfr = m_caps.nfr(), fro = m_caps.fro();
    unsigned index = (fsts & vtd::fsts::kFriMask) >> vtd::fsts::kFriShift;
    for (unsigned n = 0; n < nfr; ++n) {
      const uint32_t off = fro + index * kFrcdLen;
      const uint32_t hi = m_regs.read32(off + 12);
      if (!(hi & (1u << 31))) break;
      DmarFault f;
      f.index = index;
      f.reason = static_cast<uint8_t>(hi & 0xff);
      f.read = (hi >> 30) & 1;
      f.pasid = (hi >> 8) & 0xfffff;
      const uint32_t sid = m_regs.read32(off + 8);
      f.source_id = static_cast<uint16_t>(sid & 0xffff);
      f.pasid_present = (sid >> 31) & 1;
      f.address = m_regs.read64(off) & ~0xfffull;
      m_regs.write32(off + 12, 1u << 31);  // clear F
      m_faults.push_back(f);
      m_log.log(LogLevel::Err, "DMAR: " + dmar_fault_line(f));
      ++logged;
      index = (index + 1) % nfr;
    }
  }
  m_regs.write32(vtd::reg::kFsts, vtd::fsts::kPfo | vtd::fsts::kPpf | (1u << 7) /* PRO */);
  return logged;
}

}  // namespace pciesim::cosim
