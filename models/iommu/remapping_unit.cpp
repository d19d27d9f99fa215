#include "iommu/remapping_unit.h"

#include <algorithm>
#include <cstring>

#include "devices/dram.h"
#include "iommu/fault_recorder.h"
#include "iommu/interrupt_remap.h"
#include "iommu/walk.h"
#include "pcie/port_registry.h"

namespace pciesim::vtd {

Capabilities capabilities_for(const topo::IommuSpec& spec) {
  Capabilities c = spec.preset == "qemu-7.2" ? Capabilities::qemu_7_2() : Capabilities::server();
  if (spec.cap) c.cap = *spec.cap;
  if (spec.ecap) c.ecap = *spec.ecap;
  return c;
}

namespace {
ReplacementPolicy policy(const std::string& s, ReplacementPolicy dflt) {
  if (s == "lru") return ReplacementPolicy::Lru;
  if (s == "fifo") return ReplacementPolicy::Fifo;
  if (s == "random") return ReplacementPolicy::Random;
  if (s == "plru") return ReplacementPolicy::TreePlru;
  return dflt;
}
void apply(CacheConfig& c, const topo::CacheSpec& s) {
  if (s.entries) c.capacity = s.entries;
  if (s.ways) c.ways = s.ways;
  else if (s.entries) c.ways = std::min(c.ways, s.entries);
  c.policy = policy(s.replacement, c.policy);
}
}  // namespace

VtdCacheConfig cache_config_for(const topo::IommuSpec& spec) {
  VtdCacheConfig c;
  apply(c.iotlb_4k, spec.iotlb);
  apply(c.context, spec.context_cache);
  apply(c.pasid, spec.pasid_cache);
  if (spec.paging_structure_cache.entries) apply(c.pdpe, spec.paging_structure_cache);
  return c;
}

RemappingUnit::RemappingUnit(sc_core::sc_module_name name, const topo::IommuSpec& spec, Dram& dram,
                             LocalApicSink& apic)
    : sc_module(name), dma_in("dma_in"), mem_out("mem_out"), regs_in("regs_in"), m_spec(spec),
      m_caps(capabilities_for(spec)), m_dram(dram), m_apic(apic), m_memory(dram),
      m_caches(cache_config_for(spec)) {
  m_regs = std::make_unique<RegisterFile>(m_caps, m_caches, m_memory, m_memory);
  m_regs->set_fault_event_sink([this](uint64_t a, uint32_t d) { deliver_unit_msi(a, d); });
  m_regs->set_invalidation_event_sink([this](uint64_t a, uint32_t d) { deliver_unit_msi(a, d); });
  m_walker_free.assign(std::max(1u, m_timing.page_walkers), sc_core::SC_ZERO_TIME);

  m_hop = hops().intern(spec.name, nullptr, spec.segment);
  m_apic_hop = hops().intern(spec.name + ".apic", nullptr, spec.segment);
  dma_in.register_b_transport(this, &RemappingUnit::dma);
  regs_in.register_b_transport(this, &RemappingUnit::regs);
}

sc_core::sc_time RemappingUnit::walker_busy(unsigned reads) const {
  return m_timing.walk_setup + m_dram.latency() * static_cast<double>(reads);
}

void RemappingUnit::deliver_unit_msi(uint64_t addr, uint32_t data) {
  // The unit's own event messages are not remapped (VT-d 7.3, 6.5.2.9): compatibility decode.
  MsiWrite msi{addr, data, 0};
  InterruptRemapState off{false, true, 0, m_caps};
  InterruptRemapResult r = remap_interrupt(msi, off, m_memory);
  if (r.ok()) deliver(r, msi, m_apic, sc_core::sc_time_stamp().value());
}

void RemappingUnit::record_fault(const Request& req, const Translation& t) {
  ++m_faults;
  if (t.fault_suppressed) return;
  m_regs->faults().record(req, t);
}

namespace {
// The unit's caches as translate() sees them.
class CacheHooks : public TranslationCache {
 public:
  explicit CacheHooks(VtdCaches& c) : m_c(c) {}
  // The unit's hit probe already looked these up: the pipeline's first lookups get the same
  // answers without touching the caches again, so no lookup is counted twice.
  void prime_context(uint16_t sid, const ContextEntry* c) {
    m_primed_context = true;
    m_sid = sid;
    m_context = c;
  }
  void prime_iotlb(const IotlbEntry* e) {
    m_primed_iotlb = true;
    m_iotlb = e;
  }
  const ContextEntry* find_context(uint16_t sid) override {
    if (m_primed_context && sid == m_sid) {
      m_primed_context = false;
      return m_context;
    }
    return m_c.lookup_context(sid);
  }
  void store_context(uint16_t sid, const ContextEntry& e) override {
    if (e.present) m_c.fill_context(sid, e);
  }
  const PasidEntry* find_pasid(uint16_t sid, uint32_t pasid) override { return m_c.lookup_pasid(sid, pasid); }
  void store_pasid(uint16_t sid, uint32_t pasid, const PasidEntry& e) override {
    if (e.present) m_c.fill_pasid(sid, pasid, e);
  }
  bool find_translation(uint16_t did, uint32_t pasid, uint64_t addr, Translation& out) override {
    const IotlbEntry* e = m_primed_iotlb ? m_iotlb : m_c.lookup_iotlb(did, pasid, addr);
    m_primed_iotlb = false;
    if (!e) return false;
    out = Translation{};
    out.output = e->translate(addr);
    out.page_size = e->page_size;
    out.rights = e->rights;
    out.snoop = e->snoop;
    out.pass_through = e->pass_through;
    return true;
  }
  void store_translation(uint16_t did, uint32_t pasid, uint64_t addr, const Translation& t) override {
    IotlbEntry e;
    e.page_pa = t.output & ~(t.page_size - 1);
    e.page_size = t.page_size;
    e.rights = t.rights;
    e.snoop = t.snoop;
    e.pass_through = t.pass_through;
    m_c.fill_iotlb(did, pasid, addr, e);
  }
  WalkStart find_walk_start(uint16_t did, uint32_t pasid, uint64_t addr, int levels) override {
    const PagingStructureHit h = m_c.lookup_paging_structure(did, pasid, addr, levels);
    return h.hit() ? WalkStart{h.level, h.table, h.perms} : WalkStart{};
  }
  void store_walk(uint16_t did, uint32_t pasid, uint64_t addr, const WalkTrace& trace, int levels) override {
    m_c.fill_paging_structure(did, pasid, addr, trace, levels);
  }

 private:
  VtdCaches& m_c;
  bool m_primed_context = false, m_primed_iotlb = false;
  uint16_t m_sid = 0;
  const ContextEntry* m_context = nullptr;
  const IotlbEntry* m_iotlb = nullptr;
};
}  // namespace

Translation RemappingUnit::translate_cached(const Request& req, sc_core::sc_time& delay,
                                            const VtdCaches::LegacyLookup* found) {
  const RootTablePointer rt = m_regs->root_table();
  const uint64_t rtaddr = rt.address | (uint64_t{rt.ttm} << 10);
  CacheHooks hooks(m_caches);
  delay += m_timing.iotlb_hit;
  if (found) {  // walk.cpp translate_legacy / cached_second_level then use what was found
    const ContextEntry* c = found->context;
    hooks.prime_context(req.source.raw(), c);
    if (c && !c->scalable && c->tt != 2) hooks.prime_iotlb(found->entry);
  }
  Translation t = translate(m_memory, rtaddr, m_caps, req, &hooks);
  if (t.memory_reads == 0) return t;  // everything it needed was cached
  if (m_walker_free.size() != std::max(1u, m_timing.page_walkers))  // timing() changed the pool
    m_walker_free.assign(std::max(1u, m_timing.page_walkers), sc_core::SC_ZERO_TIME);
  // A miss: the walk waits for a free page walker, then reads its table entries from DRAM.
  const sc_core::sc_time arrival = sc_core::sc_get_curr_simcontext()->time_stamp() + delay;  // sc_time_stamp(), inline
  auto walker = std::min_element(m_walker_free.begin(), m_walker_free.end());
  const sc_core::sc_time start = std::max(arrival, *walker);
  *walker = start + walker_busy(t.memory_reads);
  delay += (*walker - arrival) + m_timing.walk_pipeline;
  return t;
}

void RemappingUnit::interrupt(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  ++m_interrupts;
  uint32_t data = 0;
  std::memcpy(&data, gp.get_data_ptr(), std::min<unsigned>(4, gp.get_data_length()));
  MsiWrite msi{gp.get_address(), data, ext.requester.raw()};
  const auto irta = m_regs->irta();
  InterruptRemapState st{m_regs->ir_enabled(), m_regs->cfi(),
                         irta.address | (uint64_t{irta.eime} << 11) | irta.size_field, m_caps};
  InterruptRemapResult r = remap_interrupt(msi, st, m_memory, &m_caches.iec());
  delay += m_dram.latency() * static_cast<double>(r.memory_reads);
  if (!r.ok()) {
    ++m_faults;
    if (!r.fault_suppressed) m_regs->faults().record(FaultRecord::from_interrupt(msi.source_id, r.fault, r.index));
    ext.fail(Outcome::IommuFault, m_hop, AcsBit::None, static_cast<uint16_t>(r.fault));
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  if (r.posted) commit_posted_interrupt(r.post, m_memory);
  deliver(r, msi, m_apic, (sc_core::sc_time_stamp() + delay).value());
  ext.add_hop(m_apic_hop);
  ext.deliver(m_apic_hop);
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

void RemappingUnit::dma(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  auto* ext = gp.get_extension<PcieExtension>();
  if (!ext) {
    gp.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    return;
  }
  // The route cache replays this unit as a step of the route (route_cache.h): begin_translation
  // and hand_on, the two halves below.
  if (ext->recorder) ext->recorder->unit(this, ext->hop_count);
  uint64_t output = 0;
  if (!begin_translation(gp, *ext, delay, output)) return;
  if (ext->recorder) ext->recorder->unit_output(output);
  hand_on(gp, delay, output);
}

bool RemappingUnit::begin_translation(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay,
                                      uint64_t& output) {
  ext.add_hop(m_hop);
  const uint64_t addr = gp.get_address();
  ext.iommu_checked = true;
  ext.iommu_unit = m_hop;
  ext.iommu_input = addr;
  if (ext.at != AddressType::Untranslated || ext.has_pasid) return finish_translation(gp, ext, delay, output, nullptr);
  // VT-d 3.15 / 5.1: writes to 0xFEEx_xxxx are interrupt requests, not DMA.
  if (gp.is_write() && addr >= kInterruptBase && addr - kInterruptBase < kInterruptSize) {
    interrupt(gp, ext, delay);
    return false;
  }
  if (!legacy_translating()) return finish_translation(gp, ext, delay, output, nullptr);
  // The common case: a legacy-mode untranslated request whose context and translation are cached
  // and allow the access. The same lookups and the same result as translate() with the caches'
  // hooks (walk.cpp translate_legacy / cached_second_level) without building the request.
  const VtdCaches::LegacyLookup found = m_caches.lookup_legacy(ext.requester.raw(), addr);
  const IotlbEntry* e = found.entry;  // set only under a legacy context with TT 0/1
  if (e && (gp.is_read() ? e->rights.read : e->rights.write)) {
    ++m_translations;
    delay += m_timing.iotlb_hit;
    output = e->translate(addr);
    ext.iommu_output = output;
    ext.iommu_domain = found.context->did;
    return true;
  }
  return finish_translation(gp, ext, delay, output, &found);
}

bool RemappingUnit::finish_translation(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay,
                                       uint64_t& output, const VtdCaches::LegacyLookup* found) {
  Request req;
  req.source = ext.requester;
  req.has_pasid = ext.has_pasid;
  req.pasid = ext.pasid;
  req.write = !gp.is_read();
  req.execute = ext.execute;
  req.privileged = ext.privileged;
  req.at = ext.at;
  req.addr = gp.get_address();

  Translation t;
  if (!m_regs->translation_enabled()) {
    t.pass_through = true;  // DMA remapping off: addresses are physical (VT-d 10.4.4 TE)
    t.output = req.addr;
  } else {
    ++m_translations;
    t = translate_cached(req, delay, found);
  }
  if (!t.ok()) {
    record_fault(req, t);
    ext.fail(Outcome::IommuFault, m_hop, AcsBit::None, static_cast<uint16_t>(t.fault));
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);  // completes as UR
    if (gp.is_read() && gp.get_data_ptr())
      std::memset(gp.get_data_ptr(), 0xff, gp.get_data_length());
    return false;
  }
  ext.iommu_output = t.output;
  ext.iommu_domain = t.domain_id;
  if (req.at == AddressType::TranslationRequest) {
    // PCIe 10.2.3 translation completion: translated address 63:12, S (bit 11) for a larger
    // page with the size encoded in the low clear address bits, R (bit 0) and W (bit 1).
    uint64_t entry = t.output & ~0xfffull;
    if (t.page_size > 4096) entry = (entry & ~(t.page_size - 1)) | ((t.page_size >> 1) - 1 - 0xfff) | (1ull << 11);
    entry |= (t.rights.read ? 1u : 0u) | (t.rights.write ? 2u : 0u);
    if (gp.get_data_ptr() && gp.get_data_length() >= 8) std::memcpy(gp.get_data_ptr(), &entry, 8);
    ext.deliver(m_hop);
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
    return false;
  }
  output = t.output;
  return true;
}

void RemappingUnit::hand_on(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay, uint64_t output) {
  const uint64_t addr = gp.get_address();
  gp.set_address(output);
  mem_out->b_transport(gp, delay);
  gp.set_address(addr);
}

void RemappingUnit::regs(tlm::tlm_generic_payload& gp, sc_core::sc_time&) {
  const uint64_t off = gp.get_address() - m_spec.register_base;
  const unsigned len = gp.get_data_length();
  auto* ext = gp.get_extension<PcieExtension>();
  if ((len != 4 && len != 8) || off >= m_regs->window_size()) {
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    if (ext) ext->fail(Outcome::UnsupportedRequest, m_hop);
    return;
  }
  uint64_t v = 0;
  if (gp.is_read()) {
    v = m_regs->read(static_cast<uint32_t>(off), len);
    std::memcpy(gp.get_data_ptr(), &v, len);
  } else {
    std::memcpy(&v, gp.get_data_ptr(), len);
    m_regs->write(static_cast<uint32_t>(off), len, v);
    // TE, SRTP and the other commands: the route cache reads the unit's state live when it
    // replays a route through it (route_cache.h), but a command is rare enough to drop every
    // cached route anyway.
    if (off == reg::kGcmd) invalidate_routes();
  }
  if (ext) {
    ext->add_hop(m_hop);
    ext->deliver(m_hop);
  }
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace pciesim::vtd
