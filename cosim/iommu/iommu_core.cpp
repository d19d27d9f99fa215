#include "iommu/iommu_core.h"

#include "iommu/local_apic_sink.h"
#include "iommu/remapping_unit.h"
#include "pcie/fabric.h"

namespace pciesim::cosim {

IommuCore::IommuCore(Fabric& fabric, KernelMemory& mem, KernelLog& log, IntelIommuOptions options)
    : m_fabric(fabric) {
  for (vtd::RemappingUnit* u : fabric.iommus()) m_units.push_back(std::make_unique<IntelIommu>(fabric, *u, mem, log, options));
  fabric.apic().set_listener([this](const vtd::DeliveredInterrupt& irq) {
    bool consumed = false;
    for (auto& u : m_units) consumed = u->on_apic_interrupt(irq) || consumed;
    if (!consumed && m_handler) m_handler(irq);
    if (consumed && m_fault_listener) m_fault_listener();
  });
}

IommuCore::~IommuCore() { m_fabric.apic().set_listener(nullptr); }

bool IommuCore::init() {
  bool ok = true;
  for (auto& u : m_units) ok = u->init() && ok;
  return ok;
}

IntelIommu* IommuCore::unit(const std::string& name) const {
  for (auto& u : m_units)
    if (u->name() == name) return u.get();
  return nullptr;
}

unsigned IommuCore::service_faults() {
  unsigned n = 0;
  for (auto& u : m_units) n += u->service_faults();
  return n;
}

}  // namespace pciesim::cosim
