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
  // QEMU intel_iommu.c vtd_init: device-iotlb=on sets ECAP.DT (VT-d 11.4.3 bit 2).
  if (spec.device_iotlb) c.ecap |= 1ull << 2;
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
  ext.add_hop(m_apic_hop, delay);
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

namespace {
constexpr uint64_t kSmallPage = 4096, kOneGiB = 1ull << 30;

// [addr, addr + len) lies inside the naturally aligned `page_size` page holding addr.
inline bool within_page(uint64_t addr, unsigned len, uint64_t page_size) {
  return (addr & (page_size - 1)) + len <= page_size;
}
// A request that starts below the interrupt range and runs into it.
inline bool runs_into_interrupt_range(uint64_t addr, unsigned len) {
  return addr < RemappingUnit::kInterruptBase && RemappingUnit::kInterruptBase - addr < len;
}

Request request_for(const tlm::tlm_generic_payload& gp, const PcieExtension& ext) {
  Request req;
  req.source = ext.requester;
  req.has_pasid = ext.has_pasid;
  req.pasid = ext.pasid;
  req.write = !gp.is_read();
  req.execute = ext.execute;
  req.privileged = ext.privileged;
  req.at = ext.at;
  req.addr = gp.get_address();
  return req;
}

// The Translation an IOTLB hit stands for (CacheHooks::find_translation).
Translation from_entry(const IotlbEntry& e, uint64_t addr, uint16_t did) {
  Translation t;
  t.output = e.translate(addr);
  t.page_size = e.page_size;
  t.rights = e.rights;
  t.snoop = e.snoop;
  t.pass_through = e.pass_through;
  t.domain_id = did;
  return t;
}
}  // namespace

bool RemappingUnit::begin_translation(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay,
                                      uint64_t& output) {
  ext.add_hop(m_hop, delay);
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
    // Inside the entry's 4 KiB or 2 MiB page: one translation, one hand-on. (0xFEE00000 is 2 MiB
    // aligned: only a 1 GiB page holds both sides of it.)
    if (within_page(addr, gp.get_data_length(), e->page_size) && e->page_size < kOneGiB) return true;
    return hit_beyond_small_page(gp, ext, delay, *e, found.context->did);
  }
  return finish_translation(gp, ext, delay, output, &found);
}

bool RemappingUnit::hit_beyond_small_page(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay,
                                          const IotlbEntry& e, uint16_t did) {
  const uint64_t addr = gp.get_address();
  const unsigned len = gp.get_data_length();
  if (within_page(addr, len, e.page_size) && !(gp.is_write() && runs_into_interrupt_range(addr, len)))
    return true;  // inside a 1 GiB page
  hand_on_pages(gp, ext, delay - m_timing.iotlb_hit, delay, from_entry(e, addr, did));
  return false;
}

bool RemappingUnit::finish_translation(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay,
                                       uint64_t& output, const VtdCaches::LegacyLookup* found) {
  const sc_core::sc_time arrival = delay;  // begin_translation added nothing yet
  const Request req = request_for(gp, ext);
  const unsigned len = gp.get_data_length();
  // Untranslated requests (with or without PASID) are translated page by page; a translated
  // request (AT = 10b) carries addresses the device's ATC translated, and passes or is blocked
  // whole, and a translation request completes here.
  const bool by_page = req.at == AddressType::Untranslated;
  // A write without PASID that runs into 0xFEEx_xxxx: the part from there on is an interrupt
  // request (see hand_on_pages).
  const bool into_interrupts = by_page && !req.has_pasid && req.write && runs_into_interrupt_range(req.addr, len);

  Translation t;
  if (!m_regs->translation_enabled()) {
    t.pass_through = true;  // DMA remapping off: addresses are physical (VT-d 10.4.4 TE)
    t.output = req.addr;
  } else {
    ++m_translations;
    t = translate_cached(req, delay, found);
  }
  if (!t.ok()) {
    // A posted write's TLPs in later pages are requests of their own (hand_on_pages).
    if (by_page && req.write && !within_page(req.addr, len, kSmallPage)) {
      hand_on_pages(gp, ext, arrival, delay, t);
      return false;
    }
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
  // Pass-through (TE off, legacy TT 10b, PGTT 100b, translated requests) is the identity for
  // every page: one hand-on, unless a write runs into the interrupt range.
  if (into_interrupts || (by_page && !t.pass_through && !within_page(req.addr, len, t.page_size))) {
    hand_on_pages(gp, ext, arrival, delay, t);
    return false;
  }
  output = t.output;
  return true;
}

Translation RemappingUnit::translate_page(const Request& req, sc_core::sc_time& delay) {
  if (!m_regs->translation_enabled()) {
    Translation t;
    t.pass_through = true;
    t.output = req.addr;
    return t;
  }
  ++m_translations;
  if (req.at != AddressType::Untranslated || req.has_pasid || !legacy_translating())
    return translate_cached(req, delay, nullptr);
  // begin_translation's hit probe
  const VtdCaches::LegacyLookup found = m_caches.lookup_legacy(req.source.raw(), req.addr);
  const IotlbEntry* e = found.entry;
  if (e && (req.write ? e->rights.write : e->rights.read)) {
    delay += m_timing.iotlb_hit;
    return from_entry(*e, req.addr, found.context->did);
  }
  return translate_cached(req, delay, &found);
}

// A request spanning pages, as the TLPs a device sends for it (PCIe 6.0 2.2.7: a request must not
// cross a 4 KiB boundary; the unit translates every TLP): piece by piece, in address order, each
// piece the bytes one translation covers (up to the end of its page: 4 KiB, or the superpage of
// the IOTLB entry or leaf; a faulting piece up to the next 4 KiB boundary, the smallest page
// there is), and for a write without PASID never across 0xFEE00000.
//   - Pieces whose outputs are physically contiguous are merged and handed on as one
//     sub-payload (address, data pointer and length of the run; the payload is restored after);
//     the host bus and DRAM see one access per run, as they see one for a request inside a page.
//   - A faulting piece is recorded with its own page's address (FRCD.FI) and reason. Runs before
//     it have been handed on (writes landed, reads filled). A read ends there: the faulting piece
//     and every later byte read as all ones (the fault fill: the UR completion, PCIe 2.3.2), and
//     no later page is requested. A write goes on: the later pages' posted write TLPs are
//     requests of their own (PCIe 2.4.1: a posted write needs no completion and nothing makes
//     the device stop sending the rest), each translated on its own, so a mapped page after an
//     unmapped one is written and every unmapped page records its fault.
//   - A run the host bus or memory refuses (UR) ends a read the same way; a write goes on.
//   - The part of a write without PASID from 0xFEE00000 on is what a write starting there is
//     today (VT-d 3.15: requests without PASID to 0xFEEx_xxxx are interrupt requests, not
//     remapped): one interrupt request taking its first DWORD, whatever follows; the pieces below
//     it are DMA. QEMU's intel_iommu also treats non-DWORD writes there as interrupt requests.
//   - Verdict and response status: the first piece that failed (fault, UR, interrupt fault)
//     decides, else the first run delivered; the hops are the unit's then that piece's.
// Timing, by the burst model of models/pcie/link.h (head: the first TLP at the unit; head + tail:
// its last byte; bytes in between arrive in proportion): piece k reaches the unit when its first
// byte does, and is translated then or once piece k-1's translation is done, whichever is later
// (the unit translates one requester's TLPs in order; each translation costs what a lone request's
// does: UnitTiming::iotlb_hit for a hit, the walk with the page-walker queue for a miss). A run
// is handed on when its first piece's translation is done, its last byte following as the
// pieces' bytes arrived (each delayed by its own piece's translation). The request leaves the
// unit with head = the earliest time any piece went on (or ended), tail = the latest minus that.
// So a burst whose later pages hit the IOTLB takes the time the single hand-on took (each hit is
// made while that page's bytes are still arriving), and a later page's miss delays that page's
// bytes, and the pages behind it, by its walk, as the same miss on a request of its own would.
void RemappingUnit::hand_on_pages(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time arrival,
                                  sc_core::sc_time& delay, Translation t) {
  // Several accesses behind the unit: not a route the route cache describes (route_cache.h).
  if (ext.recorder) ext.recorder->uncacheable();
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  const uint64_t addr = gp.get_address();
  const unsigned len = gp.get_data_length();
  unsigned char* const data = gp.get_data_ptr();
  const unsigned width = gp.get_streaming_width();
  const bool read = gp.is_read();
  const bool interrupts = !read && ext.at == AddressType::Untranslated && !ext.has_pasid;
  const sc_core::sc_time head = now + arrival, tail = ext.tail;
  // When the first byte at `offset` reaches the unit, relative to head.
  auto share = [&](uint64_t offset) { return offset >= len ? tail : tail * (double(offset) / double(len)); };
  Request req = request_for(gp, ext);

  // What the pieces did: the one that decides the verdict, and the window they left the unit in.
  const uint8_t hops_before = ext.hop_count;
  const bool truncated_before = ext.hops_truncated;
  struct Decided {
    bool set = false, failed = false;
    Verdict verdict;
    tlm::tlm_response_status status = tlm::TLM_INCOMPLETE_RESPONSE;
    std::array<HopId, kMaxHops> hops{};
    uint8_t hop_count = 0;
    bool truncated = false;
  } decided;
  auto decide = [&](bool failed, tlm::tlm_response_status status) {
    if (decided.set && (decided.failed || !failed)) return;  // the first failure, else the first success
    decided.set = true;
    decided.failed = failed;
    decided.verdict = ext.verdict;
    decided.status = status;
    decided.hops = ext.hops;
    decided.hop_count = ext.hop_count;
    decided.truncated = ext.hops_truncated;
  };
  sc_core::sc_time first = sc_core::sc_max_time(), last = sc_core::SC_ZERO_TIME;
  auto left = [&](sc_core::sc_time from, sc_core::sc_time to) {
    first = std::min(first, from);
    last = std::max(last, to);
  };
  // Starts a sub-payload [offset, offset + bytes) of the request at `at`.
  auto sub_payload = [&](uint64_t offset, uint64_t at, uint64_t bytes) {
    gp.set_address(at);
    gp.set_data_ptr(data ? data + offset : nullptr);
    gp.set_data_length(static_cast<unsigned>(bytes));
    gp.set_streaming_width(static_cast<unsigned>(bytes));
    gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    ext.verdict = Verdict{};  // the piece's own outcome
    ext.hop_count = hops_before;
    ext.hops_truncated = truncated_before;
  };

  struct Run {
    uint64_t offset = 0, output = 0, bytes = 0;
    sc_core::sc_time start, end;  // its first TLP goes on / its last byte is there
  } run;
  bool have_run = false;
  // Hands the pending run on; false when the host bus or memory refused it.
  auto send = [&]() {
    have_run = false;
    sub_payload(run.offset, run.output, run.bytes);
    sc_core::sc_time d = run.start - now;
    ext.tail = run.end - run.start;
    mem_out->b_transport(gp, d);
    left(now + d, now + d + ext.tail);
    const bool ok = gp.get_response_status() == tlm::TLM_OK_RESPONSE;
    decide(!ok, gp.get_response_status());
    return ok;
  };
  // A read ends at `offset`: the rest reads as all ones.
  auto end_read = [&](uint64_t offset) {
    if (data && offset < len) std::memset(data + offset, 0xff, len - offset);
  };

  sc_core::sc_time done = now + delay;  // the first piece's translation is done
  uint64_t offset = 0;
  for (;;) {
    const uint64_t at = addr + offset;
    uint64_t bytes = len - offset;
    if (!t.pass_through) {
      const uint64_t page = t.ok() ? std::max(t.page_size, kSmallPage) : kSmallPage;
      bytes = std::min(bytes, page - (at & (page - 1)));
    }
    if (interrupts && at < kInterruptBase) bytes = std::min(bytes, kInterruptBase - at);
    // The piece's bytes follow its first TLP as they arrived, each after the piece's translation.
    const sc_core::sc_time piece_end = done + (share(offset + bytes) - share(offset));
    if (t.ok()) {
      if (have_run && run.offset + run.bytes == offset && run.output + run.bytes == t.output) {
        run.bytes += bytes;  // physically contiguous with the run
        run.end = std::max(run.end, piece_end);
      } else {
        if (have_run && !send() && read) {
          end_read(run.offset + run.bytes);
          break;
        }
        run = Run{offset, t.output, bytes, done, piece_end};
        have_run = true;
      }
    } else {
      if (have_run && !send() && read) {
        end_read(run.offset + run.bytes);
        break;
      }
      req.addr = at;  // FRCD.FI: this piece's page
      record_fault(req, t);
      ext.verdict = Verdict{};
      ext.hop_count = hops_before;
      ext.hops_truncated = truncated_before;
      ext.fail(Outcome::IommuFault, m_hop, AcsBit::None, static_cast<uint16_t>(t.fault));
      decide(true, tlm::TLM_ADDRESS_ERROR_RESPONSE);
      left(done, piece_end);
      if (read) {
        end_read(offset);
        break;
      }
    }
    offset += bytes;
    if (offset >= len) {
      if (have_run && !send() && read) end_read(run.offset + run.bytes);
      break;
    }
    // The next piece reaches the unit with its first byte, and waits for the one before it.
    sc_core::sc_time d = std::max(head + share(offset), done) - now;
    if (interrupts && addr + offset == kInterruptBase) {
      if (have_run) send();  // a write: it goes on whatever happened to the run
      sub_payload(offset, kInterruptBase, len - offset);
      interrupt(gp, ext, d);
      left(now + d, now + d + (tail - share(offset)));
      decide(gp.get_response_status() != tlm::TLM_OK_RESPONSE, gp.get_response_status());
      break;
    }
    req.addr = addr + offset;
    t = translate_page(req, d);
    done = now + d;
  }

  gp.set_address(addr);
  gp.set_data_ptr(data);
  gp.set_data_length(len);
  gp.set_streaming_width(width);
  gp.set_response_status(decided.status);
  ext.verdict = decided.verdict;
  ext.hops = decided.hops;
  ext.hop_count = decided.hop_count;
  ext.hops_truncated = decided.truncated;
  delay = first - now;
  ext.tail = last - first;
}

void RemappingUnit::hand_on(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay, uint64_t output) {
  const uint64_t addr = gp.get_address();
  gp.set_address(output);
  mem_out->b_transport(gp, delay);
  gp.set_address(addr);
}

void RemappingUnit::regs(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
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
    ext->add_hop(m_hop, delay);
    ext->deliver(m_hop);
  }
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace pciesim::vtd
