// An endpoint device: one or more functions (multifunction, or ARI) behind one link, or a
// conventional PCI device on a PCIe-to-PCI bridge's bus, or a root-complex integrated endpoint.
// The generic model backs every memory BAR with sparse storage, so what is written reads back;
// device models (edu, GPU, ...) derive and override bar_access().
//
// Interrupts: signal_msi() sends MSI / MSI-X messages as the function's capabilities are
// programmed (msi_signal.h), the MSI-X table and PBA are real registers in the BAR the capability
// names (msix_table.h), set_intx() drives the INTx pin. Resets: an FLR the function's registers
// request, or a Secondary Bus Reset above the device (the fabric calls reset()), end in
// reset_function(), which calls the device model's on_reset().
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "pcie/ats.h"
#include "pcie/component.h"
#include "pcie/function.h"
#include "pcie/msi_signal.h"
#include "pcie/msix_table.h"
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
  // Phantom function k (1 .. 2^N - 1 with N = DEVCAP Phantom Functions Supported): the request
  // carries function number fn | k << (3 - N) (PCIe 2.2.6.2). Only while the function's DEVCTL
  // Phantom Functions Enable is set; otherwise the function's own id, as the spec requires.
  unsigned phantom = 0;
  // Address Translation Services (models/pcie/ats.h): with the function's ATS Enable set, the
  // request looks up the ATC, sends a Translation Request on a miss, and goes out translated
  // (PcieExtension::atc says what happened); `at` is ignored. With Enable clear (or no ATS
  // capability) it goes out untranslated.
  bool ats = false;
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
  // The requester id function `fn`'s DMA carries: its own, another function's
  // (FunctionSpec::dma_as_function), or a phantom function's (DmaOptions::phantom).
  RequesterId dma_requester(unsigned fn, unsigned phantom = 0) const;

  // Issues a memory request from function `fn` upstream (DMA). `data` holds `len` bytes to
  // write or receives the read data. Returns the transaction's record; the TLM delay is updated
  // to the completion time. A dma() issued while another is on its way (a device model's
  // bar_access reached by a sibling's request, an MSI it sends) uses a payload of its own; the
  // returned record stays valid until the next dma() at the same nesting depth.
  // Requests to DRAM replay a cached route when one is valid (route_cache.h): same timing, data,
  // record and link statistics as the hop-by-hop path, which fills the cache.
  const PcieExtension& dma(unsigned fn, TlpKind kind, uint64_t addr, uint8_t* data, unsigned len,
                           sc_core::sc_time& delay, const DmaOptions& opt = {});
  // The generic payload of the last dma() that finished, for inspecting the response status.
  const tlm::tlm_generic_payload& last_payload() const { return *m_last_gp; }

  // Signals MSI or MSI-X `vector` of function `fn` (msi_signal.h: enables, Bus Master Enable,
  // masks and pending bits, Multiple Message Enable). A message that may go is a DWORD memory
  // write with the function's requester id, issued through dma(): it crosses the fabric, and at
  // 0xFEEx_xxxx a remapping unit's interrupt path or the host's MSI target delivers it to the
  // local APIC sink. `delay` is updated to the write's completion.
  MsiResult signal_msi(unsigned fn, unsigned vector, sc_core::sc_time& delay);
  // Sets the INTx state of function `fn` (Status.Interrupt Status); the pin follows it unless
  // Command.Interrupt Disable is set or MSI/MSI-X is enabled (PciFunction::set_intx).
  void set_intx(unsigned fn, bool asserted);
  // Sends a message TLP (PCIe 2.2.8) from function `fn` with Message Code `code`; the error
  // messages (aer.h) are routed to the root complex. Bus Master Enable does not gate messages
  // (PCIe 7.5.1.1.3 names memory and I/O requests only). Returns the message's record.
  const PcieExtension& send_msg(unsigned fn, uint8_t code, sc_core::sc_time& delay);
  // Hears every change of a function's INTx pin: function number, Interrupt Pin (1..4 = INTA..
  // INTD), level. The fabric installs one (Fabric::set_intx_listener).
  using IntxListener = std::function<void(unsigned fn, unsigned pin, bool asserted)>;
  void set_intx_listener(IntxListener l) { m_intx_listener = std::move(l); }
  // The ATS capability and ATC of function `fn`; nullptr without ATS.
  AtsFunction* ats(unsigned fn) const { return fn < m_ats.size() ? m_ats[fn].get() : nullptr; }
  // The MSI-X table and PBA of function `fn`; nullptr without MSI-X.
  MsixTable* msix_table(unsigned fn) const { return fn < m_msix.size() ? m_msix[fn].get() : nullptr; }

  // Resets function `fn` (PCIe 6.6): its registers (PciFunction::reset), its MSI-X table, the data
  // the generic model keeps behind its BARs (6.6.2: no software-readable state survives from the
  // function's previous use), cached routes; then the device model's on_reset().
  void reset_function(unsigned fn, ResetKind kind);
  // A conventional reset of every function (a Secondary Bus Reset above the device).
  void reset(ResetKind kind = ResetKind::Conventional);

  // Which function/BAR claims `addr` (memory); false when none.
  bool claims(uint64_t addr, bool io = false) const;

  // Legacy VGA (docs/vga.md). A VGA function claims the VGA window (memory A0000h-BFFFFh) while
  // its Command Memory Space Enable is set, and the VGA ports (3B0h-3BBh, 3C0h-3DFh, decoding
  // AD[9:0] as an ISA VGA does, so their aliases too) while I/O Space Enable is set.
  // vga_function(): class code 0300xxh by default; a device model may override it.
  virtual bool vga_function(unsigned fn) const;
  // The function that claims `addr` as legacy VGA memory (or an I/O port); -1 when none.
  int vga_claim(uint64_t addr, bool io) const;

  // The routes this endpoint's DMA took to DRAM (enabled by default).
  RouteCache& route_cache() { return m_routes; }
  const RouteCache& route_cache() const { return m_routes; }

 protected:
  void handle(int port, tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay) override;
  // A memory request claimed by `bar` of `fn`. Default: sparse memory backing.
  // The MSI-X table and PBA are routed away before this is called.
  virtual void bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                          PcieExtension& ext, sc_core::sc_time& delay);
  // Device models: return function `fn` to its state after reset (registers, engines, timers,
  // buffers). Called by reset_function() after the configuration registers were reset.
  virtual void on_reset(unsigned /*fn*/, ResetKind /*kind*/) {}
  // A legacy VGA access claimed by function `fn_no` (vga_claim): `offset` is from A0000h in the
  // VGA window (Memory), or the port with AD[15:10] dropped, 3B0h-3DFh (Io). Default: sparse
  // storage per function (cleared by its resets), as bar_access() gives BARs. A GPU model
  // overrides it to decode its VGA registers and frame buffer.
  enum class VgaSpace : uint8_t { Memory, Io };
  virtual void vga_access(unsigned fn_no, PciFunction& fn, VgaSpace space, uint64_t offset,
                          tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay);
  void config_access(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay);
  // Functions that come and go while the device runs (SR-IOV VFs while VF Enable is set, PCIe
  // 9.3.3.3.1): `fn`, owned by the model, answers as function number `n` (config, its BARs, DMA,
  // MSI-X, FLR) until detached. Attaching builds its MSI-X table; detaching drops the table and
  // the generic BAR storage, and invalidates cached routes.
  void attach_function(unsigned n, PciFunction& fn, HopId hop);
  void detach_function(unsigned n);
  // PCIe 6.12.1.2 lets a multi-function device route a request from one of its functions to
  // another's BAR inside the device (on by default). A model whose functions never do (the
  // 82599, docs/sriov.md `internal_p2p`) turns it off: every request then leaves on the link.
  void set_internal_p2p(bool on) { m_internal_p2p = on; }

 private:
  // The payload of one dma() in flight (see dma()).
  struct DmaSlot {
    tlm::tlm_generic_payload gp;
    PcieExtension* ext;
    DmaSlot();
  };
  // dma() with DmaOptions::ats (endpoint_ats.cpp).
  const PcieExtension& dma_ats(unsigned fn, TlpKind kind, uint64_t addr, uint8_t* data, unsigned len,
                               sc_core::sc_time& delay, const DmaOptions& opt);
  // dma() once its payload is chosen.
  const PcieExtension& dma_on(DmaSlot& s, unsigned fn, TlpKind kind, uint64_t addr, uint8_t* data, unsigned len,
                              sc_core::sc_time& delay, const DmaOptions& opt);
  // dma() on a route cache miss: issue() with a recorder attached, then store the route.
  const PcieExtension& dma_recorded(DmaSlot& s, uint32_t key, PciFunction& f, HopId origin, sc_core::sc_time& delay);
  // The hop-by-hop path of dma(), once the TLP is built.
  void issue(DmaSlot& s, PciFunction& f, HopId origin, sc_core::sc_time& delay, bool spoofed);
  // A memory request claimed by `bar` of function `fn_no`: the MSI-X table and PBA, else bar_access().
  void access_bar(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                  PcieExtension& ext, sc_core::sc_time& delay);
  MsiResult send_message(unsigned fn, const MsiMessage& m, sc_core::sc_time& delay);
  // An I/O request, or a memory request in the VGA window no BAR claimed (endpoint_legacy.cpp).
  void legacy_access(tlm::tlm_generic_payload& gp, PcieExtension& ext, sc_core::sc_time& delay);
  // The generic model's sparse storage: region `region` (a BAR index, or a VGA space) of `fn_no`.
  void backing_access(unsigned fn_no, unsigned region, uint64_t offset, tlm::tlm_generic_payload& gp);
  // Sends the messages of function `fn` that are pending and no longer masked.
  void send_unmasked(unsigned fn, sc_core::sc_time delay);

  topo::EndpointSpec m_spec;
  std::vector<std::unique_ptr<PciFunction>> m_functions;
  std::vector<PciFunction*> m_by_number;  // function number -> function
  std::vector<HopId> m_function_hops;     // function number -> hop
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> m_backing;  // (fn, bar, page) -> 4 KiB
  std::vector<std::unique_ptr<MsixTable>> m_msix;  // function number -> table (nullptr: no MSI-X)
  std::vector<std::unique_ptr<AtsFunction>> m_ats;  // function number -> ATS (nullptr: none)
  std::vector<int8_t> m_dma_as_function;  // function number -> FunctionSpec::dma_as_function (-1: own id)
  bool m_any_dma_alias = false;           // some function DMAs with another function's number
  IntxListener m_intx_listener;
  DmaSlot m_slot;                                  // dma() (the common case: one at a time)
  std::vector<std::unique_ptr<DmaSlot>> m_nested;  // dma() while another is on its way, by depth
  unsigned m_dma_depth = 0;
  const tlm::tlm_generic_payload* m_last_gp;
  RouteCache m_routes;
  bool m_internal_p2p = true;  // set_internal_p2p()
};

}  // namespace pciesim
