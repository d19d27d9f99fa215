// The pciesim GPU (docs/gpu.md, "The device"): a PCIe endpoint with NVIDIA's GMMU page tables, a
// copy engine and a fault buffer behind the programming interface of gpu_regs.h.
//
//   BAR0  16 MiB registers (gpu_regs.h), MSI-X table and PBA in its last 4 KiB page
//   BAR1  the VRAM aperture: physical (BAR1 offset = VRAM address) or virtual (BAR1_BLOCK context)
//   VRAM  sparse (gpu_vram.h), survives a function reset
//   GMMU  per-context PDBs from instance blocks, a set-associative TLB (gpu_mmu.h), page tables in
//         VRAM or in system memory (read by DMA through the fabric and the IOMMU)
//   CE0   a ring of 64-byte commands in GPU virtual memory, COPY / FILL / NOP, semaphores,
//         interrupts; every access translated by the GMMU; system memory through Endpoint::dma
//         (IOVA -> PA by the IOMMU), peer memory as P2P writes/reads to another GPU's BAR1
//
// A topology says `model: gpu` with optional `params:` (vram, bar1, mmu, vga, tlb_entries,
// tlb_ways, tlb_policy, ce_request_bytes, tlb_hit_ns, vram_latency_ns, vram_gbps); the model
// supplies function 0. Every memory transaction can be reported to a listener as a GpuTransaction
// (GPU VA -> aperture address / IOVA -> physical address, path, latency).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <systemc>
#include <unordered_map>
#include <vector>

#include "devices/gpu/gpu_mmu.h"
#include "devices/gpu/gpu_regs.h"
#include "devices/gpu/gpu_vram.h"
#include "pcie/endpoint.h"

namespace pciesim {

namespace gpu {

// The device's parameters (topology `params:`), parsed and validated by parse_gpu_params.
struct GpuParams {
  uint64_t vram = uint64_t{1} << 30;           // 1 GiB unless told
  uint64_t bar1 = regs::kBar1DefaultSize;
  std::string mmu = "v2-pascal";               // v2-pascal | v2-ampere | v3-hopper
  bool vga = false;
  unsigned tlb_entries = 512, tlb_ways = 8;    // see gpu_device.cpp kDefaultTlb*
  ReplacementPolicy tlb_policy = ReplacementPolicy::Lru;
  unsigned ce_request_bytes = 64;              // see gpu_device.cpp kDefaultRequestBytes
  double tlb_hit_ns = 0, vram_latency_ns = 0, vram_gbps = 0;  // 0: the defaults in gpu_device.cpp
  GmmuFormat format() const;
  uint32_t mmu_format_register() const;
};
// Throws topo::TopologyError at spec.loc naming the parameter.
GpuParams parse_gpu_params(const topo::EndpointSpec& spec);

// Who issued a memory transaction.
enum class GpuEngine : uint8_t { Ce0, Bar1 };
// What a transaction was for.
enum class GpuPurpose : uint8_t { Command, Source, Destination, Semaphore, PageWalk, FaultBuffer, Bar1 };
const char* to_string(GpuEngine e);
const char* to_string(GpuPurpose p);

// One memory transaction of the GPU: the chain GPU VA -> (GMMU) aperture address -> (fabric,
// IOMMU) physical address, with the fabric's verdict and path for system and peer accesses.
struct GpuTransaction {
  GpuEngine engine = GpuEngine::Ce0;
  GpuPurpose purpose = GpuPurpose::Source;
  uint32_t client = 0;             // fault-buffer client id (regs::kClient*)
  unsigned context = 0;
  bool is_write = false;
  uint32_t bytes = 0;
  bool has_va = true;              // false for page-walk and fault-buffer accesses (physical)
  uint64_t va = 0;
  bool tlb_hit = false;
  GmmuAperture aperture = GmmuAperture::Video;
  uint8_t peer_id = 0;
  uint64_t address = 0;            // GPU-physical (Video) or bus address (system: IOVA; peer: BAR1 + offset)
  bool upstream = false;           // went out through Endpoint::dma
  bool ok = true;                  // delivered (or a VRAM access)
  Verdict verdict;                 // upstream: the fabric's final verdict
  bool iommu_checked = false;
  uint64_t iommu_output = 0;       // the physical address the IOMMU produced
  std::vector<HopId> path;         // upstream: the hops
  sc_core::sc_time latency;        // from issue to completion
};
using GpuTransactionListener = std::function<void(const GpuTransaction&)>;

// The dev_ram TARGET encoding of CTX_INST and FAULT_BUF (gpu_regs.h kTarget*); 1 -> Invalid.
GmmuAperture aperture_of_target(uint32_t target);

struct CeStats {
  uint64_t commands = 0, bytes = 0, requests = 0, errors = 0;
};

}  // namespace gpu

class GpuDevice : public Endpoint {
 public:
  SC_HAS_PROCESS(GpuDevice);
  GpuDevice(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment, const topo::LinkSpec* link);

  const gpu::GpuParams& params() const { return m_params; }

  // ---- C++ API for drivers' tests and scenarios (no bus transaction, no time) ----------------
  uint64_t vram_size() const { return m_vram.size(); }
  void vram_read(uint64_t addr, uint8_t* out, size_t len) const { m_vram.read(addr, out, len); }
  void vram_write(uint64_t addr, const uint8_t* in, size_t len) { m_vram.write(addr, in, len); }
  uint64_t vram_read64(uint64_t addr) const { return m_vram.read64(addr); }
  void vram_write64(uint64_t addr, uint64_t v) { m_vram.write64(addr, v); }
  const gpu::GpuVram& vram() const { return m_vram; }
  const gpu::Gmmu& gmmu() const { return m_mmu; }
  const CacheStats& tlb_stats() const { return m_mmu.tlb_stats(); }
  uint32_t reg(uint32_t offset) const;         // a BAR0 register's value (0xffffffff if none)
  uint64_t fault_count() const { return reg(gpu::regs::kFaultCount); }
  uint64_t faults_dropped() const { return reg(gpu::regs::kFaultDropped); }
  const gpu::CeStats& ce_stats() const { return m_ce_stats; }
  bool ce_busy() const { return m_ce_busy; }
  uint64_t msi_sent() const { return m_msi_sent; }
  // Every memory transaction from now on (nullptr: none; the fast path then builds no record).
  void set_transaction_listener(gpu::GpuTransactionListener l) { m_listener = std::move(l); }

 protected:
  void bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                  PcieExtension& ext, sc_core::sc_time& delay) override;
  // Registers, TLB, contexts, copy engine and fault-buffer state back to reset values; a command
  // in flight is abandoned. VRAM keeps its contents (docs/gpu.md "Reset").
  void on_reset(unsigned fn, ResetKind kind) override;

 private:
  friend class GpuWalkReader;
  struct RegDef {
    uint32_t offset, reset, wmask, w1c;
  };
  // Where an access goes and how it ended.
  enum class Access : uint8_t { Ok, Fault, BusError };
  struct Requester {
    gpu::GpuEngine engine;
    uint32_t engine_id, client;
    unsigned context;
  };

  // registers (gpu_device.cpp)
  void build_registers();
  uint32_t& val(uint32_t offset) { return m_values[m_index.at(offset)]; }
  uint32_t val(uint32_t offset) const { return m_values[m_index.at(offset)]; }
  void mmio(bool is_read, uint64_t offset, uint8_t* data, unsigned len, const sc_core::sc_time& delay);
  void on_write(uint32_t offset, uint32_t value, const sc_core::sc_time& delay);
  void raise(uint32_t bits, const sc_core::sc_time& delay);
  void update_intx();
  void bind_context(unsigned ctx);
  void bar1(bool is_read, uint64_t offset, uint8_t* data, unsigned len, sc_core::sc_time& delay);

  // memory (gpu_memory.cpp)
  Access access(const Requester& r, gpu::GpuPurpose purpose, uint64_t va, bool write, uint8_t* data, unsigned len,
                sc_core::sc_time& t);
  Access physical(const Requester& r, gpu::GpuPurpose purpose, gpu::GmmuAperture ap, uint8_t peer, uint64_t addr,
                  bool write, uint8_t* data, unsigned len, sc_core::sc_time& t, bool has_va, uint64_t va, bool hit);
  bool table_read(gpu::GmmuAperture ap, uint64_t addr, uint64_t* words, unsigned count) const;
  void record_fault(const Requester& r, uint64_t va, gpu::GmmuAccessType type, const gpu::GmmuFault& f,
                    sc_core::sc_time& t);
  sc_core::sc_time vram_time(unsigned bytes) const;
  // `bytes` at the VRAM bandwidth (the last size asked is remembered: requests repeat one size).
  sc_core::sc_time vram_transfer(unsigned bytes) const {
    if (bytes != m_transfer_bytes) {
      m_transfer_bytes = bytes;
      m_transfer_time = sc_core::sc_time(m_vram_ps_per_byte * bytes, sc_core::SC_PS);
    }
    return m_transfer_time;
  }

  // copy engine (gpu_copy_engine.cpp)
  void ce_thread();
  void ce_halt(uint8_t error, sc_core::sc_time& t);
  void ce_status();
  // Runs one command; returns kCeErrNone or the error that halts the engine.
  uint8_t ce_execute(const uint8_t* cmd, sc_core::sc_time& t);
  struct CeSide;
  Access ce_access(const Requester& r, const CeSide& side, gpu::GpuPurpose purpose, uint64_t addr, bool write,
                   uint8_t* data, unsigned len, sc_core::sc_time& t);
  uint8_t ce_move(uint64_t src, uint64_t dst, uint64_t len, uint32_t flags, bool fill, uint8_t pattern,
                  sc_core::sc_time& t);

  gpu::GpuParams m_params;
  gpu::GpuVram m_vram;
  gpu::Gmmu m_mmu;
  std::vector<RegDef> m_defs;
  std::vector<uint32_t> m_values;
  std::unordered_map<uint32_t, uint32_t> m_index;  // offset -> m_defs / m_values index
  gpu::GpuTransactionListener m_listener;

  sc_core::sc_time m_tlb_hit, m_vram_latency;
  double m_vram_ps_per_byte = 0;
  mutable unsigned m_transfer_bytes = ~0u;
  mutable sc_core::sc_time m_transfer_time;

  // walk state: the time the walk's reads accumulate, and who walks (for records)
  mutable sc_core::sc_time* m_walk_time = nullptr;
  mutable const Requester* m_walker = nullptr;

  sc_core::sc_event m_ce_kick;
  bool m_ce_busy = false, m_ce_halted = false;
  uint8_t m_ce_error = 0;
  uint32_t m_ce_fail_index = 0;
  uint64_t m_generation = 0;  // bumped by a reset: the engine abandons what it was doing
  gpu::CeStats m_ce_stats;
  uint64_t m_msi_sent = 0;
  std::vector<uint8_t> m_buffer;  // one request's data (ce_request_bytes, at least a page), reused
};

// The GPU's function 0 as the model supplies it.
topo::FunctionSpec gpu_function_spec(const gpu::GpuParams& p);

}  // namespace pciesim
