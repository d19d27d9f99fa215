// Drawings of an enumerated machine: the tree as `lspci -tv` prints it, a JSON description of
// every function, and a Graphviz graph with links and ACS state.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "pcie/fabric.h"

namespace pciesim::cli {

// `lspci -tv` layout: -[0000:00]-+-01.0-[01-05]--... with a label after each leaf.
std::string format_tree(const Fabric& fabric, bool verbose);
nlohmann::json topology_json(const Fabric& fabric);
std::string topology_dot(const Fabric& fabric);
// One word about a port's ACS for people: "isolated" (SV RR CR UF enabled, what Linux requires),
// "partial", "off", or "none" (no ACS capability).
std::string acs_summary(const PciFunction& fn);

}  // namespace pciesim::cli
