#include "pcie/route_cache.h"

#include <algorithm>
#include <cstring>

#include "devices/dram.h"
#include "pcie/function.h"
#include "pcie/component.h"
#include "pcie/pci_bridge.h"
#include "pciesim/hot_inline.h"

namespace pciesim {

namespace {

// The recorder's steps with each Latency folded into the step after it, and a ConsumeBurst into
// the Memory step right after it (a DRAM write). Both only add to `head`, and integer additions
// commute: the replay gives the same times with fewer steps.
void compact(const RouteStep* steps, unsigned count, std::vector<RouteStep>& out) {
  out.clear();
  sc_core::sc_time pending = sc_core::SC_ZERO_TIME;
  for (unsigned i = 0; i < count; ++i) {
    RouteStep s = steps[i];
    if (s.op == RouteOp::Latency) {
      pending += s.latency;
      continue;
    }
    if (s.op == RouteOp::ConsumeBurst && i + 1 < count && steps[i + 1].op == RouteOp::Memory) {
      pending += s.latency;
      continue;  // folded into the Memory step below
    }
    if (s.op == RouteOp::Memory && i > 0 && steps[i - 1].op == RouteOp::ConsumeBurst) s.consume_first = true;
    s.latency += pending;
    pending = sc_core::SC_ZERO_TIME;
    out.push_back(s);
  }
  if (pending != sc_core::SC_ZERO_TIME) {
    RouteStep last;
    last.op = RouteOp::Latency;
    last.latency = pending;
    out.push_back(last);
  }
}

// The last address of [base, base + size), size > 0, clamped at the top of the address space.
uint64_t last_of(uint64_t base, uint64_t size) {
  return size - 1 > ~uint64_t{0} - base ? ~uint64_t{0} : base + (size - 1);
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------------------------

RouteRecorder::RouteRecorder(TlpKind kind, uint64_t addr, unsigned len)
    : m_kind(kind), m_addr(addr), m_len(len), m_generation(route_generation()) {}

void RouteRecorder::memory(Dram* dram, HopId hop) {
  if (m_dram) m_ok = false;  // two DRAM accesses for one request: not a route we describe
  m_dram = dram;
  m_dram_hop = hop;
  add(RouteOp::Memory);
}

void RouteRecorder::unit(RouteTranslator* unit, unsigned hops_before) {
  // Two units, a unit after DRAM, or one the root complex did not hand the request to: not a route
  // we describe.
  if (m_unit || m_dram || !m_awaiting_unit) m_ok = false;
  m_awaiting_unit = false;
  m_unit = true;
  m_unit_hops = hops_before;
  add(RouteOp::Unit).unit = unit;
}

void RouteRecorder::unit_output(uint64_t output) {
  if (!m_unit || m_unit_out) {
    m_ok = false;
    return;
  }
  m_unit_out = true;
  m_pre_lo = m_lo;
  m_pre_hi = m_hi;
  m_addr = output;  // the host bus decides on the translated address
  m_lo = 0;
  m_hi = ~uint64_t{0};
}

void RouteRecorder::not_claimed(uint64_t base, uint64_t size) {
  if (size) exclude(base, last_of(base, size));
}

void RouteRecorder::exclude(uint64_t base, uint64_t last) {
  if (last < m_addr) m_lo = std::max(m_lo, last + 1);
  else if (base > m_addr) m_hi = std::min(m_hi, base - 1);
  else m_ok = false;  // it does hold the address: the caller's decision is not what we think
}

void RouteRecorder::within(uint64_t base, uint64_t size) {
  if (!size || m_addr < base || m_addr - base >= size) {
    m_ok = false;
    return;
  }
  m_lo = std::max(m_lo, base);
  m_hi = std::min(m_hi, last_of(base, size));
}

void RouteRecorder::not_claimed_by_bars(const PciFunction& fn) {
  if (!fn.memory_enabled()) return;  // claims nothing, whatever the address (PciFunction::claim)
  for (const DecodedBar& b : fn.bars())
    if (b.index >= 0 && b.present && !b.io) not_claimed(b.base, b.size);
}

void RouteRecorder::not_claimed_by_windows(const PciFunction& fn) {
  if (!fn.memory_enabled()) return;  // PciFunction::window_claims
  for (const Window* w : {&fn.mem_window(), &fn.pref_window()})
    if (w->enabled()) exclude(w->base, w->limit);
}

// ---------------------------------------------------------------------------------------------
// The cache
// ---------------------------------------------------------------------------------------------

bool RouteCache::store(uint32_t key, const RouteRecorder& rec, const tlm::tlm_generic_payload& gp,
                       const PcieExtension& ext) {
  // Only "delivered at DRAM", straight: no ACS redirect on the way (and so no completion routed on
  // its own), no remapping unit, nothing the recorder could not describe, and no change of
  // generation while it ran.
  const bool replayable = rec.ok() && rec.dram() && rec.generation() == route_generation() &&
                          ext.verdict.outcome == Outcome::Delivered && ext.verdict.port == rec.delivered_at() &&
                          ext.redirect_bit == AcsBit::None && !ext.redirected && !ext.completion_routed &&
                          ext.iommu_checked == rec.has_unit() && rec.has_unit() == rec.after_unit() &&
                          ext.tail == sc_core::SC_ZERO_TIME && gp.get_response_status() == tlm::TLM_OK_RESPONSE &&
                          rec.lo() <= rec.hi() && rec.out_lo() <= rec.out_hi() &&
                          (!rec.has_unit() || (!ext.hops_truncated && rec.unit_hops() <= ext.hop_count));
  if (!replayable) return false;

  // The slot: a stale route, or one of the same key whose interval overlaps (the decisions that
  // bounded it no longer hold), or a free one, or round robin.
  const uint64_t gen = route_generation();
  CachedRoute* slot = nullptr;
  for (CachedRoute& r : m_routes) {
    if (r.generation != gen || (r.key == key && r.lo <= rec.hi() && rec.lo() <= r.hi)) {
      slot = &r;
      break;
    }
  }
  if (!slot && m_routes.size() < kMaxRoutes) slot = &m_routes.emplace_back();
  if (!slot) {
    slot = &m_routes[m_next_victim];
    m_next_victim = (m_next_victim + 1) % kMaxRoutes;
  }
  CachedRoute& r = *slot;
  r.generation = rec.generation();
  r.key = key;
  r.lo = rec.lo();
  r.hi = rec.hi();
  compact(rec.steps(), rec.step_count(), r.steps);
  r.dram = rec.dram();
  r.delivered_at = rec.delivered_at();
  r.hops = ext.hops;
  r.hop_count = ext.hop_count;
  r.hops_truncated = ext.hops_truncated;
  r.has_unit = false;
  if (rec.has_unit()) {
    // The Unit step, then the DRAM access (RouteRecorder::unit refuses a unit after DRAM).
    r.unit_step = r.memory_step = ~0u;
    for (unsigned i = 0; i < r.steps.size(); ++i) {
      if (r.steps[i].op == RouteOp::Unit) r.unit_step = i;
      if (r.steps[i].op == RouteOp::Memory) r.memory_step = i;
    }
    if (r.unit_step >= r.memory_step || r.memory_step == ~0u) {
      r.generation = 0;  // not a route we describe: leave the slot stale
      return false;
    }
    r.has_unit = true;
    r.out_lo = rec.out_lo();
    r.out_hi = rec.out_hi();
    r.unit_hops = static_cast<uint8_t>(rec.unit_hops());
  }
  ++m_fills;
  return true;
}

namespace {
// One non-Unit step of a route: the operations RouteCache::replay's loop does, with the DRAM at
// `mem_addr` (the translated address after a unit) and completions carrying data only when
// `data_ok` (after a unit: a read that completed successfully).
PCIESIM_HOT_INLINE void run_step(const RouteStep& s, const CachedRoute& route, tlm::tlm_generic_payload& gp, PcieExtension& ext,
                     TlpKind kind, uint64_t addr, uint64_t mem_addr, unsigned len, bool data_ok,
                     sc_core::sc_time& head, sc_core::sc_time& tail) {
  head += s.latency;
  if (s.op == RouteOp::LinkRequest) {  // most steps: keep them off the jump table
    s.link->carry_request(s.dir, kind, addr, len, head, tail);
    return;
  }
  switch (s.op) {
    case RouteOp::LinkRequest:
      s.link->carry_request(s.dir, kind, addr, len, head, tail);
      break;
    case RouteOp::LinkCompletions:
      s.link->carry_completions(s.dir, addr, s.with_data && data_ok ? len : 0, head, tail);
      break;
    case RouteOp::Latency:
    case RouteOp::Unit:
      break;
    case RouteOp::PciBusTime:
      head += PciBridge::bus_time(false, len);
      break;
    case RouteOp::ConsumeBurst:
      head += tail;
      tail = sc_core::SC_ZERO_TIME;
      break;
    case RouteOp::SetRequester:
      ext.requester = s.requester;
      break;
    case RouteOp::Memory:
      if (s.consume_first) {
        head += tail;
        tail = sc_core::SC_ZERO_TIME;
      }
      route.dram->direct_access(gp.is_write(), mem_addr, gp.get_data_ptr(), len);
      head += route.dram->latency();
      gp.set_dmi_allowed(true);
      gp.set_response_status(tlm::TLM_OK_RESPONSE);
      break;
  }
}

// The end of a route that reached DRAM: SystemBus delivers once DRAM answered OK, Endpoint::dma
// folds the burst's tail in (the last completion, or a posted write's last byte, has landed),
// and the recorded hops are the transaction's path.
inline void finish_at_dram(const CachedRoute& route, PcieExtension& ext, sc_core::sc_time head,
                           sc_core::sc_time tail, sc_core::sc_time now, sc_core::sc_time& delay) {
  ext.deliver(route.delivered_at);
  head += tail;
  ext.tail = sc_core::SC_ZERO_TIME;
  delay = head - now;
  if (ext.record_path) {
    std::copy(route.hops.begin(), route.hops.begin() + route.hop_count, ext.hops.begin());
    ext.hop_count = route.hop_count;
    ext.hops_truncated = route.hops_truncated;
    ext.hop_times = false;  // the route keeps no per-hop times (they depend on the links' queues)
  }
}
}  // namespace

void RouteCache::replay(const CachedRoute& route, tlm::tlm_generic_payload& gp, PcieExtension& ext,
                        sc_core::sc_time& delay) {
  if (route.has_unit) {
    replay_through_unit(route, gp, ext, delay);
    return;
  }
  ++m_hits;
  // Component::forward turns the TLM delay into absolute time around each link and back; no
  // simulated time passes inside b_transport, so one `now` serves the whole route and the
  // integer arithmetic gives the same values.
  const sc_core::sc_time now = sc_core::sc_get_curr_simcontext()->time_stamp();  // sc_time_stamp(), inline
  sc_core::sc_time head = now + delay;
  sc_core::sc_time tail = ext.tail;  // a local: it stays in a register across the links' stores
  const TlpKind kind = ext.kind;
  const uint64_t addr = gp.get_address();
  const unsigned len = gp.get_data_length();
  for (const RouteStep& s : route.steps) run_step(s, route, gp, ext, kind, addr, addr, len, true, head, tail);
  finish_at_dram(route, ext, head, tail, now, delay);
}


void RouteCache::replay_through_unit(const CachedRoute& route, tlm::tlm_generic_payload& gp, PcieExtension& ext,
                                     sc_core::sc_time& delay) {
  ++m_hits;
  const sc_core::sc_time now = sc_core::sc_get_curr_simcontext()->time_stamp();
  sc_core::sc_time head = now + delay;
  sc_core::sc_time tail = ext.tail;
  const TlpKind kind = ext.kind;
  const uint64_t addr = gp.get_address();
  const unsigned len = gp.get_data_length();
  const RouteStep* steps = route.steps.data();
  const unsigned count = static_cast<unsigned>(route.steps.size());
  // Up to the unit: the route's steps for the IOVA (RouteCache::find checked its interval).
  for (unsigned i = 0; i < route.unit_step; ++i) run_step(steps[i], route, gp, ext, kind, addr, addr, len, true, head, tail);
  if (ext.record_path) {  // the hops before the unit's own; the unit adds its own
    std::copy(route.hops.begin(), route.hops.begin() + route.unit_hops, ext.hops.begin());
    ext.hop_count = route.unit_hops;
    ext.hop_times = false;
  }
  // The unit, exactly as RemappingUnit::dma runs it, at the time the request reaches it.
  const RouteStep& u = steps[route.unit_step];
  head += u.latency;
  ext.tail = tail;
  sc_core::sc_time at_unit = head - now;
  uint64_t output = 0;
  const bool on = u.unit->begin_translation(gp, ext, at_unit, output);
  head = now + at_unit;
  tail = ext.tail;
  const uint64_t last = output + (len - 1);
  if (on && last >= output && output >= route.out_lo && last <= route.out_hi) {
    // The host bus sends the translated request to DRAM: the cached steps, on the output address.
    for (unsigned i = route.unit_step + 1; i < count; ++i)
      run_step(steps[i], route, gp, ext, kind, addr, output, len, true, head, tail);
    finish_at_dram(route, ext, head, tail, now, delay);
    return;
  }
  // The full path from the unit on: whatever the unit did, then the way back.
  ++m_unit_departures;
  if (on) {
    ext.tail = tail;
    at_unit = head - now;
    u.unit->hand_on(gp, at_unit, output);
    head = now + at_unit;
    tail = ext.tail;
  }
  // The completions' steps of the route (root complex, switches and links on the way back),
  // taken by the full path for a non-posted request unless a completion was routed on its own;
  // with data only for a successful read (Component::forward).
  if (is_non_posted(kind) && !ext.completion_routed) {
    const bool data_ok = gp.is_read() && gp.get_response_status() == tlm::TLM_OK_RESPONSE;
    for (unsigned i = route.memory_step + 1; i < count; ++i)
      run_step(steps[i], route, gp, ext, kind, addr, addr, len, data_ok, head, tail);
  }
  head += tail;  // Endpoint::issue: consume_burst, then UR if nobody ended it
  ext.tail = sc_core::SC_ZERO_TIME;
  delay = head - now;
  if (!ext.finished()) {
    ext.fail(Outcome::UnsupportedRequest, kNoHop);
    gp.set_response_status(response_for(Outcome::UnsupportedRequest));
    if (gp.is_read() && gp.get_data_ptr()) std::memset(gp.get_data_ptr(), 0xff, len);
  }
}

}  // namespace pciesim
