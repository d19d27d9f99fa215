// vfio_pci_core's config-space virtualisation (Linux 6.1 drivers/vfio/pci/vfio_pci_config.c):
// what the user of a VFIO device reads and writes at VFIO_PCI_CONFIG_REGION_INDEX. A byte map
// says which capability owns each byte; each capability has a permission table
// (vfio_pci_config_perms.h) saying which bits are virtual (vconfig) and which are writable.
//
//   VfioPciConfig cfg(device);            // vfio_config_init: walks the chains, fills vconfig
//   cfg.read(buf, 4, 0x10);               // pread on the config region (offset & (2^40 - 1))
//   cfg.write(buf, 4, 0x10);              // BAR writes stay in vconfig; sizing works
//
// Side effects the VFIO core performs (FLR, INTx masking, power state) are hooks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "vfio/vfio_pci_config_perms.h"

namespace pciesim::cosim {

// The physical config space the virtualisation sits on: the kernel PCI core's accessors (ECAM).
struct VfioConfigDevice {
  virtual ~VfioConfigDevice() = default;
  virtual uint32_t cfg_read(int off, unsigned size) = 0;  // 1, 2, 4 bytes
  virtual void cfg_write(int off, unsigned size, uint32_t value) = 0;
  virtual int cfg_size() const = 0;  // 256 or 4096
  // BAR i's size and flags as the PCI core sized them (0 size = unimplemented); i = 6 is the ROM.
  virtual uint64_t bar_size(int i) const = 0;
  virtual bool bar_is_io(int i) const = 0;
  virtual bool bar_is_64(int i) const = 0;
  virtual bool bar_is_prefetch(int i) const = 0;
  // Whether INTx can be used (Linux: !vdev->nointx && pdev->irq != IRQ_NOTCONNECTED). When not,
  // the user reads Interrupt Pin 0 (vfio_config_init).
  virtual bool intx_connected() const { return true; }
  // SR-IOV: a VF's ids as the PCI core set them from the PF (its own read FFFFh), and
  // pdev->no_command_memory (no Command.MSE of its own: the PF's VF MSE decodes it).
  virtual bool is_virtfn() const { return false; }
  virtual uint16_t pci_vendor() const { return 0xffff; }
  virtual uint16_t pci_device() const { return 0xffff; }
  virtual bool no_command_memory() const { return false; }
};

// What vfio_pci_core does on behalf of a config write. Unset hooks only record the request.
struct VfioConfigHooks {
  // pci_try_reset_function, from Initiate FLR in DEVCTL (or the AF capability) when the device
  // advertises FLR. The config region is not re-entered from here.
  std::function<void()> reset_function;
  // vfio_pci_intx_mask / vfio_pci_intx_unmask: the user set / cleared Command.INTx Disable.
  std::function<void(bool masked)> intx_mask;
  // vfio_pci_set_power_state(state 0..3 = D0..D3hot) from a PMCSR write. Unset: the state bits
  // of PMCSR are written to the device directly (as pci_set_power_state ends up doing).
  std::function<void(int state)> set_power_state;
};

class VfioPciConfig {
 public:
  explicit VfioPciConfig(VfioConfigDevice& dev, VfioConfigHooks hooks = {});

  // pread/pwrite on the config region (vfio_pci_config_rw): bytes done, or -errno as Linux does:
  // -EFAULT when the access starts or ends past the config size (no bytes are transferred) or
  // buf is null. pos is masked to the region (VFIO_PCI_OFFSET_MASK), so either the in-region
  // offset or the file offset (7 << 40 | off) may be passed.
  long read(uint8_t* buf, size_t count, uint64_t pos);
  long write(const uint8_t* buf, size_t count, uint64_t pos);

  // What the core needs to know
  bool bus_master_enabled() const;  // Command.BME: not virtualised, the device holds the user's
  bool memory_enabled() const;      // __vfio_pci_memory_enabled: virtual MEM (or no_command_memory), not D3hot
  bool io_enabled() const;          // the virtual Command.IO the user wrote
  uint8_t msi_cap() const { return m_msi_cap; }    // where the capabilities are (0 = absent,
  uint8_t msix_cap() const { return m_msix_cap; }  // or hidden from the user)
  // SET_IRQS (vfio_msi_enable / vfio_msi_disable): which index is active (vdev->irq_type) and,
  // for MSI, msi_qmax = log2(vectors), the ceiling for the Multiple Message Enable the user may
  // write (Linux also means it to show as Multiple Message Capable, but see msi_read).
  // As in Linux the virtual MSI enable bit is written by the user (allowed only while MSI is the
  // active index), not by these calls; MSI-X control reads through from the device, which the
  // host's pci_alloc_irq_vectors programs.
  void set_msi_enabled(bool on, unsigned vectors);
  void set_msix_enabled(bool on);
  bool msi_active() const { return m_irq_type == IrqType::Msi; }
  bool msix_active() const { return m_irq_type == IrqType::Msix; }
  // After a device reset (VFIO_DEVICE_RESET, FLR): Linux keeps vconfig; the BARs are marked
  // dirty (the next BAR read re-applies sizing), the function is in D0, and the physical BARs
  // are restored from the values captured at init on the next Command write if the reset lost
  // them (vfio_need_bar_restore / vfio_bar_restore).
  void reset();
  // vfio_config_free + vfio_config_init, as closing and reopening the device does.
  void reinit();

  void set_hooks(VfioConfigHooks hooks) { m_hooks = std::move(hooks); }

  // ---- inspection (tests, debugfs-like dumps) ----
  int size() const { return int(m_vconfig.size()); }
  uint8_t map_at(int pos) const { return m_map.at(size_t(pos)); }  // pci_config_map[pos]
  const std::vector<uint8_t>& vconfig() const { return m_vconfig; }
  unsigned flr_requests() const { return m_flr_requests; }  // FLRs the user asked for
  unsigned resets_issued() const { return m_resets_issued; }  // of those, reset_function calls
  unsigned bar_restores() const { return m_bar_restores; }  // "reset recovery - restoring BARs"
  int power_state() const { return m_power_state; }          // 0..3 = D0..D3hot
  bool virq_disabled() const { return m_virq_disabled; }     // INTx masked by Command bit 10
  bool extended_caps() const { return m_extended_caps; }

 private:
  enum class IrqType : uint8_t { None, Intx, Msi, Msix };
  using PermBits = vfio_config::PermBits;

  void init();  // vfio_config_init
  int cap_init();
  void ecap_init();
  int cap_len(uint8_t cap, uint8_t pos);
  int ext_cap_len(uint16_t ecap, uint16_t epos);
  int vc_cap_len(uint16_t pos);
  void fill_vconfig_bytes(int offset, int size);
  int find_cap_start(int pos) const;
  size_t cap_remaining_dword(int pos) const;
  long do_rw(uint8_t* rbuf, const uint8_t* wbuf, size_t count, int pos);

  // physical accessors (pci_user_{read,write}_config_*)
  uint32_t hw_read(int pos, int count) const;
  void hw_write(int pos, int count, uint32_t val);
  uint32_t vget(int pos, int count) const;
  void vset(int pos, int count, uint32_t val);

  // readfn / writefn
  uint32_t default_read(int pos, int count, const PermBits& perm, int offset);
  void default_write(int pos, int count, const PermBits& perm, int offset, uint32_t val);
  uint32_t direct_read(int pos, int count, int offset);
  uint32_t basic_read(int pos, int count, const PermBits& perm, int offset);
  void basic_write(int pos, int count, const PermBits& perm, int offset, uint32_t val);
  uint32_t msi_read(int pos, int count, const PermBits& perm, int offset);
  void msi_write(int pos, int count, const PermBits& perm, int offset, uint32_t val);
  void pm_write(int pos, int count, const PermBits& perm, int offset, uint32_t val);
  void exp_write(int pos, int count, const PermBits& perm, int offset, uint32_t val);
  void af_write(int pos, int count, const PermBits& perm, int offset, uint32_t val);

  void bar_fixup();
  bool need_bar_restore() const;
  void bar_restore();
  void request_reset();
  void set_power_state(int state);

  VfioConfigDevice& m_dev;
  VfioConfigHooks m_hooks;
  std::vector<uint8_t> m_map;      // pci_config_map
  std::vector<uint8_t> m_vconfig;  // vconfig
  std::optional<PermBits> m_msi_perm;
  std::array<uint32_t, 7> m_rbar{};  // BARs and ROM as found at init, for reset recovery
  bool m_bardirty = true;
  bool m_extended_caps = false;
  bool m_virq_disabled = false;
  IrqType m_irq_type = IrqType::None;
  uint8_t m_msi_qmax = 0;
  uint8_t m_msi_cap = 0;
  uint8_t m_msix_cap = 0;
  int m_power_state = 0;
  unsigned m_flr_requests = 0;
  unsigned m_resets_issued = 0;
  unsigned m_bar_restores = 0;
};

}  // namespace pciesim::cosim
