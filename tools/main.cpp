// pciesim: the command-line front end. Exit codes: 0 success, 1 failed expectations, 2 bad input.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <systemc>

#include "cli_error.h"
#include "commands.h"

int sc_main(int argc, char** argv) {
  using namespace pciesim::cli;
  int exit_code = kExitOk;
  CLI::App app{"pciesim: PCIe fabric, VT-d IOMMU and VFIO simulator"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  add_topo_command(app, exit_code);
  add_lspci_command(app, exit_code);
  add_route_command(app, exit_code);
  add_groups_command(app, exit_code);
  add_import_command(app, exit_code);
  add_boot_command(app, exit_code);
  add_probe_command(app, exit_code);
  add_hostval_command(app, exit_code);
  add_isolation_command(app, exit_code);
  add_run_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitBadInput;
  }
  return exit_code;
}

// libsystemc provides main() and calls sc_main; ours runs first only to silence the banner on
// stderr (it would otherwise precede every error message).
int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  return sc_core::sc_elab_and_sim(argc, argv);
}
