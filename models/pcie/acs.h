// ACS as applied at the ingress downstream port (root port or switch downstream port) to a TLP
// coming up from below (PCIe 6.12). Pure functions of the port's ACS control and the TLP, so
// every bit's effect is testable without SystemC; the components act on the decision.
#pragma once

#include "pcie/function.h"
#include "pciesim/tlp.h"

namespace pciesim {

enum class AcsAction : uint8_t {
  Pass,      // no ACS effect: route normally
  Block,     // ACS violation: the TLP ends here (bit says which)
  Redirect,  // send upstream instead of to the peer / back down (bit says which)
};

struct AcsDecision {
  AcsAction action = AcsAction::Pass;
  AcsBit bit = AcsBit::None;
};

// PCIe 6.12.1.1 SV and TB: checks on every upstream-bound request before routing.
// SV: the requester's bus must be in the port's [secondary, subordinate] range.
// TB: a request whose AT field is not "untranslated" is blocked.
AcsDecision acs_ingress_check(const PciFunction& port, const PcieExtension& tlp);

// Where normal routing would send a TLP that came up through `port`.
enum class RouteTarget : uint8_t {
  Upstream,   // not below this port's parent: goes up anyway
  SamePort,   // decodes back below the ingress port itself
  Peer,       // decodes to another downstream port (or RCiEP) below the same parent
};

// PCIe 6.12.1.1-6.12.1.2 for requests: UF (same port), DT, EC (egress vector indexed by the
// target port's number), RR (peer). For completions: UF and CR (relaxed-ordering completions
// are not redirected).
AcsDecision acs_route_check(const PciFunction& port, const PcieExtension& tlp, RouteTarget target,
                            unsigned target_port_number);

}  // namespace pciesim
