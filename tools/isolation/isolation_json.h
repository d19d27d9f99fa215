// The isolation oracle's run and its JSON document, shared by `pciesim isolation --json`
// (tools/cmd_isolation.cpp) and the HTML report of `pciesim run --report`
// (tools/scenario/report_isolation.cpp): which mode classified the matrix, Linux's groups next to
// it, every pair and every disagreement in words (docs/isolation.md).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "isolation.h"
#include "linux_acs.h"

namespace pciesim::isolation {

// Real TLPs on every pair up to this many endpoint functions (2 x BARs x n(n-1) requests);
// above it the analytic walk with a sample (docs/isolation.md, "Modes").
constexpr size_t kExhaustiveLimit = 64;

struct ClassifyOptions {
  bool exhaustive = false, analytic = false;  // force a mode; neither: by kExhaustiveLimit
  unsigned sample = 1000;                     // real TLPs confirming the analytic walk
  uint64_t seed = 1;
};

struct IsolationRun {
  IsolationMatrix matrix;
  SampleReport sample;
  std::string mode;  // "exhaustive" or "analytic"
  double seconds = 0;
};
IsolationRun classify(Fabric& fabric, const ClassifyOptions& o);

// "3", or "none" for a function Linux does not group.
std::string group_text(int g);
// 'o' open, 'i' via-iommu, 'b' blocked, '-' none (the matrix rows of the JSON document).
char class_char(PathClass c);
// The plain-words meaning of a disagreement.
std::string explain(Fabric& fabric, const IsolationMatrix& m, const Disagreement& d, bool has_iommu);

// Everything `pciesim isolation --json` prints.
struct IsolationDocument {
  std::string topology;  // the file named on the command line
  IsolationRun run;
  bool has_iommu = false;
  AcsOverride acs_override;
  ConfigAcs config_acs;
  std::vector<std::string> base_changes, config_changes;
  std::vector<AcsRegister> acs_registers;  // firmware's ACS control and what Linux's boot wrote
  groups::GroupResult groups;
  Comparison comparison;
  bool options = false;             // an override or config_acs was given
  std::vector<int> base_group_of;   // options: each endpoint's group without them
  bool agree() const;               // no disagreement, no analytic mismatch, groups decidable
};
nlohmann::json isolation_json(Fabric& fabric, const IsolationDocument& d);

// What `pciesim isolation FILE` computes without options, on an enumerated fabric: Bus Master on
// every endpoint function, Linux's boot-time ACS (pci_enable_acs), the groups Linux forms, the
// matrix in the mode its size calls for.
IsolationDocument default_isolation(Fabric& fabric, const std::string& topology, const ClassifyOptions& o = {});

// Then Linux booted with pcie_acs_override (groups only) and/or pci=config_acs= (rewrites the ACS
// registers: the matrix is classified again): the default groups kept as base_group_of, the
// groups that kernel forms, compared with the matrix. Nothing to do when neither is given.
void apply_boot_options(Fabric& fabric, IsolationDocument& d, const AcsOverride& ov, const ConfigAcs& cfg,
                        const ClassifyOptions& o = {});

}  // namespace pciesim::isolation
