#include "pcie/device_models.h"

#include <map>

#include "pcie/endpoint.h"

namespace pciesim {

namespace {
struct DeviceModel {
  EndpointFactory factory;
  DeviceModelDefaults defaults;
};

std::map<std::string, DeviceModel>& registry() {
  static std::map<std::string, DeviceModel> models = {
      {"generic", {[](const char* n, const topo::EndpointSpec& s, int seg, const topo::LinkSpec* l) {
                     return std::make_unique<Endpoint>(n, s, seg, l);
                   },
                   {}}}};
  return models;
}
}  // namespace

bool register_device_model(const std::string& name, EndpointFactory factory, DeviceModelDefaults defaults) {
  return registry().emplace(name, DeviceModel{std::move(factory), std::move(defaults)}).second;
}

void apply_device_model_defaults(topo::EndpointSpec& spec) {
  auto it = registry().find(spec.model);
  if (it != registry().end() && it->second.defaults.apply) it->second.defaults.apply(spec);
}

bool device_model_supplies_functions(const std::string& model) {
  auto it = registry().find(model);
  return it != registry().end() && it->second.defaults.supplies_functions;
}

std::vector<std::string> device_model_names() {
  std::vector<std::string> v;
  for (const auto& [name, f] : registry()) v.push_back(name);
  return v;
}

std::unique_ptr<Endpoint> make_device(const char* module_name, const topo::EndpointSpec& spec, int segment,
                                      const topo::LinkSpec* link) {
  auto it = registry().find(spec.model);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : device_model_names()) known += (known.empty() ? "" : ", ") + n;
    throw topo::TopologyError(spec.loc, "unknown device model '" + spec.model + "' (known: " + known + ")");
  }
  return it->second.factory(module_name, spec, segment, link);
}

}  // namespace pciesim
