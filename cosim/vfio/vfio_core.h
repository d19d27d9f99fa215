// VFIO in the co-simulated kernel (Linux 6.1 drivers/vfio/vfio_main.c, vfio_iommu_type1.c): the
// container (/dev/vfio/vfio) with the type1v2 IOMMU backend, and groups (/dev/vfio/N) over the
// IOMMU core's groups. Files live in the kernel's descriptor table; user space reaches them with
// open() and ioctl() through VfioCore. Every bad call gets the errno Linux 6.1 gives.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kernel/files.h"

struct vfio_device;
struct vfio_info_cap;
struct vm_area_struct;

namespace pciesim::cosim {

class Kernel;
class UserMemory;
class VfioDeviceFile;
struct DomainRec;
struct GroupRec;
struct PciDev;
class VfioContainer;

// The end of every VFIO GET_INFO ioctl with a capability chain (vfio_info_cap_add's chain, Linux
// 6.1): a user buffer too small for the chain learns the size it needs in `argsz` and gets no chain
// (returns cap_offset 0); a large enough one gets the chain right after the fixed struct, its
// `next` offsets counted from the struct's start (returns struct_size). The chain is freed.
uint32_t place_info_caps(::vfio_info_cap& caps, size_t struct_size, uint32_t& argsz, void* uarg);

// A group file (/dev/vfio/N).
class VfioGroupFile : public KernelFile, public std::enable_shared_from_this<VfioGroupFile> {
 public:
  VfioGroupFile(Kernel& k, GroupRec& g) : m_kernel(k), m_group(g) {}
  ~VfioGroupFile() override;  // close(2): the group leaves its container, its DMA returns to the kernel
  const char* kind() const override { return "vfio-group"; }
  long ioctl(unsigned long cmd, void* arg);
  GroupRec& group() { return m_group; }
  std::shared_ptr<VfioContainer> container() const { return m_container; }
  void drop_container();  // the container is going away

 private:
  Kernel& m_kernel;
  GroupRec& m_group;
  std::shared_ptr<VfioContainer> m_container;
 public:
  unsigned device_files = 0;  // open device fds (container_users): UNSET_CONTAINER fails while any
};

// The container (/dev/vfio/vfio) and its type1 IOMMU.
class VfioContainer : public KernelFile, public std::enable_shared_from_this<VfioContainer> {
 public:
  // vfio_iommu_type1's dma_entry_limit default (module parameter): U16_MAX mappings.
  static constexpr unsigned kDmaEntryLimit = 65535;

  VfioContainer(Kernel& k, UserMemory& mem) : m_kernel(k), m_mem(mem) {}
  ~VfioContainer() override;
  const char* kind() const override { return "vfio-container"; }
  long ioctl(unsigned long cmd, void* arg);

  int attach_group(VfioGroupFile& g);  // SET_CONTAINER's second half
  void detach_group(VfioGroupFile& g);
  bool iommu_set() const { return m_type != 0; }
  size_t mappings() const { return m_dma.size(); }

 private:
  long check_extension(unsigned long ext) const;
  long set_iommu(unsigned long type);
  long get_info(void* arg);
  long map_dma(void* arg);
  long unmap_dma(void* arg);
  int attach_to_domain(GroupRec& g);
  void unmap_one(uint64_t iova);
  uint64_t pgsize_bitmap() const;

  Kernel& m_kernel;
  UserMemory& m_mem;
  std::vector<VfioGroupFile*> m_groups;
  DomainRec* m_domain = nullptr;
  unsigned long m_type = 0;  // VFIO_TYPE1_IOMMU / VFIO_TYPE1v2_IOMMU once set
  struct Dma {
    uint64_t iova, size, vaddr;
    int prot;
    bool vaddr_invalid = false;  // UNMAP_FLAG_VADDR until MAP_FLAG_VADDR gives a new one
  };
  std::map<uint64_t, Dma> m_dma;  // by iova
};

// A device file (VFIO_GROUP_GET_DEVICE_FD): ioctl, read and write go to the driver's
// vfio_device_ops; the first open calls open_device, the last close close_device.
class VfioDeviceFile : public KernelFile {
 public:
  VfioDeviceFile(::vfio_device* dev, std::shared_ptr<VfioGroupFile> group);
  ~VfioDeviceFile() override;
  const char* kind() const override { return "vfio-device"; }
  long ioctl(unsigned long cmd, void* arg);
  long read(void* buf, size_t count, uint64_t pos);
  long write(const void* buf, size_t count, uint64_t pos);
  // mmap(2) of the file (vfio_device_fops_mmap): the driver's mmap op fills `vma`.
  long mmap(::vm_area_struct* vma);
  ::vfio_device* device() const { return m_dev; }

 private:
  ::vfio_device* m_dev;
  std::shared_ptr<VfioGroupFile> m_group;  // a device file keeps its group (and container) in use
};

// A registered vfio_device's references (kapi_vfio.cpp; Linux 6.1 vfio_device_try_get and
// vfio_device_put): the registration holds one and each open device file one. try_get fails once
// none is left (vfio_unregister_group_dev dropped the registration's and every file closed); the
// last put lets vfio_unregister_group_dev finish.
bool vfio_device_try_get(::vfio_device* d);
void vfio_device_put(::vfio_device* d);

// The devices' and the user's entry points.
class VfioCore {
 public:
  VfioCore(Kernel& k, UserMemory& mem) : m_kernel(k), m_mem(mem) {}
  // vfio_register_group_dev: the device is driven by a VFIO driver; its group's /dev/vfio/N exists.
  void register_device(PciDev& d, ::vfio_device* vdev = nullptr);
  void unregister_device(PciDev& d);
  bool registered(const PciDev& d) const { return m_devices.count(&d) != 0; }
  // The registered vfio_device of group `g` whose name `name` matches (vfio_device_get_from_name).
  // A match op's errno (a bad option, a VF token refused) ends the search: *error gets it.
  ::vfio_device* find(const GroupRec& g, const std::string& name, int* error = nullptr) const;
  UserMemory& memory() { return m_mem; }

  // open(2) of "/dev/vfio/vfio" or "/dev/vfio/N": a descriptor or -ENOENT (no such node),
  // -EBUSY (a group is opened once at a time, as in 6.1).
  int open(const std::string& path);

 private:
  Kernel& m_kernel;
  UserMemory& m_mem;
  std::map<const PciDev*, ::vfio_device*> m_devices;
  std::map<int, std::weak_ptr<VfioGroupFile>> m_open_groups;  // group id -> open file
};

}  // namespace pciesim::cosim
