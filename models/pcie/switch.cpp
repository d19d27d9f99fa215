#include "pcie/switch.h"

#include "pcie/aer.h"
#include "pcie/function_factory.h"
#include "pcie/legacy_vga.h"
#include "pcie/port_registry.h"
#include "pcie/route_cache.h"

namespace pciesim {

Switch::Switch(sc_core::sc_module_name name, const topo::SwitchSpec& spec, const topo::LinkSpec& upstream_link,
               int segment)
    : Hub(name), m_spec(spec), m_latency(switch_port_latency(upstream_link.gen)) {
  m_usp = make_port_function(spec.name + ".up", PortType::SwitchUpstream, spec.vendor, spec.device,
                             upstream_link, topo::AcsSpec{}, 0, false);
  m_usp->set_devfn(0);
  add_port(hops().intern(m_usp->name(), m_usp.get(), segment));
  int number = 1;
  for (const topo::DownstreamPortSpec& dp : spec.ports) {
    int port_number = dp.port_number >= 0 ? dp.port_number : number;
    const bool multi = shares_device(spec.ports, dp.device);
    auto fn = make_port_function(dp.name, PortType::SwitchDownstream, dp.vendor ? dp.vendor : spec.vendor,
                                 dp.device_id ? dp.device_id : spec.device, dp.link, dp.acs, port_number, dp.slot, multi);
    fn->set_devfn(static_cast<uint8_t>((dp.device << 3) | dp.function));
    int port = add_port(hops().intern(fn->name(), fn.get(), segment));
    add_downstream(port, fn.get());
    m_dsps.push_back(std::move(fn));
    ++number;
  }
}

void Switch::handle(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  if (port != kUpstreamPort) {
    route_from_below(port, gp, ext, delay);
    return;
  }
  const HopId here = port_hop(kUpstreamPort);
  switch (ext.kind) {
    case TlpKind::CfgRead0:
    case TlpKind::CfgWrite0:
      complete_config(*m_usp, here, gp, ext);  // the parent port only sends type 0 to device 0
      return;
    case TlpKind::CfgRead1:
    case TlpKind::CfgWrite1:
      route_config_down(gp, ext, delay, m_usp->secondary_bus(), here);
      return;
    case TlpKind::Completion:
      route_down(gp, ext, delay, here);
      return;
    default:
      // I/O, and the VGA window: the upstream port's I/O window or VGA Enable (docs/vga.md).
      if (legacy::legacy_request(ext.kind, gp.get_address())) {
        if (legacy::forwards_down(*m_usp, gp.get_address(), is_io(ext.kind))) route_legacy_down(gp, ext, delay, here);
        else fail(gp, ext, Outcome::UnsupportedRequest, here);
        return;
      }
      // Memory going down must fall in the upstream port's windows (PCI-to-PCI bridge 4.1).
      if (!m_usp->window_claims(gp.get_address())) {
        fail(gp, ext, Outcome::UnsupportedRequest, here);
        return;
      }
      route_down(gp, ext, delay, here);
  }
}

void Switch::go_upstream(int, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  if (ext.kind != TlpKind::Completion && !m_usp->bus_master()) {  // PCIe 7.5.1.1.3
    fail(gp, ext, Outcome::UnsupportedRequest, port_hop(kUpstreamPort));
    return;
  }
  delay += m_latency;
  if (ext.recorder) ext.recorder->latency(m_latency);
  ext.add_hop(port_hop(kUpstreamPort), delay);  // egress
  forward(kUpstreamPort, gp, ext, delay);
  account_completion(ext, delay, kUpstreamPort);
}

void Switch::message_from_below(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  const std::optional<ErrorMessage> m = error_message(ext.message_code);
  PciFunction* dsp = port_function(port);
  if (!m || !dsp) {  // other messages are not modelled
    fail(gp, ext, Outcome::UnsupportedRequest, port_hop(port));
    return;
  }
  // PCIe 6.2.8.1: a switch forwards error messages upstream. The message leaves the downstream
  // port's primary side onto the internal bus and enters the upstream port's secondary side; a
  // port that may not forward it consumes it silently (a posted message has no completion).
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
  if (!aer_port_receives(*dsp, *m) || !aer_port_transmits(*dsp, *m)) {
    ext.deliver(port_hop(port));
    return;
  }
  if (!aer_port_receives(*m_usp, *m) || !aer_port_transmits(*m_usp, *m)) {
    ext.deliver(port_hop(kUpstreamPort));
    return;
  }
  delay += m_latency;
  ext.add_hop(port_hop(kUpstreamPort), delay);  // egress
  forward(kUpstreamPort, gp, ext, delay);
}

}  // namespace pciesim
