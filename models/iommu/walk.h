// The translation pipeline of the VT-d remapping unit as pure functions over a MemReader, in the
// stages the SystemC module calls with its caches in between (ARCHITECTURE.md, "Walkers are pure
// functions"):
//
//   lookup_context      RTADDR -> root entry -> context entry            (context cache)
//   lookup_pasid        context entry -> PASID directory -> PASID entry  (PASID cache)
//   walk_second_level   second-level tables, resumable at any level      (paging-structure caches)
//   walk_first_level    first-level tables, optionally nested            (paging-structure caches)
//   translate           all of it with no caches: the reference the cached module must agree with
//
// Every stage counts the table entries it read (each a timed DRAM access) and never loops: a walk
// reads at most one entry per level.
#pragma once

#include <cstdint>

#include "iommu/tables.h"
#include "iommu/vtd_types.h"

namespace pciesim::vtd {

// Faults that FPD can suppress (VT-d 7.1.2 "qualified" faults). Errors accessing or decoding the
// root, context and PASID structures themselves are always recorded (QEMU vtd_qualified_faults).
bool is_qualified(FaultReason r);

// --- stage 1: root and context entry (VT-d 3.4.1 legacy, 3.4.3 scalable) -------------------------
struct ContextResult {
  FaultReason fault = FaultReason::None;
  // FPD of the present context entry: faults from that entry onwards are not recorded (when
  // qualified). A non-present entry's FPD does not count.
  bool fpd = false;
  unsigned memory_reads = 0;
  TableMode mode = TableMode::Legacy;
  ContextEntry entry;  // decoded when it was read
  bool ok() const { return fault == FaultReason::None; }
};
// rtaddr: the RTADDR value as latched by SRTP, TTM in bits 11:10.
// Legacy faults: 0x1 0x2 0x3 0x8 0x9 0xA 0xB. Scalable: 0x30 (TTM 10/11, scalable without SMTS,
// base beyond HAW) 0x38 0x39 0x3A 0x40 0x41 0x42 0x43.
ContextResult lookup_context(const MemReader& mem, uint64_t rtaddr, RequesterId source,
                             const Capabilities& caps);

// --- stage 2: PASID directory and PASID table entry (VT-d 3.4.3, 9.5, 9.6) ----------------------
struct PasidResult {
  FaultReason fault = FaultReason::None;
  // FPD of the context entry, the directory entry or the PASID entry (the directory and PASID
  // entries' FPD counts even when not present, as QEMU's vtd_ce_get_pasid_fpd reads it).
  bool fpd = false;
  unsigned memory_reads = 0;
  PasidEntry entry;
  bool ok() const { return fault == FaultReason::None; }
};
// Faults: 0x46 (PASID beyond PDTS or ECAP.PSS), 0x50 0x51 0x52, 0x58 0x59 0x5A 0x5B.
PasidResult lookup_pasid(const MemReader& mem, const ContextEntry& context, uint32_t pasid,
                         const Capabilities& caps);

// --- resuming a walk from a paging-structure cache ----------------------------------------------
struct WalkStart {
  int level = 0;            // 0: start at the root with all levels
  uint64_t table = 0;       // host-physical address of the level-`level` table
  uint8_t perms = kPermAll; // what the skipped entries grant (WalkTrace::perms[level])
};

// --- stage 3: second-level walk (VT-d 3.7, 9.8) --------------------------------------------------
struct SlOptions {
  SlFormat format;             // reserved-bit rules (HAW, SLLPS, SC, DT, MTS, legacy/scalable)
  unsigned mgaw = 64;          // CAP.MGAW: input addresses are limited to min(levels width, MGAW)
  bool check_access = true;    // false for translation requests (ATS): rights are reported instead
  static SlOptions from(const Capabilities& caps, bool scalable);
};
// Walks `levels` (2..5) levels from `root`. Faults, legacy / scalable:
//   input beyond min(AGAW, MGAW)      0x4 / 0x83
//   entry not readable                0x7 / 0x78
//   entry with R = W = 0              0x5 or 0x6 / 0x79
//   reserved bits (incl. PS without SLLPS, pointer beyond HAW)   0xC / 0x7A
//   cumulative W or R missing         0x5 / 0x85, 0x6 / 0x86 (checked as soon as it is missing)
// With check_access = false a missing entry is no fault: the result is ok with no rights.
// `trace` (optional) gets the table visited at each level and the rights above it.
Translation walk_second_level(const MemReader& mem, uint64_t root, int levels, uint64_t iova, bool write,
                              const SlOptions& opts, WalkTrace* trace = nullptr,
                              const WalkStart& start = {});

// --- stage 4: first-level walk (VT-d 3.6, 9.7), optionally nested (VT-d 3.8) ----------------------
struct FlAccess {
  bool write = false;
  bool execute = false;
  bool user = true;  // false for supervisor requests (PASID prefix PR = 1)
};
struct NestedSecondLevel {
  uint64_t root = 0;  // SSPTPTR
  int levels = 4;
  SlOptions opts;     // scalable format
};
struct FlOptions {
  int levels = 4;                              // 4 or 5 (PASID entry FLPM)
  FlFormat format;
  bool wpe = false;                            // supervisor writes honour R/W
  bool check_access = true;                    // false for translation requests (ATS)
  const NestedSecondLevel* nested = nullptr;   // nested: every table pointer and the output are GPAs
  static FlOptions from(const Capabilities& caps, const PasidEntry& pasid);
};
// Faults: 0x80 non-canonical, 0x70 entry not readable (0x73 for the top table when nested),
// 0x71 not present, 0x72 reserved, 0x81 user access to a supervisor page, 0x85 write to a
// read-only page (user, or supervisor with WPE), 0x82 execute with XD. Nested: a table pointer
// beyond the second level's width 0x74, not readable through the second level 0x75 (top table) /
// 0x76; the output's second-level faults as walk_second_level reports them (beyond width: 0x74).
// `flptptr` is the PASID entry's pointer (a GPA when nested); WalkStart.table is host-physical.
Translation walk_first_level(const MemReader& mem, uint64_t flptptr, uint64_t va, const FlAccess& access,
                             const FlOptions& opts, WalkTrace* trace = nullptr,
                             const WalkStart& start = {});

// --- the caches a remapping unit keeps between the stages (VT-d 6.2) -----------------------------
// translate() consults them when given one; the reference pipeline (no cache) and the cached
// module therefore share every decision. Only successful, present entries are stored.
class TranslationCache {
 public:
  virtual ~TranslationCache() = default;
  // context cache (VT-d 6.2.1), by source id
  virtual const ContextEntry* find_context(uint16_t source_id) = 0;
  virtual void store_context(uint16_t source_id, const ContextEntry& entry) = 0;
  // PASID cache (VT-d 6.2.2), by source id and PASID
  virtual const PasidEntry* find_pasid(uint16_t source_id, uint32_t pasid) = 0;
  virtual void store_pasid(uint16_t source_id, uint32_t pasid, const PasidEntry& entry) = 0;
  // IOTLB (VT-d 6.2.3): a finished second-level or pass-through translation of the page holding
  // `addr`, tagged by domain and PASID (kNoPasid for requests without one)
  virtual bool find_translation(uint16_t did, uint32_t pasid, uint64_t addr, Translation& out) = 0;
  virtual void store_translation(uint16_t did, uint32_t pasid, uint64_t addr, const Translation& t) = 0;
  // paging-structure caches (VT-d 6.2.4): where a walk of `levels` for `addr` may resume
  virtual WalkStart find_walk_start(uint16_t did, uint32_t pasid, uint64_t addr, int levels) = 0;
  virtual void store_walk(uint16_t did, uint32_t pasid, uint64_t addr, const WalkTrace& trace, int levels) = 0;
};

// --- stage 5: the whole pipeline (VT-d 3.4, 3.9, 4.2) --------------------------------------------
// Legacy TT: 00 untranslated requests only; 01 also translation (ATS) and translated requests;
// 10 pass-through for untranslated requests. Otherwise 0xD. Scalable: translation and translated
// requests need DTE (0x44); requests with PASID need PASIDE (0x45) and TTM 01 (0x31); requests
// without PASID use RID_PASID (0 without ECAP.RPS; 0x48 when it lies beyond PDTS); SRE (0x5D) and
// ERE (0x5C) gate supervisor and execute requests; PGTT selects first-level, second-level, nested
// or pass-through; a translated output in 0xFEEx_xxxx faults 0x87. Translation requests (AT=01)
// return the translation with its rights and no access check; translated requests (AT=10) pass.
// fault_suppressed is set for qualified faults under FPD. With `cache`, cached context and PASID
// entries, translations and paging-structure entries are used and filled (first-level and nested
// translations use the paging-structure caches for their first-level walk but are not kept in the
// IOTLB: its entries do not carry the user/supervisor result).
Translation translate(const MemReader& mem, uint64_t rtaddr, const Capabilities& caps, const Request& req,
                      TranslationCache* cache = nullptr);

}  // namespace pciesim::vtd
