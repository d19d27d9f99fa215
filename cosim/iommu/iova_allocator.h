// IOVA space of a DMA-API domain (Linux drivers/iommu/iova.c as dma-iommu uses it): 4 KiB
// granules, allocations top-down below a limit, sizes under 32 pages rounded up to a power of
// two and naturally aligned (iommu_dma_alloc_iova, alloc_iova size_aligned), reserved ranges
// (page 0, the MSI window, the host bridge windows: iova_reserve_iommu_regions /
// iova_reserve_pci_windows) never handed out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>

namespace pciesim::cosim {

class IovaAllocator {
 public:
  static constexpr uint64_t kGranule = 4096;
  static constexpr uint64_t kCacheMaxPages = 32;  // IOVA_RANGE_CACHE_MAX_SIZE 6: 1 << (6 - 1)

  explicit IovaAllocator(uint64_t aperture_end) : m_end(aperture_end) {}

  void reserve(uint64_t first, uint64_t last);
  // An IOVA for `size` bytes whose last byte is at most `limit`; 0 when none fits.
  uint64_t alloc(uint64_t size, uint64_t limit);
  // Returns an allocation (its start); false if none starts there.
  bool free(uint64_t iova);
  uint64_t allocated_size(uint64_t iova) const;
  size_t allocations() const { return m_used.size() - m_reserved.size(); }

 private:
  uint64_t m_end;
  std::map<uint64_t, uint64_t> m_used;  // start -> last (inclusive), reservations included
  std::set<uint64_t> m_reserved;  // starts of reservations (free() refuses them)
};

}  // namespace pciesim::cosim
