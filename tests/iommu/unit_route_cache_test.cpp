// Routes through a remapping unit in the route cache (models/pcie/route_cache.h) must be
// invisible: two identical subtrees (A_* and B_*: root port, two switch levels, an endpoint),
// each covered by a remapping unit of its own (A_DMAR, B_DMAR) programmed identically for its
// subtree's endpoint; A's endpoint uses the route cache, B's takes the hop-by-hop path. The same
// DMA sequence from both must give the same delays, verdicts, fault reasons, hops, iommu_* record,
// data, DRAM counters, link statistics and unit statistics (translations, faults, table reads,
// IOTLB hits and misses, fault recording registers): IOTLB hits, misses, faults, a stale
// translation until its invalidation, TE off and on, outputs the host bus sends elsewhere,
// interrupt requests, and requests spanning pages the unit translates page by page.
#include <algorithm>
#include <cstring>
#include <sstream>

#include "devices/dram.h"
#include "iommu/vtd_programmer.h"
#include "pcie/component.h"
#include "pcie/fabric_fixture.h"
#include "pcie/link.h"
#include "pcie/route_cache.h"

using namespace pciesim;
using namespace pciesim::test;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;
using sc_core::sc_time;

namespace {

std::string subtree(const std::string& x, int device) {
  std::ostringstream y;
  y << R"(
      - name: )" << x << R"(RP
        device: )" << device << R"(
        link: {gen: 4, width: 16}
        below:
          switch:
            name: )" << x << R"(SW0
            ports:
              - name: )" << x << R"(DP0
                link: {gen: 4, width: 16}
                below:
                  switch:
                    name: )" << x << R"(SW1
                    ports:
                      - name: )" << x << R"(DP1
                        link: {gen: 3, width: 8, mps: 256, mrrs: 512}
                        below:
                          endpoint:
                            name: )" << x << R"(EP
                            functions: [{function: 0, bars: [{index: 0, size: 1MiB, type: mem64}]}]
)";
  return y.str();
}

// DRAM from 0 to 8 GiB: the root complex's ECAM and MMIO32 ranges shadow it below 4 GiB.
std::string topology() {
  return R"(
name: unit-route-cache-twins
memory: {base: 0x0, size: 8GiB}
root_complexes:
  - name: rc0
    ecam:   {base: 0xe0000000, size: 256MiB}
    mmio32: {base: 0xc0000000, size: 512MiB}
    mmio64: {base: 0x10000000000, size: 64GiB}
    root_ports:)" +
         subtree("A_", 1) + subtree("B_", 2) + R"(
iommus:
  - name: A_DMAR
    preset: server
    scope: [A_RP]
  - name: B_DMAR
    preset: server
    scope: [B_RP]
)";
}

constexpr uint64_t kRegion[2] = {0x100000000, 0x180000000};  // each twin's buffer (physical)
constexpr uint64_t kRegionBytes = 0x400000;
constexpr uint64_t kTables[2] = {0x20000000, 0x30000000};  // each unit's kernel memory
constexpr uint64_t kIova = 0x40000000;                      // 4 KiB pages over the region
constexpr uint64_t kIova2M = 0x80000000;                    // 2 MiB pages over the region
constexpr uint64_t kHighIova = 0xfe000000;                  // near the interrupt range
constexpr uint64_t kHoleIova = 0x50000000;                  // mapped into the PCI hole (no DRAM)
constexpr uint64_t kBeyondIova = 0x50001000;                // mapped beyond DRAM
constexpr uint64_t kReadOnlyIova = 0x50002000;
// Four 4 KiB IOVA pages: two mapped to non-adjacent physical pages, one not mapped, one mapped.
constexpr uint64_t kSplitIova = 0x60000000;
constexpr uint64_t kSplitPages[4] = {0x30000, 0x38000, 0, 0x34000};  // offsets into the region; [2] unmapped

std::string twin(int t, const std::string& base) { return (t ? "B_" : "A_") + base; }
std::string normalised(std::string name) {
  for (const char* p : {"A_", "B_"})
    for (size_t at = name.find(p); at != std::string::npos; at = name.find(p, at)) name.replace(at, 2, "X_");
  return name;
}
std::string hop_name(HopId h) { return h == kNoHop ? "-" : normalised(hops().name(h)); }

struct Result {
  Verdict verdict;
  std::vector<std::string> path;
  sc_time delay;
  std::vector<uint8_t> data;
  tlm::tlm_response_status status = tlm::TLM_INCOMPLETE_RESPONSE;
  bool iommu_checked = false;
  // Addresses in the twin's region are relative to it (the twins' buffers differ).
  int64_t iommu_output_offset = 0;
  int64_t iommu_input = 0;
  uint16_t iommu_domain = 0;
  std::string iommu_unit;
  uint64_t dram_reads = 0, dram_writes = 0;

  std::string describe() const {
    std::ostringstream s;
    s << to_string(verdict.outcome) << " at " << hop_name(verdict.port) << " reason " << verdict.fault_reason << ", "
      << delay << ", path";
    for (const auto& h : path) s << " " << h;
    return s.str();
  }
};

void expect_same(const Result& a, const Result& b, const std::string& what) {
  SCOPED_TRACE(what + "\n  cached:     " + a.describe() + "\n  hop-by-hop: " + b.describe());
  EXPECT_EQ(a.verdict.outcome, b.verdict.outcome);
  EXPECT_EQ(hop_name(a.verdict.port), hop_name(b.verdict.port));
  EXPECT_EQ(a.verdict.fault_reason, b.verdict.fault_reason);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.delay, b.delay);
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.iommu_checked, b.iommu_checked);
  EXPECT_EQ(a.iommu_output_offset, b.iommu_output_offset);
  EXPECT_EQ(a.iommu_input, b.iommu_input);
  EXPECT_EQ(a.iommu_domain, b.iommu_domain);
  EXPECT_EQ(a.iommu_unit, b.iommu_unit);
  EXPECT_EQ(a.dram_reads, b.dram_reads);
  EXPECT_EQ(a.dram_writes, b.dram_writes);
}

struct UnitTwins : ::testing::Test {
  std::unique_ptr<Fabric> f = make_fabric(topology());
  std::unique_ptr<vtd::VtdProgrammer> drv[2];
  uint8_t fill = 1;

  void SetUp() override {
    for (int t = 0; t < 2; ++t) {
      bus_master(*f, twin(t, "EP"));
      drv[t] = std::make_unique<vtd::VtdProgrammer>(*f, twin(t, "DMAR"), kTables[t], 0x1000000);
      vtd::SecondLevelBuilder& dom = drv[t]->attach(fn(*f, twin(t, "EP")).bdf(), 5, /*tt*/ 1);
      ASSERT_TRUE(dom.map_range(kIova, kRegion[t], kRegionBytes));
      for (uint64_t o = 0; o < kRegionBytes; o += 2ull << 20) ASSERT_TRUE(dom.map(kIova2M + o, kRegion[t] + o, 2ull << 20));
      ASSERT_TRUE(dom.map(kHighIova, kRegion[t] + 0x10000, 4096));
      ASSERT_TRUE(dom.map(kHoleIova, 0xd0000000, 4096));
      ASSERT_TRUE(dom.map(kBeyondIova, 0x200000000, 4096));
      vtd::SlMapping ro;
      ro.write = false;
      ASSERT_TRUE(dom.map(kReadOnlyIova, kRegion[t] + 0x20000, 4096, ro));
      for (int p : {0, 1, 3}) ASSERT_TRUE(dom.map(kSplitIova + 0x1000 * p, kRegion[t] + kSplitPages[p], 4096));
      drv[t]->enable_queue();
    }
    fn(*f, "B_EP").endpoint->route_cache().set_enabled(false);
    f->settle();
  }
  static int64_t relative(int t, uint64_t a) {
    return a >= kRegion[t] && a - kRegion[t] < kRegionBytes ? int64_t(a - kRegion[t]) : int64_t(a);
  }
  vtd::RemappingUnit& unit(int t) { return *f->iommu(twin(t, "DMAR")); }
  RouteCache& cache(int t) { return fn(*f, twin(t, "EP")).endpoint->route_cache(); }

  Result issue(int t, TlpKind kind, uint64_t addr, unsigned len, const DmaOptions& opt, sc_time delay_in,
               uint8_t seed) {
    const FunctionInfo& src = fn(*f, twin(t, "EP"));
    Result r;
    r.data.resize(len);
    for (unsigned i = 0; i < len; ++i) r.data[i] = static_cast<uint8_t>(seed + 3 * i);
    const uint64_t reads = f->dram().reads(), writes = f->dram().writes();
    r.delay = delay_in;
    const PcieExtension& e =
        src.endpoint->dma(src.function_number, kind, addr, len ? r.data.data() : nullptr, len, r.delay, opt);
    r.verdict = e.final_verdict();
    for (unsigned i = 0; i < e.hop_count; ++i) r.path.push_back(hop_name(e.hops[i]));
    r.status = src.endpoint->last_payload().get_response_status();
    r.iommu_checked = e.iommu_checked;
    r.iommu_input = relative(t, e.iommu_input);
    r.iommu_output_offset = relative(t, e.iommu_output);
    if (opt.at == AddressType::TranslationRequest && len >= 8) {  // the completion holds the address
      uint64_t entry = 0;
      std::memcpy(&entry, r.data.data(), 8);
      entry = uint64_t(relative(t, entry & ~0xfffull)) | (entry & 0xfff);
      std::memcpy(r.data.data(), &entry, 8);
    }
    r.iommu_domain = e.iommu_domain;
    r.iommu_unit = hop_name(e.iommu_unit);
    r.dram_reads = f->dram().reads() - reads;
    r.dram_writes = f->dram().writes() - writes;
    return r;
  }
  // The same DMA from both twins at the same simulated time; `iova` is the same for both unless
  // `physical` (TE off), where it is an offset into each twin's region.
  Result both(TlpKind kind, uint64_t iova, unsigned len, const DmaOptions& opt = {}, sc_time delay_in = SC_ZERO_TIME,
              bool physical = false) {
    const uint8_t seed = fill++;
    Result a = issue(0, kind, physical ? kRegion[0] + iova : iova, len, opt, delay_in, seed);
    Result b = issue(1, kind, physical ? kRegion[1] + iova : iova, len, opt, delay_in, seed);
    expect_same(a, b, std::string(to_string(kind)) + " at 0x" + to_hex(iova) + " len " + std::to_string(len));
    return a;
  }
  static std::string to_hex(uint64_t v) {
    std::ostringstream s;
    s << std::hex << v;
    return s.str();
  }

  void expect_same_units(const std::string& when) {
    SCOPED_TRACE(when);
    vtd::RemappingUnit &a = unit(0), &b = unit(1);
    EXPECT_EQ(a.translations(), b.translations());
    EXPECT_EQ(a.faults(), b.faults());
    EXPECT_EQ(a.interrupts(), b.interrupts());
    EXPECT_EQ(a.table_reads(), b.table_reads());
    EXPECT_EQ(a.caches().iotlb_stats().hits, b.caches().iotlb_stats().hits);
    EXPECT_EQ(a.caches().iotlb_stats().misses, b.caches().iotlb_stats().misses);
    EXPECT_EQ(a.caches().iotlb_stats().fills, b.caches().iotlb_stats().fills);
    EXPECT_EQ(a.caches().iotlb_occupancy(), b.caches().iotlb_occupancy());
    EXPECT_EQ(drv[0]->read(vtd::reg::kFsts), drv[1]->read(vtd::reg::kFsts));
    const unsigned fro = a.caps().fro();
    for (unsigned i = 0; i < a.caps().nfr() && i < 4; ++i) {
      // the source ids differ by the twins' bus numbers: compare the fault reason, type and address
      const uint64_t lo_a = drv[0]->read(fro + 16 * i, 8), lo_b = drv[1]->read(fro + 16 * i, 8);
      const uint64_t hi_a = drv[0]->read(fro + 16 * i + 8, 8), hi_b = drv[1]->read(fro + 16 * i + 8, 8);
      EXPECT_EQ(lo_a, lo_b) << "FRCD " << i;
      EXPECT_EQ(hi_a & ~0xffffull, hi_b & ~0xffffull) << "FRCD " << i;
      EXPECT_EQ(hi_a & 0xff, hi_b & 0xff) << "FRCD " << i << " (devfn)";
    }
  }
  void expect_same_links(const std::string& when) {
    SCOPED_TRACE(when);
    for (const char* name : {"SW0", "SW1", "EP"}) {
      auto* ca = dynamic_cast<Component*>(sc_core::sc_find_object(twin(0, name).c_str()));
      auto* cb = dynamic_cast<Component*>(sc_core::sc_find_object(twin(1, name).c_str()));
      ASSERT_TRUE(ca && cb) << name;
      ASSERT_EQ(ca->port_count(), cb->port_count());
      for (int p = 0; p < ca->port_count(); ++p) {
        Link *la = ca->port_link(p), *lb = cb->port_link(p);
        ASSERT_EQ(!la, !lb);
        if (!la) continue;
        for (LinkDir d : {LinkDir::Up, LinkDir::Down}) {
          SCOPED_TRACE(std::string(name) + " port " + std::to_string(p) + " " + to_string(d));
          EXPECT_EQ(la->stats(d).tlps, lb->stats(d).tlps);
          EXPECT_EQ(la->stats(d).tlp_bytes, lb->stats(d).tlp_bytes);
          EXPECT_EQ(la->stats(d).payload_bytes, lb->stats(d).payload_bytes);
          EXPECT_EQ(la->stats(d).dllps, lb->stats(d).dllps);
          EXPECT_EQ(la->busy_until(d), lb->busy_until(d));
        }
      }
    }
  }
  // The twin's DRAM at `offset` into its region.
  std::vector<uint8_t> region(int t, uint64_t offset, size_t len) {
    std::vector<uint8_t> v(len);
    EXPECT_TRUE(f->dram().read(kRegion[t] + offset, v.data(), len));
    return v;
  }
  static std::vector<uint8_t> slice(const std::vector<uint8_t>& v, size_t from, size_t n) {
    return {v.begin() + from, v.begin() + from + n};
  }
  void expect_same_memory() {
    std::vector<uint8_t> a(kRegionBytes), b(kRegionBytes);
    ASSERT_TRUE(f->dram().read(kRegion[0], a.data(), a.size()));
    ASSERT_TRUE(f->dram().read(kRegion[1], b.data(), b.size()));
    EXPECT_TRUE(a == b) << "the twins' buffers differ";
  }
  // A mix of hits, misses (spread over many 4 KiB pages), 2 MiB pages, reads, atomics, bursts.
  void traffic(int round) {
    DmaOptions off;
    off.record_path = false;
    for (uint64_t o = 0; o < 2048; o += 64) both(TlpKind::MemWrite, kIova + o, 64, o % 128 ? off : DmaOptions{});
    for (uint64_t page = 0; page < 48; ++page)  // misses: a new page each time
      both(TlpKind::MemWrite, kIova + ((page * 37 + round * 11) % 1024) * 4096 + 64 * (page % 64), 64, off);
    for (uint64_t page = 0; page < 16; ++page) both(TlpKind::MemRead, kIova + page * 8192 + 128, 64);
    both(TlpKind::MemRead, kIova + 0x3f0, 300, off, sc_time(3, SC_NS));
    both(TlpKind::MemWrite, kIova + 0x5002, 9000, {}, sc_time(7, SC_NS));
    both(TlpKind::MemRead, kIova + 0xfe0, 64);  // crosses a 4 KiB page: translated page by page
    both(TlpKind::AtomicOp, kIova + 0x800, 8);
    for (uint64_t o = 0; o < 4 * (2ull << 20); o += 0x81040) both(TlpKind::MemWrite, kIova2M + o % kRegionBytes, 64);
  }
};

}  // namespace

TEST_F(UnitTwins, SameResultsThroughTheUnitWithAndWithoutTheCache) {
  // TE off: the units pass DMA through untranslated.
  for (uint64_t o = 0; o < 1024; o += 64) {
    Result r = both(TlpKind::MemWrite, o, 64, {}, SC_ZERO_TIME, true);
    EXPECT_EQ(r.verdict.outcome, Outcome::Delivered);
    EXPECT_TRUE(r.iommu_checked);
  }
  for (int t = 0; t < 2; ++t) {
    drv[t]->set_root_table();
    drv[t]->enable_translation();
  }
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    traffic(round);
    // Faults between hits, with the route cached for the key: an unmapped IOVA, a write to a
    // read-only page, a read of it (fine), outputs outside DRAM.
    both(TlpKind::MemWrite, kIova + 0x100, 64);
    Result unmapped = both(TlpKind::MemWrite, kIova + kRegionBytes + 0x40, 64);
    EXPECT_EQ(unmapped.verdict.outcome, Outcome::IommuFault);
    EXPECT_EQ(hop_name(unmapped.verdict.port), "X_DMAR");
    Result unmapped_read = both(TlpKind::MemRead, kIova + kRegionBytes + 0x80, 64);
    EXPECT_EQ(unmapped_read.verdict.outcome, Outcome::IommuFault);
    EXPECT_EQ(unmapped_read.data, std::vector<uint8_t>(64, 0xff));
    EXPECT_EQ(both(TlpKind::MemWrite, kReadOnlyIova, 64).verdict.outcome, Outcome::IommuFault);
    EXPECT_EQ(both(TlpKind::MemRead, kReadOnlyIova, 64).verdict.outcome, Outcome::Delivered);
    EXPECT_EQ(both(TlpKind::MemWrite, kHoleIova, 64).verdict.outcome, Outcome::UnsupportedRequest);
    EXPECT_EQ(both(TlpKind::MemRead, kHoleIova + 0x40, 64).verdict.outcome, Outcome::UnsupportedRequest);
    EXPECT_EQ(both(TlpKind::MemWrite, kBeyondIova, 64).verdict.outcome, Outcome::UnsupportedRequest);
    both(TlpKind::MemWrite, kIova + 0x140, 64);
    // Near the interrupt range: a route for a mapped page up there, then an interrupt request.
    EXPECT_EQ(both(TlpKind::MemWrite, kHighIova, 64).verdict.outcome, Outcome::Delivered);
    EXPECT_EQ(both(TlpKind::MemWrite, kHighIova + 0x40, 64).verdict.outcome, Outcome::Delivered);
    both(TlpKind::MemWrite, 0xfee00000, 4);
    // ATS: translated requests pass (TT 01); a translation request completes at the unit.
    DmaOptions translated;
    translated.at = AddressType::Translated;
    EXPECT_EQ(both(TlpKind::MemWrite, 0x3000, 64, translated, SC_ZERO_TIME, true).verdict.outcome,
              Outcome::Delivered);
    DmaOptions request;
    request.at = AddressType::TranslationRequest;
    both(TlpKind::MemRead, kIova + 0x2000, 8, request);
    both(TlpKind::MemRead, kIova + 0x3000, 8, request);
    sc_core::sc_start(sc_time(200 + 150 * round, SC_NS));
  }
  expect_same_units("after the sequence");
  expect_same_links("after the sequence");
  expect_same_memory();
  EXPECT_GT(cache(0).hits(), 300u);
  EXPECT_GT(cache(0).unit_departures(), 10u);  // faults and outputs elsewhere left cached routes
  EXPECT_EQ(cache(1).hits() + cache(1).fills(), 0u);
  EXPECT_GT(unit(0).faults(), 6u);
  EXPECT_GT(unit(0).caches().iotlb_stats().misses, 100u);
  EXPECT_GT(unit(0).caches().iotlb_stats().hits, 200u);
}

TEST_F(UnitTwins, StaleTranslationUntilInvalidationThenTeOffAndOn) {
  for (int t = 0; t < 2; ++t) {
    drv[t]->set_root_table();
    drv[t]->enable_translation();
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(both(TlpKind::MemWrite, kIova + 64 * i, 64).verdict.outcome, Outcome::Delivered);
  const uint64_t hits = cache(0).hits();
  EXPECT_EQ(hits, 3u);
  // The page moves in the tables; nobody tells the IOTLB: both keep writing to the old page.
  for (int t = 0; t < 2; ++t) {
    vtd::SecondLevelBuilder& dom = drv[t]->attach(fn(*f, twin(t, "EP")).bdf(), 5, 1);
    ASSERT_TRUE(dom.unmap(kIova, 4096));
    ASSERT_TRUE(dom.map(kIova, kRegion[t] + 0x300000, 4096));
  }
  Result stale = both(TlpKind::MemWrite, kIova + 0x200, 64);
  EXPECT_EQ(stale.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(stale.iommu_output_offset, 0x200);
  EXPECT_EQ(cache(0).hits(), hits + 1);  // served from the route cache, through the stale IOTLB entry
  for (int t = 0; t < 2; ++t) drv[t]->invalidate_page(5, kIova);
  f->settle();
  Result fresh = both(TlpKind::MemWrite, kIova + 0x240, 64);
  EXPECT_EQ(fresh.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(fresh.iommu_output_offset, 0x300240);
  both(TlpKind::MemRead, kIova + 0x240, 64);
  // TE off: pass-through (physical addresses); on again: translated.
  for (int t = 0; t < 2; ++t) drv[t]->command(vtd::gcmd::kTe, false);
  for (uint64_t o = 0; o < 256; o += 64) {
    Result r = both(TlpKind::MemWrite, 0x1000 + o, 64, {}, SC_ZERO_TIME, true);
    EXPECT_EQ(r.verdict.outcome, Outcome::Delivered);
    EXPECT_EQ(r.iommu_output_offset, int64_t(0x1000 + o));
  }
  // An IOVA that was translated is now a physical address (0x40000000: DRAM, not the buffer).
  EXPECT_EQ(both(TlpKind::MemRead, kIova + 0x280, 64).iommu_output_offset, int64_t(kIova + 0x280));
  for (int t = 0; t < 2; ++t) drv[t]->command(vtd::gcmd::kTe, true);
  for (uint64_t o = 0; o < 256; o += 64) {
    Result r = both(TlpKind::MemWrite, kIova + 0x1000 + o, 64);
    EXPECT_EQ(r.verdict.outcome, Outcome::Delivered);
    EXPECT_EQ(r.iommu_output_offset, int64_t(0x1000 + o));
  }
  expect_same_units("after TE off and on");
  expect_same_links("after TE off and on");
  expect_same_memory();
}

TEST_F(UnitTwins, TeOffUnitRouteIsRecordedAsAUnitRoute) {
  // Even pass-through keeps the unit in the route: the hop, the iommu_* record and TE read live.
  Result first = both(TlpKind::MemWrite, 0x0, 64, {}, SC_ZERO_TIME, true);
  Result second = both(TlpKind::MemWrite, 0x40, 64, {}, SC_ZERO_TIME, true);
  ASSERT_EQ(cache(0).size(), 1u);
  EXPECT_TRUE(cache(0).routes().front().has_unit);
  EXPECT_EQ(cache(0).hits(), 1u);
  EXPECT_EQ(second.path, first.path);
  EXPECT_NE(std::find(second.path.begin(), second.path.end(), "X_DMAR"), second.path.end());
  EXPECT_EQ(second.iommu_unit, "X_DMAR");
}

TEST_F(UnitTwins, MultiPageRequestsAgreeWithAndWithoutTheCache) {
  // A request spanning pages finds the route cached for its key (the decisions before the unit
  // hold for the whole IOVA range), and the unit translates it page by page and hands the pieces
  // on itself: the replay goes on from the unit as the full path does, with the same results.
  for (int t = 0; t < 2; ++t) {
    drv[t]->set_root_table();
    drv[t]->enable_translation();
  }
  DmaOptions off;
  off.record_path = false;
  both(TlpKind::MemWrite, kSplitIova + 0x100, 64);
  both(TlpKind::MemRead, kSplitIova + 0x100, 64);
  both(TlpKind::MemWrite, kSplitIova + 0x140, 64, off);
  const uint64_t hits = cache(0).hits(), departures = cache(0).unit_departures();
  ASSERT_GT(hits, 0u);

  // Across two pages that map to non-adjacent physical pages.
  Result w = both(TlpKind::MemWrite, kSplitIova + 0xf80, 256);
  EXPECT_EQ(w.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(w.iommu_output_offset, int64_t(kSplitPages[0] + 0xf80));
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ(region(t, kSplitPages[0] + 0xf80, 128), slice(w.data, 0, 128)) << t;
    EXPECT_EQ(region(t, kSplitPages[1], 128), slice(w.data, 128, 128)) << t;
  }
  Result r = both(TlpKind::MemRead, kSplitIova + 0xf00, 512, {}, sc_time(5, SC_NS));
  EXPECT_EQ(r.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(slice(r.data, 0x80, 256), w.data);
  EXPECT_EQ(slice(r.data, 0x100, 0x100), region(0, kSplitPages[1], 0x100));
  both(TlpKind::MemRead, kSplitIova + 0x123, 4000, off);  // an edu transfer at an unaligned IOVA
  both(TlpKind::MemWrite, kSplitIova + 0x7f0, 0x1000, off, sc_time(2, SC_NS));

  // Into the unmapped page: faults there, the first page's bytes written / read.
  Result wf = both(TlpKind::MemWrite, kSplitIova + 0x1f00, 0x200);
  EXPECT_EQ(wf.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(region(0, kSplitPages[1] + 0xf00, 0x100), slice(wf.data, 0, 0x100));
  expect_same_units("after a write into the unmapped page");
  for (int t = 0; t < 2; ++t) {  // the one fault recording register: clear it for the next
    drv[t]->write(unit(t).caps().fro() + 12, 0x80000000u);
    drv[t]->write(vtd::reg::kFsts, 0x3);
  }
  Result rf = both(TlpKind::MemRead, kSplitIova + 0x1f00, 0x200);
  EXPECT_EQ(rf.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(slice(rf.data, 0, 0x100), region(0, kSplitPages[1] + 0xf00, 0x100));
  EXPECT_EQ(slice(rf.data, 0x100, 0x100), std::vector<uint8_t>(0x100, 0xff));
  // Across the unmapped page into the next mapped one: the posted write goes on there.
  Result wff = both(TlpKind::MemWrite, kSplitIova + 0x1f80, 0x1100);
  EXPECT_EQ(wff.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(region(0, kSplitPages[3], 0x80), slice(wff.data, 0x1080, 0x80));
  // A 2 MiB page covers a crossing of 4 KiB pages; physically contiguous 4 KiB pages merge.
  both(TlpKind::MemWrite, kIova2M + 0x1ff00, 0x300);
  both(TlpKind::MemRead, kIova + 0x7f00, 0x2000);
  both(TlpKind::MemWrite, kIova + 0x10f00, 0x2000, off);

  expect_same_units("after the multi-page requests");
  expect_same_links("after the multi-page requests");
  expect_same_memory();
  EXPECT_GT(cache(0).hits(), hits + 8);
  EXPECT_GT(cache(0).unit_departures(), departures + 8);  // every multi-page request left the route at the unit
  EXPECT_EQ(cache(1).hits() + cache(1).fills(), 0u);
}
