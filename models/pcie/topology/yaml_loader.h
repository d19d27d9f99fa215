// Topology files (YAML, see docs/topology-format.md) -> TopologySpec. The loader checks syntax,
// key names, types and `count` expansion itself and then runs validate_topology(); every problem
// is a TopologyError whose message starts with "file:line:col: ".
#pragma once

#include <cstddef>
#include <string>

#include "pcie/topology/spec.h"

namespace YAML {
class Node;
}

namespace pciesim::topo {

// Limits that keep a hostile file from exhausting the process.
constexpr int kMaxCount = 4096;                   // copies made by one `count`
constexpr size_t kMaxExpandedItems = 1u << 20;    // items after expansion (ports, endpoints, functions, BARs...)
constexpr size_t kMaxTopologyFileBytes = 16u << 20;

// Reads, expands and validates a topology file. spec.file is `path` as given.
TopologySpec load_topology_file(const std::string& path);

// The same for text in memory; errors and spec.file name `pretend_filename`.
TopologySpec load_topology_string(const std::string& yaml, const std::string& pretend_filename = "<string>");

// A topology that is a mapping inside another YAML document (a scenario's inline `topology:`);
// errors keep that document's lines and name `file`.
TopologySpec load_topology_node(const YAML::Node& root, const std::string& file);

}  // namespace pciesim::topo
