// Port types from what a source shows about a function without printing its PCIe capability:
// the driver it is bound to, the port services that probed on it, messages the PCI core prints
// only for PCIe functions or only below some bridges. Each fact narrows the set of types the
// function may have (FunctionView::possible_types); one remaining type becomes port_type.
#pragma once

#include "groups/pci_view.h"

namespace pciesim::groups {

// Turns every function's TypeEvidence into possible_types (and port_type when one type is left).
// Needs parent links (HostView::link_parents). Contradicting facts are added to host.missing.
void infer_port_types(HostView& host);

}  // namespace pciesim::groups
