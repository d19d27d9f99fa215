// The MSI-X table and Pending Bit Array of one function (PCI 3.0 6.8.2): real registers in the BARs
// the MSI-X capability names, reached by memory requests to those BARs. The endpoint routes a BAR
// access here before the device model's bar_access() sees it, so every model has them.
//
// Declared like config space: table entries as bytes with a writable mask (Message Address bits
// 1:0 and Vector Control bits 31:1 read 0), the PBA read-only; the function sets and clears
// pending bits. Plain C++, no SystemC.
#pragma once

#include <cstdint>
#include <vector>

#include "pcie/config_space.h"

namespace pciesim {

// PCI 3.0 6.8.2.6-6.8.2.9: one table entry.
struct MsixEntry {
  uint64_t address = 0;
  uint32_t data = 0;
  bool masked = true;  // Vector Control bit 0; 1 after reset
};

class MsixTable {
 public:
  // Reads the table size and where the table and PBA live from the MSI-X capability at
  // `cap_offset` (Message Control, Table Offset/BIR, PBA Offset/BIR; all read-only).
  MsixTable(const ConfigSpace& cs, uint16_t cap_offset);

  unsigned size() const { return m_size; }
  int table_bar() const { return m_table_bar; }
  uint64_t table_offset() const { return m_table_offset; }
  int pba_bar() const { return m_pba_bar; }
  uint64_t pba_offset() const { return m_pba_offset; }

  // True when a memory request at `offset` of BAR `bar` starts inside the table or the PBA.
  bool claims(int bar, uint64_t offset) const { return in_table(bar, offset) || in_pba(bar, offset); }
  // A memory read or write of `len` bytes at `offset` of BAR `bar` (claims() is true). PCI 3.0
  // 6.8.2 leaves anything but aligned DWORD/QWORD accesses undefined; this model handles any
  // size byte by byte and reads beyond the structure as 0. Returns true when a write reached a
  // Mask bit (the caller then sends what became unmasked and is pending).
  bool access(int bar, uint64_t offset, bool write, uint8_t* data, unsigned len);

  MsixEntry entry(unsigned vector) const;
  bool pending(unsigned vector) const { return vector < m_size && ((m_pba[vector / 64] >> (vector % 64)) & 1u); }
  void set_pending(unsigned vector, bool on);
  bool any_pending() const;

  // PCI 3.0 6.8.2.9: every vector masked, addresses and data 0, nothing pending.
  void reset();

 private:
  bool in_table(int bar, uint64_t offset) const {
    return bar == m_table_bar && offset >= m_table_offset && offset - m_table_offset < m_table.size();
  }
  bool in_pba(int bar, uint64_t offset) const {
    return bar == m_pba_bar && offset >= m_pba_offset && offset - m_pba_offset < 8 * m_pba.size();
  }
  uint32_t read32(unsigned byte_offset) const;

  unsigned m_size = 0;
  int m_table_bar = -1, m_pba_bar = -1;
  uint64_t m_table_offset = 0, m_pba_offset = 0;
  std::vector<uint8_t> m_table;  // size x 16 bytes
  std::vector<uint64_t> m_pba;   // one bit per vector, in QWORDs
};

}  // namespace pciesim
