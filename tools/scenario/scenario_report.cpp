#include "scenario_report.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace pciesim::scenario {

nlohmann::json to_json(const ScenarioResult& r) {
  nlohmann::json steps = nlohmann::json::array();
  for (const StepResult& s : r.steps)
    steps.push_back({{"index", s.index}, {"kind", s.kind}, {"label", s.label}, {"expected", s.expected},
                     {"observed", s.observed}, {"pass", s.pass}, {"line", s.line}});
  nlohmann::json j = {{"file", r.file}, {"name", r.name}, {"passed", r.passed()}, {"wall_ms", r.wall_ms},
                      {"sim_ns", r.sim_ns}, {"steps", steps}};
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

ScenarioResult result_from_json(const nlohmann::json& j) {
  ScenarioResult r;
  r.file = j.at("file").get<std::string>();
  r.name = j.at("name").get<std::string>();
  r.wall_ms = j.at("wall_ms").get<double>();
  r.sim_ns = j.at("sim_ns").get<double>();
  if (j.contains("error")) r.error = j["error"].get<std::string>();
  for (const auto& s : j.at("steps")) {
    StepResult sr;
    sr.index = s.at("index").get<int>();
    sr.kind = s.at("kind").get<std::string>();
    sr.label = s.at("label").get<std::string>();
    sr.expected = s.at("expected").get<std::string>();
    sr.observed = s.at("observed").get<std::string>();
    sr.pass = s.at("pass").get<bool>();
    sr.line = s.at("line").get<int>();
    r.steps.push_back(sr);
  }
  return r;
}

namespace {
std::string cut(const std::string& s, size_t w) { return s.size() <= w ? s : s.substr(0, w - 1) + "~"; }
}  // namespace

void print_table(std::ostream& out, const std::vector<ScenarioResult>& results) {
  constexpr size_t kScen = 28, kStep = 44, kExp = 34;
  out << std::left << std::setw(kScen) << "SCENARIO" << "  " << std::setw(kStep) << "STEP" << "  "
      << std::setw(kExp) << "EXPECTED" << "  " << "RESULT" << "  OBSERVED\n";
  size_t passed = 0, failed = 0;
  for (const ScenarioResult& r : results) {
    for (const StepResult& s : r.steps) {
      std::ostringstream step;
      step << s.index << ". " << s.label;
      out << std::setw(kScen) << cut(r.name, kScen) << "  " << std::setw(kStep) << cut(step.str(), kStep) << "  "
          << std::setw(kExp) << cut(s.expected, kExp) << "  " << (s.pass ? "PASS  " : "FAIL  ") << "  " << s.observed << "\n";
    }
    if (!r.error.empty())
      out << std::setw(kScen) << cut(r.name, kScen) << "  " << std::setw(kStep) << "(run stopped)" << "  "
          << std::setw(kExp) << "" << "  FAIL    " << r.error << "\n";
    (r.passed() ? passed : failed)++;
  }
  out << "\n";
  for (const ScenarioResult& r : results)
    out << (r.passed() ? "PASS  " : "FAIL  ") << std::setw(kScen) << r.name << "  time to verdict " << std::fixed
        << std::setprecision(1) << r.wall_ms << " ms (simulated " << std::setprecision(3) << r.sim_ns / 1000.0
        << " us)  " << r.file << "\n";
  out << passed << " passed, " << failed << " failed\n";
}

nlohmann::json suite_json(const std::vector<ScenarioResult>& results) {
  nlohmann::json j;
  j["scenarios"] = nlohmann::json::array();
  size_t failed = 0;
  for (const ScenarioResult& r : results) {
    j["scenarios"].push_back(to_json(r));
    failed += !r.passed();
  }
  j["passed"] = results.size() - failed;
  j["failed"] = failed;
  return j;
}

namespace {
std::string xml(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') o += ' ';
        else o += c;
    }
  }
  return o;
}
}  // namespace

void write_junit(std::ostream& out, const std::vector<ScenarioResult>& results) {
  size_t tests = 0, failures = 0, errors = 0;
  double total = 0;
  for (const ScenarioResult& r : results) {
    tests += r.steps.size() + (r.error.empty() ? 0 : 1);
    for (const StepResult& s : r.steps) failures += !s.pass;
    errors += !r.error.empty();
    total += r.wall_ms;
  }
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites name=\"pciesim run\" tests=\"" << tests << "\" failures=\"" << failures << "\" errors=\""
      << errors << "\" time=\"" << total / 1000.0 << "\">\n";
  for (const ScenarioResult& r : results) {
    size_t f = 0;
    for (const StepResult& s : r.steps) f += !s.pass;
    const double per_step = r.steps.empty() ? 0 : r.wall_ms / 1000.0 / static_cast<double>(r.steps.size());
    out << "  <testsuite name=\"" << xml(r.name) << "\" file=\"" << xml(r.file) << "\" tests=\""
        << r.steps.size() + (r.error.empty() ? 0 : 1) << "\" failures=\"" << f << "\" errors=\""
        << (r.error.empty() ? 0 : 1) << "\" time=\"" << r.wall_ms / 1000.0 << "\">\n";
    for (const StepResult& s : r.steps) {
      out << "    <testcase classname=\"" << xml(r.name) << "\" name=\"step " << s.index << ": " << xml(s.label)
          << "\" file=\"" << xml(r.file) << "\" line=\"" << s.line << "\" time=\"" << per_step << "\">";
      if (!s.pass)
        out << "\n      <failure message=\"expected " << xml(s.expected) << "\">observed: " << xml(s.observed)
            << "</failure>\n    ";
      out << "</testcase>\n";
    }
    if (!r.error.empty())
      out << "    <testcase classname=\"" << xml(r.name) << "\" name=\"setup\"><error message=\"" << xml(r.error)
          << "\"/></testcase>\n";
    out << "  </testsuite>\n";
  }
  out << "</testsuites>\n";
}

}  // namespace pciesim::scenario
