// Facts a source shows without printing them: port types from kernel-log lines and lspci's driver
// line (port_type_inference.cpp), root-bus order, quirk entries ruled out by header type or by
// the candidate ids of an ambiguous pci.ids name, and decisions that need no unknown fact.
#include <gtest/gtest.h>

#include "groups/acs_quirks.h"
#include "groups/host_import.h"
#include "groups/iommu_groups.h"

using namespace pciesim::groups;

namespace {

const FunctionView& at(const HostView& h, unsigned bus, unsigned dev, unsigned fn) {
  int i = h.find(0, bus, dev << 3 | fn);
  if (i < 0) throw std::runtime_error("no such function");
  return h.functions[size_t(i)];
}

int group_of(const GroupResult& r, const std::string& bdf) {
  for (const DeviceGroup& d : r.devices)
    if (d.bdf == bdf) return d.group;
  return -100;
}

std::string reasons(const GroupResult& r) {
  std::string s;
  for (const std::string& x : r.undecidable_because) s += x + "\n";
  return s;
}

// A Linux 5.2-style log (no port types) with one root port and a NIC below it.
const char* kOldKernelLog =
    "[    3.79] pci 0000:00:01.1: [1022:1453] type 01 class 0x060400\n"
    "[    3.80] pci 0000:00:01.1: PME# supported from D0 D3hot D3cold\n"
    "[    4.30] pci 0000:01:00.0: [8086:1572] type 00 class 0x020000\n"
    "[    4.37] pci 0000:00:01.1: PCI bridge to [bus 01]\n";

}  // namespace

TEST(GroupsInference, PmeServiceOnABridgeMakesItARootPort) {
  HostView plain = import_dmesg_text(kOldKernelLog, "old.log");
  EXPECT_FALSE(at(plain, 0, 1, 1).port_type);  // "PME# supported" alone says nothing
  HostView pcieport = import_dmesg_text(std::string(kOldKernelLog) + "[ 10.4] pcieport 0000:00:01.1: link up\n", "old.log");
  EXPECT_FALSE(at(pcieport, 0, 1, 1).port_type);
  EXPECT_EQ(at(pcieport, 0, 1, 1).candidate_types(), kPciePorts);  // portdrv binds RP, USP, DSP only
  HostView pme = import_dmesg_text(std::string(kOldKernelLog) + "[ 10.4] pcieport 0000:00:01.1: PME: Signaling with IRQ 34\n", "old.log");
  EXPECT_EQ(at(pme, 0, 1, 1).port_type, PortType::RootPort);
  HostView aer = import_dmesg_text(std::string(kOldKernelLog) + "[ 10.4] pcieport 0000:00:01.1: AER: enabled with IRQ 34\n", "old.log");
  EXPECT_EQ(at(aer, 0, 1, 1).port_type, PortType::RootPort);
  // Then only the root port's ACS is missing.
  GroupResult r = compute_iommu_groups(pme);
  EXPECT_EQ(reasons(r), "0000:00:01.1: ACS capability/control unknown (no capability listing in the source)\n");
}

TEST(GroupsInference, ExtendedTagsMeanAPcieCapability) {
  HostView h = import_dmesg_text(std::string(kOldKernelLog) + "[ 4.31] pci 0000:01:00.0: enabling Extended Tags\n", "old.log");
  EXPECT_EQ(at(h, 1, 0, 0).candidate_types(), PortTypeSet(kType0PortTypes & ~type_bit(PortType::Conventional)));
}

// pci_alloc_child_bus(): "extended config space not accessible" below an accessible bus means the
// bridge is no Root or Switch port: then every type left aliases, and the device below shares
// the bridge's group without any ACS fact.
TEST(GroupsInference, ExtCfgNotAccessibleBelowARootBusBridgeDecidesTheAlias) {
  const std::string log =
      "pci 0000:00:1e.0: [1234:5678] type 01 class 0x060401\n"
      "pci_bus 0000:05: extended config space not accessible\n"
      "pci 0000:05:02.0: [10ec:8139] type 00 class 0x020000\n"
      "pci 0000:00:1e.0: PCI bridge to [bus 05]\n";
  HostView h = import_dmesg_text(log, "t.log");
  EXPECT_EQ(at(h, 0, 0x1e, 0).candidate_types(),
            type_bit(PortType::Conventional) | type_bit(PortType::PcieToPciBridge) | type_bit(PortType::PciToPcieBridge));
  GroupResult r = compute_iommu_groups(h);
  ASSERT_TRUE(r.decidable) << reasons(r);
  EXPECT_EQ(group_of(r, "0000:05:02.0"), group_of(r, "0000:00:1e.0"));
  // Without that line the bridge could be a port with ACS: undecidable, and the reason says why.
  std::string without = log;
  without.erase(without.find("pci_bus"), without.find("pci 0000:05") - without.find("pci_bus"));
  GroupResult open = compute_iommu_groups(import_dmesg_text(without, "t.log"));
  EXPECT_FALSE(open.decidable);
  EXPECT_NE(reasons(open).find("0000:00:1e.0: PCIe port type unknown"), std::string::npos) << reasons(open);
}

// Below a bus without extended config space every child bus reports the same, whatever its
// bridge: nothing follows for that bridge.
TEST(GroupsInference, ExtCfgNotAccessibleBelowAnInaccessibleBusSaysNothing) {
  const std::string log =
      "pci 0000:00:1e.0: [1234:5678] type 01 class 0x060401\n"
      "pci_bus 0000:05: extended config space not accessible\n"
      "pci 0000:05:00.0: [1234:5679] type 01 class 0x060400\n"
      "pci_bus 0000:06: extended config space not accessible\n"
      "pci 0000:06:00.0: [10ec:8139] type 00 class 0x020000\n"
      "pci 0000:05:00.0: PCI bridge to [bus 06]\n"
      "pci 0000:00:1e.0: PCI bridge to [bus 05-06]\n";
  HostView h = import_dmesg_text(log, "t.log");
  EXPECT_EQ(at(h, 5, 0, 0).candidate_types(), kType1PortTypes);
}

TEST(GroupsInference, LspciDriverLineGivesPortTypesWhenCapabilitiesAreDenied) {
  const char* text =
      "00:1c.0 PCI bridge: Intel Corporation Device 9dbc (rev f0) (prog-if 00 [Normal decode])\n"
      "\tFlags: bus master, fast devsel, latency 0, IRQ 122\n"
      "\tBus: primary=00, secondary=01, subordinate=01, sec-latency=0\n"
      "\tCapabilities: <access denied>\n"
      "\tKernel driver in use: pcieport\n"
      "\n";
  HostView h = import_lspci_text(text, "lspci-v.txt");
  EXPECT_FALSE(at(h, 0, 0x1c, 0).port_type);
  EXPECT_EQ(at(h, 0, 0x1c, 0).candidate_types(), kPciePorts);
  EXPECT_FALSE(at(h, 0, 0x1c, 0).acs);  // denied: unknown, not absent
}

// drivers/pci/probe.c pci_register_host_bridge() prints "PCI host bridge to bus" in registration
// order, which is the order devices (and so groups) are added.
TEST(GroupsInference, HostBridgeOrderGivesTheGroupNumbering) {
  const char* log =
      "PCI host bridge to bus 0000:40\n"
      "pci 0000:40:14.0: [1022:790b] type 00 class 0x0c0500 conventional PCI endpoint\n"
      "PCI host bridge to bus 0000:00\n"
      "pci 0000:00:14.0: [1022:790b] type 00 class 0x0c0500 conventional PCI endpoint\n";
  GroupResult r = compute_iommu_groups(import_dmesg_text(log, "t.log"));
  ASSERT_TRUE(r.decidable) << reasons(r);
  EXPECT_EQ(group_of(r, "0000:40:14.0"), 0);
  EXPECT_EQ(group_of(r, "0000:00:14.0"), 1);
}

// get_pci_function_alias_group() returns NULL when no sibling has a group yet, whatever the
// function's own ACS: the first function of a slot needs no type; the next one does.
TEST(GroupsInference, FirstFunctionOfASlotNeedsNoUnknownFact) {
  const char* log =
      "pci 0000:00:14.0: [1022:145a] type 00 class 0x0c0500\n"
      "pci 0000:00:14.3: [1022:145b] type 00 class 0x060100\n";
  GroupResult r = compute_iommu_groups(import_dmesg_text(log, "t.log"));
  EXPECT_EQ(group_of(r, "0000:00:14.0"), 0);
  EXPECT_EQ(group_of(r, "0000:00:14.3"), -1);
  EXPECT_EQ(reasons(r), "0000:00:14.3: PCIe port type unknown (the source prints no capabilities)\n");
}

// ---- quirk tables ----

namespace {

HostView one_function(std::optional<uint16_t> vendor, std::optional<uint16_t> device, uint8_t header, PortType type) {
  HostView h;
  FunctionView f;
  f.vendor = vendor;
  f.device = device;
  f.header_type = header;
  f.port_type = type;
  f.multifunction = true;
  f.devfn = 0x1c << 3;
  f.secondary = header == 1 ? std::optional<uint8_t>(1) : std::nullopt;
  h.functions.push_back(f);
  return h;
}

}  // namespace

// pci_quirk_intel_pch_acs() only matches its id list: an Intel root port of unknown id is not
// assumed to be a PCH port.
TEST(GroupsInference, IntelRootPortOfUnknownIdIsNotAssumedToBeAPchPort) {
  HostView h = one_function(0x8086, std::nullopt, 1, PortType::RootPort);
  AcsQuirkAnswer a = acs_quirk(h, 0);
  EXPECT_EQ(a.kind, AcsQuirkAnswer::Unknown);
  EXPECT_NE(a.why.find("pci_quirk_intel_pch_acs may apply but its vendor:device id is unknown"), std::string::npos) << a.why;
  h.functions[0].device = 0x1c10;  // Cougar Point root port 1
  EXPECT_EQ(acs_quirk(h, 0).kind, AcsQuirkAnswer::Enabled);
  h.functions[0].device = 0x0151;  // Ivy Bridge PEG port: in no list
  EXPECT_EQ(acs_quirk(h, 0).kind, AcsQuirkAnswer::NoQuirk);
}

// The listed devices are bridges exactly when the entry's class is 0604: a Type 1 function of
// unknown id can only be one of those.
TEST(GroupsInference, HeaderTypeRulesOutQuirkEntriesOfTheOtherKind) {
  HostView bridge = one_function(std::nullopt, std::nullopt, 1, PortType::RootPort);
  EXPECT_NE(acs_quirk(bridge, 0).why.find("ATI SBx00 PCI bridge"), std::string::npos) << acs_quirk(bridge, 0).why;
  HostView endpoint = one_function(std::nullopt, std::nullopt, 0, PortType::Conventional);
  EXPECT_NE(acs_quirk(endpoint, 0).why.find("ATI SBx00 SMBus"), std::string::npos) << acs_quirk(endpoint, 0).why;
}

// lspci prints pci.ids names; a name several ids share still rules out the ids it is not.
TEST(GroupsInference, AmbiguousPciIdsNameRulesOutOtherIds) {
  HostView h = one_function(0x8086, std::nullopt, 0, PortType::Endpoint);
  h.functions[0].device_candidates = {0x0152, 0x015e, 0x016a, 0x0172};  // the IVB graphics name
  HostView ruled_out = h;
  apply_dma_alias_quirks(ruled_out);
  EXPECT_EQ(ruled_out.functions[0].alias_unknown, "");
  h.functions[0].device_candidates.push_back(0x2264);  // a MIC x200 id among them: may apply
  apply_dma_alias_quirks(h);
  EXPECT_NE(h.functions[0].alias_unknown.find("quirk_mic_x200_dma_alias"), std::string::npos);
}
