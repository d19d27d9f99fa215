// The scenario GPU driver (scenario_gpu.h). Layout in each GPU's VRAM (the first 32 MiB):
//   0x0000_1000 + 0x1000 * ctx   instance block of context ctx (PDB words at dwords 128/129)
//   0x0010_0000 + 0x1000 * ctx   its page directory root
//   0x0020_0000 ..               further tables, 4 KiB each
//   0x01f0_0000                  the copy-engine ring (physical, 16 commands)
//   0x01f1_0000                  the fault buffer (64 entries)
// Tables and commands are written with the device's C++ VRAM API (a driver writes them through
// BAR1 in physical mode; the bytes are the same, the bus time is not charged); registers are
// written through BAR0 with CPU stores, so they take the MMIO path.
#include "scenario_gpu.h"

#include <cstring>

#include "devices/gpu/gmmu_format.h"
#include "devices/gpu/gmmu_walk.h"
#include "devices/gpu/gpu_regs.h"

namespace pciesim::scenario {

using namespace gpu;
using namespace gpu::regs;

namespace {
constexpr uint64_t kInstBase = 0x1000, kPdbBase = 0x100000, kTablePool = 0x200000;
constexpr uint64_t kRingPa = 0x1f00000, kFaultPa = 0x1f10000;
constexpr uint32_t kRingEntries = 16, kFaultEntries = 64;

uint64_t level_index(uint64_t va, const GmmuLevelBits& b) {
  return (va >> b.lo) & ((uint64_t{1} << (b.hi - b.lo + 1)) - 1);
}

// PCI 3.0 6.2.2: Memory Space and Bus Master Enable, as the GPU's driver sets them.
void enable(Fabric& fabric, const FunctionInfo& f) {
  const uint16_t cmd = static_cast<uint16_t>(fabric.config_read(f.segment, f.bdf(), 0x04, 2));
  if ((cmd & 0x6) != 0x6) fabric.config_write(f.segment, f.bdf(), 0x04, 2, cmd | 0x6);
}
}  // namespace

ScenarioGpu::ScenarioGpu(Fabric& fabric, const FunctionInfo& f, std::function<void(std::function<bool()>)> run_until)
    : m_fabric(fabric), m_gpu(*dynamic_cast<GpuDevice*>(f.endpoint)), m_f(f), m_run_until(std::move(run_until)),
      m_next_table(kTablePool) {
  enable(m_fabric, f);
  m_bar0 = f.fn->bars()[0].base;
  wr(kFaultBufHi, static_cast<uint32_t>(kFaultPa >> 32));
  wr(kFaultBufLo, static_cast<uint32_t>(kFaultPa) | kTargetVideo);
  wr(kFaultBufSize, kFaultEntries);
  wr(kFaultCtrl, kFaultEnable);
  wr(kCeRingHi, static_cast<uint32_t>(kRingPa >> 32));
  wr(kCeRingLo, static_cast<uint32_t>(kRingPa) | kCeRingPhysical | kTargetVideo);
  wr(kCeRingSize, kRingEntries);
  m_put = rd(kCePut);
  m_gpu.set_transaction_listener([this](const GpuTransaction& t) {
    if (m_recording && t.upstream && t.purpose == GpuPurpose::Destination) m_records.push_back(t);
  });
}

uint32_t ScenarioGpu::rd(uint32_t off) {
  uint32_t v = 0;
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  m_fabric.cpu().access(false, m_bar0 + off, reinterpret_cast<uint8_t*>(&v), 4, d);
  return v;
}
void ScenarioGpu::wr(uint32_t off, uint32_t v) {
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  m_fabric.cpu().access(true, m_bar0 + off, reinterpret_cast<uint8_t*>(&v), 4, d);
}

void ScenarioGpu::set_peer(unsigned slot, const FunctionInfo& peer) {
  enable(m_fabric, peer);
  const uint64_t bar1 = peer.fn->bars()[1].base;
  wr(kPeerBar1Base + slot * kPeerStride, static_cast<uint32_t>(bar1));
  wr(kPeerBar1Base + slot * kPeerStride + 4, static_cast<uint32_t>(bar1 >> 32));
}

void ScenarioGpu::set(Context& c, uint64_t addr, uint64_t v) {
  c.shadow[addr] = v;
  m_gpu.vram_write64(addr, v);
}
uint64_t ScenarioGpu::get(const Context& c, uint64_t addr) const {
  auto it = c.shadow.find(addr);
  return it == c.shadow.end() ? 0 : it->second;
}
uint64_t ScenarioGpu::alloc_table() {
  const uint64_t a = m_next_table;
  m_next_table += kGmmuTableAlign;
  return a;
}

std::string ScenarioGpu::bind(unsigned ctx) {
  Context& c = m_ctx[ctx];
  if (c.bound) return "";
  c.pdb = kPdbBase + uint64_t{ctx} * 0x1000;
  for (uint64_t o = 0; o < 0x1000; o += 8) m_gpu.vram_write64(c.pdb + o, 0);
  GmmuInstancePdb p;
  p.aperture = GmmuAperture::Video;
  p.use_ver2_format = true;
  p.address = c.pdb;
  const auto w = encode_instance_pdb(p);
  const uint64_t inst = kInstBase + uint64_t{ctx} * 0x1000;
  m_gpu.vram_write64(inst + 512, (uint64_t{w[1]} << 32) | w[0]);  // dwords 128/129 (dev_ram)
  wr(kCtxInstBase + ctx * kCtxInstStride + 4, static_cast<uint32_t>(inst >> 32));
  wr(kCtxInstBase + ctx * kCtxInstStride, static_cast<uint32_t>(inst) | kInstValid | kTargetVideo);
  c.bound = true;
  return "";
}

std::string ScenarioGpu::map_page(Context& c, uint64_t va, const GpuTarget& t) {
  const GmmuFormat& f = m_gpu.gmmu().format();
  uint64_t table = c.pdb;
  for (unsigned i = 0; i < f.upper_level_count(); ++i) {
    const GmmuLevelBits b = f.upper_level(i);
    const uint64_t entry = table + level_index(va, b) * kGmmuPdeBytes;
    GmmuPde pde = decode_pde(f, get(c, entry));
    if (pde.aperture == GmmuAperture::Invalid) {
      if (m_next_table + kGmmuTableAlign > kRingPa) return "the driver's page-table pool in VRAM is full";
      pde = {};
      pde.aperture = GmmuAperture::Video;
      pde.address = alloc_table();
      set(c, entry, *encode_pde(f, pde));
    }
    table = pde.address;
  }
  const uint64_t e = table + level_index(va, GmmuFormat::kPd0) * kGmmuDualPdeBytes;
  GmmuDualPde d = decode_dual_pde(f, get(c, e), get(c, e + 8));
  if (d.small.aperture == GmmuAperture::Invalid) {
    if (m_next_table + kGmmuTableAlign > kRingPa) return "the driver's page-table pool in VRAM is full";
    d.small.aperture = GmmuAperture::Video;
    d.small.address = alloc_table();
    const auto r = encode_dual_pde(f, d);
    if (!r) return "cannot encode a PD0 entry";
    set(c, e, (*r)[0]);
    set(c, e + 8, (*r)[1]);
  }
  GmmuPte pte;
  pte.valid = true;
  pte.aperture = t.aperture;
  pte.peer_id = t.peer;
  pte.address = t.address;
  const auto raw = encode_pte(f, pte);
  if (!raw) return "the page-table format cannot hold that address";
  set(c, d.small.address + level_index(va, GmmuFormat::kSmallPt) * kGmmuPteBytes, *raw);
  c.pages[va] = t;
  return "";
}

std::string ScenarioGpu::map(unsigned ctx, uint64_t va, uint64_t size, const GpuTarget& t) {
  if (ctx >= kContexts) return "context must be below " + std::to_string(kContexts);
  if (va % kGmmuSmallPage || size % kGmmuSmallPage || t.address % kGmmuSmallPage || size == 0)
    return "va, size and the target address must be multiples of 4 KiB";
  if (t.aperture == GmmuAperture::Video && (t.address < kReservedVram || t.address + size > m_gpu.vram_size()))
    return "VRAM addresses from 0x2000000 (below: the driver's tables) to the VRAM size";
  if (t.aperture == GmmuAperture::Peer && t.peer_gpu &&
      (t.address < kReservedVram || t.address + size > t.peer_gpu->vram_size()))
    return "peer VRAM addresses from 0x2000000 to the peer's VRAM size";
  bind(ctx);
  Context& c = m_ctx[ctx];
  for (uint64_t o = 0; o < size; o += kGmmuSmallPage) {
    GpuTarget p = t;
    p.address = t.address + o;
    if (std::string e = map_page(c, va + o, p); !e.empty()) return e;
  }
  // The GMMU may hold the old entries: invalidate the context, as a driver does after a change.
  wr(kInvalCtx, ctx);
  wr(kInvalidate, kInvalContext | kInvalTrigger);
  return "";
}

std::optional<std::vector<uint8_t>> ScenarioGpu::read(unsigned ctx, uint64_t va, uint64_t size) const {
  auto c = m_ctx.find(ctx);
  if (c == m_ctx.end()) return std::nullopt;
  std::vector<uint8_t> out(size);
  for (uint64_t o = 0; o < size;) {
    const uint64_t page = (va + o) & ~(kGmmuSmallPage - 1);
    const uint64_t in = (va + o) - page;
    const uint64_t n = std::min(size - o, kGmmuSmallPage - in);
    auto p = c->second.pages.find(page);
    if (p == c->second.pages.end()) return std::nullopt;
    if (p->second.aperture == GmmuAperture::Video) m_gpu.vram_read(p->second.address + in, out.data() + o, n);
    else if (p->second.aperture == GmmuAperture::Peer && p->second.peer_gpu)
      p->second.peer_gpu->vram_read(p->second.address + in, out.data() + o, n);
    else return std::nullopt;
    o += n;
  }
  return out;
}

bool ScenarioGpu::write(unsigned ctx, uint64_t va, const std::vector<uint8_t>& data) {
  auto c = m_ctx.find(ctx);
  if (c == m_ctx.end()) return false;
  for (uint64_t o = 0; o < data.size();) {
    const uint64_t page = (va + o) & ~(kGmmuSmallPage - 1);
    const uint64_t in = (va + o) - page;
    const uint64_t n = std::min<uint64_t>(data.size() - o, kGmmuSmallPage - in);
    auto p = c->second.pages.find(page);
    if (p == c->second.pages.end()) return false;
    if (p->second.aperture == GmmuAperture::Video) m_gpu.vram_write(p->second.address + in, data.data() + o, n);
    else if (p->second.aperture == GmmuAperture::Peer && p->second.peer_gpu)
      p->second.peer_gpu->vram_write(p->second.address + in, data.data() + o, n);
    else return false;
    o += n;
  }
  return true;
}

GpuCopyOutcome ScenarioGpu::copy(unsigned ctx, uint64_t src, uint64_t dst, uint64_t size) {
  GpuCopyOutcome out;
  bind(ctx);
  // One COPY command (gpu_regs.h layout), written at PUT; then the doorbell.
  uint8_t cmd[kCeCommandSize] = {};
  const uint32_t op = kCeOpCopy, flags = 0;
  std::memcpy(cmd, &op, 4);
  std::memcpy(cmd + 4, &flags, 4);
  std::memcpy(cmd + 0x08, &src, 8);
  std::memcpy(cmd + 0x10, &dst, 8);
  std::memcpy(cmd + 0x18, &size, 8);
  m_gpu.vram_write(kRingPa + uint64_t{m_put} * kCeCommandSize, cmd, kCeCommandSize);
  const uint32_t fault_put = rd(kFaultPut);
  const uint32_t completed = rd(kCeCompleted);
  m_records.clear();
  m_recording = true;
  wr(kCeCtx, ctx);
  m_put = (m_put + 1) % kRingEntries;
  const sc_core::sc_time t0 = sc_core::sc_time_stamp();
  wr(kCePut, m_put);
  sc_core::sc_time t1 = t0;
  // Until the engine has run the command (GET reached PUT) or halted, and is idle; elapsed time
  // to 0.1 % (the polling interval grows with it). The C++ register view costs no bus time.
  const auto idle = [this] {
    return !m_gpu.ce_busy() && (m_gpu.reg(kCeGet) == m_put || (m_gpu.reg(kCeStatus) & kCeHalted));
  };
  m_run_until([&] {
    if (!idle()) return false;
    t1 = sc_core::sc_time_stamp();
    return true;
  });
  const uint32_t status = rd(kCeStatus);
  out.completed = rd(kCeCompleted) != completed;
  if (status & kCeHalted) {
    out.ce_error = (status >> 8) & 0xff;
    wr(kCeCtrl, kCeResume);  // skip the failed command, as a driver recovers
    m_run_until([&] { return !m_gpu.ce_busy() && m_gpu.reg(kCeGet) == m_put; });
  }
  m_recording = false;
  out.seconds = (t1 - t0).to_seconds();
  if (out.completed) out.bytes = size;
  for (uint32_t i = fault_put; i != rd(kFaultPut); i = (i + 1) % kFaultEntries) {
    const uint64_t dw67 = m_gpu.vram_read64(kFaultPa + uint64_t{i} * kFaultEntrySize + 24);
    out.gmmu_faults.push_back(static_cast<GmmuFaultType>((dw67 >> 32) & 0x1f));  // dw7 [4:0]
  }
  wr(kFaultGet, rd(kFaultPut));  // consumed, as a driver's fault handler does
  const GpuTransaction* pick = nullptr;
  for (const GpuTransaction& t : m_records) {
    if (!pick) pick = &t;
    if (!t.ok) {
      pick = &t;
      break;
    }
  }
  if (pick) {
    out.upstream = true;
    out.verdict = pick->verdict;
    out.path = pick->path;
    for (const GpuTransaction& t : m_records)
      if (t.verdict.outcome == Outcome::Redirected) {
        out.redirect_bit = t.verdict.acs_bit;
        out.redirect_port = t.verdict.port;
        break;
      }
  }
  m_records.clear();
  return out;
}

}  // namespace pciesim::scenario
