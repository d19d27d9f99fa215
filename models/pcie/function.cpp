#include "pcie/function.h"

#include <vector>

#include "pcie/route_cache.h"

namespace pciesim {

using namespace regs;

namespace {
constexpr uint16_t kExtCapAcs = 0x000d;  // PCIe 7.7.8
constexpr uint8_t kCapPcie = 0x10;       // PCIe 7.5.3
constexpr uint16_t kPcieLnkCap = 0x0c;

// Bits of a register that a reset leaves alone.
struct KeptBits {
  uint16_t offset;
  unsigned size;
  uint32_t mask;
  uint32_t value = 0;
};

// PCIe 7.8.4: the AER registers are sticky (RW1CS / RWS / ROS) except Root Error Command, so no
// reset short of a cold one clears them: uncorrectable/correctable status, mask, severity,
// capabilities and control, header log; root error status, error source ids, TLP prefix log.
constexpr uint16_t kAerStickyFirst = kAerUncorStatus, kAerStickyEnd = kAerRootCommand;
constexpr uint16_t kAerSticky2First = kAerRootStatus, kAerSticky2End = kAerSize;

// PCIe 6.6.2: an FLR leaves the fields that control the link (or that other functions of the
// device share with it) as they were: Max_Payload_Size in Device Control; ASPM Control, Read
// Completion Boundary, Common Clock Configuration, Extended Synch, Enable Clock Power Management
// and Hardware Autonomous Width Disable in Link Control.
constexpr uint32_t kFlrKeptDevCtl = kDevCtlPayloadMask;
constexpr uint32_t kFlrKeptLnkCtl = kLnkCtlAspmMask | kLnkCtlRcb | kLnkCtlCommonClock | kLnkCtlExtSynch |
                                    kLnkCtlClockPm | kLnkCtlHwAutWidthDis;

bool overlaps(uint16_t offset, unsigned size, uint16_t reg, unsigned len) {
  return offset < reg + len && reg < offset + size;
}
}  // namespace

PciFunction::PciFunction(std::string name, PortType type, bool extended_config)
    : m_name(std::move(name)), m_type(type), m_cfg(extended_config) {
  m_cfg.on_write([this](uint16_t offset, unsigned size) { written(offset, size); });
}

bool PciFunction::msi_enabled() const {
  return m_msi_offset && (m_cfg.read16(static_cast<uint16_t>(m_msi_offset + kMsiFlags)) & kMsiFlagsEnable);
}

bool PciFunction::msix_enabled() const {
  return m_msix_offset && (m_cfg.read16(static_cast<uint16_t>(m_msix_offset + kMsixFlags)) & kMsixEnable);
}

void PciFunction::set_intx(bool asserted) {
  m_intx_state = asserted;
  const uint16_t status = m_cfg.read16(cfg::kStatus);
  m_cfg.set(cfg::kStatus, 2, asserted ? (status | cfg::kStatusIntx) : (status & ~cfg::kStatusIntx));
  update_intx();
}

void PciFunction::update_intx() {
  const bool level = m_intx_state && interrupt_pin() != 0 && !(m_command & cfg::kCmdIntxDisable) &&
                     !msi_enabled() && !msix_enabled();
  if (level == m_intx_level) return;
  m_intx_level = level;
  if (m_intx_listener) m_intx_listener(level);
}

void PciFunction::written(uint16_t offset, unsigned size) {
  const uint16_t old_bridge_control = m_bridge_control;
  refresh();
  if (m_config_listener && !m_resetting) m_config_listener(offset, size);
  for (const auto& w : m_config_watchers) w(offset, size);
  if (m_pcie_offset && is_endpoint(m_type)) {
    const auto devctl_off = static_cast<uint16_t>(m_pcie_offset + kExpDevCtl);
    const uint16_t devctl = m_cfg.read16(devctl_off);
    if (overlaps(offset, size, devctl_off, 2) && (devctl & kDevCtlInitiateFlr)) {
      m_cfg.set(devctl_off, 2, devctl & ~kDevCtlInitiateFlr);  // PCIe 7.5.3.4: always reads 0
      const uint32_t devcap = m_cfg.read32(static_cast<uint16_t>(m_pcie_offset + kExpDevCap));
      if (devcap & kDevCapFlr) {
        if (m_reset_handler) m_reset_handler(ResetRequest::FunctionLevel);
        else reset(ResetKind::FunctionLevel);
      }
    }
  }
  // A hot reset of the secondary side starts when software sets the bit (PCI-to-PCI Bridge 1.2
  // 3.2.5.17); the functions below stay reset until it clears, so resetting them once suffices.
  if (is_bridge() && (m_bridge_control & cfg::kBctlSecondaryBusReset) &&
      !(old_bridge_control & cfg::kBctlSecondaryBusReset) && m_reset_handler)
    m_reset_handler(ResetRequest::SecondaryBus);
}

void PciFunction::reset(ResetKind kind) {
  std::vector<KeptBits> kept;
  if (const uint16_t aer = m_cfg.find_ext_capability(kExtCapIdAer)) {
    for (uint16_t o = kAerStickyFirst; o < kAerStickyEnd; o += 4) kept.push_back({uint16_t(aer + o), 4, ~0u});
    for (uint16_t o = kAerSticky2First; o < kAerSticky2End; o += 4) kept.push_back({uint16_t(aer + o), 4, ~0u});
  }
  if (kind == ResetKind::FunctionLevel && m_pcie_offset) {
    kept.push_back({uint16_t(m_pcie_offset + kExpDevCtl), 2, kFlrKeptDevCtl});
    kept.push_back({uint16_t(m_pcie_offset + kExpLnkCtl), 2, kFlrKeptLnkCtl});
  }
  for (KeptBits& k : kept) k.value = m_cfg.read(k.offset, k.size);
  m_intx_state = false;
  m_resetting = true;
  m_cfg.reset();  // the write hook decodes what is left
  m_resetting = false;
  for (const KeptBits& k : kept)
    m_cfg.set(k.offset, k.size, (m_cfg.read(k.offset, k.size) & ~k.mask) | (k.value & k.mask));
  refresh();
  on_reset();
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
  if (m_vf ? (io || !m_vf_decode) : io ? !io_enabled() : !memory_enabled()) return -1;
  for (const DecodedBar& b : m_bars)
    if (b.index >= 0 && b.io == io && b.contains(addr)) return b.index;
  return -1;
}

void PciFunction::set_vf_bars(const std::array<DecodedBar, 6>& bars, bool decode) {
  m_vf = true;
  m_bars = bars;
  m_vf_decode = decode;
  invalidate_routes();
}

void PciFunction::refresh() {
  // Every routing decision the fabric makes reads the decode below: any route cached before
  // may now be wrong (route_cache.h).
  invalidate_routes();
  m_command = m_cfg.read16(cfg::kCommand);
  if (!m_pcie_offset) m_pcie_offset = m_cfg.find_capability(kCapPcie);
  if (!m_msi_offset) m_msi_offset = m_cfg.find_capability(kCapIdMsi);
  if (!m_msix_offset) m_msix_offset = m_cfg.find_capability(kCapIdMsix);
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
    update_intx();
    return;
  }
  for (unsigned i = 0; i < 6 && !m_vf; ++i) {
    DecodedBar& b = m_bars[i];
    static_cast<BarDecode&>(b) = read_bar(m_cfg, i);
    b.index = b.present ? static_cast<int>(i) : -1;
    if (b.present && b.is_64bit && i < 5) m_bars[++i] = DecodedBar{};
  }
  update_intx();
}

}  // namespace pciesim
