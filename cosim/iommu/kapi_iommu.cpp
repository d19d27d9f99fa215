// The IOMMU core's and the DMA API's C functions (linux/iommu.h, linux/dma-mapping.h) and the
// interrupt API (linux/interrupt.h).
#include <cstdio>

#include "iommu/iommu_api.h"
#include "kernel/irq_core.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "pcie/fabric.h"
#include "kernel/kapi.h"

using pciesim::cosim::DomainRec;
using pciesim::cosim::GroupRec;
using pciesim::cosim::IommuApi;
using pciesim::cosim::Kernel;
using pciesim::cosim::PciCore;
using pciesim::cosim::PciDev;

namespace {
IommuApi& api() { return Kernel::current().iommu(); }
GroupRec* group(struct iommu_group* g) { return reinterpret_cast<GroupRec*>(g); }
PciDev* pci_of(struct device* dev) { return PciCore::of(dev); }
}  // namespace

// ---- IOMMU API ----
extern "C" struct iommu_domain* iommu_domain_alloc(struct bus_type* bus) {
  if (bus != &pci_bus_type || !api().enabled()) return nullptr;
  return api().alloc_domain(IOMMU_DOMAIN_UNMANAGED)->c.get();
}
extern "C" void iommu_domain_free(struct iommu_domain* domain) { api().free_domain(IommuApi::of(domain)); }
extern "C" int iommu_attach_device(struct iommu_domain* domain, struct device* dev) {
  PciDev* d = pci_of(dev);
  if (!d) return -ENODEV;
  return api().attach_device(IommuApi::of(domain), *d);
}
extern "C" void iommu_detach_device(struct iommu_domain* domain, struct device* dev) {
  PciDev* d = pci_of(dev);
  if (!d) return;
  if (GroupRec* g = api().group_of(*d); g && g->devices.size() == 1) api().detach_group(IommuApi::of(domain), *g);
}
extern "C" int iommu_attach_group(struct iommu_domain* domain, struct iommu_group* g) {
  return api().attach_group(IommuApi::of(domain), *group(g));
}
extern "C" void iommu_detach_group(struct iommu_domain* domain, struct iommu_group* g) {
  api().detach_group(IommuApi::of(domain), *group(g));
}
extern "C" struct iommu_domain* iommu_get_domain_for_dev(struct device* dev) {
  PciDev* d = pci_of(dev);
  if (!d) return nullptr;
  GroupRec* g = api().group_of(*d);
  return g && g->domain ? g->domain->c.get() : nullptr;
}
extern "C" int iommu_map(struct iommu_domain* domain, unsigned long iova, phys_addr_t paddr, size_t size, int prot) {
  might_sleep();
  return api().map(IommuApi::of(domain), iova, paddr, size, prot);
}
extern "C" size_t iommu_unmap(struct iommu_domain* domain, unsigned long iova, size_t size) {
  return api().unmap(IommuApi::of(domain), iova, size);
}
extern "C" phys_addr_t iommu_iova_to_phys(struct iommu_domain* domain, dma_addr_t iova) {
  return api().iova_to_phys(IommuApi::of(domain), iova);
}
extern "C" struct iommu_group* iommu_group_get(struct device* dev) {
  return dev ? dev->iommu_group : nullptr;
}
extern "C" void iommu_group_put(struct iommu_group*) {}
extern "C" int iommu_group_id(struct iommu_group* g) { return group(g)->id; }
extern "C" int iommu_group_for_each_dev(struct iommu_group* g, void* data, int (*fn)(struct device*, void*)) {
  for (PciDev* d : group(g)->devices) {
    const int rc = fn(&d->dev->dev, data);
    if (rc) return rc;
  }
  return 0;
}
extern "C" bool device_iommu_capable(struct device* dev, enum iommu_cap cap) {
  PciDev* d = pci_of(dev);
  if (!d || !api().group_of(*d)) return false;
  switch (cap) {
    case IOMMU_CAP_CACHE_COHERENCY: return true;  // intel_iommu_capable: snoop control is forced per context
    case IOMMU_CAP_INTR_REMAP: {
      auto* unit = api().unit_for(*d);
      return unit && unit->ir_enabled();
    }
    default: return false;
  }
}
extern "C" bool iommu_present(struct bus_type* bus) { return bus == &pci_bus_type && api().enabled(); }
extern "C" int iommu_group_claim_dma_owner(struct iommu_group* g, void* owner) { return api().claim_dma_owner(*group(g), owner); }
extern "C" void iommu_group_release_dma_owner(struct iommu_group* g) { api().release_dma_owner(*group(g)); }
extern "C" bool iommu_group_dma_owner_claimed(struct iommu_group* g) { return group(g)->owner_cnt != 0; }

// ---- DMA API ----
extern "C" int dma_set_mask(struct device* dev, u64 mask) {
  if (!dev->dma_mask) return -EIO;
  // dma_supported: any mask of at least 32 bits (the IOMMU or the direct map covers the DRAM here).
  if (mask < DMA_BIT_MASK(32)) {
    const uint64_t dram_end = Kernel::current().fabric().spec().memory.range.base + Kernel::current().fabric().spec().memory.range.size - 1;
    PciDev* d = pci_of(dev);
    const bool translated = d && api().domain_of(*d) && api().domain_of(*d)->iova;
    if (!translated && mask < dram_end) return -EIO;
  }
  *dev->dma_mask = mask;
  return 0;
}
extern "C" int dma_set_coherent_mask(struct device* dev, u64 mask) {
  dev->coherent_dma_mask = mask;
  return 0;
}

namespace {
unsigned prot_for(enum dma_data_direction dir) {
  switch (dir) {  // dma_info_to_prot
    case DMA_TO_DEVICE: return pciesim::cosim::kIommuRead;
    case DMA_FROM_DEVICE: return pciesim::cosim::kIommuWrite;
    default: return pciesim::cosim::kIommuRead | pciesim::cosim::kIommuWrite;
  }
}
}  // namespace

extern "C" void* dma_alloc_coherent(struct device* dev, size_t size, dma_addr_t* dma_handle, gfp_t gfp) {
  PciDev* d = pci_of(dev);
  if (!d || size == 0) return nullptr;
  pciesim::cosim::KernelMemory& mem = Kernel::current().memory();
  // iommu_dma_alloc: whole pages, zeroed.
  const size_t bytes = (size + 4095) & ~size_t(4095);
  size_t align = 4096;
  while (align < bytes && align < pciesim::cosim::KernelMemory::kMaxAllocation) align <<= 1;
  void* cpu = mem.alloc(bytes, align);
  if (!cpu) return nullptr;
  (void)gfp;
  const uint64_t mask_saved = *dev->dma_mask;
  *dev->dma_mask = dev->coherent_dma_mask;  // coherent allocations honour the coherent mask
  const uint64_t dma = api().dma_map(*d, mem.virt_to_phys(cpu), bytes, pciesim::cosim::kIommuRead | pciesim::cosim::kIommuWrite);
  *dev->dma_mask = mask_saved;
  if (dma == DMA_MAPPING_ERROR) {
    mem.free(cpu);
    return nullptr;
  }
  *dma_handle = dma;
  return cpu;
}
extern "C" void dma_free_coherent(struct device* dev, size_t size, void* cpu_addr, dma_addr_t dma_handle) {
  PciDev* d = pci_of(dev);
  if (!d || !cpu_addr) return;
  const size_t bytes = (size + 4095) & ~size_t(4095);
  if (!api().dma_unmap(*d, dma_handle, bytes))
    cosim_warn(__FILE__, __LINE__, "%s: dma_free_coherent of unmapped DMA address %#llx", dev_name(dev), (unsigned long long)dma_handle);
  Kernel::current().memory().free(cpu_addr);
}
extern "C" dma_addr_t dma_map_single(struct device* dev, void* ptr, size_t size, enum dma_data_direction dir) {
  PciDev* d = pci_of(dev);
  if (!d || size == 0 || dir == DMA_NONE) return DMA_MAPPING_ERROR;
  const uint64_t phys = Kernel::current().memory().virt_to_phys(ptr);
  if (phys == ~0ull) {
    cosim_warn(__FILE__, __LINE__, "%s: dma_map_single of %p, which is not kernel memory", dev_name(dev), ptr);
    return DMA_MAPPING_ERROR;
  }
  return api().dma_map(*d, phys, size, prot_for(dir));
}
extern "C" void dma_unmap_single(struct device* dev, dma_addr_t addr, size_t size, enum dma_data_direction) {
  PciDev* d = pci_of(dev);
  if (!d) return;
  if (!api().dma_unmap(*d, addr, size))
    cosim_warn(__FILE__, __LINE__, "%s: unmapping DMA address %#llx that was never mapped", dev_name(dev), (unsigned long long)addr);
}
extern "C" int dma_mapping_error(struct device*, dma_addr_t dma_addr) { return dma_addr == DMA_MAPPING_ERROR ? -ENOMEM : 0; }
// x86 is cache coherent for DMA: nothing to do (dma-direct / dma-iommu sync ops are empty there).
extern "C" void dma_sync_single_for_cpu(struct device*, dma_addr_t, size_t, enum dma_data_direction) {}
extern "C" void dma_sync_single_for_device(struct device*, dma_addr_t, size_t, enum dma_data_direction) {}

// ---- interrupts ----
extern "C" int request_threaded_irq(unsigned int irq, irq_handler_t handler, irq_handler_t thread_fn, unsigned long flags,
                                    const char* name, void* dev_id) {
  return Kernel::current().irq().request(irq, reinterpret_cast<pciesim::cosim::IrqDesc::Handler>(handler),
                                         reinterpret_cast<pciesim::cosim::IrqDesc::Handler>(thread_fn), flags, name, dev_id);
}
extern "C" const void* free_irq(unsigned int irq, void* dev_id) { return Kernel::current().irq().release(irq, dev_id); }
extern "C" void disable_irq(unsigned int irq) { Kernel::current().irq().disable(irq); }
extern "C" void disable_irq_nosync(unsigned int irq) {
  if (auto* d = Kernel::current().irq().desc(irq)) ++d->disable_depth;
}
extern "C" void enable_irq(unsigned int irq) { Kernel::current().irq().enable(irq); }
extern "C" void synchronize_irq(unsigned int irq) { Kernel::current().irq().synchronize(irq); }
