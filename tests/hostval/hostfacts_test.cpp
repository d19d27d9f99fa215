// hostfacts (tools/hostval/hostfacts.c) on fake sysfs trees: the devices and groups parts of the
// host report (docs/hostval.md) -- ids, header type, the PCIe capability's port type found through
// the capability list, the ACS registers found through the extended capability list, driver and
// group links -- and its JSON helpers (--json-string, --json-lines, --json-valid).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fake_sysfs.h"

namespace pciesim::hostval_test {
namespace {

using nlohmann::json;

const std::string kHostfacts = HOSTFACTS_BINARY;

CmdResult hostfacts(const std::string& args) { return run(quote(kHostfacts) + " " + args); }

json facts_of(const FakeSysfs& sys, CmdResult* out = nullptr) {
  CmdResult r = hostfacts("--root " + quote(sys.root()));
  if (out) *out = r;
  EXPECT_EQ(hostfacts("--json-valid - <<'EOF'\n" + r.out + "EOF").code, 0) << r.out;
  return json::parse(r.out, nullptr, false);
}

json device(const json& facts, const std::string& bdf) {
  for (const json& d : facts.at("devices"))
    if (d.at("bdf") == bdf) return d;
  return nullptr;
}

// A root port as QEMU's pcie-root-port presents it after Linux enabled ACS: MSI at 0x48 first, the
// PCIe capability (type 4) at 0x54; extended capabilities AER at 0x100, ACS at 0x148.
Config root_port_config() {
  Config c(4096);
  c.u16(0, 0x1b36).u16(2, 0x000c).u8(0x0e, 0x81);  // header type 1, multi-function bit set
  c.u8(0x34, 0x48).cap(0x48, 0x05, 0x54).cap(0x54, 0x10, 0x00).u16(0x56, 0x0042);
  c.ext_cap(0x100, 0x0001, 0x148).ext_cap(0x148, 0x000d, 0x000).u16(0x14c, 0x005f).u16(0x14e, 0x001d);
  return c;
}

TEST(Hostfacts, DevicesWithTheirCapabilitiesDriversAndGroups) {
  FakeSysfs sys;
  Config host_bridge;
  host_bridge.u16(0, 0x8086).u16(2, 0x29c0);
  sys.add_device("0000:00:00.0", 0x8086, 0x29c0, 0x060000, host_bridge, "", 0);
  sys.add_device("0000:00:01.0", 0x1b36, 0x000c, 0x060400, root_port_config(), "pcieport", 1);
  Config edu;  // a conventional function: no capability list
  sys.add_device("0000:01:00.0", 0x1234, 0x11e8, 0x00ff00, edu, "vfio-pci", 3);

  CmdResult r;
  const json facts = facts_of(sys, &r);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  ASSERT_EQ(facts.at("devices").size(), 3u);
  EXPECT_EQ(facts["devices"][0]["bdf"], "0000:00:00.0");
  EXPECT_EQ(facts["devices"][2]["bdf"], "0000:01:00.0");

  const json rp = device(facts, "0000:00:01.0");
  EXPECT_EQ(rp, json::parse(R"({"bdf": "0000:00:01.0", "vendor": "0x1b36", "device": "0x000c", "class": "0x060400",
      "header_type": "0x01", "pcie_type": "root_port", "acs": {"cap": "0x005f", "ctl": "0x001d"},
      "driver": "pcieport", "iommu_group": 1})"));
  const json e = device(facts, "0000:01:00.0");
  EXPECT_EQ(e["vendor"], "0x1234");
  EXPECT_EQ(e["class"], "0x00ff00");
  EXPECT_EQ(e["header_type"], "0x00");
  EXPECT_EQ(e["pcie_type"], nullptr);
  EXPECT_EQ(e["acs"], nullptr);
  EXPECT_EQ(e["driver"], "vfio-pci");
  EXPECT_EQ(e["iommu_group"], 3);
  EXPECT_EQ(device(facts, "0000:00:00.0")["driver"], nullptr);

  EXPECT_EQ(facts.at("groups"), json::parse(R"({"0": ["0000:00:00.0"], "1": ["0000:00:01.0"], "3": ["0000:01:00.0"]})"));
}

TEST(Hostfacts, EveryPortTypeByNameAndUnknownOnesInHex) {
  FakeSysfs sys;
  const std::pair<unsigned, const char*> types[] = {
      {0x0, "endpoint"},           {0x1, "legacy_endpoint"},    {0x4, "root_port"},
      {0x5, "upstream_port"},      {0x6, "downstream_port"},    {0x7, "pcie_to_pci_bridge"},
      {0x8, "pci_to_pcie_bridge"}, {0x9, "rc_integrated_endpoint"}, {0xa, "rc_event_collector"},
      {0x3, "0x3"},
  };
  int fn = 0;
  for (const auto& [type, name] : types) {
    Config c;
    c.u8(0x34, 0x40).cap(0x40, 0x10, 0).u16(0x42, static_cast<uint16_t>(type << 4 | 2));
    sys.add_device("0000:02:00." + std::to_string(fn++), 0x8086, 0x1234, 0x020000, c);
  }
  const json facts = facts_of(sys);
  for (size_t i = 0; i < std::size(types); ++i)
    EXPECT_EQ(facts["devices"][i]["pcie_type"], types[i].second) << "type " << types[i].first;
  EXPECT_EQ(facts["groups"], json::object()) << "no iommu_groups directory: no IOMMU, no groups";
}

TEST(Hostfacts, AcsAfterOtherExtendedCapabilitiesAndNoLoopForever) {
  FakeSysfs sys;
  Config switch_port(4096);  // ACS third in the list
  switch_port.u8(0x34, 0x40).cap(0x40, 0x10, 0).u16(0x42, 0x0062);
  switch_port.ext_cap(0x100, 0x0001, 0x140).ext_cap(0x140, 0x000b, 0x200).ext_cap(0x200, 0x000d, 0);
  switch_port.u16(0x204, 0x001f).u16(0x206, 0x0000);
  sys.add_device("0000:03:01.0", 0x104c, 0x8233, 0x060400, switch_port);
  Config looping(4096);  // the extended list points at itself, and the capability list too
  looping.u8(0x34, 0x40).cap(0x40, 0x05, 0x40).ext_cap(0x100, 0x0001, 0x100);
  sys.add_device("0000:03:02.0", 0x104c, 0x8233, 0x060400, looping);
  Config conventional(4096);  // a conventional function behind a bridge reads 0xffffffff at 0x100
  conventional.u32(0x100, 0xffffffff);
  sys.add_device("0000:03:03.0", 0x8086, 0x100e, 0x020000, conventional);

  const json facts = facts_of(sys);
  EXPECT_EQ(device(facts, "0000:03:01.0")["acs"], json::parse(R"({"cap": "0x001f", "ctl": "0x0000"})"));
  EXPECT_EQ(device(facts, "0000:03:01.0")["pcie_type"], "downstream_port");
  EXPECT_EQ(device(facts, "0000:03:02.0")["acs"], nullptr);
  EXPECT_EQ(device(facts, "0000:03:02.0")["pcie_type"], nullptr);
  EXPECT_EQ(device(facts, "0000:03:03.0")["acs"], nullptr);
}

TEST(Hostfacts, GroupsInNumericOrderWithSortedMembers) {
  FakeSysfs sys;
  Config c;
  sys.add_device("0000:05:00.1", 0x1234, 0x11e8, 0x00ff00, c, "", 10);
  sys.add_device("0000:05:00.0", 0x1234, 0x11e8, 0x00ff00, c, "", 10);
  sys.add_device("0000:04:00.0", 0x1234, 0x11e8, 0x00ff00, c, "", 9);
  CmdResult r = hostfacts("--root " + quote(sys.root()));
  EXPECT_LT(r.out.find("\"9\": [\"0000:04:00.0\"]"), r.out.find("\"10\": [\"0000:05:00.0\", \"0000:05:00.1\"]"))
      << r.out;
}

TEST(Hostfacts, AShortConfigFileIsAWarningAndTheRestIsStillPrinted) {
  FakeSysfs sys;
  Config truncated(10);
  sys.add_device("0000:06:00.0", 0x1234, 0x11e8, 0x00ff00, truncated, "", 1);
  CmdResult r;
  const json facts = facts_of(sys, &r);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("0000:06:00.0: read only 10 bytes"), std::string::npos) << r.err;
  EXPECT_EQ(device(facts, "0000:06:00.0")["header_type"], nullptr);
  EXPECT_EQ(device(facts, "0000:06:00.0")["vendor"], "0x1234");
}

TEST(Hostfacts, MembersEmbedInAnObject) {
  FakeSysfs sys;
  sys.add_device("0000:00:01.0", 0x1b36, 0x000c, 0x060400, root_port_config(), "pcieport", 1);
  CmdResult r = hostfacts("--root " + quote(sys.root()) + " --members");
  EXPECT_EQ(r.code, 0);
  const json j = json::parse("{\"schema\": 1,\n" + r.out + "}", nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["devices"][0]["acs"]["ctl"], "0x001d");
}

TEST(Hostfacts, NoPciDirectoryIsAnError) {
  CmdResult r = hostfacts("--root /nonexistent-hostval-root");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot read /nonexistent-hostval-root/sys/bus/pci/devices"), std::string::npos) << r.err;
  EXPECT_EQ(hostfacts("--bogus").code, 2);
}

TEST(HostfactsJson, StringEscapesEverythingJsonMust) {
  const std::string input = std::string("tab\there \"quoted\" back\\slash\r\nbell\x07 caf\xc3\xa9 bad\xff end");
  char tmpl[] = "/tmp/hostval-str.XXXXXX";
  close(mkstemp(tmpl));
  FakeSysfs::write(tmpl, input);
  CmdResult r = hostfacts(std::string("--json-string ") + tmpl);
  unlink(tmpl);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "\"tab\\there \\\"quoted\\\" back\\\\slash\\r\\nbell\\u0007 caf\xc3\xa9 bad\\ufffd end\"\n");
  const json j = json::parse(r.out);
  EXPECT_EQ(j.get<std::string>(), "tab\there \"quoted\" back\\slash\r\nbell\x07 caf\xc3\xa9 bad\xef\xbf\xbd end");
  EXPECT_EQ(hostfacts("--json-string /nonexistent-file").code, 1);
}

TEST(HostfactsJson, LinesBecomeAnArrayOfStrings) {
  CmdResult r = hostfacts("--json-lines - <<'EOF'\n[    0.1] DMAR: IOMMU enabled\nsecond \"line\"\n\nlast\nEOF");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(json::parse(r.out), json::parse(R"(["[    0.1] DMAR: IOMMU enabled", "second \"line\"", "", "last"])"));
  EXPECT_EQ(json::parse(hostfacts("--json-lines /dev/null").out), json::array());
}

TEST(HostfactsJson, ValidAcceptsJsonAndNothingElse) {
  for (const char* good : {R"({"a": [1, -0.5e+3, "x\u00e9\n", true, false, null, {}], "b": {}})", "  42 ", "\"s\"", "[]"}) {
    CmdResult r = hostfacts(std::string("--json-valid - <<'EOF'\n") + good + "\nEOF");
    EXPECT_EQ(r.code, 0) << good << ": " << r.err;
  }
  for (const char* bad : {"", "{", R"({"a": [1,]})", R"({"a" 1})", "[01]", "nul", "{} {}", "\"\\x\"", "[1.]",
                          "\"tab\there\"", "{\"a\": 1,}"}) {
    CmdResult r = hostfacts(std::string("--json-valid - <<'EOF'\n") + bad + "\nEOF");
    EXPECT_EQ(r.code, 1) << bad;
  }
  CmdResult truncated = hostfacts("--json-valid - <<'EOF'\n{\"device_info\": {\"flags\": \"0x3\",\nEOF");
  EXPECT_EQ(truncated.code, 1);
  EXPECT_NE(truncated.err.find("not one JSON value"), std::string::npos);
}

}  // namespace
}  // namespace pciesim::hostval_test
