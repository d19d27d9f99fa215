// The GMMU walk (models/devices/gpu/gmmu_walk.h) over tables built in a map-backed memory:
// every page size (4 KiB, 64/128 KiB, 2 MiB, 512 MiB) with every aperture (video, system
// coherent and non-coherent, peer with its id) in v2 (Pascal, Ampere) and v3 (Hopper) side by
// side, the levels visited with their entry addresses, the dual PD0 rules, sparse entries, every
// permission fault, and bad input (VA too wide, bad PDB, pointers beyond an aperture, failed
// reads, PDEs invalid at each level) as faults with NVIDIA's fault types.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "devices/gpu/gmmu_walk.h"

using namespace pciesim::gpu;

namespace {

const GmmuFormat kPascal = GmmuFormat::v2_pascal();
const GmmuFormat kAmpere = GmmuFormat::v2_ampere();
const GmmuFormat kHopper = GmmuFormat::v3_hopper();

// Zero-filled memory per aperture; unknown words read as 0.
struct Mem : GmmuMemoryReader {
  std::map<std::pair<GmmuAperture, uint64_t>, uint64_t> words;
  std::set<std::pair<GmmuAperture, uint64_t>> failing;  // entry addresses whose read fails
  uint64_t vram_size = uint64_t{1} << 30;
  mutable unsigned reads = 0;

  bool read(GmmuAperture ap, uint64_t addr, uint64_t* out, unsigned count) const override {
    ++reads;
    if (failing.count({ap, addr})) return false;
    for (unsigned i = 0; i < count; ++i) {
      auto it = words.find({ap, addr + 8 * i});
      out[i] = it == words.end() ? 0 : it->second;
    }
    return true;
  }
  uint64_t aperture_size(GmmuAperture ap) const override {
    if (ap == GmmuAperture::Video) return vram_size;
    return is_system(ap) ? kGmmuSysmemLimit : 0;
  }
  uint64_t get(GmmuAperture ap, uint64_t addr) const {
    auto it = words.find({ap, addr});
    return it == words.end() ? 0 : it->second;
  }
  void set(GmmuAperture ap, uint64_t addr, uint64_t v) { words[{ap, addr}] = v; }
};

uint64_t idx(uint64_t va, const GmmuLevelBits& b) { return (va >> b.lo) & ((uint64_t{1} << (b.hi - b.lo + 1)) - 1); }

// Builds tables with the codecs, the way a driver would: one 4 KiB table per new directory.
struct Builder {
  const GmmuFormat& f;
  Mem& mem;
  GmmuAperture table_ap;
  uint64_t pdb;
  uint64_t next;

  Builder(const GmmuFormat& fmt, Mem& m, GmmuAperture ap = GmmuAperture::Video)
      : f(fmt), mem(m), table_ap(ap), pdb(0x10'0000), next(0x20'0000) {}
  uint64_t alloc() { return (next += kGmmuTableAlign) - kGmmuTableAlign; }

  // The PD0 entry address for va (creating the upper levels), or the PD1 entry with stop_at_pd1.
  uint64_t upper(uint64_t va, bool stop_at_pd1) {
    uint64_t table = pdb;
    GmmuAperture ap = table_ap;
    for (unsigned i = 0; i < f.upper_level_count(); ++i) {
      const GmmuLevelBits b = f.upper_level(i);
      const uint64_t entry = table + idx(va, b) * kGmmuPdeBytes;
      if (stop_at_pd1 && b.level == GmmuLevel::Pd1) return entry;
      GmmuPde pde = decode_pde(f, mem.get(ap, entry));
      if (pde.aperture == GmmuAperture::Invalid) {
        pde = {};
        pde.aperture = table_ap;
        pde.address = alloc();
        mem.set(ap, entry, *encode_pde(f, pde));
      }
      table = pde.address;
      ap = pde.aperture;
    }
    return table + idx(va, GmmuFormat::kPd0) * kGmmuDualPdeBytes;
  }
  GmmuDualPde pd0(uint64_t entry) { return decode_dual_pde(f, mem.get(table_ap, entry), mem.get(table_ap, entry + 8)); }
  void set_pd0(uint64_t entry, const GmmuDualPde& d) {
    const auto raw = encode_dual_pde(f, d);
    ASSERT_TRUE(raw.has_value());
    mem.set(table_ap, entry, (*raw)[0]);
    mem.set(table_ap, entry + 8, (*raw)[1]);
  }
  // Maps va with a page of `size` described by `pte`; returns the PTE's address.
  uint64_t map(uint64_t va, uint64_t size, const GmmuPte& pte) {
    const auto raw = encode_pte(f, pte);
    EXPECT_TRUE(raw.has_value());
    const uint64_t r = raw.value_or(0);
    if (size == kGmmu512MPage) {
      const uint64_t e = upper(va, true);
      mem.set(table_ap, e, r);
      return e;
    }
    const uint64_t e = upper(va, false);
    if (size == kGmmu2MPage) {
      mem.set(table_ap, e, r);
      mem.set(table_ap, e + 8, 0);
      return e;
    }
    GmmuDualPde d = pd0(e);
    const bool big = size != kGmmuSmallPage;
    GmmuPde& half = big ? d.big : d.small;
    if (half.aperture == GmmuAperture::Invalid) {
      half.aperture = table_ap;
      half.address = alloc();
      set_pd0(e, d);
    }
    const uint64_t pte_addr = half.address + idx(va, big ? f.big_pt() : GmmuFormat::kSmallPt) * kGmmuPteBytes;
    mem.set(table_ap, pte_addr, r);
    return pte_addr;
  }
};

// A VA with a non-zero index at every level of both versions.
constexpr uint64_t kVaV2 = (uint64_t{1} << 47) | (uint64_t{0x55} << 38) | (uint64_t{0x1aa} << 29) |
                           (uint64_t{0x5a} << 21) | (uint64_t{0x1b} << 16) | (uint64_t{0x3} << 12) | 0xabc;
constexpr uint64_t kVaV3 = (uint64_t{1} << 56) | (uint64_t{0x1a5} << 47) | (kVaV2 & ((uint64_t{1} << 47) - 1));
uint64_t va_for(const GmmuFormat& f) { return f.version == GmmuVersion::V3 ? kVaV3 : kVaV2; }
const char* name(const GmmuFormat& f) {
  if (f.version == GmmuVersion::V3) return "v3 hopper";
  return f.pd1_huge_pages ? "v2 ampere" : "v2 pascal";
}

GmmuPte page(GmmuAperture ap, uint64_t addr, uint8_t peer = 0) {
  GmmuPte p;
  p.valid = true;
  p.aperture = ap;
  p.address = addr;
  p.peer_id = peer;
  return p;
}

// A page base aligned for every size and inside every address field (v2 vid: 128 GiB).
constexpr uint64_t kPageBase = 0xa'0000'0000ull;

// --- every page size x every aperture x every format ---------------------------------------------
TEST(GmmuWalk, EveryPageSizeEveryApertureEveryFormat) {
  struct Size { uint64_t size; GmmuLevel leaf; };
  struct Ap { GmmuAperture ap; uint8_t peer; };
  const Ap aps[] = {{GmmuAperture::Video, 0}, {GmmuAperture::SysCoherent, 0},
                    {GmmuAperture::SysNonCoherent, 0}, {GmmuAperture::Peer, 5}};
  const GmmuFormat pascal128 = GmmuFormat::v2_pascal(17);
  int checked = 0;
  for (const GmmuFormat* f : {&kPascal, &pascal128, &kAmpere, &kHopper}) {
    std::vector<Size> sizes = {{kGmmuSmallPage, GmmuLevel::SmallPt},
                               {f->big_page_size(), GmmuLevel::BigPt},
                               {kGmmu2MPage, GmmuLevel::Pd0}};
    if (f->pd1_huge_pages) sizes.push_back({kGmmu512MPage, GmmuLevel::Pd1});
    for (const Size& s : sizes) {
      for (const Ap& a : aps) {
        const std::string what = std::string(name(*f)) + " page " + std::to_string(s.size >> 10) + " KiB " +
                                 to_string(a.ap);
        Mem mem;
        Builder b(*f, mem);
        const uint64_t va = va_for(*f);
        b.map(va, s.size, page(a.ap, kPageBase, a.peer));
        const GmmuWalkResult r = walk(*f, b.pdb, GmmuAperture::Video, va, {}, mem);
        ASSERT_TRUE(r.ok()) << what << ": " << to_string(r.fault.type) << " " << to_string(r.fault.detail);
        EXPECT_EQ(r.translation.address, kPageBase + (va & (s.size - 1))) << what;
        EXPECT_EQ(r.translation.page_size, s.size) << what;
        EXPECT_EQ(r.translation.aperture, a.ap) << what;
        EXPECT_EQ(r.translation.peer_id, a.peer) << what;
        EXPECT_EQ(r.translation.leaf, s.leaf) << what;
        // One read per level down to the leaf: upper levels (+ PD0, + the PT).
        unsigned expect_visits = f->upper_level_count() + (s.leaf == GmmuLevel::Pd1 ? 0 : 1) +
                                 (s.leaf == GmmuLevel::SmallPt || s.leaf == GmmuLevel::BigPt ? 1 : 0);
        EXPECT_EQ(r.visit_count, expect_visits) << what;
        EXPECT_EQ(mem.reads, expect_visits) << what;
        EXPECT_EQ(r.visits[r.visit_count - 1].level, s.leaf) << what;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 4 * (3 + 3 + 4 + 4));
}

// --- the levels visited, with their entry addresses ------------------------------------------------
TEST(GmmuWalk, VisitsEveryLevelWithEntryAddresses) {
  for (const GmmuFormat* f : {&kPascal, &kHopper}) {
    Mem mem;
    Builder b(*f, mem);
    const uint64_t va = va_for(*f);
    b.map(va, kGmmuSmallPage, page(GmmuAperture::Video, kPageBase));
    const GmmuWalkResult r = walk(*f, b.pdb, GmmuAperture::Video, va, {}, mem);
    ASSERT_TRUE(r.ok()) << name(*f);
    std::vector<GmmuLevel> expect;
    if (f->version == GmmuVersion::V3) expect.push_back(GmmuLevel::Pd4);
    for (GmmuLevel l : {GmmuLevel::Pd3, GmmuLevel::Pd2, GmmuLevel::Pd1, GmmuLevel::Pd0, GmmuLevel::SmallPt})
      expect.push_back(l);
    ASSERT_EQ(r.visit_count, expect.size()) << name(*f);
    uint64_t table = b.pdb;
    for (unsigned i = 0; i < r.visit_count; ++i) {
      const GmmuVisit& v = r.visits[i];
      EXPECT_EQ(v.level, expect[i]) << name(*f) << " visit " << i;
      EXPECT_EQ(v.aperture, GmmuAperture::Video);
      const bool pd0 = v.level == GmmuLevel::Pd0;
      EXPECT_EQ(v.bytes, pd0 ? 16 : 8);
      const GmmuLevelBits bits = i < f->upper_level_count() ? f->upper_level(i)
                                 : pd0                      ? GmmuFormat::kPd0
                                                            : GmmuFormat::kSmallPt;
      EXPECT_EQ(v.entry_address, table + idx(va, bits) * v.bytes) << name(*f) << " " << to_string(v.level);
      EXPECT_EQ(v.raw[0], mem.get(GmmuAperture::Video, v.entry_address));
      if (pd0) table = decode_dual_pde(*f, v.raw[0], v.raw[1]).small.address;
      else if (i < f->upper_level_count()) table = decode_pde(*f, v.raw[0]).address;
    }
    EXPECT_EQ(r.visits[0].entry_address, b.pdb + idx(va, f->upper_level(0)) * 8);
  }
}

// Tables in system memory (coherent and non-coherent) walk the same way.
TEST(GmmuWalk, TablesInSystemMemory) {
  for (GmmuAperture tap : {GmmuAperture::SysCoherent, GmmuAperture::SysNonCoherent}) {
    for (const GmmuFormat* f : {&kAmpere, &kHopper}) {
      Mem mem;
      Builder b(*f, mem, tap);
      const uint64_t va = va_for(*f);
      b.map(va, f->big_page_size(), page(GmmuAperture::Video, kPageBase));
      const GmmuWalkResult r = walk(*f, b.pdb, tap, va, {}, mem);
      ASSERT_TRUE(r.ok()) << name(*f) << " " << to_string(tap);
      for (unsigned i = 0; i < r.visit_count; ++i) EXPECT_EQ(r.visits[i].aperture, tap);
      EXPECT_EQ(r.translation.page_size, f->big_page_size());
    }
  }
}

// --- permissions ----------------------------------------------------------------------------------
TEST(GmmuWalk, PermissionFaults) {
  struct Row {
    const char* name;
    bool priv, ro, noatomic;
    GmmuAccess access;
    bool ok;
    GmmuFaultType type;
  };
  const GmmuAccess rd{GmmuAccessType::Read, false}, wr{GmmuAccessType::Write, false},
      at{GmmuAccessType::Atomic, false}, prd{GmmuAccessType::Read, true}, pwr{GmmuAccessType::Write, true};
  const Row rows[] = {
      {"plain page: read", false, false, false, rd, true, {}},
      {"plain page: write", false, false, false, wr, true, {}},
      {"plain page: atomic", false, false, false, at, true, {}},
      {"read-only: read", false, true, false, rd, true, {}},
      {"read-only: write", false, true, false, wr, false, GmmuFaultType::RoViolation},
      {"read-only: atomic", false, true, false, at, false, GmmuFaultType::RoViolation},
      {"atomic disable: write", false, false, true, wr, true, {}},
      {"atomic disable: atomic", false, false, true, at, false, GmmuFaultType::AtomicViolation},
      {"privileged: user read", true, false, false, rd, false, GmmuFaultType::PrivViolation},
      {"privileged: privileged read", true, false, false, prd, true, {}},
      {"privileged: privileged write", true, false, false, pwr, true, {}},
      {"privileged read-only: user write", true, true, false, wr, false, GmmuFaultType::PrivViolation},
      {"privileged read-only: privileged write", true, true, false, pwr, false, GmmuFaultType::RoViolation},
  };
  for (const GmmuFormat* f : {&kPascal, &kHopper}) {
    for (uint64_t size : {kGmmuSmallPage, kGmmu2MPage}) {
      for (const Row& row : rows) {
        const std::string what = std::string(name(*f)) + " " + std::to_string(size >> 10) + " KiB " + row.name;
        Mem mem;
        Builder b(*f, mem);
        GmmuPte p = page(GmmuAperture::SysCoherent, kPageBase);
        p.privileged = row.priv;
        p.read_only = row.ro;
        p.atomic_disable = row.noatomic;
        b.map(va_for(*f), size, p);
        const GmmuWalkResult r = walk(*f, b.pdb, GmmuAperture::Video, va_for(*f), row.access, mem);
        EXPECT_EQ(r.ok(), row.ok) << what;
        if (!row.ok) {
          EXPECT_EQ(r.fault.type, row.type) << what << ": got " << to_string(r.fault.type);
          EXPECT_EQ(r.fault.level, size == kGmmu2MPage ? GmmuLevel::Pd0 : GmmuLevel::SmallPt) << what;
        } else {
          EXPECT_EQ(r.translation.privileged, row.priv) << what;
          EXPECT_EQ(r.translation.read_only, row.ro) << what;
          EXPECT_EQ(r.translation.atomic_disable, row.noatomic) << what;
        }
      }
    }
  }
}

// --- the dual PD0 entry ---------------------------------------------------------------------------
TEST(GmmuWalk, DualPd0BigAndSmallTables) {
  for (const GmmuFormat* f : {&kPascal, &kHopper}) {
    const uint64_t va = va_for(*f);
    struct Row {
      const char* name;
      GmmuPte big;    // what the big PT holds for va
      bool small_pt;  // a small PT with a valid 4 KiB PTE exists too
      GmmuWalkStatus status;
      uint64_t page_size;
      GmmuLevel level;  // leaf or fault level
    };
    GmmuPte invalid, sparse, no4k;
    sparse.invalid_kind = GmmuInvalidKind::Sparse;
    no4k.invalid_kind = GmmuInvalidKind::NoValid4K;
    const GmmuPte big_valid = page(GmmuAperture::Video, kPageBase + 0x1000'0000);
    const Row rows[] = {
        {"big valid wins over small", big_valid, true, GmmuWalkStatus::Translated, f->big_page_size(), GmmuLevel::BigPt},
        {"big invalid: small decides", invalid, true, GmmuWalkStatus::Translated, kGmmuSmallPage, GmmuLevel::SmallPt},
        {"big sparse", sparse, true, GmmuWalkStatus::Sparse, f->big_page_size(), GmmuLevel::BigPt},
        {"big no-valid-4K", no4k, true, GmmuWalkStatus::Fault, 0, GmmuLevel::BigPt},
        {"big invalid, no small PT", invalid, false, GmmuWalkStatus::Fault, 0, GmmuLevel::BigPt},
        {"big only, valid", big_valid, false, GmmuWalkStatus::Translated, f->big_page_size(), GmmuLevel::BigPt},
    };
    for (const Row& row : rows) {
      const std::string what = std::string(name(*f)) + " " + row.name;
      Mem mem;
      Builder b(*f, mem);
      if (row.small_pt) b.map(va, kGmmuSmallPage, page(GmmuAperture::Video, kPageBase));
      // The big PT exists; the entry for va is row.big.
      const uint64_t e = b.map(va, f->big_page_size(), big_valid);
      mem.set(GmmuAperture::Video, e, *encode_pte(*f, row.big));
      const GmmuWalkResult r = walk(*f, b.pdb, GmmuAperture::Video, va, {}, mem);
      EXPECT_EQ(r.status, row.status) << what;
      if (r.status == GmmuWalkStatus::Fault) {
        EXPECT_EQ(r.fault.type, GmmuFaultType::Pte) << what;
        EXPECT_EQ(r.fault.level, row.level) << what;
      } else {
        EXPECT_EQ(r.translation.page_size, row.page_size) << what;
        EXPECT_EQ(r.translation.leaf, row.level) << what;
      }
    }
  }
}

// --- sparse entries: no page, no fault ------------------------------------------------------------
TEST(GmmuWalk, SparseEntriesAtEveryLevel) {
  for (const GmmuFormat* f : {&kPascal, &kHopper}) {
    const uint64_t va = va_for(*f);
    // Upper levels: a sparse PDE at each level covers that level's entry range.
    for (unsigned i = 0; i < f->upper_level_count(); ++i) {
      Mem mem;
      Builder b(*f, mem);
      b.map(va, kGmmuSmallPage, page(GmmuAperture::Video, kPageBase));
      const GmmuWalkResult ok = walk(*f, b.pdb, GmmuAperture::Video, va, {}, mem);
      ASSERT_TRUE(ok.ok());
      GmmuPde sparse;
      sparse.volatile_ = true;
      mem.set(GmmuAperture::Video, ok.visits[i].entry_address, *encode_pde(*f, sparse));
      const GmmuWalkResult r = walk(*f, b.pdb, GmmuAperture::Video, va, {}, mem);
      EXPECT_EQ(r.status, GmmuWalkStatus::Sparse) << name(*f) << " level " << i;
      EXPECT_EQ(r.translation.page_size, uint64_t{1} << f->upper_level(i).lo) << name(*f) << " level " << i;
      EXPECT_EQ(r.visit_count, i + 1);
    }
    // PD0: both halves invalid, VOL_BIG set.
    Mem mem;
    Builder b(*f, mem);
    const uint64_t e = b.upper(va, false);
    GmmuDualPde d;
    d.big.volatile_ = true;
    b.set_pd0(e, d);
    GmmuWalkResult r = walk(*f, b.pdb, GmmuAperture::Video, va, {}, mem);
    EXPECT_EQ(r.status, GmmuWalkStatus::Sparse) << name(*f);
    EXPECT_EQ(r.translation.page_size, kGmmu2MPage);
    // A sparse small PTE.
    GmmuPte sp;
    sp.invalid_kind = GmmuInvalidKind::Sparse;
    Mem mem2;
    Builder b2(*f, mem2);
    b2.map(va, kGmmuSmallPage, sp);
    r = walk(*f, b2.pdb, GmmuAperture::Video, va, {}, mem2);
    EXPECT_EQ(r.status, GmmuWalkStatus::Sparse) << name(*f);
    EXPECT_EQ(r.translation.page_size, kGmmuSmallPage);
  }
}

// --- invalid entries at every level ---------------------------------------------------------------
TEST(GmmuWalk, InvalidEntryAtEveryLevelFaultsThere) {
  for (const GmmuFormat* f : {&kPascal, &kHopper}) {
    const uint64_t va = va_for(*f);
    Mem mem;
    Builder b(*f, mem);
    b.map(va, kGmmuSmallPage, page(GmmuAperture::Video, kPageBase));
    const GmmuWalkResult ok = walk(*f, b.pdb, GmmuAperture::Video, va, {}, mem);
    ASSERT_TRUE(ok.ok());
    for (unsigned i = 0; i < ok.visit_count; ++i) {
      Mem m = mem;
      m.set(GmmuAperture::Video, ok.visits[i].entry_address, 0);
      if (ok.visits[i].bytes == 16) m.set(GmmuAperture::Video, ok.visits[i].entry_address + 8, 0);
      const GmmuWalkResult r = walk(*f, b.pdb, GmmuAperture::Video, va, {}, m);
      const GmmuLevel level = ok.visits[i].level;
      const std::string what = std::string(name(*f)) + " " + to_string(level);
      ASSERT_TRUE(r.faulted()) << what;
      EXPECT_EQ(r.fault.type, level == GmmuLevel::SmallPt ? GmmuFaultType::Pte : GmmuFaultType::Pde) << what;
      EXPECT_EQ(r.fault.detail, GmmuFaultDetail::EntryInvalid) << what;
      EXPECT_EQ(r.fault.level, level) << what;
      EXPECT_EQ(r.visit_count, i + 1) << what;
    }
  }
}

// --- large leaves where the format has none -------------------------------------------------------
TEST(GmmuWalk, LeafAtALevelWithoutLargePagesFaults) {
  struct Row { const GmmuFormat* f; GmmuLevel level; };
  const Row rows[] = {{&kPascal, GmmuLevel::Pd1}, {&kPascal, GmmuLevel::Pd2}, {&kPascal, GmmuLevel::Pd3},
                      {&kAmpere, GmmuLevel::Pd2}, {&kHopper, GmmuLevel::Pd2}, {&kHopper, GmmuLevel::Pd4}};
  for (const Row& row : rows) {
    const uint64_t va = va_for(*row.f);
    Mem mem;
    Builder b(*row.f, mem);
    b.map(va, kGmmuSmallPage, page(GmmuAperture::Video, kPageBase));
    const GmmuWalkResult ok = walk(*row.f, b.pdb, GmmuAperture::Video, va, {}, mem);
    ASSERT_TRUE(ok.ok());
    for (unsigned i = 0; i < ok.visit_count; ++i) {
      if (ok.visits[i].level != row.level) continue;
      mem.set(GmmuAperture::Video, ok.visits[i].entry_address, *encode_pte(*row.f, page(GmmuAperture::Video, 0)));
    }
    const GmmuWalkResult r = walk(*row.f, b.pdb, GmmuAperture::Video, va, {}, mem);
    ASSERT_TRUE(r.faulted()) << name(*row.f) << " " << to_string(row.level);
    EXPECT_EQ(r.fault.type, GmmuFaultType::Pde);
    EXPECT_EQ(r.fault.detail, GmmuFaultDetail::LeafNotAllowed);
    EXPECT_EQ(r.fault.level, row.level);
  }
}

// --- bad input: faults, never a crash or an out-of-aperture read ------------------------------------
TEST(GmmuWalk, BadInputFaults) {
  struct Row {
    const char* name;
    const GmmuFormat* f;
    std::function<void(Mem&, Builder&)> spoil;  // after mapping a 4 KiB video page
    uint64_t pdb;                                 // 0: the builder's
    GmmuAperture pdb_ap;
    uint64_t va;                                  // 0: va_for(f)
    GmmuFaultType type;
    GmmuFaultDetail detail;
    GmmuLevel level;
  };
  auto none = [](Mem&, Builder&) {};
  const Row rows[] = {
      {"v2 VA bit 49", &kPascal, none, 0, GmmuAperture::Video, uint64_t{1} << 49, GmmuFaultType::VaLimitViolation,
       GmmuFaultDetail::VaBeyondFormat, GmmuLevel::Pdb},
      {"v3 VA bit 57", &kHopper, none, 0, GmmuAperture::Video, uint64_t{1} << 57, GmmuFaultType::VaLimitViolation,
       GmmuFaultDetail::VaBeyondFormat, GmmuLevel::Pdb},
      {"PDB aperture invalid", &kPascal, none, 0, GmmuAperture::Invalid, 0, GmmuFaultType::UnboundInstBlock,
       GmmuFaultDetail::PdbApertureInvalid, GmmuLevel::Pdb},
      {"PDB in peer memory", &kHopper, none, 0, GmmuAperture::Peer, 0, GmmuFaultType::UnsupportedAperture,
       GmmuFaultDetail::PdbAperturePeer, GmmuLevel::Pdb},
      {"PDB misaligned", &kPascal, none, 0x10'0008, GmmuAperture::Video, 0, GmmuFaultType::UnboundInstBlock,
       GmmuFaultDetail::PdbMisaligned, GmmuLevel::Pdb},
      {"PDB beyond VRAM", &kHopper, none, uint64_t{1} << 31, GmmuAperture::Video, 0, GmmuFaultType::Pde,
       GmmuFaultDetail::TableOutOfRange, GmmuLevel::Pd4},
      {"PDB beyond the sysmem limit", &kPascal, none, kGmmuSysmemLimit, GmmuAperture::SysCoherent, 0,
       GmmuFaultType::Pde, GmmuFaultDetail::TableOutOfRange, GmmuLevel::Pd3},
      {"VRAM smaller than the PD2 pointer", &kPascal, [](Mem& m, Builder&) { m.vram_size = 0x20'0000; }, 0,
       GmmuAperture::Video, 0, GmmuFaultType::Pde, GmmuFaultDetail::TableOutOfRange, GmmuLevel::Pd2},
      {"small PT beyond VRAM", &kHopper, [](Mem& m, Builder& b) { m.vram_size = b.next - kGmmuTableAlign; }, 0,
       GmmuAperture::Video, 0, GmmuFaultType::Pte, GmmuFaultDetail::TableOutOfRange, GmmuLevel::SmallPt},
      {"PD1 read fails", &kPascal,
       [](Mem& m, Builder& b) {
         const uint64_t va = va_for(b.f);
         m.failing.insert({GmmuAperture::Video, b.upper(va, true)});
       },
       0, GmmuAperture::Video, 0, GmmuFaultType::Pde, GmmuFaultDetail::TableReadFailed, GmmuLevel::Pd1},
      {"v3 invalid PTE (mapping nowhere)", &kHopper,
       [](Mem& m, Builder& b) {
         GmmuPte p;
         p.invalid_kind = GmmuInvalidKind::MappingNowhere;
         m.set(GmmuAperture::Video, b.map(va_for(b.f), kGmmuSmallPage, page(GmmuAperture::Video, 0)),
               *encode_pte(b.f, p));
       },
       0, GmmuAperture::Video, 0, GmmuFaultType::Pte, GmmuFaultDetail::EntryInvalid, GmmuLevel::SmallPt},
  };
  for (const Row& row : rows) {
    Mem mem;
    Builder b(*row.f, mem);
    const uint64_t va = row.va ? row.va : va_for(*row.f);
    b.map(va_for(*row.f), kGmmuSmallPage, page(GmmuAperture::Video, kPageBase));
    row.spoil(mem, b);
    mem.reads = 0;
    const GmmuWalkResult r = walk(*row.f, row.pdb ? row.pdb : b.pdb, row.pdb_ap, va, {}, mem);
    ASSERT_TRUE(r.faulted()) << row.name;
    EXPECT_EQ(r.fault.type, row.type) << row.name << ": got " << to_string(r.fault.type);
    EXPECT_EQ(r.fault.detail, row.detail) << row.name << ": got " << to_string(r.fault.detail);
    EXPECT_EQ(r.fault.level, row.level) << row.name << ": got " << to_string(r.fault.level);
    if (row.detail == GmmuFaultDetail::TableOutOfRange || row.level == GmmuLevel::Pdb) {
      // The walk stopped before reading: every read it made was a visit, none out of range.
      EXPECT_EQ(mem.reads, r.visit_count) << row.name;
    }
  }
}

// A large page's PTE address bits below the page size are ignored.
TEST(GmmuWalk, LargePageIgnoresLowAddressBits) {
  for (const GmmuFormat* f : {&kAmpere, &kHopper}) {
    Mem mem;
    Builder b(*f, mem);
    const uint64_t va = va_for(*f);
    b.map(va, kGmmu2MPage, page(GmmuAperture::Video, kPageBase + 0x5000));
    const GmmuWalkResult r = walk(*f, b.pdb, GmmuAperture::Video, va, {}, mem);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.translation.address, kPageBase + (va & (kGmmu2MPage - 1))) << name(*f);
  }
}

// Garbage tables: every word is a hash of its address (so pointers land anywhere, in any
// aperture, with any flags). The walk must never read outside an aperture, never read more than
// one entry per level, and every translation must have a page size the format has.
struct GarbageMem : GmmuMemoryReader {
  uint64_t seed = 0;
  uint64_t vram_size = uint64_t{1} << 32;
  mutable unsigned out_of_range = 0, reads = 0;
  static uint64_t mix(uint64_t x) {  // splitmix64 finaliser
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
  bool read(GmmuAperture ap, uint64_t addr, uint64_t* out, unsigned count) const override {
    ++reads;
    if (count < 1 || count > 2 || addr + 8 * count > aperture_size(ap) || addr + 8 * count < addr) ++out_of_range;
    for (unsigned i = 0; i < count; ++i) {
      uint64_t w = mix(seed ^ (addr + 8 * i) ^ (uint64_t(ap) << 60));
      // Keep pointers often inside VRAM so walks go deep: clear high address bits half the time.
      if (w & 0x100) w &= 0xff00'0000'3fff'ffffull;
      out[i] = w;
    }
    return true;
  }
  uint64_t aperture_size(GmmuAperture ap) const override {
    if (ap == GmmuAperture::Video) return vram_size;
    return is_system(ap) ? kGmmuSysmemLimit : 0;
  }
};

TEST(GmmuWalk, GarbageTablesNeverReadOutsideAnAperture) {
  for (const GmmuFormat* f : {&kPascal, &kAmpere, &kHopper}) {
    GarbageMem mem;
    unsigned translated = 0, deepest = 0;
    for (uint64_t i = 0; i < 20000; ++i) {
      mem.seed = GarbageMem::mix(i);
      const uint64_t va = GarbageMem::mix(i + 1) >> (64 - f->va_bits);
      const uint64_t pdb = (GarbageMem::mix(i + 2) & 0xffff'f000ull) % mem.vram_size;
      const GmmuAccess access{static_cast<GmmuAccessType>(i % 3), (i & 4) != 0};
      mem.reads = 0;
      const GmmuWalkResult r = walk(*f, pdb, GmmuAperture::Video, va, access, mem);
      ASSERT_LE(mem.reads, f->upper_level_count() + 3u) << name(*f) << " walk " << i;
      ASSERT_LE(r.visit_count, mem.reads);
      deepest = std::max<unsigned>(deepest, r.visit_count);
      if (r.ok()) {
        ++translated;
        const uint64_t s = r.translation.page_size;
        EXPECT_TRUE(s == kGmmuSmallPage || s == f->big_page_size() || s == kGmmu2MPage ||
                    (s == kGmmu512MPage && f->pd1_huge_pages))
            << name(*f) << " page size " << s;
        EXPECT_EQ(r.translation.address & (s - 1), va & (s - 1));
      }
    }
    EXPECT_EQ(mem.out_of_range, 0u) << name(*f);
    EXPECT_GT(translated, 0u) << name(*f);  // the garbage does reach leaves
    EXPECT_GE(deepest, f->upper_level_count() + 2u) << name(*f);  // ... through PD0 and a PT
  }
}

}  // namespace
