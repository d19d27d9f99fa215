// `pciesim run --trace FILE` (docs/scenarios.md, "Trace"): what a scenario run records for a
// Chrome / Perfetto trace, and the writer of the trace document. The runner records every step's
// simulated start and end and every transaction a step issued (its hops by name, its verdict, the
// IOMMU's part of the record); names are resolved in the scenario's own process (the PortRegistry
// is per process), so records travel to `pciesim run` as plain text inside the result JSON.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace pciesim::scenario {

struct ScenarioResult;

struct TraceStep {
  int index = 0;          // 1-based, as in the verdict table
  std::string kind, label;
  double start_ns = 0, end_ns = 0;  // simulated time
  bool pass = true;
};

// One transaction (or, for gpu_copy, the copy's upstream requests summed into one slice).
struct TraceTx {
  int step = 0;                // the step that issued it (1-based)
  std::string initiator;       // topology name of the issuing device ("agent1", "nic0.vf1")
  std::string name;            // "MemWrite 64 B 0x100000"
  double start_ns = 0, dur_ns = 0;  // simulated issue time and latency to completion
  std::vector<std::string> hops;    // port / completer names in path order
  std::vector<double> hop_ns;       // when the request reached each hop (simulated); empty: not recorded
  bool hops_truncated = false;
  std::string outcome;         // to_string(Outcome): "delivered", "iommu-fault", ...
  std::string port;            // where the verdict happened (hop name), "" when none
  std::string acs_bit;         // blocked / redirected: the ACS bit ("SV", "RR", ...)
  int fault_reason = -1;       // IommuFault: the VT-d fault reason code
  std::string fault_text;      // its description
  std::string redirect_bit, redirect_port;
  std::string requester;       // as the TLP carried it
  bool iommu_checked = false;
  uint64_t iommu_input = 0, iommu_output = 0;
  int iommu_domain = 0;
  std::vector<std::string> gmmu_faults;  // gpu_copy: fault-buffer entries the copy added
};

struct ScenarioTrace {
  std::vector<TraceStep> steps;
  std::vector<TraceTx> txs;
};

// The worker -> parent handoff (inside the result JSON).
nlohmann::json trace_to_json(const ScenarioTrace& t);
ScenarioTrace trace_from_json(const nlohmann::json& j);

// The Chrome trace document {"traceEvents": [...]} of a whole run: scenario k (0-based, in the
// run's order) is pid k + 1; tid 1 is its steps, each initiator gets a tid of its own; events are
// sorted by pid, tid and simulated time.
nlohmann::json chrome_trace(const std::vector<ScenarioResult>& results);

}  // namespace pciesim::scenario
