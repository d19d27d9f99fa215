// The co-simulated Linux 6.1 enabling ATS (cosim/iommu/intel_ats.h): only behind a unit with
// ECAP.DT whose DMAR table reports ATS for the device's root port (ATSR, here ALL_PORTS from
// `device_iotlb: true`), only for trusted devices; context entry TT = 01b; every unmap followed by
// a device-TLB invalidation that empties the device's ATC.
#include <gtest/gtest.h>

#include "devices/dram.h"
#include "iommu/intel_ats.h"
#include "iommu/intel_iommu.h"
#include "iommu/iommu_api.h"
#include "iommu/remapping_unit.h"
#include "kernel/kapi.h"
#include "kernel_fixture.h"

namespace pciesim {
namespace {

using namespace test;

// kKernelTopology with ATS on epF (its own root port) and epA (behind a switch), and `iommu`
// instead of the server unit.
std::string topology(const std::string& iommu) {
  std::string t = kKernelTopology;
  for (const char* name : {"            name: epF\n", "                    name: epA\n"}) {
    const std::string anchor = name;
    const size_t at = t.find(anchor);
    const std::string indent(anchor.find('n'), ' ');
    t.insert(at + anchor.size(), indent + "ats: true\n");
  }
  const std::string unit = "  - name: dmar0\n    preset: server\n    include_all: true\n";
  t.replace(t.find(unit), unit.size(), iommu);
  return t;
}
const char* kDeviceIotlb = "  - {name: dmar0, preset: qemu-7.2, device_iotlb: true, include_all: true}\n";

struct KernelAts : KernelFixture {
  uint16_t ats_ctrl(const std::string& name) {
    const FunctionInfo& i = fn(*f, name);
    return static_cast<uint16_t>(cfg_read(*f, name, i.endpoint->ats(0)->cap_offset() + 6, 2));
  }
  cosim::IntelIommu& unit() { return *k->iommu().unit_for(dev("epF")); }
  // The legacy context entry's TT (VT-d 9.3) as the kernel wrote it in DRAM.
  unsigned context_tt(const std::string& name) {
    const RequesterId id = fn(*f, name).bdf();
    uint64_t root[2] = {}, ctx[2] = {};
    f->dram().read(unit().root_table_phys() + 16 * id.bus, root, 16);
    f->dram().read((root[0] & ~0xfffull) + 16 * id.devfn, ctx, 16);
    return static_cast<unsigned>((ctx[0] >> 2) & 3);
  }
  const PcieExtension& ats_write(const std::string& name, uint64_t iova, uint8_t fill) {
    const FunctionInfo& i = fn(*f, name);
    static std::vector<uint8_t> buf;
    buf.assign(64, fill);
    f->settle();
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    DmaOptions o;
    o.ats = true;
    return i.endpoint->dma(0, TlpKind::MemWrite, iova, buf.data(), 64, delay, o);
  }
};

TEST_F(KernelAts, EnabledBehindDeviceIotlbWithTheAtsrAndStu4KiB) {
  boot(topology(kDeviceIotlb));
  EXPECT_EQ(ats_ctrl("epF"), 0x8000) << "Enable, STU 0 (VTD_PAGE_SHIFT - PCI_ATS_MIN_STU)\n" << dmesg();
  EXPECT_EQ(ats_ctrl("epA"), 0x8000) << "behind a switch: its root port is under ALL_PORTS";
  EXPECT_TRUE(dev("epF").ats_enabled);
  EXPECT_EQ(context_tt("epF"), 1u) << "CONTEXT_TT_DEV_IOTLB";
  EXPECT_EQ(context_tt("epB"), 0u) << "no ATS capability: CONTEXT_TT_MULTI_LEVEL";
  EXPECT_TRUE(unit().dev_iotlb(fn(*f, "epF").bdf()));
  EXPECT_FALSE(unit().dev_iotlb(fn(*f, "epB").bdf()));
}

TEST_F(KernelAts, AResetKeepsAtsEnabledThroughPciRestoreState) {
  boot(topology(kDeviceIotlb));
  ASSERT_EQ(ats_ctrl("epF"), 0x8000);
  AtsFunction& ats = *fn(*f, "epF").endpoint->ats(0);
  ats.atc().fill(decode_translation_completion(0x1000, 0x9000 | 3));
  pci_dev* d = dev("epF").dev.get();
  k->run("reset", [&] { EXPECT_EQ(pci_reset_function(d), 0); });
  EXPECT_EQ(ats.atc().occupancy(), 0u) << "the FLR cleared Enable, and the ATC with it";
  EXPECT_EQ(ats_ctrl("epF"), 0x8000) << "pci_restore_ats_state";
}

TEST_F(KernelAts, NotEnabledWithoutDeviceTlbSupport) {
  boot(topology("  - {name: dmar0, preset: qemu-7.2, include_all: true}\n"));  // ECAP.DT = 0
  EXPECT_EQ(ats_ctrl("epF"), 0);
  EXPECT_EQ(context_tt("epF"), 0u);
}

TEST_F(KernelAts, NotEnabledWithoutAnAtsrForTheRootPort) {
  boot(topology("  - {name: dmar0, preset: server, include_all: true}\n"));  // DT, but no ATSR
  ASSERT_TRUE(unit().caps().dt());
  EXPECT_EQ(ats_ctrl("epF"), 0);
  EXPECT_EQ(context_tt("epF"), 0u);
}

TEST_F(KernelAts, NotEnabledForAnUntrustedDeviceAndDisabledWhenItBecomesOne) {
  boot(topology(kDeviceIotlb));
  ASSERT_EQ(ats_ctrl("epF"), 0x8000);
  dev("epF").untrusted = true;
  pci_dev* d = dev("epF").dev.get();
  iommu_domain* dom = nullptr;
  k->run("attach", [&] {
    dom = iommu_domain_alloc(&pci_bus_type);
    ASSERT_EQ(iommu_attach_group(dom, iommu_group_get(&d->dev)), 0);
  });
  EXPECT_EQ(ats_ctrl("epF"), 0) << "pci_ats_supported: not for untrusted devices";
  EXPECT_EQ(context_tt("epF"), 0u);
  EXPECT_FALSE(unit().dev_iotlb(fn(*f, "epF").bdf()));
}

TEST_F(KernelAts, StrictUnmapInvalidatesTheDeviceTlb) {
  boot(topology(kDeviceIotlb));
  pci_dev* d = dev("epF").dev.get();
  iommu_domain* dom = nullptr;
  k->run("map", [&] {
    dom = iommu_domain_alloc(&pci_bus_type);
    ASSERT_EQ(iommu_map(dom, 0x100000, 0x0100'0000, 0x1000, IOMMU_READ | IOMMU_WRITE), 0);
    ASSERT_EQ(iommu_attach_group(dom, iommu_group_get(&d->dev)), 0);
  });
  bus_master(*f, "epF");
  AtsFunction& ats = *fn(*f, "epF").endpoint->ats(0);
  EXPECT_EQ(ats_write("epF", 0x100000, 0x11).atc, AtcOutcome::Miss);
  EXPECT_EQ(ats_write("epF", 0x100040, 0x12).atc, AtcOutcome::Hit);
  ASSERT_EQ(ats.atc().occupancy(), 1u);
  vtd::RemappingUnit& hw = *f->iommu("dmar0");
  const uint64_t before = hw.caches().device_tlb_invalidations();
  k->run("unmap", [&] { EXPECT_EQ(iommu_unmap(dom, 0x100000, 0x1000), 0x1000u); });
  EXPECT_EQ(hw.caches().device_tlb_invalidations(), before + 1) << "qi_flush_dev_iotlb after the IOTLB flush";
  EXPECT_EQ(ats.atc().occupancy(), 0u);
  const PcieExtension& e = ats_write("epF", 0x100000, 0x13);
  EXPECT_EQ(e.atc, AtcOutcome::NoTranslation);
  EXPECT_EQ(e.verdict.outcome, Outcome::IommuFault);
  uint8_t b = 0;
  f->dram().read(0x0100'0000, &b, 1);
  EXPECT_EQ(b, 0x11) << "nothing reached the old page after the unmap";
}

TEST_F(KernelAts, LazyFlushInvalidatesEveryDeviceTlbOfTheDomain) {
  boot(topology(kDeviceIotlb));
  cosim::PciDev& pd = dev("epF");
  cosim::DomainRec* dom = k->iommu().domain_of(pd);
  ASSERT_NE(dom, nullptr);
  uint64_t iova = 0;
  k->run("map", [&] { iova = k->iommu().dma_map(pd, 0x0100'0000, 4096, cosim::kIommuRead | cosim::kIommuWrite); });
  bus_master(*f, "epF");
  AtsFunction& ats = *fn(*f, "epF").endpoint->ats(0);
  EXPECT_EQ(ats_write("epF", iova, 0x21).atc, AtcOutcome::Miss);
  k->run("unmap", [&] { EXPECT_TRUE(k->iommu().dma_unmap(pd, iova, 4096)); });
  EXPECT_EQ(ats.atc().occupancy(), 1u) << "lazy: the flush waits in the flush queue";
  k->run("flush", [&] {
    for (auto& [u, hw] : dom->hw) EXPECT_EQ(hw->flush_lazy(), 0);
  });
  EXPECT_EQ(ats.atc().occupancy(), 0u) << "intel_flush_iotlb_all: iommu_flush_dev_iotlb(0, MAX_AGAW_PFN_WIDTH)";
}

}  // namespace
}  // namespace pciesim
