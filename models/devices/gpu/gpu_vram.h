// The GPU's video memory: `size` bytes of sparse backing, 4 KiB pages allocated on their first
// write; a page never written reads zeros. Tens of GiB cost nothing until written. Used by the GPU
// device model (gpu_device.h) for VRAM accesses, GMMU page-table reads and BAR1.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_map>

namespace pciesim::gpu {

class GpuVram {
 public:
  static constexpr uint64_t kPageSize = 4096;

  explicit GpuVram(uint64_t size) : m_size(size) {}
  uint64_t size() const { return m_size; }
  // True when [addr, addr + len) lies inside VRAM.
  bool contains(uint64_t addr, uint64_t len) const { return addr <= m_size && len <= m_size - addr; }

  // Out-of-range bytes read zeros and are not written (callers check contains() first).
  void read(uint64_t addr, uint8_t* out, size_t len) const {
    while (len) {
      const size_t n = chunk(addr, len);
      if (const uint8_t* p = page(addr)) std::memcpy(out, p + (addr & (kPageSize - 1)), n);
      else std::memset(out, 0, n);
      addr += n, out += n, len -= n;
    }
  }
  // Zeros never allocate: zeros into a page never written are dropped (it reads zeros anyway),
  // and a whole page of zeros gives its page back, so a scrub leaves VRAM as sparse as new.
  void write(uint64_t addr, const uint8_t* in, size_t len) {
    while (len) {
      const size_t n = chunk(addr, len);
      if (addr < m_size) {
        const uint8_t* p = page(addr);
        if ((!p || n == kPageSize) && all_zero(in, n)) {
          if (p) drop(addr);
        } else {
          std::memcpy(page_for_write(addr) + (addr & (kPageSize - 1)), in, n);
        }
      }
      addr += n, in += n, len -= n;
    }
  }
  void fill(uint64_t addr, uint8_t value, uint64_t len) {
    if (addr >= m_size) return;
    len = std::min(len, m_size - addr);
    if (value == 0 && len / kPageSize > m_pages.size()) {
      // Zeros over more pages than are backed (a scrub of all VRAM): visit the backed pages only.
      for (auto it = m_pages.begin(); it != m_pages.end();) {
        const uint64_t base = it->first * kPageSize;
        const uint64_t lo = std::max(addr, base), hi = std::min(addr + len, base + kPageSize);
        if (lo >= hi) {
          ++it;
        } else if (hi - lo == kPageSize) {
          if (it->first == m_last_pfn) m_last_pfn = ~uint64_t{0}, m_last = nullptr;
          it = m_pages.erase(it);
        } else {
          std::memset(it->second.get() + (lo - base), 0, hi - lo);
          ++it;
        }
      }
      return;
    }
    while (len) {
      const size_t n = chunk(addr, len);
      // Zeros into a page never written: nothing to allocate; over a whole page: the page goes.
      if (addr < m_size && value == 0 && n == kPageSize) {
        if (page(addr)) drop(addr);
      } else if (addr < m_size && (value != 0 || page(addr))) {
        std::memset(page_for_write(addr) + (addr & (kPageSize - 1)), value, n);
      }
      addr += n, len -= n;
    }
  }
  uint64_t read64(uint64_t addr) const {
    uint64_t v = 0;
    read(addr, reinterpret_cast<uint8_t*>(&v), 8);
    return v;
  }
  void write64(uint64_t addr, uint64_t v) { write(addr, reinterpret_cast<const uint8_t*>(&v), 8); }

  size_t pages_allocated() const { return m_pages.size(); }

 private:
  static size_t chunk(uint64_t addr, size_t len) {
    const uint64_t room = kPageSize - (addr & (kPageSize - 1));
    return static_cast<size_t>(len < room ? len : room);
  }
  const uint8_t* page(uint64_t addr) const {
    const uint64_t pfn = addr / kPageSize;
    if (pfn == m_last_pfn) return m_last;  // streams stay in one page for 64 accesses of 64 bytes
    auto it = m_pages.find(pfn);
    if (it == m_pages.end()) return nullptr;
    m_last_pfn = pfn;
    m_last = it->second.get();
    return m_last;
  }
  static bool all_zero(const uint8_t* p, size_t n) {
    size_t i = 0;
    for (uint64_t w; i + 8 <= n; i += 8)
      if (std::memcpy(&w, p + i, 8), w) return false;
    for (; i < n; ++i)
      if (p[i]) return false;
    return true;
  }
  void drop(uint64_t addr) {
    const uint64_t pfn = addr / kPageSize;
    m_pages.erase(pfn);
    if (pfn == m_last_pfn) m_last_pfn = ~uint64_t{0}, m_last = nullptr;
  }
  uint8_t* page_for_write(uint64_t addr) {
    if (const uint8_t* p = page(addr)) return const_cast<uint8_t*>(p);
    const uint64_t pfn = addr / kPageSize;
    auto& slot = m_pages[pfn];
    slot.reset(new uint8_t[kPageSize]());
    m_last_pfn = pfn;
    m_last = slot.get();
    return slot.get();
  }

  uint64_t m_size;
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> m_pages;
  mutable uint64_t m_last_pfn = ~uint64_t{0};
  mutable const uint8_t* m_last = nullptr;
};

}  // namespace pciesim::gpu
