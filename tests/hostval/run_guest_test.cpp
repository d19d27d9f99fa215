// run-guest.sh (tests/hostval/) without booting anything: its usage errors, the device file's
// checks, and status 77 (skipped, never passed) where the guest cannot run.
#include <gtest/gtest.h>

#include "fake_sysfs.h"

namespace pciesim::hostval_test {
namespace {

const std::string kRunGuest = RUN_GUEST_SH;

struct RunGuest : ::testing::Test {
  FakeSysfs dir;  // only for its temporary directory
  fs::path devices = dir.root() / "machine.qemu";
  CmdResult run_guest(const std::string& args) { return run("bash " + quote(kRunGuest) + " " + args); }
};

TEST_F(RunGuest, NoGuestImageIsSkippedWithTheReason) {
  FakeSysfs::write(devices, "# edu on a root port\n-device pcie-root-port,id=rp0,bus=pcie.0,chassis=1\n  edu,bus=rp0\n");
  const CmdResult r = run_guest("--qemu-devices " + quote(devices) + " --out " + quote(dir.root() / "r.json") +
                                " --guest " + quote(dir.root() / "no-guest"));
  EXPECT_EQ(r.code, 77) << r.err;
  EXPECT_NE(r.err.find("SKIPPED: no"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.root() / "r.json"));
}

TEST_F(RunGuest, OnlyDeviceLinesWithoutSpaces) {
  FakeSysfs::write(devices, "-device edu\n-m 4096\n");
  CmdResult r = run_guest("--qemu-devices " + quote(devices) + " --out x.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("machine.qemu:2: only -device lines are allowed, not '-m 4096'"), std::string::npos) << r.err;
  FakeSysfs::write(devices, "-device edu, bus=rp0\n");
  r = run_guest("--qemu-devices " + quote(devices) + " --out x.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("machine.qemu:1: a device spec has no spaces"), std::string::npos) << r.err;
}

TEST_F(RunGuest, BadUsage) {
  EXPECT_EQ(run_guest("").code, 2);
  EXPECT_EQ(run_guest("--qemu-devices " + quote(devices)).code, 2) << "--out is required";
  EXPECT_EQ(run_guest("--qemu-devices /nonexistent --out x.json").code, 2);
  FakeSysfs::write(devices, "edu\n");
  EXPECT_EQ(run_guest("--qemu-devices " + quote(devices) + " --out x.json --kvm maybe").code, 2);
  EXPECT_EQ(run_guest("--qemu-devices " + quote(devices) + " --out x.json --timeout soon").code, 2);
}

}  // namespace
}  // namespace pciesim::hostval_test
