// The interrupt steps of scenario files (tools/scenario/scenario_irq*.{h,cpp}; docs/scenarios-steps.md,
// "Interrupts"): parser errors with file:line:col and field, the two library scenarios, and the
// break checks: each library expectation turned around (or the behaviour it relies on changed by
// a step) must FAIL, so the scenarios can fail.
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
using pciesim::scenario::Step;
using scenario_test::topology;

std::string head() { return "name: t\ntopology: " + topology("dma-agent") + "\n"; }
std::string vm1() { return head() + "owners:\n  vm1: {vfio: [agent1]}\n"; }

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

ScenarioResult run(const std::string& yaml) {
  return run_scenario(parse_scenario_string(yaml, scenario_test::write_file("s.yaml", yaml)));
}

std::string table(const ScenarioResult& r) {
  std::string t = r.error.empty() ? "" : "error: " + r.error + "\n";
  for (const StepResult& s : r.steps)
    t += std::to_string(s.index) + ". " + s.label + " | " + s.expected + " | " + (s.pass ? "PASS" : "FAIL") + " | " + s.observed + "\n";
  return t;
}

// Steps whose verdict is FAIL (1-based).
std::vector<int> failing(const ScenarioResult& r) {
  std::vector<int> out;
  for (const StepResult& s : r.steps)
    if (!s.pass) out.push_back(s.index);
  return out;
}

bool observed_has(const ScenarioResult& r, int step, const std::string& text) {
  return static_cast<size_t>(step) <= r.steps.size() && r.steps[step - 1].observed.find(text) != std::string::npos;
}

}  // namespace

TEST(ScenarioIrqParse, StepsAndExpectationsParse) {
  const auto s = parse_scenario_string(vm1() + R"(steps:
  - irq_setup: {device: agent1, vectors: 2, type: msi}
  - msi: {from: agent1, vector: 1}
    expect: {interrupt: delivered, vector: assigned, destination: 0, eventfd: true}
  - msi: {from: attacker, copy: agent1, vector: 0, spoof: "05:00.0"}
    expect: {interrupt: blocked, iommu_fault: 0x26}
  - irte: {device: agent1, vector: 0, set: {present: false, sid: "03:00.0", svt: bus, vector: 0x41, dest: 1}, invalidate: false}
  - msi: {from: agent1, address: 0xfee00000, data: 0x4099}
    expect: {interrupt: blocked}
)",
                                       "s.yaml");
  ASSERT_EQ(s.steps.size(), 5u);
  EXPECT_EQ(s.steps[0].kind, Step::Kind::IrqSetup);
  EXPECT_EQ(s.steps[0].irq.vectors, 2u);
  EXPECT_EQ(s.steps[0].irq.type, "msi");
  EXPECT_EQ(s.steps[0].expect.result, 0) << "irq_setup must succeed unless told otherwise";
  EXPECT_EQ(*s.steps[1].irq.vector, 1u);
  EXPECT_TRUE(s.steps[1].irq.copy.empty());
  EXPECT_EQ(*s.steps[1].expect.interrupt.delivered, true);
  EXPECT_EQ(*s.steps[1].expect.interrupt.vector, pciesim::scenario::InterruptExpect::kAssigned);
  EXPECT_EQ(*s.steps[1].expect.interrupt.destination, 0u);
  EXPECT_EQ(*s.steps[1].expect.interrupt.eventfd, true);
  EXPECT_EQ(s.steps[2].irq.copy, "agent1");
  EXPECT_EQ(*s.steps[2].spoof, "05:00.0");
  EXPECT_EQ(*s.steps[2].expect.interrupt.delivered, false);
  EXPECT_EQ(s.steps[2].label, "msi attacker forges agent1's vector 0 as 05:00.0");
  const Step& irte = s.steps[3];
  EXPECT_EQ(irte.kind, Step::Kind::Irte);
  EXPECT_EQ(*irte.irq.present, false);
  EXPECT_EQ(*irte.irq.sid, "03:00.0");
  EXPECT_EQ(*irte.irq.svt, "bus");
  EXPECT_EQ(*irte.irq.new_vector, 0x41);
  EXPECT_EQ(*irte.irq.dest, 1u);
  EXPECT_FALSE(irte.irq.invalidate);
  EXPECT_EQ(s.steps[4].label, "msi agent1 -> 0xfee00000 data 0x4099") << "the forged form is unchanged";
}

TEST(ScenarioIrqParse, ErrorsNameFileLineAndField) {
  const std::string steps = vm1() + "steps:\n";  // the first step is on line 6
  EXPECT_CONTAINS(error_of(steps + "  - irq_setup: {device: agent1, vector: 1}\n"),
                  "s.yaml:6:33: irq_setup.vector: unknown key (allowed: device, type, vectors)");
  EXPECT_CONTAINS(error_of(steps + "  - irq_setup: {device: agent1, vectors: 3, type: msi}\n"),
                  "irq_setup.vectors: MSI allocates a power of two vectors");
  EXPECT_CONTAINS(error_of(steps + "  - irq_setup: {device: agent1, vectors: 64, type: msi}\n"), "irq_setup.vectors: '64' is larger than 32");
  EXPECT_CONTAINS(error_of(steps + "  - irq_setup: {device: agent1, type: intx}\n"), "irq_setup.type: msi or msix");
  EXPECT_CONTAINS(error_of(steps + "  - irq_setup: {vectors: 1}\n"), "irq_setup.device: required key is missing");
  EXPECT_CONTAINS(error_of(steps + "  - irte: {device: agent1, vector: 0, set: {}}\n"), "irte.set: change at least one field");
  EXPECT_CONTAINS(error_of(steps + "  - irte: {device: agent1, vector: 0}\n"), "irte.set: required key is missing");
  EXPECT_CONTAINS(error_of(steps + "  - irte: {device: agent1, vector: 0, set: {svt: all}}\n"),
                  "s.yaml:6:50: irte.set.svt: none, requester or bus");
  EXPECT_CONTAINS(error_of(steps + "  - irte: {device: agent1, vector: 0, set: {sid: 5}}\n"), "irte.set.sid:");
  EXPECT_CONTAINS(error_of(steps + "  - irte: {device: agent1, vector: 0, set: {vector: 0x100}}\n"), "irte.set.vector: '0x100' is larger than 255");
  EXPECT_CONTAINS(error_of(steps + "  - irte: {device: agent1, vector: 0, set: {p: 0}}\n"), "irte.set.p: unknown key");
  EXPECT_CONTAINS(error_of(steps + "  - irte: {device: agent1, vector: 0, set: {present: no}, invalidate: maybe}\n"),
                  "irte.invalidate: expected true or false");
  EXPECT_CONTAINS(error_of(steps + "  - msi: {from: agent1, vector: 0, address: 0xfee00000}\n    expect: {interrupt: delivered}\n"),
                  "msi: give vector (the device's own MSI, or copy's) or address and data, not both");
  EXPECT_CONTAINS(error_of(steps + "  - msi: {from: agent1, copy: agent2}\n    expect: {interrupt: delivered}\n"),
                  "msi.vector: required key is missing");
  EXPECT_CONTAINS(error_of(steps + "  - msi: {from: agent1, vector: 0, spoof: \"03:00.0\"}\n    expect: {interrupt: delivered}\n"),
                  "msi.spoof: a device's own MSI carries its own requester id");
  EXPECT_CONTAINS(error_of(steps + "  - msi: {from: agent1, vector: 0}\n    expect: {interrupt: arrived}\n"),
                  "s.yaml:7:25: expect.interrupt: delivered or blocked");
  EXPECT_CONTAINS(error_of(steps + "  - msi: {from: agent1, address: 0xfee00000, data: 1}\n    expect: {vector: assigned}\n"),
                  "expect.vector: 'assigned' is the kernel's vector");
  EXPECT_CONTAINS(error_of(steps + "  - msi: {from: agent1, address: 0xfee00000, data: 1}\n    expect: {eventfd: true}\n"),
                  "expect.eventfd: a forged address/data names no device vector");
  EXPECT_CONTAINS(error_of(steps + "  - msi: {from: agent1, vector: 0}\n    expect: {interrupt: delivered, iommu_fault: 0x26}\n"),
                  "expect: interrupt: delivered contradicts iommu_fault");
  EXPECT_CONTAINS(error_of(steps + "  - msi: {from: agent1, vector: 0}\n    expect: {interrupt: blocked, vector: 0x41}\n"),
                  "expect: vector and destination describe a delivered interrupt");
  EXPECT_CONTAINS(error_of(steps + "  - dma: {from: agent1, to: 0x1000}\n    expect: {interrupt: delivered}\n"),
                  "expect.interrupt: unknown key") << "only msi steps judge interrupts";
  EXPECT_CONTAINS(error_of(steps + "  - irq_stup: {device: agent1}\n"), "irq_setup, irte)");
}

// The library scenario, and what it observed: the assigned vector, the eventfd, fault 0x26 for
// the copy, 0x22 after the present bit is cleared.
TEST(ScenarioIrqRun, LibrarySourceValidationPasses) {
  const ScenarioResult r = run_scenario(parse_scenario_file(scenario_test::library("ir-source-validation")));
  EXPECT_TRUE(r.passed()) << table(r);
  EXPECT_TRUE(observed_has(r, 2, "(remapped, IRTE ")) << table(r);
  EXPECT_TRUE(observed_has(r, 2, "eventfd 1")) << table(r);
  EXPECT_TRUE(observed_has(r, 3, "IOMMU fault 0x26")) << table(r);
  EXPECT_TRUE(observed_has(r, 3, "APIC: nothing")) << table(r);
  EXPECT_TRUE(observed_has(r, 6, "IOMMU fault 0x22")) << table(r);
}

TEST(ScenarioIrqRun, LibraryStaleIecPasses) {
  const ScenarioResult r = run_scenario(parse_scenario_file(scenario_test::library("ir-stale-iec")));
  EXPECT_TRUE(r.passed()) << table(r);
  EXPECT_TRUE(observed_has(r, 4, "destination 0")) << table(r);
  EXPECT_TRUE(observed_has(r, 6, "vector 0x61 destination 1")) << table(r);
  EXPECT_TRUE(observed_has(r, 6, "eventfd not signalled")) << table(r);
}

// Break check for ir-stale-iec: with the invalidation issued at the retarget, the step that
// expects the stale (old) vector FAILs: the old vector came from the IEC, nothing else.
TEST(ScenarioIrqRun, StaleIecExpectationFailsWhenTheCacheIsInvalidated) {
  const ScenarioResult r = run(vm1() + R"(steps:
  - irq_setup: {device: agent1, vectors: 1}
  - msi: {from: agent1, vector: 0}
    expect: {interrupt: delivered, vector: assigned}
  - irte: {device: agent1, vector: 0, set: {vector: 0x61, dest: 1}, invalidate: true}
  - msi: {from: agent1, vector: 0}
    expect: {interrupt: delivered, vector: assigned, destination: 0, eventfd: true}
)");
  EXPECT_EQ(failing(r), std::vector<int>{4}) << table(r);
  EXPECT_TRUE(observed_has(r, 4, "vector 0x61 destination 1")) << table(r);
}

// Break check for ir-source-validation: an IRTE without source validation (SVT 00) lets the copy
// through, so `interrupt: blocked` and the fault FAIL, and the first VM's eventfd fires for the
// attacker's write.
TEST(ScenarioIrqRun, SourceValidationExpectationFailsWithoutTheCheck) {
  const ScenarioResult r = run(vm1() + R"(steps:
  - irq_setup: {device: agent1, vectors: 1}
  - irte: {device: agent1, vector: 0, set: {svt: none}}
  - msi: {from: attacker, copy: agent1, vector: 0}
    expect: {iommu_fault: 0x26, interrupt: blocked, eventfd: false}
)");
  EXPECT_EQ(failing(r), std::vector<int>{3}) << table(r);
  EXPECT_TRUE(observed_has(r, 3, "delivered at dmar0.apic")) << table(r);
  EXPECT_TRUE(observed_has(r, 3, "eventfd 1")) << table(r);
}

// SID rewritten to the attacker's requester id: its copy is delivered, the owner's own MSI is
// refused (0x26); SVT bus over the attacker's bus lets it through as well.
TEST(ScenarioIrqRun, IrteSidAndBusRangeDecideWhoMaySend) {
  const ScenarioResult r = run(vm1() + R"(steps:
  - irq_setup: {device: agent1, vectors: 1}
  - irte: {device: agent1, vector: 0, set: {sid: "03:00.0"}}
  - msi: {from: attacker, copy: agent1, vector: 0}
    expect: {interrupt: delivered, vector: assigned, eventfd: true}
  - msi: {from: agent1, vector: 0}
    expect: {interrupt: blocked, iommu_fault: 0x26}
  - irte: {device: agent1, vector: 0, set: {svt: bus, sid: "03:00.0"}}
  - msi: {from: attacker, copy: agent1, vector: 0, spoof: "03:1f.7"}
    expect: {interrupt: delivered}
)");
  EXPECT_TRUE(r.passed()) << table(r);
}

// Every interrupt expectation once with the wrong value: each must FAIL.
TEST(ScenarioIrqRun, WrongInterruptExpectationsFail) {
  const ScenarioResult r = run(vm1() + R"(steps:
  - irq_setup: {device: agent1, vectors: 1}
  - msi: {from: agent1, vector: 0}
    expect: {interrupt: blocked}
  - msi: {from: agent1, vector: 0}
    expect: {vector: 0xfd}
  - msi: {from: agent1, vector: 0}
    expect: {destination: 7}
  - msi: {from: agent1, vector: 0}
    expect: {eventfd: false}
  - msi: {from: attacker, copy: agent1, vector: 0}
    expect: {interrupt: delivered}
  - msi: {from: attacker, copy: agent1, vector: 0}
    expect: {eventfd: true}
)");
  EXPECT_EQ(failing(r), (std::vector<int>{2, 3, 4, 5, 6, 7})) << table(r);
}

// A DMA API owner: pci_alloc_irq_vectors in the kernel, the IRTE and message the same way; a
// second setup is refused as Linux refuses it (-EINVAL).
TEST(ScenarioIrqRun, DmaApiOwnerAllocatesThroughThePciCore) {
  const ScenarioResult r = run(head() + R"(owners:
  host: {dma_api: [agent1]}
steps:
  - irq_setup: {device: agent1, vectors: 1, type: msi}
  - msi: {from: agent1, vector: 0}
    expect: {interrupt: delivered, vector: assigned, destination: 0}
  - irq_setup: {device: agent1, vectors: 1}
    expect: {result: -22}
)");
  EXPECT_TRUE(r.passed()) << table(r);
}

// One run per test (one SystemC design per process): each run-time error in its own test.
std::string run_error(const std::string& yaml) {
  try {
    const ScenarioResult r = run(yaml);
    ADD_FAILURE() << "no error:\n" << table(r);
  } catch (const pciesim::scenario::ScenarioError& e) {
    return e.what();
  }
  return "";
}

TEST(ScenarioIrqRun, EventfdNeedsAVfioOwnersSetup) {
  EXPECT_CONTAINS(run_error(head() + R"(owners:
  host: {dma_api: [agent1]}
steps:
  - irq_setup: {device: agent1, vectors: 1}
  - msi: {from: agent1, vector: 0}
    expect: {eventfd: true}
)"),
                  "expect.eventfd: agent1 vector 0 has no eventfd: irq_setup by a VFIO owner first");
}

// Without irq_setup the device's MSI is disabled: nothing is sent and `interrupt: delivered` FAILs.
TEST(ScenarioIrqRun, WithoutSetupNothingIsSent) {
  const ScenarioResult r = run(vm1() + R"(steps:
  - msi: {from: agent1, vector: 0}
    expect: {interrupt: delivered}
)");
  EXPECT_EQ(failing(r), std::vector<int>{1}) << table(r);
  EXPECT_TRUE(observed_has(r, 1, "MSI not sent: disabled")) << table(r);
}

TEST(ScenarioIrqRun, IrteBeforeSetupIsAnError) {
  EXPECT_CONTAINS(run_error(vm1() + "steps:\n  - irte: {device: agent1, vector: 0, set: {present: false}}\n"),
                  "s.yaml:6:5: irte.vector: agent1 has no IRTE for vector 0 (irq_setup first)");
}

TEST(ScenarioIrqRun, SetupOfADeviceNobodyOwnsIsAnError) {
  EXPECT_CONTAINS(run_error(vm1() + "steps:\n  - irq_setup: {device: attacker}\n"),
                  "irq_setup.device: attacker has no owner");
}
