// The co-simulated kernel's memory: a physical range of the simulated DRAM that the kernel layer
// allocates from (kmalloc, page allocations, DMA-coherent buffers, the IOMMU driver's tables).
// Every allocation is simulated DRAM, so a device can DMA into what the kernel allocates, and it is
// also host memory the kernel code dereferences directly (ARCHITECTURE.md, "Kernel memory is
// DRAM"): a CPU store is not a PCIe transaction.
//
// An allocation never crosses a 2 MiB backing chunk of the DRAM model, so its host bytes are
// contiguous; the largest allocation is therefore 2 MiB. Free ranges are kept merged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace pciesim {
class Dram;
}

namespace pciesim::cosim {

class KernelMemory {
 public:
  static constexpr uint64_t kPageSize = 4096;
  static constexpr uint64_t kMaxAllocation = 2ull << 20;

  // Manages [base, base + size) of `dram`; both 4 KiB aligned and inside the DRAM (else
  // std::invalid_argument).
  KernelMemory(Dram& dram, uint64_t base, uint64_t size);

  // Zeroed memory of `size` bytes aligned to `align` (a power of two, at least 8); nullptr when
  // the range is exhausted or size is 0 or above kMaxAllocation.
  void* alloc(size_t size, size_t align = 8);
  // 2^order zeroed, naturally aligned pages (alloc_pages); nullptr when exhausted.
  void* alloc_pages(unsigned order) { return alloc(kPageSize << order, kPageSize << order); }
  // Returns an allocation; nullptr is ignored. Anything else not from alloc() throws
  // std::invalid_argument (a double free or a stray pointer is a kernel bug worth stopping at).
  void free(const void* p);
  // Bytes of the allocation at p (0 if p is not an allocation's start).
  size_t allocation_size(const void* p) const;

  // Physical address of a byte of kernel memory, and back; ~0 / nullptr outside the range.
  uint64_t virt_to_phys(const void* p) const;
  void* phys_to_virt(uint64_t phys) const;
  bool contains_phys(uint64_t phys) const { return phys >= m_base && phys - m_base < m_size; }

  uint64_t base() const { return m_base; }
  uint64_t size() const { return m_size; }
  uint64_t bytes_in_use() const { return m_in_use; }
  Dram& dram() { return m_dram; }

 private:
  // The DRAM's backing for phys (allocating its chunk), remembering the chunk for virt_to_phys.
  uint8_t* host(uint64_t phys) const;

  Dram& m_dram;
  uint64_t m_base, m_size;
  std::map<uint64_t, uint64_t> m_free;       // start -> size, merged
  std::map<uint64_t, uint64_t> m_allocated;  // start -> size
  mutable std::map<const uint8_t*, uint64_t> m_chunk_phys;  // host chunk start -> its physical address
  uint64_t m_in_use = 0;
};

}  // namespace pciesim::cosim
