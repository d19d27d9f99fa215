// Exit codes of the pciesim CLI: 0 success, 1 a run whose expectations failed, 2 bad input.
#pragma once

#include <stdexcept>
#include <string>

namespace pciesim::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;

// A user error that is not about a topology file (bad BDF on the command line, etc.).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace pciesim::cli
