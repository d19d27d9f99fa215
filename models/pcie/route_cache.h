// The route cache: the fabric's equivalent of TLM-2.0 DMI for DMA to host memory.
//
// A memory request from an endpoint function to DRAM takes the same route every time, as long as
// nothing that routed it changed: every component on the way makes its decision from the TLP's
// address, its kind and attributes, and configuration state (windows, BARs, Bus Master Enable,
// ACS control, bus numbers). The route cache remembers, per source function, request kind and
// attribute set, what the hop-by-hop path did:
//
//   - its timing steps, in order: each link crossing (Link*, direction), each component latency
//     added, the conventional PCI bus time, the burst being consumed at the completer, the DRAM
//     access, and the completions' steps on the way back for non-posted requests. Link timing is
//     not cached: replaying calls the same Link::carry_request / carry_completions with the same
//     arguments in the same order, so queueing, DLLP/SKP accounting and statistics evolve exactly
//     as on the hop-by-hop path;
//   - the hops it recorded (so callers with record_path on are served too), where it was
//     delivered, and requester-id rewrites (a PCIe-to-PCI bridge puts its own id on the TLP);
//   - the address interval [lo, hi] over which every routing decision on the path is unchanged:
//     each decision point narrows it (a hub whose ports' windows did not claim the address
//     contributes the gap between the windows around it, a function's siblings the gap between
//     their BARs, the host bus the part of the DRAM range outside the root complexes' and other
//     targets' ranges).
//
// The route is filled by running the normal hop-by-hop path with a RouteRecorder attached to the
// PcieExtension (ext.recorder; null, and so one predictable branch per hook, when not recording).
// Only outcomes "delivered at DRAM" are kept, with no ACS redirect, at most one remapping unit on
// the way and nothing the recorder could not describe; everything else always takes the full path.
//
// Routes through a remapping unit (VT-d) are cached too, with the unit as one step of the route
// (RouteOp::Unit, a RouteTranslator). The unit's decision is never cached: replaying the step
// calls the very code RemappingUnit::dma runs (RouteTranslator::begin_translation: hop, iommu_*
// fields, translation through the unit's caches and page walkers with their timing, statistics,
// fault recording, interrupt requests, ATS), reading the unit's registers, tables and caches
// live, so a stale IOTLB entry behaves exactly as on the full path. The steps before the unit are
// valid over the IOVA interval [lo, hi] as above; the host bus decision after the unit depends on
// the translated address, so the recorder narrows a second interval [out_lo, out_hi] (DRAM minus
// the other host targets) once the unit said where it hands the request on. At replay:
//   - the translated request [output, output + len) lies inside [out_lo, out_hi]: the cached
//     steps after the unit run on the output address (DRAM access), then the completions' steps;
//   - anything else (a fault, an interrupt request, an ATS translation completion, a request
//     spanning pages that the unit translated page by page and handed on piece by piece itself,
//     an output the host bus decodes elsewhere): nothing has been charged twice, because the pre-unit steps and
//     the unit itself are exactly what the full path did up to there. The replay goes on the way
//     the full path does from the unit: RouteTranslator::hand_on (the unit's mem_out, hop by hop
//     from there) when the unit passed the request on, then the completions' steps of the route
//     with data only for a successful read, none when a completion was routed on its own, and
//     Endpoint::issue's end (burst tail, UR when nobody ended it).
// RootComplex::go_upstream notes that the request leaves through a module on its upstream path
// (RouteRecorder::upstream_module); the unit records its own step (RemappingUnit::dma), and a
// module that does not (any other sc_module bound there) leaves the route uncacheable. A request
// the unit hands on in pieces (RemappingUnit::hand_on_pages) is never stored: the unit marks it
// uncacheable, and a route never holds more than one DRAM access. The host
// bus checks that a TLP from a unit's socket was recorded
// after a unit step and one from a root complex was not (SystemBus::note_dram_route).
//
// Invalidation: one process-wide generation counter (one SystemC design per process); a route is
// valid only while the generation it was filled at is current. It is bumped by
//   - PciFunction::refresh(): every config write that reaches a writable or W1C bit (the
//     ConfigSpace write hook), a config reset, and builders that poke registers and refresh;
//   - PciFunction::capture_id() / set_devfn() when the id changes (ACS Source Validation and the
//     PCIe-to-PCI bridge alias read it);
//   - RootComplex::route_upstream() (which remapping unit a port's traffic goes through),
//     RootComplex::set_latency(), RootComplex::attach_integrated();
//   - topology construction: Component::connect(), Hub::add_downstream(), SystemBus targets and
//     sources;
//   - a remapping unit's GCMD writes (TE, SRTP, ...): not needed for correctness, since the unit
//     step reads the unit's state live, but cheap and rare (RemappingUnit::regs);
//   - invalidate_routes(), for anything else (tools, tests).
// Not tracked, because replay reads them live: link state and statistics, DRAM contents and
// latency, a remapping unit's registers, tables, caches and statistics. Links and their options cannot change after construction.
#pragma once

#include <array>
#include <cstdint>
#include <systemc>
#include <tlm>
#include <vector>

#include "pcie/link.h"
#include "pciesim/tlp.h"

namespace pciesim {

class Dram;
class PciFunction;

// A remapping unit as a step of a cached route (vtd::RemappingUnit). Its dma() is exactly
// begin_translation() followed, when that returns true, by hand_on(): the replay calls the same
// two functions, so the unit behaves identically on both paths.
class RouteTranslator {
 public:
  virtual ~RouteTranslator() = default;
  // Everything the unit does with a request before it hands it on (hop, iommu_* fields, timing
  // added to `delay`, statistics, faults, interrupts, ATS). True with the address it hands the
  // whole request on at; false when it ended the request itself (verdict and response set),
  // including a request spanning pages that it handed on piece by piece.
  virtual bool begin_translation(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay,
                                 uint64_t& output) = 0;
  // Hands the request on to the host bus at `output`; the payload's address is restored after.
  virtual void hand_on(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay, uint64_t output) = 0;
};

namespace route_detail {
inline uint64_t g_generation = 1;  // 0 is never current: a default-constructed route is stale
}
// The current generation; a cached route is valid only while it equals the route's own.
inline uint64_t route_generation() { return route_detail::g_generation; }
// Something that may change a route happened: every cached route becomes stale.
inline void invalidate_routes() { ++route_detail::g_generation; }

// One timing step of a route, replayed in order (`head` is the absolute time of the burst's
// first TLP at the current point, `tail` the PcieExtension's: see models/pcie/link.h). Every step
// first adds its `latency` to head: a cached route folds the Latency steps the recorder saw into
// the step after them (integer time: the sums are the same).
enum class RouteOp : uint8_t {
  LinkRequest,      // link->carry_request(dir, kind, addr, len, head, tail)
  LinkCompletions,  // link->carry_completions(dir, addr, with_data ? len : 0, head, tail)
  Latency,          // nothing else (a switch, root port or completion traversal)
  PciBusTime,       // head += the conventional PCI bus time of the request (PciBridge::bus_time)
  ConsumeBurst,     // head += tail; tail = 0 (a completer takes a whole burst)
  SetRequester,     // the TLP's requester id becomes `requester` (PCIe-to-PCI bridge, spec 2.3)
  Memory,           // the DRAM access: data, counters, the DRAM's latency, TLM_OK_RESPONSE
  Unit,             // a remapping unit: unit->begin_translation (see the top of this file)
};

struct RouteStep {
  RouteOp op = RouteOp::Latency;
  LinkDir dir = LinkDir::Up;
  bool with_data = false;      // LinkCompletions: CplDs rather than one Cpl
  bool consume_first = false;  // Memory: a ConsumeBurst step folded in
  RequesterId requester;       // SetRequester
  Link* link = nullptr;        // LinkRequest, LinkCompletions
  RouteTranslator* unit = nullptr;  // Unit
  sc_core::sc_time latency;    // added to head before the step's own operation
};

// Attached to a PcieExtension (ext.recorder) during one hop-by-hop run. Components report their
// timing steps in the order they apply them, and every routing decision that looked at the
// address; anything else that makes the outcome non-replayable marks it uncacheable.
class RouteRecorder {
 public:
  // Steps of the longest route the recorder describes; longer ones are not cached.
  static constexpr unsigned kMaxSteps = 64;

  RouteRecorder(TlpKind kind, uint64_t addr, unsigned len);

  // --- timing steps ---
  void link_request(Link* link, LinkDir dir, TlpKind kind, uint64_t bytes) {
    // A request that changed kind or length on the way (ACS completion routing) is not replayable.
    if (kind != m_kind || bytes != m_len) m_ok = false;
    RouteStep& s = add(RouteOp::LinkRequest);
    s.link = link;
    s.dir = dir;
  }
  void link_completions(Link* link, LinkDir dir, bool with_data) {
    RouteStep& s = add(RouteOp::LinkCompletions);
    s.link = link;
    s.dir = dir;
    s.with_data = with_data;
  }
  void latency(sc_core::sc_time t) { add(RouteOp::Latency).latency = t; }
  void pci_bus_time() { add(RouteOp::PciBusTime); }
  void consume_burst() { add(RouteOp::ConsumeBurst); }
  void set_requester(RequesterId id) { add(RouteOp::SetRequester).requester = id; }
  // The request reached DRAM through the host bus (`hop`: the DRAM's hop, where it is delivered).
  void memory(Dram* dram, HopId hop);
  // A root complex hands the request to a module on its upstream path other than the host bus
  // (RootComplex::route_upstream): only a remapping unit that records itself (unit() below) keeps
  // the route cacheable.
  void upstream_module() { m_awaiting_unit = true; }
  // A remapping unit took the request (`hops_before`: the hop count before its own hop).
  void unit(RouteTranslator* unit, unsigned hops_before);
  // ... and hands it on at `output`: later decisions narrow the output interval.
  void unit_output(uint64_t output);

  // --- routing decisions (each narrows the interval where they all stay the same) ---
  // A range [base, base + size) was checked and did not claim the address.
  void not_claimed(uint64_t base, uint64_t size);
  // The address was routed because it lies in [base, base + size).
  void within(uint64_t base, uint64_t size);
  // `fn`'s memory BARs (PciFunction::claim) / bridge memory windows (window_claims) did not
  // claim the address.
  void not_claimed_by_bars(const PciFunction& fn);
  void not_claimed_by_windows(const PciFunction& fn);

  // --- not replayable: a remapping unit, a target other than DRAM, ... ---
  void uncacheable() { m_ok = false; }

  bool ok() const { return m_ok && !m_awaiting_unit; }
  uint64_t generation() const { return m_generation; }
  // The request's interval (before a unit, if any).
  uint64_t lo() const { return m_unit_out ? m_pre_lo : m_lo; }
  uint64_t hi() const { return m_unit_out ? m_pre_hi : m_hi; }
  // After a unit: the translated request's interval.
  uint64_t out_lo() const { return m_lo; }
  uint64_t out_hi() const { return m_hi; }
  bool has_unit() const { return m_unit; }
  // The unit handed the request on (decisions now look at the output address).
  bool after_unit() const { return m_unit_out; }
  unsigned unit_hops() const { return m_unit_hops; }
  Dram* dram() const { return m_dram; }
  HopId delivered_at() const { return m_dram_hop; }
  const RouteStep* steps() const { return m_steps.data(); }
  unsigned step_count() const { return m_count; }

 private:
  void exclude(uint64_t base, uint64_t last);  // [base, last] does not hold the address
  RouteStep& add(RouteOp op) {
    if (m_count == kMaxSteps) {  // keep recording into the last slot, but never cache
      m_ok = false;
      m_steps[kMaxSteps - 1] = RouteStep{};
      m_steps[kMaxSteps - 1].op = op;
      return m_steps[kMaxSteps - 1];
    }
    RouteStep& s = m_steps[m_count++];
    s = RouteStep{};
    s.op = op;
    return s;
  }

  TlpKind m_kind;
  uint64_t m_addr;
  uint64_t m_len;
  uint64_t m_generation;
  uint64_t m_lo = 0, m_hi = ~uint64_t{0};
  uint64_t m_pre_lo = 0, m_pre_hi = ~uint64_t{0};  // the request's interval once a unit handed it on
  bool m_ok = true;
  bool m_unit = false, m_unit_out = false, m_awaiting_unit = false;
  unsigned m_unit_hops = 0;
  Dram* m_dram = nullptr;
  HopId m_dram_hop = kNoHop;
  unsigned m_count = 0;
  std::array<RouteStep, kMaxSteps> m_steps;
};

// A route as the cache keeps it.
struct CachedRoute {
  uint64_t generation = 0;  // stale unless equal to route_generation()
  uint32_t key = 0;         // RouteCache::key()
  uint64_t lo = 0, hi = 0;  // the whole request [addr, addr + len) must lie inside [lo, hi]
  std::vector<RouteStep> steps;
  // Through a remapping unit: steps[unit_step] is the Unit step, steps[memory_step] the DRAM
  // access; the translated request must lie inside [out_lo, out_hi] for the cached steps after
  // the unit to apply. unit_hops: hops recorded before the unit's own.
  bool has_unit = false;
  unsigned unit_step = 0, memory_step = 0;
  uint64_t out_lo = 0, out_hi = 0;
  uint8_t unit_hops = 0;
  Dram* dram = nullptr;
  HopId delivered_at = kNoHop;
  std::array<HopId, kMaxHops> hops{};
  uint8_t hop_count = 0;
  bool hops_truncated = false;
};

// One per endpoint: the routes its functions' DMA took to DRAM.
class RouteCache {
 public:
  // Routes kept per endpoint (functions x kinds x attribute sets x DRAM intervals in use).
  static constexpr unsigned kMaxRoutes = 8;

  // Memory requests are cached; config, messages and completions never leave a device as DMA.
  static constexpr bool cacheable_kind(TlpKind k) {
    return k == TlpKind::MemRead || k == TlpKind::MemWrite || k == TlpKind::AtomicOp;
  }
  // Function, kind and every TLP attribute that ACS or a remapping unit may look at (AT, PASID
  // presence, privileged, execute, no snoop, relaxed ordering). The requester id is not part of
  // it: it changes only with a generation bump.
  static uint32_t key(unsigned fn, TlpKind kind, AddressType at, bool has_pasid, bool privileged, bool execute,
                      bool no_snoop, bool relaxed_ordering) {
    const uint32_t attrs = uint32_t(at) | uint32_t(has_pasid) << 2 | uint32_t(privileged) << 3 |
                           uint32_t(execute) << 4 | uint32_t(no_snoop) << 5 | uint32_t(relaxed_ordering) << 6;
    return (fn & 0xffu) | uint32_t(kind) << 8 | attrs << 16;
  }

  bool enabled() const { return m_enabled; }
  // Off: every DMA takes the hop-by-hop path (for comparisons; results are the same either way).
  void set_enabled(bool on) {
    m_enabled = on;
    if (!on) clear();
  }

  // The valid route for this key whose interval holds [addr, addr + len); null when none.
  const CachedRoute* find(uint32_t key, uint64_t addr, unsigned len) const {
    const uint64_t gen = route_generation();
    const uint64_t last = addr + len - 1;
    if (last < addr) return nullptr;  // wraps around the address space
    for (const CachedRoute& r : m_routes)
      if (r.generation == gen && r.key == key && addr >= r.lo && last <= r.hi) return &r;
    return nullptr;
  }
  // After a hop-by-hop run with `rec` attached: keeps the route if it may be replayed. Returns
  // whether it did.
  bool store(uint32_t key, const RouteRecorder& rec, const tlm::tlm_generic_payload& gp, const PcieExtension& ext);
  // Does what the hop-by-hop path would do for this request (see the top of this file).
  void replay(const CachedRoute& route, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay);

  void clear() { m_routes.clear(); }
  const std::vector<CachedRoute>& routes() const { return m_routes; }
  size_t size() const { return m_routes.size(); }
  // Statistics: DMAs served from the cache, routes stored, replays through a unit whose outcome
  // left the cached route after the unit (fault, output elsewhere, ...: continued as the full path).
  uint64_t hits() const { return m_hits; }
  uint64_t fills() const { return m_fills; }
  uint64_t unit_departures() const { return m_unit_departures; }

 private:
  void replay_through_unit(const CachedRoute& route, tlm::tlm_generic_payload& gp, PcieExtension& ext,
                           sc_core::sc_time& delay);
  std::vector<CachedRoute> m_routes;
  unsigned m_next_victim = 0;
  bool m_enabled = true;
  uint64_t m_hits = 0, m_fills = 0, m_unit_departures = 0;
};

}  // namespace pciesim
