#include "iommu/dmar_registers.h"

#include "iommu/vtd_regs.h"
#include "pcie/fabric.h"

namespace pciesim::cosim {

namespace {
uint64_t mmio(Fabric& f, bool write, uint64_t addr, uint64_t value, unsigned size) {
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  f.cpu().access(write, addr, reinterpret_cast<uint8_t*>(&value), size, delay);
  return value;
}
}  // namespace

uint32_t DmarRegisters::read32(uint32_t offset) {
  return static_cast<uint32_t>(mmio(m_fabric, false, m_base + offset, 0, 4));
}
uint64_t DmarRegisters::read64(uint32_t offset) { return mmio(m_fabric, false, m_base + offset, 0, 8); }
void DmarRegisters::write32(uint32_t offset, uint32_t value) { mmio(m_fabric, true, m_base + offset, value, 4); }
void DmarRegisters::write64(uint32_t offset, uint64_t value) { mmio(m_fabric, true, m_base + offset, value, 8); }

bool DmarRegisters::wait_status(uint32_t bit, bool set) {
  for (unsigned i = 0; i < kPollLimit; ++i)
    if (((read32(vtd::reg::kGsts) & bit) != 0) == set) return true;
  return false;
}

bool DmarRegisters::set_enable(uint32_t bit, bool on) {
  m_gcmd = on ? (m_gcmd | bit) : (m_gcmd & ~bit);
  write32(vtd::reg::kGcmd, m_gcmd);
  return wait_status(bit, on);
}

bool DmarRegisters::latch(uint32_t bit) {
  write32(vtd::reg::kGcmd, m_gcmd | bit);
  return wait_status(bit, true);
}

}  // namespace pciesim::cosim
