// pciesim topo FILE [--json] [--dot] [--svg FILE] [-v]: the enumerated tree.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "topo_format.h"

namespace pciesim::cli {

namespace {

struct TopoArgs {
  std::string file, svg;
  bool json = false, dot = false, quiet_leaves = false;
};

int write_svg(const std::string& dot, const std::string& path) {
  std::string cmd = "dot -Tsvg -o '" + path + "'";
  FILE* p = popen(cmd.c_str(), "w");
  if (!p) throw UsageError("cannot run Graphviz `dot` (install the graphviz package)");
  std::fwrite(dot.data(), 1, dot.size(), p);
  int rc = pclose(p);
  if (rc != 0) throw UsageError("Graphviz `dot` failed writing " + path + " (is the graphviz package installed?)");
  return kExitOk;
}

int run_topo(const TopoArgs& a) {
  Machine m = load_machine(a.file);
  const Fabric& f = *m.fabric;
  if (a.json) {
    print_json(topology_json(f));
    return kExitOk;
  }
  if (a.dot) {
    std::cout << topology_dot(f);
    return kExitOk;
  }
  if (!a.svg.empty()) {
    write_svg(topology_dot(f), a.svg);
    std::cout << "wrote " << a.svg << "\n";
    return kExitOk;
  }
  std::cout << format_tree(f, !a.quiet_leaves);
  return kExitOk;
}

}  // namespace

void add_topo_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TopoArgs>();
  CLI::App* sub = app.add_subcommand("topo", "Enumerate a topology and print its tree like `lspci -tv`");
  sub->add_option("FILE", args->file, "Topology file (YAML)")->required();
  sub->add_flag("--json", args->json, "Every function with its BDF, role, link, BARs, windows and ACS, as JSON");
  sub->add_flag("--dot", args->dot, "Print a Graphviz graph (links and ACS state)");
  sub->add_option("--svg", args->svg, "Draw the graph to an SVG file with Graphviz");
  sub->add_flag("--bare", args->quiet_leaves, "Tree without labels, as plain `lspci -t`");
  sub->callback([args, &exit_code] { exit_code = guarded([args] { return run_topo(*args); }); });
}

}  // namespace pciesim::cli
