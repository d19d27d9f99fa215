// Linux IOMMU-group rules, one small host per rule (hardware-facts.md §3).
#include <gtest/gtest.h>

#include "groups/acs_quirks.h"
#include "groups/iommu_groups.h"

using namespace pciesim::groups;

namespace {

constexpr AcsState kFullAcs{true, 0x5f, 0x1d};  // SV TB RR CR UF (+EC DT cap), SV RR CR UF on
constexpr AcsState kNoAcs{};

struct Builder {
  HostView h;
  int add(unsigned bus, unsigned dev, unsigned fn, PortType t, std::optional<AcsState> acs = kNoAcs,
          std::optional<uint8_t> secondary = std::nullopt, uint16_t vendor = 0x1234, uint16_t device = 0x0001,
          uint32_t cls = 0x020000) {
    FunctionView f;
    f.bus = uint8_t(bus);
    f.devfn = uint8_t(dev << 3 | fn);
    f.port_type = t;
    f.acs = acs;
    f.vendor = vendor;
    f.device = device;
    f.class_code = secondary ? 0x060400 : cls;
    f.header_type = secondary ? 1 : 0;
    f.secondary = secondary;
    f.subordinate = secondary;
    f.multifunction = false;
    h.functions.push_back(f);
    return int(h.functions.size() - 1);
  }
  GroupResult groups() {
    h.link_parents();
    h.infer_multifunction();
    return compute_iommu_groups(h);
  }
};

int group_of(const GroupResult& r, const std::string& bdf) {
  for (const DeviceGroup& d : r.devices)
    if (d.bdf == bdf) return d.group;
  return -100;
}

}  // namespace

TEST(GroupRules, DevicesBelowAPcieToPciBridgeShareTheBridgesGroup) {
  Builder b;
  b.add(0, 1, 0, PortType::RootPort, kFullAcs, 1);
  b.add(1, 0, 0, PortType::PcieToPciBridge, kNoAcs, 2);
  b.add(2, 1, 0, PortType::Conventional);
  b.add(2, 2, 0, PortType::Conventional);
  GroupResult r = b.groups();
  ASSERT_TRUE(r.decidable);
  EXPECT_NE(group_of(r, "0000:00:01.0"), group_of(r, "0000:01:00.0"));
  EXPECT_EQ(group_of(r, "0000:01:00.0"), group_of(r, "0000:02:01.0"));
  EXPECT_EQ(group_of(r, "0000:01:00.0"), group_of(r, "0000:02:02.0"));
}

TEST(GroupRules, SwitchWithAcsOnDownstreamPortsIsolatesEachPort) {
  Builder b;
  b.add(0, 1, 0, PortType::RootPort, kFullAcs, 1);
  b.add(1, 0, 0, PortType::UpstreamPort, kNoAcs, 2);
  b.add(2, 1, 0, PortType::DownstreamPort, kFullAcs, 3);
  b.add(2, 2, 0, PortType::DownstreamPort, kFullAcs, 4);
  b.add(3, 0, 0, PortType::Endpoint);
  b.add(4, 0, 0, PortType::Endpoint);
  GroupResult r = b.groups();
  ASSERT_TRUE(r.decidable);
  EXPECT_EQ(r.group_count, 6);
  EXPECT_NE(group_of(r, "0000:03:00.0"), group_of(r, "0000:04:00.0"));
  EXPECT_EQ(group_of(r, "0000:00:01.0"), 0);  // numbering in scan order
  EXPECT_EQ(group_of(r, "0000:04:00.0"), 5);
}

TEST(GroupRules, DownstreamPortWithoutAcsJoinsTheDevicesBelowIt) {
  Builder b;
  b.add(0, 1, 0, PortType::RootPort, kFullAcs, 1);
  b.add(1, 0, 0, PortType::UpstreamPort, kNoAcs, 2);
  b.add(2, 1, 0, PortType::DownstreamPort, kNoAcs, 3);
  b.add(2, 2, 0, PortType::DownstreamPort, kNoAcs, 4);
  b.add(3, 0, 0, PortType::Endpoint);
  b.add(4, 0, 0, PortType::Endpoint);
  GroupResult r = b.groups();
  ASSERT_TRUE(r.decidable);
  // pci_device_group() stops at the first bridge whose whole upward path has ACS: here the USP
  // (single function: no ACS needed) under a root port with ACS. Each DSP heads its own group.
  EXPECT_EQ(group_of(r, "0000:02:01.0"), group_of(r, "0000:03:00.0"));
  EXPECT_EQ(group_of(r, "0000:02:02.0"), group_of(r, "0000:04:00.0"));
  EXPECT_NE(group_of(r, "0000:03:00.0"), group_of(r, "0000:04:00.0"));
  EXPECT_NE(group_of(r, "0000:01:00.0"), group_of(r, "0000:04:00.0"));
}

TEST(GroupRules, RootPortWithoutAcsPullsTheWholeSwitchIntoOneGroup) {
  Builder b;
  b.add(0, 1, 0, PortType::RootPort, kNoAcs, 1);
  b.add(1, 0, 0, PortType::UpstreamPort, kNoAcs, 2);
  b.add(2, 1, 0, PortType::DownstreamPort, kFullAcs, 3);
  b.add(2, 2, 0, PortType::DownstreamPort, kFullAcs, 4);
  b.add(3, 0, 0, PortType::Endpoint);
  b.add(4, 0, 0, PortType::Endpoint);
  GroupResult r = b.groups();
  ASSERT_TRUE(r.decidable);
  EXPECT_EQ(r.group_count, 1);
}

TEST(GroupRules, MultifunctionEndpointWithoutAcsIsOneGroupWithAcsOnePerFunction) {
  for (bool acs : {false, true}) {
    Builder b;
    b.add(0, 1, 0, PortType::RootPort, kFullAcs, 1);
    b.add(1, 0, 0, PortType::Endpoint, acs ? kFullAcs : kNoAcs);
    b.add(1, 0, 1, PortType::Endpoint, acs ? kFullAcs : kNoAcs);
    GroupResult r = b.groups();
    ASSERT_TRUE(r.decidable);
    EXPECT_EQ(group_of(r, "0000:01:00.0") == group_of(r, "0000:01:00.1"), !acs) << "acs=" << acs;
  }
}

TEST(GroupRules, SingleFunctionRcEndpointsAreIsolatedMultifunctionConventionalOnesAreNot) {
  Builder b;
  b.add(0, 2, 0, PortType::RcEndpoint);
  b.add(0, 3, 0, PortType::RcEndpoint);
  b.add(0, 0x1f, 0, PortType::Conventional);
  b.add(0, 0x1f, 3, PortType::Conventional);
  GroupResult r = b.groups();
  ASSERT_TRUE(r.decidable);
  EXPECT_NE(group_of(r, "0000:00:02.0"), group_of(r, "0000:00:03.0"));
  EXPECT_EQ(group_of(r, "0000:00:1f.0"), group_of(r, "0000:00:1f.3"));
}

TEST(GroupRules, IntelPchRootPortQuirkIsolatesPortsWithoutAcsCapability) {
  Builder b;
  b.add(0, 0x1c, 0, PortType::RootPort, kNoAcs, 1, 0x8086, 0x1c10);
  b.add(0, 0x1c, 1, PortType::RootPort, kNoAcs, 2, 0x8086, 0x1c12);
  b.add(1, 0, 0, PortType::Endpoint);
  b.add(2, 0, 0, PortType::Endpoint);
  GroupResult r = b.groups();
  ASSERT_TRUE(r.decidable);
  EXPECT_EQ(r.group_count, 4);
  // Without the quirk (another device id) both ports and both endpoints share one group.
  b.h.functions[0].device = 0x0001;
  b.h.functions[1].device = 0x0002;
  r = compute_iommu_groups(b.h);
  EXPECT_EQ(r.group_count, 1);
}

TEST(GroupRules, MarvellFunc1AliasJoinsTheAliasedFunction) {
  Builder b;
  b.add(0, 1, 0, PortType::RootPort, kFullAcs, 1);
  b.add(1, 0, 0, PortType::Endpoint, kFullAcs, std::nullopt, 0x1b4b, 0x9123, 0x010601);
  b.add(1, 0, 1, PortType::Endpoint, kFullAcs, std::nullopt, 0x1b4b, 0x9123, 0x010185);
  GroupResult r = b.groups();
  ASSERT_TRUE(r.decidable);
  EXPECT_EQ(group_of(r, "0000:01:00.0"), group_of(r, "0000:01:00.1"));
}

TEST(GroupRules, UnknownAcsOnARootPortIsReportedNotGuessed) {
  Builder b;
  b.add(0, 1, 0, PortType::RootPort, std::nullopt, 1);
  b.add(1, 0, 0, PortType::Endpoint);
  GroupResult r = b.groups();
  EXPECT_FALSE(r.decidable);
  ASSERT_FALSE(r.undecidable_because.empty());
  EXPECT_NE(r.undecidable_because[0].find("0000:00:01.0: ACS"), std::string::npos) << r.undecidable_because[0];
  GroupAssumptions a;
  a.acs_on_unknown_ports = true;
  r = compute_iommu_groups(b.h, a);
  EXPECT_TRUE(r.decidable);
}

TEST(GroupRules, QuirkTableListsSourcesForEveryEntry) {
  std::string t = describe_quirk_tables();
  EXPECT_NE(t.find("1002:4385"), std::string::npos);
  EXPECT_NE(t.find("pci_quirk_amd_sb_acs"), std::string::npos);
  EXPECT_NE(t.find("quirk_use_pcie_bridge_dma_alias"), std::string::npos);
}

// quirk_dma_func1_alias for an id added after 5.10 (88SE9215, v5.11): the alias pulls both
// functions into one group even though each function's ACS would separate them; the same
// functions under an id no quirk lists get a group each.
TEST(GroupRules, Marvell9215AliasOverridesPerFunctionAcs) {
  Builder b;
  b.add(0, 1, 0, PortType::RootPort, kFullAcs, 1);
  b.add(1, 0, 0, PortType::Endpoint, kFullAcs, std::nullopt, 0x1b4b, 0x9215, 0x010601);
  b.add(1, 0, 1, PortType::Endpoint, kFullAcs, std::nullopt, 0x1b4b, 0x9215, 0x010185);
  GroupResult r = b.groups();
  ASSERT_TRUE(r.decidable);
  EXPECT_EQ(group_of(r, "0000:01:00.0"), group_of(r, "0000:01:00.1"));
  b.h.functions[1].device = 0x91a3;  // 88SE91A3: in the AHCI table, not in the alias list
  b.h.functions[2].device = 0x91a3;
  r = compute_iommu_groups(b.h);
  ASSERT_TRUE(r.decidable);
  EXPECT_NE(group_of(r, "0000:01:00.0"), group_of(r, "0000:01:00.1"));
}

// The Linux 6.1 quirk_dma_func1_alias id list, entry by entry (drivers/pci/quirks.c).
TEST(GroupRules, Func1AliasTableHasLinux61sIds) {
  const std::pair<uint16_t, uint16_t> ids[] = {
      {0x1b4b, 0x9120}, {0x1b4b, 0x9123}, {0x1b4b, 0x9125}, {0x1b4b, 0x9128}, {0x1b4b, 0x9130},
      {0x1b4b, 0x9170}, {0x1b4b, 0x9172}, {0x1b4b, 0x917a}, {0x1b4b, 0x9182}, {0x1b4b, 0x9183},
      {0x1b4b, 0x91a0}, {0x1b4b, 0x9215}, {0x1b4b, 0x9220}, {0x1b4b, 0x9230}, {0x1b4b, 0x9235},
      {0x1103, 0x0642}, {0x1103, 0x0645}, {0x197b, 0x2392}, {0x1c28, 0x0122}};
  for (auto [vendor, device] : ids) {
    HostView h;
    FunctionView f;
    f.devfn = 0;
    f.vendor = vendor;
    f.device = device;
    h.functions.push_back(f);
    apply_dma_alias_quirks(h);
    ASSERT_EQ(h.functions[0].dma_alias_devfns.size(), 1u) << std::hex << vendor << ":" << device;
    EXPECT_EQ(h.functions[0].dma_alias_devfns[0], 1u);
  }
  HostView h;  // function 1 itself gets no alias; JMB388_ESD is 0x2392, not 0x2394
  FunctionView f;
  f.devfn = 1;
  f.vendor = 0x1b4b;
  f.device = 0x9215;
  h.functions.push_back(f);
  f.devfn = 8;
  f.vendor = 0x197b;
  f.device = 0x2394;
  h.functions.push_back(f);
  apply_dma_alias_quirks(h);
  EXPECT_TRUE(h.functions[0].dma_alias_devfns.empty());
  EXPECT_TRUE(h.functions[1].dma_alias_devfns.empty());
}

// A conventional PCI-to-PCI bridge behind a PCIe-to-PCI bridge (pci_for_each_dma_alias: the
// conventional bridge adds its own id, the PCIe-to-PCI bridge its secondary bus with 00.0):
// everything below the PCIe-to-PCI bridge, the conventional bridge included, is one group.
TEST(GroupRules, ConventionalBridgeBehindPcieToPciBridgeSharesItsGroup) {
  Builder b;
  b.add(0, 1, 0, PortType::RootPort, kFullAcs, 1);
  b.add(1, 0, 0, PortType::PcieToPciBridge, kNoAcs, 2);
  b.add(2, 1, 0, PortType::Conventional);
  b.add(2, 2, 0, PortType::Conventional, kNoAcs, 3);  // conventional PCI-to-PCI bridge
  b.add(3, 4, 0, PortType::Conventional);
  b.add(3, 5, 0, PortType::Conventional);
  b.add(0, 2, 0, PortType::RootPort, kFullAcs, 4);
  b.add(4, 0, 0, PortType::Endpoint);
  GroupResult r = b.groups();
  ASSERT_TRUE(r.decidable);
  const int g = group_of(r, "0000:01:00.0");
  EXPECT_NE(g, group_of(r, "0000:00:01.0"));
  for (const char* d : {"0000:02:01.0", "0000:02:02.0", "0000:03:04.0", "0000:03:05.0"}) EXPECT_EQ(group_of(r, d), g) << d;
  EXPECT_NE(group_of(r, "0000:04:00.0"), g);
}
