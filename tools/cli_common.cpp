#include "cli_common.h"

#include <cstdio>
#include <iostream>
#include <stdexcept>

#include "pcie/topology/yaml_loader.h"

namespace pciesim::cli {

Machine load_machine(const std::string& path) {
  Machine m;
  m.fabric = std::make_unique<Fabric>(topo::load_topology_file(path));
  m.fabric->enumerate();
  return m;
}

uint64_t parse_number(const std::string& text, const std::string& what) {
  try {
    size_t used = 0;
    uint64_t v = std::stoull(text, &used, 0);
    if (used != text.size()) throw std::invalid_argument(text);
    return v;
  } catch (const std::exception&) {
    throw UsageError("bad " + what + " '" + text + "': expected a number such as 0x1000 or 4096");
  }
}

Bdf parse_bdf(const std::string& text) {
  unsigned seg = 0, bus = 0, dev = 0, fn = 0;
  char tail = 0;
  int n = std::sscanf(text.c_str(), "%x:%x:%x.%x%c", &seg, &bus, &dev, &fn, &tail);
  if (n != 4) {
    seg = 0;
    n = std::sscanf(text.c_str(), "%x:%x.%x%c", &bus, &dev, &fn, &tail);
    if (n != 3) throw UsageError("bad BDF '" + text + "': expected [domain:]bus:device.function, e.g. 0000:03:00.0");
  }
  if (seg > 0xffff || bus > 0xff || dev > 0x1f || fn > 7)
    throw UsageError("bad BDF '" + text + "': domain <= ffff, bus <= ff, device <= 1f, function <= 7");
  return Bdf{static_cast<int>(seg), RequesterId::from_bdf(bus, dev, fn)};
}

const FunctionInfo& resolve_function(const Fabric& fabric, const std::string& text) {
  if (const FunctionInfo* f = fabric.find(text)) return *f;
  Bdf b = parse_bdf(text);
  if (const FunctionInfo* f = fabric.find(b.segment, b.id)) return *f;
  throw UsageError("no function " + text + " in this topology (see `pciesim topo FILE`)");
}

int guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const topo::TopologyError& e) {
    std::cerr << "pciesim: error: " << e.what() << "\n";
  } catch (const UsageError& e) {
    std::cerr << "pciesim: error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "pciesim: error: " << e.what() << "\n";
  }
  return kExitBadInput;
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << "\n"; }

std::string describe(const FunctionInfo& f) { return f.bdf_string() + " " + f.fn->name(); }

}  // namespace pciesim::cli
