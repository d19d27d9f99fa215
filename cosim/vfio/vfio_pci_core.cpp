// vfio_pci_core (Linux 6.1 drivers/vfio/pci/vfio_pci_core.c, vfio_pci_rdwr.c): device info,
// region and IRQ info, reset, and the config (virtualised, vfio_pci_config*) and BAR regions.
// Interrupt delivery (SET_IRQS), mmap and hot reset follow with the rest of the VFIO issue.
#include <cstring>
#include <memory>

#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "vfio/vfio_pci_config.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {
namespace {

// The PCI core's view of the device, for the config virtualisation.
struct CoreDevice : VfioConfigDevice {
  explicit CoreDevice(pci_dev* p) : pdev(p) {}
  uint32_t cfg_read(int off, unsigned size) override {
    uint32_t v = 0;
    Kernel::current().pci().config_read(pdev, off, size, v);
    return v;
  }
  void cfg_write(int off, unsigned size, uint32_t value) override { Kernel::current().pci().config_write(pdev, off, size, value); }
  int cfg_size() const override { return pdev->cfg_size; }
  uint64_t bar_size(int i) const override { return pci_resource_len(pdev, i); }
  bool bar_is_io(int i) const override { return pci_resource_flags(pdev, i) & IORESOURCE_IO; }
  bool bar_is_64(int i) const override { return pci_resource_flags(pdev, i) & IORESOURCE_MEM_64; }
  bool bar_is_prefetch(int i) const override { return pci_resource_flags(pdev, i) & IORESOURCE_PREFETCH; }
  pci_dev* pdev;
  std::unique_ptr<VfioPciConfig> config;  // vfio_config_init at open
};

vfio_pci_core_device* core_of(vfio_device* v) { return container_of(v, vfio_pci_core_device, vdev); }
CoreDevice& state(vfio_pci_core_device* v) { return *static_cast<CoreDevice*>(v->cosim); }

// vfio_pci_get_irq_count
unsigned irq_count(vfio_pci_core_device* vdev, unsigned index) {
  pci_dev* pdev = vdev->pdev;
  switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX: {
      if (vdev->nointx || pdev->is_virtfn) return 0;
      u8 pin = 0;
      pci_read_config_byte(pdev, PCI_INTERRUPT_PIN, &pin);
      return pin ? 1 : 0;
    }
    case VFIO_PCI_MSI_IRQ_INDEX: {
      if (!pdev->msi_cap) return 0;
      u16 flags = 0;
      pci_read_config_word(pdev, pdev->msi_cap + PCI_MSI_FLAGS, &flags);
      return 1u << ((flags & PCI_MSI_FLAGS_QMASK) >> 1);
    }
    case VFIO_PCI_MSIX_IRQ_INDEX: {
      if (!pdev->msix_cap) return 0;
      u16 flags = 0;
      pci_read_config_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS, &flags);
      return (flags & PCI_MSIX_FLAGS_QSIZE) + 1u;
    }
    case VFIO_PCI_ERR_IRQ_INDEX: return pci_is_pcie(pdev) ? 1 : 0;
    case VFIO_PCI_REQ_IRQ_INDEX: return 1;
    default: return 0;
  }
}

// vfio_pci_core_do_io_rw: naturally aligned 4/2/1-byte MMIO.
long bar_rw(pci_dev* pdev, unsigned bar, uint8_t* buf, size_t count, uint64_t pos, bool write) {
  const uint64_t len = pci_resource_len(pdev, bar);
  if (!len || !(pci_resource_flags(pdev, bar) & IORESOURCE_MEM)) return -EINVAL;
  if (pos >= len) return -EINVAL;
  count = std::min<uint64_t>(count, len - pos);
  uint8_t __iomem* io = static_cast<uint8_t __iomem*>(pci_iomap(pdev, static_cast<int>(bar), 0));
  size_t done = 0;
  while (done < count) {
    const uint64_t at = pos + done;
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
  return static_cast<long>(done);
}

long rw(vfio_device* core_vdev, uint8_t* buf, size_t count, __kernel_loff_t* ppos, bool write) {
  vfio_pci_core_device* vdev = core_of(core_vdev);
  const uint64_t index = static_cast<uint64_t>(*ppos) >> VFIO_PCI_OFFSET_SHIFT;
  const uint64_t pos = static_cast<uint64_t>(*ppos) & VFIO_PCI_OFFSET_MASK;
  CoreDevice& st = state(vdev);
  long rc = -EINVAL;
  switch (index) {
    case VFIO_PCI_CONFIG_REGION_INDEX:
      if (!st.config) return -EINVAL;
      rc = write ? st.config->write(buf, count, pos) : st.config->read(buf, count, pos);
      break;
    case VFIO_PCI_ROM_REGION_INDEX:
      return -EINVAL;  // no option ROM in the models yet: the region has size 0
    case VFIO_PCI_VGA_REGION_INDEX:
      return -EINVAL;
    default:
      if (index > VFIO_PCI_BAR5_REGION_INDEX) return -EINVAL;
      // __vfio_pci_memory_enabled: the user's Command.MEM (and D0) must allow the access.
      if (st.config && !st.config->memory_enabled()) return -EIO;
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
  return vfio_register_group_dev(&vdev->vdev);
}

extern "C" void vfio_pci_core_unregister_device(struct vfio_pci_core_device* vdev) { vfio_unregister_group_dev(&vdev->vdev); }

extern "C" int vfio_pci_core_enable(struct vfio_pci_core_device* vdev) {
  pci_dev* pdev = vdev->pdev;
  pci_set_power_state(pdev, PCI_D0);
  const int rc = pci_enable_device(pdev);
  if (rc) return rc;
  // vfio_pci_core_enable: a reset that works is advertised (VFIO_DEVICE_FLAGS_RESET).
  vdev->reset_works = pcie_has_flr(pdev) || (pdev->bus && pdev->bus->self);
  pci_save_state(pdev);
  state(vdev).config = std::make_unique<VfioPciConfig>(state(vdev));  // vfio_config_init
  return 0;
}

extern "C" void vfio_pci_core_finish_enable(struct vfio_pci_core_device*) {}

extern "C" void vfio_pci_core_disable(struct vfio_pci_core_device* vdev) {
  pci_dev* pdev = vdev->pdev;
  pci_clear_master(pdev);  // stop the device's DMA before anything else
  if (vdev->reset_works) pci_try_reset_function(pdev);
  pci_restore_state(pdev);
  state(vdev).config.reset();
  pci_disable_device(pdev);
}

extern "C" void vfio_pci_core_close_device(struct vfio_device* core_vdev) { vfio_pci_core_disable(core_of(core_vdev)); }

extern "C" long vfio_pci_core_ioctl(struct vfio_device* core_vdev, unsigned int cmd, unsigned long arg) {
  vfio_pci_core_device* vdev = core_of(core_vdev);
  pci_dev* pdev = vdev->pdev;
  void* uarg = reinterpret_cast<void*>(arg);
  if (!uarg && cmd != VFIO_DEVICE_RESET) return -EFAULT;
  switch (cmd) {
    case VFIO_DEVICE_GET_INFO: {
      vfio_device_info info{};
      const size_t minsz = offsetof(vfio_device_info, num_irqs) + sizeof(info.num_irqs);
      std::memcpy(&info, uarg, minsz);
      if (info.argsz < minsz) return -EINVAL;
      info.flags = VFIO_DEVICE_FLAGS_PCI | (vdev->reset_works ? VFIO_DEVICE_FLAGS_RESET : 0);
      info.num_regions = VFIO_PCI_NUM_REGIONS;
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
          // bar_mmap_supported: memory BARs of at least a page
          if ((pci_resource_flags(pdev, static_cast<int>(info.index)) & IORESOURCE_MEM) && info.size >= 4096)
            info.flags |= VFIO_REGION_INFO_FLAG_MMAP;
          break;
        case VFIO_PCI_ROM_REGION_INDEX:
          break;  // no option ROM: size 0, no flags
        case VFIO_PCI_VGA_REGION_INDEX:
          return -EINVAL;  // not a VGA device
        default:
          return -EINVAL;
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
    case VFIO_DEVICE_RESET:
      if (!vdev->reset_works) return -EINVAL;
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

extern "C" int vfio_pci_core_match(struct vfio_device* core_vdev, char* buf) {
  // vfio_pci_core_match without a VF token: the name must equal the device's.
  return std::strcmp(pci_name(core_of(core_vdev)->pdev), buf) == 0 ? 1 : 0;
}
