// The kernel's IOMMU layer above the intel-iommu driver: one IntelIommu per remapping unit of
// the fabric, the local APIC sink's listener (fault events to their unit, every other interrupt
// to the device handler the kernel registers), and the place the kernel calls to run deferred
// fault handling. Device-to-unit lookup only; Linux's group rules live in cosim/groups.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "iommu/intel_iommu.h"

namespace pciesim::cosim {

class IommuCore {
 public:
  using InterruptHandler = std::function<void(const vtd::DeliveredInterrupt&)>;

  // Creates a driver for each unit of `fabric` and takes over fabric.apic()'s listener.
  IommuCore(Fabric& fabric, KernelMemory& mem, KernelLog& log, IntelIommuOptions options = {});
  ~IommuCore();

  // init() on every unit; false if any failed.
  bool init();
  const std::vector<std::unique_ptr<IntelIommu>>& units() const { return m_units; }
  IntelIommu* unit(const std::string& name) const;

  // Interrupts that are not a unit's fault event (device MSIs, IOAPIC lines).
  void set_interrupt_handler(InterruptHandler h) { m_handler = std::move(h); }
  // Called when a unit's fault event arrived (its handler then runs from service_faults()).
  void set_fault_listener(std::function<void()> f) { m_fault_listener = std::move(f); }
  // Runs every unit's pending fault handler; returns the faults logged.
  unsigned service_faults();

 private:
  Fabric& m_fabric;
  std::vector<std::unique_ptr<IntelIommu>> m_units;
  InterruptHandler m_handler;
  std::function<void()> m_fault_listener;
};

}  // namespace pciesim::cosim
