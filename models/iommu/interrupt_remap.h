// Interrupt remapping (VT-d chapter 5) as a pure function: an MSI write as it arrives at the root
// complex, the unit's state and a reader for the interrupt remapping table in, the interrupt to
// put on the APIC bus (or the posted-interrupt descriptor update) or a fault reason out. The
// SystemC module adds timing, records faults and delivers to the LocalApicSink.
//
// Formats (hardware-facts 1.16; VT-d 5.1.2, 9.10, 9.11, 9.12):
//  - MSI address 0xFEEx_xxxx. Bit 4 = 1 remappable format: HANDLE[14:0] in bits 19:5,
//    HANDLE[15] in bit 2, SHV in bit 3; with SHV the index is HANDLE + data[15:0] and data[31:16]
//    must be zero. Bit 4 = 0 compatibility format: destination in bits 19:12, RH bit 3, DM bit 2;
//    data: vector 7:0, delivery mode 10:8, trigger mode 15.
//  - IRTE, 16 bytes at IRTA.base + 16*index; 2^(IRTA.S+1) entries. IM (bit 15) = 0 remapped,
//    1 posted.
#pragma once

#include <array>
#include <cstdint>

#include "iommu/local_apic_sink.h"
#include "iommu/table_builder.h"  // MemWriter (CPU / hardware stores into DRAM)
#include "iommu/vtd_caches.h"
#include "iommu/vtd_types.h"

namespace pciesim::vtd {

// VT-d 3.13 / 5.1: the interrupt address range.
constexpr uint64_t kInterruptRangeBase = 0xfee0'0000;
constexpr uint64_t kInterruptRangeSize = 0x10'0000;
constexpr bool is_interrupt_address(uint64_t addr) {
  return addr >= kInterruptRangeBase && addr < kInterruptRangeBase + kInterruptRangeSize;
}

// An interrupt request as the remapping unit sees it: a DWORD memory write into the interrupt
// range, with the requester id on the wire (a bridge's alias, not the device behind it).
struct MsiWrite {
  uint64_t address = 0;
  uint32_t data = 0;
  uint16_t source_id = 0;
};

// The parts of the unit's state interrupt remapping depends on.
struct InterruptRemapState {
  bool enabled = false;   // GSTS.IRES
  bool cfis = false;      // GSTS.CFIS: compatibility-format interrupts allowed
  uint64_t irta = 0;      // IRTA as latched by GCMD.SIRTP: base 63:12, EIME 11, S 3:0
  Capabilities caps;      // ECAP.EIM (EIME is reserved without it), CAP.PI (posted interrupts)

  uint64_t table_base() const { return irta & ~0xfffull; }
  uint32_t table_entries() const { return 2u << (irta & 0xf); }  // 2^(S+1)
  bool eime() const { return caps.eim() && ((irta >> 11) & 1); }
  bool posting_supported() const { return caps.pi(); }
};

// Who may use an IRTE (VT-d 9.10 SID/SQ/SVT).
struct SourceValidation {
  uint8_t svt = 0;      // 0 none, 1 requester id under the SQ mask, 2 bus range, 3 reserved
  uint8_t sq = 0;       // SVT 1: 0 all bits, 1 ignore bit 2, 2 ignore bits 2:1, 3 ignore bits 2:0
  uint16_t sid = 0;     // SVT 1: requester id; SVT 2: start bus << 8 | end bus

  static SourceValidation none() { return SourceValidation{}; }
  static SourceValidation requester(uint16_t sid, uint8_t sq = 0) { return SourceValidation{1, sq, sid}; }
  static SourceValidation bus_range(uint8_t start_bus, uint8_t end_bus) {
    return SourceValidation{2, 0, static_cast<uint16_t>(start_bus << 8 | end_bus)};
  }
};

// What a posted interrupt does to its descriptor (VT-d 5.2.3, 9.12): set the PIR bit of the
// virtual vector and, if ON was clear and the interrupt is urgent or SN is clear, set ON and
// send the notification vector NV to NDST.
struct PostedInterruptUpdate {
  uint64_t descriptor = 0;              // 64-byte aligned descriptor address (PDA)
  uint8_t vector = 0;                   // virtual vector: PIR bit
  bool urgent = false;                  // IRTE.URG
  std::array<uint64_t, 8> before{};     // the descriptor as read
  std::array<uint64_t, 8> after{};      // the descriptor to write back
  bool notify = false;                  // a notification event is sent
  ApicInterrupt notification;           // NV to NDST, physical, fixed, edge
};

struct InterruptRemapResult {
  FaultReason fault = FaultReason::None;
  bool fault_suppressed = false;  // IRTE.FPD set on a qualified fault (0x22, 0x24, 0x26, 0x27)
  uint32_t index = 0;             // interrupt index (remappable format); FRCD.FI bits 63:48
  bool index_valid = false;
  InterruptPath path = InterruptPath::Unremapped;
  ApicInterrupt irq;              // what the APIC bus carries (not for posted interrupts)
  bool posted = false;
  PostedInterruptUpdate post;     // valid when posted
  bool iec_hit = false;
  unsigned memory_reads = 0;      // IRTE and descriptor reads (each a timed DRAM access)

  bool ok() const { return fault == FaultReason::None; }
};

// Remaps one MSI write. `iec`, if given, is consulted before the table and filled with present
// IRTEs it reads; cached entries are used until invalidated (VT-d 6.4).
InterruptRemapResult remap_interrupt(const MsiWrite& msi, const InterruptRemapState& state,
                                     const MemReader& mem, InterruptEntryCache* iec = nullptr);

// Writes a posted result's descriptor update. The caller runs it right after remap_interrupt,
// before anything else can touch the descriptor: the hardware does the update atomically.
bool commit_posted_interrupt(const PostedInterruptUpdate& post, MemWriter& mem);

// Hands a successful result to the sink: the interrupt, or a posted interrupt's notification
// event. False when there was nothing to deliver (a fault, or a posted interrupt that only set
// its PIR bit).
bool deliver(const InterruptRemapResult& r, const MsiWrite& msi, LocalApicSink& sink, uint64_t time_ps = 0);

// ---- encoders, for tests, firmware and the cosim kernel --------------------------------------------

// A remapped-format IRTE (IM = 0). With eime == false the 8-bit APIC id goes in DST[15:8]
// (Linux stores dest << 8); with eime the full 32-bit x2APIC id.
CachedIrte make_remapped_irte(const ApicInterrupt& irq, bool eime, const SourceValidation& sv,
                              bool fpd = false);
// A posted-format IRTE (IM = 1) for virtual vector `vector` and descriptor `pda` (64-byte aligned).
CachedIrte make_posted_irte(uint64_t pda, uint8_t vector, bool urgent, const SourceValidation& sv,
                            bool fpd = false);
// A posted-interrupt descriptor with an empty PIR: notification vector, destination (encoded
// for EIME as the hardware reads it: x2APIC id, or xAPIC id << 8), suppress-notify bit.
std::array<uint64_t, 8> make_posted_descriptor(uint8_t nv, uint32_t ndst, bool eime, bool sn = false);
// Remappable-format MSI (address, data) as Linux programs it: HANDLE, SHV, sub-handle in data.
MsiWrite make_remappable_msi(uint16_t handle, bool shv, uint16_t subhandle, uint16_t source_id);
// Compatibility-format MSI for an 8-bit destination.
MsiWrite make_compatibility_msi(const ApicInterrupt& irq, uint16_t source_id);

}  // namespace pciesim::vtd
