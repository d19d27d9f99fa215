// How a transaction's record reads to a user and in JSON: the hops with their BDFs, and the one
// verdict ("delivered at ...", "redirected upstream by ACS RR at ...", "blocked by ACS SV at ...").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "pciesim/tlp.h"

namespace pciesim::cli {

std::string verdict_text(const PcieExtension& ext);
nlohmann::json verdict_json(const PcieExtension& ext);
nlohmann::json hops_json(const PcieExtension& ext);

}  // namespace pciesim::cli
