#include "kernel/eventfd.h"

#include <limits>
#include <map>

#include "kernel/kernel.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {

int FileTable::install(std::shared_ptr<KernelFile> f) {
  int fd = 3;
  while (m_files.count(fd)) ++fd;
  m_files[fd] = std::move(f);
  return fd;
}

std::shared_ptr<KernelFile> FileTable::get(int fd) const {
  auto it = m_files.find(fd);
  return it == m_files.end() ? nullptr : it->second;
}

int FileTable::close(int fd) { return m_files.erase(fd) ? 0 : -EBADF; }

namespace {
std::shared_ptr<eventfd_ctx> ctx_of(Kernel& k, int fd, int& err) {
  std::shared_ptr<KernelFile> f = k.files().get(fd);
  if (!f) {
    err = -EBADF;
    return nullptr;
  }
  auto e = std::dynamic_pointer_cast<eventfd_ctx>(f);
  err = e ? 0 : -EINVAL;
  return e;
}
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();  // ULLONG_MAX: never a count
}  // namespace

int eventfd_create(Kernel& k, unsigned initval, int flags) {
  if (flags & ~(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK)) return -EINVAL;  // do_eventfd
  auto e = std::make_shared<eventfd_ctx>();
  e->count = initval;
  e->flags = static_cast<unsigned>(flags);
  return k.files().install(e);
}

int eventfd_read(Kernel& k, int fd, uint64_t& value) {
  int err = 0;
  std::shared_ptr<eventfd_ctx> e = ctx_of(k, fd, err);
  if (!e) return err;
  if (e->count == 0) {
    if ((e->flags & EFD_NONBLOCK) || !k.scheduler().in_task()) return -EAGAIN;
    k.scheduler().wait_until([&e] { return e->count != 0; }, "an eventfd read");
  }
  value = (e->flags & EFD_SEMAPHORE) ? 1 : e->count;
  e->count -= value;
  k.scheduler().wake_all();
  return 0;
}

int eventfd_write(Kernel& k, int fd, uint64_t value) {
  int err = 0;
  std::shared_ptr<eventfd_ctx> e = ctx_of(k, fd, err);
  if (!e) return err;
  if (value == kMax) return -EINVAL;
  if (kMax - e->count <= value) return -EAGAIN;  // would reach ULLONG_MAX (a blocking write waits)
  e->count += value;
  k.scheduler().wake_all();
  if (value) e->wake_waiters();
  return 0;
}

}  // namespace pciesim::cosim

using pciesim::cosim::Kernel;

namespace {
// References kernel C holds: the shared_ptr behind each ctx it got from eventfd_ctx_fdget.
std::multimap<const eventfd_ctx*, std::shared_ptr<eventfd_ctx>>& held() {
  static std::multimap<const eventfd_ctx*, std::shared_ptr<eventfd_ctx>> h;
  return h;
}
}  // namespace

extern "C" struct eventfd_ctx* eventfd_ctx_fdget(int fd) {
  std::shared_ptr<pciesim::cosim::KernelFile> f = Kernel::current().files().get(fd);
  if (!f) return static_cast<eventfd_ctx*>(ERR_PTR(-EBADF));
  auto e = std::dynamic_pointer_cast<eventfd_ctx>(f);
  if (!e) return static_cast<eventfd_ctx*>(ERR_PTR(-EINVAL));
  held().emplace(e.get(), e);
  return e.get();
}

extern "C" void eventfd_ctx_put(struct eventfd_ctx* ctx) {
  auto it = held().find(ctx);
  if (it == held().end()) {
    cosim_warn(__FILE__, __LINE__, "eventfd_ctx_put of a context not taken with eventfd_ctx_fdget");
    return;
  }
  held().erase(it);
}

extern "C" __u64 eventfd_signal(struct eventfd_ctx* ctx, __u64 n) {
  // eventfd_signal_mask: the counter saturates below ULLONG_MAX.
  const uint64_t room = std::numeric_limits<uint64_t>::max() - 1 - ctx->count;
  if (n > room) n = room;
  ctx->count += n;
  ++ctx->signals;
  Kernel::current().scheduler().wake_all();
  ctx->wake_waiters();
  return n;
}
