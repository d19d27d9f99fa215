// The interrupt steps of a scenario (docs/scenarios-steps.md, "Interrupts"): a device's owner
// enables MSI / MSI-X through the kernel (VFIO: VFIO_DEVICE_SET_IRQS with an eventfd per vector;
// DMA API: pci_alloc_irq_vectors), so the intel-iommu driver allocates IRTEs and the PCI core writes
// the remappable-format messages into the device; the device sends its own MSI exactly as its MSI
// capability / MSI-X table is programmed; the IRTE the kernel allocated for a vector is changed in
// the in-memory table with or without the interrupt-entry-cache invalidation; and the `interrupt`
// expectation is judged from what the local APIC sink recorded (and the VFIO eventfd).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "devices/dma_agent/dma_agent.h"  // AgentResult: how the MSI write ended
#include "pcie/fabric.h"
#include "scenario.h"

namespace pciesim::cosim {
class Kernel;
class VfioDeviceFile;
struct PciDev;
}  // namespace pciesim::cosim

namespace pciesim::scenario {

class ScenarioIrq {
 public:
  ScenarioIrq(Fabric& fabric, cosim::Kernel& kernel) : m_fabric(fabric), m_kernel(kernel) {}

  // irq_setup for `f`. `vfio`: the VFIO owner's device file (SET_IRQS with eventfds), nullptr
  // for a DMA API owner (pci_alloc_irq_vectors). 0 or -errno as the ioctl / call returned it.
  int setup(const Step& st, const FunctionInfo& f, cosim::VfioDeviceFile* vfio);

  // msi {from, vector}: function `f` signals `vector` (PCI 3.0 6.8: the message its capability /
  // table holds, as Endpoint::signal_msi sends it). A vector that is not sent (MSI disabled, Bus
  // Master clear, masked) ends Pending with the reason in `why`.
  AgentResult send_own(const FunctionInfo& f, unsigned vector, uint64_t& address, std::string& why);
  // The message `f`'s `vector` is programmed with now; "" or why there is none.
  std::string programmed(const FunctionInfo& f, unsigned vector, uint64_t& address, uint32_t& data) const;

  // irte: rewrites the IRTE the kernel allocated for st.irq.vector of `f` and, if asked, issues
  // the index-selective IEC invalidation (qi_flush_iec). 0 or the invalidation's error.
  int modify_irte(const Step& st, const FunctionInfo& f);

  // Around an msi step: `target` is the device whose vector the message names (own or copied;
  // nullptr for a forged address/data). begin() remembers what the APIC sink holds and drains
  // the eventfd the step checks; judge() adds the interrupt expectations to `r`.
  void begin(const Step& st, const FunctionInfo* target);
  void judge(const Step& st, const FunctionInfo* target, RequesterId wire, StepResult& r);

 private:
  cosim::PciDev& pcidev(const FunctionInfo& f) const;
  // The IRTE index of `vector` of `f` (the kernel's record), or -1.
  int irte_index(const cosim::PciDev& d, unsigned vector) const;
  int eventfd_of(const std::string& device, unsigned vector) const;

  Fabric& m_fabric;
  cosim::Kernel& m_kernel;
  std::map<std::string, std::vector<int>> m_eventfds;  // device -> eventfd per vector (VFIO owners)
  size_t m_seen = 0;                                     // APIC sink deliveries before the step
};

// What the step order alone decides, checked before the machine is built (bad input is reported
// before any simulation runs): irq_setup names an owned device; irte and an eventfd expectation
// come after an irq_setup of that device that gave the vector (by a VFIO owner for the eventfd).
// Throws ScenarioError with the same text the run would give.
void check_irq_steps(const Scenario& s);

}  // namespace pciesim::scenario
