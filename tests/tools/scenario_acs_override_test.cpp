// A scenario's `boot: {acs_override: [...]}` (docs/scenarios.md): the same items as
// `pciesim isolation --acs-override` (cosim/groups/acs_override.h), bad ones a ScenarioError with
// file:line:col and the field, and the override reaching the co-simulated kernel's groups (the
// library's acs-override-multifunction passes with it and fails without it). Also the SR-IOV
// library pair: sriov-vf-isolation (internal_p2p false) and sriov-internal-p2p (true).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "scenario/scenario.h"
#include "tools/scenario_test_util.h"

namespace {

using pciesim::scenario::parse_scenario_file;
using pciesim::scenario::parse_scenario_string;
using pciesim::scenario::run_scenario;
using pciesim::scenario::Scenario;
using pciesim::scenario::ScenarioResult;
using pciesim::scenario::StepResult;
using scenario_test::library;
using scenario_test::topology;

#define EXPECT_CONTAINS(hay, needle) EXPECT_NE((hay).find(needle), std::string::npos) << (hay)

// Line 4 of every test scenario is the boot section.
std::string with_boot(const std::string& boot) {
  return "name: t\ndescription: a test\ntopology: " + topology("dma-agent") + "\n" + boot +
         "\nsteps:\n  - groups: [agent1, victim]\n    expect: {different_groups: true}\n";
}

std::string error_of(const std::string& yaml) {
  try {
    parse_scenario_string(yaml, "s.yaml");
  } catch (const pciesim::topo::TopologyError& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed without error:\n" << yaml;
  return "";
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string table(const ScenarioResult& r) {
  std::string t = r.error.empty() ? "" : "error: " + r.error + "\n";
  for (const StepResult& s : r.steps)
    t += std::to_string(s.index) + ". " + s.label + " | " + s.expected + " | " + (s.pass ? "PASS" : "FAIL") + " | " +
         s.observed + "\n";
  return t;
}

}  // namespace

TEST(ScenarioAcsOverride, ListAndCommandLineFormsParseToTheSameOverride) {
  const Scenario a = parse_scenario_string(with_boot("boot: {acs_override: [downstream, multifunction, \"id:8086:1234\"]}"), "s.yaml");
  EXPECT_TRUE(a.boot.acs_override.downstream);
  EXPECT_TRUE(a.boot.acs_override.multifunction);
  ASSERT_EQ(a.boot.acs_override.ids.size(), 1u);
  EXPECT_EQ(a.boot.acs_override.ids[0].first, 0x8086);
  EXPECT_EQ(a.boot.acs_override.ids[0].second, 0x1234);
  EXPECT_EQ(a.boot.acs_override.text(), "downstream,multifunction,id:8086:1234");
  const Scenario b = parse_scenario_string(with_boot("boot: {acs_override: \"multifunction,downstream,id:8086:1234\"}"), "s.yaml");
  EXPECT_EQ(b.boot.acs_override.text(), a.boot.acs_override.text());
  const Scenario none = parse_scenario_string(with_boot("boot: {strict: true}"), "s.yaml");
  EXPECT_FALSE(none.boot.acs_override.any());
}

TEST(ScenarioAcsOverride, BadItemsAreErrorsWithFileLineColumnAndField) {
  // column 35: the offending item inside the flow list
  EXPECT_CONTAINS(error_of(with_boot("boot: {acs_override: [downstream, bogus]}")),
                  "s.yaml:4:35: boot.acs_override: unknown item 'bogus' (downstream, multifunction or id:VVVV:DDDD)");
  EXPECT_CONTAINS(error_of(with_boot("boot: {acs_override: [\"id:8086\"]}")),
                  "s.yaml:4:23: boot.acs_override: 'id:8086' is not id:VVVV:DDDD");
  EXPECT_CONTAINS(error_of(with_boot("boot: {acs_override: [\"id:80861:1234\"]}")),
                  "boot.acs_override: vendor '80861' in 'id:80861:1234' is not a 16-bit hex id");
  EXPECT_CONTAINS(error_of(with_boot("boot: {acs_override: [\"id:8086:zz\"]}")),
                  "boot.acs_override: device 'zz' in 'id:8086:zz' is not a 16-bit hex id");
  EXPECT_CONTAINS(error_of(with_boot("boot: {acs_override: \"downstream,,multifunction\"}")),
                  "s.yaml:4:22: boot.acs_override: unknown item ''");
  EXPECT_CONTAINS(error_of(with_boot("boot: {acs_override: []}")), "s.yaml:4:22: boot.acs_override: expected a list");
  EXPECT_CONTAINS(error_of(with_boot("boot: {acs_override: {multifunction: true}}")),
                  "s.yaml:4:22: boot.acs_override: expected a list");
  std::string ids;
  for (int i = 0; i < 17; ++i) ids += std::string(i ? ", " : "") + "\"id:8086:" + std::to_string(1000 + i) + "\"";
  EXPECT_CONTAINS(error_of(with_boot("boot: {acs_override: [" + ids + "]}")), "the patch keeps at most 16 ids");
  EXPECT_CONTAINS(error_of(with_boot("boot: {acs_overide: [downstream]}")), "boot.acs_overide: unknown key");
}

// The library scenario, as shipped: four groups, two owners, and the P2P inside the device.
TEST(ScenarioAcsOverride, LibraryScenarioPassesWithTheOverride) {
  const ScenarioResult r = run_scenario(parse_scenario_file(library("acs-override-multifunction")));
  EXPECT_TRUE(r.passed()) << table(r);
  ASSERT_EQ(r.steps.size(), 5u) << table(r);
  EXPECT_CONTAINS(r.steps[4].observed, "delivered at mf0.f1");
}

// The same file without its boot section: Linux puts the four functions in one group, so the
// first step fails (and VFIO refuses the split owners).
TEST(ScenarioAcsOverride, LibraryScenarioFailsWithoutTheOverride) {
  std::string text = read(library("acs-override-multifunction"));
  const std::string boot = "boot:\n  acs_override: [multifunction]";
  const size_t at = text.find(boot);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, boot.size(), "boot: {}");
  const ScenarioResult r =
      run_scenario(parse_scenario_string(text, scenario_test::write_file("no-override.yaml", text)));
  EXPECT_FALSE(r.passed()) << table(r);
  if (r.error.empty()) {
    ASSERT_FALSE(r.steps.empty());
    EXPECT_FALSE(r.steps[0].pass) << table(r);
  }
}

// internal_p2p false (the 82599's behaviour, the model's default): VF-to-VF and VF-to-PF writes
// leave the device, UF at the root port sends them to the IOMMU, the VF's domain faults.
TEST(ScenarioSriovP2p, LibraryVfIsolationRedirectsToTheIommu) {
  const ScenarioResult r = run_scenario(parse_scenario_file(library("sriov-vf-isolation")));
  EXPECT_TRUE(r.passed()) << table(r);
  ASSERT_GE(r.steps.size(), 5u) << table(r);
  EXPECT_CONTAINS(r.steps[3].observed, "UF");
  EXPECT_CONTAINS(r.steps[4].observed, "UF");
}

// internal_p2p true: each VF still its own group, the writes delivered inside the device.
TEST(ScenarioSriovP2p, LibraryInternalP2pDeliversInsideTheDevice) {
  const ScenarioResult r = run_scenario(parse_scenario_file(library("sriov-internal-p2p")));
  EXPECT_TRUE(r.passed()) << table(r);
  ASSERT_EQ(r.steps.size(), 5u) << table(r);
  EXPECT_CONTAINS(r.steps[3].observed, "delivered at nic0.vf1");
}

// The same steps on the internal_p2p: false topology fail: the write no longer arrives.
TEST(ScenarioSriovP2p, InternalP2pStepsFailOnTheDefaultModel) {
  std::string text = read(library("sriov-internal-p2p"));
  const std::string topo_line = "topology: ../topologies/sriov-nic-internal-p2p.yaml";
  const size_t at = text.find(topo_line);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, topo_line.size(), "topology: " + topology("sriov-nic"));
  const ScenarioResult r = run_scenario(parse_scenario_string(text, scenario_test::write_file("default.yaml", text)));
  EXPECT_FALSE(r.passed()) << table(r);
  ASSERT_EQ(r.steps.size(), 5u) << table(r);
  EXPECT_TRUE(r.steps[1].pass) << "the groups are the same either way\n" << table(r);
  EXPECT_FALSE(r.steps[3].pass) << table(r);
  EXPECT_FALSE(r.steps[4].pass) << table(r);
}
