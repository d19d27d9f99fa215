// The analytic walk (analytic_router.h). Each step names the fabric code whose order it follows.
#include "isolation/analytic_router.h"

#include <unordered_map>

#include "pcie/acs.h"
#include "pcie/endpoint.h"
#include "pcie/port_registry.h"

namespace pciesim::isolation {

namespace {

struct Down {
  const FunctionInfo* port = nullptr;  // root port / switch downstream port
  const Endpoint* integrated = nullptr;
  HopId hop = kNoHop;
};

struct HubView {
  bool root_complex = false;
  bool p2p = true;                    // RootComplexSpec::p2p (RootComplex::peer_routing_allowed)
  const FunctionInfo* usp = nullptr;  // switch upstream port
  HopId host_hop = kNoHop;
  std::vector<Down> downs;
};

}  // namespace

struct AnalyticRouter::Impl {
  const Fabric& fabric;
  std::unordered_map<const PciFunction*, HopId> hop_of;     // first hop interned with the function
  std::unordered_map<const PciFunction*, size_t> hub_of;    // port -> its hub
  std::unordered_map<const Endpoint*, std::pair<size_t, size_t>> rciep;  // RCiEP -> hub, down index
  std::unordered_map<int, size_t> rc_of_segment;
  std::unordered_map<const PciFunction*, const FunctionInfo*> info_of;
  std::vector<HubView> hubs;

  explicit Impl(const Fabric& f) : fabric(f) {
    for (HopId h = 0; h < hops().size(); ++h)
      if (const PciFunction* fn = hops().function(h)) hop_of.emplace(fn, h);
    for (const FunctionInfo& i : fabric.functions()) info_of[i.fn] = &i;
    for (const topo::RootComplexSpec& rc : fabric.spec().root_complexes) {
      HubView hv;
      hv.root_complex = true;
      hv.p2p = rc.p2p;
      const std::string name = rc.name + ".host";
      for (HopId h = 0; h < hops().size(); ++h)
        if (!hops().function(h) && hops().name(h) == name) hv.host_hop = h;
      rc_of_segment[rc.segment] = hubs.size();
      hubs.push_back(hv);
    }
    for (const FunctionInfo& i : fabric.functions()) {
      if (i.role == FunctionRole::RootPort || (i.role == FunctionRole::Integrated && !i.parent)) {
        auto it = rc_of_segment.find(i.segment);
        if (it == rc_of_segment.end()) continue;
        HubView& hv = hubs[it->second];
        if (i.role == FunctionRole::RootPort) {
          hub_of[i.fn] = it->second;
          hv.downs.push_back(Down{&i, nullptr, hop(i.fn)});
        } else if (!rciep.count(i.endpoint)) {
          // The root complex's port for an RCiEP is named "<rc>.<endpoint>" (root_complex.cpp).
          HopId h = kNoHop;
          const std::string pname = rc_name(i.segment) + "." + i.endpoint->spec().name;
          for (HopId k = 0; k < hops().size(); ++k)
            if (!hops().function(k) && hops().name(k) == pname) h = k;
          rciep[i.endpoint] = {it->second, hv.downs.size()};
          hv.downs.push_back(Down{nullptr, i.endpoint, h});
        }
      } else if (i.role == FunctionRole::SwitchUpstream) {
        HubView hv;
        hv.usp = &i;
        const size_t index = hubs.size();
        for (const FunctionInfo* c : fabric.children(i.fn))
          if (c->role == FunctionRole::SwitchDownstream) {
            hv.downs.push_back(Down{c, nullptr, hop(c->fn)});
            hub_of[c->fn] = index;
          }
        hubs.push_back(hv);
      }
    }
  }

  std::string rc_name(int segment) const {
    for (const topo::RootComplexSpec& rc : fabric.spec().root_complexes)
      if (rc.segment == segment) return rc.name;
    return "";
  }
  HopId hop(const PciFunction* fn) const {
    auto it = hop_of.find(fn);
    return it == hop_of.end() ? kNoHop : it->second;
  }
  const FunctionInfo* info(const PciFunction* fn) const {
    auto it = info_of.find(fn);
    return it == info_of.end() ? nullptr : it->second;
  }

  static TlpResult ended(PathClass cls, Outcome o, HopId at, AcsBit bit = AcsBit::None) {
    TlpResult r;
    r.cls = cls;
    r.outcome = o;
    r.port = at;
    r.bit = bit;
    return r;
  }

  // Hub::port_for_address
  const Down* claiming(const HubView& hv, uint64_t addr) const {
    for (const Down& d : hv.downs)
      if (d.port ? d.port->fn->window_claims(addr) : d.integrated->claims(addr)) return &d;
    return nullptr;
  }

  // From a hub's downstream port down to `dst`: every bridge on the way must claim the address
  // (Switch::handle checks the upstream port's windows, Hub::route_down the downstream ports'),
  // then the function's BAR with Memory Space Enable (PciFunction::claim).
  std::optional<TlpResult> descend(const Down& d, const FunctionInfo& dst, uint64_t addr, PathClass cls) const {
    if (d.integrated) {
      if (d.integrated != dst.endpoint) return std::nullopt;  // another RCiEP claims it: not modelled
      if (dst.fn->claim(addr, false) < 0) return ended(cls, Outcome::UnsupportedRequest, d.hop);
      return ended(cls, Outcome::Delivered, hop(dst.fn));
    }
    std::vector<const FunctionInfo*> chain;  // dst's bridges below d.port, bottom up
    for (const FunctionInfo* a = info(dst.parent); a && a != d.port; a = info(a->parent)) {
      if (a->role == FunctionRole::PciToPciBridge) return std::nullopt;
      chain.push_back(a);
      if (!a->parent) return std::nullopt;  // d.port is not above dst: overlapping windows
    }
    if (dst.parent != d.port->fn && chain.empty()) return std::nullopt;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it)
      if (!(*it)->fn->window_claims(addr)) return ended(cls, Outcome::UnsupportedRequest, hop((*it)->fn));
    if (dst.fn->claim(addr, false) < 0) return ended(cls, Outcome::UnsupportedRequest, hop(dst.fn));
    return ended(cls, Outcome::Delivered, hop(dst.fn));
  }

  // From the host side back down: the root complex of the target's segment routes by its ports'
  // windows (RootComplex from_cpu -> Hub::route_down). The IOMMU saw the request on its way.
  std::optional<TlpResult> from_host(const FunctionInfo& dst, uint64_t addr, HopId host_hop) const {
    auto it = rc_of_segment.find(dst.segment);
    if (it == rc_of_segment.end()) return std::nullopt;
    const Down* d = claiming(hubs[it->second], addr);
    if (!d) return ended(PathClass::ViaIommu, Outcome::UnsupportedRequest, host_hop);
    return descend(*d, dst, addr, PathClass::ViaIommu);
  }

  std::optional<TlpResult> route(const FunctionInfo& src, const FunctionInfo& dst, uint64_t addr) const {
    PcieExtension ext;
    ext.kind = TlpKind::MemWrite;
    ext.requester = src.endpoint->dma_requester(src.function_number);
    ext.original_requester = src.bdf();
    ext.record_path = false;
    AcsBit redirect_bit = AcsBit::None;
    HopId redirect_port = kNoHop;
    auto finish = [&](std::optional<TlpResult> r) {
      if (r) r->addr = addr;
      if (r && r->redirect_bit == AcsBit::None) {
        r->redirect_bit = redirect_bit;
        r->redirect_port = redirect_port;
      }
      return r;
    };
    auto note = [&](AcsBit bit, HopId at) {
      if (redirect_bit == AcsBit::None) {
        redirect_bit = bit;
        redirect_port = at;
      }
    };
    const PciFunction& f = *src.fn;
    const HopId origin = hop(src.fn);
    // Endpoint::issue: Bus Master Enable, then a sibling function's BAR inside the device.
    if (!f.bus_master()) return finish(ended(PathClass::Blocked, Outcome::UnsupportedRequest, origin));
    if (dst.endpoint == src.endpoint && dst.fn->claim(addr, false) >= 0) {
      const unsigned n = dst.function_number;
      const bool ec = f.acs(AcsBit::EC) && f.egress_blocked(n);
      if (ec && !f.acs(AcsBit::RR)) return finish(ended(PathClass::Blocked, Outcome::BlockedByAcs, origin, AcsBit::EC));
      if (!f.acs(AcsBit::RR) && !ec) return finish(ended(PathClass::Open, Outcome::Delivered, hop(dst.fn)));
      note(f.acs(AcsBit::RR) ? AcsBit::RR : AcsBit::EC, origin);
    } else if (dst.endpoint == src.endpoint) {
      // A sibling with decoding off claims nothing; the request leaves the device.
    } else {
      // Another device's function on the same bus? (shared conventional bus, below)
    }

    // The component above the device that issued it (or the bridge it climbed to).
    const FunctionInfo* above = info(src.parent);
    const Endpoint* rc_integrated = src.parent ? nullptr : src.endpoint;
    for (int guard = 0; guard < 64; ++guard) {
      size_t hub_index;
      const FunctionInfo* pf = nullptr;
      HopId here;
      if (rc_integrated) {  // an RCiEP: its port on the root complex has no function (no ACS, no BME)
        auto it = rciep.find(rc_integrated);
        if (it == rciep.end()) return std::nullopt;
        hub_index = it->second.first;
        here = hubs[hub_index].downs[it->second.second].hop;
        rc_integrated = nullptr;
      } else if (!above) {
        return std::nullopt;
      } else if (above->role == FunctionRole::PcieToPciBridge || above->role == FunctionRole::PciToPciBridge) {
        // PciBridge, from a device on its conventional bus: a device on the same bus that claims
        // the address takes it (DEVSEL); otherwise the bridge forwards it upstream under its own id.
        for (const FunctionInfo* c : fabric.children(above->fn)) {
          if (c->role == FunctionRole::PciToPciBridge) return std::nullopt;  // nested buses: not modelled
          if (c->endpoint && c->endpoint != src.endpoint && c->endpoint->claims(addr)) {
            if (c->endpoint != dst.endpoint) return std::nullopt;
            return finish(ended(PathClass::Open, Outcome::Delivered, hop(dst.fn)));
          }
        }
        if (above->fn->window_claims(addr) || !above->fn->bus_master())
          return finish(ended(PathClass::Blocked, Outcome::UnsupportedRequest, hop(above->fn)));
        ext.requester = above->role == FunctionRole::PciToPciBridge ? above->fn->bdf()
                                                                   : RequesterId{above->fn->secondary_bus(), 0};
        above = info(above->parent);
        continue;
      } else if (above->role == FunctionRole::RootPort || above->role == FunctionRole::SwitchDownstream) {
        auto it = hub_of.find(above->fn);
        if (it == hub_of.end()) return std::nullopt;
        hub_index = it->second;
        pf = above;
        here = hop(above->fn);
      } else {
        return std::nullopt;
      }
      const HubView& hv = hubs[hub_index];
      // Hub::route_from_below
      if (pf) {
        if (!pf->fn->bus_master()) return finish(ended(PathClass::Blocked, Outcome::UnsupportedRequest, here));
        const AcsDecision d = pf->fn->acs_control() ? acs_ingress_check(*pf->fn, ext) : AcsDecision{};
        if (d.action == AcsAction::Block) return finish(ended(PathClass::Blocked, Outcome::BlockedByAcs, here, d.bit));
      }
      const Down* target = claiming(hv, addr);
      const bool same = target && ((pf && target->port == pf) || (!pf && target->hop == here));
      const RouteTarget kind = !target ? RouteTarget::Upstream : same ? RouteTarget::SamePort : RouteTarget::Peer;
      AcsDecision d{};
      if (pf && kind != RouteTarget::Upstream)
        d = acs_route_check(*pf->fn, ext, kind, target->port ? target->port->fn->port_number() : 0);
      if (d.action == AcsAction::Block) return finish(ended(PathClass::Blocked, Outcome::BlockedByAcs, here, d.bit));
      if (d.action == AcsAction::Redirect) note(d.bit, here);
      if (d.action == AcsAction::Redirect || kind == RouteTarget::Upstream) {
        if (hv.root_complex) return finish(from_host(dst, addr, hv.host_hop));  // RootComplex::go_upstream
        // Switch::go_upstream: the upstream port's Bus Master Enable, then the port above.
        if (!hv.usp->fn->bus_master())
          return finish(ended(PathClass::Blocked, Outcome::UnsupportedRequest, hop(hv.usp->fn)));
        above = info(hv.usp->parent);
        continue;
      }
      if (kind == RouteTarget::Peer && !hv.p2p) return finish(ended(PathClass::Blocked, Outcome::UnsupportedRequest, here));
      return finish(descend(*target, dst, addr, PathClass::Open));  // to the peer, or reflected back down
    }
    return std::nullopt;
  }
};

AnalyticRouter::AnalyticRouter(const Fabric& fabric) : m(std::make_unique<Impl>(fabric)) {}
AnalyticRouter::~AnalyticRouter() = default;

std::optional<TlpResult> AnalyticRouter::route(const FunctionInfo& src, const FunctionInfo& dst, uint64_t addr) const {
  return m->route(src, dst, addr);
}

IsolationMatrix analytic_matrix(Fabric& fabric) {
  IsolationMatrix mat;
  mat.endpoints = endpoint_functions(fabric);
  mat.has_iommu = !fabric.iommus().empty();
  mat.cells.assign(mat.size() * mat.size(), PairCell{});
  AnalyticRouter router(fabric);
  std::vector<std::vector<uint64_t>> addrs;
  for (const FunctionInfo* f : mat.endpoints) addrs.push_back(target_addresses(*f));
  for (size_t i = 0; i < mat.size(); ++i) {
    for (size_t j = 0; j < mat.size(); ++j) {
      if (i == j) continue;
      PairCell& c = mat.at(i, j);
      for (uint64_t addr : addrs[j]) {
        std::optional<TlpResult> r = router.route(*mat.endpoints[i], *mat.endpoints[j], addr);
        if (r) {
          c.requests += 2;  // MemWrite and MemRead: one request path
          c.analytic = true;
          if (r->cls > c.cls) {
            c.cls = r->cls;
            c.decisive = *r;
          }
          continue;
        }
        for (TlpKind k : {TlpKind::MemWrite, TlpKind::MemRead}) {  // not modelled: the fabric answers
          TlpResult real = send_real(fabric, *mat.endpoints[i], addr, k);
          ++c.requests;
          c.confirmed = true;
          if (real.cls > c.cls) {
            c.cls = real.cls;
            c.decisive = real;
          }
        }
      }
    }
  }
  return mat;
}

}  // namespace pciesim::isolation
