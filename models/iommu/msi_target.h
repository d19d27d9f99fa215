// The interrupt address range (0xFEEx_xxxx) on the host bus, for MSI writes that reach it without
// passing a remapping unit: decoded as compatibility-format messages and handed to the local
// APIC sink (VT-d 5.1.2 "Unremapped" path). A remapping unit in front of a port handles that
// port's MSIs itself.
#pragma once

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "iommu/local_apic_sink.h"
#include "pciesim/tlp.h"

namespace pciesim::vtd {

class MsiTarget : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<MsiTarget> socket;
  MsiTarget(sc_core::sc_module_name name, LocalApicSink& sink);
  HopId hop() const { return m_hop; }

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  LocalApicSink& m_sink;
  HopId m_hop;
};

}  // namespace pciesim::vtd
