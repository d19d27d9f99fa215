#include "isolation_json.h"

#include <chrono>
#include <sstream>

#include "analytic_router.h"
#include "pcie/port_registry.h"

namespace pciesim::isolation {

IsolationRun classify(Fabric& fabric, const ClassifyOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  IsolationRun r;
  const bool exhaustive = o.exhaustive || (!o.analytic && endpoint_functions(fabric).size() <= kExhaustiveLimit);
  if (exhaustive) {
    r.mode = "exhaustive";
    r.matrix = exhaustive_matrix(fabric);
  } else {
    r.mode = "analytic";
    r.matrix = analytic_matrix(fabric);
    r.sample = confirm_sample(fabric, r.matrix, o.sample, o.seed);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
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

bool IsolationDocument::agree() const { return comparison.agree() && run.sample.mismatches.empty() && groups.decidable; }

nlohmann::json isolation_json(Fabric& fabric, const IsolationDocument& d) {
  const IsolationMatrix& m = d.run.matrix;
  const Comparison& cmp = d.comparison;
  nlohmann::json eps = nlohmann::json::array();
  for (size_t i = 0; i < m.size(); ++i) {
    nlohmann::json e = {{"bdf", m.endpoints[i]->bdf_string()}, {"name", m.endpoints[i]->fn->name()},
                        {"group", cmp.group[i] >= 0 ? nlohmann::json(cmp.group[i]) : nlohmann::json(nullptr)}};
    if (d.options)
      e["group_without_options"] = d.base_group_of[i] >= 0 ? nlohmann::json(d.base_group_of[i]) : nlohmann::json(nullptr);
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
  for (const Disagreement& x : cmp.disagreements)
    dis.push_back({{"kind", x.kind == Disagreement::SplitButOpen ? "split-but-open" : "grouped-but-isolated"},
                   {"a", m.endpoints[x.a]->bdf_string()}, {"b", m.endpoints[x.b]->bdf_string()},
                   {"group_a", x.group_a}, {"group_b", x.group_b}, {"meaning", explain(fabric, m, x, d.has_iommu)}});
  return {{"topology", d.topology}, {"mode", d.run.mode}, {"seconds", d.run.seconds}, {"has_iommu", d.has_iommu},
          {"acs_override", d.acs_override.text()}, {"config_acs", d.config_acs.text()},
          {"linux_acs_changes", d.base_changes}, {"config_acs_changes", d.config_changes},
          {"groups_decidable", d.groups.decidable}, {"undecidable_because", d.groups.undecidable_because},
          {"endpoints", eps}, {"matrix", {{"legend", "o open, i via-iommu, b blocked, - no memory BAR, x self"}, {"rows", rows}}},
          {"pairs", pairs}, {"pairs_listed", all ? "all" : "split-but-open only"},
          {"counts", {{"open", m.count(PathClass::Open)}, {"via_iommu", m.count(PathClass::ViaIommu)},
                      {"blocked", m.count(PathClass::Blocked)}}},
          {"sample", {{"sent", d.run.sample.sent}, {"mismatches", d.run.sample.mismatches}}},
          {"disagreements", dis}, {"agree", d.agree()}};
}

IsolationDocument default_isolation(Fabric& fabric, const std::string& topology, const ClassifyOptions& o) {
  IsolationDocument d;
  d.topology = topology;
  d.has_iommu = !fabric.iommus().empty();
  enable_bus_masters(fabric);
  d.acs_registers = read_acs_registers(fabric);
  d.base_changes = apply_linux_acs(fabric, d.acs_registers, ConfigAcs{});
  d.groups = linux_groups(fabric, AcsOverride{}, topology);
  d.run = classify(fabric, o);
  d.comparison = compare_with_groups(d.run.matrix, d.groups);
  return d;
}

void apply_boot_options(Fabric& fabric, IsolationDocument& d, const AcsOverride& ov, const ConfigAcs& cfg,
                        const ClassifyOptions& o) {
  if (!ov.any() && !cfg.any()) return;
  d.options = true;
  d.acs_override = ov;
  d.config_acs = cfg;
  d.base_group_of = d.comparison.group;
  d.config_changes = apply_linux_acs(fabric, d.acs_registers, cfg);
  d.groups = linux_groups(fabric, ov, d.topology);
  if (cfg.any()) d.run = classify(fabric, o);
  d.comparison = compare_with_groups(d.run.matrix, d.groups);
}

}  // namespace pciesim::isolation
