#include "pcie/hub.h"

#include "pcie/endpoint.h"
#include "pcie/route_cache.h"

namespace pciesim {

PciFunction* Hub::port_function(int port) const {
  const DownPort* p = find(port);
  return p ? p->fn : nullptr;
}

std::vector<PciFunction*> Hub::downstream_functions() const {
  std::vector<PciFunction*> v;
  for (const DownPort& p : m_down)
    if (p.fn) v.push_back(p.fn);
  return v;
}

void Hub::add_downstream(int port, PciFunction* fn, Endpoint* integrated) {
  m_down.push_back(DownPort{port, fn, integrated});
  invalidate_routes();
}

const Hub::DownPort* Hub::find(int port) const {
  for (const DownPort& p : m_down)
    if (p.port == port) return &p;
  return nullptr;
}

const Hub::DownPort* Hub::port_for_address(uint64_t addr) const {
  for (const DownPort& p : m_down) {
    if (p.fn ? p.fn->window_claims(addr) : p.integrated->claims(addr)) return &p;
  }
  return nullptr;
}

const Hub::DownPort* Hub::port_for_bus(uint8_t bus) const {
  for (const DownPort& p : m_down) {
    if (p.fn ? p.fn->bus_below(bus) : p.integrated->functions().front()->bdf().bus == bus) return &p;
  }
  return nullptr;
}

void Hub::note_unclaimed(RouteRecorder& rec) const {
  // port_for_address() found no port: no port window and no RCiEP BAR holds the address.
  for (const DownPort& p : m_down) {
    if (p.fn) {
      rec.not_claimed_by_windows(*p.fn);
    } else {
      for (const auto& f : p.integrated->functions()) rec.not_claimed_by_bars(*f);
    }
  }
}

void Hub::send_down(const DownPort& p, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  // While its Secondary Bus Reset bit is set the port holds its link in hot reset (PCI-to-PCI
  // Bridge 1.2 3.2.5.17, PCIe 6.6.1): nothing below answers.
  if (p.fn && (p.fn->bridge_control() & cfg::kBctlSecondaryBusReset)) {
    fail(gp, ext, Outcome::UnsupportedRequest, port_hop(p.port));
    return;
  }
  delay += traversal_latency(p.port);
  if (ext.recorder) ext.recorder->latency(traversal_latency(p.port));
  ext.add_hop(port_hop(p.port), delay);  // egress
  forward(p.port, gp, ext, delay);
  account_completion(ext, delay, p.port);
}

void Hub::account_completion(const PcieExtension& ext, sc_core::sc_time& delay, int port) const {
  // The completion crosses this hub again on its way back to the requester.
  if (is_non_posted(ext.kind) && !ext.completion_routed) {
    delay += traversal_latency(port);
    if (ext.recorder) ext.recorder->latency(traversal_latency(port));
  }
}

void Hub::route_config_down(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay,
                            uint8_t internal_bus, HopId here) {
  const RequesterId target = ext.cfg_target;
  const bool write = ext.kind == TlpKind::CfgWrite0 || ext.kind == TlpKind::CfgWrite1;
  if (target.bus == internal_bus) {
    // Type 0 on the internal bus: the port (or RCiEP) with this devfn.
    for (const DownPort& p : m_down) {
      if (p.fn && p.fn->bdf().devfn == target.devfn) {
        ext.kind = write ? TlpKind::CfgWrite0 : TlpKind::CfgRead0;
        complete_config(*p.fn, port_hop(p.port), gp, ext);
        return;
      }
      if (p.integrated && p.integrated->device_number() == int(target.device())) {
        ext.kind = write ? TlpKind::CfgWrite0 : TlpKind::CfgRead0;
        send_down(p, gp, ext, delay);
        return;
      }
    }
    fail(gp, ext, Outcome::UnsupportedRequest, here);
    return;
  }
  for (const DownPort& p : m_down) {
    if (!p.fn || !p.fn->bus_below(target.bus)) continue;
    if (target.bus == p.fn->secondary_bus()) {
      // PCI-to-PCI bridge 3.1.2.1: type 1 becomes type 0 on the secondary bus. PCIe 7.3.1: a
      // downstream port sends type 0 only to device 0 unless ARI forwarding is enabled.
      if (target.device() != 0 && !p.fn->ari_forwarding() &&
          p.fn->port_type() != PortType::PcieToPciBridge) {
        fail(gp, ext, Outcome::UnsupportedRequest, port_hop(p.port));
        return;
      }
      ext.kind = write ? TlpKind::CfgWrite0 : TlpKind::CfgRead0;
    } else {
      ext.kind = write ? TlpKind::CfgWrite1 : TlpKind::CfgRead1;
    }
    send_down(p, gp, ext, delay);
    return;
  }
  fail(gp, ext, Outcome::UnsupportedRequest, here);
}

void Hub::route_down(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay, HopId here) {
  const DownPort* p = ext.kind == TlpKind::Completion ? port_for_bus(ext.requester.bus)
                                                      : port_for_address(gp.get_address());
  if (!p) {
    fail(gp, ext, Outcome::UnsupportedRequest, here);
    return;
  }
  send_down(*p, gp, ext, delay);
}

void Hub::route_from_below(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  const DownPort* in = find(port);
  const HopId here = port_hop(port);
  if (is_config(ext.kind)) {  // configuration requests only travel downstream
    fail(gp, ext, Outcome::UnsupportedRequest, here);
    return;
  }
  if (ext.kind == TlpKind::Message) {  // routed by type, not address; BME does not apply (aer.h)
    message_from_below(port, gp, ext, delay);
    return;
  }
  PciFunction* pf = in ? in->fn : nullptr;
  if (pf) {
    // PCIe 7.5.1.1.3: a port with Bus Master Enable clear handles upstream requests as UR.
    if (ext.kind != TlpKind::Completion && !pf->bus_master()) {
      fail(gp, ext, Outcome::UnsupportedRequest, here);
      return;
    }
    // With ACS control all clear (the common case) no ingress check can act (acs.cpp).
    const AcsDecision d = pf->acs_control() ? acs_ingress_check(*pf, ext) : AcsDecision{};
    if (d.action == AcsAction::Block) {
      fail(gp, ext, Outcome::BlockedByAcs, here, d.bit);
      return;
    }
  }
  const bool completion = ext.kind == TlpKind::Completion;
  const DownPort* target = completion ? port_for_bus(ext.requester.bus) : port_for_address(gp.get_address());
  RouteTarget kind = !target ? RouteTarget::Upstream
                     : target->port == port ? RouteTarget::SamePort
                                            : RouteTarget::Peer;
  if (ext.recorder && !target && !completion) note_unclaimed(*ext.recorder);
  // A TLP that ACS already redirected below keeps climbing past ports with UF (6.12.1.1).
  // Upstream-bound TLPs pass every route check (acs.cpp): the DMA fast path skips the call.
  AcsDecision d{};
  if (pf && kind != RouteTarget::Upstream)
    d = acs_route_check(*pf, ext, kind, target && target->fn ? target->fn->port_number() : 0);
  if (d.action == AcsAction::Block) {
    fail(gp, ext, Outcome::BlockedByAcs, here, d.bit);
    return;
  }
  if (d.action == AcsAction::Redirect) {
    ext.note_redirect(d.bit, here);
    go_upstream(port, gp, ext, delay);
    return;
  }
  if (kind == RouteTarget::Upstream) {
    go_upstream(port, gp, ext, delay);
    return;
  }
  if (kind == RouteTarget::Peer && !peer_routing_allowed()) {
    fail(gp, ext, Outcome::UnsupportedRequest, here);
    return;
  }
  send_down(*target, gp, ext, delay);  // to the peer, or reflected back down the same port
  if (kind == RouteTarget::Peer && is_non_posted(ext.kind) && gp.get_response_status() == tlm::TLM_OK_RESPONSE)
    return_completion(*target, port, gp, ext, delay);
}

void Hub::message_from_below(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time&) {
  fail(gp, ext, Outcome::UnsupportedRequest, port_hop(port));
}

void Hub::return_completion(const DownPort& from, int to_port, tlm::tlm_generic_payload& gp, PcieExtension& ext,
                            sc_core::sc_time& delay) {
  // The completion enters at the completer's port and is ID-routed back to the requester's
  // port; ACS CR at its ingress port sends it upstream instead (PCIe 6.12.1.1).
  if (!from.fn) return;
  const DownPort* back = find(to_port);
  const TlpKind request_kind = ext.kind;
  ext.kind = TlpKind::Completion;
  AcsDecision d = acs_route_check(*from.fn, ext, RouteTarget::Peer, back && back->fn ? back->fn->port_number() : 0);
  if (d.action == AcsAction::Redirect) {
    ext.note_redirect(d.bit, port_hop(from.port));
    ext.completion_routed = true;
    ext.add_hop(port_hop(from.port), delay);
    go_upstream(from.port, gp, ext, delay);
  }
  ext.kind = request_kind;
  if (ext.completion_routed) gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace pciesim
