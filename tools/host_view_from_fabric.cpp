// Config space -> HostView (PCI 3.0 6.7 capability list, PCIe 7.6.3 extended capabilities).
#include "host_view_from_fabric.h"

namespace pciesim::cli {

namespace {

constexpr uint8_t kCapIdPcix = 0x07, kCapIdPcie = 0x10;
constexpr uint16_t kExtCapIdAcs = 0x000d;

groups::PortType port_type_from_pcie(unsigned t) {
  using groups::PortType;
  switch (t) {
    case 0x0: return PortType::Endpoint;
    case 0x1: return PortType::LegacyEndpoint;
    case 0x4: return PortType::RootPort;
    case 0x5: return PortType::UpstreamPort;
    case 0x6: return PortType::DownstreamPort;
    case 0x7: return PortType::PcieToPciBridge;
    case 0x8: return PortType::PciToPcieBridge;
    case 0x9: return PortType::RcEndpoint;
    case 0xa: return PortType::RcEventCollector;
    default: return PortType::Endpoint;
  }
}

}  // namespace

groups::HostView host_view_from_fabric(const Fabric& fabric, const std::string& source) {
  groups::HostView h;
  h.source = source;
  for (const FunctionInfo& info : fabric.functions()) {
    const ConfigSpace& cs = info.fn->config();
    groups::FunctionView f;
    RequesterId id = info.bdf();
    f.segment = info.segment;
    f.bus = id.bus;
    f.devfn = id.devfn;
    f.vendor = cs.read16(0x00);
    f.device = cs.read16(0x02);
    f.class_code = cs.read32(0x08) >> 8;
    uint8_t header = cs.byte(0x0e);
    f.header_type = header & 0x7f;
    f.multifunction = (header & 0x80) != 0 || id.function() != 0;  // Linux pci_scan_slot()
    f.name = info.fn->name();
    f.origin = source;
    f.port_type = groups::PortType::Conventional;
    f.acs = groups::AcsState{};
    if (cs.read16(0x06) & 0x10) {  // Status: capability list
      uint8_t ptr = cs.byte(0x34) & 0xfc;
      for (int guard = 0; ptr >= 0x40 && guard < 48; ++guard) {
        uint8_t cap = cs.byte(ptr);
        if (cap == kCapIdPcie) f.port_type = port_type_from_pcie((cs.read16(uint16_t(ptr + 2)) >> 4) & 0xf);
        if (cap == kCapIdPcix) f.pcix = true;
        ptr = cs.byte(uint16_t(ptr + 1)) & 0xfc;
      }
    }
    if (cs.extended()) {
      uint16_t off = 0x100;
      for (int guard = 0; off >= 0x100 && guard < 96; ++guard) {
        uint32_t hdr = cs.read32(off);
        if (hdr == 0 || hdr == 0xffffffffu) break;
        if ((hdr & 0xffff) == kExtCapIdAcs)
          f.acs = groups::AcsState{true, cs.read16(uint16_t(off + 4)), cs.read16(uint16_t(off + 6))};
        off = uint16_t((hdr >> 20) & 0xffc);
      }
    }
    if (f.is_bridge()) {
      f.secondary = cs.byte(0x19);
      f.subordinate = cs.byte(0x1a);
    }
    h.functions.push_back(f);
  }
  h.link_parents();
  return h;
}

}  // namespace pciesim::cli
