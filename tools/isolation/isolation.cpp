// Real TLPs, their classification, sampling and the comparison with Linux's groups (isolation.h).
#include "isolation/isolation.h"

#include <algorithm>
#include <random>
#include <unordered_map>

#include "pcie/endpoint.h"
#include "pcie/port_registry.h"

namespace pciesim::isolation {

namespace {

// The hops of root complexes' host sides ("rc0.host", root_complex.cpp): the IOMMU sits behind
// them (Fabric wires a remapping unit between a root complex and the host bus).
const std::vector<bool>& host_hops(const Fabric& fabric) {
  static std::vector<bool> table;
  static size_t built_for = 0;
  if (built_for == hops().size() && !table.empty()) return table;
  table.assign(hops().size(), false);
  for (const topo::RootComplexSpec& rc : fabric.spec().root_complexes) {
    const std::string name = rc.name + ".host";
    for (HopId h = 0; h < hops().size(); ++h)
      if (!hops().function(h) && hops().name(h) == name) table[h] = true;
  }
  built_for = hops().size();
  return table;
}

}  // namespace

const char* to_string(PathClass c) {
  switch (c) {
    case PathClass::Open: return "open";
    case PathClass::ViaIommu: return "via-iommu";
    case PathClass::Blocked: return "blocked";
    case PathClass::None: return "-";
  }
  return "?";
}

bool TlpResult::same_decision(const TlpResult& o) const {
  if (cls != o.cls) return false;
  if (cls == PathClass::Blocked && (outcome == Outcome::BlockedByAcs || o.outcome == Outcome::BlockedByAcs))
    return outcome == o.outcome && bit == o.bit && port == o.port;
  return true;
}

std::string describe(const TlpResult& r) {
  std::string at = r.port == kNoHop ? "?" : hops().describe(r.port);
  std::string s = to_string(r.cls);
  s += ": ";
  switch (r.outcome) {
    case Outcome::Delivered:
    case Outcome::Redirected: s += "delivered at " + at; break;
    case Outcome::BlockedByAcs: s += std::string("blocked by ACS ") + pciesim::to_string(r.bit) + " at " + at; break;
    case Outcome::UnsupportedRequest: s += "unsupported request at " + at; break;
    case Outcome::CompleterAbort: s += "completer abort at " + at; break;
    case Outcome::IommuFault: s += "IOMMU fault at " + at; break;
    case Outcome::Pending: s += "no verdict"; break;
  }
  if (r.redirect_bit != AcsBit::None)
    s += std::string(" (redirected upstream by ACS ") + pciesim::to_string(r.redirect_bit) + " at " +
         hops().describe(r.redirect_port) + ")";
  return s;
}

size_t IsolationMatrix::count(PathClass c) const {
  size_t n = 0;
  for (size_t i = 0; i < size(); ++i)
    for (size_t j = 0; j < size(); ++j)
      if (i != j && at(i, j).cls == c) ++n;
  return n;
}

std::string label(const FunctionInfo& f) { return f.bdf_string() + " " + f.fn->name(); }

std::vector<const FunctionInfo*> endpoint_functions(const Fabric& fabric) {
  std::vector<const FunctionInfo*> v;
  for (const FunctionInfo& f : fabric.functions())
    if (f.endpoint) v.push_back(&f);
  return v;
}

void enable_bus_masters(Fabric& fabric) {
  for (const FunctionInfo* f : endpoint_functions(fabric)) {
    const uint32_t cmd = fabric.config_read(f->segment, f->bdf(), 0x04, 2);
    if (!(cmd & 0x4)) fabric.config_write(f->segment, f->bdf(), 0x04, 2, cmd | 0x4);  // PCI 3.0 6.2.2
  }
}

std::vector<uint64_t> target_addresses(const FunctionInfo& target) {
  std::vector<uint64_t> a;
  for (const DecodedBar& b : target.fn->bars())
    if (b.index >= 0 && b.present && !b.io && b.size) a.push_back(b.base);
  return a;
}

TlpResult send_real(Fabric& fabric, const FunctionInfo& src, uint64_t addr, TlpKind kind) {
  uint8_t data[4] = {0x5a, 0xa5, 0x3c, 0xc3};
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  const PcieExtension& ext = src.endpoint->dma(src.function_number, kind, addr, data, sizeof data, delay);
  const std::vector<bool>& host = host_hops(fabric);
  TlpResult r;
  r.addr = addr;
  const Verdict v = ext.verdict;  // the terminal outcome; an ACS redirect on the way is kept apart
  r.outcome = v.outcome;
  r.bit = v.acs_bit;
  r.port = v.port;
  r.redirect_bit = ext.redirect_bit;
  r.redirect_port = ext.redirect_port;
  // Did the request pass a host side? A read's completion routed on its own after a direct P2P
  // request (ACS CR, Hub::return_completion) appends its hops starting with the redirecting
  // port again; only the request's hops, before that last occurrence, count.
  unsigned end = ext.hop_count;
  if (ext.completion_routed && ext.redirect_bit == AcsBit::CR)
    for (unsigned i = ext.hop_count; i-- > 0;)
      if (ext.hops[i] == ext.redirect_port) {
        end = i;
        break;
      }
  bool via = false;
  for (unsigned i = 0; i < end; ++i) {
    const HopId h = ext.hops[i];
    if (h < host.size() && host[h]) {
      via = true;
      break;
    }
  }
  if (via) r.cls = PathClass::ViaIommu;
  else if (v.outcome == Outcome::Delivered) r.cls = PathClass::Open;
  else r.cls = PathClass::Blocked;
  return r;
}

std::string path_text(Fabric&, const FunctionInfo& src, uint64_t addr, TlpKind kind) {
  uint8_t data[4] = {};
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  const PcieExtension& ext = src.endpoint->dma(src.function_number, kind, addr, data, sizeof data, delay);
  std::string s;
  for (unsigned i = 0; i < ext.hop_count; ++i) s += (i ? " -> " : "") + hops().describe(ext.hops[i]);
  return s;
}

IsolationMatrix exhaustive_matrix(Fabric& fabric) {
  IsolationMatrix m;
  m.endpoints = endpoint_functions(fabric);
  m.has_iommu = !fabric.iommus().empty();
  m.cells.assign(m.size() * m.size(), PairCell{});
  for (size_t i = 0; i < m.size(); ++i) {
    for (size_t j = 0; j < m.size(); ++j) {
      if (i == j) continue;
      PairCell& c = m.at(i, j);
      for (uint64_t addr : target_addresses(*m.endpoints[j])) {
        for (TlpKind k : {TlpKind::MemWrite, TlpKind::MemRead}) {
          TlpResult r = send_real(fabric, *m.endpoints[i], addr, k);
          ++c.requests;
          if (r.cls > c.cls) {
            c.cls = r.cls;
            c.decisive = r;
          }
        }
      }
      c.confirmed = c.requests > 0;
    }
  }
  return m;
}

SampleReport confirm_sample(Fabric& fabric, IsolationMatrix& m, unsigned n, uint64_t seed) {
  SampleReport rep;
  std::vector<std::pair<size_t, size_t>> pairs;
  for (size_t i = 0; i < m.size(); ++i)
    for (size_t j = 0; j < m.size(); ++j)
      if (i != j && m.at(i, j).cls != PathClass::None && m.at(i, j).analytic) pairs.emplace_back(i, j);
  if (pairs.empty()) return rep;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, pairs.size() - 1);
  for (unsigned s = 0; s < n; ++s) {
    auto [i, j] = pairs[pick(rng)];
    PairCell& c = m.at(i, j);
    const std::vector<uint64_t> addrs = target_addresses(*m.endpoints[j]);
    const uint64_t addr = addrs[rng() % addrs.size()];
    const TlpKind kind = (rng() & 1) ? TlpKind::MemRead : TlpKind::MemWrite;
    TlpResult real = send_real(fabric, *m.endpoints[i], addr, kind);
    ++rep.sent;
    // The analytic cell is the worst over the BARs; the real TLP must not be worse than it, and
    // when the target has one BAR it must be the same decision.
    const bool ok = addrs.size() == 1 ? real.same_decision(c.decisive) : real.cls <= c.cls;
    if (ok) {
      c.confirmed = true;
      continue;
    }
    rep.mismatches.push_back(label(*m.endpoints[i]) + " -> " + label(*m.endpoints[j]) + ": analytic " +
                             describe(c.decisive) + ", fabric " + describe(real));
    c.decisive = real;
    c.cls = real.cls;
    c.analytic = false;
    c.confirmed = true;
  }
  return rep;
}

Comparison compare_with_groups(const IsolationMatrix& m, const groups::GroupResult& g) {
  Comparison cmp;
  std::unordered_map<std::string, int> by_bdf;
  for (const groups::DeviceGroup& d : g.devices) by_bdf[d.bdf] = d.group;
  cmp.group.assign(m.size(), -1);
  for (size_t i = 0; i < m.size(); ++i) {
    auto it = by_bdf.find(m.endpoints[i]->bdf_string());
    if (it != by_bdf.end()) cmp.group[i] = it->second;
  }
  for (size_t a = 0; a < m.size(); ++a) {
    for (size_t b = 0; b < m.size(); ++b) {
      if (a == b) continue;
      const bool same = cmp.group[a] >= 0 && cmp.group[a] == cmp.group[b];
      const bool open = m.at(a, b).cls == PathClass::Open;
      if (open && !same) {
        cmp.disagreements.push_back({Disagreement::SplitButOpen, a, b, cmp.group[a], cmp.group[b]});
        ++cmp.split_but_open;
      }
      // Unordered: report once, when neither direction is open and both have BARs to try.
      if (same && a < b && !open && m.at(b, a).cls != PathClass::Open && m.at(a, b).cls != PathClass::None &&
          m.at(b, a).cls != PathClass::None) {
        cmp.disagreements.push_back({Disagreement::GroupedButIsolated, a, b, cmp.group[a], cmp.group[b]});
        ++cmp.grouped_but_isolated;
      }
    }
  }
  return cmp;
}

}  // namespace pciesim::isolation
