// Endpoint: I/O requests (I/O BARs) and the legacy VGA decode of VGA functions (docs/vga.md).
// Apart from endpoint.cpp because none of it is on the memory path a BAR claims.
#include "pcie/endpoint.h"
#include "pcie/legacy_vga.h"

namespace pciesim {

namespace {
// Regions of the generic model's sparse storage beyond the six BARs (endpoint.cpp keys the
// storage by function, region and page; 4 bits of region).
constexpr unsigned kVgaMemoryRegion = 14, kVgaIoRegion = 15;
}  // namespace

bool Endpoint::vga_function(unsigned fn) const {
  const PciFunction* f = function(fn);
  return f && legacy::vga_class(*f);
}

int Endpoint::vga_claim(uint64_t addr, bool io) const {
  // Cheap refusal first: callers ask for every I/O port and every VGA-window access.
  if (io ? !legacy::vga_io(addr, false) : !legacy::vga_memory(addr)) return -1;
  for (unsigned n = 0; n < m_by_number.size(); ++n) {
    const PciFunction* f = m_by_number[n];
    if (!f || !(io ? f->io_enabled() : f->memory_enabled())) continue;
    if (vga_function(n)) return static_cast<int>(n);
  }
  return -1;
}

void Endpoint::legacy_access(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  const uint64_t addr = gp.get_address();
  const bool io = is_io(ext.kind);
  if (io) {  // an I/O BAR (PCI 3.0 6.2.5.1) first
    for (unsigned n = 0; n < m_by_number.size(); ++n) {
      PciFunction* f = m_by_number[n];
      const int bar = f ? f->claim(addr, true) : -1;
      if (bar < 0) continue;
      bar_access(n, *f, bar, addr - f->bars()[bar].base, gp, ext, delay);
      return;
    }
  }
  const int n = vga_claim(addr, io);
  if (n < 0) {
    fail(gp, ext, Outcome::UnsupportedRequest, port_hop(kUpstreamPort));
    return;
  }
  PciFunction& f = *m_by_number[static_cast<unsigned>(n)];
  if (io) vga_access(static_cast<unsigned>(n), f, VgaSpace::Io, addr & legacy::kTenBitMask, gp, ext, delay);
  else vga_access(static_cast<unsigned>(n), f, VgaSpace::Memory, addr - legacy::kVgaMemBase, gp, ext, delay);
}

void Endpoint::vga_access(unsigned fn_no, PciFunction& fn, VgaSpace space, uint64_t offset,
                          tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) {
  ext.consume_burst(delay);
  backing_access(fn_no, space == VgaSpace::Memory ? kVgaMemoryRegion : kVgaIoRegion, offset, gp);
  ext.completer = fn.bdf();
  ext.deliver(function_hop(fn_no));
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace pciesim
