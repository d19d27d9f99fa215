#include "pcie/fabric.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "devices/dram.h"
#include "iommu/local_apic_sink.h"
#include "iommu/msi_target.h"
#include "iommu/remapping_unit.h"
#include "pcie/ats_wiring.h"
#include "pcie/device_models.h"
#include "pcie/endpoint.h"
#include "pcie/firmware.h"
#include "pcie/link.h"
#include "pcie/pci_bridge.h"
#include "pcie/port_registry.h"
#include "pcie/root_complex.h"
#include "pcie/switch.h"
#include "pcie/system_bus.h"

namespace pciesim {

const char* to_string(FunctionRole r) {
  switch (r) {
    case FunctionRole::RootPort: return "root-port";
    case FunctionRole::SwitchUpstream: return "switch-upstream";
    case FunctionRole::SwitchDownstream: return "switch-downstream";
    case FunctionRole::PcieToPciBridge: return "pcie-to-pci-bridge";
    case FunctionRole::Endpoint: return "endpoint";
    case FunctionRole::Integrated: return "rc-integrated-endpoint";
    case FunctionRole::Conventional: return "conventional-pci";
    case FunctionRole::PciToPciBridge: return "pci-to-pci-bridge";
  }
  return "?";
}

std::string FunctionInfo::bdf_string() const {
  char buf[24];
  RequesterId r = fn->bdf();
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", segment, r.bus, r.device(), r.function());
  return buf;
}

namespace {
// SystemC names may not contain '.' (hierarchy separator) or whitespace.
std::string module_name(const std::string& n) {
  std::string s = n;
  for (char& c : s)
    if (c == '.' || c == ' ' || c == '\t') c = '_';
  return s;
}
}  // namespace

Cpu::Cpu(sc_core::sc_module_name name) : sc_module(name), socket("socket"), m_ext(new PcieExtension) {
  m_gp.set_extension(m_ext);
}

const PcieExtension& Cpu::access(bool write, uint64_t addr, uint8_t* data, unsigned len, sc_core::sc_time& delay) {
  return transact(write ? TlpKind::MemWrite : TlpKind::MemRead, addr, data, len, delay);
}

const PcieExtension& Cpu::transact(TlpKind kind, uint64_t addr, uint8_t* data, unsigned len, sc_core::sc_time& delay) {
  const bool write = kind == TlpKind::MemWrite || kind == TlpKind::IoWrite;
  m_ext->reset_record();
  m_ext->kind = kind;
  m_ext->requester = m_ext->original_requester = RequesterId{};  // the host bridge, 00:00.0
  m_ext->at = AddressType::Untranslated;
  m_gp.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  m_gp.set_address(addr);
  m_gp.set_data_ptr(data);
  m_gp.set_data_length(len);
  m_gp.set_streaming_width(len);
  m_gp.set_byte_enable_ptr(nullptr);
  m_gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  socket->b_transport(m_gp, delay);
  if (!m_ext->finished()) m_ext->fail(Outcome::UnsupportedRequest, kNoHop);
  return *m_ext;
}

const PcieExtension& Cpu::io_access(bool write, uint32_t port, uint8_t* data, unsigned len, sc_core::sc_time& delay) {
  if (!(len == 1 || len == 2 || len == 4) || (port % 4) + len > 4 || port > 0xffff) {  // x86: 64 KiB of ports
    m_ext->reset_record();
    m_ext->kind = write ? TlpKind::IoWrite : TlpKind::IoRead;
    m_ext->fail(Outcome::UnsupportedRequest, kNoHop);
    if (!write && data) std::memset(data, 0xff, len);
    return *m_ext;
  }
  return transact(write ? TlpKind::IoWrite : TlpKind::IoRead, port, data, len, delay);
}

Fabric::Fabric(const topo::TopologySpec& spec) : m_spec(spec) {
  m_dram = std::make_unique<Dram>("dram", spec.memory.range.base, spec.memory.range.size);
  m_bus = std::make_unique<SystemBus>("host_bus", *m_dram);
  m_cpu = std::make_unique<Cpu>("cpu");
  m_bus->bind_cpu(m_cpu->socket);
  for (const auto& rc : m_spec.root_complexes) build_root_complex(rc);
  m_apic = std::make_unique<vtd::LocalApicSink>();
  m_msi = std::make_unique<vtd::MsiTarget>("msi", *m_apic);
  m_bus->add_mmio_target(m_msi->socket,
                         topo::AddressRange{vtd::RemappingUnit::kInterruptBase, vtd::RemappingUnit::kInterruptSize});
  build_iommus();
  reindex();
  for (const FunctionInfo& info : m_functions) {
    if (!info.fn->is_bridge()) continue;
    PciFunction* bridge = info.fn;
    bridge->set_reset_handler([this, bridge](ResetRequest r) {
      if (r == ResetRequest::SecondaryBus) reset_below(bridge);
    });
  }
}

void Fabric::reset_below(const PciFunction* bridge) {
  std::vector<const FunctionInfo*> todo = children(bridge);
  std::vector<Endpoint*> done;
  while (!todo.empty()) {
    const FunctionInfo* info = todo.back();
    todo.pop_back();
    if (info->endpoint) {
      if (std::find(done.begin(), done.end(), info->endpoint) != done.end()) continue;
      done.push_back(info->endpoint);
      info->endpoint->reset(ResetKind::Conventional);
      continue;
    }
    info->fn->reset(ResetKind::Conventional);
    for (const FunctionInfo* below : children(info->fn)) todo.push_back(below);
  }
}

vtd::RemappingUnit* Fabric::iommu(const std::string& name) const {
  for (vtd::RemappingUnit* u : m_units)
    if (u->spec().name == name) return u;
  return nullptr;
}

void Fabric::build_iommus() {
  // Units with a device scope first, then include-all units take what is left in their segment
  // (ACPI DMAR: INCLUDE_PCI_ALL covers the devices no other DRHD lists).
  std::vector<const topo::IommuSpec*> order;
  for (const auto& u : m_spec.iommus)
    if (!u.include_all) order.push_back(&u);
  for (const auto& u : m_spec.iommus)
    if (u.include_all) order.push_back(&u);
  for (const topo::IommuSpec* spec : order) {
    RootComplex* rc = root_complex(spec->segment);
    if (!rc) throw topo::TopologyError(spec->loc, "no root complex owns segment " + std::to_string(spec->segment));
    auto unit = std::make_unique<vtd::RemappingUnit>(module_name(spec->name).c_str(), *spec, *m_dram, *m_apic);
    const int index = rc->attach_upstream(unit->dma_in);
    m_bus->bind_source(unit->mem_out, *rc);
    m_bus->add_mmio_target(unit->regs_in, topo::AddressRange{unit->register_base(), unit->register_window()});
    if (spec->include_all) {
      for (int port : rc->upstream_ports())
        if (rc->upstream_index(port) == 0) rc->route_upstream(port, index);
    } else {
      for (const std::string& name : spec->scope) rc->route_upstream(rc->port_by_name(name), index);
    }
    connect_device_tlb(*this, *unit);  // ATS invalidations reach the functions (ats_wiring.h)
    m_units.push_back(unit.get());
    m_components.push_back(std::move(unit));
  }
}

Fabric::~Fabric() = default;

RootComplex* Fabric::root_complex(int segment) const {
  for (RootComplex* rc : m_rcs)
    if (rc->segment() == segment) return rc;
  return nullptr;
}

Link* Fabric::make_link(const topo::LinkSpec& spec) {
  m_links.push_back(std::make_unique<Link>(spec));
  return m_links.back().get();
}

FunctionInfo& Fabric::add_info(PciFunction* fn, FunctionRole role, int segment, const std::string& component,
                               PciFunction* parent, const topo::LinkSpec* link, const topo::SourceLoc& loc) {
  FunctionInfo info;
  info.fn = fn;
  info.role = role;
  info.segment = segment;
  info.component = component;
  info.parent = parent;
  info.link = link;
  info.loc = loc;
  m_functions.push_back(std::move(info));
  return m_functions.back();
}

void Fabric::build_root_complex(const topo::RootComplexSpec& spec) {
  auto rc_owned = std::make_unique<RootComplex>(module_name(spec.name).c_str(), spec);
  RootComplex& rc = *rc_owned;
  m_components.push_back(std::move(rc_owned));
  m_rcs.push_back(&rc);
  m_bus->add_root_complex(rc);
  for (size_t i = 0; i < spec.root_ports.size(); ++i) {
    const topo::DownstreamPortSpec& rp = spec.root_ports[i];
    PciFunction* fn = &rc.root_port(i);
    FunctionInfo& info = add_info(fn, FunctionRole::RootPort, spec.segment, spec.name, nullptr, &rp.link, rp.loc);
    info.function_number = static_cast<unsigned>(rp.function);
    info.acs = &rp.acs;
    if (rp.child) build_below(*rp.child, rc, rc.root_port_component_port(i), fn, rp.link, spec.segment);
  }
  for (const topo::EndpointSpec& ep : spec.integrated) {
    Endpoint& e = build_endpoint(ep, FunctionRole::Integrated, nullptr, nullptr, spec.segment);
    int port = rc.attach_integrated(e);
    Component::connect(rc, port, e, Endpoint::kUpstreamPort, nullptr);
  }
}

Endpoint& Fabric::build_endpoint(const topo::EndpointSpec& spec, FunctionRole role, PciFunction* parent,
                                 const topo::LinkSpec* link, int segment) {
  std::unique_ptr<Endpoint> ep_owned = make_device(module_name(spec.name).c_str(), spec, segment, link);
  Endpoint& ep = *ep_owned;
  m_components.push_back(std::move(ep_owned));
  ep.set_intx_listener([this, &ep](unsigned fn, unsigned pin, bool asserted) {
    const FunctionInfo* info = find(ep.function(fn));
    if (m_intx_listener && info) m_intx_listener(*info, pin, asserted);
  });
  for (size_t i = 0; i < spec.functions.size(); ++i) {
    const topo::FunctionSpec& f = spec.functions[i];
    FunctionInfo& info = add_info(ep.function(f.function), role, segment, spec.name, parent, link,
                                  f.loc.line ? f.loc : spec.loc);
    info.endpoint = &ep;
    info.function_number = static_cast<unsigned>(f.function);
    info.acs = &f.acs;
  }
  return ep;
}

void Fabric::build_below(const topo::NodeSpec& node, Component& parent, int parent_port, PciFunction* parent_fn,
                         const topo::LinkSpec& link, int segment) {
  if (const auto* ep = std::get_if<topo::EndpointSpec>(&node.node)) {
    Endpoint& e = build_endpoint(*ep, FunctionRole::Endpoint, parent_fn, &link, segment);
    Component::connect(parent, parent_port, e, Endpoint::kUpstreamPort, make_link(link));
    return;
  }
  if (const auto* sw = std::get_if<topo::SwitchSpec>(&node.node)) {
    auto sw_owned = std::make_unique<Switch>(module_name(sw->name).c_str(), *sw, link, segment);
    Switch& s = *sw_owned;
    m_components.push_back(std::move(sw_owned));
    Component::connect(parent, parent_port, s, Switch::kUpstreamPort, make_link(link));
    PciFunction* up = &s.upstream_function();
    add_info(up, FunctionRole::SwitchUpstream, segment, sw->name, parent_fn, &link, sw->loc);
    for (size_t i = 0; i < sw->ports.size(); ++i) {
      const topo::DownstreamPortSpec& dp = sw->ports[i];
      PciFunction* fn = &s.downstream_function(i);
      FunctionInfo& info = add_info(fn, FunctionRole::SwitchDownstream, segment, sw->name, up, &dp.link, dp.loc);
      info.function_number = static_cast<unsigned>(dp.function);
      info.acs = &dp.acs;
      if (dp.child) build_below(*dp.child, s, static_cast<int>(i) + 1, fn, dp.link, segment);
    }
    return;
  }
  const auto& br = std::get<topo::PciBridgeSpec>(node.node);
  auto br_owned = std::make_unique<PciBridge>(module_name(br.name).c_str(), br, link, segment);
  PciBridge& b = *br_owned;
  m_components.push_back(std::move(br_owned));
  Component::connect(parent, parent_port, b, PciBridge::kUpstreamPort, make_link(link));
  PciFunction* bridge = &b.bridge_function();
  add_info(bridge, FunctionRole::PcieToPciBridge, segment, br.name, parent_fn, &link, br.loc);
  build_pci_bus(br, b, segment);
}

void Fabric::build_pci_bus(const topo::PciBridgeSpec& br, PciBridge& b, int segment) {
  PciFunction* bridge = &b.bridge_function();
  for (const topo::EndpointSpec& dev : br.devices) {
    Endpoint& e = build_endpoint(dev, FunctionRole::Conventional, bridge, nullptr, segment);
    int port = b.attach_device(e);
    Component::connect(b, port, e, Endpoint::kUpstreamPort, nullptr);  // the shared PCI bus
  }
  for (const topo::PciBridgeSpec& child : br.bridges) {  // PCI-to-PCI bridges on the same bus
    auto owned = std::make_unique<PciBridge>(module_name(child.name).c_str(), child, topo::LinkSpec{}, segment);
    PciBridge& c = *owned;
    m_components.push_back(std::move(owned));
    int port = b.attach_bridge(c);
    Component::connect(b, port, c, PciBridge::kUpstreamPort, nullptr);
    add_info(&c.bridge_function(), FunctionRole::PciToPciBridge, segment, child.name, bridge, nullptr, child.loc);
    build_pci_bus(child, c, segment);
  }
}

void Fabric::reindex() {
  if (m_enumerated) {
    std::stable_sort(m_functions.begin(), m_functions.end(), [](const FunctionInfo& a, const FunctionInfo& b) {
      if (a.segment != b.segment) return a.segment < b.segment;
      return a.fn->bdf().raw() < b.fn->bdf().raw();
    });
  }
  m_by_bdf.clear();
  m_by_fn.clear();
  for (size_t i = 0; i < m_functions.size(); ++i) {
    const FunctionInfo& f = m_functions[i];
    m_by_bdf[(uint64_t(f.segment) << 16) | f.fn->bdf().raw()] = i;
    m_by_fn[f.fn] = i;
  }
}

const FunctionInfo* Fabric::find(int segment, RequesterId bdf) const {
  auto it = m_by_bdf.find((uint64_t(segment) << 16) | bdf.raw());
  return it == m_by_bdf.end() ? nullptr : &m_functions[it->second];
}

const FunctionInfo* Fabric::find(const PciFunction* fn) const {
  auto it = m_by_fn.find(fn);
  return it == m_by_fn.end() ? nullptr : &m_functions[it->second];
}

const FunctionInfo* Fabric::find(const std::string& name) const {
  for (const FunctionInfo& f : m_functions) {
    if (f.fn->name() == name) return &f;
    if (f.component == name && f.function_number == 0 && f.role != FunctionRole::SwitchDownstream &&
        f.role != FunctionRole::RootPort)
      return &f;
  }
  return nullptr;
}

std::vector<const FunctionInfo*> Fabric::children(const PciFunction* bridge) const {
  std::vector<const FunctionInfo*> v;
  for (const FunctionInfo& f : m_functions)
    if (f.parent == bridge) v.push_back(&f);
  return v;
}

uint32_t Fabric::config_read(int segment, RequesterId bdf, uint16_t reg, unsigned size) {
  RootComplex* rc = root_complex(segment);
  if (!rc) return 0xffffffffu;
  const auto& s = rc->spec();
  uint64_t addr = s.ecam.base + (uint64_t(bdf.bus - s.root_bus) << 20) + (uint64_t(bdf.devfn) << 12) + reg;
  uint32_t v = 0;
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  m_cpu->access(false, addr, reinterpret_cast<uint8_t*>(&v), size, delay);
  return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

void Fabric::config_write(int segment, RequesterId bdf, uint16_t reg, unsigned size, uint32_t value) {
  RootComplex* rc = root_complex(segment);
  if (!rc) return;
  const auto& s = rc->spec();
  uint64_t addr = s.ecam.base + (uint64_t(bdf.bus - s.root_bus) << 20) + (uint64_t(bdf.devfn) << 12) + reg;
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  m_cpu->access(true, addr, reinterpret_cast<uint8_t*>(&value), size, delay);
}

void Fabric::elaborate() {
  // Multi-passthrough sockets resolve their callbacks at the end of elaboration; until then no
  // transaction can be sent. Elaborating runs no simulated time.
  if (sc_core::sc_get_status() == sc_core::SC_ELABORATION) sc_core::sc_start(sc_core::SC_ZERO_TIME);
}

void Fabric::settle() {
  elaborate();
  sc_core::sc_time busy = sc_core::sc_time_stamp();
  for (const auto& l : m_links) busy = std::max({busy, l->busy_until(LinkDir::Up), l->busy_until(LinkDir::Down)});
  if (busy > sc_core::sc_time_stamp()) sc_core::sc_start(busy - sc_core::sc_time_stamp());
}

void Fabric::enumerate() {
  elaborate();
  Firmware fw(*this);
  fw.run();
  // Firmware's config traffic queued on the links; the machine finishes booting before
  // anything else runs.
  settle();
  m_enumerated = true;
  reindex();
}

}  // namespace pciesim
