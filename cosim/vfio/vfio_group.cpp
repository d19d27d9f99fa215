// VFIO group files and opening the VFIO nodes (Linux 6.1 drivers/vfio/vfio_main.c).
#include <cstring>
#include <uapi/linux/vfio.h>

#include "iommu/iommu_api.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "vfio/vfio_core.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {

VfioGroupFile::~VfioGroupFile() {
  if (!m_container) return;
  drop_container();
  m_kernel.iommu().release_dma_owner(m_group);
}

void VfioGroupFile::drop_container() {
  if (m_container) m_container->detach_group(*this);
  m_container.reset();
}

long VfioGroupFile::ioctl(unsigned long cmd, void* arg) {
  switch (cmd) {
    case VFIO_GROUP_GET_STATUS: {
      if (!arg) return -EFAULT;
      vfio_group_status st{};
      const size_t minsz = offsetof(vfio_group_status, flags) + sizeof(st.flags);
      std::memcpy(&st, arg, minsz);
      if (st.argsz < minsz) return -EINVAL;
      st.flags = 0;
      if (m_container) st.flags |= VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
      else if (!m_group.owner_cnt) st.flags |= VFIO_GROUP_FLAGS_VIABLE;  // !iommu_group_dma_owner_claimed
      std::memcpy(arg, &st, minsz);
      return 0;
    }
    case VFIO_GROUP_SET_CONTAINER: {
      if (!arg) return -EFAULT;
      int fd = 0;
      std::memcpy(&fd, arg, sizeof fd);
      std::shared_ptr<KernelFile> f = m_kernel.files().get(fd);
      if (!f) return -EBADF;
      auto c = std::dynamic_pointer_cast<VfioContainer>(f);
      if (!c) return -EINVAL;  // not a container file
      if (m_container) return -EINVAL;
      // vfio_container_attach_group: the group's DMA now belongs to user space (fails -EPERM while
      // a kernel driver uses the default domain).
      int rc = m_kernel.iommu().claim_dma_owner(m_group, this);
      if (rc) return rc;
      rc = c->attach_group(*this);
      if (rc) {
        m_kernel.iommu().release_dma_owner(m_group);
        return rc;
      }
      m_container = c;
      return 0;
    }
    case VFIO_GROUP_UNSET_CONTAINER:
      if (!m_container) return -EINVAL;
      if (device_files) return -EBUSY;  // device fds still open
      drop_container();
      m_kernel.iommu().release_dma_owner(m_group);
      return 0;
    case VFIO_GROUP_GET_DEVICE_FD: {
      if (!arg) return -EFAULT;
      // vfio_group_get_device_fd: the name first (vfio_device_get_from_name, which takes a
      // reference: none left once the driver is unregistering and no file is open), then the
      // container (vfio_device_assign_container), then open_device on the first open.
      int match_error = 0;
      ::vfio_device* vdev = m_kernel.vfio().find(m_group, static_cast<const char*>(arg), &match_error);
      if (match_error) return match_error;
      if (!vdev || !vfio_device_try_get(vdev)) return -ENODEV;
      if (!m_container || !m_container->iommu_set()) {
        vfio_device_put(vdev);
        return -EINVAL;
      }
      if (vdev->open_count == 0 && vdev->ops->open_device) {
        int rc = 0;
        m_kernel.run("vfio open_device", [&] { rc = vdev->ops->open_device(vdev); });
        if (rc) {
          vfio_device_put(vdev);
          return rc;
        }
      }
      ++vdev->open_count;
      return m_kernel.files().install(std::make_shared<VfioDeviceFile>(vdev, shared_from_this()));
    }
    default:
      return -ENOTTY;
  }
}

void VfioCore::register_device(PciDev& d, ::vfio_device* vdev) { m_devices[&d] = vdev; }
void VfioCore::unregister_device(PciDev& d) { m_devices.erase(&d); }

::vfio_device* VfioCore::find(const GroupRec& g, const std::string& name, int* error) const {
  for (const PciDev* d : g.devices) {
    auto it = m_devices.find(d);
    if (it == m_devices.end() || !it->second) continue;
    ::vfio_device* v = it->second;
    if (v->ops->match) {  // vfio_pci_core_match: the name and options such as vf_token=
      std::string copy = name;
      int rc = 0;
      Kernel::current().run("vfio match", [&] { rc = v->ops->match(v, copy.data()); });
      if (rc < 0) {  // vfio_device_get_from_name: ERR_PTR(ret), the search stops
        if (error) *error = rc;
        return nullptr;
      }
      if (rc > 0) return v;
    } else if (d->name == name) {
      return v;
    }
  }
  return nullptr;
}

VfioDeviceFile::VfioDeviceFile(::vfio_device* dev, std::shared_ptr<VfioGroupFile> group)
    : m_dev(dev), m_group(std::move(group)) {
  if (m_group) ++m_group->device_files;
}

// vfio_device_fops_release: close_device on the last close, then the file's reference goes
// (which may let vfio_unregister_group_dev finish).
VfioDeviceFile::~VfioDeviceFile() {
  if (m_group && m_group->device_files) --m_group->device_files;
  if (m_dev->open_count && --m_dev->open_count == 0 && m_dev->ops->close_device) {
    Kernel* k = Kernel::current_or_null();
    if (k) k->run("vfio close_device", [this] { m_dev->ops->close_device(m_dev); });
  }
  vfio_device_put(m_dev);
}

namespace {

// vfio_ioctl_device_feature: the core answers VFIO_DEVICE_FEATURE itself. Migration and DMA
// logging need ops no driver here has (-ENOTTY); other features go to the driver's
// device_feature op (none: -EINVAL).
long device_feature(::vfio_device* dev, void* arg) {
  if (!arg) return -EFAULT;
  vfio_device_feature feature{};
  const size_t minsz = offsetof(vfio_device_feature, flags) + sizeof(feature.flags);
  std::memcpy(&feature, arg, minsz);
  if (feature.argsz < minsz) return -EINVAL;
  if (feature.flags & ~(VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PROBE))
    return -EINVAL;  // unknown flags
  if (!(feature.flags & VFIO_DEVICE_FEATURE_PROBE) && (feature.flags & VFIO_DEVICE_FEATURE_SET) &&
      (feature.flags & VFIO_DEVICE_FEATURE_GET))
    return -EINVAL;  // GET and SET together only with PROBE
  switch (feature.flags & VFIO_DEVICE_FEATURE_MASK) {
    case VFIO_DEVICE_FEATURE_MIGRATION:
    case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:  // !device->mig_ops
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:  // !device->log_ops
      return -ENOTTY;
    default:
      break;
  }
  if (!dev->ops->device_feature) return -EINVAL;
  long rc = 0;
  Kernel::current().run("vfio device_feature", [&] {
    rc = dev->ops->device_feature(dev, feature.flags, static_cast<uint8_t*>(arg) + minsz, feature.argsz - minsz);
  });
  return rc;
}

}  // namespace

long VfioDeviceFile::ioctl(unsigned long cmd, void* arg) {
  if (cmd == VFIO_DEVICE_FEATURE) return device_feature(m_dev, arg);
  if (!m_dev->ops->ioctl) return -EINVAL;  // vfio_device_fops_unl_ioctl
  long rc = 0;
  Kernel::current().run("vfio ioctl", [&] { rc = m_dev->ops->ioctl(m_dev, static_cast<unsigned>(cmd), reinterpret_cast<unsigned long>(arg)); });
  return rc;
}

long VfioDeviceFile::read(void* buf, size_t count, uint64_t pos) {
  if (!m_dev->ops->read) return -EINVAL;
  __kernel_loff_t p = static_cast<__kernel_loff_t>(pos);
  long rc = 0;
  Kernel::current().run("vfio read", [&] { rc = m_dev->ops->read(m_dev, static_cast<char*>(buf), count, &p); });
  return rc;
}

long VfioDeviceFile::write(const void* buf, size_t count, uint64_t pos) {
  if (!m_dev->ops->write) return -EINVAL;
  __kernel_loff_t p = static_cast<__kernel_loff_t>(pos);
  long rc = 0;
  Kernel::current().run("vfio write", [&] { rc = m_dev->ops->write(m_dev, static_cast<const char*>(buf), count, &p); });
  return rc;
}

long VfioDeviceFile::mmap(::vm_area_struct* vma) {
  if (!m_dev->ops->mmap) return -EINVAL;  // vfio_device_fops_mmap
  long rc = 0;
  Kernel::current().run("vfio mmap", [&] { rc = m_dev->ops->mmap(m_dev, vma); });
  return rc;
}

int VfioCore::open(const std::string& path) {
  if (path == "/dev/vfio/vfio") return m_kernel.files().install(std::make_shared<VfioContainer>(m_kernel, m_mem));
  const std::string prefix = "/dev/vfio/";
  if (path.rfind(prefix, 0) != 0) return -ENOENT;
  const std::string id = path.substr(prefix.size());
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) return -ENOENT;
  GroupRec* g = nullptr;
  for (const auto& x : m_kernel.iommu().groups())
    if (std::to_string(x->id) == id) g = x.get();
  if (!g) return -ENOENT;
  bool node = false;  // the node exists while a VFIO driver drives a device of the group
  for (const PciDev* d : g->devices) node = node || registered(*d);
  if (!node) return -ENOENT;
  auto& open = m_open_groups[g->id];
  if (!open.expired()) return -EBUSY;  // vfio_group_fops_open: one opener at a time
  auto file = std::make_shared<VfioGroupFile>(m_kernel, *g);
  open = file;
  return m_kernel.files().install(file);
}

}  // namespace pciesim::cosim
