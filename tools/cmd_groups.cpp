// pciesim groups TOPOLOGY.yaml | --lspci FILE | --dmesg FILE [--json] [--assume-...]:
// the IOMMU groups Linux would form (cosim/groups), one "DDDD:BB:DD.F group" line per device in
// the order Linux adds them. Exit 1 with the reasons when the data cannot decide them.
//
// For a topology the co-simulated kernel boots on the machine and reports the groups it formed,
// so ACS is as Linux leaves it (pci_enable_acs turns on SV/RR/CR/UF wherever a port can, once an
// IOMMU is present), not as firmware left it. A topology without a remapping unit gets the groups
// Linux would form if it had one, with the same ACS enabling applied to its view.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "groups/acs_quirks.h"
#include "groups/host_import.h"
#include "groups/iommu_groups.h"
#include "host_view_from_fabric.h"
#include "iommu/iommu_api.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"

namespace pciesim::cli {

namespace {

struct GroupsArgs {
  std::string file, lspci, dmesg;
  bool json = false, quirks = false;
  groups::GroupAssumptions assume;
};

// pci_std_enable_acs on a view: what Linux does to every port before it groups.
void enable_acs_as_linux(groups::HostView& view) {
  for (groups::FunctionView& f : view.functions)
    if (f.acs && f.acs->present) f.acs->ctrl |= f.acs->cap & groups::kRequiredAcs;
}

// The groups the co-simulated kernel formed, in the order it added the devices.
groups::GroupResult kernel_groups(Fabric& fabric) {
  cosim::Kernel kernel(fabric);
  kernel.boot();
  groups::GroupResult r;
  int index = 0;
  for (const auto& d : kernel.pci().devices()) {
    const cosim::GroupRec* g = kernel.iommu().group_of(*d);
    if (g) r.devices.push_back(groups::DeviceGroup{index, d->name, g->id});
    ++index;
  }
  r.group_count = static_cast<int>(kernel.iommu().groups().size());
  for (const std::string& line : kernel.log().grep("iommu: cannot group: ")) {
    r.decidable = false;
    r.undecidable_because.push_back(line.substr(line.find("cannot group: ") + 14));
  }
  return r;
}

int run_groups(const GroupsArgs& a) {
  if (a.quirks) {
    std::cout << groups::describe_quirk_tables();
    return kExitOk;
  }
  const int sources = !a.file.empty() + !a.lspci.empty() + !a.dmesg.empty();
  if (sources != 1) throw UsageError("give exactly one of TOPOLOGY.yaml, --lspci FILE, --dmesg FILE");
  groups::HostView view;
  groups::GroupResult r;
  if (!a.lspci.empty() || !a.dmesg.empty()) {
    view = !a.lspci.empty() ? groups::import_lspci_file(a.lspci) : groups::import_dmesg_file(a.dmesg);
    r = groups::compute_iommu_groups(view, a.assume);
  } else {
    Machine m = load_machine(a.file);
    view.source = a.file;
    if (!m.fabric->iommus().empty()) {
      r = kernel_groups(*m.fabric);
    } else {
      std::cerr << "pciesim: note: " << a.file << " has no remapping unit; these are the groups Linux would form "
                << "with one (ACS enabled as pci_enable_acs does)\n";
      view = host_view_from_fabric(*m.fabric, a.file);
      enable_acs_as_linux(view);
      r = groups::compute_iommu_groups(view, a.assume);
    }
  }
  if (a.json) {
    nlohmann::json devices = nlohmann::json::array();
    for (const groups::DeviceGroup& d : r.devices)
      devices.push_back({{"bdf", d.bdf}, {"group", d.group >= 0 ? nlohmann::json(d.group) : nlohmann::json(nullptr)}});
    print_json({{"source", view.source}, {"decidable", r.decidable}, {"groups", r.group_count},
                {"devices", devices}, {"undecidable_because", r.undecidable_because}});
    return r.decidable ? kExitOk : kExitFailed;
  }
  if (!r.decidable) {
    std::cerr << "pciesim: groups of " << view.source << " cannot be decided from this data:\n";
    for (const std::string& s : r.undecidable_because) std::cerr << "  " << s << "\n";
    std::cerr << "(--assume-acs / --assume-no-quirks / --assume-endpoints fill the gaps with stated guesses)\n";
    return kExitFailed;
  }
  std::cout << groups::format_groups(r);
  return kExitOk;
}

}  // namespace

void add_groups_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<GroupsArgs>();
  CLI::App* sub = app.add_subcommand("groups", "The IOMMU groups Linux would form (pci_device_group rules)");
  sub->add_option("TOPOLOGY", args->file, "Topology file (YAML)");
  sub->add_option("--lspci", args->lspci, "A real host's lspci output (-vv/-vvv/-nn, -tv or plain)");
  sub->add_option("--dmesg", args->dmesg, "A real host's boot log");
  sub->add_flag("--json", args->json, "JSON output");
  sub->add_flag("--quirks", args->quirks, "Print the quirk tables with their Linux sources");
  sub->add_flag("--assume-acs", args->assume.acs_on_unknown_ports,
                "Guess: ports of unknown ACS have SV RR CR UF enabled");
  sub->add_flag("--assume-no-quirks", args->assume.no_quirk_for_unknown_ids,
                "Guess: functions of unknown id match no quirk");
  sub->add_flag("--assume-endpoints", args->assume.unknown_type_is_endpoint,
                "Guess: non-bridges of unknown PCIe type are endpoints");
  sub->callback([args, &exit_code] { exit_code = guarded([args] { return run_groups(*args); }); });
}

}  // namespace pciesim::cli
