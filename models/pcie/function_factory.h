// Builds the functions the fabric components carry, from the topology spec, with the config
// space layout of capabilities.h. The one place where a component kind becomes a capability list.
#pragma once

#include <memory>
#include <string>

#include "pcie/function.h"
#include "pcie/topology/spec.h"

namespace pciesim {

// An endpoint function (PCIe endpoint, RCiEP, or conventional PCI when type is Endpoint and
// `conventional`). `link` is the link above the device (nullptr for RCiEPs / conventional).
// `ari_next` is the next function number in the ARI chain (0 = last).
std::unique_ptr<PciFunction> make_endpoint_function(const std::string& name, const topo::FunctionSpec& fn,
                                                    PortType type, bool conventional, bool multifunction,
                                                    const topo::LinkSpec* link, uint8_t ari_next);

// A root port, switch upstream/downstream port or PCIe-to-PCI bridge. `multifunction`: other
// functions share its device number (header type bit 7, PCI 3.0 6.2.1). `link` is the link the
// port's PCIe capability describes (below a root port or DSP, above a USP or bridge).
std::unique_ptr<PciFunction> make_port_function(const std::string& name, PortType type, uint16_t vendor,
                                                uint16_t device, const topo::LinkSpec& link,
                                                const topo::AcsSpec& acs, int port_number, bool slot,
                                                bool multifunction = false);

// True when more than one port in `ports` has device number `device`.
bool shares_device(const std::vector<topo::DownstreamPortSpec>& ports, int device);

}  // namespace pciesim
