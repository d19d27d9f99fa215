// The VFIO container and its type1v2 backend (Linux 6.1 drivers/vfio/vfio_main.c container
// ioctls, drivers/vfio/vfio_iommu_type1.c).
#include <algorithm>
#include <cstring>
#include <uapi/linux/vfio.h>

#include "iommu/iommu_api.h"
#include "kernel/kernel.h"
#include "vfio/user_memory.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {

namespace {
constexpr uint64_t kMsiFirst = IommuApi::kMsiFirst, kMsiLast = IommuApi::kMsiLast;  // the groups' reserved region
// DIRTY_BITMAP_SIZE_MAX: DIRTY_BITMAP_BYTES(INT_MAX pages) = ALIGN(2^31 - 1, 64) / 8.
constexpr uint64_t kDirtyBitmapSizeMax = (((1ull << 31) - 1 + 63) & ~63ull) / 8;

}  // namespace

VfioContainer::~VfioContainer() {
  while (!m_dma.empty()) unmap_one(m_dma.begin()->first);
}

uint64_t VfioContainer::pgsize_bitmap() const { return m_domain ? m_domain->c->pgsize_bitmap : 0; }

long VfioContainer::check_extension(unsigned long ext) const {
  switch (ext) {  // vfio_iommu_type1_check_extension; the noiommu driver is not registered
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_TYPE1_NESTING_IOMMU:
    case VFIO_UNMAP_ALL:
    case VFIO_UPDATE_VADDR:
      return (!m_type || m_type == VFIO_TYPE1_IOMMU || m_type == VFIO_TYPE1v2_IOMMU) ? 1 : 0;
    case VFIO_DMA_CC_IOMMU:
      return m_domain ? 1 : 0;  // intel-iommu enforces snooping on every domain it builds here
    default:
      return 0;
  }
}

int VfioContainer::attach_to_domain(GroupRec& g) {
  if (!m_domain) m_domain = m_kernel.iommu().alloc_domain(IOMMU_DOMAIN_UNMANAGED);
  return m_kernel.iommu().attach_group(m_domain, g);
}

long VfioContainer::set_iommu(unsigned long type) {
  if (m_groups.empty() || m_type) return -EINVAL;
  if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU) return -ENODEV;  // no driver for it
  for (size_t i = 0; i < m_groups.size(); ++i) {
    const int rc = attach_to_domain(m_groups[i]->group());
    if (rc) {
      for (size_t j = 0; j < i; ++j) m_kernel.iommu().detach_group(m_domain, m_groups[j]->group());
      m_kernel.iommu().free_domain(m_domain);
      m_domain = nullptr;
      return rc;
    }
  }
  m_type = type;
  return 0;
}

int VfioContainer::attach_group(VfioGroupFile& g) {
  if (m_type) {  // a later group joins the backend's domain
    const int rc = attach_to_domain(g.group());
    if (rc) return rc;
  }
  m_groups.push_back(&g);
  return 0;
}

void VfioContainer::detach_group(VfioGroupFile& g) {
  auto it = std::find(m_groups.begin(), m_groups.end(), &g);
  if (it == m_groups.end()) return;
  if (m_domain) m_kernel.iommu().detach_group(m_domain, g.group());
  m_groups.erase(it);
  if (m_groups.empty() && m_type) {  // the last group: the backend is released (vfio_iommu_type1_release)
    while (!m_dma.empty()) unmap_one(m_dma.begin()->first);
    m_kernel.iommu().free_domain(m_domain);
    m_domain = nullptr;
    m_type = 0;
  }
}

long VfioContainer::get_info(void* arg) {
  vfio_iommu_type1_info info{};
  const size_t minsz = offsetof(vfio_iommu_type1_info, iova_pgsizes) + sizeof(info.iova_pgsizes);
  std::memcpy(&info, arg, minsz);
  if (info.argsz < minsz) return -EINVAL;
  const size_t copy = std::min<size_t>(info.argsz, sizeof(info));
  info.flags = VFIO_IOMMU_INFO_PGSIZES;
  info.iova_pgsizes = pgsize_bitmap();
  // The chain as vfio_info_cap_add builds it in 6.1: capabilities back to back, no padding (so the
  // IOVA ranges after the 12-byte DMA-avail capability are not 8-byte aligned: each one is written
  // with memcpy).
  vfio_info_cap caps{nullptr, 0};
  auto add = [&caps](const void* cap, size_t size, uint16_t id) {
    vfio_info_cap_header* h = vfio_info_cap_add(&caps, size, id, 1);
    if (IS_ERR(h)) return false;
    const uint32_t next = h->next;
    std::memcpy(h, cap, size);
    h->id = id;
    h->version = 1;
    h->next = next;
    return true;
  };
  vfio_iommu_type1_info_cap_migration mig{};
  mig.pgsize_bitmap = 1ull << __builtin_ctzll(pgsize_bitmap() ? pgsize_bitmap() : 0x1000);
  mig.max_dirty_bitmap_size = kDirtyBitmapSizeMax;
  vfio_iommu_type1_info_dma_avail avail{};
  avail.avail = kDmaEntryLimit - static_cast<uint32_t>(m_dma.size());
  // vfio_iommu_iova_build_caps: the aperture minus the groups' reserved regions (the MSI window).
  const uint64_t end = m_domain ? m_domain->c->geometry.aperture_end : 0;
  std::vector<vfio_iova_range> ranges;
  if (end > kMsiLast) {
    ranges.push_back({0, kMsiFirst - 1});
    ranges.push_back({kMsiLast + 1, end});
  } else if (end) {
    ranges.push_back({0, std::min(end, kMsiFirst - 1)});
  }
  std::vector<uint8_t> iova(sizeof(vfio_iommu_type1_info_cap_iova_range) + ranges.size() * sizeof(vfio_iova_range), 0);
  const uint32_t nr = static_cast<uint32_t>(ranges.size());
  std::memcpy(iova.data() + offsetof(vfio_iommu_type1_info_cap_iova_range, nr_iovas), &nr, sizeof nr);
  if (!ranges.empty())
    std::memcpy(iova.data() + sizeof(vfio_iommu_type1_info_cap_iova_range), ranges.data(), ranges.size() * sizeof(vfio_iova_range));
  if (!add(&mig, sizeof mig, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) ||
      !add(&avail, sizeof avail, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) ||
      !add(iova.data(), iova.size(), VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE))
    return -ENOMEM;
  info.flags |= VFIO_IOMMU_INFO_CAPS;
  info.cap_offset = place_info_caps(caps, sizeof(info), info.argsz, arg);
  std::memcpy(arg, &info, copy);
  return 0;
}

long VfioContainer::map_dma(void* arg) {
  vfio_iommu_type1_dma_map map{};
  const size_t minsz = offsetof(vfio_iommu_type1_dma_map, size) + sizeof(map.size);
  std::memcpy(&map, arg, minsz);
  const uint32_t mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE | VFIO_DMA_MAP_FLAG_VADDR;
  if (map.argsz < minsz || (map.flags & ~mask)) return -EINVAL;
  const bool set_vaddr = map.flags & VFIO_DMA_MAP_FLAG_VADDR;
  int prot = 0;
  if (map.flags & VFIO_DMA_MAP_FLAG_WRITE) prot |= IOMMU_WRITE;
  if (map.flags & VFIO_DMA_MAP_FLAG_READ) prot |= IOMMU_READ;
  if ((prot && set_vaddr) || (!prot && !set_vaddr)) return -EINVAL;
  const uint64_t pgsize = 1ull << __builtin_ctzll(pgsize_bitmap());
  const uint64_t iova = map.iova, size = map.size, vaddr = map.vaddr;
  if (!size || ((size | iova | vaddr) & (pgsize - 1))) return -EINVAL;
  if (iova + size - 1 < iova || vaddr + size - 1 < vaddr) return -EINVAL;
  // vfio_find_dma: any overlap
  auto overlaps = [&](uint64_t a, uint64_t n) {
    auto it = m_dma.upper_bound(a + n - 1);
    if (it == m_dma.begin()) return m_dma.end();
    --it;
    return it->second.iova + it->second.size > a ? it : m_dma.end();
  };
  auto found = overlaps(iova, size);
  if (set_vaddr) {  // VFIO_UPDATE_VADDR: exactly a mapping whose vaddr UNMAP_FLAG_VADDR invalidated
    if (found == m_dma.end()) return -ENOENT;
    Dma& d = found->second;
    if (!d.vaddr_invalid || d.iova != iova || d.size != size) return -EINVAL;
    d.vaddr = vaddr;
    d.vaddr_invalid = false;
    return 0;
  }
  if (found != m_dma.end()) return -EEXIST;
  if (m_dma.size() >= kDmaEntryLimit) return -ENOSPC;
  // vfio_iommu_iova_dma_valid: inside one IOVA range (never the MSI window, never past the aperture)
  const uint64_t last = iova + size - 1;
  const bool in_low = last < kMsiFirst, in_high = iova > kMsiLast && last <= m_domain->c->geometry.aperture_end;
  if (!in_low && !in_high) return -EINVAL;
  // vfio_pin_map_dma: pin each page of the user's memory, then map the run
  std::vector<uint64_t> phys;
  for (uint64_t off = 0; off < size; off += pgsize) {
    uint64_t pa = 0;
    if (!m_mem.translate(vaddr + off, pa)) return -EFAULT;  // vaddr_get_pfns: nothing mapped there
    phys.push_back(pa);
  }
  for (uint64_t off = 0, i = 0; off < size; off += pgsize, ++i) {
    const int rc = m_kernel.iommu().map(m_domain, iova + off, phys[i], pgsize, prot);
    if (rc) {
      if (off) m_kernel.iommu().unmap(m_domain, iova, off);
      for (uint64_t o = 0; o < off; o += pgsize) m_mem.unpin(vaddr + o);
      return rc;
    }
    m_mem.pin(vaddr + off);
  }
  m_dma[iova] = Dma{iova, size, vaddr, prot};
  return 0;
}

void VfioContainer::unmap_one(uint64_t iova) {
  auto it = m_dma.find(iova);
  if (it == m_dma.end()) return;
  const Dma d = it->second;
  m_kernel.iommu().unmap(m_domain, d.iova, d.size);
  for (uint64_t off = 0; off < d.size; off += 4096) m_mem.unpin(d.vaddr + off);
  m_dma.erase(it);
}

long VfioContainer::unmap_dma(void* arg) {
  vfio_iommu_type1_dma_unmap unmap{};
  const size_t minsz = offsetof(vfio_iommu_type1_dma_unmap, size) + sizeof(unmap.size);
  std::memcpy(&unmap, arg, minsz);
  const uint32_t mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR;
  if (unmap.argsz < minsz || (unmap.flags & ~mask)) return -EINVAL;
  if ((unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) &&
      (unmap.flags & (VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR)))
    return -EINVAL;
  if (unmap.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) return -EINVAL;  // dirty tracking never started
  const bool all = unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL;
  uint64_t iova = unmap.iova, size = unmap.size;
  const uint64_t pgsize = 1ull << __builtin_ctzll(pgsize_bitmap());
  if (all) {
    if (iova || size) return -EINVAL;
    size = ~0ull;
  } else {
    if (iova & (pgsize - 1)) return -EINVAL;
    if (!size || (size & (pgsize - 1))) return -EINVAL;
    if (iova + size - 1 < iova) return -EINVAL;
    // type1v2: the range may not bisect a mapping
    if (m_type == VFIO_TYPE1v2_IOMMU) {
      for (const auto& [start, d] : m_dma) {
        if (iova > d.iova && iova < d.iova + d.size) return -EINVAL;
        if (iova + size > d.iova && iova + size < d.iova + d.size) return -EINVAL;
      }
    }
  }
  uint64_t unmapped = 0;
  std::vector<uint64_t> doomed;
  for (const auto& [start, d] : m_dma)
    if (d.iova >= iova && (all || d.iova + d.size - 1 <= iova + size - 1)) doomed.push_back(start);
  if (unmap.flags & VFIO_DMA_UNMAP_FLAG_VADDR) {  // invalidate the vaddrs, keep the mappings
    for (uint64_t s : doomed)
      if (m_dma[s].vaddr_invalid) return -EINVAL;  // already invalid: nothing changes
    for (uint64_t s : doomed) {
      m_dma[s].vaddr_invalid = true;
      unmapped += m_dma[s].size;
    }
  } else {
    for (uint64_t s : doomed) {
      unmapped += m_dma[s].size;
      unmap_one(s);
    }
  }
  unmap.size = unmapped;
  std::memcpy(arg, &unmap, minsz);
  return 0;
}

long VfioContainer::ioctl(unsigned long cmd, void* arg) {
  switch (cmd) {
    case VFIO_GET_API_VERSION: return VFIO_API_VERSION;
    case VFIO_CHECK_EXTENSION: return check_extension(reinterpret_cast<unsigned long>(arg));
    case VFIO_SET_IOMMU: return set_iommu(reinterpret_cast<unsigned long>(arg));
    default: break;
  }
  if (!m_type) return -EINVAL;  // vfio_fops_unl_ioctl: no IOMMU driver to pass the ioctl to
  switch (cmd) {  // vfio_iommu_type1_ioctl; copy_from_user of a NULL argument fails
    case VFIO_IOMMU_GET_INFO: return arg ? get_info(arg) : -EFAULT;
    case VFIO_IOMMU_MAP_DMA: return arg ? map_dma(arg) : -EFAULT;
    case VFIO_IOMMU_UNMAP_DMA: return arg ? unmap_dma(arg) : -EFAULT;
    default: return -ENOTTY;
  }
}

}  // namespace pciesim::cosim
