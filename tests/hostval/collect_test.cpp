// collect.sh (tools/hostval/collect.sh) on fake sysfs trees, under bash, dash and busybox ash
// (each where installed): the report is one well-formed JSON document with every key of
// docs/hostval.md; a probe's bind, run and restore go through driver_override and the drivers'
// files; and whatever fails lands in the report ("error", "errors"), never dropped. The fake tree
// has every driver directory the runs name, so collect.sh never loads a module of this machine.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fake_sysfs.h"

namespace pciesim::hostval_test {
namespace {

using nlohmann::json;

const std::string kCollect = COLLECT_SH;
const std::string kHostfacts = HOSTFACTS_BINARY;

std::vector<std::string> shells() {
  std::vector<std::string> out = {"bash"};
  for (const char* sh : {"dash", "busybox"})
    if (run(std::string("command -v ") + sh).code == 0) out.push_back(sh == std::string("busybox") ? "busybox ash" : sh);
  return out;
}

class Collect : public ::testing::TestWithParam<std::string> {
 protected:
  FakeSysfs sys;
  fs::path out = sys.root() / "report.json";

  void SetUp() override {
    Config rp(4096);
    rp.u8(0x34, 0x40).cap(0x40, 0x10, 0).u16(0x42, 0x0042).ext_cap(0x100, 0x000d, 0).u16(0x104, 0x5f).u16(0x106, 0x1d);
    sys.add_device("0000:00:01.0", 0x1b36, 0x000c, 0x060400, rp, "pcieport", 1);
    sys.add_device("0000:01:00.0", 0x1234, 0x11e8, 0x00ff00, Config(), "", 2);
    sys.bind("0000:01:00.0", "vfio-pci");  // the driver directories collect.sh will look for
    sys.bind("0000:01:00.0", "pciesim_vfio_pci");
    std::error_code ec;
    fs::remove(sys.device_dir("0000:01:00.0") / "driver", ec);
  }

  // A stand-in for vfio_probe: prints `body` and exits with `code`.
  std::string fake_probe(const std::string& body, int code) {
    const fs::path p = sys.root() / ("vfio_probe_" + std::to_string(m_probes++));
    FakeSysfs::write(p, "#!/bin/sh\ncat <<'EOF'\n" + body + "\nEOF\nexit " + std::to_string(code) + "\n");
    fs::permissions(p, fs::perms::owner_all);
    return p;
  }

  json collect(const std::string& args, CmdResult* r_out = nullptr) {
    const CmdResult r = run(GetParam() + " " + quote(kCollect) + " --root " + quote(sys.root()) + " --hostfacts " +
                      quote(kHostfacts) + " --out " + quote(out) + " --fault-spacing 0 " + args);
    if (r_out) *r_out = r;
    EXPECT_EQ(r.code, 0) << r.err;
    const json j = json::parse(FakeSysfs::read(out), nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << FakeSysfs::read(out) << "\n" << r.err;
    return j;
  }

  // The report's errors as one string, for substring checks.
  static std::string errors(const json& report) { return report.contains("errors") ? report["errors"].dump() : ""; }

 private:
  int m_probes = 0;
};

TEST_P(Collect, AReportWithEveryKeyAndNoProbes) {
  const json r = collect("--devices none");
  for (const char* key : {"schema", "source", "kernel", "cmdline", "dmar", "devices", "groups", "probes", "lspci"})
    EXPECT_TRUE(r.contains(key)) << key;
  EXPECT_EQ(r["schema"], 1);
  EXPECT_EQ(r["source"], "host");
  EXPECT_FALSE(r["kernel"].get<std::string>().empty());
  EXPECT_TRUE(r["dmar"].is_array());
  ASSERT_EQ(r["devices"].size(), 2u);
  EXPECT_EQ(r["devices"][0]["acs"], json::parse(R"({"cap": "0x005f", "ctl": "0x001d"})"));
  EXPECT_EQ(r["groups"], json::parse(R"({"1": ["0000:00:01.0"], "2": ["0000:01:00.0"]})"));
  EXPECT_EQ(r["probes"], json::array());
  EXPECT_TRUE(r["lspci"].is_string() || r["lspci"].is_null());
  EXPECT_EQ(errors(r).find("no device to probe"), std::string::npos);
}

TEST_P(Collect, AProbeBindsThroughDriverOverrideRunsAndGivesTheDeviceBack) {
  // Bound to vfio-pci already: collect.sh writes driver_override and needs no drivers_probe (the
  // fake tree cannot bind); the second driver cannot bind, which is recorded.
  sys.bind("0000:01:00.0", "vfio-pci");
  const std::string probe = fake_probe(R"({"device": "0000:01:00.0", "completed": true})", 0);
  const json r = collect("--devices 01:00.0 --vfio-probe " + quote(probe));
  ASSERT_EQ(r["probes"].size(), 2u) << r.dump(2);
  EXPECT_EQ(r["probes"][0], json::parse(R"({"device": "0000:01:00.0", "driver": "vfio-pci", "exit": 0,
      "result": {"device": "0000:01:00.0", "completed": true}})"));
  const json& second = r["probes"][1];
  EXPECT_EQ(second["driver"], "pciesim_vfio_pci");
  EXPECT_EQ(second["exit"], nullptr);
  EXPECT_FALSE(second.contains("result"));
  EXPECT_NE(second["error"].get<std::string>().find("drivers_probe left the device bound to vfio-pci"), std::string::npos)
      << second;
  // What collect.sh wrote: unbinds, the override, the probe request, and the way back to vfio-pci.
  EXPECT_EQ(FakeSysfs::read(sys.pci() / "drivers_probe"), "0000:01:00.0\n");
  EXPECT_EQ(FakeSysfs::read(sys.pci() / "drivers/vfio-pci/unbind"), "0000:01:00.0\n");
  EXPECT_EQ(FakeSysfs::read(sys.pci() / "drivers/vfio-pci/bind"), "0000:01:00.0\n");
  EXPECT_EQ(FakeSysfs::read(sys.device_dir("0000:01:00.0") / "driver_override"), "\n") << "cleared at the end";
}

TEST_P(Collect, AProbeThatPrintsNoJsonIsRecordedWithItsOutput) {
  sys.bind("0000:01:00.0", "vfio-pci");
  const std::string probe = fake_probe("{\"device\": \"0000:01:00.0\", \"regi", 1);
  const json r = collect("--devices 0000:01:00.0 --drivers vfio-pci --vfio-probe " + quote(probe));
  ASSERT_EQ(r["probes"].size(), 1u);
  EXPECT_EQ(r["probes"][0]["exit"], 1);
  EXPECT_EQ(r["probes"][0]["result"], nullptr);
  EXPECT_NE(r["probes"][0]["error"].get<std::string>().find("not JSON: {\"device\": \"0000:01:00.0\", \"regi"),
            std::string::npos)
      << r["probes"][0];
}

TEST_P(Collect, AutoFindsEveryEduAndMissingPiecesAreErrors) {
  sys.add_device("0000:02:00.0", 0x8086, 0x100e, 0x020000, Config(), "", 3);
  CmdResult run_out;
  const json r = collect("--devices auto --vfio-probe /nonexistent/vfio_probe", &run_out);
  EXPECT_EQ(r["probes"], json::array());
  EXPECT_NE(errors(r).find("vfio_probe not found at /nonexistent/vfio_probe"), std::string::npos) << errors(r);

  const json r2 = collect("--devices 0000:09:00.0,bogus");
  EXPECT_NE(errors(r2).find("device 0000:09:00.0: no such PCI function"), std::string::npos) << errors(r2);
  EXPECT_NE(errors(r2).find("'bogus' is not a PCI address"), std::string::npos) << errors(r2);
}

TEST_P(Collect, BadUsageIsStatusTwo) {
  EXPECT_EQ(run(GetParam() + " " + quote(kCollect) + " --devices").code, 2);
  EXPECT_EQ(run(GetParam() + " " + quote(kCollect) + " --devices none").code, 2) << "--out is required";
  EXPECT_EQ(run(GetParam() + " " + quote(kCollect) + " --out x --fault-spacing soon").code, 2);
}

INSTANTIATE_TEST_SUITE_P(Shells, Collect, ::testing::ValuesIn(shells()), [](const auto& info) {
  std::string name = info.param;
  for (char& c : name)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
});

}  // namespace
}  // namespace pciesim::hostval_test
