// The project's vfio-pci variant driver (vfio_driver/) on vfio_pci_core in the co-simulated
// kernel: bound through driver_override, its device file answers as a Linux 6.1 host with QEMU
// 7.2 answers for an edu device on a root port (device, region and IRQ info), the config region is
// virtualised and BAR0 reaches the device's registers.
#include <cstring>
#include <uapi/linux/vfio.h>

#include "iommu/iommu_api.h"
#include "kernel/eventfd.h"
#include "kernel/sysfs.h"
#include "kernel_fixture.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"

namespace pciesim::test {
namespace {

struct VariantDriver : KernelFixture {
  std::shared_ptr<cosim::VfioDeviceFile> devfile;
  int container = -1, group = -1;
  void SetUp() override {
    boot(kEduOnRootPort);
    ASSERT_EQ(k->load_module("pciesim_vfio_pci"), 0) << dmesg();
  }
  void bind_and_open() {
    const std::string name = dev("edu0").name;
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/devices/" + name + "/driver_override", "pciesim_vfio_pci"), 0);
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/drivers_probe", name), 0);
    ASSERT_NE(dev("edu0").dev->driver, nullptr) << dmesg();
    const int gid = k->iommu().group_of(dev("edu0"))->id;
    container = k->vfio().open("/dev/vfio/vfio");
    group = k->vfio().open("/dev/vfio/" + std::to_string(gid));
    ASSERT_GE(group, 0);
    auto g = std::dynamic_pointer_cast<cosim::VfioGroupFile>(k->files().get(group));
    auto c = std::dynamic_pointer_cast<cosim::VfioContainer>(k->files().get(container));
    ASSERT_EQ(g->ioctl(VFIO_GROUP_SET_CONTAINER, &container), 0);
    ASSERT_EQ(c->ioctl(VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1v2_IOMMU})), 0);
    std::vector<char> n(name.begin(), name.end());
    n.push_back('\0');
    const long fd = g->ioctl(VFIO_GROUP_GET_DEVICE_FD, n.data());
    ASSERT_GE(fd, 0);
    devfile = std::dynamic_pointer_cast<cosim::VfioDeviceFile>(k->files().get(static_cast<int>(fd)));
  }
  vfio_region_info region(uint32_t index, long* rc = nullptr) {
    vfio_region_info r{};
    r.argsz = sizeof(r);
    r.index = index;
    const long x = devfile->ioctl(VFIO_DEVICE_GET_REGION_INFO, &r);
    if (rc) *rc = x;
    return r;
  }
  vfio_irq_info irq(uint32_t index, long* rc = nullptr) {
    vfio_irq_info i{};
    i.argsz = sizeof(i);
    i.index = index;
    const long x = devfile->ioctl(VFIO_DEVICE_GET_IRQ_INFO, &i);
    if (rc) *rc = x;
    return i;
  }
};

TEST_F(VariantDriver, BindsOnlyThroughDriverOverride) {
  EXPECT_EQ(dev("edu0").dev->driver, nullptr) << "an override-only ID table entry";
  bind_and_open();
  EXPECT_STREQ(dev("edu0").dev->driver->name, "pciesim_vfio_pci");
}

TEST_F(VariantDriver, DeviceRegionAndIrqInfoMatchARealHost) {
  bind_and_open();
  vfio_device_info info{};
  info.argsz = sizeof(info);
  ASSERT_EQ(devfile->ioctl(VFIO_DEVICE_GET_INFO, &info), 0);
  EXPECT_EQ(info.flags, VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET);
  EXPECT_EQ(info.num_regions, 10u) << "vfio-pci's nine and the driver's own (kernel_vfio_variant_scrub_test)";
  EXPECT_EQ(info.num_irqs, 5u);
  vfio_region_info r = region(VFIO_PCI_BAR0_REGION_INDEX);
  EXPECT_EQ(r.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP);
  EXPECT_EQ(r.size, 0x100000u);
  EXPECT_EQ(r.offset, 0ull);
  for (uint32_t i = VFIO_PCI_BAR1_REGION_INDEX; i <= VFIO_PCI_ROM_REGION_INDEX; ++i) EXPECT_EQ(region(i).size, 0u) << i;
  r = region(VFIO_PCI_CONFIG_REGION_INDEX);
  EXPECT_EQ(r.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
  EXPECT_EQ(r.size, 0x100u);
  EXPECT_EQ(r.offset, uint64_t{VFIO_PCI_CONFIG_REGION_INDEX} << 40);
  long rc = 0;
  region(VFIO_PCI_VGA_REGION_INDEX, &rc);
  EXPECT_EQ(rc, -EINVAL);
  region(10, &rc);
  EXPECT_EQ(rc, -EINVAL) << "past the last region";
  vfio_irq_info q = irq(VFIO_PCI_INTX_IRQ_INDEX);
  EXPECT_EQ(q.count, 1u);
  EXPECT_EQ(q.flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED);
  q = irq(VFIO_PCI_MSI_IRQ_INDEX);
  EXPECT_EQ(q.count, 1u);
  EXPECT_EQ(q.flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE);
  EXPECT_EQ(irq(VFIO_PCI_MSIX_IRQ_INDEX).count, 0u);
  irq(VFIO_PCI_ERR_IRQ_INDEX, &rc);
  EXPECT_EQ(rc, -EINVAL) << "edu is conventional PCI";
  EXPECT_EQ(irq(VFIO_PCI_REQ_IRQ_INDEX).count, 1u);
  irq(VFIO_PCI_NUM_IRQS, &rc);
  EXPECT_EQ(rc, -EINVAL);
  vfio_device_info shorty{};
  shorty.argsz = 8;
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_GET_INFO, &shorty), -EINVAL);
}

TEST_F(VariantDriver, ConfigAndBar0RegionsReachTheDevice) {
  bind_and_open();
  uint16_t ids[2] = {};
  EXPECT_EQ(devfile->read(ids, 4, uint64_t{VFIO_PCI_CONFIG_REGION_INDEX} << 40), 4);
  EXPECT_EQ(ids[0], 0x1234);
  EXPECT_EQ(ids[1], 0x11e8);
  uint32_t ident = 0;
  EXPECT_EQ(devfile->read(&ident, 4, 0x0), 4);
  EXPECT_EQ(ident, 0x010000edu);
  const uint32_t v = 0x12345678;
  EXPECT_EQ(devfile->write(&v, 4, 0x4), 4);
  uint32_t live = 0;
  EXPECT_EQ(devfile->read(&live, 4, 0x4), 4);
  EXPECT_EQ(live, ~v);
  EXPECT_EQ(devfile->read(&live, 4, 0x100000), -EINVAL) << "past BAR0";
  EXPECT_EQ(devfile->read(&live, 4, uint64_t{VFIO_PCI_VGA_REGION_INDEX} << 40), -EINVAL);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_RESET, nullptr), 0);
  EXPECT_EQ(devfile->ioctl(0x3bffu, nullptr), -ENOTTY) << "unknown, whatever the argument";
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_GET_INFO, nullptr), -EFAULT) << "copy_from_user of NULL";
}

TEST_F(VariantDriver, BusMasterOffThroughTheConfigRegionStopsTheDevicesDma) {
  bind_and_open();
  const uint64_t cmd_at = (uint64_t{VFIO_PCI_CONFIG_REGION_INDEX} << 40) + PCI_COMMAND;
  uint16_t cmd = 0;
  ASSERT_EQ(devfile->read(&cmd, 2, cmd_at), 2);
  cmd |= PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY;
  ASSERT_EQ(devfile->write(&cmd, 2, cmd_at), 2);
  EXPECT_TRUE(fn(*f, "edu0").fn->bus_master()) << "Command.BME reaches the device";
  cmd &= static_cast<uint16_t>(~PCI_COMMAND_MASTER);
  ASSERT_EQ(devfile->write(&cmd, 2, cmd_at), 2);
  EXPECT_FALSE(fn(*f, "edu0").fn->bus_master());
  const Sent s = send(*f, "edu0", TlpKind::MemWrite, 0x1000, 64);
  EXPECT_NE(s.verdict.outcome, Outcome::Delivered) << "a function without bus mastering issues no DMA";
}

// struct vfio_irq_set followed by its data, as user space builds it.
std::vector<uint8_t> irq_set(uint32_t flags, uint32_t index, uint32_t start, uint32_t count, const void* data, size_t bytes) {
  std::vector<uint8_t> b(sizeof(vfio_irq_set) + bytes);
  auto* s = reinterpret_cast<vfio_irq_set*>(b.data());
  s->argsz = static_cast<uint32_t>(b.size());
  s->flags = flags;
  s->index = index;
  s->start = start;
  s->count = count;
  if (bytes) std::memcpy(b.data() + sizeof(vfio_irq_set), data, bytes);
  return b;
}

TEST_F(VariantDriver, MsiArrivesOnTheUsersEventfdThroughInterruptRemapping) {
  bind_and_open();
  const int32_t efd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  auto set = irq_set(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd, 4);
  ASSERT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, set.data()), 0);
  EXPECT_TRUE(dev("edu0").dev->msi_enabled) << "the host programmed the device's MSI";
  // The user makes edu raise an interrupt through BAR0 (raise register 0x60).
  uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
  ASSERT_EQ(devfile->write(&cmd, 2, (uint64_t{VFIO_PCI_CONFIG_REGION_INDEX} << 40) + PCI_COMMAND), 2);
  const uint32_t raise = 0x1;
  ASSERT_EQ(devfile->write(&raise, 4, 0x60), 4);
  k->run("irq", [] { msleep(1); });
  uint64_t v = 0;
  ASSERT_EQ(cosim::eventfd_read(*k, efd, v), 0) << dmesg();
  EXPECT_EQ(v, 1u);
  // Loopback forms: DATA_NONE and DATA_BOOL trigger the eventfd without the device.
  auto none = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, nullptr, 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, none.data()), 0);
  const uint8_t yes = 1;
  auto boolean = irq_set(VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &yes, 1);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, boolean.data()), 0);
  ASSERT_EQ(cosim::eventfd_read(*k, efd, v), 0);
  EXPECT_EQ(v, 2u);
  // Errnos
  auto mask = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, nullptr, 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, mask.data()), -ENOTTY) << "no MSI masking in 6.1";
  auto beyond = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 1, 1, nullptr, 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, beyond.data()), -EINVAL) << "edu has one MSI vector";
  auto badindex = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 9, 0, 1, nullptr, 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, badindex.data()), -EINVAL);
  auto badflags = irq_set(0x1000 | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, nullptr, 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, badflags.data()), -EINVAL);
  auto twotypes = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
                          VFIO_PCI_MSI_IRQ_INDEX, 0, 1, nullptr, 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, twotypes.data()), -EINVAL);
  auto shortdata = irq_set(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, nullptr, 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, shortdata.data()), -EINVAL) << "argsz without the eventfd";
  const int32_t badfd = 99;
  auto ebadf = irq_set(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &badfd, 4);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, ebadf.data()), -EBADF);
  auto msix = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, nullptr, 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, msix.data()), -EINVAL) << "edu has no MSI-X";
  // Disabling: DATA_NONE with count 0.
  auto off = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, nullptr, 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, off.data()), 0);
  EXPECT_FALSE(dev("edu0").dev->msi_enabled);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, none.data()), -EINVAL) << "no MSI enabled to loop back";
}

TEST_F(VariantDriver, IntxIsMaskedAtTheDeviceSignalledAndUnmaskedByTheUser) {
  bind_and_open();
  const int32_t efd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  auto on = irq_set(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &efd, 4);
  ASSERT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, on.data()), 0) << dmesg();
  uint16_t cmd = PCI_COMMAND_MEMORY;
  ASSERT_EQ(devfile->write(&cmd, 2, (uint64_t{VFIO_PCI_CONFIG_REGION_INDEX} << 40) + PCI_COMMAND), 2);
  auto bar_write = [&](uint64_t off, uint32_t v) { ASSERT_EQ(devfile->write(&v, 4, off), 4); };
  auto settle = [&] { k->run("irq", [] { msleep(1); }); };
  uint64_t v = 0;
  bar_write(0x60, 0x1);  // edu raises: INTx asserts
  settle();
  ASSERT_EQ(cosim::eventfd_read(*k, efd, v), 0) << dmesg();
  EXPECT_EQ(v, 1u);
  EXPECT_FALSE(fn(*f, "edu0").fn->intx_asserted()) << "vfio masked it at the device (Interrupt Disable)";
  // Still pending at the device: unmasking delivers it again instead of unmasking.
  auto unmask = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, nullptr, 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, unmask.data()), 0);
  ASSERT_EQ(cosim::eventfd_read(*k, efd, v), 0);
  EXPECT_EQ(v, 1u);
  bar_write(0x64, 0x1);  // the user acknowledges at the device, then unmasks
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, unmask.data()), 0);
  settle();
  EXPECT_EQ(cosim::eventfd_read(*k, efd, v), -EAGAIN) << "nothing pending";
  bar_write(0x60, 0x2);  // a second interrupt arrives
  settle();
  ASSERT_EQ(cosim::eventfd_read(*k, efd, v), 0);
  EXPECT_EQ(v, 1u);
  auto msi = irq_set(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd, 4);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, msi.data()), -EINVAL) << "INTx is the active index";
  auto off = irq_set(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, nullptr, 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, off.data()), 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, unmask.data()), -EINVAL) << "INTx no longer enabled";
}

TEST_F(VariantDriver, IntxUnmasksThroughAResampleEventfd) {
  bind_and_open();
  const int32_t efd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  const int32_t resample = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  auto on = irq_set(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &efd, 4);
  ASSERT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, on.data()), 0) << dmesg();
  auto unmask_fd = irq_set(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &resample, 4);
  ASSERT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, unmask_fd.data()), 0);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, unmask_fd.data()), -EBUSY) << "one unmask eventfd per device";
  uint16_t cmd = PCI_COMMAND_MEMORY;
  ASSERT_EQ(devfile->write(&cmd, 2, (uint64_t{VFIO_PCI_CONFIG_REGION_INDEX} << 40) + PCI_COMMAND), 2);
  auto bar_write = [&](uint64_t off, uint32_t v) { ASSERT_EQ(devfile->write(&v, 4, off), 4); };
  auto settle = [&] { k->run("irq", [] { msleep(1); }); };
  uint64_t v = 0;
  bar_write(0x60, 0x1);
  settle();
  ASSERT_EQ(cosim::eventfd_read(*k, efd, v), 0) << dmesg();
  EXPECT_FALSE(fn(*f, "edu0").fn->intx_asserted()) << "masked at the device";
  // Still asserting: a signal on the resample eventfd re-delivers instead of unmasking.
  ASSERT_EQ(cosim::eventfd_write(*k, resample, 1), 0);
  ASSERT_EQ(cosim::eventfd_read(*k, efd, v), 0) << "delivered again";
  bar_write(0x64, 0x1);  // acknowledged at the device, then the resample unmasks
  ASSERT_EQ(cosim::eventfd_write(*k, resample, 1), 0);
  settle();
  EXPECT_EQ(cosim::eventfd_read(*k, efd, v), -EAGAIN);
  bar_write(0x60, 0x2);  // unmasked: the next interrupt arrives
  settle();
  ASSERT_EQ(cosim::eventfd_read(*k, efd, v), 0);
  // fd -1 removes it: resamples no longer unmask.
  const int32_t none = -1;
  auto unmask_off = irq_set(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &none, 4);
  ASSERT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, unmask_off.data()), 0);
  bar_write(0x64, 0x2);
  ASSERT_EQ(cosim::eventfd_write(*k, resample, 1), 0);
  bar_write(0x60, 0x4);
  settle();
  EXPECT_EQ(cosim::eventfd_read(*k, efd, v), -EAGAIN) << "still masked: nothing unmasked it";
  const int32_t bad = 99;
  auto unmask_bad = irq_set(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &bad, 4);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_SET_IRQS, unmask_bad.data()), -EBADF);
}

TEST_F(VariantDriver, HotResetInfoAndHotResetOfTheRootPortsBus) {
  bind_and_open();
  const size_t minsz = offsetof(vfio_pci_hot_reset_info, count) + sizeof(uint32_t);
  std::vector<uint8_t> buf(minsz + sizeof(vfio_pci_dependent_device), 0);
  auto* info = reinterpret_cast<vfio_pci_hot_reset_info*>(buf.data());
  info->argsz = static_cast<uint32_t>(minsz);
  EXPECT_EQ(devfile->ioctl(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info), -ENOSPC);
  EXPECT_EQ(info->count, 1u) << "the count comes back with -ENOSPC";
  info->argsz = static_cast<uint32_t>(buf.size());
  ASSERT_EQ(devfile->ioctl(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info), 0);
  const auto* d = reinterpret_cast<const vfio_pci_dependent_device*>(buf.data() + minsz);
  EXPECT_EQ(d->group_id, static_cast<uint32_t>(k->iommu().group_of(dev("edu0"))->id));
  EXPECT_EQ(d->bus, dev("edu0").bdf.bus);
  EXPECT_EQ(d->devfn, dev("edu0").bdf.devfn);

  auto reset_with = [&](std::vector<int32_t> fds, uint32_t flags = 0) {
    std::vector<uint8_t> r(sizeof(vfio_pci_hot_reset) + fds.size() * 4);
    auto* h = reinterpret_cast<vfio_pci_hot_reset*>(r.data());
    h->argsz = static_cast<uint32_t>(r.size());
    h->flags = flags;
    h->count = static_cast<uint32_t>(fds.size());
    if (!fds.empty()) std::memcpy(r.data() + sizeof(vfio_pci_hot_reset), fds.data(), fds.size() * 4);
    return devfile->ioctl(VFIO_DEVICE_PCI_HOT_RESET, r.data());
  };
  EXPECT_EQ(reset_with({group}, 1), -EINVAL) << "flags";
  EXPECT_EQ(reset_with({}), -EINVAL) << "no groups";
  EXPECT_EQ(reset_with({group, group}), -EINVAL) << "more groups than devices in the scope";
  EXPECT_EQ(reset_with({99}), -EBADF);
  EXPECT_EQ(reset_with({container}), -EINVAL) << "not a group file";
  const uint64_t t0 = k->now_ns();
  EXPECT_EQ(reset_with({group}), 0);
  EXPECT_GE(k->now_ns() - t0, 1'000'000'000u) << "a secondary bus reset and Linux's 1 s wait";
  uint32_t ident = 0;
  EXPECT_EQ(devfile->read(&ident, 4, 0x0), 4);
  EXPECT_EQ(ident, 0x010000edu) << "the device answers again after the reset";
}

}  // namespace
}  // namespace pciesim::test
