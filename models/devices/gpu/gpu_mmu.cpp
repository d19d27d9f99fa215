#include "devices/gpu/gpu_mmu.h"

namespace pciesim::gpu {

void Gmmu::bind(unsigned ctx, bool valid, GmmuAperture ap, uint64_t inst) {
  GmmuContext& c = m_ctx[ctx % kContexts];
  c.valid = valid;
  c.inst_aperture = ap;
  c.inst_address = inst;
  c.pdb_loaded = false;
}

bool Gmmu::permits(const GmmuTlbEntry& e, GmmuAccess a, GmmuFault* fault) {
  // The walk's order (gmmu_walk.h): privilege, read-only (writes and atomics), atomic disable.
  auto deny = [&](GmmuFaultType t, GmmuFaultDetail d) {
    *fault = GmmuFault{t, d, e.leaf};
    return false;
  };
  if (e.privileged && !a.privileged) return deny(GmmuFaultType::PrivViolation, GmmuFaultDetail::Privilege);
  if (e.read_only && a.type != GmmuAccessType::Read) return deny(GmmuFaultType::RoViolation, GmmuFaultDetail::ReadOnly);
  if (e.atomic_disable && a.type == GmmuAccessType::Atomic)
    return deny(GmmuFaultType::AtomicViolation, GmmuFaultDetail::AtomicDisabled);
  return true;
}

GmmuResult Gmmu::from_entry(const GmmuTlbEntry& e, uint64_t va, GmmuAccess a, bool hit) {
  GmmuResult r;
  r.tlb_hit = hit;
  r.page_size = uint64_t{1} << e.page_shift;
  if (e.sparse) {
    r.status = GmmuWalkStatus::Sparse;
    return r;
  }
  if (!permits(e, a, &r.fault)) {
    r.status = GmmuWalkStatus::Fault;
    return r;
  }
  r.status = GmmuWalkStatus::Translated;
  r.aperture = e.aperture;
  r.peer_id = e.peer_id;
  r.address = e.page_base | (va & (r.page_size - 1));
  return r;
}

GmmuResult Gmmu::translate(unsigned ctx, uint64_t va, GmmuAccess access, const GmmuMemoryReader& mem) {
  ctx %= kContexts;
  // Hit path: one probe per page-size class present, no counting until the outcome is known.
  for (unsigned cls = 0, present = m_classes_present; present; ++cls, present >>= 1) {
    if (!(present & 1)) continue;
    const long slot = m_tlb.slot_of(tag(ctx, cls, va, class_shift(cls)));
    if (slot >= 0) return from_entry(m_tlb.hit_at(static_cast<size_t>(slot)), va, access, true);
  }
  m_tlb.count_miss();

  GmmuResult r;
  GmmuContext& c = m_ctx[ctx];
  if (!c.valid) {  // gpu_regs.h: a context without VALID faults UNBOUND_INST_BLOCK
    r.fault = GmmuFault{GmmuFaultType::UnboundInstBlock, GmmuFaultDetail::PdbApertureInvalid, GmmuLevel::Pdb};
    return r;
  }
  if (!c.pdb_loaded) {
    // Volta dev_ram: the PDB is dwords 128/129 of the instance block; one 8-byte read.
    uint64_t w = 0;
    const uint64_t at = c.inst_address + kInstPdbOffset;
    ++r.walk_reads;
    if (c.inst_aperture == GmmuAperture::Invalid || at + 8 > mem.aperture_size(c.inst_aperture) ||
        !mem.read(c.inst_aperture, at, &w, 1)) {
      r.fault = GmmuFault{GmmuFaultType::UnboundInstBlock, GmmuFaultDetail::PdbApertureInvalid, GmmuLevel::Pdb};
      return r;
    }
    c.pdb = decode_instance_pdb(static_cast<uint32_t>(w), static_cast<uint32_t>(w >> 32));
    c.pdb_loaded = true;
  }
  ++m_walks;
  const GmmuWalkResult w = walk(m_format, c.pdb.address, c.pdb.aperture, va, access, mem);
  r.walk_reads = static_cast<uint8_t>(r.walk_reads + w.visit_count);
  if (w.faulted()) {
    r.status = GmmuWalkStatus::Fault;
    r.fault = w.fault;
    return r;
  }
  // Cache the page (or the sparse range) under its own size class.
  GmmuTlbEntry e;
  const uint64_t size = w.translation.page_size;
  unsigned shift = 12;
  while ((uint64_t{1} << shift) < size && shift < 63) ++shift;
  e.page_shift = static_cast<uint8_t>(shift);
  e.sparse = w.status == GmmuWalkStatus::Sparse;
  e.leaf = w.translation.leaf;
  e.aperture = w.translation.aperture;
  e.peer_id = w.translation.peer_id;
  e.page_base = w.translation.address & ~(size - 1);
  e.privileged = w.translation.privileged;
  e.read_only = w.translation.read_only;
  e.atomic_disable = w.translation.atomic_disable;
  const unsigned cls = class_of(shift);
  m_tlb.insert(tag(ctx, cls, va, shift), e);
  m_classes_present |= 1u << cls;
  GmmuResult out = from_entry(e, va, access, false);
  out.walk_reads = r.walk_reads;
  return out;
}

void Gmmu::invalidate_all() {
  m_tlb.flush();
  m_classes_present = 0;
  for (GmmuContext& c : m_ctx) c.pdb_loaded = false;
}

size_t Gmmu::invalidate_context(unsigned ctx) {
  ctx %= kContexts;
  m_ctx[ctx].pdb_loaded = false;
  return m_tlb.invalidate_if([ctx](GmmuTlbTag t) { return (t >> 58) == ctx; });
}

size_t Gmmu::invalidate_va(unsigned ctx, uint64_t va) {
  ctx %= kContexts;
  m_ctx[ctx].pdb_loaded = false;
  return m_tlb.invalidate_if([this, ctx, va](GmmuTlbTag t) {
    if ((t >> 58) != ctx) return false;
    const unsigned cls = static_cast<unsigned>(t >> 56) & 3;
    return (t & kVpnMask) == ((va >> class_shift(cls)) & kVpnMask);
  });
}

void Gmmu::reset() {
  m_tlb.flush();
  m_tlb.reset_stats();
  m_classes_present = 0;
  m_ctx.fill(GmmuContext{});
  m_walks = 0;
}

}  // namespace pciesim::gpu
