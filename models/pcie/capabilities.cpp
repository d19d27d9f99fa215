#include "pcie/capabilities.h"
#include "pcie/ats.h"

#include <algorithm>
#include <stdexcept>
#include <initializer_list>
#include <string>

namespace pciesim {

using namespace regs;

namespace {

// One row of a register table: offset (relative to the table's base), size in bytes, value after
// reset, writable bits, write-1-to-clear bits.
struct Reg {
  uint16_t off;
  uint8_t size;
  uint32_t reset;
  uint32_t wmask = 0;
  uint32_t w1c = 0;
};

void declare(ConfigSpace& cs, uint16_t base, std::initializer_list<Reg> table) {
  for (const Reg& r : table)
    cs.define(static_cast<uint16_t>(base + r.off), r.size, r.reset, r.wmask, r.w1c);
}

[[noreturn]] void bad(const topo::SourceLoc& loc, const std::string& msg) {
  throw topo::TopologyError(loc, msg);
}

constexpr bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

unsigned log2u(uint64_t v) {
  unsigned n = 0;
  while (v > 1) {
    v >>= 1;
    ++n;
  }
  return n;
}

uint32_t wmask32(const ConfigSpace& cs, uint16_t off) {
  uint32_t m = 0;
  for (unsigned i = 0; i < 4; ++i) m |= uint32_t{cs.wmask_byte(static_cast<uint16_t>(off + i))} << (8 * i);
  return m;
}

void check_link(const topo::LinkSpec& l) {
  if (l.gen < 1 || l.gen > 6) bad(l.loc, "link gen must be 1..6, got " + std::to_string(l.gen));
  static constexpr int kWidths[] = {1, 2, 4, 8, 12, 16, 32};
  if (std::find(std::begin(kWidths), std::end(kWidths), l.width) == std::end(kWidths))
    bad(l.loc, "link width must be 1, 2, 4, 8, 12, 16 or 32, got " + std::to_string(l.width));
  for (int bytes : {l.mps, l.mrrs})
    if (bytes < 128 || bytes > 4096 || !is_pow2(static_cast<uint64_t>(bytes)))
      bad(l.loc, "MPS/MRRS must be a power of two in 128..4096, got " + std::to_string(bytes));
  if (l.rcb != 64 && l.rcb != 128) bad(l.loc, "RCB must be 64 or 128, got " + std::to_string(l.rcb));
}

// PCI 3.0 6.2.5.1: a BAR is sized by its writable address bits alone; unused BARs read 0.
void declare_bars(ConfigSpace& cs, const std::vector<topo::BarSpec>& bars, unsigned count) {
  for (unsigned i = 0; i < count; ++i) cs.define(static_cast<uint16_t>(cfg::kBar0 + 4 * i), 4, 0);
  std::array<bool, 6> used{};
  for (const topo::BarSpec& b : bars) {
    const unsigned slots = b.is_64bit ? 2 : 1;
    if (b.index < 0 || static_cast<unsigned>(b.index) + slots > count)
      bad(b.loc, "BAR" + std::to_string(b.index) + " does not fit in " + std::to_string(count) +
                     " BAR registers");
    for (unsigned s = 0; s < slots; ++s) {
      if (used[b.index + s]) bad(b.loc, "BAR" + std::to_string(b.index + s) + " is used twice");
      used[b.index + s] = true;
    }
    if (!is_pow2(b.size)) bad(b.loc, "BAR size must be a power of two");
    const uint64_t addr_mask = ~(b.size - 1);
    const auto off = static_cast<uint16_t>(cfg::kBar0 + 4 * b.index);
    if (b.io) {
      if (b.is_64bit || b.prefetchable) bad(b.loc, "an I/O BAR is neither 64-bit nor prefetchable");
      if (b.size < 4 || b.size > 0x10000) bad(b.loc, "I/O BAR size must be 4 B .. 64 KiB");
      cs.define(off, 4, kBarIo, static_cast<uint32_t>(addr_mask) & kBarIoAddrMask & kIoSpaceMask);
      continue;
    }
    if (b.size < 16) bad(b.loc, "memory BAR size must be at least 16 B");
    if (!b.is_64bit && b.size > 0x80000000ull) bad(b.loc, "a 32-bit memory BAR is at most 2 GiB");
    const uint32_t flags = (b.is_64bit ? kBarMemType64 : 0) | (b.prefetchable ? kBarPrefetch : 0);
    cs.define(off, 4, flags, static_cast<uint32_t>(addr_mask) & kBarMemAddrMask);
    // upper dword: fully writable below 4 GiB; its low bits are RO 0 for larger BARs
    if (b.is_64bit) cs.define(static_cast<uint16_t>(off + 4), 4, 0, static_cast<uint32_t>(addr_mask >> 32));
  }
}

// STATUS after reset: DEVSEL timing of a conventional function, and the capability-list bit when
// capabilities were added before the header (the builders are order-independent).
uint16_t reset_status(const ConfigSpace& cs) {
  return static_cast<uint16_t>((cs.extended() ? 0 : kStatusDevselMedium) | (cs.read16(cfg::kStatus) & kStatusCapList));
}

void check_pin(int pin, const topo::SourceLoc& loc) {
  if (pin < 0 || pin > 4) bad(loc, "interrupt pin must be 0 (none) or 1..4 (INTA..INTD)");
}

// COMMAND bits a function implements (PCIe 7.5.1.1.3: the others are hardwired 0).
constexpr uint16_t kCommandWritable =
    kCmdIo | kCmdMemory | kCmdBusMaster | kCmdParity | kCmdSerr | kCmdIntxDisable;

}  // namespace

unsigned encode_payload(unsigned bytes) {
  if (bytes < 128 || bytes > 4096 || !is_pow2(bytes))
    throw std::invalid_argument("payload size must be a power of two in 128..4096");
  return log2u(bytes / 128);
}

// ---------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------

void build_type0_header(ConfigSpace& cs, const topo::FunctionSpec& fn, bool multifunction, uint32_t rom_size) {
  check_pin(fn.interrupt_pin, fn.loc);
  if (rom_size && (!is_pow2(rom_size) || rom_size < 2048))
    bad(fn.loc, "expansion ROM size must be a power of two >= 2 KiB");
  const bool pcie = cs.extended();
  // the capability list may already exist: keep its pointer and the status bit
  const uint8_t cap_ptr = static_cast<uint8_t>(cs.read(cfg::kCapPtr, 1));
  const uint16_t status = reset_status(cs);
  const uint32_t rom_wmask = rom_size ? ((~(rom_size - 1) & kRomAddrMask) | kRomEnable) : 0;
  declare(cs, 0, {
      {cfg::kVendorId, 2, fn.vendor},
      {cfg::kDeviceId, 2, fn.device},
      {cfg::kCommand, 2, 0, kCommandWritable},
      {cfg::kStatus, 2, status, 0, kStatusErrorsW1c},
      {cfg::kRevision, 1, fn.revision},
      {cfg::kClassProgIf, 3, fn.class_code & 0xffffffu},
      {cfg::kCacheLine, 1, 0, 0xff},
      {cfg::kLatency, 1, 0, pcie ? 0u : 0xffu},  // PCIe 7.5.1.1.6: hardwired 0
      {cfg::kHeaderType, 1, uint32_t{kHeaderTypeNormal} | (multifunction ? kHeaderTypeMultiFunction : 0u)},
      {cfg::kBist, 1, 0},
      {0x28, 4, 0},  // CardBus CIS pointer
      {cfg::kSubsysVendor, 2, fn.subsystem_vendor},
      {cfg::kSubsysId, 2, fn.subsystem},
      {cfg::kRomBase, 4, 0, rom_wmask},
      {cfg::kCapPtr, 1, cap_ptr},
      {cfg::kIntLine, 1, 0, 0xff},
      {cfg::kIntPin, 1, static_cast<uint32_t>(fn.interrupt_pin)},
      {0x3e, 1, 0},  // Min_Gnt, Max_Lat: hardwired 0 in PCIe
      {0x3f, 1, 0},
  });
  declare_bars(cs, fn.bars, 6);
}

void build_type1_header(ConfigSpace& cs, const BridgeHeader& h) {
  check_pin(h.interrupt_pin, h.loc);
  const bool pcie = cs.extended();
  const uint8_t cap_ptr = static_cast<uint8_t>(cs.read(cfg::kCapPtr, 1));
  const uint16_t status = reset_status(cs);
  const uint16_t sec_status = h.conventional_secondary ? kStatusDevselMedium : 0;
  // Windows come out of reset closed (base above limit) so nothing is forwarded until firmware
  // programs them; the type nibbles say 32-bit I/O and 64-bit prefetchable decode.
  const uint32_t io_w = h.io_window ? kIoRangeMask : 0;
  const uint32_t io_base = h.io_window ? 0xf0u | kIoRangeType32 : 0, io_limit = h.io_window ? kIoRangeType32 : 0;
  declare(cs, 0, {
      {cfg::kVendorId, 2, h.vendor},
      {cfg::kDeviceId, 2, h.device},
      {cfg::kCommand, 2, 0, kCommandWritable},
      {cfg::kStatus, 2, status, 0, kStatusErrorsW1c},
      {cfg::kRevision, 1, h.revision},
      {cfg::kClassProgIf, 3, h.class_code & 0xffffffu},
      {cfg::kCacheLine, 1, 0, 0xff},
      {cfg::kLatency, 1, 0, pcie ? 0u : 0xffu},
      {cfg::kHeaderType, 1, uint32_t{kHeaderTypeBridge} | (h.multifunction ? kHeaderTypeMultiFunction : 0u)},
      {cfg::kBist, 1, 0},
      {cfg::kPrimaryBus, 1, 0, 0xff},
      {cfg::kSecondaryBus, 1, 0, 0xff},
      {cfg::kSubordinateBus, 1, 0, 0xff},
      {cfg::kSecLatency, 1, 0, h.conventional_secondary ? 0xffu : 0u},
      {cfg::kIoBase, 1, io_base, io_w},
      {cfg::kIoLimit, 1, io_limit, io_w},
      {cfg::kSecStatus, 2, sec_status, 0, kStatusErrorsW1c},
      {cfg::kMemBase, 2, 0xfff0, kMemRangeMask},
      {cfg::kMemLimit, 2, 0x0000, kMemRangeMask},
      {cfg::kPrefBase, 2, 0xfff0u | kPrefRangeType64, kMemRangeMask},
      {cfg::kPrefLimit, 2, kPrefRangeType64, kMemRangeMask},
      {cfg::kPrefBaseUpper, 4, 0, ~0u},
      {cfg::kPrefLimitUpper, 4, 0, ~0u},
      {cfg::kIoBaseUpper, 2, 0, h.io_window ? 0xffffu : 0u},
      {cfg::kIoLimitUpper, 2, 0, h.io_window ? 0xffffu : 0u},
      {cfg::kCapPtr, 1, cap_ptr},
      {cfg::kBridgeRom, 4, 0},
      {cfg::kIntLine, 1, 0, 0xff},
      {cfg::kIntPin, 1, static_cast<uint32_t>(h.interrupt_pin)},
      {cfg::kBridgeControl, 2, 0,
       kBctlParity | kBctlSerr | kBctlIsa | kBctlVga | kBctlVga16 | kBctlMasterAbort | kBctlSecondaryBusReset},
  });
  declare_bars(cs, h.bars, 2);
}

// ---------------------------------------------------------------------------------------------
// Classic capabilities
// ---------------------------------------------------------------------------------------------

uint16_t add_pm_cap(ConfigSpace& cs, bool pme_capable) {
  const uint16_t pme = pme_capable ? (kPmcPmeD0 | kPmcPmeD3Hot | kPmcPmeD3Cold) : 0;
  const uint16_t off = cs.add_capability(kCapIdPm, 0x10);  // 8 B, padded: MSI lands at 0x50
  declare(cs, off, {
      {kPmPmc, 2, 3u | pme},  // PCI PM 1.2: version 3, no D1/D2
      {kPmCsr, 2, kPmCsrNoSoftReset, kPmCsrStateMask | (pme_capable ? kPmCsrPmeEnable : 0u),
       pme_capable ? kPmCsrPmeStatus : 0u},
      {kPmBridgeExt, 1, 0},
      {kPmData, 1, 0},
  });
  return off;
}

uint16_t add_msi_cap(ConfigSpace& cs, unsigned vectors, bool is_64bit, bool per_vector_mask,
                     const topo::SourceLoc& loc) {
  if (!is_pow2(vectors) || vectors > 32) bad(loc, "MSI vectors must be 1, 2, 4, 8, 16 or 32");
  const uint32_t flags = (log2u(vectors) << 1) | (is_64bit ? kMsiFlags64Bit : 0u) |
                         (per_vector_mask ? kMsiFlagsMaskable : 0u);
  const uint32_t vector_bits = vectors == 32 ? ~0u : (1u << vectors) - 1;
  const uint16_t data = is_64bit ? kMsiData64 : kMsiData32;
  const uint16_t mask = is_64bit ? kMsiMask64 : kMsiMask32;
  const uint16_t pending = is_64bit ? kMsiPending64 : kMsiPending32;
  const uint16_t off = cs.add_capability(kCapIdMsi, 0x20);  // at most 0x18 B, padded: PCIe at 0x70
  declare(cs, off, {
      {kMsiFlags, 2, flags, kMsiFlagsEnable | kMsiFlagsQsize},  // MME RW, MMC/64-bit/PVM RO
      {kMsiAddrLo, 4, 0, ~3u},                                 // dword aligned
      {data, 2, 0, 0xffff},
      {static_cast<uint16_t>(data + 2), 2, 0},                 // extended message data: not implemented
  });
  if (is_64bit) declare(cs, off, {{kMsiAddrHi, 4, 0, ~0u}});
  if (per_vector_mask) declare(cs, off, {{mask, 4, 0, vector_bits}, {pending, 4, 0}});
  return off;
}

MsixLayout default_msix_layout(const topo::FunctionSpec& fn, unsigned vectors) {
  const topo::BarSpec* bar = nullptr;
  for (const topo::BarSpec& b : fn.bars)
    if (!b.io && (!bar || b.index < bar->index)) bar = &b;
  if (!bar) bad(fn.loc, "MSI-X needs a memory BAR for its table");
  const uint64_t table_bytes = uint64_t{vectors} * kMsixEntrySize;
  const uint64_t pba_bytes = (uint64_t{vectors} + 63) / 64 * 8;
  const uint64_t region = (table_bytes + pba_bytes + 0xfff) & ~uint64_t{0xfff};
  if (region > bar->size)
    bad(bar->loc, "BAR" + std::to_string(bar->index) + " is too small for a " + std::to_string(vectors) +
                      "-vector MSI-X table and PBA (" + std::to_string(region) + " B)");
  MsixLayout l;
  l.table_bir = l.pba_bir = static_cast<uint8_t>(bar->index);
  l.table_offset = static_cast<uint32_t>(bar->size - region);
  l.pba_offset = static_cast<uint32_t>(l.table_offset + table_bytes);
  return l;
}

uint16_t add_msix_cap(ConfigSpace& cs, unsigned vectors, const MsixLayout& l, const topo::SourceLoc& loc) {
  if (vectors < 1 || vectors > 2048) bad(loc, "MSI-X vectors must be 1..2048");
  if (l.table_bir > 5 || l.pba_bir > 5) bad(loc, "MSI-X BIR must name BAR0..BAR5");
  if ((l.table_offset | l.pba_offset) & kMsixBirMask) bad(loc, "MSI-X table and PBA offsets must be 8-byte aligned");
  const uint16_t off = cs.add_capability(kCapIdMsix, kMsixSize);
  declare(cs, off, {
      {kMsixFlags, 2, vectors - 1, kMsixMaskAll | kMsixEnable},
      {kMsixTable, 4, l.table_offset | l.table_bir},
      {kMsixPba, 4, l.pba_offset | l.pba_bir},
  });
  return off;
}

uint16_t add_express_cap(ConfigSpace& cs, const ExpressParams& p) {
  if (!cs.extended()) bad(p.link.loc, "a PCI Express capability needs a 4 KiB configuration space");
  const PortType t = p.type;
  const bool link = has_link(t);
  const bool dsp = is_downstream_port(t);
  const bool ep = is_endpoint(t);
  const bool root = t == PortType::RootPort || t == PortType::RcEventCollector;
  const bool slot = p.slot && (t == PortType::RootPort || t == PortType::SwitchDownstream);
  check_link(p.link);
  const int gen = p.link.gen, width = p.link.width;
  const int max_gen = p.max_gen ? p.max_gen : gen, max_width = p.max_width ? p.max_width : width;
  if (gen > max_gen || width > max_width || max_gen > 6 || max_width > 32)
    bad(p.link.loc, "link trained above the port's capability");
  const unsigned mpss = p.max_payload_supported ? p.max_payload_supported : static_cast<unsigned>(p.link.mps);
  if (mpss < static_cast<unsigned>(p.link.mps)) bad(p.link.loc, "MPS programmed above MPS supported");
  if (p.port_number > 255 || p.slot_number > 0x1fff) bad(p.link.loc, "port or slot number out of range");

  // +2 Capabilities, +4 DEVCAP (7.5.3.2-3)
  const uint32_t flags = 2u | (uint32_t{static_cast<uint8_t>(t)} << 4) | (slot ? kExpFlagsSlot : 0u) |
                         ((p.msi_message_number & 0x1fu) << 9);
  const unsigned phantom = ep ? (p.phantom_functions & 3u) : 0u;
  const uint32_t devcap = encode_payload(mpss) | kDevCapExtTag | kDevCapRbe | (ep && p.flr ? kDevCapFlr : 0u) |
                          (phantom << 3);  // 4:3 Phantom Functions Supported
  // +8 DEVCTL (7.5.3.4): reset MPS 128 B, MRRS 512 B, relaxed ordering and no snoop enabled.
  // Initiate FLR latches so the owner's write hook sees it; its FLR (ConfigSpace::reset) clears it.
  const uint32_t devctl_reset = kDevCtlRelaxed | kDevCtlNoSnoop | (2u << 12);
  uint32_t devctl_w = kDevCtlCere | kDevCtlNfere | kDevCtlFere | kDevCtlUrre | kDevCtlRelaxed |
                      kDevCtlPayloadMask | kDevCtlExtTag | kDevCtlNoSnoop | kDevCtlReadRqMask;
  if (t == PortType::PcieToPciBridge) devctl_w |= kDevCtlBridgeCfgRetry;
  if (ep && p.flr) devctl_w |= kDevCtlInitiateFlr;
  if (phantom) devctl_w |= kDevCtlPhantom;  // RsvdP (read-only 0) unless phantom functions are supported
  // +0xc LNKCAP, +0x10 LNKCTL, +0x12 LNKSTA (7.5.3.6-8); ASPM not supported.
  const uint32_t lnkcap = !link ? 0u
                                : static_cast<uint32_t>(max_gen) | (static_cast<uint32_t>(max_width) << 4) |
                                      (dsp ? kLnkCapDllla | kLnkCapLbnc : 0u) | kLnkCapAspmOptComp |
                                      (p.port_number << kLnkCapPortShift);
  const bool rcb_rw = t == PortType::Endpoint || t == PortType::LegacyEndpoint || t == PortType::PcieToPciBridge;
  // a root port's RCB is RO and says what the root complex does
  const uint32_t lnkctl_reset = (t == PortType::RootPort && p.link.rcb == 128) ? kLnkCtlRcb : 0u;
  uint32_t lnkctl_w = link ? (kLnkCtlCommonClock | kLnkCtlExtSynch) : 0u;
  if (rcb_rw) lnkctl_w |= kLnkCtlRcb;
  // Retrain Link latches like Initiate FLR: the fabric's hook retrains and clears it.
  if (dsp) lnkctl_w |= kLnkCtlDisable | kLnkCtlRetrain | kLnkCtlBwMgmtIe | kLnkCtlAutBwIe;
  uint32_t lnksta = 0;
  if (link) {
    lnksta = p.link_up ? (static_cast<uint32_t>(gen) | (static_cast<uint32_t>(width) << 4)) : 1u;
    lnksta |= kLnkStaSlotClock;
    if (dsp && p.link_up) lnksta |= kLnkStaDllActive;
  }
  // +0x14.. slot (7.5.3.9-11): hot-plug capable, surprise removal, no command completed support
  const uint32_t sltcap = slot ? (kSltCapHpSurprise | kSltCapHpCapable | kSltCapNoCmdCompl |
                                  (p.slot_number << kSltCapSlotNumberShift))
                               : 0u;
  const uint32_t sltctl_w = slot ? (kSltCtlAttnButtonIe | kSltCtlPwrFaultIe | kSltCtlMrlIe | kSltCtlPresenceIe |
                                    kSltCtlCmdComplIe | kSltCtlHpIe | kSltCtlDllStateIe)
                                 : 0u;
  const uint32_t sltsta_w1c = slot ? (kSltStaAttnButton | kSltStaPwrFault | kSltStaMrlChanged |
                                      kSltStaPresenceChanged | kSltStaCmdCompl | kSltStaDllStateChanged)
                                   : 0u;
  const uint32_t sltsta = slot && p.card_present ? kSltStaPresence : 0u;
  // +0x24 DEVCAP2, +0x28 DEVCTL2 (7.5.3.15-16): requesters support completion timeout ranges
  // A-D and disabling it; root ports and switch downstream ports forward ARI.
  const bool requester = ep || t == PortType::RootPort || t == PortType::PcieToPciBridge;
  const bool ari_fwd = t == PortType::RootPort || t == PortType::SwitchDownstream;
  const uint32_t devcap2 = (requester ? (kDevCap2TimeoutRangesMask | kDevCap2TimeoutDisable) : 0u) |
                           (ari_fwd ? kDevCap2Ari : 0u);
  const uint32_t devctl2_w = (requester ? (kDevCtl2TimeoutValueMask | kDevCtl2TimeoutDisable) : 0u) |
                             (ari_fwd ? kDevCtl2Ari : 0u);
  // +0x2c LNKCAP2, +0x30 LNKCTL2, +0x32 LNKSTA2 (7.5.3.18-20)
  const uint32_t lnkcap2 = link ? ((1u << (max_gen + 1)) - 2u) : 0u;  // bits 1..max_gen
  const uint32_t lnkctl2 = link ? static_cast<uint32_t>(max_gen) : 0u;
  const uint32_t lnksta2 = (link && p.link_up && gen >= 3)
                               ? (kLnkSta2EqComplete | kLnkSta2EqPhase1 | kLnkSta2EqPhase2 | kLnkSta2EqPhase3)
                               : 0u;

  const uint16_t off = cs.add_capability(kCapIdExp, 0x40);  // 0x3c B, padded: MSI-X lands at 0xb0
  declare(cs, off, {
      {kExpFlags, 2, flags},
      {kExpDevCap, 4, devcap},
      {kExpDevCtl, 2, devctl_reset, devctl_w},
      {kExpDevSta, 2, 0, 0, kDevStaCed | kDevStaNfed | kDevStaFed | kDevStaUrd},
      {kExpLnkCap, 4, lnkcap},
      {kExpLnkCtl, 2, lnkctl_reset, lnkctl_w},
      {kExpLnkSta, 2, lnksta, 0, dsp ? uint32_t{kLnkStaBwMgmt | kLnkStaAutBw} : 0u},
      {kExpSltCap, 4, sltcap},
      {kExpSltCtl, 2, 0, sltctl_w},
      {kExpSltSta, 2, sltsta, 0, sltsta_w1c},
      {kExpRtCtl, 2, 0, root ? uint32_t{kRtCtlSecee | kRtCtlSenfee | kRtCtlSefee | kRtCtlPmeIe} : 0u},
      {kExpRtCap, 2, 0},
      {kExpRtSta, 4, 0, 0, root ? kRtStaPmeStatus : 0u},
      {kExpDevCap2, 4, devcap2},
      {kExpDevCtl2, 2, 0, devctl2_w},
      {kExpDevSta2, 2, 0},
      {kExpLnkCap2, 4, lnkcap2},
      {kExpLnkCtl2, 2, lnkctl2, link ? uint32_t{kLnkCtl2TargetSpeedMask} : 0u},
      {kExpLnkSta2, 2, lnksta2},
      {kExpSltCap2, 4, 0},
      {kExpSltCtl2, 2, 0},
      {kExpSltSta2, 2, 0},
  });
  // As firmware leaves them (a reset() returns to the spec defaults above).
  const uint32_t devctl = (devctl_reset & ~uint32_t{kDevCtlPayloadMask | kDevCtlReadRqMask}) |
                          (encode_payload(static_cast<unsigned>(p.link.mps)) << 5) |
                          (encode_payload(static_cast<unsigned>(p.link.mrrs)) << 12);
  cs.set(static_cast<uint16_t>(off + kExpDevCtl), 2, devctl);
  if (rcb_rw && p.link.rcb == 128) cs.set(static_cast<uint16_t>(off + kExpLnkCtl), 2, lnkctl_reset | kLnkCtlRcb);
  return off;
}

// ---------------------------------------------------------------------------------------------
// Extended capabilities
// ---------------------------------------------------------------------------------------------

uint16_t add_aer_cap(ConfigSpace& cs, PortType type) {
  const bool root = type == PortType::RootPort || type == PortType::RcEventCollector;
  // PCIe 7.8.4.2-6: the errors a function logs; surprise down needs LNKCAP surprise reporting.
  constexpr uint32_t unc = kAerUncDlp | kAerUncPoisonedTlp | kAerUncFcp | kAerUncCompTimeout | kAerUncCompAbort |
                           kAerUncUnexpComp | kAerUncRxOverflow | kAerUncMalformed | kAerUncEcrc |
                           kAerUncUnsupported | kAerUncAcsViolation | kAerUncInternal;
  constexpr uint32_t cor = kAerCorReceiver | kAerCorBadTlp | kAerCorBadDllp | kAerCorReplayRollover |
                           kAerCorReplayTimer | kAerCorAdvisoryNonFatal | kAerCorInternal |
                           kAerCorHeaderLogOverflow;
  const uint16_t off = cs.add_ext_capability(kExtCapIdAer, 2, kAerSize);
  declare(cs, off, {
      {kAerUncorStatus, 4, 0, 0, unc},
      {kAerUncorMask, 4, kAerUncInternal, unc},  // internal errors masked by default
      {kAerUncorSeverity, 4, kAerUncSeverityDefault, unc},
      {kAerCorStatus, 4, 0, 0, cor},
      {kAerCorMask, 4, kAerCorAdvisoryNonFatal | kAerCorInternal | kAerCorHeaderLogOverflow, cor},
      {kAerCapCtl, 4, 0},  // no ECRC, no multiple header recording
      {kAerHeaderLog, 4, 0},
      {kAerHeaderLog + 4, 4, 0},
      {kAerHeaderLog + 8, 4, 0},
      {kAerHeaderLog + 12, 4, 0},
      {kAerRootCommand, 4, 0, root ? (kAerRootCmdCorEn | kAerRootCmdNonFatalEn | kAerRootCmdFatalEn) : 0u},
      {kAerRootStatus, 4, 0, 0, root ? kAerRootStaW1c : 0u},
      {kAerCorSourceId, 2, 0},
      {kAerSourceId, 2, 0},
      {kAerTlpPrefixLog, 4, 0},
      {kAerTlpPrefixLog + 4, 4, 0},
      {kAerTlpPrefixLog + 8, 4, 0},
      {kAerTlpPrefixLog + 12, 4, 0},
  });
  return off;
}

uint16_t add_acs_cap(ConfigSpace& cs, const topo::AcsSpec& spec) {
  if (!cs.extended()) bad(spec.loc, "ACS needs a 4 KiB configuration space");
  if (spec.capability & ~kAcsBitsMask) bad(spec.loc, "ACS capability has bits above DT (bit 6)");
  const uint16_t cap = spec.capability;
  if (spec.control & ~cap) bad(spec.loc, "ACS control enables a bit the capability does not implement");
  const bool ec = cap & acs_mask(AcsBit::EC);
  const unsigned n = spec.egress_vector_bits;
  if (ec && (n == 0 || n > 256)) bad(spec.loc, "ACS egress control needs an egress vector of 1..256 bits");
  if (!ec && n) bad(spec.loc, "an ACS egress vector needs the EC capability");
  const unsigned dwords = (n + 31) / 32;
  const uint16_t off = cs.add_ext_capability(kExtCapIdAcs, 1, 8 + 4 * dwords);
  declare(cs, off, {
      {kAcsCap, 2, cap | ((n & 0xffu) << kAcsVectorSizeShift)},  // 256 bits encode as 0
      {kAcsCtrl, 2, 0, cap},                                     // only implemented bits are RW
  });
  for (unsigned i = 0; i < dwords; ++i) {
    const unsigned bits = std::min(32u, n - 32 * i);
    const uint32_t mask = bits == 32 ? ~0u : (1u << bits) - 1;
    cs.define(static_cast<uint16_t>(off + kAcsEgressVector + 4 * i), 4, 0, mask);
    if (i == 0) cs.set(static_cast<uint16_t>(off + kAcsEgressVector), 4, spec.egress_vector & mask);
  }
  // as firmware leaves it; a conventional reset clears ACS control (PCIe 7.7.8.3)
  cs.set(static_cast<uint16_t>(off + kAcsCtrl), 2, spec.control);
  return off;
}

uint16_t add_ari_cap(ConfigSpace& cs, uint8_t next_function) {
  const uint16_t off = cs.add_ext_capability(kExtCapIdAri, 1, kAriSize);
  declare(cs, off, {
      {kAriCap, 2, uint32_t{next_function} << 8},  // no MFVC / ACS function groups
      {kAriCtrl, 2, 0},                            // so the function group field is RO 0
  });
  return off;
}

// ---------------------------------------------------------------------------------------------
// Whole functions
// ---------------------------------------------------------------------------------------------

CapOffsets build_endpoint_function(ConfigSpace& cs, const topo::FunctionSpec& fn, const EndpointParams& p) {
  if (!is_endpoint(p.type)) bad(fn.loc, "an endpoint function needs an endpoint device/port type");
  if (p.conventional && (fn.aer || fn.ari || fn.ats || fn.acs.present || cs.extended()))
    bad(fn.loc, "a conventional PCI function has a 256-byte configuration space and no extended capabilities");
  build_type0_header(cs, fn, p.multifunction);
  CapOffsets o;
  if (fn.pm) o.pm = add_pm_cap(cs, false);
  if (fn.msi_vectors)
    o.msi = add_msi_cap(cs, static_cast<unsigned>(fn.msi_vectors), fn.msi_64bit, fn.msi_maskable, fn.loc);
  if (!p.conventional) {
    ExpressParams e;
    e.type = p.type;
    e.link = p.link;
    e.flr = fn.flr;
    e.phantom_functions = static_cast<unsigned>(fn.phantom_functions);
    o.pcie = add_express_cap(cs, e);
  }
  if (fn.msix_vectors) {
    const auto vectors = static_cast<unsigned>(fn.msix_vectors);
    o.msix = add_msix_cap(cs, vectors, default_msix_layout(fn, vectors), fn.loc);
  }
  if (fn.aer) o.aer = add_aer_cap(cs, p.type);
  if (fn.acs.present) o.acs = add_acs_cap(cs, fn.acs);
  if (fn.ari) o.ari = add_ari_cap(cs, p.ari_next_function);
  if (fn.ats) o.ats = add_ats_cap(cs);  // PCIe 10.5.1
  return o;
}

CapOffsets build_port_function(ConfigSpace& cs, const PortParams& p) {
  const PortType t = p.express.type;
  if (t != PortType::RootPort && t != PortType::SwitchUpstream && t != PortType::SwitchDownstream &&
      t != PortType::PcieToPciBridge && t != PortType::PciToPcieBridge)
    bad(p.header.loc, "a port function needs a port or bridge device/port type");
  BridgeHeader h = p.header;
  if (t == PortType::PcieToPciBridge) h.conventional_secondary = true;
  build_type1_header(cs, h);
  CapOffsets o;
  o.pm = add_pm_cap(cs, true);
  if (p.msi_vectors) o.msi = add_msi_cap(cs, p.msi_vectors, true, false, p.header.loc);
  o.pcie = add_express_cap(cs, p.express);
  if (p.aer) o.aer = add_aer_cap(cs, t);
  if (p.acs.present) o.acs = add_acs_cap(cs, p.acs);
  return o;
}

// ---------------------------------------------------------------------------------------------
// Decoders
// ---------------------------------------------------------------------------------------------

AcsRegs read_acs(const ConfigSpace& cs, uint16_t off) {
  AcsRegs r;
  if (!off) return r;
  const uint16_t cap = cs.read16(static_cast<uint16_t>(off + kAcsCap));
  r.present = true;
  r.capability = cap & kAcsBitsMask;
  r.control = cs.read16(static_cast<uint16_t>(off + kAcsCtrl)) & kAcsBitsMask;
  if (r.implemented(AcsBit::EC)) {
    const unsigned n = (cap >> kAcsVectorSizeShift) & 0xff;
    r.egress_vector_bits = n ? n : 256;
    for (unsigned i = 0; i < (r.egress_vector_bits + 31) / 32; ++i)
      r.egress_vector[i] = cs.read32(static_cast<uint16_t>(off + kAcsEgressVector + 4 * i));
  }
  return r;
}

BusNumbers read_bus_numbers(const ConfigSpace& cs) {
  return BusNumbers{static_cast<uint8_t>(cs.read(cfg::kPrimaryBus, 1)),
                    static_cast<uint8_t>(cs.read(cfg::kSecondaryBus, 1)),
                    static_cast<uint8_t>(cs.read(cfg::kSubordinateBus, 1))};
}

BridgeWindows read_bridge_windows(const ConfigSpace& cs) {
  BridgeWindows w;
  // a window whose registers are not writable is not implemented and forwards nothing
  if (cs.wmask_byte(cfg::kIoBase)) {
    const uint32_t base = cs.read(cfg::kIoBase, 1), limit = cs.read(cfg::kIoLimit, 1);
    w.io_32bit = (base & kIoRangeTypeMask) == kIoRangeType32;
    w.io.base = uint64_t{base & kIoRangeMask} << 8;
    w.io.limit = (uint64_t{limit & kIoRangeMask} << 8) | 0xfff;
    if (w.io_32bit) {
      w.io.base |= uint64_t{cs.read16(cfg::kIoBaseUpper)} << 16;
      w.io.limit |= uint64_t{cs.read16(cfg::kIoLimitUpper)} << 16;
    }
  }
  w.mem.base = static_cast<uint64_t>(cs.read16(cfg::kMemBase) & kMemRangeMask) << 16;
  w.mem.limit = (static_cast<uint64_t>(cs.read16(cfg::kMemLimit) & kMemRangeMask) << 16) | 0xfffff;
  if (cs.wmask_byte(cfg::kPrefBase)) {
    const uint16_t base = cs.read16(cfg::kPrefBase), limit = cs.read16(cfg::kPrefLimit);
    w.pref_64bit = (base & kMemRangeTypeMask) == kPrefRangeType64;
    w.pref.base = static_cast<uint64_t>(base & kMemRangeMask) << 16;
    w.pref.limit = (static_cast<uint64_t>(limit & kMemRangeMask) << 16) | 0xfffff;
    if (w.pref_64bit) {
      w.pref.base |= uint64_t{cs.read32(cfg::kPrefBaseUpper)} << 32;
      w.pref.limit |= uint64_t{cs.read32(cfg::kPrefLimitUpper)} << 32;
    }
  }
  return w;
}

BarDecode read_bar(const ConfigSpace& cs, unsigned index, unsigned bar_count) {
  BarDecode d;
  if (index >= bar_count) return d;
  const auto off = static_cast<uint16_t>(cfg::kBar0 + 4 * index);
  const uint32_t value = cs.read32(off), wm = wmask32(cs, off);
  if (value & kBarIo) {
    if (!wm) return d;  // no writable address bits: not implemented
    d.present = d.io = true;
    d.base = value & kBarIoAddrMask & kIoSpaceMask;
    d.size = uint64_t{~wm & kIoSpaceMask} + 1;
    return d;
  }
  d.is_64bit = (value & kBarMemTypeMask) == kBarMemType64 && index + 1 < bar_count;
  uint64_t mask = wm | ~uint64_t{0xffffffff};
  d.base = value & kBarMemAddrMask;
  if (d.is_64bit) {  // a BAR of 4 GiB or more has no writable bits in its lower dword
    const auto hi = static_cast<uint16_t>(off + 4);
    mask = (uint64_t{wmask32(cs, hi)} << 32) | wm;
    d.base |= uint64_t{cs.read32(hi)} << 32;
  }
  const uint64_t writable = d.is_64bit ? mask & ~uint64_t{0xf} : wm & kBarMemAddrMask;
  if (!writable) return BarDecode{};  // no writable address bits: not implemented
  d.present = true;
  d.prefetchable = value & kBarPrefetch;
  d.size = (~mask | 0xf) + 1;
  return d;
}

BarDecode read_rom(const ConfigSpace& cs) {
  BarDecode d;
  const bool bridge = (cs.read(cfg::kHeaderType, 1) & kHeaderTypeMask) == kHeaderTypeBridge;
  const uint16_t off = bridge ? cfg::kBridgeRom : cfg::kRomBase;
  const uint32_t wm = wmask32(cs, off) & kRomAddrMask;
  if (!wm) return d;
  const uint32_t value = cs.read32(off);
  d.present = true;
  d.enabled = value & kRomEnable;
  d.base = value & kRomAddrMask;
  d.size = uint64_t{~wm} + 1;
  return d;
}

DevCtlRegs read_devctl(const ConfigSpace& cs, uint16_t pcie_off) {
  DevCtlRegs r;
  if (!pcie_off) return r;
  const uint16_t v = cs.read16(static_cast<uint16_t>(pcie_off + kExpDevCtl));
  r.mps = decode_payload((v & kDevCtlPayloadMask) >> 5);
  r.mrrs = decode_payload((v & kDevCtlReadRqMask) >> 12);
  r.relaxed_ordering = v & kDevCtlRelaxed;
  r.no_snoop = v & kDevCtlNoSnoop;
  r.ext_tag = v & kDevCtlExtTag;
  r.ari_forwarding = cs.read16(static_cast<uint16_t>(pcie_off + kExpDevCtl2)) & kDevCtl2Ari;
  return r;
}

LinkStatus read_link_status(const ConfigSpace& cs, uint16_t pcie_off) {
  LinkStatus s;
  if (!pcie_off) return s;
  const uint16_t v = cs.read16(static_cast<uint16_t>(pcie_off + kExpLnkSta));
  s.gen = v & kLnkStaSpeedMask;
  s.width = (v & kLnkStaWidthMask) >> 4;
  s.dll_active = v & kLnkStaDllActive;
  return s;
}

PortType read_port_type(const ConfigSpace& cs, uint16_t pcie_off) {
  return static_cast<PortType>((cs.read16(static_cast<uint16_t>(pcie_off + kExpFlags)) & kExpFlagsTypeMask) >> 4);
}

}  // namespace pciesim
