// `pciesim run` as a user runs it (tools/cmd_run.cpp): exit codes, the verdict table with its FAIL
// rows, --json, --junit (checked with a small XML reader below), --shard, -j, progress lines.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tools/cli_run.h"
#include "tools/scenario_test_util.h"

namespace {

using cli_test::CliRun;
using cli_test::pciesim;
using scenario_test::topology;
using scenario_test::write_file;

#define EXPECT_CONTAINS(hay, needle) EXPECT_NE((hay).find(needle), std::string::npos) << (hay)

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Table rows: lines naming a verdict in the table (not the per-scenario time lines, which vary).
std::vector<std::string> verdict_rows(const std::string& out) {
  std::vector<std::string> rows;
  for (const std::string& l : lines(out))
    if ((l.find("  PASS  ") != std::string::npos || l.find("  FAIL  ") != std::string::npos) &&
        l.find("time to verdict") == std::string::npos)
      rows.push_back(l);
  return rows;
}

// One scenario that passes and one whose second expectation does not hold.
std::string passing() {
  return write_file("pass.yaml", "name: cli-pass\ntopology: " + topology("dma-agent") + R"(
steps:
  - dma: {from: agent1, to: 0x1000, op: write, length: 64, spoof: "05:00.0"}
    expect: {iommu_fault: 0x05}
  - groups: [agent1, victim]
    expect: {different_groups: true}
)");
}
std::string failing() {
  return write_file("fail.yaml", "name: cli-fail\ntopology: " + topology("dma-agent") + R"(
steps:
  - groups: [agent1, victim]
    expect: {different_groups: true}
  - msi: {from: agent1, address: 0xfee00000, data: 0x4099}
    expect: {delivered: true}
)");
}

// --- a small XML reader: elements, attributes, text, comments, the declaration, the five
// predefined entities and character references; anything else is "not well-formed". ---
struct XmlNode {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs;
  std::vector<std::unique_ptr<XmlNode>> children;
  std::string text;
  const std::string* attr(const std::string& n) const {
    for (const auto& [k, v] : attrs)
      if (k == n) return &v;
    return nullptr;
  }
  std::vector<const XmlNode*> all(const std::string& n) const {
    std::vector<const XmlNode*> out;
    for (const auto& c : children)
      if (c->name == n) out.push_back(c.get());
    return out;
  }
};

class XmlReader {
 public:
  explicit XmlReader(const std::string& s) : m_s(s) {}
  std::unique_ptr<XmlNode> document() {
    skip_ws();
    if (m_s.compare(m_p, 5, "<?xml") == 0) {
      const size_t e = m_s.find("?>", m_p);
      if (e == std::string::npos) fail("unterminated declaration");
      m_p = e + 2;
    }
    skip_misc();
    auto root = element();
    skip_misc();
    if (m_p != m_s.size()) fail("content after the root element");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& why) { throw std::runtime_error("XML offset " + std::to_string(m_p) + ": " + why); }
  void skip_ws() {
    while (m_p < m_s.size() && std::isspace(static_cast<unsigned char>(m_s[m_p]))) ++m_p;
  }
  void skip_misc() {
    for (skip_ws(); m_s.compare(m_p, 4, "<!--") == 0; skip_ws()) {
      const size_t e = m_s.find("-->", m_p);
      if (e == std::string::npos) fail("unterminated comment");
      m_p = e + 3;
    }
  }
  std::string name() {
    const size_t b = m_p;
    while (m_p < m_s.size() && (std::isalnum(static_cast<unsigned char>(m_s[m_p])) || std::strchr("_-.:", m_s[m_p]))) ++m_p;
    if (m_p == b || std::isdigit(static_cast<unsigned char>(m_s[b]))) fail("expected a name");
    return m_s.substr(b, m_p - b);
  }
  std::string chars(char stop) {
    std::string out;
    while (m_p < m_s.size() && m_s[m_p] != stop) {
      const char c = m_s[m_p];
      if (c == '<' || (stop == '"' && c == '\n' && false)) fail("'<' in text or attribute");
      if (c == '&') {
        const size_t e = m_s.find(';', m_p);
        if (e == std::string::npos) fail("unterminated entity");
        const std::string ent = m_s.substr(m_p + 1, e - m_p - 1);
        if (ent == "lt") out += '<';
        else if (ent == "gt") out += '>';
        else if (ent == "amp") out += '&';
        else if (ent == "quot") out += '"';
        else if (ent == "apos") out += '\'';
        else if (ent.size() > 1 && ent[0] == '#') out += '?';
        else fail("unknown entity &" + ent + ";");
        m_p = e + 1;
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') fail("control character");
      out += c;
      ++m_p;
    }
    return out;
  }
  std::unique_ptr<XmlNode> element() {
    if (m_p >= m_s.size() || m_s[m_p] != '<') fail("expected '<'");
    ++m_p;
    auto n = std::make_unique<XmlNode>();
    n->name = name();
    std::set<std::string> seen;
    for (;;) {
      skip_ws();
      if (m_s.compare(m_p, 2, "/>") == 0) {
        m_p += 2;
        return n;
      }
      if (m_p < m_s.size() && m_s[m_p] == '>') break;
      const std::string a = name();
      if (!seen.insert(a).second) fail("duplicate attribute " + a);
      skip_ws();
      if (m_p >= m_s.size() || m_s[m_p] != '=') fail("expected '='");
      ++m_p;
      skip_ws();
      if (m_p >= m_s.size() || (m_s[m_p] != '"' && m_s[m_p] != '\'')) fail("expected a quoted value");
      const char q = m_s[m_p++];
      std::string v = chars(q);
      if (m_p >= m_s.size()) fail("unterminated attribute");
      ++m_p;
      n->attrs.emplace_back(a, v);
    }
    ++m_p;  // '>'
    for (;;) {
      n->text += chars('<');
      if (m_p >= m_s.size()) fail("unterminated element " + n->name);
      if (m_s.compare(m_p, 4, "<!--") == 0) {
        skip_misc();
        continue;
      }
      if (m_s.compare(m_p, 2, "</") == 0) {
        m_p += 2;
        if (name() != n->name) fail("mismatched end tag for " + n->name);
        skip_ws();
        if (m_p >= m_s.size() || m_s[m_p] != '>') fail("expected '>'");
        ++m_p;
        return n;
      }
      n->children.push_back(element());
    }
  }
  const std::string& m_s;
  size_t m_p = 0;
};

}  // namespace

TEST(ScenarioCli, XmlReaderRejectsMalformedXml) {  // the JUnit check below relies on it
  EXPECT_NO_THROW(XmlReader("<?xml version=\"1.0\"?>\n<a x=\"1 &amp; 2\"><b/>t&lt;</a>\n").document());
  EXPECT_THROW(XmlReader("<a><b></a></b>").document(), std::runtime_error);
  EXPECT_THROW(XmlReader("<a x=\"1\" x=\"2\"/>").document(), std::runtime_error);
  EXPECT_THROW(XmlReader("<a>x & y</a>").document(), std::runtime_error);
  EXPECT_THROW(XmlReader("<a/><b/>").document(), std::runtime_error);
  EXPECT_THROW(XmlReader("<a x=\"<\"/>").document(), std::runtime_error);
}

TEST(ScenarioCli, PassingScenarioExitsZero) {
  const CliRun r = pciesim("run " + passing());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(verdict_rows(r.out).size(), 2u) << r.out;
  EXPECT_CONTAINS(r.out, "1 passed, 0 failed");
  EXPECT_CONTAINS(r.out, "time to verdict");
}

TEST(ScenarioCli, FailedExpectationExitsOneWithFailRowAndObservedValue) {
  const CliRun r = pciesim("run " + passing() + " " + failing());
  EXPECT_EQ(r.code, 1) << r.out;
  bool found = false;
  for (const std::string& row : verdict_rows(r.out)) {
    if (row.find("cli-fail") == 0 && row.find("2. msi agent1") != std::string::npos) {
      found = true;
      EXPECT_CONTAINS(row, "  FAIL  ");
      EXPECT_CONTAINS(row, "delivered");                 // expected
      EXPECT_CONTAINS(row, "IOMMU fault 0x25");          // observed
    }
  }
  EXPECT_TRUE(found) << r.out;
  EXPECT_CONTAINS(r.out, "1 passed, 1 failed");
  EXPECT_CONTAINS(r.out, "FAIL  cli-fail");
}

TEST(ScenarioCli, ParseErrorExitsTwoWithFileLineColumnAndField) {
  const std::string bad = write_file("bad.yaml", "name: bad\ntopology: " + topology("dma-agent") +
                                                     "\nsteps:\n  - dma: {from: agent1, to: 0x1000, op: poke}\n"
                                                     "    expect: {delivered: true}\n");
  const CliRun r = pciesim("run " + passing() + " " + bad);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_CONTAINS(r.out, bad + ":4:41: dma.op: read or write");
  EXPECT_TRUE(verdict_rows(r.out).empty()) << "nothing runs when a file is bad:\n" << r.out;
}

TEST(ScenarioCli, UnknownDeviceAtRunTimeExitsTwo) {
  const std::string bad = write_file("bad.yaml", "name: bad\ntopology: " + topology("dma-agent") +
                                                     "\nsteps:\n  - dma: {from: nic9, to: 0x1000}\n    expect: {delivered: true}\n");
  const CliRun r = pciesim("run " + bad);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_CONTAINS(r.out, bad + ":4:5: dma.from: no device 'nic9' in the topology");
}

TEST(ScenarioCli, BadArgumentsExitTwo) {
  EXPECT_EQ(pciesim("run /nonexistent.yaml").code, 2);
  EXPECT_EQ(pciesim("run --shard 3/2 " + passing()).code, 2);
  EXPECT_EQ(pciesim("run --shard 0/2 " + passing()).code, 2);
  EXPECT_EQ(pciesim("run --shard x " + passing()).code, 2);
  EXPECT_EQ(pciesim("run -j 0 " + passing()).code, 2);
  EXPECT_EQ(pciesim("run " + ::testing::TempDir() + "no-scenarios-here-dir").code, 2);
}

TEST(ScenarioCli, JsonHasEveryRow) {
  const std::string out = write_file("out.json", "");
  const CliRun r = pciesim("run --json " + out + " " + passing() + " " + failing());
  EXPECT_EQ(r.code, 1) << r.out;
  const nlohmann::json j = nlohmann::json::parse(read(out));
  EXPECT_EQ(j.at("passed"), 1);
  EXPECT_EQ(j.at("failed"), 1);
  ASSERT_EQ(j.at("scenarios").size(), 2u);
  size_t rows = 0;
  for (const auto& s : j["scenarios"]) {
    EXPECT_TRUE(s.at("file").is_string());
    EXPECT_GT(s.at("wall_ms").get<double>(), 0.0);
    EXPECT_GT(s.at("sim_ns").get<double>(), 0.0);
    for (const auto& st : s.at("steps")) {
      ++rows;
      for (const char* k : {"index", "kind", "label", "expected", "observed", "pass", "line"}) EXPECT_TRUE(st.contains(k)) << k;
    }
  }
  EXPECT_EQ(rows, verdict_rows(r.out).size());
  const auto& f = j["scenarios"][1];
  EXPECT_EQ(f.at("name"), "cli-fail");
  EXPECT_EQ(f.at("passed"), false);
  EXPECT_EQ(f["steps"][1].at("pass"), false);
  EXPECT_EQ(f["steps"][1].at("kind"), "msi");
  EXPECT_EQ(f["steps"][1].at("line"), 6);
  EXPECT_NE(f["steps"][1].at("observed").get<std::string>().find("IOMMU fault 0x25"), std::string::npos);
}

TEST(ScenarioCli, JunitIsWellFormedWithSuitesCasesAndFailures) {
  const std::string out = write_file("out.xml", "");
  const CliRun r = pciesim("run --junit " + out + " " + passing() + " " + failing());
  EXPECT_EQ(r.code, 1) << r.out;
  const std::string text = read(out);
  std::unique_ptr<XmlNode> root;
  ASSERT_NO_THROW(root = XmlReader(text).document()) << text;
  EXPECT_EQ(root->name, "testsuites");
  ASSERT_NE(root->attr("tests"), nullptr);
  EXPECT_EQ(*root->attr("tests"), "4");
  EXPECT_EQ(*root->attr("failures"), "1");
  const auto suites = root->all("testsuite");
  ASSERT_EQ(suites.size(), 2u) << text;
  EXPECT_EQ(*suites[0]->attr("name"), "cli-pass");
  EXPECT_EQ(*suites[1]->attr("name"), "cli-fail");
  size_t failures = 0;
  for (const XmlNode* s : suites) {
    const auto cases = s->all("testcase");
    EXPECT_EQ(std::to_string(cases.size()), *s->attr("tests"));
    for (const XmlNode* c : cases) {
      EXPECT_NE(c->attr("name"), nullptr);
      EXPECT_NE(c->attr("classname"), nullptr);
      EXPECT_NE(c->attr("time"), nullptr);
      for (const XmlNode* f : c->all("failure")) {
        ++failures;
        EXPECT_EQ(*c->attr("name"), "step 2: msi agent1 -> 0xfee00000 data 0x4099");
        EXPECT_EQ(*f->attr("message"), "expected delivered");
        EXPECT_NE(f->text.find("IOMMU fault 0x25"), std::string::npos) << f->text;
      }
    }
  }
  EXPECT_EQ(failures, 1u);
}

TEST(ScenarioCli, ShardsAreDisjointAndCoverTheSuite) {
  const std::string dir = std::string(PCIESIM_SOURCE_ROOT) + "/scenarios/library";
  std::multiset<std::string> all, sharded;
  const CliRun whole = pciesim("run " + dir);
  for (const std::string& row : verdict_rows(whole.out)) all.insert(row);
  ASSERT_GE(all.size(), 6u) << whole.out;
  std::set<std::string> names_seen;
  for (int i = 1; i <= 3; ++i) {
    const CliRun r = pciesim("run --shard " + std::to_string(i) + "/3 " + dir);
    std::set<std::string> names;
    for (const std::string& row : verdict_rows(r.out)) {
      sharded.insert(row);
      names.insert(row.substr(0, row.find(' ')));
    }
    EXPECT_FALSE(names.empty()) << r.out;
    for (const std::string& n : names) EXPECT_TRUE(names_seen.insert(n).second) << n << " in two shards";
  }
  EXPECT_EQ(sharded, all);
}

TEST(ScenarioCli, ParallelRunGivesTheSameTable) {
  const std::string dir = std::string(PCIESIM_SOURCE_ROOT) + "/scenarios/library";
  const CliRun one = pciesim("run -j 1 " + dir + " " + failing());
  const CliRun two = pciesim("run -j 2 " + dir + " " + failing());
  EXPECT_EQ(one.code, 1);
  EXPECT_EQ(two.code, 1);
  const auto a = verdict_rows(one.out), b = verdict_rows(two.out);
  EXPECT_GE(a.size(), 8u);
  EXPECT_EQ(a, b);
}

TEST(ScenarioCli, ProgressWithoutTerminalIsPlainLines) {
  const CliRun r = pciesim("run " + passing() + " " + failing());  // stderr is a pipe here
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << "no carriage returns";
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "no escape sequences";
  EXPECT_CONTAINS(r.out, "[1/2] PASS cli-pass\n");
  EXPECT_CONTAINS(r.out, "[2/2] FAIL cli-fail\n");
}

TEST(ScenarioCli, DefaultSuiteIsTheLibraryAndPasses) {
  const CliRun r = pciesim("run");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_CONTAINS(r.out, "switch-p2p-no-acs");
  EXPECT_CONTAINS(r.out, " 0 failed");
}
