// The VFIO core's driver API (linux/vfio.h, Linux 6.1 vfio_main.c): allocation with the ops'
// init, group registration, release.
#include "iommu/iommu_api.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"

using pciesim::cosim::Kernel;
using pciesim::cosim::PciCore;

extern "C" struct vfio_device* _vfio_alloc_device(size_t size, struct device* dev, const struct vfio_device_ops* ops) {
  if (!dev || !ops || size < sizeof(struct vfio_device)) return static_cast<vfio_device*>(ERR_PTR(-EINVAL));
  auto* v = static_cast<vfio_device*>(kzalloc(size, GFP_KERNEL));
  if (!v) return static_cast<vfio_device*>(ERR_PTR(-ENOMEM));
  v->dev = dev;
  v->ops = ops;
  get_device(dev);
  if (ops->init) {  // vfio_init_device
    const int rc = ops->init(v);
    if (rc) {
      put_device(dev);
      kfree(v);
      return static_cast<vfio_device*>(ERR_PTR(rc));
    }
  }
  return v;
}

extern "C" void vfio_put_device(struct vfio_device* device) {
  if (!device) return;
  if (device->ops->release) device->ops->release(device);
  put_device(device->dev);
  kfree(device);
}

extern "C" int vfio_register_group_dev(struct vfio_device* device) {
  // __vfio_register_dev: the device must be in an IOMMU group (vfio_group_find_or_alloc).
  pciesim::cosim::PciDev* d = PciCore::of(device->dev);
  if (!d) return -EINVAL;
  Kernel& k = Kernel::current();
  if (!k.iommu().group_of(*d)) {
    _dev_printk(KERN_WARNING, device->dev, "vfio: no IOMMU group for device\n");
    return -EINVAL;
  }
  if (k.vfio().registered(*d)) return -EBUSY;
  k.vfio().register_device(*d, device);
  return 0;
}

extern "C" void vfio_unregister_group_dev(struct vfio_device* device) {
  if (pciesim::cosim::PciDev* d = PciCore::of(device->dev)) Kernel::current().vfio().unregister_device(*d);
}
