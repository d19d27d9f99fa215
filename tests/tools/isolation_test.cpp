// The isolation oracle (tools/isolation, docs/isolation.md) on shipped and small inline
// topologies: real TLPs, the analytic walk against them, Linux's groups, the override and
// config_acs, and `pciesim isolation` as a user runs it. Each test loads one machine (one SystemC
// design per process; ctest runs every test in its own process).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>

#include "cli_common.h"
#include "cli_error.h"
#include "isolation/analytic_router.h"
#include "isolation/linux_acs.h"
#include "tools/cli_run.h"

namespace {

using namespace pciesim;
using namespace pciesim::isolation;

std::string topo(const std::string& name) { return std::string(PCIESIM_SOURCE_ROOT) + "/scenarios/topologies/" + name; }

// A small topology written to a temporary file.
std::string write_temp(const std::string& text) {
  std::string path = (std::filesystem::temp_directory_path() / ("isolation-" + std::to_string(getpid()) + ".yaml")).string();
  std::ofstream(path) << text;
  return path;
}

struct Booted {
  cli::Machine machine;
  std::vector<AcsRegister> regs;
  Fabric& fabric() { return *machine.fabric; }
};

// Loads a topology and does what a Linux boot with an IOMMU does to ACS (plus config_acs).
Booted boot(const std::string& file, const ConfigAcs& cfg = {}) {
  Booted s{cli::load_machine(file), {}};
  enable_bus_masters(s.fabric());
  s.regs = read_acs_registers(s.fabric());
  apply_linux_acs(s.fabric(), s.regs, cfg);
  return s;
}

size_t index_of(const IsolationMatrix& m, const std::string& name) {
  for (size_t i = 0; i < m.size(); ++i)
    if (m.endpoints[i]->fn->name() == name) return i;
  ADD_FAILURE() << "no endpoint " << name;
  return 0;
}

const PairCell& cell(const IsolationMatrix& m, const std::string& from, const std::string& to) {
  return m.at(index_of(m, from), index_of(m, to));
}

// Analytic == exhaustive on every pair: the same class, and for ACS blocks the same bit and port.
void expect_analytic_matches(Fabric& fabric) {
  IsolationMatrix ex = exhaustive_matrix(fabric);
  IsolationMatrix an = analytic_matrix(fabric);
  ASSERT_EQ(ex.size(), an.size());
  size_t compared = 0;
  for (size_t i = 0; i < ex.size(); ++i)
    for (size_t j = 0; j < ex.size(); ++j) {
      if (i == j) continue;
      EXPECT_EQ(ex.at(i, j).cls, an.at(i, j).cls) << label(*ex.endpoints[i]) << " -> " << label(*ex.endpoints[j])
                                                  << "\n  fabric:   " << describe(ex.at(i, j).decisive)
                                                  << "\n  analytic: " << describe(an.at(i, j).decisive);
      if (ex.at(i, j).cls != PathClass::None) {
        EXPECT_TRUE(ex.at(i, j).decisive.same_decision(an.at(i, j).decisive))
            << describe(ex.at(i, j).decisive) << " vs " << describe(an.at(i, j).decisive);
        ++compared;
      }
    }
  EXPECT_GT(compared, 0u);
}

TEST(Isolation, SwitchWithoutAcsIsOpenAcrossTwoLinuxGroups) {
  Booted s = boot(topo("switch-no-acs-p2p.yaml"));
  IsolationMatrix m = exhaustive_matrix(s.fabric());
  ASSERT_EQ(m.size(), 2u);
  const PairCell& c = cell(m, "nvme0.f0", "nvme1.f0");
  EXPECT_EQ(c.cls, PathClass::Open) << describe(c.decisive);
  EXPECT_EQ(c.decisive.outcome, Outcome::Delivered);
  EXPECT_EQ(c.requests, 2);  // one BAR, a write and a read
  // Linux: each NVMe joins its own downstream port's group (pci_device_group), two groups.
  groups::GroupResult g = linux_groups(s.fabric(), {}, "test");
  Comparison cmp = compare_with_groups(m, g);
  ASSERT_TRUE(g.decidable);
  EXPECT_NE(cmp.group[0], cmp.group[1]);
  EXPECT_EQ(cmp.split_but_open, 2u);
  EXPECT_EQ(cmp.grouped_but_isolated, 0u);
  // The path turns inside the switch: the ingress and the peer port, no root complex.
  const std::string path = path_text(s.fabric(), *m.endpoints[0], c.decisive.addr, TlpKind::MemWrite);
  EXPECT_NE(path.find("sw0-dp0"), std::string::npos) << path;
  EXPECT_NE(path.find("sw0-dp1"), std::string::npos) << path;
  EXPECT_EQ(path.find("rc0"), std::string::npos) << path;
}

TEST(Isolation, AcsOnTheSwitchPortsSendsP2pToTheIommu) {
  Booted s = boot(topo("two-level-switch.yaml"));
  IsolationMatrix m = exhaustive_matrix(s.fabric());
  // gpu0's port has SV RR CR UF: redirected upstream, through the root complex.
  const PairCell& gpu = cell(m, "gpu0.f0", "nvme0.f0");
  EXPECT_EQ(gpu.cls, PathClass::ViaIommu) << describe(gpu.decisive);
  EXPECT_EQ(gpu.decisive.redirect_bit, AcsBit::RR);
  // nvme0's port has no ACS at all: it reaches nvme1 inside sw1.
  EXPECT_EQ(cell(m, "nvme0.f0", "nvme1.f0").cls, PathClass::Open);
  // nvme1's port implements ACS, firmware left it off, Linux turned it on at boot.
  EXPECT_EQ(cell(m, "nvme1.f0", "nvme0.f0").cls, PathClass::ViaIommu);
  // Linux groups nvme0 with its port, away from nvme1: the oracle reports that pair.
  Comparison cmp = compare_with_groups(m, linux_groups(s.fabric(), {}, "test"));
  bool found = false;
  for (const Disagreement& d : cmp.disagreements)
    if (d.kind == Disagreement::SplitButOpen && m.endpoints[d.a]->fn->name() == "nvme0.f0" &&
        m.endpoints[d.b]->fn->name() == "nvme1.f0")
      found = true;
  EXPECT_TRUE(found);
}

TEST(Isolation, AnalyticMatchesRealTlpsOnTwoLevelSwitch) {
  Booted s = boot(topo("two-level-switch.yaml"));
  expect_analytic_matches(s.fabric());
}

TEST(Isolation, AnalyticMatchesRealTlpsWithFirmwareAcs) {
  // Without Linux's ACS enabling: the EC vector, ports with ACS off, more open paths.
  cli::Machine m = cli::load_machine(topo("two-level-switch.yaml"));
  enable_bus_masters(*m.fabric);
  expect_analytic_matches(*m.fabric);
}

TEST(Isolation, AnalyticMatchesRealTlpsBehindAPciBridge) {
  Booted s = boot(topo("pci-bridge.yaml"));
  expect_analytic_matches(s.fabric());
}

TEST(Isolation, AnalyticMatchesRealTlpsOnMultifunction) {
  Booted s = boot(topo("multifunction-no-acs.yaml"));
  expect_analytic_matches(s.fabric());
}

TEST(Isolation, AnalyticMatchesRealTlpsOnGpuP2p) {
  Booted s = boot(topo("gpu-p2p.yaml"));
  expect_analytic_matches(s.fabric());
}

TEST(Isolation, MultifunctionWithoutAcsIsOpenInsideTheDeviceAndGrouped) {
  Booted s = boot(topo("multifunction-no-acs.yaml"));
  IsolationMatrix m = exhaustive_matrix(s.fabric());
  const PairCell& c = cell(m, "mf0.f0", "mf0.f1");
  EXPECT_EQ(c.cls, PathClass::Open) << describe(c.decisive);
  // mf1's functions have RR: the request leaves the device and climbs to the root complex.
  const PairCell& d = cell(m, "mf1.f0", "mf1.f1");
  EXPECT_EQ(d.cls, PathClass::ViaIommu) << describe(d.decisive);
  EXPECT_EQ(d.decisive.redirect_bit, AcsBit::RR);
  Comparison cmp = compare_with_groups(m, linux_groups(s.fabric(), {}, "test"));
  EXPECT_TRUE(cmp.agree()) << cmp.disagreements.size();
  EXPECT_EQ(cmp.group[index_of(m, "mf0.f0")], cmp.group[index_of(m, "mf0.f3")]);
  EXPECT_NE(cmp.group[index_of(m, "mf1.f0")], cmp.group[index_of(m, "mf1.f1")]);
}

TEST(Isolation, AcsOverrideMultifunctionSplitsAnOpenDevice) {
  Booted s = boot(topo("multifunction-no-acs.yaml"));
  IsolationMatrix m = exhaustive_matrix(s.fabric());
  AcsOverride ov = parse_acs_override("multifunction");
  Comparison cmp = compare_with_groups(m, linux_groups(s.fabric(), ov, "test"));
  // Linux now gives mf0's four functions four groups; the fabric still routes between them.
  EXPECT_NE(cmp.group[index_of(m, "mf0.f0")], cmp.group[index_of(m, "mf0.f1")]);
  EXPECT_EQ(cmp.split_but_open, 12u);  // 4 x 3 ordered pairs
}

TEST(Isolation, AcsOverrideDownstreamAndIdLeaveFunctionsWithAcsAlone) {
  Booted s = boot(topo("two-level-switch.yaml"));
  IsolationMatrix m = exhaustive_matrix(s.fabric());
  groups::GroupResult base = linux_groups(s.fabric(), {}, "test");
  groups::GroupResult down = linux_groups(s.fabric(), parse_acs_override("downstream"), "test");
  Comparison b = compare_with_groups(m, base), d = compare_with_groups(m, down);
  // sw1-dp0 has no ACS capability: the override isolates it, so nvme0 leaves... its port's group
  // only; it was already apart from nvme1. nic0's two functions implement no ACS but are
  // single-device functions, untouched by "downstream".
  EXPECT_EQ(b.group[index_of(m, "nic0.f0")], b.group[index_of(m, "nic0.f1")]);
  EXPECT_EQ(d.group[index_of(m, "nic0.f0")], d.group[index_of(m, "nic0.f1")]);
  EXPECT_GE(down.group_count, base.group_count);
  // id:8086:1572 (the X710's functions, no ACS capability) splits nic0.
  groups::GroupResult id = linux_groups(s.fabric(), parse_acs_override("id:8086:1572"), "test");
  Comparison i = compare_with_groups(m, id);
  EXPECT_NE(i.group[index_of(m, "nic0.f0")], i.group[index_of(m, "nic0.f1")]);
}

TEST(Isolation, ConfigAcsClearingRedirectOpensThePathAndLinuxFollows) {
  // RR cleared on every port of sw1 (PLX 10b5:8747): ctrl = fw_ctrl with RR forced to 0.
  Booted s = boot(topo("two-level-switch.yaml"), parse_config_acs("0xx@pci:10b5:8747"));
  IsolationMatrix m = exhaustive_matrix(s.fabric());
  EXPECT_EQ(cell(m, "gpu0.f0", "nvme0.f0").cls, PathClass::Open);
  Comparison cmp = compare_with_groups(m, linux_groups(s.fabric(), {}, "test"));
  EXPECT_GT(cmp.split_but_open, 0u);
}

TEST(Isolation, ConfigAcsSettingRedirectClosesTheSwitch) {
  // A port without the capability cannot be programmed: switch-no-acs-p2p stays open.
  Booted s = boot(topo("switch-no-acs-p2p.yaml"), parse_config_acs("11101@pci:10b5:8724"));
  EXPECT_EQ(exhaustive_matrix(s.fabric()).count(PathClass::Open), 2u);
}

// Two root ports without ACS, an endpoint below each; the root complex's `p2p` decides.
void root_port_case(bool p2p) {
  const char* yaml = R"(name: rp-p2p
memory: {base: 0x0, size: 2GiB}
root_complexes:
  - name: rc0
    ecam:   {base: 0xe0000000, size: 256MiB}
    mmio32: {base: 0xc0000000, size: 512MiB}
    mmio64: {base: 0x8000000000, size: 64GiB}
    p2p: P2P
    root_ports:
      - count: 2
        name: "rp{i}"
        device: "{i + 1}"
        vendor: 0x8086
        device_id: 0x2f02
        link: {gen: 3, width: 4}
        below:
          endpoint:
            name: "ep{i}"
            functions:
              - {function: 0, vendor: 0x144d, device: 0xa808, class: 0x010802, bars: [{index: 0, size: 16KiB, type: mem64}]}
)";
  std::string text(yaml);
  text.replace(text.find("P2P"), 3, p2p ? "true" : "false");
  Booted s = boot(write_temp(text));
  IsolationMatrix m = exhaustive_matrix(s.fabric());
  const PairCell& c = cell(m, "ep0.f0", "ep1.f0");
  if (p2p) {
    EXPECT_EQ(c.cls, PathClass::Open) << describe(c.decisive);
  } else {
    EXPECT_EQ(c.cls, PathClass::Blocked) << describe(c.decisive);
    EXPECT_EQ(c.decisive.outcome, Outcome::UnsupportedRequest);
  }
  expect_analytic_matches(s.fabric());
}

TEST(Isolation, RootPortP2pOnIsOpenBetweenRootPorts) { root_port_case(true); }

TEST(Isolation, RootPortP2pOffIsAnUnsupportedRequest) { root_port_case(false); }

TEST(Isolation, PciBridgeDevicesShareABusAndAGroup) {
  Booted s = boot(topo("pci-bridge.yaml"));
  IsolationMatrix m = exhaustive_matrix(s.fabric());
  EXPECT_EQ(cell(m, "edu0.f0", "e1000.f0").cls, PathClass::Open);  // DEVSEL on the shared bus
  EXPECT_EQ(cell(m, "net0.f0", "edu0.f0").cls, PathClass::ViaIommu);
  Comparison cmp = compare_with_groups(m, linux_groups(s.fabric(), {}, "test"));
  EXPECT_EQ(cmp.group[index_of(m, "edu0.f0")], cmp.group[index_of(m, "e1000.f0")]);
  EXPECT_EQ(cmp.split_but_open, 0u);
}

TEST(Isolation, SampleConfirmsTheAnalyticMatrix) {
  Booted s = boot(topo("two-level-switch.yaml"));
  IsolationMatrix m = analytic_matrix(s.fabric());
  SampleReport r = confirm_sample(s.fabric(), m, 200, 7);
  EXPECT_EQ(r.sent, 200u);
  EXPECT_TRUE(r.mismatches.empty()) << r.mismatches.front();
}

TEST(Isolation, BadOverrideAndConfigAcsAreRejected) {
  EXPECT_THROW(parse_acs_override("downstream,bogus"), cli::UsageError);
  EXPECT_THROW(parse_acs_override("id:8086"), cli::UsageError);
  EXPECT_THROW(parse_acs_override("id:8086:zzzz"), cli::UsageError);
  EXPECT_THROW(parse_config_acs("101@"), cli::UsageError);
  EXPECT_THROW(parse_config_acs("00:01.0"), cli::UsageError);         // flags are required
  EXPECT_THROW(parse_config_acs("1012@00:01.0"), cli::UsageError);    // 0, 1 or x
  EXPECT_THROW(parse_config_acs("10000000@00:01.0"), cli::UsageError);  // bit 7 does not exist
  ConfigAcs c = parse_config_acs("1x0@0000:02:01.0;1@pci:10b5:0");
  ASSERT_EQ(c.entries.size(), 2u);
  EXPECT_EQ(c.entries[0].mask, 0x5);
  EXPECT_EQ(c.entries[0].flags, 0x4);
  EXPECT_EQ(c.entries[0].bdf, RequesterId::from_bdf(2, 1, 0));
  EXPECT_TRUE(c.entries[1].by_id);
  EXPECT_EQ(parse_acs_override("multifunction,downstream,id:10b5:8724").text(), "downstream,multifunction,id:10b5:8724");
}

TEST(IsolationCli, SwitchCaseExitsOneAndSaysWhatItMeans) {
  cli_test::CliRun r = cli_test::pciesim("isolation " + topo("switch-no-acs-p2p.yaml"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("UNSAFE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("never reaches the IOMMU"), std::string::npos) << r.out;
  cli_test::CliRun j = cli_test::pciesim("isolation --json " + topo("switch-no-acs-p2p.yaml"));
  EXPECT_EQ(j.code, 1) << j.out;
  EXPECT_NE(j.out.find("\"split-but-open\""), std::string::npos) << j.out;
  cli_test::CliRun ok = cli_test::pciesim("isolation " + topo("multifunction-no-acs.yaml"));
  EXPECT_EQ(ok.code, 0) << ok.out;
}

TEST(IsolationCli, BadArgumentsExitTwo) {
  EXPECT_EQ(cli_test::pciesim("isolation /nonexistent.yaml").code, 2);
  EXPECT_EQ(cli_test::pciesim("isolation --acs-override nonsense " + topo("edu.yaml")).code, 2);
  EXPECT_EQ(cli_test::pciesim("isolation --config-acs 12@00:01.0 " + topo("edu.yaml")).code, 2);
  EXPECT_EQ(cli_test::pciesim("isolation --exhaustive --analytic " + topo("edu.yaml")).code, 2);
}

}  // namespace

namespace {

// The groups the isolation command compares against are those the co-simulated kernel forms
// when it boots on the machine (`pciesim groups`), as partitions of the endpoint functions.
void expect_groups_as_booted_kernel(const std::string& name) {
  cli_test::CliRun g = cli_test::pciesim("groups " + topo(name));
  ASSERT_EQ(g.code, 0) << g.out;
  std::map<std::string, int> kernel;
  std::istringstream lines(g.out);
  std::string bdf;
  int group;
  while (lines >> bdf >> group) kernel[bdf] = group;
  cli_test::CliRun j = cli_test::pciesim("isolation --json " + topo(name));
  nlohmann::json doc = nlohmann::json::parse(j.out.substr(j.out.find('{')));
  std::map<int, std::set<std::string>> ours_parts, kernel_parts;
  for (const auto& e : doc["endpoints"]) {
    ASSERT_TRUE(e["group"].is_number()) << e.dump();
    ours_parts[e["group"].get<int>()].insert(e["bdf"].get<std::string>());
    ASSERT_TRUE(kernel.count(e["bdf"].get<std::string>())) << e.dump();
    kernel_parts[kernel[e["bdf"].get<std::string>()]].insert(e["bdf"].get<std::string>());
  }
  std::set<std::set<std::string>> a, b;
  for (auto& [k, v] : ours_parts) a.insert(v);
  for (auto& [k, v] : kernel_parts) b.insert(v);
  EXPECT_EQ(a, b);
  EXPECT_GT(a.size(), 1u);
}

TEST(IsolationCli, GroupsAreTheBootedKernelsOnTheSwitchCase) { expect_groups_as_booted_kernel("switch-no-acs-p2p.yaml"); }

TEST(IsolationCli, GroupsAreTheBootedKernelsOnTwoLevelSwitch) { expect_groups_as_booted_kernel("two-level-switch.yaml"); }

}  // namespace
