// Firmware-style enumeration, what a BIOS does before the OS boots, done with real config
// transactions through ECAM: depth-first bus numbering, BAR sizing, window packing and
// programming, MPS/MRRS, command register, and the ACS control the topology says firmware
// leaves. A topology file therefore needs no addresses or bus numbers.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "pciesim/tlp.h"

namespace pciesim {

class Fabric;
struct FunctionInfo;
namespace topo { struct RootComplexSpec; }

class Firmware {
 public:
  explicit Firmware(Fabric& fabric) : m_fabric(fabric) {}
  void run();

  // Windows are 1 MiB granular for memory, 4 KiB for I/O (PCI-to-PCI bridge 1.2, 3.2.5).
  static constexpr uint64_t kMemWindowGranule = 1ull << 20;
  static constexpr uint64_t kIoWindowGranule = 1ull << 12;
  // Memory BARs get at least a page so no two functions share one (what Linux and VFIO want for
  // mmap; firmware such as SeaBIOS aligns the same way).
  static constexpr uint64_t kMinMemBar = 4096;

 private:
  struct Bar {
    int index;
    uint64_t size;
    bool io, is_64bit, prefetchable;
    uint16_t reg = 0;    // 0: BAR `index` of the header; else its config offset (an SR-IOV VF BARn)
    uint64_t align = 0;  // 0: its size (a BAR); VF BARn: one VF's share (PCIe 9.3.3.14)
  };
  struct Node {
    RequesterId bdf;
    bool bridge = false;
    std::vector<Bar> bars;
    std::vector<std::unique_ptr<Node>> children;
    // bridges: the windows' needs and, after allocation, their bases
    uint64_t need[3] = {0, 0, 0}, align[3] = {1, 1, 1}, base[3] = {0, 0, 0};
  };
  enum Space { kMem = 0, kPref = 1, kIo = 2 };

  uint8_t scan_bus(int segment, uint8_t bus, Node& parent, bool ari_bus);
  void scan_function(int segment, uint8_t bus, uint8_t devfn, Node& parent, uint8_t& max_bus);
  void size_bars(int segment, Node& node);
  void size_vf_bars(int segment, Node& node);
  void measure(Node& node, bool has_pref64);
  void place(int segment, Node& node, const uint64_t start[3]);
  void program_bridge(int segment, const Node& node);
  void program_device(int segment, const Node& node);
  void enable_ari_forwarding(int segment, const Node& port);
  uint16_t find_cap(int segment, RequesterId bdf, uint8_t id);
  uint16_t find_ext_cap(int segment, RequesterId bdf, uint16_t id);
  [[noreturn]] void exhausted_buses(int segment, RequesterId bridge);
  const FunctionInfo* info(int segment, RequesterId bdf);

  uint32_t rd(int seg, RequesterId b, uint16_t reg, unsigned size);
  void wr(int seg, RequesterId b, uint16_t reg, unsigned size, uint32_t v);

  Fabric& m_fabric;
  unsigned m_next_bus = 0;
  bool m_pref64 = true;  // the root complex has a 64-bit prefetchable range
};

}  // namespace pciesim
