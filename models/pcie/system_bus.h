// The host side of the machine: the CPU's path into the root complexes (ECAM, MMIO) and the
// root complexes' path to DRAM. A TLP that leaves a root complex upstream and decodes to
// another root complex's MMIO (a P2P request redirected to the host, or one crossing segments)
// comes back down through that root complex, if the source root complex routes P2P.
#pragma once

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <vector>

#include "pcie/route_cache.h"
#include "pcie/topology/spec.h"
#include "pciesim/tlp.h"

namespace pciesim {

class RootComplex;
class Dram;

class SystemBus : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<SystemBus> in;     // CPU, then each RC's host_out
  tlm_utils::multi_passthrough_initiator_socket<SystemBus> out;  // DRAM, then each RC's cpu_in

  SystemBus(sc_core::sc_module_name name, Dram& dram);
  void add_root_complex(RootComplex& rc);
  // The CPU's initiator socket binds here (index 0).
  void bind_cpu(tlm::tlm_initiator_socket<>& cpu);
  // Another upstream source acting for root complex `rc` (a remapping unit's memory side).
  template <class Socket>
  void bind_source(Socket& s, RootComplex& rc) {
    s.bind(in);
    m_sources.push_back(&rc);
    m_from_unit.push_back(true);
    invalidate_routes();
  }
  // A target of CPU MMIO (a remapping unit's register window, the interrupt range).
  template <class Socket>
  void add_mmio_target(Socket& target, topo::AddressRange range) {
    int index = static_cast<int>(m_targets.size());
    out.bind(target);
    m_targets.push_back(Target{index, {range}, nullptr});
    invalidate_routes();
  }
  HopId dram_hop() const { return m_dram_hop; }

 private:
  void b_transport(int in_index, tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  unsigned transport_dbg(int in_index, tlm::tlm_generic_payload& gp);
  int target_for(uint64_t addr) const;  // out index, -1 when nothing decodes it
  // The CPU's I/O requests and its accesses to the legacy VGA window (docs/vga.md).
  void legacy_transport(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay);
  // For the route cache: a DMA from in-socket `in_index` decoded to DRAM (route_cache.h).
  void note_dram_route(int in_index, const tlm::tlm_generic_payload& gp, RouteRecorder& rec) const;

  struct Target {
    int out_index;
    std::vector<topo::AddressRange> ranges;
    RootComplex* rc;  // null for DRAM
  };
  std::vector<Target> m_targets;
  std::vector<RootComplex*> m_sources;  // in index -> RC (nullptr for the CPU)
  std::vector<bool> m_from_unit;        // in index -> bound by bind_source (a remapping unit)
  int m_cpu_in = -1;                    // in index of the CPU
  Dram* m_dram;
  HopId m_dram_hop;
  topo::AddressRange m_dram_range;
};

}  // namespace pciesim
