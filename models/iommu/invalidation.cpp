#include "iommu/invalidation.h"

namespace pciesim::vtd {

namespace {

// CCMD (VT-d 11.4.7; hardware-facts 1.6)
constexpr uint64_t kCcmdIcc = 1ull << 63;
constexpr unsigned kCcmdCirgShift = 61;
constexpr unsigned kCcmdCaigShift = 59;
constexpr uint64_t kCcmdCaigMask = 3ull << kCcmdCaigShift;
// IOTLB / IVA (VT-d 11.4.8; hardware-facts 1.7)
constexpr uint64_t kIotlbIvt = 1ull << 63;
constexpr unsigned kIotlbIirgShift = 60;
constexpr unsigned kIotlbIaigShift = 57;
constexpr uint64_t kIotlbIaigMask = 3ull << kIotlbIaigShift;
constexpr uint64_t kIvaIh = 1ull << 6;
constexpr uint64_t kAmMask = 0x3f;
constexpr uint64_t kPageMask = ~0xfffull;
// IQER (hardware-facts 1.9)
constexpr uint64_t kIqerIqeiMask = 0xf;
constexpr unsigned kIqerItesidShift = 32;
constexpr unsigned kIqerIcesidShift = 48;

constexpr uint16_t u16(uint64_t v, unsigned shift) { return static_cast<uint16_t>((v >> shift) & 0xffff); }
constexpr uint32_t pasid_of(uint64_t qw0) { return static_cast<uint32_t>((qw0 >> 32) & 0xfffff); }
constexpr unsigned granularity(uint64_t qw0) { return static_cast<unsigned>((qw0 >> 4) & 3); }

// Reserved bits per descriptor type (VT-d 6.5.2.x). Type bits 11:9 are not listed: a non-zero
// upper type already makes the descriptor an unknown type.
constexpr uint64_t kCcRsvd0 = 0xfffc00000000f1c0ull;       // 8:6, 15:12, 63:50
constexpr uint64_t kIotlbRsvd0 = 0xffffffff0000f100ull;    // 8, 15:12, 63:32
constexpr uint64_t kAddrRsvd1 = 0xf80ull;                  // IOTLB / PASID-IOTLB qw1 11:7
constexpr uint64_t kDevTlbRsvd0 = 0x000f0000ffe001f0ull;   // 8:4, 31:21, 51:48
constexpr uint64_t kDevTlbRsvd1 = 0xffeull;                // 11:1
constexpr uint64_t kIecRsvd0 = 0xffff000007fff1e0ull;      // 8:5, 26:12, 63:48
constexpr uint64_t kWaitRsvd0 = 0x00000000fffff100ull;     // 8, 31:12 (+ 7 PD without ECAP.PDS)
constexpr uint64_t kWaitRsvd1 = 0x3ull;                    // 1:0
constexpr uint64_t kPasidRsvd0 = 0xfff000000000f1c0ull;    // 8:6, 15:12, 63:52 (PASID-IOTLB, PASID-cache)
constexpr uint64_t kPasidDevTlbRsvd1 = 0x7feull;           // 10:1

bool ecap_pds(const Capabilities& c) { return (c.ecap >> 42) & 1; }

}  // namespace

AtsRange decode_ats_range(uint64_t addr, bool size_bit) {
  if (!size_bit) return AtsRange{addr & kPageMask, 4096};
  // PCIe 10.3.8 (Invalidate Request): with S = 1 the run of 1s above bit 11 sets the size:
  // bit 12 clear -> 8 KiB, bits 13:12 = 01 -> 16 KiB, ...; size 0 stands for the whole space.
  unsigned ones = 0;
  for (uint64_t v = addr >> 12; (v & 1) && ones < 52; v >>= 1) ++ones;
  if (ones >= 51) return AtsRange{0, 0};
  const uint64_t size = 8192ull << ones;
  return AtsRange{addr & ~(size - 1), size};
}

// ---------------------------------------------------------------------------------------------
// VT-d 6.5.1 register-based invalidation

RegisterInvalidation::RegisterInvalidation(RegisterBank& regs, const Capabilities& caps,
                                           InvalidationTarget& target)
    : m_regs(regs), m_caps(caps), m_target(target), m_iva(caps.iro()) {}

void RegisterInvalidation::ccmd_written(uint64_t value, bool qi_enabled) {
  if (!(value & kCcmdIcc)) return;
  unsigned caig = 0;
  if (qi_enabled) {
    ++m_rejected;
  } else {
    const uint16_t did = u16(value, 0), sid = u16(value, 16);
    const auto fm = static_cast<unsigned>((value >> 32) & 3);
    switch ((value >> kCcmdCirgShift) & 3) {
      case 1: m_target.invalidate_context_global(); caig = 1; break;
      case 2: m_target.invalidate_context_domain(did); caig = 2; break;
      case 3: m_target.invalidate_context_device(did, sid, fm); caig = 3; break;
      default: break;  // CIRG 0: reserved request, ignored
    }
  }
  m_regs.set(reg::kCcmd, (value & ~(kCcmdIcc | kCcmdCaigMask)) | (static_cast<uint64_t>(caig) << kCcmdCaigShift));
}

void RegisterInvalidation::iotlb_written(uint64_t value, bool qi_enabled) {
  if (!(value & kIotlbIvt)) return;
  unsigned iaig = 0;
  if (qi_enabled) {
    ++m_rejected;
  } else {
    const uint16_t did = u16(value, 32);
    switch ((value >> kIotlbIirgShift) & 3) {
      case 1: m_target.invalidate_iotlb_global(); iaig = 1; break;
      case 2: m_target.invalidate_iotlb_domain(did); iaig = 2; break;
      case 3: {
        const uint64_t iva = m_regs.get(m_iva);
        const auto am = static_cast<unsigned>(iva & kAmMask);
        if (!m_caps.psi()) {
          m_target.invalidate_iotlb_domain(did);  // no PSI: the unit does a domain-selective flush
          iaig = 2;
        } else if (am <= m_caps.mamv()) {
          m_target.invalidate_iotlb_page(did, iva & kPageMask, am, (iva & kIvaIh) != 0);
          iaig = 3;
        }
        break;
      }
      default: break;
    }
  }
  m_regs.set(iotlb_offset(), (value & ~(kIotlbIvt | kIotlbIaigMask)) | (static_cast<uint64_t>(iaig) << kIotlbIaigShift));
}

// ---------------------------------------------------------------------------------------------
// VT-d 6.5.2 queued invalidation

InvalidationQueue::InvalidationQueue(RegisterBank& regs, const Capabilities& caps, InvalidationTarget& target,
                                     const MemReader& mem, QueueMemWriter& writer, FaultRecorder& faults)
    : m_regs(regs),
      m_caps(caps),
      m_target(target),
      m_mem(mem),
      m_writer(writer),
      m_faults(faults),
      m_event(regs, reg::kIectl, reg::kIedata, reg::kIeaddr, reg::kIeuaddr, caps.eim()) {}

void InvalidationQueue::enable() {
  m_enabled = true;
  m_timeout_pending = false;
  m_regs.set(reg::kIqh, 0);  // QH is reset whenever queued invalidation is (re-)enabled
}

bool InvalidationQueue::disable() {
  const uint64_t head = m_regs.get(reg::kIqh) & field::kIqOffsetMask;
  const uint64_t tail = m_regs.get(reg::kIqt) & field::kIqOffsetMask;
  if (head != tail) return false;
  m_enabled = false;
  m_regs.set(reg::kIqh, 0);
  return true;
}

unsigned InvalidationQueue::entries() const {
  const uint64_t iqa = m_regs.get(reg::kIqa);
  const unsigned size = (iqa & field::kIqaDw) ? 32 : 16;
  return static_cast<unsigned>((4096ull << (iqa & field::kIqaQsMask)) / size);
}

bool InvalidationQueue::halted() const {
  return (m_regs.get(reg::kFsts) & (fsts::kIqe | fsts::kIte)) != 0;
}

unsigned InvalidationQueue::tail_written() { return m_enabled ? process() : 0; }

unsigned InvalidationQueue::fsts_errors_cleared(uint32_t cleared_bits) {
  if (cleared_bits & fsts::kIte) m_timeout_pending = false;
  return m_enabled ? process() : 0;
}

// IQER.IQEI is captured only when IQE was clear (the first error wins).
void InvalidationQueue::queue_error(QueueError error) {
  if (!(m_regs.get(reg::kFsts) & fsts::kIqe)) {
    const uint64_t iqer = m_regs.get(reg::kIqer);
    m_regs.set(reg::kIqer, (iqer & ~kIqerIqeiMask) | static_cast<uint64_t>(error));
  }
  m_faults.raise_status(fsts::kIqe);
}

void InvalidationQueue::report_completion_error(uint16_t source_id) {
  if (!(m_regs.get(reg::kFsts) & fsts::kIce)) {
    const uint64_t iqer = m_regs.get(reg::kIqer) & ~(0xffffull << kIqerIcesidShift);
    m_regs.set(reg::kIqer, iqer | (static_cast<uint64_t>(source_id) << kIqerIcesidShift));
  }
  m_faults.raise_status(fsts::kIce);
}

void InvalidationQueue::device_answered(uint16_t source_id) {
  if (!m_responder) return;
  switch (m_responder(source_id)) {
    case DeviceTlbResult::Completed: break;
    case DeviceTlbResult::TimedOut:
      if (!(m_regs.get(reg::kFsts) & fsts::kIte)) {
        const uint64_t iqer = m_regs.get(reg::kIqer) & ~(0xffffull << kIqerItesidShift);
        m_regs.set(reg::kIqer, iqer | (static_cast<uint64_t>(source_id) << kIqerItesidShift));
      }
      m_faults.raise_status(fsts::kIte);
      m_timeout_pending = true;
      break;
    case DeviceTlbResult::InvalidCompletion: report_completion_error(source_id); break;
  }
}

void InvalidationQueue::ics_written(uint64_t old_value, uint64_t new_value) {
  if ((old_value & field::kIcsIwc) && !(new_value & field::kIcsIwc)) m_event.serviced();
}

// Fetch and execute from IQH up to IQT (see the header for where it stops).
unsigned InvalidationQueue::process() {
  if (!m_enabled || halted()) return 0;
  const uint64_t iqa = m_regs.get(reg::kIqa);
  const bool wide = (iqa & field::kIqaDw) != 0;
  const unsigned size = wide ? 32 : 16;
  const uint64_t bytes = 4096ull << (iqa & field::kIqaQsMask);
  const uint64_t base = iqa & kPageMask;
  const uint64_t tail = m_regs.get(reg::kIqt) & field::kIqOffsetMask;
  uint64_t head = m_regs.get(reg::kIqh) & field::kIqOffsetMask;
  if (head == tail) return 0;
  if (wide ? !m_caps.smts() : m_scalable) {
    queue_error(QueueError::InvalidDescriptorWidth);
    return 0;
  }
  if (tail >= bytes) {
    queue_error(QueueError::InvalidTailPointer);
    return 0;
  }
  if (wide && (tail & 0x10)) {
    queue_error(QueueError::TailMisaligned);
    return 0;
  }

  unsigned done = 0;
  while (head != tail) {
    InvalidationDescriptor d;
    if (!m_mem.read(base + head, d.qw.data(), size)) {
      queue_error(QueueError::FetchError);
      break;
    }
    const Result r = execute(d, wide);
    if (r.step == Step::Error) {
      queue_error(r.error);  // IQH stays on the bad descriptor
      break;
    }
    head = (head + size) % bytes;
    m_regs.set(reg::kIqh, head);
    ++done;
    ++m_processed;
    if (r.step == Step::Halt) break;
  }
  return done;
}

InvalidationQueue::Result InvalidationQueue::execute(const InvalidationDescriptor& d, bool wide) {
  constexpr Result kBadType{Step::Error, QueueError::InvalidDescriptorType};
  const auto type = static_cast<DescriptorType>(d.type());
  bool supported = false;
  switch (type) {
    case DescriptorType::ContextCache:
    case DescriptorType::Iotlb:
    case DescriptorType::InvalidationWait: supported = true; break;
    case DescriptorType::DeviceTlb: supported = m_caps.dt(); break;
    case DescriptorType::InterruptEntryCache: supported = m_caps.ir(); break;
    case DescriptorType::PasidIotlb:
    case DescriptorType::PasidCache: supported = wide && m_caps.smts(); break;
    case DescriptorType::PasidDeviceTlb: supported = wide && m_caps.smts() && m_caps.dt(); break;
  }
  if (!supported) return kBadType;  // also every type outside 0x1..0x8
  if (d.qw[2] || d.qw[3]) return Result{Step::Error, QueueError::ReservedField};
  switch (type) {
    case DescriptorType::ContextCache: return context_cache(d);
    case DescriptorType::Iotlb: return iotlb(d);
    case DescriptorType::DeviceTlb: return device_tlb(d);
    case DescriptorType::InterruptEntryCache: return interrupt_entry_cache(d);
    case DescriptorType::InvalidationWait: return wait(d);
    case DescriptorType::PasidIotlb: return pasid_iotlb(d);
    case DescriptorType::PasidCache: return pasid_cache(d);
    case DescriptorType::PasidDeviceTlb: return pasid_device_tlb(d);
  }
  return kBadType;
}

// 0x1 context-cache: G 1 global, 2 domain (DID), 3 device (DID, SID, FM).
InvalidationQueue::Result InvalidationQueue::context_cache(const InvalidationDescriptor& d) {
  const uint64_t q0 = d.qw[0];
  if ((q0 & kCcRsvd0) || d.qw[1]) return Result{Step::Error, QueueError::ReservedField};
  const uint16_t did = u16(q0, 16), sid = u16(q0, 32);
  switch (granularity(q0)) {
    case 1: m_target.invalidate_context_global(); break;
    case 2: m_target.invalidate_context_domain(did); break;
    case 3: m_target.invalidate_context_device(did, sid, static_cast<unsigned>((q0 >> 48) & 3)); break;
    default: return Result{Step::Error, QueueError::ReservedField};
  }
  return Result{};
}

// 0x2 IOTLB: G 1 global, 2 domain, 3 page (qw1 ADDR/IH/AM). DR/DW need no action.
InvalidationQueue::Result InvalidationQueue::iotlb(const InvalidationDescriptor& d) {
  const uint64_t q0 = d.qw[0], q1 = d.qw[1];
  if ((q0 & kIotlbRsvd0) || (q1 & kAddrRsvd1)) return Result{Step::Error, QueueError::ReservedField};
  const uint16_t did = u16(q0, 16);
  switch (granularity(q0)) {
    case 1: m_target.invalidate_iotlb_global(); break;
    case 2: m_target.invalidate_iotlb_domain(did); break;
    case 3: {
      const auto am = static_cast<unsigned>(q1 & kAmMask);
      if (am > m_caps.mamv()) return Result{Step::Error, QueueError::ReservedField};
      if (!m_caps.psi())
        m_target.invalidate_iotlb_domain(did);
      else
        m_target.invalidate_iotlb_page(did, q1 & kPageMask, am, (q1 & kIvaIh) != 0);
      break;
    }
    default: return Result{Step::Error, QueueError::ReservedField};
  }
  return Result{};
}

// 0x3 device-TLB: SID 47:32, qw1 S bit 0 and ADDR; forwarded to the device behind ATS.
InvalidationQueue::Result InvalidationQueue::device_tlb(const InvalidationDescriptor& d) {
  const uint64_t q0 = d.qw[0], q1 = d.qw[1];
  if ((q0 & kDevTlbRsvd0) || (q1 & kDevTlbRsvd1)) return Result{Step::Error, QueueError::ReservedField};
  const uint16_t sid = u16(q0, 32);
  m_target.invalidate_device_tlb(sid, false, 0, q1 & kPageMask, (q1 & 1) != 0);
  device_answered(sid);
  return Result{};
}

// 0x4 interrupt-entry-cache: G bit 4 (0 global, 1 index-selective), IM 31:27, IIDX 47:32.
InvalidationQueue::Result InvalidationQueue::interrupt_entry_cache(const InvalidationDescriptor& d) {
  const uint64_t q0 = d.qw[0];
  if ((q0 & kIecRsvd0) || d.qw[1]) return Result{Step::Error, QueueError::ReservedField};
  if (!((q0 >> 4) & 1)) {
    m_target.invalidate_iec_global();
    return Result{};
  }
  const auto im = static_cast<unsigned>((q0 >> 27) & 0x1f);
  if (im > m_caps.mhmv()) return Result{Step::Error, QueueError::ReservedField};
  m_target.invalidate_iec_index(u16(q0, 32), im);
  return Result{};
}

// 0x5 invalidation wait: SW writes the status data (qw0 63:32) to the status address (qw1 63:2);
// IF sets ICS.IWC and raises the invalidation completion event (a new condition only if IWC was
// clear). FN/PD need no action: everything before it has completed already.
InvalidationQueue::Result InvalidationQueue::wait(const InvalidationDescriptor& d) {
  const uint64_t q0 = d.qw[0], q1 = d.qw[1];
  const uint64_t rsvd0 = kWaitRsvd0 | (ecap_pds(m_caps) ? 0 : 1ull << 7);
  if ((q0 & rsvd0) || (q1 & kWaitRsvd1)) return Result{Step::Error, QueueError::ReservedField};
  if (m_timeout_pending) {  // a device-TLB invalidation before it timed out: abort, then halt
    m_timeout_pending = false;
    ++m_aborted_waits;
    return Result{Step::Halt, QueueError::InfoNotAvailable};
  }
  if ((q0 >> 5) & 1) {
    const auto status = static_cast<uint32_t>(q0 >> 32);
    if (!m_writer.write(q1 & ~kWaitRsvd1, &status, sizeof status))
      return Result{Step::Error, QueueError::InfoNotAvailable};
  }
  if ((q0 >> 4) & 1) {
    if (!(m_regs.get(reg::kIcs) & field::kIcsIwc)) {
      m_regs.set_bits(reg::kIcs, field::kIcsIwc);
      m_event.raise();
    }
  }
  return Result{};
}

// 0x6 PASID-based IOTLB: G 2 all of one PASID, 3 page-selective within the PASID.
InvalidationQueue::Result InvalidationQueue::pasid_iotlb(const InvalidationDescriptor& d) {
  const uint64_t q0 = d.qw[0], q1 = d.qw[1];
  if ((q0 & kPasidRsvd0) || (q1 & kAddrRsvd1)) return Result{Step::Error, QueueError::ReservedField};
  const uint16_t did = u16(q0, 16);
  const uint32_t pasid = pasid_of(q0);
  switch (granularity(q0)) {
    case 2: m_target.invalidate_piotlb_pasid(did, pasid); break;
    case 3: {
      const auto am = static_cast<unsigned>(q1 & kAmMask);
      if (am > m_caps.mamv()) return Result{Step::Error, QueueError::ReservedField};
      m_target.invalidate_piotlb_page(did, pasid, q1 & kPageMask, am, (q1 & kIvaIh) != 0);
      break;
    }
    default: return Result{Step::Error, QueueError::ReservedField};
  }
  return Result{};
}

// 0x7 PASID-cache: G 0 domain, 1 PASID within the domain, 3 global.
InvalidationQueue::Result InvalidationQueue::pasid_cache(const InvalidationDescriptor& d) {
  const uint64_t q0 = d.qw[0];
  if ((q0 & kPasidRsvd0) || d.qw[1]) return Result{Step::Error, QueueError::ReservedField};
  const uint16_t did = u16(q0, 16);
  switch (granularity(q0)) {
    case 0: m_target.invalidate_pasid_cache_domain(did); break;
    case 1: m_target.invalidate_pasid_cache_pasid(did, pasid_of(q0)); break;
    case 3: m_target.invalidate_pasid_cache_global(); break;
    default: return Result{Step::Error, QueueError::ReservedField};
  }
  return Result{};
}

// 0x8 PASID-based device-TLB: SID 31:16, PASID 51:32; qw1 G bit 0 (all PASIDs), S bit 11, ADDR.
InvalidationQueue::Result InvalidationQueue::pasid_device_tlb(const InvalidationDescriptor& d) {
  const uint64_t q0 = d.qw[0], q1 = d.qw[1];
  if (q1 & kPasidDevTlbRsvd1) return Result{Step::Error, QueueError::ReservedField};
  const uint16_t sid = u16(q0, 16);
  const uint32_t pasid = (q1 & 1) ? kAllPasids : pasid_of(q0);
  m_target.invalidate_device_tlb(sid, true, pasid, q1 & kPageMask, ((q1 >> 11) & 1) != 0);
  device_answered(sid);
  return Result{};
}

void InvalidationQueue::reset() {
  m_enabled = false;
  m_scalable = false;
  m_timeout_pending = false;
  m_processed = 0;
  m_aborted_waits = 0;
}

}  // namespace pciesim::vtd
