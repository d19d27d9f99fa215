// GMMU entry codecs (models/devices/gpu/gmmu_format.h): golden raw values worked out by hand from
// hardware-facts 4.2 / 4.3 (so an encoder and a decoder cannot agree on a wrong layout), round
// trips of every field for v2 and v3 side by side, the encodings the formats cannot express, the
// index bits of every level, and the instance block's PDB words.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "devices/gpu/gmmu_format.h"

using namespace pciesim::gpu;

namespace {

const GmmuFormat kV2 = GmmuFormat::v2_pascal();
const GmmuFormat kV3 = GmmuFormat::v3_hopper();

GmmuPte pte(GmmuAperture ap, uint64_t addr) {
  GmmuPte p;
  p.valid = true;
  p.aperture = ap;
  p.address = addr;
  return p;
}
GmmuPde pde(GmmuAperture ap, uint64_t addr) {
  GmmuPde p;
  p.aperture = ap;
  p.address = addr;
  return p;
}

// --- index bits (4.1) ------------------------------------------------------------------------------
TEST(GmmuFormat, LevelIndexBitsPerVersion) {
  struct Row { const GmmuFormat* f; unsigned i; GmmuLevel level; unsigned hi, lo; };
  const Row rows[] = {
      {&kV2, 0, GmmuLevel::Pd3, 48, 47}, {&kV2, 1, GmmuLevel::Pd2, 46, 38}, {&kV2, 2, GmmuLevel::Pd1, 37, 29},
      {&kV3, 0, GmmuLevel::Pd4, 56, 56}, {&kV3, 1, GmmuLevel::Pd3, 55, 47}, {&kV3, 2, GmmuLevel::Pd2, 46, 38},
      {&kV3, 3, GmmuLevel::Pd1, 37, 29},
  };
  for (const Row& r : rows) {
    const GmmuLevelBits b = r.f->upper_level(r.i);
    EXPECT_EQ(b.level, r.level) << to_string(r.level);
    EXPECT_EQ(b.hi, r.hi) << to_string(r.level);
    EXPECT_EQ(b.lo, r.lo) << to_string(r.level);
  }
  EXPECT_EQ(kV2.upper_level_count(), 3u);
  EXPECT_EQ(kV3.upper_level_count(), 4u);
  EXPECT_EQ(kV2.va_bits, 49u);
  EXPECT_EQ(kV3.va_bits, 57u);
  EXPECT_EQ(GmmuFormat::kPd0.hi, 28u);
  EXPECT_EQ(GmmuFormat::kPd0.lo, 21u);
  EXPECT_EQ(GmmuFormat::kSmallPt.lo, 12u);
  EXPECT_EQ(kV2.big_pt().lo, 16u);
  EXPECT_EQ(GmmuFormat::v2_pascal(17).big_pt().lo, 17u);
  EXPECT_FALSE(kV2.pd1_huge_pages);
  EXPECT_TRUE(GmmuFormat::v2_ampere().pd1_huge_pages);
  EXPECT_TRUE(kV3.pd1_huge_pages);
}

// --- golden values ---------------------------------------------------------------------------------
TEST(GmmuFormat, PteGoldenValues) {
  struct Row { const char* name; const GmmuFormat* f; GmmuPte pte; uint64_t raw; };
  std::vector<Row> rows;
  {  // v2: VALID 0, PRIV 5, RO 6, vid address >> 12 at 32:8
    GmmuPte p = pte(GmmuAperture::Video, 0x1234'5000);
    p.privileged = p.read_only = true;
    rows.push_back({"v2 vid priv ro", &kV2, p, 0x0123'4561});
  }
  {  // v2: aperture 1 peer, VOL 3, ATOMIC_DISABLE 7, peer 35:33, KIND 63:56
    GmmuPte p = pte(GmmuAperture::Peer, 0x8'0000'0000);
    p.peer_id = 5;
    p.volatile_ = p.atomic_disable = true;
    p.kind = 0xfe;
    rows.push_back({"v2 peer 5 vol atomic-disable kind", &kV2, p, 0xfe00'000a'8000'008bull});
  }
  // v2: aperture 3 sys non-coherent, sysmem address >> 12 at 53:8
  rows.push_back({"v2 sys non-coherent", &kV2, pte(GmmuAperture::SysNonCoherent, 0x1234'5678'9a000ull),
                  0x1234'5678'9a07ull});
  rows.push_back({"v2 sys coherent", &kV2, pte(GmmuAperture::SysCoherent, 0x1000), 0x105});
  {  // v3: PCF 7:3 = RO | no-atomic (0x0c), KIND 11:8, vid address in place 39:12
    GmmuPte p = pte(GmmuAperture::Video, 0x12'3456'7000ull);
    p.read_only = p.atomic_disable = true;
    p.kind = 6;
    rows.push_back({"v3 vid ro noatomic kind 6", &kV3, p, 0x12'3456'7661ull});
  }
  {  // v3: peer 63:61, address 51:12
    GmmuPte p = pte(GmmuAperture::Peer, 0xa'bcde'f000ull);
    p.peer_id = 7;
    rows.push_back({"v3 peer 7", &kV3, p, 0xe000'000a'bcde'f003ull});
  }
  {  // v3: PCF 0x1f privileged RO no-atomic uncached ACD
    GmmuPte p = pte(GmmuAperture::SysCoherent, 0x1000);
    p.volatile_ = p.privileged = p.read_only = p.atomic_disable = p.access_counting_disabled = true;
    rows.push_back({"v3 pcf 0x1f", &kV3, p, 0x10fd});
  }
  auto invalid = [](GmmuInvalidKind k) {
    GmmuPte p;
    p.invalid_kind = k;
    return p;
  };
  rows.push_back({"v2 invalid", &kV2, invalid(GmmuInvalidKind::Invalid), 0});
  rows.push_back({"v2 sparse (VOL)", &kV2, invalid(GmmuInvalidKind::Sparse), 0x8});
  rows.push_back({"v2 no valid 4K (PRIV)", &kV2, invalid(GmmuInvalidKind::NoValid4K), 0x20});
  rows.push_back({"v3 invalid (PCF 0)", &kV3, invalid(GmmuInvalidKind::Invalid), 0});
  rows.push_back({"v3 sparse (PCF 1)", &kV3, invalid(GmmuInvalidKind::Sparse), 0x8});
  rows.push_back({"v3 mapping nowhere (PCF 2)", &kV3, invalid(GmmuInvalidKind::MappingNowhere), 0x10});
  rows.push_back({"v3 no valid 4K (PCF 3)", &kV3, invalid(GmmuInvalidKind::NoValid4K), 0x18});
  for (const Row& r : rows) {
    const auto raw = encode_pte(*r.f, r.pte);
    ASSERT_TRUE(raw.has_value()) << r.name;
    EXPECT_EQ(*raw, r.raw) << r.name << std::hex << " got 0x" << *raw;
    EXPECT_EQ(decode_pte(*r.f, r.raw), r.pte) << r.name;
  }
}

TEST(GmmuFormat, PdeAndDualPdeGoldenValues) {
  struct Row { const char* name; const GmmuFormat* f; GmmuPde pde; uint64_t raw; };
  GmmuPde vol_noats = pde(GmmuAperture::Video, 0x2000);
  vol_noats.volatile_ = vol_noats.no_ats = true;
  GmmuPde v3_sys = pde(GmmuAperture::SysNonCoherent, uint64_t{1} << 51);
  v3_sys.volatile_ = v3_sys.no_ats = true;
  GmmuPde sparse;
  sparse.volatile_ = true;
  const Row rows[] = {
      // v2: aperture 2:1 (1 vid), address >> 12 at 8, VOL 3, NO_ATS 5
      {"v2 vid", &kV2, pde(GmmuAperture::Video, 0x2000), 0x202},
      {"v2 vid vol no-ats", &kV2, vol_noats, 0x22a},
      {"v2 sys coherent", &kV2, pde(GmmuAperture::SysCoherent, 0x40'0000'0000ull), 0x4'0000'0004ull},
      {"v2 sparse (aperture 0, VOL)", &kV2, sparse, 0x8},
      // v3: address in place 51:12, PCF 5:3 (bit 0 uncached, bit 1 no ATS)
      {"v3 sys non-coherent uncached no-ats", &kV3, v3_sys, 0x8'0000'0000'001eull},
      {"v3 vid", &kV3, pde(GmmuAperture::Video, 0x7000), 0x7002},
      {"v3 sparse (PCF 1)", &kV3, sparse, 0x8},
  };
  for (const Row& r : rows) {
    const auto raw = encode_pde(*r.f, r.pde);
    ASSERT_TRUE(raw.has_value()) << r.name;
    EXPECT_EQ(*raw, r.raw) << r.name << std::hex << " got 0x" << *raw;
    EXPECT_EQ(decode_pde(*r.f, r.raw), r.pde) << r.name;
  }

  struct DualRow { const char* name; const GmmuFormat* f; GmmuDualPde d; uint64_t lo, hi; };
  GmmuDualPde v2d, v3d;
  v2d.big = pde(GmmuAperture::Video, 0x1'0100);  // big address >> 8 at 4 (v2), in place 51:8 (v3)
  v2d.small = pde(GmmuAperture::SysNonCoherent, 0x3000);
  v2d.small.volatile_ = true;                    // VOL_SMALL 67 (v2) / PCF_SMALL bit 0 at 67 (v3)
  v3d.big = pde(GmmuAperture::Video, 0x1'0100);
  v3d.small = pde(GmmuAperture::SysCoherent, 0x5000);
  v3d.small.volatile_ = true;
  const DualRow duals[] = {
      {"v2 dual", &kV2, v2d, 0x1012, 0x30e},
      {"v3 dual", &kV3, v3d, 0x1'0102, 0x500c},
  };
  for (const DualRow& r : duals) {
    const auto raw = encode_dual_pde(*r.f, r.d);
    ASSERT_TRUE(raw.has_value()) << r.name;
    EXPECT_EQ((*raw)[0], r.lo) << r.name << std::hex << " got 0x" << (*raw)[0];
    EXPECT_EQ((*raw)[1], r.hi) << r.name << std::hex << " got 0x" << (*raw)[1];
    EXPECT_EQ(decode_dual_pde(*r.f, r.lo, r.hi), r.d) << r.name;
  }
}

// --- round trips: every field on its own changes the raw entry and comes back ------------------------
TEST(GmmuFormat, PteRoundTripEveryField) {
  struct Field { const char* name; bool v2, v3; std::function<void(GmmuPte&)> set; };
  const Field fields[] = {
      {"volatile", true, true, [](GmmuPte& p) { p.volatile_ = true; }},
      {"privileged", true, true, [](GmmuPte& p) { p.privileged = true; }},
      {"read_only", true, true, [](GmmuPte& p) { p.read_only = true; }},
      {"atomic_disable", true, true, [](GmmuPte& p) { p.atomic_disable = true; }},
      {"access_counting_disabled", false, true, [](GmmuPte& p) { p.access_counting_disabled = true; }},
      {"kind", true, true, [](GmmuPte& p) { p.kind = 0x5; }},
      {"aperture sys coherent", true, true, [](GmmuPte& p) { p.aperture = GmmuAperture::SysCoherent; }},
      {"aperture sys non-coherent", true, true, [](GmmuPte& p) { p.aperture = GmmuAperture::SysNonCoherent; }},
      {"aperture peer + id", true, true, [](GmmuPte& p) { p.aperture = GmmuAperture::Peer; p.peer_id = 6; }},
      {"address", true, true, [](GmmuPte& p) { p.address = 0x1f'ffff'f000ull; }},
      {"sys address high", true, true,
       [](GmmuPte& p) { p.aperture = GmmuAperture::SysCoherent; p.address = 0xf'ffff'ffff'f000ull; }},
  };
  for (const GmmuFormat* f : {&kV2, &kV3}) {
    const GmmuPte base = pte(GmmuAperture::Video, 0x1000);
    const uint64_t base_raw = *encode_pte(*f, base);
    for (const Field& fl : fields) {
      const bool supported = f->version == GmmuVersion::V2 ? fl.v2 : fl.v3;
      GmmuPte p = base;
      fl.set(p);
      const auto raw = encode_pte(*f, p);
      const std::string what = std::string(f->version == GmmuVersion::V2 ? "v2 " : "v3 ") + fl.name;
      if (!supported) {
        EXPECT_FALSE(raw.has_value()) << what;
        continue;
      }
      ASSERT_TRUE(raw.has_value()) << what;
      EXPECT_NE(*raw, base_raw) << what;
      EXPECT_EQ(decode_pte(*f, *raw), p) << what;
    }
  }
}

TEST(GmmuFormat, PdeRoundTripEveryField) {
  struct Field { const char* name; bool v2, v3; std::function<void(GmmuPde&)> set; };
  const Field fields[] = {
      {"is_pte", true, true, [](GmmuPde& p) { p.is_pte = true; }},
      {"volatile", true, true, [](GmmuPde& p) { p.volatile_ = true; }},
      {"no_ats", true, true, [](GmmuPde& p) { p.no_ats = true; }},
      {"peer field", true, false, [](GmmuPde& p) { p.peer = 3; }},
      {"aperture sys coherent", true, true, [](GmmuPde& p) { p.aperture = GmmuAperture::SysCoherent; }},
      {"aperture sys non-coherent", true, true, [](GmmuPde& p) { p.aperture = GmmuAperture::SysNonCoherent; }},
      {"address", true, true, [](GmmuPde& p) { p.address = 0x1f'ffff'f000ull; }},
  };
  for (const GmmuFormat* f : {&kV2, &kV3}) {
    const GmmuPde base = pde(GmmuAperture::Video, 0x1000);
    const uint64_t base_raw = *encode_pde(*f, base);
    for (const Field& fl : fields) {
      GmmuPde p = base;
      fl.set(p);
      const auto raw = encode_pde(*f, p);
      const std::string what = std::string(f->version == GmmuVersion::V2 ? "v2 " : "v3 ") + fl.name;
      if (!(f->version == GmmuVersion::V2 ? fl.v2 : fl.v3)) {
        EXPECT_FALSE(raw.has_value()) << what;
        continue;
      }
      ASSERT_TRUE(raw.has_value()) << what;
      EXPECT_NE(*raw, base_raw) << what;
      EXPECT_EQ(decode_pde(*f, *raw), p) << what;
    }
    // Each half of a dual PDE on its own.
    GmmuDualPde d;
    d.big = pde(GmmuAperture::Video, 0x100);
    d.small = pde(GmmuAperture::Video, 0x2000);
    const auto dbase = *encode_dual_pde(*f, d);
    struct DualField { const char* name; std::function<void(GmmuDualPde&)> set; };
    const DualField dfields[] = {
        {"is_pte", [](GmmuDualPde& x) { x.is_pte = true; }},
        {"big aperture", [](GmmuDualPde& x) { x.big.aperture = GmmuAperture::SysNonCoherent; }},
        {"big volatile", [](GmmuDualPde& x) { x.big.volatile_ = true; }},
        {"big address", [](GmmuDualPde& x) { x.big.address = 0x1f'ffff'ff00ull; }},
        {"small aperture", [](GmmuDualPde& x) { x.small.aperture = GmmuAperture::SysCoherent; }},
        {"small volatile", [](GmmuDualPde& x) { x.small.volatile_ = true; }},
        {"small address", [](GmmuDualPde& x) { x.small.address = 0x1f'ffff'f000ull; }},
    };
    for (const DualField& fl : dfields) {
      GmmuDualPde x = d;
      fl.set(x);
      const auto raw = encode_dual_pde(*f, x);
      const std::string what = std::string(f->version == GmmuVersion::V2 ? "v2 dual " : "v3 dual ") + fl.name;
      ASSERT_TRUE(raw.has_value()) << what;
      EXPECT_NE(*raw, dbase) << what;
      EXPECT_EQ(decode_dual_pde(*f, (*raw)[0], (*raw)[1]), x) << what;
    }
    // NO_ATS of the big half: v3 PCF_BIG bit 1. v2 bit 5 lies inside the big address field
    // (53:4), so it is encodable only without a big table.
    GmmuDualPde bats = d;
    bats.big.no_ats = true;
    EXPECT_EQ(encode_dual_pde(*f, bats).has_value(), f->version == GmmuVersion::V3);
    bats.big.aperture = GmmuAperture::Invalid;
    bats.big.address = 0;
    const auto bats_raw = encode_dual_pde(*f, bats);
    ASSERT_TRUE(bats_raw.has_value());
    EXPECT_EQ(decode_dual_pde(*f, (*bats_raw)[0], (*bats_raw)[1]), bats);
    if (f->version == GmmuVersion::V2) EXPECT_EQ((*bats_raw)[0], uint64_t{1} << 5);  // NO_ATS 5:5
    else EXPECT_EQ((*bats_raw)[0], uint64_t{2} << 3);                             // PCF_BIG 5:3 bit 1
    GmmuDualPde nats = d;  // v3 has a no-ATS bit per half (PCF_SMALL bit 1); v2 only in the big half
    nats.small.no_ats = true;
    EXPECT_EQ(encode_dual_pde(*f, nats).has_value(), f->version == GmmuVersion::V3);
  }
}

// --- what the formats cannot express -----------------------------------------------------------------
TEST(GmmuFormat, EncodeRejectsWhatTheFormatCannotHold) {
  struct Row { const char* name; std::function<bool()> encodes; };
  const Row rows[] = {
      {"v2 vid PTE address beyond 32:8 (128 GiB)",
       [] { return encode_pte(kV2, pte(GmmuAperture::Video, uint64_t{1} << 37)).has_value(); }},
      {"v2 sys PTE address beyond 53:8",
       [] { return encode_pte(kV2, pte(GmmuAperture::SysCoherent, uint64_t{1} << 58)).has_value(); }},
      {"v3 vid PTE address beyond 39:12",
       [] { return encode_pte(kV3, pte(GmmuAperture::Video, uint64_t{1} << 40)).has_value(); }},
      {"v3 sys PTE address beyond 51:12",
       [] { return encode_pte(kV3, pte(GmmuAperture::SysCoherent, uint64_t{1} << 52)).has_value(); }},
      {"PTE address not 4 KiB aligned", [] { return encode_pte(kV2, pte(GmmuAperture::Video, 0x1800)).has_value(); }},
      {"valid PTE with aperture Invalid",
       [] { return encode_pte(kV3, pte(GmmuAperture::Invalid, 0x1000)).has_value(); }},
      {"peer id 8", [] {
         GmmuPte p = pte(GmmuAperture::Peer, 0x1000);
         p.peer_id = 8;
         return encode_pte(kV2, p).has_value();
       }},
      {"peer id on a video PTE", [] {
         GmmuPte p = pte(GmmuAperture::Video, 0x1000);
         p.peer_id = 1;
         return encode_pte(kV3, p).has_value();
       }},
      {"v3 kind wider than 4 bits", [] {
         GmmuPte p = pte(GmmuAperture::Video, 0x1000);
         p.kind = 0x10;
         return encode_pte(kV3, p).has_value();
       }},
      {"v2 mapping-nowhere", [] {
         GmmuPte p;
         p.invalid_kind = GmmuInvalidKind::MappingNowhere;
         return encode_pte(kV2, p).has_value();
       }},
      {"PDE to peer memory", [] { return encode_pde(kV2, pde(GmmuAperture::Peer, 0x1000)).has_value(); }},
      {"PDE address not 4 KiB aligned", [] { return encode_pde(kV3, pde(GmmuAperture::Video, 0x800)).has_value(); }},
      {"v2 PDE vid address beyond 32:8", [] {
         return encode_pde(kV2, pde(GmmuAperture::Video, uint64_t{1} << 37)).has_value();
       }},
      {"small PT address not 4 KiB aligned", [] {
         GmmuDualPde d;
         d.small = pde(GmmuAperture::Video, 0x1100);
         return encode_dual_pde(kV2, d).has_value() || encode_dual_pde(kV3, d).has_value();
       }},
      {"big PT address not 256 B aligned", [] {
         GmmuDualPde d;
         d.big = pde(GmmuAperture::Video, 0x1080);
         return encode_dual_pde(kV2, d).has_value();
       }},
  };
  for (const Row& r : rows) EXPECT_FALSE(r.encodes()) << r.name;
  EXPECT_EQ(pde_address_limit(kV2, GmmuAperture::Video), uint64_t{1} << 37);
  EXPECT_EQ(pde_address_limit(kV2, GmmuAperture::SysCoherent), uint64_t{1} << 58);
  EXPECT_EQ(pde_address_limit(kV3, GmmuAperture::Video), uint64_t{1} << 52);
  EXPECT_EQ(pte_address_limit(kV3, GmmuAperture::Video), uint64_t{1} << 40);
  EXPECT_EQ(pte_address_limit(kV3, GmmuAperture::Peer), uint64_t{1} << 52);
}

// --- instance block PDB (Volta dev_ram dwords 128/129, 4.1) ------------------------------------------
TEST(GmmuFormat, InstanceBlockPdb) {
  GmmuInstancePdb p;
  p.aperture = GmmuAperture::SysNonCoherent;  // target 3
  p.volatile_ = true;                          // bit 2
  p.use_ver2_format = true;                    // bit 10
  p.big_page_64k = true;                       // bit 11
  p.address = 0x12'3456'7000ull;               // 31:12 + dword 129
  const auto w = encode_instance_pdb(p);
  EXPECT_EQ(w[0], 0x3456'7c07u);
  EXPECT_EQ(w[1], 0x12u);
  const GmmuInstancePdb d = decode_instance_pdb(w[0], w[1]);
  EXPECT_EQ(d.aperture, p.aperture);
  EXPECT_EQ(d.volatile_, p.volatile_);
  EXPECT_EQ(d.use_ver2_format, p.use_ver2_format);
  EXPECT_EQ(d.big_page_64k, p.big_page_64k);
  EXPECT_EQ(d.address, p.address);
  // Target encodings: 0 vid, 1 invalid, 2 sys coherent (different from a PDE's).
  EXPECT_EQ(decode_instance_pdb(0, 0).aperture, GmmuAperture::Video);
  EXPECT_EQ(decode_instance_pdb(1, 0).aperture, GmmuAperture::Invalid);
  EXPECT_EQ(decode_instance_pdb(2, 0).aperture, GmmuAperture::SysCoherent);
  EXPECT_FALSE(decode_instance_pdb(0, 0).big_page_64k);  // bit 11 = 0: 128 KiB
}

}  // namespace
