// What the interrupt steps of a scenario file say (docs/scenarios-steps.md, "Interrupts"): the
// fields of irq_setup, the device's own MSI and the copied MSI of `msi`, irte, and the
// `interrupt` expectation with its vector / destination / eventfd checks. Plain data, parsed by
// scenario_irq_parse.cpp and run by scenario_irq.cpp; scenario.h holds one of each in Step and
// Expect.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pciesim::scenario {

struct IrqStepSpec {
  // irq_setup: how many vectors, and which capability ("msi", "msix"; "" = MSI when the
  // function has it, else MSI-X)
  unsigned vectors = 1;
  std::string type;
  // msi: the device's own vector (`from` sends it through its MSI capability / MSI-X table), or,
  // with `copy`, the message `copy`'s vector is programmed with, forged by `from` (a DMA agent).
  // irte: the vector whose IRTE changes.
  std::optional<unsigned> vector;
  std::string copy;
  // irte set: (unset fields keep what the kernel wrote)
  std::optional<bool> present;
  std::optional<std::string> sid;        // "05:00.0": the IRTE's SID (SVT 01: requester id)
  std::optional<std::string> svt;        // none | requester | bus
  std::optional<uint8_t> new_vector;     // the IRTE's vector
  std::optional<uint32_t> dest;          // the IRTE's destination APIC id
  bool invalidate = true;                // issue the index-selective IEC invalidation after the write

  bool own_or_copy() const { return vector.has_value(); }
};

struct InterruptExpect {
  std::optional<bool> delivered;          // interrupt: delivered (true) | blocked (false)
  std::optional<unsigned> vector;         // the APIC vector that arrived; kAssigned = the kernel's
  std::optional<uint32_t> destination;    // the destination APIC id that arrived
  std::optional<bool> eventfd;            // the VFIO owner's eventfd for the vector was signalled
  static constexpr unsigned kAssigned = 0x100;  // `vector: assigned`
  bool any() const { return delivered || vector || destination || eventfd; }
};

}  // namespace pciesim::scenario
