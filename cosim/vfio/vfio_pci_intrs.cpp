// vfio_pci_core's interrupts (Linux 6.1 drivers/vfio/pci/vfio_pci_intrs.c): VFIO_DEVICE_SET_IRQS
// for INTx (eventfd trigger, automasking, mask/unmask), MSI and MSI-X (eventfd per vector, the
// BOOL/NONE loopback forms), and the IRQ counts GET_IRQ_INFO reports.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "kernel/kernel.h"
#include "vfio/vfio_pci_private.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {
namespace {

// vfio_msihandler: the device's interrupt becomes a signal on the user's eventfd.
irqreturn_t msi_handler(int, void* arg) {
  eventfd_signal(static_cast<eventfd_ctx*>(arg), 1);
  return IRQ_HANDLED;
}

}  // namespace

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

}  // namespace pciesim::cosim
