// run_scenario (tools/scenario/scenario_runner.cpp) in this process, one scenario per test (one
// SystemC design per process): every step kind and expectation kind on small inline scenarios,
// and every expectation kind once more with the wrong value, to show the runner judges it.
#include <gtest/gtest.h>

#include <string>

#include "scenario/scenario.h"
#include "tools/scenario_test_util.h"

namespace {

using pciesim::scenario::parse_scenario_file;
using pciesim::scenario::parse_scenario_string;
using pciesim::scenario::run_scenario;
using pciesim::scenario::ScenarioResult;
using pciesim::scenario::StepResult;
using scenario_test::topology;

ScenarioResult run(const std::string& yaml) {
  return run_scenario(parse_scenario_string(yaml, scenario_test::write_file("s.yaml", yaml)));
}

std::string table(const ScenarioResult& r) {
  std::string t = r.error.empty() ? "" : "error: " + r.error + "\n";
  for (const StepResult& s : r.steps)
    t += std::to_string(s.index) + ". " + s.label + " | " + s.expected + " | " + (s.pass ? "PASS" : "FAIL") + " | " + s.observed + "\n";
  return t;
}

// Every step passed, and the observed text of step i (1-based) contains what `observed` lists.
void expect_all_pass(const ScenarioResult& r, const std::vector<std::pair<int, std::string>>& observed) {
  EXPECT_TRUE(r.error.empty()) << r.error;
  for (const StepResult& s : r.steps) EXPECT_TRUE(s.pass) << table(r);
  for (const auto& [i, text] : observed) {
    ASSERT_LE(static_cast<size_t>(i), r.steps.size());
    EXPECT_NE(r.steps[i - 1].observed.find(text), std::string::npos) << "step " << i << ":\n" << table(r);
  }
  EXPECT_TRUE(r.passed());
}

}  // namespace

// map / unmap through a VFIO container (type1 semantics), dma read and write, `result` for an
// overlapping map, read-only mappings, reset with and without an owner, groups.
TEST(ScenarioRun, VfioMapDmaUnmapResetGroups) {
  const ScenarioResult r = run("name: vfio\ntopology: " + topology("dma-agent") + R"(
owners:
  vm1: {vfio: [agent1]}
  vm2: {vfio: [victim]}
steps:
  - groups: [agent1, victim]
    expect: {different_groups: true}
  - map: {owner: vm1, iova: 0x100000, size: 0x2000}
  - map: {owner: vm1, iova: 0x101000, size: 0x1000}
    expect: {result: -17}
  - map: {owner: vm1, iova: 0x200000, size: 0x1000, access: r}
  - dma: {from: agent1, to: 0x100000, op: write, length: 64}
    expect: {delivered: true, data_equal: true}
  - dma: {from: agent1, to: 0x100040, op: read, length: 64}
    expect: {delivered: true, data_equal: true}
  - dma: {from: agent1, to: 0x200000, op: write, length: 64}
    expect: {iommu_fault: 0x05}
  - dma: {from: agent1, to: 0x200000, op: read, length: 64}
    expect: {delivered: true}
  - unmap: {owner: vm1, iova: 0x100000, size: 0x2000}
  - dma: {from: agent1, to: 0x100000, op: read, length: 64}
    expect: {iommu_fault: 0x06}
  - reset: {device: agent1}
  - reset: {device: attacker}
)");
  ASSERT_EQ(r.steps.size(), 12u) << table(r);
  expect_all_pass(r, {{1, "agent1 in group"},
                      {3, "result -17 (File exists)"},
                      {5, "delivered at dram; data equal"},
                      {7, "IOMMU fault 0x5 (PTE Write access is not set)"},
                      {10, "IOMMU fault 0x6 (PTE Read access is not set)"}});
  EXPECT_EQ(r.steps[4].line, 13);
  EXPECT_GT(r.sim_ns, 0);
}

// dma_api owners: the kernel picks the IOVA, `buffer+OFF` resolves it; in strict mode the unmap
// invalidates at once (Linux iommu.strict=1), so no invalidate step is needed to end the access.
TEST(ScenarioRun, DmaApiStrictUnmapEndsAccessAtOnce) {
  const ScenarioResult r = run("name: dma-api-strict\ntopology: " + topology("dma-agent") + R"(
boot: {strict: true}
owners:
  host: {dma_api: [agent1]}
steps:
  - map: {owner: host, buffer: ring, size: 0x2000}
  - dma: {from: agent1, to: ring+0x1000, op: write, length: 128}
    expect: {delivered: true, data_equal: true}
  - unmap: {owner: host, buffer: ring}
  - dma: {from: agent1, to: ring+0x1000, op: write, length: 128}
    expect: {iommu_fault: 0x05}
  - unmap: {owner: host, buffer: ring}
    expect: {result: -22}
  - invalidate: {owner: host}
)");
  expect_all_pass(r, {{2, "data equal"}, {4, "IOMMU fault 0x5"}, {5, "result -22"}});
}

// ACS: P2P Request Redirect at the attacker's downstream port, Source Validation against a spoofed
// requester id, and a translated request without ATS (VT-d refuses it: fault 0x0D).
TEST(ScenarioRun, AcsRedirectSourceValidationAndTranslatedRequest) {
  const ScenarioResult r = run("name: acs\ntopology: " + topology("dma-agent") + R"(
steps:
  - p2p: {from: attacker, to: "victim:BAR0+0x40", op: write, length: 8}
    expect: {redirected: RR, delivered: false}
  - dma: {from: attacker, to: 0x1000, op: write, length: 64, spoof: "04:00.0"}
    expect: {blocked: SV, requester: "04:00.0"}
  - dma: {from: agent1, to: 0x100000, op: write, length: 64, at: translated}
    expect: {iommu_fault: 0x0d}
)");
  expect_all_pass(r, {{1, "redirected by ACS RR at dpA"}, {2, "blocked by ACS SV at dpA"}, {3, "IOMMU fault 0xd"}});
}

// Interrupt remapping on: a forged compatibility-format MSI is refused (VT-d fault 0x25).
TEST(ScenarioRun, MsiBlockedByInterruptRemapping) {
  const ScenarioResult r = run("name: msi-ir\ntopology: " + topology("dma-agent") + R"(
steps:
  - msi: {from: agent1, address: 0xfee00000, data: 0x4099}
    expect: {iommu_fault: 0x25}
)");
  expect_all_pass(r, {{1, "Blocked a compatibility format interrupt"}});
}

// Without an IOMMU the same MSI reaches the interrupt controller; DMA goes straight to memory, with
// a latency bound; an address nothing claims ends as Unsupported Request at the root complex.
TEST(ScenarioRun, NoIommuMsiDeliveredLatencyAndUnsupportedRequest) {
  const ScenarioResult r = run("name: no-iommu\ntopology: " + topology("dma-agent") + R"(
boot: {iommu: false}
steps:
  - msi: {from: agent1, address: 0xfee00000, data: 0x4099}
    expect: {delivered: true}
  - dma: {from: agent1, to: 0x1000, op: write, length: 64}
    expect: {delivered: true, data_equal: true, latency_max_ns: 5000}
  - dma: {from: agent1, to: 0x180000000, op: write, length: 64}
    expect: {blocked: UR}
)");
  expect_all_pass(r, {{1, "delivered at dmar0.apic"}, {2, " ns"}, {3, "UR at rc0.host"}});
}

// The requester expectation and the alias shown when a PCIe-to-PCI bridge takes over the ID.
TEST(ScenarioRun, LibraryPciBridgeAliasShowsAlias) {
  const ScenarioResult r = run_scenario(parse_scenario_file(scenario_test::library("pci-bridge-alias")));
  expect_all_pass(r, {{1, "e1000 in group"}, {3, "requester 06:00.0 (alias of"}, {4, "IOMMU fault 0x5"}});
}

// The case issue 8 names: two groups, yet P2P inside the switch without the IOMMU.
TEST(ScenarioRun, LibrarySwitchWithoutAcsDeliversP2p) {
  const ScenarioResult r = run_scenario(parse_scenario_file(scenario_test::library("switch-p2p-no-acs")));
  expect_all_pass(r, {{2, "delivered at agentB"}});
}

// Each expectation kind with the wrong value: every step must FAIL, showing what was observed.
TEST(ScenarioRun, WrongExpectationsFail) {
  const ScenarioResult r = run("name: wrong\ntopology: " + topology("dma-agent") + R"(
owners:
  vm1: {vfio: [agent1]}
steps:
  - groups: [agent1, victim]
    expect: {same_group: true}
  - groups: [agent1, victim]
    expect: {different_groups: false}
  - map: {owner: vm1, iova: 0x100000, size: 0x1000}
    expect: {result: -17}
  - dma: {from: agent1, to: 0x100000, op: write, length: 64}
    expect: {delivered: false}
  - dma: {from: agent1, to: 0x100000, op: write, length: 64}
    expect: {data_equal: false}
  - dma: {from: agent1, to: 0x100000, op: write, length: 64}
    expect: {latency_max_ns: 1}
  - dma: {from: agent1, to: 0x100000, op: write, length: 64}
    expect: {requester: "05:00.1"}
  - dma: {from: agent1, to: 0x100000, op: write, length: 64}
    expect: {blocked: SV}
  - dma: {from: agent1, to: 0x300000, op: write, length: 64}
    expect: {iommu_fault: 0x06}
  - dma: {from: agent1, to: 0x300000, op: write, length: 64}
    expect: {delivered: true}
  - p2p: {from: attacker, to: "victim:BAR0+0x40", op: write, length: 8}
    expect: {redirected: CR}
  - msi: {from: agent1, address: 0xfee00000, data: 0x4099}
    expect: {delivered: true}
  - reset: {device: agent1}
    expect: {result: -25}
)");
  EXPECT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.steps.size(), 13u);
  for (const StepResult& s : r.steps) EXPECT_FALSE(s.pass) << table(r);
  EXPECT_FALSE(r.passed());
  EXPECT_NE(r.steps[3].observed.find("delivered at dram"), std::string::npos) << table(r);
  EXPECT_NE(r.steps[5].observed.find(" ns"), std::string::npos) << table(r);
  EXPECT_NE(r.steps[8].observed.find("IOMMU fault 0x5"), std::string::npos) << table(r);
  EXPECT_EQ(r.steps[12].observed, "result 0") << table(r);
}

// A name the topology does not have is bad input (file:line and the field), not a FAIL row.
TEST(ScenarioRun, UnknownDeviceIsBadInput) {
  try {
    run("name: bad\ntopology: " + topology("dma-agent") + "\nsteps:\n  - dma: {from: nic9, to: 0x1000}\n    expect: {delivered: true}\n");
    FAIL() << "no error";
  } catch (const pciesim::scenario::ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("s.yaml:4:5: dma.from: no device 'nic9' in the topology"), std::string::npos) << e.what();
  }
}
