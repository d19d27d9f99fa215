// Resuming walks from an intermediate level, as the paging-structure caches do: the result must
// equal the full walk's, with fewer reads, and the rights of the skipped entries must still apply.
#include <gtest/gtest.h>

#include "iommu/sparse_memory.h"
#include "iommu/walk.h"

using namespace pciesim;
using namespace pciesim::vtd;
using test::TableWorld;

namespace {

bool same(const Translation& a, const Translation& b) {
  return a.fault == b.fault && a.output == b.output && a.page_size == b.page_size && a.rights.read == b.rights.read &&
         a.rights.write == b.rights.write && a.rights.execute == b.rights.execute && a.snoop == b.snoop;
}

class WalkResumeSecondLevel : public ::testing::TestWithParam<int> {
 protected:
  TableWorld w;
  Capabilities caps = Capabilities::server();
};

TEST_P(WalkResumeSecondLevel, ResumeAtEveryLevelGivesTheSameResultWithFewerReads) {
  const int levels = GetParam();
  caps.cap |= 0b1110ull << 8;  // 3, 4 and 5 levels
  SecondLevelBuilder sl(w.tables, levels);
  const uint64_t iova = 0x12'3456'7000ull & low_bits(width_for_levels(levels));
  ASSERT_TRUE(sl.map(iova, 0xb000'0000, 4096));
  const SlOptions opts = SlOptions::from(caps, true);
  WalkTrace trace;
  const Translation full = walk_second_level(w.mem, sl.root(), levels, iova | 0x88, true, opts, &trace);
  ASSERT_TRUE(full.ok()) << describe(full.fault);
  EXPECT_EQ(full.memory_reads, static_cast<unsigned>(levels));
  for (int start = levels; start >= 1; --start) {
    const WalkStart from{start, trace.table[start], trace.perms[start]};
    const Translation r = walk_second_level(w.mem, sl.root(), levels, iova | 0x88, true, opts, nullptr, from);
    EXPECT_TRUE(same(full, r)) << "start level " << start << ": " << describe(r.fault);
    EXPECT_EQ(r.memory_reads, static_cast<unsigned>(start)) << "start level " << start;
  }
}
INSTANTIATE_TEST_SUITE_P(Levels, WalkResumeSecondLevel, ::testing::Values(3, 4, 5));

TEST(WalkResume, SkippedEntriesKeepTheirRights) {
  TableWorld w;
  const Capabilities caps = Capabilities::qemu_7_2();
  SecondLevelBuilder sl(w.tables, 3);
  ASSERT_TRUE(sl.map(0x1000, 0x8000'0000, 4096));
  const uint64_t l3 = sl.entry_address(0x1000, 3);
  ASSERT_TRUE(w.mem.write64(l3, w.mem.read64(l3) & ~2ull));  // read-only directory pointer
  const SlOptions opts = SlOptions::from(caps, false);
  WalkTrace trace;
  ASSERT_TRUE(walk_second_level(w.mem, sl.root(), 3, 0x1000, false, opts, &trace).ok());
  EXPECT_EQ(trace.perms[3], kPermAll);
  EXPECT_EQ(trace.perms[2] & kPermWrite, 0);
  EXPECT_EQ(trace.perms[1] & kPermWrite, 0);
  // resumed below the read-only entry, a write is still denied...
  const Translation r = walk_second_level(w.mem, sl.root(), 3, 0x1000, true, opts, nullptr,
                                          WalkStart{1, trace.table[1], trace.perms[1]});
  EXPECT_EQ(r.fault, FaultReason::WriteDenied);
  EXPECT_EQ(r.memory_reads, 1u);
  // ...and would not be if the cache forgot the rights (the reason WalkTrace carries them)
  EXPECT_TRUE(walk_second_level(w.mem, sl.root(), 3, 0x1000, true, opts, nullptr,
                                WalkStart{1, trace.table[1], kPermAll})
                  .ok());
}

TEST(WalkResume, TraceStopsWhereALargePageEnds) {
  TableWorld w;
  const Capabilities caps = Capabilities::server();
  SecondLevelBuilder sl(w.tables, 4);
  ASSERT_TRUE(sl.map(0x4000'0000, 0x1'4000'0000, 1ull << 30));
  WalkTrace trace;
  const Translation t =
      walk_second_level(w.mem, sl.root(), 4, 0x4000'1000, false, SlOptions::from(caps, true), &trace);
  ASSERT_TRUE(t.ok());
  EXPECT_NE(trace.table[4], 0u);
  EXPECT_NE(trace.table[3], 0u);
  EXPECT_EQ(trace.table[2], 0u);
  EXPECT_EQ(trace.table[1], 0u);
}

TEST(WalkResume, BadStartLevelIsAFaultNotACrash) {
  TableWorld w;
  SecondLevelBuilder sl(w.tables, 3);
  const SlOptions opts = SlOptions::from(Capabilities::qemu_7_2(), false);
  EXPECT_EQ(walk_second_level(w.mem, sl.root(), 3, 0, false, opts, nullptr, WalkStart{4, sl.root(), kPermAll}).fault,
            FaultReason::ContextInvalid);
  EXPECT_EQ(walk_second_level(w.mem, sl.root(), 6, 0, false, opts).fault, FaultReason::ContextInvalid);
  FlOptions fo;
  EXPECT_EQ(walk_first_level(w.mem, sl.root(), 0, FlAccess{}, fo, nullptr, WalkStart{-1, 0, 0}).fault,
            FaultReason::SmPasidEntryInvalid);
}

TEST(WalkResume, FirstLevelResume) {
  TableWorld w;
  const Capabilities caps = Capabilities::server();
  FirstLevelBuilder fl(w.tables, 4);
  ASSERT_TRUE(fl.map(0x7f00'1000, 0x8000'0000, 4096, FlMapping{/*write*/ false}));
  const FlOptions fo = FlOptions::from(caps, first_level_pasid(fl.root_pointer(), 0, 1));
  WalkTrace trace;
  const Translation full = walk_first_level(w.mem, fl.root_pointer(), 0x7f00'1234, FlAccess{}, fo, &trace);
  ASSERT_TRUE(full.ok()) << describe(full.fault);
  for (int start = 4; start >= 1; --start) {
    const Translation r = walk_first_level(w.mem, fl.root_pointer(), 0x7f00'1234, FlAccess{}, fo, nullptr,
                                           WalkStart{start, trace.table[start], trace.perms[start]});
    EXPECT_TRUE(same(full, r)) << "start " << start;
    EXPECT_EQ(r.memory_reads, static_cast<unsigned>(start));
  }
  FlAccess write;
  write.write = true;
  EXPECT_EQ(walk_first_level(w.mem, fl.root_pointer(), 0x7f00'1234, write, fo, nullptr,
                             WalkStart{1, trace.table[1], trace.perms[1]})
                .fault,
            FaultReason::SmWriteDenied);
}

TEST(WalkResume, NestedResumeSkipsTablePointerTranslations) {
  TableWorld w;
  const Capabilities caps = Capabilities::server();
  constexpr int64_t kOffset = 0x10'0000'0000;
  SecondLevelBuilder sl(w.tables, 4);
  FirstLevelBuilder fl(w.tables, 4, kOffset);
  ASSERT_TRUE(fl.map(0x7f00'1000, 0x3'0000'0000, 4096));
  ASSERT_TRUE(sl.map_range(TableWorld::kTablesBase + kOffset, TableWorld::kTablesBase, TableWorld::kTablesSize,
                           SlMapping{}, 2ull << 20));
  ASSERT_TRUE(sl.map(0x3'0000'0000, 0x8000'0000, 4096));
  const PasidEntry pe = nested_pasid(fl.root_pointer(), 0, sl.root(), 2, 1);
  FlOptions fo = FlOptions::from(caps, pe);
  const NestedSecondLevel nested{sl.root(), 4, SlOptions::from(caps, true)};
  fo.nested = &nested;
  WalkTrace trace;
  const Translation full = walk_first_level(w.mem, fl.root_pointer(), 0x7f00'1234, FlAccess{}, fo, &trace);
  ASSERT_TRUE(full.ok()) << describe(full.fault);
  EXPECT_EQ(full.output, 0x8000'0234u);
  EXPECT_EQ(trace.table[4], fl.root());  // the trace holds host-physical tables
  // top pointer 3 + FL 4 + 3 lower pointers x 3 + output 4
  EXPECT_EQ(full.memory_reads, 3u + 4u + 9u + 4u);
  for (int start = 4; start >= 1; --start) {
    const Translation r = walk_first_level(w.mem, fl.root_pointer(), 0x7f00'1234, FlAccess{}, fo, nullptr,
                                           WalkStart{start, trace.table[start], trace.perms[start]});
    EXPECT_TRUE(same(full, r)) << "nested start " << start;
    EXPECT_EQ(r.memory_reads, 4u * static_cast<unsigned>(start) + 1u) << "start " << start;  // s FL + (s-1) x 3 + 4
  }
}

}  // namespace
