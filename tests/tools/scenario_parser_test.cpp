// Scenario files -> Scenario (tools/scenario/scenario_parser.cpp): what a good file turns into, and
// that every kind of bad input is one ScenarioError naming file:line:col and the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "scenario/scenario.h"
#include "tools/scenario_test_util.h"

namespace {

using pciesim::scenario::parse_scenario_file;
using pciesim::scenario::parse_scenario_string;
using pciesim::scenario::Scenario;
using pciesim::scenario::ScenarioError;
using pciesim::scenario::Step;
using scenario_test::topology;

// The first lines every test scenario shares; line 3 is the topology.
std::string head() { return "name: t\ndescription: a test\ntopology: " + topology("dma-agent") + "\n"; }

// The message of the error parsing `yaml` gives (fails the test if it parses).
std::string error_of(const std::string& yaml) {
  try {
    parse_scenario_string(yaml, "s.yaml");
  } catch (const pciesim::topo::TopologyError& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed without error:\n" << yaml;
  return "";
}

#define EXPECT_CONTAINS(hay, needle) EXPECT_NE((hay).find(needle), std::string::npos) << (hay)

}  // namespace

TEST(ScenarioParser, GoodFileGivesEveryField) {
  const Scenario s = parse_scenario_string(head() +
                                               "boot: {iommu: true, strict: true, passthrough: false}\n"
                                               "owners:\n"
                                               "  vm1: {vfio: [agent1]}\n"
                                               "  host: {dma_api: [victim]}\n"
                                               "steps:\n"
                                               "  - map: {owner: vm1, iova: 0x100000, size: 0x2000, access: r}\n"
                                               "  - map: {owner: host, buffer: ring, size: 4096}\n"
                                               "  - dma: {from: agent1, to: 0x100000, op: read, length: 16, fill: 0x11}\n"
                                               "    expect: {delivered: true, data_equal: true, latency_max_ns: 900}\n"
                                               "  - p2p: {from: attacker, to: \"victim:BAR0+0x40\", length: 8, spoof: \"04:00.0\"}\n"
                                               "    expect: {blocked: SV}\n"
                                               "  - unmap: {owner: host, buffer: ring}\n"
                                               "  - invalidate: {owner: host}\n"
                                               "  - reset: {device: agent1}\n"
                                               "    expect: {result: -25}\n"
                                               "  - msi: {from: agent1, address: 0xfee00000, data: 0x4099}\n"
                                               "    expect: {iommu_fault: 0x25}\n"
                                               "  - groups: [agent1, victim]\n"
                                               "    expect: {different_groups: true}\n",
                                           "s.yaml");
  EXPECT_EQ(s.name, "t");
  EXPECT_EQ(s.description, "a test");
  EXPECT_TRUE(s.boot.iommu);
  EXPECT_TRUE(s.boot.strict);
  EXPECT_FALSE(s.boot.passthrough);
  ASSERT_EQ(s.owners.size(), 2u);
  ASSERT_EQ(s.steps.size(), 9u);
  const Step& map = s.steps[0];
  EXPECT_EQ(map.kind, Step::Kind::Map);
  EXPECT_EQ(map.iova, 0x100000u);
  EXPECT_EQ(map.size, 0x2000u);
  EXPECT_TRUE(map.readable);
  EXPECT_FALSE(map.writable);
  EXPECT_EQ(map.expect.result, 0);  // map, unmap, invalidate and reset must succeed unless told
  EXPECT_EQ(map.loc.line, 9);
  EXPECT_EQ(s.steps[1].buffer, "ring");
  EXPECT_EQ(s.steps[1].size, 4096u);
  const Step& dma = s.steps[2];
  EXPECT_EQ(dma.kind, Step::Kind::Dma);
  EXPECT_FALSE(dma.write);
  EXPECT_EQ(dma.length, 16u);
  EXPECT_EQ(dma.fill, 0x11);
  EXPECT_EQ(dma.expect.delivered, true);
  EXPECT_EQ(dma.expect.data_equal, true);
  EXPECT_EQ(dma.expect.latency_max_ns, 900.0);
  EXPECT_EQ(dma.label, "dma agent1 -> 0x100000 read 16 B");
  const Step& p2p = s.steps[3];
  EXPECT_EQ(p2p.kind, Step::Kind::P2p);
  EXPECT_TRUE(p2p.write);  // the default op
  EXPECT_EQ(p2p.spoof, "04:00.0");
  EXPECT_EQ(p2p.expect.blocked, "SV");
  EXPECT_EQ(s.steps[4].kind, Step::Kind::Unmap);
  EXPECT_EQ(s.steps[5].kind, Step::Kind::Invalidate);
  EXPECT_EQ(s.steps[6].kind, Step::Kind::Reset);
  EXPECT_EQ(s.steps[6].expect.result, -25);
  EXPECT_EQ(s.steps[7].msi_data, 0x4099u);
  EXPECT_EQ(s.steps[7].expect.iommu_fault, 0x25);
  EXPECT_EQ(s.steps[8].devices, (std::vector<std::string>{"agent1", "victim"}));
  EXPECT_EQ(s.steps[8].expect.different_groups, true);
}

TEST(ScenarioParser, InlineTopologyAndRelativeTopologyFile) {
  const Scenario a = parse_scenario_file(scenario_test::library("switch-p2p-no-acs"));
  EXPECT_EQ(a.topology.name, "switch-no-acs");
  const Scenario b = parse_scenario_file(scenario_test::library("acs-sv-spoof"));  // ../topologies/dma-agent.yaml
  EXPECT_EQ(b.topology.name, "dma-agent");
}

TEST(ScenarioParser, EveryLibraryScenarioParses) {
  const std::string dir = std::string(PCIESIM_SOURCE_ROOT) + "/scenarios/library";
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".yaml") continue;
    ++n;
    EXPECT_NO_THROW(parse_scenario_file(e.path().string())) << e.path();
  }
  EXPECT_GE(n, 6);
}

TEST(ScenarioParser, UnknownTopLevelKeyNamesLineColumnAndField) {
  const std::string m = error_of(head() + "stpes: []\n");
  EXPECT_CONTAINS(m, "s.yaml:4:1: scenario.stpes: unknown key");
}

TEST(ScenarioParser, MissingRequiredKeys) {
  EXPECT_CONTAINS(error_of("topology: x.yaml\nsteps: []\n"), "scenario.name: required key is missing");
  EXPECT_CONTAINS(error_of("name: t\ntopology: " + topology("dma-agent") + "\n"), "scenario.steps: required key is missing");
  EXPECT_CONTAINS(error_of(head() + "steps: []\n"), "s.yaml:4:8: steps: expected a list of at least one step");
}

TEST(ScenarioParser, YamlSyntaxErrorHasLine) {
  EXPECT_CONTAINS(error_of("name: t\nsteps: [\n  - {a: 1\n"), "s.yaml:");
  EXPECT_CONTAINS(error_of("name: t\nsteps: [\n  - {a: 1\n"), "YAML syntax error");
  EXPECT_CONTAINS(error_of(""), "empty scenario file");
}

TEST(ScenarioParser, TopologyErrors) {
  EXPECT_CONTAINS(error_of("name: t\ntopology: no-such-topology.yaml\nsteps: [{groups: [a, b], expect: {same_group: true}}]\n"),
                  "s.yaml:2:11: topology: no topology file");
  EXPECT_CONTAINS(error_of("name: t\ntopology: [1, 2]\nsteps: [{groups: [a, b], expect: {same_group: true}}]\n"),
                  "s.yaml:2:11: topology: expected a file path");
}

TEST(ScenarioParser, StepKindErrors) {
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - teleport: {from: agent1}\n"),
                  "s.yaml:5:5: steps.teleport: unknown step kind");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - {dma: {from: a, to: 0x0}, groups: [a, b], expect: {delivered: true}}\n"),
                  "steps.groups: one step kind per step (already 'dma')");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - expect: {delivered: true}\n"), "s.yaml:5:5: steps: a step needs a kind");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - dma: {from: agent1, to: 0x1000}\n"), "s.yaml:5:5: steps.dma.expect: this step needs an expect");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - dma: {from: agent1, to: 0x1000, speed: 3}\n    expect: {delivered: true}\n"),
                  "s.yaml:5:37: dma.speed: unknown key");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - dma: {to: 0x1000}\n    expect: {delivered: true}\n"), "dma.from: required key is missing");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - dma: {from: agent1, to: 0x1000, op: poke}\n    expect: {delivered: true}\n"),
                  "s.yaml:5:41: dma.op: read or write");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - dma: {from: agent1, to: 0x1000, length: 8192}\n    expect: {delivered: true}\n"),
                  "dma.length: '8192' is larger than 4096");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - dma: {from: agent1, to: 0x1000, length: 0x1g}\n    expect: {delivered: true}\n"),
                  "dma.length: '0x1g' is not a number");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - dma: {from: agent1, to: 0x1000, at: physical}\n    expect: {delivered: true}\n"),
                  "dma.at: untranslated, translated, translation-request or ats");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - p2p: {from: agent1, to: 0x1000}\n    expect: {delivered: true}\n"),
                  "s.yaml:5:29: p2p.to: p2p targets a peer's BAR");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - groups: [agent1]\n    expect: {same_group: true}\n"),
                  "groups: name at least two devices");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - msi: {from: agent1, address: 0x1fee00000, data: 1}\n    expect: {delivered: true}\n"),
                  "msi.address: '0x1fee00000' is larger than 4294967295");
}

TEST(ScenarioParser, OwnerAndMapErrors) {
  const std::string owners = "owners:\n  vm1: {vfio: [agent1]}\n  host: {dma_api: [victim]}\n";
  EXPECT_CONTAINS(error_of(head() + owners + "steps:\n  - map: {owner: vm9, iova: 0x1000, size: 0x1000}\n"),
                  "s.yaml:8:18: map.owner: no owner 'vm9' under owners:");
  EXPECT_CONTAINS(error_of(head() + owners + "steps:\n  - map: {owner: vm1, iova: 0x1800, size: 0x1000}\n"),
                  "map: iova and size must be multiples of 4 KiB");
  EXPECT_CONTAINS(error_of(head() + owners + "steps:\n  - map: {owner: vm1, buffer: b, iova: 0x1000, size: 0x1000}\n"),
                  "map.buffer: VFIO owners map at an IOVA they choose");
  EXPECT_CONTAINS(error_of(head() + owners + "steps:\n  - map: {owner: host, iova: 0x1000, size: 0x1000}\n"),
                  "map.iova: the DMA API chooses the IOVA");
  EXPECT_CONTAINS(error_of(head() + owners + "steps:\n  - map: {owner: host, buffer: b, size: 0}\n"), "map.size: must not be 0");
  EXPECT_CONTAINS(error_of(head() + owners + "steps:\n  - map: {owner: vm1, iova: 0x1000, size: 0x1000, access: x}\n"),
                  "map.access: r, w or rw");
  EXPECT_CONTAINS(error_of(head() + "owners:\n  a: {vfio: [agent1]}\n  b: {dma_api: [agent1]}\nsteps:\n  - invalidate: {owner: a}\n"),
                  "s.yaml:6:6: owners.b: device agent1 already has an owner");
  EXPECT_CONTAINS(error_of(head() + "owners:\n  a: {vfio: [agent1], dma_api: [victim]}\nsteps:\n  - invalidate: {owner: a}\n"),
                  "owners.a: give exactly one of vfio or dma_api");
  EXPECT_CONTAINS(error_of(head() + "owners:\n  a: {kvm: [agent1]}\nsteps:\n  - invalidate: {owner: a}\n"),
                  "s.yaml:5:7: owners.a.kvm: unknown key");
  EXPECT_CONTAINS(error_of(head() + "owners:\n  a: {vfio: []}\nsteps:\n  - invalidate: {owner: a}\n"),
                  "owners.a.vfio: expected a list of device names");
}

TEST(ScenarioParser, ExpectationErrors) {
  const std::string dma = "steps:\n  - dma: {from: agent1, to: 0x1000}\n    expect: ";
  EXPECT_CONTAINS(error_of(head() + dma + "{delivered: true, iommu_fault: 5}\n"),
                  "s.yaml:6:13: expect: delivered, blocked, iommu_fault");
  EXPECT_CONTAINS(error_of(head() + dma + "{blocked: XX}\n"), "s.yaml:6:23: expect.blocked: an ACS bit (SV TB RR CR UF EC DT), UR or CA");
  EXPECT_CONTAINS(error_of(head() + dma + "{redirected: UR}\n"), "expect.redirected: an ACS bit");
  EXPECT_CONTAINS(error_of(head() + dma + "{delivered: maybe}\n"), "expect.delivered: expected true or false");
  EXPECT_CONTAINS(error_of(head() + dma + "{iommu_fault: 0x100}\n"), "expect.iommu_fault: '0x100' is larger than 255");
  EXPECT_CONTAINS(error_of(head() + dma + "{same_group: true}\n"), "s.yaml:6:14: expect.same_group: unknown key");
  EXPECT_CONTAINS(error_of(head() + dma + "{}\n"), "expect: expect at least one thing");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - groups: [agent1, victim]\n    expect: {delivered: true}\n"),
                  "expect.delivered: unknown key");
  EXPECT_CONTAINS(error_of(head() + "steps:\n  - reset: {device: agent1}\n    expect: {result: ok}\n"),
                  "expect.result: 0 or a negative errno");
}

TEST(ScenarioParser, FileErrors) {
  try {
    parse_scenario_file("/nonexistent/s.yaml");
    FAIL();
  } catch (const ScenarioError& e) {
    EXPECT_CONTAINS(std::string(e.what()), "/nonexistent/s.yaml: cannot open scenario file: No such file or directory");
  }
  EXPECT_THROW(parse_scenario_file(::testing::TempDir()), ScenarioError);
}
