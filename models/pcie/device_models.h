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

// Returns false when `name` was already registered.
bool register_device_model(const std::string& name, EndpointFactory factory);
// Builds the endpoint for spec.model; throws topo::TopologyError at spec.loc for an unknown model.
std::unique_ptr<Endpoint> make_device(const char* module_name, const topo::EndpointSpec& spec, int segment,
                                      const topo::LinkSpec* link);
std::vector<std::string> device_model_names();

}  // namespace pciesim
