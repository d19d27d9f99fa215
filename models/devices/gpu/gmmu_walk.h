// The GMMU page-table walk as a pure function over a table reader (ARCHITECTURE.md, "Walkers are
// pure functions"): PDB -> PD3 (PD4 on v3) ... PD1 -> PD0 (dual) -> big or small PT, with the
// large leaves (2 MiB in PD0, 512 MiB in PD1 where the format has them). No SystemC, no caches:
// the GMMU sc_module puts its TLB and timing around it, charging one memory access per visit.
// Formats and entry codecs: gmmu_format.h. Facts: hardware-facts 4. Behaviour: docs/gpu.md.
#pragma once

#include <array>
#include <cstdint>

#include "devices/gpu/gmmu_format.h"

namespace pciesim::gpu {

// Reads page-table entries for the walk. Tables live in video memory or system memory (the latter
// through the fabric and the IOMMU in the device model, so a read may fail).
class GmmuMemoryReader {
 public:
  virtual ~GmmuMemoryReader() = default;
  // Reads `count` (1 or 2) little-endian 64-bit words at byte address `addr` of aperture `ap`
  // (Video, SysCoherent or SysNonCoherent). False: the read failed (the walk faults).
  virtual bool read(GmmuAperture ap, uint64_t addr, uint64_t* words, unsigned count) const = 0;
  // Bytes addressable in `ap`: the VRAM size for Video; for the system apertures the physical
  // address limit (kGmmuSysmemLimit unless the device knows better). An entry at or beyond it
  // faults without a read.
  virtual uint64_t aperture_size(GmmuAperture ap) const = 0;
};

// 4.1: "hardware supports 47 bits of sysmem physical address although the field allows 58"
// (Pascal format note).
constexpr uint64_t kGmmuSysmemLimit = uint64_t{1} << 47;

// The access being translated. NVIDIA's fault buffer has more access types (prefetch, weak/strong
// atomics, physical accesses); the walk distinguishes what the PTE permissions distinguish.
enum class GmmuAccessType : uint8_t { Read, Write, Atomic };
struct GmmuAccess {
  GmmuAccessType type = GmmuAccessType::Read;
  bool privileged = false;  // a privileged client (PTE PRIVILEGE lets only these through)
};

// NVIDIA's fault types (NV_PFAULT_FAULT_TYPE_*, open-gpu-kernel-modules
// swref/published/pascal/gp100/dev_fault.h; the values are the hardware encodings the fault
// buffer records). The walk raises PDE, PTE, VA_LIMIT_VIOLATION, UNBOUND_INST_BLOCK,
// PRIV_VIOLATION, RO_VIOLATION, UNSUPPORTED_APERTURE and ATOMIC_VIOLATION.
enum class GmmuFaultType : uint8_t {
  Pde = 0x00, PdeSize = 0x01, Pte = 0x02, VaLimitViolation = 0x03, UnboundInstBlock = 0x04,
  PrivViolation = 0x05, RoViolation = 0x06, PitchMaskViolation = 0x08, WorkCreation = 0x09,
  UnsupportedAperture = 0x0a, CompressionFailure = 0x0b, UnsupportedKind = 0x0c, RegionViolation = 0x0d,
  Poisoned = 0x0e, AtomicViolation = 0x0f,
};
const char* to_string(GmmuFaultType t);

// Why, in more detail than the hardware type (for transaction records and tests).
enum class GmmuFaultDetail : uint8_t {
  None,
  VaBeyondFormat,       // VA has bits at or above va_bits                          -> VaLimitViolation
  PdbApertureInvalid,   // PDB aperture Invalid (instance block target 1)           -> UnboundInstBlock
  PdbMisaligned,        // PDB not 4 KiB aligned                                    -> UnboundInstBlock
  PdbAperturePeer,      // PDB in peer memory: no such instance-block target          -> UnsupportedAperture
  TableOutOfRange,      // entry address at/beyond aperture_size (PDB or a pointer)  -> Pde (directory) / Pte (PT)
  TableReadFailed,      // the reader said no                                        -> Pde / Pte
  EntryInvalid,         // PDE aperture invalid (not sparse) / PTE not valid          -> Pde / Pte
  LeafNotAllowed,       // IS_PTE set at a level with no large page in this format    -> Pde
  NoValidSmallPage,     // invalid big PTE marked "no valid 4 KiB page"               -> Pte
  Privilege,            // non-privileged access to a PRIVILEGE page                  -> PrivViolation
  ReadOnly,             // write or atomic to a READ_ONLY page                        -> RoViolation
  AtomicDisabled,       // atomic to an ATOMIC_DISABLE page                           -> AtomicViolation
};
const char* to_string(GmmuFaultDetail d);

// One table entry the walk read: where (for the transaction record and one timed access each).
struct GmmuVisit {
  GmmuLevel level = GmmuLevel::Pdb;
  GmmuAperture aperture = GmmuAperture::Invalid;
  uint64_t entry_address = 0;
  uint8_t bytes = 0;                // 8, or 16 for PD0
  std::array<uint64_t, 2> raw{};    // what was read
};

enum class GmmuWalkStatus : uint8_t {
  Translated,  // translation is valid
  Sparse,      // a sparse PDE or PTE: no page, no fault (the model reads zeros, drops writes)
  Fault,       // fault is valid
};

struct GmmuTranslation {
  uint64_t address = 0;                 // translated byte address (page base | VA offset)
  GmmuAperture aperture = GmmuAperture::Video;  // Video, Peer, SysCoherent, SysNonCoherent
  uint8_t peer_id = 0;                  // with Peer
  uint64_t page_size = 0;               // 4 KiB, 64/128 KiB, 2 MiB, 512 MiB (Sparse: the range covered)
  GmmuLevel leaf = GmmuLevel::SmallPt;  // where the PTE was (PD1, PD0, big PT, small PT)
  bool volatile_ = false, privileged = false, read_only = false, atomic_disable = false;
  bool access_counting_disabled = false;
  uint8_t kind = 0;
};

struct GmmuFault {
  GmmuFaultType type = GmmuFaultType::Pde;
  GmmuFaultDetail detail = GmmuFaultDetail::None;
  GmmuLevel level = GmmuLevel::Pdb;  // the level whose entry (or pointer) caused it
};

constexpr unsigned kGmmuMaxVisits = 7;  // v3: PD4 PD3 PD2 PD1 PD0 big PT small PT

struct GmmuWalkResult {
  GmmuWalkStatus status = GmmuWalkStatus::Fault;
  GmmuTranslation translation;  // Translated, Sparse (page_size, leaf)
  GmmuFault fault;              // Fault
  std::array<GmmuVisit, kGmmuMaxVisits> visits{};  // fixed size: no heap on the fast path
  uint8_t visit_count = 0;
  bool ok() const { return status == GmmuWalkStatus::Translated; }
  bool faulted() const { return status == GmmuWalkStatus::Fault; }
};

// Translates `va` for `access` from the root table at `pdb` in `pdb_aperture` (the instance
// block's page-directory base). Never throws and never reads outside an aperture:
//   va >= 2^va_bits                                  VaLimitViolation  at Pdb
//   pdb_aperture Invalid, pdb not 4 KiB aligned     UnboundInstBlock  at Pdb
//   pdb_aperture Peer                                UnsupportedAperture at Pdb
//   entry beyond aperture_size, or the read fails    Pde at the directory level / Pte at the PT
//   PDE aperture invalid and not sparse              Pde at that level (sparse -> Sparse)
//   IS_PTE above PD0 where the format has no leaf    Pde at that level
//   PD0 with neither table, or the chosen PTE invalid  Pde at PD0 / Pte at big or small PT
//   permissions, in this order: privilege, read-only (write, atomic), atomic disable
// PD0 with both tables: the big PTE is used when valid; a sparse big PTE makes the big page
// sparse; a big PTE "no valid 4 KiB page" faults; otherwise the small PT decides.
GmmuWalkResult walk(const GmmuFormat& format, uint64_t pdb, GmmuAperture pdb_aperture, uint64_t va,
                    GmmuAccess access, const GmmuMemoryReader& mem);

}  // namespace pciesim::gpu
