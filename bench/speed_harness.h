// What both simulator-speed benchmarks share: the loosely-timed DMA initiator that drives an
// endpoint from an SC_THREAD with a quantum keeper, and the bare SystemC b_transport chain the
// fabric is compared with, measured in the same design (performance-facts H).
#pragma once

#include <cstdint>
#include <cstring>
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
