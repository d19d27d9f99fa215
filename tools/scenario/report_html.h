// `pciesim run --report DIR` (docs/scenarios.md, "The HTML report"): DIR/index.html, one
// self-contained page (inline CSS, SVG and script; nothing fetched), and DIR/trace.json (the Chrome
// trace `--trace` writes). Per scenario: its verdict table, whose rows link to the step's bar in
// an inline timeline; the machine drawn with each endpoint function in its IOMMU group's colour;
// the isolation matrix of its topology next to Linux's groups. The page's own script records any
// script error into <html data-errors> and sets <body data-render="ok"> when it has run.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "report_isolation.h"
#include "scenario.h"

namespace pciesim::scenario {

struct ReportScenario {
  const ScenarioResult* result = nullptr;
  std::string description;
  std::string topology_key;  // into ReportInput::isolation (topology_key())
};

struct ReportInput {
  std::string command_line;
  std::vector<ReportScenario> scenarios;  // in run order: scenario k is process k + 1 in the trace
  std::map<std::string, TopologyIsolation> isolation;
  std::string trace_file = "trace.json";
};

std::string report_html(const ReportInput& in);

// Pieces the page is made of (for tests).
std::string scenario_anchor(size_t scenario);  // "scenario-<k>", the section's id
// The class of an isolation matrix cell from its letter in the isolation document's rows
// ('o' open, 'i' via-iommu, 'b' blocked, '-' no memory BAR, 'x' self).
std::string matrix_cell_class(char c);
// The isolation matrix (a <table class="matrix">), the disagreements in words, and the mode note.
std::string isolation_html(const nlohmann::json& doc);
// The legend of a drawing: one entry per IOMMU group with its colour and members.
std::string group_legend_html(const ScenarioMachine& m);

// This process's command line, as a shell would take it back (/proc/self/cmdline).
std::string command_line();

// Computes the isolation of every distinct topology (forked processes, up to `jobs` at once) and
// writes DIR/index.html and DIR/trace.json. DIR must exist. Throws std::runtime_error when a file
// cannot be written.
void write_report(const std::string& dir, const std::vector<Scenario>& scenarios,
                  const std::vector<ScenarioResult>& results, unsigned jobs);

}  // namespace pciesim::scenario
