// vfio_probe in the simulator: its system-call table answered by a UserProcess of the
// co-simulated kernel (cosim/process), so the unchanged C flow drives VFIO, the variant driver and
// the simulated device as it does on a real host.
#pragma once

#include <string>

#include "vfio_probe.h"

namespace pciesim::cosim {
class Kernel;
}

namespace pciesim::tools {

struct ProbeRun {
  int status = -1;   // vfio_probe_run's result; 128 + signal if the kernel killed it; -1: kernel BUG/hang
  std::string json;  // the document it printed
  std::string why;   // how the process ended, when it did not return
};

// Runs vfio_probe as a process of the booted kernel `k` (the device bound to a VFIO driver).
ProbeRun run_vfio_probe(cosim::Kernel& k, const vfio_probe_options& opt);

// Binds `device` (a PCI name, "0000:01:00.0") to `driver` the way an administrator does:
// driver_override, unbind from its current driver, drivers_probe. 0 or -errno; `log` says which step failed.
int bind_to_driver(cosim::Kernel& k, const std::string& device, const std::string& driver, std::string& log);

}  // namespace pciesim::tools
