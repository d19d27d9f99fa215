#include "pcie/aer.h"

#include <cstdio>
#include <stdexcept>
#include <string>

#include "pcie/endpoint.h"
#include "pcie/function.h"
#include "pcie/pcie_regs.h"

namespace pciesim {

using namespace regs;

namespace {

uint16_t at(uint16_t base, uint16_t rel) { return static_cast<uint16_t>(base + rel); }

void set_bits16(ConfigSpace& cs, uint16_t off, uint16_t bits) { cs.set(off, 2, cs.read16(off) | bits); }

unsigned bit_position(uint32_t bit) {
  unsigned i = 0;
  while (!(bit & 1u)) {
    bit >>= 1;
    ++i;
  }
  return i;
}

// The bits software may clear in a status register are the ones the function implements
// (capabilities.cpp add_aer_cap declares them W1C).
uint32_t implemented(const ConfigSpace& cs, uint16_t off) {
  uint32_t m = 0;
  for (unsigned i = 0; i < 4; ++i) m |= uint32_t{cs.w1c_byte(static_cast<uint16_t>(off + i))} << (8 * i);
  return m;
}

}  // namespace

const char* to_string(ErrorMessage m) {
  switch (m) {
    case ErrorMessage::Cor: return "ERR_COR";
    case ErrorMessage::NonFatal: return "ERR_NONFATAL";
    case ErrorMessage::Fatal: return "ERR_FATAL";
  }
  return "?";
}

std::optional<ErrorMessage> error_message(uint8_t code) {
  switch (code) {
    case static_cast<uint8_t>(ErrorMessage::Cor): return ErrorMessage::Cor;
    case static_cast<uint8_t>(ErrorMessage::NonFatal): return ErrorMessage::NonFatal;
    case static_cast<uint8_t>(ErrorMessage::Fatal): return ErrorMessage::Fatal;
  }
  return std::nullopt;
}

AerDetection aer_detect_error(PciFunction& fn, const AerInjection& inj) {
  ConfigSpace& cs = fn.config();
  const uint16_t aer = cs.find_ext_capability(kExtCapIdAer);
  if (!aer) throw std::invalid_argument(fn.name() + ": no AER capability (set `aer: true` on the function)");
  const uint16_t status_reg = at(aer, inj.correctable ? kAerCorStatus : kAerUncorStatus);
  const uint32_t bit = inj.status_bit;
  if (!bit || (bit & (bit - 1)) || !(implemented(cs, status_reg) & bit))
    throw std::invalid_argument(fn.name() + ": status bit 0x" + [&] {
      char b[16];
      std::snprintf(b, sizeof b, "%x", bit);
      return std::string(b);
    }() + " is not one implemented " + (inj.correctable ? "correctable" : "uncorrectable") + " error bit");

  const uint16_t pcie = fn.pcie_cap();
  const uint16_t devctl = pcie ? cs.read16(at(pcie, kExpDevCtl)) : 0;
  const bool serr = cs.read16(cfg::kCommand) & cfg::kCmdSerr;
  AerDetection d;
  if (inj.correctable) {
    // PCIe 6.2.5 / 7.5.3.5: Device Status logs the error whatever the mask (AER functions too);
    // 7.8.4.5: the status bit is set even when masked; a masked error is not reported.
    if (pcie) set_bits16(cs, at(pcie, kExpDevSta), kDevStaCed);
    cs.set(status_reg, 4, cs.read32(status_reg) | bit);
    d.masked = cs.read32(at(aer, kAerCorMask)) & bit;
    // 6.2.5: ERR_COR only with Correctable Error Reporting Enable (SERR# covers uncorrectable only).
    if (!d.masked && (devctl & kDevCtlCere)) d.message = ErrorMessage::Cor;
    return d;
  }
  d.fatal = cs.read32(at(aer, kAerUncorSeverity)) & bit;  // 7.8.4.4: 1 = fatal
  if (pcie) {
    uint16_t sta = d.fatal ? kDevStaFed : kDevStaNfed;
    if (bit == kAerUncUnsupported) sta |= kDevStaUrd;  // 7.5.3.5 Unsupported Request Detected
    set_bits16(cs, at(pcie, kExpDevSta), sta);
  }
  const uint32_t before = cs.read32(status_reg);
  cs.set(status_reg, 4, before | bit);
  d.masked = cs.read32(at(aer, kAerUncorMask)) & bit;
  if (d.masked) return d;  // 7.8.4.3: not logged in the Header Log / First Error Pointer, not reported
  // 7.8.4.7: the First Error Pointer is valid while the status bit it names is set; the next
  // unmasked error after software cleared that bit becomes the first error (no multiple header
  // recording: kAerCapCtl leaves Multiple Header Recording Capable clear).
  const uint16_t capctl_reg = at(aer, kAerCapCtl);
  const uint32_t capctl = cs.read32(capctl_reg);
  const uint32_t fep_bit = 1u << (capctl & kAerCapFirstErrMask);
  if (!(before & fep_bit)) {
    d.first_error = true;
    cs.set(capctl_reg, 4, (capctl & ~kAerCapFirstErrMask) | bit_position(bit));
    const std::array<uint32_t, 4> hdr = inj.header_log.value_or(std::array<uint32_t, 4>{});
    for (unsigned i = 0; i < 4; ++i) cs.set(at(aer, static_cast<uint16_t>(kAerHeaderLog + 4 * i)), 4, hdr[i]);
  }
  // 6.2.5 Figure 6-2: reported when the Device Control enable of its severity or Command SERR#
  // Enable is set; an Unsupported Request also needs Unsupported Request Reporting Enable (7.5.3.4).
  bool report = serr || (devctl & (d.fatal ? kDevCtlFere : kDevCtlNfere));
  if (bit == kAerUncUnsupported && !(devctl & kDevCtlUrre)) report = false;
  if (report) {
    d.message = d.fatal ? ErrorMessage::Fatal : ErrorMessage::NonFatal;
    // 7.5.1.1.4: Signaled System Error when the function sends ERR_FATAL/ERR_NONFATAL with SERR# set.
    if (serr) set_bits16(cs, cfg::kStatus, kStatusSigSystemError);
  }
  return d;
}

bool aer_port_receives(PciFunction& port, ErrorMessage m) {
  ConfigSpace& cs = port.config();
  // 7.5.1.3.7: Received System Error (bit 14 of Secondary Status) for ERR_FATAL / ERR_NONFATAL.
  if (m != ErrorMessage::Cor) set_bits16(cs, cfg::kSecStatus, kStatusSigSystemError);
  return cs.read16(cfg::kBridgeControl) & kBctlSerr;
}

bool aer_port_transmits(PciFunction& port, ErrorMessage m) {
  if (m == ErrorMessage::Cor) return true;
  ConfigSpace& cs = port.config();
  const bool serr = cs.read16(cfg::kCommand) & cfg::kCmdSerr;
  const uint16_t pcie = port.pcie_cap();
  const uint16_t devctl = pcie ? cs.read16(at(pcie, kExpDevCtl)) : 0;
  if (serr) set_bits16(cs, cfg::kStatus, kStatusSigSystemError);
  return serr || (devctl & (m == ErrorMessage::Fatal ? kDevCtlFere : kDevCtlNfere));
}

bool aer_root_log(PciFunction& rp, ErrorMessage m, RequesterId source) {
  ConfigSpace& cs = rp.config();
  const uint16_t aer = cs.find_ext_capability(kExtCapIdAer);
  if (!aer) return false;  // a root port without AER logs nothing (no Root Error Status)
  const uint16_t sta_reg = at(aer, kAerRootStatus);
  uint32_t sta = cs.read32(sta_reg);
  // PCIe 7.8.4.10: the first message of a class sets "received" and captures its source in Error
  // Source Identification (7.8.4.11); a further one while "received" is set sets "multiple".
  if (m == ErrorMessage::Cor) {
    if (sta & kAerRootStaCorRcv) {
      sta |= kAerRootStaMultiCorRcv;
    } else {
      sta |= kAerRootStaCorRcv;
      cs.set(at(aer, kAerCorSourceId), 2, source.raw());
    }
  } else {
    if (sta & kAerRootStaUncorRcv) {
      sta |= kAerRootStaMultiUncorRcv;
    } else {
      sta |= kAerRootStaUncorRcv;
      if (m == ErrorMessage::Fatal) sta |= kAerRootStaFirstFatal;
      cs.set(at(aer, kAerSourceId), 2, source.raw());
    }
    sta |= m == ErrorMessage::Fatal ? kAerRootStaFatalRcv : kAerRootStaNonFatalRcv;
  }
  cs.set(sta_reg, 4, sta);
  const uint32_t cmd = cs.read32(at(aer, kAerRootCommand));
  switch (m) {
    case ErrorMessage::Cor: return cmd & kAerRootCmdCorEn;
    case ErrorMessage::NonFatal: return cmd & kAerRootCmdNonFatalEn;
    case ErrorMessage::Fatal: return cmd & kAerRootCmdFatalEn;
  }
  return false;
}

bool aer_root_interrupt_pending(const PciFunction& rp) {
  const ConfigSpace& cs = rp.config();
  const uint16_t aer = cs.find_ext_capability(kExtCapIdAer);
  if (!aer) return false;
  const uint32_t sta = cs.read32(at(aer, kAerRootStatus)), cmd = cs.read32(at(aer, kAerRootCommand));
  return ((sta & kAerRootStaCorRcv) && (cmd & kAerRootCmdCorEn)) ||
         ((sta & kAerRootStaNonFatalRcv) && (cmd & kAerRootCmdNonFatalEn)) ||
         ((sta & kAerRootStaFatalRcv) && (cmd & kAerRootCmdFatalEn));
}

AerReport inject_aer(Endpoint& ep, unsigned fn, const AerInjection& inj, sc_core::sc_time& delay) {
  PciFunction* f = ep.function(fn);
  if (!f) throw std::invalid_argument(std::string(ep.name()) + ": no function " + std::to_string(fn));
  AerReport r;
  r.detection = aer_detect_error(*f, inj);
  if (!r.detection.message) return r;
  const PcieExtension& e = ep.send_msg(fn, static_cast<uint8_t>(*r.detection.message), delay);
  r.message_sent = true;
  r.message_verdict = e.verdict;
  return r;
}

}  // namespace pciesim
