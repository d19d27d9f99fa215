#include "pcie/ats.h"

#include "pcie/pcie_regs.h"

namespace pciesim {

uint16_t add_ats_cap(ConfigSpace& cs, const AtsParams& p) {
  const uint16_t off = cs.add_ext_capability(regs::kExtCapIdAts, 1, ats::kSize);
  const uint16_t cap = static_cast<uint16_t>((p.invalidate_queue_depth & ats::kCapQueueDepthMask) |
                                             (p.page_aligned ? ats::kCapPageAligned : 0));
  cs.define(static_cast<uint16_t>(off + ats::kCapReg), 2, cap);  // RO (PCIe 10.5.1.2)
  // PCIe 10.5.1.3: STU and Enable RW, everything else RsvdP; 0 after reset.
  cs.define(static_cast<uint16_t>(off + ats::kCtrlReg), 2, 0, ats::kCtrlStuMask | ats::kCtrlEnable);
  return off;
}

AtsRegs read_ats(const ConfigSpace& cs, uint16_t off) {
  AtsRegs r;
  if (!off) return r;
  const uint16_t cap = cs.read16(static_cast<uint16_t>(off + ats::kCapReg));
  const uint16_t ctrl = cs.read16(static_cast<uint16_t>(off + ats::kCtrlReg));
  r.present = true;
  r.queue_depth = cap & ats::kCapQueueDepthMask;
  r.page_aligned = cap & ats::kCapPageAligned;
  r.stu = ctrl & ats::kCtrlStuMask;
  r.enabled = ctrl & ats::kCtrlEnable;
  return r;
}

AtcTranslation decode_translation_completion(uint64_t untranslated, uint64_t entry) {
  AtcTranslation t;
  t.read = entry & 1;
  t.write = entry & 2;
  uint64_t size = 4096;
  if (entry & (1ull << 11)) {
    // S = 1: bits 12 and up that are set mark the size; the lowest clear one ends it
    // (bit 12 clear: 8 KiB, bits 13:12 = 01b: 16 KiB, ...).
    unsigned ones = 0;
    for (uint64_t v = entry >> 12; (v & 1) && ones < 51; v >>= 1) ++ones;
    size = 8192ull << ones;
  }
  t.size = size;
  t.untranslated = untranslated & ~(size - 1);
  t.translated = entry & ~0xfffull & ~(size - 1);
  return t;
}

// ---- the ATC ------------------------------------------------------------------------------------

AddressTranslationCache::AddressTranslationCache(const CacheConfig& config) : m_cache(config) {}

const AtcTranslation* AddressTranslationCache::peek(uint64_t addr) const {
  for (uint64_t sizes = m_sizes; sizes; sizes &= sizes - 1) {
    const auto n = static_cast<uint8_t>(__builtin_ctzll(sizes));
    if (const AtcTranslation* t = m_cache.peek(Tag{addr >> n, n})) return t;
  }
  return nullptr;
}

const AtcTranslation* AddressTranslationCache::lookup(uint64_t addr) {
  for (uint64_t sizes = m_sizes; sizes; sizes &= sizes - 1) {
    const auto n = static_cast<uint8_t>(__builtin_ctzll(sizes));
    const Tag tag{addr >> n, n};
    if (m_cache.contains(tag)) return m_cache.lookup(tag);  // one hit, LRU refreshed
  }
  m_cache.count_miss();
  return nullptr;
}

void AddressTranslationCache::fill(const AtcTranslation& t) {
  if (!m_cache.enabled()) return;
  const auto n = static_cast<uint8_t>(__builtin_ctzll(t.size));
  m_cache.insert(Tag{t.untranslated >> n, n}, t);
  m_sizes |= 1ull << n;
}

size_t AddressTranslationCache::invalidate(uint64_t base, uint64_t size) {
  if (size == 0) {
    const size_t n = m_cache.occupancy();
    flush();
    return n;
  }
  const uint64_t last = base + (size - 1);
  return m_cache.invalidate_entries_if([&](const Tag&, const AtcTranslation& t) {
    return t.untranslated <= last && base <= t.untranslated + (t.size - 1);
  });
}

void AddressTranslationCache::flush() {
  m_cache.flush();
  m_sizes = 0;
}

// ---- one function's ATS -----------------------------------------------------------------------

AtsFunction::AtsFunction(ConfigSpace& cs, uint16_t cap_offset, const CacheConfig& atc)
    : m_cs(cs), m_off(cap_offset), m_atc(atc), m_was_enabled(enabled()) {}

void AtsFunction::config_written() {
  const bool now = enabled();
  // PCIe 10.5.1.3: with Enable clear the function may not cache translations; a reset clears it.
  if (m_was_enabled && !now) m_atc.flush();
  m_was_enabled = now;
}

bool AtsFunction::invalidate(uint64_t base, uint64_t size, bool pasid) {
  ++m_requests;
  config_written();  // Enable as it is now
  if (!m_was_enabled) return false;
  if (!pasid) m_atc.invalidate(base, size);
  ++m_completions;
  return true;
}

}  // namespace pciesim
