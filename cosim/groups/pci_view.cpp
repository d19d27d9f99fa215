// HostView helpers: lookup, parent links from bus ranges, Linux's multifunction inference.
#include "groups/pci_view.h"

#include <algorithm>
#include <cstdio>

namespace pciesim::groups {

const char* port_type_name(PortType t) {
  switch (t) {
    case PortType::Conventional: return "conventional PCI";
    case PortType::Endpoint: return "PCIe Endpoint";
    case PortType::LegacyEndpoint: return "PCIe Legacy Endpoint";
    case PortType::RootPort: return "PCIe Root Port";
    case PortType::UpstreamPort: return "PCIe Switch Upstream Port";
    case PortType::DownstreamPort: return "PCIe Switch Downstream Port";
    case PortType::PcieToPciBridge: return "PCIe to PCI/PCI-X bridge";
    case PortType::PciToPcieBridge: return "PCI/PCI-X to PCIe bridge";
    case PortType::RcEndpoint: return "PCIe Root Complex Integrated Endpoint";
    case PortType::RcEventCollector: return "PCIe Root Complex Event Collector";
  }
  return "?";
}

std::string port_type_set_text(PortTypeSet s) {
  std::string out;
  for (unsigned t = 0; t <= unsigned(PortType::RcEventCollector); ++t)
    if (s & (1u << t)) out += (out.empty() ? "" : ", ") + std::string(port_type_name(PortType(t)));
  return out.empty() ? "none" : out;
}

std::string format_bdf(int segment, unsigned bus, unsigned devfn) {
  char b[32];
  std::snprintf(b, sizeof b, "%04x:%02x:%02x.%u", static_cast<unsigned>(segment) & 0xffffu, bus & 0xffu,
                (devfn >> 3) & 0x1fu, devfn & 7u);
  return b;
}

std::string FunctionView::bdf() const { return format_bdf(segment, bus, devfn); }

PortTypeSet FunctionView::candidate_types() const {
  if (port_type) return type_bit(*port_type);
  PortTypeSet s = possible_types;
  if (header_type && (*header_type & 0x7f) == 0) s &= kType0PortTypes;
  if (header_type && (*header_type & 0x7f) == 1) s &= kType1PortTypes;
  return s;
}

bool FunctionView::may_be_device(uint16_t id) const {
  if (device) return *device == id;
  return device_candidates.empty() ||
         std::find(device_candidates.begin(), device_candidates.end(), id) != device_candidates.end();
}

int HostView::find(int segment, unsigned bus, unsigned devfn) const {
  for (size_t i = 0; i < functions.size(); ++i) {
    const FunctionView& f = functions[i];
    if (f.segment == segment && f.bus == bus && f.devfn == devfn) return static_cast<int>(i);
  }
  return -1;
}

void HostView::link_parents() {
  for (FunctionView& f : functions) {
    f.parent = -1;
    for (size_t j = 0; j < functions.size(); ++j) {
      const FunctionView& b = functions[j];
      if (&b != &f && b.segment == f.segment && b.secondary && *b.secondary == f.bus) {
        f.parent = static_cast<int>(j);
        break;
      }
    }
  }
}

void HostView::infer_multifunction() {
  for (FunctionView& f : functions) {
    if (f.function_number() != 0) {
      f.multifunction = true;  // Linux pci_scan_slot() marks every function > 0 multifunction
      continue;
    }
    for (const FunctionView& g : functions)
      if (&g != &f && g.segment == f.segment && g.bus == f.bus && g.device_number() == f.device_number()) {
        f.multifunction = true;  // the scan only found siblings because the MF bit was set
        break;
      }
  }
}

}  // namespace pciesim::groups
