#include "report_isolation.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "isolation/isolation_json.h"
#include "pcie/fabric.h"

namespace pciesim::scenario {

namespace {

// In the forked process: the machine as `pciesim isolation` builds it (the scenario's own kernel
// boot is not involved), the matrix in the mode its size calls for; with an override, the groups
// as `pciesim isolation --acs-override` computes them (the override changes no register, so the
// matrix stays).
[[noreturn]] void isolation_worker(const IsolationRequest& r, const std::string& key, const std::string& out) {
  nlohmann::json j;
  try {
    Fabric fabric(*r.spec);
    fabric.enumerate();
    isolation::IsolationDocument d = isolation::default_isolation(fabric, key);
    if (r.acs_override.any()) {
      d.options = true;
      d.acs_override = r.acs_override;
      d.base_group_of = d.comparison.group;
      d.groups = isolation::linux_groups(fabric, r.acs_override, key);
      d.comparison = isolation::compare_with_groups(d.run.matrix, d.groups);
    }
    j = isolation::isolation_json(fabric, d);
  } catch (const std::exception& e) {
    j = {{"error", e.what()}};
  }
  std::ofstream(out) << j.dump();
  std::cout.flush();
  std::cerr.flush();
  _exit(0);
}

}  // namespace

std::string topology_key(const topo::TopologySpec& spec, const groups::AcsOverride& acs_override) {
  std::string key = spec.file + "#" + spec.name;
  if (acs_override.any()) key += " pcie_acs_override=" + acs_override.text();
  return key;
}

std::map<std::string, TopologyIsolation> isolation_for(const std::vector<IsolationRequest>& requests, unsigned jobs) {
  std::map<std::string, IsolationRequest> distinct;
  for (const IsolationRequest& r : requests) distinct.emplace(topology_key(*r.spec, r.acs_override), r);
  std::vector<std::pair<std::string, IsolationRequest>> todo(distinct.begin(), distinct.end());
  std::map<std::string, TopologyIsolation> result;
  char dir_template[] = "/tmp/pciesim-isolation-XXXXXX";
  if (!mkdtemp(dir_template)) throw std::runtime_error("cannot make a temporary directory");
  const std::string dir = dir_template;
  std::map<pid_t, size_t> running;
  size_t next = 0;
  if (jobs == 0) jobs = 1;
  std::cout.flush();
  std::cerr.flush();
  while (next < todo.size() || !running.empty()) {
    while (next < todo.size() && running.size() < jobs) {
      const std::string out = dir + "/" + std::to_string(next) + ".json";
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error("fork failed");
      if (pid == 0) isolation_worker(todo[next].second, todo[next].first, out);
      running[pid] = next++;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) break;
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const size_t k = it->second;
    running.erase(it);
    const std::string out = dir + "/" + std::to_string(k) + ".json";
    TopologyIsolation& t = result[todo[k].first];
    std::ifstream in(out);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    std::remove(out.c_str());
    if (j.is_discarded() || !WIFEXITED(status)) {
      t.error = WIFSIGNALED(status) ? "the isolation process died of signal " + std::to_string(WTERMSIG(status))
                                    : "the isolation process left no result";
    } else if (j.contains("error")) {
      t.error = j["error"].get<std::string>();
    } else {
      t.doc = std::move(j);
    }
  }
  std::filesystem::remove_all(dir);
  return result;
}

}  // namespace pciesim::scenario
