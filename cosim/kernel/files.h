// Open files of the simulated process the kernel serves: a descriptor table of kernel objects
// (eventfds now; the VFIO container, group and device files next). Closing a descriptor drops
// the table's reference; the object lives while a driver still holds one (eventfd_ctx_fdget).
#pragma once

#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <string>

namespace pciesim::cosim {

struct KernelFile {
  virtual ~KernelFile() = default;
  virtual const char* kind() const = 0;  // "eventfd", ...
};

class FileTable {
 public:
  // The lowest free descriptor from 3 (0-2 are the process's standard streams), as open() picks.
  int install(std::shared_ptr<KernelFile> f);
  std::shared_ptr<KernelFile> get(int fd) const;
  int close(int fd);  // 0 or -EBADF
  size_t open_count() const { return m_files.size(); }
  // Closes everything, highest descriptor first (process exit).
  void close_all() {
    while (!m_files.empty()) m_files.erase(std::prev(m_files.end()));
  }

 private:
  std::map<int, std::shared_ptr<KernelFile>> m_files;
};

}  // namespace pciesim::cosim
