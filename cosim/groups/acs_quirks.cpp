// Quirk tables restated from Linux drivers/pci/quirks.c (facts only: vendor:device and effect).
// Each entry names the Linux table and callback it comes from.
#include "groups/acs_quirks.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace pciesim::groups {

namespace {

constexpr int kAnyDevice = -1;

// Does a function of class `class_code` fail to be of entry class `cls`?
bool class_excludes(uint16_t cls, const std::optional<uint32_t>& class_code) {
  if (!cls || !class_code) return false;
  unsigned base = (*class_code >> 16) & 0xff, sub = (*class_code >> 8) & 0xff;
  if (base != (cls >> 8)) return true;
  return (cls & 0xff) && sub != (cls & 0xffu);
}

// The devices a quirk entry lists are PCI-to-PCI bridges (Type 1 header) exactly when the entry's
// class is 0604; every other listed device is a Type 0 function. A function whose header type is
// known to differ is not that device, whatever its (unknown) id.
bool header_excludes(uint16_t cls, const std::optional<uint8_t>& header_type) {
  if (!cls || !header_type) return false;
  unsigned listed = cls == 0x0604 ? 1u : 0u;
  return (*header_type & 0x7fu) != listed;
}

// Can f be the listed device `id` of class `cls`? Known ids decide; an unknown id is ruled out by
// the candidate ids (ambiguous pci.ids names), the class or the header type when known.
bool may_be_listed_device(const FunctionView& f, uint16_t id, uint16_t cls) {
  if (f.device) return *f.device == id;
  return f.may_be_device(id) && !class_excludes(cls, f.class_code) && !header_excludes(cls, f.header_type);
}

enum class AcsCallback {
  AmdSouthBridge,   // pci_quirk_amd_sb_acs: multifunction root-bus SB functions, IVRS present
  MfEndpoint,       // pci_quirk_mf_endpoint_acs: no internal P2P between functions
  IntelMfEndpoint,  // pci_quirk_intel_mf_endpoint_acs: same, Intel NIC id list
  IntelPch,         // pci_quirk_intel_pch_acs: PCH root ports, ACS workaround enabled
  IntelSptPch,      // pci_quirk_intel_spt_pch_acs: ACS at a non-standard offset (needs config dump)
  IntelRciep,       // pci_quirk_rciep_acs (Linux >= 5.8): Intel RCiEPs isolate
  CaviumRootPort,   // pci_quirk_cavium_acs: ThunderX root ports
  QcomRootPort,     // pci_quirk_qcom_rp_acs
  XgeneRootPort,    // pci_quirk_xgene_acs
  AmpereRootPort,   // pci_quirk_ampere... uses pci_quirk_xgene_acs
  ZhaoxinPort,      // pci_quirk_zhaoxin_pcie_ports_acs
  WangxunMf,        // pci_quirk_wangxun_nic_acs
};

struct AcsQuirkEntry {
  uint16_t vendor;
  int device;           // kAnyDevice = PCI_ANY_ID
  uint16_t cls;         // class (base << 8 | sub; sub 0 = any) of the listed device, 0 = any;
                        // lets a function of unknown id but known class be ruled out
  AcsCallback callback;
  const char* source;
};

// Linux drivers/pci/quirks.c pci_dev_acs_enabled[] (subset: every entry the oracle hosts need
// plus the well-known ones; see docs/iommu-groups.md).
const AcsQuirkEntry kAcsQuirks[] = {
    {0x1002, 0x4385, 0x0c05, AcsCallback::AmdSouthBridge, "pci_dev_acs_enabled[] ATI SBx00 SMBus / pci_quirk_amd_sb_acs"},
    {0x1002, 0x439c, 0x0101, AcsCallback::AmdSouthBridge, "pci_dev_acs_enabled[] ATI SB7x0 IDE / pci_quirk_amd_sb_acs"},
    {0x1002, 0x4383, 0x0403, AcsCallback::AmdSouthBridge, "pci_dev_acs_enabled[] ATI SBx00 Azalia / pci_quirk_amd_sb_acs"},
    {0x1002, 0x439d, 0x0601, AcsCallback::AmdSouthBridge, "pci_dev_acs_enabled[] ATI SB7x0 LPC / pci_quirk_amd_sb_acs"},
    {0x1002, 0x4384, 0x0604, AcsCallback::AmdSouthBridge, "pci_dev_acs_enabled[] ATI SBx00 PCI bridge / pci_quirk_amd_sb_acs"},
    {0x1002, 0x4399, 0x0c03, AcsCallback::AmdSouthBridge, "pci_dev_acs_enabled[] ATI SB7x0 OHCI / pci_quirk_amd_sb_acs"},
    {0x1022, 0x780f, 0x0604, AcsCallback::AmdSouthBridge, "pci_dev_acs_enabled[] AMD Hudson PCI bridge / pci_quirk_amd_sb_acs"},
    {0x1022, 0x7809, 0x0c03, AcsCallback::AmdSouthBridge, "pci_dev_acs_enabled[] AMD Hudson OHCI / pci_quirk_amd_sb_acs"},
    {0x1924, 0x0903, 0x0200, AcsCallback::MfEndpoint, "pci_dev_acs_enabled[] Solarflare SFC9020 / pci_quirk_mf_endpoint_acs"},
    {0x1924, 0x0923, 0x0200, AcsCallback::MfEndpoint, "pci_dev_acs_enabled[] Solarflare SFL9021 / pci_quirk_mf_endpoint_acs"},
    {0x19a2, 0x0710, 0x0200, AcsCallback::MfEndpoint, "pci_dev_acs_enabled[] Emulex BE3-R / pci_quirk_mf_endpoint_acs"},
    {0x10df, 0x0720, 0x0200, AcsCallback::MfEndpoint, "pci_dev_acs_enabled[] Emulex Skyhawk-R / pci_quirk_mf_endpoint_acs"},
    {0x8086, kAnyDevice, 0, AcsCallback::IntelMfEndpoint, "pci_dev_acs_enabled[] Intel ANY / pci_quirk_intel_mf_endpoint_acs"},
    {0x8086, kAnyDevice, 0, AcsCallback::IntelPch, "pci_dev_acs_enabled[] Intel ANY / pci_quirk_intel_pch_acs"},
    {0x8086, kAnyDevice, 0, AcsCallback::IntelSptPch, "pci_dev_acs_enabled[] Intel ANY / pci_quirk_intel_spt_pch_acs"},
    {0x8086, kAnyDevice, 0, AcsCallback::IntelRciep, "pci_dev_acs_enabled[] Intel ANY / pci_quirk_rciep_acs"},
    {0x177d, kAnyDevice, 0, AcsCallback::CaviumRootPort, "pci_dev_acs_enabled[] Cavium ANY / pci_quirk_cavium_acs"},
    {0x17cb, 0x0400, 0x0604, AcsCallback::QcomRootPort, "pci_dev_acs_enabled[] Qualcomm 0x400 / pci_quirk_qcom_rp_acs"},
    {0x17cb, 0x0401, 0x0604, AcsCallback::QcomRootPort, "pci_dev_acs_enabled[] Qualcomm 0x401 / pci_quirk_qcom_rp_acs"},
    {0x10e8, 0xe004, 0x0604, AcsCallback::XgeneRootPort, "pci_dev_acs_enabled[] APM X-Gene / pci_quirk_xgene_acs"},
    {0x1def, 0xe005, 0x0604, AcsCallback::AmpereRootPort, "pci_dev_acs_enabled[] Ampere 0xe005 / pci_quirk_xgene_acs"},
    {0x1def, 0xe006, 0x0604, AcsCallback::AmpereRootPort, "pci_dev_acs_enabled[] Ampere 0xe006 / pci_quirk_xgene_acs"},
    {0x1def, 0xe007, 0x0604, AcsCallback::AmpereRootPort, "pci_dev_acs_enabled[] Ampere 0xe007 / pci_quirk_xgene_acs"},
    {0x1def, 0xe008, 0x0604, AcsCallback::AmpereRootPort, "pci_dev_acs_enabled[] Ampere 0xe008 / pci_quirk_xgene_acs"},
    {0x1def, 0xe009, 0x0604, AcsCallback::AmpereRootPort, "pci_dev_acs_enabled[] Ampere 0xe009 / pci_quirk_xgene_acs"},
    {0x1def, 0xe00a, 0x0604, AcsCallback::AmpereRootPort, "pci_dev_acs_enabled[] Ampere 0xe00a / pci_quirk_xgene_acs"},
    {0x1d17, kAnyDevice, 0, AcsCallback::ZhaoxinPort, "pci_dev_acs_enabled[] Zhaoxin ANY / pci_quirk_zhaoxin_pcie_ports_acs"},
    {0x8088, kAnyDevice, 0, AcsCallback::WangxunMf, "pci_dev_acs_enabled[] Wangxun ANY / pci_quirk_wangxun_nic_acs"},
};

// Linux pci_quirk_intel_pch_acs_ids[] (Ibex Peak, Cougar Point, Panther Point, Lynx Point H/LP,
// Wildcat Point, Patsburg, Wellsburg, 9-series).
bool intel_pch_root_port_id(uint16_t d) {
  if ((d >= 0x3b42 && d <= 0x3b51) || (d >= 0x1c10 && d <= 0x1c1f) || (d >= 0x1e10 && d <= 0x1e1f) ||
      (d >= 0x8c10 && d <= 0x8c1f) || (d >= 0x9c10 && d <= 0x9c1b) || (d >= 0x9c90 && d <= 0x9c9b) ||
      (d >= 0x8d10 && d <= 0x8d1e))
    return true;
  static const uint16_t kOdd[] = {0x1d10, 0x1d12, 0x1d14, 0x1d16, 0x1d18, 0x1d1a, 0x1d1c, 0x1d1e,
                                  0x8c90, 0x8c92, 0x8c94, 0x8c96, 0x8c98, 0x8c9a, 0x8c9c, 0x8c9e};
  return std::find(std::begin(kOdd), std::end(kOdd), d) != std::end(kOdd);
}

// Linux pci_quirk_intel_spt_pch_acs_match(): Sunrise Point / Union Point PCH root ports.
bool intel_spt_root_port_id(uint16_t d) { return (d >= 0xa110 && d <= 0xa11f) || (d >= 0xa167 && d <= 0xa16a); }

// Linux pci_quirk_intel_mf_endpoint_acs ids (82580, 82576, 82575, I350, 82571, 82599/X520, X540 ...).
bool intel_mf_endpoint_id(uint16_t d) {
  static const uint16_t kIds[] = {0x1509, 0x150e, 0x150f, 0x1510, 0x1511, 0x1516, 0x1527, 0x10c9, 0x10e6,
                                  0x10e7, 0x10e8, 0x150a, 0x150d, 0x1518, 0x1526, 0x10a7, 0x10a9, 0x10d6,
                                  0x1521, 0x1522, 0x1523, 0x1524, 0x105e, 0x105f, 0x1060, 0x10d9, 0x10c6,
                                  0x10c7, 0x10c8, 0x10db, 0x10dd, 0x10ec, 0x10f1, 0x10e1, 0x10f4, 0x10f7,
                                  0x10f8, 0x10f9, 0x10fa, 0x10fb, 0x10fc, 0x1517, 0x151c, 0x1528, 0x154d,
                                  0x154f, 0x1557, 0x1558, 0x1560, 0x15ab, 0x15ac, 0x15ad, 0x15ae, 0x15b7,
                                  0x15b9};
  return std::find(std::begin(kIds), std::end(kIds), d) != std::end(kIds);
}

bool is_root_bus(const HostView& h, int i) { return h.functions[size_t(i)].parent < 0; }

std::string id_text(const FunctionView& f) {
  char v[8] = "????", d[8] = "????";
  if (f.vendor) std::snprintf(v, sizeof v, "%04x", *f.vendor);
  if (f.device) std::snprintf(d, sizeof d, "%04x", *f.device);
  return f.bdf() + " [" + v + ":" + d + "]";
}

// Can the callback's precondition hold for f? Returns false when it surely cannot.
enum class Pre { No, Yes, Unknown };
Pre type_is(PortTypeSet possible, std::initializer_list<PortType> types) {
  PortTypeSet want = 0;
  for (PortType t : types) want |= type_bit(t);
  if (!(possible & want)) return Pre::No;
  return (possible & ~want) ? Pre::Unknown : Pre::Yes;
}

// Is f's device id in an id-list callback's list? Unknown unless the id or all candidates agree.
template <class InList>
Pre id_in_list(const FunctionView& f, InList in_list) {
  if (f.device) return in_list(*f.device) ? Pre::Yes : Pre::No;
  if (f.device_candidates.empty()) return Pre::Unknown;
  size_t n = 0;
  for (uint16_t d : f.device_candidates) n += in_list(d) ? 1 : 0;
  return n == 0 ? Pre::No : n == f.device_candidates.size() ? Pre::Yes : Pre::Unknown;
}

AcsQuirkAnswer unknown(const FunctionView& f, const AcsQuirkEntry& e, const std::string& fact) {
  return {AcsQuirkAnswer::Unknown, id_text(f) + ": ACS quirk " + e.source + " may apply but " + fact + " is unknown"};
}

}  // namespace

AcsQuirkAnswer acs_quirk(const HostView& host, int index, std::optional<PortType> as_type) {
  const FunctionView& f = host.functions[size_t(index)];
  const PortTypeSet types = as_type ? type_bit(*as_type) : f.candidate_types();
  for (const AcsQuirkEntry& e : kAcsQuirks) {
    if (f.vendor && *f.vendor != e.vendor) continue;
    if (e.device != kAnyDevice && !may_be_listed_device(f, uint16_t(e.device), e.cls)) continue;
    bool ids_known = f.vendor && (e.device == kAnyDevice || f.device);
    // The callbacks' own preconditions, evaluated with what is known.
    Pre pre = Pre::Yes;
    Pre listed = Pre::Yes;  // id-list callbacks: is the device in the list?
    switch (e.callback) {
      case AcsCallback::AmdSouthBridge: {
        if (!is_root_bus(host, index)) { pre = Pre::No; break; }
        if (!f.multifunction) pre = Pre::Unknown;
        else if (!*f.multifunction) pre = Pre::No;
        break;
      }
      case AcsCallback::MfEndpoint: break;
      case AcsCallback::IntelMfEndpoint:
        if (f.class_code && ((*f.class_code >> 16) & 0xff) != 0x02) { pre = Pre::No; break; }
        pre = type_is(types, {PortType::Endpoint, PortType::LegacyEndpoint});  // NICs
        listed = id_in_list(f, intel_mf_endpoint_id);
        break;
      case AcsCallback::IntelPch:
        pre = type_is(types, {PortType::RootPort});
        listed = id_in_list(f, intel_pch_root_port_id);
        break;
      case AcsCallback::IntelSptPch:
        pre = type_is(types, {PortType::RootPort});
        listed = id_in_list(f, intel_spt_root_port_id);
        break;
      case AcsCallback::IntelRciep: pre = type_is(types, {PortType::RcEndpoint}); break;
      case AcsCallback::CaviumRootPort:
      case AcsCallback::QcomRootPort:
      case AcsCallback::XgeneRootPort:
      case AcsCallback::AmpereRootPort:
        pre = type_is(types, {PortType::RootPort});
        break;
      case AcsCallback::ZhaoxinPort: pre = type_is(types, {PortType::RootPort, PortType::DownstreamPort}); break;
      case AcsCallback::WangxunMf: break;
    }
    if (pre == Pre::No || listed == Pre::No) continue;
    if (!ids_known || listed == Pre::Unknown) return unknown(f, e, "its vendor:device id");
    if (pre == Pre::Unknown) return unknown(f, e, "its port type or multifunction flag");
    switch (e.callback) {
      case AcsCallback::AmdSouthBridge:
        // With an IVRS table (AMD IOMMU active) it masks the request to RR|CR and reports both
        // as implemented: isolated.
        return {AcsQuirkAnswer::Enabled, e.source};
      case AcsCallback::MfEndpoint:
      case AcsCallback::IntelMfEndpoint:
      case AcsCallback::WangxunMf:
        // SV, TB, RR, CR, UF, DT reported as satisfied: all of REQ_ACS_FLAGS.
        return {AcsQuirkAnswer::Enabled, e.source};
      case AcsCallback::IntelPch:
        // The companion pci_dev_enable_acs[] quirk sets PCI_DEV_FLAGS_ACS_ENABLED_QUIRK whenever an
        // IOMMU requested ACS, so the port then reports SV|RR|CR|UF.
        return {AcsQuirkAnswer::Enabled, e.source};
      case AcsCallback::IntelSptPch:
        return unknown(f, e, "the ACS registers at the quirk's non-standard offset (needs a config dump)");
      case AcsCallback::IntelRciep:
      case AcsCallback::CaviumRootPort:
      case AcsCallback::QcomRootPort:
      case AcsCallback::XgeneRootPort:
      case AcsCallback::AmpereRootPort:
        // These answer "SV|RR|CR|UF implemented in hardware" (Cavium/Zhaoxin with device-id
        // sub-lists, simplified here to the port types).
        return {AcsQuirkAnswer::Enabled, e.source};
      case AcsCallback::ZhaoxinPort:
        return unknown(f, e, "the Zhaoxin root-port id list");
    }
  }
  return {};
}

namespace {

enum class AliasKind { Func0, Func1, Fixed01, PcieBridge, MicX200 };

struct AliasQuirkEntry {
  uint16_t vendor;
  uint16_t device;
  uint16_t cls;  // as AcsQuirkEntry::cls
  AliasKind kind;
  const char* source;
};

// Linux drivers/pci/quirks.c DMA-alias header fixups.
const AliasQuirkEntry kAliasQuirks[] = {
    {0x1180, 0xe832, 0x0c00, AliasKind::Func0, "quirk_dma_func0_alias (Ricoh R5CE822)"},
    {0x1180, 0xe476, 0x0800, AliasKind::Func0, "quirk_dma_func0_alias (Ricoh R5CE476)"},
    // quirk_dma_func1_alias, Linux 6.1 (v5.17 has the last Marvell addition before 6.1, 88SE9125;
    // 0x9235 is v6.5's commit "PCI: Add function 1 DMA alias quirk for Marvell 88SE9235", tagged
    // for stable and so in 6.1.y).
    {0x1b4b, 0x9120, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9120)"},
    {0x1b4b, 0x9123, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9123)"},
    {0x1b4b, 0x9125, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9125)"},
    {0x1b4b, 0x9128, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9128)"},
    {0x1b4b, 0x9130, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9130)"},
    {0x1b4b, 0x9170, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9170)"},
    {0x1b4b, 0x9172, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9172)"},
    {0x1b4b, 0x917a, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE917a)"},
    {0x1b4b, 0x9182, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9182)"},
    {0x1b4b, 0x9183, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9183)"},
    {0x1b4b, 0x91a0, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE91a0)"},
    {0x1b4b, 0x9215, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9215)"},
    {0x1b4b, 0x9220, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9220)"},
    {0x1b4b, 0x9230, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9230)"},
    {0x1b4b, 0x9235, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Marvell 88SE9235, 6.1.y stable)"},
    {0x1103, 0x0642, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (TTI RocketRAID 642L)"},
    {0x1103, 0x0645, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (TTI RocketRAID 644L)"},
    {0x197b, 0x2392, 0x0800, AliasKind::Func1, "quirk_dma_func1_alias (JMicron JMB388_ESD)"},
    {0x1c28, 0x0122, 0x0100, AliasKind::Func1, "quirk_dma_func1_alias (Lite-On Plextor M6E, Marvell 88SS9183)"},
    {0x9005, 0x0285, 0x0100, AliasKind::Fixed01, "quirk_fixed_dma_alias (Adaptec 3405, subsystem 9005:02bb)"},
    {0x1b21, 0x1080, 0x0600, AliasKind::PcieBridge, "quirk_use_pcie_bridge_dma_alias (ASMedia ASM1083/1085)"},
    {0x10e3, 0x8113, 0x0600, AliasKind::PcieBridge, "quirk_use_pcie_bridge_dma_alias (Tundra 8113)"},
    {0x1283, 0x8892, 0x0600, AliasKind::PcieBridge, "quirk_use_pcie_bridge_dma_alias (ITE 8892)"},
    {0x1283, 0x8893, 0x0600, AliasKind::PcieBridge, "quirk_use_pcie_bridge_dma_alias (ITE 8893)"},
    {0x8086, 0x244e, 0x0600, AliasKind::PcieBridge, "quirk_use_pcie_bridge_dma_alias (Intel 82801 PCI bridge)"},
    {0x8086, 0x2260, 0x0b00, AliasKind::MicX200, "quirk_mic_x200_dma_alias (Intel MIC x200)"},
    {0x8086, 0x2264, 0x0b00, AliasKind::MicX200, "quirk_mic_x200_dma_alias (Intel MIC x200)"},
};

}  // namespace

void apply_dma_alias_quirks(HostView& host) {
  for (FunctionView& f : host.functions) {
    for (const AliasQuirkEntry& e : kAliasQuirks) {
      if (f.vendor && *f.vendor != e.vendor) continue;
      if (f.device && *f.device != e.device) continue;
      if (!f.device && (!f.may_be_device(e.device) || class_excludes(e.cls, f.class_code))) continue;
      // The listed bridges have header type 1, every other listed device header type 0.
      if (e.kind == AliasKind::PcieBridge && !f.is_bridge() && f.header_type) continue;
      if (e.kind != AliasKind::PcieBridge && f.is_bridge()) continue;
      if (!f.vendor || !f.device) {
        // PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS changes only the RID reported for the bridge, never which
        // device pci_device_group() looks at: an unknown match cannot change a group.
        if (e.kind == AliasKind::PcieBridge) continue;
        if (f.alias_unknown.empty())
          f.alias_unknown = id_text(f) + ": DMA-alias fixup " + e.source + " may apply but its id is unknown";
        continue;
      }
      switch (e.kind) {
        case AliasKind::Func0:
          if (f.function_number() != 0) f.dma_alias_devfns.push_back(uint8_t(f.devfn & ~7u));
          break;
        case AliasKind::Func1:
          if (f.function_number() != 1) f.dma_alias_devfns.push_back(uint8_t((f.devfn & ~7u) | 1u));
          break;
        case AliasKind::Fixed01: f.dma_alias_devfns.push_back(uint8_t(1u << 3)); break;
        case AliasKind::PcieBridge: f.pcie_bridge_alias = true; break;
        case AliasKind::MicX200:
          f.dma_alias_devfns.push_back(uint8_t(0x10 << 3));
          f.dma_alias_devfns.push_back(uint8_t(0x11 << 3));
          f.dma_alias_devfns.push_back(uint8_t((0x12 << 3) | 3));
          break;
      }
    }
  }
}

std::string describe_quirk_tables() {
  std::string out;
  char b[64];
  for (const AcsQuirkEntry& e : kAcsQuirks) {
    if (e.device == kAnyDevice) std::snprintf(b, sizeof b, "acs   %04x:ANY   ", e.vendor);
    else std::snprintf(b, sizeof b, "acs   %04x:%04x  ", e.vendor, unsigned(e.device));
    out += b + std::string(e.source) + "\n";
  }
  for (const AliasQuirkEntry& e : kAliasQuirks) {
    std::snprintf(b, sizeof b, "alias %04x:%04x  ", e.vendor, e.device);
    out += b + std::string(e.source) + "\n";
  }
  return out;
}

}  // namespace pciesim::groups
