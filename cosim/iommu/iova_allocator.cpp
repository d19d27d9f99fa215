#include "iommu/iova_allocator.h"

#include <algorithm>

namespace pciesim::cosim {

void IovaAllocator::reserve(uint64_t first, uint64_t last) {
  first &= ~(kGranule - 1);
  last |= kGranule - 1;
  if (first > m_end) return;
  last = std::min(last, m_end);
  // Overlapping reservations stay separate entries; the search treats every entry as busy.
  m_used[first] = std::max(m_used.count(first) ? m_used[first] : 0, last);
  m_reserved.insert(first);
}

uint64_t IovaAllocator::alloc(uint64_t size, uint64_t limit) {
  if (size == 0) return 0;
  uint64_t pages = (size + kGranule - 1) / kGranule;
  if (pages < kCacheMaxPages) {  // roundup_pow_of_two
    uint64_t p = 1;
    while (p < pages) p <<= 1;
    pages = p;
  }
  uint64_t align = 1;  // natural alignment: fls_long(pages - 1)
  while (align < pages) align <<= 1;
  const uint64_t bytes = pages * kGranule, align_bytes = align * kGranule;
  uint64_t top = std::min(limit, m_end);  // highest usable byte
  // Walk the used ranges from the top down; each gap [prev_end+1, next_start-1].
  auto it = m_used.upper_bound(top);
  while (true) {
    uint64_t gap_lo = 0;
    if (it != m_used.begin()) {
      auto prev = std::prev(it);
      if (prev->second >= top) {  // the range covers the top: continue below it
        if (prev->first == 0) return 0;
        top = prev->first - 1;
        it = prev;
        continue;
      }
      gap_lo = prev->second + 1;
    }
    if (top + 1 >= bytes) {
      const uint64_t start = ((top + 1 - bytes) / align_bytes) * align_bytes;
      if (start >= gap_lo && start + bytes - 1 <= top) {
        if (start == 0) return 0;  // IOVA 0 is never handed out
        m_used[start] = start + bytes - 1;
        return start;
      }
    }
    if (it == m_used.begin()) return 0;
    auto prev = std::prev(it);
    if (prev->first == 0) return 0;
    top = prev->first - 1;
    it = prev;
  }
}

bool IovaAllocator::free(uint64_t iova) {
  auto it = m_used.find(iova);
  if (it == m_used.end() || m_reserved.count(iova)) return false;
  m_used.erase(it);
  return true;
}

uint64_t IovaAllocator::allocated_size(uint64_t iova) const {
  auto it = m_used.find(iova);
  return it == m_used.end() ? 0 : it->second - it->first + 1;
}

}  // namespace pciesim::cosim
