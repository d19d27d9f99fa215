// Real machines (tests/data/hosts/*, a copy of ../shared/oracle/hosts): our groups against the
// groups their kernels computed, as partitions and numbering. A host whose published data lacks
// facts must say exactly which: the remaining reasons are asserted in full, so a lost inference
// (or a new guess) shows up as a diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "groups/host_import.h"
#include "groups/iommu_groups.h"
#include "groups/port_type_inference.h"

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

bool have_pci_ids() {
  return std::getenv("PCIESIM_PCI_IDS") || std::filesystem::exists("/usr/share/misc/pci.ids") ||
         std::filesystem::exists("/usr/share/hwdata/pci.ids");
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

// The reasons grouped by the fact they name, one line per fact (sorted):
// "<text after the BDF> <- BB:DD.F BB:DD.F ...". Exact: every reason is "0000:" + BDF + text.
std::string reasons_by_fact(const GroupResult& r) {
  std::map<std::string, std::string> by;
  for (const std::string& s : r.undecidable_because) {
    bool bdf = s.size() > 12 && s.compare(0, 5, "0000:") == 0 && s[7] == ':' && s[10] == '.';
    if (bdf) by[s.substr(12)] += " " + s.substr(5, 7);
    else by[s];
  }
  std::string out;
  for (const auto& kv : by) out += kv.first + " <-" + kv.second + "\n";
  return out;
}

// Every function we group is in the oracle and the other way round.
std::string device_set_diff(const GroupResult& r, const std::vector<OracleGroup>& oracle) {
  std::set<std::string> ours, theirs;
  for (const DeviceGroup& d : r.devices) ours.insert(d.bdf);
  for (const OracleGroup& o : oracle) theirs.insert(o.bdf);
  std::string diff;
  for (const std::string& b : ours)
    if (!theirs.count(b)) diff += b + " only ours\n";
  for (const std::string& b : theirs)
    if (!ours.count(b)) diff += b + " only the oracle's\n";
  return diff;
}

// Linux numbers groups in the order it adds devices (a new group gets the next number), so in
// our add order the oracle's numbers must first appear as 0, 1, 2, ... Checks our add order
// (root-bus order, depth first) against the kernel's even where the groups are undecidable.
std::string add_order_diff(const GroupResult& r, const std::vector<OracleGroup>& oracle) {
  std::map<std::string, int> number;
  for (const OracleGroup& o : oracle) number[o.bdf] = o.group;
  int next = 0;
  for (const DeviceGroup& d : r.devices) {
    auto it = number.find(d.bdf);
    if (it == number.end() || it->second < next) continue;
    if (it->second != next) return d.bdf + ": oracle group " + std::to_string(it->second) + " appears before group " + std::to_string(next);
    ++next;
  }
  return "";
}

// The devices we did decide must be grouped as the oracle groups them (partition among themselves).
std::string decided_partition_diff(const GroupResult& r, const std::vector<OracleGroup>& oracle) {
  std::map<std::string, int> number;
  for (const OracleGroup& o : oracle) number[o.bdf] = o.group;
  std::string diff;
  for (const DeviceGroup& a : r.devices)
    for (const DeviceGroup& b : r.devices) {
      if (a.group < 0 || b.group < 0 || a.bdf >= b.bdf || !number.count(a.bdf) || !number.count(b.bdf)) continue;
      if ((a.group == b.group) != (number[a.bdf] == number[b.bdf])) diff += a.bdf + " vs " + b.bdf + "\n";
    }
  return diff;
}

}  // namespace

// ---- groups.txt itself ----

TEST(GroupsHosts, EveryGroupsTxtParsesToOneEntryPerDeviceWithDenseNumbers) {
  struct Expect {
    const char* host;
    size_t devices;
    int groups;
  };
  // Counts as the hosts' source.md state them.
  const Expect hosts[] = {{"amd-am5-prom21-chain", 67, 38},  {"amd-renoir-thinkpad", 35, 15},
                          {"dell-r7425-epyc-naples", 176, 118}, {"intel-cml-u-laptop", 22, 16},
                          {"intel-ivb-h67-asm1083", 19, 14},  {"smc-as4125gs-epyc-genoa", 133, 81}};
  for (const Expect& e : hosts) {
    const std::string path = hosts_dir() + "/" + e.host + "/groups.txt";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "oracle host data not present at " << path;
    const std::string text = slurp(path);
    size_t lines = 0;
    std::istringstream is(text);
    for (std::string l; std::getline(is, l);)
      if (l.find_first_not_of(" \t\r") != std::string::npos && l[l.find_first_not_of(" \t")] != '#') ++lines;
    std::vector<OracleGroup> g = read_groups_text(text);
    std::set<std::string> bdfs;
    std::set<int> numbers;
    for (const OracleGroup& o : g) {
      bdfs.insert(o.bdf);
      numbers.insert(o.group);
      EXPECT_EQ(o.bdf.size(), 12u) << e.host << ": " << o.bdf;
    }
    EXPECT_EQ(g.size(), lines) << e.host << ": a line was not read";
    EXPECT_EQ(g.size(), e.devices) << e.host;
    EXPECT_EQ(bdfs.size(), g.size()) << e.host << ": a device listed twice";
    EXPECT_EQ(int(numbers.size()), e.groups) << e.host;
    EXPECT_EQ(*numbers.begin(), 0) << e.host;
    EXPECT_EQ(*numbers.rbegin(), e.groups - 1) << e.host;
  }
}

// ---- hosts whose data decides every group ----

TEST(GroupsHosts, IntelCometLakeLaptopReproducesExactly) {
  REQUIRE_HOST("intel-cml-u-laptop");
  GroupResult r = compute_iommu_groups(import_lspci_file(dir + "/lspci.txt"));
  ASSERT_TRUE(r.decidable) << reasons(r);
  EXPECT_EQ(compare_groups(r, oracle, true), "") << format_groups(r);
}

TEST(GroupsHosts, AmdRenoirThinkpadWrappedLspciReproducesExactly) {
  REQUIRE_HOST("amd-renoir-thinkpad");
  // lspci -vvv without -nn prints names only; the importer finds the ids through pci.ids.
  if (!have_pci_ids()) GTEST_SKIP() << "no pci.ids to resolve the device names in this lspci (set PCIESIM_PCI_IDS)";
  GroupResult r = compute_iommu_groups(import_lspci_file(dir + "/lspci.txt"));
  ASSERT_TRUE(r.decidable) << reasons(r);
  EXPECT_EQ(compare_groups(r, oracle, true), "") << format_groups(r);
}

// ---- hosts whose data leaves groups open: the exact remaining reasons ----

// dmesg prints no ACS, and no header-type byte (the multifunction bit of single-function ports).
TEST(GroupsHosts, AmdAm5DmesgLacksOnlyAcsAndTheMultifunctionBitOfUpstreamPorts) {
  REQUIRE_HOST("amd-am5-prom21-chain");
  HostView h = import_dmesg_file(dir + "/dmesg_pci.txt");
  EXPECT_EQ(h.functions.size(), 69u);
  EXPECT_EQ(h.root_bus_order, (std::vector<std::pair<int, unsigned>>{{0, 0}}));
  GroupResult r = compute_iommu_groups(h);
  EXPECT_EQ(device_set_diff(r, oracle), "");  // 00:00.0 and 00:00.2 are not grouped on AMD
  EXPECT_EQ(add_order_diff(r, oracle), "");
  EXPECT_EQ(decided_partition_diff(r, oracle), "");
  EXPECT_FALSE(r.decidable);
  EXPECT_EQ(reasons_by_fact(r),
            ": ACS capability/control unknown (no capability listing in the source) <- 00:01.1 00:01.2 00:02.1 "
            "00:02.2 00:08.1 00:08.3 02:00.0 06:00.0 06:06.0 06:07.0 06:08.0 06:0c.0 06:0d.0 0d:04.0 0d:06.0 "
            "0d:07.0 0d:08.0 0d:0c.0 0d:0d.0 18:02.0 18:03.0\n"
            ": multifunction bit of the header type unknown <- 01:00.0 05:00.0 0c:00.0 17:00.0\n");
  EXPECT_EQ(r.group_count, 7);  // 00:01.0 02.0 03.0 04.0 08.0, 14.x, 18.x: decided and as the kernel's
}

// Linux 5.2 prints no port types; the pcieport PME service, "enabling Extended Tags" and
// "extended config space not accessible" still fix what the rules need except ACS and the types
// of the root buses' Type 0 functions.
TEST(GroupsHosts, DellNaplesDmesgLacksAcsAndTheTypesOfRootBusFunctions) {
  REQUIRE_HOST("dell-r7425-epyc-naples");
  HostView h = import_dmesg_file(dir + "/dmesg.txt");
  int root_ports = 0;
  for (const FunctionView& f : h.functions) root_ports += f.port_type == PortType::RootPort;
  EXPECT_EQ(root_ports, 20);  // every "pcieport ...: PME: Signaling with IRQ" bridge
  int plda = h.find(0, 2, 0);  // 1556:be00 in front of the iDRAC VGA
  ASSERT_GE(plda, 0);
  EXPECT_EQ(h.functions[size_t(plda)].candidate_types(),
            type_bit(PortType::Conventional) | type_bit(PortType::PcieToPciBridge) | type_bit(PortType::PciToPcieBridge));
  GroupResult r = compute_iommu_groups(h);
  EXPECT_EQ(device_set_diff(r, oracle), "");  // 8 root complexes + 8 IOMMUs excluded
  EXPECT_EQ(add_order_diff(r, oracle), "");
  EXPECT_EQ(decided_partition_diff(r, oracle), "");
  EXPECT_FALSE(r.decidable);
  EXPECT_EQ(reasons_by_fact(r),
            ": ACS capability/control unknown (no capability listing in the source) <- 00:01.1 00:01.3 00:01.4 "
            "00:07.1 00:08.1 20:07.1 20:08.1 40:07.1 40:08.1 60:03.1 60:07.1 60:08.1 80:07.1 80:08.1 a0:07.1 "
            "a0:08.1 c0:07.1 c0:08.1 e0:07.1 e0:08.1\n"
            ": PCIe port type unknown (the source prints no capabilities) <- 00:14.3 00:18.1 00:18.2 00:18.3 "
            "00:18.4 00:18.5 00:18.6 00:18.7 00:19.1 00:19.2 00:19.3 00:19.4 00:19.5 00:19.6 00:19.7 00:1a.1 "
            "00:1a.2 00:1a.3 00:1a.4 00:1a.5 00:1a.6 00:1a.7 00:1b.1 00:1b.2 00:1b.3 00:1b.4 00:1b.5 00:1b.6 "
            "00:1b.7 00:1c.1 00:1c.2 00:1c.3 00:1c.4 00:1c.5 00:1c.6 00:1c.7 00:1d.1 00:1d.2 00:1d.3 00:1d.4 "
            "00:1d.5 00:1d.6 00:1d.7 00:1e.1 00:1e.2 00:1e.3 00:1e.4 00:1e.5 00:1e.6 00:1e.7 00:1f.1 00:1f.2 "
            "00:1f.3 00:1f.4 00:1f.5 00:1f.6 00:1f.7\n"
            "depends on the group of 0000:02:00.0, itself undecidable <-\n");
}

TEST(GroupsHosts, SmcGenoaDmesgLacksOnlyAcs) {
  REQUIRE_HOST("smc-as4125gs-epyc-genoa");
  HostView h = import_dmesg_file(dir + "/dmesg.txt");
  // The host bridges were registered 60, 40, 00, 20, e0, c0, 80, a0, and so were the groups.
  EXPECT_EQ(h.root_bus_order, (std::vector<std::pair<int, unsigned>>{
                                  {0, 0x60}, {0, 0x40}, {0, 0x00}, {0, 0x20}, {0, 0xe0}, {0, 0xc0}, {0, 0x80}, {0, 0xa0}}));
  GroupResult r = compute_iommu_groups(h);
  EXPECT_EQ(device_set_diff(r, oracle), "");
  EXPECT_EQ(add_order_diff(r, oracle), "");
  EXPECT_EQ(decided_partition_diff(r, oracle), "");
  EXPECT_FALSE(r.decidable);
  EXPECT_EQ(reasons_by_fact(r),
            ": ACS capability/control unknown (no capability listing in the source) <- 00:01.1 00:05.1 00:07.1 "
            "00:07.2 20:03.1 20:03.2 20:03.3 20:03.4 20:07.1 40:07.1 60:05.2 60:05.3 60:07.1 60:07.2 80:07.1 "
            "a0:07.1 c0:01.1 c0:03.1 c0:07.1 e0:01.1 e0:07.1\n"
            "depends on the group of 0000:61:00.0, itself undecidable <-\n");
  // Guessing would be wrong: assuming ACS on every port splits the internal GPP bridges
  // 00:07.1/07.2 from their NBIO function 00:07.0, which the kernel grouped together.
  GroupAssumptions guess;
  guess.acs_on_unknown_ports = true;
  GroupResult guessed = compute_iommu_groups(h, guess);
  EXPECT_TRUE(guessed.decidable) << reasons(guessed);
  EXPECT_NE(compare_groups(guessed, oracle, false).find("0000:00:07.1"), std::string::npos);
}

TEST(GroupsHosts, SmcGenoaPlainLspciHasNoTopology) {
  REQUIRE_HOST("smc-as4125gs-epyc-genoa");
  if (!have_pci_ids()) GTEST_SKIP() << "no pci.ids to resolve the device names in this lspci";
  GroupResult r = compute_iommu_groups(import_lspci_file(dir + "/lspci.txt"));
  EXPECT_FALSE(r.decidable);
  ASSERT_FALSE(r.undecidable_because.empty());
  EXPECT_NE(reasons_by_fact(r).find(dir + "/lspci.txt: topology unknown (no bridge bus ranges: plain lspci prints "
                                    "no 'Bus: primary=' and no tree) <-\n"),
            std::string::npos)
      << reasons(r);
  EXPECT_EQ(reasons_by_fact(r).find("ACS quirk"), std::string::npos) << reasons(r);  // every id resolved
}

// lspci -tv prints no capabilities, and no names for bridges: the root ports' ids, types and ACS
// are unknown; the PCH's 1f.x types too (pci_quirk_rciep_acs could isolate them).
TEST(GroupsHosts, IntelIvbTreeLacksBridgeIdsAndEveryPortTypeAndAcs) {
  REQUIRE_HOST("intel-ivb-h67-asm1083");
  if (!have_pci_ids()) GTEST_SKIP() << "no pci.ids to resolve the device names in this tree";
  HostView h = import_lspci_file(dir + "/lspci.txt");
  EXPECT_EQ(h.functions.size(), oracle.size());
  int asm1083 = h.find(0, 5, 0);
  ASSERT_GE(asm1083, 0);
  EXPECT_EQ(h.functions[size_t(asm1083)].port_type, PortType::Conventional);  // from its -vvv block
  int igd = h.find(0, 0, 2 << 3);  // one of four ids named "Xeon E3-1200 v2/3rd Gen Core processor Graphics Controller"
  ASSERT_GE(igd, 0);
  EXPECT_FALSE(h.functions[size_t(igd)].device_candidates.empty());
  GroupResult r = compute_iommu_groups(h);
  EXPECT_EQ(device_set_diff(r, oracle), "");
  EXPECT_EQ(add_order_diff(r, oracle), "");
  EXPECT_EQ(decided_partition_diff(r, oracle), "");
  EXPECT_FALSE(r.decidable);
  EXPECT_EQ(reasons_by_fact(r),
            " [????:????]: ACS quirk pci_dev_acs_enabled[] ATI SBx00 PCI bridge / pci_quirk_amd_sb_acs may apply but "
            "its vendor:device id is unknown <- 00:1c.5 00:1c.6 00:1c.7\n"
            ": PCIe port type unknown (the source prints no capabilities) <- 00:01.0 00:1c.5 00:1c.6 00:1c.7 00:1f.2 "
            "00:1f.3\n");
}

// ---- the inferences agree with the types newer kernels print ----

// Hosts whose kernel printed every type: hide the types, infer them from the other lines of the
// same log, and the printed type must be among the inferred ones.
TEST(GroupsHosts, InferredTypeSetsContainThePrintedTypes) {
  for (const char* rel : {"amd-am5-prom21-chain/dmesg_pci.txt", "smc-as4125gs-epyc-genoa/dmesg.txt"}) {
    const std::string path = hosts_dir() + "/" + rel;
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "oracle host data not present at " << path;
    HostView printed = import_dmesg_file(path);
    HostView blind = printed;
    for (FunctionView& f : blind.functions) {
      f.port_type.reset();
      f.possible_types = kAnyPortType;
    }
    infer_port_types(blind);
    int narrowed = 0;
    for (size_t i = 0; i < printed.functions.size(); ++i) {
      const FunctionView& p = printed.functions[i];
      ASSERT_TRUE(p.port_type) << rel << " " << p.bdf();
      const PortTypeSet s = blind.functions[i].candidate_types();
      EXPECT_TRUE(s & type_bit(*p.port_type)) << rel << " " << p.bdf() << ": printed " << port_type_name(*p.port_type)
                                              << ", inferred " << port_type_set_text(s);
      narrowed += (s & (s - 1)) == 0;
    }
    EXPECT_GT(narrowed, 0) << rel;
  }
}

// ---- importers ----

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
