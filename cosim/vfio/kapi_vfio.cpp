// The VFIO core's driver API (linux/vfio.h, Linux 6.1 vfio_main.c): allocation with the ops'
// init, group registration, release, and the registration's references: unregistering waits
// until user space has closed every device file, asking it through ops->request meanwhile.
#include "iommu/iommu_api.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"

using pciesim::cosim::Kernel;
using pciesim::cosim::PciCore;

namespace {

// vfio_device's refcount and comp (6.1): the registration holds one reference and each open
// device file one; the last put completes what vfio_unregister_group_dev waits for.
struct Registration {
  unsigned refs = 1;
  struct completion comp;
};
Registration* registration(struct vfio_device* d) { return static_cast<Registration*>(d->cosim); }

// Nothing else is scheduled in the whole simulation (no runnable task, no timed event) once the
// tasks the request woke have had their turn: the wait can only end if the task itself ends it,
// so it waits without a timeout and the scheduler reports the hang instead of the simulation
// polling every 10 s forever.
bool nothing_else_can_happen() {
  pciesim::cosim::Scheduler::instance().sleep(sc_core::SC_ZERO_TIME, "a device request");
  return !sc_core::sc_pending_activity();
}

}  // namespace

namespace pciesim::cosim {

bool vfio_device_try_get(::vfio_device* d) {
  Registration* r = registration(d);
  if (!r || !r->refs) return false;  // unregistering: refcount_inc_not_zero fails
  ++r->refs;
  return true;
}

void vfio_device_put(::vfio_device* d) {
  Registration* r = registration(d);
  if (r && r->refs && --r->refs == 0) complete(&r->comp);
}

}  // namespace pciesim::cosim

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
  auto* r = new Registration;
  init_completion(&r->comp);
  device->cosim = r;
  k.vfio().register_device(*d, device);
  return 0;
}

// vfio_unregister_group_dev: drop the registration's reference, then wait for the device files'
// (each close puts one), calling ops->request every 10 s (HZ * 10) with a growing count so the
// driver can ask the user to let go. Kernel tasks take no signals, so the interruptible wait and
// its "Device is currently in use" warning never apply.
extern "C" void vfio_unregister_group_dev(struct vfio_device* device) {
  if (Registration* r = registration(device)) {
    pciesim::cosim::vfio_device_put(device);
    bool released = try_wait_for_completion(&r->comp);
    for (unsigned i = 0; !released;) {
      if (device->ops->request) device->ops->request(device, i++);
      if (nothing_else_can_happen()) {
        wait_for_completion(&r->comp);
        released = true;
      } else {
        released = wait_for_completion_timeout(&r->comp, HZ * 10) > 0;
      }
    }
    device->cosim = nullptr;
    delete r;
  }
  if (pciesim::cosim::PciDev* d = PciCore::of(device->dev)) Kernel::current().vfio().unregister_device(*d);
}
