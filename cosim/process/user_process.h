// The simulated user process the co-simulated kernel serves: its system calls (open, close,
// ioctl, read/write/pread/pwrite/lseek, mmap/munmap, eventfd, poll, readlink, usleep) with the
// results and errnos Linux gives, over the kernel's file table, VFIO, eventfds, /dev/kmsg and
// sysfs. User code runs in a kernel task (run()), so blocking calls wait in simulated time.
//
// Memory: anonymous mappings are the kernel's UserMemory (simulated DRAM the host can touch
// directly). Device mappings (mmap of a VFIO device's BAR) live at addresses no host pointer
// uses; user code reaches them with load()/store(), each an uncached CPU access through the
// fabric. A page not yet present faults into the driver's vm_ops->fault, as on Linux; a fault the
// driver refuses (memory decoding off) kills the process with SIGBUS.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <poll.h>

struct vm_area_struct;

namespace pciesim::cosim {

class Kernel;
struct KernelFile;

// Thrown inside the process's task when the kernel kills it; caught where run() started it.
struct ProcessKilled {
  int signo;
  std::string why;
};

class UserProcess {
 public:
  // Device mappings start here: a non-canonical x86-64 address, so a host dereference faults.
  static constexpr uint64_t kDeviceMapBase = 0x0000900000000000ull;

  UserProcess(Kernel& k, std::string comm);
  ~UserProcess();  // exit: unmaps device mappings, closes the descriptors it opened
  UserProcess(const UserProcess&) = delete;
  UserProcess& operator=(const UserProcess&) = delete;

  // Runs `main` as the process's task. Returns its exit status; 128 + signal when the kernel
  // killed it (logged as Linux logs it); -1 when kernel code under it BUG()ed or hung (`why`).
  int run(const std::function<int()>& main, std::string* why = nullptr);
  // The process running now (inside run()), or null.
  static UserProcess* current();
  static void clear_current_if(const UserProcess* p);

  int open(const std::string& path, int flags);
  int close(int fd);
  long ioctl(int fd, unsigned long request, void* arg);
  long read(int fd, void* buf, size_t count);
  long write(int fd, const void* buf, size_t count);
  long pread(int fd, void* buf, size_t count, int64_t offset);
  long pwrite(int fd, const void* buf, size_t count, int64_t offset);
  int64_t lseek(int fd, int64_t offset, int whence);
  // The mapping's address, or nullptr with `err` set to the errno.
  void* mmap(size_t length, int prot, int flags, int fd, int64_t offset, int& err);
  int munmap(void* addr, size_t length);
  int eventfd(unsigned initval, int flags);
  int poll(struct pollfd* fds, unsigned long nfds, int timeout_ms);
  long readlink(const std::string& path, char* buf, size_t size);
  void usleep(unsigned usec);

  // 1, 2, 4 or 8-byte load/store at a device mapping's address.
  uint64_t load(const volatile void* addr, unsigned size);
  void store(volatile void* addr, uint64_t value, unsigned size);

  // io_remap_pfn_range / zap_vma_ptes on a vma of a process's device mapping.
  static int remap(vm_area_struct* vma, uint64_t addr, uint64_t pfn, uint64_t size);
  static void zap(vm_area_struct* vma, uint64_t addr, uint64_t size);

  const std::string& comm() const { return m_comm; }
  size_t device_mappings() const { return m_maps.size(); }

 private:
  struct DeviceMapping;
  DeviceMapping* mapping_at(uint64_t addr, unsigned size);
  uint64_t phys_for(uint64_t addr, unsigned size, bool write);
  [[noreturn]] void kill(int signo, uint64_t addr, const std::string& why);
  void unmap_device(std::map<uint64_t, std::unique_ptr<DeviceMapping>>::iterator it);
  void exit_cleanup();
  static int next_pid();

  Kernel& m_kernel;
  std::string m_comm;
  int m_pid;
  std::set<int> m_fds;                   // descriptors this process opened
  std::map<int, int64_t> m_pos;          // file positions (device files)
  std::map<uint64_t, std::unique_ptr<DeviceMapping>> m_maps;  // device mappings by start
  uint64_t m_next_map = kDeviceMapBase;
};

}  // namespace pciesim::cosim
