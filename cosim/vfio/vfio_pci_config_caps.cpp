// vfio_pci_core config virtualisation, part 2: vfio_config_init and the capability walks
// (Linux 6.1 drivers/vfio/pci/vfio_pci_config.c: vfio_cap_init, vfio_ecap_init, vfio_cap_len,
// vfio_ext_cap_len, vfio_vc_cap_len, vfio_fill_vconfig_bytes). They build the byte map saying
// which capability owns each byte (and so which permission table applies), fill vconfig from the
// device, and relink the user's chains around the capabilities vfio hides.
#include <algorithm>

#include "vfio/vfio_pci_config.h"

namespace pciesim::cosim {

using namespace vfio_config;

// vfio_fill_vconfig_bytes: largest naturally aligned chunks, as pci_save_state reads
void VfioPciConfig::fill_vconfig_bytes(int offset, int size) {
  while (size > 0) {
    int n = (size >= 4 && !(offset % 4)) ? 4 : (size >= 2 && !(offset % 2)) ? 2 : 1;
    if (offset + n > int(m_vconfig.size())) return;
    vset(offset, n, hw_read(offset, n));
    offset += n;
    size -= n;
  }
}

void VfioPciConfig::init() {
  const int cfg_size = m_dev.cfg_size();
  m_map.assign(size_t(cfg_size), kCapIdInvalid);
  std::fill(m_map.begin(), m_map.begin() + kStdHeaderSize, kCapIdBasic);
  m_vconfig.assign(size_t(cfg_size), 0);
  m_msi_perm.reset();
  m_extended_caps = false;
  m_msi_cap = m_msix_cap = 0;

  fill_vconfig_bytes(0, kStdHeaderSize);
  m_bardirty = true;

  // For restore after reset
  for (int i = 0; i < 6; ++i) m_rbar[size_t(i)] = vget(PCI_BASE_ADDRESS_0 + 4 * i, 4);
  m_rbar[6] = vget(PCI_ROM_ADDRESS, 4);

  // A VF reads FFFFh as Vendor and Device ID (PCIe 9.3.4.1.1): the user sees the ids the PCI core
  // took from the PF, and Interrupt Pin 0 (9.3.4.1.14), as 6.1's vfio_config_init fills them.
  if (m_dev.is_virtfn()) {
    vset(PCI_VENDOR_ID, 2, m_dev.pci_vendor());
    vset(PCI_DEVICE_ID, 2, m_dev.pci_device());
    m_vconfig[PCI_INTERRUPT_PIN] = 0;
  }
  // no_command_memory (VFs): the device has no Command.MSE, so the virtual copy starts with it
  // set, as a PF's would after pci_enable_device.
  if (m_dev.no_command_memory()) vset(PCI_COMMAND, 2, vget(PCI_COMMAND, 2) | PCI_COMMAND_MEMORY);
  if (!m_dev.intx_connected()) m_vconfig[PCI_INTERRUPT_PIN] = 0;
  cap_init();
  ecap_init();
}

void VfioPciConfig::reinit() {
  m_irq_type = IrqType::None;
  m_msi_qmax = 0;
  m_virq_disabled = false;
  init();
}

// vfio_cap_len
int VfioPciConfig::cap_len(uint8_t cap, uint8_t pos) {
  switch (cap) {
    case PCI_CAP_ID_MSI: {  // vfio_msi_cap_len; builds this device's MSI table on first use
      uint16_t flags = uint16_t(hw_read(pos + PCI_MSI_FLAGS, 2));
      int len = 10;
      if (flags & PCI_MSI_FLAGS_64BIT) len += 4;
      if (flags & PCI_MSI_FLAGS_MASKBIT) len += 10;
      if (!m_msi_perm) m_msi_perm = msi_perm(len, flags);
      return len;
    }
    case PCI_CAP_ID_PCIX: {
      uint16_t cmd = uint16_t(hw_read(pos + 2 /*PCI_X_CMD*/, 2));
      if ((cmd >> 12) & 3) {  // PCI_X_CMD_VERSION
        if (m_dev.cfg_size() > kCfgSpaceSize) m_extended_caps = hw_read(kCfgSpaceSize, 4) != 0;
        return 24;  // PCI_CAP_PCIX_SIZEOF_V2
      }
      return 8;  // PCI_CAP_PCIX_SIZEOF_V0
    }
    case PCI_CAP_ID_VNDR:  // length follows next field
      return int(hw_read(pos + PCI_CAP_FLAGS, 1));
    case PCI_CAP_ID_EXP: {
      if (m_dev.cfg_size() > kCfgSpaceSize) m_extended_caps = hw_read(kCfgSpaceSize, 4) != 0;
      uint16_t flags = uint16_t(hw_read(pos + PCI_EXP_FLAGS, 2));
      bool rc_end = ((flags & PCI_EXP_FLAGS_TYPE) >> 4) == PCI_EXP_TYPE_RC_END;
      if ((flags & PCI_EXP_FLAGS_VERS) == 1) return rc_end ? 0xc : 20;  // ..._SIZEOF_V1
      return rc_end ? 0x2c : 52;                                          // ..._SIZEOF_V2
    }
    case PCI_CAP_ID_HT: {
      uint8_t b = uint8_t(hw_read(pos + 3, 1));
      return (b & 0xe0 /*HT_3BIT_CAP_MASK*/) ? 24 /*HT_CAP_SIZEOF_SHORT*/ : 28 /*LONG*/;
    }
    case PCI_CAP_ID_SATA: {
      uint8_t b = uint8_t(hw_read(pos + 4 /*PCI_SATA_REGS*/, 1)) & 0xf;
      return b == 0xf /*PCI_SATA_REGS_INLINE*/ ? 16 /*PCI_SATA_SIZEOF_LONG*/ : 8 /*SHORT*/;
    }
    default:
      return 0;  // "unknown length for PCI cap": hidden
  }
}

// vfio_vc_cap_len: VC (2 and 9) and MFVC
int VfioPciConfig::vc_cap_len(uint16_t pos) {
  uint32_t cap1 = hw_read(pos + 4 /*PCI_VC_PORT_CAP1*/, 4);
  int evcc = int(cap1 & 0x7);  // PCI_VC_CAP1_EVCC
  uint32_t cap2 = hw_read(pos + 8 /*PCI_VC_PORT_CAP2*/, 4);
  int phases = (cap2 & 0x8) ? 128 : (cap2 & 0x4) ? 64 : (cap2 & 0x2) ? 32 : 0;
  int vc_arb = phases * 4;
  int len = 0x10 /*PCI_CAP_VC_BASE_SIZEOF*/ + (1 + evcc) * 0xc /*PCI_CAP_VC_PER_VC_SIZEOF*/;
  if (vc_arb) {
    len = (len + 15) & ~15;
    len += vc_arb / 8;
  }
  return len;
}

// vfio_ext_cap_len
int VfioPciConfig::ext_cap_len(uint16_t ecap, uint16_t epos) {
  switch (ecap) {
    case PCI_EXT_CAP_ID_VNDR:
      return int(hw_read(epos + 4 /*PCI_VSEC_HDR*/, 4) >> 20);
    case PCI_EXT_CAP_ID_VC:
    case PCI_EXT_CAP_ID_VC9:
    case PCI_EXT_CAP_ID_MFVC:
      return vc_cap_len(epos);
    case PCI_EXT_CAP_ID_ACS: {
      uint8_t cap = uint8_t(hw_read(epos + 4 /*PCI_ACS_CAP*/, 1));
      if (cap & 0x20 /*PCI_ACS_EC*/) {
        uint8_t b = uint8_t(hw_read(epos + 5 /*PCI_ACS_EGRESS_BITS*/, 1));
        int bits = b ? (b + 31) / 32 * 32 : 256;
        return 8 + bits / 8;
      }
      return 8;
    }
    case PCI_EXT_CAP_ID_REBAR: {
      uint8_t b = uint8_t(hw_read(epos + 8 /*PCI_REBAR_CTRL*/, 1));
      return 4 + ((b & 0xe0) >> 5) * 8;  // NBAR
    }
    case PCI_EXT_CAP_ID_DPA: {
      uint8_t b = uint8_t(hw_read(epos + 4 /*PCI_DPA_CAP*/, 1)) & 0x1f;
      return 16 /*PCI_DPA_BASE_SIZEOF*/ + b + 1;
    }
    case PCI_EXT_CAP_ID_TPH: {
      uint32_t d = hw_read(epos + 4 /*PCI_TPH_CAP*/, 4);
      if ((d & 0x600) == 0x200 /*PCI_TPH_LOC_CAP*/) {
        int sts = int((d & 0x07ff0000) >> 16);
        return 0xc /*PCI_TPH_BASE_SIZEOF*/ + sts * 2 + 2;
      }
      return 0xc;
    }
    case PCI_EXT_CAP_ID_DVSEC:
      return int(hw_read(epos + 4 /*PCI_DVSEC_HEADER1*/, 4) >> 20);
    default:
      return 0;
  }
}

// vfio_cap_init: builds the user's chain, skipping what it hides (length 0)
int VfioPciConfig::cap_init() {
  uint16_t status = uint16_t(hw_read(PCI_STATUS, 2));
  if (!(status & PCI_STATUS_CAP_LIST)) return 0;

  uint8_t pos = uint8_t(hw_read(PCI_CAPABILITY_LIST, 1));
  int prev = PCI_CAPABILITY_LIST;  // the byte in vconfig that points at the current one
  int loops = (kCfgSpaceSize - kStdHeaderSize) / 4;
  int caps = 0;
  while (pos && loops--) {
    uint8_t cap = uint8_t(hw_read(pos, 1));
    uint8_t next = uint8_t(hw_read(pos + PCI_CAP_LIST_NEXT, 1));
    int len = 0;
    // ID 0 is a NULL capability, conflicting with PCI_CAP_ID_BASIC: hidden
    if (cap && cap <= kCapIdMax) {
      len = cap_length(cap);
      if (len == kVariableLength) len = cap_len(cap, pos);
    }
    if (!len) {  // "hiding cap"
      m_vconfig[size_t(prev)] = next;
      pos = next;
      continue;
    }
    len = std::min(len, kCfgSpaceSize - pos);
    std::fill(m_map.begin() + pos, m_map.begin() + pos + len, cap);
    fill_vconfig_bytes(pos, len);
    if (cap == PCI_CAP_ID_PM) {  // vfio_update_pm_vconfig_bytes
      vset(pos + PCI_PM_PMC, 2, vget(pos + PCI_PM_PMC, 2) & ~uint32_t(PCI_PM_CAP_PME_MASK));
      vset(pos + PCI_PM_CTRL, 2,
           vget(pos + PCI_PM_CTRL, 2) & ~(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS));
    }
    if (cap == PCI_CAP_ID_MSI && !m_msi_cap) m_msi_cap = pos;
    if (cap == PCI_CAP_ID_MSIX && !m_msix_cap) m_msix_cap = pos;
    prev = pos + PCI_CAP_LIST_NEXT;
    pos = next;
    ++caps;
  }
  // If we didn't fill any capabilities, clear the status flag
  if (!caps) vset(PCI_STATUS, 2, vget(PCI_STATUS, 2) & ~uint32_t(PCI_STATUS_CAP_LIST));
  return caps;
}

// vfio_ecap_init
void VfioPciConfig::ecap_init() {
  if (!m_extended_caps) return;
  int epos = kCfgSpaceSize;
  int prev = -1;
  int loops = (m_dev.cfg_size() - kCfgSpaceSize) / 4;
  int ecaps = 0;
  while (loops-- && epos >= kCfgSpaceSize) {
    uint32_t header = hw_read(epos, 4);
    uint16_t ecap = uint16_t(header & 0xffff);       // PCI_EXT_CAP_ID
    int next = int((header >> 20) & 0xffc);          // PCI_EXT_CAP_NEXT
    int len = 0;
    bool hidden = false;
    if (ecap <= kExtCapIdMax) {
      len = ext_cap_length(ecap);
      if (len == kVariableLength) len = ext_cap_len(ecap, uint16_t(epos));
    }
    if (!len) {  // "hiding ecap"
      if (prev >= 0) {  // not the first in the chain: skip over it
        vset(prev, 4, (vget(prev, 4) & ~(0xffcu << 20)) | (uint32_t(next) << 20));
        epos = next;
        continue;
      }
      // Otherwise a placeholder; the direct readfn virtualises its header
      len = 4;
      hidden = true;
    }
    len = std::min(len, m_dev.cfg_size() - epos);
    // The map is a byte per position: ids above 0xfd would collide with the INVALID markers
    // (BUILD_BUG_ON in Linux; the table stops at PCI_EXT_CAP_ID_MAX).
    std::fill(m_map.begin() + epos, m_map.begin() + epos + len, uint8_t(ecap));
    fill_vconfig_bytes(epos, len);
    if (hidden)  // just an anchor for the list: hide the real id, keep next
      vset(epos, 4, vget(epos, 4) & (0xffcu << 20));
    else
      ++ecaps;
    prev = epos;
    epos = next;
  }
  if (!ecaps) vset(kCfgSpaceSize, 4, 0);
}

}  // namespace pciesim::cosim
