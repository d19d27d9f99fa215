#include "iommu/fault_recorder.h"

namespace pciesim::vtd {

FaultRecord FaultRecord::from_request(const Request& request, FaultReason reason) {
  FaultRecord f;
  f.source_id = request.source.raw();
  f.reason = reason;
  f.address = request.addr;
  f.type = request.write ? FaultRequestType::Write : FaultRequestType::Read;
  f.at = request.at;
  f.pasid_present = request.has_pasid;
  f.pasid = request.pasid;
  f.privileged = request.privileged;
  f.execute = request.execute;
  return f;
}

FaultRecord FaultRecord::from_interrupt(uint16_t source_id, FaultReason reason, uint16_t interrupt_index) {
  FaultRecord f;
  f.source_id = source_id;
  f.reason = reason;
  f.interrupt_index = interrupt_index;
  f.type = FaultRequestType::Write;  // an interrupt request is a memory write
  return f;
}

// VT-d 11.4.14: FI is the page address of a DMA fault; for interrupt-remapping faults bits 63:48 hold
// the interrupt index and 47:12 are clear.
uint64_t FaultRecord::frcd_low() const {
  if (is_interrupt_fault(reason)) return static_cast<uint64_t>(interrupt_index) << 48;
  return address & ~0xfffull;
}

uint64_t FaultRecord::frcd_high() const {
  const auto t = static_cast<unsigned>(type);
  uint64_t hi = frcd::kF | source_id;
  hi |= static_cast<uint64_t>((t >> 1) & 1) << frcd::kT1Shift;
  hi |= static_cast<uint64_t>(t & 1) << frcd::kT2Shift;
  hi |= static_cast<uint64_t>(static_cast<uint8_t>(at) & 3) << frcd::kAtShift;
  hi |= static_cast<uint64_t>(static_cast<uint8_t>(reason)) << frcd::kFrShift;
  if (pasid_present) hi |= frcd::kPp | (static_cast<uint64_t>(pasid & 0xfffff) << frcd::kPvShift);
  if (privileged) hi |= frcd::kPriv;
  if (execute) hi |= frcd::kExe;
  return hi;
}

FaultRecord decode_frcd(uint64_t low, uint64_t high) {
  FaultRecord f;
  f.source_id = static_cast<uint16_t>(high & frcd::kSidMask);
  f.reason = static_cast<FaultReason>((high >> frcd::kFrShift) & 0xff);
  const unsigned t1 = (high >> frcd::kT1Shift) & 1, t2 = (high >> frcd::kT2Shift) & 1;
  f.type = static_cast<FaultRequestType>((t1 << 1) | t2);
  f.at = static_cast<AddressType>((high >> frcd::kAtShift) & 3);
  f.pasid_present = (high & frcd::kPp) != 0;
  f.pasid = static_cast<uint32_t>((high >> frcd::kPvShift) & 0xfffff);
  f.privileged = (high & frcd::kPriv) != 0;
  f.execute = (high & frcd::kExe) != 0;
  if (is_interrupt_fault(f.reason))
    f.interrupt_index = static_cast<uint16_t>(low >> 48);
  else
    f.address = low & ~0xfffull;
  return f;
}

FaultRecorder::FaultRecorder(RegisterBank& regs, const Capabilities& caps)
    : m_regs(regs),
      m_event(regs, reg::kFectl, reg::kFedata, reg::kFeaddr, reg::kFeuaddr, caps.eim()),
      m_fro(caps.fro()),
      m_nfr(caps.nfr()) {}

bool FaultRecorder::slot_full(unsigned index) const {
  return (m_regs.get(frcd_offset(index) + 8) & frcd::kF) != 0;
}

FaultRecord FaultRecorder::pending(unsigned index) const {
  return decode_frcd(m_regs.get(frcd_offset(index)), m_regs.get(frcd_offset(index) + 8));
}

// VT-d 7.2.1 primary fault logging (see the header for the rules).
RecordOutcome FaultRecorder::record(const FaultRecord& fault, bool fault_processing_disabled) {
  if (fault_processing_disabled) {
    ++m_suppressed;
    return RecordOutcome::Suppressed;
  }
  const uint32_t before = fsts();
  if (before & fsts::kPfo) {
    ++m_dropped;
    return RecordOutcome::Dropped;
  }
  if (slot_full(m_next)) {
    // PPF is necessarily set already, so this is no new interrupt condition.
    m_regs.set_bits(reg::kFsts, fsts::kPfo);
    ++m_dropped;
    return RecordOutcome::Overflow;
  }
  const unsigned index = m_next;
  m_regs.set(frcd_offset(index), fault.frcd_low());
  m_regs.set(frcd_offset(index) + 8, fault.frcd_high());
  m_next = (m_next + 1) % m_nfr;
  ++m_recorded;
  if (!(before & fsts::kPpf)) {
    // PPF goes 0 -> 1: FRI names this record; an interrupt condition unless other status is pending.
    const uint64_t v = (before & ~fsts::kFriMask) | fsts::kPpf | (static_cast<uint64_t>(index) << fsts::kFriShift);
    m_regs.set(reg::kFsts, v);
    if (!(before & fsts::kInterruptStatus)) m_event.raise();
  }
  return RecordOutcome::Recorded;
}

RecordOutcome FaultRecorder::record(const Request& request, const Translation& translation) {
  if (translation.ok()) return RecordOutcome::NoFault;
  return record(FaultRecord::from_request(request, translation.fault), translation.fault_suppressed);
}

bool FaultRecorder::raise_status(uint32_t fsts_bits) {
  const uint32_t before = fsts();
  if (!(fsts_bits & ~before)) return false;
  m_regs.set_bits(reg::kFsts, fsts_bits);
  if (!(before & fsts::kInterruptStatus)) m_event.raise();
  return true;
}

void FaultRecorder::update_ppf() {
  bool any = false;
  for (unsigned i = 0; i < m_nfr && !any; ++i) any = slot_full(i);
  if (any)
    m_regs.set_bits(reg::kFsts, fsts::kPpf);
  else
    m_regs.clear_bits(reg::kFsts, fsts::kPpf);
}

// FECTL.IP clears without a message once software has serviced every status field.
void FaultRecorder::maybe_serviced() {
  if (!(fsts() & fsts::kInterruptStatus)) m_event.serviced();
}

void FaultRecorder::fsts_written(uint64_t, uint64_t) { maybe_serviced(); }

void FaultRecorder::frcd_high_written(unsigned, uint64_t old_value, uint64_t new_value) {
  if ((old_value & frcd::kF) && !(new_value & frcd::kF)) {
    update_ppf();
    maybe_serviced();
  }
}

void FaultRecorder::reset() {
  m_next = 0;
  m_recorded = m_suppressed = m_dropped = 0;
}

}  // namespace pciesim::vtd
