// `pciesim groups` and `pciesim import` as a user runs them (the real binary, like cli_test.cpp).
#include <gtest/gtest.h>

#include "tools/cli_run.h"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

namespace {

using cli_test::CliRun;
using cli_test::pciesim;
using cli_test::src;

std::string host(const std::string& rel) { return std::string(PCIESIM_SOURCE_ROOT) + "/tests/data/hosts/" + rel; }

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(GroupsCli, OwnTopologyPrintsOneLinePerDeviceInScanOrder) {
  CliRun r = pciesim("groups " + src("scenarios/topologies/two-level-switch.yaml"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("0000:00:01.0 0\n", 0), 0u) << r.out;
  CliRun j = pciesim("groups --json " + src("scenarios/topologies/pci-bridge.yaml"));
  ASSERT_EQ(j.code, 0) << j.out;
  EXPECT_NE(j.out.find("\"decidable\": true"), std::string::npos) << j.out;
}

TEST(GroupsCli, CometLakeLspciMatchesTheKernelsGroups) {
  if (!std::filesystem::exists(host("intel-cml-u-laptop/groups.txt"))) GTEST_SKIP() << "oracle hosts absent";
  CliRun r = pciesim("groups --lspci " + host("intel-cml-u-laptop/lspci.txt"));
  ASSERT_EQ(r.code, 0) << r.out;
  // groups.txt: comment lines, then "BB:DD.F N" or "DDDD:BB:DD.F N"; ours always has the domain.
  std::istringstream oracle(slurp(host("intel-cml-u-laptop/groups.txt")));
  std::string line;
  int compared = 0;
  while (std::getline(oracle, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::string bdf = line.substr(0, line.find(' ')), group = line.substr(line.rfind(' ') + 1);
    if (bdf.size() == 7) bdf = "0000:" + bdf;
    EXPECT_NE(r.out.find(bdf + " " + group + "\n"), std::string::npos) << bdf << " " << group << "\n" << r.out;
    ++compared;
  }
  EXPECT_EQ(compared, 22);
}

TEST(GroupsCli, UndecidableHostExitsOneAndSaysWhy) {
  if (!std::filesystem::exists(host("amd-am5-prom21-chain/dmesg_pci.txt"))) GTEST_SKIP() << "oracle hosts absent";
  CliRun r = pciesim("groups --dmesg " + host("amd-am5-prom21-chain/dmesg_pci.txt"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("cannot be decided"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ACS capability/control unknown"), std::string::npos) << r.out;
}

// A Linux 5.2 log prints no port types; the pcieport PME lines still make the AMD bridges root
// ports, so what is reported missing is their ACS, not their type.
TEST(GroupsCli, OldKernelDmesgReportsTheRootPortsAcsNotTheirType) {
  if (!std::filesystem::exists(host("dell-r7425-epyc-naples/dmesg.txt"))) GTEST_SKIP() << "oracle hosts absent";
  CliRun r = pciesim("groups --dmesg " + host("dell-r7425-epyc-naples/dmesg.txt"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("  0000:00:01.3: ACS capability/control unknown"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("0000:00:01.3: PCIe port type unknown"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("prints no PCIe port types"), std::string::npos) << r.out;
  CliRun j = pciesim("groups --json --dmesg " + host("dell-r7425-epyc-naples/dmesg.txt"));
  EXPECT_NE(j.out.find("\"decidable\": false"), std::string::npos) << j.out;
}

TEST(GroupsCli, BadInputNamesFileAndLineAndExitsTwo) {
  std::string bad = std::filesystem::temp_directory_path() / "pciesim-groups-bad.log";
  {
    std::ofstream out(bad);
    out << "pci 0000:00:01.0: PCI bridge to [bus 01]\n";
  }
  CliRun r = pciesim("groups --dmesg " + bad);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(bad + ":1:"), std::string::npos) << r.out;
  std::filesystem::remove(bad);
  EXPECT_EQ(pciesim("groups").code, 2);
}

TEST(GroupsCli, ImportWritesATopologyThatLoadsBack) {
  if (!std::filesystem::exists(host("amd-renoir-thinkpad/lspci.txt"))) GTEST_SKIP() << "oracle hosts absent";
  std::string out = std::filesystem::temp_directory_path() / "pciesim-import-renoir.yaml";
  CliRun r = pciesim("import --lspci " + host("amd-renoir-thinkpad/lspci.txt") + " -o " + out + " --name renoir");
  ASSERT_EQ(r.code, 0) << r.out;
  CliRun t = pciesim("topo " + out);
  EXPECT_EQ(t.code, 0) << t.out;
  CliRun g = pciesim("groups " + out);
  EXPECT_EQ(g.code, 0) << g.out;
  std::filesystem::remove(out);
}
