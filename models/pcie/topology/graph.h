// The fabric of a TopologySpec as a Boost.Graph: a forest with one tree per root complex, edges
// pointing away from the root. For analysis and documentation (counts, "where would a P2P TLP
// between these two turn", DOT pictures); the SystemC modules are built from the spec itself.
#pragma once

#include <array>
#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

#include "pcie/topology/spec.h"

namespace pciesim::topo {

enum class VertexKind : uint8_t {
  RootComplex,
  RootPort,
  SwitchUpstreamPort,    // named after its switch
  SwitchDownstreamPort,
  PciBridge,             // PCIe-to-PCI bridge
  EndpointFunction,      // a function of a PCIe endpoint below a port
  IntegratedFunction,    // a function of a root-complex integrated endpoint (RCiEP)
  ConventionalFunction,  // a function of a conventional PCI device behind a PCIe-to-PCI bridge
};
constexpr size_t kVertexKindCount = 8;
const char* to_string(VertexKind kind);
bool is_function(VertexKind kind);

enum class EdgeKind : uint8_t {
  RootBus,            // root complex -> root port or RCiEP function
  Link,               // downstream port -> what is below it (a PCIe link)
  SwitchInternalBus,  // switch upstream port -> its downstream ports
  PciBus,             // PCIe-to-PCI bridge -> conventional function
};
const char* to_string(EdgeKind kind);

// The spec item a vertex stands for. Pointers into the TopologySpec: keep the spec alive.
using SpecItem = std::variant<const RootComplexSpec*, const DownstreamPortSpec*, const SwitchSpec*,
                              const PciBridgeSpec*, const FunctionSpec*>;

struct FabricVertex {
  VertexKind kind = VertexKind::RootComplex;
  std::string name;                        // spec name; a function is "<endpoint>.f<function>" (as the fabric names it)
  SourceLoc loc;
  SpecItem item;
  const EndpointSpec* endpoint = nullptr;  // functions: the device they belong to
  int segment = 0;
};

struct FabricEdge {
  EdgeKind kind = EdgeKind::Link;
  const LinkSpec* link = nullptr;  // Link edges: the link (shared by all functions of a device)
};

using FabricAdjacency = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, FabricVertex,
                                              FabricEdge>;
using FabricVertexId = boost::graph_traits<FabricAdjacency>::vertex_descriptor;

struct FabricCounts {
  size_t root_complexes = 0, root_ports = 0, switches = 0, downstream_ports = 0, pci_bridges = 0;
  size_t endpoints = 0, integrated_endpoints = 0, conventional_endpoints = 0;  // devices, by place
  size_t endpoint_functions = 0, integrated_functions = 0, conventional_functions = 0;
  size_t functions() const { return endpoint_functions + integrated_functions + conventional_functions; }
  size_t devices() const { return endpoints + integrated_endpoints + conventional_endpoints; }
};

class FabricGraph {
 public:
  const FabricAdjacency& graph() const { return m_graph; }
  const FabricVertex& operator[](FabricVertexId v) const { return m_graph[v]; }
  size_t num_vertices() const { return boost::num_vertices(m_graph); }
  const std::vector<FabricVertexId>& root_complexes() const { return m_roots; }

  std::optional<FabricVertexId> find(std::string_view name) const;
  std::optional<FabricVertexId> find_function(std::string_view endpoint, int function) const;

  std::optional<FabricVertexId> parent(FabricVertexId v) const;
  // The edge above v (its link, bus or containment); null for a root complex.
  const FabricEdge* uplink(FabricVertexId v) const;
  // v first, its root complex last.
  std::vector<FabricVertexId> path_to_root(FabricVertexId v) const;
  // Where a peer-to-peer TLP between a and b turns: the deepest vertex above both (a switch's
  // upstream port, a downstream or root port, or the root complex); a itself when a is above b.
  // Two functions of one device share their port. Nothing across root complexes.
  std::optional<FabricVertexId> lowest_common_ancestor(FabricVertexId a, FabricVertexId b) const;
  // a, up to the common ancestor, down to b; empty across root complexes.
  std::vector<FabricVertexId> path_between(FabricVertexId a, FabricVertexId b) const;

  size_t count(VertexKind kind) const { return m_kind_counts[static_cast<size_t>(kind)]; }
  const FabricCounts& counts() const { return m_counts; }

  // Graphviz DOT, one cluster-free digraph; links labelled with generation and width.
  void write_dot(std::ostream& out) const;

 private:
  friend FabricGraph build_graph(const TopologySpec& spec);
  friend class GraphBuilder;

  FabricAdjacency m_graph;
  std::unordered_map<std::string, FabricVertexId> m_by_name;
  std::vector<FabricVertexId> m_roots;
  std::array<size_t, kVertexKindCount> m_kind_counts{};
  FabricCounts m_counts;
};

// Builds the graph of a (validated) spec. The graph points into `spec`: keep the spec alive.
FabricGraph build_graph(const TopologySpec& spec);

}  // namespace pciesim::topo
