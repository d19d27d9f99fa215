#include "kernel/kernel.h"

#include <cstdio>
#include <stdexcept>
#include <vector>

#include "iommu/iommu_api.h"
#include "iommu/iommu_core.h"
#include "kernel/irq_core.h"
#include "kernel/module_registry.h"
#include "kernel/sysfs.h"
#include "vfio/user_memory.h"
#include "vfio/vfio_core.h"
#include "pci/pci_core.h"
#include "pci/pci_msi.h"
#include "pci/vgaarb.h"
#include "pcie/fabric.h"

namespace pciesim::cosim {

namespace {
Kernel* g_kernel = nullptr;

KernelMemory* make_memory(Fabric& f, const KernelOptions& o) {
  const uint64_t dram_base = f.spec().memory.range.base, dram_size = f.spec().memory.range.size;
  uint64_t base = o.memory_base, size = o.memory_size;
  if (!size) {
    size = std::min<uint64_t>(dram_size / 2, 512ull << 20) & ~uint64_t(KernelMemory::kPageSize - 1);
    base = dram_base + dram_size - size;
  }
  return new KernelMemory(f.dram(), base, size);
}
}  // namespace

Kernel::Kernel(Fabric& fabric, KernelOptions options)
    : m_fabric(fabric), m_options(options), m_memory(make_memory(fabric, options)), m_cpu(fabric) {
  if (g_kernel) throw std::logic_error("a co-simulated kernel already exists in this process");
  g_kernel = this;
  m_irq = std::make_unique<IrqCore>(*this);
  m_pci = std::make_unique<PciCore>(*this);
  m_vga = std::make_unique<VgaArbiter>(*this);
  m_iommu = std::make_unique<IommuApi>(*this);
  m_sysfs = std::make_unique<Sysfs>(*this);
  m_user_memory = std::make_unique<UserMemory>(*m_memory);
  m_vfio = std::make_unique<VfioCore>(*this, *m_user_memory);
}

Kernel::~Kernel() {
  // Shutdown: the process's files close (device files call close_device), then the loaded modules
  // exit in reverse order (drivers unbind, vfio devices are released), while this kernel is still
  // the current one.
  try {
    m_files.close_all();
    std::vector<std::string> loaded(m_loaded.begin(), m_loaded.end());
    for (auto it = loaded.rbegin(); it != loaded.rend(); ++it) unload_module(*it);
  } catch (const std::exception& e) {
    m_log.log(LogLevel::Err, std::string("shutdown: ") + e.what());
  }
  if (g_kernel == this) g_kernel = nullptr;
}

Kernel& Kernel::current() {
  if (!g_kernel) throw std::logic_error("no co-simulated kernel in this process (create a cosim::Kernel)");
  return *g_kernel;
}
Kernel* Kernel::current_or_null() { return g_kernel; }

uint64_t Kernel::now_ns() const { return static_cast<uint64_t>(sc_core::sc_time_stamp().to_seconds() * 1e9 + 0.5); }

TaskResult Kernel::run(const std::string& task, std::function<void()> body) {
  TaskResult r = m_scheduler.run(task, std::move(body));
  if (r.end == TaskEnd::Bug) m_log.log(LogLevel::Crit, "task " + task + " ended by " + r.what);
  if (r.end == TaskEnd::Hang) m_log.log(LogLevel::Err, "INFO: " + r.what);
  return r;
}

void Kernel::boot() {
  if (m_booted) return;
  if (!m_fabric.enumerated()) m_fabric.enumerate();  // the firmware runs before the kernel
  m_log.log(LogLevel::Notice, "pciesim co-simulated kernel (Linux 6.1 kernel API)");
  // start_kernel prints the command line (KERN_NOTICE); here, the parameters the layer models.
  std::string cmdline = m_options.iommu ? "intel_iommu=on" : "intel_iommu=off";
  if (m_options.passthrough) cmdline += " iommu=pt";
  if (m_options.strict) cmdline += " iommu.strict=1";
  if (m_options.acs_override.any()) cmdline += " pcie_acs_override=" + m_options.acs_override.text();
  m_log.log(LogLevel::Notice, "Kernel command line: " + cmdline);
  char line[160];
  std::snprintf(line, sizeof line, "Memory: kernel range [mem %#llx-%#llx] in the simulated DRAM",
                (unsigned long long)m_memory->base(), (unsigned long long)(m_memory->base() + m_memory->size() - 1));
  m_log.log(LogLevel::Info, line);
  m_irq->start();
  // detect_intel_iommu (early, from the ACPI DMAR table) calls pci_request_acs(); then
  // subsys_initcall(pci): the PCI core scans, enabling ACS, before the IOMMU driver comes up.
  if (m_options.iommu && !m_fabric.iommus().empty()) m_pci->request_acs();
  m_pci->scan();
  // subsys_initcall_sync(vga_arb_device_init): the VGA arbiter takes every VGA-class device.
  m_vga->init();
  // intel_iommu_init (fs_initcall): DMAR units, then the IOMMU core probes every PCI device.
  if (m_options.iommu && !m_fabric.iommus().empty()) {
    m_iommu_hw = std::make_unique<IommuCore>(m_fabric, *m_memory, m_log, m_options.intel);
    m_iommu_hw->set_interrupt_handler([this](const vtd::DeliveredInterrupt& irq) { m_irq->deliver(irq); });
    m_iommu_hw->set_fault_listener([this] { m_irq->fault_event(); });
    if (!m_iommu_hw->init()) m_log.log(LogLevel::Err, "DMAR: a remapping unit failed to initialise; its devices get no IOMMU");
  } else {
    // No DMAR table, or intel_iommu=off: interrupts go straight to the APIC.
    m_fabric.apic().set_listener([this](const vtd::DeliveredInterrupt& irq) { m_irq->deliver(irq); });
    if (!m_fabric.iommus().empty()) m_log.log(LogLevel::Info, "DMAR: IOMMU disabled");
  }
  m_iommu->probe_devices();
  // INTx: each function's pin reaches its IOAPIC line (GSI 16-23 after the bridges' swizzle) as a
  // level-triggered interrupt; with interrupt remapping on, Linux routes IOAPIC entries through
  // IRTEs too, which this model does not do for INTx (the lines go to the IRQ core directly).
  m_fabric.set_intx_listener([this](const FunctionInfo& fi, unsigned, bool asserted) {
    PciDev* d = m_pci->find(fi.segment, fi.bdf());
    if (!d) return;
    const int irq = intx_irq(*this, *d);
    if (irq > 0) m_irq->set_line(static_cast<unsigned>(irq), asserted);
  });
  m_booted = true;
  // device_initcall: the built-in PCIe port driver binds the ports (when this program links it).
  if (ModuleRegistry::instance().find("pcieport")) load_module("pcieport");
  // Its AER port service (cosim/pci/aer.c), when linked: root port interrupts, error recovery.
  if (ModuleRegistry::instance().find("aer")) load_module("aer");
}

int Kernel::load_module(const std::string& name, const std::string& params) {
  ModuleEntry* m = ModuleRegistry::instance().find(name);
  if (!m || !m->init) {
    m_log.log(LogLevel::Err, "modprobe: FATAL: Module " + name + " not found");
    return -ENOENT;
  }
  if (m_loaded.count(name)) return -EEXIST;
  const std::string err = ModuleRegistry::instance().set_params(*m, params);
  if (!err.empty()) {
    m_log.log(LogLevel::Warning, err);
    return -EINVAL;
  }
  for (auto it = m->info.equal_range("license"); it.first != it.second; ++it.first) {
    const std::string& l = it.first->second;
    if (l != "GPL" && l != "GPL v2" && l != "GPL and additional rights" && l != "Dual BSD/GPL" && l != "Dual MIT/GPL" &&
        l != "Dual MPL/GPL")
      m_log.log(LogLevel::Warning, name + ": module license '" + l + "' taints kernel.");
  }
  if (m->info.count("license") == 0) m_log.log(LogLevel::Warning, name + ": module license 'unspecified' taints kernel.");
  int rc = 0;
  if (!run(name + ".init", [&] { rc = m->init(); }).ok()) rc = -EFAULT;
  if (rc == 0) m_loaded.insert(name);
  return rc;
}

int Kernel::unload_module(const std::string& name) {
  if (!m_loaded.count(name)) return -ENOENT;
  ModuleEntry* m = ModuleRegistry::instance().find(name);
  if (m && m->refs > 0) return -EBUSY;  // in use (a bound device, try_module_get)
  if (m && m->exit) run(name + ".exit", [&] { m->exit(); });
  else if (m && !m->exit) return -EBUSY;  // Linux: a module without exit cannot be unloaded
  m_loaded.erase(name);
  return 0;
}

}  // namespace pciesim::cosim
