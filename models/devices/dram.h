// DRAM as a TLM-2.0 target: sparse backing (pages are allocated on first write, reads of
// untouched memory return zero), DMI for fast paths, and a fixed access latency.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>
#include <unordered_map>

namespace pciesim {

class Dram : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<Dram> socket;

  // Idle DRAM latency: Skylake-SP 96-98 ns, Broadwell-EP 89-91 ns (AnandTech Skylake-SP vs EPYC
  // review p.13, LMBench 384-512 MB) -> performance-facts G.
  static constexpr double kDefaultLatencyNs = 90.0;

  Dram(sc_core::sc_module_name name, uint64_t base, uint64_t size,
       sc_core::sc_time latency = sc_core::sc_time(kDefaultLatencyNs, sc_core::SC_NS));

  uint64_t base() const { return m_base; }
  uint64_t size() const { return m_size; }
  sc_core::sc_time latency() const { return m_latency; }
  void set_latency(sc_core::sc_time t) { m_latency = t; }

  // Untimed access for the kernel layer and tests (a CPU store is not a PCIe transaction).
  // Both return false when [addr, addr+len) is not inside this DRAM.
  bool read(uint64_t addr, void* dst, uint64_t len) const;
  bool write(uint64_t addr, const void* src, uint64_t len);

  // What b_transport does to an access already known to be in range and without byte enables
  // (data and counters; the caller adds latency()): the route cache's direct path to memory
  // (models/pcie/route_cache.h), DMI-like. Hits on the last page touched are a compare and a copy.
  void direct_access(bool is_write, uint64_t addr, uint8_t* data, unsigned len) {
    const uint64_t off = addr - m_base;
    const uint64_t key = off / kPageSize;
    if (is_write ? (m_last_page && key == m_last_key) : (m_read_page && key == m_read_key)) {
      if ((off + len - 1) / kPageSize == key) {
        uint8_t* p = (is_write ? m_last_page : m_read_page) + off % kPageSize;
        if (is_write) std::memcpy(p, data, len);
        else std::memcpy(data, p, len);
        ++(is_write ? m_writes : m_reads);
        return;
      }
    }
    if (is_write) {
      write(addr, data, len);
    } else {
      read(addr, data, len);
    }
    ++(is_write ? m_writes : m_reads);
  }

  // The host memory behind simulated address `addr` (its 2 MiB chunk is allocated if needed), or
  // nullptr outside this DRAM. Valid for the DRAM's lifetime and contiguous to the end of the chunk
  // (kPageSize - addr % kPageSize bytes): the cosim kernel's memory is simulated DRAM it can
  // also address directly (ARCHITECTURE.md, "Kernel memory is DRAM").
  uint8_t* backing(uint64_t addr) {
    if (!in_range(addr, 1)) return nullptr;
    const uint64_t off = addr - m_base;
    return page(off, true) + off % kPageSize;
  }

  // Pages that hold data (for memory accounting).
  size_t resident_pages() const { return m_pages.size(); }
  static constexpr uint64_t kPageSize = 1ull << 21;  // 2 MiB backing chunks: DMI spans a chunk

  // Counters (statistics for reports)
  uint64_t reads() const { return m_reads; }
  uint64_t writes() const { return m_writes; }

 private:
  void b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay);
  unsigned transport_dbg(tlm::tlm_generic_payload& gp);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi);
  uint8_t* page(uint64_t offset, bool allocate);
  uint8_t* find_page(uint64_t key) const;  // for reads; nullptr when never written
  bool in_range(uint64_t addr, uint64_t len) const {
    return addr >= m_base && len <= m_size && addr - m_base <= m_size - len;
  }

  uint64_t m_base, m_size;
  sc_core::sc_time m_latency;
  // Backing chunks come from mmap, 2 MiB aligned and advised as transparent huge pages: a DMA
  // stream or a page walk over a large working set then costs the host one TLB entry per chunk
  // instead of 512 (the reason QEMU backs guest RAM the same way). Zero on first touch.
  struct ChunkDeleter {
    void operator()(uint8_t* p) const;
  };
  using Chunk = std::unique_ptr<uint8_t[], ChunkDeleter>;
  static Chunk allocate_chunk();
  mutable std::unordered_map<uint64_t, Chunk> m_pages;
  // The last page written and the last page read (pages are never freed, so the pointers stay
  // valid): DMA streams through a page before moving on. Reads and writes keep one each, so a
  // remapping unit reading its tables between DMA writes does not evict the data page. Only
  // pages that exist are remembered: a read of an unallocated page always asks the map.
  mutable uint64_t m_last_key = ~uint64_t{0};
  mutable uint8_t* m_last_page = nullptr;
  mutable uint64_t m_read_key = ~uint64_t{0};
  mutable uint8_t* m_read_page = nullptr;
  uint64_t m_reads = 0, m_writes = 0;
};

}  // namespace pciesim
