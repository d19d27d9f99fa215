// Primary fault logging of a VT-d remapping unit (VT-d 7.2.1 primary fault logging, 11.4.9 FSTS/FECTL,
// 11.4.14 FRCD; hardware-facts 1.8) and the fault event interrupt.
//
// The NFR fault recording registers form a ring. The unit keeps an internal index of the register
// where the next fault goes:
//   * FSTS.PFO set            -> the fault is dropped (nothing recorded until software clears PFO);
//   * FRCD[index].F still set -> FSTS.PFO is set and the fault is dropped;
//   * otherwise the record is written, F set, the index advances (wrapping at NFR); if FSTS.PPF was
//     clear it becomes set and FSTS.FRI takes the index of this record.
// FSTS.PPF is the OR of all FRCD.F bits: software clearing F (RW1C) re-evaluates it.
// Faults are not compressed (the spec allows, does not require, collapsing faults of one source).
// Faults the caller reports with FPD (fault processing disable) are not recorded.
//
// Fault event (FECTL.IP description; VT-d 7.3.1): setting PPF/IQE/ICE/ITE is an interrupt condition
// only if no FSTS status field (PFO, PPF, AFO, APF, IQE, ICE, ITE) was already set. On a condition the
// unit sets FECTL.IP and, unless FECTL.IM is set, sends the MSI from FEADDR/FEUADDR/FEDATA and clears
// IP. A held message goes out when software clears IM; IP clears without a message when software
// services every status field first.
#pragma once

#include <cstdint>

#include "iommu/vtd_regs.h"
#include "iommu/vtd_types.h"

namespace pciesim::vtd {

// FRCD type as (T1 << 1) | T2 (VT-d 11.4.14): T1 = bit 126, T2 = bit 92.
enum class FaultRequestType : uint8_t {
  Write = 0,        // T1 0, T2 0
  PageRequest = 1,  // T1 0, T2 1
  Read = 2,         // T1 1, T2 0 (Linux prints "DMA Read" for T1 = 1)
  AtomicOp = 3,     // T1 1, T2 1
};

// One fault as the FRCD registers record it.
struct FaultRecord {
  uint16_t source_id = 0;
  FaultReason reason = FaultReason::None;
  uint64_t address = 0;          // DMA faults: the request's address (FI keeps bits 63:12)
  uint16_t interrupt_index = 0;  // interrupt-remapping faults (0x20..0x27): FI bits 63:48
  FaultRequestType type = FaultRequestType::Read;
  AddressType at = AddressType::Untranslated;
  bool pasid_present = false;
  uint32_t pasid = 0;
  bool privileged = false;
  bool execute = false;

  // A DMA request that faulted with `reason` (write -> Write, else Read).
  static FaultRecord from_request(const Request& request, FaultReason reason);
  // An interrupt request that faulted while being remapped.
  static FaultRecord from_interrupt(uint16_t source_id, FaultReason reason, uint16_t interrupt_index);

  uint64_t frcd_low() const;   // FRCD bits 63:0
  uint64_t frcd_high() const;  // FRCD bits 127:64, F set
};

// A fault record decoded from the two FRCD qwords (for tests and traces).
FaultRecord decode_frcd(uint64_t low, uint64_t high);

enum class RecordOutcome : uint8_t {
  Recorded,
  NoFault,     // record(request, translation) with a translation that did not fault
  Suppressed,  // FPD: not recorded, no event
  Overflow,    // the next slot was still full: FSTS.PFO set, fault dropped
  Dropped,     // FSTS.PFO already set: fault dropped
};

class FaultRecorder {
 public:
  // Declares nothing itself: RegisterFile declares FSTS/FECTL/FE*/FRCD[] and routes their writes here.
  FaultRecorder(RegisterBank& regs, const Capabilities& caps);

  RecordOutcome record(const FaultRecord& fault, bool fault_processing_disabled = false);
  // Convenience for the translator: records `translation.fault` unless it is None or suppressed.
  RecordOutcome record(const Request& request, const Translation& translation);

  // Invalidation errors (IQE, ICE, ITE): set the FSTS bits, with a fault event if they make a new
  // interrupt condition. Returns false when the bits were already set.
  bool raise_status(uint32_t fsts_bits);

  // Register-write side effects (RegisterFile routes them here).
  void fsts_written(uint64_t old_value, uint64_t new_value);
  void frcd_high_written(unsigned index, uint64_t old_value, uint64_t new_value);
  void fectl_written() { m_event.control_written(); }

  EventInterrupt& event() { return m_event; }
  unsigned records() const { return m_nfr; }
  unsigned next_index() const { return m_next; }
  uint32_t frcd_offset(unsigned index) const { return m_fro + 16 * index; }
  FaultRecord pending(unsigned index) const;  // decoded FRCD[index]
  bool slot_full(unsigned index) const;

  unsigned recorded() const { return m_recorded; }
  unsigned suppressed() const { return m_suppressed; }
  unsigned dropped() const { return m_dropped; }
  void reset();

 private:
  void update_ppf();
  uint32_t fsts() const { return static_cast<uint32_t>(m_regs.get(reg::kFsts)); }
  void maybe_serviced();

  RegisterBank& m_regs;
  EventInterrupt m_event;
  unsigned m_fro;
  unsigned m_nfr;
  unsigned m_next = 0;
  unsigned m_recorded = 0, m_suppressed = 0, m_dropped = 0;
};

}  // namespace pciesim::vtd
