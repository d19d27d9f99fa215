// A programmable DMA agent for attack and isolation scenarios (docs/dma-agent.md): a PCIe
// endpoint that issues whatever memory request it is told to, with any address, length and
// direction, a spoofed requester id, a PASID prefix (privileged, execute), any AT value, no-snoop
// and relaxed ordering, or a DWORD write of forged data to an MSI address. It reports how the
// fabric ended each request (the PcieExtension's verdict: delivered, redirected, blocked by an
// ACS bit, UR, CA, IOMMU fault with its VT-d reason) and the data a read brought back.
//
// Two ways to drive it, with the same options:
//   - BAR0 registers (dma_agent_regs.h): a driver or a VFIO user programs address, length,
//     control, then writes the command; the engine thread issues it and the status, verdict and
//     window registers hold the result;
//   - the C++ API for scenario steps: issue(AgentRequest) -> AgentResult, from a SystemC thread.
//
// Every request goes through Endpoint::dma, so the fabric, ACS and any remapping unit see it
// exactly as they see any device's DMA (Bus Master Enable included). A topology says
// `model: dma-agent`; the model supplies function 0 (ids, BAR0, one MSI vector) when the topology
// lists no functions, and each listed function gets an agent of its own behind its BAR0.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <systemc>
#include <vector>

#include "devices/dma_agent/dma_agent_regs.h"
#include "pcie/endpoint.h"

namespace pciesim {

// One request of the agent. `data` is what a write sends (it is padded with zeros or cut to
// `length`); a read ignores it. `options` is the TLP as Endpoint::dma takes it (AT, PASID,
// privileged, execute, no-snoop, relaxed ordering, spoofed requester id).
struct AgentRequest {
  enum class Kind : uint8_t { Read, Write };
  Kind kind = Kind::Read;
  uint64_t address = 0;
  uint32_t length = 0;
  std::vector<uint8_t> data;
  DmaOptions options;
  unsigned function = 0;  // which of the agent's functions issues it

  static AgentRequest read(uint64_t address, uint32_t length, DmaOptions o = {});
  static AgentRequest write(uint64_t address, std::vector<uint8_t> data, DmaOptions o = {});
  // A DWORD memory write of `data` to an MSI address (0xFEEx_xxxx), as any DMA write: it does
  // not go through the MSI capability, so nothing checks that the function owns the vector.
  static AgentRequest forged_msi(uint64_t address, uint32_t data, DmaOptions o = {});
};

struct AgentResult {
  dma_agent::StatusCode status = dma_agent::StatusCode::None;
  Verdict verdict;                      // final: a failure wins; delivered after a redirect is Redirected
  Verdict terminal;                     // the raw terminal outcome
  AcsBit redirect_bit = AcsBit::None;   // the ACS bit that redirected it upstream, if one did
  HopId redirect_port = kNoHop;
  RequesterId requester_on_wire;        // as the TLP carried it when it ended
  bool iommu_checked = false;
  uint64_t iommu_output = 0;
  std::vector<HopId> path;
  std::vector<sc_core::sc_time> path_at;  // when it reached each hop; empty when a cached route gave the path
  std::vector<uint8_t> data;            // a read's data (all ones when it was not delivered)
  sc_core::sc_time latency;             // from issue to completion
  bool delivered() const { return status == dma_agent::StatusCode::Delivered; }
  // The verdict, redirect, requester, IOMMU part and path of a finished request's record.
  void take_record(const PcieExtension& e);
};

class DmaAgent : public Endpoint {
 public:
  SC_HAS_PROCESS(DmaAgent);
  DmaAgent(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment, const topo::LinkSpec* link);

  // Issues `r` now and returns how it ended. Called from a SystemC thread it waits for the
  // request's completion (result.latency) before returning; elsewhere it returns at once with
  // the latency annotated. Bad requests (length 0 or beyond kMaxLength, AT 3, a function the
  // agent does not have) return their status code and issue nothing.
  AgentResult issue(const AgentRequest& r);

  // The result of function `fn`'s last request (register or API).
  const AgentResult& last_result(unsigned fn = 0) const { return state(fn).last; }
  // Requests issued since the last reset, per function.
  uint32_t issued(unsigned fn = 0) const {
    return static_cast<uint32_t>(state(fn).values[reg_index(dma_agent::kCount)]);
  }
  bool has_agent(unsigned fn) const { return fn < m_agents.size() && m_agents[fn]; }

 protected:
  void bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                  PcieExtension& ext, sc_core::sc_time& delay) override;
  // Registers, window and result back to their reset values; a command in flight is dropped
  // (its result is not written back).
  void on_reset(unsigned fn, ResetKind kind) override;

 private:
  struct AgentState {
    std::array<uint64_t, dma_agent::kRegisterCount> values{};
    std::array<uint8_t, dma_agent::kWindowSize> window{};
    AgentResult last;
    bool busy = false;
    uint64_t generation = 0;   // bumped by a reset: a command in flight then writes nothing back
    AgentRequest pending;      // the command the engine runs next
  };
  static constexpr size_t reg_index(uint32_t offset) { return static_cast<size_t>(dma_agent::register_index(offset)); }
  AgentState& state(unsigned fn);
  const AgentState& state(unsigned fn) const;
  void mmio(unsigned fn, bool is_read, uint64_t offset, uint8_t* data, unsigned len, const sc_core::sc_time& delay);
  void command(unsigned fn, uint32_t value, const sc_core::sc_time& delay);
  // The request the registers describe; nullopt (with the status set) when they describe none.
  std::optional<AgentRequest> request_from_registers(unsigned fn, uint32_t cmd);
  // issue() without the wait: the request goes out now, `delay` ends at its completion.
  AgentResult run(const AgentRequest& r, sc_core::sc_time& delay);
  static void set_status(AgentState& s, dma_agent::StatusCode code);
  // Puts `r` in the result registers (and a read's data in the window).
  static void record(AgentState& s, const AgentResult& r, bool was_read);
  void engine();  // SC_THREAD: runs the commands the registers start, one function after another

  std::vector<std::unique_ptr<AgentState>> m_agents;  // function number -> agent (nullptr: none)
  sc_core::sc_event m_any_start;
};

// The agent's function as the model supplies it: PCIe endpoint, BAR0 kBar0Size 64-bit, one MSI.
topo::FunctionSpec dma_agent_function_spec(int function = 0);

}  // namespace pciesim
