#include "pcie/acs.h"

namespace pciesim {

AcsDecision acs_ingress_check(const PciFunction& port, const PcieExtension& tlp) {
  if (tlp.kind == TlpKind::Completion) return {};
  if (port.acs(AcsBit::SV)) {
    const uint8_t bus = tlp.requester.bus;
    if (bus < port.secondary_bus() || bus > port.subordinate_bus()) return {AcsAction::Block, AcsBit::SV};
  }
  if (port.acs(AcsBit::TB) && is_memory(tlp.kind) && tlp.at != AddressType::Untranslated)
    return {AcsAction::Block, AcsBit::TB};
  return {};
}

AcsDecision acs_route_check(const PciFunction& port, const PcieExtension& tlp, RouteTarget target,
                            unsigned target_port_number) {
  if (target == RouteTarget::Upstream) return {};
  if (target == RouteTarget::SamePort) {
    // 6.12.1.1 UF: instead of reflecting it back down, forward it upstream.
    if (port.acs(AcsBit::UF)) return {AcsAction::Redirect, AcsBit::UF};
    return {};
  }
  if (tlp.kind == TlpKind::Completion) {
    if (port.acs(AcsBit::CR) && !tlp.relaxed_ordering) return {AcsAction::Redirect, AcsBit::CR};
    return {};
  }
  // 6.12.1.1 DT: translated P2P requests go direct even where RR or EC would redirect them.
  if (port.acs(AcsBit::DT) && tlp.at == AddressType::Translated) return {};
  // 6.12.1.2 EC: a set vector bit for the destination blocks the request, or redirects it
  // when RR is also set.
  if (port.acs(AcsBit::EC) && port.egress_blocked(target_port_number)) {
    if (port.acs(AcsBit::RR)) return {AcsAction::Redirect, AcsBit::EC};
    return {AcsAction::Block, AcsBit::EC};
  }
  if (port.acs(AcsBit::RR)) return {AcsAction::Redirect, AcsBit::RR};
  return {};
}

}  // namespace pciesim
