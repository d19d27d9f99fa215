#include "pcie/topology/graph.h"

#include <algorithm>
#include <ostream>

#include <boost/graph/graphviz.hpp>

namespace pciesim::topo {

const char* to_string(VertexKind kind) {
  switch (kind) {
    case VertexKind::RootComplex: return "root complex";
    case VertexKind::RootPort: return "root port";
    case VertexKind::SwitchUpstreamPort: return "switch upstream port";
    case VertexKind::SwitchDownstreamPort: return "switch downstream port";
    case VertexKind::PciBridge: return "PCIe-to-PCI bridge";
    case VertexKind::EndpointFunction: return "endpoint function";
    case VertexKind::IntegratedFunction: return "RCiEP function";
    case VertexKind::ConventionalFunction: return "conventional PCI function";
  }
  return "?";
}

bool is_function(VertexKind kind) {
  return kind == VertexKind::EndpointFunction || kind == VertexKind::IntegratedFunction ||
         kind == VertexKind::ConventionalFunction;
}

const char* to_string(EdgeKind kind) {
  switch (kind) {
    case EdgeKind::RootBus: return "root bus";
    case EdgeKind::Link: return "link";
    case EdgeKind::SwitchInternalBus: return "switch internal bus";
    case EdgeKind::PciBus: return "PCI bus";
  }
  return "?";
}

// Walks the spec once, adding a vertex per component and an edge per parent relation.
class GraphBuilder {
 public:
  explicit GraphBuilder(FabricGraph& g) : m_g(g) {}

  void add_root_complex(const RootComplexSpec& rc) {
    m_segment = rc.segment;
    FabricVertexId v = add(VertexKind::RootComplex, rc.name, rc.loc, &rc);
    m_g.m_roots.push_back(v);
    ++m_g.m_counts.root_complexes;
    for (const DownstreamPortSpec& port : rc.root_ports) {
      FabricVertexId p = add(VertexKind::RootPort, port.name, port.loc, &port);
      connect(v, p, EdgeKind::RootBus);
      ++m_g.m_counts.root_ports;
      add_below(p, port);
    }
    for (const EndpointSpec& ep : rc.integrated) {
      add_functions(v, ep, VertexKind::IntegratedFunction, EdgeKind::RootBus, nullptr);
      ++m_g.m_counts.integrated_endpoints;
    }
  }

 private:
  FabricVertexId add(VertexKind kind, const std::string& name, const SourceLoc& loc, SpecItem item,
                     const EndpointSpec* ep = nullptr) {
    FabricVertexId v = boost::add_vertex(FabricVertex{kind, name, loc, item, ep, m_segment}, m_g.m_graph);
    m_g.m_by_name.emplace(name, v);
    ++m_g.m_kind_counts[static_cast<size_t>(kind)];
    return v;
  }

  void connect(FabricVertexId from, FabricVertexId to, EdgeKind kind, const LinkSpec* link = nullptr) {
    boost::add_edge(from, to, FabricEdge{kind, link}, m_g.m_graph);
  }

  void add_functions(FabricVertexId parent, const EndpointSpec& ep, VertexKind kind, EdgeKind edge,
                     const LinkSpec* link) {
    for (const FunctionSpec& fn : ep.functions) {
      FabricVertexId f = add(kind, ep.name + ".f" + std::to_string(fn.function), fn.loc, &fn, &ep);
      connect(parent, f, edge, link);
    }
    size_t n = ep.functions.size();
    (kind == VertexKind::EndpointFunction       ? m_g.m_counts.endpoint_functions
     : kind == VertexKind::IntegratedFunction ? m_g.m_counts.integrated_functions
                                              : m_g.m_counts.conventional_functions) += n;
  }

  void add_below(FabricVertexId port_vertex, const DownstreamPortSpec& port) {
    if (!port.child) return;
    const NodeSpec& node = *port.child;
    if (const auto* ep = std::get_if<EndpointSpec>(&node.node)) {
      add_functions(port_vertex, *ep, VertexKind::EndpointFunction, EdgeKind::Link, &port.link);
      ++m_g.m_counts.endpoints;
    } else if (const auto* sw = std::get_if<SwitchSpec>(&node.node)) {
      FabricVertexId usp = add(VertexKind::SwitchUpstreamPort, sw->name, sw->loc, sw);
      connect(port_vertex, usp, EdgeKind::Link, &port.link);
      ++m_g.m_counts.switches;
      for (const DownstreamPortSpec& dsp : sw->ports) {
        FabricVertexId d = add(VertexKind::SwitchDownstreamPort, dsp.name, dsp.loc, &dsp);
        connect(usp, d, EdgeKind::SwitchInternalBus);
        ++m_g.m_counts.downstream_ports;
        add_below(d, dsp);
      }
    } else {
      const auto& br = std::get<PciBridgeSpec>(node.node);
      FabricVertexId b = add(VertexKind::PciBridge, br.name, br.loc, &br);
      connect(port_vertex, b, EdgeKind::Link, &port.link);
      ++m_g.m_counts.pci_bridges;
      add_pci_bus(b, br);
    }
  }

  // The devices on a PCI bridge's bus; a PCI-to-PCI bridge there is a PciBridge vertex on the
  // PciBus edge with its own bus below.
  void add_pci_bus(FabricVertexId bridge, const PciBridgeSpec& br) {
    for (const EndpointSpec& ep : br.devices) {
      add_functions(bridge, ep, VertexKind::ConventionalFunction, EdgeKind::PciBus, nullptr);
      ++m_g.m_counts.conventional_endpoints;
    }
    for (const PciBridgeSpec& child : br.bridges) {
      FabricVertexId c = add(VertexKind::PciBridge, child.name, child.loc, &child);
      connect(bridge, c, EdgeKind::PciBus);
      ++m_g.m_counts.pci_bridges;
      add_pci_bus(c, child);
    }
  }

  FabricGraph& m_g;
  int m_segment = 0;
};

FabricGraph build_graph(const TopologySpec& spec) {
  FabricGraph g;
  GraphBuilder builder(g);
  for (const RootComplexSpec& rc : spec.root_complexes) builder.add_root_complex(rc);
  return g;
}

std::optional<FabricVertexId> FabricGraph::find(std::string_view name) const {
  auto it = m_by_name.find(std::string(name));
  if (it == m_by_name.end()) return std::nullopt;
  return it->second;
}

std::optional<FabricVertexId> FabricGraph::find_function(std::string_view endpoint, int function) const {
  return find(std::string(endpoint) + ".f" + std::to_string(function));
}

std::optional<FabricVertexId> FabricGraph::parent(FabricVertexId v) const {
  auto [it, end] = boost::in_edges(v, m_graph);
  if (it == end) return std::nullopt;
  return boost::source(*it, m_graph);
}

const FabricEdge* FabricGraph::uplink(FabricVertexId v) const {
  auto [it, end] = boost::in_edges(v, m_graph);
  return it == end ? nullptr : &m_graph[*it];
}

std::vector<FabricVertexId> FabricGraph::path_to_root(FabricVertexId v) const {
  std::vector<FabricVertexId> path{v};
  while (auto up = parent(path.back())) path.push_back(*up);
  return path;
}

std::optional<FabricVertexId> FabricGraph::lowest_common_ancestor(FabricVertexId a, FabricVertexId b) const {
  std::vector<FabricVertexId> up_a = path_to_root(a), up_b = path_to_root(b);
  if (up_a.back() != up_b.back()) return std::nullopt;
  // Walk down from the shared root while the paths agree.
  auto ia = up_a.rbegin(), ib = up_b.rbegin();
  FabricVertexId lca = *ia;
  for (; ia != up_a.rend() && ib != up_b.rend() && *ia == *ib; ++ia, ++ib) lca = *ia;
  return lca;
}

std::vector<FabricVertexId> FabricGraph::path_between(FabricVertexId a, FabricVertexId b) const {
  auto lca = lowest_common_ancestor(a, b);
  if (!lca) return {};
  std::vector<FabricVertexId> path;
  for (FabricVertexId v = a; v != *lca; v = *parent(v)) path.push_back(v);
  path.push_back(*lca);
  std::vector<FabricVertexId> down;
  for (FabricVertexId v = b; v != *lca; v = *parent(v)) down.push_back(v);
  path.insert(path.end(), down.rbegin(), down.rend());
  return path;
}

void FabricGraph::write_dot(std::ostream& out) const {
  auto vertex_writer = [this](std::ostream& os, FabricVertexId v) {
    const FabricVertex& fv = m_graph[v];
    const char* shape = fv.kind == VertexKind::RootComplex          ? "doubleoctagon"
                        : fv.kind == VertexKind::SwitchUpstreamPort ? "house"
                        : fv.kind == VertexKind::PciBridge          ? "trapezium"
                        : is_function(fv.kind)                      ? "ellipse"
                                                                    : "box";
    os << "[label=\"" << fv.name << "\\n" << to_string(fv.kind) << "\", shape=" << shape << "]";
  };
  auto edge_writer = [this](std::ostream& os, boost::graph_traits<FabricAdjacency>::edge_descriptor e) {
    const FabricEdge& fe = m_graph[e];
    if (fe.kind == EdgeKind::Link && fe.link)
      os << "[label=\"Gen" << fe.link->gen << " x" << fe.link->width << "\"]";
    else
      os << "[style=dashed]";
  };
  boost::write_graphviz(out, m_graph, vertex_writer, edge_writer);
}

}  // namespace pciesim::topo
