#include "pcie/config_space.h"

#include <stdexcept>

namespace pciesim {

ConfigSpace::ConfigSpace(bool extended)
    : m_logical_size(extended ? cfg::kExtendedSize : cfg::kConventionalSize) {
  ensure(0x40);  // the header is always there
}

void ConfigSpace::ensure(size_t end) {
  if (end > m_logical_size) throw std::out_of_range("config register beyond the end of config space");
  if (end <= m_data.size()) return;
  // grow in 64-byte steps so a capability list built piece by piece reallocates rarely
  size_t n = (end + 63) & ~size_t{63};
  if (n > m_logical_size) n = m_logical_size;
  m_data.resize(n, 0);
  m_wmask.resize(n, 0);
  m_w1c.resize(n, 0);
  m_reset.resize(n, 0);
}

void ConfigSpace::define(uint16_t offset, unsigned size, uint64_t reset, uint64_t wmask, uint64_t w1c) {
  ensure(size_t{offset} + size);
  for (unsigned i = 0; i < size; ++i) {
    m_data[offset + i] = m_reset[offset + i] = static_cast<uint8_t>(reset >> (8 * i));
    m_wmask[offset + i] = static_cast<uint8_t>(wmask >> (8 * i));
    m_w1c[offset + i] = static_cast<uint8_t>(w1c >> (8 * i));
  }
}

void ConfigSpace::set(uint16_t offset, unsigned size, uint64_t value) {
  ensure(size_t{offset} + size);
  for (unsigned i = 0; i < size; ++i) m_data[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

void ConfigSpace::set_reset(uint16_t offset, unsigned size, uint64_t value) {
  ensure(size_t{offset} + size);
  for (unsigned i = 0; i < size; ++i)
    m_data[offset + i] = m_reset[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

uint32_t ConfigSpace::read(uint16_t offset, unsigned size) const {
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) {
    size_t o = size_t{offset} + i;
    if (o >= m_logical_size) break;
    uint8_t b = o < m_data.size() ? m_data[o] : 0;
    v |= uint32_t{b} << (8 * i);
  }
  return v;
}

void ConfigSpace::write(uint16_t offset, unsigned size, uint32_t value) {
  bool touched = false;
  for (unsigned i = 0; i < size; ++i) {
    size_t o = size_t{offset} + i;
    if (o >= m_data.size()) break;
    uint8_t in = static_cast<uint8_t>(value >> (8 * i));
    uint8_t wm = m_wmask[o], w1c = m_w1c[o];
    if (!(wm | w1c)) continue;
    uint8_t b = m_data[o];
    b = static_cast<uint8_t>((b & ~wm) | (in & wm));
    b = static_cast<uint8_t>(b & ~(in & w1c));
    m_data[o] = b;
    touched = true;
  }
  if (touched && m_hook) m_hook(offset, size);
}

void ConfigSpace::reset() {
  m_data = m_reset;
  if (m_hook) m_hook(0, m_logical_size);
}

uint16_t ConfigSpace::add_capability(uint8_t id, unsigned length) {
  uint16_t off = static_cast<uint16_t>((m_next_cap + 3) & ~3u);
  if (off + length > cfg::kConventionalSize) throw std::length_error("classic capabilities exceed 256 bytes");
  define(off, 1, id);
  define(static_cast<uint16_t>(off + 1), 1, 0);
  if (m_last_cap) set_reset(static_cast<uint16_t>(m_last_cap + 1), 1, off);
  else set_reset(cfg::kCapPtr, 1, off);
  uint16_t status = read16(cfg::kStatus);
  set_reset(cfg::kStatus, 2, status | cfg::kStatusCapList);
  m_last_cap = off;
  m_next_cap = static_cast<uint16_t>(off + length);
  return off;
}

uint16_t ConfigSpace::add_ext_capability(uint16_t id, uint8_t version, unsigned length) {
  if (!extended()) throw std::logic_error("extended capability on a conventional function");
  uint16_t off = static_cast<uint16_t>((m_next_ext + 3) & ~3u);
  if (off + length > cfg::kExtendedSize) throw std::length_error("extended capabilities exceed 4 KiB");
  define(off, 4, uint32_t{id} | (uint32_t{version & 0xfu} << 16));
  if (m_last_ext) {
    uint32_t hdr = read32(m_last_ext);
    set_reset(m_last_ext, 4, (hdr & 0x000fffffu) | (uint32_t{off} << 20));
  }
  m_last_ext = off;
  m_next_ext = static_cast<uint16_t>(off + length);
  return off;
}

uint16_t ConfigSpace::find_capability(uint8_t id) const {
  if (!(read16(cfg::kStatus) & cfg::kStatusCapList)) return 0;
  uint16_t p = read(cfg::kCapPtr, 1) & 0xfc;
  for (int guard = 0; p >= 0x40 && guard < 48; ++guard) {  // at most 48 capabilities fit in 192 B
    if (read(p, 1) == id) return p;
    p = read(static_cast<uint16_t>(p + 1), 1) & 0xfc;
  }
  return 0;
}

uint16_t ConfigSpace::find_ext_capability(uint16_t id) const {
  if (!extended()) return 0;
  uint16_t p = cfg::kExtCapStart;
  for (int guard = 0; p >= cfg::kExtCapStart && guard < 960; ++guard) {  // (4096-256)/4 headers
    uint32_t hdr = read32(p);
    if (hdr == 0 || hdr == 0xffffffffu) return 0;
    if ((hdr & 0xffff) == id) return p;
    p = static_cast<uint16_t>((hdr >> 20) & 0xffc);
  }
  return 0;
}

}  // namespace pciesim
