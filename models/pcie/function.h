// One PCI function as the fabric sees it: its configuration space and what the fabric decodes
// from it (BARs, bridge bus numbers and windows, ACS control). Decoding runs after each config
// write that changed something, never on the routing hot path.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pcie/capabilities.h"
#include "pcie/config_space.h"
#include "pcie/pcie_regs.h"
#include "pciesim/tlp.h"

namespace pciesim {

using PortType = regs::PortType;  // PCIe 7.5.3.2 device/port type

// PCIe 6.6: what a reset does to a function. A conventional reset (a hot reset, e.g. a Secondary
// Bus Reset above the function, PCIe 6.6.1) returns everything but sticky registers to its reset
// value; a Function Level Reset (PCIe 6.6.2) also keeps the fields that belong to the link.
enum class ResetKind : uint8_t { Conventional, FunctionLevel };

// A reset that a config write asked for and that someone above the function carries out.
enum class ResetRequest : uint8_t {
  FunctionLevel,  // Device Control "Initiate Function Level Reset" (PCIe 7.5.3.4), with DEVCAP.FLR
  SecondaryBus,   // Bridge Control "Secondary Bus Reset" set (PCI-to-PCI Bridge 1.2 3.2.5.17)
};

// A BAR slot as currently programmed; index -1 = unused (or the upper half of a 64-bit BAR).
struct DecodedBar : BarDecode {
  int index = -1;
};

class PciFunction {
 public:
  // `extended_config` false: a conventional PCI function (256 B config space, no PCIe capability).
  PciFunction(std::string name, PortType type, bool extended_config);
  virtual ~PciFunction() = default;
  PciFunction(const PciFunction&) = delete;
  PciFunction& operator=(const PciFunction&) = delete;

  const std::string& name() const { return m_name; }
  PortType port_type() const { return m_type; }
  bool is_bridge() const { return (m_cfg.byte(cfg::kHeaderType) & 0x7f) == 1; }
  ConfigSpace& config() { return m_cfg; }
  const ConfigSpace& config() const { return m_cfg; }

  // Identity. PCIe 2.2.6.2: a function captures its bus and device number from every type 0
  // configuration write it receives, and uses them as its requester id.
  RequesterId bdf() const { return m_bdf; }
  // Both invalidate cached routes when the id changes (route_cache.h).
  void capture_id(RequesterId id);
  void set_devfn(uint8_t devfn);

  // Command register state (decoded).
  bool memory_enabled() const { return m_command & cfg::kCmdMemory; }
  bool io_enabled() const { return m_command & cfg::kCmdIo; }
  bool bus_master() const { return m_command & cfg::kCmdBusMaster; }

  // Type 0: BARs as currently programmed (PCI 3.0 6.2.5.1).
  const std::array<DecodedBar, 6>& bars() const { return m_bars; }
  // The BAR that claims `addr` for a memory (or I/O) request; -1 when none does, or decoding is off.
  int claim(uint64_t addr, bool io) const;

  // Type 1 (bridges and ports).
  uint8_t primary_bus() const { return m_bus.primary; }
  uint8_t secondary_bus() const { return m_bus.secondary; }
  uint8_t subordinate_bus() const { return m_bus.subordinate; }
  bool bus_below(uint8_t bus) const { return m_bus.routes(bus); }
  const Window& io_window() const { return m_win.io; }
  const Window& mem_window() const { return m_win.mem; }
  const Window& pref_window() const { return m_win.pref; }
  // Memory address inside the non-prefetchable or prefetchable window (and memory decode on).
  bool window_claims(uint64_t addr) const {
    return memory_enabled() && (m_win.mem.contains(addr) || m_win.pref.contains(addr));
  }
  bool io_window_claims(uint64_t addr) const { return io_enabled() && m_win.io.contains(addr); }
  uint16_t bridge_control() const { return m_bridge_control; }
  bool ari_forwarding() const { return m_ari_forwarding; }

  // ACS (PCIe 7.7.8), zero when the capability is absent.
  bool has_acs() const { return m_acs.present; }
  const AcsRegs& acs_regs() const { return m_acs; }
  uint16_t acs_capability() const { return m_acs.capability; }
  uint16_t acs_control() const { return m_acs.control; }
  bool acs(AcsBit bit) const { return m_acs.enabled(bit); }
  bool egress_blocked(unsigned port_number) const { return m_acs.egress_blocked(port_number); }
  uint8_t port_number() const { return m_port_number; }

  // Offsets of capabilities the fabric uses (0 = absent).
  uint16_t pcie_cap() const { return m_pcie_offset; }
  uint16_t msi_cap() const { return m_msi_offset; }
  uint16_t msix_cap() const { return m_msix_offset; }
  // Message Control enable bits (PCI 3.0 6.8.1.3, 6.8.2.3): with either set the function must not
  // use INTx.
  bool msi_enabled() const;
  bool msix_enabled() const;

  // INTx (PCI 3.0 6.2.2-6.2.3): the function's interrupt state is Status.Interrupt Status; its pin
  // (Interrupt Pin register, 0 = none) is asserted while that state is set, Command.Interrupt
  // Disable is clear and neither MSI nor MSI-X is enabled. The listener hears every change of the
  // pin's level (from set_intx, a config write or a reset).
  void set_intx(bool asserted);
  bool intx_state() const { return m_intx_state; }
  bool intx_asserted() const { return m_intx_level; }
  uint8_t interrupt_pin() const { return static_cast<uint8_t>(m_cfg.read(cfg::kIntPin, 1)); }
  void set_intx_listener(std::function<void(bool asserted)> l) { m_intx_listener = std::move(l); }

  // Resets the function (PCIe 6.6): configuration registers back to their reset values except
  // sticky ones (AER) and, for an FLR, the link-related fields of Device and Link Control; the
  // INTx state is cleared. Captured bus/device numbers are kept (the next type 0 config write
  // recaptures them anyway). Invalidates cached routes, then calls on_reset().
  void reset(ResetKind kind);
  // Who carries out the resets this function's registers request: its endpoint (FLR: the MSI-X
  // table and the device model reset too), the fabric (a Secondary Bus Reset resets everything
  // below the bridge). Without a handler an FLR resets the function alone, and an SBR nothing.
  void set_reset_handler(std::function<void(ResetRequest)> h) { m_reset_handler = std::move(h); }
  // Device models: called after every config write that reached a writable or W1C bit, once the
  // function has decoded it (the ConfigSpace's own write hook belongs to the function).
  void set_config_listener(ConfigSpace::WriteHook l) { m_config_listener = std::move(l); }
  // Capability models the function carries (ATS, models/pcie/ats.h): each watcher hears every
  // config write that reached a writable bit, and every reset, after the function decoded it.
  void add_config_watcher(ConfigSpace::WriteHook w) { m_config_watchers.push_back(std::move(w)); }

  // Re-reads the cached decode from config space (called by the write hook; public for tests
  // and for builders that poke config space directly). Invalidates cached routes.
  void refresh();

  // Called at the end of reset(), for function subclasses.
  virtual void on_reset() {}

  // SR-IOV (PCIe 9.3.4.1.11): a VF's BAR registers read 0; its memory space is its slice of the
  // PF's VF BARn, decoded while the PF's VF MSE is set (the VF's own Command.MSE is RO 0). The
  // PF's model sets it here; refresh() then leaves the BARs alone.
  void set_vf_bars(const std::array<DecodedBar, 6>& bars, bool decode);
  bool is_vf() const { return m_vf; }

 protected:
  std::string m_name;
  PortType m_type;
  ConfigSpace m_cfg;

 private:
  // The config write hook: decode, then the side effects of the bits just written.
  void written(uint16_t offset, unsigned size);
  void update_intx();

  RequesterId m_bdf;
  uint16_t m_command = 0;
  std::array<DecodedBar, 6> m_bars{};
  BusNumbers m_bus;
  BridgeWindows m_win;
  uint16_t m_bridge_control = 0;
  bool m_ari_forwarding = false;
  uint16_t m_acs_offset = 0;
  AcsRegs m_acs;
  uint16_t m_pcie_offset = 0;
  uint16_t m_msi_offset = 0;
  uint16_t m_msix_offset = 0;
  uint8_t m_port_number = 0;
  bool m_vf = false;          // set_vf_bars(): an SR-IOV VF
  bool m_vf_decode = false;   // the PF's VF MSE
  bool m_intx_state = false;  // Status.Interrupt Status
  bool m_intx_level = false;  // the pin as the listener last heard it
  bool m_resetting = false;   // reset(): the config listener hears no write
  std::function<void(bool)> m_intx_listener;
  std::function<void(ResetRequest)> m_reset_handler;
  ConfigSpace::WriteHook m_config_listener;
  std::vector<ConfigSpace::WriteHook> m_config_watchers;
};

}  // namespace pciesim
