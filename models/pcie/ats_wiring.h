// Device-TLB invalidation between a VT-d remapping unit and the ATS functions it serves.
//
// VT-d 6.5.2.5 / 6.5.2.6: a device-TLB invalidate descriptor makes the unit send an ATS Invalidate
// Request to the function with the descriptor's source id (PCIe 6.0 10.3.1: a message routed by
// ID), and wait for its Invalidate Completion before a later invalidation-wait descriptor may
// complete. connect_device_tlb() wires a unit's VtdCaches::DeviceTlbHandler (the request) and its
// InvalidationQueue's DeviceTlbResponder (the completion, or its absence) to the fabric:
//   - the function with that id in the unit's segment, with ATS enabled, drops the range
//     (vtd::decode_ats_range) from its ATC and answers: Completed;
//   - a function without ATS, with ATS Enable clear, or no function at that id sends no
//     completion: TimedOut (FSTS.ITE, IQER.ITESID; the next wait descriptor is aborted).
// A PASID-tagged request (descriptor 0x8) applies to translations with that PASID only (PCIe
// 10.3.1); the ATC holds translations without PASID, so it drops nothing and answers.
//
// Timing: the invalidation queue completes descriptors during the IQT write and charges no
// latency for them (models/iommu/invalidation.h); the Invalidate Request / Completion round trip
// is not charged either, so no number here pretends to be measured.
#pragma once

namespace pciesim {

class Fabric;
namespace vtd {
class RemappingUnit;
}

void connect_device_tlb(Fabric& fabric, vtd::RemappingUnit& unit);

}  // namespace pciesim
