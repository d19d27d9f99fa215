// Header and capability builders: each one declares its registers as a table of
// {offset, size, reset, writable mask, write-1-to-clear mask} on a ConfigSpace (ARCHITECTURE.md,
// "registers are declared, not coded"). Side effects (FLR, link retrain, secondary bus reset)
// belong to the component that owns the ConfigSpace: its write hook reads the bits back with the
// decoders at the end of this file.
//
// Bad topology input (a BAR that is not a power of two, an MSI vector count of 3, ...) throws
// topo::TopologyError with the source location of the offending node.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "pciesim/tlp.h"
#include "pcie/config_space.h"
#include "pcie/pcie_regs.h"
#include "pcie/topology/spec.h"

namespace pciesim {

// Where a builder put each capability; 0 = absent.
struct CapOffsets {
  uint16_t pm = 0, msi = 0, msix = 0, pcie = 0;  // classic list
  uint16_t aer = 0, acs = 0, ari = 0;            // extended list
  uint16_t ats = 0;                               // extended list (models/pcie/ats.h)
};

// ---------------------------------------------------------------------------------------------
// Headers (PCI 3.0 6.1, PCI-to-PCI Bridge 1.2 3.2, PCIe 7.5.1)
// ---------------------------------------------------------------------------------------------

// Type 0 header of an endpoint function: ids, command/status, BARs sized purely by their writable
// masks, expansion ROM (absent when rom_size is 0), subsystem ids, interrupt line/pin. A 4 KiB
// ConfigSpace is a PCIe function (latency timer hardwired 0, DEVSEL fast); a 256 B one is
// conventional PCI (latency timer RW, DEVSEL medium).
void build_type0_header(ConfigSpace& cs, const topo::FunctionSpec& fn, bool multifunction,
                        uint32_t rom_size = 0);

// What a type 1 header needs: ports, switch ports and PCIe-to-PCI bridges.
struct BridgeHeader {
  uint16_t vendor = 0x8086, device = 0;
  uint8_t revision = 0;
  uint32_t class_code = 0x060400;  // PCI bridge, normal decode
  bool multifunction = false;
  int interrupt_pin = 1;           // INTA: ports signal PME/hot-plug/AER by INTx until MSI is on
  bool conventional_secondary = false;  // PCIe-to-PCI bridge: secondary latency timer RW
  bool io_window = true;           // false: I/O base/limit hardwired 0 (no I/O forwarding)
  std::vector<topo::BarSpec> bars; // BAR0/BAR1; absent by default (RO zero)
  topo::SourceLoc loc;
};
void build_type1_header(ConfigSpace& cs, const BridgeHeader& hdr);

// ---------------------------------------------------------------------------------------------
// Capabilities. Each returns the capability's offset.
// ---------------------------------------------------------------------------------------------

// PCI PM 1.2 3.2: version 3, D0/D3hot only, No_Soft_Reset set; PME from D0/D3hot/D3cold when
// pme_capable (PME_En RW, PME_Status W1C).
uint16_t add_pm_cap(ConfigSpace& cs, bool pme_capable = false);

// PCI 3.0 6.8.1: vectors = 1, 2, 4, .., 32.
uint16_t add_msi_cap(ConfigSpace& cs, unsigned vectors, bool is_64bit, bool per_vector_mask,
                     const topo::SourceLoc& loc = {});

// PCI 3.0 6.8.2: where the table and the PBA live.
struct MsixLayout {
  uint8_t table_bir = 0;
  uint32_t table_offset = 0;
  uint8_t pba_bir = 0;
  uint32_t pba_offset = 0;
};
// Table and PBA at the top of the function's first memory BAR, table 4 KiB aligned and the PBA
// right after it (PBA 8-byte aligned). Throws when there is no memory BAR or it is too small.
MsixLayout default_msix_layout(const topo::FunctionSpec& fn, unsigned vectors);
uint16_t add_msix_cap(ConfigSpace& cs, unsigned vectors, const MsixLayout& layout,
                      const topo::SourceLoc& loc = {});

// PCIe 7.5.3: the PCI Express capability, version 2.
struct ExpressParams {
  regs::PortType type = regs::PortType::Endpoint;
  topo::LinkSpec link;            // the link LNKCAP/LNKSTA describe (above an endpoint/USP/bridge,
                                  // below a root port/DSP); its MPS/MRRS/RCB are left programmed
  int max_gen = 0, max_width = 0; // LNKCAP capability; 0 = the link's trained gen/width
  bool link_up = true;            // false: LNKSTA x0, DLL link inactive
  unsigned port_number = 0;       // LNKCAP bits 31:24
  bool slot = false;              // root port / DSP: hot-plug capable slot
  unsigned slot_number = 0;       // SLTCAP physical slot number
  bool card_present = true;       // SLTSTA presence detect state
  bool flr = false;               // endpoints: DEVCAP function-level reset
  unsigned max_payload_supported = 0;  // bytes; 0 = link.mps
  uint8_t msi_message_number = 0;
  unsigned phantom_functions = 0;  // endpoints: DEVCAP Phantom Functions Supported (0..3)
};
uint16_t add_express_cap(ConfigSpace& cs, const ExpressParams& p);

// PCIe 7.8.4: AER v2; root error command/status/source id on root ports (and event collectors).
uint16_t add_aer_cap(ConfigSpace& cs, regs::PortType type);

// PCIe 7.7.8: ACS. Capability from spec.capability; control RW for implemented bits only, left at
// spec.control (reset value 0, as after a conventional reset); egress control vector of
// spec.egress_vector_bits bits when EC is implemented.
uint16_t add_acs_cap(ConfigSpace& cs, const topo::AcsSpec& spec);

// PCIe 7.8.8: ARI, next function number in the capability; no function groups.
uint16_t add_ari_cap(ConfigSpace& cs, uint8_t next_function);

// ---------------------------------------------------------------------------------------------
// Whole functions: header plus the capability list a component of that kind carries. Layout
// (offsets fixed so lspci output is stable): PM 0x40, MSI 0x50, PCIe 0x70, MSI-X 0xb0 when all
// are present; AER 0x100, then ACS, then ARI.
// ---------------------------------------------------------------------------------------------

struct EndpointParams {
  regs::PortType type = regs::PortType::Endpoint;  // Endpoint, LegacyEndpoint, RcIntegratedEndpoint
  bool conventional = false;      // conventional PCI: no PCIe capability, no extended capabilities
  bool multifunction = false;
  topo::LinkSpec link;            // the link above the device (ignored for RCiEPs/conventional)
  uint8_t ari_next_function = 0;  // FunctionSpec.ari: the next function number, 0 = last
};
CapOffsets build_endpoint_function(ConfigSpace& cs, const topo::FunctionSpec& fn,
                                   const EndpointParams& p);

struct PortParams {
  BridgeHeader header;
  ExpressParams express;          // type: RootPort, SwitchUpstream, SwitchDownstream, PcieToPciBridge
  topo::AcsSpec acs;              // added when acs.present
  bool aer = true;
  unsigned msi_vectors = 1;       // 0 = no MSI capability
};
CapOffsets build_port_function(ConfigSpace& cs, const PortParams& p);

// ---------------------------------------------------------------------------------------------
// Decoders: pure reads of the current register values, for the fabric after a config write.
// ---------------------------------------------------------------------------------------------

struct AcsRegs {
  bool present = false;
  uint16_t capability = 0;  // implemented AcsBit positions (0 when the function has no ACS)
  uint16_t control = 0;     // enabled AcsBit positions
  unsigned egress_vector_bits = 0;
  std::array<uint32_t, 8> egress_vector{};  // up to 256 bits

  bool implemented(AcsBit b) const { return capability & acs_mask(b); }
  bool enabled(AcsBit b) const { return control & acs_mask(b); }
  // Egress control vector bit n (PCIe 7.7.8.4): set = P2P to port/function n is blocked/redirected.
  bool egress_blocked(unsigned n) const {
    return n < egress_vector_bits && ((egress_vector[n / 32] >> (n % 32)) & 1u);
  }
};
AcsRegs read_acs(const ConfigSpace& cs, uint16_t acs_off);

struct BusNumbers {
  uint8_t primary = 0, secondary = 0, subordinate = 0;
  bool routes(unsigned bus) const { return bus >= secondary && bus <= subordinate && secondary != 0; }
};
BusNumbers read_bus_numbers(const ConfigSpace& cs);

// A bridge window: [base, limit]; base > limit = disabled (PCI-to-PCI Bridge 1.2 3.2.5.6).
struct Window {
  uint64_t base = 1, limit = 0;
  bool enabled() const { return base <= limit; }
  bool contains(uint64_t a) const { return a >= base && a <= limit; }
  uint64_t size() const { return enabled() ? limit - base + 1 : 0; }
};
struct BridgeWindows {
  Window io, mem, pref;
  bool io_32bit = false, pref_64bit = false;
};
BridgeWindows read_bridge_windows(const ConfigSpace& cs);

// One BAR as sizing would find it (size from the writable mask) plus its current address.
struct BarDecode {
  bool present = false, io = false, is_64bit = false, prefetchable = false;
  bool enabled = true;  // ROM: the enable bit; BARs decode when COMMAND enables their space
  uint64_t base = 0, size = 0;
  bool contains(uint64_t a) const { return present && a >= base && a - base < size; }
};
// index = the BAR's (lower) register; bar_count = 6 for type 0, 2 for type 1.
BarDecode read_bar(const ConfigSpace& cs, unsigned index, unsigned bar_count = 6);
// ROM BAR: present when its address bits are writable; base valid only when enabled.
BarDecode read_rom(const ConfigSpace& cs);

struct DevCtlRegs {
  unsigned mps = 128, mrrs = 512;  // bytes
  bool relaxed_ordering = false, no_snoop = false, ext_tag = false;
  bool ari_forwarding = false;     // DEVCTL2
};
DevCtlRegs read_devctl(const ConfigSpace& cs, uint16_t pcie_off);

struct LinkStatus {
  int gen = 0, width = 0;
  bool dll_active = false;
};
LinkStatus read_link_status(const ConfigSpace& cs, uint16_t pcie_off);
regs::PortType read_port_type(const ConfigSpace& cs, uint16_t pcie_off);

// Encodings used by DEVCAP/DEVCTL (PCIe 7.5.3.3-4): 128 B -> 0 .. 4096 B -> 5.
unsigned encode_payload(unsigned bytes);
constexpr unsigned decode_payload(unsigned code) { return 128u << (code & 7); }

}  // namespace pciesim
