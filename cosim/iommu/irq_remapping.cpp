// Interrupt remapping entries of the intel-iommu driver (irq_remapping.c alloc_irte, modify_irte,
// free_irte, fill_msi_msg; VT-d 9.10, 5.1.2; hardware-facts 1.16).
#include <cerrno>
#include <cstring>

#include "iommu/intel_iommu.h"
#include "iommu/interrupt_remap.h"
#include "iommu/queued_invalidation.h"

namespace pciesim::cosim {

// modify_irte: write the entry (high quadword first, the present bit is in the low one), then
// qi_flush_iec for the index.
int IntelIommu::modify_irte(unsigned index, uint64_t lo, uint64_t hi, unsigned index_mask) {
  m_irt[2 * index + 1] = hi;
  m_irt[2 * index] = lo;
  return submit({qi::iec_index(static_cast<uint16_t>(index), index_mask)});
}

int IntelIommu::alloc_irq(RequesterId source, uint8_t vector, uint32_t dest, unsigned count) {
  return alloc_irq(vtd::SourceValidation::requester(source.raw()), vector, dest, count);
}

int IntelIommu::alloc_irq(const vtd::SourceValidation& check, uint8_t vector, uint32_t dest, unsigned count) {
  if (!m_irt) return -ENODEV;
  if (count == 0 || (count & (count - 1)) || count > 32) return -EINVAL;
  // alloc_irte: bitmap_find_free_region of order log2(count): naturally aligned blocks, so a
  // multi-MSI block is one IEC index-selective invalidation (IM = log2(count), ECAP.MHMV).
  unsigned mask = 0;
  while ((1u << mask) < count) ++mask;
  if (mask > m_caps.mhmv()) return -EINVAL;
  for (unsigned base = 0; base + count <= m_irte_entries; base += count) {
    bool free = true;
    for (unsigned i = 0; i < count && free; ++i) free = !m_irte_used[base + i];
    if (!free) continue;
    for (unsigned i = 0; i < count; ++i) {
      m_irte_used[base + i] = true;
      vtd::ApicInterrupt irq;
      irq.vector = static_cast<uint8_t>(vector + i);
      irq.destination = dest;
      // prepare_irte: fixed delivery, physical destination, edge; the source check set_msi_sid chose.
      const vtd::CachedIrte e = vtd::make_remapped_irte(irq, m_eim, check);
      m_irt[2 * (base + i) + 1] = e.hi;
      m_irt[2 * (base + i)] = e.lo;
    }
    const int rc = submit({qi::iec_index(static_cast<uint16_t>(base), mask)});
    return rc ? rc : static_cast<int>(base);
  }
  return -ENOSPC;
}

void IntelIommu::free_irq(unsigned index, unsigned count) {
  if (!m_irt || index + count > m_irte_entries) return;
  for (unsigned i = 0; i < count; ++i) {
    m_irte_used[index + i] = false;
    modify_irte(index + i, 0, 0, 0);
  }
}

// fill_msi_msg: address 0xFEE | HANDLE[14:0] << 5 | IF | SHV | HANDLE[15] << 2, data = sub-handle.
MsiMessage IntelIommu::compose_msi(unsigned index, uint16_t subhandle) const {
  const vtd::MsiWrite m = vtd::make_remappable_msi(static_cast<uint16_t>(index), true, subhandle, 0);
  return MsiMessage{m.address, m.data};
}

}  // namespace pciesim::cosim
