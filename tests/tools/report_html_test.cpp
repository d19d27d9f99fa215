// The HTML report's writer (tools/scenario/report_html.h, report_svg.h) without a browser:
// escaping, the group colouring of a known machine, the isolation matrix's cell classes and the
// links from the verdict table into the timeline. Tests that build a machine load one design
// (ctest runs every test in its own process).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "cli_common.h"
#include "isolation/isolation_json.h"
#include "scenario/report_html.h"
#include "scenario/report_svg.h"

namespace {

using namespace pciesim;
using namespace pciesim::scenario;

std::string topo(const std::string& name) { return std::string(PCIESIM_SOURCE_ROOT) + "/scenarios/topologies/" + name; }

// Every id="..." and every href="#..." of a page.
std::set<std::string> all(const std::string& html, const std::regex& re) {
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator(); ++it)
    out.insert((*it)[1].str());
  return out;
}

// A finished two-step scenario with a trace (no machine: the run stopped before the drawing).
ScenarioResult two_steps(const std::string& name, const std::string& label2, bool pass2) {
  ScenarioResult r;
  r.file = "scenarios/library/x.yaml";
  r.name = name;
  r.wall_ms = 12.5;
  r.sim_ns = 2500;
  r.steps.push_back({1, "map", "map vm1 iova 0x0 size 0x1000", "result 0", "result 0", true, 20});
  r.steps.push_back({2, "dma", label2, "delivered", "IOMMU fault 0x6", pass2, 31});
  r.trace.steps.push_back({1, "map", "map vm1 iova 0x0 size 0x1000", 0, 0, true});
  r.trace.steps.push_back({2, "dma", label2, 1000, 1400, pass2});
  TraceTx x;
  x.step = 2;
  x.initiator = "agentA";
  x.name = "MemWrite 64 B 0x1000";
  x.start_ns = 1000;
  x.dur_ns = 400;
  x.hops = {"agentA", "dpA", "sw0-up", "rp0", "dmar0"};
  x.outcome = "iommu-fault";
  x.port = "dmar0";
  x.fault_reason = 6;
  x.fault_text = "not present";
  r.trace.txs.push_back(x);
  return r;
}

TEST(ReportHtml, EscapesEveryCharacterThatMeansSomethingInHtml) {
  EXPECT_EQ(html_escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape(std::string("a\x01" "b\tc\n")), "a b\tc\n");
  const ScenarioResult r = two_steps("<script>alert(1)</script>", "dma a -> b & \"c\" <d>", false);
  ReportInput in;
  in.command_line = "pciesim run '<x>'";
  in.scenarios.push_back({&r, "desc with <b>tags</b> & 'quotes'", "k"});
  const std::string html = report_html(in);
  EXPECT_EQ(html.find("<script>alert(1)"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("dma a -&gt; b &amp; &quot;c&quot; &lt;d&gt;"), std::string::npos);
  EXPECT_NE(html.find("desc with &lt;b&gt;tags&lt;/b&gt; &amp; &#39;quotes&#39;"), std::string::npos);
  EXPECT_NE(html.find("pciesim run &#39;&lt;x&gt;&#39;"), std::string::npos);
  // The page's only scripts are its own two inline ones.
  EXPECT_EQ(std::regex_search(html, std::regex("<script[^>]*src=")), false);
  size_t scripts = 0;
  for (size_t p = html.find("<script"); p != std::string::npos; p = html.find("<script", p + 1)) ++scripts;
  EXPECT_EQ(scripts, 2u);
}

TEST(ReportHtml, VerdictRowsLinkToTimelineBarsAndFailedScenariosComeFirst) {
  const ScenarioResult ok = two_steps("first-passes", "dma agentA -> 0x1000 write 64 B", true);
  const ScenarioResult bad = two_steps("second-fails", "dma agentA -> 0x1000 write 64 B", false);
  ReportInput in;
  in.scenarios.push_back({&ok, "", "k"});
  in.scenarios.push_back({&bad, "", "k"});
  const std::string html = report_html(in);
  const std::set<std::string> ids = all(html, std::regex("id=\"([^\"]+)\""));
  const std::set<std::string> links = all(html, std::regex("href=\"#([^\"]+)\""));
  for (const char* want : {"s0-step1", "s0-step2", "s1-step1", "s1-step2", "scenario-0", "scenario-1"}) {
    EXPECT_TRUE(ids.count(want)) << want;
    EXPECT_TRUE(links.count(want)) << want;
  }
  for (const std::string& l : links) EXPECT_TRUE(ids.count(l)) << "a link without its target: #" << l;
  // The step bar carries the id (the bar, not the table row).
  EXPECT_NE(html.find("<g class=\"step fail\" id=\"s1-step2\""), std::string::npos);
  EXPECT_LT(html.find("id=\"scenario-1\""), html.find("id=\"scenario-0\""));  // the failed one first
  EXPECT_NE(html.find("<section class=\"scenario fail\" id=\"scenario-1\""), std::string::npos);
  // The fault is marked on the transaction.
  EXPECT_NE(html.find("class=\"fault\""), std::string::npos);
  EXPECT_NE(html.find("IOMMU fault 0x6 (not present)"), std::string::npos);
}

TEST(ReportHtml, MatrixCellClassesFollowTheIsolationRows) {
  EXPECT_EQ(matrix_cell_class('o'), "m-open");
  EXPECT_EQ(matrix_cell_class('i'), "m-via-iommu");
  EXPECT_EQ(matrix_cell_class('b'), "m-blocked");
  EXPECT_EQ(matrix_cell_class('-'), "m-none");
  EXPECT_EQ(matrix_cell_class('x'), "m-self");
}

// The two-level switch (scenarios/topologies/two-level-switch.yaml): Linux's groups and the real
// isolation matrix as `pciesim isolation` computes them, drawn and tabulated.
class KnownMachine : public ::testing::Test {
 protected:
  void SetUp() override {
    m_machine = cli::load_machine(topo("two-level-switch.yaml"));
    m_doc = isolation::default_isolation(*m_machine.fabric, "two-level-switch.yaml");
    m_json = isolation::isolation_json(*m_machine.fabric, m_doc);
    std::map<std::string, int> group;
    for (const auto& ep : m_json.at("endpoints"))
      group[ep.at("bdf").get<std::string>()] = ep.at("group").is_null() ? -1 : ep.at("group").get<int>();
    m_drawn = machine_from_fabric(*m_machine.fabric, [&](const FunctionInfo& f) {
      auto it = group.find(f.bdf_string());
      return it == group.end() ? -1 : it->second;
    });
  }
  cli::Machine m_machine;
  isolation::IsolationDocument m_doc;
  nlohmann::json m_json;
  ScenarioMachine m_drawn;
};

TEST_F(KnownMachine, EachEndpointFunctionIsFilledWithItsGroupsColour) {
  const std::string svg = topology_svg(m_drawn);
  std::map<std::string, std::string> fill;  // bdf -> fill of its box
  const std::regex box("data-bdf=\"([^\"]+)\" data-group=\"(-?[0-9]+)\"><title>[^<]*</title>\\n<rect [^>]*fill=\"(#[0-9a-f]{6})\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), box); it != std::sregex_iterator(); ++it)
    fill[(*it)[1].str()] = (*it)[3].str();
  // nic0's two functions share group 14 (no ACS inside the device), nvme0 and nvme1 sit below one
  // downstream-port pair without ACS and are apart in Linux's eyes (groups 8 and 12).
  ASSERT_TRUE(fill.count("0000:09:00.0") && fill.count("0000:09:00.1") && fill.count("0000:05:00.0") &&
              fill.count("0000:06:00.0"));
  EXPECT_EQ(fill["0000:09:00.0"], fill["0000:09:00.1"]);
  EXPECT_NE(fill["0000:05:00.0"], fill["0000:06:00.0"]);
  for (const MachineNode& n : m_drawn.nodes)
    if (n.endpoint_function()) {
      ASSERT_GE(n.group, 0) << n.name;
      EXPECT_EQ(fill[n.bdf], group_colour(n.group)) << n.name;
    }
  EXPECT_EQ(group_colour(14), group_colour(14));
  std::set<std::string> first12;
  for (int g = 0; g < 12; ++g) first12.insert(group_colour(g));
  EXPECT_EQ(first12.size(), 12u);
  // Links carry gen/width; ports show their ACS state.
  EXPECT_NE(svg.find(">Gen"), std::string::npos);
  EXPECT_NE(svg.find("ACS "), std::string::npos);
  // The legend lists each group with its members.
  const std::string legend = group_legend_html(m_drawn);
  EXPECT_NE(legend.find("group 14: nic0.f0, nic0.f1"), std::string::npos) << legend;
}

TEST_F(KnownMachine, MatrixCellsCarryTheirClassTooltipAndDisagreementOutline) {
  const std::string html = isolation_html(m_json);
  const auto& rows = m_json.at("matrix").at("rows");
  std::vector<std::string> cls;
  const std::regex td("<td class=\"([^\"]+)\" title=\"([^\"]*)\">");
  std::vector<std::string> titles;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), td); it != std::sregex_iterator(); ++it) {
    cls.push_back((*it)[1].str());
    titles.push_back((*it)[2].str());
  }
  const size_t n = rows.size();
  ASSERT_EQ(cls.size(), n * n);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < n; ++i) index[m_json["endpoints"][i]["bdf"].get<std::string>()] = i;
  std::set<std::pair<size_t, size_t>> disagree;
  for (const auto& d : m_json.at("disagreements")) disagree.insert({index[d["a"]], index[d["b"]]});
  ASSERT_FALSE(disagree.empty());  // the machine has pairs Linux splits that reach each other
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      const std::string& c = cls[i * n + j];
      static const std::map<char, std::string> want = {
          {'o', "m-open"}, {'i', "m-via-iommu"}, {'b', "m-blocked"}, {'-', "m-none"}, {'x', "m-self"}};
      EXPECT_EQ(c.rfind(want.at(rows[i].get<std::string>()[j]), 0), 0u) << i << "," << j << ": " << c;
      EXPECT_EQ(c.find("m-disagree") != std::string::npos, disagree.count({i, j}) > 0) << i << "," << j;
    }
  // dma0 (an RCiEP) -> nvme0: the decisive request's description is the tooltip.
  const size_t a = index["0000:00:04.0"], b = index["0000:05:00.0"];
  EXPECT_EQ(rows[a].get<std::string>()[b], 'o');
  EXPECT_NE(titles[a * n + b].find("open"), std::string::npos) << titles[a * n + b];
  EXPECT_NE(titles[a * n + b].find("disagree"), std::string::npos);
  EXPECT_NE(html.find("UNSAFE"), std::string::npos);
}

TEST_F(KnownMachine, MachineJsonRoundTrips) {
  const ScenarioMachine back = machine_from_json(machine_to_json(m_drawn));
  ASSERT_EQ(back.nodes.size(), m_drawn.nodes.size());
  EXPECT_EQ(back.topology, m_drawn.topology);
  EXPECT_EQ(back.root_complexes.size(), m_drawn.root_complexes.size());
  for (size_t i = 0; i < back.nodes.size(); ++i) {
    EXPECT_EQ(back.nodes[i].bdf, m_drawn.nodes[i].bdf);
    EXPECT_EQ(back.nodes[i].parent, m_drawn.nodes[i].parent);
    EXPECT_EQ(back.nodes[i].group, m_drawn.nodes[i].group);
    EXPECT_EQ(back.nodes[i].acs, m_drawn.nodes[i].acs);
    EXPECT_EQ(back.nodes[i].link_gen, m_drawn.nodes[i].link_gen);
  }
}

}  // namespace
