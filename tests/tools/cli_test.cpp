// The pciesim binary as a user runs it: exit codes, one clear message for bad input, and
// output of each command on every shipped topology.
#include <gtest/gtest.h>

#include "tools/cli_run.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace {

using cli_test::CliRun;
using cli_test::pciesim;
using cli_test::src;

std::string topo(const std::string& name) { return src("scenarios/topologies/" + name + ".yaml"); }

}  // namespace

TEST(Cli, MalformedYamlIsOneMessageWithFileLineAndExitTwo) {
  CliRun r = pciesim("topo " + src("tests/tools/data/malformed.yaml"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("malformed.yaml:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("SystemC"), std::string::npos) << "banner leaked: " << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
}

TEST(Cli, DuplicateBdfIsRejected) {
  CliRun r = pciesim("topo " + src("tests/tools/data/duplicate-bdf.yaml"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("duplicate-bdf.yaml:8"), std::string::npos) << r.out;  // the second device: 1
  EXPECT_NE(r.out.find("duplicate"), std::string::npos) << r.out;
}

TEST(Cli, MissingFileAndBadArgumentsExitTwo) {
  EXPECT_EQ(pciesim("topo /nonexistent.yaml").code, 2);
  EXPECT_EQ(pciesim("route " + topo("two-level-switch") + " --from 99:00.0 --to 0x1000").code, 2);
  EXPECT_EQ(pciesim("route " + topo("two-level-switch") + " --from nvme0 --to banana").code, 2);
  EXPECT_EQ(pciesim("route " + topo("two-level-switch") + " --from nvme0 --to nvme1:BAR5").code, 2);
  EXPECT_EQ(pciesim("route " + topo("two-level-switch") + " --from sw0-dp0 --to 0x1000").code, 2);
  EXPECT_EQ(pciesim("frobnicate").code, 2);
  EXPECT_EQ(pciesim("--help").code, 0);
}

TEST(Cli, TopoAndRouteWorkOnEveryShippedTopology) {
  for (const char* t : {"two-level-switch", "pci-bridge", "multifunction-no-acs", "generated-10k"}) {
    CliRun tree = pciesim("topo " + topo(t) + " --json");
    EXPECT_EQ(tree.code, 0) << t << ": " << tree.out.substr(0, 400);
    EXPECT_NE(tree.out.find("\"bdf\""), std::string::npos) << t;
  }
  CliRun r = pciesim("route " + topo("two-level-switch") + " --from gpu0 --to nvme0:BAR0 --json");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"redirect\""), std::string::npos) << r.out;
  CliRun p = pciesim("route " + topo("pci-bridge") + " --from edu0 --to 0x1000");
  EXPECT_NE(p.out.find("requester id on the wire: 06:00.0 (aliased from 06:01.0)"), std::string::npos) << p.out;
}

TEST(Cli, TreeMatchesLspciLayout) {
  CliRun r = pciesim("topo " + topo("pci-bridge") + " --bare");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("-[0000:00]-+-02.0-[01]----00.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\\-02.4-[05-06]----00.0-[06]--+-01.0"), std::string::npos) << r.out;
}

TEST(Cli, LspciShowsAcsAsPciutilsPrintsIt) {
  CliRun r = pciesim("lspci " + topo("two-level-switch") + " -vv -s 00:01.0");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans+\n"),
            std::string::npos) << r.out;
  // firmware left the topology's control value: SV RR CR UF
  EXPECT_NE(r.out.find("\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-\n"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Bus: primary=00, secondary=01, subordinate=0a"), std::string::npos) << r.out;
  CliRun n = pciesim("lspci " + topo("pci-bridge") + " -n -s 06:01.0");
  EXPECT_NE(n.out.find("06:01.0 00ff: 1234:11e8"), std::string::npos) << n.out;
  for (const char* t : {"two-level-switch", "pci-bridge", "multifunction-no-acs"})
    EXPECT_EQ(pciesim("lspci " + topo(t) + " -vvv").code, 0) << t;
  EXPECT_EQ(pciesim("lspci " + topo("pci-bridge") + " -s 7f:00.0").code, 2);
}
