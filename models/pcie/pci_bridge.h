// A PCIe-to-PCI bridge (PCI Express to PCI/PCI-X Bridge 1.0) with a conventional PCI bus behind
// it. Port 0 is the upstream PCIe link; ports 1..N are the conventional devices on the bus.
// Requests that devices behind it send upstream leave with the bridge's requester id
// {secondary bus, device 0, function 0} (bridge spec 2.3): the DMA alias Linux groups by.
//
// With spec.conventional the same class is a conventional PCI-to-PCI bridge (PCI-to-PCI Bridge
// Architecture 1.2) sitting on another bridge's PCI bus: port 0 is its primary-bus interface, its
// function has a type 1 header and no PCIe capability, and requests it forwards upstream carry its
// own id (the alias pci_for_each_dma_alias() reports for a non-PCIe bridge). docs/dma-alias.md.
#pragma once

#include <memory>
#include <vector>

#include "pcie/component.h"
#include "pcie/function.h"
#include "pcie/topology/spec.h"

namespace pciesim {

class Endpoint;

class PciBridge : public Component {
 public:
  static constexpr int kUpstreamPort = 0;

  PciBridge(sc_core::sc_module_name name, const topo::PciBridgeSpec& spec, const topo::LinkSpec& upstream_link,
            int segment);

  PciFunction& bridge_function() { return *m_fn; }
  const topo::PciBridgeSpec& spec() const { return m_spec; }
  // Attaches a conventional device; returns its component port.
  int attach_device(Endpoint& ep);
  // Attaches a PCI-to-PCI bridge (spec.conventional) to this bridge's PCI bus; returns its port.
  int attach_bridge(PciBridge& child);
  bool conventional() const { return m_spec.conventional; }
  // Time one transaction of `bytes` (config: one DW) owns the conventional PCI bus.
  static sc_core::sc_time bus_time(bool config, unsigned bytes);

 protected:
  void handle(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) override;

 private:
  int port_claiming(uint64_t addr) const;
  // An I/O request or a VGA-window access on the bus: a BAR's claim, else a VGA device's.
  int legacy_port_claiming(uint64_t addr, bool io) const;
  // As a PCI-to-PCI bridge on its primary bus: does it claim this memory / I/O / VGA request
  // (positive decode by its windows and VGA Enable, PCI-to-PCI Bridge 1.2 4.1-4.5)?
  bool claims_on_primary(uint64_t addr, bool legacy, bool io) const;
  // The child PCI-to-PCI bridge whose bus range holds `bus`; -1 when none.
  int bridge_port_for_bus(uint8_t bus) const;
  // Secondary Bus Reset set: RST# is asserted on the PCI bus (PCI-to-PCI Bridge 1.2 3.2.5.17).
  bool in_reset() const { return m_fn->bridge_control() & cfg::kBctlSecondaryBusReset; }

  topo::PciBridgeSpec m_spec;
  std::unique_ptr<PciFunction> m_fn;
  std::vector<std::pair<int, Endpoint*>> m_devices;  // port, device
  std::vector<std::pair<int, PciBridge*>> m_bridges;  // port, PCI-to-PCI bridge on our bus
  int m_segment;
};

}  // namespace pciesim
