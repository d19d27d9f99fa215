// pciesim lspci FILE [-v|-vv|-vvv] [-s BDF] [-n] [-x]: the simulated config space in pciutils'
// format, read after firmware enumeration.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "lspci_format.h"

namespace pciesim::cli {

namespace {

struct LspciArgs {
  std::string file, slot;
  int verbose = 0, numeric = 0, hex = 0;
  bool domain = false, json = false;
};

// pciutils -s syntax, without wildcards: [[domain:]bus:]device[.function]
bool slot_matches(const std::string& s, const FunctionInfo& f) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  char tail = 0;
  RequesterId id = f.bdf();
  if (std::sscanf(s.c_str(), "%x:%x:%x.%x%c", &a, &b, &c, &d, &tail) == 4)
    return int(a) == f.segment && b == id.bus && c == id.device() && d == id.function();
  if (std::sscanf(s.c_str(), "%x:%x.%x%c", &b, &c, &d, &tail) == 3)
    return b == id.bus && c == id.device() && d == id.function();
  if (std::sscanf(s.c_str(), "%x:%x%c", &b, &c, &tail) == 2) return b == id.bus && c == id.device();
  throw UsageError("bad -s '" + s + "': expected [[domain:]bus:]device[.function], e.g. 00:01.0");
}

int run_lspci(const LspciArgs& a) {
  Machine m = load_machine(a.file);
  std::vector<LspciDevice> devs;
  std::vector<const FunctionInfo*> infos;
  for (const FunctionInfo& f : m.fabric->functions()) {
    if (!a.slot.empty() && !slot_matches(a.slot, f)) continue;
    RequesterId id = f.bdf();
    devs.emplace_back(f.fn->config(), id.bus, id.device(), id.function(), static_cast<unsigned>(f.segment));
    infos.push_back(&f);
  }
  if (!a.slot.empty() && devs.empty()) throw UsageError("no function at " + a.slot);
  LspciOptions opt;
  opt.verbosity = a.verbose;
  opt.numeric = a.numeric;
  opt.show_domain = a.domain;
  opt.hex = a.hex;
  if (a.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (size_t i = 0; i < devs.size(); ++i) {
      const ConfigSpace& cs = infos[i]->fn->config();
      std::string bytes;
      char b[4];
      for (unsigned o = 0; o < cs.size(); ++o) {
        std::snprintf(b, sizeof b, "%02x", cs.byte(static_cast<uint16_t>(o)));
        bytes += b;
      }
      while (bytes.size() > 512 && bytes.compare(bytes.size() - 2, 2, "00") == 0) bytes.resize(bytes.size() - 2);
      arr.push_back({{"bdf", infos[i]->bdf_string()}, {"name", infos[i]->fn->name()},
                     {"text", format_lspci(devs[i], opt)}, {"config", bytes}});
    }
    print_json(arr);
    return kExitOk;
  }
  std::cout << format_lspci_all(devs, opt);
  return kExitOk;
}

}  // namespace

void add_lspci_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<LspciArgs>();
  CLI::App* sub = app.add_subcommand("lspci", "The simulated config space in pciutils' lspci format");
  sub->add_option("FILE", args->file, "Topology file (YAML)")->required();
  sub->add_flag("-v", args->verbose, "Verbose; repeat (-vv, -vvv) for more, as lspci");
  sub->add_flag("-n", args->numeric, "Numeric ids; -nn for names and ids");
  sub->add_flag("-x", args->hex, "Hex dump of config space; -xxx 256 bytes, -xxxx 4096");
  sub->add_flag("-D", args->domain, "Always show the PCI domain");
  sub->add_option("-s", args->slot, "Only the function(s) at [[domain:]bus:]device[.function]");
  sub->add_flag("--json", args->json, "Each function's lspci text and raw config bytes as JSON");
  sub->callback([args, &exit_code] { exit_code = guarded([args] { return run_lspci(*args); }); });
}

}  // namespace pciesim::cli
