// pciesim isolation TOPOLOGY [--json] [--acs-override LIST] [--config-acs SPEC]
//                            [--exhaustive|--analytic] [--sample N] [--seed S]
// For every ordered pair of endpoint functions, where a P2P request to each memory BAR goes
// (open / via-iommu / blocked), next to the IOMMU groups Linux forms on the same machine; every
// pair on which the two disagree is listed (docs/isolation.md). Exit 0: they agree; 1: they
// disagree (or the analytic walk disagreed with a sampled real TLP); 2: bad input.
#include <CLI/CLI.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "isolation/analytic_router.h"
#include "isolation/linux_acs.h"
#include "pcie/port_registry.h"

namespace pciesim::cli {

namespace {

using namespace pciesim::isolation;

// Real TLPs on every pair up to this many endpoint functions (2 x BARs x n(n-1) requests);
// above it the analytic walk with a sample (docs/isolation.md, "Modes").
constexpr size_t kExhaustiveLimit = 64;

struct IsolationArgs {
  std::string file, acs_override, config_acs;
  bool json = false, exhaustive = false, analytic = false;
  unsigned sample = 1000;
  uint64_t seed = 1;
};

struct Run {
  IsolationMatrix matrix;
  SampleReport sample;
  std::string mode;
  double seconds = 0;
};

Run classify(Fabric& fabric, const IsolationArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  Run r;
  const bool exhaustive = a.exhaustive || (!a.analytic && endpoint_functions(fabric).size() <= kExhaustiveLimit);
  if (exhaustive) {
    r.mode = "exhaustive";
    r.matrix = exhaustive_matrix(fabric);
  } else {
    r.mode = "analytic";
    r.matrix = analytic_matrix(fabric);
    r.sample = confirm_sample(fabric, r.matrix, a.sample, a.seed);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// Text output lists at most this many lines of one kind; --json has them all.
constexpr size_t kListLimit = 20;

void print_limited(const std::vector<std::string>& lines, const char* indent, size_t total = 0) {
  if (!total) total = lines.size();
  for (size_t i = 0; i < lines.size() && i < kListLimit; ++i) std::cout << indent << lines[i] << "\n";
  if (total > kListLimit) std::cout << indent << "... and " << total - kListLimit << " more (--json lists them all)\n";
}

std::string group_text(int g) { return g >= 0 ? std::to_string(g) : "none"; }

char class_char(PathClass c) {
  switch (c) {
    case PathClass::Open: return 'o';
    case PathClass::ViaIommu: return 'i';
    case PathClass::Blocked: return 'b';
    case PathClass::None: return '-';
  }
  return '?';
}

// The plain-words meaning of a disagreement.
std::string explain(Fabric& fabric, const IsolationMatrix& m, const Disagreement& d, bool has_iommu) {
  const std::string a = label(*m.endpoints[d.a]), b = label(*m.endpoints[d.b]);
  if (d.kind == Disagreement::SplitButOpen) {
    const TlpResult& r = m.at(d.a, d.b).decisive;
    std::ostringstream addr;
    addr << "0x" << std::hex << r.addr;
    return "Linux puts " + a + " (group " + group_text(d.group_a) + ") and " + b + " (group " +
           group_text(d.group_b) + ") in different IOMMU groups, yet a write from the first to the second's BAR (" +
           addr.str() + ") takes the path " + path_text(fabric, *m.endpoints[d.a], r.addr, TlpKind::MemWrite) +
           " and never reaches the " + (has_iommu ? "IOMMU" : "host bridge") +
           ". Given to different owners (two VMs, or a VM and the host), the first device can read and write the "
           "second behind the IOMMU's back: the groups promise an isolation the fabric does not provide.";
  }
  return "Linux groups " + a + " and " + b + " together (group " + group_text(d.group_a) +
         "), yet no request between them passes without the IOMMU; they could have been isolated "
         "(conservative, not a hole).";
}

int run_isolation(const IsolationArgs& a) {
  if (a.exhaustive && a.analytic) throw UsageError("give at most one of --exhaustive and --analytic");
  const AcsOverride ov = a.acs_override.empty() ? AcsOverride{} : parse_acs_override(a.acs_override);
  const ConfigAcs cfg = a.config_acs.empty() ? ConfigAcs{} : parse_config_acs(a.config_acs);
  if (!a.acs_override.empty() && !ov.any()) throw UsageError("--acs-override: empty list");
  Machine machine = load_machine(a.file);
  Fabric& fabric = *machine.fabric;
  const bool has_iommu = !fabric.iommus().empty();
  enable_bus_masters(fabric);
  std::vector<AcsRegister> regs = read_acs_registers(fabric);

  // Linux as it boots by default: the baseline.
  std::vector<std::string> base_changes = apply_linux_acs(fabric, regs, ConfigAcs{});
  const groups::GroupResult base_groups = linux_groups(fabric, AcsOverride{}, a.file);
  const bool options = ov.any() || cfg.any();
  Run run;
  std::vector<std::string> cfg_changes;
  groups::GroupResult g = base_groups;
  std::vector<int> base_group_of;
  if (options) {
    // config_acs rewrites the real registers: the fabric changes; the override only the groups.
    Run base = classify(fabric, a);
    base_group_of = compare_with_groups(base.matrix, base_groups).group;
    cfg_changes = apply_linux_acs(fabric, regs, cfg);
    g = linux_groups(fabric, ov, a.file);
    run = classify(fabric, a);
  } else {
    run = classify(fabric, a);
  }
  const IsolationMatrix& m = run.matrix;
  const Comparison cmp = compare_with_groups(m, g);
  const bool ok = cmp.agree() && run.sample.mismatches.empty() && g.decidable;

  if (a.json) {
    nlohmann::json eps = nlohmann::json::array();
    for (size_t i = 0; i < m.size(); ++i) {
      nlohmann::json e = {{"bdf", m.endpoints[i]->bdf_string()}, {"name", m.endpoints[i]->fn->name()},
                          {"group", cmp.group[i] >= 0 ? nlohmann::json(cmp.group[i]) : nlohmann::json(nullptr)}};
      if (options) e["group_without_options"] = base_group_of[i] >= 0 ? nlohmann::json(base_group_of[i]) : nlohmann::json(nullptr);
      eps.push_back(e);
    }
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i < m.size(); ++i) {
      std::string row;
      for (size_t j = 0; j < m.size(); ++j) row += i == j ? 'x' : class_char(m.at(i, j).cls);
      rows.push_back(row);
    }
    nlohmann::json pairs = nlohmann::json::array();
    const bool all = m.size() <= kExhaustiveLimit;
    for (size_t i = 0; i < m.size(); ++i)
      for (size_t j = 0; j < m.size(); ++j) {
        if (i == j) continue;
        const PairCell& c = m.at(i, j);
        const bool split = c.cls == PathClass::Open && !(cmp.group[i] >= 0 && cmp.group[i] == cmp.group[j]);
        if (!all && !split) continue;
        nlohmann::json p = {{"from", m.endpoints[i]->bdf_string()}, {"to", m.endpoints[j]->bdf_string()},
                            {"class", to_string(c.cls)}, {"requests", c.requests}, {"analytic", c.analytic},
                            {"confirmed", c.confirmed}};
        if (c.cls != PathClass::None) {
          p["outcome"] = pciesim::to_string(c.decisive.outcome);
          p["at"] = c.decisive.port == kNoHop ? nlohmann::json(nullptr) : nlohmann::json(hops().describe(c.decisive.port));
          if (c.decisive.bit != AcsBit::None) p["acs_bit"] = pciesim::to_string(c.decisive.bit);
          if (c.decisive.redirect_bit != AcsBit::None) {
            p["redirected_by"] = pciesim::to_string(c.decisive.redirect_bit);
            p["redirected_at"] = hops().describe(c.decisive.redirect_port);
          }
          p["detail"] = describe(c.decisive);
        }
        pairs.push_back(p);
      }
    nlohmann::json dis = nlohmann::json::array();
    for (const Disagreement& d : cmp.disagreements)
      dis.push_back({{"kind", d.kind == Disagreement::SplitButOpen ? "split-but-open" : "grouped-but-isolated"},
                     {"a", m.endpoints[d.a]->bdf_string()}, {"b", m.endpoints[d.b]->bdf_string()},
                     {"group_a", d.group_a}, {"group_b", d.group_b}, {"meaning", explain(fabric, m, d, has_iommu)}});
    print_json({{"topology", a.file}, {"mode", run.mode}, {"seconds", run.seconds}, {"has_iommu", has_iommu},
                {"acs_override", ov.text()}, {"config_acs", cfg.text()},
                {"linux_acs_changes", base_changes}, {"config_acs_changes", cfg_changes},
                {"groups_decidable", g.decidable}, {"undecidable_because", g.undecidable_because},
                {"endpoints", eps}, {"matrix", {{"legend", "o open, i via-iommu, b blocked, - no memory BAR, x self"}, {"rows", rows}}},
                {"pairs", pairs}, {"pairs_listed", all ? "all" : "split-but-open only"},
                {"counts", {{"open", m.count(PathClass::Open)}, {"via_iommu", m.count(PathClass::ViaIommu)},
                            {"blocked", m.count(PathClass::Blocked)}}},
                {"sample", {{"sent", run.sample.sent}, {"mismatches", run.sample.mismatches}}},
                {"disagreements", dis}, {"agree", ok}});
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
