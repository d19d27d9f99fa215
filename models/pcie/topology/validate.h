// Structural checks on a TopologySpec: every rule of the topology format that can be stated on
// the plain data (ranges, duplicates, function 0, ACS consistency, BAR slots, bus budget,
// overlapping address ranges). The YAML loader runs them after reading a file; code that builds
// a spec by hand runs them too. The loader turns an issue's `field` into the exact line of that
// key; everyone else gets the item's own location.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pcie/topology/spec.h"

namespace pciesim::topo {

constexpr int kMaxNesting = 64;         // levels of `below` (a real hierarchy is a few deep)
constexpr int kBusesPerSegment = 256;   // PCIe 7.2.2: 8-bit bus numbers per segment
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t k4GiB = 4ull << 30;

// PCIe 7.7.8.2: ACS capability/control bit names in bit order (AcsBit of pciesim/tlp.h).
constexpr int kAcsBitCount = 7;
constexpr const char* kAcsBitNames[kAcsBitCount] = {"SV", "TB", "RR", "CR", "UF", "EC", "DT"};
constexpr uint16_t kAcsEgressControl = 1u << 5;
constexpr uint16_t kAcsAllBits = (1u << kAcsBitCount) - 1;
std::optional<uint16_t> acs_bit_from_name(std::string_view name);  // "RR" -> 1 << 2
std::string acs_bits_to_string(uint16_t bits);                     // "SV RR CR UF", or "none"

struct ValidationIssue {
  SourceLoc loc;       // the offending item
  std::string field;   // its key in the topology file ("gen", "device", ...); "" = the item itself
  std::string message;
};

// The first problem in file order (mostly), or nothing when the spec is valid.
std::optional<ValidationIssue> find_first_issue(const TopologySpec& spec);
// Throws TopologyError at the first problem.
void validate_topology(const TopologySpec& spec);

// Bus numbers a root complex consumes: its root bus, plus one secondary bus per root port,
// switch internal bus, switch downstream port and PCIe-to-PCI bridge.
int count_buses(const RootComplexSpec& rc);

// Address space the hierarchy of a root complex needs after firmware-style packing: BARs
// naturally aligned (memory BARs at least 4 KiB), bridge memory windows in 1 MiB and I/O windows
// in 4 KiB granules. 64-bit prefetchable BARs go to mmio64, other memory BARs to mmio32.
// An estimate for sizing topology files; enumeration makes the real assignment.
struct ResourceEstimate {
  uint64_t mmio32 = 0;
  uint64_t mmio64 = 0;
  uint64_t io = 0;
};
ResourceEstimate estimate_resources(const RootComplexSpec& rc);

}  // namespace pciesim::topo
