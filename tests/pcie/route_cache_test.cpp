// The route cache (models/pcie/route_cache.h) must be invisible: one fabric holds two identical
// subtrees (A_* and B_*, each root port with the same switch stack, endpoints, PCIe-to-PCI bridge
// and an RCiEP); A's endpoints use the cache, B's take the hop-by-hop path, and the same DMA
// sequence from both must give the same delays, verdicts, hop lists, requester ids, data in DRAM,
// DRAM counters and link statistics. The invalidation tests change configuration the way
// software does (config writes through ECAM) and require the next DMA to see the new outcome.
#include <cstring>
#include <sstream>

#include <tlm_utils/simple_target_socket.h>

#include "devices/dram.h"
#include "fabric_fixture.h"
#include "pcie/component.h"
#include "pcie/link.h"
#include "pcie/root_complex.h"
#include "pcie/route_cache.h"

using namespace pciesim;
using namespace pciesim::test;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;
using sc_core::sc_time;

namespace {

// One subtree below root port `device`, every name prefixed with `x` ("A_" or "B_").
//   X_RP ── X_SW0 ─┬─ X_DP0 ── X_SW1 ─┬─ X_DP1 ── X_EP   (f0: 1 MiB 64-bit BAR, f1: 64 KiB BAR)
//                  │                  └─ X_DP2 ── X_PEER
//                  └─ X_DP3 ── X_BR (PCIe-to-PCI bridge) ── X_PCI (conventional, device 1)
// X_DP1's link is Gen2 x32 with MPS 4096, where ACK and UpdateFC intervals differ (237 / 327 B).
std::string subtree(const std::string& x, int device) {
  std::ostringstream y;
  y << R"(
      - name: )" << x << R"(RP
        device: )" << device << R"(
        link: {gen: 4, width: 16}
        acs: {capability: all, control: none, egress_vector_bits: 8}
        below:
          switch:
            name: )" << x << R"(SW0
            ports:
              - name: )" << x << R"(DP0
                device: 0
                link: {gen: 4, width: 16}
                acs: {capability: all, control: none, egress_vector_bits: 8}
                below:
                  switch:
                    name: )" << x << R"(SW1
                    ports:
                      - name: )" << x << R"(DP1
                        device: 0
                        link: {gen: 2, width: 32, mps: 4096}
                        acs: {capability: all, control: none, egress_vector_bits: 8}
                        below:
                          endpoint:
                            name: )" << x << R"(EP
                            functions:
                              - {function: 0, bars: [{index: 0, size: 1MiB, type: mem64, prefetchable: true}]}
                              - {function: 1, bars: [{index: 0, size: 64KiB}]}
                      - name: )" << x << R"(DP2
                        device: 1
                        link: {gen: 4, width: 8}
                        acs: {capability: all, control: none, egress_vector_bits: 8}
                        below:
                          endpoint:
                            name: )" << x << R"(PEER
                            functions: [{function: 0, bars: [{index: 0, size: 64KiB}]}]
              - name: )" << x << R"(DP3
                device: 1
                link: {gen: 3, width: 4, mps: 128, mrrs: 256}
                below:
                  pci_bridge:
                    name: )" << x << R"(BR
                    devices:
                      - name: )" << x << R"(PCI
                        device: 1
                        functions: [{function: 0, bars: [{index: 0, size: 64KiB}]}]
)";
  return y.str();
}

// DRAM from 0 to 8 GiB: below 4 GiB the root complex's ECAM and MMIO32 ranges shadow it
// (0xc0000000..0xefffffff) and the interrupt range sits at 0xfee00000.
std::string twin_topology() {
  return R"(
name: route-cache-twins
memory: {base: 0x0, size: 8GiB}
root_complexes:
  - name: rc0
    p2p: true
    ecam:   {base: 0xe0000000, size: 256MiB}
    mmio32: {base: 0xc0000000, size: 512MiB}
    mmio64: {base: 0x10000000000, size: 64GiB}
    root_ports:)" +
         subtree("A_", 1) + subtree("B_", 2) + R"(
    integrated:
      - endpoint:
          name: A_INT
          device: 8
          functions: [{function: 0, bars: [{index: 0, size: 16KiB, type: mem64}]}]
      - endpoint:
          name: B_INT
          device: 9
          functions: [{function: 0, bars: [{index: 0, size: 16KiB, type: mem64}]}]
)";
}

// Where each twin's DMA lands: the same offsets in regions of its own, on the same side of 4 GiB.
constexpr uint64_t kLowRegion[2] = {0x10000000, 0x20000000};      // 3 DW headers
constexpr uint64_t kHighRegion[2] = {0x100000000, 0x180000000};   // 4 DW headers
constexpr uint64_t kRegionBytes = 0x100000;                        // compared after the sequence

std::string twin_name(int twin, const std::string& base) { return (twin ? "B_" : "A_") + base; }

// Hop and function names with the twin prefix taken out.
std::string normalised(std::string name) {
  for (const char* p : {"A_", "B_"})
    for (size_t at = name.find(p); at != std::string::npos; at = name.find(p, at)) name.replace(at, 2, "X_");
  return name;
}

struct Result {
  Verdict final_verdict, terminal;
  AcsBit redirect_bit = AcsBit::None;
  std::vector<std::string> path;
  bool truncated = false;
  int requester_bus_offset = 0;  // requester on the wire, relative to the source function's id
  int requester_devfn_offset = 0;
  sc_time delay;
  std::vector<uint8_t> data;
  tlm::tlm_response_status status = tlm::TLM_INCOMPLETE_RESPONSE;
  bool dmi_allowed = false;
  uint64_t dram_reads = 0, dram_writes = 0;  // what this DMA added to the DRAM's counters
};

// One DMA from `source` (a function name), without settling the fabric first: both twins issue
// at the same simulated time.
Result issue(Fabric& f, const std::string& source, TlpKind kind, uint64_t addr, unsigned len, const DmaOptions& opt,
             sc_time delay_in, uint8_t fill) {
  const FunctionInfo& src = fn(f, source);
  Result r;
  r.data.resize(len);
  for (unsigned i = 0; i < len; ++i) r.data[i] = static_cast<uint8_t>(fill + 7 * i);
  const uint64_t reads = f.dram().reads(), writes = f.dram().writes();
  r.delay = delay_in;
  const PcieExtension& e =
      src.endpoint->dma(src.function_number, kind, addr, len ? r.data.data() : nullptr, len, r.delay, opt);
  r.final_verdict = e.final_verdict();
  r.terminal = e.verdict;
  r.redirect_bit = e.redirect_bit;
  for (unsigned i = 0; i < e.hop_count; ++i) r.path.push_back(normalised(hops().name(e.hops[i])));
  r.truncated = e.hops_truncated;
  r.requester_bus_offset = int(e.requester.bus) - int(src.bdf().bus);
  r.requester_devfn_offset = int(e.requester.devfn) - int(src.bdf().devfn);
  r.status = src.endpoint->last_payload().get_response_status();
  r.dmi_allowed = src.endpoint->last_payload().is_dmi_allowed();
  r.dram_reads = f.dram().reads() - reads;
  r.dram_writes = f.dram().writes() - writes;
  return r;
}

std::string port_name(HopId h) { return h == kNoHop ? "-" : normalised(hops().name(h)); }

std::string describe(const Result& r) {
  std::ostringstream s;
  s << to_string(r.final_verdict.outcome) << " at " << port_name(r.final_verdict.port) << ", " << r.delay << ", path";
  for (const auto& h : r.path) s << " " << h;
  return s.str();
}

void expect_same(const Result& a, const Result& b, const std::string& what) {
  SCOPED_TRACE(what + "\n  cached:    " + describe(a) + "\n  hop-by-hop: " + describe(b));
  EXPECT_EQ(a.final_verdict.outcome, b.final_verdict.outcome);
  EXPECT_EQ(a.final_verdict.acs_bit, b.final_verdict.acs_bit);
  EXPECT_EQ(port_name(a.final_verdict.port), port_name(b.final_verdict.port));
  EXPECT_EQ(a.terminal.outcome, b.terminal.outcome);
  EXPECT_EQ(port_name(a.terminal.port), port_name(b.terminal.port));
  EXPECT_EQ(a.redirect_bit, b.redirect_bit);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.truncated, b.truncated);
  EXPECT_EQ(a.requester_bus_offset, b.requester_bus_offset);
  EXPECT_EQ(a.requester_devfn_offset, b.requester_devfn_offset);
  EXPECT_EQ(a.delay, b.delay);
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.dmi_allowed, b.dmi_allowed);
  EXPECT_EQ(a.dram_reads, b.dram_reads);
  EXPECT_EQ(a.dram_writes, b.dram_writes);
}

// Every link of a twin's subtree, in a fixed order (found by module name).
std::vector<Link*> subtree_links(int twin) {
  std::vector<Link*> links;
  for (const char* name : {"SW0", "SW1", "EP", "PEER", "BR", "PCI"}) {
    auto* c = dynamic_cast<Component*>(sc_core::sc_find_object(twin_name(twin, name).c_str()));
    EXPECT_NE(c, nullptr) << twin_name(twin, name);
    if (!c) continue;
    for (int p = 0; p < c->port_count(); ++p) {
      Link* l = c->port_link(p);
      if (l && std::find(links.begin(), links.end(), l) == links.end()) links.push_back(l);
    }
  }
  return links;
}

void expect_same_links(const std::string& when) {
  SCOPED_TRACE(when);
  const std::vector<Link*> a = subtree_links(0), b = subtree_links(1);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), 5u);  // RP-SW0, SW0-SW1, SW0-BR, SW1-EP, SW1-PEER (none on the conventional bus)
  for (size_t i = 0; i < a.size(); ++i) {
    for (LinkDir d : {LinkDir::Up, LinkDir::Down}) {
      SCOPED_TRACE("link " + std::to_string(i) + " " + to_string(d));
      const LinkDirStats &x = a[i]->stats(d), &y = b[i]->stats(d);
      EXPECT_EQ(x.tlps, y.tlps);
      EXPECT_EQ(x.tlp_bytes, y.tlp_bytes);
      EXPECT_EQ(x.payload_bytes, y.payload_bytes);
      EXPECT_EQ(x.dllps, y.dllps);
      EXPECT_EQ(x.dllp_bytes, y.dllp_bytes);
      EXPECT_EQ(x.skp_bytes, y.skp_bytes);
      EXPECT_EQ(a[i]->busy_until(d), b[i]->busy_until(d));
    }
  }
}

// The twin fabric, enumerated, with bus mastering on everywhere DMA starts and B's cache off.
struct Twins : ::testing::Test {
  std::unique_ptr<Fabric> f = make_fabric(twin_topology());
  void SetUp() override {
    for (int t = 0; t < 2; ++t) {
      for (const char* src : {"EP", "EP.f1", "PEER", "PCI", "INT"}) bus_master(*f, twin_name(t, src));
      bus_master(*f, twin_name(t, "BR"));  // the bridge masters its bus's DMA upstream
    }
    fn(*f, "B_EP").endpoint->route_cache().set_enabled(false);
    fn(*f, "B_PEER").endpoint->route_cache().set_enabled(false);
    fn(*f, "B_PCI").endpoint->route_cache().set_enabled(false);
    fn(*f, "B_INT").endpoint->route_cache().set_enabled(false);
    f->settle();
  }
  RouteCache& cache(int twin, const std::string& ep) { return fn(*f, twin_name(twin, ep)).endpoint->route_cache(); }
  // The same DMA from both twins at the same simulated time; `addr[t]` per twin.
  std::pair<Result, Result> both(const std::string& source, TlpKind kind, const uint64_t addr[2], unsigned len,
                                 const DmaOptions& opt = {}, sc_time delay_in = SC_ZERO_TIME, uint8_t fill = 0x11) {
    Result a = issue(*f, twin_name(0, source), kind, addr[0], len, opt, delay_in, fill);
    Result b = issue(*f, twin_name(1, source), kind, addr[1], len, opt, delay_in, fill);
    expect_same(a, b, std::string(to_string(kind)) + " from " + source);
    return {a, b};
  }
  std::pair<Result, Result> both_at(const std::string& source, TlpKind kind, uint64_t addr, unsigned len,
                                    const DmaOptions& opt = {}) {
    const uint64_t same[2] = {addr, addr};
    return both(source, kind, same, len, opt);
  }
  std::pair<Result, Result> dram(const std::string& source, TlpKind kind, uint64_t offset, unsigned len, bool high,
                                 const DmaOptions& opt = {}, sc_time delay_in = SC_ZERO_TIME, uint8_t fill = 0x11) {
    const uint64_t* base = high ? kHighRegion : kLowRegion;
    const uint64_t addr[2] = {base[0] + offset, base[1] + offset};
    return both(source, kind, addr, len, opt, delay_in, fill);
  }
  void config_both(const std::string& base, uint16_t reg, unsigned size, uint32_t value) {
    for (int t = 0; t < 2; ++t) {
      const FunctionInfo& p = fn(*f, twin_name(t, base));
      f->config_write(p.segment, p.bdf(), reg, size, value);
    }
  }
};

}  // namespace

TEST_F(Twins, SameResultsWithAndWithoutTheCache) {
  expect_same_links("after enumeration");
  DmaOptions off;
  off.record_path = false;
  DmaOptions translated;
  translated.at = AddressType::Translated;
  DmaOptions attrs;
  attrs.relaxed_ordering = attrs.no_snoop = true;
  attrs.has_pasid = true;
  attrs.pasid = 5;
  DmaOptions ro_off = attrs;
  ro_off.record_path = false;
  const uint64_t peer_bar[2] = {bar(*f, "A_PEER", 0), bar(*f, "B_PEER", 0)};
  const uint64_t sibling_bar[2] = {bar(*f, "A_EP.f1", 0), bar(*f, "B_EP.f1", 0)};

  uint8_t fill = 1;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    for (bool high : {false, true}) {
      for (const char* src : {"EP", "EP.f1", "PCI", "INT", "PEER"}) {
        SCOPED_TRACE(std::string(src) + (high ? " high" : " low"));
        // streams of small writes (the fast path), with and without the record
        for (uint64_t off_bytes = 0; off_bytes < 2048; off_bytes += 64)
          dram(src, TlpKind::MemWrite, off_bytes, 64, high, off_bytes % 128 ? off : DmaOptions{}, SC_ZERO_TIME, fill++);
        // unaligned, crossing MPS/MRRS/RCB boundaries, bursts, odd lengths
        dram(src, TlpKind::MemWrite, 0x1f3, 77, high, {}, sc_time(3, SC_NS), fill++);
        dram(src, TlpKind::MemWrite, 0x3f0, 300, high, off, SC_ZERO_TIME, fill++);
        dram(src, TlpKind::MemWrite, 0x4000, 4096, high, {}, sc_time(10, SC_NS), fill++);
        dram(src, TlpKind::MemWrite, 0x6002, 9000, high, off, SC_ZERO_TIME, fill++);
        dram(src, TlpKind::MemRead, 0x0, 64, high);
        dram(src, TlpKind::MemRead, 0x1f3, 77, high, off);
        dram(src, TlpKind::MemRead, 0x4000, 4096, high);
        dram(src, TlpKind::MemRead, 0x6002, 9000, high, off, sc_time(7, SC_NS));
        dram(src, TlpKind::MemRead, 0x200000 - 32, 64, high);  // across a DRAM backing chunk
        dram(src, TlpKind::AtomicOp, 0x800, 8, high);
        // attributes and address types key the cache apart
        dram(src, TlpKind::MemWrite, 0x900, 64, high, translated, SC_ZERO_TIME, fill++);
        dram(src, TlpKind::MemWrite, 0x940, 64, high, attrs, SC_ZERO_TIME, fill++);
        dram(src, TlpKind::MemRead, 0x940, 64, high, ro_off);
        dram(src, TlpKind::MemWrite, 0x980, 0, high);  // zero length: never cached
      }
      // P2P between the cached DRAM DMAs: never served from a DRAM route
      both("EP", TlpKind::MemWrite, peer_bar, 64);
      both("EP", TlpKind::MemRead, peer_bar, 64);
      both("EP", TlpKind::MemWrite, sibling_bar, 64);  // inside the multi-function device
      both("PEER", TlpKind::MemRead, peer_bar, 64);   // back down its own port
    }
    // The host bus: just below the PCI hole is DRAM, inside it the root complex, above ECAM
    // DRAM again; the interval a cached route covers stops at the hole.
    for (const char* src : {"EP", "INT", "PCI"}) {
      SCOPED_TRACE(src);
      auto below = both_at(src, TlpKind::MemWrite, 0xbfffff00 - round * 0x100, 64);
      EXPECT_EQ(below.first.final_verdict.outcome, Outcome::Delivered);
      auto again = both_at(src, TlpKind::MemWrite, 0xbfffffc0, 64);
      EXPECT_EQ(again.first.final_verdict.outcome, Outcome::Delivered);
      auto straddle = both_at(src, TlpKind::MemWrite, 0xbfffffe0, 64);  // starts in DRAM
      EXPECT_EQ(straddle.first.final_verdict.outcome, Outcome::Delivered);
      auto hole = both_at(src, TlpKind::MemWrite, 0xdff00000, 64);  // MMIO32, no window claims it
      EXPECT_EQ(hole.first.final_verdict.outcome, Outcome::UnsupportedRequest) << describe(hole.first);
      auto ecam = both_at(src, TlpKind::MemRead, 0xe0000000, 64);
      EXPECT_NE(ecam.first.final_verdict.outcome, Outcome::Delivered) << describe(ecam.first);
      auto above = both_at(src, TlpKind::MemWrite, 0xf0000000, 64);
      EXPECT_EQ(above.first.final_verdict.outcome, Outcome::Delivered);
      auto top = both_at(src, TlpKind::MemWrite, 0x200000000 - 64, 64);  // the last DRAM line
      EXPECT_EQ(top.first.final_verdict.outcome, Outcome::Delivered);
      auto beyond = both_at(src, TlpKind::MemWrite, 0x200000000, 64);
      EXPECT_EQ(beyond.first.final_verdict.outcome, Outcome::UnsupportedRequest);
    }
    sc_core::sc_start(sc_time(250 + 100 * round, SC_NS));  // some DMAs start later, some while links are busy
  }
  expect_same_links("after the sequence");

  for (int region = 0; region < 2; ++region) {
    const uint64_t* base = region ? kHighRegion : kLowRegion;
    std::vector<uint8_t> a(kRegionBytes), b(kRegionBytes);
    ASSERT_TRUE(f->dram().read(base[0], a.data(), a.size()));
    ASSERT_TRUE(f->dram().read(base[1], b.data(), b.size()));
    EXPECT_TRUE(a == b) << "DRAM contents differ in the " << (region ? "high" : "low") << " region";
  }
  // The cache did serve A, and B never used it.
  EXPECT_GT(cache(0, "EP").hits(), 300u);
  EXPECT_GT(cache(0, "PCI").hits(), 100u);
  EXPECT_GT(cache(0, "INT").hits(), 100u);
  EXPECT_GT(cache(0, "PEER").hits(), 100u);
  EXPECT_EQ(cache(1, "EP").hits() + cache(1, "EP").fills(), 0u);
}

TEST_F(Twins, BusMasterOffAtABridgeMakesTheNextDmaUnsupported) {
  for (int i = 0; i < 4; ++i) dram("EP", TlpKind::MemWrite, 64 * i, 64, true);
  const uint64_t hits = cache(0, "EP").hits();
  EXPECT_EQ(hits, 3u);

  // The switch downstream port above the endpoint stops mastering (PCIe 7.5.1.1.3): a stale
  // route would still deliver to DRAM.
  uint16_t cmd = 0;
  for (int t = 0; t < 2; ++t) {  // both twins see the same config traffic on their links
    const FunctionInfo& dp = fn(*f, twin_name(t, "DP1"));
    cmd = static_cast<uint16_t>(f->config_read(dp.segment, dp.bdf(), cfg::kCommand, 2));
  }
  config_both("DP1", cfg::kCommand, 2, cmd & ~cfg::kCmdBusMaster);
  auto ur = dram("EP", TlpKind::MemWrite, 0x100, 64, true);
  EXPECT_EQ(ur.first.final_verdict.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(port_name(ur.first.final_verdict.port), "X_DP1");
  EXPECT_EQ(ur.first.dram_writes, 0u);
  auto ur_read = dram("EP", TlpKind::MemRead, 0x100, 64, true);
  EXPECT_EQ(ur_read.first.final_verdict.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(ur_read.first.data, std::vector<uint8_t>(64, 0xff));  // PCIe 2.3.2: all ones
  EXPECT_EQ(cache(0, "EP").hits(), hits);  // neither was served from the cache

  config_both("DP1", cfg::kCommand, 2, cmd);
  EXPECT_EQ(dram("EP", TlpKind::MemWrite, 0x140, 64, true).first.final_verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(dram("EP", TlpKind::MemWrite, 0x180, 64, true).first.final_verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(cache(0, "EP").hits(), hits + 1);  // refilled, then used again

  // The endpoint's own Bus Master Enable.
  bus_master(*f, "A_EP", false);
  bus_master(*f, "B_EP", false);
  auto own = dram("EP", TlpKind::MemWrite, 0x1c0, 64, true);
  EXPECT_EQ(own.first.final_verdict.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(port_name(own.first.final_verdict.port), "X_EP.f0");
  expect_same_links("after bus master changes");
}

TEST_F(Twins, AcsTranslationBlockingTakesEffectOnTheNextDma) {
  DmaOptions translated;
  translated.at = AddressType::Translated;
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(dram("EP", TlpKind::MemWrite, 64 * i, 64, false, translated).first.final_verdict.outcome,
              Outcome::Delivered);
  dram("EP", TlpKind::MemWrite, 0x400, 64, false);  // untranslated: a route of its own
  const uint64_t hits = cache(0, "EP").hits();
  EXPECT_EQ(hits, 2u);

  for (int t = 0; t < 2; ++t) set_acs(*f, twin_name(t, "DP1"), acs_mask(AcsBit::TB));
  auto blocked = dram("EP", TlpKind::MemWrite, 0x200, 64, false, translated);
  EXPECT_EQ(blocked.first.final_verdict.outcome, Outcome::BlockedByAcs);
  EXPECT_EQ(blocked.first.final_verdict.acs_bit, AcsBit::TB);
  EXPECT_EQ(port_name(blocked.first.final_verdict.port), "X_DP1");
  EXPECT_EQ(dram("EP", TlpKind::MemWrite, 0x440, 64, false).first.final_verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(dram("EP", TlpKind::MemWrite, 0x480, 64, false).first.final_verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(dram("EP", TlpKind::MemWrite, 0x240, 64, false, translated).first.final_verdict.outcome,
            Outcome::BlockedByAcs);
  EXPECT_EQ(cache(0, "EP").hits(), hits + 1);  // only the untranslated route came back
}

TEST_F(Twins, AcsRequestRedirectChangesAPeerRoute) {
  const uint64_t peer_bar[2] = {bar(*f, "A_PEER", 0), bar(*f, "B_PEER", 0)};
  dram("EP", TlpKind::MemWrite, 0, 64, true);
  auto direct = both("EP", TlpKind::MemWrite, peer_bar, 64);
  EXPECT_EQ(direct.first.final_verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(std::find(direct.first.path.begin(), direct.first.path.end(), "rc0.host"), direct.first.path.end())
      << describe(direct.first);  // turns at X_SW1
  dram("EP", TlpKind::MemWrite, 64, 64, true);
  EXPECT_EQ(cache(0, "EP").hits(), 1u);

  for (int t = 0; t < 2; ++t) {
    set_acs(*f, twin_name(t, "DP1"), acs_mask(AcsBit::RR));
    set_acs(*f, twin_name(t, "RP"), acs_mask(AcsBit::UF));  // so it climbs to the host bridge
  }
  auto redirected = both("EP", TlpKind::MemWrite, peer_bar, 64);
  EXPECT_EQ(redirected.first.final_verdict.outcome, Outcome::Redirected) << describe(redirected.first);
  EXPECT_EQ(redirected.first.final_verdict.acs_bit, AcsBit::RR);
  EXPECT_GT(redirected.first.delay, direct.first.delay);
  auto read = both("EP", TlpKind::MemRead, peer_bar, 64);
  EXPECT_EQ(read.first.final_verdict.outcome, Outcome::Redirected) << describe(read.first);
  // DMA to DRAM is unaffected by RR; its route is refilled and used again.
  EXPECT_EQ(dram("EP", TlpKind::MemWrite, 128, 64, true).first.final_verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(dram("EP", TlpKind::MemWrite, 192, 64, true).first.final_verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(cache(0, "EP").hits(), 2u);
  expect_same_links("after the redirects");
}

// A bridge window moved over DRAM takes the addresses in it away from the cached route, both
// when it moves after the route was cached (invalidation) and before (the route's interval).
TEST_F(Twins, AWindowOverDramTakesItsAddressesAwayFromTheCachedRoute) {
  constexpr uint64_t kWindow = 0x30000000, kWindowSize = 0x100000;  // 1 MiB of DRAM, below 4 GiB
  const uint64_t inside[2] = {kWindow + 0x100, kWindow + 0x100};
  const uint64_t outside[2] = {kWindow - 0x1000, kWindow - 0x1000};
  const uint64_t after[2] = {kWindow + kWindowSize + 0x40, kWindow + kWindowSize + 0x40};
  for (int i = 0; i < 3; ++i) both("EP", TlpKind::MemWrite, inside, 64);
  EXPECT_EQ(cache(0, "EP").hits(), 2u);

  // The peer's port now forwards [kWindow, kWindow + 1 MiB) (PCI-to-PCI bridge 3.2.5.8).
  const uint32_t base_limit = uint32_t(kWindow >> 16) | uint32_t((kWindow + kWindowSize - 1) >> 16) << 16;
  config_both("DP2", cfg::kMemBase, 4, base_limit & 0xfff0fff0u);
  ASSERT_TRUE(fn(*f, "A_DP2").fn->window_claims(kWindow + 0x100));
  auto peer = both("EP", TlpKind::MemWrite, inside, 64);
  EXPECT_NE(peer.first.final_verdict.outcome, Outcome::Delivered) << describe(peer.first);  // no BAR there
  EXPECT_NE(std::find(peer.first.path.begin(), peer.first.path.end(), "X_DP2"), peer.first.path.end());
  EXPECT_EQ(peer.first.dram_writes, 0u);

  // Routes cached now (around the window) must not cover it.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(both("EP", TlpKind::MemWrite, outside, 64).first.final_verdict.outcome, Outcome::Delivered);
    EXPECT_EQ(both("EP", TlpKind::MemWrite, after, 64).first.final_verdict.outcome, Outcome::Delivered);
    auto again = both("EP", TlpKind::MemWrite, inside, 64);
    EXPECT_EQ(again.first.dram_writes, 0u) << describe(again.first);
  }
  EXPECT_EQ(cache(0, "EP").hits(), 2u + 2 + 2);  // the two DRAM routes, each filled once

  // A sibling function's BAR moved into DRAM: P2P inside the device, not the cached route.
  constexpr uint64_t kBar = 0x38000000, kBarSize = 0x10000;  // X_EP.f1's 64 KiB BAR0
  for (int t = 0; t < 2; ++t) {
    const FunctionInfo& f1 = fn(*f, twin_name(t, "EP.f1"));
    f->config_write(f1.segment, f1.bdf(), cfg::kBar0, 4, uint32_t(kBar));
  }
  ASSERT_EQ(fn(*f, "A_EP.f1").fn->claim(kBar + 0x40, false), 0);
  const uint64_t sibling[2] = {kBar + 0x40, kBar + 0x40};
  const uint64_t past_bar[2] = {kBar + kBarSize, kBar + kBarSize};
  const uint64_t before_bar[2] = {kBar - 0x40, kBar - 0x40};
  for (int i = 0; i < 2; ++i) {
    auto inside_device = both("EP", TlpKind::MemWrite, sibling, 64);
    EXPECT_EQ(port_name(inside_device.first.final_verdict.port), "X_EP.f1") << describe(inside_device.first);
    EXPECT_EQ(inside_device.first.dram_writes, 0u);
    EXPECT_EQ(both("EP", TlpKind::MemWrite, past_bar, 64).first.dram_writes, 1u);
    EXPECT_EQ(both("EP", TlpKind::MemWrite, before_bar, 64).first.dram_writes, 1u);
  }
  expect_same_links("after the window changes");
}

// A module on the root complex's upstream path that is not a remapping unit recording itself as a
// step of the route (route_cache.h, RouteTranslator): the route is never cached. A stand-in
// module that passes everything through shows it. (Routes through real remapping units are
// cached: tests/iommu/unit_route_cache_test.cpp.)
namespace {
class PassThroughUnit : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<PassThroughUnit> in;
  PassThroughUnit(sc_core::sc_module_name name, RootComplex& rc) : sc_module(name), in("in"), m_rc(rc) {
    in.register_b_transport(this, &PassThroughUnit::b_transport);
  }
  uint64_t seen = 0;

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_time& delay) {
    ++seen;
    m_rc.host_out[0]->b_transport(gp, delay);  // on to the host bus, untouched
  }
  RootComplex& m_rc;
};
}  // namespace

TEST(RouteCache, RoutesThroughAnUpstreamModuleThatDoesNotRecordAreNotCached) {
  Fabric f(topo::load_topology_string(twin_topology(), "twins.yaml"));
  RootComplex& rc = *f.root_complex(0);
  PassThroughUnit unit("unit", rc);
  const int index = rc.attach_upstream(unit.in);
  f.enumerate();
  for (int t = 0; t < 2; ++t) bus_master(f, twin_name(t, "EP"));
  fn(f, "B_EP").endpoint->route_cache().set_enabled(false);
  RouteCache& cache = fn(f, "A_EP").endpoint->route_cache();
  f.settle();
  auto pair = [&](uint64_t off) {
    Result a = issue(f, "A_EP", TlpKind::MemWrite, kHighRegion[0] + off, 64, {}, SC_ZERO_TIME, 3);
    Result b = issue(f, "B_EP", TlpKind::MemWrite, kHighRegion[1] + off, 64, {}, SC_ZERO_TIME, 3);
    expect_same(a, b, "write at +" + std::to_string(off));
    EXPECT_EQ(a.final_verdict.outcome, Outcome::Delivered);
  };
  pair(0);
  pair(64);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(unit.seen, 0u);

  // A's root port now sends its upstream traffic through the unit (ACPI DRHD scope).
  rc.route_upstream(rc.port_by_name("A_RP"), index);
  for (uint64_t off = 128; off < 1024; off += 64) pair(off);
  EXPECT_EQ(unit.seen, 14u);      // every one went through the unit...
  EXPECT_EQ(cache.hits(), 1u);    // ...and none was served from a cached route
}
