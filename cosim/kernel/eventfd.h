// eventfd objects (fs/eventfd.c, Linux 6.1) for the kernel's file table: the counter user space
// reads and drivers signal. Blocking reads wait in simulated time inside a kernel task.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "kernel/files.h"

// struct eventfd_ctx, which kernel C sees as opaque.
struct eventfd_ctx : pciesim::cosim::KernelFile {
  uint64_t count = 0;
  unsigned flags = 0;       // EFD_SEMAPHORE, EFD_NONBLOCK
  uint64_t signals = 0;     // eventfd_signal calls, for tests and statistics
  // Wait-queue entries a kernel consumer registered (virqfd's poll callback): each runs on every
  // write or signal that adds to the count, in the writer's context (eventfd_write's
  // wake_up_locked_poll with EPOLLIN).
  struct Waiter {
    const void* owner;
    std::function<void()> wake;
  };
  std::vector<Waiter> waiters;
  void wake_waiters() {
    const std::vector<Waiter> now = waiters;  // a callback may remove itself
    for (const Waiter& w : now) w.wake();
  }
  const char* kind() const override { return "eventfd"; }
};

namespace pciesim::cosim {

class Kernel;

// eventfd(2): a new descriptor, or -EINVAL for unknown flags.
int eventfd_create(Kernel& k, unsigned initval, int flags);
// read(2) of 8 bytes: the counter (or 1 with EFD_SEMAPHORE), then reset (or decrement). Without a
// value: -EAGAIN when non-blocking or outside a kernel task, else it waits. -EBADF/-EINVAL.
int eventfd_read(Kernel& k, int fd, uint64_t& value);
// write(2) of 8 bytes: adds; -EINVAL for ~0 (ULLONG_MAX), -EAGAIN when it would overflow.
int eventfd_write(Kernel& k, int fd, uint64_t value);

}  // namespace pciesim::cosim
