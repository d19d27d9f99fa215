#include "iommu/vtd_caches.h"

#include <gtest/gtest.h>

#include <map>
#include <tuple>
#include <vector>

using namespace pciesim::vtd;
using pciesim::CacheConfig;

namespace {

constexpr uint64_t k4K = 4096, k2M = 1ull << 21, k1G = 1ull << 30;

IotlbEntry leaf(uint64_t pa, uint64_t size = k4K, bool write = true) {
  IotlbEntry e;
  e.page_pa = pa;
  e.page_size = size;
  e.rights.read = true;
  e.rights.write = write;
  return e;
}

// A stand-in for the walker: a flat "page table" per domain that the test can rewrite under the
// caches' feet, and a translate() that goes through the IOTLB like the remapping unit will.
struct FlatTables {
  std::map<std::pair<uint16_t, uint64_t>, uint64_t> pages;  // (did, iova page) -> pa page
  unsigned walks = 0;

  uint64_t translate(VtdCaches& c, uint16_t did, uint64_t iova) {
    if (const IotlbEntry* e = c.lookup_iotlb(did, kNoPasid, iova)) return e->translate(iova);
    ++walks;
    const uint64_t pa = pages.at({did, iova & ~(k4K - 1)});
    c.fill_iotlb(did, kNoPasid, iova, leaf(pa));
    return pa | (iova & (k4K - 1));
  }
};

}  // namespace

TEST(VtdCaches, DefaultsFollowTheDocumentedSources) {
  VtdCaches c;
  EXPECT_EQ(c.iotlb(0).capacity(), 96u);  // knee between 256 and 512 KiB; sweep fit (vtd_caches.h)
  EXPECT_EQ(c.iotlb(0).ways(), 6u);
  EXPECT_EQ(c.iotlb(1).capacity(), 32u);  // 2 MiB entries: flat to 64 MiB
  EXPECT_EQ(c.iotlb(2).capacity(), 8u);
  EXPECT_FALSE(c.paging_structure_cache(2).enabled());  // PDE not cached: 2 reads per miss
  EXPECT_TRUE(c.paging_structure_cache(3).enabled());
  EXPECT_TRUE(c.paging_structure_cache(4).enabled());
  EXPECT_TRUE(c.paging_structure_cache(5).enabled());
  EXPECT_EQ(c.context_cache().capacity(), 128u);
  EXPECT_EQ(c.pasid_cache().capacity(), 64u);
  EXPECT_EQ(c.iec().capacity(), 64u);
}

TEST(VtdCaches, IotlbHoldsEachPageSize) {
  VtdCaches c;
  c.fill_iotlb(1, kNoPasid, 0x1234'5000, leaf(0xaaaa'a000));
  c.fill_iotlb(1, kNoPasid, 0x4000'0000 + 0x12'3456, leaf(0x8000'0000, k2M));  // 2 MiB leaf
  c.fill_iotlb(1, kNoPasid, 0x80'0000'0000, leaf(0x1'0000'0000, k1G));          // 1 GiB leaf

  const IotlbEntry* e = c.lookup_iotlb(1, kNoPasid, 0x1234'5abc);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->translate(0x1234'5abc), 0xaaaa'aabcu);
  e = c.lookup_iotlb(1, kNoPasid, 0x4000'0000 + 0x1f'ffff);  // anywhere in the 2 MiB page
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->page_size, k2M);
  EXPECT_EQ(e->translate(0x4000'0000 + 0x1f'ffff), 0x801f'ffffu);
  e = c.lookup_iotlb(1, kNoPasid, 0x80'3fff'fff0);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->translate(0x80'3fff'fff0), 0x1'3fff'fff0u);
  EXPECT_EQ(c.lookup_iotlb(2, kNoPasid, 0x1234'5abc), nullptr);  // other domain
  EXPECT_EQ(c.lookup_iotlb(1, 7, 0x1234'5abc), nullptr);         // other PASID
  EXPECT_EQ(c.iotlb(0).occupancy(), 1u);
  EXPECT_EQ(c.iotlb(1).occupancy(), 1u);
  EXPECT_EQ(c.iotlb(2).occupancy(), 1u);
  EXPECT_EQ(c.iotlb_stats().hits, 3u);
  EXPECT_EQ(c.iotlb_stats().misses, 2u);
}

TEST(VtdCaches, IotlbReachIsNinetySixFourKilobytePages) {
  VtdCaches c;
  for (uint64_t p = 0; p < 96; ++p) c.fill_iotlb(1, kNoPasid, 0x10'0000 + p * k4K, leaf(p * k4K));
  for (uint64_t p = 0; p < 96; ++p) EXPECT_NE(c.lookup_iotlb(1, kNoPasid, 0x10'0000 + p * k4K), nullptr);
  c.fill_iotlb(1, kNoPasid, 0x10'0000 + 96 * k4K, leaf(0));  // the 97th page evicts one
  EXPECT_EQ(c.iotlb(0).stats().evictions, 1u);
  EXPECT_EQ(c.iotlb_occupancy(), 96u);
}

TEST(VtdCaches, StaleTranslationSurvivesUntilTheRightPageInvalidation) {
  VtdCaches c;
  FlatTables t;
  t.pages[{1, 0x5000}] = 0x11'0000;
  t.pages[{2, 0x5000}] = 0x22'0000;
  EXPECT_EQ(t.translate(c, 1, 0x5008), 0x11'0008u);
  EXPECT_EQ(t.translate(c, 2, 0x5008), 0x22'0008u);
  EXPECT_EQ(t.walks, 2u);

  t.pages[{1, 0x5000}] = 0x33'0000;  // software remaps the page, forgets to invalidate
  EXPECT_EQ(t.translate(c, 1, 0x5008), 0x11'0008u) << "stale entry keeps translating";

  c.invalidate_iotlb_page(3, 0x5000, 0, false);  // wrong domain
  EXPECT_EQ(t.translate(c, 1, 0x5008), 0x11'0008u);
  c.invalidate_iotlb_page(1, 0x6000, 0, false);  // right domain, another page
  EXPECT_EQ(t.translate(c, 1, 0x5008), 0x11'0008u);
  c.invalidate_context_global();                 // wrong cache
  c.invalidate_pasid_cache_global();
  EXPECT_EQ(t.translate(c, 1, 0x5008), 0x11'0008u);
  EXPECT_EQ(t.walks, 2u);

  c.invalidate_iotlb_page(1, 0x5000, 0, false);  // the right one
  EXPECT_EQ(t.translate(c, 1, 0x5008), 0x33'0008u);
  EXPECT_EQ(t.walks, 3u);
  // Domain 2's entry for the same page number was not touched by domain 1's invalidation.
  EXPECT_EQ(t.translate(c, 2, 0x5008), 0x22'0008u);
  EXPECT_EQ(t.walks, 3u);
  // The domain-selective invalidation of domain 2 is the right one for it.
  t.pages[{2, 0x5000}] = 0x44'0000;
  c.invalidate_iotlb_domain(1);
  EXPECT_EQ(t.translate(c, 2, 0x5008), 0x22'0008u);
  c.invalidate_iotlb_domain(2);
  EXPECT_EQ(t.translate(c, 2, 0x5008), 0x44'0008u);
}

TEST(VtdCaches, PageSelectiveAddressMaskCoversAlignedPowerOfTwoPages) {
  VtdCaches c;
  for (uint64_t p = 0; p < 16; ++p) c.fill_iotlb(1, kNoPasid, p * k4K, leaf(p * k4K));
  // AM = 2 at 0x5000: 4 pages, aligned down to 0x4000 -> pages 4..7.
  c.invalidate_iotlb_page(1, 0x5000, 2, true);
  for (uint64_t p = 0; p < 16; ++p) {
    const bool gone = p >= 4 && p <= 7;
    EXPECT_EQ(c.lookup_iotlb(1, kNoPasid, p * k4K) == nullptr, gone) << "page " << p;
  }
  uint64_t first = 0, last = 0;
  VtdCaches::page_range(0x12'3456'7000, 9, first, last);  // 2 MiB
  EXPECT_EQ(first, 0x12'3440'0000u);
  EXPECT_EQ(last, 0x12'345f'ffffu);
}

TEST(VtdCaches, PageInvalidationRemovesAnOverlappingLargePage) {
  VtdCaches c;
  c.fill_iotlb(1, kNoPasid, 0x20'0000, leaf(0x4000'0000, k2M));
  c.fill_iotlb(1, kNoPasid, 0x40'0000, leaf(0x5000'0000, k2M));
  c.invalidate_iotlb_page(1, 0x20'3000, 0, true);  // one 4 KiB page inside the first 2 MiB page
  EXPECT_EQ(c.lookup_iotlb(1, kNoPasid, 0x20'0000), nullptr);
  EXPECT_NE(c.lookup_iotlb(1, kNoPasid, 0x40'0000), nullptr);
}

TEST(VtdCaches, DomainAndGlobalIotlbInvalidation) {
  VtdCaches c;
  c.fill_iotlb(1, kNoPasid, 0x1000, leaf(0x1000));
  c.fill_iotlb(1, 5, 0x2000, leaf(0x2000));  // a PASID-tagged entry of the same domain
  c.fill_iotlb(2, kNoPasid, 0x1000, leaf(0x9000));
  c.invalidate_iotlb_domain(1);
  EXPECT_EQ(c.lookup_iotlb(1, kNoPasid, 0x1000), nullptr);
  EXPECT_EQ(c.lookup_iotlb(1, 5, 0x2000), nullptr);
  EXPECT_NE(c.lookup_iotlb(2, kNoPasid, 0x1000), nullptr);
  c.invalidate_iotlb_global();
  EXPECT_EQ(c.lookup_iotlb(2, kNoPasid, 0x1000), nullptr);
  EXPECT_EQ(c.iotlb_occupancy(), 0u);
}

TEST(VtdCaches, PagingStructureCachesSkipUpperLevels) {
  // A 4-level walk for iova 0x12'3456'7000 visited: L4 root 0x100000, L3 0x200000, L2 0x300000,
  // L1 0x400000.
  WalkTrace trace;
  trace.table[4] = 0x10'0000;
  trace.table[3] = 0x20'0000;
  trace.table[2] = 0x30'0000;
  trace.table[1] = 0x40'0000;
  trace.perms[2] = kPermRead | kPermWrite;
  trace.perms[1] = kPermRead;  // the PDE was read-only
  const uint64_t iova = 0x12'3456'7000;

  VtdCaches c;  // defaults: PDE level not cached
  EXPECT_FALSE(c.lookup_paging_structure(1, kNoPasid, iova, 4).hit());
  c.fill_paging_structure(1, kNoPasid, iova, trace, 4);
  PagingStructureHit h = c.lookup_paging_structure(1, kNoPasid, iova, 4);
  ASSERT_TRUE(h.hit());
  EXPECT_EQ(h.level, 2);  // resume at the page directory: read PDE + PTE = 2 memory reads
  EXPECT_EQ(h.table, 0x30'0000u);
  EXPECT_EQ(h.perms, kPermRead | kPermWrite);  // the rights above the PD come back with it
  // Another 4 KiB page under the same PDPE (same 1 GiB region) hits too.
  h = c.lookup_paging_structure(1, kNoPasid, iova + 0x3000'0000 - 0x3456'7000, 4);
  EXPECT_EQ(h.level, 2);
  EXPECT_FALSE(c.lookup_paging_structure(2, kNoPasid, iova, 4).hit());  // other domain

  VtdCacheConfig cfg;
  cfg.pde = CacheConfig::fully_associative(32);
  VtdCaches with_pde(cfg);
  with_pde.fill_paging_structure(1, kNoPasid, iova, trace, 4);
  h = with_pde.lookup_paging_structure(1, kNoPasid, iova, 4);
  EXPECT_EQ(h.level, 1);  // only the PTE to read
  EXPECT_EQ(h.table, 0x40'0000u);
  EXPECT_EQ(h.perms, kPermRead);

  // A walk that ended in a 2 MiB page has no leaf table to cache.
  WalkTrace large = trace;
  large.table[1] = 0;
  VtdCaches c2(cfg);
  c2.fill_paging_structure(1, kNoPasid, iova, large, 4);
  EXPECT_EQ(c2.lookup_paging_structure(1, kNoPasid, iova, 4).level, 2);
}

TEST(VtdCaches, InvalidationHintKeepsPagingStructureEntries) {
  WalkTrace trace;
  trace.table[4] = 0x10'0000;
  trace.table[3] = 0x20'0000;
  trace.table[2] = 0x30'0000;
  trace.table[1] = 0x40'0000;
  VtdCacheConfig cfg;
  cfg.pde = CacheConfig::fully_associative(32);
  VtdCaches c(cfg);
  const uint64_t a = 0x1000'0000, b = 0x80'0000'0000;  // different PML4 slots
  c.fill_paging_structure(1, kNoPasid, a, trace, 4);
  c.fill_paging_structure(1, kNoPasid, b, trace, 4);

  c.invalidate_iotlb_page(1, a, 0, true);  // IH = 1: leaves only
  EXPECT_EQ(c.lookup_paging_structure(1, kNoPasid, a, 4).level, 1);

  c.invalidate_iotlb_page(1, a, 0, false);  // IH = 0: everything that translates `a` goes
  EXPECT_FALSE(c.lookup_paging_structure(1, kNoPasid, a, 4).hit());
  EXPECT_EQ(c.lookup_paging_structure(1, kNoPasid, b, 4).level, 1);  // other range stays

  c.invalidate_iotlb_domain(1);
  EXPECT_FALSE(c.lookup_paging_structure(1, kNoPasid, b, 4).hit());
}

TEST(VtdCaches, ContextCacheGranularities) {
  VtdCaches c;
  auto ctx = [](uint16_t did) {
    CachedContext e;
    e.present = true;
    e.did = did;
    e.aw = 1;
    e.slptptr = 0x1000ull * did;
    return e;
  };
  const uint16_t dev3 = (0x01 << 8) | (3 << 3);  // 01:03.x
  for (unsigned fn = 0; fn < 8; ++fn) c.fill_context(dev3 | fn, ctx(10));
  c.fill_context(0x0200, ctx(20));  // 02:00.0
  c.fill_context(0x0208, ctx(30));  // 02:01.0

  c.invalidate_context_device(10, dev3 | 5, 0);  // FM 0: exactly 01:03.5
  EXPECT_EQ(c.lookup_context(dev3 | 5), nullptr);
  EXPECT_NE(c.lookup_context(dev3 | 4), nullptr);
  c.invalidate_context_device(10, dev3 | 1, 1);  // FM 1: ignore bit 2 -> .1 and .5
  EXPECT_EQ(c.lookup_context(dev3 | 1), nullptr);
  EXPECT_NE(c.lookup_context(dev3 | 0), nullptr);
  c.invalidate_context_device(10, dev3, 3);      // FM 3: every function of the device
  for (unsigned fn = 0; fn < 8; ++fn) EXPECT_EQ(c.lookup_context(dev3 | fn), nullptr);
  EXPECT_NE(c.lookup_context(0x0200), nullptr);

  c.invalidate_context_domain(20);
  EXPECT_EQ(c.lookup_context(0x0200), nullptr);
  ASSERT_NE(c.lookup_context(0x0208), nullptr);
  EXPECT_EQ(c.lookup_context(0x0208)->did, 30);
  c.invalidate_context_global();
  EXPECT_EQ(c.lookup_context(0x0208), nullptr);
}

TEST(VtdCaches, PasidCacheGranularities) {
  VtdCaches c;
  auto pe = [](uint16_t did) {
    CachedPasidEntry e;
    e.present = true;
    e.did = did;
    e.pgtt = 1;
    return e;
  };
  c.fill_pasid(0x0100, 1, pe(7));
  c.fill_pasid(0x0100, 2, pe(7));
  c.fill_pasid(0x0200, 1, pe(8));

  c.invalidate_pasid_cache_pasid(8, 2);  // wrong domain for that PASID: nothing
  EXPECT_NE(c.lookup_pasid(0x0100, 2), nullptr);
  c.invalidate_pasid_cache_pasid(7, 2);
  EXPECT_EQ(c.lookup_pasid(0x0100, 2), nullptr);
  EXPECT_NE(c.lookup_pasid(0x0100, 1), nullptr);
  c.invalidate_pasid_cache_domain(7);
  EXPECT_EQ(c.lookup_pasid(0x0100, 1), nullptr);
  EXPECT_NE(c.lookup_pasid(0x0200, 1), nullptr);
  c.invalidate_pasid_cache_global();
  EXPECT_EQ(c.lookup_pasid(0x0200, 1), nullptr);
}

TEST(VtdCaches, PasidBasedIotlbInvalidation) {
  VtdCaches c;
  c.fill_iotlb(3, 1, 0x1000, leaf(0xa000));
  c.fill_iotlb(3, 1, 0x2000, leaf(0xb000));
  c.fill_iotlb(3, 2, 0x1000, leaf(0xc000));
  c.fill_iotlb(4, 1, 0x1000, leaf(0xd000));

  c.invalidate_piotlb_page(3, 1, 0x1000, 0, false);
  EXPECT_EQ(c.lookup_iotlb(3, 1, 0x1000), nullptr);
  EXPECT_NE(c.lookup_iotlb(3, 1, 0x2000), nullptr);
  EXPECT_NE(c.lookup_iotlb(3, 2, 0x1000), nullptr);  // other PASID
  EXPECT_NE(c.lookup_iotlb(4, 1, 0x1000), nullptr);  // other domain

  c.invalidate_piotlb_pasid(3, 1);
  EXPECT_EQ(c.lookup_iotlb(3, 1, 0x2000), nullptr);
  EXPECT_NE(c.lookup_iotlb(3, 2, 0x1000), nullptr);
  EXPECT_NE(c.lookup_iotlb(4, 1, 0x1000), nullptr);
}

TEST(VtdCaches, InterruptEntryCacheGranularities) {
  VtdCaches c;
  for (uint16_t i = 0; i < 32; ++i) c.iec().insert(i, CachedIrte{i, 0});
  c.invalidate_iec_index(9, 2);  // 4 entries: 8..11
  for (uint16_t i = 0; i < 32; ++i) EXPECT_EQ(c.iec().peek(i) == nullptr, i >= 8 && i <= 11) << i;
  c.invalidate_iec_index(20, 0);
  EXPECT_EQ(c.iec().peek(20), nullptr);
  EXPECT_NE(c.iec().peek(21), nullptr);
  c.invalidate_iec_global();
  EXPECT_EQ(c.iec().occupancy(), 0u);
}

TEST(VtdCaches, DeviceTlbInvalidationsAreForwarded) {
  VtdCaches c;
  std::vector<std::tuple<uint16_t, bool, uint32_t, uint64_t, bool>> seen;
  c.invalidate_device_tlb(0x0300, false, 0, 0x1000, false);  // no handler: counted, dropped
  c.set_device_tlb_handler([&](uint16_t sid, bool hp, uint32_t pasid, uint64_t addr, bool s) {
    seen.emplace_back(sid, hp, pasid, addr, s);
  });
  c.invalidate_device_tlb(0x0300, true, 9, 0x7000, true);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::make_tuple(uint16_t(0x0300), true, uint32_t(9), uint64_t(0x7000), true));
  EXPECT_EQ(c.device_tlb_invalidations(), 2u);
}

TEST(VtdCaches, CombinedIotlbStorage) {
  VtdCacheConfig cfg;
  cfg.iotlb_combined = true;
  VtdCaches c(cfg);
  c.fill_iotlb(1, kNoPasid, 0x1000, leaf(0xa000));
  c.fill_iotlb(1, kNoPasid, 0x20'0000, leaf(0x4000'0000, k2M));
  c.fill_iotlb(1, kNoPasid, 0x4000'0000, leaf(0x8000'0000, k1G));
  EXPECT_EQ(c.iotlb(0).occupancy(), 3u);  // one array for all sizes
  EXPECT_EQ(&c.iotlb(0), &c.iotlb(2));
  EXPECT_EQ(c.lookup_iotlb(1, kNoPasid, 0x20'1234)->translate(0x20'1234), 0x4000'1234u);
  EXPECT_EQ(c.lookup_iotlb(1, kNoPasid, 0x4000'1234)->translate(0x4000'1234), 0x8000'1234u);
  c.invalidate_iotlb_page(1, 0x20'0000, 0, true);
  EXPECT_EQ(c.lookup_iotlb(1, kNoPasid, 0x20'1234), nullptr);
  EXPECT_NE(c.lookup_iotlb(1, kNoPasid, 0x1000), nullptr);
  c.invalidate_iotlb_global();
  EXPECT_EQ(c.iotlb_occupancy(), 0u);
}

TEST(VtdCaches, FlushAllEmptiesEveryCache) {
  VtdCaches c;
  c.fill_context(1, CachedContext{});
  c.fill_pasid(1, 1, CachedPasidEntry{});
  c.fill_iotlb(1, kNoPasid, 0, leaf(0));
  c.iec().insert(1, CachedIrte{});
  c.flush_all();
  EXPECT_EQ(c.context_cache().occupancy() + c.pasid_cache().occupancy() + c.iotlb_occupancy() +
                c.iec().occupancy(),
            0u);
}
