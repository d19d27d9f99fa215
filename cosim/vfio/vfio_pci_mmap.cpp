// vfio_pci_core's mmap of BARs (Linux 6.1 drivers/vfio/pci/vfio_pci_core.c: vfio_pci_probe_mmaps,
// vfio_pci_core_mmap, vfio_pci_mmap_fault, vfio_pci_mmap_close, vfio_pci_zap_and_down_write_
// memory_lock). The mapping is set up without pages; the first access faults them in for the
// whole vma, unless the user has memory decoding off (SIGBUS). Disabling memory decoding or a
// reset zaps the pages, so the next access faults and checks again.
#include <algorithm>

#include "kernel/kernel.h"
#include "vfio/vfio_pci_private.h"
#include "kernel/kapi.h"
#include <linux/mm.h>

namespace pciesim::cosim {
namespace {

vm_fault_t mmap_fault(vm_fault* vmf) {
  vm_area_struct* vma = vmf->vma;
  auto* vdev = static_cast<vfio_pci_core_device*>(vma->vm_private_data);
  CoreDevice& st = state(vdev);
  if (!st.config || !st.config->memory_enabled()) return VM_FAULT_SIGBUS;  // __vfio_pci_memory_enabled
  if (std::find(st.vmas.begin(), st.vmas.end(), vma) != st.vmas.end()) return VM_FAULT_NOPAGE;
  // The whole vma at once, as 6.1 populates it.
  if (io_remap_pfn_range(vma, vma->vm_start, vma->vm_pgoff, vma->vm_end - vma->vm_start, vma->vm_page_prot)) {
    zap_vma_ptes(vma, vma->vm_start, vma->vm_end - vma->vm_start);
    return VM_FAULT_SIGBUS;
  }
  st.vmas.push_back(vma);
  return VM_FAULT_NOPAGE;
}

void mmap_close(vm_area_struct* vma) {
  auto* vdev = static_cast<vfio_pci_core_device*>(vma->vm_private_data);
  if (!vdev->cosim) return;
  auto& v = state(vdev).vmas;
  v.erase(std::remove(v.begin(), v.end(), vma), v.end());
}

const vm_operations_struct kMmapOps = {nullptr, mmap_close, mmap_fault};

}  // namespace

bool bar_mmap_supported(pci_dev* pdev, int bar) {
  // vfio_pci_probe_mmaps: memory BARs of a page or more, or smaller ones starting a page (the
  // rest of that page is reserved for them).
  const uint64_t size = pci_resource_len(pdev, bar);
  if (!(pci_resource_flags(pdev, bar) & IORESOURCE_MEM) || !size) return false;
  return size >= PAGE_SIZE || !(pci_resource_start(pdev, bar) & ~PAGE_MASK);
}

void zap_bar_mappings(vfio_pci_core_device* vdev) {
  CoreDevice& st = state(vdev);
  for (vm_area_struct* vma : st.vmas) zap_vma_ptes(vma, vma->vm_start, vma->vm_end - vma->vm_start);
  st.vmas.clear();
}

}  // namespace pciesim::cosim

using namespace pciesim::cosim;

extern "C" int vfio_pci_core_mmap(struct vfio_device* core_vdev, struct vm_area_struct* vma) {
  vfio_pci_core_device* vdev = core_of(core_vdev);
  pci_dev* pdev = vdev->pdev;
  const unsigned long index = vma->vm_pgoff >> (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);
  if (index >= VFIO_PCI_NUM_REGIONS + static_cast<unsigned long>(vdev->num_regions)) return -EINVAL;
  if (vma->vm_end < vma->vm_start) return -EINVAL;
  if (!(vma->vm_flags & VM_SHARED)) return -EINVAL;
  if (index >= VFIO_PCI_NUM_REGIONS) {  // a device-specific region maps itself, if it can
    vfio_pci_region* region = vdev->region + (index - VFIO_PCI_NUM_REGIONS);
    if (region->ops && region->ops->mmap && (region->flags & VFIO_REGION_INFO_FLAG_MMAP))
      return region->ops->mmap(vdev, region, vma);
    return -EINVAL;
  }
  if (index >= VFIO_PCI_ROM_REGION_INDEX) return -EINVAL;  // ROM, config and VGA are not mappable
  if (!bar_mmap_supported(pdev, static_cast<int>(index))) return -EINVAL;
  const uint64_t phys_len = PAGE_ALIGN(uint64_t{pci_resource_len(pdev, static_cast<int>(index))});
  const uint64_t req_len = vma->vm_end - vma->vm_start;
  const uint64_t pgoff = vma->vm_pgoff & ((1ul << (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT)) - 1);
  const uint64_t req_start = pgoff << PAGE_SHIFT;
  if (req_start + req_len > phys_len) return -EINVAL;
  vma->vm_private_data = vdev;
  vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
  vma->vm_pgoff = (pci_resource_start(pdev, static_cast<int>(index)) >> PAGE_SHIFT) + pgoff;
  vma->vm_flags |= VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
  vma->vm_ops = &kMmapOps;
  return 0;
}
