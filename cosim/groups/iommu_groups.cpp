// Linux's group rules over a HostView. Each predicate that needs a fact the host's data lacks
// throws Undecidable; the device being grouped then stays undecided and the reason is reported.
#include "groups/iommu_groups.h"

#include <algorithm>
#include <bitset>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "groups/acs_quirks.h"

namespace pciesim::groups {

namespace {

struct Undecidable {
  std::string why;
};

class Grouper {
 public:
  Grouper(const HostView& host, const GroupAssumptions& assume, const std::vector<int>& order)
      : m_host(host), m_assume(assume), m_order(order), m_group(host.functions.size(), kNone) {}

  static constexpr int kNone = -1, kUndecided = -2;

  // drivers/iommu/iommu.c pci_device_group()
  int device_group(int dev) {
    // 1. DMA aliases: an alias that already has a group gives it.
    int p = dev;
    bool found = false;
    int found_group = kNone;
    for_each_dma_alias(dev, [&](int alias_dev) {
      p = alias_dev;
      int g = group_of(alias_dev);
      if (g != kNone) {
        found = true;
        found_group = g;
        return true;
      }
      return false;
    });
    if (found) return found_group;
    // 2. Upstream to the first bridge with ACS on the whole path to the root.
    for (int b = fn(p).parent; b >= 0; b = fn(b).parent) {
      if (acs_path_enabled(b)) break;
      p = b;
      int g = group_of(p);
      if (g != kNone) return g;
    }
    // 3./4. Same-bus aliases of p, then non-ACS sibling functions.
    std::bitset<256> devfns;
    int g = alias_group(p, devfns);
    if (g != kNone) return g;
    g = function_alias_group(p, devfns);
    if (g != kNone) return g;
    return kNone;  // caller allocates
  }

  void set_group(int dev, int g) { m_group[size_t(dev)] = g; }

 private:
  const FunctionView& fn(int i) const { return m_host.functions[size_t(i)]; }

  int group_of(int i) const {
    int g = m_group[size_t(i)];
    if (g == kUndecided) throw Undecidable{"depends on the group of " + fn(i).bdf() + ", itself undecidable"};
    return g;
  }

  // The port types function i may have (one when the source printed it).
  PortTypeSet types_of(int i) const {
    const FunctionView& f = fn(i);
    PortTypeSet s = f.candidate_types();
    if (!f.port_type && m_assume.unknown_type_is_endpoint && !f.is_bridge() && (s & type_bit(PortType::Endpoint)))
      return type_bit(PortType::Endpoint);
    return s;
  }

  std::string type_unknown(int i, PortTypeSet s) const {
    const FunctionView& f = fn(i);
    if (s == 0) return f.bdf() + ": PCIe port type: the source's facts contradict each other";
    std::string why = f.bdf() + ": PCIe port type unknown (the source prints no capabilities)";
    PortTypeSet by_header = kAnyPortType;
    if (f.header_type && (*f.header_type & 0x7f) == 0) by_header = kType0PortTypes;
    if (f.header_type && (*f.header_type & 0x7f) == 1) by_header = kType1PortTypes;
    if (s != by_header) why += "; the facts shown leave " + port_type_set_text(s);
    return why;
  }

  // Linux's answer of `rule` for function i. With several possible types the answer must be the
  // same for each of them (a fact the type does not change is a fact); if every type fails on the
  // same missing fact, that fact is the reason; otherwise the type is.
  template <class Rule>
  bool for_every_type(int i, Rule rule) {
    PortTypeSet s = types_of(i);
    if (s != 0 && !(s & (s - 1))) {
      for (unsigned t = 0;; ++t)
        if (s == (1u << t)) return rule(PortType(t));
    }
    std::optional<bool> answer;
    std::optional<std::string> failed;  // common reason when every type fails
    bool mixed = s == 0;
    for (unsigned t = 0; t <= unsigned(PortType::RcEventCollector) && !mixed; ++t) {
      if (!(s & (1u << t))) continue;
      try {
        bool r = rule(PortType(t));
        if ((answer && *answer != r) || failed) mixed = true;
        answer = r;
      } catch (const Undecidable& u) {
        if (answer || (failed && *failed != u.why)) mixed = true;
        failed = u.why;
      }
    }
    if (mixed) throw Undecidable{type_unknown(i, s)};
    if (failed) throw Undecidable{*failed};
    return *answer;
  }

  bool multifunction(int i) const {
    const FunctionView& f = fn(i);
    if (f.multifunction) return *f.multifunction;
    throw Undecidable{f.bdf() + ": multifunction bit of the header type unknown"};
  }

  // drivers/pci/search.c pci_for_each_dma_alias(); visit(dev) returns true to stop.
  template <class Visit>
  void for_each_dma_alias(int dev, Visit visit) {
    if (visit(dev)) return;
    if (!fn(dev).alias_unknown.empty() && !m_assume.no_quirk_for_unknown_ids)
      throw Undecidable{fn(dev).alias_unknown};
    // dma_alias_mask entries report `dev` itself again (handled by alias_group()).
    for (int b = fn(dev).parent; b >= 0; b = fn(b).parent) {
      const FunctionView& br = fn(b);
      if (!br.alias_unknown.empty() && !m_assume.no_quirk_for_unknown_ids) throw Undecidable{br.alias_unknown};
      // PCIe ports: no new alias. PCIe-to-PCI bridges alias as (secondary, 00.0), reported as the
      // bridge; PCI-to-PCIe and conventional bridges use their own RID (or the secondary one with
      // PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS). Other PCIe types owning a bus are not in Linux's switch.
      bool adds = for_every_type(b, [](PortType t) {
        return t == PortType::PcieToPciBridge || t == PortType::PciToPcieBridge || t == PortType::Conventional;
      });
      if (adds && visit(b)) return;
    }
  }

  // drivers/pci/pci.c pci_acs_flags_enabled()
  bool acs_flags_enabled(int i) const {
    const FunctionView& f = fn(i);
    if (!f.acs) {
      if (m_assume.acs_on_unknown_ports) return true;
      throw Undecidable{f.bdf() + ": ACS capability/control unknown (no capability listing in the source)"};
    }
    if (!f.acs->present) return false;
    uint16_t flags = kRequiredAcs & uint16_t(f.acs->cap | kAcsEc);  // unimplemented = hard-wired on
    return (f.acs->ctrl & flags) == flags;
  }

  // drivers/pci/pci.c pci_acs_enabled(dev, REQ_ACS_FLAGS), memoised
  bool acs_enabled(int i) {
    auto it = m_acs.find(i);
    if (it != m_acs.end()) return it->second;
    bool r = acs_enabled_uncached(i);
    m_acs[i] = r;
    return r;
  }

  bool acs_enabled_uncached(int i) {
    return for_every_type(i, [&](PortType t) { return acs_enabled_as(i, t); });
  }

  // pci_acs_enabled() for function i if its type is t.
  bool acs_enabled_as(int i, PortType t) {
    AcsQuirkAnswer q = acs_quirk(m_host, i, t);
    if (q.kind == AcsQuirkAnswer::Unknown && !m_assume.no_quirk_for_unknown_ids) throw Undecidable{q.why};
    if (q.kind == AcsQuirkAnswer::Enabled) return true;
    if (q.kind == AcsQuirkAnswer::NotEnabled) return false;
    if (m_assume.acs_override && m_assume.acs_override(m_host, i, t)) return true;
    switch (t) {
      case PortType::Conventional:
      case PortType::PciToPcieBridge:
      case PortType::PcieToPciBridge:
      case PortType::RcEventCollector:
        return false;
      case PortType::RootPort:
      case PortType::DownstreamPort:
        return acs_flags_enabled(i);
      case PortType::Endpoint:
      case PortType::LegacyEndpoint:
      case PortType::UpstreamPort:
      case PortType::RcEndpoint:
        // PCIe 6.12.1.3: single-function: nothing to isolate. An unknown MF bit does not matter
        // when ACS is known to be enabled.
        if (!fn(i).multifunction && fn(i).acs && fn(i).acs->present && acs_flags_enabled(i)) return true;
        if (!multifunction(i)) return true;
        return acs_flags_enabled(i);
    }
    return true;
  }

  // drivers/pci/pci.c pci_acs_path_enabled(start, NULL, REQ_ACS_FLAGS)
  bool acs_path_enabled(int start) {
    for (int b = start; b >= 0; b = fn(b).parent)
      if (!acs_enabled(b)) return false;
    return true;
  }

  static bool has_alias(const FunctionView& a, const FunctionView& b) {
    return std::find(a.dma_alias_devfns.begin(), a.dma_alias_devfns.end(), b.devfn) != a.dma_alias_devfns.end();
  }

  // drivers/iommu/iommu.c get_pci_alias_group()
  int alias_group(int p, std::bitset<256>& devfns) {
    if (devfns.test(fn(p).devfn)) return kNone;
    devfns.set(fn(p).devfn);
    int g = group_of(p);
    if (g != kNone) return g;
    for (int t : m_order) {
      if (t == p || fn(t).segment != fn(p).segment || fn(t).bus != fn(p).bus) continue;
      if (!has_alias(fn(p), fn(t)) && !has_alias(fn(t), fn(p))) continue;
      g = alias_group(t, devfns);
      if (g != kNone) return g;
      g = function_alias_group(t, devfns);
      if (g != kNone) return g;
    }
    return kNone;
  }

  // drivers/iommu/iommu.c get_pci_function_alias_group()
  bool has_siblings(int p) const {
    for (int t : m_order)
      if (t != p && fn(t).segment == fn(p).segment && fn(t).bus == fn(p).bus &&
          fn(t).device_number() == fn(p).device_number())
        return true;
    return false;
  }

  // Could a sibling function of p (or one of its same-bus aliases) already have a group?
  bool sibling_has_group(int p, const std::bitset<256>& devfns) {
    for (int t : m_order) {
      const FunctionView& tf = fn(t);
      if (t == p || tf.segment != fn(p).segment || tf.bus != fn(p).bus || tf.device_number() != fn(p).device_number())
        continue;
      std::bitset<256> probe = devfns;
      if (alias_group(t, probe) != kNone) return true;
    }
    return false;
  }

  int function_alias_group(int p, std::bitset<256>& devfns) {
    if (!has_siblings(p)) return kNone;  // whatever its MF bit and ACS, nothing to join
    bool isolated;
    try {
      isolated = !multifunction(p) || acs_enabled(p);
    } catch (const Undecidable&) {
      // Linux returns NULL both ways when no sibling (or its aliases) has a group yet, e.g. for
      // the first function of a slot: p's own ACS then decides nothing.
      if (!sibling_has_group(p, devfns)) return kNone;
      throw;
    }
    if (isolated) return kNone;
    for (int t : m_order) {
      const FunctionView& tf = fn(t);
      if (t == p || tf.segment != fn(p).segment || tf.bus != fn(p).bus || tf.device_number() != fn(p).device_number())
        continue;
      bool t_acs;
      try {
        t_acs = acs_enabled(t);
      } catch (const Undecidable&) {
        // Only matters if the sibling (or its aliases) already has a group.
        std::bitset<256> probe = devfns;
        if (alias_group(t, probe) == kNone) continue;
        throw;
      }
      if (t_acs) continue;
      int g = alias_group(t, devfns);
      if (g != kNone) return g;
    }
    return kNone;
  }

  const HostView& m_host;
  GroupAssumptions m_assume;
  const std::vector<int>& m_order;
  std::vector<int> m_group;
  std::map<int, bool> m_acs;
};

void add_bus(const HostView& h, int segment, unsigned bus, std::vector<int>& order, std::set<std::pair<int, unsigned>>& seen) {
  if (!seen.insert({segment, bus}).second) return;
  std::vector<int> on_bus;
  for (size_t i = 0; i < h.functions.size(); ++i)
    if (h.functions[i].segment == segment && h.functions[i].bus == bus) on_bus.push_back(int(i));
  std::sort(on_bus.begin(), on_bus.end(), [&](int a, int b) { return h.functions[size_t(a)].devfn < h.functions[size_t(b)].devfn; });
  order.insert(order.end(), on_bus.begin(), on_bus.end());
  for (int i : on_bus) {
    const FunctionView& f = h.functions[size_t(i)];
    if (f.secondary && *f.secondary != bus) add_bus(h, segment, *f.secondary, order, seen);
  }
}

}  // namespace

std::vector<int> linux_add_order(const HostView& host) {
  std::vector<int> order;
  std::set<std::pair<int, unsigned>> seen;
  std::set<std::pair<int, unsigned>> roots;
  for (const FunctionView& f : host.functions)
    if (f.parent < 0) roots.insert({f.segment, f.bus});
  // pci_device_add() calls device_add() at scan time, and the IOMMU core probes with
  // bus_for_each_dev() (iommu.c bus_iommu_probe / iommu_bus_init), i.e. in that order: root buses
  // in the order their host bridges were registered (when the source shows it), each depth first.
  for (const auto& r : host.root_bus_order)
    if (roots.count(r)) add_bus(host, r.first, r.second, order, seen);
  for (const auto& r : roots) add_bus(host, r.first, r.second, order, seen);
  // Anything unreachable (a bus with no known bridge) goes last, in BDF order.
  std::vector<int> rest;
  for (size_t i = 0; i < host.functions.size(); ++i)
    if (std::find(order.begin(), order.end(), int(i)) == order.end()) rest.push_back(int(i));
  order.insert(order.end(), rest.begin(), rest.end());
  return order;
}

GroupResult compute_iommu_groups(const HostView& input, const GroupAssumptions& assume) {
  HostView host = input;
  apply_dma_alias_quirks(host);
  std::vector<int> order = linux_add_order(host);
  GroupResult r;
  std::set<std::string> reasons;
  for (const std::string& m : host.missing) reasons.insert(m);
  Grouper grouper(host, assume, order);
  int next = 0;
  for (int i : order) {
    const FunctionView& f = host.functions[size_t(i)];
    if (!f.iommu_attached) continue;
    DeviceGroup d{i, f.bdf(), -1};
    try {
      int g = grouper.device_group(i);
      if (g == Grouper::kNone) g = next++;
      d.group = g;
      grouper.set_group(i, g);
    } catch (const Undecidable& u) {
      reasons.insert(u.why);
      grouper.set_group(i, Grouper::kUndecided);
    }
    r.devices.push_back(d);
  }
  r.group_count = next;
  r.decidable = reasons.empty();
  // Dependent reasons ("depends on the group of ...") only repeat a root cause: list them last.
  for (const std::string& s : reasons)
    if (s.find("depends on the group") == std::string::npos) r.undecidable_because.push_back(s);
  for (const std::string& s : reasons)
    if (s.find("depends on the group") != std::string::npos) r.undecidable_because.push_back(s);
  return r;
}

std::string format_groups(const GroupResult& r) {
  std::ostringstream os;
  for (const DeviceGroup& d : r.devices) {
    os << d.bdf << ' ';
    if (d.group >= 0) os << d.group;
    else os << '?';
    os << '\n';
  }
  return os.str();
}

std::vector<OracleGroup> read_groups_text(const std::string& text) {
  std::vector<OracleGroup> out;
  std::istringstream is(text);
  std::string line;
  while (std::getline(is, line)) {
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream ls(line);
    std::string word, bdf;
    int group = -1;
    std::vector<std::string> words;
    while (ls >> word) words.push_back(word);
    for (const std::string& w : words) {
      unsigned a, b, c, d;
      char tail;
      std::string t = w;
      if (!t.empty() && t.back() == ':') t.pop_back();
      if (std::sscanf(t.c_str(), "%x:%x:%x.%x%c", &a, &b, &c, &d, &tail) == 4) bdf = format_bdf(int(a), b, (c << 3) | d);
      else if (std::sscanf(t.c_str(), "%x:%x.%x%c", &b, &c, &d, &tail) == 3 && bdf.empty()) bdf = format_bdf(0, b, (c << 3) | d);
    }
    if (bdf.empty() || words.empty()) continue;
    try {
      group = std::stoi(words.back());
    } catch (...) {
      continue;
    }
    out.push_back({bdf, group});
  }
  return out;
}

std::string compare_groups(const GroupResult& ours, const std::vector<OracleGroup>& oracle, bool numbering) {
  std::map<std::string, int> a, b;
  for (const DeviceGroup& d : ours.devices) a[d.bdf] = d.group;
  for (const OracleGroup& o : oracle) b[o.bdf] = o.group;
  std::ostringstream diff;
  for (const auto& kv : a)
    if (!b.count(kv.first)) diff << kv.first << ": grouped by us, not in the oracle\n";
  for (const auto& kv : b)
    if (!a.count(kv.first)) diff << kv.first << ": in the oracle, not grouped by us\n";
  // Partition equality: same-group relation must agree for every pair.
  std::map<int, std::set<std::string>> ga, gb;
  for (const auto& kv : a) ga[kv.second].insert(kv.first);
  for (const auto& kv : b) gb[kv.second].insert(kv.first);
  std::set<std::string> reported;
  for (const auto& kv : a) {
    if (!b.count(kv.first) || reported.count(kv.first)) continue;
    std::set<std::string> mine, theirs;
    for (const std::string& x : ga[kv.second]) if (b.count(x)) mine.insert(x);
    for (const std::string& x : gb[b[kv.first]]) if (a.count(x)) theirs.insert(x);
    if (mine != theirs) {
      diff << kv.first << ": our group {";
      for (const std::string& x : mine) diff << ' ' << x;
      diff << " } vs oracle {";
      for (const std::string& x : theirs) diff << ' ' << x;
      diff << " }\n";
      reported.insert(mine.begin(), mine.end());
    }
    if (numbering && kv.second != b[kv.first] && diff.str().empty())
      diff << kv.first << ": our group number " << kv.second << ", oracle " << b[kv.first] << '\n';
  }
  return diff.str();
}

}  // namespace pciesim::groups
