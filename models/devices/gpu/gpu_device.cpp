// The GPU device model: parameters, function 0, BAR0 registers (a declared table with masks; the
// handlers exist for side effects only), interrupts, BAR1 and reset. Memory accesses through the
// GMMU are in gpu_memory.cpp, the copy engine in gpu_copy_engine.cpp.
#include "devices/gpu/gpu_device.h"

#include <cmath>
#include <algorithm>
#include <cstring>
#include <set>
#include <stdexcept>

#include "pcie/device_models.h"

namespace pciesim {

using namespace gpu;
using namespace gpu::regs;

namespace {

// ---- defaults of the timing knobs -------------------------------------------------------------
// VRAM access latency: ~270 ns, i.e. about 375 SM cycles at V100's 1.38 GHz, our reading of the
// V100 global-memory (TLB-hit) latency in Jia et al., "Dissecting the NVIDIA Volta GPU Architecture
// via Microbenchmarking" (arXiv:1804.06826, 2018), ch. 3; not re-checked against the paper's
// table in this session: treat it as approximate. Override with params.vram_latency_ns.
constexpr double kDefaultVramLatencyNs = 270.0;
// VRAM bandwidth: 900 GB/s, Tesla V100 SXM2 HBM2 (NVIDIA Tesla V100 datasheet). params.vram_gbps.
constexpr double kDefaultVramGBps = 900.0;
// TLB hit: 1 ns. A modelling choice (a pipelined lookup of one or two cycles); the microbenchmark
// papers measure hit latency only folded into a memory access. params.tlb_hit_ns.
constexpr double kDefaultTlbHitNs = 1.0;
// TLB geometry: 512 entries, 8 ways, LRU. A modelling choice (NVIDIA publishes no GMMU TLB
// geometry); params.tlb_entries / tlb_ways / tlb_policy.
constexpr unsigned kDefaultTlbEntries = 512, kDefaultTlbWays = 8;
// Copy-engine request size: 64 bytes. A modelling choice: the unit the copy benchmark counts
// (bench/bench_gpu_copy.cpp) and a size that never crosses a 4 KiB page (PCIe 2.2.7: requests do
// not cross 4 KiB boundaries); params.ce_request_bytes (a power of two, 4 .. 4096).
constexpr unsigned kDefaultRequestBytes = 64;

std::string param(const topo::EndpointSpec& s, const char* key) {
  auto it = s.params.find(key);
  return it == s.params.end() ? std::string() : it->second;
}

[[noreturn]] void bad(const topo::EndpointSpec& s, const std::string& key, const std::string& why) {
  throw topo::TopologyError(s.loc, "gpu '" + s.name + "': params." + key + " '" + param(s, key.c_str()) + "' " + why);
}

// "1GiB", "256MiB", "4096", "0x10000000", "64KiB", "1TiB"
bool parse_size(const std::string& text, uint64_t* out) {
  size_t used = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(text, &used, 0);
  } catch (const std::exception&) {
    return false;
  }
  const std::string unit = text.substr(used);
  unsigned shift = 0;
  if (unit.empty() || unit == "B") shift = 0;
  else if (unit == "KiB") shift = 10;
  else if (unit == "MiB") shift = 20;
  else if (unit == "GiB") shift = 30;
  else if (unit == "TiB") shift = 40;
  else return false;
  if (shift && v > (~uint64_t{0} >> shift)) return false;
  *out = v << shift;
  return true;
}

bool parse_unsigned(const std::string& text, unsigned* out) {
  uint64_t v = 0;
  if (!parse_size(text, &v) || v > 0xffffffffu) return false;
  *out = static_cast<unsigned>(v);
  return true;
}

bool parse_positive(const std::string& text, double* out) {
  char* end = nullptr;
  const double d = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(d) || d <= 0) return false;
  *out = d;
  return true;
}

bool pow2(uint64_t v) { return v && !(v & (v - 1)); }

std::unique_ptr<Endpoint> make_gpu(const char* name, const topo::EndpointSpec& s, int segment,
                                   const topo::LinkSpec* link) {
  return std::make_unique<GpuDevice>(name, s, segment, link);
}

void gpu_defaults(topo::EndpointSpec& spec) {
  const GpuParams p = parse_gpu_params(spec);  // bad params fail here, with the file and line
  if (!spec.functions.empty())
    throw topo::TopologyError(spec.functions.front().loc,
                              "gpu '" + spec.name + "': the model supplies its function (ids, BAR0, BAR1, MSI-X, "
                              "AER); give `params:` instead of `functions:`");
  spec.functions.push_back(gpu_function_spec(p));
  spec.functions.back().loc = spec.loc;
  spec.functions.back().acs.loc = spec.loc;
  for (auto& b : spec.functions.back().bars) b.loc = spec.loc;
}

[[maybe_unused]] const bool kRegistered = register_device_model("gpu", make_gpu, {true, gpu_defaults});

}  // namespace

namespace gpu {

GmmuAperture aperture_of_target(uint32_t target) {
  switch (target & 3) {
    case kTargetVideo: return GmmuAperture::Video;
    case kTargetSysCoherent: return GmmuAperture::SysCoherent;
    case kTargetSysNonCoherent: return GmmuAperture::SysNonCoherent;
    default: return GmmuAperture::Invalid;
  }
}

GmmuFormat GpuParams::format() const {
  if (mmu == "v2-ampere") return GmmuFormat::v2_ampere();
  if (mmu == "v3-hopper") return GmmuFormat::v3_hopper();
  return GmmuFormat::v2_pascal();
}

uint32_t GpuParams::mmu_format_register() const {
  if (mmu == "v2-ampere") return kMmuFormatV2Ampere;
  if (mmu == "v3-hopper") return kMmuFormatV3Hopper;
  return kMmuFormatV2Pascal;
}

GpuParams parse_gpu_params(const topo::EndpointSpec& s) {
  static const std::set<std::string> kKnown = {"vram", "bar1", "mmu", "vga", "tlb_entries", "tlb_ways",
                                               "tlb_policy", "ce_request_bytes", "tlb_hit_ns",
                                               "vram_latency_ns", "vram_gbps"};
  for (const auto& kv : s.params)
    if (!kKnown.count(kv.first))
      throw topo::TopologyError(s.loc, "gpu '" + s.name + "': unknown parameter '" + kv.first +
                                           "' (vram, bar1, mmu, vga, tlb_entries, tlb_ways, tlb_policy, "
                                           "ce_request_bytes, tlb_hit_ns, vram_latency_ns, vram_gbps)");
  GpuParams p;
  p.tlb_entries = kDefaultTlbEntries;
  p.tlb_ways = kDefaultTlbWays;
  p.ce_request_bytes = kDefaultRequestBytes;
  p.tlb_hit_ns = kDefaultTlbHitNs;
  p.vram_latency_ns = kDefaultVramLatencyNs;
  p.vram_gbps = kDefaultVramGBps;
  if (auto v = param(s, "mmu"); !v.empty()) {
    if (v != "v2-pascal" && v != "v2-ampere" && v != "v3-hopper") bad(s, "mmu", "must be v2-pascal, v2-ampere or v3-hopper");
    p.mmu = v;
  }
  if (auto v = param(s, "vram"); !v.empty()) {
    if (!parse_size(v, &p.vram) || p.vram == 0 || p.vram % GpuVram::kPageSize)
      bad(s, "vram", "must be a size in bytes (e.g. 1GiB), a multiple of 4 KiB");
  }
  // The PTE's video-memory address field bounds VRAM (gmmu_format.h pte_address_limit).
  const uint64_t limit = pte_address_limit(p.format(), GmmuAperture::Video);
  if (p.vram > limit)
    bad(s, "vram", "exceeds what " + p.mmu + " PTEs address in video memory (" + std::to_string(limit >> 30) + " GiB)");
  if (auto v = param(s, "bar1"); !v.empty()) {
    // 32 MiB: the smallest BAR1 of NVIDIA parts with the Resizable BAR capability (PCIe 7.8.6
    // sizes start at 1 MiB; we require room for page-sized windows and say so).
    if (!parse_size(v, &p.bar1) || !pow2(p.bar1) || p.bar1 < (uint64_t{1} << 20))
      bad(s, "bar1", "must be a power-of-two size of at least 1MiB");
  }
  if (auto v = param(s, "vga"); !v.empty()) {
    if (v == "true" || v == "1") p.vga = true;
    else if (v != "false" && v != "0") bad(s, "vga", "must be true or false");
  }
  if (auto v = param(s, "tlb_entries"); !v.empty())
    if (!parse_unsigned(v, &p.tlb_entries)) bad(s, "tlb_entries", "must be a number (0 disables the TLB)");
  if (auto v = param(s, "tlb_ways"); !v.empty())
    if (!parse_unsigned(v, &p.tlb_ways) || p.tlb_ways == 0) bad(s, "tlb_ways", "must be a positive number");
  if (p.tlb_entries && (p.tlb_entries % p.tlb_ways || !pow2(p.tlb_entries / p.tlb_ways)))
    bad(s, "tlb_entries", "divided by tlb_ways (" + std::to_string(p.tlb_ways) + ") must be a power of two");
  if (auto v = param(s, "tlb_policy"); !v.empty()) {
    if (v == "lru") p.tlb_policy = ReplacementPolicy::Lru;
    else if (v == "fifo") p.tlb_policy = ReplacementPolicy::Fifo;
    else if (v == "random") p.tlb_policy = ReplacementPolicy::Random;
    else if (v == "tree-plru") p.tlb_policy = ReplacementPolicy::TreePlru;
    else bad(s, "tlb_policy", "must be lru, fifo, random or tree-plru");
  }
  if (p.tlb_entries && p.tlb_policy == ReplacementPolicy::TreePlru && (!pow2(p.tlb_ways) || p.tlb_ways > 64))
    bad(s, "tlb_policy", "tree-plru needs tlb_ways a power of two up to 64");
  if (auto v = param(s, "ce_request_bytes"); !v.empty())
    if (!parse_unsigned(v, &p.ce_request_bytes) || !pow2(p.ce_request_bytes) || p.ce_request_bytes < 4 ||
        p.ce_request_bytes > 4096)
      bad(s, "ce_request_bytes", "must be a power of two from 4 to 4096");
  if (auto v = param(s, "tlb_hit_ns"); !v.empty())
    if (!parse_positive(v, &p.tlb_hit_ns)) bad(s, "tlb_hit_ns", "must be a positive number of nanoseconds");
  if (auto v = param(s, "vram_latency_ns"); !v.empty())
    if (!parse_positive(v, &p.vram_latency_ns)) bad(s, "vram_latency_ns", "must be a positive number of nanoseconds");
  if (auto v = param(s, "vram_gbps"); !v.empty())
    if (!parse_positive(v, &p.vram_gbps)) bad(s, "vram_gbps", "must be a positive number of GB/s");
  return p;
}

const char* to_string(GpuEngine e) { return e == GpuEngine::Ce0 ? "ce0" : "bar1"; }
const char* to_string(GpuPurpose p) {
  switch (p) {
    case GpuPurpose::Command: return "command";
    case GpuPurpose::Source: return "source";
    case GpuPurpose::Destination: return "destination";
    case GpuPurpose::Semaphore: return "semaphore";
    case GpuPurpose::PageWalk: return "page-walk";
    case GpuPurpose::FaultBuffer: return "fault-buffer";
    case GpuPurpose::Bar1: return "bar1";
  }
  return "?";
}

}  // namespace gpu

topo::FunctionSpec gpu_function_spec(const GpuParams& p) {
  topo::FunctionSpec f;
  f.function = 0;
  f.vendor = kVendorId;
  f.device = kDeviceId;
  f.class_code = p.vga ? kClassVga : kClass3d;
  f.revision = 0xa1;  // NVIDIA parts report revision a1 (lspci "rev a1"); any value would do
  f.subsystem_vendor = kVendorId;
  f.subsystem = kDeviceId;
  // BAR0 registers: 32-bit non-prefetchable; BAR1 VRAM aperture: 64-bit prefetchable (gpu_regs.h).
  f.bars.push_back(topo::BarSpec{0, kBar0Size, false, false, false, {}});
  f.bars.push_back(topo::BarSpec{1, p.bar1, false, true, true, {}});
  f.msix_vectors = kMsixVectors;  // table and PBA in BAR0's last 4 KiB (capabilities.cpp default_msix_layout)
  f.aer = true;
  f.flr = true;
  f.interrupt_pin = 1;
  return f;
}

GpuDevice::GpuDevice(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment,
                     const topo::LinkSpec* link)
    : Endpoint(name, spec, segment, link),
      m_params(parse_gpu_params(spec)),
      m_vram(m_params.vram),
      m_mmu(m_params.format(), CacheConfig{m_params.tlb_entries, m_params.tlb_ways, m_params.tlb_policy}),
      m_tlb_hit(m_params.tlb_hit_ns, sc_core::SC_NS),
      m_vram_latency(m_params.vram_latency_ns, sc_core::SC_NS),
      m_vram_ps_per_byte(1000.0 / m_params.vram_gbps),  // 1 GB/s = 1 byte per ns
      m_buffer(std::max<size_t>(m_params.ce_request_bytes, gpu::GpuVram::kPageSize)) {
  build_registers();
  SC_THREAD(ce_thread);
}

// ---- registers ----------------------------------------------------------------------------------

void GpuDevice::build_registers() {
  auto def = [this](uint32_t off, uint32_t reset, uint32_t wmask, uint32_t w1c) {
    m_index[off] = static_cast<uint32_t>(m_defs.size());
    m_defs.push_back(RegDef{off, reset, wmask, w1c});
  };
  const uint32_t caps = kMaxContexts | (kMaxPeers << 8) | (1u << 16);  // 64 contexts, 8 peers, 1 CE
  //  offset          reset                                   wmask        w1c
  def(kBoot0, kBoot0Value, 0, 0);
  def(kVersion, kVersionValue, 0, 0);
  def(kVramSizeLo, static_cast<uint32_t>(m_params.vram), 0, 0);
  def(kVramSizeHi, static_cast<uint32_t>(m_params.vram >> 32), 0, 0);
  def(kMmuFormat, m_params.mmu_format_register(), 0, 0);
  def(kCaps, caps, 0, 0);
  def(kScratch, 0, 0xffffffff, 0);
  def(kBar1SizeLo, static_cast<uint32_t>(m_params.bar1), 0, 0);
  def(kBar1SizeHi, static_cast<uint32_t>(m_params.bar1 >> 32), 0, 0);
  def(kIntrStatus, 0, 0, kIntrCeDone | kIntrCeError | kIntrMmuFault | kIntrFaultOverflow);
  def(kIntrEnable, 0, kIntrCeDone | kIntrCeError | kIntrMmuFault | kIntrFaultOverflow, 0);
  for (unsigned i = 0; i < kMaxContexts; ++i) {
    def(kCtxInstBase + i * kCtxInstStride, 0, 0xfffff000u | kInstValid | 3u, 0);
    def(kCtxInstBase + i * kCtxInstStride + 4, 0, 0xffffffff, 0);
  }
  def(kBar1Block, 0, kBar1Virtual | 0x3f, 0);
  for (unsigned p = 0; p < kMaxPeers; ++p) {
    def(kPeerBar1Base + p * kPeerStride, 0, 0xffffffff, 0);
    def(kPeerBar1Base + p * kPeerStride + 4, 0, 0xffffffff, 0);
  }
  def(kInvalCtx, 0, 0x3f, 0);
  def(kInvalVaLo, 0, 0xfffff000u, 0);
  def(kInvalVaHi, 0, 0xffffffff, 0);
  def(kInvalidate, 0, 0x3, 0);  // the scope reads back; TRIGGER and PENDING read 0
  def(kInvalCount, 0, 0, 0);
  def(kFaultBufLo, 0, 0xfffff000u | 3u, 0);
  def(kFaultBufHi, 0, 0xffffffff, 0);
  def(kFaultBufSize, 0, 0xffffffff, 0);
  def(kFaultGet, 0, 0xffffffff, 0);
  def(kFaultPut, 0, 0, 0);
  def(kFaultCtrl, 0, kFaultEnable, kFaultOverflow);
  def(kFaultCount, 0, 0, 0);
  def(kFaultDropped, 0, 0, 0);
  def(kCeCtx, 0, 0x3f, 0);
  def(kCeRingLo, 0, 0xffffffff, 0);
  def(kCeRingHi, 0, 0xffffffff, 0);
  def(kCeRingSize, 0, 0xffffffff, 0);
  def(kCePut, 0, 0xffffffff, 0);
  def(kCeGet, 0, 0, 0);
  def(kCeStatus, 0, 0, 0);
  def(kCeCtrl, 0, 0, 0);  // RESUME is an action; reads 0
  def(kCeCompleted, 0, 0, 0);
  def(kCeBytesLo, 0, 0, 0);
  def(kCeBytesHi, 0, 0, 0);
  m_values.resize(m_defs.size());
  for (size_t i = 0; i < m_defs.size(); ++i) m_values[i] = m_defs[i].reset;
}

uint32_t GpuDevice::reg(uint32_t offset) const {
  auto it = m_index.find(offset);
  return it == m_index.end() ? 0xffffffffu : m_values[it->second];
}

void GpuDevice::bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                           PcieExtension& ext, sc_core::sc_time& delay) {
  ext.consume_burst(delay);
  uint8_t* data = gp.get_data_ptr();
  const unsigned len = gp.get_data_length();
  if (fn_no == 0 && bar == 0) {
    // Registers complete at once (as QEMU completes device MMIO in the vCPU thread).
    mmio(gp.is_read(), offset, data, len, delay);
  } else if (fn_no == 0 && bar == 1) {
    bar1(gp.is_read(), offset, data, len, delay);
  } else if (gp.is_read()) {
    std::memset(data, 0xff, len);
  }
  ext.completer = fn.bdf();
  ext.deliver(function_hop(fn_no));
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

void GpuDevice::mmio(bool is_read, uint64_t offset, uint8_t* data, unsigned len, const sc_core::sc_time& delay) {
  // 32-bit registers, naturally aligned 4-byte accesses only; anything else reads all ones and
  // writes nothing, as unlisted offsets do.
  auto it = (len == 4 && offset % 4 == 0) ? m_index.find(static_cast<uint32_t>(offset)) : m_index.end();
  if (is_read) {
    if (it == m_index.end()) std::memset(data, 0xff, len);
    else std::memcpy(data, &m_values[it->second], 4);
    return;
  }
  if (it == m_index.end()) return;
  uint32_t v = 0;
  std::memcpy(&v, data, 4);
  const RegDef& d = m_defs[it->second];
  uint32_t& cur = m_values[it->second];
  cur = (cur & ~d.wmask) | (v & d.wmask);
  cur &= ~(v & d.w1c);
  on_write(d.offset, v, delay);
}

void GpuDevice::on_write(uint32_t offset, uint32_t value, const sc_core::sc_time& delay) {
  if (offset == kIntrStatus || offset == kIntrEnable) return update_intx();
  if (offset >= kCtxInstBase && offset < kCtxInstBase + kMaxContexts * kCtxInstStride)
    return bind_context((offset - kCtxInstBase) / kCtxInstStride);
  if (offset == kInvalidate) {
    if (!(value & kInvalTrigger)) return;
    const unsigned ctx = val(kInvalCtx) & 0x3f;
    const uint64_t va = (uint64_t{val(kInvalVaHi)} << 32) | val(kInvalVaLo);
    switch (value & 3) {
      case kInvalAll: m_mmu.invalidate_all(); break;
      case kInvalContext: m_mmu.invalidate_context(ctx); break;
      case kInvalVa: m_mmu.invalidate_va(ctx, va); break;
      default: return;  // scope 3 is reserved: nothing done, nothing counted
    }
    ++val(kInvalCount);
    return;
  }
  if (offset == kFaultBufSize) {
    val(kFaultPut) = 0;  // a new ring starts empty
    return;
  }
  if (offset == kCePut) {
    m_ce_kick.notify(delay);  // the engine starts when the CPU's write has arrived
    return;
  }
  if (offset == kCeCtrl && (value & kCeResume) && m_ce_halted) {
    m_ce_halted = false;
    m_ce_error = kCeErrNone;
    // gpu_regs.h: the failed command is skipped (no semaphore, no interrupt), the next one runs
    const uint32_t size = val(kCeRingSize);
    if (size && !(size & (size - 1))) val(kCeGet) = (val(kCeGet) + 1) & (size - 1);
    ce_status();
    m_ce_kick.notify(delay);
  }
}

void GpuDevice::bind_context(unsigned ctx) {
  const uint32_t lo = val(kCtxInstBase + ctx * kCtxInstStride);
  const uint32_t hi = val(kCtxInstBase + ctx * kCtxInstStride + 4);
  m_mmu.bind(ctx, lo & kInstValid, aperture_of_target(lo & 3), (uint64_t{hi} << 32) | (lo & 0xfffff000u));
}

// ---- interrupts -----------------------------------------------------------------------------------

void GpuDevice::raise(uint32_t bits, const sc_core::sc_time& delay) {
  uint32_t& status = val(kIntrStatus);
  const uint32_t rising = bits & ~status;
  status |= bits;
  const uint32_t fire = rising & val(kIntrEnable);
  auto send = [&](unsigned vector) {
    sc_core::sc_time d = delay;  // the message leaves when the event happened; the caller goes on
    if (signal_msi(0, vector, d) == MsiResult::Sent) ++m_msi_sent;
  };
  if (fire & kIntrCeDone) send(kVectorCe);
  if (fire & kIntrMmuFault) send(kVectorMmuFault);
  if (fire & (kIntrCeError | kIntrFaultOverflow)) send(kVectorError);
  update_intx();
}

void GpuDevice::update_intx() { set_intx(0, (val(kIntrStatus) & val(kIntrEnable)) != 0); }

// ---- BAR1 -----------------------------------------------------------------------------------------

void GpuDevice::bar1(bool is_read, uint64_t offset, uint8_t* data, unsigned len, sc_core::sc_time& delay) {
  const uint32_t block = val(kBar1Block);
  if (!(block & kBar1Virtual)) {
    // Physical mode: BAR1 offset = VRAM address. Beyond VRAM: reads all ones, writes dropped.
    if (!m_vram.contains(offset, len)) {
      if (is_read) std::memset(data, 0xff, len);
      return;
    }
    if (is_read) m_vram.read(offset, data, len);
    else m_vram.write(offset, data, len);
    delay += vram_time(len);
    return;
  }
  // Virtual mode: the BAR1 context translates each page the access touches.
  const Requester r{GpuEngine::Bar1, kEngineBar1, kClientBar1, block & 0x3f};
  sc_core::sc_time t = delay;
  uint64_t done = 0;
  while (done < len) {
    const uint64_t va = offset + done;
    const unsigned n = static_cast<unsigned>(std::min<uint64_t>(len - done, 4096 - (va & 4095)));
    if (access(r, GpuPurpose::Bar1, va, !is_read, data + done, n, t) != Access::Ok && is_read)
      std::memset(data + done, 0xff, n);  // a faulting CPU read returns all ones, a write is dropped
    done += n;
  }
  delay = t;
}

// ---- reset -----------------------------------------------------------------------------------------

void GpuDevice::on_reset(unsigned fn, ResetKind) {
  if (fn != 0) return;
  for (size_t i = 0; i < m_defs.size(); ++i) m_values[i] = m_defs[i].reset;
  m_mmu.reset();
  ++m_generation;  // the copy engine abandons a command in flight
  m_ce_busy = m_ce_halted = false;
  m_ce_error = kCeErrNone;
  m_ce_fail_index = 0;
  m_ce_stats = CeStats{};
  m_msi_sent = 0;
  set_intx(0, false);
  // VRAM is not touched: memory contents survive a function reset (docs/gpu.md "Reset").
}

}  // namespace pciesim
