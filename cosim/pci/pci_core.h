// The co-simulated kernel's PCI core (drivers/pci): pci_dev objects built by scanning the
// firmware-enumerated fabric through ECAM, drivers with ID tables and driver_override, probe /
// remove / bind / unbind, enable and bus mastering, BAR resources, config save/restore and the
// resets. The C API (linux/pci.h) is in kapi_pci.cpp; MSI/MSI-X in pci_msi.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pciesim/tlp.h"

struct pci_dev;
struct pci_bus;
struct pci_driver;
struct pci_device_id;
struct iommu_group;
struct device;

namespace pciesim {
struct FunctionInfo;
}

namespace pciesim::cosim {

class Kernel;

// How a device's interrupts are set up (pci_alloc_irq_vectors).
enum class IrqMode : uint8_t { None, Intx, Msi, Msix };

// The kernel's record of one PCI function; pci_dev::dev.cosim points here.
struct PciDev {
  std::unique_ptr<pci_dev> dev;
  int segment = 0;
  RequesterId bdf;
  const FunctionInfo* info = nullptr;  // the fabric's function, for names and model lookups
  std::string name;                    // "0000:03:00.0"
  std::string driver_override;         // storage behind pci_dev::driver_override
  int refs = 1;
  unsigned requested_bars = 0;         // pci_request_region bits
  std::vector<void*> devres;           // devm_ allocations, freed on detach
  // pci_save_state: the first 64 bytes plus the PCIe, MSI and MSI-X capability registers
  bool state_saved = false;
  std::array<uint32_t, 1024> saved{};
  // Interrupts
  IrqMode irq_mode = IrqMode::None;
  std::vector<unsigned> irqs;          // Linux IRQ numbers, by vector index
  int irte_base = -1;                  // first IRTE (MSI: one block; MSI-X: irte_base + i)
  std::vector<int> irtes;              // MSI-X: IRTE per vector (-1: none)
  std::vector<std::pair<uint64_t, uint32_t>> messages;  // address/data per vector, as programmed
  uint64_t msix_table = 0;             // MSI-X: physical address of the table (BAR + offset)
  bool locked = false;                 // pci_dev_lock
  // SR-IOV (drivers/pci/iov.c struct pci_sriov): the PF's capability offset and VFs enabled now
  uint16_t sriov_pos = 0;
  unsigned num_vfs = 0;
  // What sriov_restore_state writes back after a PF reset (iov->ctrl, iov->pgsz, the VF BARs as
  // the PF's IOV resources hold them), cached when VFs are enabled.
  uint16_t iov_ctrl = 0;
  uint32_t iov_pgsz = 0;
  std::array<uint32_t, 6> iov_bars{};
  // ATS (Linux struct pci_dev ats_cap / ats_stu / ats_enabled, drivers/pci/ats.c;
  // cosim/iommu/intel_ats.h). `untrusted`: Linux's pci_dev::untrusted (a device behind an
  // external-facing port); ATS is never enabled for it.
  uint16_t ats_cap = 0;
  uint8_t ats_stu = 0;
  bool ats_enabled = false;
  bool untrusted = false;
};

class PciCore {
 public:
  explicit PciCore(Kernel& kernel);
  ~PciCore();

  // Scans every root complex's buses through ECAM (pci_scan_root_bus), in Linux's add order,
  // logging what it finds as Linux does ("pci 0000:00:01.0: [8086:1901] type 01 class 0x060400").
  void scan();
  // pci_request_acs(): the IOMMU driver detected a DMAR table; every device scanned from now on
  // gets its ACS controls enabled (enable_acs) before the IOMMU core groups it.
  void request_acs() { m_acs_requested = true; }
  // pci_rescan_bus: scans again and adds the functions that appeared since (SR-IOV VFs, a reset
  // that brought a device back); the IOMMU core groups them and drivers are attached. Returns the
  // new devices.
  std::vector<PciDev*> rescan();

  const std::vector<std::unique_ptr<PciDev>>& devices() const { return m_devices; }  // Linux add order
  PciDev* find(int segment, RequesterId bdf) const;
  PciDev* find(const std::string& name) const;  // "0000:03:00.0"
  static PciDev& of(const pci_dev* dev);
  static PciDev* of(const struct device* dev);

  // ---- drivers (drivers/pci/pci-driver.c, drivers/base/dd.c) ----
  int register_driver(pci_driver* drv, const char* module);
  void unregister_driver(pci_driver* drv);
  const std::vector<pci_driver*>& drivers() const { return m_drivers; }
  pci_driver* driver(const std::string& name) const;
  const std::string& driver_module(const pci_driver* drv) const;
  // pci_match_device: driver_override first, then the ID table (override_only entries only with
  // an override), then any driver for an override naming it.
  const pci_device_id* match(pci_driver* drv, PciDev& d) const;
  // Tries every driver (device_attach); 1 if one bound, 0 if none, else the failing probe's error.
  int attach(PciDev& d);
  // Probes `drv` for `d` (driver_probe_device). 0, -ENODEV (no match), -EBUSY (bound), or probe's.
  int probe(pci_driver* drv, PciDev& d);
  // Detaches the bound driver (device_release_driver): remove(), then managed resources go.
  void release(PciDev& d);

  // ---- sysfs-like controls (/sys/bus/pci/...) ----
  int set_driver_override(PciDev& d, const std::string& name);  // "" clears
  int bind(const std::string& driver, PciDev& d);                // drivers/NAME/bind
  int unbind(PciDev& d);                                         // devices/BDF/driver/unbind

  // ---- config space ----
  int config_read(const pci_dev* dev, int where, unsigned size, uint32_t& value);
  int config_write(const pci_dev* dev, int where, unsigned size, uint32_t value);
  uint8_t find_capability(const pci_dev* dev, int cap, uint8_t start = 0);
  uint16_t find_ext_capability(const pci_dev* dev, int cap);

  // ---- resets (drivers/pci/pci.c) ----
  int save_state(PciDev& d);
  void restore_state(PciDev& d);
  int flr(PciDev& d);                // pcie_flr: wait for transactions, Initiate FLR, 100 ms
  int secondary_bus_reset(PciDev& bridge);  // pci_reset_secondary_bus: SBR 2 ms, then 1 s settle
  int reset_function(PciDev& d);     // __pci_reset_function_locked: FLR, else PM, else bus reset
  int reset_bus(PciDev& d);          // pci_reset_bus: every device below d's bridge, saved and restored
  void save_and_disable(PciDev& d);  // pci_dev_save_and_disable, around a reset
  void restore(PciDev& d);           // pci_dev_restore
  // Every function on `bridge`'s secondary bus and below (false when it has none).
  bool devices_below(const PciDev& bridge, std::vector<PciDev*>& out) const;

  // ---- SR-IOV (drivers/pci/iov.c, Linux 6.1; pci_iov.cpp) ----
  // sriov_numvfs_store: writing /sys/bus/pci/devices/PF/sriov_numvfs. Calls the bound driver's
  // sriov_configure; 0 or the errno the sysfs write returns.
  int sriov_numvfs_store(PciDev& pf, unsigned num_vfs);
  // pci_enable_sriov / pci_disable_sriov, for drivers: NumVFs, VF Enable + VF MSE, 100 ms, then
  // pci_iov_add_virtfn for each VF (grouped by the IOMMU core, drivers attached); disabling
  // removes the VFs first.
  int enable_sriov(PciDev& pf, unsigned nr_virtfn);
  void disable_sriov(PciDev& pf);
  // pci_restore_iov_state (sriov_restore_state), from pci_restore_state: a PF reset cleared VF
  // Enable; ARI, the VF BARs, the page size, NumVFs and VF Enable + MSE are written back, 100 ms.
  void restore_iov_state(PciDev& pf);
  // sriov_init at enumeration: is_physfn, and the registers restore_iov_state writes back.
  void sriov_init(PciDev& pf);
  unsigned sriov_totalvfs(PciDev& pf);
  PciDev* physfn(const PciDev& vf) const;

  Kernel& kernel() { return m_kernel; }

 private:
  PciDev* add_virtfn(PciDev& pf, unsigned id);   // pci_iov_add_virtfn
  void remove_virtfn(PciDev& vf);                 // pci_iov_remove_virtfn
  void scan_bus(int segment, uint8_t bus, pci_bus* parent_bus, pci_dev* bridge, unsigned depth);
  std::vector<PciDev*>* m_fresh = nullptr;  // during a scan: the devices it added
  bool m_acs_requested = false;
  PciDev* scan_device(int segment, uint8_t bus, uint8_t devfn, pci_bus* on_bus);
  void read_bars(PciDev& d);
  void log_device(PciDev& d);
  void enable_acs(PciDev& d);
  void forget_driver(PciDev& d, pci_driver* drv);

  Kernel& m_kernel;
  std::vector<std::unique_ptr<PciDev>> m_devices;
  std::vector<std::unique_ptr<pci_bus>> m_buses;
  std::vector<pci_driver*> m_drivers;
  std::vector<std::string> m_driver_modules;
};

}  // namespace pciesim::cosim
