// Linux's fault reporting words (drivers/iommu/intel/dmar.c): the reason tables of
// dmar_get_fault_reason and the line dmar_fault_do_one prints. Pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace pciesim::cosim {

struct DmarFault;

enum class DmarFaultType : uint8_t { DmaRemap, IntrRemap, Unknown };

// dmar_get_fault_reason: 0x20.. interrupt remapping (7 entries), 0x30.. scalable mode, below 0x0E
// legacy DMA remapping, anything else "Unknown".
const char* dmar_fault_reason(uint8_t reason, DmarFaultType& type);

// The line without the "DMAR: " prefix, e.g.
// "[DMA Write NO_PASID] Request device [05:00.0] fault addr 0x101000 [fault reason 0x05] PTE Write access is not set"
// "[INTR-REMAP] Request device [05:00.0] fault index 0x5 [fault reason 0x26] Blocked an interrupt ..."
std::string dmar_fault_line(const DmarFault& f);

}  // namespace pciesim::cosim
