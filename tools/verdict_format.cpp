#include "verdict_format.h"

#include "iommu/vtd_types.h"
#include "pcie/port_registry.h"

#include <cstdio>

namespace pciesim::cli {

namespace {
std::string where(HopId h) { return h == kNoHop ? std::string("?") : hops().describe(h); }
}  // namespace

std::string verdict_text(const PcieExtension& ext) {
  const Verdict& v = ext.verdict;
  std::string s;
  switch (v.outcome) {
    case Outcome::Delivered: s = "delivered at " + where(v.port); break;
    case Outcome::BlockedByAcs: s = std::string("blocked by ACS ") + to_string(v.acs_bit) + " at " + where(v.port); break;
    case Outcome::UnsupportedRequest: s = "unsupported request at " + where(v.port); break;
    case Outcome::CompleterAbort: s = "completer abort at " + where(v.port); break;
    case Outcome::IommuFault: {
      char code[8];
      std::snprintf(code, sizeof code, "0x%x", v.fault_reason);
      s = std::string("IOMMU fault ") + code + " (" +
          vtd::describe(static_cast<vtd::FaultReason>(v.fault_reason)) + ") at " + where(v.port);
      break;
    }
    case Outcome::Redirected: s = "redirected at " + where(v.port); break;
    case Outcome::Pending: s = "not completed"; break;
  }
  if (ext.redirect_bit != AcsBit::None) {
    std::string r = std::string("redirected upstream by ACS ") + to_string(ext.redirect_bit) + " at " +
                    where(ext.redirect_port);
    s = v.outcome == Outcome::Delivered ? r + ", then " + s : r + "; " + s;
  }
  return s;
}

nlohmann::json verdict_json(const PcieExtension& ext) {
  Verdict f = ext.final_verdict();
  nlohmann::json j;
  j["outcome"] = to_string(f.outcome);
  if (f.acs_bit != AcsBit::None) j["acs_bit"] = to_string(f.acs_bit);
  j["at"] = where(f.port);
  if (f.outcome == Outcome::IommuFault) j["fault_reason"] = f.fault_reason;
  if (ext.redirect_bit != AcsBit::None) {
    j["redirect"] = {{"acs_bit", to_string(ext.redirect_bit)}, {"at", where(ext.redirect_port)}};
    j["terminal"] = {{"outcome", to_string(ext.verdict.outcome)}, {"at", where(ext.verdict.port)}};
  }
  j["text"] = verdict_text(ext);
  if (ext.iommu_checked) {
    j["iommu"] = {{"unit", where(ext.iommu_unit)}, {"input", ext.iommu_input}};
    if (f.outcome != Outcome::IommuFault) j["iommu"]["output"] = ext.iommu_output;
    if (f.outcome == Outcome::IommuFault)
      j["iommu"]["fault"] = {{"reason", f.fault_reason},
                             {"text", vtd::describe(static_cast<vtd::FaultReason>(f.fault_reason))}};
  }
  return j;
}

nlohmann::json hops_json(const PcieExtension& ext) {
  nlohmann::json a = nlohmann::json::array();
  for (unsigned i = 0; i < ext.hop_count; ++i) a.push_back(hops().describe(ext.hops[i]));
  if (ext.hops_truncated) a.push_back("... (path longer than " + std::to_string(kMaxHops) + " hops)");
  return a;
}

}  // namespace pciesim::cli
