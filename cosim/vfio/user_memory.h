// The simulated process's memory: anonymous mappings backed by the simulated DRAM (so a device
// can DMA into them once VFIO pins and maps them). A user address is the host address of the
// DRAM backing, so the client reads and writes it directly, as a process touches its own pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace pciesim::cosim {

class KernelMemory;

class UserMemory {
 public:
  explicit UserMemory(KernelMemory& mem) : m_mem(mem) {}
  ~UserMemory();
  // mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_ANONYMOUS|MAP_PRIVATE): page-aligned, zeroed; nullptr
  // when the memory is exhausted (at most 2 MiB per mapping: one DRAM backing chunk).
  void* map(size_t len);
  int unmap(void* addr, size_t len);  // 0 or -EINVAL
  // get_user_pages: the physical address of the page holding user address `vaddr`; false when
  // nothing is mapped there.
  bool translate(uint64_t vaddr, uint64_t& phys) const;
  // Pin counts (type1 pins every page it maps; a pinned page cannot be unmapped).
  void pin(uint64_t vaddr);
  void unpin(uint64_t vaddr);
  uint64_t pinned_pages() const { return m_pinned; }

 private:
  KernelMemory& m_mem;
  std::map<uint64_t, size_t> m_maps;    // start -> length
  std::map<uint64_t, unsigned> m_pins;  // page -> pin count
  uint64_t m_pinned = 0;
};

}  // namespace pciesim::cosim
