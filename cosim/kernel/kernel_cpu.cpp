#include "kernel/kernel_cpu.h"

#include <cstring>

#include "kernel/scheduler.h"
#include "pcie/fabric.h"
#include "pcie/root_complex.h"

namespace pciesim::cosim {

uint64_t KernelCpu::access(bool write, uint64_t addr, uint64_t value, unsigned size, bool io) {
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  uint8_t data[8];
  std::memcpy(data, &value, 8);
  const PcieExtension& ext = io ? m_fabric.cpu().io_access(write, static_cast<uint32_t>(addr), data, size, delay)
                                : m_fabric.cpu().access(write, addr, data, size, delay);
  const bool ok = ext.verdict.outcome == Outcome::Delivered;
  if (!ok) ++m_failed;
  if (write) {
    ++m_writes;
    return 0;
  }
  ++m_reads;
  uint64_t v = 0;
  if (ok) std::memcpy(&v, data, size);
  else v = size == 8 ? ~0ull : ((1ull << (8 * size)) - 1);
  // The core waits for the completion (a kernel task only; boot code runs untimed).
  Scheduler* s = nullptr;
  try {
    s = &Scheduler::instance();
  } catch (const std::logic_error&) {
  }
  if (s && s->in_task() && delay > sc_core::SC_ZERO_TIME) s->sleep(delay, "an MMIO read completion");
  return v;
}

uint32_t KernelCpu::port_read(uint16_t port, unsigned size) {
  return static_cast<uint32_t>(access(false, port, 0, size, true));
}
void KernelCpu::port_write(uint16_t port, uint32_t value, unsigned size) { access(true, port, value, size, true); }

uint64_t KernelCpu::read(uint64_t phys, unsigned size) { return access(false, phys, 0, size); }
void KernelCpu::write(uint64_t phys, uint64_t value, unsigned size) { access(true, phys, value, size); }

bool KernelCpu::ecam_address(int segment, RequesterId bdf, uint16_t reg, uint64_t& addr) const {
  const RootComplex* rc = m_fabric.root_complex(segment);
  if (!rc) return false;
  const auto& s = rc->spec();
  if (bdf.bus < s.root_bus) return false;
  const uint64_t off = (uint64_t(bdf.bus - s.root_bus) << 20) + (uint64_t(bdf.devfn) << 12) + reg;
  if (off >= s.ecam.size) return false;  // beyond the ECAM window's buses
  addr = s.ecam.base + off;
  return true;
}

bool KernelCpu::config_read(int segment, RequesterId bdf, uint16_t reg, unsigned size, uint32_t& value) {
  uint64_t addr = 0;
  if (reg >= 4096 || (size != 1 && size != 2 && size != 4) || reg % size || !ecam_address(segment, bdf, reg, addr)) {
    value = 0xffffffffu;
    return false;
  }
  value = static_cast<uint32_t>(read(addr, size));
  return true;
}

bool KernelCpu::config_write(int segment, RequesterId bdf, uint16_t reg, unsigned size, uint32_t value) {
  uint64_t addr = 0;
  if (reg >= 4096 || (size != 1 && size != 2 && size != 4) || reg % size || !ecam_address(segment, bdf, reg, addr))
    return false;
  write(addr, value, size);
  return true;
}

}  // namespace pciesim::cosim
