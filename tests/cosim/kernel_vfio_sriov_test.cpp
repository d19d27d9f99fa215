// SR-IOV VFs through VFIO under the co-simulated Linux 6.1 (docs/sriov.md "VFIO and the VF
// token"): a VF of the 82599-like NIC bound to vfio-pci and assigned (group -> container ->
// device fd), its config space as vfio_pci_config.c shows a VF (ids from the PF, Command.MEM not
// gating BAR access), its BARs and MSI-X, its DMA engine copying through the IOMMU with the VF's
// own requester id and faulting with the VF's BDF after unmap; and the VF token: vfio-pci's
// enable_sriov, VFIO_DEVICE_FEATURE_PCI_VF_TOKEN on the PF, "name vf_token=<uuid>" in
// VFIO_GROUP_GET_DEVICE_FD, each rule with its errno and message.
#include <cstdio>
#include <cstring>
#include <uapi/linux/vfio.h>

#include "devices/sriov_nic/sriov_nic_regs.h"
#include "iommu/iommu_api.h"
#include "iommu/iommu_core.h"
#include "kernel/eventfd.h"
#include "kernel/sysfs.h"
#include "kernel_fixture.h"
#include "vfio/user_memory.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"
#include <linux/uuid.h>

namespace pciesim::test {
namespace {

namespace nic = pciesim::sriov_nic;

// The NIC on a root port with ACS (each VF its own group), and an edu that is neither PF nor VF.
const char* kVfioSriovTopology = R"(
name: kernel-vfio-sriov
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 3, width: 8}
        acs: {capability: all, control: none}
        below:
          endpoint: {name: nic0, model: sriov-nic, params: {total_vfs: 4}}
      - name: rp1
        device: 2
        link: {gen: 3, width: 4}
        acs: {capability: all, control: none}
        below:
          endpoint: {name: edu0, model: edu}
iommus:
  - {name: dmar0, preset: server, include_all: true}
)";

// A host PF driver (as ixgbe is for SR-IOV): its sriov_configure enables or disables VFs.
int pf_probe(struct pci_dev*, const struct pci_device_id*) { return 0; }
void pf_remove(struct pci_dev* dev) { pci_disable_sriov(dev); }
int pf_sriov_configure(struct pci_dev* dev, int num_vfs) {
  if (num_vfs == 0) {
    pci_disable_sriov(dev);
    return 0;
  }
  const int rc = pci_enable_sriov(dev, num_vfs);
  return rc ? rc : num_vfs;
}
const struct pci_device_id kPfIds[] = {
    {0x8086, 0x10fb, static_cast<__u32>(PCI_ANY_ID), static_cast<__u32>(PCI_ANY_ID), 0, 0, 0, 0}, {}};
struct pci_driver g_pf_driver = {"sriov_pf_host", kPfIds, pf_probe, pf_remove, nullptr, pf_sriov_configure,
                                 nullptr, {}, false};

constexpr uint64_t kConfig = uint64_t{VFIO_PCI_CONFIG_REGION_INDEX} << 40;
constexpr uint64_t kBar0 = uint64_t{VFIO_PCI_BAR0_REGION_INDEX} << 40;
const char kTokenA[] = "bd8d9d2b-5a5f-4f5a-a211-f591514ba1f3";
const char kTokenB[] = "00112233-4455-6677-8899-aabbccddeeff";

struct KernelVfioSriov : KernelFixture {
  int container = -1;
  std::vector<int> fds;  // closed in TearDown, before the kernel goes

  void SetUp() override {
    boot(kVfioSriovTopology);
    container = k->vfio().open("/dev/vfio/vfio");
  }
  void TearDown() override {
    for (auto it = fds.rbegin(); it != fds.rend(); ++it) k->files().close(*it);
    k->files().close(container);
  }
  std::vector<cosim::PciDev*> vfs_of(const cosim::PciDev& pf) {
    std::vector<cosim::PciDev*> out;
    for (const auto& d : k->pci().devices())
      if (d->dev->is_virtfn && d->dev->physfn == pf.dev.get()) out.push_back(d.get());
    return out;
  }
  void bind(const std::string& name, const std::string& driver) {
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/devices/" + name + "/driver_override", driver), 0);
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/drivers_probe", name), 0);
  }
  // /dev/vfio/N of `d` opened and put in the container (type1v2 set with the first group).
  std::shared_ptr<cosim::VfioGroupFile> group_of(const cosim::PciDev& d) {
    const int fd = k->vfio().open("/dev/vfio/" + std::to_string(k->iommu().group_of(d)->id));
    EXPECT_GE(fd, 0) << dmesg();
    if (fd < 0) return nullptr;
    fds.push_back(fd);
    auto g = std::dynamic_pointer_cast<cosim::VfioGroupFile>(k->files().get(fd));
    EXPECT_EQ(g->ioctl(VFIO_GROUP_SET_CONTAINER, &container), 0);
    auto c = std::dynamic_pointer_cast<cosim::VfioContainer>(k->files().get(container));
    if (!c->iommu_set()) {
      EXPECT_EQ(c->ioctl(VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1v2_IOMMU})), 0);
    }
    return g;
  }
  // VFIO_GROUP_GET_DEVICE_FD with `name` as given: the fd or -errno.
  long get_device_fd(cosim::VfioGroupFile& g, const std::string& name) {
    std::vector<char> n(name.begin(), name.end());
    n.push_back('\0');
    const long fd = g.ioctl(VFIO_GROUP_GET_DEVICE_FD, n.data());
    if (fd >= 0) fds.push_back(static_cast<int>(fd));
    return fd;
  }
  std::shared_ptr<cosim::VfioDeviceFile> file(long fd) {
    return std::dynamic_pointer_cast<cosim::VfioDeviceFile>(k->files().get(static_cast<int>(fd)));
  }
  void close_fd(long fd) {
    fds.erase(std::remove(fds.begin(), fds.end(), static_cast<int>(fd)), fds.end());
    k->files().close(static_cast<int>(fd));
  }
  // VFIO_DEVICE_FEATURE with the PCI_VF_TOKEN feature and `flags`; argsz covers `payload` bytes.
  long vf_token_feature(cosim::VfioDeviceFile& f, uint32_t flags, const char* uuid, size_t payload = 16) {
    std::vector<uint8_t> buf(sizeof(vfio_device_feature) + 16, 0);
    vfio_device_feature h{};
    h.argsz = static_cast<uint32_t>(sizeof(h) + payload);
    h.flags = VFIO_DEVICE_FEATURE_PCI_VF_TOKEN | flags;
    std::memcpy(buf.data(), &h, sizeof h);
    if (uuid) {
      EXPECT_EQ(uuid_parse(uuid, reinterpret_cast<uuid_t*>(buf.data() + sizeof h)), 0);
    }
    return f.ioctl(VFIO_DEVICE_FEATURE, buf.data());
  }
  static uint32_t rd32(cosim::VfioDeviceFile& f, uint64_t pos) {
    uint32_t v = 0xdeadbeef;
    EXPECT_EQ(f.read(&v, 4, pos), 4) << std::hex << pos;
    return v;
  }
  static uint16_t rd16(cosim::VfioDeviceFile& f, uint64_t pos) {
    uint16_t v = 0xdead;
    EXPECT_EQ(f.read(&v, 2, pos), 2) << std::hex << pos;
    return v;
  }
  static void wr32(cosim::VfioDeviceFile& f, uint64_t pos, uint32_t v) { EXPECT_EQ(f.write(&v, 4, pos), 4) << std::hex << pos; }
  static void wr16(cosim::VfioDeviceFile& f, uint64_t pos, uint16_t v) { EXPECT_EQ(f.write(&v, 2, pos), 2) << std::hex << pos; }
  long map(uint64_t vaddr, uint64_t iova, uint64_t size) {
    vfio_iommu_type1_dma_map m{sizeof(m), VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr, iova, size};
    return std::dynamic_pointer_cast<cosim::VfioContainer>(k->files().get(container))->ioctl(VFIO_IOMMU_MAP_DMA, &m);
  }
  long unmap(uint64_t iova, uint64_t size) {
    vfio_iommu_type1_dma_unmap u{};
    u.argsz = sizeof(u);
    u.iova = iova;
    u.size = size;
    return std::dynamic_pointer_cast<cosim::VfioContainer>(k->files().get(container))->ioctl(VFIO_IOMMU_UNMAP_DMA, &u);
  }
  void settle() { k->run("settle", [] { msleep(1); }); }  // the engine's copy, fault reporting
  static std::string short_bdf(const cosim::PciDev& d) {
    char b[16];
    std::snprintf(b, sizeof b, "%02x:%02x.%u", d.bdf.bus, d.bdf.devfn >> 3, d.bdf.devfn & 7u);
    return b;
  }
};

}  // namespace

TEST_F(KernelVfioSriov, AVfOnVfioPciIsAssignedAndDmasThroughTheIommuWithItsOwnRid) {
  ASSERT_EQ(k->pci().register_driver(&g_pf_driver, "sriov_pf_host"), 0);
  cosim::PciDev& pf = dev("nic0");
  ASSERT_EQ(k->pci().sriov_numvfs_store(pf, 2), 0) << dmesg();
  ASSERT_EQ(k->load_module("vfio_pci"), 0) << dmesg();
  const std::vector<cosim::PciDev*> vfs = vfs_of(pf);
  ASSERT_EQ(vfs.size(), 2u);
  cosim::PciDev& vf = *vfs[1];
  bind(vf.name, "vfio-pci");
  ASSERT_NE(vf.dev->driver, nullptr) << dmesg();
  EXPECT_STREQ(vf.dev->driver->name, "vfio-pci");
  auto g = group_of(vf);
  ASSERT_TRUE(g);
  // The PF's driver is not vfio-pci: a token is refused, none is needed.
  EXPECT_EQ(get_device_fd(*g, vf.name + " vf_token=" + kTokenA), -EINVAL);
  EXPECT_TRUE(logged(vf.name + ": VF token incorrectly provided, PF not bound to vfio-pci")) << dmesg();
  const long fd = get_device_fd(*g, vf.name);
  ASSERT_GE(fd, 0) << dmesg();
  auto f = file(fd);

  // Config space: the hardware's ids read FFFFh, the user sees the PF's vendor and VF Device ID.
  uint32_t hw_ids = 0;
  k->pci().config_read(vf.dev.get(), PCI_VENDOR_ID, 4, hw_ids);
  EXPECT_EQ(hw_ids, 0xffffffffu);
  EXPECT_EQ(rd16(*f, kConfig + PCI_VENDOR_ID), nic::kPfVendor);
  EXPECT_EQ(rd16(*f, kConfig + PCI_DEVICE_ID), nic::kVfDevice);
  uint8_t pin = 0xff;
  EXPECT_EQ(f->read(&pin, 1, kConfig + PCI_INTERRUPT_PIN), 1);
  EXPECT_EQ(pin, 0);
  // A VF's BAR registers read 0 (PCIe 9.3.4.1.11); the user sees the type of the VF's resource.
  uint32_t hw_bar0 = 0xdead;
  k->pci().config_read(vf.dev.get(), PCI_BASE_ADDRESS_0, 4, hw_bar0);
  EXPECT_EQ(hw_bar0, 0u);
  EXPECT_EQ(rd32(*f, kConfig + PCI_BASE_ADDRESS_0), nic::kBarMem64Pref);

  // Regions: the VF's BARs from its resources (VF BAR0, VF BAR3 with the MSI-X table).
  vfio_device_info info{};
  info.argsz = sizeof(info);
  ASSERT_EQ(f->ioctl(VFIO_DEVICE_GET_INFO, &info), 0);
  EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
  EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_RESET) << "VFs have FLR";
  for (uint32_t index : {0u, 2u, 3u}) {
    vfio_region_info r{};
    r.argsz = sizeof(r);
    r.index = index;
    ASSERT_EQ(f->ioctl(VFIO_DEVICE_GET_REGION_INFO, &r), 0);
    EXPECT_EQ(r.size, index == 2 ? 0u : nic::kVfBarSize) << index;
  }
  vfio_irq_info irq{};
  irq.argsz = sizeof(irq);
  irq.index = VFIO_PCI_INTX_IRQ_INDEX;
  ASSERT_EQ(f->ioctl(VFIO_DEVICE_GET_IRQ_INFO, &irq), 0);
  EXPECT_EQ(irq.count, 0u) << "VFs have no INTx";
  irq.index = VFIO_PCI_MSIX_IRQ_INDEX;
  ASSERT_EQ(f->ioctl(VFIO_DEVICE_GET_IRQ_INFO, &irq), 0);
  EXPECT_EQ(irq.count, nic::kDefaultVfMsixVectors);

  // Command.MEM: a VF has no MSE of its own (no_command_memory; the PF's VF MSE decodes it). The
  // user reads a virtual bit, set at open, and clearing it does not stop BAR access (6.1).
  EXPECT_EQ(rd16(*f, kConfig + PCI_COMMAND) & PCI_COMMAND_MEMORY, PCI_COMMAND_MEMORY);
  wr16(*f, kConfig + PCI_COMMAND, PCI_COMMAND_MASTER);  // MEM off, bus mastering on
  EXPECT_EQ(rd16(*f, kConfig + PCI_COMMAND) & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), PCI_COMMAND_MASTER);
  EXPECT_EQ(rd32(*f, kBar0 + nic::kEngId), nic::kEngIdValue);

  // MSI-X vector 0 to an eventfd.
  const int32_t efd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  fds.push_back(efd);
  std::vector<uint8_t> set(sizeof(vfio_irq_set) + sizeof(int32_t));
  vfio_irq_set s{static_cast<uint32_t>(set.size()), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                 VFIO_PCI_MSIX_IRQ_INDEX, 0, 1};
  std::memcpy(set.data(), &s, sizeof s);
  std::memcpy(set.data() + sizeof s, &efd, sizeof efd);
  ASSERT_EQ(f->ioctl(VFIO_DEVICE_SET_IRQS, set.data()), 0) << dmesg();

  // User memory at IOVA 0x100000 (source page) and 0x101000 (destination page).
  auto* buf = static_cast<uint8_t*>(k->user_memory().map(2 * 4096));
  for (unsigned i = 0; i < 64; ++i) buf[i] = static_cast<uint8_t>(0xa0 + i);
  ASSERT_EQ(map(reinterpret_cast<uint64_t>(buf), 0x100000, 0x2000), 0);
  auto copy = [&] {
    wr32(*f, kBar0 + nic::kEngSrc, 0x100000);
    wr32(*f, kBar0 + nic::kEngSrc + 4, 0);
    wr32(*f, kBar0 + nic::kEngDst, 0x101000);
    wr32(*f, kBar0 + nic::kEngDst + 4, 0);
    wr32(*f, kBar0 + nic::kEngLen, 64);
    wr32(*f, kBar0 + nic::kEngVector, 0);
    wr32(*f, kBar0 + nic::kEngCtrl, nic::kCtrlIrq);
    wr32(*f, kBar0 + nic::kEngDoorbell, nic::kDoorbellCopy);
    settle();
  };
  copy();
  EXPECT_EQ(rd32(*f, kBar0 + nic::kEngStatus) & (nic::kStatusDone | nic::kStatusError), nic::kStatusDone) << dmesg();
  EXPECT_EQ(std::memcmp(buf + 0x1000, buf, 64), 0) << "the VF's copy went through its IOVA mapping";
  uint64_t events = 0;
  EXPECT_EQ(cosim::eventfd_read(*k, efd, events), 0) << "the completion's MSI-X message";
  EXPECT_EQ(events, 1u);
  // The translation was the VF's: its RID has the VFIO domain; the PF's still the kernel's.
  cosim::IntelIommu* unit = k->iommu().unit_for(pf);
  ASSERT_NE(unit, nullptr);
  EXPECT_NE(unit->attached_domain(vf.bdf), unit->attached_domain(pf.bdf));

  // After unmap the same copy faults, and the fault names the VF.
  wr32(*f, kBar0 + nic::kEngStatus, nic::kStatusDone);
  ASSERT_EQ(unmap(0x100000, 0x2000), 0);
  copy();
  EXPECT_EQ(rd32(*f, kBar0 + nic::kEngStatus) & nic::kStatusError, nic::kStatusError);
  EXPECT_TRUE(logged("DMAR: [DMA Read NO_PASID] Request device [" + short_bdf(vf) +
                     "] fault addr 0x100000 [fault reason 0x06] PTE Read access is not set"))
      << dmesg();
  EXPECT_FALSE(logged("Request device [" + short_bdf(pf) + "]")) << "not attributed to the PF";
  close_fd(fd);
}

TEST_F(KernelVfioSriov, WithoutEnableSriovVfioPciRefusesToCreateVfs) {
  ASSERT_EQ(k->load_module("vfio_pci"), 0) << dmesg();
  cosim::PciDev& pf = dev("nic0");
  bind(pf.name, "vfio-pci");
  ASSERT_NE(pf.dev->driver, nullptr) << dmesg();
  EXPECT_EQ(k->pci().sriov_numvfs_store(pf, 2), -ENOENT) << "vfio_pci_sriov_configure: !enable_sriov";
  EXPECT_TRUE(vfs_of(pf).empty());
}

TEST_F(KernelVfioSriov, VfioPciRefusesAPfWhoseVfsAlreadyExist) {
  // A host driver enabled VFs and left them when it went (its remove does not disable SR-IOV).
  pci_driver keep = g_pf_driver;
  keep.name = "sriov_pf_keep";
  keep.remove = nullptr;
  ASSERT_EQ(k->pci().register_driver(&keep, "sriov_pf_keep"), 0);
  cosim::PciDev& pf = dev("nic0");
  ASSERT_EQ(k->pci().sriov_numvfs_store(pf, 2), 0) << dmesg();
  ASSERT_EQ(k->sysfs().write("/sys/bus/pci/drivers/sriov_pf_keep/unbind", pf.name), 0);
  ASSERT_EQ(k->load_module("vfio_pci"), 0) << dmesg();
  ASSERT_EQ(k->sysfs().write("/sys/bus/pci/devices/" + pf.name + "/driver_override", "vfio-pci"), 0);
  k->sysfs().write("/sys/bus/pci/drivers_probe", pf.name);
  EXPECT_EQ(pf.dev->driver, nullptr);
  EXPECT_TRUE(logged(pf.name + ": Cannot bind to PF with SR-IOV enabled")) << dmesg();
  EXPECT_TRUE(logged("probe with driver vfio-pci failed with error -16")) << dmesg();
  k->run("disable", [&] { pci_disable_sriov(pf.dev.get()); });
  k->pci().unregister_driver(&keep);
}

TEST_F(KernelVfioSriov, TheVfTokenGuardsVfsOfAVfioPciPfAndThePfWhileVfsAreInUse) {
  ASSERT_EQ(k->load_module("vfio_pci", "enable_sriov=1"), 0) << dmesg();
  cosim::PciDev& pf = dev("nic0");
  bind(pf.name, "vfio-pci");
  ASSERT_EQ(k->pci().sriov_numvfs_store(pf, 2), 0) << dmesg();
  const std::vector<cosim::PciDev*> vfs = vfs_of(pf);
  ASSERT_EQ(vfs.size(), 2u);
  cosim::PciDev& vf = *vfs[0];
  // vfio_pci_bus_notifier captured the new VFs for vfio-pci.
  EXPECT_TRUE(logged(pf.name + ": Captured SR-IOV VF " + vf.name + " driver_override")) << dmesg();
  ASSERT_NE(vf.dev->driver, nullptr);
  EXPECT_STREQ(vf.dev->driver->name, "vfio-pci");
  EXPECT_STREQ(vf.dev->driver_override, "vfio-pci");
  EXPECT_EQ(k->pci().sriov_numvfs_store(pf, 3), -EBUSY) << "disable before enabling again";

  auto pf_group = group_of(pf);
  auto vf_group = group_of(vf);
  ASSERT_TRUE(pf_group && vf_group);
  EXPECT_NE(pf_group.get(), vf_group.get());
  // No VF in use: the PF opens without a token.
  const long pf_fd = get_device_fd(*pf_group, pf.name);
  ASSERT_GE(pf_fd, 0) << dmesg();
  auto pff = file(pf_fd);
  // Opening the PF reset it (FLR), which cleared VF Enable; pci_restore_state's
  // sriov_restore_state enabled the VFs again, so the VF still answers config reads.
  uint32_t vf_class = 0;
  k->pci().config_read(vf.dev.get(), PCI_CLASS_REVISION, 4, vf_class);
  EXPECT_EQ(vf_class >> 8, nic::kClassEthernet);
  // VFIO_DEVICE_FEATURE_PCI_VF_TOKEN: SET only; PROBE answers; a short UUID is refused.
  EXPECT_EQ(vf_token_feature(*pff, VFIO_DEVICE_FEATURE_GET, nullptr), -EINVAL) << "GET would leak the token";
  EXPECT_EQ(vf_token_feature(*pff, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET, nullptr), 0);
  EXPECT_EQ(vf_token_feature(*pff, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET, nullptr), -EINVAL);
  EXPECT_EQ(vf_token_feature(*pff, 0, nullptr), -EINVAL) << "neither GET nor SET";
  EXPECT_EQ(vf_token_feature(*pff, VFIO_DEVICE_FEATURE_SET, kTokenA, 8), -EINVAL) << "argsz short of a UUID";
  ASSERT_EQ(vf_token_feature(*pff, VFIO_DEVICE_FEATURE_SET, kTokenA), 0);

  // The VF: no token, a wrong one, malformed options, then the right one.
  EXPECT_EQ(get_device_fd(*vf_group, vf.name), -EACCES);
  EXPECT_TRUE(logged(vf.name + ": VF token required to access device")) << dmesg();
  EXPECT_EQ(get_device_fd(*vf_group, vf.name + " vf_token=" + kTokenB), -EACCES);
  EXPECT_TRUE(logged(vf.name + ": Incorrect VF token provided for device")) << dmesg();
  EXPECT_EQ(get_device_fd(*vf_group, vf.name + " vf_token=bd8d9d2b-5a5f-4f5a-a211"), -EINVAL) << "too short";
  EXPECT_EQ(get_device_fd(*vf_group, vf.name + " vf_token=bd8d9d2b_5a5f-4f5a-a211-f591514ba1f3"), -EINVAL) << "not a UUID";
  EXPECT_EQ(get_device_fd(*vf_group, vf.name + " vf_token=" + kTokenA + "x"), -EINVAL) << "junk after the UUID";
  EXPECT_EQ(get_device_fd(*vf_group, vf.name + " vf_token=" + kTokenA + " vf_token=" + kTokenA), -EINVAL) << "twice";
  EXPECT_EQ(get_device_fd(*vf_group, vf.name + " mode=fast"), -EINVAL) << "unknown option";
  EXPECT_EQ(get_device_fd(*vf_group, vf.name + "x vf_token=" + kTokenA), -ENODEV) << "another name: no match";
  const long vf_fd = get_device_fd(*vf_group, vf.name + "  vf_token=" + kTokenA + " ");
  ASSERT_GE(vf_fd, 0) << dmesg();
  EXPECT_EQ(rd16(*file(vf_fd), kConfig + PCI_DEVICE_ID), nic::kVfDevice);
  EXPECT_EQ(vf_token_feature(*file(vf_fd), VFIO_DEVICE_FEATURE_SET, kTokenA), -ENOTTY) << "a VF has no token";

  // A VF in use: opening the PF again needs the token too.
  EXPECT_EQ(get_device_fd(*pf_group, pf.name), -EACCES);
  EXPECT_EQ(get_device_fd(*pf_group, pf.name + " vf_token=" + kTokenB), -EACCES);
  EXPECT_TRUE(logged(pf.name + ": Incorrect VF token provided for device")) << dmesg();
  const long pf_fd2 = get_device_fd(*pf_group, pf.name + " vf_token=" + kTokenA);
  ASSERT_GE(pf_fd2, 0) << dmesg();
  close_fd(pf_fd2);

  // The VF closed: the PF's user may set a new token through the name, and the old one is void.
  close_fd(vf_fd);
  const long pf_fd3 = get_device_fd(*pf_group, pf.name + " vf_token=" + kTokenB);
  ASSERT_GE(pf_fd3, 0) << dmesg();
  close_fd(pf_fd3);
  EXPECT_EQ(get_device_fd(*vf_group, vf.name + " vf_token=" + kTokenA), -EACCES);
  const long vf_fd2 = get_device_fd(*vf_group, vf.name + " vf_token=" + kTokenB);
  ASSERT_GE(vf_fd2, 0) << dmesg();
  close_fd(vf_fd2);
  close_fd(pf_fd);

  // Neither PF nor VF: a token is an error.
  cosim::PciDev& edu = dev("edu0");
  bind(edu.name, "vfio-pci");
  auto edu_group = group_of(edu);
  ASSERT_TRUE(edu_group);
  EXPECT_EQ(get_device_fd(*edu_group, edu.name + " vf_token=" + kTokenA), -EINVAL);
  EXPECT_TRUE(logged(edu.name + ": VF token incorrectly provided, not a PF or VF")) << dmesg();
  const long edu_fd = get_device_fd(*edu_group, edu.name);
  ASSERT_GE(edu_fd, 0);
  EXPECT_EQ(vf_token_feature(*file(edu_fd), VFIO_DEVICE_FEATURE_SET, kTokenA), -ENOTTY);
  close_fd(edu_fd);

  // sriov_numvfs 0 removes the VFs (vfio-pci lets them go: their fds are closed).
  const cosim::GroupRec* vf_grec = &vf_group->group();
  vf_group.reset();
  for (auto it = fds.begin(); it != fds.end();) {  // the VF's group file is closed first
    auto gf = std::dynamic_pointer_cast<cosim::VfioGroupFile>(k->files().get(*it));
    if (gf && &gf->group() == vf_grec) {
      gf.reset();
      k->files().close(*it);
      it = fds.erase(it);
    } else {
      ++it;
    }
  }
  ASSERT_EQ(k->pci().sriov_numvfs_store(pf, 0), 0) << dmesg();
  EXPECT_TRUE(vfs_of(pf).empty());
  EXPECT_FALSE(logged("after FLR; giving up")) << dmesg();
}

}  // namespace pciesim::test
