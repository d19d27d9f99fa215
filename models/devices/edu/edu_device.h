// QEMU's edu educational device (hw/misc/edu.c; docs/edu.md; hardware-facts 5) as a device model,
// register-compatible with QEMU's: a topology says `model: edu` (optionally
// `params: {dma_mask: 0x...}`) and gets vendor 1234 device 11e8, one conventional PCI function
// with a 1 MiB BAR0, one 64-bit MSI vector and INTA.
//
// The factorial worker and the DMA engine are SystemC threads of the device. DMA goes through
// Endpoint::dma, so it crosses the fabric and any remapping unit; a transfer that fails (an IOMMU
// fault, a UR, Bus Master Enable clear) is recorded as a guest error, as QEMU logs one, and the
// device carries on; a read that fails leaves zeros in the buffer, as QEMU's does.
//
// Reset: QEMU 7.2's edu has no reset handler, so by default a Secondary Bus Reset clears only what
// the generic PCI function holds (config space, MSI) and edu's registers and buffer survive it.
// `params: {reset: clear}` models a device that honours PCIe 6.6.2 instead.
#pragma once

#include <array>
#include <cstdint>
#include <systemc>
#include <vector>

#include "devices/edu/edu_regs.h"
#include "pcie/endpoint.h"

namespace pciesim {

class EduDevice : public Endpoint {
 public:
  SC_HAS_PROCESS(EduDevice);
  EduDevice(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment, const topo::LinkSpec* link);

  // edu.c edu_dma_timer runs the transfer 100 ms (QEMU_CLOCK_VIRTUAL) after the command write.
  static constexpr double kDmaDelayMs = 100.0;
  // QEMU's factorial worker is a host thread that takes no virtual time (edu.c edu_fact_thread);
  // one multiplication per nanosecond (a ~1 GHz core) stands in, so that a driver polling the
  // status register sees the computing bit.
  static constexpr double kFactorialStepNs = 1.0;

  // What QEMU reports with qemu_log_mask(LOG_GUEST_ERROR) (and the DMA failures it ignores),
  // kept where tests and tools can read them.
  enum class GuestError : uint8_t {
    DmaOutOfRange,   // the device-side window is outside 0x40000..0x40fff: nothing is moved
    DmaAddressClamped,  // the host address had bits outside dma_mask; the masked address is used
    DmaFailed,       // the transfer's TLP was not delivered (IOMMU fault, UR, Bus Master Enable clear)
  };
  struct GuestErrorRecord {
    GuestError kind;
    uint64_t address = 0;   // device-side window (range), host address (clamped, failed)
    uint64_t count = 0;     // transfer size
    Outcome outcome = Outcome::Pending;  // DmaFailed: the TLP's verdict
    uint16_t fault_reason = 0;           // DmaFailed at a remapping unit: the VT-d reason
  };
  const std::vector<GuestErrorRecord>& guest_errors() const { return m_guest_errors; }
  size_t guest_error_count(GuestError kind) const;

  // What a reset does to edu's own state (`params: {reset: qemu|clear}`).
  enum class ResetBehaviour : uint8_t {
    Qemu,   // QEMU 7.2: no reset handler; registers, buffer and work in flight survive
    Clear,  // registers to their reset values, work in flight dropped, buffer zeroed
  };
  ResetBehaviour reset_behaviour() const { return m_reset; }
  uint64_t dma_mask() const { return m_dma_mask; }
  uint64_t dma_transfers() const { return m_dma_transfers; }     // commands completed
  const std::array<uint8_t, edu::kDmaBufferSize>& dma_buffer() const { return m_buffer; }
  MsiResult last_msi() const { return m_last_msi; }              // result of the last MSI sent
  uint64_t msi_count() const { return m_msi_count; }             // MSIs attempted

 protected:
  void bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                  PcieExtension& ext, sc_core::sc_time& delay) override;
  // Called after the generic function reset (config space, MSI, INTx; Endpoint::reset_function).
  // QEMU 7.2's edu registers no reset handler (edu.c edu_class_init sets no dc->reset and edu
  // implements no resettable phases), so by default nothing of edu's own changes: registers,
  // buffer, a DMA timer or factorial in flight all carry on, as on QEMU. ResetBehaviour::Clear
  // returns everything to the table's reset values, drops work in flight and zeroes the buffer.
  void on_reset(unsigned fn, ResetKind kind) override;

 private:
  uint64_t& reg(uint32_t offset) { return m_values[static_cast<size_t>(edu::register_index(offset))]; }
  uint64_t read_register(const edu::Register& r) const;
  void write_register(const edu::Register& r, uint64_t value, const sc_core::sc_time& delay);
  void raise_irq(uint32_t bits, const sc_core::sc_time& delay);
  void lower_irq(uint32_t bits);
  void fact_worker();  // SC_THREAD
  void dma_engine();   // SC_THREAD
  // The transfer edu.c edu_dma_timer does; `delay` becomes its completion time.
  void transfer(sc_core::sc_time& delay);
  uint64_t clamp(uint64_t host_addr);
  void log(GuestError kind, uint64_t address, uint64_t count, Outcome o = Outcome::Pending, uint16_t reason = 0);

  std::array<uint64_t, edu::kRegisterCount> m_values{};
  std::array<uint8_t, edu::kDmaBufferSize> m_buffer{};
  uint64_t m_dma_mask = edu::kDefaultDmaMask;
  ResetBehaviour m_reset = ResetBehaviour::Qemu;
  sc_core::sc_event m_fact_start, m_dma_timer;
  uint64_t m_generation = 0;  // bumped by a Clear reset: work started before it is dropped
  uint64_t m_dma_transfers = 0, m_msi_count = 0;
  MsiResult m_last_msi = MsiResult::Disabled;
  std::vector<GuestErrorRecord> m_guest_errors;
};

// edu's FunctionSpec as QEMU realizes it (edu.c edu_class_init, pci_edu_realize): what a topology
// gets when it names the model without `functions`.
topo::FunctionSpec edu_function_spec();

}  // namespace pciesim
