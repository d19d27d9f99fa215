// HostView -> a topology file in our YAML format (docs/topology-format.md), so an imported real
// machine can be simulated. What the format cannot hold (several root buses in one segment,
// devices other than 0 below a port, bridges behind PCIe-to-PCI bridges) is listed in `notes`.
#pragma once

#include <string>
#include <vector>

#include "groups/pci_view.h"

namespace pciesim::groups {

std::string write_topology_yaml(const HostView& host, const std::string& name, std::vector<std::string>& notes);

}  // namespace pciesim::groups
