// Interrupts in the co-simulated kernel (kernel/irq, arch/x86/kernel/apic/vector.c): Linux IRQ
// numbers with an x86 vector each, handlers registered with request_threaded_irq, and the
// interrupt context they run in. An interrupt reaches the local APIC sink inside the sending
// device's transaction; the sink's listener only queues it, and the interrupt task runs the
// handler afterwards (as a CPU takes the interrupt at its next instruction boundary), so a handler
// may do MMIO. Local interrupts disabled (spin_lock_irqsave, local_irq_save) hold handlers back.
// A unit's fault event runs the intel-iommu fault handler the same way.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "iommu/local_apic_sink.h"

namespace pciesim::cosim {

class Kernel;

struct IrqDesc {
  unsigned irq = 0;
  uint8_t vector = 0;
  // irq_handler_t, stored as a generic function pointer (cast back in irq_core.cpp)
  using Handler = void (*)();
  // struct irqaction: several on a line only when every one asked for IRQF_SHARED.
  struct Action {
    Handler handler = nullptr, thread_fn = nullptr;
    void* dev_id = nullptr;
    std::string name;
    unsigned long flags = 0;
  };
  std::vector<Action> actions;
  int disable_depth = 0;
  bool pending_while_disabled = false;
  uint64_t count = 0;        // handled (/proc/interrupts)
  uint64_t unhandled = 0;    // handler returned IRQ_NONE
  bool running = false;
  bool level = false;        // a level-triggered line (INTx)
  bool asserted = false;     // its state
  uint64_t unhandled_run = 0;
  uint64_t refire_time_ps = 0, refires = 0;  // re-fires of a held line without time passing
};

class IrqCore {
 public:
  // Linux numbers device interrupts after the 16 legacy and 8 IOAPIC lines; device vectors run
  // from FIRST_EXTERNAL_VECTOR + 1 to the first system vector (arch/x86/include/asm/irq_vectors.h).
  static constexpr unsigned kFirstIrq = 24;
  static constexpr uint8_t kFirstVector = 0x21, kLastVector = 0xeb;
  static constexpr uint32_t kApicId = 0;  // every interrupt goes to CPU 0

  explicit IrqCore(Kernel& kernel);
  void start();  // spawns the interrupt task

  // `count` IRQ numbers with consecutive vectors (multi-MSI needs them in order). Returns the
  // first IRQ, or -ENOSPC.
  int alloc(unsigned count);
  void free(unsigned irq);
  IrqDesc* desc(unsigned irq);
  uint8_t vector_of(unsigned irq) const;

  int request(unsigned irq, IrqDesc::Handler handler, IrqDesc::Handler thread_fn, unsigned long flags,
              const char* name, void* dev_id);
  const void* release(unsigned irq, void* dev_id);
  void disable(unsigned irq);
  void enable(unsigned irq);
  void synchronize(unsigned irq);

  // Local interrupt state of the (single) CPU.
  unsigned long save_and_disable();
  void restore(unsigned long flags);
  bool disabled() const { return m_disabled > 0; }

  // From the APIC sink (device context): queue and wake the interrupt task.
  void deliver(const vtd::DeliveredInterrupt& irq);
  void fault_event();
  // Raises `irq` directly (an edge).
  void raise(unsigned irq);
  // Creates IOAPIC line `irq` (level-triggered) if it does not exist yet.
  void ensure_line(unsigned irq);
  // A level-triggered line (INTx through the IOAPIC): a handler runs on assertion and again while
  // the line stays asserted after it returned (note_interrupt's storm detection disables a line
  // nobody handles).
  void set_line(unsigned irq, bool asserted);
  bool line_asserted(unsigned irq) const;
  // note_interrupt: this many unhandled interrupts in a row disable the line ("nobody cared").
  static constexpr uint64_t kUnhandledLimit = 1000;

  uint64_t spurious() const { return m_spurious; }
  std::vector<const IrqDesc*> all() const;

 private:
  void loop();
  void dispatch(IrqDesc& d);

  Kernel& m_kernel;
  std::map<unsigned, IrqDesc> m_irqs;
  std::map<uint8_t, unsigned> m_by_vector;
  std::deque<unsigned> m_pending;   // IRQ numbers
  bool m_fault_pending = false;
  unsigned m_disabled = 0;
  uint64_t m_spurious = 0;
  bool m_started = false;
};

}  // namespace pciesim::cosim
