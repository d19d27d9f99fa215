// The VT-d remapping unit's speed bars (the "VT-d remapping unit" issue): wall-clock (and CPU
// time) 64-byte DMA writes per second through the fabric issue's two-switch stack (endpoint ->
// sw1 -> sw0 -> root port -> root complex) plus a remapping unit (legacy mode, server preset,
// programmed with VtdProgrammer), loosely timed with a tlm_quantumkeeper, record_path off:
//   IOTLB-hit path   writes cycling through one mapped 4 KiB IOVA page; bar >= 12 M DMAs/s and
//                    >= 0.5 of a bare SystemC chain of the same shape (5 pass-through hops: the
//                    stack's 4 plus the unit, then memory) measured in the same run;
//   4-level miss     writes stepping 4 KiB + 64 B through a 64 MiB IOVA window of 4 KiB pages
//   path             (4-level tables): nearly every write misses the IOTLB, the paging-structure
//                    caches make the walk short; bar >= 4 M DMAs/s.
// Streaming and blocking modes as in bench_fabric_speed.cpp. The route cache serves these DMAs
// through the unit (models/pcie/route_cache.h: the unit is a step of the route, translating live);
// the "hop-by-hop" rows turn it off, and both must advance simulated time identically.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <systemc>
#include <tlm>
#include <tlm_utils/tlm_quantumkeeper.h>
#include <vector>

#include "iommu/remapping_unit.h"
#include "iommu/vtd_programmer.h"
#include "pcie/endpoint.h"
#include "devices/dram.h"
#include "pcie/fabric.h"
#include "speed_harness.h"
#include "pcie/link.h"
#include "pcie/topology/yaml_loader.h"

using namespace pciesim;
using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

namespace {

using namespace pciesim::bench;

constexpr uint64_t kDramBase = 0x1'0000'0000ull;  // DRAM at 4 GiB: the DMA buffer
constexpr uint64_t kIova = 0x40000000;       // device-visible base of the buffer
constexpr uint64_t kMissWindow = 64ull << 20;
constexpr uint64_t kTables = 0x1'8000'0000ull;  // the unit's kernel memory (page tables)
// Bare chain: 4 x 80 ns as in bench_fabric_speed, plus one pass-through hop for the unit.
constexpr int kBareHops = 5;

// The one design of this process: the fabric with its unit, plus the bare chain.
struct Design {
  Fabric fabric;
  std::unique_ptr<vtd::VtdProgrammer> prog;
  FabricInitiator fabric_initiator{"fabric_initiator"};
  BareChain bare{kBareHops};

  Design() : fabric(topo::load_topology_string(two_switch_topology("iommu-speed", true), "iommu-speed.yaml")) {
    fabric.enumerate();  // ends elaboration
    const FunctionInfo* ep = fabric.find("ep0");
    if (!ep || !ep->endpoint) throw std::runtime_error("no ep0");
    const uint32_t cmd = fabric.config_read(ep->segment, ep->bdf(), 0x04, 2);
    fabric.config_write(ep->segment, ep->bdf(), 0x04, 2, cmd | 0x4);  // pci_set_master
    // The driver: one 4-level domain mapping the buffer with 4 KiB pages, translation on.
    prog = std::make_unique<vtd::VtdProgrammer>(fabric, "dmar0", kTables, 0x2000000);
    vtd::SecondLevelBuilder& dom = prog->attach(ep->bdf(), 1, 0, 4);
    if (!dom.map_range(kIova, kDramBase, kMissWindow)) throw std::runtime_error("map failed");
    // The buffer exists before the DMA starts (a driver allocated it): back it now, so the DRAM
    // model's first-touch allocation of its sparse 2 MiB chunks is not charged to the miss path.
    const uint8_t zero = 0;
    for (uint64_t o = 0; o < kMissWindow; o += Dram::kPageSize) fabric.dram().write(kDramBase + o, &zero, 1);
    prog->set_root_table();
    prog->enable_translation();
    fabric.settle();
    fabric_initiator.attach(*ep);
  }
};

Design* g_design = nullptr;

enum class Path { Hit, Miss };
const char* to_string(Path p) { return p == Path::Hit ? "iotlb_hit" : "miss_4level"; }
Figure g_fabric[2][2];     // [path][mode], route cache on
Figure g_hop_by_hop[2][2]; // [path][mode], route cache off
Figure g_bare[2];          // [mode]
double g_reads_per_miss[2] = {0, 0}, g_miss_rate[2] = {0, 0};  // [mode], miss path
sc_time g_stream_step = sc_time(2.8, SC_NS);  // replaced by the fabric's measured streaming step

void bm_fabric(benchmark::State& state, Path path, Mode mode, bool route_cache) {
  FabricInitiator& init = g_design->fabric_initiator;
  vtd::RemappingUnit& unit = g_design->prog->unit();
  const uint64_t window = path == Path::Hit ? 4096 : kMissWindow;
  const uint64_t stride = path == Path::Hit ? kTxBytes : 4096 + kTxBytes;
  const auto stats0 = unit.caches().iotlb_stats();
  const uint64_t reads0 = unit.table_reads(), tr0 = unit.translations();
  const double sim_ns_per_tx = run_batches(
      state, [&] { init.start(mode, false, route_cache, kIova, window, stride); }, init.stats(), "fabric");
  const auto stats1 = unit.caches().iotlb_stats();
  const double misses = double(stats1.misses - stats0.misses);
  state.counters["miss_rate"] = misses / double(unit.translations() - tr0);
  state.counters["reads_per_miss"] = misses > 0 ? double(unit.table_reads() - reads0) / misses : 0.0;
  Figure& f = route_cache ? g_fabric[int(path)][int(mode)] : g_hop_by_hop[int(path)][int(mode)];
  f.ran = true;
  f.sim_ns_per_tx = sim_ns_per_tx;
  if (path == Path::Miss && route_cache) {
    g_miss_rate[int(mode)] = misses / double(unit.translations() - tr0);
    g_reads_per_miss[int(mode)] = misses > 0 ? double(unit.table_reads() - reads0) / misses : 0.0;
  }
  if (path == Path::Hit && mode == Mode::Streaming && route_cache) g_stream_step = sc_time(sim_ns_per_tx, SC_NS);
}

void bm_bare(benchmark::State& state, Mode mode) {
  BareInitiator& init = g_design->bare.initiator;
  g_bare[int(mode)].sim_ns_per_tx = run_batches(state, [&] { init.start(mode, g_stream_step); }, init.stats(), "bare");
  g_bare[int(mode)].ran = true;
}

// Files each run's rates under its figure.
void collect(const std::string& name, double tx_per_s, double tx_per_cpu_s) {
  auto set = [&](Figure& f) {
    f.tx_per_s = tx_per_s;
    f.tx_per_cpu_s = tx_per_cpu_s;
  };
  for (Path p : {Path::Hit, Path::Miss})
    for (Mode m : {Mode::Blocking, Mode::Streaming}) {
      const std::string prefix = std::string("fabric/") + to_string(p) + "/" + to_string(m);
      if (name == prefix + "/hop_by_hop") set(g_hop_by_hop[int(p)][int(m)]);
      else if (name == prefix) set(g_fabric[int(p)][int(m)]);
    }
  for (Mode m : {Mode::Blocking, Mode::Streaming})
    if (name == std::string("bare/") + to_string(m)) set(g_bare[int(m)]);
}

void print_summary() {
  constexpr double kHitBar = 12e6;   // VT-d issue: IOTLB-hit path >= 12 M DMAs/s, one core
  constexpr double kRatioBar = 0.5;  // ... and >= 0.5 of the bare chain
  constexpr double kMissBar = 4e6;   // 4-level miss path >= 4 M DMAs/s
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  auto verdict = [](bool ok) { return ok ? "PASS" : "FAIL"; };
  std::printf("\nspeed: 64 B DMA writes, endpoint -> switch -> switch -> root port -> RC -> VT-d unit -> DRAM, "
              "quantum %.0f ns\n", kQuantumNs);
  std::printf("M DMAs/s of wall-clock time [per second of CPU time: the shared VM steals wall time]\n");
  std::printf("%-12s %-10s %18s %18s %14s %18s %12s %12s\n", "path", "mode", "fabric+unit", "bare (5 hops)", "ratio",
              "hop-by-hop", "sim ns/tx", "(hop-by-hop)");
  for (Path p : {Path::Hit, Path::Miss})
    for (Mode m : {Mode::Streaming, Mode::Blocking}) {
      const Figure& f = g_fabric[int(p)][int(m)];
      const Figure& h = g_hop_by_hop[int(p)][int(m)];
      const Figure& b = g_bare[int(m)];
      if (!f.ran) continue;
      std::printf("%-12s %-10s %8.2f [%7.2f] %8.2f [%7.2f] %5.3f [%5.3f] %8.2f [%7.2f] %12.2f %12.2f\n", to_string(p),
                  to_string(m), f.tx_per_s / 1e6, f.tx_per_cpu_s / 1e6, b.tx_per_s / 1e6, b.tx_per_cpu_s / 1e6,
                  ratio(f.tx_per_s, b.tx_per_s), ratio(f.tx_per_cpu_s, b.tx_per_cpu_s), h.tx_per_s / 1e6,
                  h.tx_per_cpu_s / 1e6, f.sim_ns_per_tx, h.sim_ns_per_tx);
    }
  for (Mode m : {Mode::Streaming, Mode::Blocking})
    if (g_fabric[int(Path::Miss)][int(m)].ran)
      std::printf("miss path, %s: IOTLB miss rate %.3f, %.2f table reads per miss\n", to_string(m),
                  g_miss_rate[int(m)], g_reads_per_miss[int(m)]);
  for (Mode m : {Mode::Streaming, Mode::Blocking}) {
    const Figure& f = g_fabric[int(Path::Hit)][int(m)];
    const Figure& b = g_bare[int(m)];
    if (f.ran) {
      std::printf("%-10s IOTLB hit >= 12 M DMAs/s: %s [%s]", to_string(m), verdict(f.tx_per_s >= kHitBar),
                  verdict(f.tx_per_cpu_s >= kHitBar));
      if (b.ran)
        std::printf(";  / bare >= 0.5: %.3f %s [%.3f %s]", ratio(f.tx_per_s, b.tx_per_s),
                    verdict(ratio(f.tx_per_s, b.tx_per_s) >= kRatioBar), ratio(f.tx_per_cpu_s, b.tx_per_cpu_s),
                    verdict(ratio(f.tx_per_cpu_s, b.tx_per_cpu_s) >= kRatioBar));
      std::printf("\n");
    }
    const Figure& mf = g_fabric[int(Path::Miss)][int(m)];
    if (mf.ran)
      std::printf("%-10s 4-level miss >= 4 M DMAs/s: %s [%s]\n", to_string(m), verdict(mf.tx_per_s >= kMissBar),
                  verdict(mf.tx_per_cpu_s >= kMissBar));
  }
  std::printf("(as in bench_fabric_speed, the speed bars are the streaming ones; blocking syncs every few writes "
              "and is bounded by SystemC context switches)\n");
  for (Path p : {Path::Hit, Path::Miss})
    for (Mode m : {Mode::Blocking, Mode::Streaming}) {
      const Figure& f = g_fabric[int(p)][int(m)];
      const Figure& h = g_hop_by_hop[int(p)][int(m)];
      if (f.ran && h.ran && std::abs(f.sim_ns_per_tx - h.sim_ns_per_tx) > 1e-4 * h.sim_ns_per_tx)
        std::printf("WARNING: %s %s: simulated time differs with and without the route cache (%.4f vs %.4f ns/tx)\n",
                    to_string(p), to_string(m), f.sim_ns_per_tx, h.sim_ns_per_tx);
    }
}

}  // namespace

int sc_main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  tlm_utils::tlm_quantumkeeper::set_global_quantum(sc_time(kQuantumNs, SC_NS));
  Design design;
  g_design = &design;
  // Order matters: the fabric's IOTLB-hit streaming run sets the bare chain's streaming step.
  for (Mode m : {Mode::Streaming, Mode::Blocking}) {
    for (Path p : {Path::Hit, Path::Miss}) {
      const std::string name = std::string("fabric/") + to_string(p) + "/" + to_string(m);
      benchmark::RegisterBenchmark(name.c_str(), bm_fabric, p, m, true)->Unit(benchmark::kMillisecond)->UseRealTime();
      benchmark::RegisterBenchmark((name + "/hop_by_hop").c_str(), bm_fabric, p, m, false)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
    benchmark::RegisterBenchmark((std::string("bare/") + to_string(m)).c_str(), bm_bare, m)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  RateCollector reporter(collect);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary();
  benchmark::Shutdown();
  return 0;
}

// libsystemc provides main() and calls sc_main; this one runs first to silence the banner.
int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  return sc_core::sc_elab_and_sim(argc, argv);
}
