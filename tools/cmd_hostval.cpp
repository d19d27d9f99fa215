// pciesim hostval TOPOLOGY [--host-json FILE] [--allow FILE] ...: the simulator against a real host
// (docs/hostval.md). Builds the topology as a QEMU q35 machine with QEMU's VT-d, boots Debian's 6.1
// kernel in it (tests/hostval/run-guest.sh), records the same host report from the simulated twin
// (host_report_sim.h) and diffs the two field by field; an allow-list explains each deliberate
// difference. With --host-json the host side is a report a lab machine's collect.sh wrote.
// Exit: 0 no unexplained difference, 1 differences, 2 bad usage or input, 77 skipped (QEMU cannot
// build the topology, or cannot run here), with the reason.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_common.h"
#include "commands.h"
#include "groups/host_import.h"
#include "groups/topology_writer.h"
#include "host_report_sim.h"
#include "hostval_diff.h"
#include "qemu_devices.h"

namespace pciesim::cli {

namespace {

constexpr int kExitSkipped = 77;  // ctest SKIP_RETURN_CODE

struct HostvalArgs {
  std::string file, host_json, allow, runner, guest, save_host, save_sim;
  std::string drivers = "vfio-pci,pciesim_vfio_pci";
  bool qemu_devices = false;
  bool json = false;
  int timeout = 180;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot read " + path);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw UsageError(path + ": not a JSON host report: " + e.what());
  }
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!out || !(out << text)) throw UsageError("cannot write " + path);
}

// The simulated twin of a host report's machine: its `lspci -vvv -nn` text imported as `pciesim
// import` does, with one remapping unit covering everything (QEMU 7.2's preset when the report's
// dmar0 has QEMU's CAP/ECAP, else the server preset). Returns the topology file written in `dir`.
std::string twin_from_report(const nlohmann::json& host, const std::string& from, const std::filesystem::path& dir) {
  if (!host.contains("lspci") || !host["lspci"].is_string())
    throw UsageError(from + ": the report holds no lspci output to build a twin from (give the TOPOLOGY)");
  const groups::HostView view = groups::import_lspci_text(host["lspci"].get<std::string>(), from + " (lspci)");
  std::vector<std::string> notes;
  std::string yaml = groups::write_topology_yaml(view, "twin", notes);
  for (const std::string& n : notes) std::cerr << "hostval: twin: " << n << "\n";
  bool qemu = false;
  for (const auto& line : host.value("dmar", nlohmann::json::array()))
    if (line.is_string() && line.get<std::string>().find("cap d2008c22260206 ecap f00f4a") != std::string::npos) qemu = true;
  yaml += std::string("iommus:\n  - {name: dmar0, preset: ") + (qemu ? "qemu-7.2" : "server") + ", include_all: true}\n";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "twin.yaml").string();
  write_file(path, yaml);
  return path;
}

int run_hostval(const HostvalArgs& a_in) {
  HostvalArgs a = a_in;
  const std::filesystem::path scratch = std::filesystem::temp_directory_path() /
                                        ("pciesim-hostval-twin-" + std::to_string(::getpid()));
  struct RemoveOnExit {
    std::filesystem::path p;
    ~RemoveOnExit() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } remove_scratch{scratch};
  if (a.file.empty()) {
    if (a.host_json.empty()) throw UsageError("give a TOPOLOGY, or --host-json FILE (its lspci makes the twin)");
    a.file = twin_from_report(read_json(a.host_json), a.host_json, scratch);
    std::cerr << "hostval: comparing with the simulated twin of " << a.host_json
              << " (pciesim import --lspci writes the same topology to a file)\n";
  }
  Machine m = load_machine(a.file);
  const hostval::QemuMachine q = hostval::qemu_machine(m.spec());
  if (a.qemu_devices) {
    for (const std::string& d : q.devices) std::cout << "-device " << d << "\n";
    for (const std::string& u : q.unsupported) std::cerr << "pciesim: QEMU cannot build " << u << "\n";
    return q.unsupported.empty() ? kExitOk : kExitSkipped;
  }
  const std::vector<hostval::AllowEntry> allow =
      a.allow.empty() ? std::vector<hostval::AllowEntry>{} : hostval::load_allow_list(a.allow);

  // The simulated twin first: it needs nothing from outside.
  const nlohmann::json sim = hostval::simulator_report(*m.fabric, split(a.drivers, ','));
  if (!a.save_sim.empty()) write_file(a.save_sim, sim.dump(2) + "\n");

  nlohmann::json host;
  if (!a.host_json.empty()) {
    host = read_json(a.host_json);
  } else {
    if (!q.unsupported.empty()) {
      std::cout << "hostval: skipped: QEMU cannot build " << a.file << ":\n";
      for (const std::string& u : q.unsupported) std::cout << "  " << u << "\n";
      return kExitSkipped;
    }
    const std::filesystem::path work = std::filesystem::temp_directory_path() /
                                       ("pciesim-hostval-" + std::to_string(::getpid()));
    std::filesystem::create_directories(work);
    std::string devices;
    for (const std::string& d : q.devices) devices += d + "\n";
    write_file((work / "devices").string(), devices);
    const std::string report = a.save_host.empty() ? (work / "host.json").string() : a.save_host;
    const std::string runner = a.runner.empty() ? std::string(PCIESIM_SOURCE_DIR) + "/tests/hostval/run-guest.sh" : a.runner;
    const std::string guest = a.guest.empty() ? std::string(PCIESIM_BUILD_DIR) + "/hostval-guest" : a.guest;
    const std::string cmd = "bash '" + runner + "' --qemu-devices '" + (work / "devices").string() + "' --guest '" +
                            guest + "' --drivers " + a.drivers + " --memory " + std::to_string(q.memory_mib) +
                            " --timeout " + std::to_string(a.timeout) + " --out '" + report + "'";
    const int status = std::system(cmd.c_str());
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (rc == kExitSkipped) {
      std::cout << "hostval: skipped: the QEMU host cannot run here (the runner said why above)\n";
      return kExitSkipped;
    }
    if (rc != 0) {
      std::cerr << "pciesim: hostval: the QEMU host run failed (exit " << rc << "): " << cmd << "\n";
      return kExitFailed;
    }
    host = read_json(report);
    std::filesystem::remove_all(work);
  }
  if (host.value("schema", 0) != 1) throw UsageError("the host report's schema is not 1");

  const hostval::Comparison c = hostval::compare(sim, host, allow, m.spec().name);
  if (a.json) {
    nlohmann::json out = {{"topology", m.spec().name}, {"compared", c.compared}, {"allowed", c.allowed()},
                          {"unexplained", c.unexplained()}, {"differences", nlohmann::json::array()}};
    for (const auto& d : c.differences)
      out["differences"].push_back({{"path", d.path}, {"kind", d.kind}, {"simulator", d.simulator}, {"host", d.host},
                                    {"allowed_by", d.allowed_by}, {"reason", d.reason}});
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "hostval " << m.spec().name << ": simulator vs " << (a.host_json.empty() ? "QEMU q35 + VT-d" : a.host_json)
              << "\n" << hostval::format_table(c);
  }
  return c.unexplained() == 0 ? kExitOk : kExitFailed;
}

}  // namespace

void add_hostval_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<HostvalArgs>();
  CLI::App* sub = app.add_subcommand("hostval", "Compare the simulator with a real host (QEMU q35 + VT-d, or a lab machine's report)");
  sub->add_option("TOPOLOGY", args->file, "Topology file (YAML); without it, the twin of --host-json's machine");
  sub->add_option("--host-json", args->host_json, "A host report (tools/hostval/collect.sh) instead of booting QEMU");
  sub->add_option("--allow", args->allow, "Allow-list of deliberate differences (YAML; tests/hostval/allow.yaml)");
  sub->add_option("--drivers", args->drivers, "VFIO drivers to probe with, in order (default vfio-pci,pciesim_vfio_pci)");
  sub->add_option("--runner", args->runner, "The QEMU runner (default tests/hostval/run-guest.sh of the source tree)");
  sub->add_option("--guest", args->guest, "The guest image directory (default hostval-guest of the build tree)");
  sub->add_option("--timeout", args->timeout, "Seconds the QEMU guest may take (default 180)");
  sub->add_option("--save-host", args->save_host, "Keep the QEMU host's report in FILE");
  sub->add_option("--save-sim", args->save_sim, "Write the simulator's report to FILE");
  sub->add_flag("--qemu-devices", args->qemu_devices, "Print the QEMU -device list for the topology and what QEMU cannot build");
  sub->add_flag("--json", args->json, "The comparison as JSON");
  sub->callback([args, &exit_code] { exit_code = guarded([args] { return run_hostval(*args); }); });
}

}  // namespace pciesim::cli
