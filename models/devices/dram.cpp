#include "devices/dram.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <sys/mman.h>

#include "pciesim/tlp.h"

namespace pciesim {

Dram::Chunk Dram::allocate_chunk() {
  // Map twice the size and keep the aligned middle: mmap only promises page alignment.
  const size_t span = 2 * kPageSize;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto base = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (base + kPageSize - 1) & ~uintptr_t(kPageSize - 1);
  if (aligned > base) munmap(raw, aligned - base);
  if (base + span > aligned + kPageSize) munmap(reinterpret_cast<void*>(aligned + kPageSize), base + span - aligned - kPageSize);
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void*>(aligned), kPageSize, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
  return Chunk(reinterpret_cast<uint8_t*>(aligned));
}

void Dram::ChunkDeleter::operator()(uint8_t* p) const {
  if (p) munmap(p, kPageSize);
}

Dram::Dram(sc_core::sc_module_name name, uint64_t base, uint64_t size, sc_core::sc_time latency)
    : sc_module(name), socket("socket"), m_base(base), m_size(size), m_latency(latency) {
  socket.register_b_transport(this, &Dram::b_transport);
  socket.register_transport_dbg(this, &Dram::transport_dbg);
  socket.register_get_direct_mem_ptr(this, &Dram::get_direct_mem_ptr);
}

uint8_t* Dram::find_page(uint64_t key) const {
  if (key == m_read_key) return m_read_page;
  if (key == m_last_key) return m_last_page;
  auto it = m_pages.find(key);
  if (it == m_pages.end()) return nullptr;
  m_read_key = key;
  m_read_page = it->second.get();
  return m_read_page;
}

uint8_t* Dram::page(uint64_t offset, bool allocate) {
  const uint64_t key = offset / kPageSize;
  if (key == m_last_key) return m_last_page;
  if (auto it = m_pages.find(key); it != m_pages.end()) {
    m_last_key = key;
    m_last_page = it->second.get();
    return m_last_page;
  }
  if (!allocate) return nullptr;
  Chunk mem = allocate_chunk();  // anonymous memory: zero
  uint8_t* p = mem.get();
  m_pages.emplace(key, std::move(mem));
  m_last_key = key;
  m_last_page = p;
  return p;
}

bool Dram::read(uint64_t addr, void* dst, uint64_t len) const {
  if (!in_range(addr, len)) return false;
  auto* out = static_cast<uint8_t*>(dst);
  uint64_t off = addr - m_base;
  while (len) {
    uint64_t in_page = std::min<uint64_t>(len, kPageSize - off % kPageSize);
    const uint8_t* p = find_page(off / kPageSize);
    if (!p) std::memset(out, 0, in_page);
    else std::memcpy(out, p + off % kPageSize, in_page);
    out += in_page; off += in_page; len -= in_page;
  }
  return true;
}

bool Dram::write(uint64_t addr, const void* src, uint64_t len) {
  if (!in_range(addr, len)) return false;
  auto* in = static_cast<const uint8_t*>(src);
  uint64_t off = addr - m_base;
  while (len) {
    uint64_t in_page = std::min<uint64_t>(len, kPageSize - off % kPageSize);
    std::memcpy(page(off, true) + off % kPageSize, in, in_page);
    in += in_page; off += in_page; len -= in_page;
  }
  return true;
}

void Dram::b_transport(tlm::tlm_generic_payload& gp, sc_core::sc_time& delay) {
  uint64_t addr = gp.get_address();
  unsigned len = gp.get_data_length();
  auto* ext = gp.get_extension<PcieExtension>();
  if (!in_range(addr, len) || gp.get_byte_enable_ptr()) {
    gp.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    if (ext) ext->fail(Outcome::UnsupportedRequest, kNoHop);
    return;
  }
  bool ok = true;
  if (gp.is_read()) { ok = read(addr, gp.get_data_ptr(), len); ++m_reads; }
  else if (gp.is_write()) { ok = write(addr, gp.get_data_ptr(), len); ++m_writes; }
  delay += m_latency;
  gp.set_dmi_allowed(true);
  gp.set_response_status(ok ? tlm::TLM_OK_RESPONSE : tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

unsigned Dram::transport_dbg(tlm::tlm_generic_payload& gp) {
  uint64_t addr = gp.get_address();
  unsigned len = gp.get_data_length();
  if (!in_range(addr, len)) return 0;
  bool ok = gp.is_read() ? read(addr, gp.get_data_ptr(), len)
                         : gp.is_write() ? write(addr, gp.get_data_ptr(), len) : false;
  return ok ? len : 0;
}

bool Dram::get_direct_mem_ptr(tlm::tlm_generic_payload& gp, tlm::tlm_dmi& dmi) {
  uint64_t addr = gp.get_address();
  if (!in_range(addr, 1)) return false;
  uint64_t off = addr - m_base;
  uint64_t chunk = off / kPageSize * kPageSize;
  dmi.set_dmi_ptr(page(off, true));
  dmi.set_start_address(m_base + chunk);
  dmi.set_end_address(m_base + std::min(chunk + kPageSize, m_size) - 1);
  dmi.allow_read_write();
  dmi.set_read_latency(m_latency);
  dmi.set_write_latency(m_latency);
  return true;
}

}  // namespace pciesim
