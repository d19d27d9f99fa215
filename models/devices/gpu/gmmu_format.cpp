// GMMU entry codecs. Every bit position below is from hardware-facts 4.2 (v2) / 4.3 (v3), which
// restate open-gpu-kernel-modules swref/published/{pascal/gp100,hopper/gh100}/dev_mmu.h
// (NV_MMU_VER2_PDE_*, NV_MMU_VER2_DUAL_PDE_*, NV_MMU_VER2_PTE_*, NV_MMU_VER3_*).
#include "devices/gpu/gmmu_format.h"

#include <tuple>

namespace pciesim::gpu {

namespace {

constexpr uint64_t mask(unsigned hi, unsigned lo) {
  return ((hi - lo + 1) >= 64 ? ~uint64_t{0} : ((uint64_t{1} << (hi - lo + 1)) - 1)) << lo;
}
constexpr uint64_t get(uint64_t raw, unsigned hi, unsigned lo) { return (raw & mask(hi, lo)) >> lo; }
constexpr uint64_t put(uint64_t value, unsigned hi, unsigned lo) { return (value << lo) & mask(hi, lo); }
constexpr bool fits(uint64_t value, unsigned hi, unsigned lo) { return (value >> (hi - lo + 1)) == 0; }

// Aperture encodings (4.1-4.3).
GmmuAperture pde_aperture(uint64_t code) {  // 0 invalid, 1 vid, 2 sys coh, 3 sys non-coh
  static constexpr GmmuAperture k[] = {GmmuAperture::Invalid, GmmuAperture::Video, GmmuAperture::SysCoherent,
                                       GmmuAperture::SysNonCoherent};
  return k[code & 3];
}
std::optional<uint64_t> pde_aperture_code(GmmuAperture a) {
  switch (a) {
    case GmmuAperture::Invalid: return 0;
    case GmmuAperture::Video: return 1;
    case GmmuAperture::SysCoherent: return 2;
    case GmmuAperture::SysNonCoherent: return 3;
    case GmmuAperture::Peer: break;  // a PDE cannot point at a peer's memory
  }
  return std::nullopt;
}
GmmuAperture pte_aperture(uint64_t code) {  // 0 vid, 1 peer, 2 sys coh, 3 sys non-coh
  static constexpr GmmuAperture k[] = {GmmuAperture::Video, GmmuAperture::Peer, GmmuAperture::SysCoherent,
                                       GmmuAperture::SysNonCoherent};
  return k[code & 3];
}
std::optional<uint64_t> pte_aperture_code(GmmuAperture a) {
  switch (a) {
    case GmmuAperture::Video: return 0;
    case GmmuAperture::Peer: return 1;
    case GmmuAperture::SysCoherent: return 2;
    case GmmuAperture::SysNonCoherent: return 3;
    case GmmuAperture::Invalid: break;
  }
  return std::nullopt;
}

// Where a table pointer's address field sits. The field holds address >> shift from bit `lo`;
// its top bit depends on the aperture in v2 (vidmem field narrower, peer bits above it).
struct PtrLayout {
  unsigned lo;        // first bit of the address field
  unsigned shift;     // address = field << shift
  unsigned sys_hi;    // last bit for system memory (and Invalid)
  unsigned vid_hi;    // last bit for video memory
  bool has_peer;      // v2: bits 35:33 are a peer field next to the vidmem address
};
// v2 PDE: sys 53:8, vid 32:8 (>> 12), peer 35:33 (4.2 "PDE").
constexpr PtrLayout kV2Pde{8, 12, 53, 32, true};
// v2 dual PDE big half: sys 53:4, vid 32:4 (>> 8), peer 35:33 (4.2 "Dual PDE").
constexpr PtrLayout kV2Big{4, 8, 53, 32, true};
// v2 dual PDE small half, relative to the high 8 bytes: sys 117:72 -> 53:8, vid 96:72 -> 32:8,
// peer 99:97 -> 35:33 (4.2): the same layout as a PDE.
constexpr PtrLayout kV2Small = kV2Pde;
// v3 PDE: address 51:12 (>> 12) (4.3).
constexpr PtrLayout kV3Pde{12, 12, 51, 51, false};
// v3 dual PDE big half 51:8 (>> 8); small half 115:76 -> high word 51:12 (>> 12) (4.3).
constexpr PtrLayout kV3Big{8, 8, 51, 51, false};
constexpr PtrLayout kV3Small = kV3Pde;

constexpr unsigned kV2PeerHi = 35, kV2PeerLo = 33;  // 4.2: 35:33 peer

unsigned ptr_hi(const PtrLayout& l, GmmuAperture a) { return a == GmmuAperture::Video ? l.vid_hi : l.sys_hi; }

// Bits common to every v2/v3 pointer: 2:1 aperture (4.2, 4.3; the small half's 66:65 is bit 2:1
// of the high word). The flag bits differ: v2 VOL bit 3 and NO_ATS bit 5; v3 PCF 5:3 with bit 0
// uncached/sparse and bit 1 no-ATS.
GmmuPde decode_ptr(const GmmuFormat& f, uint64_t raw, const PtrLayout& l, bool has_no_ats) {
  GmmuPde p;
  p.is_pte = (raw & 1) != 0;  // bit 0 IS_PTE
  p.aperture = pde_aperture(get(raw, 2, 1));
  if (f.version == GmmuVersion::V2) {
    p.volatile_ = get(raw, 3, 3) != 0;                   // VOL
    p.no_ats = has_no_ats && get(raw, 5, 5) != 0;        // NO_ATS
  } else {
    const uint64_t pcf = get(raw, 5, 3);                  // PCF
    p.volatile_ = (pcf & 1) != 0;
    p.no_ats = (pcf & 2) != 0;
  }
  if (p.aperture == GmmuAperture::Invalid) return p;  // an invalid entry carries no pointer
  p.address = get(raw, ptr_hi(l, p.aperture), l.lo) << l.shift;
  // v2 dual PDE: NO_ATS 5:5 lies inside ADDRESS_BIG 53:4 (gp100 dev_mmu.h
  // NV_MMU_VER2_DUAL_PDE_NO_ATS / _ADDRESS_BIG_SYS): with a big table, bit 5 is address bit 9.
  if (f.version == GmmuVersion::V2 && l.lo < 6) p.no_ats = false;
  if (l.has_peer && p.aperture == GmmuAperture::Video) p.peer = static_cast<uint8_t>(get(raw, kV2PeerHi, kV2PeerLo));
  return p;
}

std::optional<uint64_t> encode_ptr(const GmmuFormat& f, const GmmuPde& p, const PtrLayout& l, bool has_no_ats) {
  const auto ap = pde_aperture_code(p.aperture);
  if (!ap) return std::nullopt;
  const uint64_t align = uint64_t{1} << l.shift;
  const unsigned hi = ptr_hi(l, p.aperture);
  if (p.address % align != 0 || !fits(p.address >> l.shift, hi, l.lo)) return std::nullopt;
  if (p.aperture == GmmuAperture::Invalid && (p.address != 0 || p.peer != 0)) return std::nullopt;
  // v2 dual PDE big half: NO_ATS (bit 5) is address bit 9 when there is a big table (see decode).
  if (f.version == GmmuVersion::V2 && l.lo < 6 && p.no_ats && p.aperture != GmmuAperture::Invalid)
    return std::nullopt;
  uint64_t raw = (p.is_pte ? 1 : 0) | put(*ap, 2, 1) | put(p.address >> l.shift, hi, l.lo);
  if (f.version == GmmuVersion::V2) {
    if (p.no_ats && !has_no_ats) return std::nullopt;
    raw |= put(p.volatile_, 3, 3) | put(p.no_ats, 5, 5);
    if (p.peer != 0) {
      if (!l.has_peer || p.aperture != GmmuAperture::Video || !fits(p.peer, kV2PeerHi, kV2PeerLo)) return std::nullopt;
      raw |= put(p.peer, kV2PeerHi, kV2PeerLo);
    }
  } else {
    if (p.peer != 0) return std::nullopt;
    raw |= put((p.volatile_ ? 1u : 0u) | (p.no_ats ? 2u : 0u), 5, 3);
  }
  return raw;
}

// v2 PTE (4.2).
constexpr unsigned kV2PteVidHi = 32, kV2PteSysHi = 53, kV2PteAddrLo = 8;  // address >> 12
constexpr unsigned kV2KindHi = 63, kV2KindLo = 56;
// v3 PTE (4.3): address in place, 39:12 video, 51:12 system/peer; PCF 7:3; KIND 11:8; PEER 63:61.
constexpr unsigned kV3PteVidHi = 39, kV3PteSysHi = 51, kV3PteAddrLo = 12;
constexpr unsigned kV3PcfHi = 7, kV3PcfLo = 3, kV3KindHi = 11, kV3KindLo = 8, kV3PeerHi = 63, kV3PeerLo = 61;
// v3 PTE PCF (4.3): valid: bit 0 uncached, 1 privileged, 2 read-only, 3 no atomics, 4 ACD;
// invalid: 0 invalid, 1 sparse, 2 mapping nowhere, 3 no valid 4 KiB page.
constexpr uint64_t kPcfUncached = 1, kPcfPriv = 2, kPcfRo = 4, kPcfNoAtomic = 8, kPcfAcd = 16;

}  // namespace

const char* to_string(GmmuAperture a) {
  switch (a) {
    case GmmuAperture::Invalid: return "invalid";
    case GmmuAperture::Video: return "video";
    case GmmuAperture::Peer: return "peer";
    case GmmuAperture::SysCoherent: return "sys-coherent";
    case GmmuAperture::SysNonCoherent: return "sys-noncoherent";
  }
  return "?";
}

const char* to_string(GmmuLevel l) {
  static constexpr const char* k[] = {"PDB", "PD4", "PD3", "PD2", "PD1", "PD0", "big PT", "small PT"};
  return k[static_cast<unsigned>(l)];
}

GmmuFormat GmmuFormat::v2_pascal(unsigned big_page_shift) {
  GmmuFormat f;
  f.big_page_shift = big_page_shift == 17 ? 17 : 16;
  return f;
}
GmmuFormat GmmuFormat::v2_ampere() {
  GmmuFormat f;
  f.pd1_huge_pages = true;
  return f;
}
GmmuFormat GmmuFormat::v3_hopper() {
  GmmuFormat f;
  f.version = GmmuVersion::V3;
  f.va_bits = 57;
  f.pd1_huge_pages = true;
  return f;
}

GmmuLevelBits GmmuFormat::upper_level(unsigned i) const {
  // 4.1: v2 PD3 [48:47], PD2 [46:38], PD1 [37:29]; v3 PD4 [56], PD3 [55:47], then the same.
  static constexpr GmmuLevelBits kV2[] = {
      {GmmuLevel::Pd3, 48, 47}, {GmmuLevel::Pd2, 46, 38}, {GmmuLevel::Pd1, 37, 29}};
  static constexpr GmmuLevelBits kV3[] = {
      {GmmuLevel::Pd4, 56, 56}, {GmmuLevel::Pd3, 55, 47}, {GmmuLevel::Pd2, 46, 38}, {GmmuLevel::Pd1, 37, 29}};
  return version == GmmuVersion::V3 ? kV3[i % 4] : kV2[i % 3];
}

bool GmmuPde::operator==(const GmmuPde& o) const {
  return std::tie(is_pte, aperture, volatile_, no_ats, peer, address) ==
         std::tie(o.is_pte, o.aperture, o.volatile_, o.no_ats, o.peer, o.address);
}
bool GmmuDualPde::operator==(const GmmuDualPde& o) const {
  return is_pte == o.is_pte && big == o.big && small == o.small;
}
bool GmmuPte::operator==(const GmmuPte& o) const {
  return std::tie(valid, invalid_kind, aperture, peer_id, volatile_, privileged, read_only, atomic_disable,
                  access_counting_disabled, kind, address) ==
         std::tie(o.valid, o.invalid_kind, o.aperture, o.peer_id, o.volatile_, o.privileged, o.read_only,
                  o.atomic_disable, o.access_counting_disabled, o.kind, o.address);
}

GmmuPde decode_pde(const GmmuFormat& f, uint64_t raw) {
  return f.version == GmmuVersion::V2 ? decode_ptr(f, raw, kV2Pde, true) : decode_ptr(f, raw, kV3Pde, true);
}
std::optional<uint64_t> encode_pde(const GmmuFormat& f, const GmmuPde& pde) {
  return f.version == GmmuVersion::V2 ? encode_ptr(f, pde, kV2Pde, true) : encode_ptr(f, pde, kV3Pde, true);
}

GmmuDualPde decode_dual_pde(const GmmuFormat& f, uint64_t lo, uint64_t hi) {
  const bool v2 = f.version == GmmuVersion::V2;
  GmmuDualPde d;
  d.is_pte = (lo & 1) != 0;  // bit 0 IS_PTE: a 2 MiB PTE in the low 8 bytes
  d.big = decode_ptr(f, lo, v2 ? kV2Big : kV3Big, true);
  d.small = decode_ptr(f, hi & ~uint64_t{1}, v2 ? kV2Small : kV3Small, !v2);  // v2: no NO_ATS in the small half
  d.big.is_pte = d.small.is_pte = false;
  return d;
}
std::optional<std::array<uint64_t, 2>> encode_dual_pde(const GmmuFormat& f, const GmmuDualPde& pde) {
  const bool v2 = f.version == GmmuVersion::V2;
  if (pde.big.is_pte || pde.small.is_pte) return std::nullopt;
  auto lo = encode_ptr(f, pde.big, v2 ? kV2Big : kV3Big, true);
  auto hi = encode_ptr(f, pde.small, v2 ? kV2Small : kV3Small, !v2);
  if (!lo || !hi) return std::nullopt;
  return std::array<uint64_t, 2>{*lo | (pde.is_pte ? 1 : 0), *hi};
}

GmmuPte decode_pte(const GmmuFormat& f, uint64_t raw) {
  GmmuPte p;
  p.valid = (raw & 1) != 0;  // bit 0 VALID
  if (f.version == GmmuVersion::V2) {
    if (!p.valid) {  // 4.2: only VOL (sparse) and PRIV (no valid 4 KiB page on a big PTE) count
      p.invalid_kind = get(raw, 3, 3)   ? GmmuInvalidKind::Sparse
                       : get(raw, 5, 5) ? GmmuInvalidKind::NoValid4K
                                        : GmmuInvalidKind::Invalid;
      return p;
    }
    p.aperture = pte_aperture(get(raw, 2, 1));
    p.volatile_ = get(raw, 3, 3) != 0;
    p.privileged = get(raw, 5, 5) != 0;
    p.read_only = get(raw, 6, 6) != 0;
    p.atomic_disable = get(raw, 7, 7) != 0;
    p.kind = static_cast<uint8_t>(get(raw, kV2KindHi, kV2KindLo));
    const bool local = p.aperture == GmmuAperture::Video || p.aperture == GmmuAperture::Peer;
    p.address = get(raw, local ? kV2PteVidHi : kV2PteSysHi, kV2PteAddrLo) << 12;
    if (p.aperture == GmmuAperture::Peer) p.peer_id = static_cast<uint8_t>(get(raw, kV2PeerHi, kV2PeerLo));
    return p;
  }
  const uint64_t pcf = get(raw, kV3PcfHi, kV3PcfLo);
  if (!p.valid) {
    static constexpr GmmuInvalidKind k[] = {GmmuInvalidKind::Invalid, GmmuInvalidKind::Sparse,
                                            GmmuInvalidKind::MappingNowhere, GmmuInvalidKind::NoValid4K};
    p.invalid_kind = pcf < 4 ? k[pcf] : GmmuInvalidKind::Invalid;  // PCF 4..31 undefined: invalid
    return p;
  }
  p.aperture = pte_aperture(get(raw, 2, 1));
  p.volatile_ = (pcf & kPcfUncached) != 0;
  p.privileged = (pcf & kPcfPriv) != 0;
  p.read_only = (pcf & kPcfRo) != 0;
  p.atomic_disable = (pcf & kPcfNoAtomic) != 0;
  p.access_counting_disabled = (pcf & kPcfAcd) != 0;
  p.kind = static_cast<uint8_t>(get(raw, kV3KindHi, kV3KindLo));
  p.address = raw & mask(p.aperture == GmmuAperture::Video ? kV3PteVidHi : kV3PteSysHi, kV3PteAddrLo);
  if (p.aperture == GmmuAperture::Peer) p.peer_id = static_cast<uint8_t>(get(raw, kV3PeerHi, kV3PeerLo));
  return p;
}

std::optional<uint64_t> encode_pte(const GmmuFormat& f, const GmmuPte& p) {
  const bool v2 = f.version == GmmuVersion::V2;
  if (!p.valid) {  // only the kind of invalid entry is written
    switch (p.invalid_kind) {
      case GmmuInvalidKind::Invalid: return 0;
      case GmmuInvalidKind::Sparse: return v2 ? put(1, 3, 3) : put(1, kV3PcfHi, kV3PcfLo);
      case GmmuInvalidKind::MappingNowhere:
        if (v2) return std::nullopt;
        return put(2, kV3PcfHi, kV3PcfLo);
      case GmmuInvalidKind::NoValid4K: return v2 ? put(1, 5, 5) : put(3, kV3PcfHi, kV3PcfLo);
    }
    return std::nullopt;
  }
  const auto ap = pte_aperture_code(p.aperture);
  if (!ap || p.address % kGmmuSmallPage != 0 || p.address >= pte_address_limit(f, p.aperture)) return std::nullopt;
  if (p.peer_id != 0 && (p.aperture != GmmuAperture::Peer || p.peer_id > 7)) return std::nullopt;
  uint64_t raw = 1 | put(*ap, 2, 1);
  if (v2) {
    if (p.access_counting_disabled) return std::nullopt;
    const bool local = p.aperture == GmmuAperture::Video || p.aperture == GmmuAperture::Peer;
    raw |= put(p.volatile_, 3, 3) | put(p.privileged, 5, 5) | put(p.read_only, 6, 6) | put(p.atomic_disable, 7, 7);
    raw |= put(p.kind, kV2KindHi, kV2KindLo);
    raw |= put(p.address >> 12, local ? kV2PteVidHi : kV2PteSysHi, kV2PteAddrLo);
    raw |= put(p.peer_id, kV2PeerHi, kV2PeerLo);
    return raw;
  }
  if (!fits(p.kind, kV3KindHi, kV3KindLo)) return std::nullopt;
  const uint64_t pcf = (p.volatile_ ? kPcfUncached : 0) | (p.privileged ? kPcfPriv : 0) | (p.read_only ? kPcfRo : 0) |
                       (p.atomic_disable ? kPcfNoAtomic : 0) | (p.access_counting_disabled ? kPcfAcd : 0);
  raw |= put(pcf, kV3PcfHi, kV3PcfLo) | put(p.kind, kV3KindHi, kV3KindLo) | p.address |
         put(p.peer_id, kV3PeerHi, kV3PeerLo);
  return raw;
}

uint64_t pde_address_limit(const GmmuFormat& f, GmmuAperture a) {
  const PtrLayout& l = f.version == GmmuVersion::V2 ? kV2Pde : kV3Pde;
  return uint64_t{1} << (ptr_hi(l, a) - l.lo + 1 + l.shift);
}
uint64_t pte_address_limit(const GmmuFormat& f, GmmuAperture a) {
  const bool local = a == GmmuAperture::Video || a == GmmuAperture::Peer;
  if (f.version == GmmuVersion::V2)  // field >> 12 from bit 8
    return uint64_t{1} << ((local ? kV2PteVidHi : kV2PteSysHi) - kV2PteAddrLo + 1 + 12);
  return uint64_t{1} << ((a == GmmuAperture::Video ? kV3PteVidHi : kV3PteSysHi) + 1);  // in place
}

// Volta dev_ram NV_RAMIN_PAGE_DIR_BASE_* (hardware-facts 4.1): dword 128 bits 1:0 target
// (0 vid, 1 invalid, 2 sys coh, 3 sys non-coh), 2 VOL, 10 USE_VER2_PT_FORMAT, 11 BIG_PAGE_SIZE
// (1 = 64 KiB), 31:12 address[31:12]; dword 129 address[63:32].
GmmuInstancePdb decode_instance_pdb(uint32_t w128, uint32_t w129) {
  static constexpr GmmuAperture k[] = {GmmuAperture::Video, GmmuAperture::Invalid, GmmuAperture::SysCoherent,
                                       GmmuAperture::SysNonCoherent};
  GmmuInstancePdb p;
  p.aperture = k[w128 & 3];
  p.volatile_ = (w128 >> 2) & 1;
  p.use_ver2_format = (w128 >> 10) & 1;
  p.big_page_64k = (w128 >> 11) & 1;
  p.address = (uint64_t{w129} << 32) | (w128 & 0xffff'f000u);
  return p;
}
std::array<uint32_t, 2> encode_instance_pdb(const GmmuInstancePdb& p) {
  uint32_t target = 1;  // Invalid and Peer have no other encoding
  if (p.aperture == GmmuAperture::Video) target = 0;
  if (p.aperture == GmmuAperture::SysCoherent) target = 2;
  if (p.aperture == GmmuAperture::SysNonCoherent) target = 3;
  const uint32_t w128 = target | (p.volatile_ ? 1u << 2 : 0) | (p.use_ver2_format ? 1u << 10 : 0) |
                        (p.big_page_64k ? 1u << 11 : 0) | (static_cast<uint32_t>(p.address) & 0xffff'f000u);
  return {w128, static_cast<uint32_t>(p.address >> 32)};
}

}  // namespace pciesim::gpu
