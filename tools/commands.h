// The subcommands of the pciesim CLI; each registers itself on the app and stores its exit code.
#pragma once

namespace CLI { class App; }

namespace pciesim::cli {

void add_topo_command(CLI::App& app, int& exit_code);
void add_lspci_command(CLI::App& app, int& exit_code);
void add_route_command(CLI::App& app, int& exit_code);
void add_groups_command(CLI::App& app, int& exit_code);
void add_import_command(CLI::App& app, int& exit_code);
void add_boot_command(CLI::App& app, int& exit_code);
void add_probe_command(CLI::App& app, int& exit_code);
void add_hostval_command(CLI::App& app, int& exit_code);
void add_isolation_command(CLI::App& app, int& exit_code);
void add_run_command(CLI::App& app, int& exit_code);

}  // namespace pciesim::cli
