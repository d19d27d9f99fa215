// Copy engine 0 (gpu_regs.h "Copy engine 0", docs/gpu.md "Copy engine"): a SystemC thread woken by
// the CE_PUT doorbell that runs the 64-byte commands between GET and PUT of a ring in GPU virtual
// memory. Every read and write, the command fetch included, is translated by the GMMU.
#include <algorithm>
#include <cstring>

#include "devices/gpu/gpu_device.h"

namespace pciesim {

using namespace gpu;
using namespace gpu::regs;

namespace {
uint64_t le64(const uint8_t* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t le32(const uint8_t* p) {
  uint32_t v = 0;
  std::memcpy(&v, p, 4);
  return v;
}
}  // namespace

void GpuDevice::ce_status() {
  val(kCeStatus) = (m_ce_busy ? kCeBusy : 0) | (m_ce_halted ? kCeHalted : 0) | (uint32_t{m_ce_error} << 8) |
                   ((m_ce_halted ? m_ce_fail_index & 0xffff : 0) << 16);
}

void GpuDevice::ce_halt(uint8_t error, sc_core::sc_time& t) {
  m_ce_halted = true;
  m_ce_error = error;
  m_ce_fail_index = val(kCeGet);
  ++m_ce_stats.errors;
  ce_status();
  raise(kIntrCeError, t);
}

void GpuDevice::ce_thread() {
  for (;;) {
    sc_core::wait(m_ce_kick);
    const uint64_t generation = m_generation;
    while (generation == m_generation && !m_ce_halted) {
      const uint32_t size = val(kCeRingSize), put = val(kCePut), get = val(kCeGet);
      if (get == put) break;
      m_ce_busy = true;
      ce_status();
      sc_core::sc_time t = sc_core::SC_ZERO_TIME;
      uint8_t err = kCeErrNone;
      uint32_t flags = 0;
      // RING_LO [2] PHYSICAL with the target in [1:0]; the address is 64-byte aligned, so the
      // remaining low bits [5:3] must be zero.
      const uint32_t ring_lo = val(kCeRingLo);
      const bool ring_physical = ring_lo & kCeRingPhysical;
      const uint32_t ring_flags = ring_physical ? (kCeRingPhysical | kCeRingTargetMask) : 0;
      const uint64_t ring = (uint64_t{val(kCeRingHi)} << 32) | (ring_lo & ~ring_flags);
      if (size == 0 || (size & (size - 1)) || ring % kCeCommandSize || put >= size ||
          (ring_physical && aperture_of_target(ring_lo & kCeRingTargetMask) == GmmuAperture::Invalid)) {
        err = kCeErrBadCommand;  // a ring the engine cannot run: misaligned, bad size or target, PUT outside it
      } else {
        uint8_t cmd[kCeCommandSize];
        const Requester r{GpuEngine::Ce0, kEngineCe0, kClientCe0, val(kCeCtx) & 0x3f};
        const uint64_t at = ring + uint64_t{get} * kCeCommandSize;
        const Access a =
            ring_physical
                ? physical(r, GpuPurpose::Command, aperture_of_target(ring_lo & kCeRingTargetMask), 0, at, false, cmd,
                           kCeCommandSize, t, false, 0, false)
                : access(r, GpuPurpose::Command, at, false, cmd, kCeCommandSize, t);
        if (a == Access::Fault) err = kCeErrRingFault;
        else if (a == Access::BusError) err = kCeErrBusError;
        else {
          flags = le32(cmd + 4);
          err = ce_execute(cmd, t);
        }
      }
      sc_core::wait(t);  // the command's memory traffic has completed
      if (generation != m_generation) break;  // a reset came in meanwhile: nothing is written back
      if (err != kCeErrNone) {
        sc_core::sc_time now = sc_core::SC_ZERO_TIME;
        ce_halt(err, now);
        break;
      }
      val(kCeGet) = (get + 1) & (size - 1);
      ++val(kCeCompleted);
      ++m_ce_stats.commands;
      if (flags & kCeFlagInterrupt) raise(kIntrCeDone, sc_core::SC_ZERO_TIME);
    }
    if (generation == m_generation) {
      m_ce_busy = false;
      ce_status();
    }
  }
}

uint8_t GpuDevice::ce_execute(const uint8_t* cmd, sc_core::sc_time& t) {
  const uint32_t op = le32(cmd), flags = le32(cmd + 4);
  const uint64_t src = le64(cmd + 0x08), dst = le64(cmd + 0x10), len = le64(cmd + 0x18);
  const uint64_t sem = le64(cmd + 0x20), payload = le64(cmd + 0x28);
  uint8_t err = kCeErrNone;
  if (op == kCeOpCopy || op == kCeOpFill) {
    if (len == 0 || len > kCeMaxLength) return kCeErrBadCommand;
    err = ce_move(src, dst, len, flags, op == kCeOpFill, static_cast<uint8_t>(payload), t);
    if (err != kCeErrNone) return err;
    m_ce_stats.bytes += len;
    const uint64_t total = ((uint64_t{val(kCeBytesHi)} << 32) | val(kCeBytesLo)) + len;
    val(kCeBytesLo) = static_cast<uint32_t>(total);
    val(kCeBytesHi) = static_cast<uint32_t>(total >> 32);
  } else if (op != kCeOpNop) {
    return kCeErrBadCommand;
  }
  if (flags & kCeFlagSemaphore) {
    if (sem % 8) return kCeErrBadCommand;  // 8 bytes, naturally aligned: never crosses a page
    uint64_t value = payload;
    const Requester r{GpuEngine::Ce0, kEngineCe0, kClientCe0, val(kCeCtx) & 0x3f};
    const Access a = access(r, GpuPurpose::Semaphore, sem, true, reinterpret_cast<uint8_t*>(&value), 8, t);
    if (a == Access::Fault) return kCeErrSemFault;
    // A posted write that failed on its way (BusError) is not seen by the engine (gpu_regs.h).
  }
  return kCeErrNone;
}

// One side of a COPY or FILL: translated by the GMMU, or a physical address in a target
// (kCeFlagSrcPhysical / kCeFlagDstPhysical with their [5:4] / [7:6] targets, gpu_regs.h).
struct GpuDevice::CeSide {
  bool physical = false;
  GmmuAperture aperture = GmmuAperture::Video;
};

GpuDevice::Access GpuDevice::ce_access(const Requester& r, const CeSide& side, GpuPurpose purpose, uint64_t addr,
                                       bool write, uint8_t* data, unsigned len, sc_core::sc_time& t) {
  if (side.physical) return physical(r, purpose, side.aperture, 0, addr, write, data, len, t, false, 0, false);
  return access(r, purpose, addr, write, data, len, t);
}

uint8_t GpuDevice::ce_move(uint64_t src, uint64_t dst, uint64_t len, uint32_t flags, bool fill, uint8_t pattern,
                           sc_core::sc_time& t) {
  const Requester r{GpuEngine::Ce0, kEngineCe0, kClientCe0, val(kCeCtx) & 0x3f};
  CeSide from, to;
  from.physical = !fill && (flags & kCeFlagSrcPhysical);
  to.physical = flags & kCeFlagDstPhysical;
  from.aperture = aperture_of_target((flags >> kCeFlagSrcTargetShift) & 3);
  to.aperture = aperture_of_target((flags >> kCeFlagDstTargetShift) & 3);
  if ((from.physical && from.aperture == GmmuAperture::Invalid) || (to.physical && to.aperture == GmmuAperture::Invalid))
    return kCeErrBadCommand;  // target 1 is no memory (dev_ram TARGET encoding)
  // Within VRAM with physical addresses no request leaves the chip and none needs a translation:
  // the model moves a page at a time (the time charged is the same, by bytes at the VRAM
  // bandwidth), which keeps a whole-VRAM FILL, the driver's scrub, fast in wall time.
  const bool local = to.physical && to.aperture == GmmuAperture::Video &&
                     (fill || (from.physical && from.aperture == GmmuAperture::Video));
  const uint64_t req = local ? GpuVram::kPageSize : m_params.ce_request_bytes;
  // Requests are pipelined: each is issued one interval after the previous one, without waiting
  // for it; the interval is the larger of a TLB lookup and the request's bytes at the VRAM
  // bandwidth (the engine's ceiling). Upstream requests are further spaced by the link's
  // occupancy (models/pcie/link.h), so system and peer copies run at the link's rate.
  sc_core::sc_time issue = t, done = t;
  if (local && fill) {
    // A FILL of VRAM by physical address: one pass over the backing (GpuVram::fill visits only
    // backed pages for zeros), the time of its bytes at the VRAM bandwidth.
    if (!m_vram.contains(dst, len)) return kCeErrBadCommand;
    m_vram.fill(dst, pattern, len);
    t += std::max(m_tlb_hit, sc_core::sc_time(m_vram_ps_per_byte * double(len), sc_core::SC_PS));
    m_ce_stats.requests += (len + m_params.ce_request_bytes - 1) / m_params.ce_request_bytes;
    if (m_listener) {
      GpuTransaction x;
      x.engine = r.engine;
      x.purpose = GpuPurpose::Destination;
      x.client = r.client;
      x.context = r.context;
      x.is_write = true;
      x.bytes = static_cast<uint32_t>(std::min<uint64_t>(len, UINT32_MAX));
      x.has_va = false;
      x.aperture = GmmuAperture::Video;
      x.address = dst;
      x.latency = t - issue;
      m_listener(x);
    }
    return kCeErrNone;
  }
  uint8_t* buf = m_buffer.data();
  unsigned filled = 0;  // bytes of buf holding the FILL pattern
  for (uint64_t off = 0; off < len;) {
    const uint64_t s = src + off, d = dst + off;
    uint64_t n = std::min(len - off, req);
    n = std::min<uint64_t>(n, 4096 - (d & 4095));  // PCIe 2.2.7: no request crosses a 4 KiB page
    if (!fill) n = std::min<uint64_t>(n, 4096 - (s & 4095));
    const auto bytes = static_cast<unsigned>(n);
    sc_core::sc_time ts = issue;
    if (fill) {
      if (filled < bytes) std::memset(buf, pattern, filled = bytes);
    } else {
      const Access a = ce_access(r, from, GpuPurpose::Source, s, false, buf, bytes, ts);
      if (a == Access::Fault) return kCeErrSrcFault;
      if (a == Access::BusError) return kCeErrBusError;  // the read's completion said so
      filled = 0;
    }
    const Access a = ce_access(r, to, GpuPurpose::Destination, d, true, buf, bytes, ts);
    if (a == Access::Fault) return kCeErrDstFault;
    // A posted write that failed on its way (BusError: an IOMMU fault, a UR, ACS) is not seen by
    // the engine: its data is lost and the copy goes on (gpu_regs.h, PCIe 2.4.1).
    m_ce_stats.requests += local ? (n + m_params.ce_request_bytes - 1) / m_params.ce_request_bytes : 1;
    done = std::max(done, ts);
    issue += std::max(m_tlb_hit, vram_transfer(bytes));
    off += n;
  }
  t = std::max(done, issue);
  return kCeErrNone;
}

}  // namespace pciesim
