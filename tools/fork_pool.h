// Work that needs a SystemC design of its own (one per process: sc_main elaborates once) runs in
// forked processes: `pciesim run` (one scenario each) and its report's isolation matrices (one
// topology each). Each child writes one JSON document to the file it is given and _exits; the
// parent reads it back when the child ends.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <string>

namespace pciesim::cli {

struct ForkResult {
  nlohmann::json doc;    // what the child wrote; is_discarded() when it wrote nothing readable
  bool exited = false;   // ended by _exit/exit (WIFEXITED), not by a signal
  int signal = 0;        // the signal that ended it, else 0
  // "the <what>'s process died of signal N" / "the <what>'s process left no result", or "" when
  // the child exited and its document parsed.
  std::string failure(const std::string& what) const;
};

// Runs job 0..count-1, each in a forked child running `child(k, out_file)` (which must not
// return: it writes its document to out_file and _exits), at most `jobs` at once. `done(k, r)` is
// called in the parent as each child ends, in the order they end.
void run_forked(size_t count, unsigned jobs, const std::function<void(size_t, const std::string&)>& child,
                const std::function<void(size_t, ForkResult&&)>& done);

}  // namespace pciesim::cli
