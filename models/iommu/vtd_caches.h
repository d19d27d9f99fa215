// The remapping unit's translation caches (VT-d 6.2), all built from the one cache template:
// context cache, PASID cache, IOTLB (separate 4 KiB / 2 MiB / 1 GiB arrays, or one combined
// array), paging-structure caches per level, and the interrupt entry cache (VT-d 6.4). VtdCaches
// implements the invalidation granularities of VT-d 6.5 (vtd::InvalidationTarget).
//
// Caches hold what was read, not what memory holds now: a cached entry keeps translating after
// software changes the tables until the matching invalidation removes it (VT-d 6.1, 6.5). That
// staleness is the point of modelling them.
//
// No SystemC here; the remapping unit module adds timing around lookups and fills.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "iommu/tables.h"
#include "iommu/vtd_types.h"
#include "pciesim/set_assoc_cache.h"

namespace pciesim::vtd {

// PASID tag value for a request that has no PASID in legacy mode (scalable mode tags requests
// without PASID with the context entry's RID_PASID instead).

// ---- outputs ----------------------------------------------------------------------------------

// A decoded context entry (VT-d 9.3 legacy, 9.4 scalable). Plain fields: the walker defines its
// own ContextEntry; the remapping unit maps between the two.
// The context cache holds decoded context entries as the walker reads them (tables.h).
using CachedContext = ContextEntry;

// A decoded scalable-mode PASID table entry (VT-d 9.6).
// The PASID cache holds decoded PASID-table entries (tables.h).
using CachedPasidEntry = PasidEntry;

// One IOTLB entry: the leaf of a walk (VT-d 6.2.3). Which array holds it follows page_size.
struct IotlbEntry {
  uint64_t page_pa = 0;          // output page base, aligned to page_size
  uint64_t page_size = 4096;     // 4 KiB, 2 MiB or 1 GiB
  Rights rights;
  bool snoop = false;            // SNP / PGSNP
  bool pass_through = false;     // cached pass-through (scalable PGTT=4): page_pa == iova page

  uint64_t translate(uint64_t iova) const { return page_pa | (iova & (page_size - 1)); }
};

// A cached IRTE as read from the interrupt remapping table (VT-d 9.10).
struct CachedIrte {
  uint64_t lo = 0, hi = 0;
};

// ---- tags -------------------------------------------------------------------------------------

struct PasidCacheTag {
  uint16_t source_id = 0;
  uint32_t pasid = 0;
  bool operator==(const PasidCacheTag& o) const { return source_id == o.source_id && pasid == o.pasid; }
};

struct IotlbTag {
  uint64_t page = 0;      // iova >> page shift
  uint32_t pasid = kNoPasid;
  uint16_t did = 0;
  uint8_t size = 0;       // 0: 4 KiB, 1: 2 MiB, 2: 1 GiB (distinguishes sizes in a combined array)
  bool operator==(const IotlbTag& o) const {
    return page == o.page && pasid == o.pasid && did == o.did && size == o.size;
  }
};

// Paging-structure cache tag; the level is implied by the cache it lives in.
struct PscTag {
  uint64_t prefix = 0;    // iova >> (12 + 9*(level-1)): every index bit at this level and above
  uint32_t pasid = kNoPasid;
  uint16_t did = 0;
  bool operator==(const PscTag& o) const { return prefix == o.prefix && pasid == o.pasid && did == o.did; }
};

// Hashes keep consecutive pages / prefixes in consecutive sets (XOR with a per-domain constant is
// a bijection on the page number), so an n-way IOTLB holds a contiguous window as well as a fully
// associative one does.
struct SourceIdHash {
  size_t operator()(uint16_t sid) const { return (uint32_t(sid) * 0x9e37'79b1u) >> 16; }
};
struct PasidCacheTagHash {
  size_t operator()(const PasidCacheTag& t) const {
    return ((uint32_t(t.source_id) * 0x9e37'79b1u) >> 16) ^ t.pasid;
  }
};
struct IotlbTagHash {
  size_t operator()(const IotlbTag& t) const {
    const uint64_t mix = (uint64_t(t.did) << 40 | uint64_t(t.pasid) << 2 | t.size) * 0x9e37'79b9'7f4a'7c15ull;
    return static_cast<size_t>(t.page ^ (mix >> 32));
  }
};
struct PscTagHash {
  size_t operator()(const PscTag& t) const {
    const uint64_t mix = (uint64_t(t.did) << 32 | t.pasid) * 0x9e37'79b9'7f4a'7c15ull;
    return static_cast<size_t>(t.prefix ^ (mix >> 32));
  }
};

using ContextCache = SetAssocCache<uint16_t, CachedContext, SourceIdHash>;
using PasidCache = SetAssocCache<PasidCacheTag, CachedPasidEntry, PasidCacheTagHash>;
using Iotlb = SetAssocCache<IotlbTag, IotlbEntry, IotlbTagHash>;
// A paging-structure cache entry: the next table and what the entries above it grant together
// (WalkTrace::perms), so a walk resumed there checks the same rights.
struct PscEntry {
  uint64_t table = 0;
  uint8_t perms = kPermAll;
};
using PagingStructureCache = SetAssocCache<PscTag, PscEntry, PscTagHash>;
using InterruptEntryCache = SetAssocCache<uint16_t, CachedIrte>;          // tag: interrupt index

// ---- configuration ----------------------------------------------------------------------------

// Sizes and policies. Intel documents none of them; the sources of each default:
struct VtdCacheConfig {
  // Context cache: no published size. 128 entries hold every function of the largest shipped
  // topology, so no scenario thrashes it unless it asks to.
  CacheConfig context{128, 8, ReplacementPolicy::Lru};
  // PASID cache: no published size; 64 entries (a PASID per queue of a few SR-IOV VFs).
  CacheConfig pasid{64, 8, ReplacementPolicy::Lru};
  // IOTLB, 4 KiB entries: 96. performance-facts D: with superpages off, 64 B random DMA is flat
  // up to a 256 KiB window and drops from 512 KiB (pcie-bench *-iommu-nosp/
  // bw_dma_win_sweep_rd_rnd_64.txt), which bounds the reach to 64..127 entries ("64" there is an
  // inference from the knee). With the unit's page-walker model (remapping_unit.h UnitTiming),
  // 64 entries leave the 512 KiB point 16 % below the measured 22.1 Gb/s; 96 reproduce the whole
  // sweep within +-9 % (bench/bench_iotlb_sweep). 6-way: 16 sets, so a contiguous run spreads.
  CacheConfig iotlb_4k{96, 6, ReplacementPolicy::Lru};
  // IOTLB, 2 MiB entries: 32. performance-facts D: with 2 MiB IOTLB entries there is no loss up
  // to a 64 MiB window (pcie-bench *-iommu/bw_dma_win_sweep_rd_rnd_64.txt): >= 32 entries.
  CacheConfig iotlb_2m{32, 4, ReplacementPolicy::Lru};
  // IOTLB, 1 GiB entries: no measurement; a small fully associative array.
  CacheConfig iotlb_1g{8, 8, ReplacementPolicy::Lru};
  // One array for every page size (uses iotlb_4k's geometry; the other two are ignored).
  bool iotlb_combined = false;
  // Paging-structure caches, named by the table level whose entries they hold (VT-d 6.2.4).
  // performance-facts D: about 2 memory reads per IOTLB miss "because paging-structure caches
  // hit", and the miss cost is flat between 8 and 64 MiB windows (pcie-bench). The upper levels
  // therefore always hit (small fully associative caches cover the whole address space of a
  // DMA working set) and the PDE level is not cached by default, so a miss reads PDE + PTE:
  // 2 reads. Give `pde` entries to model a part whose PDE cache hits (1 read per miss).
  CacheConfig pde = CacheConfig::disabled();                              // level 2 -> leaf table
  CacheConfig pdpe = CacheConfig::fully_associative(16);                  // level 3 -> level 2
  CacheConfig pml4e = CacheConfig::fully_associative(4);                  // level 4 -> level 3
  CacheConfig pml5e = CacheConfig::fully_associative(2);                  // level 5 -> level 4
  // Interrupt entry cache: no published size; 64 entries (one per MSI-X vector of a few devices).
  CacheConfig iec{64, 8, ReplacementPolicy::Lru};
};

// What a paging-structure cache lookup found: resume the walk by reading the level-`level`
// table at `table`, with the rights `perms` the skipped entries granted (the walker's WalkStart
// takes the same three fields). level == 0: nothing cached, start at the root.
struct PagingStructureHit {
  int level = 0;
  uint64_t table = 0;
  uint8_t perms = kPermAll;
  bool hit() const { return level != 0; }
};

// IOTLB statistics over all arrays: a lookup hits if any page size hits.
struct IotlbStats {
  uint64_t hits = 0, misses = 0, fills = 0;
};

// ---- the caches -------------------------------------------------------------------------------

class VtdCaches : public InvalidationTarget {
 public:
  // Called for device-TLB invalidations (descriptors 0x3 / 0x8): ATS devices own those caches.
  using DeviceTlbHandler = std::function<void(uint16_t source_id, bool has_pasid, uint32_t pasid,
                                              uint64_t addr, bool size_bit)>;

  explicit VtdCaches(const VtdCacheConfig& config = VtdCacheConfig{});

  // Context cache (VT-d 6.2.1), tagged by requester id.
  const CachedContext* lookup_context(uint16_t source_id) { return m_context.lookup(source_id); }
  void fill_context(uint16_t source_id, const CachedContext& c) { m_context.insert(source_id, c); }

  // PASID cache (VT-d 6.2.2). Tagged by requester and PASID: a scalable-mode DID is only known
  // once the PASID entry has been read, so domain-selective invalidation matches the DID held
  // in the cached entry.
  const CachedPasidEntry* lookup_pasid(uint16_t source_id, uint32_t pasid) {
    return m_pasid.lookup(PasidCacheTag{source_id, pasid});
  }
  void fill_pasid(uint16_t source_id, uint32_t pasid, const CachedPasidEntry& e) {
    m_pasid.insert(PasidCacheTag{source_id, pasid}, e);
  }

  // IOTLB (VT-d 6.2.3), tagged by domain, PASID (kNoPasid for legacy requests) and page. The
  // lookup probes 4 KiB, then 2 MiB, then 1 GiB entries (sizes never filled are skipped).
  const IotlbEntry* lookup_iotlb(uint16_t did, uint32_t pasid, uint64_t iova);
  // Caches a walk's leaf; entry.page_size (4 KiB / 2 MiB / 1 GiB) picks the array.
  void fill_iotlb(uint16_t did, uint32_t pasid, uint64_t iova, const IotlbEntry& entry);

  // A legacy-mode request without PASID: lookup_context(source_id), then, when that context
  // translates (legacy format, TT not pass-through), lookup_iotlb(its DID, kNoPasid, iova); the
  // same statistics and replacement updates as those two calls. A request from the source of the
  // previous call that hit both, to the same 4 KiB page, with no context or IOTLB entry inserted,
  // invalidated or flushed since, repeats the two lookups from the remembered slots instead of
  // searching: the DMA-stream case of the remapping unit's hit path.
  struct LegacyLookup {
    const CachedContext* context = nullptr;
    const IotlbEntry* entry = nullptr;  // nullptr also when the context does not translate
  };
  LegacyLookup lookup_legacy(uint16_t source_id, uint64_t iova) {
    if (m_last.valid && m_last.source_id == source_id && m_last.page == (iova >> 12) &&
        m_last.changes == hit_path_changes())
      return repeat_last();
    return lookup_legacy_searching(source_id, iova);
  }

  // Paging-structure caches (VT-d 6.2.4). lookup probes the deepest cached level first
  // (PDE, then PDPE, PML4E, PML5E) for a walk of `levels` levels (3, 4 or 5).
  PagingStructureHit lookup_paging_structure(uint16_t did, uint32_t pasid, uint64_t iova, int levels);
  // Caches the non-leaf entries a walk visited: trace.table[n-1] (with trace.perms[n-1]) is what
  // the level-n entry for `iova` points to, for n = 2 .. levels.
  void fill_paging_structure(uint16_t did, uint32_t pasid, uint64_t iova, const WalkTrace& trace,
                             int levels);

  // Interrupt entry cache (VT-d 6.4); interrupt remapping looks entries up and fills it.
  InterruptEntryCache& iec() { return m_iec; }

  // Drops everything (unit reset, or GCMD.SRTP without ESRTPS).
  void flush_all();

  void set_device_tlb_handler(DeviceTlbHandler h) { m_device_tlb = std::move(h); }
  uint64_t device_tlb_invalidations() const { return m_device_tlb_invalidations; }

  // ---- vtd::InvalidationTarget (VT-d 6.5) ----
  void invalidate_context_global() override;
  void invalidate_context_domain(uint16_t did) override;
  void invalidate_context_device(uint16_t did, uint16_t source_id, unsigned function_mask) override;
  void invalidate_iotlb_global() override;
  void invalidate_iotlb_domain(uint16_t did) override;
  void invalidate_iotlb_page(uint16_t did, uint64_t addr, unsigned am, bool ih) override;
  void invalidate_pasid_cache_domain(uint16_t did) override;
  void invalidate_pasid_cache_pasid(uint16_t did, uint32_t pasid) override;
  void invalidate_pasid_cache_global() override;
  void invalidate_piotlb_pasid(uint16_t did, uint32_t pasid) override;
  void invalidate_piotlb_page(uint16_t did, uint32_t pasid, uint64_t addr, unsigned am, bool ih) override;
  void invalidate_device_tlb(uint16_t source_id, bool has_pasid, uint32_t pasid, uint64_t addr,
                             bool size_bit) override;
  void invalidate_iec_global() override;
  void invalidate_iec_index(uint16_t index, unsigned index_mask) override;

  // ---- inspection ----
  const VtdCacheConfig& config() const { return m_config; }
  const ContextCache& context_cache() const { return m_context; }
  const PasidCache& pasid_cache() const { return m_pasid; }
  // size: 0 4 KiB, 1 2 MiB, 2 1 GiB (all the same array when combined)
  const Iotlb& iotlb(unsigned size) const { return array_for(size); }
  const IotlbStats& iotlb_stats() const { return m_iotlb_stats; }
  size_t iotlb_occupancy() const;
  // level 2 (PDE) .. 5 (PML5E)
  const PagingStructureCache& paging_structure_cache(int level) const { return m_psc.at(level - 2); }
  const InterruptEntryCache& iec() const { return m_iec; }

  // Helpers shared with the tests: the page range a (addr, am) invalidation covers, and the
  // source-id mask of a context-cache function mask / IRTE SQ (VT-d 6.5.1.1, 9.10).
  static void page_range(uint64_t addr, unsigned am, uint64_t& first, uint64_t& last);
  static uint16_t function_mask_bits(unsigned fm);

 private:
  // What lookup_legacy remembers of the last request that hit both caches.
  struct LastLegacyHit {
    bool valid = false;
    uint16_t source_id = 0;
    uint64_t page = 0;           // iova >> 12
    uint64_t changes = 0;        // hit_path_changes() then
    size_t context_slot = 0;
    size_t iotlb_slot = 0;
    unsigned iotlb_size = 0;     // which array hit
    uint8_t missed_sizes = 0;    // bit s: the size-s array was probed first and missed
  };
  uint64_t hit_path_changes() const {
    // Every count only grows, so an unchanged sum means no cache on the hit path changed.
    return m_context.changes() + m_iotlb[0].changes() + m_iotlb[1].changes() + m_iotlb[2].changes();
  }
  // The same hits (and the same misses of the sizes probed first) as the search that found it.
  LegacyLookup repeat_last() {
    LegacyLookup r;
    r.context = &m_context.hit_at(m_last.context_slot);
    for (unsigned s = 0; s < m_last.iotlb_size; ++s)
      if (m_last.missed_sizes & (1u << s)) array_for(s).count_miss();
    r.entry = &array_for(m_last.iotlb_size).hit_at(m_last.iotlb_slot);
    ++m_iotlb_stats.hits;
    return r;
  }
  LegacyLookup lookup_legacy_searching(uint16_t source_id, uint64_t iova);

  Iotlb& array_for(unsigned size) { return m_iotlb[m_config.iotlb_combined ? 0 : size]; }
  const Iotlb& array_for(unsigned size) const { return m_iotlb[m_config.iotlb_combined ? 0 : size]; }
  void invalidate_iotlb_range(uint16_t did, bool match_pasid, uint32_t pasid, uint64_t first,
                              uint64_t last);
  void invalidate_psc(bool match_pasid, uint16_t did, uint32_t pasid, bool ranged, uint64_t first,
                      uint64_t last);

  VtdCacheConfig m_config;
  ContextCache m_context;
  PasidCache m_pasid;
  std::array<Iotlb, 3> m_iotlb;
  std::array<bool, 3> m_iotlb_used{};  // a size has entries since the last global flush
  std::array<PagingStructureCache, 4> m_psc;  // index level - 2
  InterruptEntryCache m_iec;
  IotlbStats m_iotlb_stats;
  LastLegacyHit m_last;
  DeviceTlbHandler m_device_tlb;
  uint64_t m_device_tlb_invalidations = 0;
};

}  // namespace pciesim::vtd
