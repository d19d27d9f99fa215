// pciesim boot: the co-simulated kernel's dmesg and sysfs for a topology, as a user runs it.
#include <gtest/gtest.h>

#include "cli_run.h"

namespace {

using cli_test::pciesim;
using cli_test::src;

const std::string kTopo = src("scenarios/topologies/two-level-switch.yaml");

TEST(BootCli, PrintsTheScanTheDmarBringUpAndTheGroupsAsDmesgDoes) {
  const auto r = pciesim("boot " + kTopo);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("pci 0000:09:00.1: [8086:1572] type 00 class 0x020000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("DMAR: dmar0: reg_base_addr fed90000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pci 0000:09:00.1: Adding to iommu group 14"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("DMA domain TLB invalidation policy: lazy mode"), std::string::npos) << r.out;
}

TEST(BootCli, GroupsCommandReportsWhatTheBootedKernelFormed) {
  // sw1-dp1 implements ACS that firmware left off: Linux enables it (pci_enable_acs), so nvme1
  // (06:00.0) is alone, while nvme0 below sw1-dp0 (no ACS capability) shares the port's group.
  const auto g = pciesim("groups " + kTopo);
  ASSERT_EQ(g.code, 0) << g.out;
  EXPECT_NE(g.out.find("0000:04:08.0 8\n"), std::string::npos) << g.out;
  EXPECT_NE(g.out.find("0000:05:00.0 8\n"), std::string::npos) << g.out;
  EXPECT_NE(g.out.find("0000:06:00.0 12\n"), std::string::npos) << g.out;
  const auto b = pciesim("boot " + kTopo);
  EXPECT_NE(b.out.find("0000:06:00.0: Adding to iommu group 12"), std::string::npos) << b.out;
}

TEST(BootCli, IommuOffAndStrictAreKernelCommandLineChoices) {
  auto r = pciesim("boot " + kTopo + " --iommu off");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("Adding to iommu group"), std::string::npos) << r.out;
  r = pciesim("boot " + kTopo + " --strict");
  EXPECT_NE(r.out.find("policy: strict mode"), std::string::npos) << r.out;
  r = pciesim("boot " + kTopo + " --iommu maybe");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--iommu takes on, off or pt"), std::string::npos) << r.out;
}

TEST(BootCli, SysfsViewOfOneDevice) {
  const auto r = pciesim("boot " + kTopo + " --sysfs /sys/bus/pci/devices/0000:09:00.1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("/sys/bus/pci/devices/0000:09:00.1/vendor: 0x8086"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("iommu_group -> ../../../kernel/iommu_groups/14"), std::string::npos) << r.out;
  const auto bad = pciesim("boot " + kTopo + " --sysfs /sys/nowhere");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("no such sysfs path"), std::string::npos) << bad.out;
}

TEST(BootCli, AnUnknownModuleIsAClearError) {
  const auto r = pciesim("boot " + kTopo + " --modprobe no_such_module");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("no module 'no_such_module'"), std::string::npos) << r.out;
}

}  // namespace
