// One DMA-remapping domain of the co-simulated intel-iommu driver: a domain id and a 3/4/5-level
// second-level page table in kernel memory (VT-d 9.8; hardware-facts 1.12), with Linux's
// iommu_map / iommu_unmap / iova_to_phys semantics and its two ways of invalidating after unmap:
//   strict  page-selective IOTLB invalidation (AM sized to the range) through the queue before
//           unmap returns (Linux iommu.strict=1, iotlb_sync);
//   lazy    unmapped ranges wait in a flush queue; one domain-selective IOTLB flush runs when the
//           queue fills, on flush_lazy(), or once the oldest entry is older than the timeout
//           (Linux dma-iommu's IOVA flush queue, iommu.strict=0). Until then the unit's IOTLB may
//           still translate an unmapped IOVA: a stale entry keeps working, as on real hardware.
#pragma once

#include <cstdint>
#include <vector>

#include "iommu/vtd_types.h"

namespace pciesim::cosim {

class IntelIommu;
class KernelMemory;

// Linux IOMMU_READ / IOMMU_WRITE.
enum IommuProt : unsigned { kIommuRead = 1, kIommuWrite = 2 };

enum class FlushMode : uint8_t { Strict, Lazy };

class IommuDomain {
 public:
  // Linux dma-iommu: IOVA_FQ_SIZE entries per flush queue, IOVA_FQ_TIMEOUT 10 ms.
  static constexpr unsigned kFlushQueueSize = 256;
  static constexpr uint64_t kFlushTimeoutPs = 10'000'000'000ull;

  // Created by IntelIommu::alloc_domain.
  IommuDomain(IntelIommu& iommu, KernelMemory& mem, uint16_t did, int levels);
  ~IommuDomain();
  IommuDomain(const IommuDomain&) = delete;
  IommuDomain& operator=(const IommuDomain&) = delete;

  uint16_t did() const { return m_did; }
  int levels() const { return m_levels; }
  unsigned address_width() const { return m_width; }
  uint64_t pgd_phys() const { return m_pgd_phys; }  // SLPTPTR
  IntelIommu& iommu() { return m_iommu; }

  // Maps [iova, iova + size) to [phys, ...): 4 KiB pages, 2 MiB leaves where CAP.SLLPS allows and
  // both addresses and the remaining size fit. 0, or -EINVAL (unaligned / beyond the domain's
  // width / no permission), -EEXIST (already mapped), -ENOMEM.
  int map(uint64_t iova, uint64_t phys, uint64_t size, unsigned prot);
  // Unmaps; a 2 MiB leaf is removed whole (Linux returns its size). Returns bytes unmapped and
  // invalidates per the flush mode.
  uint64_t unmap(uint64_t iova, uint64_t size);
  // The physical address iova maps to, 0 if none.
  uint64_t iova_to_phys(uint64_t iova) const;

  void set_flush_mode(FlushMode m) { m_mode = m; }
  FlushMode flush_mode() const { return m_mode; }
  void set_flush_queue_size(unsigned n) { m_fq_size = n ? n : 1; }
  // Lazy mode: invalidate everything held now (one domain-selective flush). 0 or a queue error.
  int flush_lazy();
  // Lazy mode: flush if the oldest held range is older than the timeout (the fq timer).
  int service_flush_timer(uint64_t now_ps);
  size_t flush_queue_depth() const { return m_fq.size(); }

  // Statistics
  uint64_t leaves_4k() const { return m_leaves_4k; }
  uint64_t leaves_2m() const { return m_leaves_2m; }
  uint64_t table_pages() const { return m_tables.size(); }

 private:
  struct HeldRange {
    uint64_t iova, size, time_ps;
  };
  uint64_t* table(uint64_t phys) const;
  // The entry of `level` for iova, allocating tables on the way down; nullptr if a large leaf is
  // in the way or memory is exhausted.
  uint64_t* entry_for(uint64_t iova, int level, bool allocate);
  int flush_range(uint64_t iova, uint64_t size, bool map = false);

  IntelIommu& m_iommu;
  KernelMemory& m_mem;
  uint16_t m_did;
  int m_levels;
  unsigned m_width;
  bool m_large_2m;
  uint64_t m_pgd_phys = 0;
  std::vector<void*> m_tables;  // every table page, freed with the domain
  FlushMode m_mode = FlushMode::Strict;
  unsigned m_fq_size = kFlushQueueSize;
  std::vector<HeldRange> m_fq;
  uint64_t m_leaves_4k = 0, m_leaves_2m = 0;
};

}  // namespace pciesim::cosim
