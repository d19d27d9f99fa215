// The permission tables of vfio_pci_core's config-space virtualisation (Linux 6.1
// drivers/vfio/pci/vfio_pci_config.c: struct perm_bits, cap_perms[], ecap_perms[],
// pci_cap_length[], pci_ext_cap_length[]). Internal to vfio_pci_config.cpp and its tests.
//
// Each capability (and the standard header, "capability" 0) has one table: per byte, which bits
// are virtualised (read from and written to vconfig, never the device) and which are writable
// (user writes reach vconfig or the device; other bits of a write are dropped). Bits neither
// virtual nor writable read through from the device. The read/write operations are chosen per
// table; handlers exist only for side effects (BAR sizing, FLR, power state, MSI flags).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pciesim::cosim::vfio_config {

using std::size_t;

// ---- pci_regs.h values this code uses ----
inline constexpr int kStdHeaderSize = 0x40;   // PCI_STD_HEADER_SIZEOF
inline constexpr int kCfgSpaceSize = 0x100;   // PCI_CFG_SPACE_SIZE
inline constexpr int kCfgSpaceExpSize = 0x1000;
inline constexpr uint8_t kCapIdBasic = 0;     // PCI_CAP_ID_BASIC: vfio's fake id for the header
inline constexpr uint8_t kCapIdMax = 0x14;    // PCI_CAP_ID_MAX = PCI_CAP_ID_EA
inline constexpr uint16_t kExtCapIdMax = 0x2e;  // PCI_EXT_CAP_ID_MAX = PCI_EXT_CAP_ID_DOE (6.1)
inline constexpr uint8_t kCapIdInvalid = 0xff;      // PCI_CAP_ID_INVALID: a gap, raw access
inline constexpr uint8_t kCapIdInvalidVirt = 0xfe;  // PCI_CAP_ID_INVALID_VIRT: fully virtual

enum : uint8_t {
  PCI_CAP_ID_PM = 0x01, PCI_CAP_ID_AGP = 0x02, PCI_CAP_ID_VPD = 0x03, PCI_CAP_ID_MSI = 0x05,
  PCI_CAP_ID_PCIX = 0x07, PCI_CAP_ID_HT = 0x08, PCI_CAP_ID_VNDR = 0x09, PCI_CAP_ID_EXP = 0x10,
  PCI_CAP_ID_MSIX = 0x11, PCI_CAP_ID_SATA = 0x12, PCI_CAP_ID_AF = 0x13,
};
enum : uint16_t {
  PCI_EXT_CAP_ID_ERR = 0x01, PCI_EXT_CAP_ID_VC = 0x02, PCI_EXT_CAP_ID_DSN = 0x03,
  PCI_EXT_CAP_ID_PWR = 0x04, PCI_EXT_CAP_ID_MFVC = 0x08, PCI_EXT_CAP_ID_VC9 = 0x09,
  PCI_EXT_CAP_ID_VNDR = 0x0b, PCI_EXT_CAP_ID_ACS = 0x0d, PCI_EXT_CAP_ID_ARI = 0x0e,
  PCI_EXT_CAP_ID_ATS = 0x0f, PCI_EXT_CAP_ID_SRIOV = 0x10, PCI_EXT_CAP_ID_MCAST = 0x12,
  PCI_EXT_CAP_ID_PRI = 0x13, PCI_EXT_CAP_ID_REBAR = 0x15, PCI_EXT_CAP_ID_DPA = 0x16,
  PCI_EXT_CAP_ID_TPH = 0x17, PCI_EXT_CAP_ID_LTR = 0x18, PCI_EXT_CAP_ID_DVSEC = 0x23,
};

// Standard header
inline constexpr int PCI_VENDOR_ID = 0x00, PCI_DEVICE_ID = 0x02, PCI_COMMAND = 0x04,
                     PCI_STATUS = 0x06, PCI_CACHE_LINE_SIZE = 0x0c, PCI_LATENCY_TIMER = 0x0d,
                     PCI_BIST = 0x0f, PCI_BASE_ADDRESS_0 = 0x10, PCI_BASE_ADDRESS_5 = 0x24,
                     PCI_ROM_ADDRESS = 0x30, PCI_CAPABILITY_LIST = 0x34,
                     PCI_INTERRUPT_LINE = 0x3c, PCI_INTERRUPT_PIN = 0x3d;
inline constexpr uint16_t PCI_COMMAND_IO = 0x1, PCI_COMMAND_MEMORY = 0x2, PCI_COMMAND_MASTER = 0x4,
                          PCI_COMMAND_INTX_DISABLE = 0x400;
inline constexpr uint16_t PCI_STATUS_CAP_LIST = 0x10;
inline constexpr uint32_t PCI_BASE_ADDRESS_SPACE_IO = 0x1, PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x4,
                          PCI_BASE_ADDRESS_MEM_PREFETCH = 0x8, PCI_ROM_ADDRESS_ENABLE = 0x1;
inline constexpr int PCI_CAP_LIST_ID = 0, PCI_CAP_LIST_NEXT = 1, PCI_CAP_FLAGS = 2;
// Power management
inline constexpr int PCI_PM_PMC = 2, PCI_PM_CTRL = 4;
inline constexpr uint16_t PCI_PM_CAP_PME_MASK = 0xf800;
inline constexpr uint32_t PCI_PM_CTRL_STATE_MASK = 0x3, PCI_PM_CTRL_PME_ENABLE = 0x100,
                          PCI_PM_CTRL_PME_STATUS = 0x8000;
// MSI
inline constexpr int PCI_MSI_FLAGS = 2, PCI_MSI_ADDRESS_LO = 4, PCI_MSI_ADDRESS_HI = 8,
                     PCI_MSI_DATA_32 = 8, PCI_MSI_MASK_32 = 12, PCI_MSI_PENDING_32 = 16,
                     PCI_MSI_DATA_64 = 12, PCI_MSI_MASK_64 = 16, PCI_MSI_PENDING_64 = 20;
inline constexpr uint16_t PCI_MSI_FLAGS_ENABLE = 0x1, PCI_MSI_FLAGS_QMASK = 0xe,
                          PCI_MSI_FLAGS_QSIZE = 0x70, PCI_MSI_FLAGS_64BIT = 0x80,
                          PCI_MSI_FLAGS_MASKBIT = 0x100;
// PCI Express capability
inline constexpr int PCI_EXP_FLAGS = 2, PCI_EXP_DEVCAP = 4, PCI_EXP_DEVCTL = 8,
                     PCI_EXP_DEVCTL2 = 0x28;
inline constexpr uint32_t PCI_EXP_DEVCAP_FLR = 0x10000000;
inline constexpr uint16_t PCI_EXP_FLAGS_VERS = 0xf, PCI_EXP_FLAGS_TYPE = 0xf0,
                          PCI_EXP_TYPE_RC_END = 0x9, PCI_EXP_DEVCTL_PAYLOAD = 0x00e0,
                          PCI_EXP_DEVCTL_PHANTOM = 0x0200, PCI_EXP_DEVCTL_READRQ = 0x7000,
                          PCI_EXP_DEVCTL_BCR_FLR = 0x8000, PCI_EXP_DEVCTL2_ARI = 0x0020;
// Advanced features
inline constexpr int PCI_AF_CAP = 3, PCI_AF_CTRL = 4;
inline constexpr uint8_t PCI_AF_CAP_TP = 0x01, PCI_AF_CAP_FLR = 0x02, PCI_AF_CTRL_FLR = 0x01;

// One capability's permissions (struct perm_bits). An empty table reads as all-zero: nothing
// virtual, nothing writable (Linux leaves virt/write NULL for such capabilities and never
// consults them, because their read/write operations do not).
enum class ReadOp : uint8_t {
  None,     // nothing: the user reads zeros (Linux: no readfn)
  Default,  // vfio_default_config_read: virtual bits from vconfig, the rest from the device
  Direct,   // vfio_direct_config_read: the device, but capability id/next (header) from vconfig
  Raw,      // vfio_raw_config_read: the device
  Virt,     // vfio_virt_config_read: vconfig
  Basic,    // vfio_basic_config_read: BAR sizing fixup, then Default
  Msi,      // vfio_msi_config_read: Multiple Message Capable from msi_qmax, then Default
};
enum class WriteOp : uint8_t {
  None,     // dropped (Linux: no writefn)
  Default,  // vfio_default_config_write: writable virtual bits to vconfig, writable real bits to hw
  Raw,      // vfio_raw_config_write: straight to the device
  Virt,     // vfio_virt_config_write: straight to vconfig
  Basic,    // vfio_basic_config_write: Command side effects, INTx-disable emulation, BARs dirty
  Pm,       // vfio_pm_config_write: power-state change requested through PMCSR
  Vpd,      // vfio_vpd_config_write (the VPD transfer itself is not modelled)
  Exp,      // vfio_exp_config_write: FLR through DEVCTL, MRRS floor
  Af,       // vfio_af_config_write: FLR through the Advanced Features capability
  Msi,      // vfio_msi_config_write: enable only while SET_IRQS has MSI, QSIZE clamp, to hardware
};

struct PermBits {
  std::vector<uint8_t> virt;   // read/write virtual data, not hw
  std::vector<uint8_t> write;  // writeable bits
  ReadOp read = ReadOp::None;
  WriteOp write_op = WriteOp::None;

  // Little-endian masks for `count` bytes at `offset` (zero past the table, as if zero-filled).
  uint32_t virt_mask(int offset, int count) const { return gather(virt, offset, count); }
  uint32_t write_mask(int offset, int count) const { return gather(write, offset, count); }

  // alloc_perm_bits: round up to a dword; all readable, none writable, none virtual; default ops.
  void alloc(int size);
  // p_setb / p_setw / p_setd
  void setb(int off, uint8_t v, uint8_t w);
  void setw(int off, uint16_t v, uint16_t w);
  void setd(int off, uint32_t v, uint32_t w);

 private:
  static uint32_t gather(const std::vector<uint8_t>& t, int offset, int count);
};

inline constexpr uint32_t NO_VIRT = 0, ALL_VIRT = 0xffffffffu, NO_WRITE = 0,
                          ALL_WRITE = 0xffffffffu;

// The shared tables (vfio_pci_init_perm_bits): built once.
struct PermTables {
  std::array<PermBits, kCapIdMax + 1> cap;      // cap_perms[]; cap[0] = the standard header
  std::array<PermBits, kExtCapIdMax + 1> ecap;  // ecap_perms[]
  PermBits direct_ro;                           // direct_ro_perms
  PermBits unassigned;                          // unassigned_perms: raw read-write
  PermBits virt;                                // virt_perms
};
const PermTables& perm_tables();

// init_pci_cap_msi_perm: MSI's table depends on the function's 64-bit and mask-bit flags.
PermBits msi_perm(int len, uint16_t flags);

// pci_cap_length[] / pci_ext_cap_length[]: 0 = hidden from the user's chain, 0xFF = variable.
uint8_t cap_length(uint8_t id);
uint16_t ext_cap_length(uint16_t id);
inline constexpr int kVariableLength = 0xff;

}  // namespace pciesim::cosim::vfio_config
