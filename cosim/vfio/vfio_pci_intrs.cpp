// vfio_pci_core's interrupts (Linux 6.1 drivers/vfio/pci/vfio_pci_intrs.c): VFIO_DEVICE_SET_IRQS
// for INTx (eventfd trigger, automasking, mask/unmask), MSI and MSI-X (eventfd per vector, the
// BOOL/NONE loopback forms), the ERR and REQ indexes (one eventfd each), the IRQ counts
// GET_IRQ_INFO reports, and the device request a driver's unbind relays to the user
// (vfio_pci_core_request, which upstream keeps in vfio_pci_core.c).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "kernel/eventfd.h"
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

bool wants(uint32_t flags, const uint8_t* data) {  // DATA_NONE, or DATA_BOOL with a true byte
  return (flags & VFIO_IRQ_SET_DATA_NONE) || ((flags & VFIO_IRQ_SET_DATA_BOOL) && data[0]);
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

void unmask_virqfd_disable(CoreDevice& st);

void intx_disable(vfio_pci_core_device* vdev) {
  CoreDevice& st = state(vdev);
  unmask_virqfd_disable(st);  // vfio_intx_disable: the unmask and mask virqfds go first
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

// vfio_pci_set_intx_mask: DATA_EVENTFD (mask through an irqfd) is not implemented in 6.1 either.
long set_intx_mask(vfio_pci_core_device* vdev, unsigned start, unsigned count, uint32_t flags, const uint8_t* data) {
  CoreDevice& st = state(vdev);
  if (st.irq_type != VFIO_PCI_INTX_IRQ_INDEX || start != 0 || count != 1) return -EINVAL;
  if (flags & VFIO_IRQ_SET_DATA_EVENTFD) return -ENOTTY;
  if (wants(flags, data)) {
    pci_intx(vdev->pdev, 0);  // vfio_pci_intx_mask
    st.intx_masked = true;
  }
  return 0;
}

// vfio_pci_intx_unmask_handler: unmask at the device unless it asserts again; 1 when it does (the
// line stays masked and the interrupt goes to the user once more instead).
int intx_unmask_handler(vfio_pci_core_device* vdev) {
  CoreDevice& st = state(vdev);
  if (!st.intx_masked) return 0;
  const int again = pci_check_and_unmask_intx(vdev->pdev) ? 0 : 1;
  st.intx_masked = again > 0;
  return again;
}

// vfio_send_intx_eventfd
void send_intx_eventfd(vfio_pci_core_device* vdev) {
  CoreDevice& st = state(vdev);
  if (st.irq_type == VFIO_PCI_INTX_IRQ_INDEX && !st.triggers.empty() && st.triggers[0])
    eventfd_signal(st.triggers[0], 1);
}

// vfio_virqfd_disable(&vdev->ctx[0].unmask)
void unmask_virqfd_disable(CoreDevice& st) {
  if (!st.unmask_virqfd) return;
  auto& w = st.unmask_virqfd->waiters;
  w.erase(std::remove_if(w.begin(), w.end(), [&](const eventfd_ctx::Waiter& x) { return x.owner == &st; }), w.end());
  eventfd_ctx_put(st.unmask_virqfd);
  st.unmask_virqfd = nullptr;
}

// vfio_virqfd_enable(vdev, vfio_pci_intx_unmask_handler, vfio_send_intx_eventfd, ...): every
// signal of the user's eventfd (typically KVM's resamplefd, written when the guest EOIs) unmasks
// as an UNMASK ioctl does. One per device (-EBUSY); an event already pending runs it at once.
long unmask_virqfd_enable(vfio_pci_core_device* vdev, int32_t fd) {
  CoreDevice& st = state(vdev);
  eventfd_ctx* ctx = eventfd_ctx_fdget(fd);
  if (IS_ERR(ctx)) return PTR_ERR(ctx);
  if (st.unmask_virqfd) {
    eventfd_ctx_put(ctx);
    return -EBUSY;
  }
  st.unmask_virqfd = ctx;
  auto run = [vdev] {
    if (intx_unmask_handler(vdev)) send_intx_eventfd(vdev);
  };
  ctx->waiters.push_back({&st, run});
  if (ctx->count) run();
  return 0;
}

// vfio_pci_set_intx_unmask
long set_intx_unmask(vfio_pci_core_device* vdev, unsigned start, unsigned count, uint32_t flags, const uint8_t* data) {
  CoreDevice& st = state(vdev);
  if (st.irq_type != VFIO_PCI_INTX_IRQ_INDEX || start != 0 || count != 1) return -EINVAL;
  if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    int32_t fd = 0;
    std::memcpy(&fd, data, sizeof fd);
    if (fd >= 0) return unmask_virqfd_enable(vdev, fd);
    unmask_virqfd_disable(st);
    return 0;
  }
  if (wants(flags, data) && intx_unmask_handler(vdev)) send_intx_eventfd(vdev);
  return 0;
}

// vfio_pci_set_intx_trigger
long set_intx_trigger(vfio_pci_core_device* vdev, unsigned start, unsigned count, uint32_t flags, const uint8_t* data) {
  CoreDevice& st = state(vdev);
  const bool is_intx = st.irq_type == VFIO_PCI_INTX_IRQ_INDEX;
  if (is_intx && !count && (flags & VFIO_IRQ_SET_DATA_NONE)) {
    intx_disable(vdev);
    return 0;
  }
  if (!(is_intx || st.irq_type == -1) || start != 0 || count != 1) return -EINVAL;
  if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    int32_t fd = 0;
    std::memcpy(&fd, data, sizeof fd);
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
  if (st.triggers[0] && wants(flags, data)) eventfd_signal(st.triggers[0], 1);  // loopback
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
    const uint8_t* fds = data;  // int32_t each, as the user packed them
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
    if (start >= st.triggers.size() || start + count > st.triggers.size()) {  // vfio_msi_set_block
      if (fresh) msi_disable(vdev);
      return -EINVAL;
    }
    for (unsigned j = 0; j < count; ++j) {
      int32_t fd = -1;
      if (fds) std::memcpy(&fd, fds + j * sizeof fd, sizeof fd);
      const int rc = set_vector_signal(vdev, start + j, fd);
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
    if (wants(flags, data ? data + (i - start) : nullptr)) eventfd_signal(st.triggers[i], 1);
  }
  return 0;
}

// vfio_pci_set_ctx_trigger_single: the ERR and REQ indexes have one eventfd each. DATA_NONE with
// count 1 and DATA_BOOL loop back (signal it), DATA_NONE with count 0 releases it, DATA_EVENTFD
// takes the descriptor (-1 releases; other negative values change nothing).
long set_ctx_trigger_single(eventfd_ctx** ctx, unsigned count, uint32_t flags, const uint8_t* data) {
  if (flags & VFIO_IRQ_SET_DATA_NONE) {
    if (*ctx) {
      if (count) {
        eventfd_signal(*ctx, 1);
      } else {
        eventfd_ctx_put(*ctx);
        *ctx = nullptr;
      }
      return 0;
    }
    return -EINVAL;  // nothing registered to signal or release
  }
  if (flags & VFIO_IRQ_SET_DATA_BOOL) {
    if (!count) return -EINVAL;
    if (data[0] && *ctx) eventfd_signal(*ctx, 1);
    return 0;
  }
  if (flags & VFIO_IRQ_SET_DATA_EVENTFD) {
    if (!count) return -EINVAL;
    int32_t fd = 0;
    std::memcpy(&fd, data, sizeof fd);
    if (fd == -1) {
      if (*ctx) eventfd_ctx_put(*ctx);
      *ctx = nullptr;
    } else if (fd >= 0) {
      eventfd_ctx* e = eventfd_ctx_fdget(fd);
      if (IS_ERR(e)) return PTR_ERR(e);
      if (*ctx) eventfd_ctx_put(*ctx);
      *ctx = e;
    }
    return 0;
  }
  return -EINVAL;
}

// vfio_pci_set_err_trigger / vfio_pci_set_req_trigger
long set_single_trigger(eventfd_ctx** ctx, unsigned start, unsigned count, uint32_t flags, const uint8_t* data) {
  if (start != 0 || count > 1) return -EINVAL;
  return set_ctx_trigger_single(ctx, count, flags, data);
}

// VFIO_DEVICE_SET_IRQS: vfio_pci_ioctl_set_irqs, vfio_set_irqs_validate_and_prepare, then
// vfio_pci_set_irqs_ioctl's handler for the index and action (none: -ENOTTY).
long set_irqs(vfio_pci_core_device* vdev, void* uarg) {
  vfio_irq_set hdr{};
  const size_t minsz = offsetof(vfio_irq_set, count) + sizeof(hdr.count);
  std::memcpy(&hdr, uarg, minsz);
  const unsigned max = irq_count(vdev, hdr.index);
  if (hdr.argsz < minsz || hdr.index >= VFIO_PCI_NUM_IRQS || hdr.count >= UINT32_MAX - hdr.start ||
      (hdr.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)))
    return -EINVAL;
  if (hdr.start >= max || hdr.start + hdr.count > max) return -EINVAL;
  size_t size = 0;
  switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
    case VFIO_IRQ_SET_DATA_NONE: size = 0; break;
    case VFIO_IRQ_SET_DATA_BOOL: size = sizeof(uint8_t); break;
    case VFIO_IRQ_SET_DATA_EVENTFD: size = sizeof(int32_t); break;
    default: return -EINVAL;  // none, or more than one data type
  }
  if (size && hdr.argsz - minsz < hdr.count * size) return -EINVAL;
  const uint8_t* data = size ? static_cast<const uint8_t*>(uarg) + minsz : nullptr;
  CoreDevice& st = state(vdev);
  const uint32_t action = hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;  // exactly one, or no handler
  switch (hdr.index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
      if (action == VFIO_IRQ_SET_ACTION_MASK) return set_intx_mask(vdev, hdr.start, hdr.count, hdr.flags, data);
      if (action == VFIO_IRQ_SET_ACTION_UNMASK) return set_intx_unmask(vdev, hdr.start, hdr.count, hdr.flags, data);
      if (action == VFIO_IRQ_SET_ACTION_TRIGGER) return set_intx_trigger(vdev, hdr.start, hdr.count, hdr.flags, data);
      break;
    case VFIO_PCI_MSI_IRQ_INDEX:
    case VFIO_PCI_MSIX_IRQ_INDEX:
      // MASK/UNMASK of MSI vectors: "XXX Need masking support exported" in 6.1, no handler.
      if (action == VFIO_IRQ_SET_ACTION_TRIGGER) return set_msi_trigger(vdev, hdr.index, hdr.start, hdr.count, hdr.flags, data);
      break;
    case VFIO_PCI_ERR_IRQ_INDEX:
      if (action == VFIO_IRQ_SET_ACTION_TRIGGER && pci_is_pcie(vdev->pdev))
        return set_single_trigger(&st.err_trigger, hdr.start, hdr.count, hdr.flags, data);
      break;
    case VFIO_PCI_REQ_IRQ_INDEX:
      if (action == VFIO_IRQ_SET_ACTION_TRIGGER) return set_single_trigger(&st.req_trigger, hdr.start, hdr.count, hdr.flags, data);
      break;
    default:
      break;
  }
  return -ENOTTY;
}

// vfio_pci_core_close_device: the ERR and REQ eventfds are released with the last close.
void release_err_req_triggers(vfio_pci_core_device* vdev) {
  CoreDevice& st = state(vdev);
  for (eventfd_ctx** ctx : {&st.err_trigger, &st.req_trigger}) {
    if (*ctx) eventfd_ctx_put(*ctx);
    *ctx = nullptr;
  }
}

}  // namespace pciesim::cosim

using namespace pciesim::cosim;

// vfio_pci_core_aer_err_detected (vfio_pci_core.c, Linux 6.1): the AER recovery's error_detected
// callback (cosim/pci/aer.c pcie_do_recovery) tells the user through the ERR eventfd, when one is
// set with VFIO_DEVICE_SET_IRQS, and votes that the device can recover: the user (QEMU) decides
// what to do with it. Under igate in 6.1; kernel tasks here run one at a time.
static pci_ers_result_t vfio_pci_core_aer_err_detected(struct pci_dev* pdev, pci_channel_state_t) {
  auto* vdev = static_cast<vfio_pci_core_device*>(dev_get_drvdata(&pdev->dev));
  if (!vdev) return PCI_ERS_RESULT_DISCONNECT;
  CoreDevice& st = state(vdev);
  if (st.err_trigger) eventfd_signal(st.err_trigger, 1);
  return PCI_ERS_RESULT_CAN_RECOVER;
}

// error_detected only, as in 6.1 (members in struct pci_error_handlers order).
extern "C" const struct pci_error_handlers vfio_pci_core_err_handlers = {
    vfio_pci_core_aer_err_detected, nullptr, nullptr, nullptr, nullptr, nullptr};

// vfio_pci_core_request (vfio_pci_core.c): vfio_unregister_group_dev asks the user to release the
// device, at once and then every 10 s, through the REQ eventfd; without one it warns once.
extern "C" void vfio_pci_core_request(struct vfio_device* core_vdev, unsigned int count) {
  vfio_pci_core_device* vdev = core_of(core_vdev);
  CoreDevice& st = state(vdev);
  if (st.req_trigger) {
    // pci_notice_ratelimited: the default ratelimit (10 per 5 s) never drops one line per 100 s
    if (!(count % 10)) _dev_printk(KERN_NOTICE, &vdev->pdev->dev, "Relaying device request to user (#%u)\n", count);
    eventfd_signal(st.req_trigger, 1);
  } else if (count == 0) {
    _dev_printk(KERN_WARNING, &vdev->pdev->dev, "No device request channel registered, blocked until released by user\n");
  }
}
