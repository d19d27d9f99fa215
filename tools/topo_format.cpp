#include "topo_format.h"

#include <cstdio>
#include <map>
#include <sstream>

#include "pcie/root_complex.h"

namespace pciesim::cli {

namespace {

std::string hex(uint64_t v, int width = 0) {
  char b[32];
  std::snprintf(b, sizeof b, "%0*llx", width, static_cast<unsigned long long>(v));
  return b;
}

std::string acs_bits(uint16_t bits) {
  static const AcsBit all[] = {AcsBit::SV, AcsBit::TB, AcsBit::RR, AcsBit::CR, AcsBit::UF, AcsBit::EC, AcsBit::DT};
  std::string s;
  for (AcsBit b : all)
    if (bits & acs_mask(b)) s += std::string(s.empty() ? "" : " ") + to_string(b);
  return s.empty() ? "-" : s;
}

std::string leaf_label(const FunctionInfo& f) {
  const ConfigSpace& c = f.fn->config();
  std::string s = f.fn->name() + " [" + hex(c.read16(cfg::kVendorId), 4) + ":" + hex(c.read16(cfg::kDeviceId), 4) +
                  "] class " + hex(c.read32(0x08) >> 8, 6);
  return s;
}

// pciutils' tree printer: `line` accumulates the current row; after a row is printed every
// '+' and '|' becomes '|' and everything else a space, which draws the vertical connectors.
class TreePrinter {
 public:
  TreePrinter(const Fabric& f, bool verbose) : m_fabric(f), m_verbose(verbose) {}

  void bus(const std::vector<const FunctionInfo*>& devs, std::string& line) {
    if (devs.empty()) {
      emit(line);
    } else if (devs.size() == 1) {
      line += "--";
      device(*devs[0], line);
    } else {
      for (size_t i = 0; i < devs.size(); ++i) {
        std::string l = line + (i + 1 < devs.size() ? "+-" : "\\-");
        device(*devs[i], l);
        line = l.substr(0, line.size());
      }
    }
  }

  void device(const FunctionInfo& f, std::string& line) {
    RequesterId id = f.bdf();
    line += hex(id.device(), 2) + "." + hex(id.function());
    if (f.fn->is_bridge()) {
      uint8_t sec = f.fn->secondary_bus(), sub = f.fn->subordinate_bus();
      line += sec == sub ? "-[" + hex(sec, 2) + "]-" : "-[" + hex(sec, 2) + "-" + hex(sub, 2) + "]-";
      line += "-";  // pciutils: "-[01]--" then "+-", "--" or nothing for the bus below
      auto kids = m_fabric.children(f.fn);
      bus(kids, line);
      return;
    }
    if (m_verbose) line += "  " + leaf_label(f);
    emit(line);
  }

  void emit(std::string& line) {
    m_out << line << "\n";
    for (char& c : line) c = (c == '+' || c == '|') ? '|' : ' ';
  }

  std::string str() const { return m_out.str(); }

 private:
  const Fabric& m_fabric;
  bool m_verbose;
  std::ostringstream m_out;
};

}  // namespace

std::string acs_summary(const PciFunction& fn) {
  if (!fn.has_acs()) return "none";
  // Linux pci_acs_enabled(): required SV|RR|CR|UF, masked by what is implemented (| EC)
  const uint16_t required = acs_mask(AcsBit::SV) | acs_mask(AcsBit::RR) | acs_mask(AcsBit::CR) | acs_mask(AcsBit::UF);
  const uint16_t need = required & (fn.acs_capability() | acs_mask(AcsBit::EC));
  if ((fn.acs_control() & need) == need) return "isolated";
  return fn.acs_control() ? "partial" : "off";
}

std::string format_tree(const Fabric& fabric, bool verbose) {
  TreePrinter p(fabric, verbose);
  for (const RootComplex* rc : fabric.root_complexes()) {
    std::vector<const FunctionInfo*> root;
    for (const FunctionInfo& f : fabric.functions())
      if (f.segment == rc->segment() && f.parent == nullptr) root.push_back(&f);
    std::string line = "-[" + hex(rc->segment(), 4) + ":" + hex(rc->root_bus(), 2) + "]-";
    p.bus(root, line);
  }
  return p.str();
}

nlohmann::json topology_json(const Fabric& fabric) {
  nlohmann::json j;
  j["name"] = fabric.spec().name;
  j["file"] = fabric.spec().file;
  nlohmann::json fns = nlohmann::json::array();
  for (const FunctionInfo& f : fabric.functions()) {
    const PciFunction& fn = *f.fn;
    const ConfigSpace& c = fn.config();
    nlohmann::json o;
    o["bdf"] = f.bdf_string();
    o["name"] = fn.name();
    o["component"] = f.component;
    o["role"] = to_string(f.role);
    o["vendor"] = hex(c.read16(cfg::kVendorId), 4);
    o["device"] = hex(c.read16(cfg::kDeviceId), 4);
    o["class"] = hex(c.read32(0x08) >> 8, 6);
    if (const FunctionInfo* p = f.parent ? fabric.find(f.parent) : nullptr) o["parent"] = p->bdf_string();
    if (f.link) o["link"] = {{"gen", f.link->gen}, {"width", f.link->width}, {"mps", f.link->mps}, {"mrrs", f.link->mrrs}};
    if (fn.is_bridge()) {
      o["buses"] = {fn.secondary_bus(), fn.subordinate_bus()};
      auto win = [](const Window& w) {
        return w.enabled() ? nlohmann::json{{"base", w.base}, {"limit", w.limit}} : nlohmann::json(nullptr);
      };
      o["windows"] = {{"io", win(fn.io_window())}, {"memory", win(fn.mem_window())}, {"prefetchable", win(fn.pref_window())}};
    } else {
      nlohmann::json bars = nlohmann::json::array();
      for (const DecodedBar& b : fn.bars())
        if (b.index >= 0)
          bars.push_back({{"index", b.index}, {"base", b.base}, {"size", b.size}, {"io", b.io},
                          {"64bit", b.is_64bit}, {"prefetchable", b.prefetchable}});
      o["bars"] = bars;
    }
    if (fn.has_acs())
      o["acs"] = {{"capability", acs_bits(fn.acs_capability())}, {"control", acs_bits(fn.acs_control())},
                  {"summary", acs_summary(fn)}};
    fns.push_back(o);
  }
  j["functions"] = fns;
  return j;
}

std::string topology_dot(const Fabric& fabric) {
  std::ostringstream d;
  d << "digraph pciesim {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
    << "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  std::map<std::string, std::vector<const FunctionInfo*>> by_component;
  for (const FunctionInfo& f : fabric.functions()) by_component[f.component].push_back(&f);
  auto id = [](const FunctionInfo& f) {
    std::string s = "f_" + f.bdf_string();
    for (char& c : s)
      if (c == ':' || c == '.') c = '_';
    return s;
  };
  int cluster = 0;
  for (const auto& [component, fns] : by_component) {
    d << "  subgraph cluster_" << cluster++ << " {\n    label=\"" << component << "\"; style=rounded; color=gray60;\n";
    for (const FunctionInfo* f : fns) {
      std::string color = "white";
      std::string extra;
      if (f->fn->is_bridge() || f->fn->has_acs()) {
        std::string s = acs_summary(*f->fn);
        if (f->role == FunctionRole::RootPort || f->role == FunctionRole::SwitchDownstream || f->fn->has_acs()) {
          color = s == "isolated" ? "palegreen" : s == "partial" ? "khaki" : s == "off" ? "lightsalmon" : "lightgray";
          extra = "\\nACS " + (!f->fn->has_acs()          ? std::string("absent")
                                : f->fn->acs_control() ? acs_bits(f->fn->acs_control())
                                                       : std::string("off"));
        }
      }
      d << "    " << id(*f) << " [label=\"" << f->bdf_string().substr(5) << "\\n" << f->fn->name() << "\\n"
        << to_string(f->role) << extra << "\", style=filled, fillcolor=" << color << "];\n";
    }
    d << "  }\n";
  }
  for (const RootComplex* rc : fabric.root_complexes())
    d << "  rc_" << rc->segment() << " [label=\"" << rc->spec().name << "\\nsegment " << rc->segment()
      << "\", shape=house, style=filled, fillcolor=lightblue];\n";
  for (const FunctionInfo& f : fabric.functions()) {
    if (!f.parent) {
      d << "  rc_" << f.segment << " -> " << id(f) << ";\n";
      continue;
    }
    const FunctionInfo* p = fabric.find(f.parent);
    if (!p) continue;
    d << "  " << id(*p) << " -> " << id(f);
    bool over_link = f.role != FunctionRole::SwitchDownstream && f.role != FunctionRole::Conventional;
    if (over_link && f.link) d << " [label=\"Gen" << f.link->gen << " x" << f.link->width << "\"]";
    else if (f.role == FunctionRole::Conventional) d << " [label=\"PCI\", style=dashed]";
    d << ";\n";
  }
  d << "  legend [shape=plaintext, label=\"ACS: green = SV RR CR UF enabled (isolated), yellow = partial, "
       "salmon = off, gray = no ACS capability\"];\n}\n";
  return d.str();
}

}  // namespace pciesim::cli
