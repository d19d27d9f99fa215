#include "iommu/queued_invalidation.h"

#include <cerrno>
#include <cstdio>

#include "iommu/dmar_registers.h"
#include "iommu/vtd_regs.h"
#include "kernel/kernel_log.h"
#include "kernel/kernel_memory.h"

namespace pciesim::cosim {

namespace qi {
QiDescriptor context(unsigned granularity, uint16_t did, uint16_t sid, unsigned fm) {
  return {kTypeContext | (uint64_t{granularity & 3} << 4) | (uint64_t{did} << 16) | (uint64_t{sid} << 32) |
              (uint64_t{fm & 3} << 48),
          0};
}
QiDescriptor iotlb(unsigned granularity, uint16_t did, uint64_t addr, unsigned am, bool ih, bool drain_reads,
                   bool drain_writes) {
  return {kTypeIotlb | (uint64_t{granularity & 3} << 4) | (uint64_t{drain_writes} << 6) |
              (uint64_t{drain_reads} << 7) | (uint64_t{did} << 16),
          (addr & ~0xfffull) | (uint64_t{ih} << 6) | (am & 0x3f)};
}
QiDescriptor iec_global() { return {kTypeIec, 0}; }
QiDescriptor dev_iotlb(uint16_t sid, uint16_t pfsid, uint16_t qdep, uint64_t addr, unsigned mask) {
  constexpr uint64_t kPageMask = ~0xfffull;  // VTD_PAGE_MASK
  constexpr unsigned kMaxInvs = 32;           // QI_DEV_IOTLB_MAX_INVS
  uint64_t qw1 = addr & kPageMask;
  if (mask) qw1 = ((addr | ((1ull << (12 + mask - 1)) - 1)) & kPageMask) | 1;  // QI_DEV_IOTLB_SIZE
  if (qdep >= kMaxInvs) qdep = 0;
  const uint64_t qw0 = (uint64_t{sid} << 32) | (uint64_t{qdep & 0x1fu} << 16) | kTypeDevIotlb |
                       (uint64_t{pfsid & 0xfu} << 12) | (uint64_t{(pfsid >> 4) & 0xfffu} << 52);
  return {qw0, qw1};
}
QiDescriptor iec_index(uint16_t index, unsigned index_mask) {
  return {kTypeIec | (1ull << 4) | (uint64_t{index_mask & 0x1f} << 27) | (uint64_t{index} << 32), 0};
}
}  // namespace qi

namespace {
constexpr unsigned kShift = 4;  // 128-bit descriptors: IQH/IQT byte offset = index << 4
// VT-d 6.5.2.8 invalidation-wait: SW bit 5 (status write), status data 63:32; qw1 status address.
constexpr uint64_t kWaitStatusWrite = 1ull << 5;

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(v));
  return b;
}
}  // namespace

QueuedInvalidation::QueuedInvalidation(DmarRegisters& regs, KernelMemory& mem, KernelLog& log)
    : m_regs(regs), m_mem(mem), m_log(log) {}

QueuedInvalidation::~QueuedInvalidation() {
  m_mem.free(m_queue);
  m_mem.free(m_status);
}

uint64_t QueuedInvalidation::queue_phys() const { return m_queue ? m_mem.virt_to_phys(m_queue) : 0; }

bool QueuedInvalidation::prepare() {
  if (!m_queue) {
    m_queue = static_cast<uint64_t*>(m_mem.alloc_pages(0));
    m_status = static_cast<uint32_t*>(m_mem.alloc(kEntries * sizeof(uint32_t), 64));
    if (!m_queue || !m_status) return false;
  }
  m_free_head = 0;
  // Linux __dmar_enable_qi: IQT = 0 before IQA (VT-d 6.5.2: the queue starts empty at QIE).
  m_regs.write64(vtd::reg::kIqt, 0);
  m_regs.write64(vtd::reg::kIqa, queue_phys());  // QS = 0: one page; DW = 0: 128-bit
  return true;
}

void QueuedInvalidation::put(unsigned index, const QiDescriptor& d) {
  m_queue[2 * index] = d.qw0;
  m_queue[2 * index + 1] = d.qw1;
}

// Linux qi_check_fault: an invalid descriptor at IQH inside this batch is logged and replaced by
// the batch's wait descriptor, then IQE is cleared so the unit resumes from IQH.
int QueuedInvalidation::check_fault(unsigned first, unsigned wait_index) {
  const uint32_t fsts = m_regs.read32(vtd::reg::kFsts);
  if (fsts & vtd::fsts::kIqe) {
    const unsigned head = static_cast<unsigned>(m_regs.read64(vtd::reg::kIqh) >> kShift) % kEntries;
    const unsigned span = (wait_index + kEntries - first) % kEntries;
    if ((head + kEntries - first) % kEntries <= span) {
      m_log.log(LogLevel::Err, "DMAR: VT-d detected invalid descriptor: qw0 = " + hex(m_queue[2 * head]) +
                                   ", qw1 = " + hex(m_queue[2 * head + 1]));
      m_queue[2 * head] = m_queue[2 * wait_index];
      m_queue[2 * head + 1] = m_queue[2 * wait_index + 1];
      m_regs.write32(vtd::reg::kFsts, vtd::fsts::kIqe);
      m_log.log(LogLevel::Info, "DMAR: Invalidation Queue Error (IQE) cleared");
      return -EINVAL;
    }
  }
  if (fsts & vtd::fsts::kIte) {
    // Descriptors before the timed-out device-TLB invalidation are complete; the pending wait
    // descriptors are aborted (VT-d 6.5.2.10).
    m_regs.write32(vtd::reg::kFsts, vtd::fsts::kIte);
    m_log.log(LogLevel::Info, "DMAR: Invalidation Time-out Error (ITE) cleared");
    return -ETIMEDOUT;
  }
  if (fsts & vtd::fsts::kIce) {
    m_regs.write32(vtd::reg::kFsts, vtd::fsts::kIce);
    m_log.log(LogLevel::Info, "DMAR: Invalidation Completion Error (ICE) cleared");
    return -EIO;
  }
  return 0;
}

int QueuedInvalidation::submit_sync(const std::vector<QiDescriptor>& batch) {
  if (!m_queue) return -ENODEV;
  if (batch.size() + 1 >= kEntries) return -ENOSPC;
  // Space check against the hardware head (Linux waits for free slots; the model drains at once).
  const unsigned head = static_cast<unsigned>(m_regs.read64(vtd::reg::kIqh) >> kShift) % kEntries;
  const unsigned used = (m_free_head + kEntries - head) % kEntries;
  if (used + batch.size() + 1 >= kEntries) return -EBUSY;

  const unsigned first = m_free_head;
  for (size_t i = 0; i < batch.size(); ++i) put((first + i) % kEntries, batch[i]);
  const unsigned wait_index = (first + static_cast<unsigned>(batch.size())) % kEntries;
  m_status[wait_index] = kInUse;
  put(wait_index, {qi::kTypeWait | kWaitStatusWrite | (uint64_t{kDone} << 32),
                   m_mem.virt_to_phys(&m_status[wait_index])});
  m_free_head = (wait_index + 1) % kEntries;
  m_regs.write64(vtd::reg::kIqt, uint64_t{m_free_head} << kShift);
  ++m_batches;
  m_descriptors += batch.size() + 1;

  int rc = 0;
  for (unsigned poll = 0; poll < kPollLimit; ++poll) {
    if (m_status[wait_index] == kDone) break;
    rc = check_fault(first, wait_index);
    if (rc) break;
  }
  if (!rc && m_status[wait_index] != kDone) rc = -EIO;
  m_status[wait_index] = kFree;
  if (rc) {
    ++m_errors;
    m_last_error = rc;
  }
  return rc;
}

}  // namespace pciesim::cosim
