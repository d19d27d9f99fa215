#include "pcie/topology/yaml_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "pcie/device_models.h"
#include "pcie/topology/template_expr.h"
#include "pcie/topology/validate.h"

namespace pciesim::topo {

namespace {

enum class Place { Link, Integrated, Conventional };  // where an endpoint sits

using LineCol = std::pair<int, int>;

LineCol line_col(const YAML::Mark& m) { return m.is_null() ? LineCol{0, 0} : LineCol{m.line + 1, m.column + 1}; }

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "nothing";
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

class Loader {
 public:
  explicit Loader(std::string file) : m_file(std::move(file)) {}

  TopologySpec load(const YAML::Node& root) {
    TopologySpec spec;
    spec.file = m_file;
    Map m(*this, root, "topology", {"name", "description", "memory", "root_complexes", "iommus"});
    m_fields[{1, 1}] = m_fields[line_col(root.Mark())];  // topology-level issues are reported at 1:1
    spec.name = text(m.require("name"), "name");
    if (auto* d = m.get("description")) spec.description = text(*d, "description", false);
    spec.memory.loc = loc(root);
    if (auto* mem = m.get("memory")) spec.memory = memory(*mem);
    int segment = -1;
    for_each(&m.require("root_complexes"), "root_complexes", true, [&](const YAML::Node& item) {
      spec.root_complexes.push_back(root_complex(item, segment + 1));
      segment = spec.root_complexes.back().segment;
    });
    for_each(m.get("iommus"), "iommus", true, [&](const YAML::Node& item) {
      spec.iommus.push_back(iommu(item, spec.iommus.size()));
    });
    if (auto found = find_first_issue(spec)) throw TopologyError(refine(*found), found->message);
    return spec;
  }

 private:
  // One YAML mapping with a fixed set of allowed keys; remembers where each key is, so that a
  // validation issue about a field can point at its line.
  class Map {
   public:
    Map(Loader& loader, const YAML::Node& node, const std::string& what, std::vector<const char*> allowed,
        bool countable = false)
        : m_loader(loader), m_node(node), m_what(what) {
      if (countable) allowed.insert(allowed.end(), {"count", "var"});
      if (!node.IsMap()) loader.fail(node, what + ": expected a mapping, got " + describe(node));
      // Copies made by count share their template's keys: record those once.
      auto [fields, fresh] = loader.m_fields.try_emplace(line_col(node.Mark()));
      for (const auto& entry : node) {
        const YAML::Node key = entry.first;
        if (!key.IsScalar()) loader.fail(key, what + ": keys must be plain words");
        const std::string& name = key.Scalar();
        if (name == "<<") loader.fail(key, what + ": YAML merge keys (<<) are not supported; repeat the keys or use count");
        if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return name == a; }) == allowed.end()) {
          std::string list;
          for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
          loader.fail(key, what + ": unknown key '" + name + "' (allowed: " + list + ")");
        }
        for (const auto& [seen, value] : m_entries)
          if (seen == name) loader.fail(key, what + ": duplicate key '" + name + "'");
        m_entries.emplace_back(name, entry.second);
        if (fresh) fields->second.emplace(name, line_col(key.Mark()));
      }
    }

    const YAML::Node* get(const char* key) const {
      for (const auto& [name, value] : m_entries)
        if (name == key) return &value;
      return nullptr;
    }
    const YAML::Node& require(const char* key) const {
      if (const YAML::Node* v = get(key)) return *v;
      m_loader.fail(m_node, m_what + ": missing required key '" + key + "'");
    }
    size_t size() const { return m_entries.size(); }

   private:
    Loader& m_loader;
    const YAML::Node& m_node;
    std::string m_what;
    std::vector<std::pair<std::string, YAML::Node>> m_entries;
  };

  // --- locations and errors ---

  SourceLoc loc(const YAML::Node& n) const {
    auto [line, col] = line_col(n.Mark());
    return SourceLoc{m_file, line, col};
  }
  [[noreturn]] void fail(const YAML::Node& at, const std::string& msg) const { throw TopologyError(loc(at), msg); }

  SourceLoc refine(const ValidationIssue& found) const {
    SourceLoc at = found.loc;
    auto item = m_fields.find({at.line, at.column});
    if (item != m_fields.end() && !found.field.empty()) {
      auto field = item->second.find(found.field);
      if (field != item->second.end()) std::tie(at.line, at.column) = field->second;
    }
    return at;
  }

  void charge(const YAML::Node& at) {
    if (++m_items > kMaxExpandedItems)
      fail(at, "topology too large: more than " + std::to_string(kMaxExpandedItems) + " items after count expansion");
  }

  // --- scalars ---

  uint64_t unsigned_value(const YAML::Node& v, const std::string& what, uint64_t max) {
    if (v.IsMap() && v.size() == 1 && v.begin()->second.IsNull())
      fail(v, what + ": an unquoted {...} is a YAML mapping; quote the expression, e.g. " + what + ": \"{i + 1}\"");
    if (!v.IsScalar()) fail(v, what + ": expected an integer, got " + describe(v));
    std::string t = trim(v.Scalar());
    uint64_t value = 0;
    try {
      if (is_single_expression(t)) {
        int64_t r = evaluate_expression(std::string_view(t).substr(1, t.size() - 2), m_scope);
        if (r < 0) fail(v, what + ": " + t + " is " + std::to_string(r) + ", which is negative");
        value = static_cast<uint64_t>(r);
      } else {
        if (has_template(t)) t = expand_template(t, m_scope);
        std::string why;
        auto parsed = parse_unsigned(t, &why);
        if (!parsed) fail(v, what + ": expected a non-negative integer, got '" + t + "'");
        value = *parsed;
      }
    } catch (const TemplateError& e) {
      fail(v, what + ": " + e.what());
    }
    if (value > max) fail(v, what + ": " + t + " is out of range (at most " + std::to_string(max) + ")");
    return value;
  }

  template <class T>
  T number(const YAML::Node& v, const std::string& what) {
    return static_cast<T>(unsigned_value(v, what, static_cast<uint64_t>(std::numeric_limits<T>::max())));
  }

  bool boolean(const YAML::Node& v, const std::string& what) {
    if (v.IsScalar()) {
      std::string s = lower(trim(v.Scalar()));
      if (s == "true" || s == "yes" || s == "on") return true;
      if (s == "false" || s == "no" || s == "off") return false;
    }
    fail(v, what + ": expected true or false, got " + describe(v));
  }

  std::string text(const YAML::Node& v, const std::string& what, bool templated = true) {
    if (!v.IsScalar()) fail(v, what + ": expected a string, got " + describe(v));
    if (!templated || !has_template(v.Scalar())) return v.Scalar();
    try {
      return expand_template(v.Scalar(), m_scope);
    } catch (const TemplateError& e) {
      fail(v, what + ": " + e.what());
    }
  }

  double real(const YAML::Node& v, const std::string& what) {
    if (v.IsScalar()) {
      std::string s = trim(v.Scalar());
      char* end = nullptr;
      errno = 0;
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size() && errno == 0 && std::isfinite(d)) return d;
    }
    fail(v, what + ": expected a number, got " + describe(v));
  }

  // --- lists and count ---

  // Calls fn once per list entry, or `count` times with the entry's variable bound.
  template <class Fn>
  void for_each(const YAML::Node* list, const std::string& what, bool countable, Fn&& fn) {
    if (!list || list->IsNull()) return;
    if (!list->IsSequence()) fail(*list, what + ": expected a list, got " + describe(*list));
    for (const YAML::Node& item : *list) expand(item, what, countable, fn);
  }

  template <class Fn>
  void expand(const YAML::Node& item, const std::string& what, bool countable, Fn&& fn) {
    if (!item.IsMap()) fail(item, what + " entry: expected a mapping, got " + describe(item));
    const YAML::Node count = item["count"], var = item["var"];
    if (!countable || !count.IsDefined()) {
      if (countable && var.IsDefined()) fail(var, "var: only meaningful together with count");
      fn(item);
      return;
    }
    uint64_t n = unsigned_value(count, "count", kMaxCount);
    std::string name = "i";
    if (var.IsDefined()) {
      name = text(var, "var", false);
      if (!is_identifier(name)) fail(var, "var: '" + name + "' is not a variable name (letters, digits, _)");
    }
    for (uint64_t i = 0; i < n; ++i) {
      m_scope.push(name, static_cast<int64_t>(i));
      fn(item);
      m_scope.pop();
    }
  }

  // Endpoint lists accept `- endpoint: {...}` as well as the endpoint mapping itself.
  template <class Fn>
  void for_each_endpoint(const YAML::Node* list, const std::string& what, Fn&& fn) {
    if (!list || list->IsNull()) return;
    if (!list->IsSequence()) fail(*list, what + ": expected a list, got " + describe(*list));
    for (const YAML::Node& item : *list) {
      if (item.IsMap() && item["endpoint"].IsDefined()) {
        Map wrapper(*this, item, what + " entry", {"endpoint"});
        expand(wrapper.require("endpoint"), what, true, fn);
      } else {
        expand(item, what, true, fn);
      }
    }
  }

  // --- structure ---

  AddressRange range(const YAML::Node& n, const std::string& what) {
    if (n.IsNull() || (n.IsScalar() && lower(trim(n.Scalar())) == "none")) return AddressRange{0, 0};
    Map m(*this, n, what, {"base", "size"});
    return AddressRange{number<uint64_t>(m.require("base"), what + ".base"),
                        number<uint64_t>(m.require("size"), what + ".size")};
  }

  MemorySpec memory(const YAML::Node& n) {
    MemorySpec mem;
    mem.loc = loc(n);
    if (n.IsScalar()) {
      mem.range = AddressRange{0, number<uint64_t>(n, "memory")};
      return mem;
    }
    Map m(*this, n, "memory", {"base", "size"});
    if (auto* b = m.get("base")) mem.range.base = number<uint64_t>(*b, "memory.base");
    mem.range.size = number<uint64_t>(m.require("size"), "memory.size");
    return mem;
  }

  RootComplexSpec root_complex(const YAML::Node& n, int default_segment) {
    Map m(*this, n, "root complex",
          {"name", "segment", "root_bus", "ecam", "mmio32", "mmio64", "io", "p2p", "p2p_rate_gbps", "root_ports",
           "integrated"},
          true);
    charge(n);
    RootComplexSpec rc;
    rc.loc = loc(n);
    rc.name = text(m.require("name"), "name");
    rc.segment = default_segment;
    if (auto* v = m.get("segment")) rc.segment = number<int>(*v, "segment");
    if (auto* v = m.get("root_bus")) rc.root_bus = number<int>(*v, "root_bus");
    if (auto* v = m.get("ecam")) rc.ecam = range(*v, "ecam");
    if (auto* v = m.get("mmio32")) rc.mmio32 = range(*v, "mmio32");
    if (auto* v = m.get("mmio64")) rc.mmio64 = range(*v, "mmio64");
    if (auto* v = m.get("io")) rc.io = range(*v, "io");
    if (auto* v = m.get("p2p")) rc.p2p = boolean(*v, "p2p");
    if (auto* v = m.get("p2p_rate_gbps")) rc.p2p_rate_gbps = real(*v, "p2p_rate_gbps");
    int device = 0;  // root ports number from 1 unless given
    for_each(m.get("root_ports"), "root_ports", true, [&](const YAML::Node& item) {
      rc.root_ports.push_back(port(item, device + 1, 0x8086, 0, 0));
      device = rc.root_ports.back().device;
    });
    for_each_endpoint(m.get("integrated"), "integrated", [&](const YAML::Node& item) {
      rc.integrated.push_back(endpoint(item, Place::Integrated, -1, true));
    });
    return rc;
  }

  IommuSpec iommu(const YAML::Node& n, size_t index) {
    Map m(*this, n, "iommu",
          {"name", "preset", "cap", "ecap", "register_base", "segment", "include_all", "scope", "caches",
           "device_iotlb"},
          true);
    charge(n);
    IommuSpec u;
    u.loc = loc(n);
    u.name = text(m.require("name"), "name");
    if (auto* v = m.get("preset")) {
      u.preset = lower(text(*v, "preset", false));
      if (u.preset != "server" && u.preset != "qemu-7.2")
        fail(*v, "preset: unknown VT-d preset '" + u.preset + "' (known: server, qemu-7.2)");
    }
    if (auto* v = m.get("cap")) u.cap = number<uint64_t>(*v, "cap");
    if (auto* v = m.get("ecap")) u.ecap = number<uint64_t>(*v, "ecap");
    // VT-d units' register windows sit below 4 GiB, 4 KiB each (ACPI DRHD "Size" 0 = 4 KiB)
    u.register_base = 0xfed90000ull + 0x1000ull * index;
    if (auto* v = m.get("register_base")) u.register_base = number<uint64_t>(*v, "register_base");
    if (auto* v = m.get("segment")) u.segment = number<int>(*v, "segment");
    if (auto* v = m.get("include_all")) u.include_all = boolean(*v, "include_all");
    if (auto* v = m.get("device_iotlb")) u.device_iotlb = boolean(*v, "device_iotlb");
    if (auto* v = m.get("scope")) {
      if (!v->IsSequence()) fail(*v, "scope: expected a list of root port or RCiEP names");
      for (const YAML::Node& e : *v) u.scope.push_back(text(e, "scope"));
    }
    if (auto* v = m.get("caches")) {
      Map c(*this, *v, "caches", {"iotlb", "context", "pasid", "paging_structure"});
      if (auto* x = c.get("iotlb")) u.iotlb = cache(*x, "iotlb");
      if (auto* x = c.get("context")) u.context_cache = cache(*x, "context");
      if (auto* x = c.get("pasid")) u.pasid_cache = cache(*x, "pasid");
      if (auto* x = c.get("paging_structure")) u.paging_structure_cache = cache(*x, "paging_structure");
    }
    return u;
  }

  CacheSpec cache(const YAML::Node& n, const std::string& what) {
    Map m(*this, n, what, {"entries", "ways", "replacement"});
    CacheSpec c;
    c.loc = loc(n);
    if (auto* v = m.get("entries")) c.entries = number<unsigned>(*v, what + ".entries");
    if (auto* v = m.get("ways")) c.ways = number<unsigned>(*v, what + ".ways");
    if (auto* v = m.get("replacement")) {
      c.replacement = lower(text(*v, what + ".replacement", false));
      if (c.replacement != "lru" && c.replacement != "fifo" && c.replacement != "random" && c.replacement != "plru")
        fail(*v, what + ".replacement: '" + c.replacement + "' is not one of lru, fifo, random, plru");
    }
    if (c.entries && c.ways && (c.entries % c.ways))
      fail(n, what + ": entries (" + std::to_string(c.entries) + ") must be a multiple of ways (" +
                  std::to_string(c.ways) + ")");
    return c;
  }

  DownstreamPortSpec port(const YAML::Node& n, int default_device, uint16_t default_vendor,
                          uint16_t default_device_id, int depth) {
    Map m(*this, n, "port",
          {"name", "device", "function", "port_number", "vendor", "device_id", "link", "acs", "slot", "below"}, true);
    charge(n);
    DownstreamPortSpec p;
    p.loc = loc(n);
    p.name = text(m.require("name"), "name");
    p.device = default_device;
    p.vendor = default_vendor;
    p.device_id = default_device_id;
    p.link.loc = p.acs.loc = p.loc;  // defaults are reported at the port
    if (auto* v = m.get("device")) p.device = number<int>(*v, "device");
    if (auto* v = m.get("function")) p.function = number<int>(*v, "function");
    if (auto* v = m.get("port_number")) p.port_number = number<int>(*v, "port_number");
    if (auto* v = m.get("vendor")) p.vendor = number<uint16_t>(*v, "vendor");
    if (auto* v = m.get("device_id")) p.device_id = number<uint16_t>(*v, "device_id");
    if (auto* v = m.get("link")) p.link = link(*v);
    if (auto* v = m.get("acs")) p.acs = acs(*v);
    if (auto* v = m.get("slot")) p.slot = boolean(*v, "slot");
    if (auto* v = m.get("below")) p.child = below(*v, depth + 1);
    return p;
  }

  std::shared_ptr<NodeSpec> below(const YAML::Node& n, int depth) {
    if (n.IsNull()) return nullptr;
    if (depth > kMaxNesting)
      fail(n, "below: the hierarchy nests deeper than " + std::to_string(kMaxNesting) + " levels");
    Map m(*this, n, "below", {"endpoint", "switch", "pci_bridge"});
    if (m.size() != 1) fail(n, "below: give exactly one of endpoint, switch, pci_bridge");
    auto node = std::make_shared<NodeSpec>();
    if (auto* v = m.get("endpoint"))
      node->node = endpoint(*v, Place::Link, 0, false);
    else if (auto* v = m.get("switch"))
      node->node = switch_spec(*v, depth);
    else
      node->node = pci_bridge(m.require("pci_bridge"), depth);
    return node;
  }

  SwitchSpec switch_spec(const YAML::Node& n, int depth) {
    Map m(*this, n, "switch", {"name", "vendor", "device_id", "latency_profile", "ports"});
    charge(n);
    SwitchSpec sw;
    sw.loc = loc(n);
    sw.name = text(m.require("name"), "name");
    if (auto* v = m.get("vendor")) sw.vendor = number<uint16_t>(*v, "vendor");
    if (auto* v = m.get("device_id")) sw.device = number<uint16_t>(*v, "device_id");
    if (auto* v = m.get("latency_profile")) sw.latency_profile = text(*v, "latency_profile");
    int device = -1;  // downstream ports number from 0 unless given
    for_each(&m.require("ports"), "ports", true, [&](const YAML::Node& item) {
      sw.ports.push_back(port(item, device + 1, sw.vendor, sw.device, depth));
      device = sw.ports.back().device;
    });
    return sw;
  }

  PciBridgeSpec pci_bridge(const YAML::Node& n, int depth) {
    Map m(*this, n, "pci_bridge", {"name", "vendor", "device_id", "devices"});
    charge(n);
    PciBridgeSpec br;
    br.loc = loc(n);
    br.name = text(m.require("name"), "name");
    if (auto* v = m.get("vendor")) br.vendor = number<uint16_t>(*v, "vendor");
    if (auto* v = m.get("device_id")) br.device = number<uint16_t>(*v, "device_id");
    bus_devices(m.get("devices"), br, depth);
    return br;
  }

  // The devices list of a PCI bus (behind a PCIe-to-PCI or a PCI-to-PCI bridge): endpoints, and
  // `- pci_to_pci_bridge: {...}` entries with devices of their own. Device numbers continue from
  // the previous entry unless given.
  void bus_devices(const YAML::Node* list, PciBridgeSpec& br, int depth) {
    if (!list || list->IsNull()) return;
    if (!list->IsSequence()) fail(*list, "devices: expected a list, got " + describe(*list));
    int device = -1;
    for (const YAML::Node& item : *list) {
      if (item.IsMap() && item["pci_to_pci_bridge"].IsDefined()) {
        Map wrapper(*this, item, "devices entry", {"pci_to_pci_bridge"});
        br.bridges.push_back(pci_to_pci_bridge(wrapper.require("pci_to_pci_bridge"), device + 1, depth + 1));
        device = br.bridges.back().device_number;
        continue;
      }
      const YAML::Node* one = &item;
      std::optional<Map> wrapper;
      if (item.IsMap() && item["endpoint"].IsDefined()) {
        wrapper.emplace(*this, item, "devices entry", std::vector<const char*>{"endpoint"});
        one = &wrapper->require("endpoint");
      }
      expand(*one, "devices", true, [&](const YAML::Node& e) {
        br.devices.push_back(endpoint(e, Place::Conventional, device + 1, true));
        device = br.devices.back().device;
      });
    }
  }

  // A conventional PCI-to-PCI bridge (PCI-to-PCI Bridge Architecture 1.2): type 1 header, no
  // PCIe capability. Default ids: TI PCI2050 (104c:ac28, pci.ids "PCI2050 PCI-to-PCI Bridge").
  PciBridgeSpec pci_to_pci_bridge(const YAML::Node& n, int default_device, int depth) {
    if (depth > kMaxNesting)
      fail(n, "pci_to_pci_bridge: the hierarchy nests deeper than " + std::to_string(kMaxNesting) + " levels");
    Map m(*this, n, "pci_to_pci_bridge", {"name", "device", "vendor", "device_id", "devices"});
    charge(n);
    PciBridgeSpec br;
    br.loc = loc(n);
    br.conventional = true;
    br.vendor = 0x104c;
    br.device = 0xac28;
    br.name = text(m.require("name"), "name");
    br.device_number = default_device;
    if (auto* v = m.get("device")) br.device_number = number<int>(*v, "device");
    if (auto* v = m.get("vendor")) br.vendor = number<uint16_t>(*v, "vendor");
    if (auto* v = m.get("device_id")) br.device = number<uint16_t>(*v, "device_id");
    bus_devices(m.get("devices"), br, depth);
    return br;
  }

  // default_device < 0: the device number is required.
  EndpointSpec endpoint(const YAML::Node& n, Place place, int default_device, bool countable) {
    Map m(*this, n, "endpoint", {"name", "model", "params", "device", "ari", "ats", "functions"}, countable);
    charge(n);
    EndpointSpec ep;
    ep.loc = loc(n);
    ep.name = text(m.require("name"), "name");
    ep.pcie = place != Place::Conventional;
    ep.integrated = place == Place::Integrated;
    if (auto* v = m.get("model")) ep.model = text(*v, "model");
    if (auto* v = m.get("params")) ep.params = params(*v);
    if (auto* v = m.get("device"))
      ep.device = number<int>(*v, "device");
    else if (default_device >= 0)
      ep.device = default_device;
    else
      m.require("device");
    bool ari = false;
    if (auto* v = m.get("ari")) ari = boolean(*v, "ari");
    int function = -1;
    // A device model may supply its functions (docs/adding-a-device-model.md): then a topology
    // says only `model: edu`.
    const YAML::Node* functions = m.get("functions");
    if (!functions && !device_model_supplies_functions(ep.model)) functions = &m.require("functions");
    for_each(functions, "functions", true, [&](const YAML::Node& item) {
      ep.functions.push_back(function_spec(item, place, function + 1, ari));
      function = ep.functions.back().function;
    });
    apply_device_model_defaults(ep);
    // `ats: true` on the endpoint: every function (also those a device model supplies) has ATS.
    if (auto* v = m.get("ats")) {
      const bool on = boolean(*v, "ats");
      if (on && place == Place::Conventional)
        fail(*v, "ats: a conventional PCI function has no extended capabilities (ATS needs PCIe)");
      for (FunctionSpec& f : ep.functions) f.ats = f.ats || on;
    }
    return ep;
  }

  std::map<std::string, std::string> params(const YAML::Node& n) {
    if (!n.IsMap()) fail(n, "params: expected a mapping of names to values, got " + describe(n));
    std::map<std::string, std::string> out;
    for (const auto& entry : n) {
      const YAML::Node key_node = entry.first, value = entry.second;
      charge(key_node);
      std::string key = text(key_node, "params key", false);
      if (!is_identifier(key)) fail(key_node, "params: '" + key + "' is not a parameter name (letters, digits, _)");
      if (!out.emplace(key, text(value, "params." + key)).second) fail(key_node, "params: duplicate key '" + key + "'");
    }
    return out;
  }

  FunctionSpec function_spec(const YAML::Node& n, Place place, int default_function, bool default_ari) {
    Map m(*this, n, "function",
          {"function", "vendor", "device", "class", "revision", "subsystem_vendor", "subsystem", "bars", "msi",
           "msi_64bit", "msi_maskable", "msix", "pm", "aer", "ari", "flr", "acs", "interrupt_pin",
           "phantom_functions", "dma_as_function", "ats"},
          true);
    charge(n);
    FunctionSpec fn;
    fn.loc = loc(n);
    fn.function = default_function;
    fn.ari = default_ari;
    fn.flr = place != Place::Conventional;  // DEVCAP.FLR lives in the PCIe capability
    fn.acs.loc = fn.loc;
    if (auto* v = m.get("function")) fn.function = number<int>(*v, "function");
    if (auto* v = m.get("vendor")) fn.vendor = number<uint16_t>(*v, "vendor");
    if (auto* v = m.get("device")) fn.device = number<uint16_t>(*v, "device");
    if (auto* v = m.get("class")) fn.class_code = number<uint32_t>(*v, "class");
    if (auto* v = m.get("revision")) fn.revision = number<uint8_t>(*v, "revision");
    if (auto* v = m.get("subsystem_vendor")) fn.subsystem_vendor = number<uint16_t>(*v, "subsystem_vendor");
    if (auto* v = m.get("subsystem")) fn.subsystem = number<uint16_t>(*v, "subsystem");
    if (auto* v = m.get("msi")) fn.msi_vectors = number<int>(*v, "msi");
    if (auto* v = m.get("msi_64bit")) fn.msi_64bit = boolean(*v, "msi_64bit");
    if (auto* v = m.get("msi_maskable")) fn.msi_maskable = boolean(*v, "msi_maskable");
    if (auto* v = m.get("msix")) fn.msix_vectors = number<int>(*v, "msix");
    if (auto* v = m.get("pm")) fn.pm = boolean(*v, "pm");
    if (auto* v = m.get("aer")) fn.aer = boolean(*v, "aer");
    if (auto* v = m.get("ari")) fn.ari = boolean(*v, "ari");
    if (auto* v = m.get("flr")) fn.flr = boolean(*v, "flr");
    if (auto* v = m.get("acs")) fn.acs = acs(*v);
    if (auto* v = m.get("interrupt_pin")) fn.interrupt_pin = interrupt_pin(*v);
    if (auto* v = m.get("phantom_functions")) {
      fn.phantom_functions = number<int>(*v, "phantom_functions");
      if (fn.phantom_functions < 0 || fn.phantom_functions > 3)
        fail(*v, "phantom_functions: expected 0..3 (DEVCAP bits 4:3), got " + std::to_string(fn.phantom_functions));
      if (place == Place::Conventional)
        fail(*v, "phantom_functions: a conventional PCI function has no PCIe capability to advertise them");
    }
    if (auto* v = m.get("dma_as_function")) {
      fn.dma_as_function = number<int>(*v, "dma_as_function");
      if (fn.dma_as_function < 0 || fn.dma_as_function > 7)
        fail(*v, "dma_as_function: expected a function number 0..7, got " + std::to_string(fn.dma_as_function));
    }
    if (auto* v = m.get("ats")) {
      fn.ats = boolean(*v, "ats");
      if (fn.ats && place == Place::Conventional)
        fail(*v, "ats: a conventional PCI function has no extended capabilities (ATS needs PCIe)");
    }
    int next_index = 0;
    for_each(m.get("bars"), "bars", false, [&](const YAML::Node& item) {
      fn.bars.push_back(bar(item, next_index));
      next_index = fn.bars.back().index + (fn.bars.back().is_64bit ? 2 : 1);
    });
    return fn;
  }

  int interrupt_pin(const YAML::Node& v) {
    if (v.IsScalar()) {
      std::string s = lower(trim(v.Scalar()));
      if (s == "none") return 0;
      static const char* pins[] = {"inta", "intb", "intc", "intd"};
      for (int i = 0; i < 4; ++i)
        if (s == pins[i]) return i + 1;
    }
    return number<int>(v, "interrupt_pin");
  }

  BarSpec bar(const YAML::Node& n, int default_index) {
    Map m(*this, n, "BAR", {"index", "size", "type", "prefetchable"});
    charge(n);
    BarSpec b;
    b.loc = loc(n);
    b.index = default_index;
    if (auto* v = m.get("index")) b.index = number<int>(*v, "index");
    b.size = number<uint64_t>(m.require("size"), "size");
    if (auto* v = m.get("type")) {
      std::string t = lower(text(*v, "type", false));
      if (t == "io") b.io = true;
      else if (t == "mem64") b.is_64bit = true;
      else if (t != "mem32") fail(*v, "type: expected mem32, mem64 or io, got '" + t + "'");
    }
    if (auto* v = m.get("prefetchable")) b.prefetchable = boolean(*v, "prefetchable");
    return b;
  }

  LinkSpec link(const YAML::Node& n) {
    Map m(*this, n, "link", {"gen", "width", "mps", "mrrs", "rcb", "store_and_forward"});
    LinkSpec l;
    l.loc = loc(n);
    if (auto* v = m.get("gen")) l.gen = number<int>(*v, "gen");
    if (auto* v = m.get("width")) l.width = number<int>(*v, "width");
    if (auto* v = m.get("mps")) l.mps = number<int>(*v, "mps");
    if (auto* v = m.get("mrrs")) l.mrrs = number<int>(*v, "mrrs");
    if (auto* v = m.get("rcb")) l.rcb = number<int>(*v, "rcb");
    if (auto* v = m.get("store_and_forward")) l.store_and_forward = boolean(*v, "store_and_forward");
    return l;
  }

  AcsSpec acs(const YAML::Node& n) {
    AcsSpec a;
    a.loc = loc(n);
    if (n.IsNull() || (n.IsScalar() && (lower(trim(n.Scalar())) == "none" || lower(trim(n.Scalar())) == "false")))
      return a;  // not implemented
    Map m(*this, n, "acs", {"capability", "control", "egress_vector_bits", "egress_vector"});
    a.present = true;
    if (auto* v = m.get("egress_vector_bits")) a.egress_vector_bits = number<unsigned>(*v, "egress_vector_bits");
    if (auto* v = m.get("egress_vector")) a.egress_vector = number<uint32_t>(*v, "egress_vector");
    // "all": every bit a port can have; EC only with an egress control vector.
    uint16_t all = kAcsAllBits & ~(a.egress_vector_bits ? 0 : kAcsEgressControl);
    a.capability = all;
    if (auto* v = m.get("capability")) a.capability = acs_bits(*v, "capability", all);
    if (auto* v = m.get("control")) a.control = acs_bits(*v, "control", a.capability);
    return a;
  }

  uint16_t acs_bits(const YAML::Node& v, const std::string& what, uint16_t all) {
    auto one = [&](const YAML::Node& item) -> uint16_t {
      std::string s = trim(item.Scalar());
      std::string u = s;
      for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (auto bit = acs_bit_from_name(u)) return *bit;
      fail(item, what + ": unknown ACS bit '" + s + "' (known: SV TB RR CR UF EC DT, or all / none)");
    };
    if (v.IsScalar()) {
      std::string s = lower(trim(v.Scalar()));
      if (s == "all") return all;
      if (s == "none") return 0;
      if (!s.empty() && std::isdigit(static_cast<unsigned char>(s[0]))) return number<uint16_t>(v, what);
      return one(v);
    }
    if (!v.IsSequence()) fail(v, what + ": expected a list of ACS bits, all or none, got " + describe(v));
    uint16_t bits = 0;
    for (const YAML::Node& item : v) {
      if (!item.IsScalar()) fail(item, what + ": expected an ACS bit name, got " + describe(item));
      charge(item);
      bits |= one(item);
    }
    return bits;
  }

  std::string m_file;
  TemplateScope m_scope;
  size_t m_items = 0;
  std::map<LineCol, std::map<std::string, LineCol>> m_fields;  // item position -> key -> key position
};

TopologySpec load_document(const std::string& yaml, const std::string& file) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(yaml);
  } catch (const YAML::ParserException& e) {
    auto [line, col] = line_col(e.mark);
    throw TopologyError(SourceLoc{file, line, col}, "YAML syntax error: " + e.msg);
  }
  if (docs.empty() || (docs.size() == 1 && docs[0].IsNull()))
    throw TopologyError(SourceLoc{file, 1, 1}, "empty topology file");
  if (docs.size() > 1) {
    auto [line, col] = line_col(docs[1].Mark());
    throw TopologyError(SourceLoc{file, line, col}, "a topology file holds one YAML document, found " +
                                                        std::to_string(docs.size()));
  }
  try {
    return Loader(file).load(docs[0]);
  } catch (const YAML::Exception& e) {  // yaml-cpp should not throw here; keep its position if it does
    auto [line, col] = line_col(e.mark);
    throw TopologyError(SourceLoc{file, line, col}, e.msg);
  }
}

}  // namespace

TopologySpec load_topology_node(const YAML::Node& root, const std::string& file) {
  try {
    return Loader(file).load(root);
  } catch (const YAML::Exception& e) {
    auto [line, col] = line_col(e.mark);
    throw TopologyError(SourceLoc{file, line, col}, e.msg);
  }
}

TopologySpec load_topology_string(const std::string& yaml, const std::string& pretend_filename) {
  if (yaml.size() > kMaxTopologyFileBytes)
    throw TopologyError(SourceLoc{pretend_filename}, "topology file is larger than " +
                                                         std::to_string(kMaxTopologyFileBytes >> 20) + " MiB");
  return load_document(yaml, pretend_filename);
}

TopologySpec load_topology_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw TopologyError(SourceLoc{path}, "cannot open topology file: it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TopologyError(SourceLoc{path}, std::string("cannot open topology file: ") + std::strerror(errno));
  std::string yaml;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    yaml.append(buf, static_cast<size_t>(in.gcount()));
    if (yaml.size() > kMaxTopologyFileBytes)
      throw TopologyError(SourceLoc{path}, "topology file is larger than " +
                                               std::to_string(kMaxTopologyFileBytes >> 20) + " MiB");
  }
  if (in.bad()) throw TopologyError(SourceLoc{path}, std::string("cannot read topology file: ") + std::strerror(errno));
  return load_document(yaml, path);
}

}  // namespace pciesim::topo
