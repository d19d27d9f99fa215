// How scenario results read: the verdict table, JSON (also what a worker process hands back to
// `pciesim run`), and JUnit XML for CI systems.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "scenario.h"

namespace pciesim::scenario {

nlohmann::json to_json(const ScenarioResult& r);
ScenarioResult result_from_json(const nlohmann::json& j);

// scenario | step | expected | observed | PASS/FAIL, then each scenario's time to verdict.
void print_table(std::ostream& out, const std::vector<ScenarioResult>& results);
nlohmann::json suite_json(const std::vector<ScenarioResult>& results);
// <testsuites><testsuite name=scenario><testcase name="step N: ..."><failure/>...
void write_junit(std::ostream& out, const std::vector<ScenarioResult>& results);

}  // namespace pciesim::scenario
