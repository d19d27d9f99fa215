#include "pcie/system_bus.h"

#include "devices/dram.h"
#include "pcie/legacy_vga.h"
#include "pcie/port_registry.h"
#include "pcie/root_complex.h"

namespace pciesim {

SystemBus::SystemBus(sc_core::sc_module_name name, Dram& dram)
    : sc_module(name), in("in"), out("out"), m_dram(&dram) {
  in.register_b_transport(this, &SystemBus::b_transport);
  in.register_transport_dbg(this, &SystemBus::transport_dbg);
  m_dram_range = topo::AddressRange{dram.base(), dram.size()};
  m_dram_hop = hops().intern("dram");
  out.bind(dram.socket);
  m_targets.push_back(Target{0, {m_dram_range}, nullptr});
}

void SystemBus::bind_cpu(tlm::tlm_initiator_socket<>& cpu) {
  m_cpu_in = static_cast<int>(m_sources.size());
  cpu.bind(in);
  m_sources.push_back(nullptr);
  m_from_unit.push_back(false);
}

void SystemBus::add_root_complex(RootComplex& rc) {
  const auto& s = rc.spec();
  int index = static_cast<int>(m_targets.size());
  out.bind(rc.cpu_in);
  // Memory space only: the RC's I/O range is a separate (port) address space.
  m_targets.push_back(Target{index, {s.ecam, s.mmio32, s.mmio64}, &rc});
  rc.attach_upstream(in);  // binding 0: straight to the host
  m_sources.push_back(&rc);
  m_from_unit.push_back(false);
  invalidate_routes();
}

int SystemBus::target_for(uint64_t addr) const {
  // Root-complex ranges first: below 4 GiB the PCI hole shadows DRAM, as on a real chipset.
  for (size_t i = 1; i < m_targets.size(); ++i)
    for (const auto& r : m_targets[i].ranges)
      if (r.contains(addr)) return m_targets[i].out_index;
  return m_dram_range.contains(addr) ? 0 : -1;
}

void SystemBus::b_transport(int in_index, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  auto* ext = gp.get_extension<PcieExtension>();
  // CPU port I/O and the VGA window: not DRAM's (one untaken branch for DMA; docs/vga.md).
  if (in_index == m_cpu_in && ext && legacy::legacy_request(ext->kind, gp.get_address())) {
    legacy_transport(gp, *ext, delay);
    return;
  }
  RootComplex* source = in_index < int(m_sources.size()) ? m_sources[in_index] : nullptr;
  int t = target_for(gp.get_address());
  // P2P through the host is a root complex feature; other host targets (DRAM, the interrupt
  // range) take DMA from any root complex.
  if (t < 0 || (source && m_targets[t].rc && !source->spec().p2p)) {
    // Nothing decodes it, or a root complex that does not route P2P: master abort at the host.
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    if (ext) ext->fail(Outcome::UnsupportedRequest, source ? source->host_hop() : kNoHop);
    if (gp.is_read() && gp.get_data_ptr())
      for (unsigned i = 0; i < gp.get_data_length(); ++i) gp.get_data_ptr()[i] = 0xff;
    return;
  }
  if (t == 0) {
    if (ext) {
      ext->add_hop(m_dram_hop, delay);
      if (ext->recorder) note_dram_route(in_index, gp, *ext->recorder);
      // A write is complete when its last byte is in; a read's completions start with its
      // first request (later requests of the burst keep arriving behind it: the tail).
      if (gp.is_write()) ext->consume_burst(delay);
    }
    out[0]->b_transport(gp, delay);
    if (ext && gp.get_response_status() == tlm::TLM_OK_RESPONSE) ext->deliver(m_dram_hop);
    else if (ext) ext->fail(Outcome::UnsupportedRequest, m_dram_hop);
    return;
  }
  out[t]->b_transport(gp, delay);
}

void SystemBus::legacy_transport(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  // Port I/O goes to the root complex whose I/O range holds the port; everything else (the VGA
  // window, ports below every range such as 3C0h) to the first root complex, the chipset's
  // compatibility side, where a PC subtractively decodes what no root port claims. There the
  // root ports with VGA Enable, then the windows, claim it; if none does it ends as a master
  // abort (UR: reads return all ones, writes are dropped). DRAM never takes the CPU's accesses
  // to A0000h-BFFFFh, so a VGA path that is off cannot be mistaken for memory that works.
  const Target* chosen = nullptr;
  for (size_t i = 1; i < m_targets.size() && !chosen; ++i) {
    const RootComplex* rc = m_targets[i].rc;
    if (rc && is_io(ext.kind) && rc->spec().io.contains(gp.get_address())) chosen = &m_targets[i];
  }
  for (size_t i = 1; i < m_targets.size() && !chosen; ++i)
    if (m_targets[i].rc) chosen = &m_targets[i];
  if (!chosen) {
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    ext.fail(Outcome::UnsupportedRequest, kNoHop);
    if (gp.is_read() && gp.get_data_ptr())
      for (unsigned i = 0; i < gp.get_data_length(); ++i) gp.get_data_ptr()[i] = 0xff;
    return;
  }
  out[chosen->out_index]->b_transport(gp, delay);
}

void SystemBus::note_dram_route(int in_index, const tlm::tlm_generic_payload& gp, RouteRecorder& rec) const {
  // From a remapping unit's socket exactly when the recorder saw the unit hand the request on
  // (route_cache.h): the decisions below then look at the translated address.
  if (in_index >= int(m_from_unit.size()) || m_from_unit[in_index] != rec.after_unit()) rec.uncacheable();
  // target_for(): inside DRAM, and outside every other target's ranges.
  rec.within(m_dram_range.base, m_dram_range.size);
  for (size_t i = 1; i < m_targets.size(); ++i)
    for (const auto& r : m_targets[i].ranges) rec.not_claimed(r.base, r.size);
  if (gp.is_write()) rec.consume_burst();
  rec.memory(m_dram, m_dram_hop);
}

unsigned SystemBus::transport_dbg(int, tlm::tlm_generic_payload& gp) {
  return m_dram_range.contains(gp.get_address()) ? out[0]->transport_dbg(gp) : 0;
}

}  // namespace pciesim
