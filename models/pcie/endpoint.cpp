#include "pcie/endpoint.h"

#include "pciesim/hot_inline.h"

#include <algorithm>
#include <cstring>

#include "pcie/function_factory.h"
#include "pcie/pcie_regs.h"
#include "pcie/port_registry.h"

namespace pciesim {

namespace {
constexpr uint64_t kBackingPage = 4096;
}

Endpoint::DmaSlot::DmaSlot() : ext(new PcieExtension) { gp.set_extension(ext); }  // gp owns ext

Endpoint::Endpoint(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment,
                   const topo::LinkSpec* link)
    : Component(name), m_spec(spec) {
  const PortType type = spec.integrated ? PortType::RcIntegratedEndpoint : PortType::Endpoint;
  // A conventional PCI device (no PCIe capability) behind a PCIe-to-PCI bridge, or one that sits
  // on a PCIe port or the root bus anyway (EndpointSpec::express).
  const bool conventional = !spec.pcie || !spec.express;
  const bool multifunction = spec.functions.size() > 1;
  std::vector<unsigned> numbers;
  for (const auto& f : spec.functions) numbers.push_back(static_cast<unsigned>(f.function));
  std::sort(numbers.begin(), numbers.end());
  const unsigned max_fn = numbers.empty() ? 0 : numbers.back();
  m_by_number.assign(max_fn + 1, nullptr);
  m_function_hops.assign(max_fn + 1, kNoHop);
  m_msix.resize(max_fn + 1);
  m_ats.resize(max_fn + 1);
  m_dma_as_function.assign(max_fn + 1, -1);
  for (const auto& f : spec.functions) {
    if (!f.ari) m_dma_as_function[static_cast<unsigned>(f.function)] = static_cast<int8_t>(f.dma_as_function);
    if (!f.ari && f.dma_as_function >= 0) m_any_dma_alias = true;
    // PCIe 7.8.8: ARI functions chain to the next implemented function number.
    auto next = std::upper_bound(numbers.begin(), numbers.end(), static_cast<unsigned>(f.function));
    const uint8_t ari_next = next == numbers.end() ? 0 : static_cast<uint8_t>(*next);
    auto fn = make_endpoint_function(spec.name + ".f" + std::to_string(f.function), f, type, conventional,
                                     multifunction, conventional ? nullptr : link, ari_next);
    // Until it captures its id from a type 0 config write, a function knows only its devfn.
    bool ari = f.ari;
    fn->set_devfn(static_cast<uint8_t>(ari ? f.function : (spec.device << 3) | f.function));
    const auto n = static_cast<unsigned>(f.function);
    if (fn->msix_cap()) m_msix[n] = std::make_unique<MsixTable>(fn->config(), fn->msix_cap());
    if (const uint16_t ats_off = f.ats ? fn->config().find_ext_capability(regs::kExtCapIdAts) : 0) {
      m_ats[n] = std::make_unique<AtsFunction>(fn->config(), ats_off);
      fn->add_config_watcher([a = m_ats[n].get()](uint16_t, unsigned) { a->config_written(); });
    }
    fn->set_intx_listener([this, n](bool level) {
      if (m_intx_listener) m_intx_listener(n, function(n)->interrupt_pin(), level);
    });
    fn->set_reset_handler([this, n](ResetRequest r) {
      if (r == ResetRequest::FunctionLevel) reset_function(n, ResetKind::FunctionLevel);
    });
    m_by_number[n] = fn.get();
    m_function_hops[n] = hops().intern(fn->name(), fn.get(), segment);
    m_functions.push_back(std::move(fn));
  }
  add_port(hops().intern(spec.name, m_functions.empty() ? nullptr : m_functions.front().get(), segment));
  m_last_gp = &m_slot.gp;
  m_record_ingress = false;  // the completing function is the hop
}

Endpoint::~Endpoint() = default;  // each slot's payload deletes the extension it owns

HopId Endpoint::function_hop(unsigned fn) const {
  return fn < m_function_hops.size() ? m_function_hops[fn] : kNoHop;
}

bool Endpoint::claims(uint64_t addr, bool io) const {
  for (const auto& f : m_functions)
    if (f->claim(addr, io) >= 0) return true;
  return false;
}

// dma()'s body, inlined into it: the DMA fast path pays no extra call for the slot choice.
PCIESIM_HOT_INLINE const PcieExtension& Endpoint::dma_on(DmaSlot& slot, unsigned fn, TlpKind kind, uint64_t addr, uint8_t* data,
                                      unsigned len, sc_core::sc_time& delay, const DmaOptions& opt) {
  tlm::tlm_generic_payload& gp = slot.gp;
  PcieExtension& ext = *slot.ext;
  ext.reset_record();
  ext.record_path = opt.record_path;
  ext.kind = kind;
  ext.at = opt.at;
  ext.has_pasid = opt.has_pasid;
  ext.pasid = opt.pasid & 0xfffff;
  ext.privileged = opt.privileged;
  ext.execute = opt.execute;
  ext.no_snoop = opt.no_snoop;
  ext.relaxed_ordering = opt.relaxed_ordering;
  gp.set_command(kind == TlpKind::MemRead ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND);
  gp.set_address(addr);
  gp.set_data_ptr(data);
  gp.set_data_length(len);
  gp.set_streaming_width(len);
  gp.set_byte_enable_ptr(nullptr);
  gp.set_dmi_allowed(false);
  gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);

  PciFunction* f = function(fn);
  if (!f) {
    ext.fail(Outcome::UnsupportedRequest, function_hop(fn));
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return ext;
  }
  // The common case stays one load: only alias and phantom requests take dma_requester().
  const RequesterId requester = opt.spoof_requester ? *opt.spoof_requester
                                : (opt.phantom || m_any_dma_alias) ? dma_requester(fn, opt.phantom)
                                                                    : f->bdf();
  ext.requester = requester;
  ext.original_requester = requester;
  // The route cache (route_cache.h). A spoofed requester id is never cached: it is the kind of
  // TLP ACS exists to catch, and it skips the device's internal routing. Nor is a phantom
  // function's request (its id depends on DEVCTL, which the cache key does not hold).
  if (m_routes.enabled() && !opt.spoof_requester && !opt.phantom && len && RouteCache::cacheable_kind(kind)) {
    const uint32_t key = RouteCache::key(fn, kind, opt.at, opt.has_pasid, opt.privileged, opt.execute, opt.no_snoop,
                                         opt.relaxed_ordering);
    if (const CachedRoute* route = m_routes.find(key, addr, len)) {
      m_routes.replay(*route, gp, ext, delay);
      return ext;
    }
    return dma_recorded(slot, key, *f, function_hop(fn), delay);
  }
  issue(slot, *f, function_hop(fn), delay, opt.spoof_requester.has_value());
  return ext;
}

RequesterId Endpoint::dma_requester(unsigned fn, unsigned phantom) const {
  const PciFunction* f = function(fn);
  if (!f) return {};
  RequesterId id = f->bdf();
  // A device that puts another function's number on its requests (Linux quirk_dma_func0_alias /
  // quirk_dma_func1_alias describe such hardware): the bus and device number stay its own.
  if (m_dma_as_function[fn] >= 0)
    id.devfn = static_cast<uint8_t>((id.devfn & ~7u) | static_cast<unsigned>(m_dma_as_function[fn]));
  // PCIe 2.2.6.2 / 7.5.3.3-4: phantom functions claim the N most significant function-number bits.
  const uint16_t cap = f->pcie_cap();
  if (phantom && cap) {
    const unsigned n = (f->config().read32(static_cast<uint16_t>(cap + 4)) & regs::kDevCapPhantomMask) >> 3;
    const bool enabled = f->config().read16(static_cast<uint16_t>(cap + 8)) & regs::kDevCtlPhantom;
    if (n && enabled && phantom < (1u << n))
      id.devfn = static_cast<uint8_t>((id.devfn & ~7u) | ((id.devfn & 7u) | (phantom << (3 - n))));
  }
  return id;
}

const PcieExtension& Endpoint::dma(unsigned fn, TlpKind kind, uint64_t addr, uint8_t* data, unsigned len,
                                   sc_core::sc_time& delay, const DmaOptions& opt) {
  if (opt.ats) return dma_ats(fn, kind, addr, data, len, delay, opt);
  DmaSlot* slot = &m_slot;
  if (m_dma_depth) {  // issued from inside another dma() (a BAR handler it reached, an MSI)
    if (m_nested.size() < m_dma_depth) m_nested.push_back(std::make_unique<DmaSlot>());
    slot = m_nested[m_dma_depth - 1].get();
  }
  ++m_dma_depth;
  const PcieExtension& e = dma_on(*slot, fn, kind, addr, data, len, delay, opt);
  --m_dma_depth;
  m_last_gp = &slot->gp;
  return e;
}

const PcieExtension& Endpoint::dma_recorded(DmaSlot& slot, uint32_t key, PciFunction& f, HopId origin,
                                            sc_core::sc_time& delay) {
  // The hop-by-hop path with a recorder attached. Hops are recorded whatever the caller asked,
  // so that the route can serve callers who record them.
  PcieExtension& ext = *slot.ext;
  RouteRecorder recorder(ext.kind, slot.gp.get_address(), slot.gp.get_data_length());
  const bool record_path = ext.record_path;
  ext.record_path = true;
  ext.recorder = &recorder;
  issue(slot, f, origin, delay, false);
  ext.recorder = nullptr;
  ext.record_path = record_path;
  m_routes.store(key, recorder, slot.gp, ext);
  if (!record_path) {  // what add_hop() would have left with record_path off
    ext.hop_count = 0;
    ext.hops_truncated = false;
  }
  return ext;
}

void Endpoint::issue(DmaSlot& slot, PciFunction& f, HopId origin, sc_core::sc_time& delay, bool spoofed) {
  tlm::tlm_generic_payload& gp = slot.gp;
  PcieExtension& ext = *slot.ext;
  const TlpKind kind = ext.kind;
  const uint64_t addr = gp.get_address();
  ext.add_hop(origin, delay);
  // PCIe 7.5.1.1.3: with Bus Master Enable clear a function must not issue memory requests.
  if (!f.bus_master()) {
    fail(gp, ext, Outcome::UnsupportedRequest, origin);
    return;
  }
  // PCIe 6.12.1.2: a multi-function device may route P2P between its functions internally;
  // ACS RR (or EC with the sibling's bit set) in the requesting function sends it out instead.
  // A device that routes nothing internally (set_internal_p2p) sends every request out.
  if (m_internal_p2p && is_memory(kind) && !spoofed) {
    for (unsigned n = 0; n < m_by_number.size(); ++n) {
      PciFunction* sib = m_by_number[n];
      if (!sib || sib == &f) continue;
      int bar = sib->claim(addr, false);
      if (bar < 0) {
        if (ext.recorder) ext.recorder->not_claimed_by_bars(*sib);
        continue;
      }
      bool out = f.acs(AcsBit::RR) || (f.acs(AcsBit::EC) && f.egress_blocked(n));
      if (f.acs(AcsBit::EC) && f.egress_blocked(n) && !f.acs(AcsBit::RR)) {
        fail(gp, ext, Outcome::BlockedByAcs, origin, AcsBit::EC);
        return;
      }
      if (out) {
        ext.note_redirect(f.acs(AcsBit::RR) ? AcsBit::RR : AcsBit::EC, origin);
        break;
      }
      access_bar(n, *sib, bar, addr - sib->bars()[bar].base, gp, ext, delay);
      return;
    }
  }
  forward(kUpstreamPort, gp, ext, delay);
  ext.consume_burst(delay);  // the last completion (or the posted write's last byte) has landed
  if (!ext.finished()) {  // nobody ended it: a completer that forgot, or a path that dropped it
    fail(gp, ext, Outcome::UnsupportedRequest, kNoHop);
  }
}

void Endpoint::handle(int, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  switch (ext.kind) {
    case TlpKind::CfgRead0:
    case TlpKind::CfgWrite0:
      config_access(gp, ext, delay);
      return;
    case TlpKind::MemRead:
    case TlpKind::MemWrite:
    case TlpKind::AtomicOp:
      for (unsigned n = 0; n < m_by_number.size(); ++n) {
        PciFunction* f = m_by_number[n];
        int bar = f ? f->claim(gp.get_address(), false) : -1;
        if (bar < 0) continue;
        access_bar(n, *f, bar, gp.get_address() - f->bars()[bar].base, gp, ext, delay);
        return;
      }
      legacy_access(gp, ext, delay);  // the VGA window (docs/vga.md); UR for anything else
      return;
    case TlpKind::IoRead:
    case TlpKind::IoWrite:
      legacy_access(gp, ext, delay);
      return;
    case TlpKind::Completion:  // a completion routed back to us on its own (ACS CR redirect)
      ext.deliver(port_hop(kUpstreamPort));
      gp.set_response_status(tlm::TLM_OK_RESPONSE);
      return;
    default:  // type 1 config (no secondary bus here), messages we do not model
      fail(gp, ext, Outcome::UnsupportedRequest, port_hop(kUpstreamPort));
  }
}

void Endpoint::config_access(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  RequesterId target = ext.cfg_target;
  bool ari = !m_functions.empty() && m_spec.functions.front().ari;
  unsigned fn = ari ? target.devfn : target.function();
  PciFunction* f = (ari || target.device() == unsigned(m_spec.device)) ? function(fn) : nullptr;
  if (!f) {
    fail(gp, ext, Outcome::UnsupportedRequest, port_hop(kUpstreamPort));
    return;
  }
  complete_config(*f, function_hop(fn), gp, ext);
  // A write may have unmasked a pending MSI vector, cleared the MSI-X Function Mask or set Bus
  // Master Enable: the function sends what is now due, after the write completed.
  if (ext.kind == TlpKind::CfgWrite0) send_unmasked(fn, delay);
}

void Endpoint::access_bar(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                          PcieExtension& ext, sc_core::sc_time& delay) {
  MsixTable* table = msix_table(fn_no);
  if (!table || !table->claims(bar, offset)) {
    bar_access(fn_no, fn, bar, offset, gp, ext, delay);
    return;
  }
  ext.consume_burst(delay);
  const bool mask_written = table->access(bar, offset, gp.is_write(), gp.get_data_ptr(), gp.get_data_length());
  ext.completer = fn.bdf();
  ext.deliver(function_hop(fn_no));
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
  if (mask_written) send_unmasked(fn_no, delay);  // PCI 3.0 6.8.2.10
}

MsiResult Endpoint::signal_msi(unsigned fn, unsigned vector, sc_core::sc_time& delay) {
  PciFunction* f = function(fn);
  if (!f) return MsiResult::Disabled;
  const MsiDecision d = prepare_msi(*f, msix_table(fn), vector);
  if (d.result != MsiResult::Sent) return d.result;
  return send_message(fn, d.message, delay);
}

MsiResult Endpoint::send_message(unsigned fn, const MsiMessage& m, sc_core::sc_time& delay) {
  // PCI 3.0 6.8.1.9 / 6.8.2.8: one DWORD memory write, little-endian as every TLP payload.
  uint8_t data[4] = {static_cast<uint8_t>(m.data), static_cast<uint8_t>(m.data >> 8),
                     static_cast<uint8_t>(m.data >> 16), static_cast<uint8_t>(m.data >> 24)};
  const PcieExtension& e = dma(fn, TlpKind::MemWrite, m.address, data, 4, delay);
  return e.verdict.outcome == Outcome::Delivered ? MsiResult::Sent : MsiResult::Fault;
}

void Endpoint::send_unmasked(unsigned fn, sc_core::sc_time delay) {
  PciFunction* f = function(fn);
  if (!f) return;
  for (const MsiMessage& m : take_unmasked_pending(*f, msix_table(fn))) send_message(fn, m, delay);
}

const PcieExtension& Endpoint::send_msg(unsigned fn, uint8_t code, sc_core::sc_time& delay) {
  DmaSlot* slot = &m_slot;  // a payload of its own when issued while a dma() is on its way
  if (m_dma_depth) {
    if (m_nested.size() < m_dma_depth) m_nested.push_back(std::make_unique<DmaSlot>());
    slot = m_nested[m_dma_depth - 1].get();
  }
  tlm::tlm_generic_payload& gp = slot->gp;
  PcieExtension& ext = *slot->ext;
  ext.reset_record();
  ext.record_path = true;
  ext.kind = TlpKind::Message;
  ext.message_code = code;
  ext.has_pasid = false;
  gp.set_command(tlm::TLM_WRITE_COMMAND);
  gp.set_address(0);
  gp.set_data_ptr(nullptr);
  gp.set_data_length(0);
  gp.set_streaming_width(0);
  gp.set_byte_enable_ptr(nullptr);
  gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  PciFunction* f = function(fn);
  if (!f) {
    ext.fail(Outcome::UnsupportedRequest, function_hop(fn));
    return ext;
  }
  ext.requester = ext.original_requester = f->bdf();
  ext.add_hop(function_hop(fn), delay);
  ++m_dma_depth;
  forward(kUpstreamPort, gp, ext, delay);
  --m_dma_depth;
  m_last_gp = &gp;
  if (!ext.finished()) fail(gp, ext, Outcome::UnsupportedRequest, kNoHop);
  return ext;
}

void Endpoint::set_intx(unsigned fn, bool asserted) {
  if (PciFunction* f = function(fn)) f->set_intx(asserted);
}

void Endpoint::reset_function(unsigned fn, ResetKind kind) {
  PciFunction* f = function(fn);
  if (!f) return;
  f->reset(kind);
  if (MsixTable* t = msix_table(fn)) t->reset();
  for (auto it = m_backing.begin(); it != m_backing.end();) {
    if ((it->first >> 56) == fn) it = m_backing.erase(it);
    else ++it;
  }
  invalidate_routes();
  on_reset(fn, kind);
}

void Endpoint::attach_function(unsigned n, PciFunction& fn, HopId hop) {
  if (n >= m_by_number.size()) {
    m_by_number.resize(n + 1, nullptr);
    m_function_hops.resize(n + 1, kNoHop);
    m_msix.resize(n + 1);
    m_dma_as_function.resize(n + 1, -1);
  }
  m_by_number[n] = &fn;
  m_function_hops[n] = hop;
  m_msix[n] = fn.msix_cap() ? std::make_unique<MsixTable>(fn.config(), fn.msix_cap()) : nullptr;
  fn.set_reset_handler([this, n](ResetRequest r) {
    if (r == ResetRequest::FunctionLevel) reset_function(n, ResetKind::FunctionLevel);
  });
  invalidate_routes();
}

void Endpoint::detach_function(unsigned n) {
  if (n >= m_by_number.size() || !m_by_number[n]) return;
  m_by_number[n]->set_reset_handler(nullptr);
  m_by_number[n] = nullptr;
  m_msix[n].reset();
  for (auto it = m_backing.begin(); it != m_backing.end();) {
    if ((it->first >> 56) == n) it = m_backing.erase(it);
    else ++it;
  }
  invalidate_routes();
}

void Endpoint::reset(ResetKind kind) {
  for (unsigned n = 0; n < m_by_number.size(); ++n)
    if (m_by_number[n]) reset_function(n, kind);
}

void Endpoint::bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                          PcieExtension& ext, sc_core::sc_time& delay) {
  ext.consume_burst(delay);
  backing_access(fn_no, static_cast<unsigned>(bar), offset, gp);
  ext.completer = fn.bdf();
  ext.deliver(function_hop(fn_no));
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

void Endpoint::backing_access(unsigned fn_no, unsigned region, uint64_t offset, tlm::tlm_generic_payload& gp) {
  uint8_t* d = gp.get_data_ptr();
  unsigned len = gp.get_data_length();
  while (len) {
    uint64_t key = (uint64_t{fn_no} << 56) | (uint64_t(region) << 52) | (offset / kBackingPage);
    unsigned in_page = static_cast<unsigned>(std::min<uint64_t>(len, kBackingPage - offset % kBackingPage));
    auto it = m_backing.find(key);
    if (gp.is_write()) {
      if (it == m_backing.end()) it = m_backing.emplace(key, std::make_unique<uint8_t[]>(kBackingPage)).first;
      std::memcpy(it->second.get() + offset % kBackingPage, d, in_page);
    } else if (it == m_backing.end()) {
      std::memset(d, 0, in_page);
    } else {
      std::memcpy(d, it->second.get() + offset % kBackingPage, in_page);
    }
    d += in_page; offset += in_page; len -= in_page;
  }
}

}  // namespace pciesim
