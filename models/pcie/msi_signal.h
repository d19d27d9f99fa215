// MSI and MSI-X signalling rules of one function (PCI 3.0 6.8): which message a vector sends,
// whether it may go now (enables, Bus Master Enable, masks) and the pending bits a masked vector
// leaves behind. Pure functions of the function's registers and its MSI-X table; the endpoint
// sends the message as a DWORD memory write upstream (Endpoint::signal_msi).
#pragma once

#include <cstdint>
#include <vector>

#include "pcie/config_space.h"

namespace pciesim {

class MsixTable;
class PciFunction;

enum class MsiResult : uint8_t {
  Sent,      // the message write completed successfully
  Pending,   // the vector is masked: its pending bit is set, the message goes when unmasked
  Disabled,  // neither MSI nor MSI-X enabled, Bus Master Enable clear, or a vector not allocated
  Fault,     // the message write completed in error (e.g. the IOMMU blocked it)
};
const char* to_string(MsiResult r);

// The memory write that signals one vector.
struct MsiMessage {
  uint64_t address = 0;
  uint32_t data = 0;
  unsigned vector = 0;
};

// PCI 3.0 6.8.1: the MSI capability as currently programmed.
struct MsiRegs {
  bool present = false, enabled = false, is_64bit = false, maskable = false;
  unsigned vectors_enabled = 1;  // 2^(Multiple Message Enable)
  uint64_t address = 0;
  uint16_t data = 0;
  uint32_t mask = 0, pending = 0;
  uint16_t pending_offset = 0;   // config offset of Pending Bits; 0 without per-vector masking
};
MsiRegs read_msi(const ConfigSpace& cs, uint16_t cap_offset);

// PCI 3.0 6.8.1.3: with N = 2^MME vectors enabled the function modifies the low log2(N) bits of
// Message Data to the vector number (software leaves them 0, so this is an OR). The DWORD written
// carries Message Data in bits 15:0 and 0 in bits 31:16 (6.8.1.9).
MsiMessage msi_message(const MsiRegs& r, unsigned vector);

// What signalling `vector` means now. result Sent: send `message`. Pending: the vector is masked
// (MSI per-vector mask, MSI-X vector Mask or Function Mask) and its pending bit is now set. MSI-X
// wins when software enabled both (PCI 3.0 6.8.2.3 forbids it; Linux never does).
struct MsiDecision {
  MsiResult result = MsiResult::Disabled;
  MsiMessage message;
};
MsiDecision prepare_msi(PciFunction& fn, MsixTable* table, unsigned vector);

// PCI 3.0 6.8.1.7 / 6.8.2.10: when software unmasks a vector whose pending bit is set, the function
// sends its message and clears the bit. Returns the messages now due (their pending bits cleared);
// nothing while the capability is disabled, its Function Mask set, or Bus Master Enable clear.
std::vector<MsiMessage> take_unmasked_pending(PciFunction& fn, MsixTable* table);

}  // namespace pciesim
