#include "iommu/tables.h"

#include <algorithm>

namespace pciesim::vtd {

namespace {

constexpr uint64_t field(uint64_t v, unsigned lo, unsigned hi) { return Capabilities::field(v, lo, hi); }
// Bits 51:haw of a table pointer or page frame (bits 63:52 are flags or ignored).
constexpr uint64_t beyond_haw(unsigned haw) { return low_bits(52) & ~low_bits(haw); }
// Bits 63:haw of a 64-bit field that holds only an address (root/context/PASID pointers).
constexpr uint64_t pointer_beyond_haw(unsigned haw) { return ~low_bits(haw) & kPageMask; }

bool aw_supported(const Capabilities& caps, unsigned aw) { return aw <= 4 && (caps.sagaw() >> aw) & 1; }

}  // namespace

unsigned host_address_width(const Capabilities& caps) { return std::min(caps.mgaw(), 52u); }

RootTableAddress decode_rtaddr(uint64_t rtaddr) {
  return RootTableAddress{rtaddr & kPageMask, static_cast<TableMode>(field(rtaddr, 10, 11))};
}

// VT-d 9.1: legacy root entry: P bit 0, CTP 63:12; 127:64 reserved.
// VT-d 9.2: scalable root entry: LP bit 0, LCTP 63:12, UP bit 64, UCTP 127:76.
RootEntry decode_root(const RootRaw& raw, TableMode mode, uint8_t devfn) {
  const uint64_t half = (mode == TableMode::Scalable && devfn >= 0x80) ? raw[1] : raw[0];
  return RootEntry{(half & 1) != 0, half & kPageMask};
}

EntryCheck check_root(const RootRaw& raw, TableMode mode, uint8_t devfn, unsigned haw) {
  const uint64_t rsvd = 0xffeull | pointer_beyond_haw(haw);
  if (mode != TableMode::Scalable) return (raw[0] & rsvd) || raw[1] ? EntryCheck::Reserved : EntryCheck::Ok;
  const uint64_t half = devfn >= 0x80 ? raw[1] : raw[0];
  return (half & rsvd) ? EntryCheck::Reserved : EntryCheck::Ok;
}

RootRaw encode_legacy_root(uint64_t context_table, bool present) {
  return RootRaw{(context_table & kPageMask) | (present ? 1u : 0u), 0};
}

RootRaw encode_scalable_root(uint64_t lower_table, bool lower_present, uint64_t upper_table,
                             bool upper_present) {
  return RootRaw{(lower_table & kPageMask) | (lower_present ? 1u : 0u),
                 (upper_table & kPageMask) | (upper_present ? 1u : 0u)};
}

// Linux iommu_context_addr: scalable entries are 32 bytes, 128 per table, upper half of the
// devfn space in the UCTP table.
uint64_t context_entry_address(const RootEntry& root, TableMode mode, uint8_t devfn) {
  if (mode == TableMode::Scalable) return root.context_table + uint64_t{devfn & 0x7fu} * kScalableContextSize;
  return root.context_table + uint64_t{devfn} * kLegacyContextSize;
}

// VT-d 9.3: legacy context entry.
//   lo: P 0, FPD 1, TT 3:2, reserved 11:4, SLPTPTR 63:12
//   hi: AW 2:0, AVAIL 6:3, reserved 7, DID 23:8, reserved 63:24
ContextEntry decode_legacy_context(const ContextRaw& raw) {
  ContextEntry e;
  e.present = raw[0] & 1;
  e.fpd = field(raw[0], 1, 1);
  e.tt = static_cast<unsigned>(field(raw[0], 2, 3));
  e.slptptr = raw[0] & kPageMask;
  e.aw = static_cast<unsigned>(field(raw[1], 0, 2));
  e.avail = static_cast<unsigned>(field(raw[1], 3, 6));
  e.did = static_cast<uint16_t>(field(raw[1], 8, 23));
  return e;
}

EntryCheck check_legacy_context(const ContextRaw& raw, const Capabilities& caps) {
  const ContextEntry e = decode_legacy_context(raw);
  uint64_t rsvd_lo = 0xff0ull;
  if (e.tt != 2) rsvd_lo |= pointer_beyond_haw(host_address_width(caps));  // SLPTPTR ignored in PT
  if ((raw[0] & rsvd_lo) || (raw[1] & 0xffff'ffff'ff00'0080ull)) return EntryCheck::Reserved;
  if (e.tt == 3 || (e.tt == 2 && !caps.pt()) || (e.tt == 1 && !caps.dt())) return EntryCheck::Invalid;
  if (e.tt != 2 && !aw_supported(caps, e.aw)) return EntryCheck::Invalid;
  return EntryCheck::Ok;
}

ContextRaw encode_legacy_context(const ContextEntry& e) {
  ContextRaw raw{};
  raw[0] = (e.present ? 1u : 0u) | (e.fpd ? 2u : 0u) | (uint64_t{e.tt & 3u} << 2) | (e.slptptr & kPageMask);
  raw[1] = uint64_t{e.aw & 7u} | (uint64_t{e.avail & 0xfu} << 3) | (uint64_t{e.did} << 8);
  return raw;
}

// VT-d 9.4: scalable-mode context entry.
//   [0]: P 0, FPD 1, DTE 2, PASIDE 3, PRE 4, reserved 8:5, PDTS 11:9, PASIDDIRPTR 63:12
//   [1]: RID_PASID 19:0, RID_PRIV 20, reserved 63:21;  [2], [3]: reserved
ContextEntry decode_scalable_context(const ContextRaw& raw) {
  ContextEntry e;
  e.scalable = true;
  e.present = raw[0] & 1;
  e.fpd = field(raw[0], 1, 1);
  e.dte = field(raw[0], 2, 2);
  e.pasid_enable = field(raw[0], 3, 3);
  e.pre = field(raw[0], 4, 4);
  e.pdts = static_cast<unsigned>(field(raw[0], 9, 11));
  e.pasid_dir_ptr = raw[0] & kPageMask;
  e.rid_pasid = static_cast<uint32_t>(field(raw[1], 0, 19));
  e.rid_priv = field(raw[1], 20, 20);
  return e;
}

EntryCheck check_scalable_context(const ContextRaw& raw, const Capabilities& caps) {
  uint64_t rsvd0 = 0x1e0ull | pointer_beyond_haw(host_address_width(caps));
  if (!caps.dt()) rsvd0 |= bit(2);
  if (!ecap_prs(caps)) rsvd0 |= bit(4);
  if ((raw[0] & rsvd0) || (raw[1] & ~low_bits(21)) || raw[2] || raw[3]) return EntryCheck::Reserved;
  // The directory must not describe PASIDs wider than the unit supports (Linux sizes it from
  // ECAP.PSS: PDTS = PSS - 12).
  const unsigned pdts = static_cast<unsigned>(field(raw[0], 9, 11));
  if (pdts + 13 > caps.pss() + 1) return EntryCheck::Invalid;
  return EntryCheck::Ok;
}

ContextRaw encode_scalable_context(const ContextEntry& e) {
  ContextRaw raw{};
  raw[0] = (e.present ? 1u : 0u) | (e.fpd ? 2u : 0u) | (e.dte ? 4u : 0u) | (e.pasid_enable ? 8u : 0u) |
           (e.pre ? 16u : 0u) | (uint64_t{e.pdts & 7u} << 9) | (e.pasid_dir_ptr & kPageMask);
  raw[1] = (e.rid_pasid & 0xfffffu) | (e.rid_priv ? bit(20) : 0);
  return raw;
}

// VT-d 9.5: PASID directory entry: P 0, FPD 1, reserved 11:2, PASID table pointer 63:12.
PasidDirEntry decode_pasid_dir(uint64_t raw) {
  return PasidDirEntry{(raw & 1) != 0, (raw & 2) != 0, raw & kPageMask};
}

EntryCheck check_pasid_dir(uint64_t raw, unsigned haw) {
  return (raw & (0xffcull | pointer_beyond_haw(haw))) ? EntryCheck::Reserved : EntryCheck::Ok;
}

uint64_t encode_pasid_dir(const PasidDirEntry& e) {
  return (e.table & kPageMask) | (e.present ? 1u : 0u) | (e.fpd ? 2u : 0u);
}

// VT-d 9.6: scalable-mode PASID table entry (Linux pasid.h setters give the same positions).
//   [0]: P 0, FPD 1, AW 4:2, reserved 5, PGTT 8:6, SSADE 9, reserved 11:10, SSPTPTR 63:12
//   [1]: DID 15:0, reserved 22:16, PWSNP 23, PGSNP 24, memory-type fields 63:25 (ECAP.MTS)
//   [2]: SRE 0, ERE 1, FLPM 3:2, WPE 4, reserved 6:5, EAFE 7, reserved 11:8, FLPTPTR 63:12
//   [3]..[7]: reserved
PasidEntry decode_pasid_entry(const PasidRaw& raw) {
  PasidEntry e;
  e.present = raw[0] & 1;
  e.fpd = field(raw[0], 1, 1);
  e.aw = static_cast<unsigned>(field(raw[0], 2, 4));
  e.pgtt = static_cast<unsigned>(field(raw[0], 6, 8));
  e.ssade = field(raw[0], 9, 9);
  e.ssptptr = raw[0] & kPageMask;
  e.did = static_cast<uint16_t>(field(raw[1], 0, 15));
  e.pwsnp = field(raw[1], 23, 23);
  e.pgsnp = field(raw[1], 24, 24);
  e.sre = field(raw[2], 0, 0);
  e.ere = field(raw[2], 1, 1);
  e.flpm = static_cast<unsigned>(field(raw[2], 2, 3));
  e.wpe = field(raw[2], 4, 4);
  e.eafe = field(raw[2], 7, 7);
  e.flptptr = raw[2] & kPageMask;
  return e;
}

EntryCheck check_pasid_entry(const PasidRaw& raw, const Capabilities& caps) {
  const PasidEntry e = decode_pasid_entry(raw);
  const uint64_t beyond = pointer_beyond_haw(host_address_width(caps));
  const bool uses_sl = e.pgtt == 2 || e.pgtt == 3, uses_fl = e.pgtt == 1 || e.pgtt == 3;
  uint64_t rsvd0 = bit(5) | bit(10) | bit(11);
  if (!ecap_slads(caps)) rsvd0 |= bit(9);
  if (uses_sl) rsvd0 |= beyond;
  uint64_t rsvd1 = low_bits(23) & ~low_bits(16);
  if (!caps.sc()) rsvd1 |= bit(24);
  if (!ecap_mts(caps)) rsvd1 |= ~low_bits(25);
  uint64_t rsvd2 = bit(5) | bit(6) | 0xf00ull;
  if (!caps.srs()) rsvd2 |= bit(0);
  if (!caps.ers()) rsvd2 |= bit(1);
  if (!ecap_eafs(caps)) rsvd2 |= bit(7);
  if (uses_fl) rsvd2 |= beyond;
  if ((raw[0] & rsvd0) || (raw[1] & rsvd1) || (raw[2] & rsvd2) || raw[3] || raw[4] || raw[5] || raw[6] ||
      raw[7])
    return EntryCheck::Reserved;
  switch (e.pgtt) {
    case 1: if (!caps.flts()) return EntryCheck::Invalid; break;
    case 2: if (!caps.slts()) return EntryCheck::Invalid; break;
    case 3: if (!caps.nest() || !caps.flts() || !caps.slts()) return EntryCheck::Invalid; break;
    case 4: if (!caps.pt()) return EntryCheck::Invalid; break;
    default: return EntryCheck::Invalid;
  }
  if (uses_sl && !aw_supported(caps, e.aw)) return EntryCheck::Invalid;
  if (uses_fl && !(e.flpm == 0 || (e.flpm == 1 && caps.fl5lp()))) return EntryCheck::Invalid;
  return EntryCheck::Ok;
}

PasidRaw encode_pasid_entry(const PasidEntry& e) {
  PasidRaw raw{};
  raw[0] = (e.present ? 1u : 0u) | (e.fpd ? 2u : 0u) | (uint64_t{e.aw & 7u} << 2) | (uint64_t{e.pgtt & 7u} << 6) |
           (e.ssade ? bit(9) : 0) | (e.ssptptr & kPageMask);
  raw[1] = uint64_t{e.did} | (e.pwsnp ? bit(23) : 0) | (e.pgsnp ? bit(24) : 0);
  raw[2] = (e.sre ? 1u : 0u) | (e.ere ? 2u : 0u) | (uint64_t{e.flpm & 3u} << 2) | (e.wpe ? bit(4) : 0) |
           (e.eafe ? bit(7) : 0) | (e.flptptr & kPageMask);
  return raw;
}

// VT-d 9.8: second-level entry: R 0, W 1, (EMT/IPAT 6:2), PS 7, A 8, D 9, SNP 11, ADDR 51:12,
// ignored 61:52 and 63, TM 62 (legacy with device TLBs).
SlFormat sl_format(const Capabilities& caps, bool scalable) {
  SlFormat f;
  f.haw = host_address_width(caps);
  f.scalable = scalable;
  f.sllps = caps.sllps();
  f.snoop_control = caps.sc();
  f.device_tlb = caps.dt();
  f.memory_types = ecap_mts(caps);
  return f;
}

SlEntry decode_sl_entry(uint64_t raw) {
  SlEntry e;
  e.read = raw & 1;
  e.write = raw & 2;
  e.ps = raw & bit(7);
  e.snp = raw & bit(11);
  e.addr = raw & low_bits(52) & kPageMask;
  return e;
}

uint64_t sl_reserved_bits(uint64_t raw, int level, const SlFormat& f) {
  uint64_t rsvd = beyond_haw(f.haw);
  if (!f.memory_types) rsvd |= 0x7cull;
  if (!f.scalable && !f.device_tlb) rsvd |= bit(62);
  const bool ps = raw & bit(7);
  bool leaf = level == 1;
  if (level >= 2 && ps) {
    const bool allowed = (level == 2 && (f.sllps & 1)) || (level == 3 && (f.sllps & 2));
    if (!allowed) rsvd |= bit(7);  // PS where no large page of that size exists
    else {
      leaf = true;
      rsvd |= low_bits(12 + 9 * (level - 1)) & kPageMask;  // low frame bits of a large page
    }
  }
  if (leaf && !f.snoop_control) rsvd |= bit(11);
  return raw & rsvd;
}

uint64_t encode_sl_entry(uint64_t addr, bool read, bool write, bool ps, bool snp) {
  return (addr & low_bits(52) & kPageMask) | (read ? 1u : 0u) | (write ? 2u : 0u) | (ps ? bit(7) : 0) |
         (snp ? bit(11) : 0);
}

// VT-d 9.7: first-level entry (x86-64 paging): P 0, R/W 1, U/S 2, PWT 3, PCD 4, A 5, D 6, PS 7,
// G 8, ADDR 51:12, ignored 62:52, XD 63.
FlEntry decode_fl_entry(uint64_t raw) {
  FlEntry e;
  e.present = raw & 1;
  e.write = raw & 2;
  e.user = raw & 4;
  e.pwt = raw & 8;
  e.pcd = raw & 16;
  e.accessed = raw & 32;
  e.dirty = raw & 64;
  e.ps = raw & bit(7);
  e.global = raw & bit(8);
  e.xd = raw & bit(63);
  e.addr = raw & low_bits(52) & kPageMask;
  return e;
}

uint64_t fl_reserved_bits(uint64_t raw, int level, const FlFormat& f) {
  uint64_t rsvd = beyond_haw(f.haw);
  const bool ps = raw & bit(7);
  if (level >= 4 || (level == 3 && !f.fl1gp)) rsvd |= bit(7);
  else if (ps && level >= 2) rsvd |= low_bits(12 + 9 * (level - 1)) & ~low_bits(13);  // bit 12 is PAT
  return raw & rsvd;
}

uint64_t encode_fl_entry(uint64_t addr, const FlFlags& fl) {
  return (addr & low_bits(52) & kPageMask) | 1u | (fl.write ? 2u : 0u) | (fl.user ? 4u : 0u) |
         (fl.accessed ? bit(5) : 0) | (fl.dirty ? bit(6) : 0) | (fl.ps ? bit(7) : 0) | (fl.xd ? bit(63) : 0);
}

}  // namespace pciesim::vtd
