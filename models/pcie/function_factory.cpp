#include "pcie/function_factory.h"

#include "pcie/capabilities.h"

namespace pciesim {

namespace {
// Default device ids per port kind when the topology gives none (QEMU's generic ports, whose
// capability layout ours follows: pcie-root-port 1b36:000c, xio3130 upstream 104c:8232 and
// downstream 104c:8233, pcie-pci-bridge 1b36:000e).
uint16_t default_device_id(PortType type) {
  switch (type) {
    case PortType::RootPort: return 0x000c;
    case PortType::SwitchUpstream: return 0x8232;
    case PortType::SwitchDownstream: return 0x8233;
    default: return 0x000e;
  }
}
}  // namespace

std::unique_ptr<PciFunction> make_endpoint_function(const std::string& name, const topo::FunctionSpec& fn,
                                                    PortType type, bool conventional, bool multifunction,
                                                    const topo::LinkSpec* link, uint8_t ari_next) {
  auto f = std::make_unique<PciFunction>(name, type, !conventional);
  EndpointParams p;
  p.type = type;
  p.conventional = conventional;
  p.multifunction = multifunction;
  if (link) p.link = *link;
  p.ari_next_function = ari_next;
  build_endpoint_function(f->config(), fn, p);
  f->refresh();
  return f;
}

std::unique_ptr<PciFunction> make_port_function(const std::string& name, PortType type, uint16_t vendor,
                                                uint16_t device, const topo::LinkSpec& link,
                                                const topo::AcsSpec& acs, int port_number, bool slot,
                                                bool multifunction) {
  auto f = std::make_unique<PciFunction>(name, type, true);
  PortParams p;
  p.header.vendor = vendor;
  p.header.device = device ? device : default_device_id(type);
  p.header.multifunction = multifunction;
  p.header.conventional_secondary = type == PortType::PcieToPciBridge;
  p.header.loc = link.loc;
  p.express.type = type;
  p.express.link = link;
  p.express.port_number = static_cast<unsigned>(port_number);
  p.express.slot = slot && (type == PortType::RootPort || type == PortType::SwitchDownstream);
  p.express.slot_number = static_cast<unsigned>(port_number);
  p.acs = acs;
  build_port_function(f->config(), p);
  f->refresh();
  return f;
}

bool shares_device(const std::vector<topo::DownstreamPortSpec>& ports, int device) {
  int n = 0;
  for (const auto& p : ports) n += p.device == device;
  return n > 1;
}

}  // namespace pciesim
