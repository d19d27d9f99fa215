// Bus notifiers (drivers/base/bus.c bus_register_notifier / bus_unregister_notifier, and the
// driver core's bus_notify calls, Linux 6.1). The chain is per bus, in registration order (all
// blocks here have priority 0, so notifier_chain_register keeps them in that order). Modules
// unregister their blocks when they unload, which the kernel's shutdown does.
#include <algorithm>
#include <map>
#include <vector>

#include "kernel/kapi.h"
#include <linux/notifier.h>

namespace {
std::map<bus_type*, std::vector<notifier_block*>>& chains() {
  static std::map<bus_type*, std::vector<notifier_block*>> c;
  return c;
}
}  // namespace

extern "C" int bus_register_notifier(struct bus_type* bus, struct notifier_block* nb) {
  if (!bus || !nb) return -EINVAL;
  auto& chain = chains()[bus];
  if (std::find(chain.begin(), chain.end(), nb) != chain.end()) return -EEXIST;  // "already registered"
  chain.push_back(nb);
  return 0;
}

extern "C" int bus_unregister_notifier(struct bus_type* bus, struct notifier_block* nb) {
  auto it = chains().find(bus);
  if (it == chains().end()) return -ENOENT;
  auto& chain = it->second;
  auto pos = std::find(chain.begin(), chain.end(), nb);
  if (pos == chain.end()) return -ENOENT;
  chain.erase(pos);
  return 0;
}

extern "C" void cosim_bus_notify(struct bus_type* bus, unsigned long action, struct device* dev) {
  auto it = chains().find(bus);
  if (it == chains().end()) return;
  // A callback may unregister itself: walk a copy, as the kernel's chain walk reads next first.
  const std::vector<notifier_block*> chain = it->second;
  for (notifier_block* nb : chain) nb->notifier_call(nb, action, dev);
}
