// What a kernel driver does with a remapping unit, for tests, benchmarks and the CLI until the
// co-simulated intel-iommu driver exists: tables written straight into the simulated DRAM
// (kernel memory is DRAM), registers programmed through CPU MMIO transactions with Linux's
// GCMD shadow and status handshake.
#pragma once

#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "devices/dram.h"
#include "iommu/dram_memory.h"
#include "iommu/interrupt_remap.h"
#include "iommu/remapping_unit.h"
#include "iommu/table_builder.h"
#include "iommu/vtd_regs.h"
#include "pcie/fabric.h"
#include "pciesim/tlp.h"

namespace pciesim::vtd {

class VtdProgrammer {
 public:
  // Kernel memory for tables at [base, base + size) of DRAM.
  // Tables in legacy or scalable mode (RTADDR.TTM), in kernel memory [base, base + size).
  VtdProgrammer(Fabric& f, const std::string& unit, uint64_t base = 0x20000000, uint64_t size = 0x1000000,
                vtd::TableMode mode = vtd::TableMode::Legacy)
      : m_f(f), m_unit(*f.iommu(unit)), m_mem(f.dram()), m_pages(base, size), m_tables(m_mem, m_mem, m_pages),
        m_root(m_tables, mode), m_mode(mode) {}

  uint64_t read(uint32_t off, unsigned size = 4) {
    uint64_t v = 0;
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    m_f.cpu().access(false, m_unit.register_base() + off, reinterpret_cast<uint8_t*>(&v), size, d);
    return v;
  }
  void write(uint32_t off, uint64_t v, unsigned size = 4) {
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    m_f.cpu().access(true, m_unit.register_base() + off, reinterpret_cast<uint8_t*>(&v), size, d);
  }
  // Linux's iommu->gcmd shadow: one command bit per write, then the status handshake.
  void command(uint32_t bit, bool on) {
    m_gcmd = on ? (m_gcmd | bit) : (m_gcmd & ~bit);
    write(vtd::reg::kGcmd, (bit == vtd::gcmd::kSrtp || bit == vtd::gcmd::kSirtp) ? (m_gcmd | bit) : m_gcmd);
    const bool want = on || bit == vtd::gcmd::kSrtp || bit == vtd::gcmd::kSirtp;
    if (((read(vtd::reg::kGsts) & bit) != 0) != want)
      throw std::runtime_error("VT-d unit did not acknowledge GCMD bit " + std::to_string(bit));
  }
  void set_root_table() {
    write(vtd::reg::kRtaddr, m_root.rtaddr(), 8);
    command(vtd::gcmd::kSrtp, true);
  }
  void enable_translation() { command(vtd::gcmd::kTe, true); }

  // A second-level domain of `levels` levels, attached to `source` with domain id `did`.
  vtd::SecondLevelBuilder& attach(RequesterId source, uint16_t did, unsigned tt = 0, int levels = 4) {
    auto it = m_domains.find(did);
    if (it == m_domains.end())
      it = m_domains.emplace(did, std::make_unique<vtd::SecondLevelBuilder>(m_tables, levels)).first;
    m_root.set_context(source, vtd::legacy_context(it->second->root(), static_cast<unsigned>(levels - 2), did, tt));
    return *it->second;
  }

  // Scalable mode: a PASID table for `source` whose entry `pasid` (RID_PASID 0 for requests
  // without PASID) points at a second-level domain `did` (PGTT 2).
  vtd::SecondLevelBuilder& attach_scalable(RequesterId source, uint16_t did, uint32_t pasid = 0,
                                           bool pasid_enable = true, int levels = 4) {
    auto it = m_domains.find(did);
    if (it == m_domains.end())
      it = m_domains.emplace(did, std::make_unique<vtd::SecondLevelBuilder>(m_tables, levels)).first;
    auto& pt = m_pasid_tables[source.raw()];
    if (!pt) pt = std::make_unique<vtd::PasidTableBuilder>(m_tables, 2);
    pt->set(pasid, vtd::second_level_pasid(it->second->root(), static_cast<unsigned>(levels - 2), did));
    m_root.set_context(source, vtd::scalable_context(pt->directory(), pt->pdts(), 0, pasid_enable));
    return *it->second;
  }

  // Queued invalidation in one 4 KiB page: 128-bit descriptors, 256-bit in scalable mode (VT-d 6.5.2).
  void enable_queue() {
    m_queue = m_pages.alloc(1);
    write(vtd::reg::kIqa, m_queue | (wide() ? vtd::field::kIqaDw : 0), 8);
    command(vtd::gcmd::kQie, true);
  }
  void submit(uint64_t qw0, uint64_t qw1) {
    const unsigned size = wide() ? 32 : 16;
    uint64_t d[4] = {qw0, qw1, 0, 0};
    m_mem.write(m_queue + size * m_tail, d, size);
    m_tail = (m_tail + 1) % (4096 / size);
    write(vtd::reg::kIqt, uint64_t{m_tail} * size, 8);
  }
  bool wide() const { return m_mode == vtd::TableMode::Scalable; }
  // VT-d 6.5.2.3 IOTLB invalidate descriptor: page-selective (G=3) of 2^am pages at addr in `did`.
  void invalidate_page(uint16_t did, uint64_t addr, unsigned am = 0) {
    submit(0x2 | (3u << 4) | (uint64_t{did} << 16), (addr & ~0xfffull) | am);
  }
  void invalidate_context_global() { submit(0x1 | (1u << 4), 0); }

  // Interrupt remapping table of 256 entries.
  void enable_interrupt_remapping(bool allow_compatibility = false) {
    m_irt = m_pages.alloc(1);
    write(vtd::reg::kIrta, m_irt | 7 /* S=7: 256 entries */, 8);
    command(vtd::gcmd::kSirtp, true);
    if (allow_compatibility) command(vtd::gcmd::kCfi, true);
    command(vtd::gcmd::kIre, true);
  }
  void set_irte(unsigned index, const vtd::CachedIrte& e) {
    uint64_t d[2] = {e.lo, e.hi};
    m_mem.write(m_irt + 16 * index, d, 16);
  }

  vtd::DramMemory& memory() { return m_mem; }
  vtd::RemappingUnit& unit() { return m_unit; }

 private:
  Fabric& m_f;
  vtd::RemappingUnit& m_unit;
  vtd::DramMemory m_mem;
  vtd::PageAllocator m_pages;
  vtd::TableMemory m_tables;
  vtd::RootTableBuilder m_root;
  vtd::TableMode m_mode;
  std::map<uint16_t, std::unique_ptr<vtd::SecondLevelBuilder>> m_domains;
  std::map<uint16_t, std::unique_ptr<vtd::PasidTableBuilder>> m_pasid_tables;
  uint32_t m_gcmd = 0;
  uint64_t m_queue = 0, m_irt = 0;
  unsigned m_tail = 0;
};

}  // namespace pciesim::vtd
