// Hub::route_legacy_down: I/O requests and the legacy VGA window on their way down a root complex
// or a switch (docs/vga.md). Kept apart from hub.cpp's memory routing, which DMA and MMIO use.
#include "pcie/endpoint.h"
#include "pcie/hub.h"
#include "pcie/legacy_vga.h"

namespace pciesim {

void Hub::route_legacy_down(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay, HopId here) {
  const uint64_t addr = gp.get_address();
  const bool io = is_io(ext.kind);
  // PCI-to-PCI Bridge 1.2 3.2.5.18: a port with VGA Enable claims the VGA ranges regardless of
  // its windows. Two ports with VGA Enable on one bus is a misconfiguration (the VGA arbiter
  // exists to prevent it); here the first in port order wins.
  for (const DownPort& p : m_down) {
    const bool claims = p.fn ? legacy::forwards_vga(*p.fn, addr, io) : p.integrated->vga_claim(addr, io) >= 0;
    if (claims) {
      send_down(p, gp, ext, delay);
      return;
    }
  }
  // Then the windows: I/O Base/Limit for I/O (3.2.5.6), memory windows (an RCiEP: its BARs).
  for (const DownPort& p : m_down) {
    bool claims;
    if (p.fn) claims = io ? legacy::io_window_forwards(*p.fn, addr) : p.fn->window_claims(addr);
    else claims = p.integrated->claims(addr, io);
    if (claims) {
      send_down(p, gp, ext, delay);
      return;
    }
  }
  fail(gp, ext, Outcome::UnsupportedRequest, here);
}

}  // namespace pciesim
