#include "pcie/pci_bridge.h"

#include "pcie/capabilities.h"
#include "pcie/endpoint.h"
#include "pcie/function_factory.h"
#include "pcie/legacy_vga.h"
#include "pcie/port_registry.h"
#include "pcie/route_cache.h"

namespace pciesim {

namespace {
// PCI Local Bus 3.0, 2.2 and 3.3.1: 33 MHz clock and a 32-bit data path; a transaction costs
// arbitration, the address phase, medium DEVSEL decode (2 clocks), a turnaround, and one data
// phase per DW of the burst.
constexpr double kPciClockNs = 30.0;
constexpr unsigned kPciOverheadClocks = 5;

sc_core::sc_time pci_bus_time(const tlm::tlm_generic_payload& gp, const PcieExtension& ext) {
  return PciBridge::bus_time(is_config(ext.kind), gp.get_data_length());
}

// A conventional PCI-to-PCI bridge function: the type 1 header (PCI-to-PCI Bridge 1.2 3.2) with
// a conventional secondary bus, 256 bytes of config space, and a PCI PM capability, as the TI
// PCI2050 (datasheet SCPS066, "PCI Power Management 1.1") and Intel 21154 implement; its
// Interrupt Pin reads 0 (those bridges signal no interrupts of their own). The port type is
// unused: without a PCIe capability nothing reads it.
std::unique_ptr<PciFunction> make_pci_to_pci_bridge_function(const topo::PciBridgeSpec& spec) {
  auto f = std::make_unique<PciFunction>(spec.name, PortType::PcieToPciBridge, false);
  BridgeHeader h;
  h.vendor = spec.vendor;
  h.device = spec.device;
  h.interrupt_pin = 0;
  h.conventional_secondary = true;
  h.loc = spec.loc;
  build_type1_header(f->config(), h);
  add_pm_cap(f->config(), false);
  f->refresh();
  return f;
}
}  // namespace

sc_core::sc_time PciBridge::bus_time(bool config, unsigned bytes) {
  const unsigned dwords = config ? 1 : (bytes + 3) / 4;
  return sc_core::sc_time(kPciClockNs * (kPciOverheadClocks + dwords), sc_core::SC_NS);
}

PciBridge::PciBridge(sc_core::sc_module_name name, const topo::PciBridgeSpec& spec,
                     const topo::LinkSpec& upstream_link, int segment)
    : Component(name), m_spec(spec), m_segment(segment) {
  if (spec.conventional) {
    m_fn = make_pci_to_pci_bridge_function(spec);
    m_fn->set_devfn(static_cast<uint8_t>(spec.device_number << 3));
  } else {
    m_fn = make_port_function(spec.name, PortType::PcieToPciBridge, spec.vendor, spec.device, upstream_link,
                              topo::AcsSpec{}, 0, false);
    m_fn->set_devfn(0);
  }
  add_port(hops().intern(spec.name, m_fn.get(), segment));
}

int PciBridge::attach_bridge(PciBridge& child) {
  int port = add_port(hops().intern(m_spec.name + ".bus/" + child.spec().name, nullptr, m_segment));
  m_bridges.emplace_back(port, &child);
  return port;
}

bool PciBridge::claims_on_primary(uint64_t addr, bool legacy, bool io) const {
  if (in_reset()) return false;  // (its own RST# is its parent's; its windows reset with it)
  return legacy ? legacy::forwards_down(*m_fn, addr, io) : m_fn->window_claims(addr);
}

int PciBridge::bridge_port_for_bus(uint8_t bus) const {
  for (const auto& [port, br] : m_bridges)
    if (br->bridge_function().bus_below(bus)) return port;
  return -1;
}

int PciBridge::attach_device(Endpoint& ep) {
  int port = add_port(hops().intern(m_spec.name + ".bus/" + ep.spec().name, nullptr, m_segment));
  m_devices.emplace_back(port, &ep);
  return port;
}

int PciBridge::port_claiming(uint64_t addr) const {
  for (const auto& [port, ep] : m_devices)
    if (ep->claims(addr)) return port;  // PCI 3.0 3.2.2: the device that asserts DEVSEL#
  for (const auto& [port, br] : m_bridges)
    if (br->claims_on_primary(addr, false, false)) return port;
  return -1;
}

int PciBridge::legacy_port_claiming(uint64_t addr, bool io) const {
  for (const auto& [port, ep] : m_devices)
    if (ep->claims(addr, io)) return port;
  for (const auto& [port, ep] : m_devices)
    if (ep->vga_claim(addr, io) >= 0) return port;  // a VGA device's legacy decode
  for (const auto& [port, br] : m_bridges)
    if (br->claims_on_primary(addr, true, io)) return port;
  return -1;
}

void PciBridge::handle(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  const HopId here = port_hop(kUpstreamPort);
  const bool write = ext.kind == TlpKind::CfgWrite0 || ext.kind == TlpKind::CfgWrite1;
  if (port == kUpstreamPort) {
    switch (ext.kind) {
      case TlpKind::CfgRead0:
      case TlpKind::CfgWrite0:
        // A PCI-to-PCI bridge is a single-function device: functions 1-7 do not answer.
        if (conventional() && ext.cfg_target.function() != 0) break;
        ext.kind = write ? TlpKind::CfgWrite0 : TlpKind::CfgRead0;
        complete_config(*m_fn, here, gp, ext);
        return;
      case TlpKind::CfgRead1:
      case TlpKind::CfgWrite1: {
        if (in_reset()) break;
        if (ext.cfg_target.bus != m_fn->secondary_bus()) {
          // PCI-to-PCI Bridge 1.2 3.1.2.1.2: a bus number inside (secondary, subordinate] goes
          // out on the secondary bus as type 1, where the bridge whose range holds it claims it.
          int p = m_fn->bus_below(ext.cfg_target.bus) ? bridge_port_for_bus(ext.cfg_target.bus) : -1;
          if (p < 0) break;
          forward(p, gp, ext, delay);
          return;
        }
        for (const auto& [p, ep] : m_devices) {
          if (ep->device_number() != int(ext.cfg_target.device())) continue;
          ext.kind = write ? TlpKind::CfgWrite0 : TlpKind::CfgRead0;  // type 1 -> type 0
          forward(p, gp, ext, delay);
          return;
        }
        for (const auto& [p, br] : m_bridges) {
          if (br->spec().device_number != int(ext.cfg_target.device())) continue;
          ext.kind = write ? TlpKind::CfgWrite0 : TlpKind::CfgRead0;  // type 1 -> type 0
          forward(p, gp, ext, delay);
          return;
        }
        break;  // no DEVSEL#: master abort
      }
      case TlpKind::Completion:
        if (ext.requester.bus == m_fn->secondary_bus() && !m_devices.empty()) {
          ext.deliver(here);  // the bridge completes on behalf of its bus
          gp.set_response_status(tlm::TLM_OK_RESPONSE);
          return;
        }
        break;
      default: {
        // Memory by the windows; I/O and the VGA window also by VGA Enable (docs/vga.md).
        const bool legacy = legacy::legacy_request(ext.kind, gp.get_address());
        const bool io = is_io(ext.kind);
        if (!(legacy ? legacy::forwards_down(*m_fn, gp.get_address(), io) : m_fn->window_claims(gp.get_address())) ||
            in_reset())
          break;
        int p = legacy ? legacy_port_claiming(gp.get_address(), io) : port_claiming(gp.get_address());
        if (p < 0) break;
        ext.add_hop(port_hop(p), delay);
        delay += pci_bus_time(gp, ext);
        forward(p, gp, ext, delay);
        return;
      }
    }
    fail(gp, ext, Outcome::UnsupportedRequest, here);
    return;
  }
  // From a device on the conventional bus: it owns the bus for this transaction.
  const HopId bus_hop = port_hop(port);
  delay += pci_bus_time(gp, ext);
  if (ext.recorder) ext.recorder->pci_bus_time();
  if (is_config(ext.kind)) {
    fail(gp, ext, Outcome::UnsupportedRequest, bus_hop);
    return;
  }
  int peer = port_claiming(gp.get_address());
  if (peer >= 0) {  // another device on the shared bus claims it: the bridge never sees it
    forward(peer, gp, ext, delay);
    return;
  }
  if (m_fn->window_claims(gp.get_address()) || !m_fn->bus_master()) {
    fail(gp, ext, Outcome::UnsupportedRequest, here);
    return;
  }
  if (ext.recorder) {  // no device on the bus and no bridge window claimed the address
    for (const auto& [p, ep] : m_devices)
      for (const auto& f : ep->functions()) ext.recorder->not_claimed_by_bars(*f);
    for (const auto& [p, br] : m_bridges) ext.recorder->not_claimed_by_windows(br->bridge_function());
    ext.recorder->not_claimed_by_windows(*m_fn);
  }
  // PCIe-to-PCI bridge spec 2.3: the bridge takes ownership; the requester id becomes
  // {secondary bus, 00.0}. A PCI-to-PCI bridge also takes ownership (the bus carries no
  // requester id) and the request leaves with its own id, the alias Linux's
  // pci_for_each_dma_alias() gives a non-PCIe bridge.
  ext.requester = conventional() ? m_fn->bdf() : RequesterId{m_fn->secondary_bus(), 0};
  if (ext.recorder) ext.recorder->set_requester(ext.requester);
  ext.add_hop(here, delay);  // egress, with the bridge's id
  forward(kUpstreamPort, gp, ext, delay);
}

}  // namespace pciesim
