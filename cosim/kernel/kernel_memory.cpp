#include "kernel/kernel_memory.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>

#include "devices/dram.h"

namespace pciesim::cosim {

namespace {
constexpr uint64_t kChunk = Dram::kPageSize;  // the DRAM model's host-contiguous unit
}

KernelMemory::KernelMemory(Dram& dram, uint64_t base, uint64_t size) : m_dram(dram), m_base(base), m_size(size) {
  if (size == 0 || base % kPageSize || size % kPageSize || base < dram.base() ||
      size > dram.size() || base - dram.base() > dram.size() - size)
    throw std::invalid_argument("kernel memory [" + std::to_string(base) + ", +" + std::to_string(size) +
                                ") is not a page-aligned range inside DRAM");
  // Free ranges never straddle a chunk boundary, so no allocation can.
  for (uint64_t a = base; a < base + size;) {
    const uint64_t end = std::min(base + size, (a / kChunk + 1) * kChunk);
    m_free[a] = end - a;
    a = end;
  }
}

uint8_t* KernelMemory::host(uint64_t phys) const {
  uint8_t* p = m_dram.backing(phys);
  if (p) m_chunk_phys.emplace(p - phys % kChunk, phys - phys % kChunk);
  return p;
}

void* KernelMemory::alloc(size_t size, size_t align) {
  if (size == 0 || size > kMaxAllocation) return nullptr;
  if (align < 8) align = 8;
  if (align & (align - 1)) return nullptr;
  const uint64_t need = (size + 7) & ~uint64_t{7};
  for (auto it = m_free.begin(); it != m_free.end(); ++it) {
    const uint64_t start = it->first, len = it->second;
    const uint64_t aligned = (start + align - 1) & ~uint64_t(align - 1);
    if (aligned - start > len || len - (aligned - start) < need) continue;
    // Split: [start, aligned) stays free, [aligned, aligned + need) is ours, the rest stays free.
    m_free.erase(it);
    if (aligned > start) m_free[start] = aligned - start;
    if (start + len > aligned + need) m_free[aligned + need] = start + len - (aligned + need);
    m_allocated[aligned] = need;
    m_in_use += need;
    uint8_t* p = host(aligned);
    std::memset(p, 0, need);
    return p;
  }
  return nullptr;
}

void KernelMemory::free(const void* p) {
  if (!p) return;
  const uint64_t phys = virt_to_phys(p);
  auto it = m_allocated.find(phys);
  if (phys == ~uint64_t{0} || it == m_allocated.end())
    throw std::invalid_argument("kfree of a pointer that is not an allocation (double free?)");
  uint64_t start = it->first, len = it->second;
  m_allocated.erase(it);
  m_in_use -= len;
  // Merge with the neighbours inside the same chunk.
  auto next = m_free.lower_bound(start);
  if (next != m_free.end() && next->first == start + len && (start / kChunk) == (next->first / kChunk)) {
    len += next->second;
    next = m_free.erase(next);
  }
  if (next != m_free.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start && (prev->first / kChunk) == (start / kChunk)) {
      start = prev->first;
      len += prev->second;
      m_free.erase(prev);
    }
  }
  m_free[start] = len;
}

size_t KernelMemory::allocation_size(const void* p) const {
  auto it = m_allocated.find(virt_to_phys(p));
  return it == m_allocated.end() ? 0 : it->second;
}

uint64_t KernelMemory::virt_to_phys(const void* p) const {
  const auto* b = static_cast<const uint8_t*>(p);
  auto it = m_chunk_phys.upper_bound(b);
  if (it == m_chunk_phys.begin()) return ~uint64_t{0};
  --it;
  const uint64_t off = static_cast<uint64_t>(b - it->first);
  if (off >= kChunk) return ~uint64_t{0};
  const uint64_t phys = it->second + off;
  return contains_phys(phys) ? phys : ~uint64_t{0};
}

void* KernelMemory::phys_to_virt(uint64_t phys) const { return contains_phys(phys) ? host(phys) : nullptr; }

}  // namespace pciesim::cosim
