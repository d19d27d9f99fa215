// Linux's ACS programming at boot and the override patch's quirk entry (see linux_acs.h).
#include "isolation/linux_acs.h"

#include <cctype>
#include <cstdio>
#include <sstream>

#include "cli_error.h"
#include "host_view_from_fabric.h"
#include "pcie/config_space.h"

namespace pciesim::isolation {

using cli::UsageError;

namespace {

constexpr uint16_t kExtCapIdAcs = 0x000d;  // PCIe 7.7.8: ACS Extended Capability
constexpr uint16_t kAcsCapReg = 4, kAcsCtrlReg = 6;
// drivers/pci/pci.c pci_std_enable_acs: SV, RR, CR, UF where implemented (TB only for untrusted
// or external-facing devices or with ATS disabled, none of which this simulator models).
constexpr uint16_t kStdEnable = 0x01 | 0x04 | 0x08 | 0x10;
// drivers/pci/pci.c __pci_config_acs: the seven ACS Control bits (PCI_ACS_SV .. PCI_ACS_DT).
constexpr uint16_t kAllAcsControl = 0x7f;

uint16_t parse_hex16(const std::string& s, const std::string& what) {
  if (s.empty() || s.size() > 4) throw UsageError(what + ": '" + s + "' is not a 16-bit hex id");
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) throw UsageError(what + ": '" + s + "' is not a 16-bit hex id");
  return static_cast<uint16_t>(std::stoul(s, nullptr, 16));
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

// [DDDD:]BB:DD.F (hex), as pci_dev_str_match_path reads the first element.
bool parse_bdf(const std::string& text, int& segment, RequesterId& id) {
  unsigned seg = 0, bus = 0, dev = 0, fn = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%x:%x:%x.%x%c", &seg, &bus, &dev, &fn, &tail) == 4) {
  } else if (std::sscanf(text.c_str(), "%x:%x.%x%c", &bus, &dev, &fn, &tail) == 3) {
    seg = 0;
  } else {
    return false;
  }
  if (seg > 0xffff || bus > 0xff || dev > 0x1f || fn > 7) return false;
  segment = static_cast<int>(seg);
  id = RequesterId::from_bdf(bus, dev, fn);
  return true;
}

uint16_t find_acs(const ConfigSpace& cs) {
  if (!cs.extended()) return 0;
  uint16_t off = 0x100;
  for (int guard = 0; off >= 0x100 && guard < 96; ++guard) {  // PCIe 7.6.3: the extended list
    uint32_t hdr = cs.read32(off);
    if (hdr == 0 || hdr == 0xffffffffu) return 0;
    if ((hdr & 0xffff) == kExtCapIdAcs) return off;
    off = static_cast<uint16_t>((hdr >> 20) & 0xffc);
  }
  return 0;
}

bool entry_matches(const ConfigAcsEntry& e, const AcsRegister& r) {
  const ConfigSpace& cs = r.info->fn->config();
  if (!e.by_id) return e.segment == r.info->segment && e.bdf == r.info->bdf();
  // pci_dev_str_match: "pci:" ids, a 0 field matches any value.
  auto eq = [](uint16_t want, uint16_t have) { return want == 0 || want == have; };
  return eq(e.vendor, cs.read16(0x00)) && eq(e.device, cs.read16(0x02)) &&
         eq(e.subsystem_vendor, cs.read16(0x2c)) && eq(e.subsystem, cs.read16(0x2e));
}

}  // namespace

AcsOverride parse_acs_override(const std::string& list) {
  AcsOverride ov;
  for (const std::string& item : split(list, ',')) {
    const std::string err = groups::add_acs_override_item(ov, item);
    if (!err.empty()) throw UsageError("--acs-override: " + err);
  }
  return ov;
}

std::string ConfigAcs::text() const {
  std::string s;
  for (const ConfigAcsEntry& e : entries) s += (s.empty() ? "" : ";") + e.text;
  return s;
}

ConfigAcs parse_config_acs(const std::string& spec) {
  ConfigAcs c;
  for (const std::string& item : split(spec, ';')) {
    ConfigAcsEntry e;
    e.text = item;
    auto at = item.find('@');
    // The flags are required: without '@' __pci_config_acs logs "ACS Flags missing" and
    // ignores the whole parameter.
    if (at == std::string::npos) throw UsageError("--config-acs: '" + item + "' has no FLAGS@ (e.g. 101x1@00:01.0)");
    const std::string flags = item.substr(0, at), dev = item.substr(at + 1);
    if (flags.empty() || flags.size() > 16) throw UsageError("--config-acs: bad flags '" + flags + "'");
    unsigned shift = 0;
    for (auto it = flags.rbegin(); it != flags.rend(); ++it, ++shift) {
      const uint32_t bit = 1u << shift;
      if (*it == '1') {
        e.mask |= bit;
        e.flags |= bit;
      } else if (*it == '0') {
        e.mask |= bit;
      } else if (*it != 'x' && *it != 'X') {
        throw UsageError("--config-acs: flag character '" + std::string(1, *it) + "' in '" + item +
                         "' (each is 1, 0 or x)");
      }
    }
    if (e.mask & ~kAllAcsControl)  // __pci_config_acs: "Invalid ACS flags specified"
      throw UsageError("--config-acs: '" + flags + "' names bits above DT (bit 6)");
    if (dev.rfind("pci:", 0) == 0) {
      auto parts = split(dev.substr(4), ':');
      if (parts.size() != 2 && parts.size() != 4)
        throw UsageError("--config-acs: '" + dev + "' is not pci:VVVV:DDDD[:SVVV:SDDD]");
      e.by_id = true;
      e.vendor = parse_hex16(parts[0], "--config-acs vendor");
      e.device = parse_hex16(parts[1], "--config-acs device");
      if (parts.size() == 4) {
        e.subsystem_vendor = parse_hex16(parts[2], "--config-acs subsystem vendor");
        e.subsystem = parse_hex16(parts[3], "--config-acs subsystem");
      }
    } else if (dev.find('/') != std::string::npos) {
      throw UsageError("--config-acs: path form '" + dev + "' is not supported here; give the device's BDF");
    } else if (!parse_bdf(dev, e.segment, e.bdf)) {
      throw UsageError("--config-acs: '" + dev + "' is neither [DDDD:]BB:DD.F nor pci:VVVV:DDDD");
    }
    c.entries.push_back(e);
  }
  return c;
}

std::vector<AcsRegister> read_acs_registers(const Fabric& fabric) {
  std::vector<AcsRegister> regs;
  for (const FunctionInfo& info : fabric.functions()) {
    const ConfigSpace& cs = info.fn->config();
    const uint16_t off = find_acs(cs);
    if (!off) continue;
    AcsRegister r;
    r.info = &info;
    r.offset = off;
    r.cap = cs.read16(static_cast<uint16_t>(off + kAcsCapReg));
    r.fw_ctrl = r.ctrl = cs.read16(static_cast<uint16_t>(off + kAcsCtrlReg));
    regs.push_back(r);
  }
  return regs;
}

std::vector<std::string> apply_linux_acs(Fabric& fabric, std::vector<AcsRegister>& regs, const ConfigAcs& config_acs) {
  std::vector<std::string> changes;
  for (AcsRegister& r : regs) {
    // pci_enable_acs: caps.ctrl = caps.fw_ctrl = the register; pci_std_enable_acs (an IOMMU asked
    // for ACS); then __pci_config_acs for the first config_acs entry that matches the device:
    // ctrl = (fw_ctrl & ~mask) | (flags & mask) (v6.15, commit "PCI: Fix ACS configuration ..."
    // by Tushar Dave, also in 6.13.y/6.14.y stable), written once with pci_write_config_word.
    uint16_t ctrl = static_cast<uint16_t>(r.fw_ctrl | (r.cap & kStdEnable));
    for (const ConfigAcsEntry& e : config_acs.entries) {
      if (!entry_matches(e, r)) continue;
      ctrl = static_cast<uint16_t>((r.fw_ctrl & ~e.mask) | (e.flags & e.mask));
      break;
    }
    if (ctrl == r.ctrl) continue;
    fabric.config_write(r.info->segment, r.info->bdf(), static_cast<uint16_t>(r.offset + kAcsCtrlReg), 2, ctrl);
    char b[160];
    std::snprintf(b, sizeof b, "%s %s: ACS control 0x%04x -> 0x%04x", r.info->bdf_string().c_str(),
                  r.info->fn->name().c_str(), r.ctrl, ctrl);
    changes.emplace_back(b);
    r.ctrl = ctrl;
  }
  return changes;
}

groups::GroupResult linux_groups(const Fabric& fabric, const AcsOverride& ov, const std::string& source) {
  groups::HostView view = cli::host_view_from_fabric(fabric, source);
  groups::GroupAssumptions assume;
  if (ov.any()) {
    // The patch's pcie_acs_overrides(dev, acs_flags), the last entry of pci_dev_acs_enabled[].
    assume.acs_override = [ov](const groups::HostView& host, int index, groups::PortType t) {
      return groups::acs_override_isolates(ov, host, index, t);
    };
  }
  return groups::compute_iommu_groups(view, assume);
}

}  // namespace pciesim::isolation
