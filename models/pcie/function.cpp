#include "pcie/function.h"

#include "pcie/route_cache.h"

namespace pciesim {

namespace {
constexpr uint16_t kExtCapAcs = 0x000d;  // PCIe 7.7.8
constexpr uint8_t kCapPcie = 0x10;       // PCIe 7.5.3
constexpr uint16_t kPcieLnkCap = 0x0c;
}  // namespace

PciFunction::PciFunction(std::string name, PortType type, bool extended_config)
    : m_name(std::move(name)), m_type(type), m_cfg(extended_config) {
  m_cfg.on_write([this](uint16_t, unsigned) { refresh(); });
}

void PciFunction::capture_id(RequesterId id) {
  if (id == m_bdf) return;
  m_bdf = id;
  invalidate_routes();  // ACS source validation and bridge aliases read requester ids
}

void PciFunction::set_devfn(uint8_t devfn) {
  if (devfn == m_bdf.devfn) return;
  m_bdf.devfn = devfn;
  invalidate_routes();
}

int PciFunction::claim(uint64_t addr, bool io) const {
  if (io ? !io_enabled() : !memory_enabled()) return -1;
  for (const DecodedBar& b : m_bars)
    if (b.index >= 0 && b.io == io && b.contains(addr)) return b.index;
  return -1;
}

void PciFunction::refresh() {
  // Every routing decision the fabric makes reads the decode below: any route cached before
  // may now be wrong (route_cache.h).
  invalidate_routes();
  m_command = m_cfg.read16(cfg::kCommand);
  if (!m_pcie_offset) m_pcie_offset = m_cfg.find_capability(kCapPcie);
  if (!m_acs_offset) m_acs_offset = m_cfg.find_ext_capability(kExtCapAcs);
  if (m_pcie_offset) {
    m_port_number = static_cast<uint8_t>(m_cfg.read32(m_pcie_offset + kPcieLnkCap) >> 24);
    m_ari_forwarding = read_devctl(m_cfg, m_pcie_offset).ari_forwarding;
  }
  if (m_acs_offset) m_acs = read_acs(m_cfg, m_acs_offset);
  if (is_bridge()) {
    m_bus = read_bus_numbers(m_cfg);
    m_win = read_bridge_windows(m_cfg);
    m_bridge_control = m_cfg.read16(cfg::kBridgeControl);
    return;
  }
  for (unsigned i = 0; i < 6; ++i) {
    DecodedBar& b = m_bars[i];
    static_cast<BarDecode&>(b) = read_bar(m_cfg, i);
    b.index = b.present ? static_cast<int>(i) : -1;
    if (b.present && b.is_64bit && i < 5) m_bars[++i] = DecodedBar{};
  }
}

}  // namespace pciesim
