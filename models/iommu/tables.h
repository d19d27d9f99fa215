// Entry layouts of the VT-d translation structures (VT-d 9.1-9.9; hardware-facts 1.11-1.13): for
// each structure a decoded struct, a decoder, an encoder (the table builder uses it) and a check
// that applies the reserved-bit masks of the mode, the level and the unit's CAP/ECAP.
//
// Host address width: CAP does not report it (ACPI DMAR does); the model uses MGAW capped at 52,
// as QEMU does with its aw-bits. Address bits at or above it in a table pointer are reserved.
#pragma once

#include <array>
#include <cstdint>

#include "iommu/vtd_types.h"

namespace pciesim::vtd {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kPageMask = ~(kPageSize - 1);
constexpr unsigned kRootEntrySize = 16, kLegacyContextSize = 16, kScalableContextSize = 32;
constexpr unsigned kPasidDirEntrySize = 8, kPasidEntrySize = 64, kPagingEntrySize = 8;
// VT-d 3.15 / 5.1.1: the interrupt address range; DMA must not be translated into it.
constexpr uint64_t kInterruptRangeFirst = 0xfee0'0000ull, kInterruptRangeLast = 0xfeef'ffffull;

constexpr uint64_t low_bits(unsigned n) { return n >= 64 ? ~0ull : (1ull << n) - 1; }
constexpr uint64_t bit(unsigned n) { return 1ull << n; }
// Bytes mapped by one entry at paging level `level` (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB, ...).
constexpr uint64_t level_size(int level) { return 1ull << (12 + 9 * (level - 1)); }
// Index of `addr` in the level-`level` table.
constexpr unsigned level_index(uint64_t addr, int level) {
  return static_cast<unsigned>((addr >> (12 + 9 * (level - 1))) & 0x1ff);
}

unsigned host_address_width(const Capabilities& caps);  // min(MGAW, 52)
// ECAP fields the walkers need beyond those vtd_types.h names (VT-d 11.4.3).
inline bool ecap_mts(const Capabilities& c) { return Capabilities::field(c.ecap, 25, 25); }
inline bool ecap_prs(const Capabilities& c) { return Capabilities::field(c.ecap, 29, 29); }
inline bool ecap_eafs(const Capabilities& c) { return Capabilities::field(c.ecap, 34, 34); }
inline bool ecap_slads(const Capabilities& c) { return Capabilities::field(c.ecap, 45, 45); }

// What a structure check found in a present entry.
enum class EntryCheck : uint8_t { Ok, Reserved, Invalid };

// --- VT-d 11.4.5: RTADDR ------------------------------------------------------------------------
enum class TableMode : uint8_t { Legacy = 0, Scalable = 1, Reserved = 2, AbortDma = 3 };
struct RootTableAddress {
  uint64_t base = 0;
  TableMode mode = TableMode::Legacy;
};
RootTableAddress decode_rtaddr(uint64_t rtaddr);
constexpr uint64_t make_rtaddr(uint64_t base, TableMode mode) {
  return (base & kPageMask) | (static_cast<uint64_t>(mode) << 10);
}

// --- VT-d 9.1 / 9.2: root entries (16 bytes, indexed by bus) -------------------------------------
using RootRaw = std::array<uint64_t, 2>;
// The half of a root entry a request uses: legacy P/CTP, or scalable LP/LCTP (devfn < 0x80) or
// UP/UCTP (devfn >= 0x80).
struct RootEntry {
  bool present = false;
  uint64_t context_table = 0;
};
constexpr uint64_t root_entry_address(uint64_t root_table, uint8_t bus) {
  return root_table + uint64_t{bus} * kRootEntrySize;
}
RootEntry decode_root(const RootRaw& raw, TableMode mode, uint8_t devfn);
EntryCheck check_root(const RootRaw& raw, TableMode mode, uint8_t devfn, unsigned haw);
RootRaw encode_legacy_root(uint64_t context_table, bool present);
RootRaw encode_scalable_root(uint64_t lower_table, bool lower_present, uint64_t upper_table,
                             bool upper_present);
// Address of the context entry for `devfn` in the table the root entry points to.
uint64_t context_entry_address(const RootEntry& root, TableMode mode, uint8_t devfn);

// --- VT-d 9.3 / 9.4: context entries (legacy 128-bit, scalable 256-bit) --------------------------
using ContextRaw = std::array<uint64_t, 4>;  // legacy entries use [0] and [1]
struct ContextEntry {
  bool scalable = false;
  bool present = false;
  bool fpd = false;           // fault processing disable
  // legacy (VT-d 9.3)
  unsigned tt = 0;            // 0 translate, 1 translate + device TLB (ATS), 2 pass-through
  unsigned aw = 0;            // 1: 39-bit 3-level, 2: 48-bit 4-level, 3: 57-bit 5-level
  uint64_t slptptr = 0;
  uint16_t did = 0;
  unsigned avail = 0;         // software bits 70:67
  // scalable (VT-d 9.4)
  bool dte = false;           // device TLB (ATS) enable
  bool pasid_enable = false;  // requests with PASID allowed
  bool pre = false;           // page requests allowed
  unsigned pdts = 0;          // PASID directory has 2^(pdts+7) entries
  uint64_t pasid_dir_ptr = 0;
  uint32_t rid_pasid = 0;     // PASID for requests without one (used only with ECAP.RPS)
  bool rid_priv = false;

  int levels() const { return levels_for_aw(static_cast<int>(aw)); }
};
ContextEntry decode_legacy_context(const ContextRaw& raw);
ContextEntry decode_scalable_context(const ContextRaw& raw);
// Reserved: reserved bits set (incl. pointer beyond HAW, DTE without ECAP.DT, PRE without
// ECAP.PRS). Invalid: legacy TT=11, TT=10 without ECAP.PT, TT=01 without ECAP.DT, AW not in
// SAGAW; scalable PDTS covering more PASIDs than ECAP.PSS allows.
EntryCheck check_legacy_context(const ContextRaw& raw, const Capabilities& caps);
EntryCheck check_scalable_context(const ContextRaw& raw, const Capabilities& caps);
ContextRaw encode_legacy_context(const ContextEntry& e);
ContextRaw encode_scalable_context(const ContextEntry& e);

// --- VT-d 9.5: PASID directory entry (8 bytes, indexed by PASID[19:6]) ---------------------------
struct PasidDirEntry {
  bool present = false;
  bool fpd = false;
  uint64_t table = 0;  // PASID table (64 entries x 64 bytes)
};
constexpr uint64_t pasid_limit(unsigned pdts) { return 1ull << (pdts + 7 + 6); }
constexpr uint64_t pasid_dir_entry_address(uint64_t dir, uint32_t pasid) {
  return dir + uint64_t{pasid >> 6} * kPasidDirEntrySize;
}
constexpr uint64_t pasid_entry_address(uint64_t table, uint32_t pasid) {
  return table + uint64_t{pasid & 0x3f} * kPasidEntrySize;
}
PasidDirEntry decode_pasid_dir(uint64_t raw);
EntryCheck check_pasid_dir(uint64_t raw, unsigned haw);
uint64_t encode_pasid_dir(const PasidDirEntry& e);

// --- VT-d 9.6: scalable-mode PASID table entry (512 bits) ----------------------------------------
using PasidRaw = std::array<uint64_t, 8>;
enum class Pgtt : uint8_t { FirstLevel = 1, SecondLevel = 2, Nested = 3, PassThrough = 4 };
struct PasidEntry {
  bool present = false;
  bool fpd = false;
  unsigned aw = 0;           // second-level AW (PGTT 2 and 3)
  unsigned pgtt = 0;         // raw field; see Pgtt
  bool ssade = false;        // second-level accessed/dirty enable
  uint64_t ssptptr = 0;      // second-level table (PGTT 2 and 3)
  uint16_t did = 0;
  bool pwsnp = false;        // page-walk snoop
  bool pgsnp = false;        // page snoop: every access snooped
  bool sre = false;          // supervisor requests enable
  bool ere = false;          // execute requests enable
  unsigned flpm = 0;         // 0: 4-level, 1: 5-level first-level paging
  bool wpe = false;          // write protect: supervisor writes honour R/W
  bool eafe = false;         // extended accessed flag
  uint64_t flptptr = 0;      // first-level table (PGTT 1 and 3); guest-physical when nested

  Pgtt type() const { return static_cast<Pgtt>(pgtt); }
  int sl_levels() const { return levels_for_aw(static_cast<int>(aw)); }
  int fl_levels() const { return flpm == 1 ? 5 : 4; }
};
PasidEntry decode_pasid_entry(const PasidRaw& raw);
// Reserved: reserved bits set (SRE without SRS, ERE without ERS, PGSNP without SC, SSADE without
// SLADS, EAFE without EAFS, memory-type fields without MTS, pointers beyond HAW). Invalid: PGTT
// not supported (0, 5-7; FL without FLTS, SL without SLTS, nested without NEST, PT without PT),
// AW not in SAGAW (PGTT 2/3), FLPM not supported (PGTT 1/3).
EntryCheck check_pasid_entry(const PasidRaw& raw, const Capabilities& caps);
PasidRaw encode_pasid_entry(const PasidEntry& e);

// --- VT-d 9.8: second-level paging entries -------------------------------------------------------
// What the reserved-bit masks depend on.
struct SlFormat {
  unsigned haw = 39;           // address bits at or above are reserved
  bool scalable = false;       // TM is legacy only
  unsigned sllps = 0;          // CAP.SLLPS: bit 0 2 MiB, bit 1 1 GiB
  bool snoop_control = false;  // ECAP.SC: SNP allowed in leaf entries
  bool device_tlb = false;     // ECAP.DT: TM allowed (legacy)
  bool memory_types = false;   // ECAP.MTS: bits 6:2 (EMT/IPAT) allowed
};
SlFormat sl_format(const Capabilities& caps, bool scalable);
struct SlEntry {
  bool read = false, write = false;
  bool ps = false;             // leaf above level 1
  bool snp = false;
  uint64_t addr = 0;           // next table or page frame (bits 51:12)
  bool present() const { return read || write; }
};
SlEntry decode_sl_entry(uint64_t raw);
// Reserved bits set in a present entry at `level`: bits 6:2 without MTS, PS at level 4/5 or where
// SLLPS lacks the size, the low address bits of a large page, SNP without SC, TM without DT
// (legacy), address bits 51:HAW.
uint64_t sl_reserved_bits(uint64_t raw, int level, const SlFormat& f);
uint64_t encode_sl_entry(uint64_t addr, bool read, bool write, bool ps = false, bool snp = false);

// --- VT-d 9.7: first-level paging entries (x86-64 format) ----------------------------------------
struct FlFormat {
  unsigned haw = 48;
  bool fl1gp = false;  // CAP.FL1GP: 1 GiB leaves at level 3
};
struct FlEntry {
  bool present = false, write = false, user = false, pwt = false, pcd = false;
  bool accessed = false, dirty = false, ps = false, global = false, xd = false;
  uint64_t addr = 0;  // bits 51:12
};
FlEntry decode_fl_entry(uint64_t raw);
// Reserved bits set in a present entry: PS at level 4/5, PS at level 3 without FL1GP, the low
// address bits of a large page (20:13 / 29:13; bit 12 is PAT), address bits 51:HAW.
uint64_t fl_reserved_bits(uint64_t raw, int level, const FlFormat& f);
struct FlFlags {
  bool write = true, user = true, xd = false, ps = false, accessed = true, dirty = false;
};
uint64_t encode_fl_entry(uint64_t addr, const FlFlags& flags);

}  // namespace pciesim::vtd
