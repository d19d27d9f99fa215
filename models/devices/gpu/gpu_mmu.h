// The GPU's GMMU around the pure walk (gmmu_walk.h): per-context page-directory bases fetched from
// instance blocks, a TLB built from the house cache template (include/pciesim/set_assoc_cache.h)
// that holds 4 KiB, big (64/128 KiB), 2 MiB and 512 MiB pages side by side, and invalidation by
// all / context / VA. No SystemC: the device model (gpu_device.h) supplies the memory reader
// (VRAM, or DMA through the fabric and the IOMMU for system-memory tables) and the timing.
#pragma once

#include <array>
#include <cstdint>

#include "devices/gpu/gmmu_format.h"
#include "devices/gpu/gmmu_walk.h"
#include "pciesim/set_assoc_cache.h"

namespace pciesim::gpu {

// TLB tag: context [63:58], page-size class [57:56], VA >> page shift [55:0] (a 57-bit VA shifted
// by 12 needs 45 bits). The hash folds the context into the set index so contexts spread.
using GmmuTlbTag = uint64_t;
struct GmmuTlbHash {
  size_t operator()(GmmuTlbTag t) const noexcept {
    return static_cast<size_t>((t & ((uint64_t{1} << 56) - 1)) ^ ((t >> 56) * 0x9e37'79b9ull));
  }
};
struct GmmuTlbEntry {
  uint64_t page_base = 0;       // translated address of the page (Video / system / peer offset)
  GmmuAperture aperture = GmmuAperture::Video;
  GmmuLevel leaf = GmmuLevel::SmallPt;
  uint8_t page_shift = 12;
  uint8_t peer_id = 0;
  bool sparse = false;          // a sparse range: reads zero, writes dropped, no fault
  bool privileged = false, read_only = false, atomic_disable = false;
};

struct GmmuResult {
  GmmuWalkStatus status = GmmuWalkStatus::Fault;
  uint64_t address = 0;          // translated address (page base | offset)
  GmmuAperture aperture = GmmuAperture::Video;
  uint8_t peer_id = 0;
  uint64_t page_size = 0;
  bool tlb_hit = false;
  uint8_t walk_reads = 0;        // table entries read (instance block read included)
  GmmuFault fault;
};

struct GmmuContext {
  bool valid = false;
  GmmuAperture inst_aperture = GmmuAperture::Video;
  uint64_t inst_address = 0;
  bool pdb_loaded = false;       // the PDB below was read from the instance block
  GmmuInstancePdb pdb;
};

class Gmmu {
 public:
  static constexpr unsigned kContexts = 64;     // gpu_regs.h kMaxContexts
  static constexpr uint64_t kInstPdbOffset = 128 * 4;  // Volta dev_ram dword 128 (hardware-facts 4.1)

  Gmmu(const GmmuFormat& format, const CacheConfig& tlb) : m_format(format), m_tlb(tlb) {}

  const GmmuFormat& format() const { return m_format; }
  // Binds context `ctx` to the instance block at `inst` in `ap` (or unbinds it). The PDB is read
  // from the instance block on the context's next walk; cached translations stay until invalidated.
  void bind(unsigned ctx, bool valid, GmmuAperture ap, uint64_t inst);
  const GmmuContext& context(unsigned ctx) const { return m_ctx[ctx % kContexts]; }

  // Translates `va` of context `ctx`: a TLB hit (permissions checked against the cached PTE) or a
  // walk through `mem`, whose result (translation or sparse range) is cached. Allocation-free.
  GmmuResult translate(unsigned ctx, uint64_t va, GmmuAccess access, const GmmuMemoryReader& mem);

  // Invalidation (INVALIDATE register scopes). By context and by VA also make the context re-read
  // its PDB from the instance block on its next walk; all makes every context do so.
  void invalidate_all();
  size_t invalidate_context(unsigned ctx);
  size_t invalidate_va(unsigned ctx, uint64_t va);

  // Back to power-on: contexts unbound, TLB empty, statistics cleared.
  void reset();

  const CacheStats& tlb_stats() const { return m_tlb.stats(); }
  void reset_tlb_stats() { m_tlb.reset_stats(); }
  size_t tlb_occupancy() const { return m_tlb.occupancy(); }
  const CacheConfig& tlb_config() const { return m_tlb.config(); }
  uint64_t walks() const { return m_walks; }

 private:
  static constexpr unsigned kClasses = 4;  // 4 KiB, big, 2 MiB, 512 MiB
  static constexpr uint64_t kVpnMask = (uint64_t{1} << 56) - 1;
  unsigned class_shift(unsigned c) const {
    switch (c) {
      case 0: return 12;
      case 1: return m_format.big_page_shift;
      case 2: return 21;
      default: return 29;
    }
  }
  static GmmuTlbTag tag(unsigned ctx, unsigned cls, uint64_t va, unsigned shift) {
    return (uint64_t{ctx} << 58) | (uint64_t{cls} << 56) | ((va >> shift) & kVpnMask);
  }
  unsigned class_of(unsigned shift) const {
    if (shift == 12) return 0;
    if (shift == 21) return 2;
    if (shift == 29) return 3;
    return 1;
  }
  static bool permits(const GmmuTlbEntry& e, GmmuAccess a, GmmuFault* fault);
  GmmuResult from_entry(const GmmuTlbEntry& e, uint64_t va, GmmuAccess a, bool hit);

  GmmuFormat m_format;
  SetAssocCache<GmmuTlbTag, GmmuTlbEntry, GmmuTlbHash> m_tlb;
  std::array<GmmuContext, kContexts> m_ctx{};
  unsigned m_classes_present = 0;  // bit per class inserted since the last flush (fewer probes)
  uint64_t m_walks = 0;
};

}  // namespace pciesim::gpu
