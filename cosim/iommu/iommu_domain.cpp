#include "iommu/iommu_domain.h"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <systemc>

#include "iommu/intel_iommu.h"
#include "iommu/tables.h"
#include "kernel/kernel_memory.h"

namespace pciesim::cosim {

namespace {
// VT-d 9.8 second-level entry bits (hardware-facts 1.12).
constexpr uint64_t kPteRead = 1ull << 0, kPteWrite = 1ull << 1, kPtePs = 1ull << 7;
constexpr uint64_t kPteAddrMask = 0x000f'ffff'ffff'f000ull;  // 51:12
constexpr uint64_t kSize4k = 4096, kSize2m = 2ull << 20;
bool present(uint64_t e) { return (e & (kPteRead | kPteWrite)) != 0; }
}  // namespace

IommuDomain::IommuDomain(IntelIommu& iommu, KernelMemory& mem, uint16_t did, int levels)
    : m_iommu(iommu), m_mem(mem), m_did(did), m_levels(levels) {
  const vtd::Capabilities& caps = iommu.caps();
  m_width = std::min<unsigned>(static_cast<unsigned>(vtd::width_for_levels(levels)), caps.mgaw());
  m_large_2m = (caps.sllps() & 1) != 0;  // CAP.SLLPS bit 34: 2 MiB second-level pages
  void* pgd = mem.alloc_pages(0);
  if (!pgd) throw std::runtime_error("intel-iommu: no kernel memory for a page directory");
  m_tables.push_back(pgd);
  m_pgd_phys = mem.virt_to_phys(pgd);
}

IommuDomain::~IommuDomain() {
  for (void* t : m_tables) m_mem.free(t);
}

uint64_t* IommuDomain::table(uint64_t phys) const { return static_cast<uint64_t*>(m_mem.phys_to_virt(phys)); }

uint64_t* IommuDomain::entry_for(uint64_t iova, int level, bool allocate) {
  uint64_t* t = table(m_pgd_phys);
  for (int l = m_levels; l > level; --l) {
    uint64_t& e = t[vtd::level_index(iova, l)];
    if (!present(e)) {
      if (!allocate) return nullptr;
      void* next = m_mem.alloc_pages(0);
      if (!next) return nullptr;
      m_tables.push_back(next);
      // Non-leaf entries grant both rights; the leaf decides (Linux pfn_to_dma_pte).
      e = m_mem.virt_to_phys(next) | kPteRead | kPteWrite;
    } else if (e & kPtePs) {
      return nullptr;  // a large leaf covers this address
    }
    t = table(e & kPteAddrMask);
  }
  return &t[vtd::level_index(iova, level)];
}

int IommuDomain::map(uint64_t iova, uint64_t phys, uint64_t size, unsigned prot) {
  if (size == 0 || ((iova | phys | size) & (kSize4k - 1))) return -EINVAL;
  if (!(prot & (kIommuRead | kIommuWrite))) return -EINVAL;
  const uint64_t limit = m_width >= 64 ? ~0ull : (1ull << m_width);
  if (iova + size < iova || iova + size > limit) return -EINVAL;
  const uint64_t rights = ((prot & kIommuRead) ? kPteRead : 0) | ((prot & kIommuWrite) ? kPteWrite : 0);

  uint64_t done = 0;
  int rc = 0;
  while (done < size) {
    const uint64_t va = iova + done, pa = phys + done, left = size - done;
    if (m_large_2m && !(va & (kSize2m - 1)) && !(pa & (kSize2m - 1)) && left >= kSize2m) {
      uint64_t* e = entry_for(va, 2, true);
      if (e && !present(*e)) {  // a present table below falls back to 4 KiB leaves
        *e = (pa & kPteAddrMask) | rights | kPtePs;
        ++m_leaves_2m;
        done += kSize2m;
        continue;
      }
      if (e && (*e & kPtePs)) {
        rc = -EEXIST;
        break;
      }
    }
    uint64_t* e = entry_for(va, 1, true);
    if (!e || present(*e)) {
      rc = -EEXIST;
      break;
    }
    *e = (pa & kPteAddrMask) | rights;
    ++m_leaves_4k;
    done += kSize4k;
  }
  if (rc) {
    // Linux iommu_map: undo the part that was mapped.
    if (done) {
      const FlushMode mode = m_mode;
      m_mode = FlushMode::Strict;
      unmap(iova, done);
      m_mode = mode;
    }
    return rc;
  }
  // CAP.CM: not-present entries may be cached, so a new mapping needs an invalidation (VT-d 6.1).
  if (m_iommu.caps().caching_mode()) return flush_range(iova, size, true);
  return 0;
}

uint64_t IommuDomain::unmap(uint64_t iova, uint64_t size) {
  uint64_t unmapped = 0, lo = ~0ull, hi = 0;
  uint64_t va = iova & ~(kSize4k - 1);
  const uint64_t end = iova + size;
  while (va < end) {
    uint64_t* t = table(m_pgd_phys);
    int l = m_levels;
    uint64_t step = kSize4k;
    for (;; --l) {
      uint64_t& e = t[vtd::level_index(va, l)];
      const uint64_t span = vtd::level_size(l);
      if (!present(e)) {
        step = span - (va & (span - 1));  // nothing below: skip to the next entry of this level
        break;
      }
      if (l == 1 || (e & kPtePs)) {
        const uint64_t base = va & ~(span - 1);
        e = 0;
        unmapped += span;
        lo = std::min(lo, base);
        hi = std::max(hi, base + span);
        step = base + span - va;
        break;
      }
      t = table(e & kPteAddrMask);
    }
    if (va + step < va) break;
    va += step;
  }
  if (!unmapped) return 0;
  if (m_mode == FlushMode::Strict) {
    flush_range(lo, hi - lo);
  } else {
    const uint64_t now = static_cast<uint64_t>(sc_core::sc_time_stamp().value());
    m_fq.push_back({lo, hi - lo, now});
    if (m_fq.size() >= m_fq_size) flush_lazy();
  }
  return unmapped;
}

uint64_t IommuDomain::iova_to_phys(uint64_t iova) const {
  const uint64_t* t = table(m_pgd_phys);
  for (int l = m_levels; l >= 1; --l) {
    const uint64_t e = t[vtd::level_index(iova, l)];
    if (!present(e)) return 0;
    if (l == 1 || (e & kPtePs)) return (e & kPteAddrMask & ~(vtd::level_size(l) - 1)) | (iova & (vtd::level_size(l) - 1));
    t = table(e & kPteAddrMask);
  }
  return 0;
}

int IommuDomain::flush_range(uint64_t iova, uint64_t size, bool map) {
  return m_iommu.flush_iotlb_psi(m_did, iova, (size + kSize4k - 1) / kSize4k, map);
}

int IommuDomain::flush_lazy() {
  if (m_fq.empty()) return 0;
  m_fq.clear();
  // Linux fq_flush_iotlb -> intel_flush_iotlb_all: a domain-selective IOTLB invalidation, then
  // (without CAP.CM) the ATS devices' TLBs, all of them (MAX_AGAW_PFN_WIDTH).
  const int rc = m_iommu.flush_iotlb_dsi(m_did);
  const int dev_rc = m_iommu.caps().caching_mode() ? 0 : m_iommu.flush_dev_iotlb(m_did, 0, 52);
  return rc ? rc : dev_rc;
}

int IommuDomain::service_flush_timer(uint64_t now_ps) {
  if (m_fq.empty() || now_ps - m_fq.front().time_ps < kFlushTimeoutPs) return 0;
  return flush_lazy();
}

}  // namespace pciesim::cosim
