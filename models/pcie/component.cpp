#include "pcie/component.h"

#include "pcie/port_registry.h"
#include "pcie/route_cache.h"

#include <cstring>

namespace pciesim {

Component::Component(sc_core::sc_module_name name) : sc_module(name), in("in"), out("out") {
  in.register_b_transport(this, &Component::b_transport);
  in.register_transport_dbg(this, &Component::transport_dbg);
}

int Component::add_port(HopId hop) {
  m_ports.push_back(Port{hop, nullptr, LinkDir::Down, -1});
  return static_cast<int>(m_ports.size() - 1);
}

void Component::connect(Component& upper, int upper_port, Component& lower, int lower_port, Link* link) {
  invalidate_routes();  // a new path (elaboration only, in practice)
  Port& up = upper.m_ports.at(upper_port);
  Port& low = lower.m_ports.at(lower_port);
  up.link = low.link = link;
  up.out_dir = LinkDir::Down;
  low.out_dir = LinkDir::Up;
  // multi-passthrough sockets number their bindings in order; remember which is which
  up.out_index = upper.m_out_bound++;
  upper.out.bind(lower.in);
  lower.m_port_of_in.resize(lower.m_in_bound + 1);
  lower.m_port_of_in[lower.m_in_bound++] = lower_port;

  low.out_index = lower.m_out_bound++;
  lower.out.bind(upper.in);
  upper.m_port_of_in.resize(upper.m_in_bound + 1);
  upper.m_port_of_in[upper.m_in_bound++] = upper_port;
}

void Component::b_transport(int in_index, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  auto* ext = gp.get_extension<PcieExtension>();
  if (!ext) {  // a TLP without its PCIe header cannot be routed
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  int port = m_port_of_in[in_index];
  if (m_record_ingress) ext->add_hop(m_ports[port].hop, delay);
  handle(port, gp, *ext, delay);
}

unsigned Component::transport_dbg(int, tlm::tlm_generic_payload&) { return 0; }

void Component::forward(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  const Port& p = m_ports[port];
  if (p.out_index < 0) {  // nothing attached to this port
    fail(gp, ext, Outcome::UnsupportedRequest, p.hop);
    return;
  }
  Link* link = p.link;
  const bool data_request = ext.kind == TlpKind::MemWrite || ext.kind == TlpKind::MemRead ||
                            ext.kind == TlpKind::AtomicOp;
  // config requests carry one DW (the link ignores the count); messages here carry no data
  const uint64_t bytes = data_request ? gp.get_data_length() : ext.kind == TlpKind::Message ? 0 : 4;
  if (link) {
    if (ext.recorder) ext.recorder->link_request(link, p.out_dir, ext.kind, bytes);
    const sc_core::sc_time now = sc_core::sc_time_stamp();
    sc_core::sc_time head = now + delay;
    link->carry_request(p.out_dir, ext.kind, gp.get_address(), bytes, head, ext.tail);
    delay = head - now;
  }
  out[p.out_index]->b_transport(gp, delay);
  if (link && is_non_posted(ext.kind) && !ext.completion_routed) {
    const sc_core::sc_time now = sc_core::sc_time_stamp();
    sc_core::sc_time head = now + delay;
    const bool with_data = gp.is_read() && gp.get_response_status() == tlm::TLM_OK_RESPONSE;
    LinkDir back = p.out_dir == LinkDir::Down ? LinkDir::Up : LinkDir::Down;
    if (ext.recorder) ext.recorder->link_completions(link, back, with_data);
    link->carry_completions(back, gp.get_address(), with_data ? bytes : 0, head, ext.tail);
    delay = head - now;
  }
}

void Component::fail(tlm::tlm_generic_payload& gp, PcieExtension& ext, Outcome o, HopId at, AcsBit bit) {
  ext.fail(o, at, bit);
  gp.set_response_status(response_for(o));
  // PCIe 2.3.2: a UR/CA completion to a read returns no data; the requester sees all ones
  // (what the CPU reads from a master abort).
  if (gp.is_read() && gp.get_data_ptr()) {
    unsigned char* d = gp.get_data_ptr();
    for (unsigned i = 0; i < gp.get_data_length(); ++i) d[i] = 0xff;
  }
}

void Component::complete_config(PciFunction& fn, HopId hop, tlm::tlm_generic_payload& gp, PcieExtension& ext) {
  ext.tail = sc_core::SC_ZERO_TIME;  // one DW: nothing after the first TLP
  const unsigned len = gp.get_data_length();
  uint8_t* d = gp.get_data_ptr();
  if (ext.kind == TlpKind::CfgWrite0 || ext.kind == TlpKind::CfgWrite1) {
    uint32_t v = 0;
    std::memcpy(&v, d, len);
    fn.capture_id(ext.cfg_target);  // PCIe 2.2.6.2
    fn.config().write(ext.cfg_register, len, v);
  } else {
    uint32_t v = fn.config().read(ext.cfg_register, len);
    std::memcpy(d, &v, len);
  }
  ext.completer = fn.bdf();
  ext.deliver(hop);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace pciesim
