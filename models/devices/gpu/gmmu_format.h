// NVIDIA GMMU page-table formats as data: the page-directory / page-table entries of format
// version 2 (Pascal GP100 .. Turing, Ampere) and version 3 (Hopper GH100), decoded into one
// version-neutral struct per entry kind and encoded back (so tests and the GPU driver can build
// tables). Bit layouts: hardware-facts 4.2 (v2) and 4.3 (v3), from open-gpu-kernel-modules
// swref/published/{pascal/gp100,ampere/ga100,hopper/gh100}/dev_mmu.h and open-gpu-doc
// manuals/{volta/gv100,turing/tu104}/dev_mmu.ref.txt. The walk over them is gmmu_walk.h.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace pciesim::gpu {

enum class GmmuVersion : uint8_t { V2, V3 };

// Where an entry points. The 2-bit hardware encodings differ between PDEs and PTEs (and the
// instance block), so the enum is neutral and each codec maps it (hardware-facts 4.1-4.3):
//   PDE (v2, v3):      0 invalid, 1 video memory, 2 system coherent, 3 system non-coherent
//   PTE (v2, v3):      0 video memory, 1 peer, 2 system coherent, 3 system non-coherent
//   instance block:    0 video memory, 1 invalid, 2 system coherent, 3 system non-coherent
enum class GmmuAperture : uint8_t { Invalid, Video, Peer, SysCoherent, SysNonCoherent };
const char* to_string(GmmuAperture a);
inline bool is_system(GmmuAperture a) {
  return a == GmmuAperture::SysCoherent || a == GmmuAperture::SysNonCoherent;
}

// The levels of a walk, root first. V2 has no Pd4 (hardware-facts 4.1).
enum class GmmuLevel : uint8_t { Pdb, Pd4, Pd3, Pd2, Pd1, Pd0, BigPt, SmallPt };
const char* to_string(GmmuLevel l);

// VA bits a directory level indexes (hardware-facts 4.1 table "Root index bits" / "Next levels").
struct GmmuLevelBits {
  GmmuLevel level;
  unsigned hi, lo;   // VA[hi:lo]
};

// One format: the version plus the choices a part makes within it.
struct GmmuFormat {
  GmmuVersion version = GmmuVersion::V2;
  unsigned va_bits = 49;          // 4.1: 49 (v2), 57 (v3)
  unsigned big_page_shift = 16;   // 4.1: 64 KiB big pages; 17 = 128 KiB on older v2 parts
  bool pd1_huge_pages = false;    // 4.1: 512 MiB PTE in PD1 (Ampere GA10x, Hopper)

  // Pascal..Turing: 64 KiB (or 128 KiB, big_page_shift 17) big pages, no 512 MiB pages.
  static GmmuFormat v2_pascal(unsigned big_page_shift = 16);
  // Ampere GA10x: v2 with 512 MiB PTEs in PD1 (4.1 "Large leafs").
  static GmmuFormat v2_ampere();
  // Hopper GH100: v3, 57-bit VA, PD4 root, 512 MiB PTEs in PD1.
  static GmmuFormat v3_hopper();

  // The directory levels above PD0 (8-byte PDEs), root first: PD3..PD1 (v2), PD4..PD1 (v3).
  unsigned upper_level_count() const { return version == GmmuVersion::V3 ? 4 : 3; }
  GmmuLevelBits upper_level(unsigned i) const;
  // PD0 [28:21], small PT [20:12], big PT [20:big_page_shift] (4.1).
  static constexpr GmmuLevelBits kPd0{GmmuLevel::Pd0, 28, 21};
  static constexpr GmmuLevelBits kSmallPt{GmmuLevel::SmallPt, 20, 12};
  GmmuLevelBits big_pt() const { return {GmmuLevel::BigPt, 20, big_page_shift}; }
  uint64_t big_page_size() const { return uint64_t{1} << big_page_shift; }
};

// Page sizes (4.1 "Page sizes").
constexpr uint64_t kGmmuSmallPage = uint64_t{1} << 12;    // 4 KiB, small PT
constexpr uint64_t kGmmu2MPage = uint64_t{1} << 21;       // 2 MiB, PTE in PD0
constexpr uint64_t kGmmu512MPage = uint64_t{1} << 29;     // 512 MiB, PTE in PD1
// Entry sizes (4.1): PDE 8 B, dual PDE 16 B, PTE 8 B.
constexpr unsigned kGmmuPdeBytes = 8, kGmmuDualPdeBytes = 16, kGmmuPteBytes = 8;
// Directory tables are 4 KiB and so is the PDB alignment (4.1; instance block PDB is addr[31:12]).
constexpr uint64_t kGmmuTableAlign = 4096;
// Big page tables may be 256 B aligned (4.2: big PT address shift 8).
constexpr uint64_t kGmmuBigPtAlign = 256;

// A pointer to a next-level table: an upper-level PDE, or one half of a dual PDE.
struct GmmuPde {
  bool is_pte = false;        // bit 0: the slot holds a PTE (decode it with decode_pte)
  GmmuAperture aperture = GmmuAperture::Invalid;  // Invalid, Video, SysCoherent, SysNonCoherent
  // v2 VOL (bit 3; VOL_SMALL bit 67); v3 PCF bit 0. Valid entry: next level uncached in L2.
  // Invalid entry (aperture Invalid): the range below is sparse.
  bool volatile_ = false;
  bool no_ats = false;        // v2 NO_ATS bit 5 (not in the small half); v3 PCF bit 1
  uint8_t peer = 0;           // v2 only: the 35:33 "peer" field next to the vidmem address
  uint64_t address = 0;       // byte address of the next table
  bool sparse() const { return aperture == GmmuAperture::Invalid && volatile_; }
  bool operator==(const GmmuPde& o) const;
};

// The PD0 entry (16 B): a 2 MiB PTE (is_pte; low 8 bytes in PTE format), or two table pointers.
struct GmmuDualPde {
  bool is_pte = false;
  GmmuPde big;    // big-page table (64/128 KiB pages); address 256 B aligned
  GmmuPde small;  // small-page table (4 KiB pages); address 4 KiB aligned
  bool operator==(const GmmuDualPde& o) const;
};

// What an invalid PTE means (v2: VOL / PRIV of an invalid PTE, 4.2; v3: PCF for VALID = 0, 4.3).
enum class GmmuInvalidKind : uint8_t {
  Invalid,         // v2 all zero; v3 PCF 0
  Sparse,          // v2 VOL = 1; v3 PCF 1
  MappingNowhere,  // v3 PCF 2 (not encodable in v2)
  NoValid4K,       // on a big PTE: the small PTEs below are not valid. v2 PRIV = 1; v3 PCF 3
};

struct GmmuPte {
  bool valid = false;
  GmmuInvalidKind invalid_kind = GmmuInvalidKind::Invalid;  // meaningful when !valid
  GmmuAperture aperture = GmmuAperture::Video;  // Video, Peer, SysCoherent, SysNonCoherent
  uint8_t peer_id = 0;        // 0-7: v2 bits 35:33, v3 bits 63:61 (when aperture is Peer)
  bool volatile_ = false;     // v2 VOL bit 3; v3 PCF bit 0 (uncached)
  bool privileged = false;    // v2 bit 5; v3 PCF bit 1: non-privileged accesses fault
  bool read_only = false;     // v2 bit 6; v3 PCF bit 2: writes (and atomics) fault
  bool atomic_disable = false;  // v2 bit 7; v3 PCF bit 3: atomics fault
  bool access_counting_disabled = false;  // v3 PCF bit 4 (ACD); v2 has none
  uint8_t kind = 0;           // v2 bits 63:56 (8 bits); v3 bits 11:8 (4 bits)
  uint64_t address = 0;       // byte address of the page
  bool operator==(const GmmuPte& o) const;
};

// --- codecs. decode_* never fail: every bit pattern means something (or is ignored). -----------
// encode_* return nullopt when the struct cannot be expressed in the format: an address that is
// misaligned or wider than its field for the aperture, an aperture the entry kind has no encoding
// for (Peer in a PDE, Invalid in a valid PTE), a peer id > 7, a kind wider than the field, v3-only
// fields set in v2 (MappingNowhere, ACD) or v2-only fields in v3 (peer in a PDE).
GmmuPde decode_pde(const GmmuFormat& f, uint64_t raw);
std::optional<uint64_t> encode_pde(const GmmuFormat& f, const GmmuPde& pde);

GmmuDualPde decode_dual_pde(const GmmuFormat& f, uint64_t lo, uint64_t hi);
std::optional<std::array<uint64_t, 2>> encode_dual_pde(const GmmuFormat& f, const GmmuDualPde& pde);

GmmuPte decode_pte(const GmmuFormat& f, uint64_t raw);
std::optional<uint64_t> encode_pte(const GmmuFormat& f, const GmmuPte& pte);

// Widest address each field holds (bytes, exclusive), by format and aperture (4.2, 4.3):
// v2 vidmem/peer fields 32:8 (PA[36:12]), sysmem 53:8 (PA[57:12]); v3 PTE vidmem 39:12, others 51:12.
uint64_t pde_address_limit(const GmmuFormat& f, GmmuAperture a);
uint64_t pte_address_limit(const GmmuFormat& f, GmmuAperture a);

// --- the instance block's page-directory base (Volta dev_ram dwords 128/129, hardware-facts 4.1) -
struct GmmuInstancePdb {
  GmmuAperture aperture = GmmuAperture::Video;  // target 1 decodes to Invalid
  bool volatile_ = false;        // bit 2
  bool use_ver2_format = false;  // bit 10
  bool big_page_64k = true;      // bit 11: 1 = 64 KiB, 0 = 128 KiB
  uint64_t address = 0;          // dword 128 bits 31:12 = addr[31:12], dword 129 = addr[63:32]
};
GmmuInstancePdb decode_instance_pdb(uint32_t dword128, uint32_t dword129);
std::array<uint32_t, 2> encode_instance_pdb(const GmmuInstancePdb& pdb);  // address low 12 bits dropped

}  // namespace pciesim::gpu
