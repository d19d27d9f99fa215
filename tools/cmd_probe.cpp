// pciesim probe TOPOLOGY.yaml DEVICE [--driver NAME] [--flow edu|gpu] [--iova ADDR] [--bytes N] [--dmesg]: boots the
// co-simulated kernel, loads the VFIO driver, binds DEVICE to it (driver_override, as an
// administrator does on a real host) and runs vfio_probe against it as a user process; prints
// vfio_probe's JSON document (docs/vfio-probe.md). DEVICE is a topology name (edu0) or a PCI
// name (0000:01:00.0). The flow follows the device's model (gpu: the GPU flow; else edu's) unless
// --flow says otherwise.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "pcie/endpoint.h"
#include "vfio_probe_cosim.h"

namespace pciesim::cli {

namespace {

struct ProbeArgs {
  std::string file, device;
  std::string driver = "pciesim_vfio_pci";
  std::string iova;
  unsigned bytes = VFIO_PROBE_DEFAULT_BYTES;
  std::string flow;  // "" = by the device's model
  bool dmesg = false;
};

// The booted kernel's name for DEVICE: a topology name or any BDF form resolve_function takes.
std::string pci_name_of(const Fabric& f, cosim::Kernel& k, const std::string& device) {
  const FunctionInfo& i = resolve_function(f, device);
  if (const cosim::PciDev* d = k.pci().find(i.segment, i.bdf())) return d->name;
  throw UsageError("the booted kernel did not find '" + device + "'");
}

int run_probe(const ProbeArgs& a) {
  vfio_probe_options opt{};
  opt.iova = VFIO_PROBE_DEFAULT_IOVA;
  if (!a.iova.empty()) {
    char* end = nullptr;
    opt.iova = std::strtoull(a.iova.c_str(), &end, 0);
    if (*end || opt.iova % 4096) throw UsageError("--iova " + a.iova + ": not a page-aligned number");
  }
  Machine m = load_machine(a.file);
  const FunctionInfo& target = resolve_function(*m.fabric, a.device);
  const bool gpu = a.flow.empty() ? target.endpoint && target.endpoint->spec().model == "gpu" : a.flow == "gpu";
  opt.flow = gpu ? VFIO_PROBE_FLOW_GPU : VFIO_PROBE_FLOW_EDU;
  if (gpu ? a.bytes == 0 || a.bytes > 4096 : a.bytes == 0 || a.bytes > 4095)
    throw UsageError(gpu ? "--bytes: 1..4096 (one page of the GPU flow's buffers)"
                         : "--bytes: 1..4095 (QEMU 7.2's edu aborts on 4096)");
  opt.dma_len = a.bytes;
  cosim::Kernel kernel(*m.fabric);
  kernel.boot();
  const std::string name = pci_name_of(*m.fabric, kernel, a.device);
  opt.device = name.c_str();
  int status = kExitOk;
  std::string module = a.driver;  // modprobe treats '-' and '_' alike: vfio-pci is module vfio_pci
  std::replace(module.begin(), module.end(), '-', '_');
  const int load = kernel.module_loaded(module) ? 0 : kernel.load_module(module);
  if (load == -ENOENT) throw UsageError("no module '" + module + "' is linked into pciesim");
  std::string step;
  const int bind = load ? load : tools::bind_to_driver(kernel, name, a.driver, step);
  if (load || bind) {
    std::cerr << "pciesim: " << (load ? "modprobe " + module : step) << " failed: error " << (load ? load : bind) << "\n";
    status = kExitFailed;
  } else {
    const tools::ProbeRun r = tools::run_vfio_probe(kernel, opt);
    std::cout << r.json;
    if (r.status != 0) {
      std::cerr << "pciesim: vfio_probe " << (r.why.empty() ? "stopped early" : r.why) << "\n";
      status = kExitFailed;
    }
  }
  if (a.dmesg) std::cerr << kernel.log().dmesg();
  return status;
}

}  // namespace

void add_probe_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ProbeArgs>();
  CLI::App* sub = app.add_subcommand("probe", "Run vfio_probe on a device of a topology through the simulated VFIO stack");
  sub->add_option("TOPOLOGY", args->file, "Topology file (YAML)")->required();
  sub->add_option("DEVICE", args->device, "The device: its topology name or PCI name (0000:01:00.0)")->required();
  sub->add_option("--driver", args->driver, "The VFIO driver to bind (default pciesim_vfio_pci, our variant driver)");
  sub->add_option("--iova", args->iova, "Where vfio_probe maps its buffers (default 0x1000000)");
  sub->add_option("--bytes", args->bytes, "Bytes per DMA transfer, 1..4095 (edu) or 1..4096 (gpu) (default 4000)");
  sub->add_option("--flow", args->flow, "edu or gpu (default: by the device's model)")
      ->check(CLI::IsMember({"edu", "gpu"}));
  sub->add_flag("--dmesg", args->dmesg, "Print the kernel log to stderr afterwards");
  sub->add_flag("--json", "The output is vfio_probe's JSON document (always; accepted as every command does)");
  sub->callback([args, &exit_code] { exit_code = guarded([args] { return run_probe(*args); }); });
}

}  // namespace pciesim::cli
