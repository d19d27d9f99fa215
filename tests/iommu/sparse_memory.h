// Test memory for the VT-d walkers and the table builder: a MemReader/MemWriter backed by a map
// of 4 KiB pages. Inside the backed ranges memory reads as zero until written; outside them reads
// and writes fail, which is how a test makes a table pointer unreadable.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "iommu/table_builder.h"
#include "iommu/vtd_types.h"

namespace pciesim::vtd::test {

class SparseMemory : public MemReader, public MemWriter {
 public:
  // Backs [base, base + size); by default the low 4 GiB.
  explicit SparseMemory(uint64_t base = 0, uint64_t size = 1ull << 32) { back(base, size); }

  void back(uint64_t base, uint64_t size) { m_ranges.emplace_back(base, base + size); }

  bool read(uint64_t pa, void* dst, unsigned len) const override {
    ++m_reads;
    if (!backed(pa, len)) return false;
    auto* out = static_cast<uint8_t*>(dst);
    for (unsigned done = 0; done < len;) {
      const uint64_t a = pa + done;
      const unsigned n = std::min<unsigned>(len - done, static_cast<unsigned>(kPage - (a % kPage)));
      auto it = m_pages.find(a / kPage);
      if (it == m_pages.end()) std::memset(out + done, 0, n);
      else std::memcpy(out + done, it->second.data() + a % kPage, n);
      done += n;
    }
    return true;
  }

  bool write(uint64_t pa, const void* src, unsigned len) override {
    if (!backed(pa, len)) return false;
    const auto* in = static_cast<const uint8_t*>(src);
    for (unsigned done = 0; done < len;) {
      const uint64_t a = pa + done;
      const unsigned n = std::min<unsigned>(len - done, static_cast<unsigned>(kPage - (a % kPage)));
      std::memcpy(m_pages[a / kPage].data() + a % kPage, in + done, n);
      done += n;
    }
    return true;
  }

  uint64_t read64(uint64_t pa) const {
    uint64_t v = 0;
    read(pa, &v, 8);
    return v;
  }
  bool write64(uint64_t pa, uint64_t v) { return write(pa, &v, 8); }
  unsigned reads() const { return m_reads; }
  void reset_reads() { m_reads = 0; }

 private:
  static constexpr uint64_t kPage = 4096;
  bool backed(uint64_t pa, unsigned len) const {
    return std::any_of(m_ranges.begin(), m_ranges.end(),
                       [&](const auto& r) { return pa >= r.first && pa + len <= r.second && pa + len >= pa; });
  }
  std::vector<std::pair<uint64_t, uint64_t>> m_ranges;
  std::map<uint64_t, std::array<uint8_t, kPage>> m_pages;
  mutable unsigned m_reads = 0;
};

// Memory, a page allocator for tables at [256 MiB, 512 MiB) and the builders' TableMemory.
struct TableWorld {
  static constexpr uint64_t kTablesBase = 0x1000'0000, kTablesSize = 0x1000'0000;
  // Inside HAW (39 bits) but not backed: reading a table there fails.
  static constexpr uint64_t kUnbacked = 0x40'0000'0000ull;
  SparseMemory mem;
  PageAllocator pages{kTablesBase, kTablesSize};
  TableMemory tables{mem, mem, pages};
};

}  // namespace pciesim::vtd::test
