#include "pcie/port_registry.h"

#include <cstdio>

#include "pcie/function.h"

namespace pciesim {

PortRegistry& PortRegistry::instance() {
  static PortRegistry registry;
  return registry;
}

HopId PortRegistry::intern(const std::string& name, const PciFunction* function, int segment) {
  m_entries.push_back(Entry{name, function, segment});
  return static_cast<HopId>(m_entries.size() - 1);
}

const std::string& PortRegistry::name(HopId id) const {
  static const std::string unknown = "?";
  return id < m_entries.size() ? m_entries[id].name : unknown;
}

const PciFunction* PortRegistry::function(HopId id) const {
  return id < m_entries.size() ? m_entries[id].function : nullptr;
}

int PortRegistry::segment(HopId id) const { return id < m_entries.size() ? m_entries[id].segment : 0; }

std::string PortRegistry::describe(HopId id) const {
  if (id >= m_entries.size()) return "?";
  const Entry& e = m_entries[id];
  if (!e.function) return e.name;
  char buf[32];
  RequesterId r = e.function->bdf();
  std::snprintf(buf, sizeof buf, " [%04x:%02x:%02x.%x]", e.segment, r.bus, r.device(), r.function());
  return e.name + buf;
}

}  // namespace pciesim
