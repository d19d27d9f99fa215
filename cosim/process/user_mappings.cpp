// The simulated process's mappings: anonymous memory (UserMemory) and device pages a driver's
// mmap handler hands out (mm/mmap.c mmap_region, mm/memory.c io_remap_pfn_range/zap_vma_ptes and
// the fault path, as Linux 6.1 runs them for a VM_IO | VM_PFNMAP mapping).
#include <cerrno>
#include <csignal>
#include <sys/mman.h>

#include "kernel/kernel.h"
#include "process/user_process.h"
#include "vfio/user_memory.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"
#include <linux/mm.h>

namespace pciesim::cosim {

struct UserProcess::DeviceMapping {
  vm_area_struct vma{};
  std::shared_ptr<KernelFile> file;  // a mapping keeps its file open (the device stays open)
  bool present = false;              // page-table entries installed by io_remap_pfn_range
  uint64_t map_addr = 0, map_size = 0, pfn = 0;
};

UserProcess::UserProcess(Kernel& k, std::string comm) : m_kernel(k), m_comm(std::move(comm)), m_pid(next_pid()) {}

void UserProcess::exit_cleanup() {
  while (!m_maps.empty()) unmap_device(m_maps.begin());
  for (auto it = m_fds.rbegin(); it != m_fds.rend(); ++it) m_kernel.files().close(*it);
  m_fds.clear();
  m_pos.clear();
}

UserProcess::~UserProcess() {
  exit_cleanup();
  clear_current_if(this);
}

void* UserProcess::mmap(size_t length, int prot, int flags, int fd, int64_t offset, int& err) {
  err = 0;
  const int type = flags & (MAP_SHARED | MAP_PRIVATE);
  if (!length || (type != MAP_SHARED && type != MAP_PRIVATE) || (offset & (PAGE_SIZE - 1)) || offset < 0) {
    err = EINVAL;  // do_mmap / ksys_mmap_pgoff
    return nullptr;
  }
  const uint64_t len = PAGE_ALIGN(uint64_t{length});
  if (flags & MAP_ANONYMOUS) {
    void* p = m_kernel.user_memory().map(len);
    if (!p) err = ENOMEM;
    return p;
  }
  std::shared_ptr<KernelFile> f = m_kernel.files().get(fd);
  if (!f) {
    err = EBADF;
    return nullptr;
  }
  auto dev = std::dynamic_pointer_cast<VfioDeviceFile>(f);
  if (!dev) {
    err = ENODEV;  // a file without an mmap method
    return nullptr;
  }
  auto m = std::make_unique<DeviceMapping>();
  m->file = f;
  vm_area_struct& vma = m->vma;
  vma.vm_start = m_next_map;
  vma.vm_end = m_next_map + len;
  vma.vm_pgoff = static_cast<unsigned long>(offset) >> PAGE_SHIFT;
  vma.vm_flags = ((prot & PROT_READ) ? VM_READ : 0) | ((prot & PROT_WRITE) ? VM_WRITE : 0) |
                 ((prot & PROT_EXEC) ? VM_EXEC : 0) | (type == MAP_SHARED ? VM_SHARED : 0);
  vma.cosim = m.get();
  const long rc = dev->mmap(&vma);
  if (rc < 0) {
    err = static_cast<int>(-rc);
    return nullptr;
  }
  m_next_map += len + PAGE_SIZE;  // a guard page between mappings
  void* addr = reinterpret_cast<void*>(vma.vm_start);
  m_maps[vma.vm_start] = std::move(m);
  return addr;
}

void UserProcess::unmap_device(std::map<uint64_t, std::unique_ptr<DeviceMapping>>::iterator it) {
  vm_area_struct& vma = it->second->vma;
  if (vma.vm_ops && vma.vm_ops->close) {
    m_kernel.run("munmap", [&] { vma.vm_ops->close(&vma); });
  }
  m_maps.erase(it);  // drops the file reference: the last one closes the device
}

int UserProcess::munmap(void* addr, size_t length) {
  const uint64_t a = reinterpret_cast<uint64_t>(addr);
  if ((a & (PAGE_SIZE - 1)) || !length) return -EINVAL;
  auto it = m_maps.find(a);
  if (it != m_maps.end()) {
    if (PAGE_ALIGN(uint64_t{length}) != it->second->vma.vm_end - it->second->vma.vm_start)
      return -EINVAL;  // the model unmaps whole device mappings only
    unmap_device(it);
    return 0;
  }
  const int rc = m_kernel.user_memory().unmap(addr, length);
  return rc == -EINVAL ? 0 : rc;  // munmap of a range with nothing mapped succeeds
}

UserProcess::DeviceMapping* UserProcess::mapping_at(uint64_t addr, unsigned size) {
  auto it = m_maps.upper_bound(addr);
  if (it == m_maps.begin()) return nullptr;
  --it;
  DeviceMapping* m = it->second.get();
  return addr + size <= m->vma.vm_end ? m : nullptr;
}

uint64_t UserProcess::phys_for(uint64_t addr, unsigned size, bool write) {
  DeviceMapping* m = mapping_at(addr, size);
  if (!m) kill(SIGSEGV, addr, "no mapping");
  if (!(m->vma.vm_flags & (write ? VM_WRITE : VM_READ))) kill(SIGSEGV, addr, "mapping not writable/readable");
  if (!m->present || addr < m->map_addr || addr + size > m->map_addr + m->map_size) {
    // handle_mm_fault: the driver's fault handler installs the pages or refuses.
    vm_fault_t r = VM_FAULT_SIGBUS;
    if (m->vma.vm_ops && m->vma.vm_ops->fault) {
      vm_fault vmf{};
      vmf.vma = &m->vma;
      vmf.address = addr & PAGE_MASK;
      vmf.pgoff = m->vma.vm_pgoff + ((addr - m->vma.vm_start) >> PAGE_SHIFT);
      vmf.flags = write ? 1u : 0u;  // FAULT_FLAG_WRITE
      m_kernel.run("page fault", [&] { r = m->vma.vm_ops->fault(&vmf); });
    }
    if ((r & (VM_FAULT_SIGBUS | VM_FAULT_OOM)) || !m->present)
      kill(SIGBUS, addr, "the driver's fault handler refused the device page");
  }
  return (m->pfn << PAGE_SHIFT) + (addr - m->map_addr);
}

uint64_t UserProcess::load(const volatile void* addr, unsigned size) {
  const uint64_t phys = phys_for(reinterpret_cast<uint64_t>(addr), size, false);
  return m_kernel.cpu().read(phys, size);
}

void UserProcess::store(volatile void* addr, uint64_t value, unsigned size) {
  const uint64_t phys = phys_for(reinterpret_cast<uint64_t>(addr), size, true);
  m_kernel.cpu().write(phys, value, size);
}

int UserProcess::remap(vm_area_struct* vma, uint64_t addr, uint64_t pfn, uint64_t size) {
  auto* m = static_cast<DeviceMapping*>(vma->cosim);
  if (!m || addr < vma->vm_start || addr + size > vma->vm_end || (addr & (PAGE_SIZE - 1))) return -EINVAL;
  m->present = true;
  m->map_addr = addr;
  m->map_size = size;
  m->pfn = pfn;
  return 0;
}

void UserProcess::zap(vm_area_struct* vma, uint64_t, uint64_t) {
  if (auto* m = static_cast<DeviceMapping*>(vma->cosim)) m->present = false;
}

}  // namespace pciesim::cosim

using pciesim::cosim::UserProcess;

extern "C" int io_remap_pfn_range(struct vm_area_struct* vma, unsigned long addr, unsigned long pfn,
                                  unsigned long size, pgprot_t) {
  return UserProcess::remap(vma, addr, pfn, size);
}

extern "C" void zap_vma_ptes(struct vm_area_struct* vma, unsigned long address, unsigned long size) {
  UserProcess::zap(vma, address, size);
}
