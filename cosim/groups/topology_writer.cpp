// Writes the YAML by hand (plain, block style): the format is small and the output must stay
// readable for people who edit it afterwards.
#include "groups/topology_writer.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace pciesim::groups {

namespace {

std::string hex(unsigned v, int width) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%0*x", width, v);
  return b;
}

std::string node_name(const char* kind, const FunctionView& f) {
  char b[48];
  std::snprintf(b, sizeof b, "%s-%02x-%02x-%u", kind, unsigned(f.bus), f.device_number(), f.function_number());
  return b;
}

std::string acs_bits(uint16_t bits, uint16_t allowed) {
  static const char* kNames[] = {"SV", "TB", "RR", "CR", "UF", "EC", "DT"};
  std::string out = "[";
  for (int i = 0; i < 7; ++i)
    if ((bits & allowed) & (1u << i)) out += std::string(out.size() > 1 ? ", " : "") + kNames[i];
  return out + "]";
}

class Writer {
 public:
  Writer(const HostView& h, std::vector<std::string>& notes) : m_h(h), m_notes(notes) {}

  std::vector<int> on_bus(int segment, unsigned bus) const {
    std::vector<int> out;
    for (size_t i = 0; i < m_h.functions.size(); ++i)
      if (m_h.functions[i].segment == segment && m_h.functions[i].bus == bus) out.push_back(int(i));
    std::sort(out.begin(), out.end(), [&](int a, int b) { return fn(a).devfn < fn(b).devfn; });
    return out;
  }

  const FunctionView& fn(int i) const { return m_h.functions[size_t(i)]; }

  void ids(std::ostringstream& os, const std::string& ind, const FunctionView& f, const char* device_key) const {
    if (f.vendor) os << ind << "vendor: " << hex(*f.vendor, 4) << "\n";
    if (f.device) os << ind << device_key << ": " << hex(*f.device, 4) << "\n";
  }

  void port_acs(std::ostringstream& os, const std::string& ind, const FunctionView& f) const {
    if (!f.acs || !f.acs->present) return;
    const uint16_t kPortBits = 0x5f;  // SV TB RR CR UF DT (EC needs an egress vector)
    os << ind << "acs: {capability: " << acs_bits(f.acs->cap, kPortBits)
       << ", control: " << acs_bits(uint16_t(f.acs->ctrl & f.acs->cap), kPortBits) << "}\n";
  }

  // QEMU's edu (1234:11e8) has a device model: the twin gets the model, which supplies the rest
  // (docs/edu.md), so vfio_probe can run against it as on the real machine.
  bool all_edu(const std::vector<int>& fns) const {
    for (int i : fns)
      if (fn(i).vendor.value_or(0) != 0x1234 || fn(i).device.value_or(0) != 0x11e8) return false;
    return !fns.empty();
  }

  void functions(std::ostringstream& os, const std::string& ind, const std::vector<int>& fns, bool conventional) {
    if (all_edu(fns)) {
      os << ind << "model: edu\n" << ind << "functions: [";
      for (size_t k = 0; k < fns.size(); ++k) os << (k ? ", " : "") << "{function: " << fn(fns[k]).function_number() << "}";
      os << "]\n";
      return;
    }
    os << ind << "functions:\n";
    for (int i : fns) {
      const FunctionView& f = fn(i);
      os << ind << "  - function: " << f.function_number() << "\n";
      ids(os, ind + "    ", f, "device");
      if (f.class_code) os << ind << "    class: " << hex(*f.class_code, 6) << "\n";
      if (!conventional && fns.size() > 1 && f.acs && f.acs->present) {
        const uint16_t kFnBits = kAcsRr | kAcsCr | kAcsDt;  // what multifunction endpoints may implement
        os << ind << "    acs: {capability: " << acs_bits(f.acs->cap, kFnBits)
           << ", control: " << acs_bits(uint16_t(f.acs->ctrl & f.acs->cap), kFnBits) << "}\n";
      }
    }
  }

  // What sits on `bus` below a port: a switch, a PCIe-to-PCI bridge or an endpoint (device 0).
  void below(std::ostringstream& os, const std::string& ind, int segment, unsigned bus) {
    std::vector<int> fns = on_bus(segment, bus);
    if (fns.empty()) return;
    int bridge = -1;
    for (int i : fns)
      if (fn(i).is_bridge()) { bridge = i; break; }
    if (bridge >= 0) {
      const FunctionView& b = fn(bridge);
      bool has_bridges_below = false;
      for (int j : b.secondary ? on_bus(segment, *b.secondary) : std::vector<int>{}) has_bridges_below |= fn(j).is_bridge();
      bool is_switch = b.port_type ? *b.port_type == PortType::UpstreamPort : has_bridges_below;
      if (!b.port_type) m_notes.push_back(b.bdf() + ": port type unknown; written as a " + (is_switch ? "switch" : "pci_bridge"));
      for (int i : fns)
        if (i != bridge) m_notes.push_back(fn(i).bdf() + ": next to a bridge below a port; not representable, dropped");
      os << ind << "below:\n";
      if (is_switch) {
        os << ind << "  switch:\n" << ind << "    name: " << node_name("sw", b) << "\n";
        ids(os, ind + "    ", b, "device_id");
        os << ind << "    ports:\n";
        bool any = false;
        for (int p : b.secondary ? on_bus(segment, *b.secondary) : std::vector<int>{}) {
          if (!fn(p).is_bridge()) { m_notes.push_back(fn(p).bdf() + ": endpoint on a switch's internal bus; dropped"); continue; }
          port(os, ind + "      ", fn(p), "dp");
          any = true;
        }
        if (!any) m_notes.push_back(b.bdf() + ": switch without downstream ports");
      } else {
        os << ind << "  pci_bridge:\n" << ind << "    name: " << node_name("pb", b) << "\n";
        ids(os, ind + "    ", b, "device_id");
        std::map<unsigned, std::vector<int>> devices;
        for (int d : b.secondary ? on_bus(segment, *b.secondary) : std::vector<int>{}) {
          if (fn(d).is_bridge()) { m_notes.push_back(fn(d).bdf() + ": bridge behind a PCI bridge; dropped"); continue; }
          devices[fn(d).device_number()].push_back(d);
        }
        if (!devices.empty()) os << ind << "    devices:\n";
        for (auto& kv : devices) {
          if (fn(kv.second.front()).function_number() != 0) { m_notes.push_back(fn(kv.second.front()).bdf() + ": no function 0; dropped"); continue; }
          os << ind << "      - name: " << node_name("ep", fn(kv.second.front())) << "\n";
          os << ind << "        device: " << kv.first << "\n";
          functions(os, ind + "        ", kv.second, true);
        }
      }
      return;
    }
    std::vector<int> dev0;
    for (int i : fns) {
      if (fn(i).device_number() == 0) dev0.push_back(i);
      else m_notes.push_back(fn(i).bdf() + ": device other than 0 below a PCIe port; dropped");
    }
    if (dev0.empty() || fn(dev0.front()).function_number() != 0) return;
    os << ind << "below:\n" << ind << "  endpoint:\n" << ind << "    name: " << node_name("ep", fn(dev0.front())) << "\n";
    functions(os, ind + "    ", dev0, false);
  }

  void port(std::ostringstream& os, const std::string& ind, const FunctionView& p, const char* kind,
            unsigned function_shift = 0) {
    os << ind << "- name: " << node_name(kind, p) << "\n";
    os << ind << "  device: " << p.device_number() << "\n";
    if (p.function_number() - function_shift) os << ind << "  function: " << p.function_number() - function_shift << "\n";
    ids(os, ind + "  ", p, "device_id");
    port_acs(os, ind + "  ", p);
    if (p.secondary) below(os, ind + "  ", p.segment, *p.secondary);
  }

  std::string write(const std::string& name) {
    std::set<std::pair<int, unsigned>> roots;
    for (const FunctionView& f : m_h.functions)
      if (f.parent < 0) roots.insert({f.segment, f.bus});
    std::ostringstream os;
    os << "# Imported by `pciesim import` from " << m_h.source << ".\n"
       << "# Firmware-style enumeration assigns bus numbers again; BARs are not imported.\n"
       << "name: " << name << "\n"
       << "memory: {base: 0x0, size: 2GiB}\n"
       << "root_complexes:\n";
    std::set<int> used_segments;
    int k = 0;
    const uint64_t mmio32_each = (uint64_t(0x60000000) / std::max<size_t>(roots.size(), 1)) & ~uint64_t(0xfffff);
    for (const auto& r : roots) {
      int segment = r.first;
      if (used_segments.count(segment)) {
        int s = 0;
        while (used_segments.count(s)) ++s;
        m_notes.push_back(format_bdf(r.first, r.second, 0).substr(0, 7) + ": a second root bus in segment " +
                          std::to_string(r.first) + "; written as segment " + std::to_string(s));
        segment = s;
      }
      used_segments.insert(segment);
      os << "  - name: rc" << k << "\n"
         << "    segment: " << segment << "\n"
         << "    root_bus: " << r.second << "\n"
         << "    ecam: {base: 0x" << std::hex << (0x1000000000ull + uint64_t(k) * 0x10000000ull)
         << std::dec << ", size: " << (256 - r.second) << "MiB}\n"
         << "    mmio32: {base: 0x" << std::hex << (0x80000000ull + uint64_t(k) * mmio32_each) << ", size: 0x" << mmio32_each
         << std::dec << "}\n"
         << "    mmio64: {base: 0x" << std::hex << (0x8000000000ull + uint64_t(k) * 0x4000000000ull) << std::dec
         << ", size: 256GiB}\n"
         << "    io: none\n";
      std::vector<int> fns = on_bus(r.first, r.second);
      std::ostringstream ports, integrated;
      std::map<unsigned, std::vector<int>> rcieps;
      // Our format gives a root-bus device either ports or RCiEP functions, and function 0 first.
      std::map<unsigned, unsigned> port_shift;  // device -> lowest port function
      for (int i : fns)
        if (fn(i).is_bridge() && !port_shift.count(fn(i).device_number())) port_shift[fn(i).device_number()] = fn(i).function_number();
      for (int i : fns) {
        const FunctionView& f = fn(i);
        auto shift = port_shift.find(f.device_number());
        if (f.is_bridge()) {
          if (f.port_type && *f.port_type != PortType::RootPort)
            m_notes.push_back(f.bdf() + ": " + port_type_name(*f.port_type) + " on a root bus; written as a root port");
          if (shift->second)
            m_notes.push_back(f.bdf() + ": written as function " + std::to_string(f.function_number() - shift->second) +
                              " (the format needs function 0 on a device with ports)");
          port(ports, "      ", f, "rp", shift->second);
        } else if (shift != port_shift.end()) {
          m_notes.push_back(f.bdf() + ": shares its device number with root ports; not representable, dropped");
        } else {
          if (f.port_type != PortType::RcEndpoint)
            m_notes.push_back(f.bdf() + ": " + (f.port_type ? port_type_name(*f.port_type) : "unknown type") +
                              " on a root bus; written as an RCiEP");
          rcieps[f.device_number()].push_back(i);
        }
      }
      for (auto& kv : rcieps) {
        integrated << "      - name: " << node_name("rciep", fn(kv.second.front())) << "\n"
                   << "        device: " << kv.first << "\n";
        functions(integrated, "        ", kv.second, false);
      }
      if (!ports.str().empty()) os << "    root_ports:\n" << ports.str();
      if (!integrated.str().empty()) os << "    integrated:\n" << integrated.str();
      ++k;
    }
    return os.str();
  }

 private:
  const HostView& m_h;
  std::vector<std::string>& m_notes;
};

}  // namespace

std::string write_topology_yaml(const HostView& host, const std::string& name, std::vector<std::string>& notes) {
  return Writer(host, notes).write(name);
}

}  // namespace pciesim::groups
