#include "hostval_diff.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

namespace pciesim::hostval {

using nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------------
// Paths and globs

// Splits a path or glob into segments ("devices", "[0000:01:00.0]", "acs", "ctl"). Returns the
// problem, or an empty string when well formed.
std::string split_segments(const std::string& s, std::vector<std::string>& out) {
  out.clear();
  if (s.empty()) return "empty";
  const size_t n = s.size();
  size_t i = 0;
  while (true) {
    if (s[i] == '[') {
      const size_t close = s.find(']', i + 1);
      if (close == std::string::npos) return "'[' at " + std::to_string(i + 1) + " is never closed";
      const std::string inside = s.substr(i + 1, close - i - 1);
      if (inside.find('[') != std::string::npos) return "nested '[' inside [...]";
      if (inside.empty()) return "empty []";
      out.push_back(s.substr(i, close - i + 1));
      i = close + 1;
    } else {
      size_t end = s.find_first_of(".[]", i);
      if (end == std::string::npos) end = n;
      if (end == i) return "empty segment at " + std::to_string(i + 1);
      if (end < n && s[end] == ']') return "']' at " + std::to_string(end + 1) + " without '['";
      out.push_back(s.substr(i, end - i));
      i = end;
    }
    if (i == n) return "";
    if (s[i] == '.') {
      ++i;
      if (i == n || s[i] == '[') return "empty segment after '.' at " + std::to_string(i);
    } else if (s[i] == ']') {
      return "']' at " + std::to_string(i + 1) + " without '['";
    }
  }
}

// '*' matches any run of characters within the segment.
bool segment_matches(const std::string& glob, const std::string& seg) {
  size_t g = 0, s = 0, star = std::string::npos, mark = 0;
  while (s < seg.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = g++;
      mark = s;
    } else if (g < glob.size() && glob[g] == seg[s]) {
      ++g;
      ++s;
    } else if (star != std::string::npos) {
      g = star + 1;
      s = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

bool segments_match(const std::vector<std::string>& glob, size_t g, const std::vector<std::string>& path, size_t p) {
  if (g == glob.size()) return p == path.size();
  if (glob[g] == "**") {
    for (size_t k = p; k <= path.size(); ++k)
      if (segments_match(glob, g + 1, path, k)) return true;
    return false;
  }
  return p < path.size() && segment_matches(glob[g], path[p]) && segments_match(glob, g + 1, path, p + 1);
}

std::string child(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }
std::string item(const std::string& path, const std::string& key) { return path + "[" + key + "]"; }

// ---------------------------------------------------------------------------------------------
// Normalised fields: per-run values compared by what they mean, not as they are (the header lists
// them; keep this table minimal).

bool same_group_presence(const json& simulator, const json& host) {
  return (simulator.is_number() && host.is_number()) || simulator == host;
}

std::string from_dmar(const std::string& line) {
  const size_t at = line.find("DMAR:");
  return at == std::string::npos ? line : line.substr(at);
}

bool same_from_dmar(const json& simulator, const json& host) {
  if (!simulator.is_string() || !host.is_string()) return simulator == host;
  return from_dmar(simulator.get<std::string>()) == from_dmar(host.get<std::string>());
}

struct Normalisation {
  const char* path;  // glob
  const char* why;
  bool (*same)(const json& simulator, const json& host);
};

const Normalisation kNormalisations[] = {
    {"devices[*].iommu_group", "group numbers follow discovery order; groups[] compares the partition",
     same_group_presence},
    {"probes[*].result.group", "the probed device's group number, as above", same_group_presence},
    {"probes[*].result.faults.lines[*].line", "the kernel log record prefix (timestamp, level) before DMAR:",
     same_from_dmar},
};

// Top-level keys that are not compared (the header says why) or that have their own comparison.
const std::set<std::string> kNotCompared = {"schema", "source", "kernel", "cmdline", "lspci"};
const std::set<std::string> kOwnComparison = {"dmar", "devices", "groups", "probes"};

// ---------------------------------------------------------------------------------------------
// Reading the reports

[[noreturn]] void malformed(const char* side, const std::string& problem) {
  throw std::invalid_argument(std::string(side) + " report: " + problem);
}

// "devices": BDF -> device object.
std::map<std::string, const json*> devices_by_bdf(const json& report, const char* side) {
  std::map<std::string, const json*> out;
  const auto it = report.find("devices");
  if (it == report.end() || it->is_null()) return out;
  if (!it->is_array()) malformed(side, "\"devices\" is not a list");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& d = (*it)[i];
    if (!d.is_object() || !d.contains("bdf") || !d["bdf"].is_string())
      malformed(side, "devices[" + std::to_string(i) + "] has no \"bdf\" string");
    if (!out.emplace(d["bdf"].get<std::string>(), &d).second)
      malformed(side, "device " + d["bdf"].get<std::string>() + " is listed twice");
  }
  return out;
}

// "groups": BDF -> the sorted members of its group.
std::map<std::string, std::vector<std::string>> group_members(const json& report, const char* side) {
  std::map<std::string, std::vector<std::string>> out;
  const auto it = report.find("groups");
  if (it == report.end() || it->is_null()) return out;
  if (!it->is_object()) malformed(side, "\"groups\" is not an object of group number -> devices");
  for (const auto& [number, members] : it->items()) {
    if (!members.is_array()) malformed(side, "group " + number + " is not a list of BDFs");
    std::vector<std::string> sorted;
    for (const json& m : members) {
      if (!m.is_string()) malformed(side, "group " + number + " holds a member that is not a BDF string");
      sorted.push_back(m.get<std::string>());
    }
    std::sort(sorted.begin(), sorted.end());
    for (const std::string& bdf : sorted)
      if (!out.emplace(bdf, sorted).second) malformed(side, bdf + " is in two groups (or twice in group " + number + ")");
  }
  return out;
}

// "probes": "BDF/driver" -> probe object.
std::map<std::string, const json*> probes_by_key(const json& report, const char* side) {
  std::map<std::string, const json*> out;
  const auto it = report.find("probes");
  if (it == report.end() || it->is_null()) return out;
  if (!it->is_array()) malformed(side, "\"probes\" is not a list");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& p = (*it)[i];
    if (!p.is_object() || !p.contains("device") || !p["device"].is_string() || !p.contains("driver") ||
        !p["driver"].is_string())
      malformed(side, "probes[" + std::to_string(i) + "] has no \"device\" and \"driver\" strings");
    const std::string key = p["device"].get<std::string>() + "/" + p["driver"].get<std::string>();
    if (!out.emplace(key, &p).second) malformed(side, "probe " + key + " is listed twice");
  }
  return out;
}

// The first remapping unit's capability registers from its boot line (dmar.c alloc_iommu):
// "DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap d2008c22260206 ecap f00f4a".
std::optional<std::pair<std::string, std::string>> unit_caps(const json& report, const char* side) {
  const auto it = report.find("dmar");
  if (it == report.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) malformed(side, "\"dmar\" is not a list of kernel log lines");
  static const std::regex kLine(
      "(^|[^0-9A-Za-z_])dmar0: reg_base_addr [0-9a-fA-F]+ ver [0-9]+:[0-9]+ cap ([0-9a-fA-F]+) ecap ([0-9a-fA-F]+)");
  auto hex = [](std::string v) {
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return "0x" + v;
  };
  for (const json& line : *it) {
    if (!line.is_string()) continue;
    std::smatch m;
    const std::string& text = line.get_ref<const std::string&>();
    if (std::regex_search(text, m, kLine)) return std::make_pair(hex(m[2].str()), hex(m[3].str()));
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// The comparison

class Comparer {
 public:
  Comparison run(const json& simulator, const json& host) {
    if (!simulator.is_object()) malformed("simulator", "not a JSON object");
    if (!host.is_object()) malformed("host", "not a JSON object");
    dmar(simulator, host);
    const auto sim_devices = devices_by_bdf(simulator, "simulator");
    const auto host_devices = devices_by_bdf(host, "host");
    devices(sim_devices, host_devices);
    groups(group_members(simulator, "simulator"), group_members(host, "host"), sim_devices, host_devices);
    probes(probes_by_key(simulator, "simulator"), probes_by_key(host, "host"));
    std::set<std::string> rest;
    for (const auto& [key, value] : simulator.items()) rest.insert(key);
    for (const auto& [key, value] : host.items()) rest.insert(key);
    for (const std::string& key : rest) {
      if (kNotCompared.count(key) || kOwnComparison.count(key)) continue;
      const auto s = simulator.find(key), h = host.find(key);
      pair(key, s != simulator.end() ? &*s : nullptr, h != host.end() ? &*h : nullptr);
    }
    return std::move(m_out);
  }

 private:
  void dmar(const json& simulator, const json& host) {
    const auto s = unit_caps(simulator, "simulator"), h = unit_caps(host, "host");
    if (!s && !h) return;
    const json sc = s ? json(s->first) : json(), se = s ? json(s->second) : json();
    const json hc = h ? json(h->first) : json(), he = h ? json(h->second) : json();
    pair("dmar.cap", s ? &sc : nullptr, h ? &hc : nullptr);
    pair("dmar.ecap", s ? &se : nullptr, h ? &he : nullptr);
  }

  void devices(const std::map<std::string, const json*>& sim, const std::map<std::string, const json*>& host) {
    for (const std::string& bdf : union_of_keys(sim, host)) {
      const auto s = sim.find(bdf), h = host.find(bdf);
      const std::string path = item("devices", bdf);
      if (s != sim.end() && h != host.end())
        objects(path, *s->second, *h->second, {"bdf"});
      else
        pair(path, s != sim.end() ? s->second : nullptr, h != host.end() ? h->second : nullptr);
    }
  }

  void groups(const std::map<std::string, std::vector<std::string>>& sim,
              const std::map<std::string, std::vector<std::string>>& host,
              const std::map<std::string, const json*>& sim_devices,
              const std::map<std::string, const json*>& host_devices) {
    for (const std::string& bdf : union_of_keys(sim, host)) {
      if (sim_devices.count(bdf) != host_devices.count(bdf)) continue;  // devices[BDF] reports it
      const auto s = sim.find(bdf), h = host.find(bdf);
      const json sm = s != sim.end() ? json(s->second) : json(), hm = h != host.end() ? json(h->second) : json();
      const std::string path = item("groups", bdf);
      if (s == sim.end())
        differ(path, sm, hm, "only_host");
      else if (h == host.end())
        differ(path, sm, hm, "only_simulator");
      else if (sm == hm)
        ++m_out.compared;
      else
        differ(path, sm, hm, "differs");  // one difference per device: the member lists as a whole
    }
  }

  void probes(const std::map<std::string, const json*>& sim, const std::map<std::string, const json*>& host) {
    for (const std::string& key : union_of_keys(sim, host)) {
      const auto s = sim.find(key), h = host.find(key);
      const std::string path = item("probes", key);
      if (s != sim.end() && h != host.end())
        objects(path, *s->second, *h->second, {"device", "driver"});
      else
        pair(path, s != sim.end() ? s->second : nullptr, h != host.end() ? h->second : nullptr);
    }
  }

  // A field that may be missing on either side (not both).
  void pair(const std::string& path, const json* s, const json* h) {
    if (s && h)
      values(path, *s, *h);
    else if (s)
      differ(path, *s, json(), "only_simulator");
    else if (h)
      differ(path, json(), *h, "only_host");
  }

  void values(const std::string& path, const json& s, const json& h) {
    for (const Normalisation& n : kNormalisations) {
      if (!path_matches(n.path, path)) continue;
      if (n.same(s, h))
        ++m_out.compared;
      else
        differ(path, s, h, "differs");
      return;
    }
    if (s.is_object() && h.is_object()) return objects(path, s, h, {});
    if (s.is_array() && h.is_array()) return arrays(path, s, h);
    if (s == h)
      ++m_out.compared;
    else
      differ(path, s, h, "differs");
  }

  void objects(const std::string& path, const json& s, const json& h, const std::set<std::string>& skip) {
    std::set<std::string> keys;
    for (const auto& [key, value] : s.items()) keys.insert(key);
    for (const auto& [key, value] : h.items()) keys.insert(key);
    bool any = false;
    for (const std::string& key : keys) {
      if (skip.count(key)) continue;
      any = true;
      const auto si = s.find(key), hi = h.find(key);
      pair(child(path, key), si != s.end() ? &*si : nullptr, hi != h.end() ? &*hi : nullptr);
    }
    if (!any) ++m_out.compared;  // two empty objects: one field, equal
  }

  // An array whose elements are all objects with a unique integer or string "index": index -> element,
  // in array order. Empty when the array is not like that.
  static std::optional<std::vector<std::pair<std::string, const json*>>> by_index(const json& a) {
    std::vector<std::pair<std::string, const json*>> out;
    std::set<std::string> seen;
    for (const json& e : a) {
      if (!e.is_object()) return std::nullopt;
      const auto idx = e.find("index");
      if (idx == e.end()) return std::nullopt;
      std::string key;
      if (idx->is_number_integer())
        key = idx->dump();
      else if (idx->is_string())
        key = idx->get<std::string>();
      else
        return std::nullopt;
      if (!seen.insert(key).second) return std::nullopt;
      out.emplace_back(key, &e);
    }
    return out;
  }

  void arrays(const std::string& path, const json& s, const json& h) {
    if (s.empty() && h.empty()) {
      ++m_out.compared;
      return;
    }
    const auto sk = by_index(s), hk = by_index(h);
    if (sk && hk) {  // matched by "index": the simulator's order, then what only the host has
      std::vector<std::string> order;
      std::map<std::string, const json*> sm, hm;
      for (const auto& [key, e] : *sk) {
        order.push_back(key);
        sm[key] = e;
      }
      for (const auto& [key, e] : *hk) {
        if (!sm.count(key)) order.push_back(key);
        hm[key] = e;
      }
      for (const std::string& key : order) {
        const auto si = sm.find(key), hi = hm.find(key);
        pair(item(path, key), si != sm.end() ? si->second : nullptr, hi != hm.end() ? hi->second : nullptr);
      }
      return;
    }
    for (size_t i = 0; i < std::max(s.size(), h.size()); ++i)
      pair(item(path, std::to_string(i)), i < s.size() ? &s[i] : nullptr, i < h.size() ? &h[i] : nullptr);
  }

  void differ(const std::string& path, const json& s, const json& h, const char* kind) {
    ++m_out.compared;
    m_out.differences.push_back(Difference{path, s, h, kind, "", ""});
  }

  template <typename Map>
  static std::set<std::string> union_of_keys(const Map& a, const Map& b) {
    std::set<std::string> keys;
    for (const auto& kv : a) keys.insert(kv.first);
    for (const auto& kv : b) keys.insert(kv.first);
    return keys;
  }

  Comparison m_out;
};

bool entry_applies(const AllowEntry& e, const Difference& d, const std::string& topology) {
  if (!e.topology.empty() && e.topology != topology) return false;
  if (e.simulator && *e.simulator != d.simulator) return false;
  if (e.host && *e.host != d.host) return false;
  return path_matches(e.path, d.path);
}

// ---------------------------------------------------------------------------------------------
// The allow-list file

constexpr size_t kMaxAllowListBytes = 1u << 20;

std::pair<int, int> line_col(const YAML::Mark& m) {
  return m.is_null() ? std::pair<int, int>{0, 0} : std::pair<int, int>{m.line + 1, m.column + 1};
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "nothing";
  }
}

class AllowListLoader {
 public:
  explicit AllowListLoader(std::string file) : m_file(std::move(file)) {}

  std::vector<AllowEntry> load(const std::string& yaml) {
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(yaml);
    } catch (const YAML::ParserException& e) {
      fail(e.mark, "YAML syntax error: " + e.msg);
    }
    if (docs.size() > 1)
      fail(docs[1].Mark(), "an allow-list file holds one YAML document, found " + std::to_string(docs.size()));
    if (docs.empty() || docs[0].IsNull()) return {};  // nothing but comments: no entries
    try {
      return entries(docs[0]);
    } catch (const YAML::Exception& e) {  // yaml-cpp should not throw here; keep its position if it does
      fail(e.mark, e.msg);
    }
  }

 private:
  struct Field {
    YAML::Node key, value;
  };

  std::vector<AllowEntry> entries(const YAML::Node& root) {
    if (!root.IsSequence())
      fail(root.Mark(), "an allow-list is a YAML list of entries ('- id: ...'), found " + describe(root));
    std::vector<AllowEntry> out;
    std::map<std::string, int> first_line;  // id -> line
    for (const YAML::Node& node : root) {
      AllowEntry e = entry(node);
      const auto [it, fresh] = first_line.emplace(e.id, e.line);
      if (!fresh)
        fail(m_id_mark, "duplicate id '" + e.id + "' (first used at line " + std::to_string(it->second) + ")");
      out.push_back(std::move(e));
    }
    return out;
  }

  AllowEntry entry(const YAML::Node& node) {
    if (!node.IsMap())
      fail(node.Mark(), "an allow-list entry is a mapping with id, path and reason, found " + describe(node));
    static const std::set<std::string> kKeys = {"id", "path", "topology", "reason", "simulator", "host"};
    std::map<std::string, Field> fields;
    for (const auto& kv : node) {
      const YAML::Node key = kv.first;
      if (!key.IsScalar()) fail(key.Mark(), "an entry's keys are names, found " + describe(key));
      const std::string name = key.Scalar();
      if (!kKeys.count(name))
        fail(key.Mark(), "unknown key '" + name + "' (an entry has id, path, reason, topology, simulator, host)");
      if (!fields.emplace(name, Field{key, kv.second}).second) fail(key.Mark(), "key '" + name + "' given twice");
    }
    AllowEntry e;
    e.line = line_col(node.Mark()).first;
    e.id = text(node, fields, "id");
    m_id_mark = mark(fields.at("id"));
    e.path = text(node, fields, "path");
    if (const std::string problem = glob_problem(e.path); !problem.empty())
      fail(mark(fields.at("path")), "bad path glob '" + e.path + "': " + problem);
    e.reason = text(node, fields, "reason");
    if (fields.count("topology")) e.topology = text(node, fields, "topology");
    if (fields.count("simulator")) e.simulator = value(fields.at("simulator").value);
    if (fields.count("host")) e.host = value(fields.at("host").value);
    return e;
  }

  // A required or given text field: a scalar, not empty after trimming.
  std::string text(const YAML::Node& entry, const std::map<std::string, Field>& fields, const std::string& name) {
    const auto it = fields.find(name);
    if (it == fields.end()) fail(entry.Mark(), "entry has no '" + name + "'");
    const YAML::Node& v = it->second.value;
    if (!v.IsScalar()) fail(mark(it->second), "'" + name + "' must be text, found " + describe(v));
    std::string s = v.Scalar();
    const size_t first = s.find_first_not_of(" \t\r\n"), last = s.find_last_not_of(" \t\r\n");
    s = first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
    if (s.empty()) fail(mark(it->second), "'" + name + "' is empty");
    return s;
  }

  // Where a field's value is; its key when the value has no position (an empty value).
  static YAML::Mark mark(const Field& f) { return f.value.Mark().is_null() ? f.key.Mark() : f.value.Mark(); }

  json value(const YAML::Node& v) {
    switch (v.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined: return nullptr;
      case YAML::NodeType::Sequence: {
        json a = json::array();
        for (const YAML::Node& e : v) a.push_back(value(e));
        return a;
      }
      case YAML::NodeType::Map: {
        json o = json::object();
        for (const auto& kv : v) {
          if (!kv.first.IsScalar()) fail(kv.first.Mark(), "keys in a value are names, found " + describe(kv.first));
          o[kv.first.Scalar()] = value(kv.second);
        }
        return o;
      }
      case YAML::NodeType::Scalar: break;
    }
    const std::string& s = v.Scalar();
    if (v.Tag() == "!" || v.Tag() == "tag:yaml.org,2002:str") return s;  // quoted (or !!str): text
    if (v.Tag() != "?") fail(v.Mark(), "YAML tags (" + v.Tag() + ") are not supported in values");
    if (s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    static const std::regex kInteger("[-+]?[0-9]+");
    static const std::regex kReal("[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+");
    if (std::regex_match(s, kInteger)) {
      errno = 0;
      char* end = nullptr;
      if (s[0] != '-') {
        const unsigned long long u = std::strtoull(s.c_str(), &end, 10);
        if (errno == 0) return u;
      } else {
        const long long i = std::strtoll(s.c_str(), &end, 10);
        if (errno == 0) return i;
      }
      fail(v.Mark(), "number " + s + " does not fit in 64 bits (quote it to compare text)");
    }
    if (std::regex_match(s, kReal)) return std::strtod(s.c_str(), nullptr);
    return s;
  }

  [[noreturn]] void fail(const YAML::Mark& at, const std::string& problem) const {
    const auto [line, column] = line_col(at);
    throw AllowListError(m_file, line, column, problem);
  }

  std::string m_file;
  YAML::Mark m_id_mark;  // the current entry's id, for the duplicate-id message
};

std::string location(const std::string& file, int line, int column) {
  std::string s = file.empty() ? std::string("<allow-list>") : file;
  if (line > 0) {
    s += ":" + std::to_string(line);
    if (column > 0) s += ":" + std::to_string(column);
  }
  return s;
}

// Compact JSON (ASCII only, so a cut never splits a character).
std::string compact(const json& v) { return v.dump(-1, ' ', true, json::error_handler_t::replace); }

// `text` from `from` on (with "..." when that is not its start), cut to about 40 characters.
std::string abbreviate(const std::string& text, size_t from) {
  constexpr size_t kWidth = 40;
  std::string s = from > 0 ? "..." + text.substr(from) : text;
  if (s.size() > kWidth) s = s.substr(0, kWidth - 3) + "...";
  return s;
}

// Where two long values' abbreviations start: a little before their first difference, so that two
// long lines that differ near the end do not print as the same 40 characters.
size_t window_start(const std::string& a, const std::string& b) {
  constexpr size_t kLead = 12;  // characters of common text kept before the difference
  size_t k = 0;
  while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
  return k > 40 - 3 - kLead ? k - kLead : 0;
}

}  // namespace

AllowListError::AllowListError(const std::string& file, int line, int column, const std::string& problem)
    : std::runtime_error(location(file, line, column) + ": " + problem), m_file(file), m_line(line) {}

std::vector<AllowEntry> load_allow_list_string(const std::string& yaml, const std::string& pretend_filename) {
  if (yaml.size() > kMaxAllowListBytes)
    throw AllowListError(pretend_filename, 0, 0, "allow-list is larger than " + std::to_string(kMaxAllowListBytes >> 10) + " KiB");
  return AllowListLoader(pretend_filename).load(yaml);
}

std::vector<AllowEntry> load_allow_list(const std::string& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) throw AllowListError(file, 0, 0, "cannot open allow-list: it is a directory");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw AllowListError(file, 0, 0, std::string("cannot open allow-list: ") + std::strerror(errno));
  std::string yaml;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    yaml.append(buf, static_cast<size_t>(in.gcount()));
    if (yaml.size() > kMaxAllowListBytes)
      throw AllowListError(file, 0, 0, "allow-list is larger than " + std::to_string(kMaxAllowListBytes >> 10) + " KiB");
  }
  if (in.bad()) throw AllowListError(file, 0, 0, std::string("cannot read allow-list: ") + std::strerror(errno));
  return AllowListLoader(file).load(yaml);
}

std::string glob_problem(const std::string& glob) {
  std::vector<std::string> segments;
  if (std::string problem = split_segments(glob, segments); !problem.empty()) return problem;
  for (const std::string& seg : segments) {
    if (seg == "**") continue;
    if (seg.find("**") != std::string::npos)
      return "'**' must be a whole segment (" + seg + "); inside a segment use '*'";
  }
  return "";
}

bool path_matches(const std::string& glob, const std::string& path) {
  std::vector<std::string> g, p;
  if (!split_segments(glob, g).empty() || !split_segments(path, p).empty()) return false;
  return segments_match(g, 0, p, 0);
}

size_t Comparison::allowed() const {
  return static_cast<size_t>(
      std::count_if(differences.begin(), differences.end(), [](const Difference& d) { return !d.allowed_by.empty(); }));
}

size_t Comparison::unexplained() const { return differences.size() - allowed(); }

Comparison compare(const json& simulator, const json& host, const std::vector<AllowEntry>& allow,
                   const std::string& topology) {
  Comparison out = Comparer().run(simulator, host);
  for (Difference& d : out.differences) {
    for (const AllowEntry& e : allow) {
      if (!entry_applies(e, d, topology)) continue;
      d.allowed_by = e.id;
      d.reason = e.reason;
      break;
    }
  }
  return out;
}

std::string format_table(const Comparison& comparison) {
  struct Row {
    std::string path, simulator, host, verdict;
  };
  std::vector<Row> rows;
  Row head{"path", "simulator", "host", "verdict"};
  size_t w_path = head.path.size(), w_sim = head.simulator.size(), w_host = head.host.size();
  for (const Difference& d : comparison.differences) {
    const std::string sim = compact(d.simulator), host = compact(d.host);
    const size_t from = d.kind == "differs" ? window_start(sim, host) : 0;
    Row r{d.path, d.kind == "only_host" ? "(absent)" : abbreviate(sim, from),
          d.kind == "only_simulator" ? "(absent)" : abbreviate(host, from),
          d.allowed_by.empty() ? "DIFFERS" : "allowed (" + d.allowed_by + ")"};
    w_path = std::max(w_path, r.path.size());
    w_sim = std::max(w_sim, r.simulator.size());
    w_host = std::max(w_host, r.host.size());
    rows.push_back(std::move(r));
  }
  std::ostringstream out;
  auto line = [&](const Row& r) {
    auto pad = [](const std::string& s, size_t w) { return s + std::string(w - s.size() + 2, ' '); };
    out << pad(r.path, w_path) << pad(r.simulator, w_sim) << pad(r.host, w_host) << r.verdict << "\n";
  };
  if (!rows.empty()) {
    line(head);
    for (const Row& r : rows) line(r);
  }
  out << comparison.compared << " fields compared, " << comparison.differences.size() << " differences, "
      << comparison.allowed() << " allowed, " << comparison.unexplained() << " unexplained\n";
  return out.str();
}

}  // namespace pciesim::hostval
