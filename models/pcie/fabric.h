// A whole simulated machine built from a topology: the root complexes and everything below
// them as SystemC modules, DRAM, the host bus and a CPU initiator whose config and MMIO accesses
// are real transactions through the root complex. One Fabric per process (SystemC elaborates a
// design once).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>
#include <unordered_map>
#include <vector>

#include "pcie/function.h"
#include "pcie/topology/spec.h"
#include "pciesim/tlp.h"

namespace pciesim {

class Component;
class Dram;
namespace vtd {
class LocalApicSink;
class MsiTarget;
class RemappingUnit;
}
class Endpoint;
class Link;
class PciBridge;
class RootComplex;
class Switch;
class SystemBus;

enum class FunctionRole : uint8_t {
  RootPort,
  SwitchUpstream,
  SwitchDownstream,
  PcieToPciBridge,
  Endpoint,         // a function of a PCIe endpoint
  Integrated,       // a function of a root-complex integrated endpoint
  Conventional,     // a function of a conventional PCI device behind a PCIe-to-PCI bridge
  PciToPciBridge,   // a conventional PCI-to-PCI bridge on a PCI bus (no PCIe capability)
};
const char* to_string(FunctionRole r);

// What the fabric knows about each function, for the CLI, tests and firmware.
struct FunctionInfo {
  PciFunction* fn = nullptr;
  FunctionRole role = FunctionRole::Endpoint;
  int segment = 0;
  std::string component;            // switch / endpoint / bridge / root complex name
  Endpoint* endpoint = nullptr;     // for endpoint roles
  unsigned function_number = 0;     // within its device
  PciFunction* parent = nullptr;    // the bridge/port above (nullptr on a root bus)
  const topo::LinkSpec* link = nullptr;  // the link above this function (ports: the link below)
  const topo::AcsSpec* acs = nullptr;    // what firmware leaves in ACS control (ports, functions)
  topo::SourceLoc loc;
  RequesterId bdf() const { return fn->bdf(); }
  std::string bdf_string() const;   // "0000:03:00.1"
};

class Cpu : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<Cpu> socket;
  explicit Cpu(sc_core::sc_module_name name);
  // One CPU load or store through the host bus; returns its record.
  const PcieExtension& access(bool write, uint64_t addr, uint8_t* data, unsigned len, sc_core::sc_time& delay);
  // One CPU port I/O (IN/OUT) of 1, 2 or 4 bytes within one DW (PCIe 2.2.7: an I/O request is
  // at most one DW); anything else ends as UR without a transaction. See docs/vga.md.
  const PcieExtension& io_access(bool write, uint32_t port, uint8_t* data, unsigned len, sc_core::sc_time& delay);

 private:
  const PcieExtension& transact(TlpKind kind, uint64_t addr, uint8_t* data, unsigned len, sc_core::sc_time& delay);
  tlm::tlm_generic_payload m_gp;
  PcieExtension* m_ext;
};

class Fabric {
 public:
  explicit Fabric(const topo::TopologySpec& spec);
  ~Fabric();
  Fabric(const Fabric&) = delete;
  Fabric& operator=(const Fabric&) = delete;

  const topo::TopologySpec& spec() const { return m_spec; }
  Dram& dram() { return *m_dram; }
  Cpu& cpu() { return *m_cpu; }
  const std::vector<RootComplex*>& root_complexes() const { return m_rcs; }
  // The remapping units of the topology's `iommus`, and the local APIC sink every interrupt
  // reaches.
  const std::vector<vtd::RemappingUnit*>& iommus() const { return m_units; }
  vtd::RemappingUnit* iommu(const std::string& name) const;
  vtd::LocalApicSink& apic() { return *m_apic; }
  RootComplex* root_complex(int segment) const;

  // Configuration space through ECAM, as the CPU does it. Reads of absent functions return
  // all ones (PCIe 2.3.2: UR completion to a config read).
  uint32_t config_read(int segment, RequesterId bdf, uint16_t reg, unsigned size);
  void config_write(int segment, RequesterId bdf, uint16_t reg, unsigned size, uint32_t value);

  // Ends elaboration (no modules can be added afterwards). enumerate() does it first.
  void elaborate();
  // Advances simulated time until every link is idle (transactions issued so far are done).
  void settle();
  // Firmware enumeration (see firmware.h). Throws topo::TopologyError when the machine cannot
  // be enumerated (bus numbers exhausted, windows that do not fit).
  void enumerate();
  bool enumerated() const { return m_enumerated; }

  // Every function, sorted by segment, bus, devfn after enumeration (build order before).
  const std::vector<FunctionInfo>& functions() const { return m_functions; }
  const FunctionInfo* find(int segment, RequesterId bdf) const;
  const FunctionInfo* find(const PciFunction* fn) const;
  // By spec name: "nic0" (function 0), "nic0.f2", or a port / switch name.
  const FunctionInfo* find(const std::string& name) const;
  std::vector<const FunctionInfo*> children(const PciFunction* bridge) const;  // on its secondary bus

  size_t module_count() const { return m_components.size(); }

  // INTx (PCI 3.0 6.2.3): called whenever an endpoint function's INTx pin changes level; `pin` is
  // the function's Interrupt Pin register (1..4 = INTA..INTD). No interrupt controller is modelled
  // behind it (no swizzling at bridges, no IOAPIC).
  using IntxListener = std::function<void(const FunctionInfo& fn, unsigned pin, bool asserted)>;
  void set_intx_listener(IntxListener l) { m_intx_listener = std::move(l); }
  // A hot reset of everything below `bridge` (PCIe 6.6.1; what setting its Bridge Control
  // Secondary Bus Reset does): each device below with Endpoint::reset, each bridge and port below
  // with PciFunction::reset, so they lose bus numbers, windows and BARs alike.
  void reset_below(const PciFunction* bridge);
  // Rebuilds the BDF index (firmware calls it after bus numbers change).
  void refresh_index() { reindex(); }

 private:
  void build_root_complex(const topo::RootComplexSpec& rc);
  void build_iommus();
  // The devices and PCI-to-PCI bridges on the PCI bus behind `b`, recursively.
  void build_pci_bus(const topo::PciBridgeSpec& br, PciBridge& b, int segment);
  void build_below(const topo::NodeSpec& node, Component& parent, int parent_port, PciFunction* parent_fn,
                   const topo::LinkSpec& link, int segment);
  Endpoint& build_endpoint(const topo::EndpointSpec& spec, FunctionRole role, PciFunction* parent,
                           const topo::LinkSpec* link, int segment);
  Link* make_link(const topo::LinkSpec& spec);
  // Records a function with the fields every role has; the caller adds the rest to the returned
  // entry right away (later additions may move it).
  FunctionInfo& add_info(PciFunction* fn, FunctionRole role, int segment, const std::string& component,
                         PciFunction* parent, const topo::LinkSpec* link, const topo::SourceLoc& loc);
  void reindex();

  topo::TopologySpec m_spec;
  std::unique_ptr<Dram> m_dram;
  std::unique_ptr<SystemBus> m_bus;
  std::unique_ptr<Cpu> m_cpu;
  std::vector<std::unique_ptr<sc_core::sc_module>> m_components;
  std::vector<std::unique_ptr<Link>> m_links;
  std::vector<RootComplex*> m_rcs;
  std::unique_ptr<vtd::LocalApicSink> m_apic;
  std::unique_ptr<vtd::MsiTarget> m_msi;
  std::vector<vtd::RemappingUnit*> m_units;
  std::vector<FunctionInfo> m_functions;
  std::unordered_map<uint64_t, size_t> m_by_bdf;                 // segment<<16 | bdf -> index
  std::unordered_map<const PciFunction*, size_t> m_by_fn;
  IntxListener m_intx_listener;
  bool m_enumerated = false;
};

}  // namespace pciesim
