// Kernel tasks of the co-simulated kernel: each is a SystemC thread (a dynamic process) that runs
// kernel code (module init, probe, a test's driver calls, interrupt handlers) and can block in
// simulated time. The scheduler knows which task is running, which of them is the interrupt
// context, and how deep the running task is in atomic context (spinlocks held, interrupts off), so
// the sleeping primitives can report Linux's "scheduling while atomic" instead of misbehaving.
//
// Run a task to completion with run(): it spawns the thread and advances the simulation until the
// task returns. A task that blocks forever (a completion nobody completes, a lock never released)
// leaves the simulation without events; run() then reports a hang naming the task and what it
// waits for, instead of hanging. A task that hits BUG() (or throws) ends there, like a process
// that oopses; run() reports it. Nothing is thrown back to the caller: an exception leaving a
// SystemC coroutine for the main stack is what AddressSanitizer cannot follow.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <systemc>
#include <unordered_map>

namespace pciesim::cosim {

// BUG(): thrown inside the task, caught where the task started.
struct KernelBug : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class TaskEnd : uint8_t { Returned, Bug, Hang };
struct TaskResult {
  TaskEnd end = TaskEnd::Returned;
  std::string what;  // Bug / Hang: what happened
  bool ok() const { return end == TaskEnd::Returned; }
};

class Scheduler {
 public:
  Scheduler();
  ~Scheduler();

  // Runs `body` as kernel task `name` until it returns (see the top of this file).
  TaskResult run(const std::string& name, std::function<void()> body);
  // Starts a long-lived task (the interrupt thread); it runs whenever the simulation runs.
  void spawn_daemon(const std::string& name, std::function<void()> body);

  // The running task (nullptr outside tasks: then nothing may block).
  const void* current() const;
  const std::string& current_name() const;
  bool in_task() const { return current() != nullptr; }

  // Atomic context of the running task: spinlocks held, interrupts disabled, or in a handler.
  void enter_atomic();
  void leave_atomic();
  unsigned atomic_depth() const;
  bool in_interrupt() const;
  void set_in_interrupt(bool on);

  // Blocking: wait `t` of simulated time, or until `e` is notified. `what` names the wait for a
  // hang report. Both require a task.
  void sleep(const sc_core::sc_time& t, const char* what);
  void block(const sc_core::sc_event& e, const char* what);
  // One event every waiter on a lock, completion or flag change re-checks its condition on.
  void wake_all() { m_changed.notify(sc_core::SC_ZERO_TIME); }
  // Waits at most `t`, waking early on wake_all().
  void sleep_or_wake(const sc_core::sc_time& t, const char* what);
  // Waits until `ready()` holds, re-checking whenever wake_all() was called.
  void wait_until(const std::function<bool()>& ready, const char* what);

  static Scheduler& instance();

 private:
  struct Task {
    std::string name;
    unsigned atomic = 0;
    bool in_interrupt = false;
    std::string waiting_for;
  };
  Task* task();              // the running task's state, nullptr outside tasks
  const Task* task() const;
  std::string waits() const;  // every task's pending wait, for a hang report
  template <class Wait>
  void waiting(const char* what, const char* verb, Wait wait);

  std::unordered_map<const void*, Task> m_tasks;
  sc_core::sc_event m_changed;
  unsigned m_spawned = 0;
};

}  // namespace pciesim::cosim
