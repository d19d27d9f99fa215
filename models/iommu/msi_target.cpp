#include "iommu/msi_target.h"

#include <algorithm>
#include <cstring>

#include "iommu/interrupt_remap.h"
#include "pcie/port_registry.h"

namespace pciesim::vtd {

namespace {
// Compatibility decoding reads no table.
class NoMemory : public MemReader {
 public:
  bool read(uint64_t, void*, unsigned) const override { return false; }
};
}  // namespace

MsiTarget::MsiTarget(sc_core::sc_module_name name, LocalApicSink& sink)
    : sc_module(name), socket("socket"), m_sink(sink), m_hop(hops().intern("apic")) {
  socket.register_b_transport(this, &MsiTarget::b_transport);
}

void MsiTarget::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  auto* ext = gp.get_extension<PcieExtension>();
  if (ext) ext->add_hop(m_hop, delay);
  if (!gp.is_write() || gp.get_data_length() != 4) {  // only DWORD writes are messages
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    if (ext) ext->fail(Outcome::UnsupportedRequest, m_hop);
    return;
  }
  uint32_t data = 0;
  std::memcpy(&data, gp.get_data_ptr(), 4);
  MsiWrite msi{gp.get_address(), data, ext ? ext->requester.raw() : uint16_t{0}};
  static const NoMemory none;
  InterruptRemapResult r = remap_interrupt(msi, InterruptRemapState{false, true, 0, Capabilities{}}, none);
  if (!r.ok()) {
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    if (ext) ext->fail(Outcome::UnsupportedRequest, m_hop);
    return;
  }
  deliver(r, msi, m_sink, (sc_core::sc_time_stamp() + delay).value());
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
  if (ext) ext->deliver(m_hop);
}

}  // namespace pciesim::vtd
