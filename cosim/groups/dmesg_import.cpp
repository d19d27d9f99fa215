// Kernel boot log -> HostView. Linux prints one "[vvvv:dddd] type NN class 0xCCCCCC" line per
// function at scan time (v5.x+ append the PCIe port type) and one "PCI bridge to [bus XX-YY]"
// line per bridge. Older logs still show some type facts (the pcieport driver and its services,
// "enabling Extended Tags", "extended config space not accessible"; see port_type_inference.cpp).
// ACS is never printed, so every decision that needs it is unknown.
#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include "groups/host_import.h"
#include "groups/port_type_inference.h"

namespace pciesim::groups {

namespace {

std::optional<PortType> dmesg_port_type(const std::string& s) {
  static const std::pair<const char*, PortType> kTypes[] = {
      {"PCIe Root Complex Integrated Endpoint", PortType::RcEndpoint},
      {"PCIe Root Complex Event Collector", PortType::RcEventCollector},
      {"PCIe Legacy Endpoint", PortType::LegacyEndpoint},
      {"PCIe Endpoint", PortType::Endpoint},
      {"PCIe Root Port", PortType::RootPort},
      {"PCIe Switch Upstream Port", PortType::UpstreamPort},
      {"PCIe Switch Downstream Port", PortType::DownstreamPort},
      {"PCIe to PCI/PCI-X bridge", PortType::PcieToPciBridge},
      {"PCI/PCI-X to PCIe bridge", PortType::PciToPcieBridge},
      {"conventional PCI endpoint", PortType::Conventional},
      {"conventional PCI bridge", PortType::Conventional},
  };
  for (const auto& t : kTypes)
    if (s.find(t.first) != std::string::npos) return t.second;
  return std::nullopt;
}

}  // namespace

HostView import_dmesg_text(const std::string& text, const std::string& file) {
  static const std::regex kDev(
      R"(pci ([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7]): \[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\] type ([0-9a-fA-F]{2}) class 0x([0-9a-fA-F]{6})(.*)$)");
  static const std::regex kBridge(
      R"(pci ([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7]): PCI bridge to \[bus ([0-9a-fA-F]{2})(-([0-9a-fA-F]{2}))?\])");
  // drivers/pci/probe.c pci_register_host_bridge(): "PCI host bridge to bus %s"
  static const std::regex kHostBridge(R"(PCI host bridge to bus ([0-9a-fA-F]{4}):([0-9a-fA-F]{2})\b)");
  static const std::regex kNoExtCfg(R"(pci_bus ([0-9a-fA-F]{4}):([0-9a-fA-F]{2}): extended config space not accessible)");
  static const std::regex kPortDrv(R"(pcieport ([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7]): (.*)$)");
  static const std::regex kExtTags(R"(pci ([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7]): enabling Extended Tags)");
  auto find_fn = [&](const HostView& h, const std::smatch& m) {
    return h.find(int(std::stoul(m[1], nullptr, 16)), unsigned(std::stoul(m[2], nullptr, 16)),
                  unsigned(std::stoul(m[3], nullptr, 16) << 3 | std::stoul(m[4])));
  };
  std::vector<std::pair<int, unsigned>> no_extcfg_buses;
  HostView host;
  host.source = file;
  std::istringstream is(text);
  std::string line;
  size_t lineno = 0;
  while (std::getline(is, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::smatch m;
    if (std::regex_search(line, m, kDev)) {
      FunctionView f;
      f.segment = int(std::stoul(m[1], nullptr, 16));
      f.bus = uint8_t(std::stoul(m[2], nullptr, 16));
      f.devfn = uint8_t(std::stoul(m[3], nullptr, 16) << 3 | std::stoul(m[4]));
      if (host.find(f.segment, f.bus, f.devfn) >= 0) continue;  // rescans and diff duplicates
      f.vendor = uint16_t(std::stoul(m[5], nullptr, 16));
      f.device = uint16_t(std::stoul(m[6], nullptr, 16));
      unsigned type = unsigned(std::stoul(m[7], nullptr, 16));
      if (type > 2) throw ImportError(file + ":" + std::to_string(lineno) + ": header type " + m[7].str() + " is not 0, 1 or 2");
      f.header_type = uint8_t(type);
      f.class_code = uint32_t(std::stoul(m[8], nullptr, 16));
      f.port_type = dmesg_port_type(m[9]);
      if (f.port_type == PortType::Conventional) f.acs = AcsState{};  // no PCIe: no ACS capability
      f.origin = file + ":" + std::to_string(lineno);
      host.functions.push_back(f);
      continue;
    }
    if (std::regex_search(line, m, kHostBridge)) {
      std::pair<int, unsigned> root{int(std::stoul(m[1], nullptr, 16)), unsigned(std::stoul(m[2], nullptr, 16))};
      if (std::find(host.root_bus_order.begin(), host.root_bus_order.end(), root) == host.root_bus_order.end())
        host.root_bus_order.push_back(root);
      continue;
    }
    if (std::regex_search(line, m, kNoExtCfg)) {
      no_extcfg_buses.emplace_back(int(std::stoul(m[1], nullptr, 16)), unsigned(std::stoul(m[2], nullptr, 16)));
      continue;
    }
    if (std::regex_search(line, m, kPortDrv)) {
      int j = find_fn(host, m);
      if (j < 0) continue;  // a port added later (hotplug): not part of this enumeration
      TypeEvidence& e = host.functions[size_t(j)].evidence;
      e.pcieport_driver = true;
      const std::string msg = m[5];
      if (msg.rfind("PME: Signaling with IRQ", 0) == 0 || msg.rfind("AER: enabled with IRQ", 0) == 0)
        e.root_port_service = true;
      continue;
    }
    if (std::regex_search(line, m, kExtTags)) {
      int j = find_fn(host, m);
      if (j >= 0) host.functions[size_t(j)].evidence.pcie_capability = true;
      continue;
    }
    if (std::regex_search(line, m, kBridge)) {
      int j = host.find(int(std::stoul(m[1], nullptr, 16)), unsigned(std::stoul(m[2], nullptr, 16)),
                        unsigned(std::stoul(m[3], nullptr, 16) << 3 | std::stoul(m[4])));
      if (j < 0)
        throw ImportError(file + ":" + std::to_string(lineno) + ": 'PCI bridge to' for a function not listed before");
      FunctionView& b = host.functions[size_t(j)];
      if (b.secondary) continue;
      b.secondary = uint8_t(std::stoul(m[5], nullptr, 16));
      b.subordinate = m[7].matched ? uint8_t(std::stoul(m[7], nullptr, 16)) : *b.secondary;
    }
  }
  if (host.functions.empty())
    throw ImportError(file + ": no 'pci DDDD:BB:DD.F: [vvvv:dddd] type NN class 0x...' lines found");
  host.link_parents();
  host.infer_multifunction();
  for (FunctionView& f : host.functions)
    if (f.secondary && std::find(no_extcfg_buses.begin(), no_extcfg_buses.end(),
                                 std::make_pair(f.segment, unsigned(*f.secondary))) != no_extcfg_buses.end())
      f.evidence.child_no_extcfg = true;
  infer_port_types(host);
  for (const FunctionView& f : host.functions)
    if (f.is_bridge() && !f.secondary)
      host.missing.push_back(file + ": bridge " + f.bdf() + " has no 'PCI bridge to [bus ..]' line");
  mark_amd_iommu_exclusions(host);
  return host;
}

HostView import_dmesg_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ImportError(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return import_dmesg_text(ss.str(), path);
}

}  // namespace pciesim::groups
