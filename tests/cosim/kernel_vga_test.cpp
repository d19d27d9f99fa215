// The VGA arbiter (cosim/pci/vgaarb.cpp) and VFIO's VGA region (cosim/vfio/vfio_pci_vga.cpp) in
// the co-simulated kernel (docs/vga.md): boot adds the VGA-class devices and picks the boot VGA
// device; vga_get routes the legacy ranges to one device by Bridge Control VGA Enable up its path
// and takes them from the other; vfio-pci's region 8 on a VGA device (info, reads and writes
// reaching the device's legacy memory and I/O ports, the errnos elsewhere), -EINVAL on a non-VGA
// device and with disable_vga=1.
#include <cstring>
#include <uapi/linux/vfio.h>

#include "iommu/iommu_api.h"
#include "kernel/sysfs.h"
#include "kernel_fixture.h"
#include "pci/vgaarb.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"
#include <linux/vgaarb.h>

namespace pciesim::test {
namespace {

// rc0 ─┬─ rp0 ── vga0                  (QEMU std VGA)
//      └─ rp1 ── sw0 ─┬─ dp0 ── vga1   (a discrete GPU's VGA function)
//                     └─ dp1 ── nic0   (not VGA)
const char* kVgaKernelTopology = R"(
name: kernel-vga
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        acs: {capability: [SV, RR, CR, UF]}
        below:
          endpoint:
            name: vga0
            functions: [{vendor: 0x1234, device: 0x1111, class: 0x030000,
                         bars: [{index: 0, size: 16MiB, prefetchable: true}, {index: 2, size: 4KiB}, {index: 4, size: 32, type: io}]}]
      - name: rp1
        device: 2
        acs: {capability: [SV, RR, CR, UF]}
        below:
          switch:
            name: sw0
            ports:
              - name: dp0
                acs: {capability: [SV, RR, CR, UF]}
                below:
                  endpoint:
                    name: vga1
                    functions: [{vendor: 0x10de, device: 0x1e04, class: 0x030000, msi: 1,
                                 bars: [{index: 0, size: 16MiB}, {index: 5, size: 128, type: io}]}]
              - name: dp1
                acs: {capability: [SV, RR, CR, UF]}
                below:
                  endpoint:
                    name: nic0
                    functions: [{vendor: 0x8086, device: 0x10d3, class: 0x020000, msi: 1, bars: [{index: 0, size: 128KiB}]}]
iommus:
  - {name: dmar0, preset: qemu-7.2, include_all: true}
)";

constexpr uint16_t kVgaEnable = 1u << 3;
constexpr uint64_t kVgaRegion = uint64_t{VFIO_PCI_VGA_REGION_INDEX} << 40;

struct KernelVga : KernelFixture {
  void SetUp() override { boot(kVgaKernelTopology); }
  bool vga_enabled(const std::string& bridge) { return cfg_read(*f, bridge, 0x3e, 2) & kVgaEnable; }
  pci_dev* pdev(const std::string& name) { return dev(name).dev.get(); }
  // The CPU's view of legacy VGA memory / a VGA port right now (no arbiter involved).
  uint32_t cpu_mem(uint64_t addr, Outcome* o = nullptr) {
    uint32_t v = 0;
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    const PcieExtension& e = f->cpu().access(false, addr, reinterpret_cast<uint8_t*>(&v), 4, d);
    if (o) *o = e.verdict.outcome;
    return v;
  }
  std::string reached(uint64_t addr) {
    uint32_t v = 0;
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    const PcieExtension& e = f->cpu().access(false, addr, reinterpret_cast<uint8_t*>(&v), 4, d);
    return e.verdict.outcome == Outcome::Delivered ? hops().name(e.verdict.port) : "UR";
  }

  std::shared_ptr<cosim::VfioDeviceFile> open_vfio(const std::string& ep) {
    const std::string name = dev(ep).name;
    EXPECT_EQ(k->sysfs().write("/sys/bus/pci/devices/" + name + "/driver_override", "vfio-pci"), 0);
    EXPECT_EQ(k->sysfs().write("/sys/bus/pci/drivers_probe", name), 0);
    EXPECT_NE(dev(ep).dev->driver, nullptr) << dmesg();
    const int gid = k->iommu().group_of(dev(ep))->id;
    const int container = k->vfio().open("/dev/vfio/vfio");
    const int group = k->vfio().open("/dev/vfio/" + std::to_string(gid));
    auto g = std::dynamic_pointer_cast<cosim::VfioGroupFile>(k->files().get(group));
    auto c = std::dynamic_pointer_cast<cosim::VfioContainer>(k->files().get(container));
    EXPECT_EQ(g->ioctl(VFIO_GROUP_SET_CONTAINER, const_cast<int*>(&container)), 0);
    EXPECT_EQ(c->ioctl(VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1v2_IOMMU})), 0);
    std::vector<char> n(name.begin(), name.end());
    n.push_back('\0');
    const long fd = g->ioctl(VFIO_GROUP_GET_DEVICE_FD, n.data());
    EXPECT_GE(fd, 0) << dmesg();
    return std::dynamic_pointer_cast<cosim::VfioDeviceFile>(k->files().get(static_cast<int>(fd)));
  }
  static long region_info(cosim::VfioDeviceFile& d, vfio_region_info& r) {
    r = vfio_region_info{};
    r.argsz = sizeof(r);
    r.index = VFIO_PCI_VGA_REGION_INDEX;
    return d.ioctl(VFIO_DEVICE_GET_REGION_INFO, &r);
  }
};

TEST_F(KernelVga, BootAddsTheVgaDevicesAndPicksTheFirstDecodingOneAsBootDevice) {
  const auto& list = k->vga().devices();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]->pdev, pdev("vga0"));
  EXPECT_EQ(list[1]->pdev, pdev("vga1"));
  EXPECT_EQ(k->vga().find(pdev("nic0")), nullptr);
  // Firmware left VGA Enable clear: nobody owns the legacy ranges, but both decode memory.
  EXPECT_EQ(list[0]->owns, 0u);
  EXPECT_EQ(list[1]->owns, 0u);
  EXPECT_EQ(k->vga().default_device(), pdev("vga0"));
  EXPECT_TRUE(list[0]->bridge_has_one_vga);
  EXPECT_TRUE(list[1]->bridge_has_one_vga);
  EXPECT_TRUE(logged(dev("vga0").name + ": vgaarb: setting as boot VGA device")) << dmesg();
  EXPECT_TRUE(logged(dev("vga1").name + ": vgaarb: VGA device added: decodes=io+mem,owns=none,locks=none"));
  EXPECT_TRUE(logged("vgaarb: loaded"));
}

TEST_F(KernelVga, VgaGetRoutesTheLegacyRangesToOneDevice) {
  auto r = k->run("vga user", [&] {
    ASSERT_EQ(vga_get(pdev("vga1"), VGA_RSRC_LEGACY_IO | VGA_RSRC_LEGACY_MEM, 1), 0);
    // VGA Enable on every bridge above vga1, none on vga0's path.
    EXPECT_TRUE(vga_enabled("rp1"));
    EXPECT_TRUE(vga_enabled("sw0.up"));
    EXPECT_TRUE(vga_enabled("dp0"));
    EXPECT_FALSE(vga_enabled("rp0"));
    EXPECT_FALSE(vga_enabled("dp1"));
    EXPECT_EQ(reached(0xa0000), "vga1.f0");
    EXPECT_EQ(inb(0x3cc), 0u);  // a VGA port reaches vga1 too (the generic model's storage)
    outb(0x5a, 0x3c4);
    EXPECT_EQ(inb(0x3c4), 0x5au);
    // vga1 holds both locks: vga0 cannot take either while they are held.
    EXPECT_EQ(vga_tryget(pdev("vga0"), VGA_RSRC_LEGACY_MEM), -EBUSY);
    vga_put(pdev("vga1"), VGA_RSRC_LEGACY_IO | VGA_RSRC_LEGACY_MEM);
    EXPECT_TRUE(vga_enabled("dp0")) << "vga_put is lazy: the routing stays";
    // Now vga0 takes them: vga1's path is closed first, then vga0's opened.
    ASSERT_EQ(vga_tryget(pdev("vga0"), VGA_RSRC_LEGACY_MEM), 0);
    EXPECT_TRUE(vga_enabled("rp0"));
    EXPECT_FALSE(vga_enabled("rp1"));
    EXPECT_FALSE(vga_enabled("sw0.up"));
    EXPECT_FALSE(vga_enabled("dp0"));
    EXPECT_EQ(reached(0xa0000), "vga0.f0");
    EXPECT_EQ(inb(0x3c4), 0u) << "vga0 never saw vga1's register write";
    vga_put(pdev("vga0"), VGA_RSRC_LEGACY_MEM);
    // A device the arbiter does not know; NULL means the boot VGA device.
    EXPECT_EQ(vga_get(pdev("nic0"), VGA_RSRC_LEGACY_MEM, 1), -ENODEV);
    EXPECT_EQ(vga_tryget(nullptr, VGA_RSRC_LEGACY_IO), 0);
    vga_put(nullptr, VGA_RSRC_LEGACY_IO);
  });
  ASSERT_TRUE(r.ok()) << r.what << dmesg();
  const cosim::VgaDevice* v0 = k->vga().find(pdev("vga0"));
  const cosim::VgaDevice* v1 = k->vga().find(pdev("vga1"));
  EXPECT_EQ(v0->owns & VGA_RSRC_LEGACY_MASK, unsigned{VGA_RSRC_LEGACY_MASK});
  EXPECT_EQ(v0->locks, 0u);
  EXPECT_EQ(v1->owns & VGA_RSRC_LEGACY_MASK, 0u);
}

TEST_F(KernelVga, VfioVgaRegionInfoOnAVgaDeviceAndEinvalOnOthers) {
  ASSERT_EQ(k->load_module("vfio_pci"), 0) << dmesg();
  auto vga = open_vfio("vga1");
  ASSERT_TRUE(vga);
  vfio_region_info r{};
  ASSERT_EQ(region_info(*vga, r), 0);
  EXPECT_EQ(r.flags, VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE) << "no mmap";
  EXPECT_EQ(r.size, 0xc0000u);
  EXPECT_EQ(r.offset, kVgaRegion);
  auto nic = open_vfio("nic0");
  ASSERT_TRUE(nic);
  EXPECT_EQ(region_info(*nic, r), -EINVAL);
  uint32_t v = 0;
  EXPECT_EQ(nic->read(&v, 4, kVgaRegion + 0xa0000), -EINVAL);
  EXPECT_TRUE(logged(dev("vga1").name + ": vgaarb: changed VGA decodes: olddecodes=io+mem,decodes=io+mem"))
      << "vfio_pci_vga_init keeps the legacy decodes: " << dmesg();
}

TEST_F(KernelVga, VfioVgaRegionReachesTheDevicesLegacyMemoryAndPorts) {
  ASSERT_EQ(k->load_module("vfio_pci"), 0) << dmesg();
  auto vga = open_vfio("vga1");
  ASSERT_TRUE(vga);
  const uint32_t text = 0x07410742;
  EXPECT_EQ(vga->write(&text, 4, kVgaRegion + 0xb8000), 4);
  uint32_t back = 0;
  EXPECT_EQ(vga->read(&back, 4, kVgaRegion + 0xb8000), 4);
  EXPECT_EQ(back, text);
  const uint8_t seq[2] = {0x02, 0x0f};  // sequencer index 2 (map mask) and its data, 3C4h/3C5h
  EXPECT_EQ(vga->write(seq, 2, kVgaRegion + 0x3c4), 2);
  uint8_t seq_back[2] = {};
  EXPECT_EQ(vga->read(seq_back, 2, kVgaRegion + 0x3c4), 2);
  EXPECT_EQ(seq_back[1], 0x0f);
  const uint8_t mono = 0x33;
  EXPECT_EQ(vga->write(&mono, 1, kVgaRegion + 0x3b4), 1);
  // The arbiter routed the ranges to vga1 for each access and released the lock after it.
  const cosim::VgaDevice* v1 = k->vga().find(pdev("vga1"));
  EXPECT_EQ(v1->locks, 0u);
  EXPECT_TRUE(vga_enabled("dp0"));
  EXPECT_EQ(cpu_mem(0xb8000), text) << "the write is in vga1's legacy memory";
  uint8_t port = 0;
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  f->cpu().io_access(false, 0x3b4, &port, 1, d);
  EXPECT_EQ(port, 0x33);
  // And not in vga0's: route the ranges there and look.
  auto r = k->run("other vga", [&] {
    ASSERT_EQ(vga_get(pdev("vga0"), VGA_RSRC_LEGACY_MEM, 1), 0);
    vga_put(pdev("vga0"), VGA_RSRC_LEGACY_MEM);
  });
  ASSERT_TRUE(r.ok()) << r.what;
  EXPECT_EQ(reached(0xb8000), "vga0.f0");
  EXPECT_EQ(cpu_mem(0xb8000), 0u);
  // The next region access takes the ranges back to vga1.
  EXPECT_EQ(vga->read(&back, 4, kVgaRegion + 0xb8000), 4);
  EXPECT_EQ(back, text);
  EXPECT_EQ(reached(0xb8000), "vga1.f0");
}

TEST_F(KernelVga, VfioVgaRegionOtherOffsetsAndClipping) {
  ASSERT_EQ(k->load_module("vfio_pci"), 0) << dmesg();
  auto vga = open_vfio("vga1");
  ASSERT_TRUE(vga);
  uint8_t buf[16] = {};
  // vfio_pci_vga_rw: only the three windows; everything else -EINVAL.
  for (uint64_t off : {uint64_t{0}, uint64_t{0x3af}, uint64_t{0x3bc}, uint64_t{0x3bf}, uint64_t{0x3e0},
                       uint64_t{0x9ffff}, uint64_t{0xc0000}, uint64_t{0xfffff}})
    EXPECT_EQ(vga->read(buf, 1, kVgaRegion + off), -EINVAL) << std::hex << off;
  EXPECT_EQ(vga->write(buf, 1, kVgaRegion + 0x3e0), -EINVAL);
  // An access is clipped at the end of its window.
  EXPECT_EQ(vga->read(buf, 8, kVgaRegion + 0xbfffc), 4);
  EXPECT_EQ(vga->read(buf, 4, kVgaRegion + 0x3ba), 2);
  EXPECT_EQ(vga->read(buf, 16, kVgaRegion + 0x3d8), 8);
}

TEST_F(KernelVga, DisableVgaHidesTheRegion) {
  ASSERT_EQ(k->load_module("vfio_pci", "disable_vga=1"), 0) << dmesg();
  auto vga = open_vfio("vga1");
  ASSERT_TRUE(vga);
  vfio_region_info r{};
  EXPECT_EQ(region_info(*vga, r), -EINVAL);
  uint32_t v = 0;
  EXPECT_EQ(vga->read(&v, 4, kVgaRegion + 0xa0000), -EINVAL);
  // vfio_pci_set_decode with VGA disabled: no other VGA device below vga1's bus, so the arbiter
  // is told vga1 decodes no legacy resources.
  EXPECT_EQ(k->vga().find(pdev("vga1"))->decodes & VGA_RSRC_LEGACY_MASK, 0u);
}

}  // namespace
}  // namespace pciesim::test
