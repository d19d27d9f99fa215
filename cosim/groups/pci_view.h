// A host's PCI functions as the Linux IOMMU-group rules see them (pure data, no SystemC).
// Every fact that an importer may not know is optional: the group computation reports a
// decision that needs an unknown fact as undecidable instead of guessing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pciesim::groups {

// PCIe capability device/port type (PCIe 7.5.3.2, bits 7:4), plus "no PCIe capability".
enum class PortType {
  Conventional,     // no PCIe capability (conventional PCI or PCI-X function)
  Endpoint,         // 0x0
  LegacyEndpoint,   // 0x1
  RootPort,         // 0x4
  UpstreamPort,     // 0x5
  DownstreamPort,   // 0x6
  PcieToPciBridge,  // 0x7
  PciToPcieBridge,  // 0x8
  RcEndpoint,       // 0x9 (RCiEP)
  RcEventCollector  // 0xA
};
const char* port_type_name(PortType t);

// A set of port types (bit i = PortType value i): what a source's facts leave open when they
// narrow a function's type without fixing it.
using PortTypeSet = uint16_t;
constexpr PortTypeSet type_bit(PortType t) { return PortTypeSet(1u << unsigned(t)); }
constexpr PortTypeSet kAnyPortType = PortTypeSet((1u << (unsigned(PortType::RcEventCollector) + 1)) - 1);
// PCIe r6.0 1.3.2 and 7.5.3.2: Endpoints, Legacy Endpoints, RCiEPs and RCECs are Type 0 functions;
// the port types (Root, Switch Upstream/Downstream, the two bridges) exist only with a Type 1
// header. Conventional PCI functions have either.
constexpr PortTypeSet kType0PortTypes =
    type_bit(PortType::Conventional) | type_bit(PortType::Endpoint) | type_bit(PortType::LegacyEndpoint) |
    type_bit(PortType::RcEndpoint) | type_bit(PortType::RcEventCollector);
constexpr PortTypeSet kType1PortTypes =
    type_bit(PortType::Conventional) | type_bit(PortType::RootPort) | type_bit(PortType::UpstreamPort) |
    type_bit(PortType::DownstreamPort) | type_bit(PortType::PcieToPciBridge) | type_bit(PortType::PciToPcieBridge);
constexpr PortTypeSet kPciePorts =
    type_bit(PortType::RootPort) | type_bit(PortType::UpstreamPort) | type_bit(PortType::DownstreamPort);
std::string port_type_set_text(PortTypeSet s);  // "PCIe Root Port, PCIe Switch Upstream Port"

// ACS capability and control (PCIe 6.12; hardware-facts §2.6). Bits: SV 0, TB 1, RR 2, CR 3, UF 4,
// EC 5, DT 6. present == false: the function has no ACS capability.
struct AcsState {
  bool present = false;
  uint16_t cap = 0;
  uint16_t ctrl = 0;
};
constexpr uint16_t kAcsSv = 1u << 0, kAcsTb = 1u << 1, kAcsRr = 1u << 2, kAcsCr = 1u << 3,
                   kAcsUf = 1u << 4, kAcsEc = 1u << 5, kAcsDt = 1u << 6;
// Linux drivers/iommu/iommu.c REQ_ACS_FLAGS.
constexpr uint16_t kRequiredAcs = kAcsSv | kAcsRr | kAcsCr | kAcsUf;

// What a kernel log or an lspci listing shows about a function's type without printing it. Each
// fact is turned into a PortTypeSet by infer_port_types() (port_type_inference.h), which cites the
// Linux code that makes it sound.
struct TypeEvidence {
  bool pcieport_driver = false;    // bound to the "pcieport" driver
  bool root_port_service = false;  // portdrv's PME or AER service probed on it
  bool pcie_capability = false;    // "enabling Extended Tags"
  bool child_no_extcfg = false;    // "pci_bus <its secondary bus>: extended config space not accessible"
};

struct FunctionView {
  int segment = 0;
  uint8_t bus = 0;
  uint8_t devfn = 0;  // device << 3 | function
  std::optional<uint16_t> vendor, device;
  std::vector<uint16_t> device_candidates;   // device unknown, but one of these (an ambiguous pci.ids name)
  std::optional<uint32_t> class_code;        // 24-bit base/sub/prog-if
  std::optional<uint8_t> header_type;        // 0 endpoint, 1 bridge (without the MF bit)
  std::optional<PortType> port_type;         // unknown when the source prints no capabilities
  PortTypeSet possible_types = kAnyPortType; // when port_type is unknown: the types still possible
  TypeEvidence evidence;                     // facts that narrow possible_types
  std::optional<bool> multifunction;         // Linux pci_dev->multifunction
  std::optional<AcsState> acs;               // unknown when the source prints no capabilities
  bool pcix = false;                         // has a PCI-X capability
  int parent = -1;                           // index of the bridge above (bus->self); -1 on a root bus
  std::optional<uint8_t> secondary, subordinate;  // bridges only
  bool iommu_attached = true;                // false: the IOMMU driver never groups it
  std::string name;                          // free text for messages
  std::string origin;                        // "file:line" where the importer found it

  // Filled by apply_dma_alias_quirks():
  std::vector<uint8_t> dma_alias_devfns;     // same-bus devfns this function also DMAs as
  bool pcie_bridge_alias = false;            // PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS
  std::string alias_unknown;                 // non-empty: an alias quirk may apply, ids unknown

  unsigned device_number() const { return devfn >> 3; }
  unsigned function_number() const { return devfn & 7u; }
  bool is_bridge() const { return header_type && (*header_type & 0x7f) == 1; }
  std::string bdf() const;  // "0000:03:00.1"
  // The port types this function may have: port_type if known, else possible_types narrowed by
  // the header type (see kType0PortTypes).
  PortTypeSet candidate_types() const;
  // Can the device id be `id`? (known id, or unknown id with `id` among the candidates if any)
  bool may_be_device(uint16_t id) const;
};

struct HostView {
  std::string source;                   // file(s) it came from
  std::vector<FunctionView> functions;  // any order; group computation orders them as Linux adds them
  // Facts an importer could not establish that matter to every decision (e.g. "no topology").
  std::vector<std::string> missing;
  // Root buses (segment, bus) in the order the kernel registered their host bridges, when the
  // source shows it (dmesg "PCI host bridge to bus"); the rest follow in ascending order.
  std::vector<std::pair<int, unsigned>> root_bus_order;

  int find(int segment, unsigned bus, unsigned devfn) const;  // index or -1
  // Fills FunctionView::parent from the bridges' secondary bus numbers (same segment).
  void link_parents();
  // Sets multifunction the way Linux's scan does: functions > 0 are multifunction; function 0 is
  // multifunction if any other function of its slot exists (otherwise it stays as given).
  void infer_multifunction();
};

std::string format_bdf(int segment, unsigned bus, unsigned devfn);

}  // namespace pciesim::groups
