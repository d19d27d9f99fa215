#include "iommu/interrupt_remap.h"

namespace pciesim::vtd {

namespace {

constexpr uint64_t bits(unsigned hi, unsigned lo) {
  return ((hi - lo + 1) >= 64 ? ~0ull : ((1ull << (hi - lo + 1)) - 1)) << lo;
}
constexpr uint64_t field(uint64_t v, unsigned hi, unsigned lo) { return (v & bits(hi, lo)) >> lo; }

// ---- IRTE layout (VT-d 9.10 remapped, 9.11 posted; Linux include/linux/dmar.h struct irte) ----
constexpr uint64_t kIrteP = 1ull << 0;
constexpr uint64_t kIrteFpd = 1ull << 1;
constexpr uint64_t kIrteIm = 1ull << 15;
// remapped format: reserved 14:12, 31:24, 127:84
constexpr uint64_t kRemappedLoReserved = bits(14, 12) | bits(31, 24);
// xAPIC mode (EIME = 0): only DST[15:8] holds the APIC id; DST[7:0] and DST[31:16] are reserved
constexpr uint64_t kRemappedLoReservedXapic = bits(39, 32) | bits(63, 48);
constexpr uint64_t kHiReserved = bits(63, 20);
// posted format: reserved 7:2, 13:12, 37:24, 95:84
constexpr uint64_t kPostedLoReserved = bits(7, 2) | bits(13, 12) | bits(37, 24);
constexpr uint64_t kPostedHiReserved = bits(31, 20);

// ---- posted-interrupt descriptor (VT-d 9.12): qw0..3 PIR; qw4: ON 0, SN 1, NV 23:16, NDST 63:32 ----
constexpr unsigned kPidControl = 4;
constexpr uint64_t kPidOn = 1ull << 0;
constexpr uint64_t kPidSn = 1ull << 1;

// ---- MSI address / data (VT-d 5.1.2.1 compatibility, 5.1.2.2 remappable) ----
constexpr uint64_t kMsiFormatRemappable = 1ull << 4;
constexpr uint64_t kMsiShv = 1ull << 3;
constexpr uint64_t kMsiHandle15 = 1ull << 2;

uint32_t destination_from_dst(uint64_t lo, bool eime) {
  const uint32_t dst = static_cast<uint32_t>(lo >> 32);
  return eime ? dst : (dst >> 8) & 0xff;
}

// Compatibility format, or any MSI when remapping is off: the request says it all.
ApicInterrupt decode_compatibility(const MsiWrite& msi) {
  ApicInterrupt irq;
  irq.destination = static_cast<uint32_t>(field(msi.address, 19, 12));
  irq.redirection_hint = field(msi.address, 3, 3);
  irq.logical = field(msi.address, 2, 2);
  irq.vector = static_cast<uint8_t>(field(msi.data, 7, 0));
  irq.delivery_mode = static_cast<uint8_t>(field(msi.data, 10, 8));
  irq.level = field(msi.data, 15, 15);
  return irq;
}

// VT-d 9.10 SVT / SQ: may `sid` use this IRTE?
bool source_id_valid(uint64_t hi, uint16_t sid) {
  const uint16_t irte_sid = static_cast<uint16_t>(field(hi, 15, 0));
  const unsigned sq = static_cast<unsigned>(field(hi, 17, 16));
  switch (field(hi, 19, 18)) {
    case 0: return true;
    case 1: {
      const uint16_t mask = VtdCaches::function_mask_bits(sq);
      return (irte_sid & mask) == (sid & mask);
    }
    case 2: {  // Linux set_irte_verify_bus: SID = start bus << 8 | end bus
      const unsigned bus = sid >> 8, start = irte_sid >> 8, end = irte_sid & 0xff;
      return bus >= start && bus <= end;
    }
    default:  // SVT 3 is reserved; QEMU (the host-validation oracle) treats it as a failed check
      return false;
  }
}

InterruptRemapResult fault(InterruptRemapResult r, FaultReason reason, bool suppressed = false) {
  r.fault = reason;
  r.fault_suppressed = suppressed;
  return r;
}

}  // namespace

InterruptRemapResult remap_interrupt(const MsiWrite& msi, const InterruptRemapState& state,
                                     const MemReader& mem, InterruptEntryCache* iec) {
  InterruptRemapResult r;

  // VT-d 5.1: with remapping disabled every request is handled as a compatibility interrupt.
  if (!state.enabled) {
    r.path = InterruptPath::Unremapped;
    r.irq = decode_compatibility(msi);
    return r;
  }

  // Not a well-formed interrupt request: the upper address bits must be zero (QEMU faults the
  // same way).
  if ((msi.address >> 32) != 0 || !is_interrupt_address(msi.address))
    return fault(r, FaultReason::IrReservedRequest);

  // VT-d 5.1.2.1: compatibility format passes through only with CFIS = 1 and EIME = 0.
  if (!(msi.address & kMsiFormatRemappable)) {
    if (!state.cfis || state.eime()) return fault(r, FaultReason::IrCompatibilityBlocked);
    r.path = InterruptPath::Compatibility;
    r.irq = decode_compatibility(msi);
    return r;
  }

  // VT-d 5.1.2.2 / 5.1.3: interrupt index from HANDLE and the optional sub-handle.
  const uint32_t handle = static_cast<uint32_t>(field(msi.address, 19, 5)) |
                          ((msi.address & kMsiHandle15) ? 0x8000u : 0u);
  const bool shv = msi.address & kMsiShv;
  if (shv && (msi.data & 0xffff'0000u)) return fault(r, FaultReason::IrReservedRequest);
  const uint32_t index = handle + (shv ? (msi.data & 0xffffu) : 0u);
  r.index = index;
  r.index_valid = true;
  if (index >= state.table_entries()) return fault(r, FaultReason::IrIndexBeyondSize);

  // The IRTE: from the interrupt entry cache, else from the table.
  uint64_t lo = 0, hi = 0;
  const uint16_t key = static_cast<uint16_t>(index);
  if (const CachedIrte* cached = iec ? iec->lookup(key) : nullptr) {
    lo = cached->lo;
    hi = cached->hi;
    r.iec_hit = true;
  } else {
    uint64_t raw[2] = {0, 0};
    ++r.memory_reads;
    if (!mem.read(state.table_base() + uint64_t(index) * 16, raw, 16))
      return fault(r, FaultReason::IrTableAccess);
    lo = raw[0];
    hi = raw[1];
    if (iec && (lo & kIrteP)) iec->insert(key, CachedIrte{lo, hi});  // present entries only
  }

  // From here on the faults are qualified: IRTE.FPD suppresses recording (VT-d 7.1.3).
  const bool fpd = lo & kIrteFpd;
  if (!(lo & kIrteP)) return fault(r, FaultReason::IrEntryNotPresent, fpd);

  const bool posted = lo & kIrteIm;
  if (posted) {
    // IM is reserved unless the unit supports posting (CAP.PI).
    if (!state.posting_supported() || (lo & kPostedLoReserved) || (hi & kPostedHiReserved))
      return fault(r, FaultReason::IrEntryReserved, fpd);
  } else {
    uint64_t reserved = kRemappedLoReserved;
    if (!state.eime()) reserved |= kRemappedLoReservedXapic;
    if ((lo & reserved) || (hi & kHiReserved)) return fault(r, FaultReason::IrEntryReserved, fpd);
  }

  // VT-d 5.1.4: source-id validation.
  if (!source_id_valid(hi, msi.source_id)) return fault(r, FaultReason::IrSourceIdInvalid, fpd);

  if (!posted) {
    r.path = InterruptPath::Remapped;
    r.irq.vector = static_cast<uint8_t>(field(lo, 23, 16));
    r.irq.destination = destination_from_dst(lo, state.eime());
    r.irq.logical = field(lo, 2, 2);
    r.irq.redirection_hint = field(lo, 3, 3);
    r.irq.level = field(lo, 4, 4);
    r.irq.delivery_mode = static_cast<uint8_t>(field(lo, 7, 5));
    return r;
  }

  // VT-d 5.2.3: posted interrupt. The descriptor address is PDA_H (127:96) : PDA_L (63:38) << 6.
  PostedInterruptUpdate& p = r.post;
  r.posted = true;
  r.path = InterruptPath::PostedNotification;
  p.descriptor = (field(hi, 63, 32) << 32) | (field(lo, 63, 38) << 6);
  p.vector = static_cast<uint8_t>(field(lo, 23, 16));
  p.urgent = field(lo, 14, 14);
  ++r.memory_reads;
  if (!mem.read(p.descriptor, p.before.data(), 64))
    return fault(r, FaultReason::IrPostedDescriptorAccess, fpd);
  p.after = p.before;
  p.after[p.vector / 64] |= 1ull << (p.vector % 64);
  const uint64_t control = p.before[kPidControl];
  if (!(control & kPidOn) && (p.urgent || !(control & kPidSn))) {
    p.after[kPidControl] |= kPidOn;
    p.notify = true;
    p.notification.vector = static_cast<uint8_t>(field(control, 23, 16));
    p.notification.destination = destination_from_dst(control, state.eime());  // NDST = qw4 63:32
    p.notification.delivery_mode = static_cast<uint8_t>(ApicDeliveryMode::Fixed);
  }
  return r;
}

bool commit_posted_interrupt(const PostedInterruptUpdate& post, MemWriter& mem) {
  return mem.write(post.descriptor, post.after.data(), 64);
}

bool deliver(const InterruptRemapResult& r, const MsiWrite& msi, LocalApicSink& sink, uint64_t time_ps) {
  if (!r.ok()) return false;
  DeliveredInterrupt d;
  d.source_id = msi.source_id;
  d.path = r.path;
  d.index = static_cast<uint16_t>(r.index);
  d.time_ps = time_ps;
  if (r.posted) {
    if (!r.post.notify) return false;
    d.irq = r.post.notification;
  } else {
    d.irq = r.irq;
  }
  sink.deliver(d);
  return true;
}

// ---- encoders ----------------------------------------------------------------------------------------

namespace {
uint64_t encode_sv(const SourceValidation& sv) {
  return uint64_t(sv.sid) | (uint64_t(sv.sq & 3) << 16) | (uint64_t(sv.svt & 3) << 18);
}
}  // namespace

CachedIrte make_remapped_irte(const ApicInterrupt& irq, bool eime, const SourceValidation& sv, bool fpd) {
  CachedIrte e;
  const uint64_t dst = eime ? irq.destination : (uint64_t(irq.destination & 0xff) << 8);
  e.lo = kIrteP | (fpd ? kIrteFpd : 0) | (uint64_t(irq.logical) << 2) | (uint64_t(irq.redirection_hint) << 3) |
         (uint64_t(irq.level) << 4) | (uint64_t(irq.delivery_mode & 7) << 5) | (uint64_t(irq.vector) << 16) |
         (dst << 32);
  e.hi = encode_sv(sv);
  return e;
}

CachedIrte make_posted_irte(uint64_t pda, uint8_t vector, bool urgent, const SourceValidation& sv, bool fpd) {
  CachedIrte e;
  e.lo = kIrteP | (fpd ? kIrteFpd : 0) | (urgent ? (1ull << 14) : 0) | kIrteIm | (uint64_t(vector) << 16) |
         (field(pda, 31, 6) << 38);
  e.hi = encode_sv(sv) | (field(pda, 63, 32) << 32);
  return e;
}

std::array<uint64_t, 8> make_posted_descriptor(uint8_t nv, uint32_t ndst, bool eime, bool sn) {
  std::array<uint64_t, 8> d{};
  const uint64_t dest = eime ? ndst : (uint64_t(ndst & 0xff) << 8);  // xAPIC: NDST[15:8], as KVM does
  d[kPidControl] = (sn ? kPidSn : 0) | (uint64_t(nv) << 16) | (dest << 32);
  return d;
}

MsiWrite make_remappable_msi(uint16_t handle, bool shv, uint16_t subhandle, uint16_t source_id) {
  MsiWrite m;
  m.address = kInterruptRangeBase | (uint64_t(handle & 0x7fff) << 5) | kMsiFormatRemappable |
              (shv ? kMsiShv : 0) | ((handle & 0x8000) ? kMsiHandle15 : 0);
  m.data = shv ? subhandle : 0;
  m.source_id = source_id;
  return m;
}

MsiWrite make_compatibility_msi(const ApicInterrupt& irq, uint16_t source_id) {
  MsiWrite m;
  m.address = kInterruptRangeBase | (uint64_t(irq.destination & 0xff) << 12) |
              (uint64_t(irq.redirection_hint) << 3) | (uint64_t(irq.logical) << 2);
  m.data = irq.vector | (uint32_t(irq.delivery_mode & 7) << 8) | (irq.level ? (1u << 15 | 1u << 14) : 0);
  m.source_id = source_id;
  return m;
}

}  // namespace pciesim::vtd
