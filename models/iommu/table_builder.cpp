#include "iommu/table_builder.h"

#include <stdexcept>

namespace pciesim::vtd {

// --- PageAllocator ---------------------------------------------------------------------------
PageAllocator::PageAllocator(uint64_t base, uint64_t size)
    : m_base((base + kPageSize - 1) & kPageMask), m_end((base + size) & kPageMask), m_next(m_base) {
  if (m_base == 0) throw std::invalid_argument("PageAllocator: physical page 0 is reserved as 'no page'");
  if (m_end < m_base) m_end = m_base;
}

uint64_t PageAllocator::alloc(unsigned pages) {
  if (pages == 0) return 0;
  if (pages == 1 && !m_free.empty()) {
    const uint64_t pa = m_free.back();
    m_free.pop_back();
    ++m_in_use;
    return pa;
  }
  const uint64_t bytes = uint64_t{pages} * kPageSize;
  if (m_end - m_next < bytes) return 0;
  const uint64_t pa = m_next;
  m_next += bytes;
  m_in_use += pages;
  return pa;
}

void PageAllocator::free(uint64_t pa) {
  if (pa < m_base || pa >= m_next || (pa & ~kPageMask)) return;
  m_free.push_back(pa);
  if (m_in_use) --m_in_use;
}

// --- TableMemory -----------------------------------------------------------------------------
uint64_t TableMemory::new_table(unsigned pages) {
  const uint64_t pa = m_pages.alloc(pages);
  if (!pa) return 0;
  static const std::array<uint8_t, kPageSize> zero{};
  for (unsigned i = 0; i < pages; ++i) {
    if (!m_writer.write(pa + i * kPageSize, zero.data(), kPageSize)) return 0;
  }
  return pa;
}

// --- root and context tables -----------------------------------------------------------------
ContextEntry legacy_context(uint64_t slptptr, unsigned aw, uint16_t did, unsigned tt, bool fpd) {
  ContextEntry e;
  e.present = true;
  e.fpd = fpd;
  e.tt = tt;
  e.aw = aw;
  e.slptptr = slptptr;
  e.did = did;
  return e;
}

ContextEntry scalable_context(uint64_t pasid_dir, unsigned pdts, uint32_t rid_pasid, bool pasid_enable, bool dte,
                              bool fpd) {
  ContextEntry e;
  e.scalable = true;
  e.present = true;
  e.fpd = fpd;
  e.dte = dte;
  e.pasid_enable = pasid_enable;
  e.pdts = pdts;
  e.pasid_dir_ptr = pasid_dir;
  e.rid_pasid = rid_pasid;
  return e;
}

RootTableBuilder::RootTableBuilder(TableMemory& mem, TableMode mode) : m_mem(mem), m_mode(mode) {
  m_root = m_mem.new_table();
}

// VT-d 9.1 / 9.2: a legacy root entry points to one 256-entry context table; a scalable one to a
// lower (devfn 0x00-0x7f) and an upper (0x80-0xff) table of 128 32-byte entries.
uint64_t RootTableBuilder::context_table(uint8_t bus, bool upper, bool create) const {
  if (!m_root) return 0;
  const uint64_t at = root_entry_address(bus);
  uint64_t lo = 0, hi = 0;
  if (!m_mem.read64(at, lo) || !m_mem.read64(at + 8, hi)) return 0;
  uint64_t& half = upper ? hi : lo;
  if (half & 1) return half & kPageMask;
  if (!create) return 0;
  const uint64_t table = m_mem.new_table();
  if (!table) return 0;
  half = table | 1;
  if (!m_mem.write64(at + (upper ? 8 : 0), half)) return 0;
  return table;
}

uint64_t RootTableBuilder::context_entry_address(RequesterId source) const {
  const bool sm = m_mode == TableMode::Scalable;
  const bool upper = sm && source.devfn >= 0x80;
  const uint64_t table = context_table(source.bus, upper, false);
  if (!table) return 0;
  return vtd::context_entry_address(RootEntry{true, table}, m_mode, source.devfn);
}

bool RootTableBuilder::set_context(RequesterId source, const ContextEntry& entry) {
  const bool sm = m_mode == TableMode::Scalable;
  if (!context_table(source.bus, sm && source.devfn >= 0x80, true)) return false;
  const uint64_t at = context_entry_address(source);
  const ContextRaw raw = sm ? encode_scalable_context(entry) : encode_legacy_context(entry);
  // Linux writes the upper half first and sets P last; a walker sees a whole entry either way.
  return m_mem.write_raw(at, raw.data(), sm ? kScalableContextSize : kLegacyContextSize);
}

bool RootTableBuilder::clear_context(RequesterId source) {
  const uint64_t at = context_entry_address(source);
  if (!at) return false;
  const ContextRaw zero{};
  return m_mem.write_raw(at, zero.data(), m_mode == TableMode::Scalable ? kScalableContextSize : kLegacyContextSize);
}

// --- PASID tables ----------------------------------------------------------------------------
PasidEntry second_level_pasid(uint64_t ssptptr, unsigned aw, uint16_t did) {
  PasidEntry e;
  e.present = true;
  e.pgtt = static_cast<unsigned>(Pgtt::SecondLevel);
  e.aw = aw;
  e.ssptptr = ssptptr;
  e.did = did;
  return e;
}

PasidEntry first_level_pasid(uint64_t flptptr, unsigned flpm, uint16_t did) {
  PasidEntry e;
  e.present = true;
  e.pgtt = static_cast<unsigned>(Pgtt::FirstLevel);
  e.flpm = flpm;
  e.flptptr = flptptr;
  e.did = did;
  return e;
}

PasidEntry nested_pasid(uint64_t flptptr, unsigned flpm, uint64_t ssptptr, unsigned aw, uint16_t did) {
  PasidEntry e = first_level_pasid(flptptr, flpm, did);
  e.pgtt = static_cast<unsigned>(Pgtt::Nested);
  e.aw = aw;
  e.ssptptr = ssptptr;
  return e;
}

PasidEntry pass_through_pasid(uint16_t did) {
  PasidEntry e;
  e.present = true;
  e.pgtt = static_cast<unsigned>(Pgtt::PassThrough);
  e.did = did;
  return e;
}

PasidTableBuilder::PasidTableBuilder(TableMemory& mem, unsigned pdts) : m_mem(mem), m_pdts(pdts & 7) {
  // 2^(pdts+7) entries of 8 bytes: pdts 0 and 1 still take one page.
  const uint64_t bytes = (1ull << (m_pdts + 7)) * kPasidDirEntrySize;
  m_dir = m_mem.new_table(static_cast<unsigned>((bytes + kPageSize - 1) / kPageSize));
}

uint64_t PasidTableBuilder::entry_address(uint32_t pasid) const {
  if (!m_dir || pasid >= pasid_limit(m_pdts)) return 0;
  uint64_t raw = 0;
  if (!m_mem.read64(dir_entry_address(pasid), raw)) return 0;
  const PasidDirEntry de = decode_pasid_dir(raw);
  return de.present ? pasid_entry_address(de.table, pasid) : 0;
}

bool PasidTableBuilder::set(uint32_t pasid, const PasidEntry& entry) {
  if (!m_dir || pasid >= pasid_limit(m_pdts)) return false;
  if (!entry_address(pasid)) {
    const uint64_t table = m_mem.new_table();
    if (!table || !m_mem.write64(dir_entry_address(pasid), encode_pasid_dir(PasidDirEntry{true, false, table})))
      return false;
  }
  const PasidRaw raw = encode_pasid_entry(entry);
  return m_mem.write_raw(entry_address(pasid), raw.data(), kPasidEntrySize);
}

bool PasidTableBuilder::clear(uint32_t pasid) {
  const uint64_t at = entry_address(pasid);
  if (!at) return false;
  const PasidRaw zero{};
  return m_mem.write_raw(at, zero.data(), kPasidEntrySize);
}

// --- paging structures -----------------------------------------------------------------------
PageTableBuilder::PageTableBuilder(TableMemory& mem, int levels, int64_t offset)
    : m_mem(mem), m_levels(levels), m_offset(offset) {
  if (levels >= 2 && levels <= 5) m_root = m_mem.new_table();
}

uint64_t PageTableBuilder::table_for(uint64_t addr, int level, bool create) const {
  if (!m_root || level < 1 || level > m_levels) return 0;
  uint64_t table = m_root;
  for (int l = m_levels; l > level; --l) {
    const uint64_t at = table + uint64_t{level_index(addr, l)} * kPagingEntrySize;
    uint64_t raw = 0;
    if (!m_mem.read64(at, raw)) return 0;
    if (entry_present(raw)) {
      if (entry_is_leaf(raw, l)) return 0;  // a large page is in the way
      table = (raw & low_bits(52) & kPageMask) - static_cast<uint64_t>(m_offset);
      continue;
    }
    if (!create) return 0;
    const uint64_t next = m_mem.new_table();
    if (!next || !m_mem.write64(at, table_entry(next + static_cast<uint64_t>(m_offset)))) return 0;
    table = next;
  }
  return table;
}

uint64_t PageTableBuilder::entry_address(uint64_t addr, int level) const {
  const uint64_t table = table_for(addr, level, false);
  return table ? table + uint64_t{level_index(addr, level)} * kPagingEntrySize : 0;
}

bool PageTableBuilder::set_raw(uint64_t addr, int level, uint64_t value) {
  const uint64_t table = table_for(addr, level, true);
  return table && m_mem.write64(table + uint64_t{level_index(addr, level)} * kPagingEntrySize, value);
}

namespace {
int level_for_size(uint64_t size) {
  switch (size) {
    case kPageSize: return 1;
    case kPageSize << 9: return 2;
    case kPageSize << 18: return 3;
    default: return 0;
  }
}
}  // namespace

bool PageTableBuilder::map_leaf(uint64_t addr, uint64_t size, uint64_t leaf) {
  const int level = level_for_size(size);
  if (!level || level > m_levels || (addr & (size - 1))) return false;
  const uint64_t table = table_for(addr, level, true);
  if (!table) return false;
  const uint64_t at = table + uint64_t{level_index(addr, level)} * kPagingEntrySize;
  uint64_t old = 0;
  if (!m_mem.read64(at, old)) return false;
  if (entry_present(old) && !entry_is_leaf(old, level)) return false;  // a table is in the way
  return m_mem.write64(at, leaf);
}

bool PageTableBuilder::unmap(uint64_t addr, uint64_t size) {
  const int level = level_for_size(size);
  if (!level || level > m_levels) return false;
  const uint64_t at = entry_address(addr, level);
  uint64_t raw = 0;
  if (!at || !m_mem.read64(at, raw) || !entry_present(raw) || !entry_is_leaf(raw, level)) return false;
  return m_mem.write64(at, 0);
}

SecondLevelBuilder::SecondLevelBuilder(TableMemory& mem, int levels) : PageTableBuilder(mem, levels, 0) {}

bool SecondLevelBuilder::map(uint64_t iova, uint64_t pa, uint64_t size, const SlMapping& m) {
  if (pa & (size - 1)) return false;
  return map_leaf(iova, size, encode_sl_entry(pa, m.read, m.write, size > kPageSize, m.snoop));
}

bool SecondLevelBuilder::map_range(uint64_t iova, uint64_t pa, uint64_t len, const SlMapping& m, uint64_t max_page) {
  if ((iova | pa | len) & ~kPageMask) return false;
  while (len) {
    uint64_t size = kPageSize;
    for (uint64_t s : {kPageSize << 18, kPageSize << 9}) {
      if (s <= max_page && s <= len && !((iova | pa) & (s - 1))) {
        size = s;
        break;
      }
    }
    if (!map(iova, pa, size, m)) return false;
    iova += size;
    pa += size;
    len -= size;
  }
  return true;
}

FirstLevelBuilder::FirstLevelBuilder(TableMemory& mem, int levels, int64_t offset)
    : PageTableBuilder(mem, levels, offset) {}

bool FirstLevelBuilder::map(uint64_t va, uint64_t pa, uint64_t size, const FlMapping& m) {
  if (pa & (size - 1)) return false;
  const FlFlags flags{m.write, m.user, m.execute_disable, size > kPageSize, true, m.dirty};
  return map_leaf(va, size, encode_fl_entry(pa, flags));
}

}  // namespace pciesim::vtd
