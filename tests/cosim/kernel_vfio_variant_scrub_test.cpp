// The variant driver's additions (vfio_driver/variant_main.c, docs/vfio.md): its read-only
// device-specific region (region info with the type capability, content, errnos) and the scrub
// that keeps one user of QEMU's edu from reading what the previous one left in it. edu has no
// reset handler of its own (QEMU 7.2, models/devices/edu), so without the scrub a user's DMA
// buffer and registers survive the close and the reset; the same scenario with the scrub off
// (module parameter scrub=0) shows the leak the scrub closes.
#include <cstring>
#include <uapi/linux/vfio.h>

#include "devices/edu/edu_device.h"
#include "iommu/remapping_unit.h"
#include "iommu/iommu_api.h"
#include "kernel/sysfs.h"
#include "kernel_fixture.h"
#include "vfio/user_memory.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"

namespace pciesim::test {
namespace {

// edu's registers and buffer (hardware-facts 5), as a user reaches them through BAR0.
constexpr uint64_t kLiveness = 0x04, kFactorial = 0x08, kStatus = 0x20, kIrqStatus = 0x24, kIrqRaise = 0x60;
constexpr uint64_t kDmaSrc = 0x80, kDmaDst = 0x88, kDmaCount = 0x90, kDmaCmd = 0x98;
constexpr uint32_t kDmaRun = 0x1, kDmaToRam = 0x2;
constexpr uint32_t kBuffer = 0x40000;
constexpr uint32_t kLen = 4095;  // QEMU 7.2 aborts on a 4096-byte transfer (docs/edu.md)
constexpr uint64_t kIova = 0x100000;
constexpr uint32_t kLongFactorial = 0x7fffffff;  // about 2.1 s in the model (EduDevice::kFactorialStepNs)
constexpr uint64_t kRegion = uint64_t{VFIO_PCI_NUM_REGIONS} << VFIO_PCI_OFFSET_SHIFT;  // index 9
constexpr uint64_t kConfig = uint64_t{VFIO_PCI_CONFIG_REGION_INDEX} << VFIO_PCI_OFFSET_SHIFT;

// The region's layout (variant_main.c struct pciesim_edu_info, docs/vfio.md).
struct EduInfo {
  uint32_t magic, version, dma_addr_bits, dma_max_len;
  uint64_t buf_base;
  uint32_t scrubs;
  int32_t last_scrub;
};
static_assert(sizeof(EduInfo) == 32);

// One user of the device: its container, group, device fd, and a page of its memory mapped for
// DMA at kIova (in) and kIova + 0x1000 (out).
struct User {
  int container = -1, group = -1, device = -1;
  std::shared_ptr<cosim::VfioDeviceFile> dev;
  uint8_t* in = nullptr;   // what the device reads
  uint8_t* out = nullptr;  // what the device writes
};

struct VariantScrub : KernelFixture {
  std::string name;
  int group_id = -1;
  uint64_t close_ns = 0;  // how long leave_a_secret's close took (simulated)

  // Boots, loads the driver with `params` and binds edu to it through driver_override.
  void start(const std::string& params = "") {
    boot(kEduOnRootPort);
    ASSERT_EQ(k->load_module("pciesim_vfio_pci", params), 0) << dmesg();
    name = dev("edu0").name;
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/devices/" + name + "/driver_override", "pciesim_vfio_pci"), 0);
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/drivers_probe", name), 0);
    ASSERT_NE(dev("edu0").dev->driver, nullptr) << dmesg();
    group_id = k->iommu().group_of(dev("edu0"))->id;
  }
  template <class F>
  long on(int fd, unsigned long cmd, F* arg) {
    auto f = k->files().get(fd);
    if (auto c = std::dynamic_pointer_cast<cosim::VfioContainer>(f)) return c->ioctl(cmd, arg);
    if (auto g = std::dynamic_pointer_cast<cosim::VfioGroupFile>(f)) return g->ioctl(cmd, arg);
    return -EBADF;
  }
  // The legacy flow up to a device fd, with two pages of user memory mapped for the device.
  User open_user() {
    User u;
    u.container = k->vfio().open("/dev/vfio/vfio");
    u.group = k->vfio().open("/dev/vfio/" + std::to_string(group_id));
    EXPECT_GE(u.group, 0);
    EXPECT_EQ(on(u.group, VFIO_GROUP_SET_CONTAINER, &u.container), 0);
    EXPECT_EQ(on(u.container, VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1v2_IOMMU})), 0);
    std::vector<char> n(name.begin(), name.end());
    n.push_back('\0');
    u.device = static_cast<int>(on(u.group, VFIO_GROUP_GET_DEVICE_FD, n.data()));
    EXPECT_GE(u.device, 0) << dmesg();
    u.dev = std::dynamic_pointer_cast<cosim::VfioDeviceFile>(k->files().get(u.device));
    u.in = static_cast<uint8_t*>(k->user_memory().map(2 * 4096));
    u.out = u.in + 4096;
    vfio_iommu_type1_dma_map m{sizeof(m), VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                               reinterpret_cast<uint64_t>(u.in), kIova, 2 * 4096};
    EXPECT_EQ(on(u.container, VFIO_IOMMU_MAP_DMA, &m), 0);
    return u;
  }
  // Closes the device fd (the last close: close_device), then the group and the container.
  void close_user(User& u) {
    u.dev.reset();
    k->files().close(u.device);
    k->files().close(u.group);
    k->files().close(u.container);
    u = User{};
  }
  void bar_write(User& u, uint64_t off, uint32_t v) { ASSERT_EQ(u.dev->write(&v, 4, off), 4); }
  uint32_t bar_read(User& u, uint64_t off) {
    uint32_t v = ~0u;
    EXPECT_EQ(u.dev->read(&v, 4, off), 4);
    return v;
  }
  // Command.MEM and Command.BME through the config region, as a user (QEMU) does.
  void enable_dma(User& u) {
    uint16_t cmd = 0;
    ASSERT_EQ(u.dev->read(&cmd, 2, kConfig + PCI_COMMAND), 2);
    cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    ASSERT_EQ(u.dev->write(&cmd, 2, kConfig + PCI_COMMAND), 2);
  }
  // One edu transfer programmed through BAR0; waits for the 100 ms timer and the completion.
  void transfer(User& u, uint64_t src, uint64_t dst, uint32_t count, uint32_t cmd) {
    bar_write(u, kDmaSrc, static_cast<uint32_t>(src));
    bar_write(u, kDmaDst, static_cast<uint32_t>(dst));
    bar_write(u, kDmaCount, count);
    bar_write(u, kDmaCmd, cmd | kDmaRun);
    k->run("wait for edu", [] { msleep(150); });
    EXPECT_EQ(bar_read(u, kDmaCmd) & kDmaRun, 0u) << "the transfer completed";
  }
  // What the device's buffer holds, as the user sees it: device -> RAM into u.out.
  std::vector<uint8_t> read_back(User& u) {
    std::memset(u.out, 0xee, kLen);
    transfer(u, kBuffer, kIova + 0x1000, kLen, kDmaToRam);
    return {u.out, u.out + kLen};
  }
  EduInfo info(User& u) {
    EduInfo i{};
    EXPECT_EQ(u.dev->read(&i, sizeof(i), kRegion), static_cast<long>(sizeof(i)));
    return i;
  }
  EduDevice& edu() { return *dynamic_cast<EduDevice*>(fn(*f, "edu0").endpoint); }

  // User A leaves a secret in edu (the buffer by DMA, and the registers) and closes the device;
  // returns the secret after checking it really is in the device before the close.
  std::vector<uint8_t> leave_a_secret() {
    User a = open_user();
    std::vector<uint8_t> secret(kLen);
    for (uint32_t i = 0; i < kLen; ++i) secret[i] = static_cast<uint8_t>(1 + (i * 131u) % 255u);  // never 0
    std::memcpy(a.in, secret.data(), kLen);
    enable_dma(a);
    transfer(a, kIova, kBuffer, kLen, 0);
    EXPECT_EQ(read_back(a), secret) << "A's secret is in edu's buffer before the close";
    bar_write(a, kLiveness, 0x1234);
    bar_write(a, kFactorial, 6);
    k->run("factorial", [] { msleep(1); });
    EXPECT_EQ(bar_read(a, kFactorial), 720u);
    bar_write(a, kIrqRaise, 0x40);
    bar_write(a, kStatus, 0x80);  // factorial interrupt on
    bar_write(a, kDmaSrc, 0x7654321);
    // A long factorial still computing at the close (the model takes n ns): the scrub has to
    // wait for it before it can set the factorial.
    bar_write(a, kFactorial, kLongFactorial);
    EXPECT_EQ(bar_read(a, kStatus) & 0x1, 0x1u);
    const uint64_t t0 = k->now_ns();
    close_user(a);
    close_ns = k->now_ns() - t0;
    return secret;
  }
};

TEST_F(VariantScrub, TheRegionIsAnnouncedWithItsTypeCapability) {
  start();
  User u = open_user();
  vfio_device_info di{};
  di.argsz = sizeof(di);
  ASSERT_EQ(u.dev->ioctl(VFIO_DEVICE_GET_INFO, &di), 0);
  EXPECT_EQ(di.num_regions, VFIO_PCI_NUM_REGIONS + 1u) << "the nine vfio-pci regions and the driver's";

  // argsz only for the struct: the CAPS flag, the size needed, no chain.
  vfio_region_info shorty{};
  shorty.argsz = sizeof(shorty);
  shorty.index = VFIO_PCI_NUM_REGIONS;
  shorty.cap_offset = 0x55;
  ASSERT_EQ(u.dev->ioctl(VFIO_DEVICE_GET_REGION_INFO, &shorty), 0);
  EXPECT_EQ(shorty.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_CAPS);
  EXPECT_EQ(shorty.argsz, sizeof(vfio_region_info) + sizeof(vfio_region_info_cap_type));
  EXPECT_EQ(shorty.cap_offset, 0u);
  EXPECT_EQ(shorty.size, sizeof(EduInfo));
  EXPECT_EQ(shorty.offset, kRegion);

  // The size it asked for (and more): the chain right behind the struct.
  std::vector<uint8_t> buf(shorty.argsz + 16, 0xcc);
  auto* full = reinterpret_cast<vfio_region_info*>(buf.data());
  std::memset(full, 0, sizeof(*full));
  full->argsz = static_cast<uint32_t>(buf.size());
  full->index = VFIO_PCI_NUM_REGIONS;
  ASSERT_EQ(u.dev->ioctl(VFIO_DEVICE_GET_REGION_INFO, full), 0);
  EXPECT_EQ(full->flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_CAPS);
  EXPECT_EQ(full->argsz, buf.size()) << "argsz is left as the user gave it";
  ASSERT_EQ(full->cap_offset, sizeof(vfio_region_info));
  vfio_region_info_cap_type cap{};
  std::memcpy(&cap, buf.data() + full->cap_offset, sizeof(cap));
  EXPECT_EQ(cap.header.id, VFIO_REGION_INFO_CAP_TYPE);
  EXPECT_EQ(cap.header.version, 1);
  EXPECT_EQ(cap.header.next, 0u) << "the only capability";
  EXPECT_EQ(cap.type, VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x1234u);
  EXPECT_EQ(cap.subtype, 1u);
  EXPECT_EQ(buf[sizeof(vfio_region_info) + sizeof(cap)], 0xcc) << "nothing written past the chain";

  vfio_region_info beyond{};
  beyond.argsz = sizeof(beyond);
  beyond.index = VFIO_PCI_NUM_REGIONS + 1;
  EXPECT_EQ(u.dev->ioctl(VFIO_DEVICE_GET_REGION_INFO, &beyond), -EINVAL) << "past the last region";
  close_user(u);
}

TEST_F(VariantScrub, TheRegionReadsTheLimitsAndRefusesWrites) {
  start();
  User u = open_user();
  const EduInfo i = info(u);
  EXPECT_EQ(i.magic, 0x31756465u);
  EXPECT_EQ(std::memcmp(&i.magic, "edu1", 4), 0);
  EXPECT_EQ(i.version, 1u);
  EXPECT_EQ(i.dma_addr_bits, 28u);
  EXPECT_EQ(uint64_t{1} << i.dma_addr_bits, edu().dma_mask() + 1) << "what the device really masks with";
  EXPECT_EQ(i.dma_max_len, kLen);
  EXPECT_EQ(i.buf_base, kBuffer);
  EXPECT_EQ(i.scrubs, 0u);
  EXPECT_EQ(i.last_scrub, 0);
  // A read in the middle, one past the end, one longer than the region.
  uint64_t base = 0;
  EXPECT_EQ(u.dev->read(&base, 8, kRegion + offsetof(EduInfo, buf_base)), 8);
  EXPECT_EQ(base, kBuffer);
  uint8_t big[64] = {};
  EXPECT_EQ(u.dev->read(big, sizeof(big), kRegion + 24), 8) << "clamped to the region's end";
  EXPECT_EQ(u.dev->read(big, 4, kRegion + sizeof(EduInfo)), -EINVAL);
  // Read-only: a write is -EINVAL, as vfio-pci's IGD OpRegion answers.
  const uint32_t v = 0;
  EXPECT_EQ(u.dev->write(&v, 4, kRegion), -EINVAL);
  EXPECT_EQ(u.dev->write(&v, 4, kRegion + 0x18), -EINVAL);
  EXPECT_EQ(info(u).scrubs, 0u) << "still as it was";
  EXPECT_EQ(u.dev->read(big, 4, uint64_t{VFIO_PCI_NUM_REGIONS + 1} << VFIO_PCI_OFFSET_SHIFT), -EINVAL);
  close_user(u);
  // Released at the last close and registered again at the next open: still one region.
  User again = open_user();
  vfio_device_info di{};
  di.argsz = sizeof(di);
  ASSERT_EQ(again.dev->ioctl(VFIO_DEVICE_GET_INFO, &di), 0);
  EXPECT_EQ(di.num_regions, VFIO_PCI_NUM_REGIONS + 1u);
  EXPECT_EQ(info(again).scrubs, 1u) << "the close scrubbed";
  close_user(again);
}

TEST_F(VariantScrub, TheNextUserFindsNothingOfThePreviousOne) {
  start();
  const uint64_t faults = f->iommu("dmar0")->faults();
  const std::vector<uint8_t> secret = leave_a_secret();
  EXPECT_EQ(f->iommu("dmar0")->faults(), faults) << "the scrub's transfer reached no memory and the unit";
  EXPECT_EQ(edu().guest_errors().back().outcome, Outcome::UnsupportedRequest) << "bus mastering was off";
  EXPECT_GE(close_ns, uint64_t{kLongFactorial}) << "the scrub waited for the factorial in flight";

  User b = open_user();
  const EduInfo i = info(b);
  EXPECT_EQ(i.scrubs, 1u);
  EXPECT_EQ(i.last_scrub, 0) << dmesg();
  EXPECT_EQ(bar_read(b, kLiveness), 0u);
  EXPECT_EQ(bar_read(b, kFactorial), 0u);
  EXPECT_EQ(bar_read(b, kStatus), 0u);
  EXPECT_EQ(bar_read(b, kIrqStatus), 0u);
  for (uint64_t r : {kDmaSrc, kDmaDst, kDmaCount, kDmaCmd}) EXPECT_EQ(bar_read(b, r), 0u) << std::hex << r;
  enable_dma(b);
  const std::vector<uint8_t> seen = read_back(b);
  EXPECT_NE(seen, secret);
  EXPECT_EQ(seen, std::vector<uint8_t>(kLen, 0)) << "B reads zeros";
  close_user(b);
}

// The negative control: the same scenario with the scrub off. The secret and the registers
// survive the close (and the bus reset vfio_pci_core does on it), so the test above can fail.
TEST_F(VariantScrub, WithoutTheScrubTheNextUserReadsThePreviousUsersData) {
  start("scrub=0");
  const std::vector<uint8_t> secret = leave_a_secret();
  EXPECT_LT(close_ns, uint64_t{kLongFactorial}) << "nobody waited for the factorial";
  User b = open_user();
  EXPECT_EQ(info(b).scrubs, 0u);
  EXPECT_EQ(bar_read(b, kLiveness), ~0x1234u);
  EXPECT_EQ(bar_read(b, kDmaSrc), 0x7654321u);
  EXPECT_EQ(bar_read(b, kIrqStatus) & 0x40u, 0x40u);
  enable_dma(b);
  EXPECT_EQ(read_back(b), secret) << "without the scrub B reads A's data";
  close_user(b);
}

TEST_F(VariantScrub, DeviceResetAndHotResetScrubToo) {
  start();
  User u = open_user();
  std::vector<uint8_t> secret(kLen);
  for (uint32_t i = 0; i < kLen; ++i) secret[i] = static_cast<uint8_t>(0x80 | (i * 7u));
  std::memcpy(u.in, secret.data(), kLen);
  enable_dma(u);
  transfer(u, kIova, kBuffer, kLen, 0);
  ASSERT_EQ(read_back(u), secret);
  bar_write(u, kLiveness, 0);
  const uint64_t t0 = k->now_ns();
  ASSERT_EQ(u.dev->ioctl(VFIO_DEVICE_RESET, nullptr), 0) << dmesg();
  EXPECT_GE(k->now_ns() - t0, 1'000'000'000u) << "a bus reset (Linux waits 1 s), then the scrub";
  EXPECT_EQ(info(u).scrubs, 1u);
  EXPECT_EQ(info(u).last_scrub, 0);
  EXPECT_EQ(bar_read(u, kLiveness), 0u);
  enable_dma(u);
  EXPECT_EQ(read_back(u), std::vector<uint8_t>(kLen, 0));
  // A hot reset of the root port's bus (QEMU's reset when a device has no reset of its own) too.
  transfer(u, kIova, kBuffer, kLen, 0);
  ASSERT_EQ(read_back(u), secret);
  std::vector<uint8_t> hot(sizeof(vfio_pci_hot_reset) + sizeof(int32_t));
  auto* h = reinterpret_cast<vfio_pci_hot_reset*>(hot.data());
  h->argsz = static_cast<uint32_t>(hot.size());
  h->count = 1;
  std::memcpy(hot.data() + sizeof(vfio_pci_hot_reset), &u.group, sizeof(int32_t));
  ASSERT_EQ(u.dev->ioctl(VFIO_DEVICE_PCI_HOT_RESET, hot.data()), 0) << dmesg();
  EXPECT_EQ(info(u).scrubs, 2u);
  enable_dma(u);
  EXPECT_EQ(read_back(u), std::vector<uint8_t>(kLen, 0));
  close_user(u);
}

TEST_F(VariantScrub, WithoutTheScrubTheDeviceResetKeepsTheBuffer) {
  start("scrub=0");
  User u = open_user();
  std::vector<uint8_t> secret(kLen);
  for (uint32_t i = 0; i < kLen; ++i) secret[i] = static_cast<uint8_t>(0x80 | (i * 7u));
  std::memcpy(u.in, secret.data(), kLen);
  enable_dma(u);
  transfer(u, kIova, kBuffer, kLen, 0);
  ASSERT_EQ(u.dev->ioctl(VFIO_DEVICE_RESET, nullptr), 0) << dmesg();
  enable_dma(u);
  EXPECT_EQ(read_back(u), secret) << "QEMU 7.2's edu keeps its buffer over a bus reset";
  close_user(u);
}

}  // namespace
}  // namespace pciesim::test
