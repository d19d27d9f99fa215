// What both simulator-speed benchmarks share: the loosely-timed DMA initiator that drives an
// endpoint from an SC_THREAD with a quantum keeper, and the bare SystemC b_transport chain the
// fabric is compared with, measured in the same design (performance-facts H).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>
#include <vector>

#include "pcie/endpoint.h"
#include "pcie/fabric.h"
#include "pcie/link.h"

namespace pciesim::bench {

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

constexpr double kQuantumNs = 1000.0;        // global quantum: 1 us
constexpr unsigned kTxBytes = 64;            // one cache line per DMA write
constexpr uint64_t kBatch = 1u << 16;        // transactions per benchmark iteration
constexpr uint64_t kWindow = 1u << 20;       // the bare chain's memory
constexpr uint64_t kBareBase = 0x1'0000'0000ull;  // ... at 4 GiB, where the fabric's DRAM starts
constexpr double kBareHopNs = 80.0;
constexpr double kBareMemoryNs = 90.0;
enum class Mode { Blocking, Streaming };
inline const char* to_string(Mode m) { return m == Mode::Blocking ? "blocking" : "streaming"; }

struct BatchStats {
  uint64_t transactions = 0;
  uint64_t failures = 0;
  sc_time simulated = SC_ZERO_TIME;  // simulated time the batch advanced
};

// An SC_THREAD that runs batches of DMA writes from one endpoint function when asked to.
class FabricInitiator : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(FabricInitiator);
  explicit FabricInitiator(sc_core::sc_module_name name) : sc_module(name), m_data(kTxBytes, 0xa5) {
    SC_THREAD(run);
  }
  void attach(const FunctionInfo& fn) {
    m_fn = &fn;
    m_link = fn.endpoint->port_link(Endpoint::kUpstreamPort);
  }
  // Writes at base + offset, the offset advancing by `stride` modulo `window`.
  void start(Mode mode, bool record_path, bool route_cache, uint64_t base, uint64_t window, uint64_t stride) {
    m_base = base;
    m_window = window;
    m_stride = stride;
    m_offset = 0;
    m_mode = mode;
    m_opt.record_path = record_path;
    m_fn->endpoint->route_cache().set_enabled(route_cache);
    m_go.notify(SC_ZERO_TIME);
  }
  const BatchStats& stats() const { return m_stats; }

 private:
  void run() {
    for (;;) {
      sc_core::wait(m_go);
      m_stats = BatchStats{};
      const sc_time begin = sc_core::sc_time_stamp();
      m_qk.reset();
      for (uint64_t i = 0; i < kBatch; ++i) {
        sc_time delay = m_qk.get_local_time();
        const PcieExtension& e = m_fn->endpoint->dma(m_fn->function_number, TlpKind::MemWrite, m_base + m_offset,
                                                     m_data.data(), kTxBytes, delay, m_opt);
        m_stats.failures += e.verdict.outcome != Outcome::Delivered;
        // hit: the next line of one page; miss: the next 4 KiB page (and line) of a large window
        m_offset = (m_offset + m_stride) % m_window;
        if (m_mode == Mode::Blocking) m_qk.set(delay);  // the write has landed
        else m_qk.set(m_link->busy_until(LinkDir::Up) - sc_core::sc_time_stamp());  // transmitter free
        if (m_qk.need_sync()) m_qk.sync();
      }
      m_qk.sync();
      m_stats.transactions = kBatch;
      m_stats.simulated = sc_core::sc_time_stamp() - begin;
    }
  }

  const FunctionInfo* m_fn = nullptr;
  Link* m_link = nullptr;
  Mode m_mode = Mode::Blocking;
  DmaOptions m_opt;
  std::vector<uint8_t> m_data;
  uint64_t m_offset = 0, m_base = 0, m_window = 4096, m_stride = kTxBytes;
  tlm_utils::tlm_quantumkeeper m_qk;
  sc_core::sc_event m_go;
  BatchStats m_stats;
};

// ---- the bare SystemC chain: initiator -> 4 pass-through hops -> memory ----

class BareHop : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<BareHop> in;
  tlm_utils::simple_initiator_socket<BareHop> out;
  BareHop(sc_core::sc_module_name name, sc_time latency) : sc_module(name), in("in"), out("out"), m_latency(latency) {
    in.register_b_transport(this, &BareHop::b_transport);
  }

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_time& delay) {
    delay += m_latency;
    out->b_transport(gp, delay);
  }
  sc_time m_latency;
};

class BareMemory : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<BareMemory> in;
  BareMemory(sc_core::sc_module_name name, sc_time latency)
      : sc_module(name), in("in"), m_latency(latency), m_mem(kWindow) {
    in.register_b_transport(this, &BareMemory::b_transport);
  }

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_time& delay) {
    const uint64_t offset = gp.get_address() - kBareBase;
    const unsigned len = gp.get_data_length();
    if (offset >= kWindow || len > kWindow - offset) {
      gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      return;
    }
    if (gp.is_write()) std::memcpy(&m_mem[offset], gp.get_data_ptr(), len);
    else std::memcpy(gp.get_data_ptr(), &m_mem[offset], len);
    delay += m_latency;
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  sc_time m_latency;
  std::vector<uint8_t> m_mem;
};

class BareInitiator : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<BareInitiator> out;
  SC_HAS_PROCESS(BareInitiator);
  explicit BareInitiator(sc_core::sc_module_name name) : sc_module(name), out("out"), m_data(kTxBytes, 0x5a) {
    SC_THREAD(run);
  }
  // Streaming: the local time advances by `step` per transaction (the fabric's mean issue step).
  void start(Mode mode, sc_time step) {
    m_mode = mode;
    m_step = step;
    m_go.notify(SC_ZERO_TIME);
  }
  const BatchStats& stats() const { return m_stats; }

 private:
  void run() {
    m_gp.set_command(tlm::TLM_WRITE_COMMAND);
    m_gp.set_data_ptr(m_data.data());
    m_gp.set_data_length(kTxBytes);
    m_gp.set_streaming_width(kTxBytes);
    for (;;) {
      sc_core::wait(m_go);
      m_stats = BatchStats{};
      const sc_time begin = sc_core::sc_time_stamp();
      m_qk.reset();
      for (uint64_t i = 0; i < kBatch; ++i) {
        m_gp.set_address(kBareBase + m_offset);
        m_gp.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        sc_time delay = m_qk.get_local_time();
        out->b_transport(m_gp, delay);
        m_stats.failures += !m_gp.is_response_ok();
        m_offset = (m_offset + kTxBytes) % kWindow;
        if (m_mode == Mode::Blocking) m_qk.set(delay);
        else m_qk.inc(m_step);
        if (m_qk.need_sync()) m_qk.sync();
      }
      m_qk.sync();
      m_stats.transactions = kBatch;
      m_stats.simulated = sc_core::sc_time_stamp() - begin;
    }
  }

  Mode m_mode = Mode::Blocking;
  sc_time m_step;
  tlm::tlm_generic_payload m_gp;
  std::vector<uint8_t> m_data;
  uint64_t m_offset = 0;
  tlm_utils::tlm_quantumkeeper m_qk;
  sc_core::sc_event m_go;
  BatchStats m_stats;
};

// The bare chain as a whole: initiator -> `hops` pass-through hops of kBareHopNs -> memory.
struct BareChain {
  BareInitiator initiator{"bare_initiator"};
  BareMemory memory{"bare_memory", sc_time(kBareMemoryNs, SC_NS)};
  std::vector<std::unique_ptr<BareHop>> hops;

  explicit BareChain(int n) {
    for (int i = 0; i < n; ++i)
      hops.push_back(std::make_unique<BareHop>(("bare_hop" + std::to_string(i)).c_str(), sc_time(kBareHopNs, SC_NS)));
    initiator.out.bind(hops.front()->in);
    for (int i = 0; i + 1 < n; ++i) hops[i]->out.bind(hops[i + 1]->in);
    hops.back()->out.bind(memory.in);
  }
};

// ---- measuring ----

// One benchmark's figures, for the summary a benchmark prints after Google Benchmark's table.
struct Figure {
  double tx_per_s = 0;      // wall clock
  double tx_per_cpu_s = 0;  // per second of process CPU time (the shared VM steals wall time)
  double sim_ns_per_tx = 0; // simulated time per transaction
  bool ran = false;
};

inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Per benchmark iteration: start() one batch and run the kernel until the initiator's thread
// waits for its next start (the kernel starves). Any failed transaction ends the program (exit 2).
// Sets items/s, transactions per CPU second and simulated ns per transaction; returns the latter.
template <class Start>
double run_batches(benchmark::State& state, Start&& start, const BatchStats& stats, const char* what) {
  double sim_ns = 0;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    start();
    sc_core::sc_start();
    if (stats.failures) {
      std::fprintf(stderr, "%s: %llu of %llu transactions failed\n", what,
                   static_cast<unsigned long long>(stats.failures), static_cast<unsigned long long>(stats.transactions));
      std::exit(2);
    }
    sim_ns += stats.simulated.to_seconds() * 1e9;
  }
  const double n = double(state.iterations()) * double(kBatch);
  const double cpu_s = process_cpu_seconds() - cpu0;
  state.SetItemsProcessed(int64_t(n));
  state.counters["tx_per_cpu_s"] = cpu_s > 0 ? n / cpu_s : 0.0;
  state.counters["sim_ns_per_tx"] = sim_ns / n;
  return sim_ns / n;
}

// The usual console table, and each run's rates handed to `sink(name, tx/s wall, tx/s CPU)`. With
// --benchmark_repetitions the median aggregate (reported after the runs) wins.
class RateCollector : public benchmark::ConsoleReporter {
 public:
  using Sink = std::function<void(const std::string& name, double tx_per_s, double tx_per_cpu_s)>;
  explicit RateCollector(Sink sink) : m_sink(std::move(sink)) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if ((r.run_type != Run::RT_Iteration && !median) || r.error_occurred) continue;
      auto it = r.counters.find("items_per_second");
      if (it == r.counters.end()) continue;
      auto cpu = r.counters.find("tx_per_cpu_s");
      m_sink(r.run_name.function_name, it->second, cpu == r.counters.end() ? 0.0 : double(cpu->second));
    }
    ConsoleReporter::ReportRuns(runs);
  }

 private:
  Sink m_sink;
};

// The speed benchmarks' machine: rc0 - rp0 - sw0 - sw0-dp0 - sw1 - sw1-dp0 - ep0, Gen4 x16
// throughout, ACS implemented and off; with `unit`, one server-class remapping unit covering it.
inline std::string two_switch_topology(const std::string& name, bool unit) {
  std::string yaml = "name: " + name + "\n" + R"(memory: {base: 0x100000000, size: 4GiB}
root_complexes:
  - name: rc0
    ecam:   {base: 0xe0000000, size: 256MiB}
    mmio32: {base: 0xc0000000, size: 512MiB}
    mmio64: {base: 0x10000000000, size: 256GiB}
    io: none
    root_ports:
      - name: rp0
        link: {gen: 4, width: 16}
        acs: {capability: all, control: none}
        below:
          switch:
            name: sw0
            ports:
              - name: sw0-dp0
                link: {gen: 4, width: 16}
                acs: {capability: all, control: none}
                below:
                  switch:
                    name: sw1
                    ports:
                      - name: sw1-dp0
                        link: {gen: 4, width: 16}
                        acs: {capability: all, control: none}
                        below:
                          endpoint:
                            name: ep0
                            functions: [{bars: [{index: 0, size: 16KiB, type: mem64}]}]
                      - name: sw1-dp1
                        link: {gen: 4, width: 16}
                        below:
                          endpoint:
                            name: ep1
                            functions: [{bars: [{index: 0, size: 16KiB, type: mem64}]}]
)";
  if (unit) yaml += "iommus:\n  - name: dmar0\n    preset: server\n    include_all: true\n";
  return yaml;
}

}  // namespace pciesim::bench
