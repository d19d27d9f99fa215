// One VT-d DMA-remapping unit (an ACPI DRHD) as a SystemC module at the root complex: every
// upstream request from the root ports and RCiEPs in its scope passes through it; P2P routed
// below the root complex never does. It translates DMA through its caches and the tables in
// DRAM, faults with the real reason codes into its fault recording registers, remaps MSI writes
// to the local APIC sink, answers ATS translation requests, and exposes its registers at its
// register window. Translation logic lives in walk.h (pure); this module adds caches and timing.
#pragma once

#include <memory>
#include <string>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <vector>

#include "iommu/dram_memory.h"
#include "iommu/local_apic_sink.h"
#include "iommu/vtd_caches.h"
#include "iommu/vtd_regs.h"
#include "iommu/vtd_types.h"
#include "pcie/route_cache.h"
#include "pcie/topology/spec.h"
#include "pciesim/tlp.h"

namespace pciesim {
class Dram;
}

namespace pciesim::vtd {

// Timing of the unit. Defaults are calibrated so a 4 KiB-page IOTLB miss whose paging-structure
// caches hit (two table reads) adds 214-227 ns, the pcie-bench figure for a Xeon E5-2620 v3
// (performance-facts D: 546 -> 760/773 ns median 64 B read latency); the DRAM read latency is the
// DRAM model's own.
struct UnitTiming {
  // IOTLB lookup on the request path; hidden in the round trip on real parts (no measurable
  // difference between 4 KiB and 2 MiB entries while they hit: performance-facts D).
  sc_core::sc_time iotlb_hit = sc_core::sc_time(2, sc_core::SC_NS);
  // A miss costs walk set-up (paging-structure cache lookups, which keep a page walker busy) plus
  // pipeline latency that does not, plus one DRAM read per table entry. Together: 220 ns for the
  // usual two reads, the measured 214-227 ns (performance-facts D, E5-2620 v3).
  sc_core::sc_time walk_setup = sc_core::sc_time(15, sc_core::SC_NS);
  sc_core::sc_time walk_pipeline = sc_core::sc_time(25, sc_core::SC_NS);
  // Concurrent page walks; further misses queue for a walker. With 15 ns + 2 x 90 ns per walk, four
  // walkers finish ~20.5 M walks/s: the 10.0 Gb/s floor of 64 B random reads over 64 MiB
  // (19.6 M misses/s) and the 22.1 Gb/s at 512 KiB (half of 43 M reads/s miss) in
  // performance-facts D, pcie-bench *-iommu-nosp/bw_dma_win_sweep_rd_rnd_64.txt.
  unsigned page_walkers = 4;
};

class RemappingUnit : public sc_core::sc_module, public RouteTranslator {
 public:
  tlm_utils::simple_target_socket<RemappingUnit> dma_in;      // from the root complex
  tlm_utils::simple_initiator_socket<RemappingUnit> mem_out;  // to the host bus
  tlm_utils::simple_target_socket<RemappingUnit> regs_in;     // register window (CPU MMIO)

  RemappingUnit(sc_core::sc_module_name name, const topo::IommuSpec& spec, Dram& dram, LocalApicSink& apic);

  const topo::IommuSpec& spec() const { return m_spec; }
  const Capabilities& caps() const { return m_caps; }
  RegisterFile& registers() { return *m_regs; }
  VtdCaches& caches() { return m_caches; }
  HopId hop() const { return m_hop; }
  uint64_t register_base() const { return m_spec.register_base; }
  uint32_t register_window() const { return m_regs->window_size(); }
  UnitTiming& timing() { return m_timing; }

  // Statistics
  uint64_t translations() const { return m_translations; }
  uint64_t faults() const { return m_faults; }
  uint64_t interrupts() const { return m_interrupts; }
  uint64_t table_reads() const { return m_memory.reads(); }

  // The interrupt range: writes there are interrupt requests (VT-d 3.15, 5.1).
  static constexpr uint64_t kInterruptBase = 0xfee00000ull, kInterruptSize = 0x100000ull;

  // The two halves of dma() (RouteTranslator, models/pcie/route_cache.h): everything up to
  // handing the request on at the translated address, and handing it on. The route cache's replay
  // of a route through this unit calls them as dma() does.
  //
  // A request whose bytes all lie in the page its translation covers (4 KiB, or the 2 MiB / 1 GiB
  // superpage of the IOTLB entry or walk) is translated once and handed on once. One that spans
  // more pages is what a device sends as separate TLPs (PCIe 6.0 2.2.7: no TLP crosses a 4 KiB
  // boundary), each translated on its own: begin_translation translates it page by page and
  // hands the pieces on itself (hand_on_pages), then returns false. See docs/vtd.md, "Requests
  // that span pages".
  bool begin_translation(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay,
                         uint64_t& output) override;
  void hand_on(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay, uint64_t output) override;

 private:
  void dma(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  void regs(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  void interrupt(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay);
  // Translates with the caches; adds the unit's latency (walker queueing included) to `delay`.
  // `found`: the legacy lookup begin_translation already made for this request (its hits are
  // counted; the walk uses it instead of looking up again), or null.
  Translation translate_cached(const Request& req, sc_core::sc_time& delay, const VtdCaches::LegacyLookup* found);
  // The rest of begin_translation once the request is known not to be an interrupt.
  bool finish_translation(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay,
                          uint64_t& output, const VtdCaches::LegacyLookup* found);
  // begin_translation's IOTLB hit `e` for a request that is not inside a 4 KiB or 2 MiB page:
  // true when it lies inside the entry's 1 GiB page (and does not run into the interrupt range),
  // else hands it on page by page (hand_on_pages) and returns false. Off the hit path.
  [[gnu::cold, gnu::noinline]] bool hit_beyond_small_page(tlm::tlm_generic_payload& gp, PcieExtension& ext,
                                                          sc_core::sc_time& delay, const IotlbEntry& e, uint16_t did);
  // One translation of the page holding req.addr, as begin_translation makes it (IOTLB hit probe,
  // else translate_cached), with its timing added to `delay`.
  Translation translate_page(const Request& req, sc_core::sc_time& delay);
  // A request that spans more than the page `first` (its first byte's translation, already
  // charged to `delay`; `arrival`: the delay the request reached the unit with) covers, or a
  // write that runs into the interrupt range: the rest is translated page by page and every
  // physically contiguous run handed on as a sub-payload; the request ends here (verdict,
  // response status, delay and tail set). See the definition.
  void hand_on_pages(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time arrival,
                     sc_core::sc_time& delay, Translation first);
  // Translation enabled with a legacy-mode root table: derived from the registers, re-read when
  // they have changed (RegisterFile::changes).
  bool legacy_translating() {
    if (m_regs->changes() != m_mode_changes) {
      m_mode_changes = m_regs->changes();
      m_legacy_translating = m_regs->translation_enabled() && !m_regs->root_table().scalable();
    }
    return m_legacy_translating;
  }
  void record_fault(const Request& req, const Translation& t);
  void deliver_unit_msi(uint64_t addr, uint32_t data);  // fault and invalidation events
  sc_core::sc_time walker_busy(unsigned reads) const;

  topo::IommuSpec m_spec;
  Capabilities m_caps;
  Dram& m_dram;
  LocalApicSink& m_apic;
  DramMemory m_memory;
  VtdCaches m_caches;
  std::unique_ptr<RegisterFile> m_regs;
  UnitTiming m_timing;
  std::vector<sc_core::sc_time> m_walker_free;  // when each page walker is free (absolute)
  HopId m_hop, m_apic_hop;
  uint64_t m_translations = 0, m_faults = 0, m_interrupts = 0;
  uint64_t m_mode_changes = ~0ull;  // RegisterFile::changes() when m_legacy_translating was derived
  bool m_legacy_translating = false;
};

// The capabilities a topology's unit has: its preset, with CAP/ECAP overrides.
Capabilities capabilities_for(const topo::IommuSpec& spec);
// Cache geometry from the topology (0 = the model's default).
VtdCacheConfig cache_config_for(const topo::IommuSpec& spec);

}  // namespace pciesim::vtd
