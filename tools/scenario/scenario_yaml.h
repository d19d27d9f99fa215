// The YAML helpers of the scenario parsers (scenario_parser.cpp, scenario_irq_parse.cpp): every
// error is a ScenarioError with file:line:col and the field; unknown keys are named with the
// allowed list; numbers take 0x.. or decimal.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "cli_common.h"
#include "scenario.h"

namespace pciesim::scenario {

class ScenarioFields {
 public:
  explicit ScenarioFields(std::string file) : m_file(std::move(file)) {}

  SourceLoc at_mark(const YAML::Mark& mk) const {
    return mk.is_null() ? SourceLoc{m_file, 0, 0} : SourceLoc{m_file, mk.line + 1, mk.column + 1};
  }
  SourceLoc loc(const YAML::Node& n) const { return at_mark(n.Mark()); }
  [[noreturn]] void fail(const YAML::Node& n, const std::string& field, const std::string& msg) const {
    throw ScenarioError(loc(n), field, msg);
  }

  // The keys of a mapping, each checked against `allowed`; returns key name -> key node.
  std::map<std::string, YAML::Node> fields(const YAML::Node& n, const std::string& what,
                                           const std::set<std::string>& allowed) const {
    if (!n.IsMap()) fail(n, what, "expected a mapping");
    std::map<std::string, YAML::Node> out;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (!allowed.count(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(it->first, what + "." + key, "unknown key (allowed: " + list + ")");
      }
      out[key] = it->first;
    }
    return out;
  }
  YAML::Node require(const YAML::Node& n, const std::string& key, const std::string& what) const {
    if (!n[key]) fail(n, what + "." + key, "required key is missing");
    return n[key];
  }
  std::string text_of(const YAML::Node& n, const std::string& field) const {
    if (!n.IsScalar() || n.Scalar().empty()) fail(n, field, "expected a non-empty string");
    return n.Scalar();
  }
  // `example` is what the error message offers as a valid spelling.
  uint64_t number(const YAML::Node& n, const std::string& field, uint64_t max = ~0ull,
                  const char* example = "0x1000 or 4096") const {
    if (!n.IsScalar()) fail(n, field, "expected a number");
    const std::string& t = n.Scalar();
    try {
      size_t used = 0;
      if (!t.empty() && t[0] == '-') throw std::invalid_argument(t);
      const uint64_t v = std::stoull(t, &used, 0);
      if (used != t.size()) throw std::invalid_argument(t);
      if (v > max) fail(n, field, "'" + t + "' is larger than " + std::to_string(max));
      return v;
    } catch (const std::logic_error&) {
      fail(n, field, "'" + t + "' is not a number (" + example + ")");
    }
  }
  bool boolean(const YAML::Node& n, const std::string& field) const {
    bool b = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b)) fail(n, field, "expected true or false");
    return b;
  }
  // A bus:device.function ("05:00.0"), checked as the CLI's --spoof is.
  void bdf(const YAML::Node& n, const std::string& field) const {
    try {
      cli::parse_bdf(text_of(n, field));
    } catch (const std::exception& e) {
      fail(n, field, e.what());
    }
  }

 protected:
  std::string m_file;
};

}  // namespace pciesim::scenario
