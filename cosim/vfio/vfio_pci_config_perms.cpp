// vfio_pci_core's config permission tables, as Linux 6.1 builds them in
// drivers/vfio/pci/vfio_pci_config.c (vfio_pci_init_perm_bits and the init_pci_*_perm functions).
#include "vfio/vfio_pci_config_perms.h"

namespace pciesim::cosim::vfio_config {

void PermBits::alloc(int size) {
  size = (size + 3) & ~3;  // alloc_perm_bits: round up to the next dword
  virt.assign(size_t(size), 0);
  write.assign(size_t(size), 0);
  read = ReadOp::Default;
  write_op = WriteOp::Default;
}

void PermBits::setb(int off, uint8_t v, uint8_t w) {
  virt.at(size_t(off)) = v;
  write.at(size_t(off)) = w;
}

void PermBits::setw(int off, uint16_t v, uint16_t w) {
  for (int i = 0; i < 2; ++i) setb(off + i, uint8_t(v >> (8 * i)), uint8_t(w >> (8 * i)));
}

void PermBits::setd(int off, uint32_t v, uint32_t w) {
  for (int i = 0; i < 4; ++i) setb(off + i, uint8_t(v >> (8 * i)), uint8_t(w >> (8 * i)));
}

uint32_t PermBits::gather(const std::vector<uint8_t>& t, int offset, int count) {
  uint32_t m = 0;
  for (int i = 0; i < count; ++i) {
    size_t at = size_t(offset + i);
    if (at < t.size()) m |= uint32_t(t[at]) << (8 * i);
  }
  return m;
}

namespace {

// Lengths (pci_cap_length[], pci_ext_cap_length[]); the *_SIZEOF constants of pci_regs.h.
constexpr std::array<uint8_t, kCapIdMax + 1> kCapLength = [] {
  std::array<uint8_t, kCapIdMax + 1> l{};
  l[kCapIdBasic] = kStdHeaderSize;  // PCI_STD_HEADER_SIZEOF
  l[PCI_CAP_ID_PM] = 8;             // PCI_PM_SIZEOF
  l[PCI_CAP_ID_AGP] = 12;           // PCI_AGP_SIZEOF
  l[PCI_CAP_ID_VPD] = 8;            // PCI_CAP_VPD_SIZEOF
  l[PCI_CAP_ID_MSI] = 0xff;         // 10, 14, 20 or 24
  l[PCI_CAP_ID_PCIX] = 0xff;        // 8 or 24
  l[PCI_CAP_ID_HT] = 0xff;
  l[PCI_CAP_ID_VNDR] = 0xff;        // length byte follows next
  l[PCI_CAP_ID_EXP] = 0xff;         // by version and type
  l[PCI_CAP_ID_MSIX] = 12;          // PCI_CAP_MSIX_SIZEOF
  l[PCI_CAP_ID_SATA] = 0xff;
  l[PCI_CAP_ID_AF] = 6;             // PCI_CAP_AF_SIZEOF
  // 0 (hidden): SLOTID 0x04, CHSWP 0x06, DBG 0x0a, CCRC 0x0b, SHPC 0x0c, SSVID 0x0d, AGP3 0x0e,
  // SECDEV 0x0f, EA 0x14
  return l;
}();

constexpr std::array<uint16_t, kExtCapIdMax + 1> kExtCapLength = [] {
  std::array<uint16_t, kExtCapIdMax + 1> l{};
  l[PCI_EXT_CAP_ID_ERR] = 0x2c;     // PCI_ERR_ROOT_COMMAND: the root registers are left out
  l[PCI_EXT_CAP_ID_VC] = 0xff;
  l[PCI_EXT_CAP_ID_DSN] = 12;       // PCI_EXT_CAP_DSN_SIZEOF
  l[PCI_EXT_CAP_ID_PWR] = 16;       // PCI_EXT_CAP_PWR_SIZEOF
  l[PCI_EXT_CAP_ID_MFVC] = 0xff;
  l[PCI_EXT_CAP_ID_VC9] = 0xff;
  l[PCI_EXT_CAP_ID_VNDR] = 0xff;
  l[PCI_EXT_CAP_ID_ACS] = 0xff;
  l[PCI_EXT_CAP_ID_ARI] = 8;        // PCI_EXT_CAP_ARI_SIZEOF
  l[PCI_EXT_CAP_ID_ATS] = 8;        // PCI_EXT_CAP_ATS_SIZEOF
  l[PCI_EXT_CAP_ID_SRIOV] = 0x40;   // PCI_EXT_CAP_SRIOV_SIZEOF
  l[PCI_EXT_CAP_ID_MCAST] = 40;     // PCI_EXT_CAP_MCAST_ENDPOINT_SIZEOF
  l[PCI_EXT_CAP_ID_PRI] = 16;       // PCI_EXT_CAP_PRI_SIZEOF
  l[PCI_EXT_CAP_ID_REBAR] = 0xff;
  l[PCI_EXT_CAP_ID_DPA] = 0xff;
  l[PCI_EXT_CAP_ID_TPH] = 0xff;
  l[PCI_EXT_CAP_ID_LTR] = 8;        // PCI_EXT_CAP_LTR_SIZEOF
  l[PCI_EXT_CAP_ID_DVSEC] = 0xff;
  // 0 (hidden): RCLD, RCILC, RCEC, RCRB, CAC, MRIOV, AMD_XXX, SECPCI, PMUX, PASID and every id
  // the table does not list (DPC, L1SS, PTM, DLF, PL_16GT, ...)
  return l;
}();

// init_pci_cap_basic_perm
void init_basic(PermBits& p) {
  p.alloc(kStdHeaderSize);
  p.read = ReadOp::Basic;
  p.write_op = WriteOp::Basic;
  // Virtualized for SR-IOV functions, which just have FFFF
  p.setw(PCI_VENDOR_ID, uint16_t(ALL_VIRT), NO_WRITE);
  p.setw(PCI_DEVICE_ID, uint16_t(ALL_VIRT), NO_WRITE);
  // INTx disable is virtual (vfio masks INTx with it); every other Command bit goes to hardware
  p.setw(PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, uint16_t(ALL_WRITE));
  // Status: the capability-list bit is virtual (the chain may be emptied); nothing writable
  p.setw(PCI_STATUS, PCI_STATUS_CAP_LIST, NO_WRITE);
  // No harm to write
  p.setb(PCI_CACHE_LINE_SIZE, NO_VIRT, uint8_t(ALL_WRITE));
  p.setb(PCI_LATENCY_TIMER, NO_VIRT, uint8_t(ALL_WRITE));
  p.setb(PCI_BIST, NO_VIRT, uint8_t(ALL_WRITE));
  // Virtualize all bars, can't touch the real ones
  for (int bar = PCI_BASE_ADDRESS_0; bar <= PCI_BASE_ADDRESS_5; bar += 4) p.setd(bar, ALL_VIRT, ALL_WRITE);
  p.setd(PCI_ROM_ADDRESS, ALL_VIRT, ALL_WRITE);
  // Allow us to adjust capability chain
  p.setb(PCI_CAPABILITY_LIST, uint8_t(ALL_VIRT), NO_WRITE);
  // Sometimes used by sw, just virtualize
  p.setb(PCI_INTERRUPT_LINE, uint8_t(ALL_VIRT), uint8_t(ALL_WRITE));
  // Virtualize interrupt pin to allow hiding INTx
  p.setb(PCI_INTERRUPT_PIN, uint8_t(ALL_VIRT), NO_WRITE);
}

// init_pci_cap_pm_perm
void init_pm(PermBits& p) {
  p.alloc(kCapLength[PCI_CAP_ID_PM]);
  p.write_op = WriteOp::Pm;
  p.setb(PCI_CAP_LIST_NEXT, uint8_t(ALL_VIRT), NO_WRITE);
  // The user cannot take PME events: PME_Support is virtual (cleared in vconfig at init)
  p.setw(PCI_PM_PMC, PCI_PM_CAP_PME_MASK, NO_WRITE);
  // The power state is trapped and changed by vfio (vfio_pm_config_write), so the state bits are
  // not writable; PME_En / PME_Status are virtual.
  p.setd(PCI_PM_CTRL, PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS,
         ~(PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS | PCI_PM_CTRL_STATE_MASK));
}

// init_pci_cap_vpd_perm
void init_vpd(PermBits& p) {
  p.alloc(kCapLength[PCI_CAP_ID_VPD]);
  p.write_op = WriteOp::Vpd;
  p.setb(PCI_CAP_LIST_NEXT, uint8_t(ALL_VIRT), NO_WRITE);
  p.setw(2 /*PCI_VPD_ADDR*/, uint16_t(ALL_VIRT), uint16_t(ALL_WRITE));
  p.setd(4 /*PCI_VPD_DATA*/, ALL_VIRT, ALL_WRITE);
}

// init_pci_cap_pcix_perm
void init_pcix(PermBits& p) {
  p.alloc(24);  // PCI_CAP_PCIX_SIZEOF_V2; only 8 are used in v0
  p.setb(PCI_CAP_LIST_NEXT, uint8_t(ALL_VIRT), NO_WRITE);
  p.setw(2 /*PCI_X_CMD*/, NO_VIRT, uint16_t(ALL_WRITE));
  p.setd(8 /*PCI_X_ECC_CSR*/, NO_VIRT, ALL_WRITE);
}

// init_pci_cap_exp_perm
void init_exp(PermBits& p) {
  p.alloc(52);  // PCI_CAP_EXP_ENDPOINT_SIZEOF_V2, the largest
  p.write_op = WriteOp::Exp;
  p.setb(PCI_CAP_LIST_NEXT, uint8_t(ALL_VIRT), NO_WRITE);
  // Device Control is writable except Phantom Functions (could confuse the IOMMU); MPS is
  // virtual (needs a system-wide view), FLR and MRRS are virtual and handled by the writefn.
  p.setw(PCI_EXP_DEVCTL, PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_READRQ,
         uint16_t(~PCI_EXP_DEVCTL_PHANTOM));
  // Device Control 2 writable except ARI forwarding, set at probe time
  p.setw(PCI_EXP_DEVCTL2, NO_VIRT, uint16_t(~PCI_EXP_DEVCTL2_ARI));
}

// init_pci_cap_af_perm
void init_af(PermBits& p) {
  p.alloc(kCapLength[PCI_CAP_ID_AF]);
  p.write_op = WriteOp::Af;
  p.setb(PCI_CAP_LIST_NEXT, uint8_t(ALL_VIRT), NO_WRITE);
  p.setb(PCI_AF_CTRL, PCI_AF_CTRL_FLR, PCI_AF_CTRL_FLR);
}

// init_pci_ext_cap_err_perm
void init_err(PermBits& p) {
  p.alloc(kExtCapLength[PCI_EXT_CAP_ID_ERR]);
  // The first dword of every extended capability holds its next pointer: virtual
  p.setd(0, ALL_VIRT, NO_WRITE);
  const uint32_t unc = 0x00000001u    // PCI_ERR_UNC_UND
                       | 0x00000010u  // DLP
                       | 0x00000020u  // SURPDN
                       | 0x00001000u  // POISON_TLP
                       | 0x00002000u  // FCP
                       | 0x00004000u  // COMP_TIME
                       | 0x00008000u  // COMP_ABORT
                       | 0x00010000u  // UNX_COMP
                       | 0x00020000u  // RX_OVER
                       | 0x00040000u  // MALF_TLP
                       | 0x00080000u  // ECRC
                       | 0x00100000u  // UNSUP
                       | 0x00200000u  // ACSV
                       | 0x00400000u  // INTN
                       | 0x00800000u  // MCBTLP
                       | 0x01000000u  // ATOMEG
                       | 0x02000000u; // TLPPRE
  p.setd(0x04 /*PCI_ERR_UNCOR_STATUS*/, NO_VIRT, unc);
  p.setd(0x08 /*PCI_ERR_UNCOR_MASK*/, NO_VIRT, unc);
  p.setd(0x0c /*PCI_ERR_UNCOR_SEVER*/, NO_VIRT, unc);
  const uint32_t cor = 0x0001u    // PCI_ERR_COR_RCVR
                       | 0x0040u  // BAD_TLP
                       | 0x0080u  // BAD_DLLP
                       | 0x0100u  // REP_ROLL
                       | 0x1000u  // REP_TIMER
                       | 0x2000u  // ADV_NFAT
                       | 0x4000u  // INTERNAL
                       | 0x8000u; // LOG_OVER
  p.setd(0x10 /*PCI_ERR_COR_STATUS*/, NO_VIRT, cor);
  p.setd(0x14 /*PCI_ERR_COR_MASK*/, NO_VIRT, cor);
  p.setd(0x18 /*PCI_ERR_CAP*/, NO_VIRT, 0x40u /*ECRC_GENE*/ | 0x100u /*ECRC_CHKE*/);
}

// init_pci_ext_cap_pwr_perm
void init_pwr(PermBits& p) {
  p.alloc(kExtCapLength[PCI_EXT_CAP_ID_PWR]);
  p.setd(0, ALL_VIRT, NO_WRITE);
  // Writing the data selector is OK, the info is still read-only
  p.setb(4 /*PCI_PWR_DATA*/, NO_VIRT, uint8_t(ALL_WRITE));
}

PermTables build() {
  PermTables t;
  // Default capability regions to read-only, no-virtualization (direct read)
  for (auto& p : t.cap) p.read = ReadOp::Direct;
  for (auto& p : t.ecap) p.read = ReadOp::Direct;
  t.direct_ro.read = ReadOp::Direct;
  // Unassigned gaps are raw read-write: some devices hide registers there (be2net)
  t.unassigned.read = ReadOp::Raw;
  t.unassigned.write_op = WriteOp::Raw;
  t.virt.read = ReadOp::Virt;
  t.virt.write_op = WriteOp::Virt;

  init_basic(t.cap[kCapIdBasic]);
  init_pm(t.cap[PCI_CAP_ID_PM]);
  init_vpd(t.cap[PCI_CAP_ID_VPD]);
  init_pcix(t.cap[PCI_CAP_ID_PCIX]);
  t.cap[PCI_CAP_ID_VNDR].write_op = WriteOp::Raw;  // vendor-specific: raw writes (6.1)
  init_exp(t.cap[PCI_CAP_ID_EXP]);
  init_af(t.cap[PCI_CAP_ID_AF]);

  init_err(t.ecap[PCI_EXT_CAP_ID_ERR]);
  init_pwr(t.ecap[PCI_EXT_CAP_ID_PWR]);
  t.ecap[PCI_EXT_CAP_ID_VNDR].write_op = WriteOp::Raw;
  t.ecap[PCI_EXT_CAP_ID_DVSEC].write_op = WriteOp::Raw;
  return t;
}

}  // namespace

const PermTables& perm_tables() {
  static const PermTables tables = build();
  return tables;
}

// init_pci_cap_msi_perm
PermBits msi_perm(int len, uint16_t flags) {
  PermBits p;
  p.alloc(len);
  p.read = ReadOp::Msi;
  p.write_op = WriteOp::Msi;
  p.setb(PCI_CAP_LIST_NEXT, uint8_t(ALL_VIRT), NO_WRITE);
  // The upper byte of the control register is reserved, just the lower byte
  p.setb(PCI_MSI_FLAGS, uint8_t(ALL_VIRT), uint8_t(ALL_WRITE));
  p.setd(PCI_MSI_ADDRESS_LO, ALL_VIRT, ALL_WRITE);
  if (flags & PCI_MSI_FLAGS_64BIT) {
    p.setd(PCI_MSI_ADDRESS_HI, ALL_VIRT, ALL_WRITE);
    p.setw(PCI_MSI_DATA_64, uint16_t(ALL_VIRT), uint16_t(ALL_WRITE));
    if (flags & PCI_MSI_FLAGS_MASKBIT) {
      p.setd(PCI_MSI_MASK_64, NO_VIRT, ALL_WRITE);
      p.setd(PCI_MSI_PENDING_64, NO_VIRT, ALL_WRITE);
    }
  } else {
    p.setw(PCI_MSI_DATA_32, uint16_t(ALL_VIRT), uint16_t(ALL_WRITE));
    if (flags & PCI_MSI_FLAGS_MASKBIT) {
      p.setd(PCI_MSI_MASK_32, NO_VIRT, ALL_WRITE);
      p.setd(PCI_MSI_PENDING_32, NO_VIRT, ALL_WRITE);
    }
  }
  return p;
}

uint8_t cap_length(uint8_t id) { return id <= kCapIdMax ? kCapLength[id] : 0; }
uint16_t ext_cap_length(uint16_t id) { return id <= kExtCapIdMax ? kExtCapLength[id] : 0; }

}  // namespace pciesim::cosim::vfio_config
