// intel-iommu driver bring-up: what init() leaves in the unit's registers, read back through MMIO.
#include "intel_iommu_fixture.h"

#include "iommu/vtd_regs.h"

using namespace pciesim;
using namespace pciesim::test;
namespace reg = pciesim::vtd::reg;
namespace gcmd = pciesim::vtd::gcmd;

using IntelIommuInit = IntelIommuFixture;

TEST_F(IntelIommuInit, LeavesTranslationQueueAndInterruptRemappingEnabled) {
  cosim::DmarRegisters& r = drv->registers();
  const uint32_t gsts = r.read32(reg::kGsts);
  EXPECT_TRUE(gsts & gcmd::kTe) << std::hex << gsts;
  EXPECT_TRUE(gsts & gcmd::kQie);
  EXPECT_TRUE(gsts & gcmd::kIre);
  EXPECT_TRUE(gsts & gcmd::kSrtp) << "RTPS";
  EXPECT_TRUE(gsts & gcmd::kSirtp) << "IRTPS";
  EXPECT_FALSE(gsts & gcmd::kCfi) << "compatibility-format interrupts blocked";
  EXPECT_EQ(drv->registers().gcmd_shadow(), gcmd::kTe | gcmd::kQie | gcmd::kIre);

  // The registers hold what the driver allocated in kernel memory.
  const vtd::RemappingUnit& unit = *f->iommu("dmar0");
  EXPECT_EQ(drv->caps().cap, unit.caps().cap);
  EXPECT_EQ(drv->caps().ecap, unit.caps().ecap);
  EXPECT_EQ(r.read64(reg::kRtaddr), drv->root_table_phys());  // TTM 00: legacy
  EXPECT_TRUE(mem->contains_phys(drv->root_table_phys()));
  EXPECT_EQ(r.read64(reg::kIqa), drv->queue().queue_phys());
  EXPECT_TRUE(mem->contains_phys(drv->queue().queue_phys()));
  EXPECT_EQ(r.read64(reg::kIqh), r.read64(reg::kIqt)) << "queue drained";
  const uint64_t irta = r.read64(reg::kIrta);
  EXPECT_EQ(irta & 0xf, 0xfu) << "65536 entries";
  EXPECT_EQ((irta & vtd::field::kIrtaEime) != 0, drv->caps().eim());
  EXPECT_TRUE(mem->contains_phys(irta & ~0xfffull));
  // Fault event: unmasked, vector and destination programmed.
  EXPECT_EQ(r.read32(reg::kFectl) & vtd::ectl::kIm, 0u);
  EXPECT_EQ(r.read32(reg::kFedata), 0xeeu);
  EXPECT_EQ(r.read32(reg::kFeaddr), 0xfee00000u);
  EXPECT_EQ(r.read32(reg::kFsts), 0u);
  // Global invalidations at enable went through the queue and completed.
  EXPECT_GE(drv->queue().batches(), 3u);
  EXPECT_EQ(drv->queue().errors(), 0u);

  EXPECT_TRUE(logged("DMAR: dmar0: Using Queued invalidation")) << log.dmesg();
  EXPECT_TRUE(logged("DMAR-IR: Enabled IRQ remapping in x2apic mode")) << log.dmesg();
  EXPECT_TRUE(logged("DMAR: Intel(R) Virtualization Technology for Directed I/O"));
  EXPECT_EQ(log.grep("DMAR: dmar0: reg_base_addr fed90000 ver 6:0 cap 9ed008c40780466 ecap 3ee9e86f050df").size(),
            1u)
      << log.dmesg();
}

struct IntelIommuInitQemu : IntelIommuFixture {
  std::string topology() override { return intel_topology("qemu-7.2"); }
};

TEST_F(IntelIommuInitQemu, UnitGetsThreeLevelTablesAndXapicMode) {
  EXPECT_EQ(drv->alloc_domain().levels(), 3);  // SAGAW bit 1 only: 39-bit
  EXPECT_TRUE(logged("DMAR-IR: Enabled IRQ remapping in xapic mode")) << log.dmesg();
  EXPECT_EQ(drv->registers().read32(vtd::reg::kGsts) & (gcmd::kTe | gcmd::kQie | gcmd::kIre),
            gcmd::kTe | gcmd::kQie | gcmd::kIre);
}

TEST_F(IntelIommuInit, ServerUnitGetsFourLevelTables) {
  cosim::IommuDomain& dom = drv->alloc_domain();
  EXPECT_EQ(dom.levels(), 4);  // SAGAW 0x4: 48-bit only
  EXPECT_EQ(dom.did(), 1);     // DID 0 reserved
  EXPECT_EQ(drv->alloc_domain().did(), 2);
}
