// The GPU's memory accesses: GMMU translation (TLB, then a walk whose table reads go to VRAM or
// upstream through the fabric and the IOMMU), the access itself by aperture (VRAM; system memory
// through Endpoint::dma; a peer GPU's BAR1 through the fabric, subject to ACS), the fault buffer,
// and the transaction records.
#include <algorithm>
#include <cstring>

#include "devices/gpu/gpu_device.h"

namespace pciesim {

using namespace gpu;
using namespace gpu::regs;

// The walk's view of memory: VRAM, or DMA reads for system-memory tables. Each read is timed
// (one VRAM access, or the DMA's latency) into the time of the access being translated.
class GpuWalkReader : public GmmuMemoryReader {
 public:
  explicit GpuWalkReader(const GpuDevice& d) : m_dev(d) {}
  bool read(GmmuAperture ap, uint64_t addr, uint64_t* words, unsigned count) const override {
    return m_dev.table_read(ap, addr, words, count);
  }
  uint64_t aperture_size(GmmuAperture ap) const override {
    return ap == GmmuAperture::Video ? m_dev.m_vram.size() : kGmmuSysmemLimit;
  }

 private:
  const GpuDevice& m_dev;
};

namespace {
uint32_t access_code(GmmuAccessType t) {
  switch (t) {
    case GmmuAccessType::Read: return kAccessRead;
    case GmmuAccessType::Write: return kAccessWrite;
    case GmmuAccessType::Atomic: return kAccessAtomic;
  }
  return kAccessRead;
}
}  // namespace

sc_core::sc_time GpuDevice::vram_time(unsigned bytes) const {
  // One VRAM access: latency plus the bytes at the VRAM bandwidth (gpu_device.cpp defaults).
  return m_vram_latency + vram_transfer(bytes);
}

bool GpuDevice::table_read(GmmuAperture ap, uint64_t addr, uint64_t* words, unsigned count) const {
  // The walk has a const reader; the device it reads through is this one.
  auto* self = const_cast<GpuDevice*>(this);
  sc_core::sc_time& t = *m_walk_time;
  const unsigned bytes = count * 8;
  if (ap == GmmuAperture::Video) {
    if (!m_vram.contains(addr, bytes)) return false;
    m_vram.read(addr, reinterpret_cast<uint8_t*>(words), bytes);
    t += vram_time(bytes);
    if (m_listener) {
      GpuTransaction x;
      x.engine = m_walker->engine;
      x.purpose = GpuPurpose::PageWalk;
      x.client = m_walker->client;
      x.context = m_walker->context;
      x.bytes = bytes;
      x.has_va = false;
      x.aperture = ap;
      x.address = addr;
      x.latency = vram_time(bytes);
      m_listener(x);
    }
    return true;
  }
  if (!is_system(ap)) return false;
  return self->physical(*m_walker, GpuPurpose::PageWalk, ap, 0, addr, false, reinterpret_cast<uint8_t*>(words),
                        bytes, t, false, 0, false) == Access::Ok;
}

GpuDevice::Access GpuDevice::access(const Requester& r, GpuPurpose purpose, uint64_t va, bool write, uint8_t* data,
                                    unsigned len, sc_core::sc_time& t) {
  const GmmuAccess a{write ? GmmuAccessType::Write : GmmuAccessType::Read, false};
  GpuWalkReader reader(*this);
  m_walk_time = &t;
  m_walker = &r;
  t += m_tlb_hit;  // every translation looks the TLB up; a miss adds the walk's reads
  const GmmuResult res = m_mmu.translate(r.context, va, a, reader);
  m_walk_time = nullptr;
  m_walker = nullptr;
  if (res.status == GmmuWalkStatus::Fault) {
    if (!write) std::memset(data, 0xff, len);
    record_fault(r, va, a.type, res.fault, t);
    return Access::Fault;
  }
  if (res.status == GmmuWalkStatus::Sparse) {  // docs/gpu.md: sparse reads zeros, drops writes
    if (!write) std::memset(data, 0, len);
    return Access::Ok;
  }
  return physical(r, purpose, res.aperture, res.peer_id, res.address, write, data, len, t, true, va, res.tlb_hit);
}

GpuDevice::Access GpuDevice::physical(const Requester& r, GpuPurpose purpose, GmmuAperture ap, uint8_t peer,
                                      uint64_t addr, bool write, uint8_t* data, unsigned len, sc_core::sc_time& t,
                                      bool has_va, uint64_t va, bool hit) {
  const sc_core::sc_time start = t;
  GpuTransaction* x = nullptr;
  GpuTransaction rec;
  if (m_listener) {
    x = &rec;
    x->engine = r.engine;
    x->purpose = purpose;
    x->client = r.client;
    x->context = r.context;
    x->is_write = write;
    x->bytes = len;
    x->has_va = has_va;
    x->va = va;
    x->tlb_hit = hit;
    x->aperture = ap;
    x->peer_id = peer;
  }
  Access result = Access::Ok;
  if (ap == GmmuAperture::Video) {
    if (!m_vram.contains(addr, len)) {  // a PTE beyond VRAM: nothing answers
      if (!write) std::memset(data, 0xff, len);
      result = Access::BusError;
    } else {
      if (write) m_vram.write(addr, data, len);
      else m_vram.read(addr, data, len);
      t += vram_time(len);
    }
    if (x) {
      x->address = addr;
      x->ok = result == Access::Ok;
    }
  } else {
    uint64_t bus = addr;
    DmaOptions o;
    o.record_path = x != nullptr;
    if (ap == GmmuAperture::SysNonCoherent) o.no_snoop = true;  // non-coherent: the TLP's No Snoop attribute
    bool ok = true;
    if (ap == GmmuAperture::Peer) {
      if (peer >= kMaxPeers) ok = false;
      else bus = ((uint64_t{val(kPeerBar1Base + peer * kPeerStride + 4)} << 32) |
                  val(kPeerBar1Base + peer * kPeerStride)) + addr;
    } else if (!is_system(ap)) {
      ok = false;
    }
    if (ok) {
      const PcieExtension& e = dma(0, write ? TlpKind::MemWrite : TlpKind::MemRead, bus, data, len, t, o);
      const Verdict v = e.final_verdict();
      ok = v.outcome == Outcome::Delivered || v.outcome == Outcome::Redirected;
      if (x) {
        x->verdict = v;
        x->iommu_checked = e.iommu_checked;
        x->iommu_output = e.iommu_checked ? e.iommu_output : 0;
        x->path.reserve(e.hop_count);
        for (unsigned i = 0; i < e.hop_count; ++i) x->path.push_back(e.hops[i]);
      }
    }
    if (!ok && !write) std::memset(data, 0xff, len);  // a failed read returns all ones
    if (x) {
      x->address = bus;
      x->upstream = true;
      x->ok = ok;
    }
    result = ok ? Access::Ok : Access::BusError;
  }
  if (x) {
    x->latency = t - start;
    m_listener(*x);
  }
  return result;
}

void GpuDevice::record_fault(const Requester& r, uint64_t va, GmmuAccessType type, const GmmuFault& f,
                             sc_core::sc_time& t) {
  ++val(kFaultCount);
  const uint32_t size = val(kFaultBufSize);
  if (!(val(kFaultCtrl) & kFaultEnable) || size == 0 || (size & (size - 1))) {
    ++val(kFaultDropped);  // disabled (or not a power of two): not written
    return;
  }
  const uint32_t put = val(kFaultPut) & (size - 1);
  const uint32_t get = val(kFaultGet) & (size - 1);
  if (((put + 1) & (size - 1)) == get) {
    // Full when PUT + 1 == GET, one entry kept free (uvm_gpu_replayable_faults.c: the buffer is
    // full when put + 1 == get): dropped, counted, OVERFLOW set.
    ++val(kFaultDropped);
    val(kFaultCtrl) |= kFaultOverflow;
    raise(kIntrFaultOverflow, t);
    return;
  }
  // The entry (gpu_regs.h, Volta dev_fault.h NV_MMU_FAULT_BUF_ENTRY).
  const uint32_t inst_lo = val(kCtxInstBase + (r.context & 0x3f) * kCtxInstStride);
  const uint32_t inst_hi = val(kCtxInstBase + (r.context & 0x3f) * kCtxInstStride + 4);
  const uint64_t now_ns = static_cast<uint64_t>((sc_core::sc_time_stamp() + t).to_seconds() * 1e9);
  uint32_t e[8];
  e[0] = ((inst_lo & 3u) << 8) | (inst_lo & 0xfffff000u);
  e[1] = inst_hi;
  e[2] = static_cast<uint32_t>(va) & 0xfffff000u;  // physical aperture 0: a virtual fault
  e[3] = static_cast<uint32_t>(va >> 32);
  e[4] = static_cast<uint32_t>(now_ns);
  e[5] = static_cast<uint32_t>(now_ns >> 32);
  e[6] = r.engine_id & 0x1ff;
  e[7] = (static_cast<uint32_t>(f.type) & 0x1f) | ((r.client & 0x7f) << 8) | (access_code(type) << 16) |
         (1u << 20) /* HUB client */ | kFaultValid;
  const uint32_t lo = val(kFaultBufLo);
  const uint64_t at = ((uint64_t{val(kFaultBufHi)} << 32) | (lo & 0xfffff000u)) + uint64_t{put} * kFaultEntrySize;
  const Access w = physical(r, GpuPurpose::FaultBuffer, aperture_of_target(lo & 3), 0, at, true,
                            reinterpret_cast<uint8_t*>(e), kFaultEntrySize, t, false, 0, false);
  if (w != Access::Ok) {
    ++val(kFaultDropped);  // the buffer's memory did not take the entry
    return;
  }
  val(kFaultPut) = (put + 1) & (size - 1);
  raise(kIntrMmuFault, t);
}

}  // namespace pciesim
