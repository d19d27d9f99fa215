// VFIO's VGA region of the co-simulated vfio_pci_core (Linux 6.1 vfio_pci_core.c: vfio_pci_is_vga,
// vfio_vga_disabled, vfio_pci_set_decode, vfio_pci_vga_init/uninit; vfio_pci_rdwr.c:
// vfio_pci_vga_rw). Region index 8 is 0xc0000 bytes, read/write, never mmap: offsets
// 0xa0000-0xbffff reach the legacy VGA frame buffer, 0x3b0-0x3bb and 0x3c0-0x3df the VGA I/O
// ports, each access under the VGA arbiter's lock, which routes the legacy ranges to this device
// (docs/vga.md). Built as if CONFIG_VFIO_PCI_VGA=y (x86 with VGA_ARB; the Debian config the
// real-host comparison runs), so vfio-pci's disable_vga parameter decides.
#include <algorithm>
#include <cstring>

#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "vfio/vfio_pci_private.h"
#include "kernel/kapi.h"
#include <linux/vgaarb.h>

namespace {
// vfio_pci_core.c `disable_vga`, set by vfio_pci_core_set_params from vfio-pci's parameter.
bool g_disable_vga = false;

// vfio_pci_rdwr.c vfio_pci_vga_rw: the three windows of the region.
constexpr uint64_t kVgaMemFirst = 0xa0000, kVgaMemLast = 0xbffff;
constexpr uint64_t kVgaIoMonoFirst = 0x3b0, kVgaIoMonoLast = 0x3bb;
constexpr uint64_t kVgaIoColorFirst = 0x3c0, kVgaIoColorLast = 0x3df;
}  // namespace

namespace pciesim::cosim {

bool vga_disabled() { return g_disable_vga; }

bool is_vga(pci_dev* pdev) { return (pdev->class_ >> 8) == PCI_CLASS_DISPLAY_VGA; }

namespace {

// vfio_pci_set_decode: vfio-pci keeps the legacy decodes unless VGA support is disabled and
// another VGA device sits on this device's bus or below it (then the bridge above it cannot
// route legacy VGA to that one alone), or the device is the only VGA device, or on a root bus.
unsigned set_decode(pci_dev* pdev, bool single_vga) {
  constexpr unsigned all = VGA_RSRC_NORMAL_IO | VGA_RSRC_NORMAL_MEM | VGA_RSRC_LEGACY_IO | VGA_RSRC_LEGACY_MEM;
  if (single_vga || !vga_disabled() || !pdev->bus || !pdev->bus->self) return all;
  u8 max_busnr = 0;  // pci_bus_max_busnr: the bridge's subordinate bus
  pci_read_config_byte(pdev->bus->self, PCI_SUBORDINATE_BUS, &max_busnr);
  unsigned decodes = VGA_RSRC_NORMAL_IO | VGA_RSRC_NORMAL_MEM;
  for (const auto& d : Kernel::current().pci().devices()) {  // pci_get_class(PCI_CLASS_DISPLAY_VGA << 8)
    pci_dev* tmp = d->dev.get();
    if (tmp == pdev || !is_vga(tmp) || tmp->bus->domain_nr != pdev->bus->domain_nr || !tmp->bus->self) continue;
    if (tmp->bus->number >= pdev->bus->number && tmp->bus->number <= max_busnr) {
      decodes |= VGA_RSRC_LEGACY_IO | VGA_RSRC_LEGACY_MEM;
      break;
    }
  }
  return decodes;
}

unsigned set_decode_cb(pci_dev* pdev, bool single_vga) { return set_decode(pdev, single_vga); }

}  // namespace

int vga_init(vfio_pci_core_device* vdev) {
  pci_dev* pdev = vdev->pdev;
  if (!is_vga(pdev)) return 0;
  // (aperture_remove_conflicting_pci_devices: no firmware framebuffer or vgacon to remove.)
  const int rc = vga_client_register(pdev, set_decode_cb);
  if (rc) return rc;
  vga_set_legacy_decoding(pdev, set_decode(pdev, false));
  return 0;
}

void vga_uninit(vfio_pci_core_device* vdev) {
  pci_dev* pdev = vdev->pdev;
  if (!is_vga(pdev)) return;
  vga_client_unregister(pdev);
  vga_set_legacy_decoding(pdev, VGA_RSRC_NORMAL_IO | VGA_RSRC_NORMAL_MEM | VGA_RSRC_LEGACY_IO | VGA_RSRC_LEGACY_MEM);
}

long vga_rw(vfio_pci_core_device* vdev, uint8_t* buf, size_t count, long long* ppos, bool write) {
  if (!vdev->has_vga) return -EINVAL;
  const uint64_t pos = static_cast<uint64_t>(*ppos) & VFIO_PCI_OFFSET_MASK;
  if (pos > kVgaMemLast) return -EINVAL;
  void __iomem* iomem = nullptr;
  uint64_t off = 0;
  unsigned rsrc = 0;
  bool is_ioport = false;
  if (pos >= kVgaMemFirst) {
    count = std::min<size_t>(count, kVgaMemLast + 1 - pos);
    iomem = ioremap(kVgaMemFirst, kVgaMemLast - kVgaMemFirst + 1);
    off = pos - kVgaMemFirst;
    rsrc = VGA_RSRC_LEGACY_MEM;
  } else if (pos >= kVgaIoMonoFirst && pos <= kVgaIoMonoLast) {
    count = std::min<size_t>(count, kVgaIoMonoLast + 1 - pos);
    iomem = ioport_map(kVgaIoMonoFirst, kVgaIoMonoLast - kVgaIoMonoFirst + 1);
    off = pos - kVgaIoMonoFirst;
    rsrc = VGA_RSRC_LEGACY_IO;
    is_ioport = true;
  } else if (pos >= kVgaIoColorFirst && pos <= kVgaIoColorLast) {
    count = std::min<size_t>(count, kVgaIoColorLast + 1 - pos);
    iomem = ioport_map(kVgaIoColorFirst, kVgaIoColorLast - kVgaIoColorFirst + 1);
    off = pos - kVgaIoColorFirst;
    rsrc = VGA_RSRC_LEGACY_IO;
    is_ioport = true;
  } else {
    return -EINVAL;
  }
  if (!iomem) return -ENOMEM;
  const int rc = vga_get_interruptible(vdev->pdev, rsrc);
  if (rc) {
    if (is_ioport) ioport_unmap(iomem);
    else iounmap(iomem);
    return rc;
  }
  // vfio_pci_core_do_io_rw with test_mem false: the VGA range is a legacy resource, not a BAR, so
  // the Command register's Memory Space Enable is not checked; naturally aligned 4/2/1 bytes.
  auto* io = static_cast<uint8_t __iomem*>(iomem);
  const size_t done = do_io_rw(io, off, buf, count, write);
  vga_put(vdev->pdev, rsrc);
  if (is_ioport) ioport_unmap(iomem);
  else iounmap(iomem);
  *ppos += static_cast<long long>(done);
  return static_cast<long>(done);
}

}  // namespace pciesim::cosim

extern "C" void vfio_pci_core_set_params(bool is_nointxmask, bool is_disable_vga, bool is_disable_idle_d3) {
  (void)is_nointxmask;
  (void)is_disable_idle_d3;
  g_disable_vga = is_disable_vga;
}
