#include "devices/dma_agent/dma_agent.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "pcie/device_models.h"

namespace pciesim {

using namespace dma_agent;

namespace {

std::unique_ptr<Endpoint> make_dma_agent(const char* name, const topo::EndpointSpec& s, int segment,
                                         const topo::LinkSpec* link) {
  return std::make_unique<DmaAgent>(name, s, segment, link);
}

// A listed function without BARs gets the agent's BAR0; one with BARs must give BAR0 room for the
// register page and the window.
void dma_agent_defaults(topo::EndpointSpec& spec) {
  if (spec.functions.empty()) {
    spec.functions.push_back(dma_agent_function_spec());
    spec.functions.back().loc = spec.loc;
    spec.functions.back().acs.loc = spec.loc;
    return;
  }
  for (topo::FunctionSpec& f : spec.functions) {
    if (f.bars.empty()) {
      f.bars = dma_agent_function_spec(f.function).bars;
      continue;
    }
    const auto bar0 = std::find_if(f.bars.begin(), f.bars.end(), [](const topo::BarSpec& b) { return b.index == 0; });
    if (bar0 == f.bars.end() || bar0->io || bar0->size < kBar0Size)
      throw topo::TopologyError(f.loc, "dma-agent: function " + std::to_string(f.function) + " of endpoint '" +
                                           spec.name + "' needs a memory BAR0 of at least " +
                                           std::to_string(kBar0Size) + " bytes (registers and data window)");
  }
}

[[maybe_unused]] const bool kRegistered =
    register_device_model("dma-agent", make_dma_agent, {true, dma_agent_defaults});

bool delivered(Outcome o) { return o == Outcome::Delivered || o == Outcome::Redirected; }

uint32_t acs_field(AcsBit b) { return b == AcsBit::None ? kNoAcsBit : static_cast<uint32_t>(b); }

bool in_thread() {
  const sc_core::sc_process_handle h = sc_core::sc_get_current_process_handle();
  return h.valid() && h.proc_kind() == sc_core::SC_THREAD_PROC_;
}

}  // namespace

AgentRequest AgentRequest::read(uint64_t address, uint32_t length, DmaOptions o) {
  AgentRequest r;
  r.kind = Kind::Read;
  r.address = address;
  r.length = length;
  r.options = o;
  return r;
}

AgentRequest AgentRequest::write(uint64_t address, std::vector<uint8_t> data, DmaOptions o) {
  AgentRequest r;
  r.kind = Kind::Write;
  r.address = address;
  r.length = static_cast<uint32_t>(std::min<size_t>(data.size(), UINT32_MAX));
  r.data = std::move(data);
  r.options = o;
  return r;
}

AgentRequest AgentRequest::forged_msi(uint64_t address, uint32_t data, DmaOptions o) {
  std::vector<uint8_t> d(4);
  std::memcpy(d.data(), &data, 4);  // little-endian, as the DWORD an MSI write carries
  return write(address, std::move(d), o);
}

topo::FunctionSpec dma_agent_function_spec(int function) {
  topo::FunctionSpec f;
  f.function = function;
  f.vendor = 0x1234;      // the id QEMU's own test devices use (edu is 1234:11e8): no real vendor's
  f.device = 0xda7a;      // pciesim's own device id for the agent
  f.class_code = 0xff0000;  // PCI Code and ID Assignment 1.11: base class 0xff, "does not fit"
  f.bars.push_back(topo::BarSpec{0, kBar0Size, false, true, false, {}});
  f.msi_vectors = 1;      // an MSI capability, so scenarios can compare a real MSI with a forged one
  return f;
}

DmaAgent::DmaAgent(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment,
                   const topo::LinkSpec* link)
    : Endpoint(name, spec, segment, link) {
  for (const topo::FunctionSpec& f : spec.functions) {
    const auto n = static_cast<unsigned>(f.function);
    if (m_agents.size() <= n) m_agents.resize(n + 1);
    m_agents[n] = std::make_unique<AgentState>();
    on_reset(n, ResetKind::Conventional);
  }
  SC_THREAD(engine);
}

DmaAgent::AgentState& DmaAgent::state(unsigned fn) {
  if (!has_agent(fn)) throw std::out_of_range(std::string(name()) + ": no agent function " + std::to_string(fn));
  return *m_agents[fn];
}
const DmaAgent::AgentState& DmaAgent::state(unsigned fn) const {
  if (!has_agent(fn)) throw std::out_of_range(std::string(name()) + ": no agent function " + std::to_string(fn));
  return *m_agents[fn];
}

void DmaAgent::on_reset(unsigned fn, ResetKind) {
  if (!has_agent(fn)) return;
  AgentState& s = *m_agents[fn];
  for (size_t i = 0; i < kRegisterCount; ++i) s.values[i] = kRegisters[i].reset;
  s.window.fill(0);
  s.last = AgentResult{};
  s.busy = false;
  ++s.generation;
}

void DmaAgent::bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                          PcieExtension& ext, sc_core::sc_time& delay) {
  // Registers complete at once, as QEMU completes a device's MMIO in the vCPU thread: no device
  // latency beyond the fabric's.
  ext.consume_burst(delay);
  uint8_t* data = gp.get_data_ptr();
  const unsigned len = gp.get_data_length();
  if (bar == 0 && has_agent(fn_no)) mmio(fn_no, gp.is_read(), offset, data, len, delay);
  else if (gp.is_read()) std::memset(data, 0xff, len);
  ext.completer = fn.bdf();
  ext.deliver(function_hop(fn_no));
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

void DmaAgent::mmio(unsigned fn, bool is_read, uint64_t offset, uint8_t* data, unsigned len,
                    const sc_core::sc_time& delay) {
  AgentState& s = *m_agents[fn];
  if (offset >= kWindow) {
    // The window: 1, 2, 4 or 8 bytes inside it; anything else reads all ones and writes nothing.
    const bool ok = (len == 1 || len == 2 || len == 4 || len == 8) && offset - kWindow <= kWindowSize - len;
    if (is_read) {
      if (ok) std::memcpy(data, s.window.data() + (offset - kWindow), len);
      else std::memset(data, 0xff, len);
    } else if (ok) {
      std::memcpy(s.window.data() + (offset - kWindow), data, len);
    }
    return;
  }
  const int i = register_index(offset);
  const Register* r = i >= 0 ? &kRegisters[i] : nullptr;
  if (r && !access_size_ok(*r, len)) r = nullptr;
  if (is_read) {
    std::memset(data, 0xff, len);  // wrong size, unlisted or write-only: all ones
    if (r && r->access != Access::WriteOnly) std::memcpy(data, &s.values[static_cast<size_t>(i)], len);
    return;
  }
  if (!r || r->access == Access::ReadOnly) return;
  uint64_t v = 0;
  std::memcpy(&v, data, len);  // a 4-byte write to an 8-byte register stores the low half, zero-extended
  if (r->offset == kCommand) {
    command(fn, static_cast<uint32_t>(v), delay);
    return;
  }
  s.values[static_cast<size_t>(i)] = v & r->wmask;
}

void DmaAgent::set_status(AgentState& s, StatusCode code) {
  s.values[reg_index(kStatus)] =
      (s.busy ? kStatusBusy : 0) | (uint32_t{static_cast<uint8_t>(code)} << kStatusCodeShift);
}

std::optional<AgentRequest> DmaAgent::request_from_registers(unsigned fn, uint32_t cmd) {
  AgentState& s = *m_agents[fn];
  const uint32_t ctl = static_cast<uint32_t>(s.values[reg_index(kControl)]);
  AgentRequest r;
  r.function = fn;
  r.address = s.values[reg_index(kAddress)];
  r.options.at = static_cast<AddressType>((ctl & kCtlAtMask) >> kCtlAtShift);
  r.options.has_pasid = ctl & kCtlPasid;
  r.options.pasid = static_cast<uint32_t>(s.values[reg_index(kPasid)]);
  r.options.privileged = ctl & kCtlPrivileged;
  r.options.execute = ctl & kCtlExecute;
  r.options.no_snoop = ctl & kCtlNoSnoop;
  r.options.relaxed_ordering = ctl & kCtlRelaxedOrdering;
  if (ctl & kCtlSpoof) {
    const auto id = static_cast<uint16_t>(s.values[reg_index(kRequester)]);
    r.options.spoof_requester = RequesterId{static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id & 0xff)};
  }
  if (cmd == kCmdForgedMsi) {
    r = AgentRequest::forged_msi(r.address, static_cast<uint32_t>(s.values[reg_index(kMsiData)]), r.options);
    r.function = fn;
    return r;
  }
  if (cmd != kCmdStart) {
    set_status(s, StatusCode::BadCommand);
    return std::nullopt;
  }
  r.length = static_cast<uint32_t>(s.values[reg_index(kLength)]);
  r.kind = (ctl & kCtlWrite) ? AgentRequest::Kind::Write : AgentRequest::Kind::Read;
  if (r.kind == AgentRequest::Kind::Write && r.length > 0 && r.length <= kMaxLength) {
    r.data.resize(r.length);
    if (ctl & kCtlPattern) {
      const auto pattern = static_cast<uint32_t>(s.values[reg_index(kPattern)]);
      for (uint32_t i = 0; i < r.length; ++i) r.data[i] = static_cast<uint8_t>(pattern >> (8 * (i % 4)));
    } else {
      std::memcpy(r.data.data(), s.window.data(), r.length);
    }
  }
  return r;
}

void DmaAgent::command(unsigned fn, uint32_t value, const sc_core::sc_time& delay) {
  AgentState& s = *m_agents[fn];
  if (s.busy) {
    // The running command's result arrives later and overwrites the code; busy stays set.
    set_status(s, StatusCode::Busy);
    return;
  }
  std::optional<AgentRequest> r = request_from_registers(fn, value);
  if (!r) return;
  // Checked here, not in the engine, so a bad request never looks busy.
  if (r->length == 0) return set_status(s, StatusCode::BadLength);
  if (r->length > kMaxLength) return set_status(s, StatusCode::TooLong);
  if (r->options.at != AddressType::Untranslated && r->options.at != AddressType::TranslationRequest &&
      r->options.at != AddressType::Translated)
    return set_status(s, StatusCode::BadAddressType);
  s.pending = std::move(*r);
  s.busy = true;
  set_status(s, StatusCode::None);
  m_any_start.notify(delay);  // the engine starts when the CPU's write has arrived
}

void DmaAgent::engine() {
  for (;;) {
    sc_core::wait(m_any_start);
    for (unsigned fn = 0; fn < m_agents.size(); ++fn) {
      if (!m_agents[fn] || !m_agents[fn]->busy) continue;
      AgentState& s = *m_agents[fn];
      const uint64_t generation = s.generation;
      const AgentRequest req = s.pending;
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      AgentResult res = run(req, delay);
      sc_core::wait(delay);
      if (generation != s.generation) continue;  // a reset came in meanwhile: nothing is written back
      s.busy = false;
      s.last = res;
      record(s, res, req.kind == AgentRequest::Kind::Read);
    }
  }
}

AgentResult DmaAgent::run(const AgentRequest& r, sc_core::sc_time& delay) {
  AgentResult res;
  if (!has_agent(r.function)) {
    res.status = StatusCode::BadCommand;
    return res;
  }
  if (r.length == 0) {
    res.status = StatusCode::BadLength;
    return res;
  }
  if (r.length > kMaxLength) {
    res.status = StatusCode::TooLong;
    return res;
  }
  if (static_cast<unsigned>(r.options.at) > static_cast<unsigned>(AddressType::Translated)) {
    res.status = StatusCode::BadAddressType;
    return res;
  }
  AgentState& s = *m_agents[r.function];
  const bool is_read = r.kind == AgentRequest::Kind::Read;
  std::vector<uint8_t> buffer(r.length, 0);
  if (!is_read) std::copy_n(r.data.begin(), std::min<size_t>(r.data.size(), r.length), buffer.begin());
  const sc_core::sc_time start = delay;
  const PcieExtension& e = dma(r.function, is_read ? TlpKind::MemRead : TlpKind::MemWrite, r.address, buffer.data(),
                               r.length, delay, r.options);
  ++s.values[reg_index(kCount)];
  res.take_record(e);
  res.latency = delay - start;
  res.status = delivered(res.verdict.outcome) ? StatusCode::Delivered : StatusCode::Failed;
  if (is_read) {
    // A read that ends in anything but delivered returns all ones (docs/routing-and-verdicts.md).
    if (res.status != StatusCode::Delivered) std::fill(buffer.begin(), buffer.end(), 0xff);
    res.data = std::move(buffer);
  }
  return res;
}

void AgentResult::take_record(const PcieExtension& e) {
  verdict = e.final_verdict();
  terminal = e.verdict;
  redirect_bit = e.redirect_bit;
  redirect_port = e.redirect_port;
  requester_on_wire = e.requester;
  iommu_checked = e.iommu_checked;
  iommu_output = e.iommu_checked ? e.iommu_output : 0;
  path.assign(e.hops.begin(), e.hops.begin() + e.hop_count);
  path_at.clear();
  if (e.hop_times) path_at.assign(e.hop_at.begin(), e.hop_at.begin() + e.hop_count);
}

AgentResult DmaAgent::issue(const AgentRequest& r) {
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  AgentResult res = run(r, delay);
  if (in_thread() && delay > sc_core::SC_ZERO_TIME) sc_core::wait(delay);
  if (has_agent(r.function)) {
    AgentState& s = *m_agents[r.function];
    s.last = res;
    if (res.status == StatusCode::Delivered || res.status == StatusCode::Failed)
      record(s, res, r.kind == AgentRequest::Kind::Read);
    else
      set_status(s, res.status);
  }
  return res;
}

void DmaAgent::record(AgentState& s, const AgentResult& r, bool was_read) {
  set_status(s, r.status);
  s.values[reg_index(kVerdict)] = static_cast<uint32_t>(r.verdict.outcome) |
                              acs_field(r.verdict.acs_bit) << kVerdictAcsShift |
                              acs_field(r.redirect_bit) << kVerdictRedirectShift |
                              uint32_t{r.verdict.fault_reason} << kVerdictReasonShift;
  s.values[reg_index(kWireRequester)] = r.requester_on_wire.raw();
  s.values[reg_index(kIommuOutput)] = r.iommu_output;
  if (was_read) std::copy(r.data.begin(), r.data.end(), s.window.begin());
}

}  // namespace pciesim
