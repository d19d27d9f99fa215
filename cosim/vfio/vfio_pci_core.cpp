// vfio_pci_core (Linux 6.1 drivers/vfio/pci/vfio_pci_core.c, vfio_pci_rdwr.c): device info,
// region and IRQ info, reset and hot reset, and the config (virtualised, vfio_pci_config*) and BAR
// regions. Interrupts (SET_IRQS) are in vfio_pci_intrs.cpp.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "iommu/iommu_api.h"
#include "vfio/vfio_core.h"
#include "vfio/vfio_pci_private.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {

uint32_t CoreDevice::cfg_read(int off, unsigned size) {
  uint32_t v = 0;
  Kernel::current().pci().config_read(pdev, off, size, v);
  return v;
}
void CoreDevice::cfg_write(int off, unsigned size, uint32_t value) { Kernel::current().pci().config_write(pdev, off, size, value); }
int CoreDevice::cfg_size() const { return pdev->cfg_size; }
uint64_t CoreDevice::bar_size(int i) const { return pci_resource_len(pdev, i); }
bool CoreDevice::bar_is_io(int i) const { return pci_resource_flags(pdev, i) & IORESOURCE_IO; }
bool CoreDevice::bar_is_64(int i) const { return pci_resource_flags(pdev, i) & IORESOURCE_MEM_64; }
bool CoreDevice::bar_is_prefetch(int i) const { return pci_resource_flags(pdev, i) & IORESOURCE_PREFETCH; }

vfio_pci_core_device* core_of(vfio_device* v) { return container_of(v, vfio_pci_core_device, vdev); }
CoreDevice& state(vfio_pci_core_device* v) { return *static_cast<CoreDevice*>(v->cosim); }

size_t do_io_rw(uint8_t __iomem* io, uint64_t off, uint8_t* buf, size_t count, bool write) {
  size_t done = 0;
  while (done < count) {
    const uint64_t at = off + done;
    const unsigned n = (count - done >= 4 && at % 4 == 0) ? 4 : (count - done >= 2 && at % 2 == 0) ? 2 : 1;
    if (write) {
      uint32_t v = 0;
      std::memcpy(&v, buf + done, n);
      if (n == 4) iowrite32(v, io + at);
      else if (n == 2) iowrite16(static_cast<u16>(v), io + at);
      else iowrite8(static_cast<u8>(v), io + at);
    } else {
      const uint32_t v = n == 4 ? ioread32(io + at) : n == 2 ? ioread16(io + at) : ioread8(io + at);
      std::memcpy(buf + done, &v, n);
    }
    done += n;
  }
  return done;
}

namespace {

// vdev->msix_bar: the BAR holding the MSI-X table (Table BIR), -1 without MSI-X.
int msix_bar(pci_dev* pdev) {
  if (!pdev->msix_cap) return -1;
  u32 table = 0;
  pci_read_config_dword(pdev, pdev->msix_cap + PCI_MSIX_TABLE, &table);
  return static_cast<int>(table & PCI_MSIX_TABLE_BIR);
}

// A BAR's part of vfio_pci_bar_rw: the range checks, then do_io_rw.
long bar_rw(pci_dev* pdev, unsigned bar, uint8_t* buf, size_t count, uint64_t pos, bool write) {
  const uint64_t len = pci_resource_len(pdev, bar);
  if (!len || !(pci_resource_flags(pdev, bar) & IORESOURCE_MEM)) return -EINVAL;
  if (pos >= len) return -EINVAL;
  count = std::min<uint64_t>(count, len - pos);
  uint8_t __iomem* io = static_cast<uint8_t __iomem*>(pci_iomap(pdev, static_cast<int>(bar), 0));
  return static_cast<long>(do_io_rw(io, pos, buf, count, write));
}


// vfio_pci_for_each_slot_or_bus (bus scope): every function on the device's bus and below it; the
// reset is a secondary bus reset of the bridge above, so a device on a root bus has none.
bool reset_scope(pci_dev* pdev, std::vector<PciDev*>& out) {
  if (!pdev->bus || !pdev->bus->self) return false;  // pci_probe_reset_bus: -ENOTTY on a root bus
  return Kernel::current().pci().devices_below(PciCore::of(pdev->bus->self), out);
}

long hot_reset_info(vfio_pci_core_device* vdev, void* uarg) {
  vfio_pci_hot_reset_info hdr{};
  const size_t minsz = offsetof(vfio_pci_hot_reset_info, count) + sizeof(hdr.count);
  std::memcpy(&hdr, uarg, minsz);
  if (hdr.argsz < minsz) return -EINVAL;
  hdr.flags = 0;
  std::vector<PciDev*> devs;
  if (!reset_scope(vdev->pdev, devs)) return -ENODEV;
  long rc = 0;
  const size_t need = minsz + devs.size() * sizeof(vfio_pci_dependent_device);
  if (hdr.argsz < need) {
    rc = -ENOSPC;  // the caller learns the count and asks again
  } else {
    auto* out = reinterpret_cast<vfio_pci_dependent_device*>(static_cast<uint8_t*>(uarg) + minsz);
    for (size_t i = 0; i < devs.size(); ++i) {
      const GroupRec* g = Kernel::current().iommu().group_of(*devs[i]);
      out[i] = vfio_pci_dependent_device{g ? static_cast<uint32_t>(g->id) : ~0u, static_cast<uint16_t>(devs[i]->segment),
                                         devs[i]->bdf.bus, devs[i]->bdf.devfn};
    }
  }
  hdr.count = static_cast<uint32_t>(devs.size());
  std::memcpy(uarg, &hdr, minsz);
  return rc;
}

long hot_reset(vfio_pci_core_device* vdev, void* uarg) {
  vfio_pci_hot_reset hdr{};
  const size_t minsz = offsetof(vfio_pci_hot_reset, count) + sizeof(hdr.count);
  std::memcpy(&hdr, uarg, minsz);
  if (hdr.argsz < minsz || hdr.flags) return -EINVAL;
  std::vector<PciDev*> devs;
  if (!reset_scope(vdev->pdev, devs)) return -ENODEV;
  if (!hdr.count || hdr.count > devs.size()) return -EINVAL;
  if (hdr.argsz < minsz + hdr.count * sizeof(int32_t)) return -EINVAL;
  const auto* fds = reinterpret_cast<const int32_t*>(static_cast<const uint8_t*>(uarg) + minsz);
  std::vector<const GroupRec*> groups;
  for (uint32_t i = 0; i < hdr.count; ++i) {
    std::shared_ptr<KernelFile> f = Kernel::current().files().get(fds[i]);
    if (!f) return -EBADF;
    auto g = std::dynamic_pointer_cast<VfioGroupFile>(f);
    if (!g) return -EINVAL;  // not a group file
    groups.push_back(&g->group());
  }
  // vfio_pci_dev_set_hot_reset: the user must own every device the reset touches.
  for (PciDev* d : devs) {
    const GroupRec* g = Kernel::current().iommu().group_of(*d);
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) return -EINVAL;
  }
  // 6.1 zaps the mappings of every device in the reset set; here only the caller's (a deviation:
  // another assigned device's pages stay present across the reset).
  zap_bar_mappings(vdev);
  return pci_reset_bus(vdev->pdev);
}

long rw(vfio_device* core_vdev, uint8_t* buf, size_t count, __kernel_loff_t* ppos, bool write) {
  vfio_pci_core_device* vdev = core_of(core_vdev);
  const uint64_t index = static_cast<uint64_t>(*ppos) >> VFIO_PCI_OFFSET_SHIFT;
  const uint64_t pos = static_cast<uint64_t>(*ppos) & VFIO_PCI_OFFSET_MASK;
  CoreDevice& st = state(vdev);
  // vfio_pci_rw: device-specific regions go to their ops (vfio_pci_regions.cpp), which move *ppos
  if (index >= VFIO_PCI_NUM_REGIONS) return dev_region_rw(vdev, reinterpret_cast<char*>(buf), count, ppos, write);
  long rc = -EINVAL;
  switch (index) {
    case VFIO_PCI_CONFIG_REGION_INDEX:
      if (!st.config) return -EINVAL;
      rc = write ? st.config->write(buf, count, pos) : st.config->read(buf, count, pos);
      // vfio_basic_config_write: clearing Memory Space zaps the BAR mappings (the next access
      // faults and gets SIGBUS while decoding stays off).
      if (write && !st.config->memory_enabled()) zap_bar_mappings(vdev);
      break;
    case VFIO_PCI_ROM_REGION_INDEX:
      return -EINVAL;  // no option ROM in the models yet: the region has size 0
    case VFIO_PCI_VGA_REGION_INDEX:
      return vga_rw(vdev, buf, count, ppos, write);  // moves *ppos itself (vfio_pci_vga.cpp)
    default:
      if (index > VFIO_PCI_BAR5_REGION_INDEX) return -EINVAL;
      // __vfio_pci_memory_enabled: the user's Command.MEM (and D0) must allow the access, checked
      // (vfio_pci_core_do_io_rw) after vfio_pci_bar_rw's range check: past the end is -EINVAL.
      if (st.config && !st.config->memory_enabled() && (pci_resource_flags(vdev->pdev, static_cast<int>(index)) & IORESOURCE_MEM) &&
          pos < pci_resource_len(vdev->pdev, static_cast<int>(index)))
        return -EIO;
      rc = bar_rw(vdev->pdev, static_cast<unsigned>(index), buf, count, pos, write);
  }
  if (rc > 0) *ppos += rc;
  return rc;
}

}  // namespace
}  // namespace pciesim::cosim

using namespace pciesim::cosim;

extern "C" int vfio_pci_core_init_dev(struct vfio_device* core_vdev) {
  vfio_pci_core_device* vdev = core_of(core_vdev);
  vdev->pdev = to_pci_dev(core_vdev->dev);
  vdev->cosim = new CoreDevice(vdev->pdev);
  return 0;
}

extern "C" void vfio_pci_core_release_dev(struct vfio_device* core_vdev) {
  vfio_pci_core_device* vdev = core_of(core_vdev);
  delete static_cast<CoreDevice*>(vdev->cosim);
  vdev->cosim = nullptr;
}

extern "C" int vfio_pci_core_register_device(struct vfio_pci_core_device* vdev) {
  if (vdev->pdev->hdr_type != PCI_HEADER_TYPE_NORMAL) return -EINVAL;  // bridges are not assignable
  // A PF whose VFs exist already cannot be bound: they may be in use, and could not be tracked.
  if (pci_num_vf(vdev->pdev)) {
    pci_warn(vdev->pdev, "Cannot bind to PF with SR-IOV enabled\n");
    return -EBUSY;
  }
  int rc = vf_init(vdev);  // vfio_pci_vf_init: SR-IOV PF token / VF's PF (vfio_pci_sriov.cpp)
  if (rc) return rc;
  rc = vga_init(vdev);  // vfio_pci_vga_init: the VGA arbiter's client
  if (rc) {
    vf_uninit(vdev);
    return rc;
  }
  rc = vfio_register_group_dev(&vdev->vdev);
  if (rc) {
    vga_uninit(vdev);
    vf_uninit(vdev);
  }
  return rc;
}

extern "C" void vfio_pci_core_unregister_device(struct vfio_pci_core_device* vdev) {
  vfio_pci_core_sriov_configure(vdev, 0);  // the VFs this PF created go first
  vfio_unregister_group_dev(&vdev->vdev);
  vf_uninit(vdev);
  vga_uninit(vdev);
}

extern "C" int vfio_pci_core_enable(struct vfio_pci_core_device* vdev) {
  pci_dev* pdev = vdev->pdev;
  pci_set_power_state(pdev, PCI_D0);
  pci_clear_master(pdev);  // the saved state must not include bus mastering
  int rc = pci_enable_device(pdev);
  if (rc) return rc;
  // The device starts each open from a reset, if it has one; the flags then advertise it
  // (VFIO_DEVICE_FLAGS_RESET). A reset that cannot take the device lock fails the open.
  rc = pci_try_reset_function(pdev);
  if (rc == -EAGAIN) {
    pci_disable_device(pdev);
    return rc;
  }
  vdev->reset_works = rc == 0;
  pci_save_state(pdev);
  if (!vga_disabled() && is_vga(pdev)) vdev->has_vga = true;  // the VGA region is offered
  state(vdev).config = std::make_unique<VfioPciConfig>(state(vdev));  // vfio_config_init
  return 0;
}

extern "C" void vfio_pci_core_finish_enable(struct vfio_pci_core_device* vdev) {
  vf_token_user_add(vdev, 1);  // a VF of a vfio-pci PF in use: the PF's user now needs the token
}

extern "C" void vfio_pci_core_disable(struct vfio_pci_core_device* vdev) {
  pci_dev* pdev = vdev->pdev;
  if (state(vdev).irq_type == VFIO_PCI_INTX_IRQ_INDEX) intx_disable(vdev);
  else if (state(vdev).irq_type != -1) msi_disable(vdev);
  pci_clear_master(pdev);  // stop the device's DMA before anything else
  release_dev_regions(vdev);  // 6.1: each region's ops->release, then the array is freed
  if (vdev->reset_works) pci_try_reset_function(pdev);
  pci_restore_state(pdev);
  state(vdev).config.reset();
  pci_disable_device(pdev);
}

extern "C" void vfio_pci_core_close_device(struct vfio_device* core_vdev) {
  vf_token_user_add(core_of(core_vdev), -1);
  vfio_pci_core_disable(core_of(core_vdev));
  release_err_req_triggers(core_of(core_vdev));  // 6.1 puts the ERR and REQ eventfds after the disable
}

extern "C" long vfio_pci_core_ioctl(struct vfio_device* core_vdev, unsigned int cmd, unsigned long arg) {
  vfio_pci_core_device* vdev = core_of(core_vdev);
  pci_dev* pdev = vdev->pdev;
  void* uarg = reinterpret_cast<void*>(arg);
  switch (cmd) {  // an ioctl the core does not know is -ENOTTY whatever its argument
    case VFIO_DEVICE_GET_INFO:
    case VFIO_DEVICE_GET_REGION_INFO:
    case VFIO_DEVICE_GET_IRQ_INFO:
    case VFIO_DEVICE_SET_IRQS:
    case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
    case VFIO_DEVICE_PCI_HOT_RESET:
    case VFIO_DEVICE_RESET:
      break;
    default:
      return -ENOTTY;
  }
  // copy_from_user of a NULL argument
  if (!uarg && cmd != VFIO_DEVICE_RESET) return -EFAULT;
  switch (cmd) {
    case VFIO_DEVICE_GET_INFO: {
      vfio_device_info info{};
      const size_t minsz = offsetof(vfio_device_info, num_irqs) + sizeof(info.num_irqs);
      std::memcpy(&info, uarg, minsz);
      if (info.argsz < minsz) return -EINVAL;
      info.flags = VFIO_DEVICE_FLAGS_PCI | (vdev->reset_works ? VFIO_DEVICE_FLAGS_RESET : 0);
      info.num_regions = VFIO_PCI_NUM_REGIONS + static_cast<__u32>(vdev->num_regions);
      info.num_irqs = VFIO_PCI_NUM_IRQS;
      std::memcpy(uarg, &info, minsz);
      return 0;
    }
    case VFIO_DEVICE_GET_REGION_INFO: {
      vfio_region_info info{};
      const size_t minsz = offsetof(vfio_region_info, offset) + sizeof(info.offset);
      std::memcpy(&info, uarg, minsz);
      if (info.argsz < minsz) return -EINVAL;
      info.offset = VFIO_PCI_INDEX_TO_OFFSET(info.index);
      info.flags = 0;
      info.size = 0;
      switch (info.index) {
        case VFIO_PCI_CONFIG_REGION_INDEX:
          info.size = static_cast<u64>(pdev->cfg_size);
          info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
          break;
        case VFIO_PCI_BAR0_REGION_INDEX:
        case VFIO_PCI_BAR1_REGION_INDEX:
        case VFIO_PCI_BAR2_REGION_INDEX:
        case VFIO_PCI_BAR3_REGION_INDEX:
        case VFIO_PCI_BAR4_REGION_INDEX:
        case VFIO_PCI_BAR5_REGION_INDEX:
          info.size = pci_resource_len(pdev, static_cast<int>(info.index));
          if (!info.size) break;
          info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
          if (bar_mmap_supported(pdev, static_cast<int>(info.index))) {
            info.flags |= VFIO_REGION_INFO_FLAG_MMAP;
            if (static_cast<int>(info.index) == msix_bar(pdev)) {
              // msix_mappable_cap: the MSI-X table may be mapped too (interrupt remapping isolates
              // what a user writes there), so the whole BAR stays mappable.
              vfio_info_cap caps{nullptr, 0};
              vfio_info_cap_header header{VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 1, 0};
              const int rc = vfio_info_add_capability(&caps, &header, sizeof(header));
              if (rc) return rc;
              return region_info_out(info, caps, uarg);
            }
          }
          break;
        case VFIO_PCI_ROM_REGION_INDEX:
          break;  // no option ROM: size 0, no flags
        case VFIO_PCI_VGA_REGION_INDEX:
          if (!vdev->has_vga) return -EINVAL;  // not a VGA device, or disable_vga
          // Legacy memory 0xa0000-0xbffff and the VGA ports at their own offsets; no mmap.
          info.size = 0xc0000;
          info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
          break;
        default:
          return dev_region_info(vdev, info, uarg);  // device-specific: type capability and chain
      }
      std::memcpy(uarg, &info, minsz);
      return 0;
    }
    case VFIO_DEVICE_GET_IRQ_INFO: {
      vfio_irq_info info{};
      const size_t minsz = offsetof(vfio_irq_info, count) + sizeof(info.count);
      std::memcpy(&info, uarg, minsz);
      if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS) return -EINVAL;
      if (info.index == VFIO_PCI_ERR_IRQ_INDEX && !pci_is_pcie(pdev)) return -EINVAL;
      info.flags = VFIO_IRQ_INFO_EVENTFD;
      info.count = irq_count(vdev, info.index);
      if (info.index == VFIO_PCI_INTX_IRQ_INDEX) info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
      else info.flags |= VFIO_IRQ_INFO_NORESIZE;
      std::memcpy(uarg, &info, minsz);
      return 0;
    }
    case VFIO_DEVICE_SET_IRQS:
      return set_irqs(vdev, uarg);
    case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
      return hot_reset_info(vdev, uarg);
    case VFIO_DEVICE_PCI_HOT_RESET:
      return hot_reset(vdev, uarg);
    case VFIO_DEVICE_RESET:
      if (!vdev->reset_works) return -EINVAL;
      zap_bar_mappings(vdev);  // vfio_pci_zap_and_down_write_memory_lock around the reset
      return pci_try_reset_function(pdev);
    default:
      return -ENOTTY;
  }
}

extern "C" ssize_t vfio_pci_core_read(struct vfio_device* core_vdev, char* buf, size_t count, __kernel_loff_t* ppos) {
  if (!count) return 0;
  return rw(core_vdev, reinterpret_cast<uint8_t*>(buf), count, ppos, false);
}

extern "C" ssize_t vfio_pci_core_write(struct vfio_device* core_vdev, const char* buf, size_t count, __kernel_loff_t* ppos) {
  if (!count) return 0;
  return rw(core_vdev, reinterpret_cast<uint8_t*>(const_cast<char*>(buf)), count, ppos, true);
}

// vfio_pci_core_match (the name and the VF token) is in vfio_pci_sriov.cpp.
