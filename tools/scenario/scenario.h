// Scenario files (docs/scenarios.md): a topology, the owners of its devices (VFIO users, each with
// its own container, or the host kernel's DMA API), and steps whose expectations the run checks.
// parse_scenario_file() reads and checks one file; run_scenario() runs it on a fresh Fabric and
// co-simulated kernel (one per process: SystemC elaborates one design); the report functions
// print the verdict table and write JSON and JUnit XML.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "groups/acs_override.h"
#include "pcie/topology/spec.h"
#include "report_machine.h"
#include "scenario_irq_spec.h"
#include "scenario_trace.h"

namespace pciesim::scenario {

using topo::SourceLoc;

// Every bad-input problem in a scenario file: "file:line:col: field: message" (the CLI exits 2).
class ScenarioError : public topo::TopologyError {
 public:
  ScenarioError(const SourceLoc& loc, const std::string& field, const std::string& msg);
};

struct Owner {
  enum class Kind : uint8_t { Vfio, DmaApi };
  std::string name;
  Kind kind = Kind::Vfio;
  std::vector<std::string> devices;  // topology names
  SourceLoc loc;
};

// What one step expects; only the fields the file sets are checked.
struct Expect {
  std::optional<bool> delivered;          // true: delivered (a redirect that arrives counts)
  std::optional<std::string> redirected;  // ACS bit that redirected it upstream ("RR")
  std::optional<std::string> blocked;     // "SV".."DT" (ACS bit), "UR" or "CA"
  std::optional<uint16_t> iommu_fault;    // VT-d fault reason
  std::optional<bool> data_equal;         // the bytes arrived (write) / were read back (read) unchanged
  std::optional<bool> same_group, different_groups;
  std::optional<double> latency_max_ns;
  std::optional<std::string> requester;   // requester id on the wire ("06:00.0")
  std::optional<int> result;              // map/unmap/reset/invalidate/setpci/wait/sriov_enable: 0 or -errno
  std::optional<double> bandwidth_min_gbps;  // gpu_copy: the copy's simulated GB/s at least this
  std::optional<std::string> gmmu_fault;     // gpu_copy: a GMMU fault of this type (fault buffer)
  std::optional<std::string> atc;            // dma with at: ats: hit, miss, no-translation, request-failed, not-used
  InterruptExpect interrupt;                 // msi: interrupt delivered/blocked, vector, destination, eventfd
  SourceLoc loc;
};

struct Step {
  enum class Kind : uint8_t { Map, Unmap, Dma, P2p, Invalidate, Reset, Msi, Groups, Setpci, Wait, SriovEnable,
                              GpuMap, GpuCopy, IrqSetup, Irte };
  Kind kind = Kind::Dma;
  SourceLoc loc;
  std::string label;    // "dma nic0 -> nic1:BAR0+0x100 write 64 B", for the table
  // map / unmap / invalidate
  std::string owner;
  std::string buffer;   // dma_api owners: the name given to a mapping (its IOVA is the kernel's)
  uint64_t iova = 0, size = 0;
  bool readable = true, writable = true;
  // dma / p2p / msi / reset
  std::string from;     // device (topology name) issuing, or reset's device
  std::string to;       // address text: 0x1000, buf0+0x10, nic1:BAR0+0x100
  bool write = true;
  uint32_t length = 64;
  uint8_t fill = 0xa5;
  std::optional<std::string> spoof;  // requester id put on the TLP ("05:00.0")
  std::string at = "untranslated";
  unsigned phantom = 0;  // dma/p2p: phantom function k (DmaOptions::phantom)
  // setpci: `device` in from; register (offset, or a capability base + offset) and width
  std::string cap;       // "" (offset from 0), "CAP_EXP", "ECAP_ACS", ... (setpci's names)
  uint16_t reg = 0;
  unsigned width = 4;    // 1, 2, 4 (setpci .b .w .l)
  uint32_t value = 0, mask = 0xffffffffu;
  // wait
  uint64_t wait_ps = 0;
  // sriov_enable: PF in from, VF count in size
  // gpu_map: gpu in from, context in ctx, GPU VA in iova, size; target in to (vram:ADDR,
  //   peer:N:ADDR, sys:IOVA); gpu_copy: gpu in from, ctx, src VA in iova, dst VA in dst, size
  unsigned ctx = 0;
  uint64_t dst = 0;
  uint32_t msi_data = 0;
  IrqStepSpec irq;  // irq_setup, irte, msi's vector/copy forms (scenario_irq_spec.h)
  // groups
  std::vector<std::string> devices;
  Expect expect;
};

struct BootOptions {
  bool iommu = true, strict = false, passthrough = false;
  // pcie_acs_override=... (the out-of-tree patch; cosim/groups/acs_override.h): groups only.
  groups::AcsOverride acs_override;
};

struct Scenario {
  std::string file, name, description;
  topo::TopologySpec topology;
  BootOptions boot;
  std::vector<Owner> owners;
  std::vector<Step> steps;
};

// Reads and checks a scenario file; the topology (a path relative to the scenario, or inline) is
// loaded and validated too. Throws ScenarioError / topo::TopologyError.
Scenario parse_scenario_file(const std::string& path);
Scenario parse_scenario_string(const std::string& yaml, const std::string& pretend_filename);

const char* to_string(Step::Kind k);

struct StepResult {
  int index = 0;        // 1-based
  std::string kind, label, expected, observed;
  bool pass = true;
  int line = 0;
};

struct ScenarioResult {
  std::string file, name;
  std::vector<StepResult> steps;
  double wall_ms = 0;   // time to verdict (parse excluded)
  double sim_ns = 0;    // simulated time at the end
  std::string error;    // the run stopped (kernel setup failed, a device is missing...)
  ScenarioTrace trace;  // steps and transactions over simulated time (`run --trace`)
  ScenarioMachine machine;  // the booted machine and Linux's groups (`run --report`)
  bool passed() const;
};

// Runs one parsed scenario in this process (builds its Fabric and boots its kernel).
ScenarioResult run_scenario(const Scenario& s);

}  // namespace pciesim::scenario
