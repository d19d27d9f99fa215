#include "host_report_sim.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "iommu/iommu_api.h"
#include "kernel/kernel.h"
#include "kernel/sysfs.h"
#include "pci/pci_core.h"
#include "pcie/fabric.h"
#include "vfio_probe_cosim.h"

namespace pciesim::hostval {
namespace {

using nlohmann::json;

// Configuration space (PCI 3.0 6.1, PCIe 7.5 / 7.6; include/uapi/linux/pci_regs.h)
constexpr int kVendor = 0x00, kDevice = 0x02, kClassRev = 0x08, kHeaderType = 0x0e;
constexpr int kCapIdExp = 0x10, kExtCapIdAcs = 0x0d;

std::string hex(unsigned v, int digits) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%0*x", digits, v);
  return b;
}

uint32_t cfg(cosim::Kernel& k, cosim::PciDev& d, int off, unsigned size) {
  uint32_t v = 0;
  k.pci().config_read(d.dev.get(), off, size, v);
  return v;
}

// The PCIe capability's Device/Port Type (PCIe 7.5.3.2), as hostfacts names it; the kernel's own
// capability walk (pci_find_capability) finds it.
json pcie_type(cosim::Kernel& k, cosim::PciDev& d) {
  static const char* const kNames[16] = {"endpoint", "legacy_endpoint", nullptr, nullptr, "root_port", "upstream_port",
                                         "downstream_port", "pcie_to_pci_bridge", "pci_to_pcie_bridge",
                                         "rc_integrated_endpoint", "rc_event_collector"};
  const int pos = k.pci().find_capability(d.dev.get(), kCapIdExp);
  if (!pos) return nullptr;
  const unsigned type = (cfg(k, d, pos + 2, 2) & 0xf0) >> 4;  // PCIe Capabilities register
  return kNames[type] ? json(kNames[type]) : json(hex(type, 1));
}

// The ACS extended capability's Capability and Control registers (PCIe 7.7.8), or null
// (pci_find_ext_capability).
json acs(cosim::Kernel& k, cosim::PciDev& d) {
  const int pos = k.pci().find_ext_capability(d.dev.get(), kExtCapIdAcs);
  if (!pos) return nullptr;
  return json{{"cap", hex(cfg(k, d, pos + 4, 2), 4)}, {"ctl", hex(cfg(k, d, pos + 6, 2), 4)}};
}

// readlink /sys/bus/pci/devices/D/driver, its last component, or null.
json driver_of(cosim::Kernel& k, const std::string& name) {
  std::string link;
  if (k.sysfs().read("/sys/bus/pci/devices/" + name + "/driver", link) != 0) return nullptr;
  while (!link.empty() && link.back() == '\n') link.pop_back();
  return link.substr(link.rfind('/') + 1);
}

bool mentions_dmar(const std::string& line) {
  std::string l = line;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return l.find("dmar") != std::string::npos;
}

}  // namespace

json simulator_report(Fabric& fabric, const std::vector<std::string>& drivers) {
  cosim::Kernel k(fabric);
  k.boot();
  json report = {{"schema", 1}, {"source", "simulator"}, {"kernel", "pciesim co-simulated Linux 6.1"},
                 {"cmdline", "intel_iommu=on"}, {"lspci", nullptr}};
  for (const std::string& drv : drivers) {
    std::string module = drv;
    std::replace(module.begin(), module.end(), '-', '_');
    if (!k.module_loaded(module)) k.load_module(module);
  }
  json devices = json::array(), groups = json::object();
  std::vector<std::string> edus;
  for (const auto& d : k.pci().devices()) {
    const cosim::GroupRec* g = k.iommu().group_of(*d);
    json dev = {{"bdf", d->name},
                {"vendor", hex(cfg(k, *d, kVendor, 2), 4)},
                {"device", hex(cfg(k, *d, kDevice, 2), 4)},
                {"class", hex(cfg(k, *d, kClassRev, 4) >> 8, 6)},
                {"header_type", hex(cfg(k, *d, kHeaderType, 1) & 0x7f, 2)},
                {"pcie_type", pcie_type(k, *d)},
                {"acs", acs(k, *d)},
                {"driver", driver_of(k, d->name)},
                {"iommu_group", g ? json(g->id) : json(nullptr)}};
    devices.push_back(dev);
    if (g) groups[std::to_string(g->id)].push_back(d->name);
    if (dev["vendor"] == "0x1234" && dev["device"] == "0x11e8") edus.push_back(d->name);
  }
  std::sort(edus.begin(), edus.end());
  json probes = json::array();
  for (const std::string& edu : edus) {
    for (const std::string& drv : drivers) {
      json p = {{"device", edu}, {"driver", drv}};
      std::string step;
      const int rc = tools::bind_to_driver(k, edu, drv, step);
      if (rc) {
        p["exit"] = nullptr;
        p["error"] = step + ": error " + std::to_string(rc);
      } else {
        vfio_probe_options opt{};
        opt.device = edu.c_str();
        opt.iova = VFIO_PROBE_DEFAULT_IOVA;
        opt.dma_len = VFIO_PROBE_DEFAULT_BYTES;
        const tools::ProbeRun r = tools::run_vfio_probe(k, opt);
        p["exit"] = r.status;
        p["result"] = r.json.empty() ? json(nullptr) : json::parse(r.json, nullptr, false);
        if (!r.why.empty()) p["error"] = r.why;
        k.sysfs().write("/sys/bus/pci/drivers/" + drv + "/unbind", edu);
      }
      k.sysfs().write("/sys/bus/pci/devices/" + edu + "/driver_override", "\n");
      probes.push_back(p);
    }
  }
  json dmar = json::array();
  for (const cosim::LogLine& l : k.log().lines())
    if (mentions_dmar(l.text)) dmar.push_back(l.text);
  report["dmar"] = dmar;
  report["devices"] = devices;
  report["groups"] = groups;
  report["probes"] = probes;
  return report;
}

}  // namespace pciesim::hostval
