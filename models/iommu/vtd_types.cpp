#include "iommu/vtd_types.h"

namespace pciesim::vtd {

bool is_interrupt_fault(FaultReason r) {
  const auto v = static_cast<uint8_t>(r);
  return v >= 0x20 && v <= 0x27;
}

const char* describe(FaultReason r) {
  switch (r) {
    case FaultReason::None: return "no fault";
    case FaultReason::RootNotPresent: return "Present bit in root entry is clear";
    case FaultReason::ContextNotPresent: return "Present bit in context entry is clear";
    case FaultReason::ContextInvalid: return "Invalid context entry";
    case FaultReason::AddressBeyondAgaw: return "Access beyond MGAW";
    case FaultReason::WriteDenied: return "PTE Write access is not set";
    case FaultReason::ReadDenied: return "PTE Read access is not set";
    case FaultReason::SlEntryAccess: return "Next page table ptr is invalid";
    case FaultReason::RootAccess: return "Root table address invalid";
    case FaultReason::ContextAccess: return "Context table ptr is invalid";
    case FaultReason::RootReserved: return "non-zero reserved fields in RTP";
    case FaultReason::ContextReserved: return "non-zero reserved fields in CTP";
    case FaultReason::SlEntryReserved: return "non-zero reserved fields in PTE";
    case FaultReason::TranslationTypeBlocked: return "PCE for translation request specifies blocking";
    case FaultReason::IrReservedRequest: return "Detected reserved fields in the decoded interrupt-remapped request";
    case FaultReason::IrIndexBeyondSize: return "Interrupt index exceeded the interrupt-remapping table size";
    case FaultReason::IrEntryNotPresent: return "Present field in the IRTE entry is clear";
    case FaultReason::IrTableAccess: return "Error accessing interrupt-remapping table pointed by IRTA_REG";
    case FaultReason::IrEntryReserved: return "Detected reserved fields in the IRTE entry";
    case FaultReason::IrCompatibilityBlocked: return "Blocked a compatibility format interrupt request";
    case FaultReason::IrSourceIdInvalid: return "Blocked an interrupt request due to source-id verification failure";
    case FaultReason::IrPostedDescriptorAccess: return "Error accessing a posted-interrupt descriptor";
    case FaultReason::SmRootTableInvalid: return "SM: Invalid Root Table Address";
    case FaultReason::SmTtmZeroWithPasid: return "SM: TTM 0 for request with PASID";
    case FaultReason::SmRootAccess: return "SM: Error attempting to access Root Entry";
    case FaultReason::SmRootNotPresent: return "SM: Present bit in Root Entry is clear";
    case FaultReason::SmRootReserved: return "SM: Non-zero reserved field set in Root Entry";
    case FaultReason::SmContextAccess: return "SM: Error attempting to access Context Entry";
    case FaultReason::SmContextNotPresent: return "SM: Present bit in Context Entry is clear";
    case FaultReason::SmContextReserved: return "SM: Non-zero reserved field set in the Context Entry";
    case FaultReason::SmContextInvalid: return "SM: Invalid Context Entry";
    case FaultReason::SmDeviceTlbDisabled: return "SM: DTE field in Context Entry is clear";
    case FaultReason::SmPasidDisabled: return "SM: PASID Enable field in Context Entry is clear";
    case FaultReason::SmPasidTooLarge: return "SM: PASID is larger than the max in Context Entry";
    case FaultReason::SmRidPasidError: return "SM: RID_PASID field error in Context Entry";
    case FaultReason::SmPasidDirAccess: return "SM: Error attempting to access the PASID Directory Entry";
    case FaultReason::SmPasidDirNotPresent: return "SM: Present bit in Directory Entry is clear";
    case FaultReason::SmPasidDirReserved: return "SM: Non-zero reserved field set in PASID Directory Entry";
    case FaultReason::SmPasidEntryAccess: return "SM: Error attempting to access PASID Table Entry";
    case FaultReason::SmPasidEntryNotPresent: return "SM: Present bit in PASID Table Entry is clear";
    case FaultReason::SmPasidEntryReserved: return "SM: Non-zero reserved field set in PASID Table Entry";
    case FaultReason::SmPasidEntryInvalid: return "SM: Invalid Scalable-Mode PASID Table Entry";
    case FaultReason::SmExecuteDisabled: return "SM: ERE field is clear in PASID Table Entry";
    case FaultReason::SmSupervisorDisabled: return "SM: SRE field is clear in PASID Table Entry";
    case FaultReason::SmFlEntryAccess: return "SM: Error attempting to access first-level paging entry";
    case FaultReason::SmFlEntryNotPresent: return "SM: Present bit in first-level paging entry is clear";
    case FaultReason::SmFlEntryReserved: return "SM: Non-zero reserved field set in first-level paging entry";
    case FaultReason::SmNestedFlPml4Access: return "SM: Error attempting to access FL-PML4 entry";
    case FaultReason::SmNestedFlAddressBeyond: return "SM: First-level entry address beyond MGAW in Nested translation";
    case FaultReason::SmNestedFlPml4Read: return "SM: Read permission error in FL-PML4 entry in Nested translation";
    case FaultReason::SmNestedFlRead: return "SM: Read permission error in first-level paging entry in Nested translation";
    case FaultReason::SmNestedFlWrite: return "SM: Write permission error in first-level paging entry in Nested translation";
    case FaultReason::SmSlEntryAccess: return "SM: Error attempting to access second-level paging entry";
    case FaultReason::SmSlPermission: return "SM: Read/Write permission error in second-level paging entry";
    case FaultReason::SmSlEntryReserved: return "SM: Non-zero reserved field set in second-level paging entry";
    case FaultReason::SmSlPointerInvalid: return "SM: Invalid second-level page table pointer";
    case FaultReason::SmFlNonCanonical: return "SM: Address in first-level translation is not canonical";
    case FaultReason::SmFlUserDenied: return "SM: U/S set 0 for first-level translation with user privilege";
    case FaultReason::SmFlExecuteDenied: return "SM: No execute permission for request with PASID and ER=1";
    case FaultReason::SmAddressBeyondMax: return "SM: Address beyond the DMA hardware max";
    case FaultReason::SmSlAddressBeyondMax: return "SM: Second-level entry address beyond the max";
    case FaultReason::SmWriteDenied: return "SM: No write permission for Write/AtomicOp request";
    case FaultReason::SmReadDenied: return "SM: No read permission for Read/AtomicOp request";
    case FaultReason::SmOutputInInterruptRange: return "SM: Invalid address-interrupt address range";
  }
  return "Unknown";
}

}  // namespace pciesim::vtd
