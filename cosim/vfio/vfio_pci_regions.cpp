// Device-specific regions of the co-simulated vfio_pci_core (Linux 6.1 vfio_pci_core.c):
// vfio_pci_core_register_dev_region, the region-info answer for indexes from VFIO_PCI_NUM_REGIONS
// on (the default case of VFIO_DEVICE_GET_REGION_INFO, with the type capability and what the
// region's add_capability adds), reads and writes at those indexes (vfio_pci_rw's default case)
// and their release when the device is disabled. Also the capability chains the info ioctls
// build (vfio_main.c: vfio_info_cap_add, vfio_info_cap_shift, vfio_info_add_capability).
#include <cstring>

#include "vfio/vfio_pci_private.h"
#include <linux/err.h>
#include <linux/uaccess.h>
#include "kernel/kapi.h"

namespace pciesim::cosim {

namespace {

// The device-specific region a region index names, or nullptr past the last one.
vfio_pci_region* dev_region(vfio_pci_core_device* vdev, uint64_t index) {
  if (index < VFIO_PCI_NUM_REGIONS || index - VFIO_PCI_NUM_REGIONS >= static_cast<uint64_t>(vdev->num_regions))
    return nullptr;
  return &vdev->region[index - VFIO_PCI_NUM_REGIONS];
}

}  // namespace

long dev_region_info(vfio_pci_core_device* vdev, vfio_region_info& info, void* uarg) {
  vfio_pci_region* r = dev_region(vdev, info.index);
  if (!r) return -EINVAL;
  info.offset = VFIO_PCI_INDEX_TO_OFFSET(info.index);
  info.size = r->size;
  info.flags = r->flags;

  vfio_info_cap caps{nullptr, 0};
  vfio_region_info_cap_type type{};
  type.header.id = VFIO_REGION_INFO_CAP_TYPE;
  type.header.version = 1;
  type.type = r->type;
  type.subtype = r->subtype;
  int rc = vfio_info_add_capability(&caps, &type.header, sizeof(type));
  if (!rc && r->ops->add_capability) rc = r->ops->add_capability(vdev, r, &caps);
  if (rc) {
    kfree(caps.buf);  // (6.1 returns without freeing the chain here)
    return rc;
  }
  return region_info_out(info, caps, uarg);
}

uint32_t place_info_caps(vfio_info_cap& caps, size_t struct_size, uint32_t& argsz, void* uarg) {
  uint32_t cap_offset = 0;
  if (argsz < struct_size + caps.size) {
    argsz = static_cast<uint32_t>(struct_size + caps.size);
  } else {
    vfio_info_cap_shift(&caps, struct_size);
    copy_to_user(static_cast<uint8_t*>(uarg) + struct_size, caps.buf, caps.size);
    cap_offset = static_cast<uint32_t>(struct_size);
  }
  kfree(caps.buf);
  caps.buf = nullptr;
  caps.size = 0;
  return cap_offset;
}

long region_info_out(vfio_region_info& info, vfio_info_cap& caps, void* uarg) {
  // vfio_pci_ioctl_get_region_info: with capabilities the CAPS flag is set; a buffer too small for
  // them learns the size it needs (argsz) and gets no chain (cap_offset 0); a large enough one
  // gets the chain right after the struct, its `next` offsets counted from the struct's start.
  if (caps.size) {
    info.flags |= VFIO_REGION_INFO_FLAG_CAPS;
    info.cap_offset = place_info_caps(caps, sizeof(info), info.argsz, uarg);
  }
  copy_to_user(uarg, &info, offsetof(vfio_region_info, offset) + sizeof(info.offset));
  return 0;
}

long dev_region_rw(vfio_pci_core_device* vdev, char* buf, size_t count, __kernel_loff_t* ppos, bool write) {
  vfio_pci_region* r = dev_region(vdev, static_cast<uint64_t>(*ppos) >> VFIO_PCI_OFFSET_SHIFT);
  if (!r) return -EINVAL;
  BUG_ON(!r->ops->rw);  // Linux calls it unconditionally: a region without rw oopses there
  return r->ops->rw(vdev, buf, count, ppos, write);  // the region's rw advances *ppos
}

void release_dev_regions(vfio_pci_core_device* vdev) {
  for (int i = 0; i < vdev->num_regions; ++i) {
    BUG_ON(!vdev->region[i].ops->release);  // called unconditionally by 6.1 as well
    vdev->region[i].ops->release(vdev, &vdev->region[i]);
  }
  vdev->num_regions = 0;
  kfree(vdev->region);
  vdev->region = nullptr;  // (6.1: "don't krealloc a freed pointer")
}

}  // namespace pciesim::cosim

using namespace pciesim::cosim;

extern "C" int vfio_pci_core_register_dev_region(struct vfio_pci_core_device* vdev, unsigned int type,
                                                 unsigned int subtype, const struct vfio_pci_regops* ops,
                                                 size_t size, u32 flags, void* data) {
  auto* region = static_cast<vfio_pci_region*>(
      krealloc(vdev->region, (static_cast<size_t>(vdev->num_regions) + 1) * sizeof(vfio_pci_region), GFP_KERNEL));
  if (!region) return -ENOMEM;
  vdev->region = region;
  region[vdev->num_regions] = vfio_pci_region{type, subtype, ops, data, size, flags};
  ++vdev->num_regions;
  return 0;
}

extern "C" struct vfio_info_cap_header* vfio_info_cap_add(struct vfio_info_cap* caps, size_t size, u16 id,
                                                          u16 version) {
  void* buf = krealloc(caps->buf, caps->size + size, GFP_KERNEL);
  if (!buf) {
    kfree(caps->buf);
    caps->buf = nullptr;
    caps->size = 0;
    return static_cast<vfio_info_cap_header*>(ERR_PTR(-ENOMEM));
  }
  caps->buf = static_cast<vfio_info_cap_header*>(buf);
  auto* base = static_cast<uint8_t*>(buf);
  auto* header = reinterpret_cast<vfio_info_cap_header*>(base + caps->size);
  std::memset(header, 0, size);  // copied to the user as it is
  header->id = id;
  header->version = version;
  // Link it at the end of the chain: the last capability's `next` is its offset in the chain.
  auto* tail = reinterpret_cast<vfio_info_cap_header*>(base);
  while (tail->next) tail = reinterpret_cast<vfio_info_cap_header*>(base + tail->next);
  tail->next = static_cast<__u32>(caps->size);
  caps->size += size;
  return header;
}

extern "C" void vfio_info_cap_shift(struct vfio_info_cap* caps, size_t offset) {
  auto* base = reinterpret_cast<uint8_t*>(caps->buf);
  for (auto* cap = caps->buf; cap->next; cap = reinterpret_cast<vfio_info_cap_header*>(base + cap->next - offset))
    cap->next += static_cast<__u32>(offset);
}

extern "C" int vfio_info_add_capability(struct vfio_info_cap* caps, struct vfio_info_cap_header* cap, size_t size) {
  vfio_info_cap_header* header = vfio_info_cap_add(caps, size, cap->id, cap->version);
  if (IS_ERR(header)) return static_cast<int>(PTR_ERR(header));
  std::memcpy(header + 1, cap + 1, size - sizeof(*header));
  return 0;
}
