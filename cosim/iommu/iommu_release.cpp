// iommu_release_device (drivers/iommu/iommu.c, Linux 6.1): a device that goes away (an SR-IOV VF
// when its PF's VFs are disabled) leaves its domain and its group.
#include <algorithm>

#include "iommu/iommu_api.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {

void IommuApi::remove_device(PciDev& d) {
  GroupRec* g = group_of(d);
  if (!g) return;
  if (DomainRec* dom = domain_of(d)) detach_device_from(dom, d);
  g->devices.erase(std::remove(g->devices.begin(), g->devices.end(), &d), g->devices.end());
  m_group_of.erase(&d);
  d.dev->dev.iommu_group = nullptr;
  // __iommu_group_remove_device
  _dev_printk(KERN_INFO, &d.dev->dev, "Removing from iommu group %d\n", g->id);
}

}  // namespace pciesim::cosim
