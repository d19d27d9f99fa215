// Linux's IOMMU groups for PCI (drivers/iommu/iommu.c pci_device_group and helpers,
// drivers/pci/search.c pci_for_each_dma_alias, drivers/pci/pci.c pci_acs_enabled /
// pci_acs_path_enabled), computed over a HostView. hardware-facts.md §3 restates the rules.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "groups/pci_view.h"

namespace pciesim::groups {

// Explicit, opt-in answers for facts a host's data lacks. Off by default: then a decision that
// needs a missing fact makes the result undecidable.
struct GroupAssumptions {
  bool acs_on_unknown_ports = false;  // root/downstream ports of unknown ACS: SV|RR|CR|UF enabled
  bool no_quirk_for_unknown_ids = false;  // functions of unknown id match no quirk entry
  bool unknown_type_is_endpoint = false;  // functions of unknown port type: PCIe endpoints
  // An extra last entry of the ACS quirk table, consulted when no listed quirk answers (the
  // out-of-tree pcie_acs_override patch adds `{ PCI_ANY_ID, PCI_ANY_ID, pcie_acs_overrides }`
  // just before the table's terminator): true makes pci_acs_enabled() answer "isolated" for
  // functions[index] as type t. Empty: no override (tools/isolation/linux_acs.h builds one).
  std::function<bool(const HostView& host, int index, PortType t)> acs_override;
};

struct DeviceGroup {
  int index = -1;      // into HostView::functions
  std::string bdf;
  int group = -1;      // Linux's group number; -1 undecided
};

struct GroupResult {
  bool decidable = true;
  std::vector<DeviceGroup> devices;  // attached functions, in the order Linux adds them
  std::vector<std::string> undecidable_because;  // one line per missing fact (deduplicated)
  int group_count = 0;
};

// Order in which Linux adds the functions (pci_bus_add_devices: a bus's functions by devfn,
// then each bridge's secondary bus, recursively; root buses in HostView::root_bus_order, then
// by segment and number).
std::vector<int> linux_add_order(const HostView& host);

// Applies the DMA-alias quirks to a copy of `host` and groups every attached function.
GroupResult compute_iommu_groups(const HostView& host, const GroupAssumptions& assume = {});

// "BDF group" lines, as the oracle's groups.txt.
std::string format_groups(const GroupResult& r);

// groups.txt ("[pci ]DDDD:BB:DD.F[: Adding to iommu group] N", '#' comments): BDF -> group.
struct OracleGroup {
  std::string bdf;
  int group = -1;
};
std::vector<OracleGroup> read_groups_text(const std::string& text);

// Compares as partitions (and, if `numbering`, by number). Empty string: equal; otherwise the
// first differences, one per line.
std::string compare_groups(const GroupResult& ours, const std::vector<OracleGroup>& oracle, bool numbering);

}  // namespace pciesim::groups
