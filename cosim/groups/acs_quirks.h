// Device-specific quirks that Linux applies before its generic IOMMU-group rules:
// the ACS quirk table (drivers/pci/quirks.c pci_dev_acs_enabled[]) and the DMA-alias header
// fixups. Lookups on functions whose ids are unknown say so instead of guessing.
#pragma once

#include <optional>
#include <string>

#include "groups/pci_view.h"

namespace pciesim::groups {

struct AcsQuirkAnswer {
  enum Kind { NoQuirk, Enabled, NotEnabled, Unknown } kind = NoQuirk;
  std::string why;  // the quirk that answered, or what is unknown
};

// pci_dev_specific_acs_enabled(dev, REQ_ACS_FLAGS) for functions[index]; with `as_type`, as if the
// function had that PCIe port type (for a function whose type is one of several).
AcsQuirkAnswer acs_quirk(const HostView& host, int index, std::optional<PortType> as_type = std::nullopt);

// Runs the DMA-alias header fixups over every function (dma_alias_devfns, pcie_bridge_alias,
// alias_unknown).
void apply_dma_alias_quirks(HostView& host);

// One line per table entry ("vendor:device callback source"), for docs and `pciesim groups --quirks`.
std::string describe_quirk_tables();

}  // namespace pciesim::groups
