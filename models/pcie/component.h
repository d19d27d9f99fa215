// Base of every fabric component (root complex, switch, PCIe-to-PCI bridge, endpoint): a SystemC
// module whose ports are numbered; port i is in[i]/out[i] of a pair of multi-passthrough sockets
// bound to the component at the other end of the link. Links add serialisation and queueing on
// the way out and the completions' on the way back; each component adds its own latency.
#pragma once

#include <memory>
#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <vector>

#include "pcie/link.h"
#include "pcie/function.h"
#include "pciesim/tlp.h"

namespace pciesim {

class Component : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<Component> in;
  tlm_utils::multi_passthrough_initiator_socket<Component> out;

  explicit Component(sc_core::sc_module_name name);

  // Declares port `index` (ports are declared in order 0, 1, 2...) and the hop it records.
  int add_port(HopId hop);
  HopId port_hop(int port) const { return m_ports[port].hop; }
  int port_count() const { return static_cast<int>(m_ports.size()); }
  Link* port_link(int port) const { return m_ports[port].link; }

  // Binds `upper`'s downstream-facing port to `lower`'s upstream port through `link`
  // (null: an internal connection with no link, e.g. an RCiEP or a conventional PCI bus).
  static void connect(Component& upper, int upper_port, Component& lower, int lower_port, Link* link);

 protected:
  // A TLP arrived at `port`. The ingress hop is already recorded.
  virtual void handle(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) = 0;
  // Sends the TLP out of `port`, across its link, and accounts the completion on return.
  void forward(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay);
  // Ends the transaction here with a failure verdict (UR, CA, ACS block).
  static void fail(tlm::tlm_generic_payload& gp, PcieExtension& ext, Outcome o, HopId at,
                   AcsBit bit = AcsBit::None);
  // Completes a type 0 config request at `fn` (which captures its id on writes).
  static void complete_config(PciFunction& fn, HopId hop, tlm::tlm_generic_payload& gp, PcieExtension& ext);

 private:
  void b_transport(int in_index, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  unsigned transport_dbg(int in_index, tlm::tlm_generic_payload& gp);

  struct Port {
    HopId hop = kNoHop;
    Link* link = nullptr;
    LinkDir out_dir = LinkDir::Down;  // direction of traffic leaving through this port
    int out_index = -1;               // index in `out`
  };
  std::vector<Port> m_ports;
 protected:
  bool m_record_ingress = true;  // endpoints record the function instead
 private:
  std::vector<int> m_port_of_in;  // in-socket index -> port
  int m_out_bound = 0, m_in_bound = 0;
};

// PCIe 2.2: requests that need a completion.
constexpr bool is_non_posted(TlpKind k) {
  return k != TlpKind::MemWrite && k != TlpKind::Message && k != TlpKind::Completion;
}

}  // namespace pciesim
