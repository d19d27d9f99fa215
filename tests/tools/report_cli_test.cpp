// `pciesim run --report DIR` as a user runs it, then the page in headless Chromium: the page's own
// script must run without an error (it records errors into <html data-errors> and sets
// <body data-render="ok"> at its end), and the DOM must have what docs/scenarios.md promises.
// Chromium is a setup package (scripts/setup.sh): without it this test fails, it does not skip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tools/cli_run.h"

namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string chromium_binary() {
  for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (access(c, X_OK) == 0) return c;
  return "";
}

struct Shell {
  int code;
  std::string out;
};
Shell shell(const std::string& cmd) {
  Shell r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::set<std::string> captures(const std::string& text, const std::string& re) {
  std::set<std::string> out;
  const std::regex r(re);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), r); it != std::sregex_iterator(); ++it)
    out.insert((*it)[1].str());
  return out;
}

TEST(ReportCli, TwoLibraryScenariosRenderInHeadlessChromiumWithoutErrors) {
  const fs::path dir = fs::temp_directory_path() / ("pciesim-report-" + std::to_string(getpid()));
  fs::remove_all(dir);
  const auto run = cli_test::pciesim("run " + cli_test::src("scenarios/library/switch-p2p-acs-rr.yaml") + " " +
                                     cli_test::src("scenarios/library/multifunction-no-acs.yaml") + " --report " +
                                     dir.string());
  ASSERT_EQ(run.code, 0) << run.out;
  ASSERT_TRUE(fs::is_regular_file(dir / "index.html"));
  ASSERT_TRUE(fs::is_regular_file(dir / "trace.json"));

  // trace.json is the Chrome trace --trace writes: both scenarios, their steps.
  const nlohmann::json trace = nlohmann::json::parse(read(dir / "trace.json"));
  std::set<int> pids;
  for (const auto& ev : trace.at("traceEvents")) pids.insert(ev.at("pid").get<int>());
  EXPECT_EQ(pids, (std::set<int>{1, 2}));

  // Self-contained: nothing fetched from anywhere.
  const std::string html = read(dir / "index.html");
  EXPECT_FALSE(std::regex_search(html, std::regex("<script[^>]+src=|<link[^>]|<img[^>]|url\\(|@import|@font-face")));
  EXPECT_NE(html.find("run " + cli_test::src("scenarios/library/switch-p2p-acs-rr.yaml")), std::string::npos);  // the command line

  const std::string chromium = chromium_binary();
  ASSERT_FALSE(chromium.empty()) << "headless Chromium is not installed: run scripts/setup.sh (it installs Debian's "
                                    "chromium package, which this test needs)";
  const fs::path profile = dir / "chromium-profile";
  const std::string cmd = "timeout 180 " + chromium +
                          " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                          " --disable-background-networking --disable-component-update --disable-sync"
                          " --user-data-dir=" + profile.string() + " --dump-dom file://" + (dir / "index.html").string() +
                          " 2>/dev/null";
  const Shell dom = shell(cmd);
  ASSERT_EQ(dom.code, 0) << cmd;
  ASSERT_NE(dom.out.find("<body"), std::string::npos) << dom.out.substr(0, 2000);
  // The script ran to its end and recorded no error.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom.out, m, std::regex("<body[^>]*data-render=\"ok\""))) << "the page's script did not finish";
  EXPECT_FALSE(std::regex_search(dom.out, m, std::regex("data-errors=\"([^\"]*)\""))) << "script errors: " << m[1];
  EXPECT_TRUE(std::regex_search(dom.out, std::regex("<body[^>]*data-sections=\"2\"")));
  // One section per scenario, each with its drawing, matrix and timeline.
  const auto sections = captures(dom.out, "<section class=\"scenario [a-z]+\" id=\"(scenario-[0-9]+)\"");
  EXPECT_EQ(sections, (std::set<std::string>{"scenario-0", "scenario-1"}));
  size_t topologies = 0, matrices = 0, timelines = 0;
  for (size_t p = dom.out.find("<svg class=\"topology\""); p != std::string::npos; p = dom.out.find("<svg class=\"topology\"", p + 1)) ++topologies;
  for (size_t p = dom.out.find("<table class=\"matrix\""); p != std::string::npos; p = dom.out.find("<table class=\"matrix\"", p + 1)) ++matrices;
  for (size_t p = dom.out.find("<svg class=\"timeline\""); p != std::string::npos; p = dom.out.find("<svg class=\"timeline\"", p + 1)) ++timelines;
  EXPECT_EQ(topologies, 2u);
  EXPECT_EQ(matrices, 2u);
  EXPECT_EQ(timelines, 2u);
  // Every step of the verdict table links to a bar of the timeline that exists.
  const auto links = captures(dom.out, "href=\"#(s[0-9]+-step[0-9]+)\"");
  const auto bars = captures(dom.out, "<g class=\"step (?:pass|fail)\" id=\"(s[0-9]+-step[0-9]+)\"");
  EXPECT_FALSE(links.empty());
  EXPECT_EQ(links, bars);
  // Endpoint functions are coloured by group; the legend names the groups.
  EXPECT_TRUE(std::regex_search(dom.out, std::regex("class=\"node endpoint\" data-bdf=\"[^\"]+\" data-group=\"[0-9]+\"")));
  EXPECT_NE(dom.out.find("<ul class=\"legend groups\">"), std::string::npos);
  fs::remove_all(dir);
}

// A scenario booted with pcie_acs_override: the matrix is compared with the groups that kernel
// computes (split functions with open paths between them: UNSAFE), not with the default groups
// (one group for the device: they would agree).
TEST(ReportCli, MatrixUsesTheScenariosAcsOverrideGroups) {
  const fs::path dir = fs::temp_directory_path() / ("pciesim-report-override-" + std::to_string(getpid()));
  fs::remove_all(dir);
  const auto run = cli_test::pciesim("run " + cli_test::src("scenarios/library/acs-override-multifunction.yaml") +
                                     " --report " + dir.string());
  ASSERT_EQ(run.code, 0) << run.out;
  const std::string html = read(dir / "index.html");
  EXPECT_NE(html.find("pcie_acs_override=multifunction</code>"), std::string::npos);
  EXPECT_NE(html.find("UNSAFE"), std::string::npos) << "the override's split groups with open paths are not flagged";
  fs::remove_all(dir);
}

TEST(ReportCli, AnUnwritableReportDirectoryIsBadInputBeforeAnythingRuns) {
  const auto run = cli_test::pciesim("run " + cli_test::src("scenarios/library/switch-p2p-acs-rr.yaml") +
                                     " --report /proc/pciesim-report");
  EXPECT_EQ(run.code, 2) << run.out;
  EXPECT_NE(run.out.find("--report: cannot create the directory /proc/pciesim-report"), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("SCENARIO"), std::string::npos) << "nothing should have run";
}

}  // namespace
