// Lazy invalidation (the flush queue): an unmapped IOVA whose translation is still in the unit's
// IOTLB keeps translating until the queued domain-selective flush runs, as on real hardware.
#include "intel_iommu_fixture.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {
constexpr unsigned kRW = cosim::kIommuRead | cosim::kIommuWrite;

struct IntelIommuLazy : IntelIommuFixture {
  cosim::IommuDomain* dom = nullptr;
  void SetUp() override {
    IntelIommuFixture::SetUp();
    dom = &drv->alloc_domain();
    dom->set_flush_mode(cosim::FlushMode::Lazy);
    ASSERT_EQ(dom->map(kIova, kPage, 4 * 4096, kRW), 0);
    ASSERT_EQ(drv->attach_device(*dom, a), 0);
  }
};
}  // namespace

TEST_F(IntelIommuLazy, StaleIotlbEntryTranslatesUntilTheFlush) {
  ASSERT_EQ(write("epA", kIova, 0x11).verdict.outcome, Outcome::Delivered);  // cached now
  const uint64_t descriptors = drv->queue().descriptors();
  EXPECT_EQ(dom->unmap(kIova, 4096), 4096u);
  EXPECT_EQ(drv->queue().descriptors(), descriptors) << "nothing invalidated yet";
  EXPECT_EQ(dom->flush_queue_depth(), 1u);
  EXPECT_EQ(dom->iova_to_phys(kIova), 0u) << "the page table no longer maps it";

  Sent stale = write("epA", kIova, 0x22);
  EXPECT_EQ(stale.verdict.outcome, Outcome::Delivered) << "stale IOTLB entry still translates";
  EXPECT_EQ(dram_byte(kPage), 0x22);
  // A page never touched was not cached: it faults at once.
  ASSERT_EQ(dom->unmap(kIova + 0x3000, 4096), 4096u);
  EXPECT_EQ(write("epA", kIova + 0x3000).verdict.fault_reason, 0x05);

  ASSERT_EQ(dom->flush_lazy(), 0);
  EXPECT_EQ(dom->flush_queue_depth(), 0u);
  EXPECT_EQ(drv->queue().descriptors(), descriptors + 2) << "one domain-selective flush + wait";
  Sent after = write("epA", kIova, 0x33);
  EXPECT_EQ(after.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(after.verdict.fault_reason, 0x05);
  EXPECT_EQ(dram_byte(kPage), 0x22);
  core->service_faults();
  EXPECT_EQ(log.grep("[fault reason 0x05] PTE Write access is not set").size(), 2u) << log.dmesg();
}

TEST_F(IntelIommuLazy, FullFlushQueueFlushesByItself) {
  dom->set_flush_queue_size(2);
  ASSERT_EQ(write("epA", kIova).verdict.outcome, Outcome::Delivered);
  ASSERT_EQ(write("epA", kIova + 0x1000).verdict.outcome, Outcome::Delivered);
  dom->unmap(kIova, 4096);
  EXPECT_EQ(write("epA", kIova).verdict.outcome, Outcome::Delivered);
  dom->unmap(kIova + 0x1000, 4096);  // second entry: the queue is full and flushes
  EXPECT_EQ(dom->flush_queue_depth(), 0u);
  EXPECT_EQ(write("epA", kIova).verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(write("epA", kIova + 0x1000).verdict.outcome, Outcome::IommuFault);
}

TEST_F(IntelIommuLazy, FlushTimerRunsAfterTheTimeout) {
  ASSERT_EQ(write("epA", kIova).verdict.outcome, Outcome::Delivered);
  dom->unmap(kIova, 4096);
  const uint64_t now = static_cast<uint64_t>(sc_core::sc_time_stamp().value());
  EXPECT_EQ(dom->service_flush_timer(now + 1'000'000'000ull), 0);  // 1 ms: not yet
  EXPECT_EQ(dom->flush_queue_depth(), 1u);
  EXPECT_EQ(write("epA", kIova).verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(dom->service_flush_timer(now + cosim::IommuDomain::kFlushTimeoutPs + 1), 0);
  EXPECT_EQ(dom->flush_queue_depth(), 0u);
  EXPECT_EQ(write("epA", kIova).verdict.outcome, Outcome::IommuFault);
}
