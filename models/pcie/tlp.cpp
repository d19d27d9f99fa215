#include "pciesim/tlp.h"

#include <cstdio>

namespace pciesim {

std::string RequesterId::to_string(bool ari) const {
  char buf[16];
  if (ari) std::snprintf(buf, sizeof buf, "%02x:%02x.%x", bus, 0, devfn);  // lspci prints ARI fns as dev 0
  else std::snprintf(buf, sizeof buf, "%02x:%02x.%x", bus, device(), function());
  return buf;
}

const char* to_string(TlpKind kind) {
  switch (kind) {
    case TlpKind::MemRead: return "MRd";
    case TlpKind::MemWrite: return "MWr";
    case TlpKind::CfgRead0: return "CfgRd0";
    case TlpKind::CfgRead1: return "CfgRd1";
    case TlpKind::CfgWrite0: return "CfgWr0";
    case TlpKind::CfgWrite1: return "CfgWr1";
    case TlpKind::Message: return "Msg";
    case TlpKind::AtomicOp: return "AtomicOp";
    case TlpKind::Completion: return "Cpl";
    case TlpKind::IoRead: return "IORd";
    case TlpKind::IoWrite: return "IOWr";
  }
  return "?";
}

const char* to_string(AddressType at) {
  switch (at) {
    case AddressType::Untranslated: return "untranslated";
    case AddressType::TranslationRequest: return "translation-request";
    case AddressType::Translated: return "translated";
  }
  return "?";
}

const char* to_string(AcsBit bit) {
  switch (bit) {
    case AcsBit::SV: return "SV";
    case AcsBit::TB: return "TB";
    case AcsBit::RR: return "RR";
    case AcsBit::CR: return "CR";
    case AcsBit::UF: return "UF";
    case AcsBit::EC: return "EC";
    case AcsBit::DT: return "DT";
    case AcsBit::None: return "-";
  }
  return "?";
}

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::Pending: return "pending";
    case Outcome::Delivered: return "delivered";
    case Outcome::Redirected: return "redirected";
    case Outcome::BlockedByAcs: return "blocked-by-acs";
    case Outcome::UnsupportedRequest: return "unsupported-request";
    case Outcome::CompleterAbort: return "completer-abort";
    case Outcome::IommuFault: return "iommu-fault";
  }
  return "?";
}

Verdict PcieExtension::final_verdict() const {
  if (verdict.outcome == Outcome::Delivered && redirect_bit != AcsBit::None) {
    Verdict v = verdict;
    v.outcome = Outcome::Redirected;
    v.acs_bit = redirect_bit;
    v.port = redirect_port;
    return v;
  }
  return verdict;
}

tlm::tlm_response_status response_for(Outcome o) {
  switch (o) {
    case Outcome::Delivered:
    case Outcome::Redirected: return tlm::TLM_OK_RESPONSE;
    case Outcome::UnsupportedRequest: return tlm::TLM_ADDRESS_ERROR_RESPONSE;
    case Outcome::Pending: return tlm::TLM_INCOMPLETE_RESPONSE;
    default: return tlm::TLM_GENERIC_ERROR_RESPONSE;
  }
}

}  // namespace pciesim
