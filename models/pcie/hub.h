// What a switch and a root complex have in common: a set of downstream-facing ports (switch
// downstream ports, root ports, RCiEPs) on one internal bus, routing of TLPs down to them by
// bus number and address, and routing of TLPs that come up through them: to a peer, back down,
// or upstream, with ACS applied at the ingress port (PCIe 6.12). Subclasses say what
// "upstream" is (the switch's upstream port; the root complex's host side).
#pragma once

#include <vector>

#include "pcie/acs.h"
#include "pcie/component.h"
#include "pcie/function.h"

namespace pciesim {

class Endpoint;
class RouteRecorder;

class Hub : public Component {
 public:
  explicit Hub(sc_core::sc_module_name name) : Component(name) {}

  // The function of a downstream port (nullptr for an RCiEP or unknown port).
  PciFunction* port_function(int port) const;
  // All downstream ports: root ports / switch downstream ports, in port order.
  std::vector<PciFunction*> downstream_functions() const;

 protected:
  struct DownPort {
    int port = -1;
    PciFunction* fn = nullptr;         // root port or switch downstream port
    Endpoint* integrated = nullptr;    // RCiEP attached directly (root complex only)
  };
  void add_downstream(int port, PciFunction* fn, Endpoint* integrated = nullptr);

  // A TLP arrived from below at downstream port `port`.
  void route_from_below(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay);
  // Memory / completion going down: to the downstream port that claims it; UR otherwise.
  void route_down(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay, HopId here);
  // An I/O request, or a memory request in the legacy VGA window, going down (hub_legacy.cpp):
  // to the port with VGA Enable (or the VGA RCiEP) that claims it, else by I/O or memory
  // windows; UR otherwise (docs/vga.md).
  void route_legacy_down(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay, HopId here);
  // Config on this hub's internal bus (`bus` == internal bus) or below one of its ports.
  void route_config_down(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay,
                         uint8_t internal_bus, HopId here);

  // A message TLP that came up through downstream port `port` (the error messages of aer.h:
  // PCIe 6.2.8.1, switches forward them, the root port consumes them). Default: UR.
  virtual void message_from_below(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay);
  // Upstream of the hub; `ext.redirected` tells whether ACS sent it there.
  virtual void go_upstream(int from_port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) = 0;
  // Direct P2P between two downstream ports (root complexes may not route it).
  virtual bool peer_routing_allowed() const { return true; }
  // Latency of one traversal of the hub, ingress to egress, through downstream port `port`.
  virtual sc_core::sc_time traversal_latency(int port) const = 0;
  // Adds the traversal latency of the completion of a non-posted request on its way back.
  void account_completion(const PcieExtension& ext, sc_core::sc_time& delay, int port) const;
  // Sends out of a downstream port, adding the traversal latency.
  void send_down(const DownPort& p, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay);

  // After a direct P2P non-posted request: the completion's own trip back (ACS CR).
  void return_completion(const DownPort& from, int to_port, tlm::tlm_generic_payload& gp, PcieExtension& ext,
                         sc_core::sc_time& delay);

  const DownPort* port_for_address(uint64_t addr) const;
  // For the route cache: port_for_address() claimed nothing (see route_cache.h).
  void note_unclaimed(RouteRecorder& rec) const;
  const DownPort* port_for_bus(uint8_t bus) const;
  const DownPort* find(int port) const;

  std::vector<DownPort> m_down;
};

}  // namespace pciesim
