// Address Translation Services on the device side (PCIe 6.0 chapter 10): the ATS Extended
// Capability a function that opts in carries (10.5.1), and its Address Translation Cache (ATC), a
// small set-associative cache of translation completions (10.2.3) that Invalidate Requests
// (10.3.1) drop ranges from.
//
// What the endpoint does with them (Endpoint::dma with DmaOptions::ats, endpoint_ats.cpp):
//   ATS Enable clear          the request goes out untranslated, as without ATS;
//   ATC hit                   the request goes out translated (AT = 10b) to the cached address;
//   ATC miss                  a Translation Request (AT = 01b) goes upstream first; its completion
//                             fills the ATC and the request then goes out translated. A completion
//                             with R = W = 0 (or without the right the request needs) is "no
//                             translation": the request goes out untranslated (PCIe 10.2.3), and
//                             the IOMMU decides as for any untranslated request.
// The fabric delivers the remapping units' device-TLB invalidations to invalidate() (ats_wiring.cpp).
#pragma once

#include <cstdint>
#include <functional>

#include "pcie/config_space.h"
#include "pciesim/set_assoc_cache.h"

namespace pciesim {

// PCIe 6.0 10.5.1: the ATS Extended Capability (ID 000Fh, version 1), 8 bytes.
namespace ats {
constexpr uint16_t kCapReg = 0x04;   // ATS Capability Register (16 bits)
constexpr uint16_t kCtrlReg = 0x06;  // ATS Control Register (16 bits)
constexpr uint16_t kSize = 0x08;
// 10.5.1.2 capability: Invalidate Queue Depth 4:0 (0 = 32), Page Aligned Request 5.
constexpr uint16_t kCapQueueDepthMask = 0x1f, kCapPageAligned = 1u << 5;
// 10.5.1.3 control: Smallest Translation Unit 4:0 (2^(STU+12) bytes), Enable 15.
constexpr uint16_t kCtrlStuMask = 0x1f, kCtrlEnable = 1u << 15;
}  // namespace ats

struct AtsParams {
  // 10.5.1.2: how many Invalidate Requests the function can queue; 0 encodes 32 (the most).
  unsigned invalidate_queue_depth = 0;
  // 10.5.1.2: the untranslated address of a Translation Request is always 4 KiB aligned. Linux
  // enables ATS only when it is set (intel-iommu iommu_enable_dev_iotlb -> pci_ats_page_aligned).
  bool page_aligned = true;
};

// Adds the capability (capability register read-only, control register STU and Enable writable,
// reset value 0: ATS disabled). Returns its offset.
uint16_t add_ats_cap(ConfigSpace& cs, const AtsParams& p = {});

// The registers decoded from config space.
struct AtsRegs {
  bool present = false;
  unsigned queue_depth = 0;  // as encoded (0 = 32)
  bool page_aligned = false;
  unsigned stu = 0;          // as encoded: translations cover at least 2^(stu+12) bytes
  bool enabled = false;
};
AtsRegs read_ats(const ConfigSpace& cs, uint16_t ats_off);

// One translation as a completion gave it (PCIe 10.2.3): the untranslated range it covers and
// where it goes.
struct AtcTranslation {
  uint64_t untranslated = 0;  // base of the range (aligned to size)
  uint64_t translated = 0;    // base of the translated range
  uint64_t size = 4096;       // 4 KiB, or larger with S = 1
  bool read = false, write = false;
  uint64_t translate(uint64_t addr) const { return translated + (addr - untranslated); }
  bool allows(bool is_write) const { return is_write ? write : read; }
};

// Decodes a translation completion data entry (PCIe 10.2.3, one 8-byte entry): translated address
// 63:12, S 11 (the range size is marked by the lowest clear address bit above bit 11, as in an
// Invalidate Request), N 10, U 9, R 0, W 1. `untranslated` is the address the request asked for.
AtcTranslation decode_translation_completion(uint64_t untranslated, uint64_t entry);

// An ATC tag: the untranslated page number at the entry's size, and the size as log2.
struct AtcTag {
  uint64_t page = 0;  // untranslated address >> size_log2
  uint8_t size_log2 = 0;
  bool operator==(const AtcTag& o) const { return page == o.page && size_log2 == o.size_log2; }
};
struct AtcTagHash {
  size_t operator()(const AtcTag& t) const noexcept { return static_cast<size_t>(t.page ^ (uint64_t{t.size_log2} << 58)); }
};

// The ATC. Tags are (page number at the entry's size, size as log2); a lookup probes the sizes
// cached at the time (usually one). Hits and misses are counted by the cache template.
class AddressTranslationCache {
 public:
  // PCIe leaves the ATC's organisation to the device (10.1.1, "implementation specific"); the
  // default is a small cache: 64 entries, 4 ways, LRU.
  static CacheConfig default_config() { return CacheConfig{64, 4, ReplacementPolicy::Lru}; }
  explicit AddressTranslationCache(const CacheConfig& config = default_config());

  // The translation covering `addr`, or nullptr (counts a hit or a miss).
  const AtcTranslation* lookup(uint64_t addr);
  const AtcTranslation* peek(uint64_t addr) const;
  void fill(const AtcTranslation& t);
  // Drops every entry overlapping [base, base + size); size 0 = everything (PCIe 10.3.8 lets an
  // Invalidate Request name the whole space). Returns how many were dropped.
  size_t invalidate(uint64_t base, uint64_t size);
  void flush();

  size_t occupancy() const { return m_cache.occupancy(); }
  const CacheStats& stats() const { return m_cache.stats(); }

 private:
  using Tag = AtcTag;
  SetAssocCache<AtcTag, AtcTranslation, AtcTagHash> m_cache;
  uint64_t m_sizes = 0;  // bit n: some entry of 2^n bytes may be cached
};

// A function's ATS: its capability and ATC. Watches the control register: clearing Enable (or a
// reset, which clears it) empties the ATC, so no translation survives into the next enable.
class AtsFunction {
 public:
  AtsFunction(ConfigSpace& cs, uint16_t cap_offset, const CacheConfig& atc = AddressTranslationCache::default_config());

  uint16_t cap_offset() const { return m_off; }
  AtsRegs regs() const { return read_ats(m_cs, m_off); }
  bool enabled() const { return m_cs.read16(static_cast<uint16_t>(m_off + ats::kCtrlReg)) & ats::kCtrlEnable; }
  AddressTranslationCache& atc() { return m_atc; }
  const AddressTranslationCache& atc() const { return m_atc; }

  // A config write (or reset) reached the function: re-reads Enable.
  void config_written();
  // An Invalidate Request for [base, base + size) (size 0: all). A function with ATS disabled
  // does not answer (false): the requester's invalidation times out. Otherwise the range is
  // dropped and an Invalidate Completion returned (true). A request with a PASID prefix (`pasid`)
  // names translations of that PASID only (PCIe 10.3.1); the ATC holds none, so nothing is dropped.
  bool invalidate(uint64_t base, uint64_t size, bool pasid = false);

  uint64_t invalidate_requests() const { return m_requests; }
  uint64_t invalidate_completions() const { return m_completions; }
  uint64_t translation_requests() const { return m_translation_requests; }
  void count_translation_request() { ++m_translation_requests; }

 private:
  ConfigSpace& m_cs;
  uint16_t m_off;
  AddressTranslationCache m_atc;
  bool m_was_enabled = false;
  uint64_t m_requests = 0, m_completions = 0, m_translation_requests = 0;
};

}  // namespace pciesim
