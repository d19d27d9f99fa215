// The root complex: host bridge with its ECAM window, root ports and root-complex integrated
// endpoints on the root bus. Downward traffic (CPU MMIO and config, and P2P coming back down
// after a trip upstream) enters at `cpu_in`; upstream traffic (DMA, redirected P2P) leaves at
// `host_out`, towards memory and, in the IOMMU issue, through the remapping unit.
// Component ports: root ports and RCiEPs, in the topology's order.
#pragma once

#include <memory>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "pcie/hub.h"
#include "pcie/topology/spec.h"

namespace pciesim {

class RootComplex : public Hub {
 public:
  tlm_utils::simple_target_socket<RootComplex> cpu_in;
  // Upstream towards the host: binding 0 is the host bus itself; further bindings are remapping
  // units, each covering the ports route_upstream() assigns to it (ACPI DRHD scopes).
  tlm_utils::multi_passthrough_initiator_socket<RootComplex> host_out;

  RootComplex(sc_core::sc_module_name name, const topo::RootComplexSpec& spec);

  const topo::RootComplexSpec& spec() const { return m_spec; }
  int segment() const { return m_spec.segment; }
  uint8_t root_bus() const { return static_cast<uint8_t>(m_spec.root_bus); }
  HopId host_hop() const { return m_host_hop; }

  // Root port i (topology order) and its component port.
  PciFunction& root_port(size_t i) { return *m_root_ports.at(i); }
  size_t root_port_count() const { return m_root_ports.size(); }
  int root_port_component_port(size_t i) const { return m_rp_ports.at(i); }
  // Attaches an RCiEP built by the fabric; returns its component port.
  int attach_integrated(Endpoint& ep);
  // Binds another upstream path (a remapping unit) to host_out; returns its binding index.
  template <class TargetSocket>
  int attach_upstream(TargetSocket& target) {
    host_out.bind(target);
    return m_host_out_bound++;
  }
  // Upstream traffic entering through component `port` leaves through host_out binding `index`.
  void route_upstream(int port, int index);
  int upstream_index(int port) const {
    return size_t(port) < m_upstream_index.size() ? m_upstream_index[port] : 0;
  }
  // Component ports of every root port and RCiEP.
  std::vector<int> upstream_ports() const;
  // Component port of a root port or RCiEP by topology name (-1 when none).
  int port_by_name(const std::string& name) const;

  // Root-port traversal latency, per root port by its link generation (link_constants.h:
  // root_port_latency); not published for modern parts, so a calibration parameter.
  void set_latency(sc_core::sc_time t);

 protected:
  void handle(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) override;
  void go_upstream(int from_port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) override;
  bool peer_routing_allowed() const override { return m_spec.p2p; }
  // ERR_* messages end at the root port they came up through: it logs them and interrupts
  // (aer.h). A root port's own AER interrupt: MSI when enabled (a memory write upstream with the
  // port's requester id), else its INTx state, which follows Root Error Status.
  void message_from_below(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) override;

 public:
  // Root port `rp` (at component `port`) detected or received an error message: log it and
  // interrupt as Root Error Command asks.
  void root_port_error(int port, PciFunction& rp, uint8_t message_code, RequesterId source, sc_core::sc_time& delay);

 protected:
  sc_core::sc_time traversal_latency(int port) const override {
    return size_t(port) < m_port_latency.size() ? m_port_latency[port] : m_integrated_latency;
  }

 private:
  void from_cpu(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);

  topo::RootComplexSpec m_spec;
  std::vector<std::unique_ptr<PciFunction>> m_root_ports;
  std::vector<int> m_rp_ports;
  std::vector<int> m_upstream_index;  // component port -> host_out binding
  int m_host_out_bound = 0;
  std::vector<std::pair<std::string, int>> m_port_names;
  HopId m_host_hop;
  std::vector<sc_core::sc_time> m_port_latency;  // component port -> traversal latency
  sc_core::sc_time m_integrated_latency;         // RCiEPs sit on the internal fabric
};

}  // namespace pciesim
