// A PCIe switch (PCIe 1.3.3): an upstream port, an internal bus, N downstream ports. Port 0 is
// the upstream link; ports 1..N are the downstream ports in the order the topology lists them.
#pragma once

#include <memory>

#include "pcie/hub.h"
#include "pcie/topology/spec.h"

namespace pciesim {

class Switch : public Hub {
 public:
  static constexpr int kUpstreamPort = 0;

  Switch(sc_core::sc_module_name name, const topo::SwitchSpec& spec, const topo::LinkSpec& upstream_link,
         int segment);

  PciFunction& upstream_function() { return *m_usp; }
  const topo::SwitchSpec& spec() const { return m_spec; }
  // Downstream port `i` (0-based, the topology's order) is component port i + 1.
  PciFunction& downstream_function(size_t i) { return *m_dsps.at(i); }
  size_t downstream_count() const { return m_dsps.size(); }

 protected:
  void handle(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) override;
  void go_upstream(int from_port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) override;
  sc_core::sc_time traversal_latency(int) const override { return m_latency; }
  // ERR_* messages: through the ingress downstream port, then the upstream port, as their
  // Bridge Control / Command / Device Control registers allow (aer.h).
  void message_from_below(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) override;

 private:
  topo::SwitchSpec m_spec;
  std::unique_ptr<PciFunction> m_usp;
  std::vector<std::unique_ptr<PciFunction>> m_dsps;
  sc_core::sc_time m_latency;
};

}  // namespace pciesim
