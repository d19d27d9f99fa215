// VtdCaches::lookup_legacy (the remapping unit's hit path) against the two lookups it stands for:
// the same answers, the same statistics and the same replacement decisions, including when it
// repeats the previous request's lookups from remembered slots.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "iommu/vtd_caches.h"

using namespace pciesim::vtd;
using pciesim::CacheConfig;
using pciesim::CacheStats;
using pciesim::ReplacementPolicy;

namespace {

constexpr uint64_t k4K = 4096, k2M = 1ull << 21;

// Small caches so a few hundred operations evict, with every policy the template has.
VtdCacheConfig small_config(ReplacementPolicy p, bool combined) {
  VtdCacheConfig c;
  c.context = CacheConfig{8, 4, p};
  c.iotlb_4k = CacheConfig{8, 4, p};
  c.iotlb_2m = CacheConfig{4, 2, p};
  c.iotlb_1g = CacheConfig{2, 2, p};
  c.iotlb_combined = combined;
  return c;
}

CachedContext context(uint16_t did, unsigned tt = 0) {
  CachedContext c;
  c.present = true;
  c.did = did;
  c.tt = tt;
  return c;
}

IotlbEntry leaf(uint64_t pa, uint64_t size) {
  IotlbEntry e;
  e.page_pa = pa & ~(size - 1);
  e.page_size = size;
  e.rights.read = true;
  e.rights.write = true;
  return e;
}

// The reference: lookup_context, then lookup_iotlb when the context translates (what the remapping
// unit did before lookup_legacy, and what translate() does with the caches as hooks).
VtdCaches::LegacyLookup reference(VtdCaches& c, uint16_t sid, uint64_t iova) {
  VtdCaches::LegacyLookup r;
  r.context = c.lookup_context(sid);
  if (r.context && !r.context->scalable && r.context->tt != 2) r.entry = c.lookup_iotlb(r.context->did, kNoPasid, iova);
  return r;
}

void expect_same_stats(const CacheStats& a, const CacheStats& b, const char* what) {
  EXPECT_EQ(a.hits, b.hits) << what;
  EXPECT_EQ(a.misses, b.misses) << what;
  EXPECT_EQ(a.insertions, b.insertions) << what;
  EXPECT_EQ(a.evictions, b.evictions) << what;
}

void expect_same_state(const VtdCaches& a, const VtdCaches& b) {
  expect_same_stats(a.context_cache().stats(), b.context_cache().stats(), "context");
  for (unsigned s = 0; s < 3; ++s) expect_same_stats(a.iotlb(s).stats(), b.iotlb(s).stats(), "iotlb array");
  EXPECT_EQ(a.iotlb_stats().hits, b.iotlb_stats().hits);
  EXPECT_EQ(a.iotlb_stats().misses, b.iotlb_stats().misses);
  // Same entries in the same slots: every replacement decision agreed.
  std::vector<uint64_t> ea, eb;
  for (unsigned s = 0; s < 3; ++s) {
    a.iotlb(s).for_each([&](const IotlbTag& t, const IotlbEntry& e) { ea.push_back(t.page ^ e.page_pa ^ t.did); });
    b.iotlb(s).for_each([&](const IotlbTag& t, const IotlbEntry& e) { eb.push_back(t.page ^ e.page_pa ^ t.did); });
  }
  a.context_cache().for_each([&](uint16_t sid, const CachedContext& c) { ea.push_back(sid * 65536ull + c.did); });
  b.context_cache().for_each([&](uint16_t sid, const CachedContext& c) { eb.push_back(sid * 65536ull + c.did); });
  EXPECT_EQ(ea, eb);
}

// Random streams of lookups (runs of the same page, so the remembered slots are used), fills of
// every page size, and every invalidation that can take an entry the memo points at.
void run_stream(ReplacementPolicy policy, bool combined, unsigned seed) {
  VtdCaches ref(small_config(policy, combined)), fast(small_config(policy, combined));
  std::mt19937_64 rng(seed);
  uint16_t sid = 0x100;
  uint64_t iova = 0;
  unsigned repeats = 0;
  for (int step = 0; step < 4000; ++step) {
    const unsigned op = rng() % 100;
    if (op < 60) {  // a lookup: mostly the same page again, sometimes another
      if (repeats == 0) {
        sid = static_cast<uint16_t>(0x100 + rng() % 6);
        iova = (rng() % 48) * k4K + (rng() % 3) * (1ull << 30);
        repeats = 1 + static_cast<unsigned>(rng() % 8);
      }
      --repeats;
      const uint64_t a = iova + (rng() % 64) * 64;
      const VtdCaches::LegacyLookup r = reference(ref, sid, a), f = fast.lookup_legacy(sid, a);
      ASSERT_EQ(r.context != nullptr, f.context != nullptr) << "step " << step;
      if (r.context) {
        EXPECT_EQ(r.context->did, f.context->did);
      }
      ASSERT_EQ(r.entry != nullptr, f.entry != nullptr) << "step " << step;
      if (r.entry) {
        EXPECT_EQ(r.entry->translate(a), f.entry->translate(a));
      }
    } else if (op < 70) {  // a context fill (some pass-through, which has no IOTLB lookup)
      const uint16_t s = static_cast<uint16_t>(0x100 + rng() % 6);
      const CachedContext c = context(static_cast<uint16_t>(1 + rng() % 3), rng() % 5 == 0 ? 2u : 0u);
      ref.fill_context(s, c);
      fast.fill_context(s, c);
    } else if (op < 85) {  // a leaf of some size
      const uint16_t did = static_cast<uint16_t>(1 + rng() % 3);
      const uint64_t size = rng() % 4 == 0 ? k2M : k4K;
      const uint64_t a = (rng() % 48) * k4K + (rng() % 3) * (1ull << 30);
      const IotlbEntry e = leaf(0x8000'0000ull + a * 3, size);
      ref.fill_iotlb(did, kNoPasid, a, e);
      fast.fill_iotlb(did, kNoPasid, a, e);
    } else {  // invalidations
      const uint16_t did = static_cast<uint16_t>(1 + rng() % 3);
      switch (rng() % 5) {
        case 0: {
          const uint64_t a = (rng() % 48) * k4K;
          ref.invalidate_iotlb_page(did, a, 0, false);
          fast.invalidate_iotlb_page(did, a, 0, false);
          break;
        }
        case 1:
          ref.invalidate_iotlb_domain(did);
          fast.invalidate_iotlb_domain(did);
          break;
        case 2: {
          const uint16_t s = static_cast<uint16_t>(0x100 + rng() % 6);
          ref.invalidate_context_device(did, s, 0);
          fast.invalidate_context_device(did, s, 0);
          break;
        }
        case 3:
          if (rng() % 10 == 0) {
            ref.invalidate_iotlb_global();
            fast.invalidate_iotlb_global();
          }
          break;
        case 4:
          if (rng() % 10 == 0) {
            ref.flush_all();
            fast.flush_all();
          }
          break;
      }
    }
  }
  expect_same_state(ref, fast);
}

}  // namespace

TEST(LegacyLookup, MatchesContextThenIotlbLookupsLru) { run_stream(ReplacementPolicy::Lru, false, 1); }
TEST(LegacyLookup, MatchesContextThenIotlbLookupsFifo) { run_stream(ReplacementPolicy::Fifo, false, 2); }
TEST(LegacyLookup, MatchesContextThenIotlbLookupsPlru) { run_stream(ReplacementPolicy::TreePlru, false, 3); }
TEST(LegacyLookup, MatchesContextThenIotlbLookupsRandom) { run_stream(ReplacementPolicy::Random, false, 4); }
TEST(LegacyLookup, MatchesWithACombinedIotlb) { run_stream(ReplacementPolicy::Lru, true, 5); }

TEST(LegacyLookup, RepeatedHitCountsEveryLookupAndStopsAtAnInvalidation) {
  VtdCaches c;
  c.fill_context(0x100, context(7));
  c.fill_iotlb(7, kNoPasid, 0x4000, leaf(0x9000'0000, k4K));
  for (int i = 0; i < 5; ++i) {
    const auto r = c.lookup_legacy(0x100, 0x4000 + 64u * i);
    ASSERT_NE(r.entry, nullptr);
    EXPECT_EQ(r.entry->translate(0x4000 + 64u * i), 0x9000'0000u + 64u * i);
  }
  EXPECT_EQ(c.context_cache().stats().hits, 5u);
  EXPECT_EQ(c.iotlb(0).stats().hits, 5u);
  EXPECT_EQ(c.iotlb_stats().hits, 5u);
  // The page's entry goes: the next request to it misses, as a search would.
  c.invalidate_iotlb_page(7, 0x4000, 0, true);
  EXPECT_EQ(c.lookup_legacy(0x100, 0x4000).entry, nullptr);
  EXPECT_EQ(c.iotlb_stats().misses, 1u);
  // A 2 MiB entry found after the 4 KiB array missed: each repeat counts that miss again.
  c.fill_iotlb(7, kNoPasid, 0x20'0000, leaf(0xa000'0000, k2M));
  c.fill_iotlb(7, kNoPasid, 0x1000, leaf(0xb000'0000, k4K));  // the 4 KiB array is in use
  const uint64_t misses4k = c.iotlb(0).stats().misses;
  for (int i = 0; i < 3; ++i) ASSERT_NE(c.lookup_legacy(0x100, 0x20'1000).entry, nullptr);
  EXPECT_EQ(c.iotlb(0).stats().misses, misses4k + 3);
  EXPECT_EQ(c.iotlb(1).stats().hits, 3u);
}
