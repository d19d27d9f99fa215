// Contracts shared by the VT-d model's parts: the request the remapping unit translates, the
// fault reasons (VT-d 7.1.3, Linux dma_remap_fault_reasons / irq_remap_fault_reasons /
// dma_remap_sm_fault_reasons), the memory reader the pure walkers use, and the results of each
// translation stage. No SystemC here: walkers and caches are tested without a kernel.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "pciesim/tlp.h"

namespace pciesim::vtd {

// VT-d 7.1.3 / Table 24-27: fault reason codes as FRCD.FR records them.
enum class FaultReason : uint8_t {
  None = 0x00,
  // legacy DMA remapping
  RootNotPresent = 0x01,
  ContextNotPresent = 0x02,
  ContextInvalid = 0x03,         // invalid programming of a context entry (TT/AW/...)
  AddressBeyondAgaw = 0x04,
  WriteDenied = 0x05,
  ReadDenied = 0x06,
  SlEntryAccess = 0x07,          // next-level pointer not readable
  RootAccess = 0x08,
  ContextAccess = 0x09,
  RootReserved = 0x0a,
  ContextReserved = 0x0b,
  SlEntryReserved = 0x0c,
  TranslationTypeBlocked = 0x0d,  // translation request / translated request blocked by TT
  // interrupt remapping
  IrReservedRequest = 0x20,
  IrIndexBeyondSize = 0x21,
  IrEntryNotPresent = 0x22,
  IrTableAccess = 0x23,
  IrEntryReserved = 0x24,
  IrCompatibilityBlocked = 0x25,
  IrSourceIdInvalid = 0x26,
  IrPostedDescriptorAccess = 0x27,
  // scalable mode
  SmRootTableInvalid = 0x30,
  SmTtmZeroWithPasid = 0x31,
  SmRootAccess = 0x38,
  SmRootNotPresent = 0x39,
  SmRootReserved = 0x3a,
  SmContextAccess = 0x40,
  SmContextNotPresent = 0x41,
  SmContextReserved = 0x42,
  SmContextInvalid = 0x43,
  SmDeviceTlbDisabled = 0x44,     // DTE clear for a translation request
  SmPasidDisabled = 0x45,         // PASIDE clear for a request with PASID
  SmPasidTooLarge = 0x46,         // beyond PDTS
  SmRidPasidError = 0x48,
  SmPasidDirAccess = 0x50,
  SmPasidDirNotPresent = 0x51,
  SmPasidDirReserved = 0x52,
  SmPasidEntryAccess = 0x58,
  SmPasidEntryNotPresent = 0x59,
  SmPasidEntryReserved = 0x5a,
  SmPasidEntryInvalid = 0x5b,     // e.g. bad PGTT
  SmExecuteDisabled = 0x5c,       // ERE clear
  SmSupervisorDisabled = 0x5d,    // SRE clear
  SmFlEntryAccess = 0x70,
  SmFlEntryNotPresent = 0x71,
  SmFlEntryReserved = 0x72,
  SmNestedFlPml4Access = 0x73,
  SmNestedFlAddressBeyond = 0x74,
  SmNestedFlPml4Read = 0x75,      // nested: the FL-PML4/PML5 table is not readable through the second level
  SmNestedFlRead = 0x76,          // nested: a lower first-level table is not readable through the second level
  SmNestedFlWrite = 0x77,         // nested: a first-level table is not writable (A/D update)
  SmSlEntryAccess = 0x78,
  SmSlPermission = 0x79,
  SmSlEntryReserved = 0x7a,
  SmSlPointerInvalid = 0x7b,
  SmFlNonCanonical = 0x80,
  SmFlUserDenied = 0x81,          // U/S = 0 for a user request
  SmFlExecuteDenied = 0x82,       // XD
  SmAddressBeyondMax = 0x83,
  SmSlAddressBeyondMax = 0x84,
  SmWriteDenied = 0x85,
  SmReadDenied = 0x86,
  SmOutputInInterruptRange = 0x87,
};
const char* describe(FaultReason r);      // Linux's wording
bool is_interrupt_fault(FaultReason r);   // 0x20..0x27

// What a memory read of a table entry found. The walkers see memory only through this; the
// SystemC module counts the reads for timing and the tests feed hostile tables.
class MemReader {
 public:
  virtual ~MemReader() = default;
  // Reads `len` bytes (8, 16, 32 or 64) at physical address `pa`; false when nothing backs it.
  virtual bool read(uint64_t pa, void* dst, unsigned len) const = 0;
};

// Writes the unit (or the kernel building tables) makes to memory: queue status writes,
// posted-interrupt descriptors, table entries.
class MemWriter {
 public:
  virtual ~MemWriter() = default;
  // Writes `len` bytes at physical address `pa`; false when nothing backs it.
  virtual bool write(uint64_t pa, const void* src, unsigned len) = 0;
};

// One DMA request as the remapping unit sees it (VT-d 3.4, 3.6, 4.1).
struct Request {
  RequesterId source;          // as on the wire (a bridge's alias, not the device behind it)
  bool has_pasid = false;
  uint32_t pasid = 0;          // 20 bits
  bool write = false;          // else read
  bool execute = false;
  bool privileged = false;     // supervisor request (PASID prefix PR bit)
  AddressType at = AddressType::Untranslated;
  uint64_t addr = 0;
};

// Tag of cache entries for requests without PASID (legacy mode).
constexpr uint32_t kNoPasid = 0xffff'ffffu;

// Access rights of a translation.
struct Rights {
  bool read = false, write = false, execute = false;
};

// The outcome of a translation, from the walker up to the transaction record.
struct Translation {
  FaultReason fault = FaultReason::None;
  bool fault_suppressed = false;  // FPD was set where the fault occurred: not recorded
  bool pass_through = false;
  uint64_t output = 0;            // physical address for the request's address
  uint64_t page_size = 4096;      // 4 KiB, 2 MiB or 1 GiB
  Rights rights;
  uint16_t domain_id = 0;
  bool snoop = false;             // SNP / PGSNP forces snoop
  unsigned memory_reads = 0;      // table entries read (each a timed DRAM access)
  bool ok() const { return fault == FaultReason::None; }
};

// Second-level / first-level paging levels: 3 (39-bit), 4 (48-bit), 5 (57-bit).
constexpr int levels_for_aw(int aw_field) { return aw_field + 2; }       // context AW 1..3
constexpr int width_for_levels(int levels) { return 12 + 9 * levels; }  // 39, 48, 57

// Where the paging structure walk started and the tables it visited, for the paging-structure
// caches: table[n] is the address of the level-n table (n = levels..1); 0 = not visited.
struct WalkTrace {
  std::array<uint64_t, 6> table{};
  // perms[n]: what the entries above table[n] grant together (kPerm* bits). A paging-structure
  // cache keeps them with table[n], so a walk resumed there checks the same rights.
  std::array<uint8_t, 6> perms{};
};
constexpr uint8_t kPermRead = 1, kPermWrite = 2, kPermExecute = 4, kPermUser = 8, kPermAll = 15;

// CAP and ECAP as the unit reports them, with the fields the model uses (VT-d 11.4.2-11.4.3;
// hardware-facts 1.2-1.3).
struct Capabilities {
  uint32_t version = 0x10;  // VER: major 7:4, minor 3:0
  uint64_t cap = 0, ecap = 0;

  static constexpr uint64_t field(uint64_t v, unsigned lo, unsigned hi) {
    return (v >> lo) & ((hi - lo + 1) >= 64 ? ~0ull : ((1ull << (hi - lo + 1)) - 1));
  }
  unsigned nd() const { return field(cap, 0, 2); }
  bool rwbf() const { return field(cap, 4, 4); }
  bool caching_mode() const { return field(cap, 7, 7); }
  unsigned sagaw() const { return field(cap, 8, 12); }         // bit 1: 39-bit, 2: 48-bit, 3: 57-bit
  unsigned mgaw() const { return field(cap, 16, 21) + 1; }     // bits
  unsigned fro() const { return field(cap, 24, 33) * 16; }     // byte offset of FRCD[0]
  unsigned sllps() const { return field(cap, 34, 37); }        // bit 0: 2 MiB, bit 1: 1 GiB
  bool psi() const { return field(cap, 39, 39); }
  unsigned nfr() const { return field(cap, 40, 47) + 1; }      // fault recording registers
  unsigned mamv() const { return field(cap, 48, 53); }
  bool fl1gp() const { return field(cap, 56, 56); }
  bool pi() const { return field(cap, 59, 59); }
  bool fl5lp() const { return field(cap, 60, 60); }

  bool coherent() const { return field(ecap, 0, 0); }
  bool qi() const { return field(ecap, 1, 1); }
  bool dt() const { return field(ecap, 2, 2); }
  bool ir() const { return field(ecap, 3, 3); }
  bool eim() const { return field(ecap, 4, 4); }
  bool pt() const { return field(ecap, 6, 6); }
  bool sc() const { return field(ecap, 7, 7); }
  unsigned iro() const { return field(ecap, 8, 17) * 16; }     // byte offset of IVA; IOTLB at +8
  unsigned mhmv() const { return field(ecap, 20, 23); }
  bool nest() const { return field(ecap, 26, 26); }
  bool ers() const { return field(ecap, 30, 30); }
  bool srs() const { return field(ecap, 31, 31); }
  unsigned pss() const { return field(ecap, 35, 39); }         // PASID width - 1
  bool pasid() const { return field(ecap, 40, 40); }
  bool smts() const { return field(ecap, 43, 43); }
  bool slts() const { return field(ecap, 46, 46); }
  bool flts() const { return field(ecap, 47, 47); }
  bool rps() const { return field(ecap, 49, 49); }

  // Presets. A modern server part: Intel Xeon Sapphire Rapids, as its Linux boot log prints it
  // ("DMAR: dmar0: reg_base_addr ... ver 6:0 cap 9ed008c40780466 ecap 3ee9e86f050df"):
  // scalable mode, nesting, 48-bit 4-level second level, 57-bit MGAW, 2 MiB and 1 GiB pages.
  static Capabilities server() { return Capabilities{0x60, 0x9ed008c40780466ull, 0x3ee9e86f050dfull}; }
  // QEMU 7.2's emulated intel-iommu with its defaults (cap d2008c22260206 ecap f00f4a):
  // legacy mode, 39-bit 3-level, QI, IR, PT; FRCD at 0x220, IOTLB registers at 0xF0.
  static Capabilities qemu_7_2() { return Capabilities{0x10, 0xd2008c22260206ull, 0xf00f4aull}; }
};

// What the invalidation interfaces (CCMD/IOTLB registers and the invalidation queue) ask of the
// unit's caches. Named after the spec's granularities (VT-d 6.5); the caches implement it.
class InvalidationTarget {
 public:
  virtual ~InvalidationTarget() = default;
  // context cache (CCMD.CIRG / descriptor 0x1 G: 1 global, 2 domain, 3 device with function mask)
  virtual void invalidate_context_global() = 0;
  virtual void invalidate_context_domain(uint16_t did) = 0;
  virtual void invalidate_context_device(uint16_t did, uint16_t source_id, unsigned function_mask) = 0;
  // IOTLB and paging-structure caches (IOTLB.IIRG / descriptor 0x2: global, domain, page with
  // address mask: 2^am pages at addr; ih = invalidation hint: leaf entries only)
  virtual void invalidate_iotlb_global() = 0;
  virtual void invalidate_iotlb_domain(uint16_t did) = 0;
  virtual void invalidate_iotlb_page(uint16_t did, uint64_t addr, unsigned am, bool ih) = 0;
  // PASID cache (descriptor 0x7) and PASID-based IOTLB (descriptor 0x6)
  virtual void invalidate_pasid_cache_domain(uint16_t did) = 0;
  virtual void invalidate_pasid_cache_pasid(uint16_t did, uint32_t pasid) = 0;
  virtual void invalidate_pasid_cache_global() = 0;
  virtual void invalidate_piotlb_pasid(uint16_t did, uint32_t pasid) = 0;
  virtual void invalidate_piotlb_page(uint16_t did, uint32_t pasid, uint64_t addr, unsigned am, bool ih) = 0;
  // device TLBs behind ATS (descriptors 0x3 / 0x8): forwarded to the device
  virtual void invalidate_device_tlb(uint16_t source_id, bool has_pasid, uint32_t pasid, uint64_t addr,
                                     bool size_bit) = 0;
  // interrupt entry cache (descriptor 0x4 / GCMD.SIRTP without ESIRTPS)
  virtual void invalidate_iec_global() = 0;
  virtual void invalidate_iec_index(uint16_t index, unsigned index_mask) = 0;
};

}  // namespace pciesim::vtd
