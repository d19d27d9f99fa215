// A machine as the topology file describes it: plain data, no SystemC. The YAML loader fills it
// (with the source line of every node for error messages), the builder turns it into modules,
// and the graph view (Boost.Graph) analyses it. No addresses or bus numbers: firmware
// enumeration assigns those, as a BIOS would.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace pciesim::topo {

struct SourceLoc {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown (generated nodes)
  int column = 0;  // 1-based
  std::string to_string() const;  // "file:line:col"
};

// Every bad-input error in topology handling: the CLI prints what() and exits 2.
class TopologyError : public std::runtime_error {
 public:
  TopologyError(const SourceLoc& loc, const std::string& msg);
  const SourceLoc& where() const { return m_loc; }

 private:
  SourceLoc m_loc;
};

// PCIe 4.2 / 7.5.3: link parameters of the link *above* a device (between it and its parent port).
struct LinkSpec {
  int gen = 3;       // 1..6
  int width = 16;    // 1, 2, 4, 8, 12, 16, 32
  int mps = 256;     // bytes, 128..4096
  int mrrs = 512;    // bytes, 128..4096
  int rcb = 64;      // read completion boundary, 64 or 128
  bool store_and_forward = false;  // switch mode: cut-through by default
  SourceLoc loc;
};

// PCIe 7.7.8: ACS as the port implements it (capability) and as firmware leaves it (control).
// Bits are the AcsBit positions of pciesim/tlp.h (SV=0 .. DT=6).
struct AcsSpec {
  bool present = false;
  uint16_t capability = 0;
  uint16_t control = 0;
  unsigned egress_vector_bits = 0;  // 0 = no egress control vector
  uint32_t egress_vector = 0;       // initial vector (bit N = port number N)
  SourceLoc loc;
};

struct BarSpec {
  int index = 0;              // 0..5; a 64-bit BAR uses index and index+1
  uint64_t size = 0;          // power of two; memory >= 16 B (firmware rounds up to 4 KiB), I/O >= 4 B
  bool io = false;
  bool is_64bit = false;
  bool prefetchable = false;
  SourceLoc loc;
};

// One PCI function of an endpoint.
struct FunctionSpec {
  int function = 0;           // 0..7, or 0..255 on an ARI bus
  uint16_t vendor = 0x1b36;   // Red Hat, Inc. (QEMU's generic vendor id) unless given
  uint16_t device = 0x0001;
  uint32_t class_code = 0xff0000;  // "unassigned class" unless given
  uint8_t revision = 0;
  uint16_t subsystem_vendor = 0, subsystem = 0;
  std::vector<BarSpec> bars;
  int msi_vectors = 0;        // 0 = no MSI capability; else 1,2,4,..,32
  bool msi_64bit = true;
  bool msi_maskable = false;  // MSI per-vector masking (PCI 3.0 6.8.1.3 Message Control bit 8)
  int msix_vectors = 0;       // 0 = no MSI-X capability; table/PBA go in the first memory BAR
  bool pm = true;
  bool aer = false;
  bool ari = false;           // ARI capability
  bool flr = true;            // DEVCAP.FLR
  AcsSpec acs;                // multifunction devices may implement ACS per function
  int interrupt_pin = 1;      // 0 = none, 1..4 = INTA..INTD
  // DMA aliasing (docs/dma-alias.md). DEVCAP Phantom Functions Supported (PCIe 7.5.3.3): 0..3
  // most significant function-number bits the function may use as phantom functions once
  // DEVCTL Phantom Functions Enable is set.
  int phantom_functions = 0;
  // -1: the function's DMA carries its own requester id. 0..7: it carries that function number
  // of the same device instead (the Marvell 88SE91xx/92xx SATA bug behind Linux's
  // quirk_dma_func1_alias).
  int dma_as_function = -1;
  // ATS Extended Capability (PCIe 6.0 10.5.1) and an Address Translation Cache (models/pcie/ats.h).
  bool ats = false;
  SourceLoc loc;
};

// A device on a link or on a conventional bus: one or more functions.
struct EndpointSpec {
  std::string name;
  std::string model = "generic";    // device model name (generic now; edu, gpu, ... later)
  std::map<std::string, std::string> params;  // model parameters, as written
  int device = 0;                   // device number; on a PCIe link always 0
  bool pcie = true;                 // false: conventional PCI (behind a PCIe-to-PCI bridge)
  bool integrated = false;          // root-complex integrated endpoint (RCiEP)
  bool express = true;              // false: its functions have no PCIe capability (256-byte config
                                    // space) even on a PCIe port or the root bus, as QEMU allows a
                                    // conventional device (edu) there; behind a bridge always false
  std::vector<FunctionSpec> functions;  // at least one; function 0 required
  SourceLoc loc;
};

struct NodeSpec;  // what hangs below a downstream port: endpoint, switch, or PCIe-to-PCI bridge

// A root port or a switch downstream port, and the link below it.
struct DownstreamPortSpec {
  std::string name;
  int device = 0;         // device number on the parent bus (root bus or switch internal bus)
  int function = 0;
  int port_number = -1;   // LNKCAP port number; -1 = assigned in order
  uint16_t vendor = 0x8086, device_id = 0;  // 0 = a per-kind default
  LinkSpec link;          // the link below this port
  AcsSpec acs;
  bool slot = true;       // slot implemented (hot-plug capable slot)
  std::shared_ptr<NodeSpec> child;  // empty port when null
  SourceLoc loc;
};

struct SwitchSpec {
  std::string name;
  uint16_t vendor = 0x10b5, device = 0x8796;  // PLX/Broadcom PEX 8796 unless given
  std::string latency_profile;  // "" = by link generation (see link timing constants)
  std::vector<DownstreamPortSpec> ports;
  SourceLoc loc;
};

struct PciBridgeSpec {
  std::string name;
  uint16_t vendor = 0x1b36, device = 0x000e;  // QEMU pcie-pci-bridge unless given
  std::vector<EndpointSpec> devices;          // conventional devices, device numbers 0..31
  // Conventional PCI-to-PCI bridges on this bus (type 1 header, no PCIe capability; `device` is
  // their device number here), each with its own devices and bridges, nested to any depth.
  // docs/topology-format.md "pci_to_pci_bridge".
  std::vector<PciBridgeSpec> bridges;
  int device_number = 0;                      // a conventional bridge's device number on its parent bus
  bool conventional = false;                  // true: a PCI-to-PCI bridge (in a `bridges` list)
  SourceLoc loc;
};

struct NodeSpec {
  std::variant<EndpointSpec, SwitchSpec, PciBridgeSpec> node;
  const SourceLoc& loc() const;
  const std::string& name() const;
};

struct AddressRange {
  uint64_t base = 0;
  uint64_t size = 0;  // 0 = absent
  uint64_t limit() const { return base + size - 1; }
  bool contains(uint64_t a) const { return size && a >= base && a - base < size; }
};

struct RootComplexSpec {
  std::string name;
  int segment = 0;
  int root_bus = 0;
  AddressRange ecam{0xe0000000ull, 0x10000000ull};   // 256 buses x 1 MiB
  AddressRange mmio32{0xc0000000ull, 0x20000000ull};  // below 4 GiB, non-prefetchable windows
  AddressRange mmio64{0x8000000000ull, 0x4000000000ull};  // above 4 GiB, prefetchable windows
  AddressRange io{0x1000, 0xf000};
  bool p2p = true;          // routes requests between root ports (and back down the same port)
  double p2p_rate_gbps = 0; // 0 = link-limited; else the RC forwarding cap (GB/s)
  std::vector<DownstreamPortSpec> root_ports;
  std::vector<EndpointSpec> integrated;  // RCiEPs on the root bus
  SourceLoc loc;
};

struct MemorySpec {
  AddressRange range{0, 0x100000000ull};  // DRAM as the root complex sees it
  SourceLoc loc;
};

// Geometry of one translation cache of a remapping unit.
struct CacheSpec {
  unsigned entries = 0;       // 0 = the model's default
  unsigned ways = 0;          // 0 = fully associative
  std::string replacement;    // "lru", "fifo", "random", "plru"; "" = default
  SourceLoc loc;
};

// A VT-d remapping unit (ACPI DMAR DRHD): which root ports and RCiEPs it covers, its CAP/ECAP,
// its register window, and its caches.
struct IommuSpec {
  std::string name;
  std::string preset = "server";   // "server" (Sapphire Rapids) or "qemu-7.2"
  std::optional<uint64_t> cap, ecap;  // override the preset's registers
  uint64_t register_base = 0;      // 0 = assigned: 0xfed90000 + 4 KiB per unit
  int segment = 0;
  bool include_all = false;        // covers every device of the segment no other unit covers
  std::vector<std::string> scope;  // root port / RCiEP names (DRHD device scope)
  // Device-TLB support, as QEMU's intel-iommu device-iotlb=on: ECAP.DT set, and the DMAR table
  // carries an ATSR for the unit's segment with ALL_PORTS (QEMU build_dmar_q35).
  bool device_iotlb = false;
  CacheSpec iotlb, context_cache, pasid_cache, paging_structure_cache;
  SourceLoc loc;
};

struct TopologySpec {
  std::string name;
  std::string description;
  std::string file;
  MemorySpec memory;
  std::vector<RootComplexSpec> root_complexes;
  std::vector<IommuSpec> iommus;   // none: DMA reaches memory untranslated
};

}  // namespace pciesim::topo
