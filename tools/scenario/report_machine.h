// What the HTML report (`pciesim run --report`, report_html.h) draws of a scenario's machine: every
// enumerated function with its place in the tree, its link, its ports' ACS state after the kernel
// booted, and the IOMMU group Linux put it in. The scenario's worker process fills it from its own
// Fabric and kernel (one design per process) and hands it to `pciesim run` as JSON, like the trace.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <string>
#include <vector>

namespace pciesim {
class Fabric;
struct FunctionInfo;
}  // namespace pciesim

namespace pciesim::scenario {

struct MachineNode {
  std::string bdf;        // "0000:03:00.0"
  std::string name;       // the function's name ("nic0.f1", "sw0-dp1")
  std::string component;  // its switch / endpoint / bridge / root complex
  std::string role;       // to_string(FunctionRole): "root-port", "endpoint", ...
  std::string parent;     // the bridge above (its bdf), or "" on a root bus
  int segment = 0;
  int link_gen = 0, link_width = 0;  // the link above an endpoint / upstream port / bridge, below a port
  std::string acs;          // acs_summary(): "isolated", "partial", "off", "none"
  std::string acs_control;  // enabled ACS Control bits, "SV RR CR UF" ("" none)
  int group = -1;           // Linux's IOMMU group; -1: not grouped (no IOMMU, or a bridge)
  bool endpoint_function() const;  // an endpoint / integrated / conventional function (gets a group colour)
  bool port() const;               // a root port or switch downstream port (shows its ACS state)
};

struct MachineRootComplex {
  int segment = 0;
  std::string name;
};

struct ScenarioMachine {
  std::string topology;  // the topology's name (spec name)
  std::vector<MachineRootComplex> root_complexes;
  std::vector<MachineNode> nodes;  // in the Fabric's function order
  bool empty() const { return nodes.empty(); }
};

// `group_of` answers Linux's group of one function (-1 when it has none).
ScenarioMachine machine_from_fabric(const Fabric& fabric, const std::function<int(const FunctionInfo&)>& group_of);

nlohmann::json machine_to_json(const ScenarioMachine& m);
ScenarioMachine machine_from_json(const nlohmann::json& j);

}  // namespace pciesim::scenario
