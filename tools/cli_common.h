// What every pciesim subcommand shares: loading a topology into an enumerated machine, parsing
// BDFs and addresses from the command line, and turning errors into one message and exit code 2.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_error.h"
#include "pcie/fabric.h"
#include "pcie/topology/spec.h"

namespace pciesim::cli {

struct Machine {
  std::unique_ptr<Fabric> fabric;
  const topo::TopologySpec& spec() const { return fabric->spec(); }
};

// Loads FILE, elaborates the modules and runs firmware enumeration. Throws topo::TopologyError.
Machine load_machine(const std::string& path);

struct Bdf {
  int segment = 0;
  RequesterId id;
};
// "[dddd:]bb:dd.f" (hex, as lspci prints). Throws UsageError.
Bdf parse_bdf(const std::string& text);
// A function by BDF or by topology name ("nic0", "nic0.f1", "sw0-dp1"). Throws UsageError.
const FunctionInfo& resolve_function(const Fabric& fabric, const std::string& text);
// 0x-prefixed hex or decimal. Throws UsageError naming `what`.
uint64_t parse_number(const std::string& text, const std::string& what);

// Runs `body`, mapping errors to a message on stderr and an exit code (2 for bad input).
int guarded(const std::function<int()>& body);

// Writes JSON to stdout, pretty-printed.
void print_json(const nlohmann::json& j);

// A function for humans: "0000:03:00.0 nic0.f0".
std::string describe(const FunctionInfo& f);

}  // namespace pciesim::cli
