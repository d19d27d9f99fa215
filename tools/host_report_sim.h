// The host report (docs/hostval.md) of a simulated machine: the co-simulated kernel booted on the
// fabric, its PCI devices with their ACS registers, drivers and IOMMU groups, its DMAR log lines,
// and vfio_probe run on every edu device with each VFIO driver in turn, as tools/hostval/collect.sh
// records a real host.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pciesim {
class Fabric;
}

namespace pciesim::hostval {

// `drivers`: VFIO driver names in the order to probe with ("vfio-pci", "pciesim_vfio_pci").
nlohmann::json simulator_report(Fabric& fabric, const std::vector<std::string>& drivers);

}  // namespace pciesim::hostval
