// Locks, completions, delays and time (linux/mutex.h, spinlock.h, completion.h, delay.h,
// jiffies.h, ktime.h) on the kernel's scheduler: kernel tasks are SystemC threads, so waiting is
// waiting in simulated time.
#include <climits>
#include <cstdio>
#include <string>

#include "kernel/irq_core.h"
#include "kernel/kernel.h"
#include "kernel/kapi.h"

using pciesim::cosim::Kernel;
using pciesim::cosim::Scheduler;

namespace {
Scheduler& sched() { return Kernel::current().scheduler(); }

void* me() { return const_cast<void*>(sched().current()); }

// Sleeping in atomic context: Linux's "scheduling while atomic" BUG.
void check_may_sleep(const char* what) {
  Scheduler& s = sched();
  if (!s.in_task()) throw std::logic_error(std::string(what) + " outside a kernel task (Kernel::run)");
  if (s.atomic_depth()) {
    char b[160];
    std::snprintf(b, sizeof b, KERN_ERR "BUG: scheduling while atomic: %s/0/0x00000002 (%s)\n", s.current_name().c_str(), what);
    Kernel::current().log().printk(b);
    cosim_bug(__FILE__, __LINE__);
  }
}

sc_core::sc_time ns(uint64_t n) { return sc_core::sc_time(static_cast<double>(n), sc_core::SC_NS); }

void lock_mutex(struct mutex* lock, const char* what) {
  cosim_might_sleep(__FILE__, __LINE__);
  void* self = me();
  if (lock->owner == self && self) {
    char b[160];
    std::snprintf(b, sizeof b, KERN_ERR "BUG: deadlock: task %s takes mutex %s it already holds\n",
                  sched().current_name().c_str(), lock->name ? lock->name : "?");
    Kernel::current().log().printk(b);
    cosim_bug(__FILE__, __LINE__);
  }
  if (lock->owner) {
    check_may_sleep(what);
    sched().wait_until([lock] { return lock->owner == nullptr; }, what);
  }
  lock->owner = self ? self : reinterpret_cast<void*>(1);  // outside tasks: boot code owns it
}

void lock_spin(spinlock_t* lock) {
  void* self = me();
  if (lock->owner == self && self) {
    char b[160];
    std::snprintf(b, sizeof b, KERN_ERR "BUG: spinlock recursion on %s by %s\n", lock->name ? lock->name : "?",
                  sched().current_name().c_str());
    Kernel::current().log().printk(b);
    cosim_bug(__FILE__, __LINE__);
  }
  // Another task holds it only while it waits inside its critical section (an MMIO read): spin.
  if (lock->owner) sched().wait_until([lock] { return lock->owner == nullptr; }, "a spinlock");
  lock->owner = self ? self : reinterpret_cast<void*>(1);
  sched().enter_atomic();
}

void unlock_spin(spinlock_t* lock) {
  lock->owner = nullptr;
  sched().leave_atomic();
  sched().wake_all();
}
}  // namespace

// ---- mutex ----
extern "C" void __mutex_init(struct mutex* lock, const char* name) {
  lock->owner = nullptr;
  lock->name = name;
}
extern "C" void mutex_lock(struct mutex* lock) { lock_mutex(lock, "a mutex"); }
extern "C" int mutex_lock_interruptible(struct mutex* lock) {
  lock_mutex(lock, "a mutex");
  return 0;  // no signals in the co-simulated kernel
}
extern "C" int mutex_trylock(struct mutex* lock) {
  if (lock->owner) return 0;
  lock->owner = me() ? me() : reinterpret_cast<void*>(1);
  return 1;
}
extern "C" void mutex_unlock(struct mutex* lock) {
  void* self = me() ? me() : reinterpret_cast<void*>(1);
  if (lock->owner != self) {
    cosim_warn(__FILE__, __LINE__, "mutex_unlock of %s by a task that does not hold it", lock->name ? lock->name : "?");
    if (!lock->owner) return;
  }
  lock->owner = nullptr;
  sched().wake_all();
}
extern "C" bool mutex_is_locked(struct mutex* lock) { return lock->owner != nullptr; }
extern "C" void mutex_destroy(struct mutex* lock) {
  if (lock->owner) cosim_warn(__FILE__, __LINE__, "mutex_destroy of locked mutex %s", lock->name ? lock->name : "?");
}
extern "C" void cosim_assert_held(const void* owner_field, const char* name, const char* file, int line) {
  const void* owner = *static_cast<void* const*>(owner_field);
  void* self = me() ? me() : reinterpret_cast<void*>(1);
  if (owner != self) cosim_warn(file, line, "lockdep: %s not held by %s", name ? name : "lock", sched().current_name().c_str());
}

// ---- spinlocks and local interrupts ----
extern "C" void __spin_lock_init(spinlock_t* lock, const char* name) {
  lock->owner = nullptr;
  lock->name = name;
}
extern "C" void spin_lock(spinlock_t* lock) { lock_spin(lock); }
extern "C" void spin_unlock(spinlock_t* lock) { unlock_spin(lock); }
extern "C" int spin_trylock(spinlock_t* lock) {
  if (lock->owner) return 0;
  lock_spin(lock);
  return 1;
}
extern "C" void spin_lock_irq(spinlock_t* lock) {
  Kernel::current().irq().save_and_disable();
  lock_spin(lock);
}
extern "C" void spin_unlock_irq(spinlock_t* lock) {
  unlock_spin(lock);
  Kernel::current().irq().restore(0x200);
}
extern "C" unsigned long cosim_spin_lock_irqsave(spinlock_t* lock) {
  const unsigned long flags = Kernel::current().irq().save_and_disable();
  lock_spin(lock);
  return flags;
}
extern "C" void spin_unlock_irqrestore(spinlock_t* lock, unsigned long flags) {
  unlock_spin(lock);
  Kernel::current().irq().restore(flags);
}
extern "C" unsigned long cosim_local_irq_save(void) {
  sched().enter_atomic();
  return Kernel::current().irq().save_and_disable();
}
extern "C" void local_irq_restore(unsigned long flags) {
  sched().leave_atomic();
  Kernel::current().irq().restore(flags);
}
extern "C" void local_irq_disable(void) {
  sched().enter_atomic();
  Kernel::current().irq().save_and_disable();
}
extern "C" void local_irq_enable(void) {
  sched().leave_atomic();
  Kernel::current().irq().restore(0x200);
}
extern "C" bool irqs_disabled(void) { return Kernel::current().irq().disabled(); }
extern "C" bool in_interrupt(void) { return sched().in_interrupt(); }

// ---- completions ----
extern "C" void complete(struct completion* x) {
  if (x->done != UINT_MAX) ++x->done;
  sched().wake_all();
}
extern "C" void complete_all(struct completion* x) {
  x->done = UINT_MAX;
  sched().wake_all();
}
extern "C" void wait_for_completion(struct completion* x) {
  cosim_might_sleep(__FILE__, __LINE__);
  if (!x->done) {
    check_may_sleep("wait_for_completion");
    ++x->waiters;
    sched().wait_until([x] { return x->done != 0; }, "a completion");
    --x->waiters;
  }
  if (x->done != UINT_MAX) --x->done;
}
extern "C" int wait_for_completion_interruptible(struct completion* x) {
  wait_for_completion(x);
  return 0;
}
extern "C" unsigned long wait_for_completion_timeout(struct completion* x, unsigned long timeout) {
  cosim_might_sleep(__FILE__, __LINE__);
  if (!x->done) {
    check_may_sleep("wait_for_completion_timeout");
    const sc_core::sc_time deadline = sc_core::sc_time_stamp() + ns(uint64_t(jiffies_to_usecs(timeout)) * 1000);
    ++x->waiters;
    while (!x->done && sc_core::sc_time_stamp() < deadline) {
      // Wake on a change or at the deadline, whichever comes first.
      sched().sleep_or_wake(deadline - sc_core::sc_time_stamp(), "a completion (with timeout)");
    }
    --x->waiters;
    if (!x->done) return 0;
    const uint64_t left_ns = static_cast<uint64_t>((deadline - sc_core::sc_time_stamp()).to_seconds() * 1e9);
    if (x->done != UINT_MAX) --x->done;
    const unsigned long j = usecs_to_jiffies(static_cast<unsigned>(left_ns / 1000));
    return j ? j : 1;
  }
  if (x->done != UINT_MAX) --x->done;
  return timeout ? timeout : 1;
}
extern "C" bool try_wait_for_completion(struct completion* x) {
  if (!x->done) return false;
  if (x->done != UINT_MAX) --x->done;
  return true;
}
extern "C" bool completion_done(struct completion* x) { return x->done != 0; }

// ---- delays and time ----
extern "C" void msleep(unsigned int msecs) {
  check_may_sleep("msleep");
  // msleep sleeps at least the time asked, rounded up to a jiffy (+1 jiffy: timer granularity).
  const unsigned long j = msecs_to_jiffies(msecs) + 1;
  sched().sleep(ns(uint64_t(jiffies_to_usecs(j)) * 1000), "msleep");
}
extern "C" unsigned long msleep_interruptible(unsigned int msecs) {
  msleep(msecs);
  return 0;
}
extern "C" void usleep_range(unsigned long min, unsigned long max) {
  check_may_sleep("usleep_range");
  (void)max;  // hrtimer slack: the model wakes at the minimum
  sched().sleep(ns(uint64_t(min) * 1000), "usleep_range");
}
extern "C" void ndelay(unsigned long nsecs) {
  if (sched().in_task()) sched().sleep(ns(nsecs), "ndelay");
}
extern "C" void udelay(unsigned long usecs) {
  if (sched().in_task()) sched().sleep(ns(uint64_t(usecs) * 1000), "udelay");
}
extern "C" void mdelay(unsigned long msecs) {
  if (sched().in_task()) sched().sleep(ns(uint64_t(msecs) * 1000000), "mdelay");
}

extern "C" unsigned long cosim_jiffies(void) {
  const double s = sc_core::sc_time_stamp().to_seconds();
  return INITIAL_JIFFIES + static_cast<unsigned long>(s * HZ);
}
extern "C" unsigned long msecs_to_jiffies(unsigned int m) { return (static_cast<unsigned long>(m) * HZ + 999) / 1000; }
extern "C" unsigned long usecs_to_jiffies(unsigned int u) { return (static_cast<unsigned long>(u) * HZ + 999999) / 1000000; }
extern "C" unsigned int jiffies_to_msecs(unsigned long j) { return static_cast<unsigned int>(j * (1000 / HZ)); }
extern "C" unsigned int jiffies_to_usecs(unsigned long j) { return static_cast<unsigned int>(j * (1000000 / HZ)); }
extern "C" ktime_t ktime_get(void) { return static_cast<ktime_t>(sc_core::sc_time_stamp().to_seconds() * 1e9 + 0.5); }
