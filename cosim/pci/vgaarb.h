// The co-simulated kernel's VGA arbiter (Linux 6.1 drivers/pci/vgaarb.c), the part VFIO's VGA
// region needs: the list of VGA-class devices with what each decodes, owns and has locked;
// vga_get / vga_tryget / vga_put moving the legacy VGA resources between devices with
// pci_set_vga_state (Command decode bits, Bridge Control VGA Enable up the tree); the boot VGA
// device; the client callback and legacy-decoding changes drivers make. The C API
// (linux/vgaarb.h) is at the end of vgaarb.cpp. Not modelled: /dev/vga_arbiter (the userspace
// interface, so vga_arbiter_used stays false and clients are never notified), the firmware
// framebuffer and ACPI checks of vga_is_boot_device, hot-added devices (a rescan does not add
// them), and signals (an interruptible vga_get never returns -ERESTARTSYS). docs/vga.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

struct pci_dev;

namespace pciesim::cosim {

class Kernel;

// struct vga_device.
struct VgaDevice {
  pci_dev* pdev = nullptr;
  unsigned decodes = 0;  // what the device decodes (VGA_RSRC_*)
  unsigned owns = 0;     // what is routed to it now
  unsigned locks = 0;    // legacy resources locked by vga_get
  unsigned io_lock_cnt = 0, mem_lock_cnt = 0, io_norm_cnt = 0, mem_norm_cnt = 0;
  bool bridge_has_one_vga = false;  // VGA Enable on its parent bridge controls it alone
  unsigned (*set_decode)(pci_dev* pdev, bool state) = nullptr;
};

class VgaArbiter {
 public:
  explicit VgaArbiter(Kernel& kernel) : m_kernel(kernel) {}

  // vga_arb_device_init: every VGA-class device the PCI core has, in its add order, then
  // "vgaarb: loaded".
  void init();
  // vga_arbiter_add_pci_device: false for a device that is not VGA class or already known.
  bool add(pci_dev* pdev);

  VgaDevice* find(const pci_dev* pdev);
  const std::vector<std::unique_ptr<VgaDevice>>& devices() const { return m_list; }
  pci_dev* default_device() const { return m_default; }
  void set_default_device(pci_dev* pdev) { m_default = pdev; }

  int get(pci_dev* pdev, unsigned rsrc, bool interruptible);  // vga_get
  int tryget(pci_dev* pdev, unsigned rsrc);                   // vga_tryget
  void put(pci_dev* pdev, unsigned rsrc);                     // vga_put
  void set_legacy_decoding(pci_dev* pdev, unsigned decodes);  // vga_set_legacy_decoding
  int client_register(pci_dev* pdev, unsigned (*set_decode)(pci_dev*, bool));

  // "none", "io", "mem", "io+mem" (vga_iostate_to_str: the legacy bits only).
  static const char* iostate(unsigned state);

 private:
  VgaDevice* tryget_locked(VgaDevice& d, unsigned rsrc);  // __vga_tryget: the conflict, or null
  void put_locked(VgaDevice& d, unsigned rsrc);           // __vga_put
  void update_decodes(VgaDevice& d, unsigned decodes);    // vga_update_device_decodes
  void check_bridge_sharing(VgaDevice& d);                // vga_arbiter_check_bridge_sharing
  bool is_boot_device(VgaDevice& d);                      // vga_is_boot_device

  Kernel& m_kernel;
  std::vector<std::unique_ptr<VgaDevice>> m_list;  // vga_list, in add order
  pci_dev* m_default = nullptr;                    // vga_default
  int m_decode_count = 0;                          // vga_decode_count
  unsigned long m_released = 0;  // bumped when a vga_put releases a lock (wakes vga_wait_queue)
};

}  // namespace pciesim::cosim
