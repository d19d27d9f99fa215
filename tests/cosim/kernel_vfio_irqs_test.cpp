// SET_IRQS for the ERR and REQ indexes (Linux 6.1 vfio_pci_set_err_trigger and
// vfio_pci_set_req_trigger over vfio_pci_set_ctx_trigger_single), and the device request: unbinding
// a driver while user space holds the device file waits in vfio_unregister_group_dev, asking the
// user through ops->request (vfio_pci_core_request: the REQ eventfd) at once and every 10 s, and
// finishes when the user closes the file.
#include <cstring>
#include <memory>
#include <uapi/linux/vfio.h>

#include "iommu/iommu_api.h"
#include "kernel/eventfd.h"
#include "kernel/sysfs.h"
#include "kernel_fixture.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"

namespace pciesim::test {
namespace {

// edu0 is QEMU's conventional edu, edu1 the PCIe endpoint variant (docs/edu.md, params.pcie); each
// on a root port with ACS, so each is a group of its own.
const char* kConventionalAndPcieEdu = R"(
name: vfio-irqs
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 3, width: 4}
        acs: {capability: [SV, RR, CR, UF]}
        below:
          endpoint: {name: edu0, model: edu}
      - name: rp1
        device: 2
        link: {gen: 3, width: 4}
        acs: {capability: [SV, RR, CR, UF]}
        below:
          endpoint: {name: edu1, model: edu, params: {pcie: true}}
iommus:
  - {name: dmar0, preset: qemu-7.2, include_all: true}
)";

constexpr uint32_t kTrigger = VFIO_IRQ_SET_ACTION_TRIGGER;

struct VfioIrqs : KernelFixture {
  struct Opened {
    int container = -1, group = -1, device = -1;
    std::shared_ptr<cosim::VfioGroupFile> group_file;
    std::shared_ptr<cosim::VfioDeviceFile> file;
  };

  void SetUp() override {
    boot(kConventionalAndPcieEdu);
    ASSERT_EQ(k->load_module("pciesim_vfio_pci"), 0) << dmesg();
    ASSERT_EQ(k->load_module("vfio_pci"), 0) << dmesg();
  }

  // Binds `edu` to `driver` through driver_override and opens container, group and device.
  void open(const std::string& edu, Opened& o, const std::string& driver = "pciesim_vfio_pci") {
    const std::string name = dev(edu).name;
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/devices/" + name + "/driver_override", driver), 0);
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/drivers_probe", name), 0);
    ASSERT_NE(dev(edu).dev->driver, nullptr) << dmesg();
    o.container = k->vfio().open("/dev/vfio/vfio");
    o.group = k->vfio().open("/dev/vfio/" + std::to_string(k->iommu().group_of(dev(edu))->id));
    ASSERT_GE(o.group, 0);
    o.group_file = std::dynamic_pointer_cast<cosim::VfioGroupFile>(k->files().get(o.group));
    auto c = std::dynamic_pointer_cast<cosim::VfioContainer>(k->files().get(o.container));
    ASSERT_EQ(o.group_file->ioctl(VFIO_GROUP_SET_CONTAINER, &o.container), 0);
    ASSERT_EQ(c->ioctl(VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1v2_IOMMU})), 0);
    std::vector<char> n(name.begin(), name.end());
    n.push_back('\0');
    const long fd = o.group_file->ioctl(VFIO_GROUP_GET_DEVICE_FD, n.data());
    ASSERT_GE(fd, 0);
    o.device = static_cast<int>(fd);
    o.file = std::dynamic_pointer_cast<cosim::VfioDeviceFile>(k->files().get(o.device));
  }

  // VFIO_DEVICE_SET_IRQS with struct vfio_irq_set followed by its data, as user space builds it.
  static long set_irqs(cosim::VfioDeviceFile& f, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
                       const void* data = nullptr, size_t bytes = 0) {
    std::vector<uint8_t> b(sizeof(vfio_irq_set) + bytes);
    vfio_irq_set s{static_cast<uint32_t>(b.size()), flags, index, start, count};
    std::memcpy(b.data(), &s, sizeof s);
    if (bytes) std::memcpy(b.data() + sizeof(vfio_irq_set), data, bytes);
    return f.ioctl(VFIO_DEVICE_SET_IRQS, b.data());
  }
  static long set_eventfd(cosim::VfioDeviceFile& f, uint32_t index, int32_t fd) {
    return set_irqs(f, VFIO_IRQ_SET_DATA_EVENTFD | kTrigger, index, 0, 1, &fd, sizeof fd);
  }
  static long loopback(cosim::VfioDeviceFile& f, uint32_t index) { return set_irqs(f, VFIO_IRQ_SET_DATA_NONE | kTrigger, index, 0, 1); }
  static long loopback_bool(cosim::VfioDeviceFile& f, uint32_t index, uint8_t value) {
    return set_irqs(f, VFIO_IRQ_SET_DATA_BOOL | kTrigger, index, 0, 1, &value, 1);
  }
  uint64_t drain(int efd) {  // the eventfd's count, 0 when nothing was signalled
    uint64_t v = 0;
    return cosim::eventfd_read(*k, efd, v) == 0 ? v : 0;
  }
  std::weak_ptr<cosim::KernelFile> watch(int fd) { return k->files().get(fd); }
  size_t lines(const std::string& needle) { return k->log().grep(needle).size(); }
};

TEST_F(VfioIrqs, ErrOnAConventionalPciDeviceHasNoVectorsSoEverySetIrqsIsInvalid) {
  Opened d;
  ASSERT_NO_FATAL_FAILURE(open("edu0", d));
  vfio_irq_info info{sizeof(info), 0, VFIO_PCI_ERR_IRQ_INDEX, 0};
  EXPECT_EQ(d.file->ioctl(VFIO_DEVICE_GET_IRQ_INFO, &info), -EINVAL) << "vfio_pci_ioctl_get_irq_info: not PCIe";
  const int32_t efd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  EXPECT_EQ(set_eventfd(*d.file, VFIO_PCI_ERR_IRQ_INDEX, efd), -EINVAL) << "count 1 > vfio_pci_get_irq_count 0";
  EXPECT_EQ(set_irqs(*d.file, VFIO_IRQ_SET_DATA_NONE | kTrigger, VFIO_PCI_ERR_IRQ_INDEX, 0, 0), -EINVAL) << "start 0 >= 0";
  EXPECT_EQ(set_irqs(*d.file, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_ERR_IRQ_INDEX, 0, 0), -EINVAL)
      << "the range is checked before any handler is looked up";
}

TEST_F(VfioIrqs, ErrOnAPcieEndpointTakesAnEventfdLoopsBackAndReleases) {
  Opened d;
  ASSERT_NO_FATAL_FAILURE(open("edu1", d));
  ASSERT_TRUE(pci_is_pcie(dev("edu1").dev.get())) << "params.pcie: a PCI Express capability";
  vfio_irq_info info{sizeof(info), 0, VFIO_PCI_ERR_IRQ_INDEX, 0};
  ASSERT_EQ(d.file->ioctl(VFIO_DEVICE_GET_IRQ_INFO, &info), 0);
  EXPECT_EQ(info.count, 1u);
  EXPECT_EQ(info.flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE);
  auto& f = *d.file;
  const uint32_t err = VFIO_PCI_ERR_IRQ_INDEX;
  EXPECT_EQ(loopback(f, err), -EINVAL) << "DATA_NONE with no eventfd registered";
  EXPECT_EQ(loopback_bool(f, err, 1), 0) << "DATA_BOOL with none registered signals nothing, successfully";
  const int32_t efd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  ASSERT_EQ(set_eventfd(f, err, efd), 0);
  EXPECT_EQ(loopback(f, err), 0);
  EXPECT_EQ(loopback_bool(f, err, 1), 0);
  EXPECT_EQ(loopback_bool(f, err, 0), 0);
  EXPECT_EQ(drain(efd), 2u) << "NONE and BOOL(1) signal, BOOL(0) does not";
  EXPECT_EQ(set_irqs(f, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, err, 0, 1), -ENOTTY) << "only TRIGGER has a handler";
  EXPECT_EQ(set_irqs(f, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, err, 0, 1), -ENOTTY);
  EXPECT_EQ(set_irqs(f, VFIO_IRQ_SET_DATA_NONE | kTrigger, err, 0, 2), -EINVAL) << "one vector";
  EXPECT_EQ(set_irqs(f, VFIO_IRQ_SET_DATA_NONE | kTrigger, err, 1, 0), -EINVAL);
  EXPECT_EQ(set_irqs(f, VFIO_IRQ_SET_DATA_BOOL | kTrigger, err, 0, 0), -EINVAL) << "DATA_BOOL needs its one vector";
  EXPECT_EQ(set_irqs(f, VFIO_IRQ_SET_DATA_EVENTFD | kTrigger, err, 0, 0), -EINVAL);
  EXPECT_EQ(set_eventfd(f, err, -2), 0) << "a negative fd other than -1 changes nothing";
  EXPECT_EQ(loopback(f, err), 0);
  EXPECT_EQ(drain(efd), 1u);
  const int32_t efd2 = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  ASSERT_EQ(set_eventfd(f, err, efd2), 0) << "a new eventfd replaces the old";
  EXPECT_EQ(loopback(f, err), 0);
  EXPECT_EQ(drain(efd), 0u);
  EXPECT_EQ(drain(efd2), 1u);
  EXPECT_EQ(set_eventfd(f, err, -1), 0) << "fd -1 releases";
  EXPECT_EQ(loopback(f, err), -EINVAL);
  ASSERT_EQ(set_eventfd(f, err, efd), 0);
  EXPECT_EQ(set_irqs(f, VFIO_IRQ_SET_DATA_NONE | kTrigger, err, 0, 0), 0) << "DATA_NONE with count 0 releases";
  EXPECT_EQ(loopback(f, err), -EINVAL);
  EXPECT_EQ(drain(efd), 0u);
}

TEST_F(VfioIrqs, ReqTakesAnEventfdLoopsBackAndReleases) {
  Opened d;
  ASSERT_NO_FATAL_FAILURE(open("edu0", d));
  vfio_irq_info info{sizeof(info), 0, VFIO_PCI_REQ_IRQ_INDEX, 0};
  ASSERT_EQ(d.file->ioctl(VFIO_DEVICE_GET_IRQ_INFO, &info), 0);
  EXPECT_EQ(info.count, 1u) << "every device has the request channel, conventional or not";
  EXPECT_EQ(info.flags, VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE);
  auto& f = *d.file;
  const uint32_t req = VFIO_PCI_REQ_IRQ_INDEX;
  EXPECT_EQ(set_eventfd(f, req, 99), -EBADF) << "eventfd_ctx_fdget: no such descriptor";
  EXPECT_EQ(set_eventfd(f, req, d.container), -EINVAL) << "eventfd_ctx_fdget: not an eventfd";
  EXPECT_EQ(loopback(f, req), -EINVAL);
  const int32_t efd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  ASSERT_EQ(set_eventfd(f, req, efd), 0);
  EXPECT_EQ(loopback(f, req), 0);
  EXPECT_EQ(loopback_bool(f, req, 1), 0);
  EXPECT_EQ(drain(efd), 2u);
  EXPECT_EQ(set_irqs(f, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, req, 0, 1), -ENOTTY);
  EXPECT_EQ(set_irqs(f, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK | kTrigger, req, 0, 1), -ENOTTY)
      << "two actions at once: no handler";
  EXPECT_EQ(set_eventfd(f, req, -1), 0);
  EXPECT_EQ(loopback(f, req), -EINVAL) << "released";
  EXPECT_EQ(loopback_bool(f, req, 1), 0);
  EXPECT_EQ(drain(efd), 0u);
}

TEST_F(VfioIrqs, TheLastCloseReleasesTheErrAndReqEventfds) {
  Opened d;
  ASSERT_NO_FATAL_FAILURE(open("edu1", d));
  const int32_t err_fd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  const int32_t req_fd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  ASSERT_EQ(set_eventfd(*d.file, VFIO_PCI_ERR_IRQ_INDEX, err_fd), 0);
  ASSERT_EQ(set_eventfd(*d.file, VFIO_PCI_REQ_IRQ_INDEX, req_fd), 0);
  auto err_ctx = watch(err_fd), req_ctx = watch(req_fd);
  ASSERT_EQ(k->files().close(err_fd), 0);
  ASSERT_EQ(k->files().close(req_fd), 0);
  EXPECT_FALSE(err_ctx.expired()) << "the driver still holds the contexts";
  EXPECT_FALSE(req_ctx.expired());
  d.file.reset();
  ASSERT_EQ(k->files().close(d.device), 0);
  EXPECT_TRUE(err_ctx.expired()) << "vfio_pci_core_close_device put them";
  EXPECT_TRUE(req_ctx.expired());
}

// The user (QEMU does this) waits on the REQ eventfd and closes the device when asked.
TEST_F(VfioIrqs, UnbindingAnOpenDeviceSignalsTheReqEventfdAndFinishesWhenTheUserCloses) {
  Opened d;
  ASSERT_NO_FATAL_FAILURE(open("edu0", d, "vfio-pci"));
  const std::string name = dev("edu0").name;
  const int32_t efd = cosim::eventfd_create(*k, 0, 0);  // blocking: the user sleeps on it
  ASSERT_EQ(set_eventfd(*d.file, VFIO_PCI_REQ_IRQ_INDEX, efd), 0);
  uint64_t asked = 0, asked_at = 0;
  long reopen = -1;
  k->scheduler().spawn_daemon("user", [&] {
    cosim::eventfd_read(*k, efd, asked);
    asked_at = k->now_ns();
    // 6.1 still lets a user who holds the device open it again: the open file keeps the
    // registration's refcount above 0 (vfio_device_try_get).
    std::vector<char> n(name.begin(), name.end());
    n.push_back('\0');
    reopen = d.group_file->ioctl(VFIO_GROUP_GET_DEVICE_FD, n.data());
    d.file.reset();
    k->files().close(d.device);
    if (reopen >= 0) k->files().close(static_cast<int>(reopen));
  });
  const uint64_t t0 = k->now_ns();
  EXPECT_EQ(k->sysfs().write("/sys/bus/pci/drivers/vfio-pci/unbind", name), 0);
  EXPECT_EQ(dev("edu0").dev->driver, nullptr) << dmesg();
  EXPECT_EQ(asked, 1u);
  EXPECT_LT(asked_at - t0, 1'000'000'000u) << "the first request goes out at once";
  EXPECT_GE(reopen, 0) << "a second device fd while the first is still open";
  EXPECT_EQ(lines("Relaying device request to user (#0)"), 1u) << dmesg();
  EXPECT_EQ(lines("No device request channel registered"), 0u);
  EXPECT_EQ(k->vfio().open("/dev/vfio/" + std::to_string(k->iommu().group_of(dev("edu0"))->id)), -ENOENT)
      << "the device left its group";
}

TEST_F(VfioIrqs, TheRequestIsRepeatedEveryTenSecondsAndLoggedEveryTenth) {
  Opened d;
  ASSERT_NO_FATAL_FAILURE(open("edu0", d, "vfio-pci"));
  const std::string name = dev("edu0").name;
  const int32_t efd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  ASSERT_EQ(set_eventfd(*d.file, VFIO_PCI_REQ_IRQ_INDEX, efd), 0);
  uint64_t requests = 0, closed_at = 0;
  k->scheduler().spawn_daemon("slow user", [&] {
    msleep(105'000);  // ignores the requests for 105 s
    cosim::eventfd_read(*k, efd, requests);
    d.file.reset();
    k->files().close(d.device);
    closed_at = k->now_ns();
  });
  const uint64_t t0 = k->now_ns();
  EXPECT_EQ(k->sysfs().write("/sys/bus/pci/drivers/vfio-pci/unbind", name), 0);
  EXPECT_EQ(dev("edu0").dev->driver, nullptr);
  EXPECT_GE(closed_at - t0, 105'000'000'000u);
  EXPECT_LT(k->now_ns() - closed_at, 1'000'000'000u) << "finished as soon as the user closed";
  EXPECT_EQ(requests, 11u) << "at 0, 10, ..., 100 s (HZ * 10 apart)";
  EXPECT_EQ(lines("Relaying device request to user (#0)"), 1u) << dmesg();
  EXPECT_EQ(lines("Relaying device request to user (#10)"), 1u);
  EXPECT_EQ(lines("Relaying device request to user (#1)"), 0u) << "only every tenth is logged";
}

TEST_F(VfioIrqs, WithoutAReqEventfdTheDriverWarnsOnceAndWaitsForTheUser) {
  Opened d;
  ASSERT_NO_FATAL_FAILURE(open("edu0", d, "vfio-pci"));
  const std::string name = dev("edu0").name;
  k->scheduler().spawn_daemon("user", [&] {
    msleep(25'000);
    d.file.reset();
    k->files().close(d.device);
  });
  const uint64_t t0 = k->now_ns();
  EXPECT_EQ(k->sysfs().write("/sys/bus/pci/drivers/vfio-pci/unbind", name), 0);
  EXPECT_GE(k->now_ns() - t0, 25'000'000'000u) << "blocked until released by the user";
  EXPECT_EQ(dev("edu0").dev->driver, nullptr);
  EXPECT_EQ(lines("vfio-pci " + name + ": No device request channel registered, blocked until released by user"), 1u)
      << "warned once, not at each of the three requests\n" << dmesg();
  EXPECT_EQ(lines("Relaying device request"), 0u);
}

TEST_F(VfioIrqs, AnUnbindNobodyWillEverReleaseIsReportedAsAHang) {
  Opened d;
  ASSERT_NO_FATAL_FAILURE(open("edu0", d, "vfio-pci"));
  const std::string name = dev("edu0").name;
  k->sysfs().write("/sys/bus/pci/drivers/vfio-pci/unbind", name);
  EXPECT_EQ(lines("INFO: kernel task vfio-pci.remove cannot finish"), 1u) << dmesg();
  EXPECT_EQ(lines("No device request channel registered"), 1u);
  // The user closing the device later lets the remove finish.
  d.file.reset();
  EXPECT_EQ(k->files().close(d.device), 0);
  k->run("later", [] { msleep(1); });
  EXPECT_EQ(k->vfio().open("/dev/vfio/" + std::to_string(k->iommu().group_of(dev("edu0"))->id)), -ENOENT);
}

}  // namespace
}  // namespace pciesim::test
