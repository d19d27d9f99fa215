#include "iommu/vtd_caches.h"

namespace pciesim::vtd {

namespace {

constexpr unsigned kPageShift[3] = {12, 21, 30};  // 4 KiB, 2 MiB, 1 GiB

int size_index(uint64_t page_size) {
  switch (page_size) {
    case 1ull << 21: return 1;
    case 1ull << 30: return 2;
    default: return 0;
  }
}

// Bits of iova a level-n paging entry translates below: 12 + 9*(n-1) (VT-d 3.6, 9.8).
constexpr unsigned level_shift(int level) { return 12u + 9u * static_cast<unsigned>(level - 1); }

// [first >> shift, last >> shift] contains key: an entry covering 2^shift bytes overlaps
// the byte range [first, last].
bool overlaps(uint64_t key, unsigned shift, uint64_t first, uint64_t last) {
  return key >= (first >> shift) && key <= (last >> shift);
}

}  // namespace

VtdCaches::VtdCaches(const VtdCacheConfig& config)
    : m_config(config),
      m_context(config.context),
      m_pasid(config.pasid),
      m_iotlb{Iotlb(config.iotlb_4k), Iotlb(config.iotlb_combined ? CacheConfig::disabled() : config.iotlb_2m),
              Iotlb(config.iotlb_combined ? CacheConfig::disabled() : config.iotlb_1g)},
      m_psc{PagingStructureCache(config.pde), PagingStructureCache(config.pdpe),
            PagingStructureCache(config.pml4e), PagingStructureCache(config.pml5e)},
      m_iec(config.iec) {}

// ---- IOTLB --------------------------------------------------------------------------------------

const IotlbEntry* VtdCaches::lookup_iotlb(uint16_t did, uint32_t pasid, uint64_t iova) {
  for (unsigned s = 0; s < 3; ++s) {
    if (!m_iotlb_used[s]) continue;
    IotlbTag tag{iova >> kPageShift[s], pasid, did, static_cast<uint8_t>(s)};
    if (const IotlbEntry* e = array_for(s).lookup(tag)) {
      ++m_iotlb_stats.hits;
      return e;
    }
  }
  ++m_iotlb_stats.misses;
  return nullptr;
}

VtdCaches::LegacyLookup VtdCaches::lookup_legacy_searching(uint16_t source_id, uint64_t iova) {
  // lookup_context and lookup_iotlb as they are, finding slots first so the hit can be repeated.
  LegacyLookup r;
  m_last.valid = false;
  const long cslot = m_context.slot_of(source_id);
  if (cslot < 0) {
    m_context.count_miss();
    return r;
  }
  r.context = &m_context.hit_at(static_cast<size_t>(cslot));
  if (r.context->scalable || r.context->tt == 2) return r;  // no IOTLB lookup for these
  uint8_t missed = 0;
  for (unsigned s = 0; s < 3; ++s) {
    if (!m_iotlb_used[s]) continue;
    Iotlb& array = array_for(s);
    const long slot = array.slot_of(IotlbTag{iova >> kPageShift[s], kNoPasid, r.context->did, static_cast<uint8_t>(s)});
    if (slot < 0) {
      array.count_miss();
      missed = static_cast<uint8_t>(missed | (1u << s));
      continue;
    }
    r.entry = &array.hit_at(static_cast<size_t>(slot));
    ++m_iotlb_stats.hits;
    m_last = LastLegacyHit{true, source_id, iova >> 12, hit_path_changes(), static_cast<size_t>(cslot),
                           static_cast<size_t>(slot), s, missed};
    return r;
  }
  ++m_iotlb_stats.misses;
  return r;
}

void VtdCaches::fill_iotlb(uint16_t did, uint32_t pasid, uint64_t iova, const IotlbEntry& entry) {
  const int s = size_index(entry.page_size);
  IotlbEntry e = entry;
  e.page_size = 1ull << kPageShift[s];
  e.page_pa &= ~(e.page_size - 1);
  Iotlb& array = array_for(static_cast<unsigned>(s));
  if (!array.enabled()) return;
  array.insert(IotlbTag{iova >> kPageShift[s], pasid, did, static_cast<uint8_t>(s)}, e);
  m_iotlb_used[s] = true;
  ++m_iotlb_stats.fills;
}

size_t VtdCaches::iotlb_occupancy() const {
  size_t n = m_iotlb[0].occupancy();
  if (!m_config.iotlb_combined) n += m_iotlb[1].occupancy() + m_iotlb[2].occupancy();
  return n;
}

// ---- paging-structure caches ----------------------------------------------------------------------

PagingStructureHit VtdCaches::lookup_paging_structure(uint16_t did, uint32_t pasid, uint64_t iova,
                                                      int levels) {
  for (int n = 2; n <= levels && n <= 5; ++n) {
    PagingStructureCache& c = m_psc[n - 2];
    if (!c.enabled()) continue;
    if (const PscEntry* e = c.lookup(PscTag{iova >> level_shift(n), pasid, did})) {
      return PagingStructureHit{n - 1, e->table, e->perms};
    }
  }
  return PagingStructureHit{};
}

void VtdCaches::fill_paging_structure(uint16_t did, uint32_t pasid, uint64_t iova, const WalkTrace& trace,
                                      int levels) {
  for (int n = 2; n <= levels && n <= 5; ++n) {
    const uint64_t next = trace.table[n - 1];
    if (next == 0) continue;  // the walk stopped above (large page or fault)
    PagingStructureCache& c = m_psc[n - 2];
    if (c.enabled()) c.insert(PscTag{iova >> level_shift(n), pasid, did}, PscEntry{next, trace.perms[n - 1]});
  }
}

// ---- whole-unit ---------------------------------------------------------------------------------

void VtdCaches::flush_all() {
  m_context.flush();
  m_pasid.flush();
  invalidate_iotlb_global();
  m_iec.flush();
}

void VtdCaches::page_range(uint64_t addr, unsigned am, uint64_t& first, uint64_t& last) {
  // VT-d 6.5.1.2 / 11.4.8.2: 2^AM pages, ADDR aligned to the size (low bits ignored).
  const unsigned shift = 12 + (am > 52 ? 52 : am);
  const uint64_t mask = shift >= 64 ? ~0ull : (1ull << shift) - 1;
  first = addr & ~mask;
  last = first | mask;
}

uint16_t VtdCaches::function_mask_bits(unsigned fm) {
  // FM / SQ: 0 compare all 16 bits, 1 ignore bit 2, 2 ignore bits 2:1, 3 ignore bits 2:0.
  static constexpr uint16_t kMask[4] = {0xffff, 0xfffb, 0xfff9, 0xfff8};
  return kMask[fm & 3];
}

// ---- context cache (VT-d 6.5.1.1 / 6.5.2.1) ------------------------------------------------------

void VtdCaches::invalidate_context_global() { m_context.flush(); }

void VtdCaches::invalidate_context_domain(uint16_t did) {
  m_context.invalidate_entries_if(
      [did](uint16_t, const CachedContext& c) { return c.did == did; });
}

void VtdCaches::invalidate_context_device(uint16_t /*did*/, uint16_t source_id, unsigned function_mask) {
  // Device-selective: every cached requester matching SID under the function mask. The DID
  // names the domain software believes the device had; like QEMU, matching ignores it (a
  // superset of the required invalidation, and correct when the cached DID is stale).
  const uint16_t mask = function_mask_bits(function_mask);
  m_context.invalidate_if([=](uint16_t sid) { return (sid & mask) == (source_id & mask); });
}

// ---- IOTLB and paging-structure caches (VT-d 6.5.1.2 / 6.5.2.3) -----------------------------------

void VtdCaches::invalidate_iotlb_global() {
  for (auto& a : m_iotlb) a.flush();
  m_iotlb_used = {};
  for (auto& c : m_psc) c.flush();
}

void VtdCaches::invalidate_iotlb_domain(uint16_t did) {
  // Domain-selective: every IOTLB and paging-structure entry of the domain, any PASID.
  for (unsigned s = 0; s < (m_config.iotlb_combined ? 1u : 3u); ++s)
    m_iotlb[s].invalidate_if([did](const IotlbTag& t) { return t.did == did; });
  invalidate_psc(false, did, 0, false, 0, 0);
}

void VtdCaches::invalidate_iotlb_page(uint16_t did, uint64_t addr, unsigned am, bool ih) {
  // Page-selective-within-domain: IOTLB entries of the domain overlapping 2^AM pages at ADDR.
  // IH = 0: paging-structure entries that may translate the range go too. IH = 1: software
  // promises only leaves changed, so they stay.
  uint64_t first = 0, last = 0;
  page_range(addr, am, first, last);
  invalidate_iotlb_range(did, false, 0, first, last);
  if (!ih) invalidate_psc(false, did, 0, true, first, last);
}

void VtdCaches::invalidate_iotlb_range(uint16_t did, bool match_pasid, uint32_t pasid, uint64_t first,
                                       uint64_t last) {
  for (unsigned s = 0; s < (m_config.iotlb_combined ? 1u : 3u); ++s) {
    m_iotlb[s].invalidate_if([&](const IotlbTag& t) {
      return t.did == did && (!match_pasid || t.pasid == pasid) &&
             overlaps(t.page, kPageShift[t.size], first, last);
    });
  }
}

void VtdCaches::invalidate_psc(bool match_pasid, uint16_t did, uint32_t pasid, bool ranged, uint64_t first,
                               uint64_t last) {
  for (int n = 2; n <= 5; ++n) {
    const unsigned shift = level_shift(n);
    m_psc[n - 2].invalidate_if([&](const PscTag& t) {
      return t.did == did && (!match_pasid || t.pasid == pasid) &&
             (!ranged || overlaps(t.prefix, shift, first, last));
    });
  }
}

// ---- PASID cache (VT-d 6.5.2.2) and PASID-based IOTLB (6.5.2.4) -----------------------------------

void VtdCaches::invalidate_pasid_cache_domain(uint16_t did) {
  m_pasid.invalidate_entries_if(
      [did](const PasidCacheTag&, const CachedPasidEntry& e) { return e.did == did; });
}

void VtdCaches::invalidate_pasid_cache_pasid(uint16_t did, uint32_t pasid) {
  m_pasid.invalidate_entries_if([did, pasid](const PasidCacheTag& t, const CachedPasidEntry& e) {
    return t.pasid == pasid && e.did == did;
  });
}

void VtdCaches::invalidate_pasid_cache_global() { m_pasid.flush(); }

void VtdCaches::invalidate_piotlb_pasid(uint16_t did, uint32_t pasid) {
  for (unsigned s = 0; s < (m_config.iotlb_combined ? 1u : 3u); ++s)
    m_iotlb[s].invalidate_if([=](const IotlbTag& t) { return t.did == did && t.pasid == pasid; });
  invalidate_psc(true, did, pasid, false, 0, 0);
}

void VtdCaches::invalidate_piotlb_page(uint16_t did, uint32_t pasid, uint64_t addr, unsigned am, bool ih) {
  uint64_t first = 0, last = 0;
  page_range(addr, am, first, last);
  invalidate_iotlb_range(did, true, pasid, first, last);
  if (!ih) invalidate_psc(true, did, pasid, true, first, last);
}

// ---- device TLB (VT-d 6.5.2.5 / 6.5.2.6): not ours, forwarded to the ATS device ------------------

void VtdCaches::invalidate_device_tlb(uint16_t source_id, bool has_pasid, uint32_t pasid, uint64_t addr,
                                      bool size_bit) {
  ++m_device_tlb_invalidations;
  if (m_device_tlb) m_device_tlb(source_id, has_pasid, pasid, addr, size_bit);
}

// ---- interrupt entry cache (VT-d 6.5.2.7) -----------------------------------------------------------

void VtdCaches::invalidate_iec_global() { m_iec.flush(); }

void VtdCaches::invalidate_iec_index(uint16_t index, unsigned index_mask) {
  // Index-selective: 2^IM entries starting at IIDX with its low IM bits ignored.
  const unsigned im = index_mask > 16 ? 16 : index_mask;
  const uint32_t first = uint32_t(index) & ~((1u << im) - 1);
  const uint32_t last = first + (1u << im) - 1;
  m_iec.invalidate_if([=](uint16_t i) { return i >= first && i <= last; });
}

}  // namespace pciesim::vtd
