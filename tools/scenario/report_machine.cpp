#include "report_machine.h"

#include <nlohmann/json.hpp>

#include "pcie/fabric.h"
#include "pcie/root_complex.h"
#include "pcie/topology/validate.h"
#include "topo_format.h"

namespace pciesim::scenario {

bool MachineNode::endpoint_function() const {
  return role == to_string(FunctionRole::Endpoint) || role == to_string(FunctionRole::Integrated) ||
         role == to_string(FunctionRole::Conventional);
}

bool MachineNode::port() const {
  return role == to_string(FunctionRole::RootPort) || role == to_string(FunctionRole::SwitchDownstream);
}

ScenarioMachine machine_from_fabric(const Fabric& fabric, const std::function<int(const FunctionInfo&)>& group_of) {
  ScenarioMachine m;
  m.topology = fabric.spec().name;
  for (const RootComplex* rc : fabric.root_complexes()) m.root_complexes.push_back({rc->segment(), rc->spec().name});
  for (const FunctionInfo& f : fabric.functions()) {
    MachineNode n;
    n.bdf = f.bdf_string();
    n.name = f.fn->name();
    n.component = f.component;
    n.role = to_string(f.role);
    n.segment = f.segment;
    if (const FunctionInfo* p = f.parent ? fabric.find(f.parent) : nullptr) n.parent = p->bdf_string();
    if (f.link) {
      n.link_gen = f.link->gen;
      n.link_width = f.link->width;
    }
    n.acs = cli::acs_summary(*f.fn);
    if (f.fn->has_acs() && f.fn->acs_control()) n.acs_control = topo::acs_bits_to_string(f.fn->acs_control());
    n.group = group_of(f);
    m.nodes.push_back(n);
  }
  return m;
}

nlohmann::json machine_to_json(const ScenarioMachine& m) {
  nlohmann::json rcs = nlohmann::json::array(), nodes = nlohmann::json::array();
  for (const MachineRootComplex& rc : m.root_complexes) rcs.push_back({{"segment", rc.segment}, {"name", rc.name}});
  for (const MachineNode& n : m.nodes)
    nodes.push_back({{"bdf", n.bdf}, {"name", n.name}, {"component", n.component}, {"role", n.role},
                     {"parent", n.parent}, {"segment", n.segment}, {"link_gen", n.link_gen},
                     {"link_width", n.link_width}, {"acs", n.acs}, {"acs_control", n.acs_control}, {"group", n.group}});
  return {{"topology", m.topology}, {"root_complexes", rcs}, {"nodes", nodes}};
}

ScenarioMachine machine_from_json(const nlohmann::json& j) {
  ScenarioMachine m;
  if (!j.is_object()) return m;
  m.topology = j.value("topology", "");
  for (const auto& rc : j.value("root_complexes", nlohmann::json::array()))
    m.root_complexes.push_back({rc.at("segment").get<int>(), rc.at("name").get<std::string>()});
  for (const auto& x : j.value("nodes", nlohmann::json::array())) {
    MachineNode n;
    n.bdf = x.at("bdf").get<std::string>();
    n.name = x.at("name").get<std::string>();
    n.component = x.at("component").get<std::string>();
    n.role = x.at("role").get<std::string>();
    n.parent = x.at("parent").get<std::string>();
    n.segment = x.at("segment").get<int>();
    n.link_gen = x.at("link_gen").get<int>();
    n.link_width = x.at("link_width").get<int>();
    n.acs = x.at("acs").get<std::string>();
    n.acs_control = x.at("acs_control").get<std::string>();
    n.group = x.at("group").get<int>();
    m.nodes.push_back(n);
  }
  return m;
}

}  // namespace pciesim::scenario
