// pciesim import --lspci FILE | --dmesg FILE -o TOPOLOGY.yaml [--name NAME]: a real machine's
// published listing as a topology file; the written file is loaded back before we report success.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "groups/host_import.h"
#include "groups/topology_writer.h"
#include "pcie/topology/yaml_loader.h"

namespace pciesim::cli {

namespace {

struct ImportArgs {
  std::string lspci, dmesg, out, name = "imported";
};

int run_import(const ImportArgs& a) {
  if (a.lspci.empty() == a.dmesg.empty()) throw UsageError("give exactly one of --lspci FILE, --dmesg FILE");
  groups::HostView view = a.lspci.empty() ? groups::import_dmesg_file(a.dmesg) : groups::import_lspci_file(a.lspci);
  std::vector<std::string> notes;
  std::string yaml = groups::write_topology_yaml(view, a.name, notes);
  {
    std::ofstream out(a.out);
    if (!out) throw UsageError("cannot write " + a.out);
    out << yaml;
  }
  for (const std::string& n : notes) std::cerr << "pciesim: note: " << n << "\n";
  topo::load_topology_file(a.out);  // throws TopologyError (file:line:col) if we wrote something invalid
  std::cout << "wrote " << a.out << " (" << view.functions.size() << " functions imported, " << notes.size()
            << " notes)\n";
  return kExitOk;
}

}  // namespace

void add_import_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* sub = app.add_subcommand("import", "A real host's lspci/dmesg as a topology file");
  sub->add_option("--lspci", args->lspci, "lspci output (-vv/-vvv/-nn, -tv or plain)");
  sub->add_option("--dmesg", args->dmesg, "Boot log");
  sub->add_option("-o,--output", args->out, "Topology file to write (YAML)")->required();
  sub->add_option("--name", args->name, "Topology name");
  sub->callback([args, &exit_code] { exit_code = guarded([args] { return run_import(*args); }); });
}

}  // namespace pciesim::cli
