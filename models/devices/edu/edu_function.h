// One QEMU edu (hw/misc/edu.c; docs/edu.md; hardware-facts 5) as one PCI function of an
// EduDevice: its BAR0 registers, its factorial worker and DMA engine (SystemC threads of this
// module), its 4 KiB buffer and its interrupt state. A two-function edu is two of these, as QEMU's
// `-device edu,addr=0x0.0x0,multifunction=on -device edu,addr=0x0.0x1` is two complete edus:
// nothing is shared but the device's link. DMA, MSI and INTx go out through the owning Endpoint
// with this function's number, so they carry its requester id and its capabilities.
#pragma once

#include <array>
#include <cstdint>
#include <systemc>
#include <vector>

#include "devices/edu/edu_regs.h"
#include "pcie/endpoint.h"

namespace pciesim {

class EduFunction : public sc_core::sc_module {
 public:
  // edu.c edu_dma_timer runs the transfer 100 ms (QEMU_CLOCK_VIRTUAL) after the command write.
  static constexpr double kDmaDelayMs = 100.0;
  // QEMU's factorial worker is a host thread that takes no virtual time (edu.c edu_fact_thread);
  // one multiplication per nanosecond (a ~1 GHz core) stands in, so that a driver polling the
  // status register sees the computing bit.
  static constexpr double kFactorialStepNs = 1.0;

  // What QEMU reports with qemu_log_mask(LOG_GUEST_ERROR) (and the DMA failures it ignores),
  // kept where tests and tools can read them.
  enum class GuestError : uint8_t {
    DmaOutOfRange,      // the device-side window is outside 0x40000..0x40fff: nothing is moved
    DmaAddressClamped,  // the host address had bits outside dma_mask; the masked address is used
    DmaFailed,          // the transfer's TLP was not delivered (IOMMU fault, UR, Bus Master Enable clear)
  };
  struct GuestErrorRecord {
    GuestError kind;
    uint64_t address = 0;   // device-side window (range), host address (clamped, failed)
    uint64_t count = 0;     // transfer size
    Outcome outcome = Outcome::Pending;  // DmaFailed: the TLP's verdict
    uint16_t fault_reason = 0;           // DmaFailed at a remapping unit: the VT-d reason
  };

  // What a reset does to edu's own state (`params: {reset: qemu|clear}`).
  enum class ResetBehaviour : uint8_t {
    Qemu,   // QEMU 7.2: no reset handler; registers, buffer and work in flight survive
    Clear,  // registers to their reset values, work in flight dropped, buffer zeroed
  };

  SC_HAS_PROCESS(EduFunction);
  // `device` issues this function's DMA and interrupts as function `fn`.
  EduFunction(sc_core::sc_module_name name, Endpoint& device, unsigned fn, uint64_t dma_mask, ResetBehaviour reset);

  // A BAR0 access of `len` bytes at `offset` (edu.c edu_mmio_read / edu_mmio_write). `delay` is
  // the request's: work it starts is timed from it.
  void mmio(bool is_read, uint64_t offset, uint8_t* data, unsigned len, const sc_core::sc_time& delay);
  // After the generic function reset (Endpoint::reset_function): nothing for Qemu, everything
  // back to the table's reset values for Clear.
  void reset();

  unsigned function_number() const { return m_fn; }
  uint64_t dma_mask() const { return m_dma_mask; }
  ResetBehaviour reset_behaviour() const { return m_reset; }
  const std::vector<GuestErrorRecord>& guest_errors() const { return m_guest_errors; }
  size_t guest_error_count(GuestError kind) const;
  uint64_t dma_transfers() const { return m_dma_transfers; }  // commands completed
  const std::array<uint8_t, edu::kDmaBufferSize>& dma_buffer() const { return m_buffer; }
  MsiResult last_msi() const { return m_last_msi; }  // result of the last MSI sent
  uint64_t msi_count() const { return m_msi_count; }  // MSIs attempted

 private:
  uint64_t& reg(uint32_t offset) { return m_values[static_cast<size_t>(edu::register_index(offset))]; }
  void write_register(const edu::Register& r, uint64_t value, const sc_core::sc_time& delay);
  void raise_irq(uint32_t bits, const sc_core::sc_time& delay);
  void lower_irq(uint32_t bits);
  void fact_worker();  // SC_THREAD
  void dma_engine();   // SC_THREAD
  // The transfer edu.c edu_dma_timer does; `delay` becomes its completion time.
  void transfer(sc_core::sc_time& delay);
  uint64_t clamp(uint64_t host_addr);
  void log(GuestError kind, uint64_t address, uint64_t count, Outcome o = Outcome::Pending, uint16_t reason = 0);

  Endpoint& m_device;
  const unsigned m_fn;
  const uint64_t m_dma_mask;
  const ResetBehaviour m_reset;
  std::array<uint64_t, edu::kRegisterCount> m_values{};
  std::array<uint8_t, edu::kDmaBufferSize> m_buffer{};
  sc_core::sc_event m_fact_start, m_dma_timer;
  uint64_t m_generation = 0;  // bumped by a Clear reset: work started before it is dropped
  uint64_t m_dma_transfers = 0, m_msi_count = 0;
  MsiResult m_last_msi = MsiResult::Disabled;
  std::vector<GuestErrorRecord> m_guest_errors;
};

}  // namespace pciesim
