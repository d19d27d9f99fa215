// The isolation matrix of each distinct topology of a `pciesim run --report` (report_html.h):
// what `pciesim isolation TOPOLOGY --json` prints (tools/isolation/isolation_json.h), computed in a
// forked process per topology, because the matrix needs a Fabric of its own and SystemC elaborates
// one design per process.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "groups/acs_override.h"
#include "pcie/topology/spec.h"

namespace pciesim::scenario {

struct TopologyIsolation {
  nlohmann::json doc;  // the isolation document (isolation_json); null when `error` is set
  std::string error;   // the worker failed: why
};

// Scenarios naming the same topology file (or the same inline topology) and booting with the same
// pcie_acs_override (a scenario's boot.acs_override: the groups the matrix is compared with) share
// one key.
std::string topology_key(const topo::TopologySpec& spec, const groups::AcsOverride& acs_override);

struct IsolationRequest {
  const topo::TopologySpec* spec = nullptr;
  groups::AcsOverride acs_override;
};
// One worker process per distinct key, up to `jobs` at once; keyed by topology_key().
std::map<std::string, TopologyIsolation> isolation_for(const std::vector<IsolationRequest>& requests, unsigned jobs);

}  // namespace pciesim::scenario
