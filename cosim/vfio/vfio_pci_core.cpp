// vfio_pci_core (Linux 6.1 drivers/vfio/pci/vfio_pci_core.c, vfio_pci_rdwr.c): device info,
// region and IRQ info, reset, and the config (virtualised, vfio_pci_config*) and BAR regions.
// Interrupt delivery (SET_IRQS), mmap and hot reset follow with the rest of the VFIO issue.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "iommu/iommu_api.h"
#include "vfio/vfio_core.h"
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
  int irq_type = -1;                      // VFIO_PCI_*_IRQ_INDEX in use, -1: none (VFIO_PCI_NUM_IRQS)
  std::vector<eventfd_ctx*> triggers;     // per vector (vdev->ctx[i].trigger)
  bool intx_masked = false;               // vdev->ctx[0].masked
  bool pci_2_3 = false;                   // INTx masking at the device works
  vfio_pci_core_device* owner = nullptr;
};

// vfio_msihandler: the device's interrupt becomes a signal on the user's eventfd.
irqreturn_t msi_handler(int, void* arg) {
  eventfd_signal(static_cast<eventfd_ctx*>(arg), 1);
  return IRQ_HANDLED;
}

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

// vfio_intx_handler: mask the line at the device (it stays masked until the user unmasks), then
// signal the user. A line shared with another device that is not asserting is left alone.
irqreturn_t intx_handler(int, void* arg) {
  auto* st = static_cast<CoreDevice*>(arg);
  if (st->intx_masked || !pci_check_and_mask_intx(st->pdev)) return IRQ_NONE;
  st->intx_masked = true;
  if (!st->triggers.empty() && st->triggers[0]) eventfd_signal(st->triggers[0], 1);
  return IRQ_HANDLED;
}

void intx_disable(vfio_pci_core_device* vdev) {
  CoreDevice& st = state(vdev);
  if (!st.triggers.empty() && st.triggers[0]) {
    free_irq(vdev->pdev->irq, &st);
    eventfd_ctx_put(st.triggers[0]);
  }
  st.triggers.clear();
  pci_free_irq_vectors(vdev->pdev);
  pci_intx(vdev->pdev, 0);  // vfio_intx_disable leaves INTx masked at the device
  st.intx_masked = false;
  st.irq_type = -1;
}

// vfio_pci_set_intx_trigger / _mask / _unmask
long set_intx(vfio_pci_core_device* vdev, uint32_t flags, unsigned count, const uint8_t* data) {
  CoreDevice& st = state(vdev);
  const bool is_intx = st.irq_type == VFIO_PCI_INTX_IRQ_INDEX;
  switch (flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) {
    case VFIO_IRQ_SET_ACTION_MASK:
      if (!is_intx) return -EINVAL;
      if ((flags & VFIO_IRQ_SET_DATA_NONE) || ((flags & VFIO_IRQ_SET_DATA_BOOL) && data[0])) {
        pci_intx(vdev->pdev, 0);  // vfio_pci_intx_mask
        st.intx_masked = true;
      } else if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
        return -EINVAL;
      }
      return 0;
    case VFIO_IRQ_SET_ACTION_UNMASK:
      if (!is_intx) return -EINVAL;
      if ((flags & VFIO_IRQ_SET_DATA_NONE) || ((flags & VFIO_IRQ_SET_DATA_BOOL) && data[0])) {
        // vfio_pci_intx_unmask_handler: unmask unless the device asserts again, in which case the
        // interrupt is delivered at once (the line stays masked).
        if (st.intx_masked) {
          if (pci_check_and_unmask_intx(vdev->pdev)) st.intx_masked = false;
          else if (!st.triggers.empty() && st.triggers[0]) eventfd_signal(st.triggers[0], 1);
        }
      } else if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
        return -ENOTTY;  // unmask through a resamplefd (irqfd) is not modelled
      }
      return 0;
    default:
      break;  // TRIGGER
  }
  if (is_intx && !count && (flags & VFIO_IRQ_SET_DATA_NONE)) {
    intx_disable(vdev);
    return 0;
  }
  if (!(is_intx || st.irq_type == -1)) return -EINVAL;
  if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    const int32_t fd = *reinterpret_cast<const int32_t*>(data);
    if (!is_intx) {  // vfio_intx_enable
      if (pci_alloc_irq_vectors(vdev->pdev, 1, 1, PCI_IRQ_LEGACY) != 1) return -ENODEV;
      st.pci_2_3 = pci_intx_mask_supported(vdev->pdev);
      st.triggers.assign(1, nullptr);
      st.irq_type = VFIO_PCI_INTX_IRQ_INDEX;
      st.intx_masked = false;
      pci_intx(vdev->pdev, 1);
    }
    // vfio_intx_set_signal
    if (st.triggers[0]) {
      free_irq(vdev->pdev->irq, &st);
      eventfd_ctx_put(st.triggers[0]);
      st.triggers[0] = nullptr;
    }
    if (fd < 0) return 0;
    eventfd_ctx* trigger = eventfd_ctx_fdget(fd);
    if (IS_ERR(trigger)) {
      if (!is_intx) intx_disable(vdev);
      return static_cast<int>(PTR_ERR(trigger));
    }
    st.triggers[0] = trigger;
    const int rc = request_irq(vdev->pdev->irq, intx_handler, st.pci_2_3 ? IRQF_SHARED : 0, "vfio-intx", &st);
    if (rc) {
      eventfd_ctx_put(trigger);
      st.triggers[0] = nullptr;
      if (!is_intx) intx_disable(vdev);
      return rc;
    }
    return 0;
  }
  if (!is_intx) return -EINVAL;
  if (st.triggers[0] && ((flags & VFIO_IRQ_SET_DATA_NONE) || ((flags & VFIO_IRQ_SET_DATA_BOOL) && data[0])))
    eventfd_signal(st.triggers[0], 1);  // loopback
  return 0;
}

// vfio_msi_set_vector_signal
int set_vector_signal(vfio_pci_core_device* vdev, unsigned vector, int fd) {
  CoreDevice& st = state(vdev);
  const int irq = pci_irq_vector(vdev->pdev, vector);
  if (irq < 0) return -EINVAL;
  if (st.triggers[vector]) {
    free_irq(static_cast<unsigned>(irq), st.triggers[vector]);
    eventfd_ctx_put(st.triggers[vector]);
    st.triggers[vector] = nullptr;
  }
  if (fd < 0) return 0;
  eventfd_ctx* trigger = eventfd_ctx_fdget(fd);
  if (IS_ERR(trigger)) return static_cast<int>(PTR_ERR(trigger));
  const int rc = request_irq(static_cast<unsigned>(irq), msi_handler, 0, "vfio-msi", trigger);
  if (rc) {
    eventfd_ctx_put(trigger);
    return rc;
  }
  st.triggers[vector] = trigger;
  return 0;
}

void msi_disable(vfio_pci_core_device* vdev) {
  CoreDevice& st = state(vdev);
  for (unsigned i = 0; i < st.triggers.size(); ++i) set_vector_signal(vdev, i, -1);
  st.triggers.clear();
  pci_free_irq_vectors(vdev->pdev);
  if (st.config) {
    if (st.irq_type == VFIO_PCI_MSI_IRQ_INDEX) st.config->set_msi_enabled(false, 0);
    else st.config->set_msix_enabled(false);
  }
  st.irq_type = -1;
}

// vfio_pci_set_msi_trigger
long set_msi_trigger(vfio_pci_core_device* vdev, unsigned index, unsigned start, unsigned count, uint32_t flags,
                     const uint8_t* data) {
  CoreDevice& st = state(vdev);
  const bool msix = index == VFIO_PCI_MSIX_IRQ_INDEX;
  if (st.irq_type == static_cast<int>(index) && !count && (flags & VFIO_IRQ_SET_DATA_NONE)) {
    msi_disable(vdev);
    return 0;
  }
  if (!(st.irq_type == static_cast<int>(index) || st.irq_type == -1)) return -EINVAL;
  if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    const auto* fds = reinterpret_cast<const int32_t*>(data);
    const bool fresh = st.irq_type != static_cast<int>(index);
    if (fresh) {  // vfio_msi_enable
      const unsigned nvec = start + count;
      const int got = pci_alloc_irq_vectors(vdev->pdev, 1, nvec, msix ? PCI_IRQ_MSIX : PCI_IRQ_MSI);
      if (got < static_cast<int>(nvec)) {
        if (got > 0) pci_free_irq_vectors(vdev->pdev);
        return got < 0 ? got : -ENOSPC;
      }
      st.triggers.assign(nvec, nullptr);
      st.irq_type = static_cast<int>(index);
      if (st.config) {
        if (msix) st.config->set_msix_enabled(true);
        else st.config->set_msi_enabled(true, nvec);
      }
    }
    for (unsigned j = 0; j < count; ++j) {  // vfio_msi_set_block
      const int rc = set_vector_signal(vdev, start + j, fds ? fds[j] : -1);
      if (rc) {
        for (unsigned i = start; i < start + j; ++i) set_vector_signal(vdev, i, -1);
        if (fresh) msi_disable(vdev);
        return rc;
      }
    }
    return 0;
  }
  if (st.irq_type != static_cast<int>(index) || start + count > st.triggers.size()) return -EINVAL;
  for (unsigned i = start; i < start + count; ++i) {  // loopback: NONE or BOOL triggers
    if (!st.triggers[i]) continue;
    if ((flags & VFIO_IRQ_SET_DATA_NONE) || ((flags & VFIO_IRQ_SET_DATA_BOOL) && data[i - start]))
      eventfd_signal(st.triggers[i], 1);
  }
  return 0;
}

// VFIO_DEVICE_SET_IRQS: vfio_set_irqs_validate_and_prepare, then the index/action's handler.
long set_irqs(vfio_pci_core_device* vdev, void* uarg) {
  vfio_irq_set hdr{};
  const size_t minsz = offsetof(vfio_irq_set, count) + sizeof(hdr.count);
  std::memcpy(&hdr, uarg, minsz);
  if (hdr.argsz < minsz || hdr.index >= VFIO_PCI_NUM_IRQS) return -EINVAL;
  if (hdr.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) return -EINVAL;
  size_t size = 0;
  switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
    case VFIO_IRQ_SET_DATA_NONE: size = 0; break;
    case VFIO_IRQ_SET_DATA_BOOL: size = sizeof(uint8_t); break;
    case VFIO_IRQ_SET_DATA_EVENTFD: size = sizeof(int32_t); break;
    default: return -EINVAL;
  }
  switch (hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) {
    case VFIO_IRQ_SET_ACTION_MASK:
    case VFIO_IRQ_SET_ACTION_UNMASK:
    case VFIO_IRQ_SET_ACTION_TRIGGER: break;
    default: return -EINVAL;
  }
  const unsigned max = irq_count(vdev, hdr.index);
  if (hdr.count > max || hdr.start >= max || hdr.start + hdr.count > max) return -EINVAL;
  if (!hdr.count && !(hdr.flags & VFIO_IRQ_SET_DATA_NONE)) return -EINVAL;
  if (size && hdr.argsz - minsz < hdr.count * size) return -EINVAL;
  const uint8_t* data = size ? static_cast<const uint8_t*>(uarg) + minsz : nullptr;
  const bool trigger = hdr.flags & VFIO_IRQ_SET_ACTION_TRIGGER;
  switch (hdr.index) {
    case VFIO_PCI_MSI_IRQ_INDEX:
    case VFIO_PCI_MSIX_IRQ_INDEX:
      // MASK/UNMASK of MSI vectors is not exported by Linux 6.1's vfio-pci either: -ENOTTY.
      return trigger ? set_msi_trigger(vdev, hdr.index, hdr.start, hdr.count, hdr.flags, data) : -ENOTTY;
    case VFIO_PCI_INTX_IRQ_INDEX:
      return set_intx(vdev, hdr.flags, hdr.count, data);
    default:
      return -ENOTTY;  // ERR and REQ: not yet in the co-simulated vfio_pci_core
  }
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
  return pci_reset_bus(vdev->pdev);
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
  if (state(vdev).irq_type == VFIO_PCI_INTX_IRQ_INDEX) intx_disable(vdev);
  else if (state(vdev).irq_type != -1) msi_disable(vdev);
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
    case VFIO_DEVICE_SET_IRQS:
      return set_irqs(vdev, uarg);
    case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
      return hot_reset_info(vdev, uarg);
    case VFIO_DEVICE_PCI_HOT_RESET:
      return hot_reset(vdev, uarg);
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
