// The GMMU walk (gmmu_walk.h). Index bits and entry sizes: hardware-facts 4.1; entry semantics
// (IS_PTE, sparse, dual PDE, "no valid 4 KiB page"): 4.2 and 4.3.
#include "devices/gpu/gmmu_walk.h"

namespace pciesim::gpu {

namespace {

uint64_t index_of(uint64_t va, const GmmuLevelBits& b) {
  return (va >> b.lo) & ((uint64_t{1} << (b.hi - b.lo + 1)) - 1);
}

// The walk state: the result being built and the reader.
class Walker {
 public:
  Walker(const GmmuFormat& f, uint64_t va, GmmuAccess access, const GmmuMemoryReader& mem)
      : m_f(f), m_va(va), m_access(access), m_mem(mem) {}

  GmmuWalkResult run(uint64_t pdb, GmmuAperture pdb_aperture);

 private:
  GmmuWalkResult& fault(GmmuFaultType t, GmmuFaultDetail d, GmmuLevel l) {
    m_r.status = GmmuWalkStatus::Fault;
    m_r.fault = {t, d, l};
    return m_r;
  }
  GmmuWalkResult& sparse(uint64_t size, GmmuLevel l) {
    m_r.status = GmmuWalkStatus::Sparse;
    m_r.translation = {};
    m_r.translation.page_size = size;
    m_r.translation.leaf = l;
    return m_r;
  }
  // Reads `count` words of the entry at `addr`; false after recording a fault of type `t`.
  bool read(GmmuLevel level, GmmuAperture ap, uint64_t addr, unsigned count, GmmuFaultType t, uint64_t* words);
  GmmuWalkResult& leaf(const GmmuPte& pte, uint64_t page_size, GmmuLevel level);
  // The big- or small-PT lookup below PD0. Returns nullptr to mean "fall through to the small PT".
  GmmuWalkResult* page_table(const GmmuPde& table, const GmmuLevelBits& bits, uint64_t page_size, bool big);

  const GmmuFormat& m_f;
  uint64_t m_va;
  GmmuAccess m_access;
  const GmmuMemoryReader& m_mem;
  GmmuWalkResult m_r;
};

bool Walker::read(GmmuLevel level, GmmuAperture ap, uint64_t addr, unsigned count, GmmuFaultType t,
                  uint64_t* words) {
  const uint64_t bytes = uint64_t{8} * count;
  const uint64_t size = m_mem.aperture_size(ap);
  if (addr >= size || size - addr < bytes) {
    fault(t, GmmuFaultDetail::TableOutOfRange, level);
    return false;
  }
  if (!m_mem.read(ap, addr, words, count)) {
    fault(t, GmmuFaultDetail::TableReadFailed, level);
    return false;
  }
  if (m_r.visit_count < kGmmuMaxVisits) {
    GmmuVisit& v = m_r.visits[m_r.visit_count++];
    v.level = level;
    v.aperture = ap;
    v.entry_address = addr;
    v.bytes = static_cast<uint8_t>(bytes);
    v.raw = {words[0], count > 1 ? words[1] : 0};
  }
  return true;
}

GmmuWalkResult& Walker::leaf(const GmmuPte& pte, uint64_t page_size, GmmuLevel level) {
  // Permission order: privilege, then read-only for writes and atomics, then atomic disable.
  const bool writes = m_access.type != GmmuAccessType::Read;
  if (pte.privileged && !m_access.privileged)
    return fault(GmmuFaultType::PrivViolation, GmmuFaultDetail::Privilege, level);
  if (pte.read_only && writes) return fault(GmmuFaultType::RoViolation, GmmuFaultDetail::ReadOnly, level);
  if (pte.atomic_disable && m_access.type == GmmuAccessType::Atomic)
    return fault(GmmuFaultType::AtomicViolation, GmmuFaultDetail::AtomicDisabled, level);
  GmmuTranslation& t = m_r.translation;
  // A large page's base is page aligned; address bits below the page size are ignored.
  t.address = (pte.address & ~(page_size - 1)) | (m_va & (page_size - 1));
  t.aperture = pte.aperture;
  t.peer_id = pte.peer_id;
  t.page_size = page_size;
  t.leaf = level;
  t.volatile_ = pte.volatile_;
  t.privileged = pte.privileged;
  t.read_only = pte.read_only;
  t.atomic_disable = pte.atomic_disable;
  t.access_counting_disabled = pte.access_counting_disabled;
  t.kind = pte.kind;
  m_r.status = GmmuWalkStatus::Translated;
  return m_r;
}

GmmuWalkResult* Walker::page_table(const GmmuPde& table, const GmmuLevelBits& bits, uint64_t page_size, bool big) {
  uint64_t raw = 0;
  const uint64_t addr = table.address + index_of(m_va, bits) * kGmmuPteBytes;
  if (!read(bits.level, table.aperture, addr, 1, GmmuFaultType::Pte, &raw)) return &m_r;
  const GmmuPte pte = decode_pte(m_f, raw);
  if (pte.valid) return &leaf(pte, page_size, bits.level);
  switch (pte.invalid_kind) {
    case GmmuInvalidKind::Sparse: return &sparse(page_size, bits.level);
    case GmmuInvalidKind::NoValid4K:
      if (big) return &fault(GmmuFaultType::Pte, GmmuFaultDetail::NoValidSmallPage, bits.level);
      break;
    case GmmuInvalidKind::Invalid:
    case GmmuInvalidKind::MappingNowhere: break;
  }
  if (big) return nullptr;  // an invalid big PTE: the small page table decides
  return &fault(GmmuFaultType::Pte, GmmuFaultDetail::EntryInvalid, bits.level);
}

GmmuWalkResult Walker::run(uint64_t pdb, GmmuAperture pdb_aperture) {
  if (m_f.va_bits < 64 && (m_va >> m_f.va_bits) != 0)
    return fault(GmmuFaultType::VaLimitViolation, GmmuFaultDetail::VaBeyondFormat, GmmuLevel::Pdb);
  if (pdb_aperture == GmmuAperture::Invalid)
    return fault(GmmuFaultType::UnboundInstBlock, GmmuFaultDetail::PdbApertureInvalid, GmmuLevel::Pdb);
  if (pdb_aperture == GmmuAperture::Peer)
    return fault(GmmuFaultType::UnsupportedAperture, GmmuFaultDetail::PdbAperturePeer, GmmuLevel::Pdb);
  if (pdb % kGmmuTableAlign != 0)
    return fault(GmmuFaultType::UnboundInstBlock, GmmuFaultDetail::PdbMisaligned, GmmuLevel::Pdb);

  uint64_t table = pdb;
  GmmuAperture table_ap = pdb_aperture;
  for (unsigned i = 0; i < m_f.upper_level_count(); ++i) {
    const GmmuLevelBits bits = m_f.upper_level(i);
    uint64_t raw = 0;
    if (!read(bits.level, table_ap, table + index_of(m_va, bits) * kGmmuPdeBytes, 1, GmmuFaultType::Pde, &raw))
      return m_r;
    const GmmuPde pde = decode_pde(m_f, raw);
    if (pde.is_pte) {  // IS_PTE: a 512 MiB leaf, only in PD1 of formats that have one (4.1)
      if (bits.level != GmmuLevel::Pd1 || !m_f.pd1_huge_pages)
        return fault(GmmuFaultType::Pde, GmmuFaultDetail::LeafNotAllowed, bits.level);
      return leaf(decode_pte(m_f, raw), kGmmu512MPage, bits.level);
    }
    if (pde.aperture == GmmuAperture::Invalid) {
      if (pde.sparse()) return sparse(uint64_t{1} << bits.lo, bits.level);
      return fault(GmmuFaultType::Pde, GmmuFaultDetail::EntryInvalid, bits.level);
    }
    table = pde.address;
    table_ap = pde.aperture;
  }

  // PD0: 16-byte dual entries.
  uint64_t raw[2] = {0, 0};
  const GmmuLevelBits pd0 = GmmuFormat::kPd0;
  if (!read(pd0.level, table_ap, table + index_of(m_va, pd0) * kGmmuDualPdeBytes, 2, GmmuFaultType::Pde, raw))
    return m_r;
  const GmmuDualPde dual = decode_dual_pde(m_f, raw[0], raw[1]);
  if (dual.is_pte) return leaf(decode_pte(m_f, raw[0]), kGmmu2MPage, pd0.level);  // 2 MiB PTE
  if (dual.big.aperture != GmmuAperture::Invalid) {
    if (GmmuWalkResult* r = page_table(dual.big, m_f.big_pt(), m_f.big_page_size(), true)) return *r;
  }
  if (dual.small.aperture != GmmuAperture::Invalid) {
    if (GmmuWalkResult* r = page_table(dual.small, GmmuFormat::kSmallPt, kGmmuSmallPage, false)) return *r;
  }
  if (dual.big.aperture != GmmuAperture::Invalid)  // an invalid big PTE with no small table below
    return fault(GmmuFaultType::Pte, GmmuFaultDetail::EntryInvalid, GmmuLevel::BigPt);
  // 4.2: both apertures invalid and VOL_BIG -> sparse.
  if (dual.big.volatile_) return sparse(kGmmu2MPage, pd0.level);
  return fault(GmmuFaultType::Pde, GmmuFaultDetail::EntryInvalid, pd0.level);
}

}  // namespace

const char* to_string(GmmuFaultType t) {
  switch (t) {
    case GmmuFaultType::Pde: return "PDE";
    case GmmuFaultType::PdeSize: return "PDE_SIZE";
    case GmmuFaultType::Pte: return "PTE";
    case GmmuFaultType::VaLimitViolation: return "VA_LIMIT_VIOLATION";
    case GmmuFaultType::UnboundInstBlock: return "UNBOUND_INST_BLOCK";
    case GmmuFaultType::PrivViolation: return "PRIV_VIOLATION";
    case GmmuFaultType::RoViolation: return "RO_VIOLATION";
    case GmmuFaultType::PitchMaskViolation: return "PITCH_MASK_VIOLATION";
    case GmmuFaultType::WorkCreation: return "WORK_CREATION";
    case GmmuFaultType::UnsupportedAperture: return "UNSUPPORTED_APERTURE";
    case GmmuFaultType::CompressionFailure: return "COMPRESSION_FAILURE";
    case GmmuFaultType::UnsupportedKind: return "UNSUPPORTED_KIND";
    case GmmuFaultType::RegionViolation: return "REGION_VIOLATION";
    case GmmuFaultType::Poisoned: return "POISONED";
    case GmmuFaultType::AtomicViolation: return "ATOMIC_VIOLATION";
  }
  return "?";
}

const char* to_string(GmmuFaultDetail d) {
  switch (d) {
    case GmmuFaultDetail::None: return "none";
    case GmmuFaultDetail::VaBeyondFormat: return "VA beyond the format's width";
    case GmmuFaultDetail::PdbApertureInvalid: return "PDB aperture invalid";
    case GmmuFaultDetail::PdbMisaligned: return "PDB not 4 KiB aligned";
    case GmmuFaultDetail::PdbAperturePeer: return "PDB in peer memory";
    case GmmuFaultDetail::TableOutOfRange: return "table entry beyond the aperture";
    case GmmuFaultDetail::TableReadFailed: return "table read failed";
    case GmmuFaultDetail::EntryInvalid: return "entry invalid";
    case GmmuFaultDetail::LeafNotAllowed: return "PTE at a level without large pages";
    case GmmuFaultDetail::NoValidSmallPage: return "big PTE: no valid 4 KiB page";
    case GmmuFaultDetail::Privilege: return "privileged page";
    case GmmuFaultDetail::ReadOnly: return "read-only page";
    case GmmuFaultDetail::AtomicDisabled: return "atomics disabled";
  }
  return "?";
}

GmmuWalkResult walk(const GmmuFormat& format, uint64_t pdb, GmmuAperture pdb_aperture, uint64_t va,
                    GmmuAccess access, const GmmuMemoryReader& mem) {
  return Walker(format, va, access, mem).run(pdb, pdb_aperture);
}

}  // namespace pciesim::gpu
