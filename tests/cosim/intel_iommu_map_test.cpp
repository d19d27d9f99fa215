// Domains of the intel-iommu driver against the unit: DMA through mappings the driver wrote,
// strict unmap faulting the next DMA with Linux's fault line, detach, iova_to_phys, 2 MiB leaves.
#include "intel_iommu_fixture.h"

#include <cerrno>

#include "iommu/fault_recorder.h"
#include "iommu/vtd_regs.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {
using IntelIommuMap = IntelIommuFixture;
constexpr unsigned kRW = cosim::kIommuRead | cosim::kIommuWrite;
}  // namespace

TEST_F(IntelIommuMap, DmaWriteLandsInTheMappedPageAndReadReturnsIt) {
  cosim::IommuDomain& dom = drv->alloc_domain();
  ASSERT_EQ(dom.map(kIova, kPage, 4 * 4096, kRW), 0);
  ASSERT_EQ(drv->attach_device(dom, a), 0);
  Sent w = write("epA", kIova + 0x1080, 0x77);
  ASSERT_EQ(w.verdict.outcome, Outcome::Delivered) << path_text(w);
  EXPECT_EQ(dram_byte(kPage + 0x1080), 0x77);
  EXPECT_EQ(dram_byte(kIova + 0x1080), 0x00) << "nothing at the untranslated address";
  Sent r = read("epA", kIova + 0x1080);
  ASSERT_EQ(r.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(r.data, std::vector<uint8_t>(64, 0x77));
  // A device without a context entry faults.
  EXPECT_EQ(write("epF", kIova).verdict.outcome, Outcome::IommuFault);
}

TEST_F(IntelIommuMap, StrictUnmapFaultsTheNextDmaAndLogsLinuxLine) {
  cosim::IommuDomain& dom = drv->alloc_domain();
  ASSERT_EQ(dom.map(kIova, kPage, 2 * 4096, kRW), 0);
  ASSERT_EQ(drv->attach_device(dom, a), 0);
  ASSERT_EQ(write("epA", kIova + 0x1000).verdict.outcome, Outcome::Delivered);  // IOTLB now warm
  const uint64_t before = drv->queue().descriptors();
  EXPECT_EQ(dom.unmap(kIova + 0x1000, 4096), 4096u);
  EXPECT_EQ(drv->queue().descriptors(), before + 2) << "page-selective IOTLB + wait";

  Sent w = write("epA", kIova + 0x1000 + 0x40, 0x33);
  ASSERT_EQ(w.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(w.verdict.fault_reason, 0x05);
  EXPECT_EQ(dram_byte(kPage + 0x1040), 0x00);
  // The unit recorded it; the fault event is pending until the kernel services it.
  const uint32_t fro = drv->caps().fro();
  vtd::FaultRecord rec = vtd::decode_frcd(drv->registers().read64(fro), drv->registers().read64(fro + 8));
  EXPECT_EQ(rec.reason, vtd::FaultReason::WriteDenied);
  EXPECT_EQ(rec.source_id, a.raw());
  EXPECT_EQ(rec.address, kIova + 0x1000);
  EXPECT_TRUE(drv->fault_pending());
  EXPECT_EQ(f->apic().count_vector(0xee), 1u);

  EXPECT_EQ(core->service_faults(), 1u);
  const std::string line = "DMAR: [DMA Write NO_PASID] Request device [" + bdf(a) +
                           "] fault addr 0x101000 [fault reason 0x05] PTE Write access is not set";
  EXPECT_TRUE(logged(line)) << log.dmesg();
  EXPECT_EQ(drv->registers().read32(vtd::reg::kFsts) & (vtd::fsts::kPpf | vtd::fsts::kPfo), 0u);
  EXPECT_EQ(drv->registers().read64(fro + 8) >> 63, 0u) << "F cleared";

  // A read of the unmapped page: 0x06, on the next record.
  Sent r = read("epA", kIova + 0x1000);
  EXPECT_EQ(r.verdict.fault_reason, 0x06);
  EXPECT_EQ(core->service_faults(), 1u);
  EXPECT_TRUE(logged("DMAR: [DMA Read NO_PASID] Request device [" + bdf(a) +
                     "] fault addr 0x101000 [fault reason 0x06] PTE Read access is not set"))
      << log.dmesg();
  // The page still mapped keeps working.
  EXPECT_EQ(write("epA", kIova).verdict.outcome, Outcome::Delivered);
  ASSERT_EQ(drv->faults().size(), 2u);
}

TEST_F(IntelIommuMap, DetachClearsTheContextEntryAndFaultsWithReason02) {
  cosim::IommuDomain& dom = drv->alloc_domain();
  ASSERT_EQ(dom.map(kIova, kPage, 4096, kRW), 0);
  ASSERT_EQ(drv->attach_device(dom, a), 0);
  EXPECT_EQ(drv->attach_device(drv->alloc_domain(), a), -EBUSY);
  ASSERT_EQ(write("epA", kIova).verdict.outcome, Outcome::Delivered);
  ASSERT_EQ(drv->detach_device(a), 0);
  EXPECT_EQ(drv->attached_domain(a), nullptr);
  Sent w = write("epA", kIova);
  EXPECT_EQ(w.verdict.fault_reason, 0x02);
  core->service_faults();
  EXPECT_TRUE(logged("DMAR: [DMA Write NO_PASID] Request device [" + bdf(a) +
                     "] fault addr 0x100000 [fault reason 0x02] Present bit in context entry is clear"))
      << log.dmesg();
  EXPECT_EQ(drv->detach_device(a), -ENODEV);
}

TEST_F(IntelIommuMap, IovaToPhysAndUnmapReturnBytes) {
  cosim::IommuDomain& dom = drv->alloc_domain();
  ASSERT_EQ(dom.map(kIova, kPage, 3 * 4096, cosim::kIommuRead), 0);
  EXPECT_EQ(dom.iova_to_phys(kIova + 0x2abc), kPage + 0x2abc);
  EXPECT_EQ(dom.iova_to_phys(kIova + 0x3000), 0u);
  EXPECT_EQ(dom.map(kIova + 0x1000, kPage, 4096, kRW), -EEXIST);
  EXPECT_EQ(dom.map(kIova + 0x10, kPage, 4096, kRW), -EINVAL);
  EXPECT_EQ(dom.map(kIova, kPage, 4096, 0), -EINVAL);
  EXPECT_EQ(dom.map(1ull << 48, kPage, 4096, kRW), -EINVAL) << "beyond the 48-bit domain";
  EXPECT_EQ(dom.unmap(kIova, 8 * 4096), 3 * 4096u);
  EXPECT_EQ(dom.iova_to_phys(kIova), 0u);
  EXPECT_EQ(dom.unmap(kIova, 4096), 0u);
  // Read-only mapping: a write faults 0x05 once attached.
  ASSERT_EQ(dom.map(kIova, kPage, 4096, cosim::kIommuRead), 0);
  ASSERT_EQ(drv->attach_device(dom, a), 0);
  EXPECT_EQ(read("epA", kIova).verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(write("epA", kIova).verdict.fault_reason, 0x05);
}

TEST_F(IntelIommuMap, TwoMegabyteLeavesWhereSllpsAndAlignmentAllow) {
  constexpr uint64_t kBigIova = 0x4000'0000, kBigPage = 0x0800'0000;  // both 2 MiB aligned
  cosim::IommuDomain& dom = drv->alloc_domain();
  ASSERT_EQ(dom.map(kBigIova, kBigPage, (2ull << 20) + 4096, kRW), 0);
  EXPECT_EQ(dom.leaves_2m(), 1u);
  EXPECT_EQ(dom.leaves_4k(), 1u);
  // Misaligned physical address: 4 KiB leaves only.
  ASSERT_EQ(dom.map(0x8000'0000, kBigPage + 0x1000, 2ull << 20, kRW), 0);
  EXPECT_EQ(dom.leaves_2m(), 1u);
  EXPECT_EQ(dom.leaves_4k(), 1u + 512);
  EXPECT_EQ(dom.iova_to_phys(kBigIova + 0x12'3456), kBigPage + 0x12'3456);
  ASSERT_EQ(drv->attach_device(dom, a), 0);
  ASSERT_EQ(write("epA", kBigIova + 0x1f'f000, 0x42).verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(dram_byte(kBigPage + 0x1f'f000), 0x42);
  // Unmapping a 4 KiB piece of the large leaf removes all of it (Linux returns the leaf size).
  EXPECT_EQ(dom.unmap(kBigIova + 0x1000, 4096), 2ull << 20);
  EXPECT_EQ(write("epA", kBigIova).verdict.fault_reason, 0x05);
}

namespace {
// The server part with CAP.SLLPS cleared (bits 37:34).
struct IntelIommuNoLargePages : IntelIommuFixture {
  std::string topology() override {
    char cap[32];
    std::snprintf(cap, sizeof cap, "0x%llx", 0x9ed008c40780466ull & ~(0xfull << 34));
    return intel_topology("server", std::string("    cap: ") + cap + "\n");
  }
};
}  // namespace

TEST_F(IntelIommuNoLargePages, MapsWithFourKilobyteLeavesOnly) {
  cosim::IommuDomain& dom = drv->alloc_domain();
  ASSERT_EQ(dom.map(0x4000'0000, 0x0800'0000, 2ull << 20, kRW), 0);
  EXPECT_EQ(dom.leaves_2m(), 0u);
  EXPECT_EQ(dom.leaves_4k(), 512u);
}

TEST_F(IntelIommuMap, StrictUnmapSizesTheAddressMaskToTheAlignedSpan) {
  cosim::IommuDomain& dom = drv->alloc_domain();
  ASSERT_EQ(dom.map(kIova, kPage, 8 * 4096, kRW), 0);
  ASSERT_EQ(drv->attach_device(dom, a), 0);
  // Pages 1..3 of the mapping: the smallest aligned power-of-two span is pages 0..3 (AM = 2).
  ASSERT_EQ(dom.unmap(kIova + 0x1000, 3 * 4096), 3 * 4096u);
  const auto* q = static_cast<const uint64_t*>(mem->phys_to_virt(drv->queue().queue_phys()));
  const unsigned tail = static_cast<unsigned>(drv->registers().read64(vtd::reg::kIqt) >> 4);
  const uint64_t* iotlb = q + 2 * ((tail + 256 - 2) % 256);
  const uint64_t* wait = q + 2 * ((tail + 256 - 1) % 256);
  EXPECT_EQ(iotlb[0] & 0xf, 0x2u) << "IOTLB invalidate";
  EXPECT_EQ((iotlb[0] >> 4) & 3, 3u) << "page-selective";
  EXPECT_EQ((iotlb[0] >> 16) & 0xffff, dom.did());
  EXPECT_EQ(iotlb[1] & ~0xfffull, kIova);
  EXPECT_EQ(iotlb[1] & 0x3f, 2u) << "AM";
  EXPECT_EQ(wait[0] & 0xf, 0x5u) << "wait descriptor closes the batch";
  EXPECT_EQ(wait[0] >> 32, cosim::QueuedInvalidation::kDone);
  EXPECT_TRUE(mem->contains_phys(wait[1]));
}

TEST_F(IntelIommuMap, AliasRequesterIdSharesTheDomain) {
  // A DMA alias (as a PCIe-to-PCI bridge or a quirky function produces): the caller attaches
  // every alias the groups layer computed.
  const RequesterId alias = RequesterId::from_bdf(a.bus, a.device(), 3);
  cosim::IommuDomain& dom = drv->alloc_domain();
  ASSERT_EQ(dom.map(kIova, kPage, 4096, kRW), 0);
  ASSERT_EQ(drv->attach_device(dom, alias), 0);
  DmaOptions opt;
  opt.spoof_requester = alias;
  Sent s = send(*f, "epA", TlpKind::MemWrite, kIova, 64, opt, std::vector<uint8_t>(64, 0x61));
  EXPECT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_EQ(dram_byte(kPage), 0x61);
  EXPECT_EQ(write("epA", kIova).verdict.fault_reason, 0x02) << "epA's own id has no context entry";
}
