// The driver's queued invalidation: every batch ends in a wait descriptor whose status write the
// driver polls; an invalid descriptor is reported in Linux's words and the queue recovers.
#include "intel_iommu_fixture.h"

#include <cerrno>

#include "iommu/vtd_regs.h"

using namespace pciesim;
using namespace pciesim::test;

using IntelIommuQueue = IntelIommuFixture;

TEST_F(IntelIommuQueue, BatchCompletesThroughTheWaitDescriptorStatusWrite) {
  const uint64_t batches = drv->queue().batches();
  EXPECT_EQ(drv->flush_iotlb_global(), 0);
  EXPECT_EQ(drv->queue().batches(), batches + 1);
  EXPECT_EQ(drv->registers().read64(vtd::reg::kIqh), drv->registers().read64(vtd::reg::kIqt));
}

TEST_F(IntelIommuQueue, InvalidDescriptorIsReportedAndTheQueueMovesOn) {
  // Type 0xF: no such descriptor (IQER.IQEI 3).
  const int rc = drv->submit({{0xf, 0}});
  EXPECT_EQ(rc, -EINVAL);
  EXPECT_EQ(drv->queue().errors(), 1u);
  EXPECT_TRUE(logged("DMAR: VT-d detected invalid descriptor: qw0 = f, qw1 = 0")) << log.dmesg();
  EXPECT_TRUE(logged("DMAR: Invalidation Queue Error (IQE) cleared"));
  EXPECT_EQ(drv->registers().read32(vtd::reg::kFsts) & vtd::fsts::kIqe, 0u);
  EXPECT_EQ(drv->registers().read64(vtd::reg::kIqh), drv->registers().read64(vtd::reg::kIqt));
  // The queue error raised the fault event too; qi_check_fault had already cleared IQE, so the
  // fault handler found no DMA fault records to report.
  EXPECT_GE(f->apic().count_vector(0xee), 1u);
  EXPECT_EQ(drv->fault_events(), 1u);
  EXPECT_TRUE(drv->faults().empty());
  // And the next batch goes through.
  EXPECT_EQ(drv->flush_context_global(), 0);
}

TEST_F(IntelIommuQueue, ReservedAddressMaskIsRejected) {
  // AM beyond CAP.MAMV (server part: 45) is a reserved-field error.
  EXPECT_EQ(drv->submit({cosim::qi::iotlb(cosim::qi::kGranDeviceOrPage, 1, 0, 0x3f)}), -EINVAL);
  EXPECT_EQ(drv->submit({cosim::qi::iotlb(cosim::qi::kGranDeviceOrPage, 1, 0, 0)}), 0);
}
