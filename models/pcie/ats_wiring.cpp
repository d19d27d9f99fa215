#include "pcie/ats_wiring.h"

#include <memory>
#include <unordered_map>

#include "iommu/invalidation.h"
#include "iommu/remapping_unit.h"
#include "pcie/endpoint.h"
#include "pcie/fabric.h"

namespace pciesim {

void connect_device_tlb(Fabric& fabric, vtd::RemappingUnit& unit) {
  const int segment = unit.spec().segment;
  // The handler runs first for a descriptor, then the queue asks the responder about the same
  // source id (InvalidationQueue::device_tlb): what the function answered waits here in between.
  auto answered = std::make_shared<std::unordered_map<uint16_t, bool>>();
  unit.caches().set_device_tlb_handler([&fabric, segment, answered](uint16_t sid, bool has_pasid, uint32_t,
                                                                    uint64_t addr, bool size_bit) {
    bool completion = false;
    const RequesterId id{static_cast<uint8_t>(sid >> 8), static_cast<uint8_t>(sid)};
    const FunctionInfo* info = fabric.find(segment, id);
    AtsFunction* ats = info && info->endpoint ? info->endpoint->ats(info->function_number) : nullptr;
    if (ats) {
      const vtd::AtsRange r = vtd::decode_ats_range(addr, size_bit);
      // Translations without PASID are what the ATC holds; a PASID-tagged request names none of them.
      completion = ats->invalidate(r.base, r.size, has_pasid);
    }
    (*answered)[sid] = completion;
  });
  unit.registers().queue().set_device_tlb_responder([answered](uint16_t sid) {
    auto it = answered->find(sid);
    const bool completed = it != answered->end() && it->second;
    if (it != answered->end()) answered->erase(it);
    return completed ? vtd::DeviceTlbResult::Completed : vtd::DeviceTlbResult::TimedOut;
  });
}

}  // namespace pciesim
