// The remapping unit's view of DRAM for its own table reads and status writes: untimed accessors
// over the DRAM model (the unit charges the DRAM latency per read itself), counting reads.
// Kernel memory is DRAM (ARCHITECTURE.md): tables written by the kernel layer land here.
#pragma once

#include "devices/dram.h"
#include "iommu/vtd_types.h"

namespace pciesim::vtd {

class DramMemory : public MemReader, public MemWriter {
 public:
  explicit DramMemory(Dram& dram) : m_dram(dram) {}
  bool read(uint64_t pa, void* dst, unsigned len) const override {
    ++m_reads;
    return m_dram.read(pa, dst, len);
  }
  bool write(uint64_t pa, const void* src, unsigned len) override { return m_dram.write(pa, src, len); }
  uint64_t reads() const { return m_reads; }

 private:
  Dram& m_dram;
  mutable uint64_t m_reads = 0;
};

}  // namespace pciesim::vtd
