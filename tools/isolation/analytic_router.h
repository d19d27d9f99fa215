// The analytic half of the isolation oracle: the route of a P2P request worked out along the
// fabric's ports without sending a TLP, for machines too large for real TLPs on every pair.
//
// Each decision is the fabric's own: ACS through acs_ingress_check()/acs_route_check()
// (models/pcie/acs.h, the functions the hubs call), claims through PciFunction::window_claims()
// and claim(), Bus Master Enable as hub.cpp and switch.cpp test it. What is restated is the order
// in which Hub::route_from_below, Switch::go_upstream, Endpoint::issue (sibling functions) and
// PciBridge (shared conventional bus) take those decisions; tests/tools/isolation_test.cpp
// checks the walk against real TLPs on every pair of several topologies. Where the walk does not
// model a construct (a PCI-to-PCI bridge behind a PCIe-to-PCI bridge) it says so and the caller
// sends real TLPs for that pair.
#pragma once

#include <memory>
#include <optional>

#include "isolation/isolation.h"

namespace pciesim::isolation {

class AnalyticRouter {
 public:
  explicit AnalyticRouter(const Fabric& fabric);
  ~AnalyticRouter();
  // The route of a memory request from `src` to `addr`, a memory BAR address of `dst`.
  // nullopt: not modelled here (send a real TLP).
  std::optional<TlpResult> route(const FunctionInfo& src, const FunctionInfo& dst, uint64_t addr) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

// Every pair by the analytic walk (MemWrite and MemRead take the same request path: ACS treats
// requests alike, PCIe 6.12.1); pairs the walk does not model are sent as real TLPs.
IsolationMatrix analytic_matrix(Fabric& fabric);

}  // namespace pciesim::isolation
