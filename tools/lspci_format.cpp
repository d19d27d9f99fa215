// Facts about pciutils' output (field names, order, spacing, +/- flags, name fallbacks) follow
// lspci 3.9.0 (ls-caps.c, ls-ecaps.c, lspci.c, lib/names.c); the code is our own.
#include "lspci_format.h"

#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "pci_names.h"
#include "pcie/capabilities.h"
#include "pcie/pcie_regs.h"

namespace pciesim {

using namespace regs;

namespace {

using namespace pci_names;

// ---------------------------------------------------------------------------------------------
// Output helpers
// ---------------------------------------------------------------------------------------------

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void put(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof buf) {
    out.append(buf, static_cast<size_t>(n));
    return;
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(&big[0], big.size(), fmt, ap);
  va_end(ap);
  out.append(big.data(), static_cast<size_t>(n));
}

constexpr char flag(uint64_t v, uint64_t bit) { return (v & bit) ? '+' : '-'; }

const char* devsel(uint16_t status) {
  switch (status & kStatusDevselMask) {
    case 0: return "fast";
    case kStatusDevselMedium: return "medium";
    case kStatusDevselSlow: return "slow";
    default: return "??";
  }
}

void put_size(std::string& out, uint64_t x) {
  static const char* const suffix[] = {"", "K", "M", "G", "T"};
  if (!x) return;
  unsigned i = 0;
  for (; i < 4; ++i) {
    if (x % 1024) break;
    x /= 1024;
  }
  put(out, " [size=%u%s]", static_cast<unsigned>(x), suffix[i]);
}

// ---------------------------------------------------------------------------------------------
// One function
// ---------------------------------------------------------------------------------------------

class Lspci {
 public:
  Lspci(const LspciDevice& d, const LspciOptions& o, bool domains, std::string& out)
      : m_d(d), m_o(o), m_cs(d.config), m_out(out), m_v(o.verbosity), m_domains(domains), m_names(o) {
    m_sysfs = o.access == LspciOptions::Access::Sysfs;
    m_htype = b(cfg::kHeaderType) & kHeaderTypeMask;
    resolve_bars();
  }

  void show() {
    if (m_v) show_verbose();
    else show_terse();
    if (m_v && !m_d.kernel_driver.empty()) put(m_out, "\tKernel driver in use: %s\n", m_d.kernel_driver.c_str());
    if (m_v && !m_d.kernel_modules.empty()) put(m_out, "\tKernel modules: %s\n", m_d.kernel_modules.c_str());
    if (m_o.hex) show_hex();
    if (m_v || m_o.hex) m_out += '\n';
  }

 private:
  uint8_t b(unsigned off) const { return static_cast<uint8_t>(m_cs.read(static_cast<uint16_t>(off), 1)); }
  uint16_t w(unsigned off) const { return static_cast<uint16_t>(m_cs.read(static_cast<uint16_t>(off), 2)); }
  uint32_t l(unsigned off) const { return m_cs.read(static_cast<uint16_t>(off), 4); }
  void out(const char* s) { m_out += s; }

  unsigned bar_count() const { return m_htype == kHeaderTypeNormal ? 6 : m_htype == kHeaderTypeBridge ? 2 : 1; }

  // libpci's base_addr[] (address | BAR flag bits), size[] and, with sysfs, the resource flags.
  void resolve_bars() {
    const unsigned cnt = m_htype <= kHeaderTypeBridge ? bar_count() : 0;
    for (unsigned i = 0; i < cnt; ++i) {
      const uint32_t raw = l(cfg::kBar0 + 4 * i);
      if (!m_sysfs) {  // generic access: what the registers say, 64-bit pairs combined
        if (!raw || raw == 0xffffffffu) continue;
        if ((raw & kBarIo) || (raw & kBarMemTypeMask) != kBarMemType64) m_base[i] = raw;
        else if (i + 1 < cnt) m_base[i] = raw | (uint64_t{l(cfg::kBar0 + 4 * (i + 1))} << 32), ++i;
        continue;
      }
      const BarDecode bar = read_bar(m_cs, i, cnt);
      if (!bar.present) continue;
      uint64_t base = bar.base, size = bar.size;
      if (m_d.bars) base = (*m_d.bars)[i].base, size = (*m_d.bars)[i].size;
      m_flags[i] = bar.io ? kBarIo : ((bar.is_64bit ? kBarMemType64 : 0) | (bar.prefetchable ? kBarPrefetch : 0));
      m_base[i] = base | (raw & (bar.io ? 0x3u : 0xfu));
      m_size[i] = size;
      if (bar.is_64bit) ++i;
    }
  }

  // --- first line and the header block ---

  void show_slot() {
    if (m_domains) put(m_out, "%04x:", m_d.domain);
    put(m_out, "%02x:%02x.%d", m_d.bus, m_d.dev, static_cast<int>(m_d.fn));
  }

  void subsystem_ids(uint16_t& sv, uint16_t& sd) const {
    sv = sd = 0;
    if (m_htype == kHeaderTypeNormal) {
      sv = w(cfg::kSubsysVendor), sd = w(cfg::kSubsysId);
    } else if (m_htype == kHeaderTypeBridge) {
      if (const uint16_t ss = m_cs.find_capability(kCapIdSsvid)) sv = w(ss + 4u), sd = w(ss + 6u);
    }
  }

  void show_terse() {
    show_slot();
    const uint16_t cls = w(cfg::kClassProgIf + 1);
    put(m_out, " %s: %s", m_names.cls(cls).c_str(), m_names.device(w(cfg::kVendorId), w(cfg::kDeviceId)).c_str());
    if (const uint8_t rev = b(cfg::kRevision)) put(m_out, " (rev %02x)", rev);
    if (m_v) {
      const uint8_t pif = b(cfg::kClassProgIf);
      std::string buf;
      const char* name = m_names.progif(cls, pif, buf);
      if (pif || name) {
        put(m_out, " (prog-if %02x", pif);
        if (name) put(m_out, " [%s]", name);
        m_out += ')';
      }
    }
    m_out += '\n';
    if (m_v) {
      uint16_t sv, sd;
      subsystem_ids(sv, sd);
      if (sv && sv != 0xffff)
        put(m_out, "\tSubsystem: %s\n", m_names.subsystem(w(cfg::kVendorId), w(cfg::kDeviceId), sv, sd).c_str());
    }
  }

  int irq() const { return m_d.irq >= 0 ? m_d.irq : b(cfg::kIntLine); }

  void show_verbose() {
    show_terse();
    const uint16_t cls = w(cfg::kClassProgIf + 1);
    uint8_t min_gnt = 0, max_lat = 0;
    if (m_htype == kHeaderTypeNormal) {
      if (cls == 0x0604) put(m_out, "\t!!! Invalid class %04x for header type %02x\n", cls, m_htype);
      min_gnt = b(0x3e), max_lat = b(0x3f);
    } else if (m_htype == kHeaderTypeBridge || m_htype == kHeaderTypeCardbus) {
      if ((cls >> 8) != 0x06) put(m_out, "\t!!! Invalid class %04x for header type %02x\n", cls, m_htype);
    } else {
      put(m_out, "\t!!! Unknown header type %02x\n", m_htype);
      return;
    }
    if (!m_d.physical_slot.empty()) put(m_out, "\tPhysical Slot: %s\n", m_d.physical_slot.c_str());
    const uint16_t cmd = w(cfg::kCommand), status = w(cfg::kStatus);
    if (m_v > 1) {
      put(m_out,
          "\tControl: I/O%c Mem%c BusMaster%c SpecCycle%c MemWINV%c VGASnoop%c ParErr%c Stepping%c SERR%c "
          "FastB2B%c DisINTx%c\n",
          flag(cmd, kCmdIo), flag(cmd, kCmdMemory), flag(cmd, kCmdBusMaster), flag(cmd, kCmdSpecialCycles),
          flag(cmd, kCmdMwi), flag(cmd, kCmdVgaSnoop), flag(cmd, kCmdParity), flag(cmd, kCmdStepping),
          flag(cmd, kCmdSerr), flag(cmd, kCmdFastB2b), flag(cmd, kCmdIntxDisable));
      put(m_out,
          "\tStatus: Cap%c 66MHz%c UDF%c FastB2B%c ParErr%c DEVSEL=%s >TAbort%c <TAbort%c <MAbort%c >SERR%c "
          "<PERR%c INTx%c\n",
          flag(status, kStatusCapList), flag(status, kStatus66Mhz), flag(status, kStatusUdf),
          flag(status, kStatusFastB2b), flag(status, kStatusMasterParity), devsel(status),
          flag(status, kStatusSigTargetAbort), flag(status, kStatusRecTargetAbort),
          flag(status, kStatusRecMasterAbort), flag(status, kStatusSigSystemError),
          flag(status, kStatusDetectedParity), flag(status, kStatusIntx));
      if (cmd & kCmdBusMaster) {
        put(m_out, "\tLatency: %d", b(cfg::kLatency));
        if (min_gnt || max_lat) {
          out(" (");
          if (min_gnt) put(m_out, "%dns min", min_gnt * 250);
          if (min_gnt && max_lat) out(", ");
          if (max_lat) put(m_out, "%dns max", max_lat * 250);
          m_out += ')';
        }
        if (const uint8_t cl = b(cfg::kCacheLine)) put(m_out, ", Cache Line Size: %d bytes", cl * 4);
        m_out += '\n';
      }
      const uint8_t pin = b(cfg::kIntPin);
      if (pin || irq()) put(m_out, "\tInterrupt: pin %c routed to IRQ %d\n", pin ? 'A' + pin - 1 : '?', irq());
      if (m_d.numa_node != -1) put(m_out, "\tNUMA node: %d\n", m_d.numa_node);
      if (!m_d.iommu_group.empty()) put(m_out, "\tIOMMU group: %s\n", m_d.iommu_group.c_str());
    } else {
      out("\tFlags: ");
      if (cmd & kCmdBusMaster) out("bus master, ");
      if (cmd & kCmdVgaSnoop) out("VGA palette snoop, ");
      if (cmd & kCmdStepping) out("stepping, ");
      if (cmd & kCmdFastB2b) out("fast Back2Back, ");
      if (status & kStatus66Mhz) out("66MHz, ");
      if (status & kStatusUdf) out("user-definable features, ");
      put(m_out, "%s devsel", devsel(status));
      if (cmd & kCmdBusMaster) put(m_out, ", latency %d", b(cfg::kLatency));
      if (irq()) put(m_out, ", IRQ %d", irq());
      if (m_d.numa_node != -1) put(m_out, ", NUMA node %d", m_d.numa_node);
      if (!m_d.iommu_group.empty()) put(m_out, ", IOMMU group %s", m_d.iommu_group.c_str());
      m_out += '\n';
    }
    const uint8_t bist = b(cfg::kBist);
    if (bist & kBistCapable) {
      if (bist & kBistStart) out("\tBIST is running\n");
      else put(m_out, "\tBIST result: %02x\n", bist & kBistCodeMask);
    }
    if (m_htype == kHeaderTypeNormal) {
      show_bases(6);
      show_rom(cfg::kRomBase);
      show_caps();
    } else if (m_htype == kHeaderTypeBridge) {
      show_htype1();
    } else {
      show_bases(1);  // CardBus: not modelled beyond its BAR
    }
  }

  void show_bases(unsigned cnt) {
    const uint16_t cmd = w(cfg::kCommand);
    for (unsigned i = 0; i < cnt; ++i) {
      const uint64_t pos = m_base[i];
      const uint64_t len = m_sysfs ? m_size[i] : 0;
      uint32_t flg = m_sysfs ? m_flags[i] : l(cfg::kBar0 + 4 * i);
      uint32_t hw_lower = 0;
      bool broken = false, virt = false;
      if (flg == 0xffffffffu) flg = 0;
      if (!pos && !flg && !len) continue;
      if (m_v > 1) put(m_out, "\tRegion %u: ", i);
      else m_out += '\t';
      if (m_sysfs) {  // detect regions the OS reports but the device does not decode
        hw_lower = l(cfg::kBar0 + 4 * i);
        if ((hw_lower & kBarIo) == (flg & kBarIo)) {
          uint32_t hw_upper = 0;
          if (!(flg & kBarIo) && (hw_lower & kBarMemTypeMask) == kBarMemType64) {
            if (i + 1 >= cnt) broken = true;
            else hw_upper = l(cfg::kBar0 + 4 * (i + 1));
          }
          if (pos && !hw_lower && !hw_upper) virt = true;
        }
      }
      if (flg & kBarIo) {
        const uint64_t a = pos & ~uint64_t{3};
        out("I/O ports at ");
        if (a || (cmd & kCmdIo)) put(m_out, "%04lx", static_cast<unsigned long>(a));
        else out(hw_lower ? "<ignored>" : "<unassigned>");
        if (virt) out(" [virtual]");
        else if (!(cmd & kCmdIo)) out(" [disabled]");
      } else {
        const uint32_t t = flg & kBarMemTypeMask;
        const uint64_t a = pos & ~uint64_t{0xf};
        out("Memory at ");
        if (broken) out("<broken-64-bit-slot>");
        else if (a) put(m_out, "%08lx", static_cast<unsigned long>(a));
        else out(hw_lower ? "<ignored>" : "<unassigned>");
        put(m_out, " (%s, %sprefetchable)",
            t == 0 ? "32-bit" : t == kBarMemType64 ? "64-bit" : t == kBarMemType1M ? "low-1M" : "type 3",
            (flg & kBarPrefetch) ? "" : "non-");
        if (virt) out(" [virtual]");
        else if (!(cmd & kCmdMemory)) out(" [disabled]");
      }
      put_size(m_out, len);
      m_out += '\n';
    }
  }

  void show_rom(uint16_t reg) {
    const uint32_t flg0 = l(reg);
    uint64_t rom = flg0, len = 0;
    if (m_sysfs) {
      const BarDecode r = read_rom(m_cs);
      rom = r.present ? r.base : 0;
      len = r.present ? r.size : 0;
      if (m_d.rom) rom = m_d.rom->base, len = m_d.rom->size;
    }
    uint32_t flg = flg0;
    bool virt = false;
    if (!rom && !flg && !len) return;
    if ((rom & kRomAddrMask) && !(flg & kRomAddrMask)) {
      flg = static_cast<uint32_t>(rom);
      virt = true;
    }
    out("\tExpansion ROM at ");
    if (rom & kRomAddrMask) put(m_out, "%08lx", static_cast<unsigned long>(rom & kRomAddrMask));
    else out((flg & kRomAddrMask) ? "<ignored>" : "<unassigned>");
    if (virt) out(" [virtual]");
    if (!(flg & kRomEnable)) out(" [disabled]");
    else if (!virt && !(w(cfg::kCommand) & kCmdMemory)) out(" [disabled by cmd]");
    put_size(m_out, len);
    m_out += '\n';
  }

  void show_range(const char* prefix, uint64_t base, uint64_t limit, int bits) {
    put(m_out, "%s:", prefix);
    if (base <= limit || m_v > 2)
      put(m_out, " %0*lx-%0*lx", (bits + 3) / 4, static_cast<unsigned long>(base), (bits + 3) / 4,
          static_cast<unsigned long>(limit));
    if (base <= limit) put_size(m_out, limit - base + 1);
    else out(" [disabled]");
    if (bits) put(m_out, " [%d-bit]", bits);
    m_out += '\n';
  }

  void show_htype1() {
    show_bases(2);
    put(m_out, "\tBus: primary=%02x, secondary=%02x, subordinate=%02x, sec-latency=%d\n", b(cfg::kPrimaryBus),
        b(cfg::kSecondaryBus), b(cfg::kSubordinateBus), b(cfg::kSecLatency));
    const uint32_t io_base = b(cfg::kIoBase), io_limit = b(cfg::kIoLimit), io_type = io_base & kIoRangeTypeMask;
    if (io_type != (io_limit & kIoRangeTypeMask) || io_type > kIoRangeType32) {
      put(m_out, "\t!!! Unknown I/O range types %x/%x\n", io_base, io_limit);
    } else {
      uint64_t base = (io_base & kIoRangeMask) << 8, limit = (io_limit & kIoRangeMask) << 8;
      if (io_type == kIoRangeType32) {
        base |= uint64_t{w(cfg::kIoBaseUpper)} << 16;
        limit |= uint64_t{w(cfg::kIoLimitUpper)} << 16;
      }
      show_range("\tI/O behind bridge", base, limit + 0xfff, io_type == kIoRangeType32 ? 32 : 16);
    }
    const uint32_t mem_base = w(cfg::kMemBase), mem_limit = w(cfg::kMemLimit);
    if ((mem_base & kMemRangeTypeMask) != (mem_limit & kMemRangeTypeMask) || (mem_base & kMemRangeTypeMask)) {
      put(m_out, "\t!!! Unknown memory range types %x/%x\n", mem_base, mem_limit);
    } else {
      show_range("\tMemory behind bridge", uint64_t{mem_base & kMemRangeMask} << 16,
                 (uint64_t{mem_limit & kMemRangeMask} << 16) + 0xfffff, 32);
    }
    const uint32_t pref_base = w(cfg::kPrefBase), pref_limit = w(cfg::kPrefLimit);
    const uint32_t pref_type = pref_base & kMemRangeTypeMask;
    if (pref_type != (pref_limit & kMemRangeTypeMask) || pref_type > kPrefRangeType64) {
      put(m_out, "\t!!! Unknown prefetchable memory range types %x/%x\n", pref_base, pref_limit);
    } else {
      uint64_t base = uint64_t{pref_base & kMemRangeMask} << 16, limit = uint64_t{pref_limit & kMemRangeMask} << 16;
      if (pref_type == kPrefRangeType64) {
        base |= uint64_t{l(cfg::kPrefBaseUpper)} << 32;
        limit |= uint64_t{l(cfg::kPrefLimitUpper)} << 32;
      }
      show_range("\tPrefetchable memory behind bridge", base, limit + 0xfffff,
                 pref_type == kPrefRangeType64 ? 64 : 32);
    }
    const uint16_t sec = w(cfg::kSecStatus), brc = w(cfg::kBridgeControl);
    if (m_v > 1)
      put(m_out,
          "\tSecondary status: 66MHz%c FastB2B%c ParErr%c DEVSEL=%s >TAbort%c <TAbort%c <MAbort%c <SERR%c "
          "<PERR%c\n",
          flag(sec, kStatus66Mhz), flag(sec, kStatusFastB2b), flag(sec, kStatusMasterParity), devsel(sec),
          flag(sec, kStatusSigTargetAbort), flag(sec, kStatusRecTargetAbort), flag(sec, kStatusRecMasterAbort),
          flag(sec, kStatusSigSystemError), flag(sec, kStatusDetectedParity));
    show_rom(cfg::kBridgeRom);
    if (m_v > 1) {
      put(m_out, "\tBridgeCtl: Parity%c SERR%c NoISA%c VGA%c VGA16%c MAbort%c >Reset%c FastB2B%c\n",
          flag(brc, kBctlParity), flag(brc, kBctlSerr), flag(brc, kBctlIsa), flag(brc, kBctlVga),
          flag(brc, kBctlVga16), flag(brc, kBctlMasterAbort), flag(brc, kBctlSecondaryBusReset),
          flag(brc, kBctlFastB2b));
      put(m_out, "\t\tPriDiscTmr%c SecDiscTmr%c DiscTmrStat%c DiscTmrSERREn%c\n", flag(brc, kBctlPriDiscardTimer),
          flag(brc, kBctlSecDiscardTimer), flag(brc, kBctlDiscardTimerStatus), flag(brc, kBctlDiscardTimerSerr));
    }
    show_caps();
  }

  // --- classic capabilities ---

  void show_caps() {
    bool ext = false;
    int type = -1;
    if (w(cfg::kStatus) & kStatusCapList) {
      std::array<bool, 256> seen{};
      unsigned where = b(cfg::kCapPtr) & ~3u;
      while (where) {
        out("\tCapabilities: ");
        const uint8_t id = b(where);
        const unsigned next = b(where + 1) & ~3u;
        const uint16_t cap = w(where + 2);
        put(m_out, "[%02x] ", where);
        if (seen[where]) {
          out("<chain looped>\n");
          break;
        }
        seen[where] = true;
        if (id == 0xff) {
          out("<chain broken>\n");
          break;
        }
        switch (id) {
          case 0x00: out("Null\n"); break;
          case kCapIdPm: cap_pm(where, cap); break;
          case kCapIdMsi: cap_msi(where, cap); break;
          case kCapIdVendor: put(m_out, "Vendor Specific Information: Len=%02x <?>\n", cap & 0xff); break;
          case kCapIdSsvid: {
            uint16_t sv, sd;
            sv = w(where + 4), sd = w(where + 6);
            put(m_out, "Subsystem: %s\n", m_names.subsystem(w(cfg::kVendorId), w(cfg::kDeviceId), sv, sd).c_str());
            break;
          }
          case kCapIdExp:
            type = cap_express(where, cap);
            ext = true;
            break;
          case kCapIdMsix: cap_msix(where, cap); break;
          case kCapIdAf: cap_af(where); break;
          default: put(m_out, "Capability ID %#02x [%04x]\n", id, cap);
        }
        where = next;
      }
    }
    if (ext) show_ext_caps(type);
  }

  void cap_pm(unsigned where, uint16_t cap) {
    static const int aux[8] = {0, 55, 100, 160, 220, 270, 320, 375};
    put(m_out, "Power Management version %d\n", cap & kPmcVersionMask);
    if (m_v < 2) return;
    put(m_out, "\t\tFlags: PMEClk%c DSI%c D1%c D2%c AuxCurrent=%dmA PME(D0%c,D1%c,D2%c,D3hot%c,D3cold%c)\n",
        flag(cap, kPmcPmeClock), flag(cap, kPmcDsi), flag(cap, kPmcD1), flag(cap, kPmcD2),
        aux[(cap & kPmcAuxCurrentMask) >> 6], flag(cap, kPmcPmeD0), flag(cap, kPmcPmeD1), flag(cap, kPmcPmeD2),
        flag(cap, kPmcPmeD3Hot), flag(cap, kPmcPmeD3Cold));
    const uint16_t t = w(where + kPmCsr);
    put(m_out, "\t\tStatus: D%d NoSoftRst%c PME-Enable%c DSel=%d DScale=%d PME%c\n", t & kPmCsrStateMask,
        flag(t, kPmCsrNoSoftReset), flag(t, kPmCsrPmeEnable), (t & kPmCsrDataSelMask) >> 9,
        (t & kPmCsrDataScaleMask) >> 13, flag(t, kPmCsrPmeStatus));
    if (const uint8_t bse = b(where + kPmBridgeExt))
      put(m_out, "\t\tBridge: PM%c B3%c\n", flag(bse, kPmBseBpccEnable),
          flag(static_cast<uint8_t>(~bse), kPmBseB2B3));
  }

  void cap_msi(unsigned where, uint16_t cap) {
    put(m_out, "MSI: Enable%c Count=%d/%d Maskable%c 64bit%c\n", flag(cap, kMsiFlagsEnable),
        1 << ((cap & kMsiFlagsQsize) >> 4), 1 << ((cap & kMsiFlagsQmask) >> 1), flag(cap, kMsiFlagsMaskable),
        flag(cap, kMsiFlags64Bit));
    if (m_v < 2) return;
    const bool is64 = cap & kMsiFlags64Bit;
    out("\t\tAddress: ");
    if (is64) put(m_out, "%08x", l(where + kMsiAddrHi));
    put(m_out, "%08x  Data: %04x\n", l(where + kMsiAddrLo), w(where + (is64 ? kMsiData64 : kMsiData32)));
    if (cap & kMsiFlagsMaskable)
      put(m_out, "\t\tMasking: %08x  Pending: %08x\n", l(where + (is64 ? kMsiMask64 : kMsiMask32)),
          l(where + (is64 ? kMsiPending64 : kMsiPending32)));
  }

  void cap_msix(unsigned where, uint16_t cap) {
    put(m_out, "MSI-X: Enable%c Count=%d Masked%c\n", flag(cap, kMsixEnable), (cap & kMsixTableSizeMask) + 1,
        flag(cap, kMsixMaskAll));
    if (m_v < 2) return;
    uint32_t off = l(where + kMsixTable);
    put(m_out, "\t\tVector table: BAR=%d offset=%08x\n", off & kMsixBirMask, off & ~kMsixBirMask);
    off = l(where + kMsixPba);
    put(m_out, "\t\tPBA: BAR=%d offset=%08x\n", off & kMsixBirMask, off & ~kMsixBirMask);
  }

  void cap_af(unsigned where) {
    out("PCI Advanced Features\n");
    if (m_v < 2) return;
    put(m_out, "\t\tAFCap: TP%c FLR%c\n", flag(b(where + 3), 1), flag(b(where + 3), 2));
    put(m_out, "\t\tAFCtrl: FLR%c\n", flag(b(where + 4), 1));
    put(m_out, "\t\tAFStatus: TP%c\n", flag(b(where + 5), 1));
  }

  // --- PCI Express capability ---

  static const char* link_speed(unsigned s) {
    static const char* const names[] = {"unknown", "2.5GT/s", "5GT/s", "8GT/s", "16GT/s", "32GT/s", "64GT/s"};
    return s < 7 ? names[s] : "unknown";
  }
  static const char* latency_l0s(unsigned v) {
    static const char* const n[] = {"<64ns", "<128ns", "<256ns", "<512ns", "<1us", "<2us", "<4us", "unlimited"};
    return n[v & 7];
  }
  static const char* latency_l1(unsigned v) {
    static const char* const n[] = {"<1us", "<2us", "<4us", "<8us", "<16us", "<32us", "<64us", "unlimited"};
    return n[v & 7];
  }
  void power_limit(unsigned value, unsigned scale) {
    static const float scales[4] = {1.0f, 0.1f, 0.01f, 0.001f};
    if (scale == 0 && value == 0xff) {
      out(">600W");
      return;
    }
    if (scale == 0 && value >= 0xf0 && value <= 0xfe) value = 250 + 25 * (value - 0xf0);
    put(m_out, "%gW", static_cast<double>(static_cast<float>(value) * scales[scale & 3]));
  }

  int cap_express(unsigned where, uint16_t cap) {
    const auto type = static_cast<PortType>((cap & kExpFlagsTypeMask) >> 4);
    bool slot = false, link = true;
    out("Express ");
    if (m_v >= 2) put(m_out, "(v%d) ", cap & kExpFlagsVersionMask);
    switch (type) {
      case PortType::Endpoint: out("Endpoint"); break;
      case PortType::LegacyEndpoint: out("Legacy Endpoint"); break;
      case PortType::RootPort:
        slot = cap & kExpFlagsSlot;
        put(m_out, "Root Port (Slot%c)", flag(cap, kExpFlagsSlot));
        break;
      case PortType::SwitchUpstream: out("Upstream Port"); break;
      case PortType::SwitchDownstream:
        slot = cap & kExpFlagsSlot;
        put(m_out, "Downstream Port (Slot%c)", flag(cap, kExpFlagsSlot));
        break;
      case PortType::PcieToPciBridge: out("PCI-Express to PCI/PCI-X Bridge"); break;
      case PortType::PciToPcieBridge:
        slot = cap & kExpFlagsSlot;
        put(m_out, "PCI/PCI-X to PCI-Express Bridge (Slot%c)", flag(cap, kExpFlagsSlot));
        break;
      case PortType::RcIntegratedEndpoint:
        link = false;
        out("Root Complex Integrated Endpoint");
        break;
      case PortType::RcEventCollector:
        link = false;
        out("Root Complex Event Collector");
        break;
      default: put(m_out, "Unknown type %d", static_cast<int>(type));
    }
    put(m_out, ", MSI %02x\n", (cap & kExpFlagsIrqMask) >> 9);
    if (m_v < 2) return static_cast<int>(type);
    express_dev(where, type);
    if (link) express_link(where, type);
    if (slot) express_slot(where);
    if (type == PortType::RootPort || type == PortType::RcEventCollector) express_root(where);
    if ((cap & kExpFlagsVersionMask) < 2) return static_cast<int>(type);
    express_dev2(where, type);
    if (link) express_link2(where, type);
    return static_cast<int>(type);
  }

  void express_dev(unsigned where, PortType type) {
    const bool ep = type == PortType::Endpoint || type == PortType::LegacyEndpoint;
    const uint32_t t = l(where + kExpDevCap);
    put(m_out, "\t\tDevCap:\tMaxPayload %d bytes, PhantFunc %d", 128 << (t & kDevCapPayloadMask),
        (1 << ((t & kDevCapPhantomMask) >> 3)) - 1);
    if (ep)
      put(m_out, ", Latency L0s %s, L1 %s", latency_l0s((t & kDevCapL0sMask) >> 6),
          latency_l1((t & kDevCapL1Mask) >> 9));
    m_out += '\n';
    put(m_out, "\t\t\tExtTag%c", flag(t, kDevCapExtTag));
    if (ep || type == PortType::SwitchUpstream || type == PortType::PcieToPciBridge)
      put(m_out, " AttnBtn%c AttnInd%c PwrInd%c", flag(t, kDevCapAttnButton), flag(t, kDevCapAttnInd),
          flag(t, kDevCapPwrInd));
    put(m_out, " RBE%c", flag(t, kDevCapRbe));
    const bool flr_type = ep || type == PortType::RcIntegratedEndpoint;
    if (flr_type) put(m_out, " FLReset%c", flag(t, kDevCapFlr));
    if (type == PortType::Endpoint || type == PortType::SwitchUpstream || type == PortType::PcieToPciBridge) {
      out(" SlotPowerLimit ");
      power_limit((t & kDevCapPwrValMask) >> 18, (t & kDevCapPwrScaleMask) >> 26);
    }
    m_out += '\n';
    uint16_t v = w(where + kExpDevCtl);
    put(m_out, "\t\tDevCtl:\tCorrErr%c NonFatalErr%c FatalErr%c UnsupReq%c\n", flag(v, kDevCtlCere),
        flag(v, kDevCtlNfere), flag(v, kDevCtlFere), flag(v, kDevCtlUrre));
    put(m_out, "\t\t\tRlxdOrd%c ExtTag%c PhantFunc%c AuxPwr%c NoSnoop%c", flag(v, kDevCtlRelaxed),
        flag(v, kDevCtlExtTag), flag(v, kDevCtlPhantom), flag(v, kDevCtlAuxPm), flag(v, kDevCtlNoSnoop));
    if (type == PortType::PcieToPciBridge) put(m_out, " BrConfRtry%c", flag(v, kDevCtlBridgeCfgRetry));
    if (flr_type && (t & kDevCapFlr)) put(m_out, " FLReset%c", flag(v, kDevCtlInitiateFlr));
    put(m_out, "\n\t\t\tMaxPayload %d bytes, MaxReadReq %d bytes\n", 128 << ((v & kDevCtlPayloadMask) >> 5),
        128 << ((v & kDevCtlReadRqMask) >> 12));
    v = w(where + kExpDevSta);
    put(m_out, "\t\tDevSta:\tCorrErr%c NonFatalErr%c FatalErr%c UnsupReq%c AuxPwr%c TransPend%c\n",
        flag(v, kDevStaCed), flag(v, kDevStaNfed), flag(v, kDevStaFed), flag(v, kDevStaUrd), flag(v, kDevStaAuxPwr),
        flag(v, kDevStaTransPending));
  }

  static const char* link_compare(PortType type, unsigned sta, unsigned cap) {
    if (sta > cap) return " (overdriven)";
    if (sta == cap || is_downstream_port(type)) return "";
    return " (downgraded)";
  }

  void express_link(unsigned where, PortType type) {
    static const char* const aspm_sup[] = {"not supported", "L0s", "L1", "L0s L1"};
    static const char* const aspm_en[] = {"Disabled", "L0s Enabled", "L1 Enabled", "L0s L1 Enabled"};
    const uint32_t t = l(where + kExpLnkCap);
    const unsigned aspm = (t & kLnkCapAspmMask) >> 10, cap_speed = t & kLnkCapSpeedMask;
    const unsigned cap_width = (t & kLnkCapWidthMask) >> 4;
    put(m_out, "\t\tLnkCap:\tPort #%u, Speed %s, Width x%u, ASPM %s", t >> kLnkCapPortShift, link_speed(cap_speed),
        cap_width, aspm_sup[aspm]);
    if (aspm) {
      out(", Exit Latency ");
      if (aspm & 1) put(m_out, "L0s %s", latency_l0s((t & kLnkCapL0sMask) >> 12));
      if (aspm & 2) put(m_out, "%sL1 %s", (aspm & 1) ? ", " : "", latency_l1((t & kLnkCapL1Mask) >> 15));
    }
    m_out += '\n';
    put(m_out, "\t\t\tClockPM%c Surprise%c LLActRep%c BwNot%c ASPMOptComp%c\n", flag(t, kLnkCapClockPm),
        flag(t, kLnkCapSurprise), flag(t, kLnkCapDllla), flag(t, kLnkCapLbnc), flag(t, kLnkCapAspmOptComp));
    uint16_t v = w(where + kExpLnkCtl);
    put(m_out, "\t\tLnkCtl:\tASPM %s;", aspm_en[v & kLnkCtlAspmMask]);
    if (type == PortType::RootPort || type == PortType::Endpoint || type == PortType::LegacyEndpoint ||
        type == PortType::PcieToPciBridge)
      put(m_out, " RCB %d bytes,", (v & kLnkCtlRcb) ? 128 : 64);
    put(m_out, " Disabled%c CommClk%c\n\t\t\tExtSynch%c ClockPM%c AutWidDis%c BWInt%c AutBWInt%c\n",
        flag(v, kLnkCtlDisable), flag(v, kLnkCtlCommonClock), flag(v, kLnkCtlExtSynch), flag(v, kLnkCtlClockPm),
        flag(v, kLnkCtlHwAutWidthDis), flag(v, kLnkCtlBwMgmtIe), flag(v, kLnkCtlAutBwIe));
    v = w(where + kExpLnkSta);
    const unsigned sta_speed = v & kLnkStaSpeedMask, sta_width = (v & kLnkStaWidthMask) >> 4;
    put(m_out, "\t\tLnkSta:\tSpeed %s%s, Width x%u%s\n", link_speed(sta_speed),
        link_compare(type, sta_speed, cap_speed), sta_width, link_compare(type, sta_width, cap_width));
    put(m_out, "\t\t\tTrErr%c Train%c SlotClk%c DLActive%c BWMgmt%c ABWMgmt%c\n", flag(v, kLnkStaTrainErr),
        flag(v, kLnkStaTraining), flag(v, kLnkStaSlotClock), flag(v, kLnkStaDllActive), flag(v, kLnkStaBwMgmt),
        flag(v, kLnkStaAutBw));
  }

  void express_slot(unsigned where) {
    static const char* const ind[] = {"Unknown", "On", "Blink", "Off"};
    const uint32_t t = l(where + kExpSltCap);
    put(m_out, "\t\tSltCap:\tAttnBtn%c PwrCtrl%c MRL%c AttnInd%c PwrInd%c HotPlug%c Surprise%c\n",
        flag(t, kSltCapAttnButton), flag(t, kSltCapPwrCtrl), flag(t, kSltCapMrl), flag(t, kSltCapAttnInd),
        flag(t, kSltCapPwrInd), flag(t, kSltCapHpCapable), flag(t, kSltCapHpSurprise));
    put(m_out, "\t\t\tSlot #%u, PowerLimit ", t >> kSltCapSlotNumberShift);
    power_limit((t & kSltCapPwrValMask) >> 7, (t & kSltCapPwrScaleMask) >> 15);
    put(m_out, "; Interlock%c NoCompl%c\n", flag(t, kSltCapInterlock), flag(t, kSltCapNoCmdCompl));
    uint16_t v = w(where + kExpSltCtl);
    put(m_out, "\t\tSltCtl:\tEnable: AttnBtn%c PwrFlt%c MRL%c PresDet%c CmdCplt%c HPIrq%c LinkChg%c\n",
        flag(v, kSltCtlAttnButtonIe), flag(v, kSltCtlPwrFaultIe), flag(v, kSltCtlMrlIe), flag(v, kSltCtlPresenceIe),
        flag(v, kSltCtlCmdComplIe), flag(v, kSltCtlHpIe), flag(v, kSltCtlDllStateIe));
    put(m_out, "\t\t\tControl: AttnInd %s, PwrInd %s, Power%c Interlock%c\n", ind[(v & kSltCtlAttnIndMask) >> 6],
        ind[(v & kSltCtlPwrIndMask) >> 8], flag(v, kSltCtlPwrCtrl), flag(v, kSltCtlInterlock));
    v = w(where + kExpSltSta);
    put(m_out, "\t\tSltSta:\tStatus: AttnBtn%c PowerFlt%c MRL%c CmdCplt%c PresDet%c Interlock%c\n",
        flag(v, kSltStaAttnButton), flag(v, kSltStaPwrFault), flag(v, kSltStaMrlState), flag(v, kSltStaCmdCompl),
        flag(v, kSltStaPresence), flag(v, kSltStaInterlock));
    put(m_out, "\t\t\tChanged: MRL%c PresDet%c LinkState%c\n", flag(v, kSltStaMrlChanged),
        flag(v, kSltStaPresenceChanged), flag(v, kSltStaDllStateChanged));
  }

  void express_root(unsigned where) {
    uint32_t v = w(where + kExpRtCap);
    put(m_out, "\t\tRootCap: CRSVisible%c\n", flag(v, kRtCapCrsVisible));
    v = w(where + kExpRtCtl);
    put(m_out, "\t\tRootCtl: ErrCorrectable%c ErrNon-Fatal%c ErrFatal%c PMEIntEna%c CRSVisible%c\n",
        flag(v, kRtCtlSecee), flag(v, kRtCtlSenfee), flag(v, kRtCtlSefee), flag(v, kRtCtlPmeIe),
        flag(v, kRtCtlCrsVisible));
    v = l(where + kExpRtSta);
    put(m_out, "\t\tRootSta: PME ReqID %04x, PMEStatus%c PMEPending%c\n", v & kRtStaPmeReqIdMask,
        flag(v, kRtStaPmeStatus), flag(v, kRtStaPmePending));
  }

  bool has_memory_bar() const {
    for (unsigned i = 0; i < 6; ++i)
      if ((m_base[i] || (m_sysfs && m_size[i])) && !(m_base[i] & kBarIo)) return true;
    return false;
  }

  void express_dev2(unsigned where, PortType type) {
    static const char* const obff_cap[] = {"Not Supported", "Via message", "Via WAKE#", "Via message/WAKE#"};
    static const char* const obff_ctl[] = {"Disabled", "Via message A", "Via message B", "Via WAKE#"};
    static const char* const epr[] = {"Not Supported", "Dev Specific", "Form Factor Dev Specific", "Reserved"};
    static const char* const lncls[] = {"Not Supported", "64byte cachelines", "128byte cachelines", "Reserved"};
    static const char* const tph[] = {"TPHComp- ExtTPHComp-", "TPHComp+ ExtTPHComp-", "", "TPHComp+ ExtTPHComp+"};
    const bool root = type == PortType::RootPort, usp = type == PortType::SwitchUpstream;
    const bool dsp = type == PortType::SwitchDownstream, ep = type == PortType::Endpoint;
    const bool mem_bar = has_memory_bar();
    const uint32_t t = l(where + kExpDevCap2);
    put(m_out, "\t\tDevCap2: Completion Timeout: %s, TimeoutDis%c NROPrPrP%c LTR%c", timeout_range(t & 0xf),
        flag(t, kDevCap2TimeoutDisable), flag(t, kDevCap2NroPrPrP), flag(t, kDevCap2Ltr));
    put(m_out, "\n\t\t\t 10BitTagComp%c 10BitTagReq%c OBFF %s, ExtFmt%c EETLPPrefix%c", flag(t, kDevCap2Tag10Comp),
        flag(t, kDevCap2Tag10Req), obff_cap[(t & kDevCap2ObffMask) >> 18], flag(t, kDevCap2ExtFmt),
        flag(t, kDevCap2EeTlpPrefix));
    if (t & kDevCap2EeTlpPrefix) {
      const unsigned mee = (t & kDevCap2MaxEeTlpMask) >> 22;
      put(m_out, ", MaxEETLPPrefixes %u", mee ? mee : 4);
    }
    put(m_out, "\n\t\t\t EmergencyPowerReduction %s, EmergencyPowerReductionInit%c", epr[(t & kDevCap2EprMask) >> 24],
        flag(t, kDevCap2EprInit));
    put(m_out, "\n\t\t\t FRS%c", flag(t, kDevCap2Frs));
    if (root) put(m_out, " LN System CLS %s,", lncls[(t & kDevCap2LnClsMask) >> 14]);
    if (root || ep) put(m_out, " %s", tph[(t & kDevCap2TphCompMask) >> 12]);
    if (root || dsp) put(m_out, " ARIFwd%c\n", flag(t, kDevCap2Ari));
    else m_out += '\n';
    if (root || usp || dsp || mem_bar) {
      out("\t\t\t AtomicOpsCap:");
      if (root || usp || dsp) put(m_out, " Routing%c", flag(t, kDevCap2AtomicRouting));
      if (root || mem_bar)
        put(m_out, " 32bit%c 64bit%c 128bitCAS%c", flag(t, kDevCap2Atomic32), flag(t, kDevCap2Atomic64),
            flag(t, kDevCap2Cas128));
      m_out += '\n';
    }
    const uint16_t v = w(where + kExpDevCtl2);
    put(m_out, "\t\tDevCtl2: Completion Timeout: %s, TimeoutDis%c LTR%c 10BitTagReq%c OBFF %s,",
        timeout_value(v & kDevCtl2TimeoutValueMask), flag(v, kDevCtl2TimeoutDisable), flag(v, kDevCtl2Ltr),
        flag(v, kDevCtl2Tag10Req), obff_ctl[(v & kDevCtl2ObffMask) >> 13]);
    if (root || dsp) put(m_out, " ARIFwd%c\n", flag(v, kDevCtl2Ari));
    else m_out += '\n';
    const bool req = root || ep || type == PortType::RcIntegratedEndpoint || type == PortType::LegacyEndpoint;
    if (root || usp || dsp || req) {
      out("\t\t\t AtomicOpsCtl:");
      if (req) put(m_out, " ReqEn%c", flag(v, kDevCtl2AtomicReq));
      if (root || usp || dsp) put(m_out, " EgressBlck%c", flag(v, kDevCtl2AtomicEgressBlock));
      m_out += '\n';
    }
  }

  static const char* timeout_range(unsigned v) {
    switch (v) {
      case 0: return "Not Supported";
      case 1: return "Range A";
      case 2: return "Range B";
      case 3: return "Range AB";
      case 6: return "Range BC";
      case 7: return "Range ABC";
      case 14: return "Range BCD";
      case 15: return "Range ABCD";
      default: return "Unknown";
    }
  }
  static const char* timeout_value(unsigned v) {
    switch (v) {
      case 0: return "50us to 50ms";
      case 1: return "50us to 100us";
      case 2: return "1ms to 10ms";
      case 5: return "16ms to 55ms";
      case 6: return "65ms to 210ms";
      case 9: return "260ms to 900ms";
      case 10: return "1s to 3.5s";
      case 13: return "4s to 13s";
      case 14: return "17s to 64s";
      default: return "Unknown";
    }
  }

  void express_link2(unsigned where, PortType type) {
    static const char* const deemph[] = {"-6dB", "-3.5dB"};
    static const char* const crosslink[] = {"unsupported", "Upstream Port", "Downstream Port", "incomplete"};
    uint32_t cap2 = 0;
    const bool ep = type == PortType::Endpoint || type == PortType::LegacyEndpoint;
    if (!(ep && (m_d.dev != 0 || m_d.fn != 0))) {  // LNKCAP2/LNKCTL2 are function 0's
      cap2 = l(where + kExpLnkCap2);
      if (cap2)
        put(m_out, "\t\tLnkCap2: Supported Link Speeds: %s, Crosslink%c Retimer%c 2Retimers%c DRS%c\n",
            speed_vector((cap2 & kLnkCap2SpeedsMask) >> 1), flag(cap2, kLnkCap2Crosslink),
            flag(cap2, kLnkCap2Retimer),
            flag(cap2, kLnkCap2TwoRetimers), flag(cap2, kLnkCap2Drs));
      const uint16_t v = w(where + kExpLnkCtl2);
      const unsigned target = v & kLnkCtl2TargetSpeedMask;
      put(m_out, "\t\tLnkCtl2: Target Link Speed: %s, EnterCompliance%c SpeedDis%c",
          target_speed(target), flag(v, kLnkCtl2EnterCompliance),
          flag(v, kLnkCtl2SpeedDisable));
      if (type == PortType::SwitchDownstream)
        put(m_out, ", Selectable De-emphasis: %s", deemph[(v & kLnkCtl2SelDeemphasis) ? 1 : 0]);
      put(m_out,
          "\n\t\t\t Transmit Margin: %s, EnterModifiedCompliance%c ComplianceSOS%c\n"
          "\t\t\t Compliance Preset/De-emphasis: %s\n",
          transmit_margin((v & kLnkCtl2MarginMask) >> 7), flag(v, kLnkCtl2ModCompliance),
          flag(v, kLnkCtl2ComplianceSos), compliance_preset((v & kLnkCtl2CompliancePresetMask) >> 12));
    }
    const uint16_t v = w(where + kExpLnkSta2);
    put(m_out,
        "\t\tLnkSta2: Current De-emphasis Level: %s, EqualizationComplete%c EqualizationPhase1%c\n"
        "\t\t\t EqualizationPhase2%c EqualizationPhase3%c LinkEqualizationRequest%c\n"
        "\t\t\t Retimer%c 2Retimers%c CrosslinkRes: %s",
        deemph[v & kLnkSta2Deemphasis], flag(v, kLnkSta2EqComplete), flag(v, kLnkSta2EqPhase1),
        flag(v, kLnkSta2EqPhase2), flag(v, kLnkSta2EqPhase3), flag(v, kLnkSta2EqRequest), flag(v, kLnkSta2Retimer),
        flag(v, kLnkSta2TwoRetimers), crosslink[(v & kLnkSta2CrosslinkMask) >> 8]);
    if (is_downstream_port(type) && (cap2 & kLnkCap2Drs)) {
      static const char* const comp[] = {"Link Down - Not Determined", "Link Down - Not Present",
                                         "Link Down - Present", "Reserved", "Link Up - Present",
                                         "Link Up - Present and DRS Received", "Reserved", "Reserved"};
      put(m_out, ", DRS%c\n\t\t\t DownstreamComp: %s\n", flag(v, kLnkSta2DrsReceived),
          comp[(v & kLnkSta2ComponentMask) >> 12]);
    } else {
      m_out += '\n';
    }
  }

  static const char* target_speed(unsigned s) {  // 0 (hardwired) also means 2.5 GT/s only
    return s <= 1 ? "2.5GT/s" : s <= 6 ? link_speed(s) : "Unknown";
  }
  static const char* speed_vector(uint32_t v) {  // LNKCAP2 bits 7:1 shifted down
    if (v & 0x60) return "RsvdP";
    if (v & 0x10) return "2.5-32GT/s";
    if (v & 0x08) return "2.5-16GT/s";
    if (v & 0x04) return "2.5-8GT/s";
    if (v & 0x02) return "2.5-5GT/s";
    if (v & 0x01) return "2.5GT/s";
    return "Unknown";
  }
  static const char* transmit_margin(unsigned v) {
    if (v == 0) return "Normal Operating Range";
    if (v == 1) return "800-1200mV(full-swing)/400-700mV(half-swing)";
    if (v <= 5) return "200-400mV(full-swing)/100-200mV(half-swing)";
    return "Unknown";
  }
  static const char* compliance_preset(unsigned v) {
    static const char* const n[] = {"-6dB de-emphasis, 0dB preshoot",    "-3.5dB de-emphasis, 0dB preshoot",
                                    "-4.4dB de-emphasis, 0dB preshoot",  "-2.5dB de-emphasis, 0dB preshoot",
                                    "0dB de-emphasis, 0dB preshoot",     "0dB de-emphasis, 1.9dB preshoot",
                                    "0dB de-emphasis, 2.5dB preshoot",   "-6.0dB de-emphasis, 3.5dB preshoot",
                                    "-3.5dB de-emphasis, 3.5dB preshoot", "0dB de-emphasis, 3.5dB preshoot"};
    return v < 10 ? n[v] : "Unknown";
  }

  // --- extended capabilities ---

  void show_ext_caps(int type) {
    if (!m_cs.extended()) return;
    std::vector<bool> seen(0x1000);
    unsigned where = cfg::kExtCapStart;
    do {
      const uint32_t header = l(where);
      if (!header || header == 0xffffffffu) break;
      const unsigned id = header & 0xffff;
      put(m_out, "\tCapabilities: [%03x", where);
      if (m_v > 1) put(m_out, " v%u", (header >> 16) & 0xf);
      out("] ");
      if (seen[where]) {
        out("<chain looped>\n");
        break;
      }
      seen[where] = true;
      switch (id) {
        case 0x0000: out("Null\n"); break;
        case kExtCapIdAer: cap_aer(where, type); break;
        case kExtCapIdDsn: {
          const uint32_t t1 = l(where + 4), t2 = l(where + 8);
          put(m_out, "Device Serial Number %02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x\n", t2 >> 24, (t2 >> 16) & 0xff,
              (t2 >> 8) & 0xff, t2 & 0xff, t1 >> 24, (t1 >> 16) & 0xff, (t1 >> 8) & 0xff, t1 & 0xff);
          break;
        }
        case kExtCapIdAcs: cap_acs(where); break;
        case kExtCapIdAri: cap_ari(where); break;
        case kExtCapIdAts: cap_ats(where); break;
        case 0x0013: cap_pri(where); break;
        case 0x001b: cap_pasid(where); break;
        default: put(m_out, "Extended Capability ID %#02x\n", id);
      }
      where = (header >> 20) & ~3u;
    } while (where);
  }

  void aer_unc(const char* name, uint32_t v) {
    put(m_out,
        "\t\t%s:\tDLP%c SDES%c TLP%c FCP%c CmpltTO%c CmpltAbrt%c UnxCmplt%c RxOF%c MalfTLP%c ECRC%c UnsupReq%c "
        "ACSViol%c\n",
        name, flag(v, kAerUncDlp), flag(v, kAerUncSurpriseDown), flag(v, kAerUncPoisonedTlp), flag(v, kAerUncFcp),
        flag(v, kAerUncCompTimeout), flag(v, kAerUncCompAbort), flag(v, kAerUncUnexpComp), flag(v, kAerUncRxOverflow),
        flag(v, kAerUncMalformed), flag(v, kAerUncEcrc), flag(v, kAerUncUnsupported), flag(v, kAerUncAcsViolation));
  }
  void aer_cor(const char* name, uint32_t v) {
    put(m_out, "\t\t%s:\tRxErr%c BadTLP%c BadDLLP%c Rollover%c Timeout%c AdvNonFatalErr%c\n", name,
        flag(v, kAerCorReceiver), flag(v, kAerCorBadTlp), flag(v, kAerCorBadDllp), flag(v, kAerCorReplayRollover),
        flag(v, kAerCorReplayTimer), flag(v, kAerCorAdvisoryNonFatal));
  }

  void cap_aer(unsigned where, int type) {
    out("Advanced Error Reporting\n");
    if (m_v < 2) return;
    aer_unc("UESta", l(where + kAerUncorStatus));
    aer_unc("UEMsk", l(where + kAerUncorMask));
    aer_unc("UESvrt", l(where + kAerUncorSeverity));
    aer_cor("CESta", l(where + kAerCorStatus));
    aer_cor("CEMsk", l(where + kAerCorMask));
    uint32_t v = l(where + kAerCapCtl);
    put(m_out,
        "\t\tAERCap:\tFirst Error Pointer: %02x, ECRCGenCap%c ECRCGenEn%c ECRCChkCap%c ECRCChkEn%c\n"
        "\t\t\tMultHdrRecCap%c MultHdrRecEn%c TLPPfxPres%c HdrLogCap%c\n",
        v & kAerCapFirstErrMask, flag(v, kAerCapEcrcGenCap), flag(v, kAerCapEcrcGenEn), flag(v, kAerCapEcrcChkCap),
        flag(v, kAerCapEcrcChkEn), flag(v, kAerCapMultiHdrCap), flag(v, kAerCapMultiHdrEn),
        flag(v, kAerCapTlpPrefixPresent), flag(v, kAerCapHdrLogCap));
    put(m_out, "\t\tHeaderLog: %08x %08x %08x %08x\n", l(where + kAerHeaderLog), l(where + kAerHeaderLog + 4),
        l(where + kAerHeaderLog + 8), l(where + kAerHeaderLog + 12));
    if (type != static_cast<int>(PortType::RootPort) && type != static_cast<int>(PortType::RcEventCollector)) return;
    v = l(where + kAerRootCommand);
    put(m_out, "\t\tRootCmd: CERptEn%c NFERptEn%c FERptEn%c\n", flag(v, kAerRootCmdCorEn),
        flag(v, kAerRootCmdNonFatalEn), flag(v, kAerRootCmdFatalEn));
    v = l(where + kAerRootStatus);
    put(m_out,
        "\t\tRootSta: CERcvd%c MultCERcvd%c UERcvd%c MultUERcvd%c\n"
        "\t\t\t FirstFatal%c NonFatalMsg%c FatalMsg%c IntMsg %d\n",
        flag(v, kAerRootStaCorRcv), flag(v, kAerRootStaMultiCorRcv), flag(v, kAerRootStaUncorRcv),
        flag(v, kAerRootStaMultiUncorRcv), flag(v, kAerRootStaFirstFatal), flag(v, kAerRootStaNonFatalRcv),
        flag(v, kAerRootStaFatalRcv), static_cast<int>(v >> kAerRootStaMsgNumShift));
    put(m_out, "\t\tErrorSrc: ERR_COR: %04x ", w(where + kAerCorSourceId));
    put(m_out, "ERR_FATAL/NONFATAL: %04x\n", w(where + kAerSourceId));
  }

  void acs_line(const char* name, uint16_t v) {
    put(m_out, "\t\t%s:\tSrcValid%c TransBlk%c ReqRedir%c CmpltRedir%c UpstreamFwd%c EgressCtrl%c DirectTrans%c\n",
        name, flag(v, acs_mask(AcsBit::SV)), flag(v, acs_mask(AcsBit::TB)), flag(v, acs_mask(AcsBit::RR)),
        flag(v, acs_mask(AcsBit::CR)), flag(v, acs_mask(AcsBit::UF)), flag(v, acs_mask(AcsBit::EC)),
        flag(v, acs_mask(AcsBit::DT)));
  }
  void cap_acs(unsigned where) {
    out("Access Control Services\n");
    if (m_v < 2) return;
    acs_line("ACSCap", w(where + kAcsCap));
    acs_line("ACSCtl", w(where + kAcsCtrl));
  }

  void cap_ari(unsigned where) {
    out("Alternative Routing-ID Interpretation (ARI)\n");
    if (m_v < 2) return;
    uint16_t v = w(where + kAriCap);
    put(m_out, "\t\tARICap:\tMFVC%c ACS%c, Next Function: %d\n", flag(v, kAriCapMfvc), flag(v, kAriCapAcs), v >> 8);
    v = w(where + kAriCtrl);
    put(m_out, "\t\tARICtl:\tMFVC%c ACS%c, Function Group: %d\n", flag(v, kAriCtrlMfvc), flag(v, kAriCtrlAcs),
        (v & kAriCtrlFgMask) >> 4);
  }

  void cap_ats(unsigned where) {
    out("Address Translation Service (ATS)\n");
    if (m_v < 2) return;
    uint16_t v = w(where + 4);
    put(m_out, "\t\tATSCap:\tInvalidate Queue Depth: %02x\n", v & 0x1f);
    v = w(where + 6);
    put(m_out, "\t\tATSCtl:\tEnable%c, Smallest Translation Unit: %02x\n", flag(v, 0x8000), v & 0x1f);
  }

  void cap_pri(unsigned where) {
    out("Page Request Interface (PRI)\n");
    if (m_v < 2) return;
    uint16_t v = w(where + 4);
    put(m_out, "\t\tPRICtl: Enable%c Reset%c\n", flag(v, 1), flag(v, 2));
    v = w(where + 6);
    put(m_out, "\t\tPRISta: RF%c UPRGI%c Stopped%c\n", flag(v, 1), flag(v, 2), flag(v, 0x100));
    put(m_out, "\t\tPage Request Capacity: %08x, ", l(where + 8));
    put(m_out, "Page Request Allocation: %08x\n", l(where + 0xc));
  }

  void cap_pasid(unsigned where) {
    out("Process Address Space ID (PASID)\n");
    if (m_v < 2) return;
    uint16_t v = w(where + 4);
    put(m_out, "\t\tPASIDCap: Exec%c Priv%c, Max PASID Width: %02x\n", flag(v, 2), flag(v, 4), (v >> 8) & 0x1f);
    v = w(where + 6);
    put(m_out, "\t\tPASIDCtl: Enable%c Exec%c Priv%c\n", flag(v, 1), flag(v, 2), flag(v, 4));
  }

  // --- -x ---

  void show_hex() {
    unsigned cnt = 64;
    if (m_o.hex >= 3) cnt = 256;
    if (m_o.hex >= 4 && m_cs.extended()) cnt = 4096;
    for (unsigned i = 0; i < cnt; ++i) {
      if (!(i & 15)) put(m_out, "%02x:", i);
      put(m_out, " %02x", b(i));
      if ((i & 15) == 15) m_out += '\n';
    }
  }

  const LspciDevice& m_d;
  const LspciOptions& m_o;
  const ConfigSpace& m_cs;
  std::string& m_out;
  int m_v;
  bool m_domains;
  Names m_names;
  bool m_sysfs = true;
  uint8_t m_htype = 0;
  std::array<uint64_t, 6> m_base{}, m_size{};
  std::array<uint32_t, 6> m_flags{};
};

}  // namespace

std::string format_lspci(const LspciDevice& dev, const LspciOptions& opt) {
  std::string out;
  Lspci(dev, opt, opt.show_domain || dev.domain != 0, out).show();
  return out;
}

std::string format_lspci_all(const std::vector<LspciDevice>& devs, const LspciOptions& opt) {
  std::vector<const LspciDevice*> order;
  bool domains = opt.show_domain;
  for (const LspciDevice& d : devs) {
    order.push_back(&d);
    domains = domains || d.domain != 0;
  }
  std::stable_sort(order.begin(), order.end(), [](const LspciDevice* a, const LspciDevice* b) {
    return std::tie(a->domain, a->bus, a->dev, a->fn) < std::tie(b->domain, b->bus, b->dev, b->fn);
  });
  std::string out;
  for (const LspciDevice* d : order) Lspci(*d, opt, domains, out).show();
  return out;
}

std::string lspci_class_name(uint32_t class_code_24, const LspciOptions& opt) {
  return Names(opt).cls(static_cast<uint16_t>(class_code_24 >> 8));
}

std::string lspci_device_name(uint16_t vendor, uint16_t device, const LspciOptions& opt) {
  return Names(opt).device(vendor, device);
}

}  // namespace pciesim
