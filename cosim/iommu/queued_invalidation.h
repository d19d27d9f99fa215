// Queued invalidation as Linux's dmar.c drives it (VT-d 6.5.2; hardware-facts 1.9, 1.14): one
// 4 KiB queue page of 128-bit descriptors in kernel memory, IQA/IQT written through MMIO, and every
// batch closed by an invalidation-wait descriptor whose status write lands in a kernel status word
// that the submitter polls (qi_submit_sync). Queue errors (FSTS.IQE / ITE / ICE) are logged in
// Linux's words and reported to the caller. The descriptor encoders are named after the spec's
// granularities.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pciesim::cosim {

class DmarRegisters;
class KernelLog;
class KernelMemory;

struct QiDescriptor {
  uint64_t qw0 = 0, qw1 = 0;
};

// VT-d 6.5.2.1-6.5.2.6 descriptor encodings (Linux QI_* macros).
namespace qi {
inline constexpr uint64_t kTypeContext = 0x1, kTypeIotlb = 0x2, kTypeDevIotlb = 0x3, kTypeIec = 0x4, kTypeWait = 0x5;
inline constexpr unsigned kGranGlobal = 1, kGranDomain = 2, kGranDeviceOrPage = 3;
// 6.5.2.2 context-cache invalidate: G 5:4, DID 31:16, SID 47:32, FM 49:48.
QiDescriptor context(unsigned granularity, uint16_t did = 0, uint16_t sid = 0, unsigned fm = 0);
// 6.5.2.3 IOTLB invalidate: G 5:4, DW 6, DR 7, DID 31:16; qw1 ADDR 63:12, IH 6, AM 5:0.
QiDescriptor iotlb(unsigned granularity, uint16_t did = 0, uint64_t addr = 0, unsigned am = 0, bool ih = false,
                   bool drain_reads = false, bool drain_writes = false);
// 6.5.2.7 interrupt-entry-cache invalidate: G bit 4 (1 = index-selective), IM 31:27, IIDX 47:32.
QiDescriptor iec_global();
QiDescriptor iec_index(uint16_t index, unsigned index_mask = 0);
// 6.5.2.5 device-TLB invalidate, as Linux qi_flush_dev_iotlb encodes it: SID 47:32, MIP (the
// device's queue depth, 0 when it is 32 or more) 20:16, PFSID 15:12 and 63:52; qw1 ADDR 63:12 with
// S = 1 and the size in the address bits below it when mask > 0 (2^mask pages).
QiDescriptor dev_iotlb(uint16_t sid, uint16_t pfsid, uint16_t qdep, uint64_t addr, unsigned mask);
}  // namespace qi

class QueuedInvalidation {
 public:
  // Linux's queue: one page of 256 16-byte descriptors (QI_LENGTH).
  static constexpr unsigned kEntries = 256;
  // Status-word values (Linux enum QI_FREE, QI_IN_USE, QI_DONE, QI_ABORT).
  static constexpr uint32_t kFree = 0, kInUse = 1, kDone = 2, kAbort = 3;
  // Status-word polls before a batch counts as timed out (Linux waits without bound; the model
  // completes a batch during the IQT write).
  static constexpr unsigned kPollLimit = 1000;

  QueuedInvalidation(DmarRegisters& regs, KernelMemory& mem, KernelLog& log);
  ~QueuedInvalidation();

  // Allocates the queue and status words, writes IQT = 0 and IQA (QS = 0, 128-bit); the caller
  // then sets GCMD.QIE (Linux __dmar_enable_qi).
  bool prepare();
  uint64_t queue_phys() const;

  // qi_submit_sync: the batch, then a wait descriptor with status write; advances IQT; polls the
  // status word. 0 when the wait completed; -EINVAL after an invalid descriptor (IQE; the bad
  // descriptor is replaced by the wait descriptor and IQE cleared, as Linux does so the queue
  // moves on), -ETIMEDOUT after ITE, -EIO after ICE or when the status never arrives.
  int submit_sync(const std::vector<QiDescriptor>& batch);

  uint64_t batches() const { return m_batches; }
  uint64_t descriptors() const { return m_descriptors; }
  uint64_t errors() const { return m_errors; }
  int last_error() const { return m_last_error; }

 private:
  int check_fault(unsigned first, unsigned wait_index);
  void put(unsigned index, const QiDescriptor& d);

  DmarRegisters& m_regs;
  KernelMemory& m_mem;
  KernelLog& m_log;
  uint64_t* m_queue = nullptr;   // kEntries x 2 quadwords, in kernel memory
  uint32_t* m_status = nullptr;  // one status word per slot (Linux qi->desc_status)
  unsigned m_free_head = 0;
  uint64_t m_batches = 0, m_descriptors = 0, m_errors = 0;
  int m_last_error = 0;
};

}  // namespace pciesim::cosim
