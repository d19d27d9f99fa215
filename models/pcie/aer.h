// Advanced Error Reporting in the fabric (PCIe 6.2): a function that detects an error logs it in
// its Device Status and AER registers and, when reporting is enabled, sends an ERR_COR /
// ERR_NONFATAL / ERR_FATAL message upstream; switch ports forward it as their Bridge Control and
// Command registers allow (6.2.6); the root port logs it in Root Error Status and Error Source
// Identification (7.8.4.10-11) and interrupts when Root Error Command enables it (6.2.4.1.2).
//
// The register updates are pure functions of a PciFunction's config space (these helpers); the
// message is a real TLP (TlpKind::Message with the Message Code in PcieExtension::message_code)
// that the endpoint sends and the hubs route (Hub::route_from_below -> message_from_below).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <systemc>

#include "pciesim/tlp.h"

namespace pciesim {

class Endpoint;
class PciFunction;

// PCIe 2.2.8.3 Table 2-22: the Message Codes of the error signalling messages (routed to the
// root complex, r[2:0] = 000).
enum class ErrorMessage : uint8_t { Cor = 0x30, NonFatal = 0x31, Fatal = 0x33 };
const char* to_string(ErrorMessage m);  // "ERR_COR", "ERR_NONFATAL", "ERR_FATAL"
// The message a Message Code names; nullopt for any other message.
std::optional<ErrorMessage> error_message(uint8_t message_code);

// One error for a function to detect.
struct AerInjection {
  bool correctable = false;  // Correctable Error Status bit; else Uncorrectable (severity from the
                             // function's Uncorrectable Error Severity register)
  uint32_t status_bit = 0;   // exactly one implemented bit of that status register (pcie_regs.h kAerCor*/kAerUnc*)
  // The TLP header the Header Log records (uncorrectable errors, when this is the first error);
  // without one the Header Log is cleared (an error with no TLP, e.g. DLP).
  std::optional<std::array<uint32_t, 4>> header_log;
};

// What detecting the error did inside the function (PCIe 6.2.5, Figure 6-2).
struct AerDetection {
  bool fatal = false;         // uncorrectable with its Severity bit set
  bool masked = false;        // its Mask bit was set: status only, no log, no message
  bool first_error = false;   // First Error Pointer and Header Log were updated
  std::optional<ErrorMessage> message;  // the message the function sends (reporting enabled)
};

// The function's side: updates Device Status, the AER status, First Error Pointer, Header Log,
// Status.Signaled System Error, and says which message to send. Throws std::invalid_argument
// when the function has no AER capability or `status_bit` is not one implemented status bit.
AerDetection aer_detect_error(PciFunction& fn, const AerInjection& inj);

// A type 1 function (root port, switch port) receiving an error message on its secondary side:
// Secondary Status.Received System Error for ERR_NONFATAL/ERR_FATAL (PCIe 7.5.1.3.7); true when
// Bridge Control SERR# Enable lets it through (7.5.1.3.13: it controls forwarding of all three).
bool aer_port_receives(PciFunction& port, ErrorMessage m);
// ... and transmitting it on its primary side: ERR_COR always (7.5.1.1.3: Command SERR# does not
// affect forwarded ERR_COR); ERR_NONFATAL/ERR_FATAL with Command SERR# Enable (which also sets
// Status.Signaled System Error) or the Device Control reporting enable of that severity (6.2.6).
bool aer_port_transmits(PciFunction& port, ErrorMessage m);

// A root port logging a message it received (or an error it detected itself): Root Error Status
// and Error Source Identification (PCIe 7.8.4.10-11). True when Root Error Command enables an
// interrupt for it (7.8.4.9).
bool aer_root_log(PciFunction& root_port, ErrorMessage m, RequesterId source);
// The level of the root port's AER interrupt: a Root Error Status "received" bit whose Root
// Error Command enable is set (INTx follows it; MSI is sent per aer_root_log).
bool aer_root_interrupt_pending(const PciFunction& root_port);

// The whole path for an endpoint function: detect, then send the message (if any) as a TLP.
struct AerReport {
  AerDetection detection;
  bool message_sent = false;
  Verdict message_verdict;  // Delivered at the hop that consumed it (the root port, or the port
                            // whose Bridge Control / Command stopped it)
};
AerReport inject_aer(Endpoint& ep, unsigned fn, const AerInjection& inj, sc_core::sc_time& delay);

}  // namespace pciesim
