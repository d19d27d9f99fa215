#include "iommu/dmar_registers.h"

#include "iommu/vtd_regs.h"
#include "pcie/fabric.h"

namespace pciesim::cosim {

uint32_t DmarRegisters::read32(uint32_t offset) { return static_cast<uint32_t>(m_cpu.read(m_base + offset, 4)); }
uint64_t DmarRegisters::read64(uint32_t offset) { return m_cpu.read(m_base + offset, 8); }
void DmarRegisters::write32(uint32_t offset, uint32_t value) { m_cpu.write(m_base + offset, value, 4); }
void DmarRegisters::write64(uint32_t offset, uint64_t value) { m_cpu.write(m_base + offset, value, 8); }

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
