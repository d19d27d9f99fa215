// The co-simulated kernel's PCI core: scan, driver matching and binding (ID tables,
// driver_override, override_only), probe failure, enable/bus mastering, BAR MMIO, config access
// rules, resets.
#include "kernel_fixture.h"
#include "kernel/kapi.h"

namespace pciesim::test {
namespace {

constexpr __u32 kPciAny() { return static_cast<__u32>(PCI_ANY_ID); }

struct Probes {
  int probed = 0, removed = 0;
  int result = 0;
  const pci_device_id* last_id = nullptr;
  pci_dev* last = nullptr;
};
Probes g_probes;

int count_probe(pci_dev* dev, const pci_device_id* id) {
  ++g_probes.probed;
  g_probes.last_id = id;
  g_probes.last = dev;
  if (g_probes.result == 0) devm_kzalloc(&dev->dev, 256, GFP_KERNEL);
  return g_probes.result;
}
void count_remove(pci_dev*) { ++g_probes.removed; }

pci_device_id g_intel_nic[] = {{0x8086, 0x10d3, kPciAny(), kPciAny(), 0, 0, 7, 0}, {}};
pci_device_id g_override_only[] = {{0x8086, 0x10d3, kPciAny(), kPciAny(), 0, 0, 0, PCI_ID_F_VFIO_DRIVER_OVERRIDE}, {}};
pci_device_id g_class_match[] = {{kPciAny(), kPciAny(), kPciAny(), kPciAny(), 0x020000, 0xffff00, 0, 0}, {}};

pci_driver make_driver(const char* name, const pci_device_id* ids) {
  pci_driver d{};
  d.name = name;
  d.id_table = ids;
  d.probe = count_probe;
  d.remove = count_remove;
  return d;
}

struct KernelPci : KernelFixture {
  void SetUp() override {
    g_probes = Probes{};
    boot();
  }
};

TEST_F(KernelPci, ScanFindsEveryFunctionInLinuxOrderWithIdsAndBars) {
  const auto& devs = k->pci().devices();
  ASSERT_EQ(devs.size(), f->functions().size());
  // pci_bus_add_devices: a bus's devices, then the buses behind its bridges.
  std::vector<std::string> names;
  for (const auto& d : devs) names.push_back(d->info->fn->name());
  EXPECT_EQ(names.front(), "rp0");
  EXPECT_EQ(names[1], "rp1");
  cosim::PciDev& a = dev("epA");
  EXPECT_EQ(a.dev->vendor, 0x8086);
  EXPECT_EQ(a.dev->device, 0x10d3);
  EXPECT_EQ(a.dev->class_, 0x020000u);
  EXPECT_EQ(pci_pcie_type(a.dev.get()), PCI_EXP_TYPE_ENDPOINT);
  EXPECT_NE(a.dev->msi_cap, 0);
  EXPECT_EQ(a.dev->cfg_size, 4096);
  EXPECT_EQ(pci_resource_start(a.dev.get(), 0), bar(*f, "epA", 0));
  EXPECT_EQ(pci_resource_len(a.dev.get(), 0), 128u * 1024);
  cosim::PciDev& fdev = dev("epF");
  EXPECT_TRUE(pci_resource_flags(fdev.dev.get(), 0) & IORESOURCE_MEM_64);
  EXPECT_TRUE(pci_resource_flags(fdev.dev.get(), 0) & IORESOURCE_PREFETCH);
  EXPECT_NE(fdev.dev->msix_cap, 0);
  EXPECT_TRUE(logged("pci " + a.name + ": [8086:10d3] type 00 class 0x020000")) << dmesg();
  // the bridge sizing protocol left the BARs as firmware programmed them
  EXPECT_EQ(bar(*f, "epA", 0), pci_resource_start(a.dev.get(), 0));
}

TEST_F(KernelPci, GroupsFollowLinuxRulesAndEveryDeviceHasItsDefaultDomain) {
  cosim::PciDev& a = dev("epA");
  cosim::PciDev& b = dev("epB");
  cosim::PciDev& fdev = dev("epF");
  iommu_group* ga = iommu_group_get(&a.dev->dev);
  iommu_group* gb = iommu_group_get(&b.dev->dev);
  iommu_group* gf = iommu_group_get(&fdev.dev->dev);
  ASSERT_TRUE(ga && gb && gf);
  // hardware-facts 3: a device below a downstream port without SV+RR+CR+UF (here: without an ACS
  // capability, so Linux cannot turn it on) joins the group of that port (pci_device_group stops at the highest non-ACS bridge); behind the ACS root port
  // epF has a group of its own.
  EXPECT_EQ(iommu_group_id(ga), iommu_group_id(iommu_group_get(&dev("dpA").dev->dev)));
  EXPECT_EQ(iommu_group_id(gb), iommu_group_id(iommu_group_get(&dev("dpB").dev->dev)));
  EXPECT_NE(iommu_group_id(ga), iommu_group_id(gb));
  EXPECT_NE(iommu_group_id(gf), iommu_group_id(iommu_group_get(&dev("rp1").dev->dev)));
  EXPECT_TRUE(logged(a.name + ": Adding to iommu group " + std::to_string(iommu_group_id(ga))));
  iommu_domain* d = iommu_get_domain_for_dev(&a.dev->dev);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->type, IOMMU_DOMAIN_DMA_FQ);  // Linux 6.1 x86 default: lazy
  EXPECT_EQ(iommu_get_domain_for_dev(&dev("dpA").dev->dev), d) << "one default domain per group";
  EXPECT_NE(iommu_get_domain_for_dev(&b.dev->dev), d);
}

TEST_F(KernelPci, WithAnIommuTheKernelTurnsOnTheAcsControlsFirmwareLeftOff) {
  // pci_request_acs + pci_std_enable_acs: SV RR CR UF wherever the capability has them, not TB.
  EXPECT_EQ(fn(*f, "rp1").fn->acs_control(), PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);
  EXPECT_EQ(pci_find_ext_capability(dev("dpA").dev.get(), PCI_EXT_CAP_ID_ACS), 0);
}

TEST(KernelPciNoIommu, WithoutAnIommuAcsStaysAsFirmwareLeftIt) {
  auto f = make_fabric(kKernelTopology);
  cosim::KernelOptions o;
  o.iommu = false;
  cosim::Kernel k(*f, o);
  k.boot();
  EXPECT_EQ(fn(*f, "rp1").fn->acs_control(), 0);
}

TEST_F(KernelPci, RegisteringADriverProbesMatchingDevicesWithTheMatchedId) {
  pci_driver drv = make_driver("nicdrv", g_intel_nic);
  k->run("load", [&] { ASSERT_EQ(pci_register_driver(&drv), 0); });
  EXPECT_EQ(g_probes.probed, 2);  // epA and epB, not the 15b3 device
  EXPECT_EQ(g_probes.last_id, &g_intel_nic[0]);
  EXPECT_EQ(g_probes.last_id->driver_data, 7u);
  EXPECT_EQ(dev("epA").dev->driver, &drv);
  EXPECT_EQ(dev("epF").dev->driver, nullptr);
  EXPECT_STREQ(dev_driver_string(&dev("epA").dev->dev), "nicdrv");
  k->run("unload", [&] { pci_unregister_driver(&drv); });
  EXPECT_EQ(g_probes.removed, 2);
  EXPECT_EQ(dev("epA").dev->driver, nullptr);
  EXPECT_TRUE(dev("epA").devres.empty()) << "managed allocations are freed on detach";
}

TEST_F(KernelPci, ClassMaskMatching) {
  pci_driver drv = make_driver("ethclass", g_class_match);
  k->run("load", [&] { pci_register_driver(&drv); });
  EXPECT_EQ(g_probes.probed, 3);  // every 0x0200xx device
}

TEST_F(KernelPci, OverrideOnlyEntriesNeedDriverOverrideAndOverrideExcludesOtherDrivers) {
  pci_driver variant = make_driver("variant", g_override_only);
  pci_driver plain = make_driver("plain", g_intel_nic);
  k->run("load", [&] { pci_register_driver(&variant); });
  EXPECT_EQ(g_probes.probed, 0) << "an override_only entry never matches by id alone";
  cosim::PciDev& a = dev("epA");
  ASSERT_EQ(k->pci().set_driver_override(a, "variant\n"), 0);
  EXPECT_STREQ(a.dev->driver_override, "variant");
  EXPECT_EQ(k->pci().attach(a), 1);
  EXPECT_EQ(a.dev->driver, &variant);
  // With the override naming another driver, "plain" binds only epB.
  cosim::PciDev& b = dev("epB");
  ASSERT_EQ(k->pci().set_driver_override(b, "somebody-else"), 0);
  k->run("load", [&] { pci_register_driver(&plain); });
  EXPECT_EQ(b.dev->driver, nullptr);
  EXPECT_EQ(k->pci().bind("plain", b), -ENODEV) << "bind refuses what driver_override excludes";
  ASSERT_EQ(k->pci().set_driver_override(b, ""), 0);
  EXPECT_EQ(k->pci().bind("plain", b), 0);
  EXPECT_EQ(b.dev->driver, &plain);
  EXPECT_EQ(k->pci().bind("plain", b), -EBUSY);
  EXPECT_EQ(k->pci().unbind(b), 0);
  EXPECT_EQ(k->pci().unbind(b), -ENODEV);
  k->run("unload", [&] {
    pci_unregister_driver(&variant);
    pci_unregister_driver(&plain);
  });
}

TEST_F(KernelPci, AFailingProbeLeavesTheDeviceUnboundAndSaysSo) {
  g_probes.result = -EIO;
  pci_driver drv = make_driver("broken", g_intel_nic);
  k->run("load", [&] { pci_register_driver(&drv); });
  EXPECT_EQ(dev("epA").dev->driver, nullptr);
  EXPECT_TRUE(logged("broken " + dev("epA").name + ": probe with driver broken failed with error -5") ||
              logged("pci " + dev("epA").name + ": probe with driver broken failed with error -5"))
      << dmesg();
  g_probes.result = -ENODEV;  // a quiet rejection
  k->log().clear();
  EXPECT_EQ(k->pci().bind("broken", dev("epA")), -ENODEV);
  EXPECT_FALSE(logged("failed with error"));
  k->run("unload", [&] { pci_unregister_driver(&drv); });
}

TEST_F(KernelPci, ConfigAccessorsCheckAlignmentLikeLinux) {
  pci_dev* a = dev("epA").dev.get();
  u16 v = 0;
  EXPECT_EQ(pci_read_config_word(a, 1, &v), PCIBIOS_BAD_REGISTER_NUMBER);
  EXPECT_EQ(pcibios_err_to_errno(PCIBIOS_BAD_REGISTER_NUMBER), -EFAULT);
  EXPECT_EQ(pci_read_config_word(a, PCI_VENDOR_ID, &v), PCIBIOS_SUCCESSFUL);
  EXPECT_EQ(v, 0x8086);
  u32 d = 0;
  EXPECT_EQ(pci_read_config_dword(a, 0x1000, &d), PCIBIOS_BAD_REGISTER_NUMBER);
  EXPECT_EQ(pci_find_ext_capability(a, PCI_EXT_CAP_ID_ACS), 0) << "endpoint without ACS";
  EXPECT_NE(pci_find_ext_capability(dev("rp1").dev.get(), PCI_EXT_CAP_ID_ACS), 0);
}

TEST_F(KernelPci, EnableAndBusMasterProgramTheCommandRegisterAndMmioReachesTheBar) {
  pci_dev* a = dev("epA").dev.get();
  cfg_write(*f, "epA", PCI_COMMAND, 2, 0);  // as if firmware had left decoding off
  void __iomem* bar0 = nullptr;
  uint64_t before = 0, after = 0;
  k->run("driver", [&] {
    ASSERT_EQ(pci_enable_device(a), 0);
    pci_set_master(a);
    ASSERT_EQ(pci_request_regions(a, "test"), 0);
    EXPECT_EQ(pci_request_region(a, 0, "again"), -EBUSY);
    bar0 = pci_iomap(a, 0, 0);
    ASSERT_NE(bar0, nullptr);
    before = k->now_ns();
    iowrite32(0xdeadbeef, static_cast<char __iomem*>(bar0) + 0x100);
    EXPECT_EQ(ioread32(static_cast<char __iomem*>(bar0) + 0x100), 0xdeadbeefu);
    after = k->now_ns();
  });
  EXPECT_TRUE(fn(*f, "epA").fn->memory_enabled());
  EXPECT_TRUE(fn(*f, "epA").fn->bus_master());
  EXPECT_TRUE(logged("enabling device (0000 -> 0002)")) << dmesg();
  EXPECT_GT(after, before) << "an MMIO read costs the CPU a round trip through the fabric";
  EXPECT_EQ(mmio_read(*f, bar(*f, "epA", 0) + 0x100), 0xdeadbeefu);
  k->run("driver", [&] {
    pci_disable_device(a);
    pci_release_regions(a);
  });
  EXPECT_FALSE(fn(*f, "epA").fn->bus_master());
}

TEST_F(KernelPci, DereferencingAnIomemCookieOrAStrayPointerIsAKernelBug) {
  EXPECT_EQ(k->run("oops", [&] { ioread32(reinterpret_cast<void*>(0x1000)); }).end, cosim::TaskEnd::Bug);
  EXPECT_TRUE(logged("BUG: unable to handle page fault for address"));
}

TEST_F(KernelPci, FunctionLevelResetRestoresTheSavedConfiguration) {
  pci_dev* a = dev("epA").dev.get();
  ASSERT_TRUE(pcie_has_flr(a));
  uint64_t t0 = 0, t1 = 0;
  k->run("reset", [&] {
    pci_enable_device(a);
    pci_set_master(a);
    t0 = k->now_ns();
    EXPECT_EQ(pci_reset_function(a), 0);
    t1 = k->now_ns();
  });
  EXPECT_GE(t1 - t0, 100'000'000u) << "pcie_flr waits 100 ms";
  EXPECT_TRUE(fn(*f, "epA").fn->bus_master()) << "pci_restore_state brought Command back";
  EXPECT_EQ(bar(*f, "epA", 0), pci_resource_start(a, 0));
}

TEST_F(KernelPci, WithoutFlrAFunctionAloneOnItsBusIsResetBySecondaryBusReset) {
  pci_dev* b = dev("epB").dev.get();  // no FLR, alone below dpB
  ASSERT_FALSE(pcie_has_flr(b));
  uint64_t t0 = 0, t1 = 0;
  int rc = -1;
  k->run("reset", [&] {
    pci_enable_device(b);
    pci_set_master(b);
    t0 = k->now_ns();
    rc = pci_reset_function(b);
    t1 = k->now_ns();
  });
  EXPECT_EQ(rc, 0);
  EXPECT_GE(t1 - t0, 1'000'000'000u) << "Trhfa: Linux waits 1 s after releasing Secondary Bus Reset";
  EXPECT_TRUE(fn(*f, "epB").fn->bus_master()) << "restored after the reset cleared it";
  EXPECT_EQ(bar(*f, "epB", 0), pci_resource_start(b, 0));
  // dpA's bus has epA alone too, but epA has FLR: that is what pci_reset_function uses.
  pci_dev* bus_with_two = dev("dpA").dev.get();
  k->run("bridge", [&] { EXPECT_EQ(pci_reset_function(bus_with_two), -ENOTTY) << "a bridge on a shared bus"; });
}

TEST_F(KernelPci, SleepingWithASpinlockHeldIsReported) {
  DEFINE_SPINLOCK(lock);
  const cosim::TaskResult r = k->run("atomic", [&] {
    spin_lock(&lock);
    msleep(1);
  });
  EXPECT_EQ(r.end, cosim::TaskEnd::Bug);
  EXPECT_TRUE(logged("BUG: scheduling while atomic")) << dmesg();
}

TEST_F(KernelPci, AWaitNobodyEndsIsReportedInsteadOfHanging) {
  DECLARE_COMPLETION(never);
  const cosim::TaskResult r = k->run("stuck", [&] { wait_for_completion(&never); });
  EXPECT_EQ(r.end, cosim::TaskEnd::Hang);
  EXPECT_NE(r.what.find("stuck"), std::string::npos) << r.what;
  EXPECT_NE(r.what.find("a completion"), std::string::npos) << r.what;
  EXPECT_TRUE(logged("INFO: kernel task stuck cannot finish")) << dmesg();
}

TEST_F(KernelPci, MutexWaitersQueueInSimulatedTime) {
  DEFINE_MUTEX(m);
  DECLARE_COMPLETION(started);
  std::vector<std::string> order;
  k->run("main", [&] {
    mutex_lock(&m);
    k->scheduler().spawn_daemon("other", [&] {
      complete(&started);
      mutex_lock(&m);
      order.push_back("other");
      mutex_unlock(&m);
    });
    wait_for_completion(&started);
    msleep(5);
    order.push_back("main");
    mutex_unlock(&m);
    msleep(1);
  });
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], "main");
  EXPECT_EQ(order[1], "other");
}

}  // namespace
}  // namespace pciesim::test
