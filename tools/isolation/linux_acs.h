// What a Linux boot does to ACS, and the groups it then forms, for `pciesim isolation`:
//
//  * pci_enable_acs (drivers/pci/pci.c): once an IOMMU driver called pci_request_acs(),
//    pci_std_enable_acs turns on SV, RR, CR and UF wherever a function's ACS capability implements
//    them; then the `pci=config_acs=` boot parameter (upstream since v6.11) rewrites chosen bits
//    of matching devices. Both change the REAL ACS Control register, so the fabric changes too.
//  * the out-of-tree `pcie_acs_override=` patch changes nothing in hardware: it adds a last entry
//    to the ACS quirk table that makes pci_acs_enabled() answer "isolated" for ports and
//    multifunction devices without an ACS capability. Only the groups change.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "groups/acs_override.h"
#include "groups/iommu_groups.h"
#include "pcie/fabric.h"

namespace pciesim::isolation {

// pcie_acs_override=downstream,multifunction,id:VVVV:DDDD (the patch's pcie_acs_override_setup;
// cosim/groups/acs_override.h, shared with the co-simulated kernel's boot option).
using AcsOverride = groups::AcsOverride;
// Throws cli::UsageError naming the offending item.
AcsOverride parse_acs_override(const std::string& list);

// pci=config_acs=FLAGS@DEVICE[;FLAGS@DEVICE...]. FLAGS: one character per ACS Control bit, the
// rightmost is bit 0 (SV), then TB, RR, CR, UF, EC, DT; '1' set, '0' clear, 'x' leave as firmware
// left it. DEVICE: [DDDD:]BB:DD.F, or pci:VVVV:DDDD[:SVVV:SDDD] where 0 matches any id
// (pci_dev_str_match in drivers/pci/pci.c).
struct ConfigAcsEntry {
  uint16_t mask = 0, flags = 0;
  bool by_id = false;
  int segment = 0;
  RequesterId bdf;
  uint16_t vendor = 0, device = 0, subsystem_vendor = 0, subsystem = 0;
  std::string text;
};
struct ConfigAcs {
  std::vector<ConfigAcsEntry> entries;
  bool any() const { return !entries.empty(); }
  std::string text() const;
};
// Throws cli::UsageError naming the offending entry.
ConfigAcs parse_config_acs(const std::string& spec);

// Per function, the ACS Control value firmware left (read once before Linux "boots").
struct AcsRegister {
  const FunctionInfo* info = nullptr;
  uint16_t offset = 0;  // of the ACS extended capability
  uint16_t cap = 0, fw_ctrl = 0, ctrl = 0;
};
std::vector<AcsRegister> read_acs_registers(const Fabric& fabric);

// pci_enable_acs for every function with ACS, as a boot with an IOMMU does it, writing the result
// through ECAM (config_write). Starts from the firmware values in `regs` each time, so it can be
// applied again with other options. Returns one line per function whose control changed.
std::vector<std::string> apply_linux_acs(Fabric& fabric, std::vector<AcsRegister>& regs, const ConfigAcs& config_acs);

// Linux's IOMMU groups over the fabric as its config space reads now (cosim/groups), with the
// override patch's extra quirk entry when `ov` asks for it.
groups::GroupResult linux_groups(const Fabric& fabric, const AcsOverride& ov, const std::string& source);

}  // namespace pciesim::isolation
