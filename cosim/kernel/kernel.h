// The co-simulated kernel: the Linux kernel API (cosim/include/linux) implemented over a Fabric.
// One per process, like the SystemC design it runs on.
//
//   Fabric fabric(spec);
//   Kernel kernel(fabric);           // kernel memory in the simulated DRAM, the CPU initiator
//   kernel.boot();                   // firmware enumeration, intel-iommu init, PCI scan, groups
//   kernel.load_module("mydriver");  // module_init of linked kernel C, probes matching devices
//   kernel.run("test", [&] { ... }); // kernel code in a kernel task (it may sleep)
//
// Boot follows Linux's order (hardware-facts §3; drivers/iommu/intel/dmar.c, iommu.c):
// the PCI core scans the buses through ECAM, intel-iommu initialises each remapping unit, then
// the IOMMU core puts every device in its group (Linux's rules, cosim/groups) and attaches each
// group's default domain: DMA (translated, lazy flush unless `strict`), or identity with
// `passthrough` (iommu=pt). Without remapping units, or with `iommu` off, the DMA API hands out
// physical addresses and devices have no group.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "groups/acs_override.h"
#include "iommu/intel_iommu.h"
#include "kernel/files.h"
#include "kernel/kernel_cpu.h"
#include "kernel/kernel_log.h"
#include "kernel/kernel_memory.h"
#include "kernel/scheduler.h"

namespace pciesim {
class Fabric;
}

namespace pciesim::cosim {

class IommuCore;
class IommuApi;
class IrqCore;
class PciCore;
class Sysfs;
class UserMemory;
class VfioCore;
class VgaArbiter;

struct KernelOptions {
  // Kernel memory: a range of the DRAM (0: the upper half of the DRAM, at most 512 MiB).
  uint64_t memory_base = 0, memory_size = 0;
  bool iommu = true;         // intel_iommu=on (when the topology has remapping units)
  bool passthrough = false;  // iommu=pt: identity default domains
  bool strict = false;       // iommu.strict=1; Linux 6.1 on x86 defaults to lazy (flush queue)
  IntelIommuOptions intel;
  // pcie_acs_override=... of the out-of-tree ACS override patch (cosim/groups/acs_override.h):
  // the IOMMU core groups as a kernel with the patch would; no ACS register changes.
  groups::AcsOverride acs_override;
};

class Kernel {
 public:
  explicit Kernel(Fabric& fabric, KernelOptions options = {});
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  // The kernel of this process; throws std::logic_error when none exists.
  static Kernel& current();
  static Kernel* current_or_null();

  void boot();
  bool booted() const { return m_booted; }

  // Runs `body` in a kernel task until it returns (Scheduler::run). A task that BUG()s or cannot
  // finish is logged and reported in the result.
  TaskResult run(const std::string& task, std::function<void()> body);

  // Loads a module linked into this program: parameters ("name=value ..."), then module_init in a
  // kernel task. Returns module_init's result (0 or -errno); -ENOENT for an unknown module,
  // -EEXIST when already loaded.
  int load_module(const std::string& name, const std::string& params = "");
  // module_exit, then forgets the module. -ENOENT when not loaded, -EBUSY while referenced.
  int unload_module(const std::string& name);
  bool module_loaded(const std::string& name) const { return m_loaded.count(name) != 0; }

  // Simulated time as the kernel sees it.
  uint64_t now_ns() const;

  Fabric& fabric() { return m_fabric; }
  const KernelOptions& options() const { return m_options; }
  KernelLog& log() { return m_log; }
  KernelMemory& memory() { return *m_memory; }
  KernelCpu& cpu() { return m_cpu; }
  Scheduler& scheduler() { return m_scheduler; }
  IommuCore* iommu_hw() { return m_iommu_hw.get(); }  // null without units or with iommu off
  IommuApi& iommu() { return *m_iommu; }
  IrqCore& irq() { return *m_irq; }
  PciCore& pci() { return *m_pci; }
  VgaArbiter& vga() { return *m_vga; }  // the VGA arbiter (cosim/pci/vgaarb.h), set up at boot
  Sysfs& sysfs() { return *m_sysfs; }
  // The descriptors of the simulated process the kernel serves (eventfds; VFIO files next).
  FileTable& files() { return m_files; }
  // VFIO (/dev/vfio/...) and the simulated process's memory it pins.
  VfioCore& vfio() { return *m_vfio; }
  UserMemory& user_memory() { return *m_user_memory; }

  // printk with Linux's "subsystem: " prefixes left to the caller.
  void printk(LogLevel level, const std::string& text) { m_log.log(level, text); }

 private:
  Fabric& m_fabric;
  KernelOptions m_options;
  Scheduler m_scheduler;
  KernelLog m_log;
  std::unique_ptr<KernelMemory> m_memory;
  KernelCpu m_cpu;
  std::unique_ptr<IommuCore> m_iommu_hw;
  std::unique_ptr<IrqCore> m_irq;
  std::unique_ptr<PciCore> m_pci;
  std::unique_ptr<VgaArbiter> m_vga;
  std::unique_ptr<IommuApi> m_iommu;
  std::unique_ptr<Sysfs> m_sysfs;
  std::unique_ptr<UserMemory> m_user_memory;
  std::unique_ptr<VfioCore> m_vfio;
  FileTable m_files;  // last member: closing files may call into the members above
  std::set<std::string> m_loaded;
  bool m_booted = false;
};

}  // namespace pciesim::cosim
