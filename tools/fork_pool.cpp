#include "fork_pool.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>

namespace pciesim::cli {

std::string ForkResult::failure(const std::string& what) const {
  if (signal) return "the " + what + "'s process died of signal " + std::to_string(signal);
  if (!exited || doc.is_discarded()) return "the " + what + "'s process left no result";
  return "";
}

void run_forked(size_t count, unsigned jobs, const std::function<void(size_t, const std::string&)>& child,
                const std::function<void(size_t, ForkResult&&)>& done) {
  char dir_template[] = "/tmp/pciesim-fork-XXXXXX";
  if (!mkdtemp(dir_template)) throw std::runtime_error("cannot make a temporary directory");
  const std::string dir = dir_template;
  auto file = [&](size_t k) { return dir + "/" + std::to_string(k) + ".json"; };
  if (jobs == 0) jobs = 1;
  std::map<pid_t, size_t> running;
  size_t next = 0;
  // Buffered output would be written twice: by the parent and by every child that inherits it.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  while (next < count || !running.empty()) {
    while (next < count && running.size() < jobs) {
      const pid_t pid = fork();
      if (pid < 0) {
        std::filesystem::remove_all(dir);
        throw std::runtime_error("fork failed");
      }
      if (pid == 0) {
        child(next, file(next));
        std::_Exit(1);  // a child that returned wrote nothing it vouches for
      }
      running[pid] = next++;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) break;
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const size_t k = it->second;
    running.erase(it);
    ForkResult r;
    {
      std::ifstream in(file(k));
      r.doc = nlohmann::json::parse(in, nullptr, false);
    }
    std::remove(file(k).c_str());
    r.exited = WIFEXITED(status);
    r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    done(k, std::move(r));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace pciesim::cli
