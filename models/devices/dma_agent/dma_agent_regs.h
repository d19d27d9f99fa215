// The DMA agent's BAR0 register map as a table (docs/dma-agent.md). Each row gives offset, name,
// width, access, value after reset and the bits a plain write stores; dma_agent.cpp adds handlers
// only where a write has a side effect (the command register).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pciesim::dma_agent {

// BAR0 offsets.
constexpr uint32_t kId = 0x00;         // RO  identification
constexpr uint32_t kAddress = 0x08;    // RW  64-bit bus address of the request
constexpr uint32_t kLength = 0x10;     // RW  bytes, 1..kMaxLength
constexpr uint32_t kControl = 0x14;    // RW  direction, data source and the TLP's options (bits below)
constexpr uint32_t kPasid = 0x18;      // RW  PASID, 20 bits (used with kCtlPasid)
constexpr uint32_t kRequester = 0x1c;  // RW  requester id to put on the TLP (used with kCtlSpoof)
constexpr uint32_t kPattern = 0x20;    // RW  32-bit pattern a write repeats (with kCtlPattern)
constexpr uint32_t kMsiData = 0x24;    // RW  the DWORD a forged MSI write carries
constexpr uint32_t kCommand = 0x28;    // WO  kCmdStart, kCmdForgedMsi
constexpr uint32_t kStatus = 0x30;     // RO  bit 0 busy; bits 15:8 the last command's StatusCode
constexpr uint32_t kVerdict = 0x34;    // RO  outcome 3:0, ACS bit 11:8, redirect bit 15:12, fault reason 31:16
constexpr uint32_t kWireRequester = 0x38;  // RO  requester id the TLP carried when it ended
constexpr uint32_t kCount = 0x3c;      // RO  requests issued since reset (register and C++ API)
constexpr uint32_t kIommuOutput = 0x40;  // RO  64-bit address a remapping unit translated it to (0: none)
// The data window: what a write sends (without kCtlPattern) and what a read brought back.
constexpr uint32_t kWindow = 0x1000;

// Identification: "DMAG" in ASCII, an id of pciesim's own (no real device has this map).
constexpr uint32_t kIdValue = 0x474d4144;

// PCIe 2.2.2 / 7.5.3.4: Max_Payload_Size and Max_Read_Request_Size top out at 4096 bytes, the
// largest a single request can move; the window holds exactly one such request.
constexpr uint32_t kMaxLength = 4096;
constexpr uint32_t kWindowSize = kMaxLength;
// BAR0: registers in the first 4 KiB page, the window in the second (PCIe 7.5.1.2.1: a memory
// BAR is a power of two; 4 KiB pages so a VFIO user can mmap each apart).
constexpr uint64_t kBar0Size = 2 * 4096;

// kControl bits.
constexpr uint32_t kCtlWrite = 1u << 0;            // 0: memory read into the window; 1: memory write
constexpr uint32_t kCtlPattern = 1u << 1;          // a write sends kPattern repeated, not the window
constexpr uint32_t kCtlNoSnoop = 1u << 2;          // PCIe 2.2.6.5 attribute bits
constexpr uint32_t kCtlRelaxedOrdering = 1u << 3;
constexpr uint32_t kCtlAtShift = 4;                // PCIe 10.2.1 AT: 0 untranslated, 1 translation
constexpr uint32_t kCtlAtMask = 3u << kCtlAtShift;  // request, 2 translated, 3 reserved (rejected)
constexpr uint32_t kCtlPasid = 1u << 8;            // PCIe 6.20 PASID TLP prefix present
constexpr uint32_t kCtlPrivileged = 1u << 9;       //   its Privileged Mode Requested bit
constexpr uint32_t kCtlExecute = 1u << 10;         //   its Execute Requested bit
constexpr uint32_t kCtlSpoof = 1u << 12;           // put kRequester on the TLP instead of our own id
constexpr uint32_t kControlMask = kCtlWrite | kCtlPattern | kCtlNoSnoop | kCtlRelaxedOrdering | kCtlAtMask |
                                  kCtlPasid | kCtlPrivileged | kCtlExecute | kCtlSpoof;

// kCommand values.
constexpr uint32_t kCmdStart = 1;      // issue the request kAddress/kLength/kControl describe
constexpr uint32_t kCmdForgedMsi = 2;  // a DWORD memory write of kMsiData to kAddress (kControl's
                                       // options apply; direction, length and pattern do not)

// kStatus bits 15:8: how the last command ended.
enum class StatusCode : uint8_t {
  None = 0,           // nothing issued since reset
  Delivered = 1,      // the fabric delivered it (possibly after an ACS redirect): see kVerdict
  Failed = 2,         // it went out and did not arrive: kVerdict holds the fabric's outcome
  BadLength = 3,      // length 0: nothing issued
  TooLong = 4,        // length beyond kMaxLength: nothing issued
  BadAddressType = 5, // AT = 3 (reserved): nothing issued
  BadCommand = 6,     // unknown command value: nothing issued
  Busy = 7,           // a command arrived while one was running: ignored
};
constexpr uint32_t kStatusBusy = 1u << 0;
constexpr uint32_t kStatusCodeShift = 8;

// kVerdict fields.
constexpr uint32_t kVerdictOutcomeMask = 0xf;  // pciesim::Outcome
constexpr uint32_t kVerdictAcsShift = 8;       // pciesim::AcsBit of a block, 0xf none
constexpr uint32_t kVerdictRedirectShift = 12; // pciesim::AcsBit of a redirect, 0xf none
constexpr uint32_t kVerdictReasonShift = 16;   // VT-d fault reason (IOMMU fault)
constexpr uint32_t kNoAcsBit = 0xf;
constexpr uint32_t kVerdictReset = (kNoAcsBit << kVerdictAcsShift) | (kNoAcsBit << kVerdictRedirectShift);

enum class Access : uint8_t { ReadOnly, ReadWrite, WriteOnly };

struct Register {
  uint32_t offset;
  const char* name;
  Access access;
  unsigned width;  // bytes: 8 for the address registers, 4 for the rest
  uint64_t reset;
  uint64_t wmask;  // bits a plain write stores
};

inline constexpr Register kRegisters[] = {
    {kId, "identification", Access::ReadOnly, 4, kIdValue, 0},
    {kAddress, "address", Access::ReadWrite, 8, 0, ~uint64_t{0}},
    {kLength, "length", Access::ReadWrite, 4, 0, 0xffffffff},  // checked at start, not here
    {kControl, "control", Access::ReadWrite, 4, 0, kControlMask},
    {kPasid, "PASID", Access::ReadWrite, 4, 0, 0xfffff},       // PCIe 6.20: 20 bits
    {kRequester, "requester id", Access::ReadWrite, 4, 0, 0xffff},
    {kPattern, "pattern", Access::ReadWrite, 4, 0, 0xffffffff},
    {kMsiData, "MSI data", Access::ReadWrite, 4, 0, 0xffffffff},
    {kCommand, "command", Access::WriteOnly, 4, 0, 0},
    {kStatus, "status", Access::ReadOnly, 4, 0, 0},
    {kVerdict, "verdict", Access::ReadOnly, 4, kVerdictReset, 0},
    {kWireRequester, "requester id on the wire", Access::ReadOnly, 4, 0, 0},
    {kCount, "requests issued", Access::ReadOnly, 4, 0, 0},
    {kIommuOutput, "IOMMU output address", Access::ReadOnly, 8, 0, 0},
};
constexpr size_t kRegisterCount = sizeof(kRegisters) / sizeof(kRegisters[0]);

// Index into kRegisters of the register at exactly `offset`; -1 for an unlisted offset.
constexpr int register_index(uint64_t offset) {
  for (size_t i = 0; i < kRegisterCount; ++i)
    if (kRegisters[i].offset == offset) return static_cast<int>(i);
  return -1;
}

// 8-byte registers take 4- or 8-byte accesses (a 4-byte access reaches the low half), the others
// 4-byte accesses only; the window takes 1, 2, 4 or 8 bytes inside it.
constexpr bool access_size_ok(const Register& r, unsigned size) {
  return r.width == 8 ? (size == 4 || size == 8) : size == 4;
}

}  // namespace pciesim::dma_agent
