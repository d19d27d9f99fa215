#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "kernel/scheduler.h"

#include <cctype>
#include <exception>
#include <memory>

namespace pciesim::cosim {

namespace {
Scheduler* g_instance = nullptr;
// SystemC object names allow letters, digits and '_' (sc_object warns and substitutes otherwise).
std::string process_name(const std::string& task, unsigned n) {
  std::string s = task;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  return s + "_" + std::to_string(n);
}
const void* running_process() {
  sc_core::sc_process_handle h = sc_core::sc_get_current_process_handle();
  if (!h.valid() || h.proc_kind() != sc_core::SC_THREAD_PROC_) return nullptr;
  return h.get_process_object();
}
}  // namespace

Scheduler::Scheduler() { g_instance = this; }
Scheduler::~Scheduler() {
  if (g_instance == this) g_instance = nullptr;
}

Scheduler& Scheduler::instance() {
  if (!g_instance) throw std::logic_error("no co-simulated kernel is running (Kernel not created)");
  return *g_instance;
}

Scheduler::Task* Scheduler::task() {
  auto it = m_tasks.find(running_process());
  return it == m_tasks.end() ? nullptr : &it->second;
}
const Scheduler::Task* Scheduler::task() const {
  auto it = m_tasks.find(running_process());
  return it == m_tasks.end() ? nullptr : &it->second;
}
const void* Scheduler::current() const { return task() ? running_process() : nullptr; }
const std::string& Scheduler::current_name() const {
  static const std::string kNone = "(no task)";
  const Task* t = task();
  return t ? t->name : kNone;
}

void Scheduler::enter_atomic() {
  if (Task* t = task()) ++t->atomic;
}
void Scheduler::leave_atomic() {
  if (Task* t = task(); t && t->atomic) --t->atomic;
}
unsigned Scheduler::atomic_depth() const {
  const Task* t = task();
  return t ? t->atomic + (t->in_interrupt ? 1 : 0) : 0;
}
bool Scheduler::in_interrupt() const {
  const Task* t = task();
  return t && t->in_interrupt;
}
void Scheduler::set_in_interrupt(bool on) {
  if (Task* t = task()) t->in_interrupt = on;
}

std::string Scheduler::waits() const {
  std::string s;
  for (const auto& [p, t] : m_tasks)
    if (!t.waiting_for.empty()) s += "\n  task " + t.name + " waits for " + t.waiting_for;
  return s;
}

TaskResult Scheduler::run(const std::string& name, std::function<void()> body) {
  if (in_task()) {  // a task calling into another kernel path: same thread, same fate
    body();
    return {};
  }
  // The task's state outlives this call: a task reported as a hang may still finish later (what
  // it waited for happens during a later run), and must not write into a returned stack frame.
  struct State {
    std::function<void()> body;
    bool done = false;
    TaskResult result;
  };
  auto st = std::make_shared<State>();
  st->body = std::move(body);
  const std::string unique = process_name(name, m_spawned++);
  sc_core::sc_spawn(
      [this, st, name] {
        m_tasks[running_process()] = Task{name, 0, false, {}};
        try {
          st->body();
        } catch (const KernelBug& bug) {
          st->result = TaskResult{TaskEnd::Bug, bug.what()};
        } catch (const std::exception& e) {
          st->result = TaskResult{TaskEnd::Bug, e.what()};
        }
        m_tasks.erase(running_process());
        st->done = true;
        sc_core::sc_pause();
      },
      unique.c_str());
  const bool& done = st->done;
  while (!done) {
    sc_core::sc_start();
    if (!done && !sc_core::sc_pending_activity()) {
      const std::string w = waits();
      return TaskResult{TaskEnd::Hang, "kernel task " + name + " cannot finish: nothing left to happen in the simulation" +
                                           (w.empty() ? std::string(" (it waits for nothing known)") : w)};
    }
  }
  return st->result;
}

void Scheduler::spawn_daemon(const std::string& name, std::function<void()> body) {
  const std::string unique = process_name(name, m_spawned++);
  sc_core::sc_spawn(
      [this, name, body = std::move(body)] {
        m_tasks[running_process()] = Task{name, 0, false, {}};
        body();
        m_tasks.erase(running_process());
      },
      unique.c_str());
}

// Every blocking call: the running task records what it waits for (for a hang report) while it
// waits.
template <class Wait>
void Scheduler::waiting(const char* what, const char* verb, Wait wait) {
  Task* me = task();
  if (!me) throw std::logic_error(std::string("kernel code outside a kernel task tried to ") + verb + " (" + what + ")");
  me->waiting_for = what;
  wait();
  if ((me = task())) me->waiting_for.clear();  // the map may have rehashed meanwhile
}

void Scheduler::sleep(const sc_core::sc_time& t, const char* what) {
  waiting(what, "sleep", [&] { sc_core::wait(t); });
}

void Scheduler::block(const sc_core::sc_event& e, const char* what) {
  waiting(what, "block", [&] { sc_core::wait(e); });
}

void Scheduler::sleep_or_wake(const sc_core::sc_time& t, const char* what) {
  waiting(what, "sleep", [&] { sc_core::wait(t, m_changed); });
}

void Scheduler::wait_until(const std::function<bool()>& ready, const char* what) {
  while (!ready()) block(m_changed, what);
}

}  // namespace pciesim::cosim
