#include "pciesim/set_assoc_cache.h"

#include <gtest/gtest.h>

#include <set>

using pciesim::CacheConfig;
using pciesim::ReplacementPolicy;
using pciesim::SetAssocCache;

namespace {

using IntCache = SetAssocCache<uint64_t, int>;

CacheConfig fa(unsigned n, ReplacementPolicy p) { return CacheConfig::fully_associative(n, p); }

// Fill ways 0..n-1 of a fully associative cache with tags 100.. and outputs 0..
void fill_in_order(IntCache& c, unsigned n) {
  for (unsigned i = 0; i < n; ++i) c.insert(100 + i, static_cast<int>(i));
}

}  // namespace

TEST(SetAssocCache, GeometryAndValidation) {
  IntCache c(CacheConfig{64, 8});
  EXPECT_EQ(c.sets(), 8u);
  EXPECT_EQ(c.ways(), 8u);
  EXPECT_TRUE(c.enabled());
  EXPECT_EQ(IntCache(CacheConfig::fully_associative(16)).sets(), 1u);
  EXPECT_EQ(IntCache(CacheConfig::direct_mapped(16)).sets(), 16u);
  EXPECT_THROW(IntCache(CacheConfig{60, 8}), std::invalid_argument);   // not a multiple
  EXPECT_THROW(IntCache(CacheConfig{48, 8}), std::invalid_argument);   // 6 sets
  EXPECT_THROW(IntCache(CacheConfig{24, 3, ReplacementPolicy::TreePlru}), std::invalid_argument);
  EXPECT_NO_THROW(IntCache(CacheConfig{24, 3, ReplacementPolicy::Lru}).sets());  // 8 sets of 3
}

TEST(SetAssocCache, DisabledCacheAlwaysMisses) {
  IntCache c(CacheConfig::disabled());
  EXPECT_FALSE(c.enabled());
  c.insert(1, 1);
  EXPECT_EQ(c.lookup(1), nullptr);
  EXPECT_EQ(c.stats().misses, 1u);
  EXPECT_EQ(c.occupancy(), 0u);
}

TEST(SetAssocCache, HitMissAndStatistics) {
  IntCache c(CacheConfig{16, 4});
  EXPECT_EQ(c.lookup(7), nullptr);
  auto r = c.insert(7, 70);
  EXPECT_FALSE(r.evicted);
  EXPECT_FALSE(r.updated);
  ASSERT_NE(c.lookup(7), nullptr);
  EXPECT_EQ(*c.lookup(7), 70);
  r = c.insert(7, 71);  // same tag: overwrite in place
  EXPECT_TRUE(r.updated);
  EXPECT_EQ(*c.peek(7), 71);
  EXPECT_EQ(c.stats().hits, 2u);
  EXPECT_EQ(c.stats().misses, 1u);
  EXPECT_EQ(c.stats().insertions, 1u);
  EXPECT_EQ(c.stats().evictions, 0u);
  EXPECT_DOUBLE_EQ(c.stats().hit_rate(), 2.0 / 3.0);
  c.reset_stats();
  EXPECT_EQ(c.stats().lookups(), 0u);
  EXPECT_EQ(c.occupancy(), 1u);
}

TEST(SetAssocCache, PeekDoesNotTouchStatsOrReplacement) {
  IntCache c(fa(2, ReplacementPolicy::Lru));
  c.insert(1, 1);
  c.insert(2, 2);
  EXPECT_NE(c.peek(1), nullptr);  // would make 2 the LRU victim if it counted as a use
  c.insert(3, 3);
  EXPECT_FALSE(c.contains(1));
  EXPECT_TRUE(c.contains(2));
  EXPECT_EQ(c.stats().lookups(), 0u);
}

TEST(SetAssocCache, LruEvictsLeastRecentlyUsed) {
  IntCache c(fa(4, ReplacementPolicy::Lru));
  fill_in_order(c, 4);          // 100..103
  ASSERT_NE(c.lookup(100), nullptr);  // 101 is now the least recently used
  auto r = c.insert(200, 9);
  EXPECT_TRUE(r.evicted);
  EXPECT_EQ(r.victim, 101u);
  EXPECT_TRUE(c.contains(100));
  EXPECT_EQ(c.stats().evictions, 1u);
}

TEST(SetAssocCache, FifoIgnoresHits) {
  IntCache c(fa(4, ReplacementPolicy::Fifo));
  fill_in_order(c, 4);
  ASSERT_NE(c.lookup(100), nullptr);
  auto r = c.insert(200, 9);
  EXPECT_TRUE(r.evicted);
  EXPECT_EQ(r.victim, 100u);  // oldest insertion despite the hit
  r = c.insert(201, 9);
  EXPECT_EQ(r.victim, 101u);
}

TEST(SetAssocCache, TreePlruFollowsTheTree) {
  IntCache c(fa(4, ReplacementPolicy::TreePlru));
  fill_in_order(c, 4);  // ways 0..3 hold 100..103, touched in that order
  // After touching 0,1,2,3 the tree points at way 0.
  auto r = c.insert(200, 9);
  EXPECT_EQ(r.victim, 100u);  // way 0 now holds 200 and was touched
  // Root points right (away from way 0); node 3 points at way 2 (3 was touched last).
  r = c.insert(201, 9);
  EXPECT_EQ(r.victim, 102u);
  // Now way 2 was touched: root points left, node 2 points at way 1 (0 was touched after 1).
  r = c.insert(202, 9);
  EXPECT_EQ(r.victim, 101u);
}

TEST(SetAssocCache, TreePlruSixtyFourWays) {
  IntCache c(fa(64, ReplacementPolicy::TreePlru));
  fill_in_order(c, 64);
  std::set<uint64_t> victims;
  for (unsigned i = 0; i < 64; ++i) victims.insert(c.insert(1000 + i, 0).victim);
  // Without intervening hits, 64 insertions evict each original entry exactly once.
  EXPECT_EQ(victims.size(), 64u);
  EXPECT_EQ(*victims.begin(), 100u);
  EXPECT_EQ(*victims.rbegin(), 163u);
}

TEST(SetAssocCache, RandomIsSeededAndReproducible) {
  auto run = [](uint64_t seed) {
    CacheConfig cfg = fa(8, ReplacementPolicy::Random);
    cfg.seed = seed;
    IntCache c(cfg);
    fill_in_order(c, 8);
    std::vector<uint64_t> victims;
    for (unsigned i = 0; i < 32; ++i) victims.push_back(c.insert(1000 + i, 0).victim);
    return victims;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(SetAssocCache, InvalidWaysAreFilledBeforeEvicting) {
  for (auto p : {ReplacementPolicy::Lru, ReplacementPolicy::Fifo, ReplacementPolicy::Random,
                 ReplacementPolicy::TreePlru}) {
    IntCache c(fa(4, p));
    fill_in_order(c, 4);
    EXPECT_TRUE(c.invalidate(102));
    auto r = c.insert(300, 3);
    EXPECT_FALSE(r.evicted) << to_string(p);
    EXPECT_EQ(c.occupancy(), 4u) << to_string(p);
  }
}

TEST(SetAssocCache, DirectMappedConflicts) {
  IntCache c(CacheConfig::direct_mapped(16));
  c.insert(3, 1);
  EXPECT_EQ(c.set_index(3), c.set_index(19));
  auto r = c.insert(19, 2);  // same set (low 4 bits): evicts 3
  EXPECT_TRUE(r.evicted);
  EXPECT_EQ(r.victim, 3u);
  EXPECT_FALSE(c.contains(3));
  c.insert(4, 3);  // another set: no conflict
  EXPECT_TRUE(c.contains(19));
}

TEST(SetAssocCache, SetAssociativeHoldsAContiguousRunLikeFullyAssociative) {
  // 64 entries, 8 ways: 64 consecutive page numbers fit exactly (the IOTLB-reach property).
  IntCache c(CacheConfig{64, 8});
  for (uint64_t p = 0x1000; p < 0x1040; ++p) c.insert(p, 0);
  for (uint64_t p = 0x1000; p < 0x1040; ++p) EXPECT_NE(c.lookup(p), nullptr) << p;
  EXPECT_EQ(c.stats().evictions, 0u);
  c.insert(0x1040, 0);
  EXPECT_EQ(c.stats().evictions, 1u);
}

TEST(SetAssocCache, SelectiveInvalidation) {
  IntCache c(CacheConfig{32, 4});
  for (uint64_t t = 0; t < 20; ++t) c.insert(t, static_cast<int>(t * 10));
  EXPECT_EQ(c.invalidate_if([](uint64_t t) { return t % 2 == 0; }), 10u);
  EXPECT_FALSE(c.contains(4));
  EXPECT_TRUE(c.contains(5));
  EXPECT_EQ(c.invalidate_entries_if([](uint64_t, int out) { return out >= 150; }), 3u);  // 15, 17, 19
  EXPECT_FALSE(c.contains(17));
  EXPECT_FALSE(c.contains(19));
  EXPECT_TRUE(c.contains(13));
  EXPECT_FALSE(c.invalidate(4));  // already gone
  EXPECT_TRUE(c.invalidate(13));
  EXPECT_EQ(c.stats().invalidations, 14u);
  EXPECT_EQ(c.occupancy(), 6u);
}

TEST(SetAssocCache, FlushBumpsTheGenerationAndDropsEverything) {
  IntCache c(CacheConfig{16, 4});
  for (uint64_t t = 0; t < 16; ++t) c.insert(t, 1);
  const uint32_t g = c.generation();
  c.flush();
  EXPECT_EQ(c.generation(), g + 1);
  EXPECT_EQ(c.occupancy(), 0u);
  for (uint64_t t = 0; t < 16; ++t) EXPECT_EQ(c.lookup(t), nullptr);
  // An old entry does not come back when its way is refilled with something else ...
  c.insert(100, 2);
  EXPECT_FALSE(c.contains(0));
  EXPECT_TRUE(c.contains(100));
  // ... and refilling a flushed cache reports no eviction (older-generation ways are free).
  c.flush();
  EXPECT_FALSE(c.contains(100));
  for (uint64_t t = 0; t < 16; ++t) EXPECT_FALSE(c.insert(t, 3).evicted);
  EXPECT_EQ(c.occupancy(), 16u);
  EXPECT_EQ(c.stats().evictions, 0u);
  EXPECT_EQ(c.stats().flushes, 2u);
  EXPECT_EQ(*c.lookup(5), 3);
}

TEST(SetAssocCache, ForEachVisitsValidEntries) {
  IntCache c(CacheConfig{8, 2});
  c.insert(1, 10);
  c.insert(2, 20);
  c.insert(3, 30);
  c.invalidate(2);
  int sum = 0;
  c.for_each([&](uint64_t, int out) { sum += out; });
  EXPECT_EQ(sum, 40);
}

TEST(SetAssocCache, StructuredTagsWithCustomHash) {
  // A GPU-TLB-like use: (address space, virtual page) -> (physical page, writable).
  struct Tag {
    uint32_t asid = 0;
    uint64_t vpn = 0;
    bool operator==(const Tag& o) const { return asid == o.asid && vpn == o.vpn; }
  };
  struct Out {
    uint64_t ppn = 0;
    bool writable = false;
  };
  struct Hash {
    size_t operator()(const Tag& t) const { return t.vpn ^ (size_t(t.asid) * 0x9e3779b97f4a7c15ull >> 32); }
  };
  SetAssocCache<Tag, Out, Hash> tlb(CacheConfig{32, 4, ReplacementPolicy::TreePlru});
  tlb.insert(Tag{1, 0x10}, Out{0x999, true});
  tlb.insert(Tag{2, 0x10}, Out{0x555, false});
  ASSERT_NE(tlb.lookup(Tag{1, 0x10}), nullptr);
  EXPECT_EQ(tlb.lookup(Tag{1, 0x10})->ppn, 0x999u);
  EXPECT_FALSE(tlb.lookup(Tag{2, 0x10})->writable);
  EXPECT_EQ(tlb.invalidate_if([](const Tag& t) { return t.asid == 1; }), 1u);
  EXPECT_EQ(tlb.lookup(Tag{1, 0x10}), nullptr);
  EXPECT_NE(tlb.lookup(Tag{2, 0x10}), nullptr);
}

TEST(SetAssocCache, ReconfigureAppliesNewGeometry) {
  IntCache c(CacheConfig{16, 4});
  c.insert(1, 1);
  c.reconfigure(CacheConfig::fully_associative(8, ReplacementPolicy::Fifo));
  EXPECT_EQ(c.sets(), 1u);
  EXPECT_EQ(c.policy(), ReplacementPolicy::Fifo);
  EXPECT_FALSE(c.contains(1));
}
