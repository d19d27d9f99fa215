// Scenario files -> Scenario (docs/scenarios.md). Every problem names file:line:col and the field.
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "pcie/topology/yaml_loader.h"
#include "scenario.h"
#include "scenario_irq_parse.h"
#include "pcie/topology/validate.h"
#include "scenario_yaml.h"

namespace pciesim::scenario {

ScenarioError::ScenarioError(const SourceLoc& loc, const std::string& field, const std::string& msg)
    : topo::TopologyError(loc, field.empty() ? msg : field + ": " + msg) {}

const char* to_string(Step::Kind k) {
  switch (k) {
    case Step::Kind::Map: return "map";
    case Step::Kind::Unmap: return "unmap";
    case Step::Kind::Dma: return "dma";
    case Step::Kind::P2p: return "p2p";
    case Step::Kind::Invalidate: return "invalidate";
    case Step::Kind::Reset: return "reset";
    case Step::Kind::Msi: return "msi";
    case Step::Kind::Groups: return "groups";
    case Step::Kind::Setpci: return "setpci";
    case Step::Kind::Wait: return "wait";
    case Step::Kind::SriovEnable: return "sriov_enable";
    case Step::Kind::GpuMap: return "gpu_map";
    case Step::Kind::GpuCopy: return "gpu_copy";
    case Step::Kind::IrqSetup: return "irq_setup";
    case Step::Kind::Irte: return "irte";
  }
  return "?";
}

bool ScenarioResult::passed() const {
  if (!error.empty()) return false;
  for (const StepResult& s : steps)
    if (!s.pass) return false;
  return true;
}

namespace {

constexpr size_t kMaxScenarioBytes = 4u << 20;
constexpr size_t kMaxSteps = 10000;

class Parser : ScenarioFields {
 public:
  explicit Parser(std::string file) : ScenarioFields(std::move(file)) {}

  Scenario parse(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      throw ScenarioError(at_mark(e.mark), "", "YAML syntax error: " + e.msg);
    }
    if (!root || root.IsNull()) throw ScenarioError({m_file, 1, 1}, "", "empty scenario file");
    Scenario s;
    s.file = m_file;
    const auto m = fields(root, "scenario", {"name", "description", "topology", "boot", "owners", "steps"});
    s.name = text_of(require(root, "name", "scenario"), "name");
    if (root["description"]) s.description = text_of(root["description"], "description");
    topology(require(root, "topology", "scenario"), s);
    if (root["boot"]) boot(root["boot"], s.boot);
    if (root["owners"]) owners(root["owners"], s);
    const YAML::Node& steps = require(root, "steps", "scenario");
    if (!steps.IsSequence() || steps.size() == 0) fail(steps, "steps", "expected a list of at least one step");
    if (steps.size() > kMaxSteps) fail(steps, "steps", "more than " + std::to_string(kMaxSteps) + " steps");
    for (const YAML::Node& st : steps) s.steps.push_back(step(st, s));
    return s;
  }

 private:
  std::vector<std::string> names(const YAML::Node& n, const std::string& field) const {
    if (!n.IsSequence() || n.size() == 0) fail(n, field, "expected a list of device names");
    std::vector<std::string> out;
    for (const YAML::Node& i : n) out.push_back(text_of(i, field));
    return out;
  }

  void topology(const YAML::Node& n, Scenario& s) const {
    if (n.IsScalar()) {
      namespace fs = std::filesystem;
      const fs::path p = fs::path(m_file).parent_path() / n.Scalar();
      std::error_code ec;
      if (!fs::is_regular_file(p, ec)) fail(n, "topology", "no topology file " + p.string());
      s.topology = topo::load_topology_file(p.string());
    } else if (n.IsMap()) {
      s.topology = topo::load_topology_node(n, m_file);
    } else {
      fail(n, "topology", "expected a file path (relative to the scenario) or an inline topology mapping");
    }
  }

  void boot(const YAML::Node& n, BootOptions& b) const {
    fields(n, "boot", {"iommu", "strict", "passthrough", "acs_override"});
    if (n["iommu"]) b.iommu = boolean(n["iommu"], "boot.iommu");
    if (n["strict"]) b.strict = boolean(n["strict"], "boot.strict");
    if (n["passthrough"]) b.passthrough = boolean(n["passthrough"], "boot.passthrough");
    if (n["acs_override"]) acs_override(n["acs_override"], b.acs_override);
  }

  // pcie_acs_override= items, as `pciesim isolation --acs-override` takes them: a list
  // [downstream, multifunction, "id:8086:1234"] or the command line's comma-separated text.
  void acs_override(const YAML::Node& n, groups::AcsOverride& ov) const {
    const std::string field = "boot.acs_override";
    std::vector<YAML::Node> items;
    if (n.IsSequence()) {
      for (const YAML::Node& i : n) items.push_back(i);
    } else if (n.IsScalar()) {
      items.push_back(n);
    }
    if (items.empty())
      fail(n, field, "expected a list of downstream, multifunction or \"id:VVVV:DDDD\" (pcie_acs_override=)");
    for (const YAML::Node& i : items) {
      const std::string text = text_of(i, field);
      size_t start = 0;
      for (;;) {  // the command line's form: items separated by commas
        const size_t comma = text.find(',', start);
        const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        const std::string err = groups::add_acs_override_item(ov, item);
        if (!err.empty()) fail(i, field, err);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
  }

  void owners(const YAML::Node& n, Scenario& s) const {
    if (!n.IsMap()) fail(n, "owners", "expected a mapping of owner name -> {vfio: [devices]} or {dma_api: [devices]}");
    std::set<std::string> seen_devices;
    for (auto it = n.begin(); it != n.end(); ++it) {
      Owner o;
      o.name = it->first.Scalar();
      o.loc = loc(it->first);
      const std::string field = "owners." + o.name;
      fields(it->second, field, {"vfio", "dma_api"});
      if (it->second.size() != 1) fail(it->second, field, "give exactly one of vfio or dma_api");
      if (it->second["vfio"]) {
        o.kind = Owner::Kind::Vfio;
        o.devices = names(it->second["vfio"], field + ".vfio");
      } else {
        o.kind = Owner::Kind::DmaApi;
        o.devices = names(it->second["dma_api"], field + ".dma_api");
      }
      for (const std::string& d : o.devices)
        if (!seen_devices.insert(d).second) fail(it->second, field, "device " + d + " already has an owner");
      s.owners.push_back(o);
    }
  }

  const Owner& owner_of(const YAML::Node& n, const std::string& field, const Scenario& s) const {
    const std::string name = text_of(n, field);
    for (const Owner& o : s.owners)
      if (o.name == name) return o;
    fail(n, field, "no owner '" + name + "' under owners:");
  }

  Step step(const YAML::Node& n, const Scenario& s) const {
    static const std::map<std::string, Step::Kind> kinds = {
        {"map", Step::Kind::Map},         {"unmap", Step::Kind::Unmap}, {"dma", Step::Kind::Dma},
        {"p2p", Step::Kind::P2p},         {"invalidate", Step::Kind::Invalidate},
        {"reset", Step::Kind::Reset},     {"msi", Step::Kind::Msi},     {"groups", Step::Kind::Groups},
        {"setpci", Step::Kind::Setpci},   {"wait", Step::Kind::Wait},   {"sriov_enable", Step::Kind::SriovEnable},
        {"gpu_map", Step::Kind::GpuMap},  {"gpu_copy", Step::Kind::GpuCopy},
        {"irq_setup", Step::Kind::IrqSetup}, {"irte", Step::Kind::Irte}};
    static const char* kKindList =
        "map, unmap, dma, p2p, invalidate, reset, msi, groups, setpci, wait, sriov_enable, gpu_map, gpu_copy, irq_setup, irte";
    if (!n.IsMap()) fail(n, "steps", "each step is a mapping such as {dma: {...}, expect: {...}}");
    Step st;
    st.loc = loc(n);
    std::string kind_key;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (key == "expect") continue;
      if (!kinds.count(key))
        fail(it->first, "steps." + key, std::string("unknown step kind (") + kKindList + ")");
      if (!kind_key.empty()) fail(it->first, "steps." + key, "one step kind per step (already '" + kind_key + "')");
      kind_key = key;
    }
    if (kind_key.empty()) fail(n, "steps", std::string("a step needs a kind (") + kKindList + ")");
    st.kind = kinds.at(kind_key);
    const YAML::Node body = n[kind_key];
    const std::string f = kind_key;
    std::ostringstream label;
    label << f;
    switch (st.kind) {
      case Step::Kind::Map:
      case Step::Kind::Unmap: {
        fields(body, f, {"owner", "iova", "size", "buffer", "access"});
        const Owner& o = owner_of(require(body, "owner", f), f + ".owner", s);
        st.owner = o.name;
        if (o.kind == Owner::Kind::Vfio) {
          if (body["buffer"]) fail(body["buffer"], f + ".buffer", "VFIO owners map at an IOVA they choose: use iova");
          st.iova = number(require(body, "iova", f), f + ".iova");
          st.size = number(require(body, "size", f), f + ".size", 2u << 20);
          if (st.iova % 4096 || st.size % 4096 || st.size == 0)
            fail(body, f, "iova and size must be multiples of 4 KiB (VFIO type1 works in pages)");
          label << " " << o.name << " iova 0x" << std::hex << st.iova << "+0x" << st.size;
        } else {
          if (body["iova"]) fail(body["iova"], f + ".iova", "the DMA API chooses the IOVA: name the mapping with buffer");
          st.buffer = text_of(require(body, "buffer", f), f + ".buffer");
          if (st.kind == Step::Kind::Map) st.size = number(require(body, "size", f), f + ".size", 2u << 20);
          if (st.kind == Step::Kind::Map && st.size == 0) fail(body["size"], f + ".size", "must not be 0");
          label << " " << o.name << " " << st.buffer;
        }
        if (body["access"]) {
          const std::string a = text_of(body["access"], f + ".access");
          if (a != "r" && a != "w" && a != "rw") fail(body["access"], f + ".access", "r, w or rw");
          st.readable = a.find('r') != std::string::npos;
          st.writable = a.find('w') != std::string::npos;
        }
        break;
      }
      case Step::Kind::Dma:
      case Step::Kind::P2p: {
        fields(body, f, {"from", "to", "op", "length", "fill", "spoof", "at", "phantom"});
        st.from = text_of(require(body, "from", f), f + ".from");
        st.to = text_of(require(body, "to", f), f + ".to");
        if (st.kind == Step::Kind::P2p && st.to.find(":BAR") == std::string::npos)
          fail(body["to"], f + ".to", "p2p targets a peer's BAR: DEVICE:BARn[+OFFSET]");
        if (body["op"]) {
          const std::string op = text_of(body["op"], f + ".op");
          if (op != "read" && op != "write") fail(body["op"], f + ".op", "read or write");
          st.write = op == "write";
        }
        if (body["length"]) st.length = static_cast<uint32_t>(number(body["length"], f + ".length", 4096));
        if (st.length == 0) fail(body["length"], f + ".length", "1..4096 bytes");
        if (body["fill"]) st.fill = static_cast<uint8_t>(number(body["fill"], f + ".fill", 0xff));
        if (body["spoof"]) st.spoof = text_of(body["spoof"], f + ".spoof");
        if (body["at"]) {
          st.at = text_of(body["at"], f + ".at");
          if (st.at != "untranslated" && st.at != "translated" && st.at != "translation-request" && st.at != "ats")
            fail(body["at"], f + ".at", "untranslated, translated, translation-request or ats");
        }
        // PCIe 2.2.6.2: phantom function numbers 1 .. 7 at most (DEVCAP Phantom Functions Supported)
        if (body["phantom"]) st.phantom = static_cast<unsigned>(number(body["phantom"], f + ".phantom", 7));
        label << " " << st.from << " -> " << st.to << " " << (st.write ? "write" : "read") << " " << st.length << " B";
        if (st.spoof) label << " as " << *st.spoof;
        if (st.phantom) label << " phantom " << st.phantom;
        if (st.at != "untranslated") label << " (" << st.at << ")";
        break;
      }
      case Step::Kind::Invalidate: {
        fields(body, f, {"owner"});
        st.owner = owner_of(require(body, "owner", f), f + ".owner", s).name;
        label << " " << st.owner;
        break;
      }
      case Step::Kind::Reset: {
        fields(body, f, {"device"});
        st.from = text_of(require(body, "device", f), f + ".device");
        label << " " << st.from << " (FLR)";
        break;
      }
      case Step::Kind::Msi: parse_msi(body, m_file, st, label); break;  // scenario_irq_parse.cpp
      case Step::Kind::IrqSetup: parse_irq_setup(body, m_file, st, label); break;
      case Step::Kind::Irte: parse_irte(body, m_file, st, label); break;
      case Step::Kind::Setpci: setpci(body, f, st, label); break;
      case Step::Kind::Wait: {
        fields(body, f, {"ns", "us", "ms"});
        if (body.size() != 1) fail(body, f, "give one of ns, us or ms");
        const auto it = body.begin();
        const std::string unit = it->first.Scalar();
        const uint64_t v = number(it->second, f + "." + unit, 10'000'000);  // at most 10^7 units
        st.wait_ps = v * (unit == "ns" ? 1000ull : unit == "us" ? 1000'000ull : 1000'000'000ull);
        if (st.wait_ps == 0) fail(it->second, f + "." + unit, "must not be 0");
        label << " " << v << " " << unit;
        break;
      }
      case Step::Kind::SriovEnable: {
        fields(body, f, {"device", "numvfs"});
        st.from = text_of(require(body, "device", f), f + ".device");
        st.size = number(require(body, "numvfs", f), f + ".numvfs", 0xffff);  // sriov_numvfs: kstrtou16
        label << " " << st.from << " numvfs " << st.size;
        break;
      }
      case Step::Kind::GpuMap: {
        fields(body, f, {"gpu", "context", "va", "size", "to"});
        st.from = text_of(require(body, "gpu", f), f + ".gpu");
        st.ctx = static_cast<unsigned>(number(require(body, "context", f), f + ".context", 15));
        st.iova = number(require(body, "va", f), f + ".va");
        st.size = number(require(body, "size", f), f + ".size", 64u << 20);
        st.to = text_of(require(body, "to", f), f + ".to");
        if (st.to.rfind("vram:", 0) && st.to.rfind("peer:", 0) && st.to.rfind("sys:", 0))
          fail(body["to"], f + ".to", "vram:ADDRESS, peer:GPU:ADDRESS (the peer's VRAM through its BAR1) or sys:IOVA");
        if (st.iova % 4096 || st.size % 4096 || st.size == 0)
          fail(body, f, "va and size must be multiples of 4 KiB (the scenario driver maps 4 KiB pages)");
        label << " " << st.from << " ctx " << st.ctx << " va 0x" << std::hex << st.iova << "+0x" << st.size << " -> " << st.to;
        break;
      }
      case Step::Kind::GpuCopy: {
        fields(body, f, {"gpu", "context", "src", "dst", "size"});
        st.from = text_of(require(body, "gpu", f), f + ".gpu");
        st.ctx = static_cast<unsigned>(number(require(body, "context", f), f + ".context", 15));
        st.iova = number(require(body, "src", f), f + ".src");
        st.dst = number(require(body, "dst", f), f + ".dst");
        st.size = number(require(body, "size", f), f + ".size", 64u << 20);
        if (st.size == 0) fail(body["size"], f + ".size", "must not be 0");
        label << " " << st.from << " ctx " << st.ctx << " 0x" << std::hex << st.iova << " -> 0x" << st.dst << std::dec
              << " " << st.size << " B";
        break;
      }
      case Step::Kind::Groups: {
        st.devices = names(body, f);
        if (st.devices.size() < 2) fail(body, f, "name at least two devices");
        for (const auto& d : st.devices) label << " " << d;
        break;
      }
    }
    st.label = label.str();
    const bool needs_expect = st.kind == Step::Kind::Dma || st.kind == Step::Kind::P2p ||
                              st.kind == Step::Kind::Msi || st.kind == Step::Kind::Groups ||
                              st.kind == Step::Kind::GpuCopy;
    if (n["expect"]) {
      st.expect = expect(n["expect"], st);
    } else if (needs_expect) {
      fail(n, "steps." + f + ".expect", "this step needs an expect: mapping");
    } else {
      st.expect.result = 0;  // map, unmap, invalidate, reset: they must succeed
      st.expect.loc = st.loc;
    }
    return st;
  }

  Expect expect(const YAML::Node& n, const Step& st) const {
    const bool transfer = st.kind == Step::Kind::Dma || st.kind == Step::Kind::P2p || st.kind == Step::Kind::Msi;
    std::set<std::string> allowed;
    if (transfer)
      allowed = {"delivered", "redirected", "blocked", "iommu_fault", "data_equal", "latency_max_ns", "requester", "atc"};
    else if (st.kind == Step::Kind::GpuCopy)
      allowed = {"delivered", "redirected", "blocked", "iommu_fault", "data_equal", "gmmu_fault", "bandwidth_min_gbps"};
    else if (st.kind == Step::Kind::Groups)
      allowed = {"same_group", "different_groups"};
    else
      allowed = {"result"};
    if (st.kind == Step::Kind::Msi) allowed.insert(interrupt_expect_keys().begin(), interrupt_expect_keys().end());
    const std::string f = "expect";
    fields(n, f, allowed);
    if (n.size() == 0) fail(n, f, "expect at least one thing");
    Expect e;
    e.loc = loc(n);
    if (n["delivered"]) e.delivered = boolean(n["delivered"], "expect.delivered");
    if (n["redirected"]) {
      e.redirected = text_of(n["redirected"], "expect.redirected");
      if (!acs_bit_name(*e.redirected)) fail(n["redirected"], "expect.redirected", "an ACS bit: SV TB RR CR UF EC DT");
    }
    if (n["blocked"]) {
      e.blocked = text_of(n["blocked"], "expect.blocked");
      if (!acs_bit_name(*e.blocked) && *e.blocked != "UR" && *e.blocked != "CA")
        fail(n["blocked"], "expect.blocked", "an ACS bit (SV TB RR CR UF EC DT), UR or CA");
    }
    if (n["iommu_fault"]) e.iommu_fault = static_cast<uint16_t>(number(n["iommu_fault"], "expect.iommu_fault", 0xff));
    if (n["data_equal"]) e.data_equal = boolean(n["data_equal"], "expect.data_equal");
    if (n["latency_max_ns"]) e.latency_max_ns = static_cast<double>(number(n["latency_max_ns"], "expect.latency_max_ns"));
    if (n["requester"]) e.requester = text_of(n["requester"], "expect.requester");
    if (n["atc"]) {
      // PcieExtension::atc (models/pcie/ats.h): only a request issued through the function's ATS has one.
      if (st.at != "ats") fail(n["atc"], "expect.atc", "only a dma/p2p step with at: ats uses the ATC");
      e.atc = text_of(n["atc"], "expect.atc");
      if (*e.atc != "hit" && *e.atc != "miss" && *e.atc != "no-translation" && *e.atc != "request-failed" &&
          *e.atc != "not-used")
        fail(n["atc"], "expect.atc", "hit, miss, no-translation, request-failed or not-used");
    }
    if (n["bandwidth_min_gbps"]) {
      if (!n["bandwidth_min_gbps"].IsScalar()) fail(n["bandwidth_min_gbps"], "expect.bandwidth_min_gbps", "expected a number of GB/s");
      try {
        size_t used = 0;
        const std::string& t = n["bandwidth_min_gbps"].Scalar();
        e.bandwidth_min_gbps = std::stod(t, &used);
        if (used != t.size() || !(*e.bandwidth_min_gbps > 0)) throw std::invalid_argument(t);
      } catch (const std::logic_error&) {
        fail(n["bandwidth_min_gbps"], "expect.bandwidth_min_gbps", "a positive number of GB/s such as 12.5");
      }
    }
    if (n["gmmu_fault"]) {
      e.gmmu_fault = text_of(n["gmmu_fault"], "expect.gmmu_fault");
      static const std::set<std::string> types = {"PDE", "PDE_SIZE", "PTE", "VA_LIMIT_VIOLATION", "UNBOUND_INST_BLOCK",
                                                  "PRIV_VIOLATION", "RO_VIOLATION", "UNSUPPORTED_APERTURE",
                                                  "ATOMIC_VIOLATION"};
      if (!types.count(*e.gmmu_fault))
        fail(n["gmmu_fault"], "expect.gmmu_fault", "a GMMU fault type: PDE PDE_SIZE PTE VA_LIMIT_VIOLATION UNBOUND_INST_BLOCK PRIV_VIOLATION RO_VIOLATION UNSUPPORTED_APERTURE ATOMIC_VIOLATION");
    }
    if (n["same_group"]) e.same_group = boolean(n["same_group"], "expect.same_group");
    if (n["different_groups"]) e.different_groups = boolean(n["different_groups"], "expect.different_groups");
    if (n["result"]) {
      if (!n["result"].IsScalar()) fail(n["result"], "expect.result", "0 or a negative errno");
      try {
        e.result = std::stoi(n["result"].Scalar());
      } catch (const std::exception&) {
        fail(n["result"], "expect.result", "0 or a negative errno such as -22");
      }
    }
    const int outcomes = e.delivered.has_value() + e.blocked.has_value() + e.iommu_fault.has_value() +
                         e.gmmu_fault.has_value();
    if (outcomes > 1) fail(n, f, "delivered, blocked, iommu_fault and gmmu_fault exclude each other: give one");
    if (st.kind == Step::Kind::Msi) parse_interrupt_expect(n, m_file, st, e);  // scenario_irq_parse.cpp
    return e;
  }

  // setpci's syntax (pciutils setpci(8)): REG[.WIDTH]=VALUE[:MASK], REG an offset or a capability
  // name with an offset (CAP_EXP+0x8, ECAP_ACS+6). Capability names: CAP_PM CAP_MSI CAP_EXP
  // CAP_MSIX, ECAP_AER ECAP_ACS ECAP_ARI ECAP_SRIOV.
  void setpci(const YAML::Node& body, const std::string& f, Step& st, std::ostringstream& label) const {
    fields(body, f, {"device", "write"});
    st.from = text_of(require(body, "device", f), f + ".device");
    const YAML::Node w = require(body, "write", f);
    const std::string text = text_of(w, f + ".write");
    const auto bad = [&](const std::string& why) {
      fail(w, f + ".write", why + " (REG[.b|.w|.l]=VALUE[:MASK], REG 0x44 or CAP_EXP+0x8)");
    };
    const auto eq = text.find('=');
    if (eq == std::string::npos) bad("no '='");
    std::string reg = text.substr(0, eq), val = text.substr(eq + 1);
    st.width = 4;
    if (const auto dot = reg.rfind('.'); dot != std::string::npos && dot + 2 == reg.size()) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(reg[dot + 1])));
      st.width = c == 'b' ? 1 : c == 'w' ? 2 : c == 'l' ? 4 : 0;
      if (!st.width) bad("width must be .b, .w or .l");
      reg = reg.substr(0, dot);
    }
    const auto num = [&](const std::string& t, uint64_t max) -> uint64_t {
      try {
        size_t used = 0;
        const uint64_t v = std::stoull(t, &used, 0);
        if (used != t.size() || t.empty() || t[0] == '-' || v > max) throw std::invalid_argument(t);
        return v;
      } catch (const std::logic_error&) {
        bad("'" + t + "' is not a number in range");
      }
      return 0;
    };
    uint64_t off = 0;
    if (std::isalpha(static_cast<unsigned char>(reg[0]))) {
      const auto plus = reg.find('+');
      st.cap = reg.substr(0, plus);
      static const std::set<std::string> caps = {"CAP_PM", "CAP_MSI", "CAP_EXP", "CAP_MSIX", "ECAP_AER",
                                                 "ECAP_ACS", "ECAP_ARI", "ECAP_SRIOV"};
      if (!caps.count(st.cap)) bad("unknown capability '" + st.cap + "'");
      if (plus != std::string::npos) off = num(reg.substr(plus + 1), 0xfff);
    } else {
      off = num(reg, 0xfff);
    }
    st.reg = static_cast<uint16_t>(off);
    const uint64_t wmax = st.width == 4 ? 0xffffffffull : (1ull << (8 * st.width)) - 1;
    const auto colon = val.find(':');
    st.value = static_cast<uint32_t>(num(val.substr(0, colon), wmax));
    st.mask = colon == std::string::npos ? static_cast<uint32_t>(wmax) : static_cast<uint32_t>(num(val.substr(colon + 1), wmax));
    if (st.reg % st.width) bad("offset not aligned to the width");  // capability bases are DW aligned
    label << " " << st.from << " " << text;
  }

  static bool acs_bit_name(const std::string& s) { return topo::acs_bit_from_name(s).has_value(); }
};

}  // namespace

Scenario parse_scenario_string(const std::string& yaml, const std::string& pretend_filename) {
  if (yaml.size() > kMaxScenarioBytes)
    throw ScenarioError({pretend_filename, 0, 0}, "", "scenario file is larger than 4 MiB");
  try {
    return Parser(pretend_filename).parse(yaml);
  } catch (const YAML::Exception& e) {
    throw ScenarioError({pretend_filename, e.mark.line + 1, e.mark.column + 1}, "", e.msg);
  }
}

Scenario parse_scenario_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ScenarioError({path, 0, 0}, "", "is a directory, not a scenario file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScenarioError({path, 0, 0}, "", std::string("cannot open scenario file: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_scenario_string(text.str(), path);
}

}  // namespace pciesim::scenario
