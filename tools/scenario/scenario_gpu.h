// The GPU steps of a scenario (gpu_map, gpu_copy; docs/scenarios-steps.md): a small driver for the
// pciesim GPU (docs/gpu.md) that builds each context's GMMU page tables in its VRAM, binds the
// contexts, points the fault buffer and a physical copy-engine ring at VRAM, and runs one copy
// command at a time, reporting how it ended: completion, the fault-buffer entries it added, the
// fabric's verdict on its upstream (system or peer) requests, and the simulated bandwidth.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "devices/gpu/gpu_device.h"
#include "pcie/fabric.h"

namespace pciesim::scenario {

// Where a GPU VA range points: this GPU's VRAM, a peer GPU's VRAM (through peer slot `peer` =
// that GPU's BAR1 in physical mode), or system memory at an IOVA.
struct GpuTarget {
  gpu::GmmuAperture aperture = gpu::GmmuAperture::Video;
  uint64_t address = 0;
  uint8_t peer = 0;
  GpuDevice* peer_gpu = nullptr;  // Peer: whose VRAM the BAR1 offset lands in
};

struct GpuCopyOutcome {
  bool completed = false;          // the command completed (the engine did not halt on it)
  uint32_t ce_error = 0;           // CE_STATUS error code when halted
  std::vector<gpu::GmmuFaultType> gmmu_faults;  // fault-buffer entries the copy added
  uint64_t bytes = 0;
  double seconds = 0;              // simulated, doorbell to idle
  // Upstream (system or peer) destination requests: the first failing one's, else the first's.
  bool upstream = false;
  Verdict verdict;
  AcsBit redirect_bit = AcsBit::None;
  HopId redirect_port = kNoHop;
  std::vector<HopId> path;
  double gbps() const { return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0; }
};

class ScenarioGpu {
 public:
  // VRAM below this is the driver's: instance blocks, page tables, the ring and the fault buffer.
  static constexpr uint64_t kReservedVram = uint64_t{32} << 20;
  static constexpr unsigned kContexts = 16;

  // `run_until(done)` advances simulated time until done() holds (a kernel task's sleep loop).
  ScenarioGpu(Fabric& fabric, const FunctionInfo& f, std::function<void(std::function<bool()>)> run_until);

  ~ScenarioGpu() { m_gpu.set_transaction_listener(nullptr); }
  ScenarioGpu(const ScenarioGpu&) = delete;
  ScenarioGpu& operator=(const ScenarioGpu&) = delete;

  GpuDevice& device() { return m_gpu; }
  // Points peer slot `slot` at `peer`'s BAR1 (PEER_BAR1 registers).
  void set_peer(unsigned slot, const FunctionInfo& peer);
  // Maps [va, va + size) in context `ctx` with 4 KiB pages. Empty string, or what is wrong.
  std::string map(unsigned ctx, uint64_t va, uint64_t size, const GpuTarget& t);
  // One COPY command of `size` bytes in context `ctx`, run to completion (or halt; then RESUME).
  GpuCopyOutcome copy(unsigned ctx, uint64_t src, uint64_t dst, uint64_t size);
  // The bytes at `va` in context `ctx` as the driver mapped them (VRAM or a peer's VRAM);
  // nullopt where nothing is mapped or the target is system memory.
  std::optional<std::vector<uint8_t>> read(unsigned ctx, uint64_t va, uint64_t size) const;
  // Writes `data` at `va` the same way (the C++ VRAM API: no bus time); false where read() fails.
  bool write(unsigned ctx, uint64_t va, const std::vector<uint8_t>& data);

 private:
  struct Context {
    bool bound = false;
    uint64_t pdb = 0;
    std::map<uint64_t, uint64_t> shadow;      // table entries written
    std::map<uint64_t, GpuTarget> pages;      // va page -> target page
  };
  uint32_t rd(uint32_t off);
  void wr(uint32_t off, uint32_t v);
  void set(Context& c, uint64_t addr, uint64_t v);
  uint64_t get(const Context& c, uint64_t addr) const;
  uint64_t alloc_table();
  std::string bind(unsigned ctx);
  std::string map_page(Context& c, uint64_t va, const GpuTarget& t);

  Fabric& m_fabric;
  GpuDevice& m_gpu;
  const FunctionInfo& m_f;
  std::function<void(std::function<bool()>)> m_run_until;
  uint64_t m_bar0 = 0;
  uint64_t m_next_table;
  uint32_t m_put = 0;
  std::map<unsigned, Context> m_ctx;
  std::vector<gpu::GpuTransaction> m_records;
  bool m_recording = false;
};

}  // namespace pciesim::scenario
