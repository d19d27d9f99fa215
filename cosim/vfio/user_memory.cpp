#include "vfio/user_memory.h"

#include <cerrno>

#include "kernel/kernel_memory.h"

namespace pciesim::cosim {

UserMemory::~UserMemory() {
  for (const auto& [start, len] : m_maps) m_mem.free(reinterpret_cast<void*>(start));
}

void* UserMemory::map(size_t len) {
  if (len == 0) return nullptr;
  const size_t bytes = (len + KernelMemory::kPageSize - 1) & ~(KernelMemory::kPageSize - 1);
  void* p = m_mem.alloc(bytes, KernelMemory::kPageSize);
  if (p) m_maps[reinterpret_cast<uint64_t>(p)] = bytes;
  return p;
}

int UserMemory::unmap(void* addr, size_t len) {
  auto it = m_maps.find(reinterpret_cast<uint64_t>(addr));
  if (it == m_maps.end() || len == 0) return -EINVAL;
  for (uint64_t a = it->first; a < it->first + it->second; a += KernelMemory::kPageSize)
    if (m_pins.count(a)) return -EBUSY;  // the model keeps pinned pages mapped
  m_mem.free(addr);
  m_maps.erase(it);
  return 0;
}

bool UserMemory::translate(uint64_t vaddr, uint64_t& phys) const {
  auto it = m_maps.upper_bound(vaddr);
  if (it == m_maps.begin()) return false;
  --it;
  if (vaddr - it->first >= it->second) return false;
  phys = m_mem.virt_to_phys(reinterpret_cast<const void*>(vaddr));
  return phys != ~0ull;
}

void UserMemory::pin(uint64_t vaddr) {
  if (m_pins[vaddr & ~(KernelMemory::kPageSize - 1)]++ == 0) ++m_pinned;
}

void UserMemory::unpin(uint64_t vaddr) {
  auto it = m_pins.find(vaddr & ~(KernelMemory::kPageSize - 1));
  if (it == m_pins.end()) return;
  if (--it->second == 0) {
    m_pins.erase(it);
    --m_pinned;
  }
}

}  // namespace pciesim::cosim
