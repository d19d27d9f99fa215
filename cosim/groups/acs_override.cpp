// The pcie_acs_override patch's parameter and quirk entry (see acs_override.h). The patch's
// pcie_acs_override_setup and pcie_acs_overrides, restated: facts only.
#include "groups/acs_override.h"

#include <cctype>
#include <cstdio>

namespace pciesim::groups {

namespace {

bool parse_hex16(const std::string& s, uint16_t& out) {
  if (s.empty() || s.size() > 4) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  out = static_cast<uint16_t>(std::stoul(s, nullptr, 16));
  return true;
}

}  // namespace

std::string AcsOverride::text() const {
  std::string s;
  auto add = [&](const std::string& t) { s += (s.empty() ? "" : ",") + t; };
  if (downstream) add("downstream");
  if (multifunction) add("multifunction");
  for (auto [v, d] : ids) {
    char b[32];
    std::snprintf(b, sizeof b, "id:%04x:%04x", v, d);
    add(b);
  }
  return s;
}

std::string add_acs_override_item(AcsOverride& ov, const std::string& item) {
  if (item == "downstream") {
    ov.downstream = true;
    return "";
  }
  if (item == "multifunction") {
    ov.multifunction = true;
    return "";
  }
  if (item.rfind("id:", 0) == 0) {
    const std::string rest = item.substr(3);
    const size_t colon = rest.find(':');
    if (colon == std::string::npos || rest.find(':', colon + 1) != std::string::npos)
      return "'" + item + "' is not id:VVVV:DDDD";
    uint16_t vendor = 0, device = 0;
    if (!parse_hex16(rest.substr(0, colon), vendor))
      return "vendor '" + rest.substr(0, colon) + "' in '" + item + "' is not a 16-bit hex id";
    if (!parse_hex16(rest.substr(colon + 1), device))
      return "device '" + rest.substr(colon + 1) + "' in '" + item + "' is not a 16-bit hex id";
    if (ov.ids.size() == kAcsOverrideMaxIds) return "the patch keeps at most 16 ids";
    ov.ids.emplace_back(vendor, device);
    return "";
  }
  return "unknown item '" + item + "' (downstream, multifunction or id:VVVV:DDDD)";
}

bool acs_override_isolates(const AcsOverride& ov, const HostView& host, int index, PortType t) {
  const FunctionView& f = host.functions[size_t(index)];
  // "Never override ACS for legacy devices or devices with ACS caps"
  if (t == PortType::Conventional || (f.acs && f.acs->present)) return false;
  for (auto [v, d] : ov.ids)
    if (f.vendor == v && f.device == d) return true;
  switch (t) {
    case PortType::DownstreamPort:
    case PortType::RootPort:
      return ov.downstream;
    case PortType::Endpoint:
    case PortType::UpstreamPort:
    case PortType::LegacyEndpoint:
    case PortType::RcEndpoint:
      return ov.multifunction && f.multifunction.value_or(false);
    default:
      return false;
  }
}

}  // namespace pciesim::groups
