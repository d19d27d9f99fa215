// Byte-addressed test memory for the register-file and invalidation tests: unbacked bytes fail
// reads (an unreadable queue or table), and writes can be made to fail (a status write that does
// not land).
#pragma once

#include <cstdint>
#include <map>

#include "iommu/vtd_types.h"

namespace pciesim::vtd::test {

class ByteMemory : public MemReader, public MemWriter {
 public:
  std::map<uint64_t, uint8_t> bytes;
  bool fail_writes = false;
  bool read(uint64_t pa, void* dst, unsigned len) const override {
    auto* out = static_cast<uint8_t*>(dst);
    for (unsigned i = 0; i < len; ++i) {
      auto it = bytes.find(pa + i);
      if (it == bytes.end()) return false;
      out[i] = it->second;
    }
    return true;
  }
  bool write(uint64_t pa, const void* src, unsigned len) override {
    if (fail_writes) return false;
    for (unsigned i = 0; i < len; ++i) bytes[pa + i] = static_cast<const uint8_t*>(src)[i];
    return true;
  }
  void zero(uint64_t pa, uint64_t len) {  // backs [pa, pa + len) with zeros
    for (uint64_t i = 0; i < len; ++i) bytes[pa + i] = 0;
  }
  bool backed(uint64_t pa) const { return bytes.count(pa) != 0; }
  uint32_t u32(uint64_t pa) const {
    uint32_t v = 0;
    read(pa, &v, 4);
    return v;
  }
};

}  // namespace pciesim::vtd::test
