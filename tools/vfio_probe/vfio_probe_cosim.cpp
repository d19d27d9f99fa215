#include "vfio_probe_cosim.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "kernel/kernel.h"
#include "kernel/sysfs.h"
#include "process/user_process.h"

namespace pciesim::tools {
namespace {

using cosim::UserProcess;

UserProcess& proc() { return *UserProcess::current(); }

int p_open(const char* path, int flags) { return proc().open(path, flags); }
int p_close(int fd) { return proc().close(fd); }
int p_ioctl(int fd, unsigned long req, void* arg) { return static_cast<int>(proc().ioctl(fd, req, arg)); }
long p_read(int fd, void* buf, size_t n) { return proc().read(fd, buf, n); }
long p_pread(int fd, void* buf, size_t n, long long off) { return proc().pread(fd, buf, n, off); }
long p_pwrite(int fd, const void* buf, size_t n, long long off) { return proc().pwrite(fd, buf, n, off); }
long long p_lseek(int fd, long long off, int whence) { return proc().lseek(fd, off, whence); }
void* p_mmap(size_t len, int prot, int flags, int fd, long long off, int* err) {
  return proc().mmap(len, prot, flags, fd, off, *err);
}
int p_munmap(void* addr, size_t len) { return proc().munmap(addr, len); }
int p_eventfd(unsigned initval, int flags) { return proc().eventfd(initval, flags); }
int p_poll(struct pollfd* fds, unsigned long n, int timeout) { return proc().poll(fds, n, timeout); }
long p_readlink(const char* path, char* buf, size_t size) { return proc().readlink(path, buf, size); }
void p_usleep(unsigned usec) { proc().usleep(usec); }
uint32_t p_mmio_read32(const volatile void* a) { return static_cast<uint32_t>(proc().load(a, 4)); }
void p_mmio_write32(volatile void* a, uint32_t v) { proc().store(a, v, 4); }

const vfio_probe_sys kSimSys = {p_open,   p_close,  p_ioctl,   p_read,    p_pread,  p_pwrite,
                                p_lseek,  p_mmap,   p_munmap,  p_eventfd, p_poll,   p_readlink,
                                p_usleep, p_mmio_read32, p_mmio_write32};

}  // namespace

ProbeRun run_vfio_probe(cosim::Kernel& k, const vfio_probe_options& opt) {
  ProbeRun out;
  char* text = nullptr;
  size_t size = 0;
  FILE* f = open_memstream(&text, &size);
  if (!f) {
    out.why = "open_memstream failed";
    return out;
  }
  {
    UserProcess p(k, "vfio_probe");
    out.status = p.run([&] { return vfio_probe_run_flow(&kSimSys, &opt, f); }, &out.why);
  }  // exit: the process's mappings and descriptors go, the device closes
  std::fclose(f);
  out.json.assign(text, size);
  std::free(text);
  return out;
}

int bind_to_driver(cosim::Kernel& k, const std::string& device, const std::string& driver, std::string& log) {
  const std::string dir = "/sys/bus/pci/devices/" + device;
  std::string current;
  int rc = k.sysfs().write(dir + "/driver_override", driver);
  if (rc < 0) {
    log = "write " + dir + "/driver_override";
    return rc;
  }
  if (k.sysfs().read(dir + "/driver", current) == 0) {
    while (!current.empty() && current.back() == '\n') current.pop_back();
    const std::string bound = current.substr(current.rfind('/') + 1);
    if (bound == driver) return 0;
    rc = k.sysfs().write("/sys/bus/pci/drivers/" + bound + "/unbind", device);
    if (rc < 0) {
      log = "unbind " + device + " from its driver";
      return rc;
    }
  }
  rc = k.sysfs().write("/sys/bus/pci/drivers_probe", device);
  if (rc < 0) log = "write /sys/bus/pci/drivers_probe";
  return rc;
}

}  // namespace pciesim::tools
