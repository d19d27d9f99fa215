#include "pcie/root_complex.h"

#include <algorithm>

#include "pcie/aer.h"
#include "pcie/endpoint.h"
#include "pcie/function_factory.h"
#include "pcie/msi_signal.h"
#include "pcie/legacy_vga.h"
#include "pcie/port_registry.h"
#include "pcie/route_cache.h"

namespace pciesim {

RootComplex::RootComplex(sc_core::sc_module_name name, const topo::RootComplexSpec& spec)
    : Hub(name), cpu_in("cpu_in"), host_out("host_out"), m_spec(spec) {
  // An RCiEP has no link: its traversal costs what a root port of the newest generation here
  // costs (no published figure for the internal fabric).
  int newest = 3;
  for (const auto& rp : spec.root_ports) newest = std::max(newest, rp.link.gen);
  m_integrated_latency = root_port_latency(newest);
  cpu_in.register_b_transport(this, &RootComplex::from_cpu);
  m_host_hop = hops().intern(spec.name + ".host", nullptr, spec.segment);
  int number = 1;
  for (const topo::DownstreamPortSpec& rp : spec.root_ports) {
    int port_number = rp.port_number >= 0 ? rp.port_number : number;
    const bool multi = shares_device(spec.root_ports, rp.device);
    auto fn = make_port_function(rp.name, PortType::RootPort, rp.vendor, rp.device_id, rp.link, rp.acs,
                                 port_number, rp.slot, multi);
    fn->capture_id(RequesterId{static_cast<uint8_t>(spec.root_bus),
                               static_cast<uint8_t>((rp.device << 3) | rp.function)});
    // PCIe 6.2.4.1.2 / 7.8.4.9: the AER interrupt's INTx level follows Root Error Status and
    // Root Error Command, so clearing the status (or the enables) deasserts it.
    fn->set_config_listener([f = fn.get()](uint16_t, unsigned) {
      if (!f->msi_enabled() && !f->msix_enabled()) f->set_intx(aer_root_interrupt_pending(*f));
    });
    int port = add_port(hops().intern(fn->name(), fn.get(), spec.segment));
    add_downstream(port, fn.get());
    m_rp_ports.push_back(port);
    m_port_names.emplace_back(rp.name, port);
    m_port_latency.resize(port + 1, m_integrated_latency);
    m_port_latency[port] = root_port_latency(rp.link.gen);
    m_root_ports.push_back(std::move(fn));
    ++number;
  }
}

int RootComplex::attach_integrated(Endpoint& ep) {
  int port = add_port(hops().intern(name() + std::string(".") + ep.spec().name, nullptr, m_spec.segment));
  add_downstream(port, nullptr, &ep);  // (invalidates cached routes)
  m_port_names.emplace_back(ep.spec().name, port);
  for (const auto& f : ep.functions())  // RCiEPs sit on the root bus from the start
    f->capture_id(RequesterId{root_bus(), f->bdf().devfn});
  return port;
}

void RootComplex::set_latency(sc_core::sc_time t) {
  invalidate_routes();  // cached routes hold the latencies they added
  for (auto& l : m_port_latency) l = t;
  m_integrated_latency = t;
}

void RootComplex::route_upstream(int port, int index) {
  if (port < 0) return;
  invalidate_routes();
  if (m_upstream_index.size() <= size_t(port)) m_upstream_index.resize(port + 1, 0);
  m_upstream_index[port] = index;
}

std::vector<int> RootComplex::upstream_ports() const {
  std::vector<int> v;
  for (const auto& [n, p] : m_port_names) v.push_back(p);
  return v;
}

int RootComplex::port_by_name(const std::string& name) const {
  for (const auto& [n, p] : m_port_names)
    if (n == name) return p;
  return -1;
}

void RootComplex::from_cpu(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  auto* ext = gp.get_extension<PcieExtension>();
  if (!ext) {  // a plain CPU load/store: give it a PCIe header for the fabric
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  // A TLP coming back down after a trip through the host already has the host hop last.
  if (!ext->hop_count || ext->hops[ext->hop_count - 1] != m_host_hop) ext->add_hop(m_host_hop, delay);
  const uint64_t addr = gp.get_address();
  if (legacy::legacy_request(ext->kind, addr)) {  // port I/O, the VGA window (docs/vga.md)
    route_legacy_down(gp, *ext, delay, m_host_hop);
    return;
  }
  if (m_spec.ecam.contains(addr)) {
    // PCIe 7.2.2: ECAM offset = bus << 20 | device << 15 | function << 12 | register.
    const uint64_t off = addr - m_spec.ecam.base;
    const unsigned len = gp.get_data_length();
    const uint16_t reg = off & 0xfff;
    if (!(len == 1 || len == 2 || len == 4) || (reg & (len - 1))) {  // must not cross a dword
      fail(gp, *ext, Outcome::UnsupportedRequest, m_host_hop);
      return;
    }
    ext->cfg_target = RequesterId{static_cast<uint8_t>(m_spec.root_bus + (off >> 20)),
                                  static_cast<uint8_t>((off >> 12) & 0xff)};
    ext->cfg_register = reg;
    const bool write = gp.is_write();
    ext->kind = write ? TlpKind::CfgWrite1 : TlpKind::CfgRead1;
    route_config_down(gp, *ext, delay, root_bus(), m_host_hop);
    return;
  }
  route_down(gp, *ext, delay, m_host_hop);
}

void RootComplex::handle(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  route_from_below(port, gp, ext, delay);
}

void RootComplex::go_upstream(int from_port, tlm::tlm_generic_payload& gp, PcieExtension& ext,
                              sc_core::sc_time& delay) {
  ext.add_hop(m_host_hop, delay);
  if (ext.kind == TlpKind::Completion) {
    // ID-routed: back down to the requester's root port (a redirected P2P completion), or the
    // host's own.
    const DownPort* p = port_for_bus(ext.requester.bus);
    if (p && !m_spec.p2p) {
      fail(gp, ext, Outcome::UnsupportedRequest, m_host_hop);
      return;
    }
    if (p) {
      send_down(*p, gp, ext, delay);
      return;
    }
    ext.deliver(m_host_hop);
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
    return;
  }
  delay += traversal_latency(from_port);
  const int index = size_t(from_port) < m_upstream_index.size() ? m_upstream_index[from_port] : 0;
  if (ext.recorder) {
    ext.recorder->latency(traversal_latency(from_port));
    // Through a remapping unit (index > 0): the unit records its own step (route_cache.h).
    if (index != 0) ext.recorder->upstream_module();
  }
  host_out[index]->b_transport(gp, delay);
  account_completion(ext, delay, from_port);
}

void RootComplex::message_from_below(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext,
                                     sc_core::sc_time& delay) {
  const std::optional<ErrorMessage> m = error_message(ext.message_code);
  PciFunction* rp = port_function(port);
  if (!m || !rp) {  // other messages, and an RCiEP's (an event collector would take them), are not modelled
    fail(gp, ext, Outcome::UnsupportedRequest, port_hop(port));
    return;
  }
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
  ext.deliver(port_hop(port));  // the root port consumes it, whether or not it may log it
  if (!aer_port_receives(*rp, *m)) return;
  root_port_error(port, *rp, ext.message_code, ext.requester, delay);
}

void RootComplex::root_port_error(int port, PciFunction& rp, uint8_t code, RequesterId source,
                                  sc_core::sc_time& delay) {
  const std::optional<ErrorMessage> m = error_message(code);
  if (!m || !aer_root_log(rp, *m, source)) {
    if (!rp.msi_enabled() && !rp.msix_enabled()) rp.set_intx(aer_root_interrupt_pending(rp));
    return;
  }
  if (!rp.msi_enabled() && !rp.msix_enabled()) {
    rp.set_intx(true);  // PCI 3.0 6.2.3: INTx until the status is cleared
    return;
  }
  // PCIe 7.8.4.10: the vector is Root Error Status' Advanced Error Interrupt Message Number (0:
  // root ports here have one MSI vector and no MSI-X). Root ports carry no MSI-X table.
  const MsiDecision d = prepare_msi(rp, nullptr, 0);
  if (d.result != MsiResult::Sent) return;
  tlm::tlm_generic_payload gp;
  auto* ext = new PcieExtension;
  gp.set_extension(ext);
  uint8_t data[4] = {static_cast<uint8_t>(d.message.data), static_cast<uint8_t>(d.message.data >> 8),
                     static_cast<uint8_t>(d.message.data >> 16), static_cast<uint8_t>(d.message.data >> 24)};
  ext->kind = TlpKind::MemWrite;
  ext->requester = ext->original_requester = rp.bdf();
  gp.set_command(tlm::TLM_WRITE_COMMAND);
  gp.set_address(d.message.address);
  gp.set_data_ptr(data);
  gp.set_data_length(4);
  gp.set_streaming_width(4);
  gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  ext->add_hop(port_hop(port), delay);
  go_upstream(port, gp, *ext, delay);
  gp.clear_extension(ext);
  delete ext;
}

}  // namespace pciesim
