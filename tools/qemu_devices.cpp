#include "qemu_devices.h"

#include <cstdio>
#include <map>
#include <set>

namespace pciesim::hostval {
namespace {

// QEMU 7.2's devices and the identities they present (hw/pci-bridge/*.c, hw/misc/edu.c,
// hw/net/e1000.c).
constexpr uint16_t kRedHat = 0x1b36, kRootPortId = 0x000c, kPciBridgeId = 0x000e;
constexpr uint16_t kTi = 0x104c, kX3130Upstream = 0x8232, kXio3130Downstream = 0x8233;
// pcie-root-port (hw/pci-bridge/pcie_root_port.c rp_realize: pcie_acs_init): SV TB RR CR UF DT,
// nothing enabled by the firmware.
constexpr uint16_t kRootPortAcs = 0x5f;

class Builder {
 public:
  explicit Builder(QemuMachine& m) : m_out(m) {}

  void unsupported(const topo::SourceLoc& loc, const std::string& who, const std::string& why) {
    m_out.unsupported.push_back(loc.to_string() + ": " + who + ": " + why);
  }

  static std::string addr(int device, int function) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%x.0x%x", device, function);
    return b;
  }

  // Ports that share a device number need multifunction=on on function 0.
  static std::set<int> shared_devices(const std::vector<topo::DownstreamPortSpec>& ports) {
    std::map<int, int> n;
    for (const auto& p : ports) ++n[p.device];
    std::set<int> out;
    for (const auto& [d, c] : n)
      if (c > 1) out.insert(d);
    return out;
  }

  void ports(const std::vector<topo::DownstreamPortSpec>& ps, const std::string& bus, bool root) {
    const std::set<int> shared = shared_devices(ps);
    for (const auto& p : ps) {
      if (root) {
        if (p.vendor != kRedHat || p.device_id != kRootPortId)
          unsupported(p.loc, p.name, "a root port in QEMU is pcie-root-port (1b36:000c)");
        if (!p.acs.present || p.acs.capability != kRootPortAcs || p.acs.control != 0)
          unsupported(p.loc, p.name,
                      "QEMU 7.2's pcie-root-port implements ACS SV TB RR CR UF DT (0x5f), left off by firmware");
      } else {
        if (p.acs.present)
          unsupported(p.loc, p.name, "QEMU 7.2's xio3130-downstream has no ACS capability");
        if (p.vendor != kTi || p.device_id != kXio3130Downstream)
          unsupported(p.loc, p.name, "a switch downstream port in QEMU is xio3130-downstream (104c:8233)");
      }
      const int chassis = ++m_chassis;
      std::string dev = std::string(root ? "pcie-root-port" : "xio3130-downstream") + ",id=" + p.name + ",bus=" + bus +
                        ",chassis=" + std::to_string(chassis) + ",slot=" + std::to_string(chassis) +
                        ",addr=" + addr(p.device, p.function);
      if (p.function == 0 && shared.count(p.device)) dev += ",multifunction=on";
      m_out.devices.push_back(dev);
      if (p.child) node(*p.child, p.name);
    }
  }

  void node(const topo::NodeSpec& n, const std::string& bus) {
    if (const auto* e = std::get_if<topo::EndpointSpec>(&n.node)) {
      endpoint(*e, bus, 0);
    } else if (const auto* s = std::get_if<topo::SwitchSpec>(&n.node)) {
      if (s->vendor != kTi || s->device != kX3130Upstream)
        unsupported(s->loc, s->name, "a switch in QEMU is x3130-upstream (104c:8232) with xio3130-downstream ports");
      m_out.devices.push_back("x3130-upstream,id=" + s->name + ",bus=" + bus);
      ports(s->ports, s->name, false);
    } else if (const auto* b = std::get_if<topo::PciBridgeSpec>(&n.node)) {
      if (b->vendor != kRedHat || b->device != kPciBridgeId)
        unsupported(b->loc, b->name, "a PCIe-to-PCI bridge in QEMU is pcie-pci-bridge (1b36:000e)");
      m_out.devices.push_back("pcie-pci-bridge,id=" + b->name + ",bus=" + bus);
      for (const auto& d : b->devices) {
        if (d.device == 0)
          unsupported(d.loc, d.name, "slot 0 of QEMU's pcie-pci-bridge belongs to its hot-plug controller (SHPC)");
        endpoint(d, b->name, d.device);
      }
    }
  }

  void endpoint(const topo::EndpointSpec& e, const std::string& bus, int device) {
    std::string model;
    if (e.model == "edu") {
      model = "edu";
      for (const auto& [k, v] : e.params) {
        if (k == "dma_mask") model += ",dma_mask=" + v;
        else unsupported(e.loc, e.name, "edu parameter '" + k + "' has no QEMU equivalent (QEMU's edu is conventional PCI with no reset)");
      }
    } else if (e.model == "generic" && e.functions.size() == 1 && e.functions[0].vendor == 0x8086 &&
               e.functions[0].device == 0x100e) {
      model = "e1000";  // Intel 82540EM, conventional PCI
    } else {
      char ids[32] = "";
      if (!e.functions.empty()) std::snprintf(ids, sizeof ids, " %04x:%04x", e.functions[0].vendor, e.functions[0].device);
      unsupported(e.loc, e.name, "no QEMU device for a " + e.model + " endpoint" + ids + " (edu and e1000 are supported)");
      return;
    }
    const size_t n = e.functions.empty() ? 1 : e.functions.size();
    for (size_t i = 0; i < n; ++i) {
      const int fn = e.functions.empty() ? 0 : e.functions[i].function;
      std::string dev = model + ",bus=" + bus + ",addr=" + addr(device, fn);
      if (n > 1) dev += ",id=" + e.name + ".f" + std::to_string(fn) + (fn == 0 ? ",multifunction=on" : "");
      else dev += ",id=" + e.name;
      m_out.devices.push_back(dev);
    }
  }

 private:
  QemuMachine& m_out;
  int m_chassis = 0;
};

}  // namespace

QemuMachine qemu_machine(const topo::TopologySpec& spec) {
  QemuMachine m;
  Builder b(m);
  const uint64_t mib = spec.memory.range.size >> 20;
  m.memory_mib = mib < 512 ? 512 : mib;  // the guest's initramfs needs room; not compared
  if (spec.root_complexes.size() != 1 || spec.root_complexes[0].segment != 0 || spec.root_complexes[0].root_bus != 0) {
    b.unsupported(spec.root_complexes.empty() ? topo::SourceLoc{spec.file, 0, 0} : spec.root_complexes.back().loc,
                  spec.name, "QEMU's q35 has one PCIe root complex, segment 0, root bus 0");
  }
  if (spec.iommus.size() != 1 || spec.iommus[0].preset != "qemu-7.2" || !spec.iommus[0].include_all) {
    b.unsupported(spec.iommus.empty() ? topo::SourceLoc{spec.file, 0, 0} : spec.iommus[0].loc, spec.name,
                  "the QEMU host has one intel-iommu covering every device: one unit with preset qemu-7.2 and include_all");
  }
  if (spec.root_complexes.empty()) return m;
  const topo::RootComplexSpec& rc = spec.root_complexes[0];
  for (const auto& e : rc.integrated)
    b.unsupported(e.loc, e.name, "root-complex integrated endpoints are not in the QEMU machine");
  b.ports(rc.root_ports, "pcie.0", true);
  return m;
}

}  // namespace pciesim::hostval
