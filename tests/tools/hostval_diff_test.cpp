// The hostval comparison engine (tools/hostval_diff.h): two host reports, field by field, and the
// allow-list that explains deliberate differences. Plain C++, no SystemC.
#include <gtest/gtest.h>

#include "hostval_diff.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using nlohmann::json;
using pciesim::hostval::AllowEntry;
using pciesim::hostval::AllowListError;
using pciesim::hostval::Comparison;
using pciesim::hostval::Difference;
using pciesim::hostval::compare;
using pciesim::hostval::format_table;
using pciesim::hostval::glob_problem;
using pciesim::hostval::load_allow_list;
using pciesim::hostval::load_allow_list_string;
using pciesim::hostval::path_matches;

// A host report as docs/hostval.md describes it: the pci-bridge topology's shape -- edu on a root
// port (group 1), a PCIe-to-PCI bridge on a second root port with an edu behind it (one group) --
// and one vfio_probe run trimmed to the parts with nested arrays.
json report() {
  return json::parse(R"({
    "schema": 1, "source": "simulator", "kernel": "6.1.0-pciesim", "cmdline": "intel_iommu=on",
    "dmar": ["DMAR: Host address width 39",
             "DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap d2008c22260206 ecap f00f4a",
             "DMAR: Intel(R) Virtualization Technology for Directed I/O"],
    "devices": [
      {"bdf": "0000:00:01.0", "vendor": "0x1b36", "device": "0x000c", "class": "0x060400", "header_type": "0x01",
       "pcie_type": "root_port", "acs": {"cap": "0x005f", "ctl": "0x001d"}, "driver": "pcieport", "iommu_group": 0},
      {"bdf": "0000:00:02.0", "vendor": "0x1b36", "device": "0x000c", "class": "0x060400", "header_type": "0x01",
       "pcie_type": "root_port", "acs": {"cap": "0x005f", "ctl": "0x001d"}, "driver": "pcieport", "iommu_group": 1},
      {"bdf": "0000:01:00.0", "vendor": "0x1234", "device": "0x11e8", "class": "0x00ff00", "header_type": "0x00",
       "pcie_type": "endpoint", "acs": null, "driver": "vfio-pci", "iommu_group": 2},
      {"bdf": "0000:02:00.0", "vendor": "0x1b36", "device": "0x000e", "class": "0x060400", "header_type": "0x01",
       "pcie_type": "pcie_to_pci_bridge", "acs": null, "driver": null, "iommu_group": 3},
      {"bdf": "0000:03:01.0", "vendor": "0x1234", "device": "0x11e8", "class": "0x00ff00", "header_type": "0x00",
       "pcie_type": null, "acs": null, "driver": null, "iommu_group": 3}
    ],
    "groups": {"0": ["0000:00:01.0"], "1": ["0000:00:02.0"], "2": ["0000:01:00.0"],
               "3": ["0000:03:01.0", "0000:02:00.0"]},
    "probes": [
      {"device": "0000:01:00.0", "driver": "vfio-pci", "exit": 0, "result": {
        "device": "0000:01:00.0", "api_version": 0, "group": 2,
        "group_status": {"result": 0, "flags": "0x1", "set_container": 0, "set_iommu": 0, "flags_after": "0x3"},
        "iommu_info": {"result": 0, "flags": "0x3", "iova_pgsizes": "0x40201000", "argsz_needed": 88,
                       "caps": [{"id": 1, "version": 1, "iova_ranges": [{"start": "0x0", "end": "0xfedfffff"},
                                                                      {"start": "0xfef00000", "end": "0x7fffffffff"}]},
                                {"id": 3, "version": 1, "dma_avail": 65535}]},
        "regions": [{"index": 0, "result": 0, "flags": "0xf", "size": "0x100000", "offset": "0x0",
                     "caps": [{"id": 1, "areas": [{"offset": "0x0", "size": "0x1000"}, {"offset": "0x2000", "size": "0x1000"}]}],
                     "mmap": 0},
                    {"index": 1, "result": 0, "flags": "0x0", "size": "0x0", "offset": "0x10000000000"},
                    {"index": 7, "result": 0, "flags": "0x3", "size": "0x100", "offset": "0x70000000000"},
                    {"index": 8, "result": "EINVAL"}],
        "irqs": [{"index": 0, "result": 0, "flags": "0x7", "count": 1}, {"index": 1, "result": 0, "flags": "0x9", "count": 1}],
        "faults": {"kmsg": 0, "device_to_ram": 0, "write_left_memory_unchanged": true,
                   "lines": [{"access": "write", "source": "01:00.0", "addr": "0x1001000", "reason": "0x5",
                              "line": "DMAR: [DMA Write NO_PASID] Request device [01:00.0] fault addr 0x1001000 [fault reason 0x05] PTE Write access is not set"},
                             {"access": "read", "source": "01:00.0", "addr": "0x1000000", "reason": "0x6",
                              "line": "DMAR: [DMA Read NO_PASID] Request device [01:00.0] fault addr 0x1000000 [fault reason 0x06] PTE Read access is not set"}]},
        "completed": true}}
    ],
    "lspci": null
  })");
}

// The QEMU guest's view of the same machine: numbers and text that legitimately differ per host.
json host_report() {
  json h = report();
  h["source"] = "host";
  h["kernel"] = "6.1.0-56-amd64";
  h["cmdline"] = "console=ttyS0 intel_iommu=on rdinit=/init";
  h["lspci"] = "00:01.0 PCI bridge [0604]: Red Hat, Inc. QEMU PCIe Root port [1b36:000c]";
  h["dmar"] = json::array({"[    0.012000] DMAR: IOMMU enabled",
                           "[    0.345000] DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap d2008c22260206 ecap f00f4a"});
  return h;
}

const Difference* find(const Comparison& c, const std::string& path) {
  for (const Difference& d : c.differences)
    if (d.path == path) return &d;
  return nullptr;
}

std::string paths(const Comparison& c) {
  std::string s;
  for (const Difference& d : c.differences) s += d.path + " (" + d.kind + ")\n";
  return s;
}

AllowEntry entry(const std::string& id, const std::string& path) {
  AllowEntry e;
  e.id = id;
  e.path = path;
  e.reason = "because";
  return e;
}

// The columns of the table row for `path` (columns are separated by two or more spaces).
std::vector<std::string> row(const std::string& table, const std::string& path) {
  std::istringstream in(table);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(path + " ", 0) != 0) continue;
    std::vector<std::string> cols;
    size_t i = 0;
    while (i < line.size()) {
      const size_t gap = line.find("  ", i);
      cols.push_back(line.substr(i, gap == std::string::npos ? std::string::npos : gap - i));
      if (gap == std::string::npos) break;
      i = line.find_first_not_of(' ', gap);
    }
    return cols;
  }
  return {};
}

// A probe field: probes[0000:01:00.0/vfio-pci].result.<rest>.
json& probe_result(json& r) { return r["probes"][0]["result"]; }
const std::string kProbe = "probes[0000:01:00.0/vfio-pci].result.";

}  // namespace

TEST(HostvalDiff, IdenticalReportsHaveNoDifferencesAndCountEveryField) {
  const Comparison c = compare(report(), host_report(), {}, "pci-bridge");
  EXPECT_TRUE(c.differences.empty()) << paths(c);
  // A tiny report counted by hand: dmar.cap, dmar.ecap; 9 device fields (acs has two); one group.
  const json tiny = json::parse(R"({
    "dmar": ["DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap d2008c22260206 ecap f00f4a"],
    "devices": [{"bdf": "0000:00:01.0", "vendor": "0x1b36", "device": "0x000c", "class": "0x060400",
                 "header_type": "0x01", "pcie_type": "root_port", "acs": {"cap": "0x005f", "ctl": "0x001d"},
                 "driver": "pcieport", "iommu_group": 0}],
    "groups": {"0": ["0000:00:01.0"]}})");
  const Comparison t = compare(tiny, tiny, {}, "x");
  EXPECT_TRUE(t.differences.empty()) << paths(t);
  EXPECT_EQ(t.compared, 12u);
  // The full report: 5 devices x 9 fields, 5 group memberships, 2 capability registers, and the probe.
  EXPECT_GT(c.compared, 45u + 5u + 2u + 40u);
  EXPECT_EQ(format_table(c), std::to_string(c.compared) + " fields compared, 0 differences, 0 allowed, 0 unexplained\n");
}

TEST(HostvalDiff, KernelCmdlineLspciSourceAndSchemaAreNotCompared) {
  json h = host_report();
  h["schema"] = 2;
  h["kernel"] = "6.5.0";
  const Comparison c = compare(report(), h, {}, "pci-bridge");
  EXPECT_TRUE(c.differences.empty()) << paths(c);
  // ... but a top-level key the schema does not know is compared, not dropped.
  h["extra"] = {{"answer", 42}};
  const Comparison d = compare(report(), h, {}, "pci-bridge");
  ASSERT_EQ(d.differences.size(), 1u) << paths(d);
  EXPECT_EQ(d.differences[0].path, "extra");
  EXPECT_EQ(d.differences[0].kind, "only_host");
}

TEST(HostvalDiff, GroupsAreComparedAsPartitionsNotByNumber) {
  json h = host_report();
  // The host numbered its groups differently (and lists members in another order).
  h["groups"] = json::parse(R"({"7": ["0000:01:00.0"], "12": ["0000:00:02.0"], "3": ["0000:00:01.0"],
                                "9": ["0000:02:00.0", "0000:03:01.0"]})");
  const int numbers[] = {3, 12, 7, 9, 9};
  for (size_t i = 0; i < 5; ++i) h["devices"][i]["iommu_group"] = numbers[i];
  probe_result(h)["group"] = 7;
  const Comparison c = compare(report(), h, {}, "pci-bridge");
  EXPECT_TRUE(c.differences.empty()) << paths(c);
}

TEST(HostvalDiff, AMovedDeviceIsAGroupDifferenceForEveryDeviceWhoseGroupChanged) {
  json h = host_report();
  // On the host the device behind the bridge is isolated from the bridge.
  h["groups"] = json::parse(R"({"0": ["0000:00:01.0"], "1": ["0000:00:02.0"], "2": ["0000:01:00.0"],
                                "3": ["0000:02:00.0"], "4": ["0000:03:01.0"]})");
  h["devices"][4]["iommu_group"] = 4;  // a number only: not a difference
  const Comparison c = compare(report(), h, {}, "pci-bridge");
  ASSERT_EQ(c.differences.size(), 2u) << paths(c);
  const Difference* bridge = find(c, "groups[0000:02:00.0]");
  const Difference* edu = find(c, "groups[0000:03:01.0]");
  ASSERT_TRUE(bridge && edu) << paths(c);
  EXPECT_EQ(bridge->kind, "differs");
  EXPECT_EQ(bridge->simulator, json::parse(R"(["0000:02:00.0", "0000:03:01.0"])"));  // sorted
  EXPECT_EQ(bridge->host, json::parse(R"(["0000:02:00.0"])"));
  EXPECT_EQ(edu->host, json::parse(R"(["0000:03:01.0"])"));
}

TEST(HostvalDiff, HavingAGroupOrNotIsCompared) {
  json h = host_report();
  h["devices"][2]["iommu_group"] = nullptr;
  h["groups"].erase("2");
  const Comparison c = compare(report(), h, {}, "pci-bridge");
  ASSERT_NE(find(c, "devices[0000:01:00.0].iommu_group"), nullptr) << paths(c);
  const Difference* g = find(c, "groups[0000:01:00.0]");
  ASSERT_NE(g, nullptr) << paths(c);
  EXPECT_EQ(g->kind, "only_simulator");
}

TEST(HostvalDiff, AnAcsControlDifferenceIsReportedAtItsPath) {
  json h = host_report();
  h["devices"][1]["acs"]["ctl"] = "0x0000";
  const Comparison c = compare(report(), h, {}, "pci-bridge");
  ASSERT_EQ(c.differences.size(), 1u) << paths(c);
  const Difference& d = c.differences[0];
  EXPECT_EQ(d.path, "devices[0000:00:02.0].acs.ctl");
  EXPECT_EQ(d.kind, "differs");
  EXPECT_EQ(d.simulator, "0x001d");
  EXPECT_EQ(d.host, "0x0000");
  EXPECT_TRUE(d.allowed_by.empty());
}

TEST(HostvalDiff, ADeviceOnOneSideIsOneDifferenceAndNotAGroupDifference) {
  json h = host_report();
  h["devices"].push_back(json::parse(R"({"bdf": "0000:00:1f.2", "vendor": "0x8086", "device": "0x2922",
      "class": "0x010601", "header_type": "0x00", "pcie_type": null, "acs": null, "driver": "ahci", "iommu_group": 9})"));
  h["groups"]["9"] = json::array({"0000:00:1f.2"});
  const Comparison c = compare(report(), h, {}, "pci-bridge");
  ASSERT_EQ(c.differences.size(), 1u) << paths(c);
  EXPECT_EQ(c.differences[0].path, "devices[0000:00:1f.2]");
  EXPECT_EQ(c.differences[0].kind, "only_host");
  EXPECT_TRUE(c.differences[0].simulator.is_null());
  EXPECT_EQ(c.differences[0].host["driver"], "ahci");
}

TEST(HostvalDiff, AProbeFieldInsideNestedArraysIsReportedAtItsPath) {
  json h = host_report();
  probe_result(h)["regions"][0]["caps"][0]["areas"][1]["size"] = "0x2000";
  probe_result(h)["iommu_info"]["caps"][0]["iova_ranges"][1]["end"] = "0xffffffffff";
  const Comparison c = compare(report(), h, {}, "pci-bridge");
  ASSERT_EQ(c.differences.size(), 2u) << paths(c);
  const Difference* area = find(c, kProbe + "regions[0].caps[0].areas[1].size");
  ASSERT_NE(area, nullptr) << paths(c);
  EXPECT_EQ(area->simulator, "0x1000");
  EXPECT_EQ(area->host, "0x2000");
  EXPECT_NE(find(c, kProbe + "iommu_info.caps[0].iova_ranges[1].end"), nullptr) << paths(c);
}

TEST(HostvalDiff, RegionsAndIrqsAreMatchedByIndexNotPosition) {
  json h = host_report();
  json& regions = probe_result(h)["regions"];
  std::swap(regions[1], regions[2]);  // same regions, another order: equal
  EXPECT_TRUE(compare(report(), h, {}, "t").differences.empty());
  // The variant driver's extra region on the simulator side only: one difference, at its index.
  json s = report();
  probe_result(s)["regions"].push_back({{"index", 9}, {"result", 0}, {"flags", "0x1"}, {"size", "0x40"}});
  const Comparison c = compare(s, h, {}, "t");
  ASSERT_EQ(c.differences.size(), 1u) << paths(c);
  EXPECT_EQ(c.differences[0].path, kProbe + "regions[9]");
  EXPECT_EQ(c.differences[0].kind, "only_simulator");
  // Other arrays go by position: two fault lines in the other order are two differences each.
  json f = host_report();
  json& lines = probe_result(f)["faults"]["lines"];
  std::swap(lines[0], lines[1]);
  const Comparison p = compare(report(), f, {}, "t");
  EXPECT_NE(find(p, kProbe + "faults.lines[0].reason"), nullptr) << paths(p);
  EXPECT_NE(find(p, kProbe + "faults.lines[1].access"), nullptr) << paths(p);
}

TEST(HostvalDiff, FaultLinesAreComparedFromDmarOnAndEverythingElseExactly) {
  json h = host_report();
  json& line = probe_result(h)["faults"]["lines"][0]["line"];
  line = "[    5.123456] " + line.get<std::string>();  // a log prefix: normalised
  EXPECT_TRUE(compare(report(), h, {}, "t").differences.empty());
  line = "[    5.123456] DMAR: [DMA Write NO_PASID] Request device [00:02.0] fault addr 0x1001000 [fault reason 0x05] "
         "PTE Write access is not set";
  const Comparison c = compare(report(), h, {}, "t");
  ASSERT_EQ(c.differences.size(), 1u) << paths(c);
  EXPECT_EQ(c.differences[0].path, kProbe + "faults.lines[0].line");
  // A number is not a string, and an ioctl's errno name is not its number.
  json n = host_report();
  probe_result(n)["regions"][3]["result"] = -22;
  probe_result(n)["irqs"][0]["count"] = "1";
  const Comparison e = compare(report(), n, {}, "t");
  EXPECT_NE(find(e, kProbe + "regions[8].result"), nullptr) << paths(e);
  EXPECT_NE(find(e, kProbe + "irqs[0].count"), nullptr) << paths(e);
}

TEST(HostvalDiff, ProbesAreMatchedByDeviceAndDriver) {
  json h = host_report();
  h["probes"][0]["driver"] = "pciesim-vfio-pci";
  h["probes"][0]["exit"] = 1;
  const Comparison c = compare(report(), h, {}, "t");
  ASSERT_EQ(c.differences.size(), 2u) << paths(c);
  EXPECT_EQ(c.differences[0].path, "probes[0000:01:00.0/pciesim-vfio-pci]");
  EXPECT_EQ(c.differences[0].kind, "only_host");
  EXPECT_EQ(c.differences[1].path, "probes[0000:01:00.0/vfio-pci]");
  EXPECT_EQ(c.differences[1].kind, "only_simulator");
}

TEST(HostvalDiff, DmarComparesOnlyTheUnitsCapabilityRegisters) {
  json h = host_report();
  h["dmar"] = json::array({"DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap D2008C22260206 ecap f00f5a",
                           "DMAR: something only this kernel says"});
  const Comparison c = compare(report(), h, {}, "t");
  ASSERT_EQ(c.differences.size(), 1u) << paths(c);  // cap equal (case), ecap not
  EXPECT_EQ(c.differences[0].path, "dmar.ecap");
  EXPECT_EQ(c.differences[0].simulator, "0xf00f4a");
  EXPECT_EQ(c.differences[0].host, "0xf00f5a");
  h["dmar"] = json::array({"DMAR: IOMMU disabled"});
  const Comparison d = compare(report(), h, {}, "t");
  ASSERT_EQ(d.differences.size(), 2u) << paths(d);
  EXPECT_EQ(d.differences[0].path, "dmar.cap");
  EXPECT_EQ(d.differences[0].kind, "only_simulator");
}

TEST(HostvalDiff, MalformedReportsAreRejectedWithTheSideNamed) {
  json h = host_report();
  h["devices"][1].erase("bdf");
  try {
    compare(report(), h, {}, "t");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "host report: devices[1] has no \"bdf\" string");
  }
  json s = report();
  s["groups"]["4"] = json::array({"0000:00:01.0"});
  EXPECT_THROW(compare(s, host_report(), {}, "t"), std::invalid_argument);
}

TEST(HostvalGlob, StarStaysInOneSegmentAndDoubleStarSpansAny) {
  const std::string ctl = "devices[0000:01:00.0].acs.ctl";
  EXPECT_TRUE(path_matches(ctl, ctl));
  EXPECT_TRUE(path_matches("devices[*].acs.ctl", ctl));
  EXPECT_TRUE(path_matches("devices[0000:01:*].acs.*", ctl));
  EXPECT_FALSE(path_matches("devices[*]", ctl));  // no implicit prefix match
  EXPECT_FALSE(path_matches("devices[*].*", ctl));
  EXPECT_FALSE(path_matches("devices*", ctl));  // '*' does not run into the next segment
  EXPECT_TRUE(path_matches("devices[*].**", ctl));
  EXPECT_TRUE(path_matches("devices[*].**", "devices[0000:01:00.0]"));  // '**' matches no segment too
  EXPECT_TRUE(path_matches("**.ctl", ctl));
  EXPECT_TRUE(path_matches("**", ctl));
  EXPECT_TRUE(path_matches("devices.*.acs.ctl", ctl));  // '*' alone is any one segment, an index included
  // A '.' inside brackets does not split: the ICH9 functions, not 00:1e.0.
  EXPECT_TRUE(path_matches("devices[0000:00:1f.*]", "devices[0000:00:1f.3]"));
  EXPECT_FALSE(path_matches("devices[0000:00:1f.*]", "devices[0000:00:1e.0]"));
  EXPECT_TRUE(path_matches("probes[*/vfio-pci].result.**.line", kProbe + "faults.lines[1].line"));
  EXPECT_FALSE(path_matches("probes[*/pciesim-vfio-pci].**", kProbe + "faults.lines[1].line"));
  EXPECT_TRUE(path_matches("probes[*].result.regions[*].flags", kProbe + "regions[7].flags"));
  EXPECT_FALSE(path_matches("probes[*].result.regions[*].flags", kProbe + "regions[7].caps[0].flags"));
  EXPECT_TRUE(path_matches("probes[*].result.regions.**.flags", kProbe + "regions[7].caps[0].flags"));

  EXPECT_EQ(glob_problem("devices[*].**"), "");
  for (const char* bad : {"", "devices[*", "devices]", "a..b", ".a", "a.", "a.[0]", "a[b[c]]", "a[]", "a**",
                          "devices[**]", "x.***"})
    EXPECT_NE(glob_problem(bad), "") << bad;
}

TEST(HostvalAllow, FirstMatchingEntryExplainsADifference) {
  json h = host_report();
  h["devices"][1]["acs"]["ctl"] = "0x0000";
  const std::vector<AllowEntry> allow = {entry("other", "devices[*].acs.cap"), entry("acs-any", "devices[*].**"),
                                         entry("acs-ctl", "**.ctl")};
  const Comparison c = compare(report(), h, allow, "pci-bridge");
  ASSERT_EQ(c.differences.size(), 1u);
  EXPECT_EQ(c.differences[0].allowed_by, "acs-any");
  EXPECT_EQ(c.differences[0].reason, "because");
  EXPECT_EQ(c.allowed(), 1u);
  EXPECT_EQ(c.unexplained(), 0u);
}

TEST(HostvalAllow, TopologyFilter) {
  json h = host_report();
  h["devices"][1]["acs"]["ctl"] = "0x0000";
  AllowEntry e = entry("only-bridge", "devices[*].acs.ctl");
  e.topology = "pci-bridge";
  EXPECT_EQ(compare(report(), h, {e}, "pci-bridge").differences.at(0).allowed_by, "only-bridge");
  EXPECT_EQ(compare(report(), h, {e}, "edu-root-port").differences.at(0).allowed_by, "");
}

TEST(HostvalAllow, ValueConditionedEntriesApplyOnlyToThoseValues) {
  json h = host_report();
  h["devices"][1]["acs"]["ctl"] = "0x0000";
  AllowEntry e = entry("ctl-zero", "devices[*].acs.ctl");
  e.host = json("0x0000");
  EXPECT_EQ(compare(report(), h, {e}, "t").differences.at(0).allowed_by, "ctl-zero");
  e.simulator = json("0x001d");
  EXPECT_EQ(compare(report(), h, {e}, "t").differences.at(0).allowed_by, "ctl-zero");
  e.simulator = json("0x005f");
  EXPECT_EQ(compare(report(), h, {e}, "t").differences.at(0).allowed_by, "");
  // null stands for "absent": an entry for a host-only device does not hide a simulated one's fields.
  AllowEntry absent = entry("host-only", "devices[0000:00:02.0].**");
  absent.simulator = json(nullptr);
  EXPECT_EQ(compare(report(), h, {absent}, "t").differences.at(0).allowed_by, "");
}

TEST(HostvalAllow, TheProjectsAllowListLoadsAndExplainsTheQ35ChipsetDevices) {
  const std::vector<AllowEntry> allow = load_allow_list(std::string(PCIESIM_SOURCE_ROOT) + "/tests/hostval/allow.yaml");
  ASSERT_FALSE(allow.empty());
  for (const AllowEntry& e : allow) EXPECT_GT(e.reason.size(), 40u) << e.id << ": say why, not just what";
  json h = host_report();
  const char* chipset[][3] = {{"0000:00:00.0", "0x29c0", "0x060000"}, {"0000:00:1f.0", "0x2918", "0x060100"},
                              {"0000:00:1f.2", "0x2922", "0x010601"}, {"0000:00:1f.3", "0x2930", "0x0c0500"}};
  for (const auto& [bdf, id, cls] : chipset)
    h["devices"].push_back({{"bdf", bdf}, {"vendor", "0x8086"}, {"device", id}, {"class", cls}, {"acs", nullptr}});
  h["groups"]["20"] = json::array({"0000:00:00.0"});
  h["groups"]["21"] = json::array({"0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"});
  const Comparison c = compare(report(), h, allow, "pci-bridge");
  EXPECT_EQ(c.differences.size(), 4u) << paths(c);
  EXPECT_EQ(c.unexplained(), 0u) << format_table(c);
  EXPECT_EQ(find(c, "devices[0000:00:1f.3]")->allowed_by, "q35-ich9");
  // A simulated device at one of those addresses is compared like any other.
  json s = report();
  s["devices"].push_back({{"bdf", "0000:00:1f.3"}, {"vendor", "0x8086"}, {"device", "0x2930"}, {"class", "0x0c0501"},
                          {"acs", nullptr}});
  const Comparison d = compare(s, h, allow, "pci-bridge");
  ASSERT_NE(find(d, "devices[0000:00:1f.3].class"), nullptr) << paths(d);
  EXPECT_EQ(find(d, "devices[0000:00:1f.3].class")->allowed_by, "");
}

TEST(HostvalAllow, YamlValuesBecomeTheJsonTheReportsHold) {
  const auto allow = load_allow_list_string(R"(
- id: a
  path: x
  reason: r
  simulator: 0x001d
  host: 3
- id: b
  path: x
  reason: r
  simulator: "3"
  host: [true, null, -1, 2.5, {k: v}]
- id: c
  path: x
  reason: r
  simulator: ~
)");
  ASSERT_EQ(allow.size(), 3u);
  EXPECT_EQ(*allow[0].simulator, json("0x001d"));  // hex stays text, as the reports write it
  EXPECT_EQ(*allow[0].host, json::parse("3"));     // the parser's unsigned 3
  EXPECT_EQ(*allow[1].simulator, json("3"));
  EXPECT_EQ(*allow[1].host, json::parse(R"([true, null, -1, 2.5, {"k": "v"}])"));
  ASSERT_TRUE(allow[2].simulator.has_value());
  EXPECT_TRUE(allow[2].simulator->is_null());
  EXPECT_FALSE(allow[2].host.has_value());
  EXPECT_EQ(allow[2].line, 12);
  EXPECT_TRUE(load_allow_list_string("# nothing allowed yet\n").empty());
}

TEST(HostvalAllow, MalformedFilesNameFileLineAndProblem) {
  struct Case {
    const char* yaml;
    const char* message;  // the whole what()
  };
  const Case cases[] = {
      {"id: a\npath: x\nreason: r\n", "allow.yaml:1:1: an allow-list is a YAML list of entries ('- id: ...'), found a mapping"},
      {"- id: a\n  path: x\n", "allow.yaml:1:3: entry has no 'reason'"},
      {"- id: a\n  path: x\n  reason: \"  \"\n", "allow.yaml:3:11: 'reason' is empty"},
      {"- id: a\n  path: x\n  reason: r\n- id: b\n  path: y\n  reason: r\n- id: a\n  path: z\n  reason: r\n",
       "allow.yaml:7:7: duplicate id 'a' (first used at line 1)"},
      {"- id: a\n  path: devices[*.acs\n  reason: r\n",
       "allow.yaml:2:9: bad path glob 'devices[*.acs': '[' at 8 is never closed"},
      {"- id: a\n  path: devices.a**\n  reason: r\n",
       "allow.yaml:2:9: bad path glob 'devices.a**': '**' must be a whole segment (a**); inside a segment use '*'"},
      {"- id: a\n  path: x\n  reason: r\n  why: w\n",
       "allow.yaml:4:3: unknown key 'why' (an entry has id, path, reason, topology, simulator, host)"},
      {"- id: a\n  path: x\n  reason: r\n  reason: s\n", "allow.yaml:4:3: key 'reason' given twice"},
      {"- id: [a]\n  path: x\n  reason: r\n", "allow.yaml:1:7: 'id' must be text, found a list"},
      {"- just a string\n", "allow.yaml:1:3: an allow-list entry is a mapping with id, path and reason, found 'just a string'"},
      {"- id: a\n  path: x\n  reason: r\n  host: !!int 3\n", "allow.yaml:4:9: YAML tags (tag:yaml.org,2002:int) are not supported in values"},
  };
  for (const Case& c : cases) {
    try {
      load_allow_list_string(c.yaml, "allow.yaml");
      ADD_FAILURE() << "accepted:\n" << c.yaml;
    } catch (const AllowListError& e) {
      EXPECT_EQ(std::string(e.what()), c.message);
      EXPECT_EQ(e.file(), "allow.yaml");
    }
  }
  // YAML syntax, from a real file: the message names the path.
  const std::string file = std::filesystem::temp_directory_path() / ("hostval-allow-" + std::to_string(getpid()) + ".yaml");
  std::ofstream(file) << "- id: a\n  path: x\n  reason: [unclosed\n";
  try {
    load_allow_list(file);
    ADD_FAILURE() << "accepted a syntax error";
  } catch (const AllowListError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(file + ":", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("YAML syntax error"), std::string::npos) << e.what();
    EXPECT_GT(e.line(), 0);
  }
  std::remove(file.c_str());
  EXPECT_THROW(load_allow_list(file), AllowListError);  // no such file
}

TEST(HostvalTable, OneLinePerDifferenceWithVerdictAndSummary) {
  json h = host_report();
  h["devices"][1]["acs"]["ctl"] = "0x0000";
  h["devices"].push_back({{"bdf", "0000:00:1f.0"}, {"vendor", "0x8086"}, {"device", "0x2918"},
                          {"class", "0x060100"}, {"driver", "lpc_ich"}, {"acs", nullptr}});
  probe_result(h)["faults"]["lines"][1]["line"] =
      "DMAR: [DMA Read NO_PASID] Request device [01:00.0] fault addr 0x1000000 [fault reason 0x05] PTE Write access";
  AllowEntry ich9 = entry("q35-ich9", "devices[0000:00:1f.*]");
  const Comparison c = compare(report(), h, {ich9}, "t");
  const std::string t = format_table(c);
  EXPECT_EQ(t.rfind("path ", 0), 0u) << t;
  using Cols = std::vector<std::string>;
  EXPECT_EQ(row(t, "devices[0000:00:02.0].acs.ctl"),
            (Cols{"devices[0000:00:02.0].acs.ctl", "\"0x001d\"", "\"0x0000\"", "DIFFERS"})) << t;
  // A one-sided device: "(absent)", the device cut to ~40 characters, the entry that explains it.
  EXPECT_EQ(row(t, "devices[0000:00:1f.0]"),
            (Cols{"devices[0000:00:1f.0]", "(absent)", "{\"acs\":null,\"bdf\":\"0000:00:1f.0\",\"cla...",
                  "allowed (q35-ich9)"})) << t;
  // Two long lines that differ near their end show where they differ, not the same 40 characters.
  EXPECT_EQ(row(t, kProbe + "faults.lines[1].line"),
            (Cols{kProbe + "faults.lines[1].line", "...t reason 0x06] PTE Read access is ...",
                  "...t reason 0x05] PTE Write access\"", "DIFFERS"})) << t;
  EXPECT_NE(t.find("\n" + std::to_string(c.compared) + " fields compared, 3 differences, 1 allowed, 2 unexplained\n"),
            std::string::npos)
      << t;
}
