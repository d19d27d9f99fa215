#include "pcie/msix_table.h"

#include <algorithm>

#include "pcie/pcie_regs.h"

namespace pciesim {

using namespace regs;

namespace {
// PCI 3.0 6.8.2.6-6.8.2.9: entry layout and the bits software can write.
constexpr unsigned kEntryAddrLo = 0x0, kEntryAddrHi = 0x4, kEntryData = 0x8, kEntryControl = 0xc;
constexpr uint32_t kAddrLoWritable = ~3u;          // DWORD aligned
constexpr uint32_t kControlMask = 1u << 0;         // Vector Control: Mask bit; 31:1 reserved
constexpr uint8_t kWritable[16] = {
    0xfc, 0xff, 0xff, 0xff,  // Message Address
    0xff, 0xff, 0xff, 0xff,  // Message Upper Address
    0xff, 0xff, 0xff, 0xff,  // Message Data
    0x01, 0x00, 0x00, 0x00,  // Vector Control
};
static_assert(kAddrLoWritable == 0xfffffffcu && kControlMask == 1u, "kWritable spells these out");
}  // namespace

MsixTable::MsixTable(const ConfigSpace& cs, uint16_t cap) {
  m_size = (cs.read16(static_cast<uint16_t>(cap + kMsixFlags)) & kMsixTableSizeMask) + 1u;
  const uint32_t table = cs.read32(static_cast<uint16_t>(cap + kMsixTable));
  const uint32_t pba = cs.read32(static_cast<uint16_t>(cap + kMsixPba));
  m_table_bar = static_cast<int>(table & kMsixBirMask);
  m_table_offset = table & ~kMsixBirMask;
  m_pba_bar = static_cast<int>(pba & kMsixBirMask);
  m_pba_offset = pba & ~kMsixBirMask;
  m_table.assign(size_t{m_size} * kMsixEntrySize, 0);
  m_pba.assign((m_size + 63) / 64, 0);
  reset();
}

void MsixTable::reset() {
  std::fill(m_table.begin(), m_table.end(), uint8_t{0});
  for (unsigned v = 0; v < m_size; ++v) m_table[v * kMsixEntrySize + kEntryControl] = kControlMask;
  std::fill(m_pba.begin(), m_pba.end(), uint64_t{0});
}

uint32_t MsixTable::read32(unsigned o) const {
  return uint32_t{m_table[o]} | uint32_t{m_table[o + 1]} << 8 | uint32_t{m_table[o + 2]} << 16 |
         uint32_t{m_table[o + 3]} << 24;
}

MsixEntry MsixTable::entry(unsigned vector) const {
  MsixEntry e;
  if (vector >= m_size) return e;
  const unsigned o = vector * kMsixEntrySize;
  e.address = uint64_t{read32(o + kEntryAddrLo)} | uint64_t{read32(o + kEntryAddrHi)} << 32;
  e.data = read32(o + kEntryData);
  e.masked = read32(o + kEntryControl) & kControlMask;
  return e;
}

void MsixTable::set_pending(unsigned vector, bool on) {
  if (vector >= m_size) return;
  const uint64_t bit = uint64_t{1} << (vector % 64);
  m_pba[vector / 64] = on ? (m_pba[vector / 64] | bit) : (m_pba[vector / 64] & ~bit);
}

bool MsixTable::any_pending() const {
  for (uint64_t q : m_pba)
    if (q) return true;
  return false;
}

bool MsixTable::access(int bar, uint64_t offset, bool write, uint8_t* data, unsigned len) {
  bool mask_written = false;
  for (unsigned i = 0; i < len; ++i) {
    const uint64_t o = offset + i;
    if (in_table(bar, o)) {
      const uint64_t t = o - m_table_offset;
      const uint8_t wm = kWritable[t % kMsixEntrySize];
      if (!write) {
        data[i] = m_table[t];
      } else if (wm) {
        m_table[t] = static_cast<uint8_t>((m_table[t] & ~wm) | (data[i] & wm));
        mask_written |= t % kMsixEntrySize == kEntryControl;
      }
    } else if (in_pba(bar, o)) {
      const uint64_t p = o - m_pba_offset;
      if (!write) data[i] = static_cast<uint8_t>(m_pba[p / 8] >> (8 * (p % 8)));  // PCI 3.0 6.8.2.10: RO
    } else if (!write) {
      data[i] = 0;  // past the end of the structure the access started in
    }
  }
  return mask_written;
}

}  // namespace pciesim
