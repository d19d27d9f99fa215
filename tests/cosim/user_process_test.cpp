// The simulated user process (cosim/process): BAR mmap through Linux's vfio-pci (faulted in on
// first access, SIGBUS with memory decoding off, zapped when the user turns decoding off, the
// device kept open by a mapping), mmap's argument checks, /dev/kmsg, poll in simulated time,
// readlink of sysfs links.
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <uapi/linux/vfio.h>

#include "iommu/iommu_api.h"
#include "kernel/sysfs.h"
#include "kernel_fixture.h"
#include "process/user_process.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"

namespace pciesim::test {
namespace {

struct UserProcessTest : KernelFixture {
  std::unique_ptr<cosim::UserProcess> p;
  int container = -1, group = -1, device = -1;
  uint64_t config_off = uint64_t{VFIO_PCI_CONFIG_REGION_INDEX} << 40;

  void SetUp() override {
    boot(kEduOnRootPort);
    ASSERT_EQ(k->load_module("vfio_pci"), 0) << dmesg();
    p = std::make_unique<cosim::UserProcess>(*k, "test");
  }
  // Opens the edu device through vfio-pci, inside the process.
  void open_device() {
    const std::string name = dev("edu0").name;
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/devices/" + name + "/driver_override", "vfio-pci"), 0);
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/drivers_probe", name), 0);
    char link[128] = {};
    ASSERT_GT(p->readlink("/sys/bus/pci/devices/" + name + "/iommu_group", link, sizeof link - 1), 0);
    const std::string target(link);
    container = p->open("/dev/vfio/vfio", O_RDWR);
    group = p->open("/dev/vfio/" + target.substr(target.rfind('/') + 1), O_RDWR);
    ASSERT_GE(group, 0);
    ASSERT_EQ(p->ioctl(group, VFIO_GROUP_SET_CONTAINER, &container), 0);
    ASSERT_EQ(p->ioctl(container, VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1v2_IOMMU})), 0);
    std::vector<char> n(name.begin(), name.end());
    n.push_back('\0');
    device = static_cast<int>(p->ioctl(group, VFIO_GROUP_GET_DEVICE_FD, n.data()));
    ASSERT_GE(device, 0);
  }
  void set_command(uint16_t cmd) { ASSERT_EQ(p->pwrite(device, &cmd, 2, static_cast<int64_t>(config_off + 4)), 2); }
  // Runs `body` as the process; returns its exit status.
  int run(const std::function<int()>& body, std::string* why = nullptr) { return p->run(body, why); }
};

TEST_F(UserProcessTest, Bar0MapsFaultsInAndReachesTheDevice) {
  open_device();
  set_command(PCI_COMMAND_MEMORY);
  int err = 0;
  void* bar = p->mmap(0x100000, PROT_READ | PROT_WRITE, MAP_SHARED, device, 0, err);
  ASSERT_NE(bar, nullptr) << err;
  EXPECT_GE(reinterpret_cast<uint64_t>(bar), cosim::UserProcess::kDeviceMapBase);
  uint64_t ident = 0, live = 0;
  EXPECT_EQ(run([&] {
              ident = p->load(bar, 4);
              p->store(static_cast<uint8_t*>(bar) + 4, 0x0f0f0f0f, 4);
              live = p->load(static_cast<uint8_t*>(bar) + 4, 4);
              return 0;
            }),
            0);
  EXPECT_EQ(ident, 0x010000edu);
  EXPECT_EQ(live, 0xf0f0f0f0u);
  EXPECT_EQ(p->munmap(bar, 0x100000), 0);
}

TEST_F(UserProcessTest, AccessWithMemoryDecodingOffIsSigbus) {
  open_device();
  set_command(0);
  int err = 0;
  void* bar = p->mmap(0x100000, PROT_READ | PROT_WRITE, MAP_SHARED, device, 0, err);
  ASSERT_NE(bar, nullptr);
  std::string why;
  EXPECT_EQ(run([&] { return static_cast<int>(p->load(bar, 4)); }, &why), 128 + SIGBUS);
  EXPECT_NE(why.find("SIGBUS"), std::string::npos) << why;
}

TEST_F(UserProcessTest, TurningMemoryDecodingOffZapsThePagesSoTheNextAccessIsSigbus) {
  open_device();
  set_command(PCI_COMMAND_MEMORY);
  int err = 0;
  void* bar = p->mmap(0x100000, PROT_READ | PROT_WRITE, MAP_SHARED, device, 0, err);
  ASSERT_NE(bar, nullptr);
  EXPECT_EQ(run([&] { return p->load(bar, 4) == 0x010000edu ? 0 : 1; }), 0);
  set_command(0);
  EXPECT_EQ(run([&] { return static_cast<int>(p->load(bar, 4)); }), 128 + SIGBUS)
      << "vfio_pci_zap_and_down_write_memory_lock: the pages went with the decode";
  set_command(PCI_COMMAND_MEMORY);
  EXPECT_EQ(run([&] { return p->load(bar, 4) == 0x010000edu ? 0 : 1; }), 0) << "faulted in again";
}

TEST_F(UserProcessTest, AMappingKeepsTheDeviceOpenAfterItsDescriptorCloses) {
  open_device();
  set_command(PCI_COMMAND_MEMORY);
  int err = 0;
  void* bar = p->mmap(0x1000, PROT_READ, MAP_SHARED, device, 0, err);
  ASSERT_NE(bar, nullptr);
  ASSERT_EQ(p->close(device), 0);
  EXPECT_EQ(run([&] { return p->load(bar, 4) == 0x010000edu ? 0 : 1; }), 0);
  EXPECT_EQ(p->ioctl(group, VFIO_GROUP_UNSET_CONTAINER, nullptr), -EBUSY) << "the device is still in use";
  EXPECT_EQ(p->munmap(bar, 0x1000), 0);
  EXPECT_EQ(p->ioctl(group, VFIO_GROUP_UNSET_CONTAINER, nullptr), 0);
}

TEST_F(UserProcessTest, MmapRefusesWhatLinuxRefuses) {
  open_device();
  int err = 0;
  EXPECT_EQ(p->mmap(0x1000, PROT_READ, MAP_PRIVATE, device, 0, err), nullptr);
  EXPECT_EQ(err, EINVAL) << "vfio_pci_core_mmap: VM_SHARED required";
  EXPECT_EQ(p->mmap(0x200000, PROT_READ, MAP_SHARED, device, 0, err), nullptr);
  EXPECT_EQ(err, EINVAL) << "beyond the BAR";
  EXPECT_EQ(p->mmap(0x1000, PROT_READ, MAP_SHARED, device, 0x100000, err), nullptr);
  EXPECT_EQ(err, EINVAL) << "offset at the end of the BAR";
  EXPECT_EQ(p->mmap(0x1000, PROT_READ, MAP_SHARED, device, 0x10, err), nullptr);
  EXPECT_EQ(err, EINVAL) << "offset not page aligned";
  EXPECT_EQ(p->mmap(0x1000, PROT_READ, MAP_SHARED, device, static_cast<int64_t>(config_off), err), nullptr);
  EXPECT_EQ(err, EINVAL) << "the config region is not mappable";
  EXPECT_EQ(p->mmap(0x1000, PROT_READ, MAP_SHARED, device, int64_t{VFIO_PCI_BAR1_REGION_INDEX} << 40, err), nullptr);
  EXPECT_EQ(err, EINVAL) << "BAR1 does not exist";
  EXPECT_EQ(p->mmap(0x1000, PROT_READ, MAP_SHARED, 99, 0, err), nullptr);
  EXPECT_EQ(err, EBADF);
  EXPECT_EQ(p->mmap(0x1000, PROT_READ, MAP_SHARED, container, 0, err), nullptr);
  EXPECT_EQ(err, ENODEV) << "the container has no mmap";
  EXPECT_EQ(p->mmap(0, PROT_READ, MAP_SHARED, device, 0, err), nullptr);
  EXPECT_EQ(err, EINVAL);
  EXPECT_EQ(p->device_mappings(), 0u);
}

TEST_F(UserProcessTest, KmsgReadsRecordsFromWhereItWasPositioned) {
  const int fd = p->open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
  ASSERT_GE(fd, 0);
  char rec[512];
  const long n = p->read(fd, rec, sizeof rec);
  ASSERT_GT(n, 0);
  const std::string first(rec, static_cast<size_t>(n));
  EXPECT_NE(first.find(";"), std::string::npos);
  EXPECT_EQ(first.back(), '\n');
  EXPECT_EQ(p->lseek(fd, 0, SEEK_END), 0);
  EXPECT_EQ(p->read(fd, rec, sizeof rec), -EAGAIN);
  k->printk(cosim::LogLevel::Err, "DMAR: a test line");
  const long m = p->read(fd, rec, sizeof rec);
  ASSERT_GT(m, 0);
  EXPECT_EQ(std::string(rec, static_cast<size_t>(m)).substr(0, 2), "3,");
  EXPECT_NE(std::string(rec, static_cast<size_t>(m)).find(";DMAR: a test line\n"), std::string::npos);
  EXPECT_EQ(p->read(fd, rec, 4), -EAGAIN);
  EXPECT_EQ(p->lseek(fd, 5, SEEK_SET), -ESPIPE);
}

TEST_F(UserProcessTest, PollTimesOutInSimulatedTimeAndWakesOnAnEventfd) {
  const int efd = p->eventfd(0, 0);
  ASSERT_GE(efd, 0);
  pollfd pfd{efd, POLLIN, 0};
  uint64_t before = 0, after = 0;
  EXPECT_EQ(run([&] {
              before = k->now_ns();
              const int r = p->poll(&pfd, 1, 20);
              after = k->now_ns();
              return r;
            }),
            0);
  EXPECT_EQ(after - before, 20000000u);
  const uint64_t one = 1;
  EXPECT_EQ(p->write(efd, &one, 8), 8);
  EXPECT_EQ(run([&] { return p->poll(&pfd, 1, 20); }), 1);
  EXPECT_EQ(pfd.revents, POLLIN);
}

TEST_F(UserProcessTest, ReadlinkResolvesSysfsLinksOnly) {
  char buf[128] = {};
  const std::string dir = "/sys/bus/pci/devices/" + dev("edu0").name;
  const long n = p->readlink(dir + "/iommu_group", buf, sizeof buf);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)).rfind("../../../kernel/iommu_groups/", 0), 0u);
  EXPECT_EQ(p->readlink(dir + "/vendor", buf, sizeof buf), -EINVAL) << "an attribute, not a link";
  EXPECT_EQ(p->readlink(dir + "/nothing", buf, sizeof buf), -ENOENT);
}

TEST_F(UserProcessTest, ExitClosesWhatTheProcessOpened) {
  open_device();
  const size_t before = k->files().open_count();
  EXPECT_GE(before, 3u);
  p.reset();
  EXPECT_EQ(k->files().open_count(), 0u);
}

// An NVMe-like endpoint whose MSI-X table lives in BAR0: vfio-pci keeps BAR0 mappable and says so
// with VFIO_REGION_INFO_CAP_MSIX_MAPPABLE (6.1 msix_mappable_cap).
struct VfioMsixBar : KernelFixture {};

TEST_F(VfioMsixBar, TheMsixBarAnnouncesThatItsTableIsMappable) {
  const char* yaml = R"(
name: msix-bar
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        acs: {capability: [SV, RR, CR, UF]}
        below:
          endpoint:
            name: nvme0
            functions:
              - {function: 0, vendor: 0x144d, device: 0xa808, class: 0x010802,
                 bars: [{index: 0, size: 16KiB, type: mem64}], msix: 33}
iommus:
  - {name: dmar0, preset: qemu-7.2, include_all: true}
)";
  KernelFixture& fx = *this;
  fx.boot(yaml);
  ASSERT_EQ(fx.k->load_module("vfio_pci"), 0);
  const std::string name = fx.dev("nvme0").name;
  ASSERT_EQ(fx.k->sysfs().write("/sys/bus/pci/devices/" + name + "/driver_override", "vfio-pci"), 0);
  ASSERT_EQ(fx.k->sysfs().write("/sys/bus/pci/drivers_probe", name), 0);
  cosim::UserProcess p(*fx.k, "test");
  const int container = p.open("/dev/vfio/vfio", O_RDWR);
  const int group = p.open("/dev/vfio/" + std::to_string(fx.k->iommu().group_of(fx.dev("nvme0"))->id), O_RDWR);
  ASSERT_EQ(p.ioctl(group, VFIO_GROUP_SET_CONTAINER, const_cast<int*>(&container)), 0);
  ASSERT_EQ(p.ioctl(container, VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1v2_IOMMU})), 0);
  std::vector<char> n(name.begin(), name.end());
  n.push_back('\0');
  const int device = static_cast<int>(p.ioctl(group, VFIO_GROUP_GET_DEVICE_FD, n.data()));
  ASSERT_GE(device, 0);
  vfio_region_info head{};
  head.argsz = sizeof head;
  head.index = VFIO_PCI_BAR0_REGION_INDEX;
  ASSERT_EQ(p.ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &head), 0);
  EXPECT_EQ(head.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP |
                            VFIO_REGION_INFO_FLAG_CAPS);
  EXPECT_EQ(head.size, 16384u);
  EXPECT_EQ(head.cap_offset, 0u) << "too small for the chain";
  ASSERT_EQ(head.argsz, sizeof head + sizeof(vfio_info_cap_header));
  std::vector<uint8_t> full(head.argsz);
  auto* info = reinterpret_cast<vfio_region_info*>(full.data());
  info->argsz = head.argsz;
  info->index = VFIO_PCI_BAR0_REGION_INDEX;
  ASSERT_EQ(p.ioctl(device, VFIO_DEVICE_GET_REGION_INFO, info), 0);
  ASSERT_EQ(info->cap_offset, sizeof(vfio_region_info));
  const auto* cap = reinterpret_cast<const vfio_info_cap_header*>(full.data() + info->cap_offset);
  EXPECT_EQ(cap->id, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
  EXPECT_EQ(cap->version, 1);
  EXPECT_EQ(cap->next, 0u);
  // The table's page maps like the rest of the BAR.
  int err = 0;
  EXPECT_NE(p.mmap(16384, PROT_READ | PROT_WRITE, MAP_SHARED, device, 0, err), nullptr) << err;
}

}  // namespace
}  // namespace pciesim::test
