// Firmware enumeration: bus numbers, BAR and window placement, command register, ACS and
// MPS programming, and the errors for machines that cannot be enumerated.
#include <algorithm>

#include "fabric_fixture.h"

using namespace pciesim;
using namespace pciesim::test;

TEST(Firmware, AssignsBusNumbersDepthFirst) {
  auto f = make_fabric(kAcsTopology);
  auto buses = [&](const std::string& n) {
    const PciFunction& p = *fn(*f, n).fn;
    return std::make_tuple(int(p.primary_bus()), int(p.secondary_bus()), int(p.subordinate_bus()));
  };
  // rp0 -> bus 1 (sw0.up) -> internal bus 2 (dpA 3, dpB 4, dpC 5 -> sw1.up, internal 6, dpD 7, dpE 8)
  EXPECT_EQ(buses("rp0"), std::make_tuple(0, 1, 8));
  EXPECT_EQ(buses("sw0.up"), std::make_tuple(1, 2, 8));
  EXPECT_EQ(buses("dpA"), std::make_tuple(2, 3, 3));
  EXPECT_EQ(buses("dpB"), std::make_tuple(2, 4, 4));
  EXPECT_EQ(buses("dpC"), std::make_tuple(2, 5, 8));
  EXPECT_EQ(buses("sw1.up"), std::make_tuple(5, 6, 8));
  EXPECT_EQ(buses("dpE"), std::make_tuple(6, 8, 8));
  EXPECT_EQ(buses("rp1"), std::make_tuple(0, 9, 9));
}

TEST(Firmware, PlacesBarsInsideEveryEnclosingWindowNaturallyAligned) {
  auto f = make_fabric(kAcsTopology);
  for (const FunctionInfo& info : f->functions()) {
    if (info.fn->is_bridge()) continue;
    for (const DecodedBar& b : info.fn->bars()) {
      if (b.index < 0) continue;
      EXPECT_EQ(b.base % b.size, 0u) << info.fn->name() << " BAR" << b.index;
      for (PciFunction* p = info.parent; p; p = f->find(p) ? f->find(p)->parent : nullptr) {
        EXPECT_TRUE(p->window_claims(b.base) && p->window_claims(b.base + b.size - 1))
            << info.fn->name() << " BAR" << b.index << " outside " << p->name();
      }
    }
  }
  // 64-bit prefetchable BARs go above 4 GiB, 32-bit ones below
  EXPECT_GE(bar(*f, "epA", 0), 1ull << 32);
  EXPECT_LT(bar(*f, "epD", 0), 1ull << 32);
}

TEST(Firmware, WindowsOfSiblingsDoNotOverlap) {
  auto f = make_fabric(kAcsTopology);
  std::vector<std::pair<uint64_t, uint64_t>> w;
  for (const char* p : {"dpA", "dpB", "dpC"}) {
    const PciFunction& fnp = *fn(*f, p).fn;
    for (const Window* x : {&fnp.mem_window(), &fnp.pref_window()})
      if (x->enabled()) w.emplace_back(x->base, x->limit);
  }
  std::sort(w.begin(), w.end());
  for (size_t i = 1; i < w.size(); ++i) EXPECT_GT(w[i].first, w[i - 1].second);
}

TEST(Firmware, EnablesDecodingAndLeavesEndpointBusMasteringToTheDriver) {
  auto f = make_fabric(kAcsTopology);
  EXPECT_TRUE(fn(*f, "dpA").fn->bus_master());
  EXPECT_TRUE(fn(*f, "dpA").fn->memory_enabled());
  EXPECT_TRUE(fn(*f, "epA").fn->memory_enabled());
  EXPECT_FALSE(fn(*f, "epA").fn->bus_master());
}

TEST(Firmware, ProgramsAcsControlAndMpsFromTheTopology) {
  auto f = std::make_unique<Fabric>(topo::load_topology_file(
      std::string(std::getenv("PCIESIM_SOURCE_DIR")) + "/scenarios/topologies/two-level-switch.yaml"));
  f->enumerate();
  const PciFunction& rp0 = *fn(*f, "rp0").fn;
  EXPECT_EQ(rp0.acs_control(), 1 | 4 | 8 | 16);  // SV RR CR UF
  EXPECT_EQ(fn(*f, "sw1-dp1").fn->acs_control(), 0);
  const PciFunction& dp2 = *fn(*f, "sw0-dp2").fn;
  EXPECT_TRUE(dp2.acs(AcsBit::EC));
  EXPECT_TRUE(dp2.egress_blocked(1));
  const PciFunction& nvme = *fn(*f, "nvme0").fn;
  const uint16_t devctl = nvme.config().read16(nvme.pcie_cap() + 8);
  EXPECT_EQ((devctl >> 5) & 7, 1);   // MPS 256 B from the root port's link
}

TEST(Firmware, ReportsBusExhaustionWithTheFileLine) {
  // nine root ports, each with a 32-port switch: 9 * 34 buses > 256
  std::string yaml = R"(
name: too-many-buses
root_complexes:
  - name: rc0
    root_ports:
      - count: 9
        name: "rp{i}"
        device: "{i+1}"
        below:
          switch:
            name: "sw{i}"
            ports:
              - count: 32
                var: j
                name: "sw{i}-dp{j}"
                device: "{j}"
)";
  try {
    auto f = make_fabric(yaml);
    FAIL() << "enumeration should have run out of bus numbers";
  } catch (const topo::TopologyError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("bus numbers exhausted"), std::string::npos) << m;
    EXPECT_NE(m.find("test.yaml:"), std::string::npos) << m;
  }
}

TEST(Firmware, ReportsWindowsThatDoNotFit) {
  std::string yaml = R"(
name: too-big
root_complexes:
  - name: rc0
    mmio32: {base: 0xc0000000, size: 16MiB}
    mmio64: {base: 0x8000000000, size: 1GiB}
    root_ports:
      - name: rp0
        device: 1
        below:
          endpoint:
            name: big
            functions: [{function: 0, bars: [{index: 0, size: 64MiB}]}]
)";
  try {
    auto f = make_fabric(yaml);
    FAIL() << "a 64 MiB BAR cannot fit a 16 MiB window";
  } catch (const topo::TopologyError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("windows do not fit"), std::string::npos) << m;
    EXPECT_NE(m.find("mmio32"), std::string::npos) << m;
    EXPECT_NE(m.find("test.yaml:4"), std::string::npos) << m;  // the root complex item
  }
}
