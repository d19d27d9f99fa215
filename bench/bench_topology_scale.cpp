// Scale bar of the fabric issue: load, build and enumerate scenarios/topologies/generated-10k.yaml
// (10,752 endpoint functions in 6 segments). Bars: <= 1 s in total, <= 200 MB peak resident
// memory (getrusage ru_maxrss). One design per process, so the case runs exactly once.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <systemc>

#include "pcie/fabric.h"
#include "pcie/topology/yaml_loader.h"

#ifndef PCIESIM_TOPOLOGY_DIR
#error "PCIESIM_TOPOLOGY_DIR must name scenarios/topologies (bench/CMakeLists.txt)"
#endif

using namespace pciesim;

namespace {

constexpr const char* kTopologyFile = PCIESIM_TOPOLOGY_DIR "/generated-10k.yaml";
constexpr size_t kMinEndpointFunctions = 10000;  // the scale: >= 10,000 endpoint functions
constexpr double kTimeBarS = 1.0;                 // load + build + enumerate
constexpr double kMemoryBarMb = 200.0;            // peak resident set

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

struct Figures {
  bool ran = false;
  double load_s = 0, build_s = 0, enumerate_s = 0;
  double rss_before_mb = 0, rss_peak_mb = 0;
  size_t functions = 0, endpoint_functions = 0, modules = 0;
} g_figures;

// The fabric must outlive the benchmark loop (SystemC owns its modules until exit).
std::unique_ptr<Fabric> g_fabric;

void bm_topology_scale(benchmark::State& state) {
  using clock = std::chrono::steady_clock;
  auto seconds = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  Figures& f = g_figures;
  for (auto _ : state) {
    f.rss_before_mb = peak_rss_mb();
    const auto t0 = clock::now();
    topo::TopologySpec spec = topo::load_topology_file(kTopologyFile);
    const auto t1 = clock::now();
    g_fabric = std::make_unique<Fabric>(spec);
    const auto t2 = clock::now();
    g_fabric->enumerate();
    const auto t3 = clock::now();
    f.load_s = seconds(t0, t1);
    f.build_s = seconds(t1, t2);
    f.enumerate_s = seconds(t2, t3);
    state.SetIterationTime(seconds(t0, t3));
  }
  f.rss_peak_mb = peak_rss_mb();
  f.functions = g_fabric->functions().size();
  for (const FunctionInfo& i : g_fabric->functions()) f.endpoint_functions += i.role == FunctionRole::Endpoint;
  f.modules = g_fabric->module_count();
  f.ran = true;
  state.counters["load_ms"] = f.load_s * 1e3;
  state.counters["build_ms"] = f.build_s * 1e3;
  state.counters["enumerate_ms"] = f.enumerate_s * 1e3;
  state.counters["peak_MB"] = f.rss_peak_mb;
  state.counters["endpoint_fns"] = double(f.endpoint_functions);
}

// Returns the number of bars missed.
int print_summary() {
  const Figures& f = g_figures;
  if (!f.ran) return 0;
  const double total = f.load_s + f.build_s + f.enumerate_s;
  std::printf("\n%s\n", kTopologyFile);
  std::printf("functions %zu (endpoint functions %zu), modules %zu\n", f.functions, f.endpoint_functions, f.modules);
  std::printf("load_topology_file %8.1f ms\nbuild Fabric       %8.1f ms\nenumerate()        %8.1f ms\n", f.load_s * 1e3,
              f.build_s * 1e3, f.enumerate_s * 1e3);
  std::printf("total              %8.1f ms   bar <= %.0f ms: %s\n", total * 1e3, kTimeBarS * 1e3,
              total <= kTimeBarS ? "PASS" : "FAIL");
  std::printf("peak RSS           %8.1f MB   bar <= %.0f MB: %s  (%.1f MB before loading)\n", f.rss_peak_mb,
              kMemoryBarMb, f.rss_peak_mb <= kMemoryBarMb ? "PASS" : "FAIL", f.rss_before_mb);
  const bool enough = f.endpoint_functions >= kMinEndpointFunctions;
  if (!enough) std::printf("only %zu endpoint functions: the file is below the issue's scale\n", f.endpoint_functions);
  return (total > kTimeBarS) + (f.rss_peak_mb > kMemoryBarMb) + !enough;
}

}  // namespace

int sc_main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RegisterBenchmark("topology_scale/generated-10k", bm_topology_scale)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  const int missed = print_summary();
  benchmark::Shutdown();
  return missed ? 1 : 0;
}

// libsystemc provides main() and calls sc_main; this one runs first to silence the banner.
int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  return sc_core::sc_elab_and_sim(argc, argv);
}
