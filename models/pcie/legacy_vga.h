// I/O space and the legacy VGA resources as the fabric decodes them (docs/vga.md): which
// addresses are legacy VGA, when a bridge or port forwards an I/O request or a VGA access to its
// secondary side, and which functions are VGA devices. Pure functions of the decoded config
// registers; the hubs, bridges and endpoints call them only for I/O requests and for memory
// requests inside the VGA frame buffer window, never on the DMA path.
#pragma once

#include <cstdint>

#include "pcie/config_space.h"
#include "pcie/function.h"
#include "pcie/pcie_regs.h"
#include "pciesim/tlp.h"

namespace pciesim::legacy {

// PCI-to-PCI Bridge 1.2 3.2.5.18 (Bridge Control, VGA Enable): the VGA frame buffer,
// memory 000A_0000h-000B_FFFFh.
constexpr uint64_t kVgaMemBase = 0xa0000;
constexpr uint64_t kVgaMemSize = 0x20000;
// ... and the VGA registers, I/O 3B0h-3BBh and 3C0h-3DFh, in the first 64 KiB of I/O space.
constexpr uint64_t kVgaIoMonoFirst = 0x3b0, kVgaIoMonoLast = 0x3bb;
constexpr uint64_t kVgaIoColorFirst = 0x3c0, kVgaIoColorLast = 0x3df;
// x86 port I/O addresses 16 bits; bridges may decode 32-bit I/O windows (3.2.5.6).
constexpr uint64_t kIsaIoSpace = 0x10000;
// Without VGA 16-bit Decode a bridge looks at AD[9:0] only: every 1 KiB block of the first
// 64 KiB holds an alias of the VGA ports (3.2.5.18 bit 4, "10-bit address decodes").
constexpr uint64_t kTenBitMask = 0x3ff;
// ISA Enable (3.2.5.18 bit 2): inside the I/O window, the top 768 bytes of each 1 KiB block of
// the first 64 KiB (AD[9:8] != 0) are not forwarded, they belong to ISA devices on the primary.
constexpr uint64_t kIsaAliasBits = 0x300;
// PCI Code and ID Assignment 1.x: base class 03h, sub-class 00h = VGA-compatible controller
// (Linux PCI_CLASS_DISPLAY_VGA, vgaarb.c and vfio_pci_is_vga test class >> 8 == 0x0300).
constexpr uint32_t kClassDisplayVga = 0x0300;

constexpr bool vga_memory(uint64_t addr) { return addr - kVgaMemBase < kVgaMemSize; }
constexpr bool vga_port(uint64_t port) {
  return (port >= kVgaIoMonoFirst && port <= kVgaIoMonoLast) || (port >= kVgaIoColorFirst && port <= kVgaIoColorLast);
}
// A VGA I/O address, decoding 16 bits (`decode16`) or only the low 10 (ISA aliases).
constexpr bool vga_io(uint64_t addr, bool decode16) {
  return addr < kIsaIoSpace && vga_port(decode16 ? addr : (addr & kTenBitMask));
}
// What the legacy path handles: every I/O request, and memory requests in the VGA window.
constexpr bool legacy_request(TlpKind kind, uint64_t addr) { return is_io(kind) || vga_memory(addr); }

// Bridge Control VGA Enable set (with the Command register's Memory or I/O Space Enable, which
// qualify all forwarding): the bridge forwards the VGA ranges downstream whatever its windows say.
inline bool forwards_vga(const PciFunction& bridge, uint64_t addr, bool io) {
  const uint16_t bc = bridge.bridge_control();
  if (!(bc & cfg::kBctlVgaEnable)) return false;
  if (io) return bridge.io_enabled() && vga_io(addr, bc & regs::kBctlVga16);
  return bridge.memory_enabled() && vga_memory(addr);
}

// The I/O Base/Limit window (3.2.5.6) with Command I/O Space Enable, minus the ISA aliases when
// ISA Enable is set.
inline bool io_window_forwards(const PciFunction& bridge, uint64_t addr) {
  if (!bridge.io_window_claims(addr)) return false;
  return !((bridge.bridge_control() & regs::kBctlIsa) && addr < kIsaIoSpace && (addr & kIsaAliasBits));
}

// Whether `bridge` passes a request for `addr` (I/O or memory) from its primary side down.
inline bool forwards_down(const PciFunction& bridge, uint64_t addr, bool io) {
  if (forwards_vga(bridge, addr, io)) return true;
  return io ? io_window_forwards(bridge, addr) : bridge.window_claims(addr);
}

// Class code register (PCI 3.0 6.2.1, offset 09h: prog-if, sub-class, base class).
inline bool vga_class(const PciFunction& fn) {
  return (fn.config().read(cfg::kClassProgIf, 3) >> 8) == kClassDisplayVga;
}

}  // namespace pciesim::legacy
