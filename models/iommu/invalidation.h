// The two invalidation interfaces of a VT-d remapping unit (VT-d 6.5; hardware-facts 1.6, 1.7, 1.9,
// 1.14):
//   RegisterInvalidation  CCMD (context cache) and IVA/IOTLB (IOTLB) registers, VT-d 6.5.1.
//   InvalidationQueue     the invalidation queue (IQA/IQH/IQT/ICS/IECTL/IQER), VT-d 6.5.2.
// Both turn requests into calls on an InvalidationTarget (the unit's caches) and complete at once:
// the model has no invalidation latency of its own; the queue reports how many descriptors it
// processed so the module can charge time for them.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "iommu/fault_recorder.h"
#include "iommu/vtd_regs.h"
#include "iommu/vtd_types.h"

namespace pciesim::vtd {

// Where the invalidation-wait descriptor writes its status data (kernel memory is DRAM; a status
// write is a DMA write of the unit, not a PCIe transaction through the fabric).
// The queue's status writes go through the shared memory writer.
using QueueMemWriter = MemWriter;

// VT-d 6.5.1: register-based invalidation. Writing CCMD with ICC = 1, or IOTLB with IVT = 1, performs
// the invalidation at once, clears ICC/IVT and reports the actual granularity in CAIG/IAIG
// (1 global, 2 domain, 3 device / page). A request the unit cannot honour reports granularity 0
// ("hardware detected an incorrect request and ignored it"), with ICC/IVT cleared:
//   * CIRG/IIRG = 0;
//   * page-selective with IVA.AM > CAP.MAMV;
//   * any request while queued invalidation is enabled (register-based invalidation must not be
//     used then; the model ignores it and counts it in rejected()).
// Page-selective requests on a unit without CAP.PSI are performed domain-selective (IAIG = 2).
// Drain bits (IOTLB.DR/DW) need no action: the model has no posted DMA to drain.
class RegisterInvalidation {
 public:
  RegisterInvalidation(RegisterBank& regs, const Capabilities& caps, InvalidationTarget& target);

  void ccmd_written(uint64_t value, bool qi_enabled);
  void iotlb_written(uint64_t value, bool qi_enabled);

  uint32_t iva_offset() const { return m_iva; }
  uint32_t iotlb_offset() const { return m_iva + 8; }
  unsigned rejected() const { return m_rejected; }

 private:
  RegisterBank& m_regs;
  const Capabilities& m_caps;
  InvalidationTarget& m_target;
  uint32_t m_iva;
  unsigned m_rejected = 0;
};

// VT-d 6.5.2.x descriptor types (qw0 bits 3:0 and 11:9).
enum class DescriptorType : uint8_t {
  ContextCache = 0x1,
  Iotlb = 0x2,
  DeviceTlb = 0x3,
  InterruptEntryCache = 0x4,
  InvalidationWait = 0x5,
  PasidIotlb = 0x6,
  PasidCache = 0x7,
  PasidDeviceTlb = 0x8,
};

// IQER.IQEI (VT-d 11.4.10.x; Intel datasheets): why FSTS.IQE was set.
enum class QueueError : uint8_t {
  InfoNotAvailable = 0,
  InvalidTailPointer = 1,      // IQT beyond the queue size
  FetchError = 2,              // reading the descriptor failed
  InvalidDescriptorType = 3,   // unknown type, or a type the unit does not support
  ReservedField = 4,           // reserved bits set / reserved encoding in a known type
  InvalidDescriptorWidth = 5,  // IQA.DW unsupported, or 128-bit descriptors in scalable mode
  TailMisaligned = 6,          // IQT bit 4 set with 256-bit descriptors
  InvalidTtm = 7,
};

// One descriptor as fetched (qw2/qw3 are zero for 128-bit descriptors).
struct InvalidationDescriptor {
  std::array<uint64_t, 4> qw{};
  unsigned type() const { return static_cast<unsigned>(((qw[0] >> 5) & 0x70) | (qw[0] & 0xf)); }
};

// A device TLB invalidation as the device answered it (PCIe ATS invalidate request / completion).
enum class DeviceTlbResult : uint8_t {
  Completed,
  TimedOut,           // no completion: FSTS.ITE, IQER.ITESID
  InvalidCompletion,  // unexpected / invalid ITag or source id: FSTS.ICE, IQER.ICESID
};
// Asked after each device-TLB descriptor was forwarded to InvalidationTarget::invalidate_device_tlb.
// Without a responder every device answers.
using DeviceTlbResponder = std::function<DeviceTlbResult(uint16_t source_id)>;

// InvalidationTarget::invalidate_device_tlb's `pasid` for a PASID-based device-TLB descriptor with
// G = 1 (all PASIDs of the device); has_pasid is true.
inline constexpr uint32_t kAllPasids = 0xffffffffu;

// An ATS invalidation range decoded from ADDR and S (PCIe 10.3.8: with S = 1 the lowest clear bit of
// ADDR above bit 11 marks the size). Offered to the device-TLB models.
struct AtsRange {
  uint64_t base = 0;
  uint64_t size = 4096;
};
AtsRange decode_ats_range(uint64_t addr, bool size_bit);

// VT-d 6.5.2: the invalidation queue.
//
// Enabling (GCMD.QIE) resets IQH to 0; disabling is refused (QIES stays set) unless IQH == IQT.
// Every IQT write while enabled makes the unit fetch descriptors from IQH up to IQT through the
// MemReader and execute them in order, advancing IQH past each one. Processing stops
//   * at a bad descriptor: FSTS.IQE with IQER.IQEI (if IQE was clear), IQH stays on the descriptor;
//   * on a bad IQT (beyond the queue, or not 256-bit aligned with DW = 1): IQE, nothing fetched;
//   * after the invalidation-wait descriptor that follows a device-TLB time-out: the time-out sets
//     FSTS.ITE and IQER.ITESID; descriptors after the timed-out one still run, the next wait
//     descriptor is aborted (no status write, no IWC/event) and IQH moves past it.
// While FSTS.IQE or FSTS.ITE is set nothing is fetched; clearing them (RW1C) resumes processing.
// Model choices where the spec leaves freedom: a failed status write is an IQE with IQEI 0;
// PASID-based descriptors (0x6-0x8) in a 128-bit queue are invalid types (IQEI 3); a 128-bit queue
// while the latched root table is scalable-mode is IQEI 5 (like IQA.DW = 1 without ECAP.SMTS);
// IOTLB/PASID-IOTLB AM beyond CAP.MAMV and IEC IM beyond ECAP.MHMV are reserved-field errors.
class InvalidationQueue {
 public:
  InvalidationQueue(RegisterBank& regs, const Capabilities& caps, InvalidationTarget& target,
                    const MemReader& mem, QueueMemWriter& writer, FaultRecorder& faults);

  // GCMD.QIE; disable() returns false (and changes nothing) while IQH != IQT.
  void enable();
  bool disable();
  bool enabled() const { return m_enabled; }
  // The root table's translation table mode as latched by SRTP (for the descriptor-width check).
  void set_scalable_mode(bool scalable) { m_scalable = scalable; }

  // Register-write side effects; each returns the descriptors processed.
  unsigned tail_written();
  unsigned fsts_errors_cleared(uint32_t cleared_bits);
  void ics_written(uint64_t old_value, uint64_t new_value);
  void iectl_written() { m_event.control_written(); }

  // An unexpected / invalid device-TLB invalidation completion arrived (FSTS.ICE, IQER.ICESID).
  void report_completion_error(uint16_t source_id);
  void set_device_tlb_responder(DeviceTlbResponder responder) { m_responder = std::move(responder); }

  EventInterrupt& completion_event() { return m_event; }
  unsigned processed() const { return m_processed; }  // descriptors executed since construction
  unsigned aborted_waits() const { return m_aborted_waits; }
  unsigned entries() const;  // queue capacity in descriptors for the current IQA
  void reset();

 private:
  enum class Step : uint8_t { Done, Error, Halt };
  struct Result {
    Step step = Step::Done;
    QueueError error = QueueError::InfoNotAvailable;
  };

  unsigned process();
  bool halted() const;
  void queue_error(QueueError error);
  Result execute(const InvalidationDescriptor& d, bool wide);
  Result context_cache(const InvalidationDescriptor& d);
  Result iotlb(const InvalidationDescriptor& d);
  Result device_tlb(const InvalidationDescriptor& d);
  Result interrupt_entry_cache(const InvalidationDescriptor& d);
  Result wait(const InvalidationDescriptor& d);
  Result pasid_iotlb(const InvalidationDescriptor& d);
  Result pasid_cache(const InvalidationDescriptor& d);
  Result pasid_device_tlb(const InvalidationDescriptor& d);
  void device_answered(uint16_t source_id);

  RegisterBank& m_regs;
  const Capabilities& m_caps;
  InvalidationTarget& m_target;
  const MemReader& m_mem;
  QueueMemWriter& m_writer;
  FaultRecorder& m_faults;
  EventInterrupt m_event;
  DeviceTlbResponder m_responder;
  bool m_enabled = false;
  bool m_scalable = false;
  bool m_timeout_pending = false;  // a device-TLB time-out waits for its wait descriptor to abort
  unsigned m_processed = 0;
  unsigned m_aborted_waits = 0;
};

}  // namespace pciesim::vtd
