#include "report_isolation.h"

#include <unistd.h>

#include <fstream>
#include <iostream>

#include "fork_pool.h"
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
    isolation::apply_boot_options(fabric, d, r.acs_override, {});
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
  cli::run_forked(
      todo.size(), jobs, [&](size_t k, const std::string& out) { isolation_worker(todo[k].second, todo[k].first, out); },
      [&](size_t k, cli::ForkResult&& f) {
        TopologyIsolation& t = result[todo[k].first];
        if (const std::string why = f.failure("isolation"); !why.empty())
          t.error = why;
        else if (f.doc.contains("error"))
          t.error = f.doc["error"].get<std::string>();
        else
          t.doc = std::move(f.doc);
      });
  return result;
}

}  // namespace pciesim::scenario
