// The out-of-tree `pcie_acs_override=` kernel patch (linux-acs-override, carried by Arch's
// linux-zen/linux-vfio and others), as a value: its boot parameter, parsed, and the extra ACS quirk
// entry it adds to drivers/pci/quirks.c pci_dev_acs_enabled[] (`{ PCI_ANY_ID, PCI_ANY_ID,
// pcie_acs_overrides }`, just before the terminator). The patch changes no register: only what
// pci_acs_enabled() answers, so only the IOMMU groups. Used by `pciesim isolation --acs-override`
// (tools/isolation/linux_acs.h) and by the co-simulated kernel's boot option
// (KernelOptions::acs_override, a scenario's `boot: {acs_override: [...]}`).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "groups/pci_view.h"

namespace pciesim::groups {

struct AcsOverride {
  bool downstream = false;     // every root port and switch downstream port without ACS
  bool multifunction = false;  // every multifunction endpoint / upstream port without ACS
  std::vector<std::pair<uint16_t, uint16_t>> ids;  // vendor, device (the patch keeps at most 16)
  bool any() const { return downstream || multifunction || !ids.empty(); }
  // As it would be written on the kernel command line: "downstream,multifunction,id:8086:1234".
  std::string text() const;
};

// The patch's NUM_ACS_IDS.
constexpr size_t kAcsOverrideMaxIds = 16;

// Adds one item of the comma-separated list (pcie_acs_override_setup): "downstream",
// "multifunction" or "id:VVVV:DDDD" (hex). Returns "" or what is wrong with the item, e.g.
// "unknown item 'bogus' (downstream, multifunction or id:VVVV:DDDD)". The callers add where the
// item came from (a CLI option, a scenario file's line and column).
std::string add_acs_override_item(AcsOverride& ov, const std::string& item);

// pcie_acs_overrides(dev, acs_flags) for host.functions[index] as PCIe type `t`: true when the
// patch answers 1 ("ACS enabled"), false for its -ENOTTY. Never for conventional PCI functions or
// functions with an ACS capability; an id match for any type; `downstream` for root and
// downstream ports; `multifunction` for multifunction endpoints, legacy endpoints, RCiEPs and
// upstream ports.
bool acs_override_isolates(const AcsOverride& ov, const HostView& host, int index, PortType t);

}  // namespace pciesim::groups
