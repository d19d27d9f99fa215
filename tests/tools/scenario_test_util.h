// Helpers shared by the scenario tests: scenario files written to the test's temporary directory,
// and the shipped topologies by absolute path (so a scenario in /tmp can name them).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace scenario_test {

inline std::string topology(const std::string& name) {
  return std::string(PCIESIM_SOURCE_ROOT) + "/scenarios/topologies/" + name + ".yaml";
}

inline std::string library(const std::string& name) {
  return std::string(PCIESIM_SOURCE_ROOT) + "/scenarios/library/" + name + ".yaml";
}

// Writes `text` to TempDir()/<test name>-<file> and returns the path.
inline std::string write_file(const std::string& file, const std::string& text) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string path = ::testing::TempDir() + "pciesim-" + info->test_suite_name() + "-" + info->name() + "-" + file;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path;
}

}  // namespace scenario_test
