#include "pcie/topology/spec.h"

namespace pciesim::topo {

std::string SourceLoc::to_string() const {
  std::string s = file.empty() ? std::string("<topology>") : file;
  if (line > 0) {
    s += ":" + std::to_string(line);
    if (column > 0) s += ":" + std::to_string(column);
  }
  return s;
}

TopologyError::TopologyError(const SourceLoc& loc, const std::string& msg)
    : std::runtime_error(loc.to_string() + ": " + msg), m_loc(loc) {}

const SourceLoc& NodeSpec::loc() const {
  return std::visit([](const auto& n) -> const SourceLoc& { return n.loc; }, node);
}

const std::string& NodeSpec::name() const {
  return std::visit([](const auto& n) -> const std::string& { return n.name; }, node);
}

}  // namespace pciesim::topo
