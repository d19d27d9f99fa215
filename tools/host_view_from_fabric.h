// Our own enumerated fabric as a groups::HostView: every fact read back from the simulated
// config space (ids, header type, PCIe and PCI-X capabilities, ACS, bus numbers), so the
// Linux group rules see exactly what a kernel probing this machine would see.
#pragma once

#include "groups/pci_view.h"
#include "pcie/fabric.h"

namespace pciesim::cli {

groups::HostView host_view_from_fabric(const Fabric& fabric, const std::string& source);

}  // namespace pciesim::cli
