// The co-simulated kernel's sysfs view: attribute formats, links, and the writes users make
// (driver_override, bind/unbind, drivers_probe, reset, enable) with Linux's errnos.
#include <algorithm>
#include <cstring>

#include "kernel_fixture.h"
#include "iommu/iommu_api.h"
#include "kernel/sysfs.h"
#include "kernel/kapi.h"

namespace pciesim::test {
namespace {

int g_bound = 0;
int probe_ok(pci_dev*, const pci_device_id*) {
  ++g_bound;
  return 0;
}
pci_device_id g_nothing[] = {{}};  // binds only through driver_override

struct KernelSysfs : KernelFixture {
  void SetUp() override {
    g_bound = 0;
    boot();
  }
  std::string cat(const std::string& path) {
    std::string v;
    EXPECT_EQ(k->sysfs().read(path, v), 0) << path;
    return v;
  }
  std::string devdir(const std::string& name) { return "/sys/bus/pci/devices/" + dev(name).name; }
};

TEST_F(KernelSysfs, DeviceAttributesHaveLinuxsFormats) {
  const std::string d = devdir("epF");
  EXPECT_EQ(cat(d + "/vendor"), "0x15b3\n");
  EXPECT_EQ(cat(d + "/device"), "0x1017\n");
  EXPECT_EQ(cat(d + "/class"), "0x020000\n");
  EXPECT_EQ(cat(d + "/driver_override"), "(null)\n");
  EXPECT_EQ(cat(d + "/enable"), "0\n");
  const std::string res = cat(d + "/resource");
  char first[80];
  std::snprintf(first, sizeof first, "0x%016llx 0x%016llx 0x%016llx\n", (unsigned long long)bar(*f, "epF", 0),
                (unsigned long long)(bar(*f, "epF", 0) + (1 << 20) - 1), 0x14220cull);
  EXPECT_EQ(res.substr(0, std::strlen(first)), first) << "64-bit prefetchable: IORESOURCE_MEM|PREFETCH|SIZEALIGN|MEM_64 | BAR bits";
  EXPECT_EQ(std::count(res.begin(), res.end(), '\n'), PCI_NUM_RESOURCES);
  std::string v;
  EXPECT_EQ(k->sysfs().read(d + "/reset", v), -EACCES);
  EXPECT_EQ(k->sysfs().read(d + "/nonsense", v), -ENOENT);
  EXPECT_EQ(k->sysfs().read(d, v), -EISDIR);
}

TEST_F(KernelSysfs, IommuGroupsDirectoryMatchesTheDevicesLinks) {
  const std::string link = cat(devdir("epA") + "/iommu_group");
  const std::string n = link.substr(link.rfind('/') + 1, link.size() - link.rfind('/') - 2);
  std::vector<std::string> members;
  ASSERT_EQ(k->sysfs().list("/sys/kernel/iommu_groups/" + n + "/devices", members), 0);
  EXPECT_NE(std::find(members.begin(), members.end(), dev("epA").name), members.end());
  EXPECT_NE(std::find(members.begin(), members.end(), dev("dpA").name), members.end());
  EXPECT_EQ(cat("/sys/kernel/iommu_groups/" + n + "/type"), "DMA-FQ\n");
  EXPECT_EQ(cat("/sys/kernel/iommu_groups/" + n + "/reserved_regions"), "0x00000000fee00000 0x00000000feefffff msi\n");
  std::vector<std::string> groups;
  ASSERT_EQ(k->sysfs().list("/sys/kernel/iommu_groups", groups), 0);
  EXPECT_EQ(groups.size(), k->iommu().groups().size());
  EXPECT_EQ(groups.front(), "0");
}

TEST_F(KernelSysfs, DriverOverrideThenDriversProbeBindsAndUnbindWorks) {
  pci_driver drv{};
  drv.name = "ovr";
  drv.id_table = g_nothing;
  drv.probe = probe_ok;
  k->run("load", [&] { pci_register_driver(&drv); });
  EXPECT_EQ(g_bound, 0);
  const std::string name = dev("epB").name;
  EXPECT_EQ(k->sysfs().write("/sys/bus/pci/drivers/ovr/bind", name), -ENODEV) << "no id matches";
  EXPECT_EQ(k->sysfs().write(devdir("epB") + "/driver_override", "ovr\n"), 0);
  EXPECT_EQ(cat(devdir("epB") + "/driver_override"), "ovr\n");
  EXPECT_EQ(k->sysfs().write("/sys/bus/pci/drivers_probe", name), 0);
  EXPECT_EQ(g_bound, 1);
  EXPECT_EQ(cat(devdir("epB") + "/driver"), "../../../bus/pci/drivers/ovr\n");
  std::vector<std::string> bound;
  k->sysfs().list("/sys/bus/pci/drivers/ovr", bound);
  EXPECT_NE(std::find(bound.begin(), bound.end(), name), bound.end());
  EXPECT_EQ(k->sysfs().write("/sys/bus/pci/drivers/ovr/unbind", dev("epA").name), -ENODEV) << "not bound to ovr";
  EXPECT_EQ(k->sysfs().write("/sys/bus/pci/drivers/ovr/unbind", name), 0);
  EXPECT_EQ(dev("epB").dev->driver, nullptr);
  EXPECT_EQ(k->sysfs().write(devdir("epB") + "/vendor", "0x1234"), -EACCES);
  k->run("unload", [&] { pci_unregister_driver(&drv); });
}

TEST_F(KernelSysfs, ResetAndEnableAttributes) {
  EXPECT_EQ(k->sysfs().write(devdir("epF") + "/enable", "1"), 0);
  EXPECT_EQ(cat(devdir("epF") + "/enable"), "1\n");
  EXPECT_TRUE(fn(*f, "epF").fn->memory_enabled());
  EXPECT_EQ(k->sysfs().write(devdir("epF") + "/reset", "2"), -EINVAL);
  EXPECT_EQ(k->sysfs().write(devdir("epF") + "/reset", "1\n"), 0);
  EXPECT_EQ(k->sysfs().write(devdir("epF") + "/enable", "0"), 0);
  EXPECT_EQ(k->sysfs().write(devdir("epF") + "/enable", "0"), -EIO) << "disabling a disabled device";
}

TEST_F(KernelSysfs, ARescanOfAnUnchangedMachineAddsNothing) {
  const size_t devices = k->pci().devices().size(), groups = k->iommu().groups().size();
  const size_t adding = k->log().grep("Adding to iommu group").size();
  EXPECT_EQ(k->sysfs().write("/sys/bus/pci/rescan", "1"), 0);
  EXPECT_EQ(k->sysfs().write("/sys/bus/pci/rescan", "x"), -EINVAL);
  EXPECT_EQ(k->pci().devices().size(), devices);
  EXPECT_EQ(k->iommu().groups().size(), groups);
  EXPECT_EQ(k->log().grep("Adding to iommu group").size(), adding);
  EXPECT_EQ(k->log().grep("PCI host bridge to bus").size(), 1u);
}

TEST_F(KernelSysfs, DumpListsEveryAttribute) {
  const std::string out = k->sysfs().dump("/sys/bus/pci/devices/" + dev("epA").name);
  EXPECT_NE(out.find("/vendor: 0x8086"), std::string::npos) << out;
  EXPECT_NE(out.find("/iommu_group -> ../../../kernel/iommu_groups/"), std::string::npos) << out;
  EXPECT_NE(out.find("/reset (write-only)"), std::string::npos) << out;
}

}  // namespace
}  // namespace pciesim::test
