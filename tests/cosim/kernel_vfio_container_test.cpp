// VFIO containers and groups in the co-simulated kernel against Linux 6.1's answers: extensions,
// group status and viability, SET_CONTAINER/SET_IOMMU ordering, IOMMU_GET_INFO with its
// capability chain (the values a real 6.1 host with QEMU 7.2's VT-d reports), MAP_DMA/UNMAP_DMA
// rules and errnos, and device DMA through what user space mapped.
#include <cstring>
#include <uapi/linux/vfio.h>

#include "iommu/iommu_api.h"
#include "kernel_fixture.h"
#include "vfio/user_memory.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"

namespace pciesim::test {
namespace {

struct KernelVfio : KernelFixture {
  cosim::UserMemory* mem = nullptr;
  cosim::VfioCore* vfio = nullptr;
  int container = -1, group = -1, group_id = -1;

  void SetUp() override {
    boot(kEduOnRootPort);
    mem = &k->user_memory();
    vfio = &k->vfio();
    group_id = k->iommu().group_of(dev("edu0"))->id;
  }
  void TearDown() override {
    for (int fd : {group, container})
      if (fd >= 0) k->files().close(fd);
  }
  long ioctl(int fd, unsigned long cmd, void* arg) {
    auto f = k->files().get(fd);
    if (auto c = std::dynamic_pointer_cast<cosim::VfioContainer>(f)) return c->ioctl(cmd, arg);
    if (auto g = std::dynamic_pointer_cast<cosim::VfioGroupFile>(f)) return g->ioctl(cmd, arg);
    return -EBADF;
  }
  long ioctl(int fd, unsigned long cmd, unsigned long value) { return ioctl(fd, cmd, reinterpret_cast<void*>(value)); }
  // The usual sequence up to a container with the type1v2 backend.
  void open_and_set() {
    vfio->register_device(dev("edu0"));
    container = vfio->open("/dev/vfio/vfio");
    group = vfio->open("/dev/vfio/" + std::to_string(group_id));
    ASSERT_GE(container, 0);
    ASSERT_GE(group, 0);
    ASSERT_EQ(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container), 0);
    ASSERT_EQ(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
  }
  long map(uint64_t vaddr, uint64_t iova, uint64_t size, uint32_t flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
           uint32_t argsz = sizeof(vfio_iommu_type1_dma_map)) {
    vfio_iommu_type1_dma_map m{argsz, flags, vaddr, iova, size};
    return ioctl(container, VFIO_IOMMU_MAP_DMA, &m);
  }
  long unmap(uint64_t iova, uint64_t size, uint32_t flags = 0, uint64_t* done = nullptr) {
    vfio_iommu_type1_dma_unmap u{};
    u.argsz = sizeof(u);
    u.flags = flags;
    u.iova = iova;
    u.size = size;
    const long rc = ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u);
    if (done) *done = u.size;
    return rc;
  }
};

TEST_F(KernelVfio, ContainerAnswersAsLinux61) {
  container = vfio->open("/dev/vfio/vfio");
  EXPECT_EQ(ioctl(container, VFIO_GET_API_VERSION, 0ul), VFIO_API_VERSION);
  EXPECT_EQ(ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU), 1);
  EXPECT_EQ(ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU), 1);
  EXPECT_EQ(ioctl(container, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU), 0);
  EXPECT_EQ(ioctl(container, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL), 1);
  EXPECT_EQ(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -EINVAL) << "no group yet";
  vfio_iommu_type1_info info{};
  info.argsz = sizeof(info);
  EXPECT_EQ(ioctl(container, VFIO_IOMMU_GET_INFO, &info), -EINVAL) << "no IOMMU driver set (vfio_fops_unl_ioctl)";
  EXPECT_EQ(ioctl(container, 0x3b99ul, 0ul), -EINVAL);
}

TEST_F(KernelVfio, AGroupNodeExistsOnlyForVfioDevicesAndOpensOnce) {
  EXPECT_EQ(vfio->open("/dev/vfio/" + std::to_string(group_id)), -ENOENT);
  EXPECT_EQ(vfio->open("/dev/vfio/nonsense"), -ENOENT);
  vfio->register_device(dev("edu0"));
  group = vfio->open("/dev/vfio/" + std::to_string(group_id));
  EXPECT_GE(group, 0);
  EXPECT_EQ(vfio->open("/dev/vfio/" + std::to_string(group_id)), -EBUSY);
  vfio_group_status st{sizeof(st), 0};
  EXPECT_EQ(ioctl(group, VFIO_GROUP_GET_STATUS, &st), 0);
  EXPECT_EQ(st.flags, VFIO_GROUP_FLAGS_VIABLE);
  vfio_group_status shorty{4, 0};
  EXPECT_EQ(ioctl(group, VFIO_GROUP_GET_STATUS, &shorty), -EINVAL);
  EXPECT_EQ(ioctl(group, VFIO_GROUP_UNSET_CONTAINER, 0ul), -EINVAL) << "no container";
  int not_a_container = group;
  EXPECT_EQ(ioctl(group, VFIO_GROUP_SET_CONTAINER, &not_a_container), -EINVAL);
  int closed = 77;
  EXPECT_EQ(ioctl(group, VFIO_GROUP_SET_CONTAINER, &closed), -EBADF);
  char name[] = "0000:01:00.0";
  EXPECT_EQ(ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name), -ENODEV) << "a registration without a vfio_device";
}

int probe_ok(pci_dev*, const pci_device_id*) { return 0; }
pci_device_id g_edu_ids[] = {{0x1234, 0x11e8, ~0u, ~0u, 0, 0, 0, 0}, {}};

TEST_F(KernelVfio, AGroupWithAKernelDriverBoundIsNotViableAndCannotJoinAContainer) {
  pci_driver drv{};
  drv.name = "kernel_edu";
  drv.id_table = g_edu_ids;
  drv.probe = probe_ok;
  k->run("load", [&] { pci_register_driver(&drv); });
  ASSERT_NE(dev("edu0").dev->driver, nullptr);
  vfio->register_device(dev("edu0"));
  container = vfio->open("/dev/vfio/vfio");
  group = vfio->open("/dev/vfio/" + std::to_string(group_id));
  vfio_group_status st{sizeof(st), 0};
  ASSERT_EQ(ioctl(group, VFIO_GROUP_GET_STATUS, &st), 0);
  EXPECT_EQ(st.flags, 0u);
  EXPECT_EQ(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container), -EPERM);
  k->run("unload", [&] { pci_unregister_driver(&drv); });
  EXPECT_EQ(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container), 0);
  // While user space owns the group a kernel driver cannot bind.
  k->run("load", [&] { pci_register_driver(&drv); });
  EXPECT_EQ(dev("edu0").dev->driver, nullptr);
  k->run("unload", [&] { pci_unregister_driver(&drv); });
}

TEST_F(KernelVfio, IommuInfoMatchesARealHostWithQemusVtd) {
  open_and_set();
  vfio_group_status st{sizeof(st), 0};
  ASSERT_EQ(ioctl(group, VFIO_GROUP_GET_STATUS, &st), 0);
  EXPECT_EQ(st.flags, VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET);
  EXPECT_EQ(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), -EINVAL) << "already set";
  // First with only the fixed part: Linux reports the size the capabilities need.
  vfio_iommu_type1_info small{};
  small.argsz = sizeof(small);
  ASSERT_EQ(ioctl(container, VFIO_IOMMU_GET_INFO, &small), 0);
  EXPECT_EQ(small.flags, VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS);
  EXPECT_EQ(small.iova_pgsizes, 0x40201000u);
  EXPECT_GT(small.argsz, sizeof(small));
  EXPECT_EQ(small.cap_offset, 0u);
  std::vector<uint8_t> buf(small.argsz, 0);
  auto* info = reinterpret_cast<vfio_iommu_type1_info*>(buf.data());
  info->argsz = small.argsz;
  ASSERT_EQ(ioctl(container, VFIO_IOMMU_GET_INFO, info), 0);
  ASSERT_EQ(info->cap_offset, sizeof(vfio_iommu_type1_info));
  uint32_t avail = 0;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  // The chain is packed as Linux 6.1 packs it (the IOVA ranges follow a 12-byte capability): each
  // field is copied out, never read through a misaligned struct pointer.
  for (uint32_t at = info->cap_offset; at;) {
    vfio_info_cap_header h{};
    std::memcpy(&h, buf.data() + at, sizeof h);
    if (h.id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL)
      std::memcpy(&avail, buf.data() + at + offsetof(vfio_iommu_type1_info_dma_avail, avail), sizeof avail);
    if (h.id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
      uint32_t nr = 0;
      std::memcpy(&nr, buf.data() + at + offsetof(vfio_iommu_type1_info_cap_iova_range, nr_iovas), sizeof nr);
      for (uint32_t i = 0; i < nr; ++i) {
        vfio_iova_range r{};
        std::memcpy(&r, buf.data() + at + sizeof(vfio_iommu_type1_info_cap_iova_range) + i * sizeof r, sizeof r);
        ranges.emplace_back(r.start, r.end);
      }
    }
    EXPECT_EQ(at % 4, 0u) << "capability headers stay 4-byte aligned";
    at = h.next;
  }
  EXPECT_EQ(small.argsz, 116u) << "24 + migration 32 + DMA avail 12 + IOVA ranges 48, no padding (a Linux 6.1 host)";
  EXPECT_EQ(avail, 65535u);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], std::make_pair(uint64_t{0}, uint64_t{0xfedfffff}));
  EXPECT_EQ(ranges[1], std::make_pair(uint64_t{0xfef00000}, uint64_t{0x7fffffffff}));
  vfio_iommu_type1_info bad{};
  bad.argsz = 8;
  EXPECT_EQ(ioctl(container, VFIO_IOMMU_GET_INFO, &bad), -EINVAL);
}

TEST_F(KernelVfio, MapDmaRulesAndErrnos) {
  open_and_set();
  uint8_t* buf = static_cast<uint8_t*>(mem->map(4 * 4096));
  const uint64_t va = reinterpret_cast<uint64_t>(buf);
  EXPECT_EQ(map(va, 0x100000, 0x2000), 0);
  EXPECT_EQ(mem->pinned_pages(), 2u);
  EXPECT_EQ(map(va + 0x2000, 0x101000, 0x1000), -EEXIST) << "overlaps";
  EXPECT_EQ(map(va + 1, 0x200000, 0x1000), -EINVAL) << "unaligned vaddr";
  EXPECT_EQ(map(va, 0x200800, 0x1000), -EINVAL) << "unaligned iova";
  EXPECT_EQ(map(va, 0x200000, 0x800), -EINVAL) << "unaligned size";
  EXPECT_EQ(map(va, 0x200000, 0), -EINVAL) << "zero size";
  EXPECT_EQ(map(va, 0x200000, 0x1000, 0), -EINVAL) << "neither read nor write";
  EXPECT_EQ(map(va, 0x200000, 0x1000, VFIO_DMA_MAP_FLAG_READ | 0x100), -EINVAL) << "unknown flag";
  EXPECT_EQ(map(va, 0x200000, 0x1000, VFIO_DMA_MAP_FLAG_READ, 16), -EINVAL) << "short argsz";
  EXPECT_EQ(map(va, 0xfee00000, 0x1000), -EINVAL) << "the reserved MSI window";
  EXPECT_EQ(map(va, 0x8000000000ull, 0x1000), -EINVAL) << "past the 39-bit aperture";
  EXPECT_EQ(map(va, ~0ull - 0xfff, 0x2000), -EINVAL) << "IOVA wraps";
  EXPECT_EQ(map(0x1000, 0x300000, 0x1000), -EFAULT) << "nothing mapped at that user address";
  EXPECT_EQ(map(va + 0x2000, 0x300000, 0x2000, VFIO_DMA_MAP_FLAG_READ), 0);
  EXPECT_EQ(map(va + 0x2000, 0x300000, 0x2000, VFIO_DMA_MAP_FLAG_VADDR), -EINVAL) << "UPDATE_VADDR of a valid vaddr";
  EXPECT_EQ(unmap(0x300000, 0x2000, VFIO_DMA_UNMAP_FLAG_VADDR), 0);
  EXPECT_EQ(map(va + 0x2000, 0x300000, 0x2000, VFIO_DMA_MAP_FLAG_VADDR), 0) << "UPDATE_VADDR after UNMAP_FLAG_VADDR";
  EXPECT_EQ(map(va, 0x300000, 0x1000, VFIO_DMA_MAP_FLAG_VADDR), -EINVAL) << "UPDATE_VADDR must name a whole mapping";
}

TEST_F(KernelVfio, TheDeviceDmasIntoUserMemoryUntilUnmapAndThenFaults) {
  open_and_set();
  auto* buf = static_cast<uint8_t*>(mem->map(4096));
  ASSERT_EQ(map(reinterpret_cast<uint64_t>(buf), 0x100000, 0x1000), 0);
  bus_master(*f, "edu0");
  EXPECT_EQ(send(*f, "edu0", TlpKind::MemWrite, 0x100040, 64, {}, std::vector<uint8_t>(64, 0xab)).verdict.outcome,
            Outcome::Delivered);
  EXPECT_EQ(buf[0x40], 0xab);
  uint64_t done = 0;
  EXPECT_EQ(unmap(0x100000, 0x1000, 0, &done), 0);
  EXPECT_EQ(done, 0x1000u);
  EXPECT_EQ(mem->pinned_pages(), 0u);
  const Sent s = send(*f, "edu0", TlpKind::MemWrite, 0x100040, 64, {}, std::vector<uint8_t>(64, 0xcd));
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(s.verdict.fault_reason, 0x05);
  EXPECT_EQ(buf[0x40], 0xab) << "memory unchanged";
  k->run("irq", [] { msleep(1); });
  EXPECT_TRUE(logged("DMAR: [DMA Write NO_PASID] Request device [01:00.0] fault addr 0x100000 [fault reason 0x05] "
                     "PTE Write access is not set"))
      << dmesg();
}

TEST_F(KernelVfio, UnmapDmaRulesAndErrnos) {
  open_and_set();
  auto* buf = static_cast<uint8_t*>(mem->map(8 * 4096));
  const uint64_t va = reinterpret_cast<uint64_t>(buf);
  ASSERT_EQ(map(va, 0x100000, 0x4000), 0);
  ASSERT_EQ(map(va + 0x4000, 0x200000, 0x2000), 0);
  uint64_t done = 7;
  EXPECT_EQ(unmap(0x101000, 0x1000, 0, &done), -EINVAL) << "type1v2: may not bisect a mapping";
  EXPECT_EQ(unmap(0x100000, 0x2000, 0, &done), -EINVAL) << "ends inside a mapping";
  EXPECT_EQ(unmap(0x100800, 0x1000), -EINVAL) << "unaligned";
  EXPECT_EQ(unmap(0x100000, 0), -EINVAL) << "zero size";
  EXPECT_EQ(unmap(0x100000, 0x4000, 0x80), -EINVAL) << "unknown flag";
  EXPECT_EQ(unmap(0x100000, 0x4000, VFIO_DMA_UNMAP_FLAG_ALL), -EINVAL) << "ALL wants iova and size 0";
  EXPECT_EQ(unmap(0, 0, VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP), -EINVAL);
  EXPECT_EQ(unmap(0x500000, 0x1000, 0, &done), 0) << "nothing there: success, nothing unmapped";
  EXPECT_EQ(done, 0u);
  vfio_iommu_type1_dma_unmap shorty{};
  shorty.argsz = 8;
  shorty.iova = 0x100000;
  shorty.size = 0x4000;
  EXPECT_EQ(ioctl(container, VFIO_IOMMU_UNMAP_DMA, &shorty), -EINVAL);
  EXPECT_EQ(unmap(0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &done), 0);
  EXPECT_EQ(done, 0x6000u);
  EXPECT_EQ(mem->pinned_pages(), 0u);
  EXPECT_EQ(ioctl(group, VFIO_GROUP_UNSET_CONTAINER, 0ul), 0);
  EXPECT_EQ(ioctl(group, VFIO_GROUP_UNSET_CONTAINER, 0ul), -EINVAL);
  EXPECT_EQ(ioctl(container, VFIO_IOMMU_MAP_DMA, 0ul), -EINVAL) << "the backend left with the last group";
}

TEST_F(KernelVfio, AKernelCVfioDriverServesItsDeviceFile) {
  ASSERT_EQ(k->load_module("vfio_minidev"), 0) << dmesg();
  ASSERT_NE(dev("edu0").dev->driver, nullptr);
  container = vfio->open("/dev/vfio/vfio");
  group = vfio->open("/dev/vfio/" + std::to_string(group_id));
  ASSERT_GE(group, 0) << "the driver registered the device: the group node exists";
  vfio_group_status st{sizeof(st), 0};
  ASSERT_EQ(ioctl(group, VFIO_GROUP_GET_STATUS, &st), 0);
  EXPECT_EQ(st.flags, VFIO_GROUP_FLAGS_VIABLE) << "a VFIO driver does not claim the group's DMA";
  ASSERT_EQ(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container), 0);
  char name[] = "0000:01:00.0";
  EXPECT_EQ(ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name), -EINVAL) << "no IOMMU set yet";
  ASSERT_EQ(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), 0);
  char wrong[] = "0000:09:00.0";
  EXPECT_EQ(ioctl(group, VFIO_GROUP_GET_DEVICE_FD, wrong), -ENODEV);
  const long fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name);
  ASSERT_GE(fd, 0);
  auto file = std::dynamic_pointer_cast<cosim::VfioDeviceFile>(k->files().get(static_cast<int>(fd)));
  ASSERT_NE(file, nullptr);
  vfio_device_info info{};
  info.argsz = sizeof(info);
  ASSERT_EQ(file->ioctl(VFIO_DEVICE_GET_INFO, &info), 0);
  EXPECT_EQ(info.flags, VFIO_DEVICE_FLAGS_PCI);
  EXPECT_EQ(info.num_regions, 9u);
  EXPECT_EQ(info.num_irqs, 5u);
  EXPECT_EQ(file->ioctl(VFIO_DEVICE_RESET, nullptr), -ENOTTY);
  uint16_t ids[2] = {};
  EXPECT_EQ(file->read(ids, 4, uint64_t{VFIO_PCI_CONFIG_REGION_INDEX} << 40), 4);
  EXPECT_EQ(ids[0], 0x1234);
  EXPECT_EQ(ids[1], 0x11e8);
  EXPECT_EQ(file->read(ids, 4, uint64_t{VFIO_PCI_BAR0_REGION_INDEX} << 40), -EINVAL);
  EXPECT_EQ(file->write(ids, 4, 0), -EINVAL) << "the driver has no write";
  EXPECT_EQ(ioctl(group, VFIO_GROUP_UNSET_CONTAINER, 0ul), -EBUSY) << "a device fd is open";
  file.reset();
  EXPECT_EQ(k->files().close(static_cast<int>(fd)), 0);
  EXPECT_EQ(ioctl(group, VFIO_GROUP_UNSET_CONTAINER, 0ul), 0);
  EXPECT_EQ(k->files().close(group), 0);
  group = -1;
  EXPECT_EQ(k->unload_module("vfio_minidev"), 0);
  EXPECT_EQ(vfio->open("/dev/vfio/" + std::to_string(group_id)), -ENOENT) << "unregistered: the node is gone";
}

}  // namespace
}  // namespace pciesim::test
