#include "kernel/irq_core.h"

#include <algorithm>
#include <cstdio>

#include "iommu/iommu_core.h"
#include "kernel/kernel.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {

IrqCore::IrqCore(Kernel& kernel) : m_kernel(kernel) {}

void IrqCore::start() {
  if (m_started) return;
  m_started = true;
  m_kernel.scheduler().spawn_daemon("irq", [this] { loop(); });
}

int IrqCore::alloc(unsigned count) {
  if (count == 0) return -EINVAL;
  // x86_vector_alloc_irqs: any free vectors; consecutive ones here so multi-MSI blocks work.
  for (unsigned v = kFirstVector; v + count - 1 <= kLastVector; ++v) {
    bool free = true;
    for (unsigned i = 0; i < count && free; ++i) free = !m_by_vector.count(static_cast<uint8_t>(v + i));
    if (!free) continue;
    unsigned irq = kFirstIrq;
    for (;; ++irq) {  // the lowest run of free IRQ numbers
      bool ok = true;
      for (unsigned i = 0; i < count && ok; ++i) ok = !m_irqs.count(irq + i);
      if (ok) break;
    }
    for (unsigned i = 0; i < count; ++i) {
      IrqDesc d;
      d.irq = irq + i;
      d.vector = static_cast<uint8_t>(v + i);
      m_irqs[irq + i] = d;
      m_by_vector[d.vector] = irq + i;
    }
    return static_cast<int>(irq);
  }
  return -ENOSPC;
}

void IrqCore::free(unsigned irq) {
  auto it = m_irqs.find(irq);
  if (it == m_irqs.end()) return;
  if (!it->second.actions.empty()) {
    char b[128];
    std::snprintf(b, sizeof b, "WARNING: freeing IRQ %u with handler %s still requested\n", irq,
                  it->second.actions[0].name.c_str());
    m_kernel.printk(LogLevel::Warning, b);
  }
  m_by_vector.erase(it->second.vector);
  m_irqs.erase(it);
}

IrqDesc* IrqCore::desc(unsigned irq) {
  auto it = m_irqs.find(irq);
  return it == m_irqs.end() ? nullptr : &it->second;
}

uint8_t IrqCore::vector_of(unsigned irq) const {
  auto it = m_irqs.find(irq);
  return it == m_irqs.end() ? 0 : it->second.vector;
}

int IrqCore::request(unsigned irq, IrqDesc::Handler handler, IrqDesc::Handler thread_fn, unsigned long flags,
                     const char* name, void* dev_id) {
  IrqDesc* d = desc(irq);
  if (!d) return -EINVAL;
  if (!handler && !thread_fn) return -EINVAL;
  if ((flags & IRQF_SHARED) && !dev_id) return -EINVAL;  // request_threaded_irq
  // __setup_irq: a second action only when both are shared (mismatch: -EBUSY).
  if (!d->actions.empty() && (!(flags & IRQF_SHARED) || !(d->actions[0].flags & IRQF_SHARED))) {
    char b[160];
    std::snprintf(b, sizeof b, "genirq: Flags mismatch irq %u. %08lx (%s) vs. %08lx (%s)\n", irq, flags,
                  name ? name : "", d->actions[0].flags, d->actions[0].name.c_str());
    m_kernel.printk(LogLevel::Err, b);
    return -EBUSY;
  }
  if (d->actions.empty()) d->disable_depth = (flags & IRQF_NO_AUTOEN) ? 1 : 0;
  d->actions.push_back(IrqDesc::Action{handler, thread_fn, dev_id, name ? name : "", flags});
  return 0;
}

const void* IrqCore::release(unsigned irq, void* dev_id) {
  IrqDesc* d = desc(irq);
  auto it = d ? std::find_if(d->actions.begin(), d->actions.end(), [dev_id](const IrqDesc::Action& a) { return a.dev_id == dev_id; })
              : std::vector<IrqDesc::Action>::iterator{};
  if (!d || it == d->actions.end()) {
    char b[64];
    std::snprintf(b, sizeof b, "Trying to free already-free IRQ %u\n", irq);
    m_kernel.printk(LogLevel::Warning, b);
    return nullptr;
  }
  synchronize(irq);
  static std::string last;  // free_irq returns the devname it was requested with
  last = it->name;
  d->actions.erase(it);
  return last.c_str();
}

void IrqCore::disable(unsigned irq) {
  if (IrqDesc* d = desc(irq)) {
    ++d->disable_depth;
    synchronize(irq);
  }
}

void IrqCore::enable(unsigned irq) {
  IrqDesc* d = desc(irq);
  if (!d) return;
  if (d->disable_depth == 0) {
    char b[64];
    std::snprintf(b, sizeof b, "WARNING: Unbalanced enable for IRQ %u\n", irq);
    m_kernel.printk(LogLevel::Warning, b);
    return;
  }
  if (--d->disable_depth == 0 && d->pending_while_disabled) {  // check_irq_resend: a replay
    d->pending_while_disabled = false;
    m_pending.push_back(irq);
    m_kernel.scheduler().wake_all();
  }
}

void IrqCore::synchronize(unsigned irq) {
  IrqDesc* d = desc(irq);
  Scheduler& s = m_kernel.scheduler();
  if (!d || !s.in_task() || s.in_interrupt()) return;
  s.wait_until([this, irq] { IrqDesc* x = desc(irq); return !x || !x->running; }, "a running interrupt handler");
}

unsigned long IrqCore::save_and_disable() {
  const unsigned long was_enabled = m_disabled == 0 ? 0x200 : 0;  // X86_EFLAGS_IF
  ++m_disabled;
  return was_enabled;
}

void IrqCore::restore(unsigned long flags) {
  if (m_disabled) --m_disabled;
  if ((flags & 0x200) && m_disabled) m_disabled = 0;  // restoring an enabled state
  if (!m_disabled) m_kernel.scheduler().wake_all();
}

void IrqCore::deliver(const vtd::DeliveredInterrupt& irq) {
  auto it = m_by_vector.find(irq.irq.vector);
  if (it == m_by_vector.end()) {
    ++m_spurious;
    char b[96];
    std::snprintf(b, sizeof b, "__common_interrupt: 0.%u No irq handler for vector\n", irq.irq.vector);
    m_kernel.printk(LogLevel::Emerg, b);
    return;
  }
  m_pending.push_back(it->second);
  m_kernel.scheduler().wake_all();
}

void IrqCore::fault_event() {
  m_fault_pending = true;
  m_kernel.scheduler().wake_all();
}

void IrqCore::raise(unsigned irq) {
  m_pending.push_back(irq);
  m_kernel.scheduler().wake_all();
}

void IrqCore::ensure_line(unsigned irq) {
  if (desc(irq)) return;
  IrqDesc nd;
  nd.irq = irq;
  nd.level = true;
  m_irqs[irq] = nd;
}

void IrqCore::set_line(unsigned irq, bool asserted) {
  ensure_line(irq);
  IrqDesc* d = desc(irq);
  d->level = true;
  const bool rising = asserted && !d->asserted;
  d->asserted = asserted;
  if (rising) raise(irq);
}

bool IrqCore::line_asserted(unsigned irq) const {
  auto it = m_irqs.find(irq);
  return it != m_irqs.end() && it->second.asserted;
}

void IrqCore::dispatch(IrqDesc& d) {
  if (d.disable_depth > 0) {
    d.pending_while_disabled = true;
    return;
  }
  if (d.actions.empty()) {
    ++m_spurious;
    char b[96];
    std::snprintf(b, sizeof b, "irq %u: nobody cared (no handler requested)\n", d.irq);
    m_kernel.printk(LogLevel::Err, b);
    return;
  }
  Scheduler& s = m_kernel.scheduler();
  d.running = true;
  unsigned r = IRQ_NONE;
  // handle_irq_event: every action, ORing their results; threaded parts after the hard handlers.
  const std::vector<IrqDesc::Action> actions = d.actions;  // a handler may free_irq itself
  for (const IrqDesc::Action& a : actions) {
    unsigned ar = IRQ_WAKE_THREAD;  // NULL handler: irq_default_primary_handler
    if (a.handler) {
      s.set_in_interrupt(true);
      ar = reinterpret_cast<irq_handler_t>(a.handler)(static_cast<int>(d.irq), a.dev_id);
      s.set_in_interrupt(false);
    }
    if ((ar & IRQ_WAKE_THREAD) && a.thread_fn)
      ar = reinterpret_cast<irq_handler_t>(a.thread_fn)(static_cast<int>(d.irq), a.dev_id);
    r |= ar;
  }
  d.running = false;
  if (r == IRQ_NONE) {
    ++d.unhandled;
    ++d.unhandled_run;
  } else {
    ++d.count;
    d.unhandled_run = 0;
  }
  if (d.level && d.unhandled_run >= kUnhandledLimit) {  // __report_bad_irq
    char b[128];
    std::snprintf(b, sizeof b, "irq %u: nobody cared (try booting with the \"irqpoll\" option)\n", d.irq);
    m_kernel.printk(LogLevel::Emerg, b);
    std::snprintf(b, sizeof b, "Disabling IRQ #%u\n", d.irq);
    m_kernel.printk(LogLevel::Emerg, b);
    ++d.disable_depth;
  } else if (d.level && d.asserted && d.disable_depth == 0) {
    // Still asserted: the level interrupt fires again. A handler that says it handled the line
    // but leaves it asserted would storm in zero simulated time: stop that the way Linux stops a
    // line nobody handles.
    const uint64_t now = static_cast<uint64_t>(sc_core::sc_time_stamp() / sc_core::sc_time(1, sc_core::SC_PS));
    if (now != d.refire_time_ps) {
      d.refire_time_ps = now;
      d.refires = 0;
    }
    if (++d.refires >= kUnhandledLimit) {
      char b[128];
      std::snprintf(b, sizeof b, "irq %u: interrupt storm: the line stays asserted after its handler; disabling\n", d.irq);
      m_kernel.printk(LogLevel::Emerg, b);
      ++d.disable_depth;
    } else {
      m_pending.push_back(d.irq);
    }
  }
  s.wake_all();
}

void IrqCore::loop() {
  Scheduler& s = m_kernel.scheduler();
  for (;;) {
    s.wait_until([this] { return (m_fault_pending || !m_pending.empty()) && m_disabled == 0; }, "interrupts");
    if (m_fault_pending) {
      m_fault_pending = false;
      if (IommuCore* core = m_kernel.iommu_hw()) core->service_faults();  // dmar_fault
    }
    while (!m_pending.empty() && m_disabled == 0) {
      const unsigned irq = m_pending.front();
      m_pending.pop_front();
      if (IrqDesc* d = desc(irq)) dispatch(*d);
    }
  }
}

std::vector<const IrqDesc*> IrqCore::all() const {
  std::vector<const IrqDesc*> v;
  for (const auto& [n, d] : m_irqs) v.push_back(&d);
  return v;
}

}  // namespace pciesim::cosim
