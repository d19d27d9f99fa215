// pciesim run [SCENARIO|DIR...] [--json FILE] [--junit FILE] [--trace FILE] [--report DIR] [-j N] [--shard I/N]
// Runs scenario files (docs/scenarios.md); without arguments the shipped library
// (scenarios/library/). Every file is parsed first (a bad one: exit 2 before anything runs); then
// each scenario runs in a process of its own (SystemC elaborates one design per process), up to
// N at once. Prints the verdict table; exit 0 only when every expectation held, else 1.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "cli_common.h"
#include "commands.h"
#include "fork_pool.h"
#include "scenario/report_html.h"
#include "scenario/scenario.h"
#include "scenario/scenario_report.h"
#include "scenario/scenario_trace.h"

namespace pciesim::cli {

namespace {

namespace fs = std::filesystem;
using scenario::ScenarioResult;

struct RunArgs {
  std::vector<std::string> files;
  std::string json, junit, shard, trace, report;
  unsigned jobs = 1;
};

std::string default_library() {
  if (fs::is_directory("scenarios/library")) return "scenarios/library";
  return std::string(PCIESIM_SOURCE_DIR) + "/scenarios/library";
}

std::vector<std::string> expand(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const std::string& a : args.empty() ? std::vector<std::string>{default_library()} : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> in_dir;
      for (const auto& e : fs::directory_iterator(a))
        if (e.is_regular_file() && (e.path().extension() == ".yaml" || e.path().extension() == ".yml"))
          in_dir.push_back(e.path().string());
      std::sort(in_dir.begin(), in_dir.end());
      if (in_dir.empty()) throw UsageError("no scenario files (*.yaml) in " + a);
      out.insert(out.end(), in_dir.begin(), in_dir.end());
    } else {
      out.push_back(a);
    }
  }
  return out;
}

// "I/N", 1 <= I <= N: scenario k (0-based, in sorted order) belongs to shard (k mod N) + 1.
std::pair<unsigned, unsigned> parse_shard(const std::string& s) {
  unsigned i = 0, n = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%u/%u%c", &i, &n, &tail) != 2 || n == 0 || i == 0 || i > n)
    throw UsageError("--shard takes I/N with 1 <= I <= N, e.g. 2/4; got '" + s + "'");
  return {i, n};
}

class Progress {
 public:
  explicit Progress(size_t total) : m_total(total), m_tty(isatty(STDERR_FILENO)) {}
  void done(const ScenarioResult& r) {
    ++m_done;
    if (m_tty) {
      constexpr size_t kWidth = 30;
      const size_t fill = m_total ? m_done * kWidth / m_total : kWidth;
      std::cerr << "\r[" << std::string(fill, '#') << std::string(kWidth - fill, ' ') << "] " << m_done << "/"
                << m_total << " " << r.name << "\x1b[K" << std::flush;
      if (m_done == m_total) std::cerr << "\n";
    } else {
      std::cerr << "[" << m_done << "/" << m_total << "] " << (r.passed() ? "PASS " : "FAIL ") << r.name << "\n";
    }
  }

 private:
  size_t m_total, m_done = 0;
  bool m_tty;
};

// A worker: runs the scenario, writes its result (or a bad-input message) as JSON to `out`.
// With `trace`, the result carries the scenario's trace records too (scenario_trace.h); with
// `report`, the booted machine and its groups (report_machine.h).
[[noreturn]] void worker(const scenario::Scenario& s, const std::string& out, bool trace, bool report) {
  nlohmann::json j;
  int code = 0;
  try {
    const ScenarioResult r = scenario::run_scenario(s);
    j = scenario::to_json(r);
    if (trace) j["trace"] = scenario::trace_to_json(r.trace);
    if (report) j["machine"] = scenario::machine_to_json(r.machine);
  } catch (const topo::TopologyError& e) {
    j = {{"bad_input", e.what()}};
    code = kExitBadInput;
  }
  std::ofstream(out) << j.dump();
  std::cout.flush();
  std::cerr.flush();
  _exit(code);
}

int run_run(const RunArgs& a) {
  std::vector<std::string> files = expand(a.files);
  if (!a.shard.empty()) {
    auto [i, n] = parse_shard(a.shard);
    std::vector<std::string> mine;
    for (size_t k = 0; k < files.size(); ++k)
      if (k % n == i - 1) mine.push_back(files[k]);
    files = mine;
  }
  if (a.jobs == 0) throw UsageError("-j takes a number of processes >= 1");
  std::vector<scenario::Scenario> scenarios;
  for (const std::string& f : files) scenarios.push_back(scenario::parse_scenario_file(f));
  if (!a.report.empty()) {  // before anything runs: a report that cannot be written is bad input
    std::error_code ec;
    fs::create_directories(a.report, ec);
    if (!fs::is_directory(a.report)) throw UsageError("--report: cannot create the directory " + a.report + (ec ? ": " + ec.message() : ""));
  }
  const bool trace = !a.trace.empty() || !a.report.empty();  // --report embeds the trace

  std::vector<ScenarioResult> results(scenarios.size());
  Progress progress(scenarios.size());
  std::string bad_input;
  run_forked(
      scenarios.size(), a.jobs,
      [&](size_t k, const std::string& out) { worker(scenarios[k], out, trace, !a.report.empty()); },
      [&](size_t k, ForkResult&& f) {
        ScenarioResult& r = results[k];
        const nlohmann::json& j = f.doc;
        if (!j.is_discarded() && j.contains("bad_input")) {
          bad_input += j["bad_input"].get<std::string>() + "\n";
          r.name = scenarios[k].name;
          r.file = scenarios[k].file;
          r.error = "bad input";
        } else if (const std::string why = f.failure("scenario"); why.empty()) {
          r = scenario::result_from_json(j);
          if (j.contains("trace")) r.trace = scenario::trace_from_json(j["trace"]);
          if (j.contains("machine")) r.machine = scenario::machine_from_json(j["machine"]);
        } else {
          r.name = scenarios[k].name;
          r.file = scenarios[k].file;
          r.error = why;
        }
        progress.done(r);
      });
  if (!bad_input.empty()) {
    std::cerr << bad_input;
    return kExitBadInput;
  }
  scenario::print_table(std::cout, results);
  if (!a.json.empty()) {
    std::ofstream o(a.json);
    if (!o) throw UsageError("cannot write " + a.json);
    o << scenario::suite_json(results).dump(2) << "\n";
  }
  if (!a.junit.empty()) {
    std::ofstream o(a.junit);
    if (!o) throw UsageError("cannot write " + a.junit);
    scenario::write_junit(o, results);
  }
  if (!a.trace.empty()) {
    std::ofstream o(a.trace);
    if (!o) throw UsageError("cannot write " + a.trace);
    o << scenario::chrome_trace(results).dump() << "\n";
  }
  if (!a.report.empty()) {
    scenario::write_report(a.report, scenarios, results, a.jobs);
    std::cerr << "report: " << (fs::path(a.report) / "index.html").string() << "\n";
  }
  return std::all_of(results.begin(), results.end(), [](const ScenarioResult& r) { return r.passed(); })
             ? kExitOk
             : kExitFailed;
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* sub = app.add_subcommand("run", "Run scenario files and print the verdict table (default: the scenario library)");
  sub->add_option("SCENARIO", args->files, "Scenario files or directories of them (default: scenarios/library)");
  sub->add_option("--json", args->json, "Also write the results as JSON to FILE");
  sub->add_option("--junit", args->junit, "Also write JUnit XML to FILE");
  sub->add_option("--trace", args->trace, "Also write a Chrome/Perfetto trace (JSON) of every transaction to FILE");
  sub->add_option("--report", args->report,
                  "Also write DIR/index.html (one self-contained page: verdicts, timelines, topology drawings, "
                  "isolation matrices) and DIR/trace.json");
  sub->add_option("-j,--jobs", args->jobs, "Scenarios run in parallel processes (default 1)");
  sub->add_option("--shard", args->shard, "Run only slice I of N (I/N): every Nth scenario in sorted order");
  sub->callback([args, &exit_code] { exit_code = guarded([args] { return run_run(*args); }); });
}

}  // namespace pciesim::cli
