// The caches in front of the real second-level walker and real tables: stale translations after a
// table change, the invalidation that ends them, and the reads a miss costs when the
// paging-structure caches resume the walk (performance-facts D: about 2 per miss).
#include <gtest/gtest.h>

#include "iommu/sparse_memory.h"
#include "iommu/vtd_caches.h"
#include "iommu/walk.h"

using namespace pciesim;
using namespace pciesim::vtd;
using test::TableWorld;

namespace {

constexpr uint64_t k4K = 4096;

// What the remapping unit will do for a legacy-mode untranslated read: IOTLB, then a walk resumed
// from the paging-structure caches, then fills.
struct CachedWalker {
  TableWorld& w;
  VtdCaches& caches;
  uint64_t root;
  int levels = 4;
  SlOptions opts = SlOptions::from(Capabilities::server(), false);

  Translation translate(uint16_t did, uint64_t iova) {
    if (const IotlbEntry* e = caches.lookup_iotlb(did, kNoPasid, iova)) {
      Translation t;
      t.output = e->translate(iova);
      t.page_size = e->page_size;
      t.rights = e->rights;
      return t;  // memory_reads = 0
    }
    const PagingStructureHit h = caches.lookup_paging_structure(did, kNoPasid, iova, levels);
    WalkTrace trace;
    const Translation t = walk_second_level(w.mem, root, levels, iova, false, opts, &trace,
                                            WalkStart{h.level, h.table, h.perms});
    if (t.ok()) {
      IotlbEntry e;
      e.page_pa = t.output & ~(t.page_size - 1);
      e.page_size = t.page_size;
      e.rights = t.rights;
      e.snoop = t.snoop;
      caches.fill_iotlb(did, kNoPasid, iova, e);
      caches.fill_paging_structure(did, kNoPasid, iova, trace, levels);
    }
    return t;
  }
};

}  // namespace

TEST(VtdCachesWithWalker, AMissCostsTwoReadsOnceTheUpperLevelsAreCached) {
  TableWorld w;
  SecondLevelBuilder sl(w.tables, 4);
  for (uint64_t p = 0; p < 512; ++p) ASSERT_TRUE(sl.map(0x4000'0000 + p * k4K, 0x8000'0000 + p * k4K, k4K));
  VtdCaches caches;
  CachedWalker cw{w, caches, sl.root()};

  Translation t = cw.translate(1, 0x4000'0010);
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_EQ(t.output, 0x8000'0010u);
  EXPECT_EQ(t.memory_reads, 4u);  // cold: the whole 4-level walk
  EXPECT_EQ(cw.translate(1, 0x4000'0020).memory_reads, 0u);  // IOTLB hit

  // Sweep 256 pages (1 MiB, past the 64-entry IOTLB reach): each miss reads PDE + PTE.
  unsigned reads = 0, misses = 0;
  for (uint64_t p = 1; p < 257; ++p) {
    t = cw.translate(1, 0x4000'0000 + p * k4K);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t.output, 0x8000'0000 + p * k4K);
    if (t.memory_reads) ++misses;
    reads += t.memory_reads;
  }
  EXPECT_EQ(misses, 256u);
  EXPECT_EQ(reads, 2u * misses);
}

TEST(VtdCachesWithWalker, StaleTranslationUntilTheRightInvalidation) {
  TableWorld w;
  SecondLevelBuilder sl(w.tables, 4);
  const uint64_t iova = 0x10'0000;
  ASSERT_TRUE(sl.map(iova, 0xa000'0000, k4K));
  VtdCaches caches;
  CachedWalker cw{w, caches, sl.root()};
  ASSERT_EQ(cw.translate(5, iova).output, 0xa000'0000u);

  // The kernel moves the page: new leaf in memory, no invalidation yet.
  ASSERT_TRUE(sl.unmap(iova, k4K));
  ASSERT_TRUE(sl.map(iova, 0xb000'0000, k4K));
  EXPECT_EQ(cw.translate(5, iova).output, 0xa000'0000u) << "the IOTLB still holds the old leaf";
  caches.invalidate_iotlb_page(6, iova, 0, true);           // another domain
  caches.invalidate_iotlb_page(5, iova + k4K, 0, true);     // the next page
  caches.invalidate_context_global();                       // another cache
  EXPECT_EQ(cw.translate(5, iova).output, 0xa000'0000u);

  caches.invalidate_iotlb_page(5, iova, 0, true);  // IH = 1: leaf only, upper levels stay cached
  const Translation t = cw.translate(5, iova);
  EXPECT_EQ(t.output, 0xb000'0000u);
  EXPECT_EQ(t.memory_reads, 2u);

  // IH = 0: the paging-structure entries that translate the range go too, and the next miss
  // walks from the root.
  caches.invalidate_iotlb_page(5, iova, 0, false);
  EXPECT_EQ(cw.translate(5, iova).memory_reads, 4u);
}
