// QEMU's edu educational device (hw/misc/edu.c; docs/edu.md; hardware-facts 5) as a device model,
// register-compatible with QEMU's: a topology says `model: edu` (optionally
// `params: {dma_mask: 0x..., reset: qemu|clear, pcie: true}`) and gets vendor 1234 device 11e8,
// one conventional PCI function with a 1 MiB BAR0, one 64-bit MSI vector and INTA.
//
// `functions: [{function: 0}, {function: 1}]` gives one complete edu per listed function, as QEMU's
// `-device edu,addr=0x0.0x0,multifunction=on -device edu,addr=0x0.0x1`: each an EduFunction
// (edu_function.h) with its own registers, engines, buffer, MSI capability, INTA pin and
// requester id. A function entry takes only `function:`; the rest is edu's.
//
// DMA goes through Endpoint::dma, so it crosses the fabric and any remapping unit; a transfer that
// fails (an IOMMU fault, a UR, Bus Master Enable clear) is recorded as a guest error, as QEMU logs
// one, and the device carries on; a read that fails leaves zeros in the buffer, as QEMU's does.
//
// Reset: QEMU 7.2's edu has no reset handler, so by default a reset clears only what the generic
// PCI function holds (config space, MSI) and edu's registers and buffer survive it.
// `params: {reset: clear}` models a device that honours PCIe 6.6.2 instead, function by function.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <systemc>
#include <vector>

#include "devices/edu/edu_function.h"
#include "devices/edu/edu_regs.h"
#include "pcie/endpoint.h"

namespace pciesim {

class EduDevice : public Endpoint {
 public:
  EduDevice(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment, const topo::LinkSpec* link);

  static constexpr double kDmaDelayMs = EduFunction::kDmaDelayMs;
  static constexpr double kFactorialStepNs = EduFunction::kFactorialStepNs;
  using GuestError = EduFunction::GuestError;
  using GuestErrorRecord = EduFunction::GuestErrorRecord;
  using ResetBehaviour = EduFunction::ResetBehaviour;

  // The edu behind function `fn`; throws std::out_of_range when the device has no such function.
  const EduFunction& edu_function(unsigned fn) const;
  bool has_edu_function(unsigned fn) const { return fn < m_edus.size() && m_edus[fn]; }

  // Device-wide parameters (every function has the same).
  ResetBehaviour reset_behaviour() const { return m_reset; }
  uint64_t dma_mask() const { return m_dma_mask; }

  // Function `fn`'s state (function 0 unless told).
  const std::vector<GuestErrorRecord>& guest_errors(unsigned fn = 0) const { return edu_function(fn).guest_errors(); }
  size_t guest_error_count(GuestError kind, unsigned fn = 0) const { return edu_function(fn).guest_error_count(kind); }
  uint64_t dma_transfers(unsigned fn = 0) const { return edu_function(fn).dma_transfers(); }
  const std::array<uint8_t, edu::kDmaBufferSize>& dma_buffer(unsigned fn = 0) const {
    return edu_function(fn).dma_buffer();
  }
  MsiResult last_msi(unsigned fn = 0) const { return edu_function(fn).last_msi(); }
  uint64_t msi_count(unsigned fn = 0) const { return edu_function(fn).msi_count(); }

 protected:
  // BAR0 of function `fn_no` reaches that function's edu; its other BARs do not exist.
  void bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                  PcieExtension& ext, sc_core::sc_time& delay) override;
  // Called after the generic function reset (config space, MSI, INTx; Endpoint::reset_function).
  // QEMU 7.2's edu registers no reset handler (edu.c edu_class_init sets no dc->reset and edu
  // implements no resettable phases), so by default nothing of edu's own changes: registers,
  // buffer, a DMA timer or factorial in flight all carry on, as on QEMU. ResetBehaviour::Clear
  // returns function `fn`'s edu to the table's reset values, drops its work in flight and zeroes
  // its buffer; the other functions' edus are not touched.
  void on_reset(unsigned fn, ResetKind kind) override;

 private:
  uint64_t m_dma_mask;
  ResetBehaviour m_reset;
  std::vector<std::unique_ptr<EduFunction>> m_edus;  // function number -> edu (nullptr: no function)
};

// edu's FunctionSpec as QEMU realizes it (edu.c edu_class_init, pci_edu_realize): what a topology
// gets for each function it lists, and for function 0 when it names the model without `functions`.
topo::FunctionSpec edu_function_spec(int function = 0);

}  // namespace pciesim
