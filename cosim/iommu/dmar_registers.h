// The intel-iommu driver's view of one remapping unit's register window: 4- and 8-byte CPU MMIO
// loads and stores (each a TLM transaction from the fabric's CPU, timed as KernelCpu times them), and the global command
// register with Linux's `iommu->gcmd` shadow and the GSTS handshake (VT-d 10.4.4 / 10.4.5;
// hardware-facts 1.4). Nothing here touches the unit's C++ state.
#pragma once

#include <cstdint>

#include "kernel/kernel_cpu.h"

namespace pciesim {
class Fabric;
}

namespace pciesim::cosim {

class DmarRegisters {
 public:
  DmarRegisters(Fabric& fabric, uint64_t register_base) : m_cpu(fabric), m_base(register_base) {}

  uint32_t read32(uint32_t offset);
  uint64_t read64(uint32_t offset);
  void write32(uint32_t offset, uint32_t value);
  void write64(uint32_t offset, uint64_t value);

  // A persistent enable (TE, QIE, IRE, CFI, EAFL): updates the shadow, writes it, and polls GSTS
  // until the status bit follows (Linux IOMMU_WAIT_OP). False if the unit never acknowledged.
  bool set_enable(uint32_t bit, bool on);
  // A one-shot latch (SRTP -> RTPS, SIRTP -> IRTPS): shadow | bit, then wait for the status bit.
  bool latch(uint32_t bit);
  uint32_t gcmd_shadow() const { return m_gcmd; }
  uint64_t base() const { return m_base; }

  // GSTS polls before giving up. The model acknowledges at once; real hardware within
  // DMAR_OPERATION_TIMEOUT (Linux: 1 s).
  static constexpr unsigned kPollLimit = 1000;

 private:
  bool wait_status(uint32_t bit, bool set);

  KernelCpu m_cpu;
  uint64_t m_base;
  uint32_t m_gcmd = 0;  // Linux iommu->gcmd: TE, QIE, IRE, CFI, EAFL as last written
};

}  // namespace pciesim::cosim
