// pciesim boot TOPOLOGY.yaml [--iommu on|off|pt] [--strict] [--sysfs [PATH]] [--modprobe MODULE]...:
// boots the co-simulated kernel on the machine and prints its log as dmesg does (PCI scan,
// DMAR/intel-iommu bring-up, IOMMU groups, modules), or the sysfs view below PATH.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "kernel/kernel.h"
#include "kernel/module_registry.h"
#include "kernel/sysfs.h"

namespace pciesim::cli {

namespace {

struct BootArgs {
  std::string file;
  std::string iommu = "on";
  bool strict = false;
  std::string sysfs;
  bool sysfs_given = false;
  std::vector<std::string> modules;
};

int run_boot(const BootArgs& a) {
  Machine m = load_machine(a.file);
  cosim::KernelOptions o;
  if (a.iommu == "off") o.iommu = false;
  else if (a.iommu == "pt") o.passthrough = true;
  else if (a.iommu != "on") throw UsageError("--iommu takes on, off or pt (got '" + a.iommu + "')");
  o.strict = a.strict;
  cosim::Kernel kernel(*m.fabric, o);
  kernel.boot();
  int status = kExitOk;
  for (const std::string& spec : a.modules) {
    const size_t sp = spec.find(' ');
    const std::string name = spec.substr(0, sp), params = sp == std::string::npos ? "" : spec.substr(sp + 1);
    if (!cosim::ModuleRegistry::instance().find(name))
      throw UsageError("no module '" + name + "' is linked into pciesim");
    const int rc = kernel.load_module(name, params);
    if (rc) {
      std::cerr << "pciesim: modprobe " << name << " failed: error " << rc << "\n";
      status = kExitFailed;
    }
  }
  if (a.sysfs_given) {
    const std::string root = a.sysfs.empty() ? "/sys" : a.sysfs;
    const std::string out = kernel.sysfs().dump(root);
    if (out.empty()) throw UsageError("no such sysfs path: " + root);
    std::cout << out;
  } else {
    std::cout << kernel.log().dmesg();
  }
  return status;
}

}  // namespace

void add_boot_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<BootArgs>();
  CLI::App* sub = app.add_subcommand("boot", "Boot the co-simulated kernel on a topology and print its dmesg or sysfs");
  sub->add_option("TOPOLOGY", args->file, "Topology file (YAML)")->required();
  sub->add_option("--iommu", args->iommu, "on (intel_iommu=on), off, or pt (iommu=pt)");
  sub->add_flag("--strict", args->strict, "iommu.strict=1: invalidate on every unmap (default: lazy, as Linux 6.1)");
  sub->add_option("--sysfs", args->sysfs, "Print the sysfs view below PATH (default /sys) instead of dmesg")
      ->expected(0, 1)
      ->each([args](const std::string&) { args->sysfs_given = true; });
  sub->add_option("--modprobe", args->modules, "Load a module linked into pciesim (\"name param=value\")");
  sub->callback([args, &exit_code, sub] {
    if (sub->count("--sysfs")) args->sysfs_given = true;
    exit_code = guarded([args] { return run_boot(*args); });
  });
}

}  // namespace pciesim::cli
