// Device models by name: the topology's `model:` selects the Endpoint subclass that the fabric
// builds. "generic" (sparse memory behind every BAR) is always there; device models register
// themselves (see docs/adding-a-device-model.md).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pcie/topology/spec.h"

namespace sc_core { class sc_module_name; }

namespace pciesim {

class Endpoint;

using EndpointFactory = std::function<std::unique_ptr<Endpoint>(
    const char* module_name, const topo::EndpointSpec& spec, int segment, const topo::LinkSpec* link)>;

// What a model says about its devices before any is built: called by the topology loader on
// every endpoint that names the model, before validation. A model that sets `supplies_functions`
// fills spec.functions when the topology gave none (so `model: edu` alone is a whole device);
// it may also set fields the device cannot do without (EndpointSpec::express for a conventional
// PCI device).
struct DeviceModelDefaults {
  bool supplies_functions = false;
  std::function<void(topo::EndpointSpec& spec)> apply;
};

// Returns false when `name` was already registered.
bool register_device_model(const std::string& name, EndpointFactory factory, DeviceModelDefaults defaults = {});
// The registered model's defaults, applied to `spec` (nothing for an unknown or plain model).
void apply_device_model_defaults(topo::EndpointSpec& spec);
bool device_model_supplies_functions(const std::string& model);
// Builds the endpoint for spec.model; throws topo::TopologyError at spec.loc for an unknown model.
std::unique_ptr<Endpoint> make_device(const char* module_name, const topo::EndpointSpec& spec, int segment,
                                      const topo::LinkSpec* link);
std::vector<std::string> device_model_names();

}  // namespace pciesim
