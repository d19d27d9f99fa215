// Port-type evidence -> possible port types. Every narrowing restates the Linux code (or the PCIe
// rule) that makes it hold for the type Linux itself saw (pci_pcie_type()), never for a guess.
#include "groups/port_type_inference.h"

namespace pciesim::groups {

namespace {

constexpr PortTypeSet kRootOrCollector = type_bit(PortType::RootPort) | type_bit(PortType::RcEventCollector);

PortTypeSet narrow_by_evidence(const FunctionView& f) {
  PortTypeSet s = f.candidate_types();  // the header type's share (PCIe r6.0 7.5.3.2)
  const TypeEvidence& e = f.evidence;
  // drivers/pci/pcie/portdrv.c pcie_portdrv_probe(): returns -ENODEV unless pci_is_pcie() and the
  // type is Root Port, Upstream Port, Downstream Port (or, since v5.11, RC Event Collector); a
  // message prefixed "pcieport" or lspci's "Kernel driver in use: pcieport" means it bound.
  if (e.pcieport_driver) s &= kPciePorts | type_bit(PortType::RcEventCollector);
  // portdrv get_port_device_capability() creates the PME service only when pci_pcie_type() is
  // Root Port (RC Event Collector since v5.11), and pcie_pme_probe() prints "PME: Signaling with
  // IRQ"; the AER service driver binds only to Root Ports (v5.x .port_type) or checks Root Port /
  // RC Event Collector in aer_probe() before printing "AER: enabled with IRQ".
  if (e.root_port_service) s &= kRootOrCollector;
  // drivers/pci/probe.c pci_configure_extended_tags() returns at once unless pci_is_pcie(), so
  // "enabling Extended Tags" is printed only for functions with a PCIe capability.
  if (e.pcie_capability) s &= PortTypeSet(~type_bit(PortType::Conventional));
  return s;
}

// Is extended config space accessible on the bus f sits on, by Linux's own rule?
// drivers/pci/probe.c pci_alloc_child_bus() / pci_bridge_child_ext_cfg_accessible() (v4.18+):
// the root bus is assumed accessible; a child bus is accessible if its bridge's primary bus is and
// the bridge is a Root Port or Switch port (or a PCI-X Mode 2 bridge, which we never claim).
bool primary_bus_has_extcfg(const HostView& host, const FunctionView& f, int depth = 0) {
  if (f.parent < 0) return true;
  if (depth > 256) return false;  // a loop in the topology: claim nothing
  const FunctionView& b = host.functions[size_t(f.parent)];
  PortTypeSet t = b.candidate_types();
  if (b.evidence.child_no_extcfg || t == 0 || (t & ~kPciePorts) != 0) return false;
  return primary_bus_has_extcfg(host, b, depth + 1);
}

}  // namespace

void infer_port_types(HostView& host) {
  for (FunctionView& f : host.functions)
    if (!f.port_type) f.possible_types = narrow_by_evidence(f);
  // pci_alloc_child_bus() prints "extended config space not accessible" when
  // pci_bridge_child_ext_cfg_accessible(bridge) is false. With the bridge's primary bus
  // accessible, that function returns true for every Root Port, Upstream and Downstream Port, so
  // the bridge is none of them. Parents first: repeat until nothing narrows further.
  for (bool changed = true; changed;) {
    changed = false;
    for (FunctionView& f : host.functions) {
      if (f.port_type || !f.evidence.child_no_extcfg || !primary_bus_has_extcfg(host, f)) continue;
      PortTypeSet s = PortTypeSet(f.candidate_types() & ~kPciePorts);
      if (s != f.candidate_types()) {
        f.possible_types = s;
        changed = true;
      }
    }
  }
  for (FunctionView& f : host.functions) {
    if (f.port_type) continue;
    PortTypeSet s = f.candidate_types();
    if (s == 0) {
      host.missing.push_back(f.bdf() + ": the source's facts about its PCIe port type contradict each other (" +
                             f.origin + ")");
      continue;
    }
    if (s & (s - 1)) continue;  // more than one type left
    for (unsigned t = 0; t <= unsigned(PortType::RcEventCollector); ++t)
      if (s == (1u << t)) f.port_type = PortType(t);
    if (f.port_type == PortType::Conventional) f.acs = AcsState{};  // no capability list: no ACS
  }
}

}  // namespace pciesim::groups
