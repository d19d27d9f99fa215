// Interned names of the places a TLP can pass (ports, completers), so a transaction's path is a
// small array of integers and printing it is a lookup. One registry per process, like the
// SystemC kernel it lives beside.
#pragma once

#include <string>
#include <vector>

#include "pciesim/tlp.h"

namespace pciesim {

class PciFunction;

class PortRegistry {
 public:
  static PortRegistry& instance();

  // `function` (optional) lets printers show the port's current BDF next to its name.
  HopId intern(const std::string& name, const PciFunction* function = nullptr, int segment = 0);
  const std::string& name(HopId id) const;
  const PciFunction* function(HopId id) const;
  int segment(HopId id) const;
  // "sw0-dp1 [0000:03:01.0]" when the hop belongs to a function, else the name.
  std::string describe(HopId id) const;
  size_t size() const { return m_entries.size(); }
  void clear() { m_entries.clear(); }

 private:
  struct Entry {
    std::string name;
    const PciFunction* function;
    int segment;
  };
  std::vector<Entry> m_entries;
};

inline PortRegistry& hops() { return PortRegistry::instance(); }

}  // namespace pciesim
