#include "process/user_process.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uapi/linux/vfio.h>

#include "kernel/eventfd.h"
#include "kernel/kernel.h"
#include "kernel/sysfs.h"
#include "process/kmsg_file.h"
#include "vfio/vfio_core.h"

namespace pciesim::cosim {

namespace {
UserProcess* g_current = nullptr;
int g_next_pid = 1000;
}  // namespace

int UserProcess::next_pid() { return g_next_pid++; }

UserProcess* UserProcess::current() { return g_current; }
void UserProcess::clear_current_if(const UserProcess* p) {
  if (g_current == p) g_current = nullptr;
}

int UserProcess::run(const std::function<int()>& main, std::string* why) {
  int status = -1;
  UserProcess* outer = g_current;
  const TaskResult r = m_kernel.run(m_comm, [&] {
    g_current = this;
    try {
      status = main();
    } catch (const ProcessKilled& k) {
      status = 128 + k.signo;
      if (why) *why = k.why;
    }
    g_current = outer;
  });
  g_current = outer;
  if (!r.ok()) {
    if (why) *why = r.what;
    return -1;
  }
  return status;
}

void UserProcess::kill(int signo, uint64_t addr, const std::string& why) {
  char text[160];
  std::snprintf(text, sizeof text, "%s[%d]: killed by signal %d (%s) at 0x%llx: ", m_comm.c_str(), m_pid, signo,
                signo == SIGBUS ? "SIGBUS" : signo == SIGSEGV ? "SIGSEGV" : "signal",
                static_cast<unsigned long long>(addr));
  throw ProcessKilled{signo, text + why};
}


int UserProcess::open(const std::string& path, int flags) {
  int fd = -ENOENT;
  if (path == "/dev/kmsg") {
    fd = m_kernel.files().install(std::make_shared<KmsgFile>(m_kernel, (flags & O_NONBLOCK) != 0));
  } else if (path.rfind("/dev/vfio/", 0) == 0) {
    fd = m_kernel.vfio().open(path);
  } else if (path.rfind("/sys/", 0) == 0) {
    return -EOPNOTSUPP;  // sysfs is read with readlink(); attribute files through Sysfs directly
  }
  if (fd >= 0) m_fds.insert(fd);
  return fd;
}

int UserProcess::close(int fd) {
  const int rc = m_kernel.files().close(fd);
  m_fds.erase(fd);
  m_pos.erase(fd);
  return rc;
}

long UserProcess::ioctl(int fd, unsigned long request, void* arg) {
  std::shared_ptr<KernelFile> f = m_kernel.files().get(fd);
  if (!f) return -EBADF;
  long rc = -ENOTTY;
  if (auto c = std::dynamic_pointer_cast<VfioContainer>(f)) rc = c->ioctl(request, arg);
  else if (auto g = std::dynamic_pointer_cast<VfioGroupFile>(f)) rc = g->ioctl(request, arg);
  else if (auto d = std::dynamic_pointer_cast<VfioDeviceFile>(f)) rc = d->ioctl(request, arg);
  if (request == VFIO_GROUP_GET_DEVICE_FD && rc >= 0) m_fds.insert(static_cast<int>(rc));
  return rc;
}

long UserProcess::read(int fd, void* buf, size_t count) {
  std::shared_ptr<KernelFile> f = m_kernel.files().get(fd);
  if (!f) return -EBADF;
  if (std::dynamic_pointer_cast<eventfd_ctx>(f)) {
    if (count < sizeof(uint64_t)) return -EINVAL;  // eventfd_read
    uint64_t v = 0;
    const int rc = eventfd_read(m_kernel, fd, v);
    if (rc < 0) return rc;
    std::memcpy(buf, &v, sizeof v);
    return sizeof v;
  }
  if (auto k = std::dynamic_pointer_cast<KmsgFile>(f)) return k->read(static_cast<char*>(buf), count);
  if (std::dynamic_pointer_cast<VfioDeviceFile>(f)) {
    const long rc = pread(fd, buf, count, m_pos[fd]);
    if (rc > 0) m_pos[fd] += rc;
    return rc;
  }
  return -EINVAL;  // container and group files have no read (vfio_fops)
}

long UserProcess::write(int fd, const void* buf, size_t count) {
  std::shared_ptr<KernelFile> f = m_kernel.files().get(fd);
  if (!f) return -EBADF;
  if (std::dynamic_pointer_cast<eventfd_ctx>(f)) {
    if (count < sizeof(uint64_t)) return -EINVAL;
    uint64_t v = 0;
    std::memcpy(&v, buf, sizeof v);
    const int rc = eventfd_write(m_kernel, fd, v);
    return rc < 0 ? rc : static_cast<long>(sizeof v);
  }
  if (std::dynamic_pointer_cast<VfioDeviceFile>(f)) {
    const long rc = pwrite(fd, buf, count, m_pos[fd]);
    if (rc > 0) m_pos[fd] += rc;
    return rc;
  }
  return -EINVAL;
}

long UserProcess::pread(int fd, void* buf, size_t count, int64_t offset) {
  std::shared_ptr<KernelFile> f = m_kernel.files().get(fd);
  if (!f) return -EBADF;
  auto d = std::dynamic_pointer_cast<VfioDeviceFile>(f);
  if (!d) return -ESPIPE;  // eventfd, kmsg and the VFIO container/group are not seekable
  if (offset < 0) return -EINVAL;
  return d->read(buf, count, static_cast<uint64_t>(offset));
}

long UserProcess::pwrite(int fd, const void* buf, size_t count, int64_t offset) {
  std::shared_ptr<KernelFile> f = m_kernel.files().get(fd);
  if (!f) return -EBADF;
  auto d = std::dynamic_pointer_cast<VfioDeviceFile>(f);
  if (!d) return -ESPIPE;
  if (offset < 0) return -EINVAL;
  return d->write(buf, count, static_cast<uint64_t>(offset));
}

int64_t UserProcess::lseek(int fd, int64_t offset, int whence) {
  std::shared_ptr<KernelFile> f = m_kernel.files().get(fd);
  if (!f) return -EBADF;
  if (auto k = std::dynamic_pointer_cast<KmsgFile>(f)) return k->lseek(offset, whence);
  if (!std::dynamic_pointer_cast<VfioDeviceFile>(f)) return -ESPIPE;
  int64_t base = 0;
  if (whence == SEEK_CUR) base = m_pos[fd];
  else if (whence != SEEK_SET) return -EINVAL;  // the device file has no size to seek from
  if (base + offset < 0) return -EINVAL;
  return m_pos[fd] = base + offset;
}

int UserProcess::eventfd(unsigned initval, int flags) {
  const int fd = eventfd_create(m_kernel, initval, flags);
  if (fd >= 0) m_fds.insert(fd);
  return fd;
}

int UserProcess::poll(struct pollfd* fds, unsigned long nfds, int timeout_ms) {
  auto ready = [&] {
    int n = 0;
    for (unsigned long i = 0; i < nfds; ++i) {
      fds[i].revents = 0;
      std::shared_ptr<KernelFile> f = fds[i].fd < 0 ? nullptr : m_kernel.files().get(fds[i].fd);
      if (fds[i].fd < 0) continue;
      if (!f) fds[i].revents = POLLNVAL;
      else if (auto e = std::dynamic_pointer_cast<eventfd_ctx>(f))  // eventfd_poll
        fds[i].revents = static_cast<short>((e->count ? POLLIN : 0) | (e->count != ~0ull - 1 ? POLLOUT : 0));
      else if (auto k = std::dynamic_pointer_cast<KmsgFile>(f))
        fds[i].revents = k->readable() ? POLLIN | POLLRDNORM : 0;
      else  // no poll method: DEFAULT_POLLMASK
        fds[i].revents = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
      fds[i].revents = static_cast<short>(fds[i].revents & (fds[i].events | POLLERR | POLLHUP | POLLNVAL));
      if (fds[i].revents) ++n;
    }
    return n;
  };
  int n = ready();
  if (n || timeout_ms == 0) return n;
  Scheduler& s = m_kernel.scheduler();
  if (timeout_ms < 0) {
    s.wait_until([&] { return ready() != 0; }, "poll");
    return ready();
  }
  const uint64_t deadline = m_kernel.now_ns() + uint64_t(timeout_ms) * 1000000;
  while (!(n = ready()) && m_kernel.now_ns() < deadline)
    s.sleep_or_wake(sc_core::sc_time(double(deadline - m_kernel.now_ns()), sc_core::SC_NS), "poll");
  return n;
}

long UserProcess::readlink(const std::string& path, char* buf, size_t size) {
  std::string target;
  if (path.rfind("/sys/", 0) != 0) return -ENOENT;
  const int rc = m_kernel.sysfs().read(path, target);
  if (rc < 0) return rc;
  // Only links read back as "../..." targets; an attribute file is not a link.
  if (target.rfind("../", 0) != 0) return -EINVAL;
  if (!target.empty() && target.back() == '\n') target.pop_back();
  const size_t n = std::min(size, target.size());  // readlink truncates silently
  std::memcpy(buf, target.data(), n);
  return static_cast<long>(n);
}

void UserProcess::usleep(unsigned usec) {
  m_kernel.scheduler().sleep(sc_core::sc_time(double(usec), sc_core::SC_US), "usleep");
}

}  // namespace pciesim::cosim
