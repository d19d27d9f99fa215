// State the co-simulated vfio_pci_core keeps per device, shared by its files (vfio_pci_core.cpp:
// info, regions, reset; vfio_pci_intrs.cpp: SET_IRQS and the device request), as upstream's
// vfio_pci_priv.h is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "vfio/vfio_pci_config.h"

struct eventfd_ctx;
struct pci_dev;
struct vfio_device;
struct vfio_pci_core_device;
struct vfio_region_info;
struct vfio_info_cap;
struct vm_area_struct;

namespace pciesim::cosim {

// The PCI core's view of the device, for the config virtualisation, and the interrupt state.
struct CoreDevice : VfioConfigDevice {
  explicit CoreDevice(pci_dev* p) : pdev(p) {}
  uint32_t cfg_read(int off, unsigned size) override;
  void cfg_write(int off, unsigned size, uint32_t value) override;
  int cfg_size() const override;
  uint64_t bar_size(int i) const override;
  bool bar_is_io(int i) const override;
  bool bar_is_64(int i) const override;
  bool bar_is_prefetch(int i) const override;
  bool is_virtfn() const override;          // vfio_pci_sriov.cpp
  uint16_t pci_vendor() const override;
  uint16_t pci_device() const override;
  bool no_command_memory() const override;
  pci_dev* pdev;
  std::unique_ptr<VfioPciConfig> config;  // vfio_config_init at open
  int irq_type = -1;                      // VFIO_PCI_*_IRQ_INDEX in use, -1: none (VFIO_PCI_NUM_IRQS)
  std::vector<eventfd_ctx*> triggers;     // per vector (vdev->ctx[i].trigger)
  bool intx_masked = false;               // vdev->ctx[0].masked
  eventfd_ctx* unmask_virqfd = nullptr;   // vdev->ctx[0].unmask: an eventfd whose signals unmask INTx
  bool pci_2_3 = false;                   // INTx masking at the device works
  eventfd_ctx* err_trigger = nullptr;     // VFIO_PCI_ERR_IRQ_INDEX (PCIe functions only)
  eventfd_ctx* req_trigger = nullptr;     // VFIO_PCI_REQ_IRQ_INDEX: vfio_pci_core_request signals it
  vfio_pci_core_device* owner = nullptr;
  std::vector<vm_area_struct*> vmas;      // BAR mappings with pages present (vdev->vma_list)
};

vfio_pci_core_device* core_of(vfio_device* v);
CoreDevice& state(vfio_pci_core_device* v);

// vfio_pci_intrs.cpp
unsigned irq_count(vfio_pci_core_device* vdev, unsigned index);  // vfio_pci_get_irq_count
long set_irqs(vfio_pci_core_device* vdev, void* uarg);            // VFIO_DEVICE_SET_IRQS
void intx_disable(vfio_pci_core_device* vdev);
void msi_disable(vfio_pci_core_device* vdev);
void release_err_req_triggers(vfio_pci_core_device* vdev);  // at the last close

// vfio_pci_mmap.cpp
// vfio_pci_core_do_io_rw: `count` bytes at `off` of a mapped range (MMIO or I/O port cookie), in
// naturally aligned 4/2/1-byte accesses; the bytes moved.
size_t do_io_rw(uint8_t* io, uint64_t off, uint8_t* buf, size_t count, bool write);  // io: an __iomem cookie
bool bar_mmap_supported(pci_dev* pdev, int bar);  // vdev->bar_mmap_supported[bar]
// vfio_pci_zap_and_down_write_memory_lock: every BAR mapping loses its pages; the next user access
// faults and finds memory decoding as it is then.
void zap_bar_mappings(vfio_pci_core_device* vdev);

// vfio_pci_regions.cpp: device-specific regions (index VFIO_PCI_NUM_REGIONS and up)
// GET_REGION_INFO for them: fills `info`, copies it and the capability chain to `uarg`; -EINVAL
// past the last region.
long dev_region_info(vfio_pci_core_device* vdev, vfio_region_info& info, void* uarg);
// The end of GET_REGION_INFO for any region: the CAPS flag, argsz and the chain (freed here).
long region_info_out(vfio_region_info& info, vfio_info_cap& caps, void* uarg);
long dev_region_rw(vfio_pci_core_device* vdev, char* buf, size_t count, long long* ppos, bool write);
void release_dev_regions(vfio_pci_core_device* vdev);  // vfio_pci_core_disable: ops->release, then free

// vfio_pci_sriov.cpp: SR-IOV PFs and VFs (6.1 vfio_pci_vf_init / vfio_pci_vf_uninit, the VF
// token's user count)
int vf_init(vfio_pci_core_device* vdev);    // at register: a VF finds its vfio-pci PF, a PF gets a token
void vf_uninit(vfio_pci_core_device* vdev);  // at unregister
void vf_token_user_add(vfio_pci_core_device* vdev, int delta);  // a VF's device fd opens (+1) / closes (-1)

// vfio_pci_vga.cpp: the VGA region (index VFIO_PCI_VGA_REGION_INDEX) and the arbiter client
bool vga_disabled();                      // vfio_vga_disabled (disable_vga, CONFIG_VFIO_PCI_VGA=y)
bool is_vga(pci_dev* pdev);               // vfio_pci_is_vga
int vga_init(vfio_pci_core_device* vdev);   // vfio_pci_vga_init, at register
void vga_uninit(vfio_pci_core_device* vdev);  // vfio_pci_vga_uninit, at unregister
long vga_rw(vfio_pci_core_device* vdev, uint8_t* buf, size_t count, long long* ppos, bool write);

}  // namespace pciesim::cosim
