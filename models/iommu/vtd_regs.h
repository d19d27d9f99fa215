// The register file of one VT-d remapping unit (VT-d 11.4; hardware-facts 1.1-1.10) as plain C++.
// No SystemC here: the lead's TLM module forwards MMIO reads and writes to RegisterFile::read/write
// and asks it for the latched state the translator needs (root table, TE, IRTA, ...).
//
// House style "registers are declared, not coded": every register is one row of a table
// (RegisterSpec: offset, size, reset value, writable mask, write-1-to-clear mask, write-only mask),
// RegisterBank::write is the one function that applies the masks, and handlers registered with
// RegisterBank::on_write exist only for side effects (GCMD commands, FSTS/FRCD servicing, IQT, ...).
//
// Parts:
//   RegisterBank     storage + mask rules + write handlers (this header)
//   EventInterrupt   IM/IP/data/address of one event interrupt (fault event, invalidation event)
//   FaultRecorder    primary fault logging into FRCD[] and FSTS (fault_recorder.h)
//   RegisterInvalidation / InvalidationQueue   CCMD/IOTLB registers and the queue (invalidation.h)
//   RegisterFile     the unit: declares the table from Capabilities, wires the handlers, runs the
//                    GCMD/GSTS command table and exposes the latched state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "iommu/vtd_types.h"

namespace pciesim::vtd {

// VT-d 11.4: register offsets from the DRHD base (hardware-facts 1.1). IVA/IOTLB live at ECAP.IRO*16
// (+0/+8), FRCD[i] at CAP.FRO*16 + 16*i (low qword, high qword at +8).
namespace reg {
inline constexpr uint32_t kVer = 0x000;
inline constexpr uint32_t kCap = 0x008;
inline constexpr uint32_t kEcap = 0x010;
inline constexpr uint32_t kGcmd = 0x018;
inline constexpr uint32_t kGsts = 0x01c;
inline constexpr uint32_t kRtaddr = 0x020;
inline constexpr uint32_t kCcmd = 0x028;
inline constexpr uint32_t kFsts = 0x034;
inline constexpr uint32_t kFectl = 0x038;
inline constexpr uint32_t kFedata = 0x03c;
inline constexpr uint32_t kFeaddr = 0x040;
inline constexpr uint32_t kFeuaddr = 0x044;
inline constexpr uint32_t kAflog = 0x058;
inline constexpr uint32_t kPmen = 0x064;
inline constexpr uint32_t kPlmbase = 0x068;
inline constexpr uint32_t kPlmlimit = 0x06c;
inline constexpr uint32_t kPhmbase = 0x070;
inline constexpr uint32_t kPhmlimit = 0x078;
inline constexpr uint32_t kIqh = 0x080;
inline constexpr uint32_t kIqt = 0x088;
inline constexpr uint32_t kIqa = 0x090;
inline constexpr uint32_t kIcs = 0x09c;
inline constexpr uint32_t kIectl = 0x0a0;
inline constexpr uint32_t kIedata = 0x0a4;
inline constexpr uint32_t kIeaddr = 0x0a8;
inline constexpr uint32_t kIeuaddr = 0x0ac;
inline constexpr uint32_t kIqer = 0x0b0;
inline constexpr uint32_t kIrta = 0x0b8;
inline constexpr uint32_t kPqh = 0x0c0;
inline constexpr uint32_t kPqt = 0x0c8;
inline constexpr uint32_t kPqa = 0x0d0;
inline constexpr uint32_t kPrs = 0x0dc;
inline constexpr uint32_t kPectl = 0x0e0;
inline constexpr uint32_t kPedata = 0x0e4;
inline constexpr uint32_t kPeaddr = 0x0e8;
inline constexpr uint32_t kPeuaddr = 0x0ec;
inline constexpr uint32_t kMtrrcap = 0x100;
inline constexpr uint32_t kMtrrdef = 0x108;
inline constexpr uint32_t kMtrrFixFirst = 0x120;  // 11 fixed-range MTRRs, 0x120..0x170
inline constexpr uint32_t kMtrrVarFirst = 0x180;  // 10 PHYSBASE/PHYSMASK pairs, 0x180..0x218
}  // namespace reg

// VT-d 11.4.4-11.4.5: GCMD requests and GSTS reports at the same bit positions.
namespace gcmd {
inline constexpr uint32_t kTe = 1u << 31;     // GSTS.TES
inline constexpr uint32_t kSrtp = 1u << 30;   // GSTS.RTPS
inline constexpr uint32_t kSfl = 1u << 29;    // GSTS.FLS
inline constexpr uint32_t kEafl = 1u << 28;   // GSTS.AFLS
inline constexpr uint32_t kWbf = 1u << 27;    // GSTS.WBFS
inline constexpr uint32_t kQie = 1u << 26;    // GSTS.QIES
inline constexpr uint32_t kIre = 1u << 25;    // GSTS.IRES
inline constexpr uint32_t kSirtp = 1u << 24;  // GSTS.IRTPS
inline constexpr uint32_t kCfi = 1u << 23;    // GSTS.CFIS
}  // namespace gcmd

// VT-d 11.4.9.1 FSTS (hardware-facts 1.8).
namespace fsts {
inline constexpr uint32_t kPfo = 1u << 0;  // primary fault overflow (RW1C)
inline constexpr uint32_t kPpf = 1u << 1;  // primary pending fault = OR of FRCD.F (RO)
inline constexpr uint32_t kAfo = 1u << 2;  // advanced fault overflow (RW1C, with CAP.AFL)
inline constexpr uint32_t kApf = 1u << 3;  // advanced pending fault (RW1C, with CAP.AFL)
inline constexpr uint32_t kIqe = 1u << 4;  // invalidation queue error (RW1C, with ECAP.QI)
inline constexpr uint32_t kIce = 1u << 5;  // invalidation completion error (RW1C, with ECAP.DT)
inline constexpr uint32_t kIte = 1u << 6;  // invalidation time-out error (RW1C, with ECAP.DT)
inline constexpr unsigned kFriShift = 8;   // fault record index of the first pending fault (RO)
inline constexpr uint32_t kFriMask = 0xffu << kFriShift;
// The status fields whose setting is an interrupt condition (FECTL.IP description).
inline constexpr uint32_t kInterruptStatus = kPfo | kPpf | kAfo | kApf | kIqe | kIce | kIte;
}  // namespace fsts

// FECTL / IECTL / PECTL share a layout (VT-d 11.4.9.2): IM RW, IP RO.
namespace ectl {
inline constexpr uint32_t kIm = 1u << 31;
inline constexpr uint32_t kIp = 1u << 30;
}  // namespace ectl

// VT-d 11.4.14 FRCD high qword (bits 127:64 of the record; hardware-facts 1.8).
namespace frcd {
inline constexpr uint64_t kF = 1ull << 63;    // fault valid, RW1C
inline constexpr unsigned kT1Shift = 62;      // type bit 1: 1 = read / AtomicOp
inline constexpr unsigned kAtShift = 60;      // 61:60 address type
inline constexpr unsigned kPvShift = 40;      // 59:40 PASID value
inline constexpr unsigned kFrShift = 32;      // 39:32 fault reason
inline constexpr uint64_t kPp = 1ull << 31;   // PASID present
inline constexpr uint64_t kExe = 1ull << 30;  // execute requested
inline constexpr uint64_t kPriv = 1ull << 29; // privileged (supervisor) request
inline constexpr unsigned kT2Shift = 28;      // type bit 2: page request / AtomicOp
inline constexpr uint64_t kSidMask = 0xffff;  // 15:0 source id
}  // namespace frcd

// Other fields the model reads.
namespace field {
inline constexpr uint64_t kRtaddrTtmShift = 10;     // RTADDR 11:10 translation table mode
inline constexpr uint64_t kIrtaEime = 1ull << 11;   // IRTA extended interrupt mode enable
inline constexpr uint64_t kIrtaSizeMask = 0xf;      // IRTA.S: 2^(S+1) entries
inline constexpr uint64_t kIqaDw = 1ull << 11;      // IQA descriptor width: 256-bit
inline constexpr uint64_t kIqaQsMask = 0x7;         // IQA.QS: 2^QS 4 KiB pages
inline constexpr uint64_t kIqOffsetMask = 0x7fff0;  // IQH/IQT 18:4
inline constexpr uint32_t kIcsIwc = 1u << 0;        // ICS invalidation wait complete (RW1C)
inline constexpr uint32_t kPmenEpm = 1u << 31;      // PMEN enable protected memory
inline constexpr uint32_t kPmenPrs = 1u << 0;       // PMEN protected region status (RO)
}  // namespace field

// One declared register (one row of the table).
struct RegisterSpec {
  const char* name = "";
  uint32_t offset = 0;
  unsigned size = 4;     // 4 or 8 bytes
  uint64_t reset = 0;
  uint64_t wmask = 0;    // bits software writes (RW)
  uint64_t w1c = 0;      // bits software clears by writing 1 (RW1C); not part of wmask
  uint64_t womask = 0;   // write-only bits: read back as 0 (GCMD)
};

// Register storage and the mask rules. Accesses are 4 or 8 bytes, naturally aligned; a 4-byte access
// reaches one 32-bit register or one half of a 64-bit one; an 8-byte access reaches one 64-bit
// register or two adjacent 32-bit registers. Anything else (undefined offset, unaligned, other sizes)
// reads 0 and ignores writes.
class RegisterBank {
 public:
  // Called after the masks were applied, with the whole register before and after the write.
  using WriteHandler = std::function<void(uint64_t old_value, uint64_t new_value)>;

  void define(const RegisterSpec& spec);
  void on_write(uint32_t offset, WriteHandler handler);

  uint64_t read(uint32_t offset, unsigned size) const;   // software view (womask applied)
  void write(uint32_t offset, unsigned size, uint64_t value);

  // Hardware view: the whole register, no masks, no handlers.
  uint64_t get(uint32_t offset) const;
  void set(uint32_t offset, uint64_t value);
  void set_bits(uint32_t offset, uint64_t bits) { set(offset, get(offset) | bits); }
  void clear_bits(uint32_t offset, uint64_t bits) { set(offset, get(offset) & ~bits); }

  bool defined(uint32_t offset) const { return find(offset) != nullptr; }
  const RegisterSpec* spec(uint32_t offset) const;
  const std::vector<RegisterSpec>& specs() const { return m_specs; }
  uint32_t extent() const { return static_cast<uint32_t>(m_word_index.size() * 4); }
  void reset();  // every register back to its reset value (handlers stay)
  // Moves on every write, set and reset (whether or not a value changed); only ever grows. State
  // derived from the registers stays valid while it has not moved.
  uint64_t changes() const { return m_changes; }

 private:
  struct Slot {
    uint64_t value = 0;
    WriteHandler on_write;
  };
  const RegisterSpec* find(uint32_t offset) const;  // register starting at `offset`
  int slot_at(uint32_t offset) const;               // register covering the 4-byte word at `offset`
  uint64_t read32(uint32_t offset) const;
  void write32(uint32_t offset, uint32_t value);

  std::vector<RegisterSpec> m_specs;
  std::vector<Slot> m_slots;
  std::vector<int32_t> m_word_index;  // one entry per 4-byte word of the window; -1 = undefined
  uint64_t m_changes = 0;
};

// An interrupt the unit raises itself (VT-d 5.1.6: fault event, invalidation completion event):
// a control register with IM/IP plus data, address and upper address registers.
//   raise():  an interrupt condition. IP is set; unless IM is set the MSI goes out and IP clears.
//   control_written(): software cleared IM while IP is set -> the held message goes out now.
//   serviced(): software serviced every status field behind the event -> IP clears, no message.
class EventInterrupt {
 public:
  using MsiSink = std::function<void(uint64_t addr, uint32_t data)>;

  EventInterrupt(RegisterBank& regs, uint32_t control, uint32_t data, uint32_t addr, uint32_t upper_addr,
                 bool upper_addr_implemented);

  void set_sink(MsiSink sink) { m_sink = std::move(sink); }
  void raise();
  void control_written();
  void serviced();

  bool pending() const;
  unsigned delivered() const { return m_delivered; }

 private:
  void deliver();

  RegisterBank& m_regs;
  uint32_t m_control, m_data, m_addr, m_upper_addr;
  bool m_upper;
  MsiSink m_sink;
  unsigned m_delivered = 0;
};

class FaultRecorder;
class RegisterInvalidation;
class InvalidationQueue;
using QueueMemWriter = MemWriter;  // invalidation.h

// RTADDR as latched by GCMD.SRTP (VT-d 11.4.6): the root table the translator walks.
struct RootTablePointer {
  bool latched = false;      // SRTP has been issued at least once
  uint64_t address = 0;      // 4 KiB aligned
  unsigned ttm = 0;          // 0 legacy, 1 scalable, 3 abort-DMA (2 reserved)
  bool scalable() const { return ttm == 1; }
};

// IRTA as latched by GCMD.SIRTP (VT-d 11.4.12; hardware-facts 1.10).
struct InterruptRemapTablePointer {
  bool latched = false;
  uint64_t address = 0;
  bool eime = false;         // x2APIC 32-bit destination ids
  unsigned size_field = 0;   // S
  uint32_t entries() const { return 1u << (size_field + 1); }
};

// What a register write set in motion, for the module's timing.
struct AccessEffects {
  unsigned descriptors_processed = 0;  // invalidation descriptors fetched and executed
};

// The register file of one remapping unit.
class RegisterFile {
 public:
  using MsiSink = EventInterrupt::MsiSink;

  // The layout follows the capabilities: FRCD at CAP.FRO, IVA/IOTLB at ECAP.IRO, optional register
  // groups (AFLOG, PMEN/PLMR/PHMR, QI, IR, page requests, MTRRs) only when the caps report them.
  // Register-based invalidation registers (CCMD, IVA, IOTLB) exist only for VER major < 6 (VT-d 6.5:
  // version 6 and later support queued invalidation only).
  RegisterFile(const Capabilities& caps, InvalidationTarget& target, const MemReader& mem,
               QueueMemWriter& writer);
  ~RegisterFile();
  RegisterFile(const RegisterFile&) = delete;
  RegisterFile& operator=(const RegisterFile&) = delete;

  // MMIO from the CPU: 4- or 8-byte accesses (see RegisterBank).
  uint64_t read(uint32_t offset, unsigned size) const { return m_bank.read(offset, size); }
  AccessEffects write(uint32_t offset, unsigned size, uint64_t value);
  void reset();
  uint32_t window_size() const;  // bytes of MMIO the unit decodes (at least one 4 KiB page)

  // Moves whenever software writes a register or the unit changes one (RegisterBank::changes);
  // the latched state below only changes with it.
  uint64_t changes() const { return m_bank.changes(); }

  // Latched state (GSTS and what the one-shot commands latched).
  bool translation_enabled() const { return status(gcmd::kTe); }
  RootTablePointer root_table() const { return m_root; }
  bool qi_enabled() const { return status(gcmd::kQie); }
  bool ir_enabled() const { return status(gcmd::kIre); }
  InterruptRemapTablePointer irta() const { return m_irta; }
  bool cfi() const { return status(gcmd::kCfi); }
  bool advanced_fault_logging() const { return status(gcmd::kEafl); }
  uint64_t fault_log() const { return m_fault_log; }  // AFLOG as latched by SFL
  bool protected_memory_enabled() const;
  unsigned write_buffer_flushes() const { return m_write_buffer_flushes; }
  bool register_invalidation_supported() const;

  // The unit's own MSIs (fault event: FEADDR/FEUADDR/FEDATA; invalidation completion event:
  // IEADDR/IEUADDR/IEDATA). They are not subject to interrupt remapping (VT-d 5.1.6). A sink runs
  // inside read/write/record calls: it must not write this unit's registers synchronously.
  void set_fault_event_sink(MsiSink sink);
  void set_invalidation_event_sink(MsiSink sink);

  const Capabilities& caps() const { return m_caps; }
  const RegisterBank& bank() const { return m_bank; }
  FaultRecorder& faults() { return *m_faults; }
  InvalidationQueue& queue() { return *m_queue; }
  RegisterInvalidation& register_invalidation() { return *m_reg_inval; }

 private:
  // VT-d 11.4.4: the global commands as a table. An Enable command is a persistent state: the unit
  // acts when the GCMD bit differs from the GSTS bit. A OneShot command acts whenever its bit is
  // written as 1. `apply` performs it and returns the GSTS bit afterwards.
  enum class CommandKind : uint8_t { Enable, OneShot };
  struct GlobalCommand {
    const char* name;
    uint32_t bit;
    CommandKind kind;
    bool (*supported)(const Capabilities&);
    bool (RegisterFile::*apply)(bool on);
  };
  static const GlobalCommand kCommands[];

  void declare();
  void wire();
  void handle_gcmd(uint64_t value);
  bool status(uint32_t bit) const;

  bool command_te(bool on);
  bool command_srtp(bool on);
  bool command_sfl(bool on);
  bool command_eafl(bool on);
  bool command_wbf(bool on);
  bool command_qie(bool on);
  bool command_ire(bool on);
  bool command_sirtp(bool on);
  bool command_cfi(bool on);

  Capabilities m_caps;
  InvalidationTarget& m_target;
  RegisterBank m_bank;
  std::unique_ptr<FaultRecorder> m_faults;
  std::unique_ptr<RegisterInvalidation> m_reg_inval;
  std::unique_ptr<InvalidationQueue> m_queue;

  RootTablePointer m_root;
  InterruptRemapTablePointer m_irta;
  uint64_t m_fault_log = 0;
  unsigned m_write_buffer_flushes = 0;
  AccessEffects m_effects;  // collected while one write() runs its handlers
};

}  // namespace pciesim::vtd
