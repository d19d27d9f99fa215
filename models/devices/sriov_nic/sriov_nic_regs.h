// The SR-IOV NIC's registers as tables (docs/sriov.md): the SR-IOV extended capability of the
// PF (PCIe 5.0 9.3.3, the register layout Linux's include/uapi/linux/pci_regs.h PCI_SRIOV_* names)
// and the small DMA engine every function (PF and each VF) has at the start of its BAR0.
//
// Identity and SR-IOV values are those of the Intel 82599 10 GbE controller, the NIC most SR-IOV
// write-ups use: PF 8086:10fb and VF 8086:10ed (Linux drivers/net/ethernet/intel/ixgbe/
// ixgbe_type.h IXGBE_DEV_ID_82599_SFP, IXGBE_DEV_ID_82599_VF), 64 VFs at First VF Offset 128 and
// VF Stride 2, Supported Page Sizes 0x553, VF BAR0 and VF BAR3 each 16 KiB 64-bit prefetchable
// with the VF's 3 MSI-X vectors in BAR3 (table at 0, PBA at 0x2000) (82599 datasheet 331520,
// 9.3 / 9.4 VF configuration space; lspci -vv of an 82599 VF). The DMA engine is pciesim's own:
// the 82599's descriptor rings are not modelled.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pciesim::sriov_nic {

// ---- SR-IOV extended capability (PCIe 9.3.3), offsets from the capability header ----
constexpr uint16_t kSriovCap = 0x04;          // SR-IOV Capabilities (32)
constexpr uint16_t kSriovCtrl = 0x08;         // SR-IOV Control (16)
constexpr uint16_t kSriovStatus = 0x0a;       // SR-IOV Status (16)
constexpr uint16_t kSriovInitialVfs = 0x0c;   // InitialVFs (16, RO)
constexpr uint16_t kSriovTotalVfs = 0x0e;     // TotalVFs (16, RO)
constexpr uint16_t kSriovNumVfs = 0x10;       // NumVFs (16, RW)
constexpr uint16_t kSriovFuncLink = 0x12;     // Function Dependency Link (8, RO)
constexpr uint16_t kSriovVfOffset = 0x14;     // First VF Offset (16, RO)
constexpr uint16_t kSriovVfStride = 0x16;     // VF Stride (16, RO)
constexpr uint16_t kSriovVfDid = 0x1a;        // VF Device ID (16, RO)
constexpr uint16_t kSriovSupPgsize = 0x1c;    // Supported Page Sizes (32, RO)
constexpr uint16_t kSriovSysPgsize = 0x20;    // System Page Size (32, RW)
constexpr uint16_t kSriovBar0 = 0x24;         // VF BAR0..5 (32 each)
constexpr uint16_t kSriovMigration = 0x3c;    // VF Migration State Array Offset (32, RO 0)
constexpr unsigned kSriovSize = 0x40;

// SR-IOV Control bits (PCIe 9.3.3.3).
constexpr uint16_t kCtrlVfEnable = 1u << 0;
constexpr uint16_t kCtrlVfMigration = 1u << 1;   // RO 0: VF Migration Capable is 0
constexpr uint16_t kCtrlVfMigrationInt = 1u << 2;
constexpr uint16_t kCtrlVfMse = 1u << 3;
constexpr uint16_t kCtrlAriHierarchy = 1u << 4;  // ARI Capable Hierarchy (RW in the lowest PF)
constexpr uint16_t kCtrlWritable = kCtrlVfEnable | kCtrlVfMse | kCtrlAriHierarchy;

// 82599 values (see the top of this file).
constexpr uint16_t kPfVendor = 0x8086, kPfDevice = 0x10fb, kVfDevice = 0x10ed;
constexpr uint32_t kClassEthernet = 0x020000;   // PCI Code and ID Assignment: network, Ethernet
constexpr uint16_t kDefaultTotalVfs = 64;
constexpr uint16_t kDefaultVfOffset = 128, kDefaultVfStride = 2;
constexpr uint32_t kSupportedPageSizes = 0x553; // 4K, 8K, 64K, 256K, 1M, 4M
constexpr uint32_t kSystemPageSize4K = 0x1;     // reset value: 4 KiB (PCIe 9.3.3.12)
constexpr uint64_t kVfBarSize = 16 * 1024;      // VF BAR0 and VF BAR3, each per VF
constexpr unsigned kVfMsixBar = 3;              // VF MSI-X table and PBA
constexpr uint32_t kVfMsixTable = 0x0000, kVfMsixPba = 0x2000;
constexpr unsigned kDefaultVfMsixVectors = 3;   // ixgbevf: 2 queue vectors + the mailbox
constexpr uint64_t kPfBar0Size = 512 * 1024;    // 82599 PF BAR0 (registers)
constexpr unsigned kPfMsixVectors = 64;         // 82599 PF MSI-X Table Size 64
// PCIe 9.3.3.10: VF Offset and Stride place VF routing ids; pciesim keeps VFs on the PF's bus.
constexpr unsigned kMaxVfs = 256;
// BAR register type bits: memory, 64-bit (bits 2:1 = 10b), prefetchable (bit 3); PCI 3.0 6.2.5.1.
constexpr uint32_t kBarMem64Pref = 0x0c;

// ---- DMA engine, BAR0 of every function ----
constexpr uint32_t kEngId = 0x00;        // RO  "SRNC"
constexpr uint32_t kEngSrc = 0x08;       // RW  64-bit source bus address
constexpr uint32_t kEngDst = 0x10;       // RW  64-bit destination bus address
constexpr uint32_t kEngLen = 0x18;       // RW  bytes, 1..kEngMaxLength
constexpr uint32_t kEngCtrl = 0x1c;      // RW  bit 0: signal the completion vector
constexpr uint32_t kEngStatus = 0x20;    // RO busy, W1C done / error
constexpr uint32_t kEngVector = 0x24;    // RW  MSI-X vector of the completion interrupt
constexpr uint32_t kEngDoorbell = 0x28;  // WO  write kDoorbellCopy: copy kEngLen bytes src -> dst
constexpr uint32_t kEngCount = 0x2c;     // RO  copies completed since reset

constexpr uint32_t kEngIdValue = 0x434e5253;  // "SRNC", pciesim's own
constexpr uint32_t kCtrlIrq = 1u << 0;
constexpr uint32_t kStatusBusy = 1u << 0, kStatusDone = 1u << 1, kStatusError = 1u << 2;
constexpr uint32_t kDoorbellCopy = 1;
// PCIe 2.2.2: Max_Payload_Size tops out at 4096 bytes; one copy moves at most one such request.
constexpr uint32_t kEngMaxLength = 4096;

struct EngineRegister {
  uint32_t offset;
  const char* name;
  unsigned width;   // bytes
  uint64_t reset;
  uint64_t wmask;   // bits a plain write stores
  uint64_t w1c;     // bits a write of 1 clears
  bool readable;
};

inline constexpr EngineRegister kEngineRegisters[] = {
    {kEngId, "id", 4, kEngIdValue, 0, 0, true},
    {kEngSrc, "source", 8, 0, ~uint64_t{0}, 0, true},
    {kEngDst, "destination", 8, 0, ~uint64_t{0}, 0, true},
    {kEngLen, "length", 4, 0, 0xffffffff, 0, true},
    {kEngCtrl, "control", 4, 0, kCtrlIrq, 0, true},
    {kEngStatus, "status", 4, 0, 0, kStatusDone | kStatusError, true},
    {kEngVector, "completion vector", 4, 0, 0x7ff, 0, true},  // PCI 3.0 6.8.2: up to 2048 vectors
    {kEngDoorbell, "doorbell", 4, 0, 0, 0, false},
    {kEngCount, "copies", 4, 0, 0, 0, true},
};
constexpr size_t kEngineRegisterCount = sizeof(kEngineRegisters) / sizeof(kEngineRegisters[0]);

constexpr int engine_register_index(uint64_t offset) {
  for (size_t i = 0; i < kEngineRegisterCount; ++i)
    if (kEngineRegisters[i].offset == offset) return static_cast<int>(i);
  return -1;
}

}  // namespace pciesim::sriov_nic
