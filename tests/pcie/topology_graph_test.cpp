// The Boost.Graph view of a topology: counts, lookups, parents, paths and where a P2P TLP turns.
#include "pcie/topology/graph.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "pcie/topology/yaml_loader.h"

using namespace pciesim::topo;

namespace {

std::string shipped(const std::string& name) {
  const char* dir = std::getenv("PCIESIM_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/scenarios/topologies/" + name;
}

class TopologyGraphTwoLevel : public ::testing::Test {
 protected:
  TopologyGraphTwoLevel() : m_spec(load_topology_file(shipped("two-level-switch.yaml"))), m_graph(build_graph(m_spec)) {}

  FabricVertexId v(const std::string& name) const {
    auto found = m_graph.find(name);
    EXPECT_TRUE(found) << name;
    return found.value_or(0);
  }
  std::string name_of(std::optional<FabricVertexId> id) const { return id ? m_graph[*id].name : "(none)"; }
  std::string names(const std::vector<FabricVertexId>& path) const {
    std::string s;
    for (FabricVertexId id : path) s += (s.empty() ? "" : " ") + m_graph[id].name;
    return s;
  }

  TopologySpec m_spec;
  FabricGraph m_graph;
};

}  // namespace

TEST_F(TopologyGraphTwoLevel, CountsByKind) {
  const FabricCounts& c = m_graph.counts();
  EXPECT_EQ(c.root_complexes, 1u);
  EXPECT_EQ(c.root_ports, 2u);
  EXPECT_EQ(c.switches, 2u);
  EXPECT_EQ(c.downstream_ports, 7u);
  EXPECT_EQ(c.pci_bridges, 0u);
  EXPECT_EQ(c.endpoints, 6u);  // nvme0 nvme1 gpu0 nic0 qat0 nic1
  EXPECT_EQ(c.integrated_endpoints, 1u);
  EXPECT_EQ(c.endpoint_functions, 7u);  // nic0 has two
  EXPECT_EQ(c.integrated_functions, 1u);
  EXPECT_EQ(c.functions(), 8u);
  EXPECT_EQ(c.devices(), 7u);
  EXPECT_EQ(m_graph.count(VertexKind::SwitchUpstreamPort), 2u);
  EXPECT_EQ(m_graph.count(VertexKind::EndpointFunction), 7u);
  EXPECT_EQ(m_graph.num_vertices(), 1u + 2 + 2 + 7 + 8);
  EXPECT_EQ(boost::num_edges(m_graph.graph()), m_graph.num_vertices() - 1);  // a tree
}

TEST_F(TopologyGraphTwoLevel, VerticesPointBackToTheSpec) {
  const FabricVertex& gpu = m_graph[v("gpu0.f0")];
  EXPECT_EQ(gpu.kind, VertexKind::EndpointFunction);
  ASSERT_TRUE(gpu.endpoint);
  EXPECT_EQ(gpu.endpoint->name, "gpu0");
  EXPECT_EQ(std::get<const FunctionSpec*>(gpu.item)->device, 0x1eb8);
  EXPECT_GT(gpu.loc.line, 0);
  const FabricVertex& sw1 = m_graph[v("sw1")];
  EXPECT_EQ(sw1.kind, VertexKind::SwitchUpstreamPort);
  EXPECT_EQ(std::get<const SwitchSpec*>(sw1.item)->device, 0x8747);
  EXPECT_EQ(m_graph[v("dma0.f0")].kind, VertexKind::IntegratedFunction);
  EXPECT_EQ(m_graph.find_function("nic0", 1), m_graph.find("nic0.f1"));
  EXPECT_FALSE(m_graph.find("nic0"));  // functions are named <endpoint>.f<function>
  EXPECT_FALSE(m_graph.find("nope"));
}

TEST_F(TopologyGraphTwoLevel, EdgesCarryLinks) {
  const FabricEdge* up = m_graph.uplink(v("nvme0.f0"));
  ASSERT_TRUE(up);
  EXPECT_EQ(up->kind, EdgeKind::Link);
  ASSERT_TRUE(up->link);
  EXPECT_EQ(up->link->width, 4);
  EXPECT_EQ(m_graph.uplink(v("sw1-dp0"))->kind, EdgeKind::SwitchInternalBus);
  EXPECT_EQ(m_graph.uplink(v("rp0"))->kind, EdgeKind::RootBus);
  EXPECT_EQ(m_graph.uplink(v("dma0.f0"))->kind, EdgeKind::RootBus);
  EXPECT_EQ(m_graph.uplink(v("sw0"))->link->gen, 4);
  EXPECT_FALSE(m_graph.uplink(v("rc0")));
  // Both functions of nic0 hang off the same link.
  EXPECT_EQ(m_graph.uplink(v("nic0.f0"))->link, m_graph.uplink(v("nic0.f1"))->link);
}

TEST_F(TopologyGraphTwoLevel, ParentsAndPathToRoot) {
  EXPECT_EQ(name_of(m_graph.parent(v("nvme0.f0"))), "sw1-dp0");
  EXPECT_EQ(name_of(m_graph.parent(v("sw1"))), "sw0-dp0");
  EXPECT_EQ(name_of(m_graph.parent(v("rc0"))), "(none)");
  EXPECT_EQ(names(m_graph.path_to_root(v("nvme0.f0"))), "nvme0.f0 sw1-dp0 sw1 sw0-dp0 sw0 rp0 rc0");
  EXPECT_EQ(names(m_graph.path_to_root(v("dma0.f0"))), "dma0.f0 rc0");
  ASSERT_EQ(m_graph.root_complexes().size(), 1u);
  EXPECT_EQ(m_graph[m_graph.root_complexes()[0]].name, "rc0");
}

TEST_F(TopologyGraphTwoLevel, WhereP2pTurns) {
  auto lca = [&](const char* a, const char* b) { return name_of(m_graph.lowest_common_ancestor(v(a), v(b))); };
  EXPECT_EQ(lca("nvme0.f0", "nvme1.f0"), "sw1");     // siblings on the second-level switch
  EXPECT_EQ(lca("nvme0.f0", "gpu0.f0"), "sw1");
  EXPECT_EQ(lca("nvme0.f0", "nic0.f0"), "sw0");      // across the two levels
  EXPECT_EQ(lca("qat0.f0", "gpu0.f0"), "sw0");
  EXPECT_EQ(lca("nic0.f0", "nic0.f1"), "sw0-dp1");   // functions of one device
  EXPECT_EQ(lca("nvme0.f0", "nic1.f0"), "rc0");      // across root ports
  EXPECT_EQ(lca("dma0.f0", "gpu0.f0"), "rc0");       // RCiEP
  EXPECT_EQ(lca("gpu0.f0", "sw0-dp0"), "sw0-dp0");  // an ancestor is its own meeting point
  EXPECT_EQ(lca("gpu0.f0", "gpu0.f0"), "gpu0.f0");
  EXPECT_EQ(names(m_graph.path_between(v("nvme0.f0"), v("nic0.f1"))),
            "nvme0.f0 sw1-dp0 sw1 sw0-dp0 sw0 sw0-dp1 nic0.f1");
  EXPECT_EQ(names(m_graph.path_between(v("nvme0.f0"), v("nvme1.f0"))), "nvme0.f0 sw1-dp0 sw1 sw1-dp1 nvme1.f0");
}

TEST_F(TopologyGraphTwoLevel, WritesDot) {
  std::ostringstream dot;
  m_graph.write_dot(dot);
  std::string s = dot.str();
  EXPECT_EQ(s.rfind("digraph", 0), 0u) << s;
  EXPECT_NE(s.find("nvme0.f0\\nendpoint function"), std::string::npos);
  EXPECT_NE(s.find("Gen3 x4"), std::string::npos);
  EXPECT_NE(s.find("shape=house"), std::string::npos);
}

TEST(TopologyGraph, PciBridgeAndConventionalFunctions) {
  TopologySpec spec = load_topology_file(shipped("pci-bridge.yaml"));
  FabricGraph g = build_graph(spec);
  EXPECT_EQ(g.counts().pci_bridges, 1u);
  EXPECT_EQ(g.counts().conventional_endpoints, 2u);
  EXPECT_EQ(g.counts().conventional_functions, 2u);
  EXPECT_EQ(g.counts().endpoint_functions, 1u);
  auto edu = g.find("edu0.f0"), e1000 = g.find("e1000.f0");
  ASSERT_TRUE(edu && e1000);
  EXPECT_EQ(g[*edu].kind, VertexKind::ConventionalFunction);
  EXPECT_EQ(g.uplink(*edu)->kind, EdgeKind::PciBus);
  EXPECT_EQ(g[*g.lowest_common_ancestor(*edu, *e1000)].name, "pcibr0");
  EXPECT_EQ(g[*g.parent(*g.find("pcibr0"))].name, "rp4");
}

TEST(TopologyGraph, Generated10kCountsAndSegments) {
  TopologySpec spec = load_topology_file(shipped("generated-10k.yaml"));
  FabricGraph g = build_graph(spec);
  const FabricCounts& c = g.counts();
  EXPECT_EQ(c.root_complexes, 6u);
  EXPECT_EQ(c.root_ports, 42u);
  EXPECT_EQ(c.switches, 42u);
  EXPECT_EQ(c.downstream_ports, 42u * 32);
  EXPECT_EQ(c.endpoints, 42u * 32);
  EXPECT_GE(c.functions(), 10000u);
  EXPECT_EQ(c.functions(), 10752u);
  auto a = g.find_function("s0-ep0-0", 7), b = g.find_function("s5-ep6-31", 0), c2 = g.find_function("s5-ep6-30", 3);
  ASSERT_TRUE(a && b && c2);
  EXPECT_EQ(g[*a].segment, 0);
  EXPECT_EQ(g[*b].segment, 5);
  EXPECT_FALSE(g.lowest_common_ancestor(*a, *b));  // different root complexes: no fabric path
  EXPECT_TRUE(g.path_between(*a, *b).empty());
  EXPECT_EQ(g[*g.lowest_common_ancestor(*b, *c2)].name, "s5-sw6");
  EXPECT_EQ(g.path_to_root(*b).size(), 5u);  // function, dp, switch, root port, rc
}
