// An endpoint device: one or more functions (multifunction, or ARI) behind one link, or a
// conventional PCI device on a PCIe-to-PCI bridge's bus, or a root-complex integrated endpoint.
// The generic model backs every memory BAR with sparse storage, so what is written reads back;
// device models (edu, GPU, ...) derive and override bar_access().
#pragma once

#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "pcie/component.h"
#include "pcie/function.h"
#include "pcie/route_cache.h"
#include "pcie/topology/spec.h"

namespace pciesim {

struct DmaOptions {
  AddressType at = AddressType::Untranslated;
  bool has_pasid = false;
  uint32_t pasid = 0;
  bool privileged = false, execute = false;
  bool no_snoop = false, relaxed_ordering = false;
  bool record_path = true;
  // Puts another requester id on the TLP (a misbehaving or malicious device; what ACS SV
  // exists to catch). The device's internal routing is skipped.
  std::optional<RequesterId> spoof_requester;
};

class Endpoint : public Component {
 public:
  static constexpr int kUpstreamPort = 0;

  // `link`: the link above the device (nullptr for RCiEPs and conventional PCI devices).
  Endpoint(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment,
           const topo::LinkSpec* link);
  ~Endpoint() override;

  const topo::EndpointSpec& spec() const { return m_spec; }
  int device_number() const { return m_spec.device; }
  // Functions by function number (nullptr when absent).
  PciFunction* function(unsigned fn) const { return fn < m_by_number.size() ? m_by_number[fn] : nullptr; }
  const std::vector<std::unique_ptr<PciFunction>>& functions() const { return m_functions; }
  HopId function_hop(unsigned fn) const;

  // Issues a memory request from function `fn` upstream (DMA). `data` holds `len` bytes to
  // write or receives the read data. Returns the transaction's record; the TLM delay is updated
  // to the completion time. Not re-entrant (one DMA at a time per endpoint, like one engine).
  // Requests to DRAM replay a cached route when one is valid (route_cache.h): same timing, data,
  // record and link statistics as the hop-by-hop path, which fills the cache.
  const PcieExtension& dma(unsigned fn, TlpKind kind, uint64_t addr, uint8_t* data, unsigned len,
                           sc_core::sc_time& delay, const DmaOptions& opt = {});
  // The generic payload of the last dma(), for inspecting the response status.
  const tlm::tlm_generic_payload& last_payload() const { return m_gp; }

  // Which function/BAR claims `addr` (memory); false when none.
  bool claims(uint64_t addr, bool io = false) const;

  // The routes this endpoint's DMA took to DRAM (enabled by default).
  RouteCache& route_cache() { return m_routes; }
  const RouteCache& route_cache() const { return m_routes; }

 protected:
  void handle(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) override;
  // A memory request claimed by `bar` of `fn`. Default: sparse memory backing.
  virtual void bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                          PcieExtension& ext, sc_core::sc_time& delay);
  void config_access(tlm::tlm_generic_payload& gp, PcieExtension& ext);

 private:
  // dma() on a route cache miss: issue() with a recorder attached, then store the route.
  const PcieExtension& dma_recorded(uint32_t key, PciFunction& f, HopId origin, sc_core::sc_time& delay);
  // The hop-by-hop path of dma(), once the TLP is built.
  void issue(PciFunction& f, HopId origin, sc_core::sc_time& delay, bool spoofed);

  topo::EndpointSpec m_spec;
  std::vector<std::unique_ptr<PciFunction>> m_functions;
  std::vector<PciFunction*> m_by_number;  // function number -> function
  std::vector<HopId> m_function_hops;     // function number -> hop
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> m_backing;  // (fn, bar, page) -> 4 KiB
  tlm::tlm_generic_payload m_gp;
  PcieExtension* m_ext;
  RouteCache m_routes;
};

}  // namespace pciesim
