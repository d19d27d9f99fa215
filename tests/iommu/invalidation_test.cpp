// Register-based invalidation (CCMD, IVA/IOTLB) and the invalidation queue (VT-d 6.5; hardware-facts
// 1.6, 1.7, 1.9, 1.14). Descriptors are encoded here with their own bit arithmetic, the way the Linux
// QI_* macros build them, so the decoder is checked against an independent encoding.
#include "iommu/invalidation.h"

#include <gtest/gtest.h>

#include "byte_memory.h"

#include <array>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "iommu/fault_recorder.h"
#include "iommu/vtd_regs.h"

using namespace pciesim::vtd;

namespace {

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}
std::string dec(uint64_t v) { return std::to_string(v); }

// The fake cache side: records every call with its arguments.
class RecordingTarget : public InvalidationTarget {
 public:
  std::vector<std::string> calls;
  void invalidate_context_global() override { calls.push_back("cc_global"); }
  void invalidate_context_domain(uint16_t did) override { calls.push_back("cc_domain " + dec(did)); }
  void invalidate_context_device(uint16_t did, uint16_t sid, unsigned fm) override {
    calls.push_back("cc_device " + dec(did) + " " + hex(sid) + " " + dec(fm));
  }
  void invalidate_iotlb_global() override { calls.push_back("iotlb_global"); }
  void invalidate_iotlb_domain(uint16_t did) override { calls.push_back("iotlb_domain " + dec(did)); }
  void invalidate_iotlb_page(uint16_t did, uint64_t addr, unsigned am, bool ih) override {
    calls.push_back("iotlb_page " + dec(did) + " " + hex(addr) + " " + dec(am) + " " + dec(ih));
  }
  void invalidate_pasid_cache_domain(uint16_t did) override { calls.push_back("pc_domain " + dec(did)); }
  void invalidate_pasid_cache_pasid(uint16_t did, uint32_t pasid) override {
    calls.push_back("pc_pasid " + dec(did) + " " + dec(pasid));
  }
  void invalidate_pasid_cache_global() override { calls.push_back("pc_global"); }
  void invalidate_piotlb_pasid(uint16_t did, uint32_t pasid) override {
    calls.push_back("piotlb_pasid " + dec(did) + " " + dec(pasid));
  }
  void invalidate_piotlb_page(uint16_t did, uint32_t pasid, uint64_t addr, unsigned am, bool ih) override {
    calls.push_back("piotlb_page " + dec(did) + " " + dec(pasid) + " " + hex(addr) + " " + dec(am) + " " + dec(ih));
  }
  void invalidate_device_tlb(uint16_t sid, bool has_pasid, uint32_t pasid, uint64_t addr, bool s) override {
    calls.push_back("devtlb " + hex(sid) + " " + dec(has_pasid) + " " + hex(pasid) + " " + hex(addr) + " " + dec(s));
  }
  void invalidate_iec_global() override { calls.push_back("iec_global"); }
  void invalidate_iec_index(uint16_t index, unsigned mask) override {
    calls.push_back("iec_index " + dec(index) + " " + dec(mask));
  }
};

using Memory = pciesim::vtd::test::ByteMemory;

using Desc = std::array<uint64_t, 4>;

// Descriptor encoders (VT-d 6.5.2.x; Linux QI_* macros).
Desc cc(unsigned g, uint16_t did = 0, uint16_t sid = 0, unsigned fm = 0) {
  return {0x1 | (uint64_t{g} << 4) | (uint64_t{did} << 16) | (uint64_t{sid} << 32) | (uint64_t{fm} << 48), 0, 0, 0};
}
Desc iotlb(unsigned g, uint16_t did = 0, uint64_t addr = 0, unsigned am = 0, bool ih = false) {
  return {0x2 | (uint64_t{g} << 4) | (uint64_t{did} << 16), addr | (uint64_t{ih} << 6) | am, 0, 0};
}
Desc dev_tlb(uint16_t sid, uint64_t addr, bool s, unsigned qdep = 0) {
  return {0x3 | (uint64_t{qdep} << 16) | (uint64_t{sid} << 32), addr | uint64_t{s}, 0, 0};
}
Desc iec(bool index_selective, uint16_t index = 0, unsigned im = 0) {
  return {0x4 | (uint64_t{index_selective} << 4) | (uint64_t{im} << 27) | (uint64_t{index} << 32), 0, 0, 0};
}
Desc wait(bool iflag, bool sw, uint32_t data = 0, uint64_t addr = 0) {
  return {0x5 | (uint64_t{iflag} << 4) | (uint64_t{sw} << 5) | (uint64_t{data} << 32), addr, 0, 0};
}
Desc piotlb(unsigned g, uint16_t did, uint32_t pasid, uint64_t addr = 0, unsigned am = 0, bool ih = false) {
  return {0x6 | (uint64_t{g} << 4) | (uint64_t{did} << 16) | (uint64_t{pasid} << 32), addr | (uint64_t{ih} << 6) | am, 0,
          0};
}
Desc pc(unsigned g, uint16_t did = 0, uint32_t pasid = 0) {
  return {0x7 | (uint64_t{g} << 4) | (uint64_t{did} << 16) | (uint64_t{pasid} << 32), 0, 0, 0};
}
Desc pdev_tlb(uint16_t sid, uint32_t pasid, bool all, bool s, uint64_t addr) {
  return {0x8 | (uint64_t{sid} << 16) | (uint64_t{pasid} << 32), uint64_t{all} | (uint64_t{s} << 11) | addr, 0, 0};
}

constexpr uint32_t QIE = 1u << 26, SRTP = 1u << 30;
constexpr uint64_t kQueueBase = 0x40000;
constexpr uint64_t kStatus = 0x9000;

struct Unit {
  explicit Unit(Capabilities c) : regs(c, target, mem, mem) {
    regs.set_invalidation_event_sink([this](uint64_t a, uint32_t d) { ie_msis.push_back({a, d}); });
    regs.set_fault_event_sink([this](uint64_t a, uint32_t d) { fault_msis.push_back({a, d}); });
  }
  RecordingTarget target;
  Memory mem;
  RegisterFile regs;
  std::vector<std::pair<uint64_t, uint32_t>> ie_msis, fault_msis;
  unsigned size = 16;
  uint64_t bytes = 4096;
  uint64_t tail = 0;

  uint64_t r64(uint32_t off) const { return regs.read(off, 8); }
  uint32_t r32(uint32_t off) const { return static_cast<uint32_t>(regs.read(off, 4)); }
  AccessEffects w32(uint32_t off, uint32_t v) { return regs.write(off, 4, v); }
  AccessEffects w64(uint32_t off, uint64_t v) { return regs.write(off, 8, v); }

  // Linux __dmar_enable_qi: IQT = 0, IQA, then GCMD.QIE.
  void enable_queue(bool wide, unsigned qs = 0, bool back_memory = true) {
    size = wide ? 32 : 16;
    bytes = 4096ull << qs;
    if (back_memory) mem.zero(kQueueBase, bytes);
    w32(0x88, 0);
    w64(0x90, kQueueBase | (wide ? 1ull << 11 : 0) | qs);
    w32(0x18, QIE);
  }
  void put(const Desc& d) {
    mem.write(kQueueBase + tail, d.data(), size);
    tail = (tail + size) % bytes;
  }
  // Writes the descriptors and moves IQT (a 32-bit write, as Linux' writel).
  unsigned submit(const std::vector<Desc>& descs) {
    for (const Desc& d : descs) put(d);
    return w32(0x88, static_cast<uint32_t>(tail)).descriptors_processed;
  }
  uint32_t fsts() const { return r32(0x34); }
  bool iqe() const { return (fsts() & fsts::kIqe) != 0; }
  unsigned iqei() const { return static_cast<unsigned>(r64(0xb0) & 0xf); }
  uint64_t iqh() const { return r64(0x80); }
};

using Calls = std::vector<std::string>;

}  // namespace

// ----------------------------------------------------------------------------------------------
// Register-based invalidation

TEST(RegisterInvalidation, ContextCacheAtEveryGranularity) {
  Unit u(Capabilities::qemu_7_2());
  u.w64(0x28, (1ull << 63) | (1ull << 61));
  EXPECT_EQ(u.r64(0x28), (1ull << 61) | (1ull << 59));  // ICC clear, CAIG = 1
  u.w64(0x28, (1ull << 63) | (2ull << 61) | 7);
  EXPECT_EQ(u.r64(0x28), (2ull << 61) | (2ull << 59) | 7);
  // device-selective as two 32-bit writes, low dword first
  u.w32(0x28, (0x0108u << 16) | 7);
  EXPECT_EQ(u.target.calls.size(), 2u);
  u.w32(0x2c, static_cast<uint32_t>(((1ull << 63) | (3ull << 61) | (2ull << 32)) >> 32));
  EXPECT_EQ(u.r64(0x28), (3ull << 61) | (3ull << 59) | (2ull << 32) | (0x0108u << 16) | 7);
  // CIRG 0 is no request: ignored, CAIG 0
  u.w64(0x28, 1ull << 63);
  EXPECT_EQ(u.r64(0x28), 0u);
  EXPECT_EQ(u.target.calls, (Calls{"cc_global", "cc_domain 7", "cc_device 7 0x108 2"}));
}

TEST(RegisterInvalidation, IotlbAtEveryGranularity) {
  Unit u(Capabilities::qemu_7_2());  // IVA 0xf0, IOTLB 0xf8, MAMV 18
  const uint64_t ivt = 1ull << 63, dr_dw = 3ull << 48;
  u.w64(0xf8, ivt | (1ull << 60));
  EXPECT_EQ(u.r64(0xf8), (1ull << 60) | (1ull << 57));
  u.w64(0xf8, ivt | dr_dw | (2ull << 60) | (5ull << 32));
  EXPECT_EQ(u.r64(0xf8), dr_dw | (2ull << 60) | (2ull << 57) | (5ull << 32));
  u.w64(0xf0, 0x40000 | (1u << 6) | 2);  // IVA first: ADDR, IH, AM
  u.w64(0xf8, ivt | (3ull << 60) | (5ull << 32));
  EXPECT_EQ(u.r64(0xf8), (3ull << 60) | (3ull << 57) | (5ull << 32));
  u.w64(0xf0, 0x80000 | 19);  // AM beyond MAMV: ignored, IAIG 0
  u.w64(0xf8, ivt | (3ull << 60) | (5ull << 32));
  EXPECT_EQ(u.r64(0xf8), (3ull << 60) | (5ull << 32));
  EXPECT_EQ(u.target.calls, (Calls{"iotlb_global", "iotlb_domain 5", "iotlb_page 5 0x40000 2 1"}));
}

TEST(RegisterInvalidation, PageSelectiveWithoutPsiIsDomainSelective) {
  Capabilities c = Capabilities::qemu_7_2();
  c.cap &= ~(1ull << 39);
  Unit u(c);
  u.w64(0xf0, 0x40000);
  u.w64(0xf8, (1ull << 63) | (3ull << 60) | (9ull << 32));
  EXPECT_EQ((u.r64(0xf8) >> 57) & 3, 2u);
  EXPECT_EQ(u.target.calls, (Calls{"iotlb_domain 9"}));
}

TEST(RegisterInvalidation, IgnoredWhileQueuedInvalidationIsEnabled) {
  Unit u(Capabilities::qemu_7_2());
  u.enable_queue(false);
  u.w64(0x28, (1ull << 63) | (1ull << 61));
  u.w64(0xf8, (1ull << 63) | (1ull << 60));
  EXPECT_TRUE(u.target.calls.empty());
  EXPECT_EQ(u.r64(0x28), 1ull << 61);  // ICC clear, CAIG 0: request ignored
  EXPECT_EQ(u.r64(0xf8), 1ull << 60);
  EXPECT_EQ(u.regs.register_invalidation().rejected(), 2u);
}

// ----------------------------------------------------------------------------------------------
// Queued invalidation, 128-bit descriptors (QEMU preset)

TEST(InvalidationQueue, ContextCacheAndIotlbDescriptors) {
  Unit u(Capabilities::qemu_7_2());
  u.enable_queue(false);
  const unsigned n = u.submit({cc(1), cc(2, 7), cc(3, 7, 0x0108, 2), iotlb(1), iotlb(2, 5),
                               iotlb(3, 5, 0x40000, 2, true)});
  EXPECT_EQ(n, 6u);
  EXPECT_EQ(u.iqh(), 0x60u);
  EXPECT_EQ(u.r64(0x88), 0x60u);
  EXPECT_EQ(u.target.calls, (Calls{"cc_global", "cc_domain 7", "cc_device 7 0x108 2", "iotlb_global",
                                   "iotlb_domain 5", "iotlb_page 5 0x40000 2 1"}));
  EXPECT_EQ(u.regs.queue().processed(), 6u);
  EXPECT_FALSE(u.iqe());
}

TEST(InvalidationQueue, InterruptEntryCacheDescriptors) {
  Unit u(Capabilities::qemu_7_2());  // MHMV 15
  u.enable_queue(false);
  EXPECT_EQ(u.submit({iec(false), iec(true, 32, 2)}), 2u);
  EXPECT_EQ(u.target.calls, (Calls{"iec_global", "iec_index 32 2"}));
  EXPECT_EQ(u.submit({iec(true, 0, 16)}), 0u);  // IM beyond MHMV
  EXPECT_TRUE(u.iqe());
  EXPECT_EQ(u.iqei(), 4u);
}

TEST(InvalidationQueue, WaitDescriptorWritesStatus) {
  Unit u(Capabilities::qemu_7_2());
  u.enable_queue(false);
  // Linux qi_submit_sync: the wait descriptor writes QI_DONE into desc_status[]
  EXPECT_EQ(u.submit({iotlb(1), wait(false, true, 0x1, kStatus)}), 2u);
  EXPECT_EQ(u.mem.u32(kStatus), 1u);
  EXPECT_EQ(u.r32(0x9c), 0u);  // no IF: ICS.IWC stays clear
  EXPECT_TRUE(u.ie_msis.empty());
}

TEST(InvalidationQueue, WaitDescriptorInterruptFlag) {
  Unit u(Capabilities::qemu_7_2());
  u.enable_queue(false);
  u.w32(0xa8, 0xfee00000);
  u.w32(0xa4, 0x61);
  u.w32(0xa0, 0);  // unmask IECTL
  u.submit({wait(true, true, 7, kStatus)});
  EXPECT_EQ(u.mem.u32(kStatus), 7u);  // status written before the interrupt
  EXPECT_EQ(u.r32(0x9c), 1u);         // ICS.IWC
  EXPECT_EQ(u.ie_msis.size(), 1u);
  EXPECT_EQ(u.ie_msis[0].first, 0xfee00000u);
  EXPECT_EQ(u.ie_msis[0].second, 0x61u);
  u.submit({wait(true, false)});  // IWC still set: no new condition
  EXPECT_EQ(u.ie_msis.size(), 1u);
  u.w32(0x9c, 1);  // W1C
  EXPECT_EQ(u.r32(0x9c), 0u);
  u.w32(0xa0, 0x80000000u);  // mask
  u.submit({wait(true, false)});
  EXPECT_EQ(u.r32(0xa0), 0xc0000000u);  // IM | IP
  EXPECT_EQ(u.ie_msis.size(), 1u);
  u.w32(0xa0, 0);  // unmask: held message goes out
  EXPECT_EQ(u.ie_msis.size(), 2u);
  EXPECT_EQ(u.r32(0xa0), 0u);
  // masked again, serviced (IWC cleared) before unmasking: IP clears, no message
  u.w32(0x9c, 1);
  u.w32(0xa0, 0x80000000u);
  u.submit({wait(true, false)});
  EXPECT_EQ(u.r32(0xa0), 0xc0000000u);
  u.w32(0x9c, 1);
  EXPECT_EQ(u.r32(0xa0), 0x80000000u);
  u.w32(0xa0, 0);
  EXPECT_EQ(u.ie_msis.size(), 2u);
}

TEST(InvalidationQueue, BadDescriptorStopsTheQueueUntilIqeIsCleared) {
  Unit u(Capabilities::qemu_7_2());
  u.enable_queue(false);
  u.w32(0x40, 0xfee00000);
  u.w32(0x3c, 0x55);
  u.w32(0x38, 0);  // fault event unmasked
  const Desc bad = {0xf, 0, 0, 0};
  EXPECT_EQ(u.submit({cc(1), bad, iotlb(1)}), 1u);
  EXPECT_EQ(u.iqh(), 0x10u);  // on the bad descriptor
  EXPECT_TRUE(u.iqe());
  EXPECT_EQ(u.iqei(), 3u);  // invalid descriptor type
  EXPECT_EQ(u.fault_msis.size(), 1u);
  EXPECT_EQ(u.target.calls, (Calls{"cc_global"}));
  EXPECT_EQ(u.submit({iec(false)}), 0u);  // nothing is fetched while IQE is set
  // Linux qi_check_fault: replace the bad descriptor, clear IQE; the unit resumes at IQH
  u.mem.write(kQueueBase + 0x10, wait(false, true, 1, kStatus).data(), 16);
  const AccessEffects e = u.w32(0x34, fsts::kIqe);
  EXPECT_EQ(e.descriptors_processed, 3u);
  EXPECT_FALSE(u.iqe());
  EXPECT_EQ(u.iqh(), u.r64(0x88));
  EXPECT_EQ(u.mem.u32(kStatus), 1u);
  EXPECT_EQ(u.target.calls, (Calls{"cc_global", "iotlb_global", "iec_global"}));
}

TEST(InvalidationQueue, ReservedFieldsAndEncodings) {
  struct Case {
    const char* what;
    Capabilities caps;
    bool wide;
    Desc desc;
    int iqei;  // -1: accepted
  };
  const Capabilities q = Capabilities::qemu_7_2(), s = Capabilities::server();
  const Case cases[] = {
      {"cc reserved bit 6", q, false, {cc(1)[0] | (1u << 6), 0, 0, 0}, 4},
      {"cc granularity 0", q, false, cc(0), 4},
      {"cc qw1 non-zero", q, false, {cc(1)[0], 1, 0, 0}, 4},
      {"iotlb qw1 bit 7", q, false, {iotlb(3)[0], 0x80, 0, 0}, 4},
      {"iotlb reserved 63:32", q, false, {iotlb(1)[0] | (1ull << 40), 0, 0, 0}, 4},
      {"iotlb am beyond mamv", q, false, iotlb(3, 1, 0, 19), 4},
      {"wait bit 8", q, false, {wait(false, true)[0] | (1u << 8), kStatus, 0, 0}, 4},
      {"wait status address 1:0", q, false, wait(false, true, 1, kStatus | 2), 4},
      {"wait PD without ECAP.PDS", q, false, {wait(false, false)[0] | (1u << 7), 0, 0, 0}, 4},
      {"wait PD with ECAP.PDS", s, true, {wait(false, false)[0] | (1u << 7), 0, 0, 0}, -1},
      {"upper type bits", q, false, {cc(1)[0] | (1u << 9), 0, 0, 0}, 3},
      {"type 0", q, false, {0, 0, 0, 0}, 3},
      {"page group response (0x9)", s, true, {0x9, 0, 0, 0}, 3},
      {"PASID-IOTLB in a 128-bit queue", q, false, piotlb(2, 1, 1), 3},
      {"device-TLB without ECAP.DT", q, false, dev_tlb(0x300, 0, false), 3},
      {"qw2 non-zero in a 256-bit queue", s, true, {cc(1)[0], 0, 1, 0}, 4},
      {"qw3 non-zero in a 256-bit queue", s, true, {iotlb(1)[0], 0, 0, 1}, 4},
      {"PASID-cache granularity 2", s, true, pc(2, 1, 1), 4},
      {"PASID-IOTLB granularity 1", s, true, piotlb(1, 1, 1), 4},
      {"PASID device-TLB reserved 10:1", s, true, {pdev_tlb(1, 1, false, false, 0)[0], 0x2, 0, 0}, 4},
      {"device-TLB reserved 31:21", s, true, {dev_tlb(1, 0, false)[0] | (1ull << 21), 0, 0, 0}, 4},
      {"IEC reserved 26:12", s, true, {iec(false)[0] | (1ull << 12), 0, 0, 0}, 4},
  };
  for (const Case& c : cases) {
    Unit u(c.caps);
    u.enable_queue(c.wide, c.wide ? 1 : 0);
    const unsigned n = u.submit({c.desc});
    if (c.iqei < 0) {
      EXPECT_EQ(n, 1u) << c.what;
      EXPECT_FALSE(u.iqe()) << c.what;
    } else {
      EXPECT_EQ(n, 0u) << c.what;
      EXPECT_TRUE(u.iqe()) << c.what;
      EXPECT_EQ(u.iqei(), static_cast<unsigned>(c.iqei)) << c.what;
      EXPECT_EQ(u.iqh(), 0u) << c.what;
      EXPECT_TRUE(u.target.calls.empty()) << c.what;
    }
  }
}

TEST(InvalidationQueue, QueueProgrammingErrors) {
  {  // fetch error: the queue is not backed by memory
    Unit u(Capabilities::qemu_7_2());
    u.enable_queue(false, 0, /*back_memory*/ false);
    u.w32(0x88, 0x10);
    EXPECT_EQ(u.iqei(), 2u);
    EXPECT_EQ(u.iqh(), 0u);
  }
  {  // tail beyond the queue (QS 0: 256 entries)
    Unit u(Capabilities::qemu_7_2());
    u.enable_queue(false);
    u.w32(0x88, 0x1000);
    EXPECT_TRUE(u.iqe());
    EXPECT_EQ(u.iqei(), 1u);
  }
  {  // tail not 256-bit aligned with DW = 1
    Unit u(Capabilities::server());
    u.enable_queue(true, 1);
    u.w32(0x88, 0x10);
    EXPECT_EQ(u.iqei(), 6u);
    EXPECT_TRUE(u.target.calls.empty());
  }
  {  // 256-bit descriptors on a unit without scalable mode
    Unit u(Capabilities::qemu_7_2());
    u.enable_queue(true);
    u.submit({cc(1)});
    EXPECT_EQ(u.iqei(), 5u);
  }
  {  // 128-bit descriptors while the latched root table is scalable-mode
    Unit u(Capabilities::server());
    u.w64(0x20, 0x1000 | (1u << 10));
    u.w32(0x18, SRTP);
    u.enable_queue(false);
    u.submit({cc(1)});
    EXPECT_EQ(u.iqei(), 5u);
  }
  {  // ... but legacy mode on the same unit takes them
    Unit u(Capabilities::server());
    u.w64(0x20, 0x1000);
    u.w32(0x18, SRTP);
    u.enable_queue(false);
    EXPECT_EQ(u.submit({cc(1)}), 1u);
    EXPECT_FALSE(u.iqe());
  }
  {  // a status write that fails is a queue error at the wait descriptor
    Unit u(Capabilities::qemu_7_2());
    u.enable_queue(false);
    u.put(iotlb(1));
    u.put(wait(false, true, 1, kStatus));
    u.mem.fail_writes = true;
    EXPECT_EQ(u.w32(0x88, static_cast<uint32_t>(u.tail)).descriptors_processed, 1u);
    EXPECT_EQ(u.iqh(), 0x10u);
    EXPECT_EQ(u.iqei(), 0u);
    EXPECT_TRUE(u.iqe());
  }
}

// ----------------------------------------------------------------------------------------------
// Queued invalidation, 256-bit descriptors (server preset, as Linux sets it up with SMTS)

TEST(InvalidationQueue, ScalableModeDescriptorsOfEveryType) {
  Unit u(Capabilities::server());
  u.enable_queue(true, 1);  // DW = 1, QS = 1: two pages, 256 entries of 32 bytes
  EXPECT_EQ(u.regs.queue().entries(), 256u);
  const std::vector<Desc> descs = {
      cc(1), cc(3, 4, 0x0300, 0), iotlb(3, 4, 0x10000, 3), dev_tlb(0x0300, 0x7000, true, 16),
      iec(true, 5, 0), piotlb(2, 3, 9), piotlb(3, 3, 9, 0x5000, 1, true), pc(0, 3), pc(1, 3, 9), pc(3),
      pdev_tlb(0x0300, 9, false, false, 0x8000), pdev_tlb(0x0300, 0, true, true, 0x9000),
      wait(false, true, 0xabcd, kStatus)};
  EXPECT_EQ(u.submit(descs), descs.size());
  EXPECT_EQ(u.iqh(), descs.size() * 32);  // IQH/IQT are byte offsets: index << 5
  EXPECT_EQ(u.target.calls, (Calls{"cc_global", "cc_device 4 0x300 0", "iotlb_page 4 0x10000 3 0",
                                   "devtlb 0x300 0 0x0 0x7000 1", "iec_index 5 0", "piotlb_pasid 3 9",
                                   "piotlb_page 3 9 0x5000 1 1", "pc_domain 3", "pc_pasid 3 9", "pc_global",
                                   "devtlb 0x300 1 0x9 0x8000 0", "devtlb 0x300 1 0xffffffff 0x9000 1"}));
  EXPECT_EQ(u.mem.u32(kStatus), 0xabcdu);
  EXPECT_FALSE(u.iqe());
}

TEST(InvalidationQueue, DeviceTlbTimeoutAbortsTheNextWait) {
  Unit u(Capabilities::server());
  u.regs.queue().set_device_tlb_responder(
      [](uint16_t sid) { return sid == 0x0300 ? DeviceTlbResult::TimedOut : DeviceTlbResult::Completed; });
  u.enable_queue(true, 1);
  const unsigned n = u.submit({dev_tlb(0x0200, 0x1000, false), dev_tlb(0x0300, 0x1000, false), iotlb(1),
                               wait(false, true, 1, kStatus), cc(1)});
  EXPECT_EQ(n, 4u);  // up to and including the aborted wait
  EXPECT_EQ(u.iqh(), 4u * 32);
  EXPECT_EQ(u.fsts() & fsts::kIte, fsts::kIte);
  EXPECT_EQ((u.r64(0xb0) >> 32) & 0xffff, 0x0300u);  // IQER.ITESID
  EXPECT_FALSE(u.mem.backed(kStatus));                // the wait did not write its status
  EXPECT_EQ(u.regs.queue().aborted_waits(), 1u);
  EXPECT_EQ(u.target.calls.back(), "iotlb_global");
  // Linux: clear ITE and resubmit; the unit resumes with the descriptor after the aborted wait
  u.regs.queue().set_device_tlb_responder(nullptr);
  EXPECT_EQ(u.w32(0x34, fsts::kIte).descriptors_processed, 1u);
  EXPECT_EQ(u.target.calls.back(), "cc_global");
  EXPECT_EQ(u.iqh(), u.r64(0x88));
  EXPECT_EQ(u.submit({dev_tlb(0x0300, 0, false), wait(false, true, 2, kStatus)}), 2u);
  EXPECT_EQ(u.mem.u32(kStatus), 2u);
}

TEST(InvalidationQueue, InvalidCompletionSetsIce) {
  Unit u(Capabilities::server());
  u.regs.queue().set_device_tlb_responder([](uint16_t) { return DeviceTlbResult::InvalidCompletion; });
  u.enable_queue(true, 1);
  EXPECT_EQ(u.submit({dev_tlb(0x0410, 0, false), wait(false, true, 3, kStatus)}), 2u);
  EXPECT_EQ(u.fsts() & fsts::kIce, fsts::kIce);
  EXPECT_EQ(u.r64(0xb0) >> 48, 0x0410u);  // IQER.ICESID
  EXPECT_EQ(u.mem.u32(kStatus), 3u);       // ICE does not stop the queue
  u.regs.queue().report_completion_error(0x0500);  // the first ICESID stays until ICE is cleared
  EXPECT_EQ(u.r64(0xb0) >> 48, 0x0410u);
  u.w32(0x34, fsts::kIce);
  u.regs.queue().report_completion_error(0x0500);
  EXPECT_EQ(u.r64(0xb0) >> 48, 0x0500u);
}

// ----------------------------------------------------------------------------------------------
// Queue mechanics

TEST(InvalidationQueue, WrapsAroundTheEndOfTheQueue) {
  Unit u(Capabilities::qemu_7_2());
  u.enable_queue(false);  // 256 entries of 16 bytes
  EXPECT_EQ(u.submit(std::vector<Desc>(255, iec(false))), 255u);
  EXPECT_EQ(u.iqh(), 0xff0u);
  EXPECT_EQ(u.submit({cc(1), iotlb(1)}), 2u);  // one at 0xff0, one at 0
  EXPECT_EQ(u.iqh(), 0x10u);
  EXPECT_EQ(u.target.calls.back(), "iotlb_global");
}

TEST(InvalidationQueue, EnableResetsHeadAndRunsWhatIsPending) {
  Unit u(Capabilities::qemu_7_2());
  u.enable_queue(false);
  EXPECT_EQ(u.submit({cc(1), iotlb(1)}), 2u);
  EXPECT_EQ(u.iqh(), 0x20u);
  u.w32(0x18, 0);  // IQH == IQT: disable accepted, IQH back to 0
  EXPECT_FALSE(u.regs.qi_enabled());
  EXPECT_EQ(u.iqh(), 0u);
  // While disabled, IQT writes fetch nothing.
  u.tail = 0;
  EXPECT_EQ(u.submit({iec(false)}), 0u);
  // Enabling with IQT != 0 runs the pending descriptor at once (QEMU accepts this too).
  EXPECT_EQ(u.w32(0x18, QIE).descriptors_processed, 1u);
  EXPECT_EQ(u.iqh(), 0x10u);
  EXPECT_EQ(u.target.calls.back(), "iec_global");
}

TEST(InvalidationQueue, AtsRangeDecoding) {
  EXPECT_EQ(decode_ats_range(0x12345678, false).base, 0x12345000u);
  EXPECT_EQ(decode_ats_range(0x12345678, false).size, 4096u);
  EXPECT_EQ(decode_ats_range(0x12344000, true).size, 8192u);  // bit 12 clear
  EXPECT_EQ(decode_ats_range(0x12345000, true).size, 16384u);  // bits 13:12 = 01
  EXPECT_EQ(decode_ats_range(0x12345000, true).base, 0x12344000u);
  EXPECT_EQ(decode_ats_range(0x7000, true).size, 64u * 1024);  // 0111 -> 64 KiB
  EXPECT_EQ(decode_ats_range(0x7fffffffffffffffull, true).size, 0u);  // everything
}
