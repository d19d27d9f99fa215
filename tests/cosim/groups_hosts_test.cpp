// Real machines (tests/data/hosts/*, a copy of ../shared/oracle/hosts): our groups against the
// groups their kernels computed,
// as partitions and numbering; hosts whose published data lacks facts must say so.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "groups/host_import.h"
#include "groups/iommu_groups.h"

using namespace pciesim::groups;

namespace {

std::string hosts_dir() {
  const char* s = std::getenv("PCIESIM_SOURCE_DIR");
  return std::string(s ? s : ".") + "/tests/data/hosts";
}

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

#define REQUIRE_HOST(name)                                                                 \
  const std::string dir = hosts_dir() + "/" + (name);                                      \
  if (!std::filesystem::exists(dir + "/groups.txt"))                                       \
    GTEST_SKIP() << "oracle host data not present at " << dir;                             \
  const std::vector<OracleGroup> oracle = read_groups_text(slurp(dir + "/groups.txt"))

std::string reasons(const GroupResult& r) {
  std::string s;
  for (const std::string& x : r.undecidable_because) s += x + "\n";
  return s;
}

}  // namespace

TEST(GroupsHosts, IntelCometLakeLaptopReproducesExactly) {
  REQUIRE_HOST("intel-cml-u-laptop");
  GroupResult r = compute_iommu_groups(import_lspci_file(dir + "/lspci.txt"));
  ASSERT_TRUE(r.decidable) << reasons(r);
  EXPECT_EQ(compare_groups(r, oracle, true), "") << format_groups(r);
}

TEST(GroupsHosts, AmdRenoirThinkpadWrappedLspciReproducesExactly) {
  REQUIRE_HOST("amd-renoir-thinkpad");
  // lspci -vvv without -nn prints names only; the importer finds the ids through pci.ids.
  const char* ids = std::getenv("PCIESIM_PCI_IDS");
  if (!ids && !std::filesystem::exists("/usr/share/misc/pci.ids") && !std::filesystem::exists("/usr/share/hwdata/pci.ids"))
    GTEST_SKIP() << "no pci.ids to resolve the device names in this lspci (set PCIESIM_PCI_IDS)";
  GroupResult r = compute_iommu_groups(import_lspci_file(dir + "/lspci.txt"));
  ASSERT_TRUE(r.decidable) << reasons(r);
  EXPECT_EQ(compare_groups(r, oracle, true), "") << format_groups(r);
}

namespace {

bool mentions(const GroupResult& r, const std::string& what) {
  for (const std::string& s : r.undecidable_because)
    if (s.find(what) != std::string::npos) return true;
  return false;
}

}  // namespace

// dmesg prints no ACS: every root port's isolation is unknown.
TEST(GroupsHosts, AmdAm5DmesgIsUndecidableBecauseAcsIsNotInTheLog) {
  REQUIRE_HOST("amd-am5-prom21-chain");
  HostView h = import_dmesg_file(dir + "/dmesg_pci.txt");
  EXPECT_EQ(h.functions.size(), 69u);
  GroupResult r = compute_iommu_groups(h);
  EXPECT_EQ(r.devices.size(), oracle.size());  // 00:00.0 and 00:00.2 are not grouped on AMD
  EXPECT_FALSE(r.decidable);
  EXPECT_TRUE(mentions(r, "0000:00:01.1: ACS capability/control unknown")) << reasons(r);
}

TEST(GroupsHosts, DellNaplesDmesgIsUndecidableBecauseThisKernelPrintsNoPortTypes) {
  REQUIRE_HOST("dell-r7425-epyc-naples");
  GroupResult r = compute_iommu_groups(import_dmesg_file(dir + "/dmesg.txt"));
  EXPECT_EQ(r.devices.size(), oracle.size());  // 8 root complexes + 8 IOMMUs excluded
  EXPECT_FALSE(r.decidable);
  EXPECT_TRUE(mentions(r, "prints no PCIe port types")) << reasons(r);
  EXPECT_TRUE(mentions(r, "0000:02:00.0: PCIe port type unknown")) << reasons(r);  // the PLDA bridge
}

TEST(GroupsHosts, SmcGenoaIsUndecidableFromDmesgAndFromPlainLspci) {
  REQUIRE_HOST("smc-as4125gs-epyc-genoa");
  GroupResult r = compute_iommu_groups(import_dmesg_file(dir + "/dmesg.txt"));
  EXPECT_EQ(r.devices.size(), oracle.size());
  EXPECT_FALSE(r.decidable);
  EXPECT_TRUE(mentions(r, "0000:00:07.1: ACS capability/control unknown")) << reasons(r);
  GroupResult plain = compute_iommu_groups(import_lspci_file(dir + "/lspci.txt"));
  EXPECT_FALSE(plain.decidable);
  EXPECT_TRUE(mentions(plain, "topology unknown")) << reasons(plain);
  // Guessing would be wrong: assuming ACS on every port splits the internal GPP bridges
  // 00:07.1/07.2 from their NBIO function 00:07.0, which the kernel grouped together.
  GroupAssumptions guess;
  guess.acs_on_unknown_ports = true;
  GroupResult guessed = compute_iommu_groups(import_dmesg_file(dir + "/dmesg.txt"), guess);
  EXPECT_TRUE(guessed.decidable) << reasons(guessed);
  EXPECT_NE(compare_groups(guessed, oracle, false).find("0000:00:07.1"), std::string::npos);
}

TEST(GroupsHosts, IntelIvbTreeIsUndecidableBecauseTheTreePrintsNoCapabilities) {
  REQUIRE_HOST("intel-ivb-h67-asm1083");
  HostView h = import_lspci_file(dir + "/lspci.txt");
  EXPECT_EQ(h.functions.size(), oracle.size());
  int asm1083 = h.find(0, 5, 0);
  ASSERT_GE(asm1083, 0);
  EXPECT_EQ(h.functions[size_t(asm1083)].port_type, PortType::Conventional);  // from its -vvv block
  GroupResult r = compute_iommu_groups(h);
  EXPECT_FALSE(r.decidable);
  EXPECT_TRUE(mentions(r, "0000:00:01.0: PCIe port type unknown")) << reasons(r);
  EXPECT_TRUE(mentions(r, "0000:00:1c.7")) << reasons(r);
}

TEST(GroupsImport, ErrorsNameFileLineAndProblem) {
  try {
    import_dmesg_text("pci 0000:00:01.0: PCI bridge to [bus 01]\n", "boot.log");
    FAIL() << "no error";
  } catch (const ImportError& e) {
    EXPECT_NE(std::string(e.what()).find("boot.log:1: 'PCI bridge to'"), std::string::npos) << e.what();
  }
  try {
    import_lspci_text("00:00.0 Host bridge: Intel Corporation Device 0150\nnonsense here\n", "x.txt");
  } catch (const ImportError& e) {
    FAIL() << "a field line inside a block is not an error: " << e.what();
  }
  try {
    import_lspci_text("hello world\n", "x.txt");
    FAIL() << "no error";
  } catch (const ImportError& e) {
    EXPECT_NE(std::string(e.what()).find("x.txt:1: unrecognised lspci line"), std::string::npos) << e.what();
  }
}

TEST(GroupsImport, DmesgWithPortTypesGivesTopologyAndTypes) {
  const char* log =
      "[    0.1] pci 0000:00:01.1: [1022:14db] type 01 class 0x060400 PCIe Root Port\r\n"
      "[    0.1] pci 0000:00:01.1: PCI bridge to [bus 01-02]\r\n"
      "[    0.2] pci 0000:01:00.0: [1b21:1080] type 01 class 0x060400 PCIe to PCI/PCI-X bridge\r\n"
      "[    0.2] pci 0000:01:00.0: PCI bridge to [bus 02]\r\n"
      "[    0.3] pci 0000:02:04.0: [1102:000b] type 00 class 0x040100 conventional PCI endpoint\r\n";
  HostView h = import_dmesg_text(log, "t.log");
  ASSERT_EQ(h.functions.size(), 3u);
  EXPECT_EQ(h.functions[2].parent, 1);
  EXPECT_EQ(h.functions[1].port_type, PortType::PcieToPciBridge);
  GroupAssumptions a;
  a.acs_on_unknown_ports = true;
  GroupResult r = compute_iommu_groups(h, a);
  ASSERT_TRUE(r.decidable);
  EXPECT_EQ(r.devices[1].group, r.devices[2].group);  // behind the PCIe-to-PCI bridge
}
