// Runs the real pciesim binary (PCIESIM_BINARY, set by tests/CMakeLists.txt) as a user would and
// collects its exit code and output, for the CLI tests.
#pragma once

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace cli_test {

struct CliRun {
  int code;
  std::string out;  // stdout and stderr
};

inline CliRun pciesim(const std::string& args) {
  std::string cmd = std::string(PCIESIM_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  CliRun r{-1, ""};
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::string src(const std::string& rel) { return std::string(PCIESIM_SOURCE_ROOT) + "/" + rel; }

}  // namespace cli_test
