#include "pcie/pci_bridge.h"

#include "pcie/endpoint.h"
#include "pcie/function_factory.h"
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
}  // namespace

sc_core::sc_time PciBridge::bus_time(bool config, unsigned bytes) {
  const unsigned dwords = config ? 1 : (bytes + 3) / 4;
  return sc_core::sc_time(kPciClockNs * (kPciOverheadClocks + dwords), sc_core::SC_NS);
}

PciBridge::PciBridge(sc_core::sc_module_name name, const topo::PciBridgeSpec& spec,
                     const topo::LinkSpec& upstream_link, int segment)
    : Component(name), m_spec(spec), m_segment(segment) {
  m_fn = make_port_function(spec.name, PortType::PcieToPciBridge, spec.vendor, spec.device, upstream_link,
                            topo::AcsSpec{}, 0, false);
  m_fn->set_devfn(0);
  add_port(hops().intern(spec.name, m_fn.get(), segment));
}

int PciBridge::attach_device(Endpoint& ep) {
  int port = add_port(hops().intern(m_spec.name + ".bus/" + ep.spec().name, nullptr, m_segment));
  m_devices.emplace_back(port, &ep);
  return port;
}

int PciBridge::port_claiming(uint64_t addr) const {
  for (const auto& [port, ep] : m_devices)
    if (ep->claims(addr)) return port;  // PCI 3.0 3.2.2: the device that asserts DEVSEL#
  return -1;
}

void PciBridge::handle(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  const HopId here = port_hop(kUpstreamPort);
  const bool write = ext.kind == TlpKind::CfgWrite0 || ext.kind == TlpKind::CfgWrite1;
  if (port == kUpstreamPort) {
    switch (ext.kind) {
      case TlpKind::CfgRead0:
      case TlpKind::CfgWrite0:
        ext.kind = write ? TlpKind::CfgWrite0 : TlpKind::CfgRead0;
        complete_config(*m_fn, here, gp, ext);
        return;
      case TlpKind::CfgRead1:
      case TlpKind::CfgWrite1: {
        if (ext.cfg_target.bus != m_fn->secondary_bus()) break;  // nothing deeper behind us
        if (in_reset()) break;
        for (const auto& [p, ep] : m_devices) {
          if (ep->device_number() != int(ext.cfg_target.device())) continue;
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
        if (!m_fn->window_claims(gp.get_address()) || in_reset()) break;
        int p = port_claiming(gp.get_address());
        if (p < 0) break;
        ext.add_hop(port_hop(p));
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
    ext.recorder->not_claimed_by_windows(*m_fn);
  }
  // Bridge spec 2.3: the bridge takes ownership; the requester id becomes its own.
  ext.requester = RequesterId{m_fn->secondary_bus(), 0};
  if (ext.recorder) ext.recorder->set_requester(ext.requester);
  ext.add_hop(here);  // egress, with the bridge's id
  forward(kUpstreamPort, gp, ext, delay);
}

}  // namespace pciesim
