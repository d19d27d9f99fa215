// pciesim isolation TOPOLOGY [--json] [--acs-override LIST] [--config-acs SPEC]
//                            [--exhaustive|--analytic] [--sample N] [--seed S]
// For every ordered pair of endpoint functions, where a P2P request to each memory BAR goes
// (open / via-iommu / blocked), next to the IOMMU groups Linux forms on the same machine; every
// pair on which the two disagree is listed (docs/isolation.md). Exit 0: they agree; 1: they
// disagree (or the analytic walk disagreed with a sampled real TLP); 2: bad input.
#include <CLI/CLI.hpp>
#include <iomanip>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "isolation/isolation_json.h"
#include "isolation/linux_acs.h"

namespace pciesim::cli {

namespace {

using namespace pciesim::isolation;

struct IsolationArgs {
  std::string file, acs_override, config_acs;
  bool json = false, exhaustive = false, analytic = false;
  unsigned sample = 1000;
  uint64_t seed = 1;
};

// Text output lists at most this many lines of one kind; --json has them all.
constexpr size_t kListLimit = 20;

void print_limited(const std::vector<std::string>& lines, const char* indent, size_t total = 0) {
  if (!total) total = lines.size();
  for (size_t i = 0; i < lines.size() && i < kListLimit; ++i) std::cout << indent << lines[i] << "\n";
  if (total > kListLimit) std::cout << indent << "... and " << total - kListLimit << " more (--json lists them all)\n";
}

int run_isolation(const IsolationArgs& a) {
  if (a.exhaustive && a.analytic) throw UsageError("give at most one of --exhaustive and --analytic");
  const AcsOverride ov = a.acs_override.empty() ? AcsOverride{} : parse_acs_override(a.acs_override);
  const ConfigAcs cfg = a.config_acs.empty() ? ConfigAcs{} : parse_config_acs(a.config_acs);
  if (!a.acs_override.empty() && !ov.any()) throw UsageError("--acs-override: empty list");
  Machine machine = load_machine(a.file);
  Fabric& fabric = *machine.fabric;
  const ClassifyOptions co{a.exhaustive, a.analytic, a.sample, a.seed};
  // Linux as it boots by default: the baseline.
  IsolationDocument doc = default_isolation(fabric, a.file, co);
  const bool has_iommu = doc.has_iommu;
  const std::vector<std::string>& base_changes = doc.base_changes;
  const bool options = ov.any() || cfg.any();
  apply_boot_options(fabric, doc, ov, cfg, co);
  const IsolationRun& run = doc.run;
  const std::vector<std::string>& cfg_changes = doc.config_changes;
  const groups::GroupResult& g = doc.groups;
  const IsolationMatrix& m = run.matrix;
  const Comparison& cmp = doc.comparison;
  const std::vector<int>& base_group_of = doc.base_group_of;
  const bool ok = doc.agree();

  if (a.json) {
    print_json(isolation_json(fabric, doc));
    return ok ? kExitOk : kExitFailed;
  }

  std::cout << "isolation of " << a.file << ": " << m.size() << " endpoint functions, " << run.mode << " ("
            << std::fixed << std::setprecision(2) << run.seconds << " s";
  if (run.mode == "analytic") std::cout << ", " << run.sample.sent << " sampled requests confirmed with real TLPs";
  std::cout << ")\n";
  if (!has_iommu)
    std::cout << "note: no remapping unit in this topology; 'via-iommu' means the request reached the root "
                 "complex's host side, where one would sit, and the groups are those Linux would form with one\n";
  std::cout << "Linux at boot (pci_enable_acs with an IOMMU): " << base_changes.size() << " ACS control register(s) changed\n";
  print_limited(base_changes, "  ");
  if (cfg.any()) {
    std::cout << "pci=config_acs=" << cfg.text() << ": " << cfg_changes.size() << " register(s) rewritten (the fabric changes too)\n";
    print_limited(cfg_changes, "  ");
  }
  if (ov.any())
    std::cout << "pcie_acs_override=" << ov.text() << ": Linux pretends the matching ports and functions isolate (no register changes)\n";
  if (!g.decidable) {
    std::cout << "Linux's groups cannot be decided:\n";
    for (const std::string& s : g.undecidable_because) std::cout << "  " << s << "\n";
  }

  if (m.size() <= kExhaustiveLimit) {
    std::cout << "\n";
    size_t w = 10;
    for (const FunctionInfo* f : m.endpoints) w = std::max(w, label(*f).size());
    std::cout << std::left << std::setw(int(w)) << "from" << "  " << std::setw(int(w)) << "to" << "  "
              << std::setw(6) << "groups" << "  " << std::setw(9) << "class" << "  path\n";
    for (size_t i = 0; i < m.size(); ++i)
      for (size_t j = 0; j < m.size(); ++j) {
        if (i == j || m.at(i, j).cls == PathClass::None) continue;
        const PairCell& c = m.at(i, j);
        std::string groups = group_text(cmp.group[i]) + (cmp.group[i] == cmp.group[j] && cmp.group[i] >= 0 ? "=" : "/") +
                             group_text(cmp.group[j]);
        if (options) groups += " (was " + group_text(base_group_of[i]) + "/" + group_text(base_group_of[j]) + ")";
        std::string detail = describe(c.decisive);
        detail = detail.substr(detail.find(": ") + 2);
        std::cout << std::setw(int(w)) << label(*m.endpoints[i]) << "  " << std::setw(int(w)) << label(*m.endpoints[j])
                  << "  " << std::setw(6) << groups << "  " << std::setw(9) << to_string(c.cls) << "  " << detail << "\n";
      }
    std::cout << std::right;
  }
  std::cout << "\npairs: " << m.count(PathClass::Open) << " open, " << m.count(PathClass::ViaIommu) << " via-iommu, "
            << m.count(PathClass::Blocked) << " blocked\n";
  for (const std::string& s : run.sample.mismatches) std::cout << "ANALYTIC MISMATCH: " << s << "\n";
  if (cmp.disagreements.empty()) {
    std::cout << "verdict: Linux's groups and the fabric agree: every pair Linux separates is kept apart by the fabric "
                 "(no request passes between different groups without the IOMMU)\n";
  } else {
    std::cout << "verdict: " << cmp.split_but_open << " ordered pair(s) in different groups can reach each other "
              << "without the IOMMU; " << cmp.grouped_but_isolated << " pair(s) grouped although the fabric isolates them\n";
    std::vector<std::string> lines;
    for (const Disagreement& d : cmp.disagreements) {
      if (lines.size() == kListLimit) {  // the rest are counted; --json lists every pair
        lines.emplace_back();
        break;
      }
      lines.push_back((d.kind == Disagreement::SplitButOpen ? "UNSAFE: " : "over-grouped: ") + explain(fabric, m, d, has_iommu));
    }
    if (!lines.empty() && lines.back().empty()) lines.pop_back();
    print_limited(lines, "", cmp.disagreements.size());
  }
  return ok ? kExitOk : kExitFailed;
}

}  // namespace

void add_isolation_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<IsolationArgs>();
  CLI::App* sub = app.add_subcommand(
      "isolation", "Which endpoints can reach each other without the IOMMU, next to Linux's IOMMU groups (exit 1 on disagreement)");
  sub->add_option("TOPOLOGY", args->file, "Topology file (YAML)")->required();
  sub->add_flag("--json", args->json, "JSON output (the matrix, the pairs, the disagreements)");
  sub->add_option("--acs-override", args->acs_override,
                  "pcie_acs_override patch: downstream,multifunction,id:VVVV:DDDD (groups only)");
  sub->add_option("--config-acs", args->config_acs,
                  "pci=config_acs=FLAGS@DEVICE[;...]: rewrites ACS control at boot (fabric and groups)");
  sub->add_flag("--exhaustive", args->exhaustive, "Real TLPs on every pair (default up to 64 endpoint functions)");
  sub->add_flag("--analytic", args->analytic, "Analytic walk plus a sample of real TLPs (default above 64)");
  sub->add_option("--sample", args->sample, "Real TLPs confirming the analytic walk (default 1000)");
  sub->add_option("--seed", args->seed, "Seed of the sample (default 1)");
  sub->callback([args, &exit_code] { exit_code = guarded([args] { return run_isolation(*args); }); });
}

}  // namespace pciesim::cli
