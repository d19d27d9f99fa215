// Legacy-mode translation (RTADDR.TTM = 00): root/context lookup, second-level walks and every
// legacy fault reason 0x1-0xD, through the pure pipeline (no SystemC).
#include <gtest/gtest.h>

#include "iommu/sparse_memory.h"
#include "iommu/walk.h"

using namespace pciesim;
using namespace pciesim::vtd;
using test::TableWorld;

namespace {

constexpr uint64_t k2M = 2ull << 20, k1G = 1ull << 30;

// QEMU 7.2's unit: 39-bit 3-level only, MGAW 39, SLLPS 2M+1G, PT, no DT, no SC.
Capabilities qemu() { return Capabilities::qemu_7_2(); }
// The same with 4- and 5-level tables allowed and MGAW 57.
Capabilities wide() {
  Capabilities c = Capabilities::qemu_7_2();
  c.cap = (c.cap & ~(0x1full << 8) & ~(0x3full << 16)) | (0b1110ull << 8) | (56ull << 16);
  return c;
}

class WalkLegacy : public ::testing::Test {
 protected:
  TableWorld w;
  Capabilities caps = qemu();
  RootTableBuilder roots{w.tables, TableMode::Legacy};
  SecondLevelBuilder sl{w.tables, 3};
  RequesterId dev = RequesterId::from_bdf(1, 2, 3);

  void SetUp() override {
    ASSERT_TRUE(roots.set_context(dev, legacy_context(sl.root(), 1, 7)));
    ASSERT_TRUE(sl.map(0x1000, 0x8000'0000, 4096));                              // RW
    ASSERT_TRUE(sl.map(0x2000, 0x8000'1000, 4096, SlMapping{true, false}));      // read-only
    ASSERT_TRUE(sl.map(0x3000, 0x8000'2000, 4096, SlMapping{false, true}));      // write-only
  }
  Translation dma(uint64_t addr, bool write = false, AddressType at = AddressType::Untranslated,
                  RequesterId src = RequesterId{}) {
    Request r;
    r.source = src == RequesterId{} ? dev : src;
    r.addr = addr;
    r.write = write;
    r.at = at;
    return translate(w.mem, roots.rtaddr(), caps, r);
  }
  FaultReason fault(uint64_t addr, bool write = false, AddressType at = AddressType::Untranslated) {
    return dma(addr, write, at).fault;
  }
  void set_context_raw(uint64_t lo, uint64_t hi) {
    ASSERT_TRUE(w.mem.write64(roots.context_entry_address(dev), lo));
    ASSERT_TRUE(w.mem.write64(roots.context_entry_address(dev) + 8, hi));
  }
};

TEST_F(WalkLegacy, Translates4KPageWithRootContextAndThreeEntryReads) {
  w.mem.reset_reads();
  const Translation t = dma(0x1234, true);
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_EQ(t.output, 0x8000'0234u);
  EXPECT_EQ(t.page_size, 4096u);
  EXPECT_EQ(t.domain_id, 7);
  EXPECT_TRUE(t.rights.read);
  EXPECT_TRUE(t.rights.write);
  EXPECT_FALSE(t.pass_through);
  EXPECT_EQ(t.memory_reads, 2u + 3u);
  EXPECT_EQ(w.mem.reads(), t.memory_reads);  // the count is what really was read
}

TEST_F(WalkLegacy, FourLevel4KWalkIsFourEntryReadsPlusContextLookup) {
  caps = wide();
  SecondLevelBuilder sl4(w.tables, 4);
  ASSERT_TRUE(sl4.map(0x7f'1234'5000, 0x9000'0000, 4096));
  ASSERT_TRUE(roots.set_context(dev, legacy_context(sl4.root(), 2, 8)));
  w.mem.reset_reads();
  const Translation t = dma(0x7f'1234'5abc);
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_EQ(t.output, 0x9000'0abcu);
  EXPECT_EQ(t.memory_reads, 4u + 2u);
  EXPECT_EQ(w.mem.reads(), 6u);
}

class WalkLegacyLevels : public WalkLegacy, public ::testing::WithParamInterface<int> {};

TEST_P(WalkLegacyLevels, WalksEveryLevelCount) {
  const int levels = GetParam();
  caps = wide();
  SecondLevelBuilder slx(w.tables, levels);
  const uint64_t iova = (1ull << (width_for_levels(levels) - 1)) | 0x5000;  // top bit of the width
  ASSERT_TRUE(slx.map(iova, 0xa000'0000, 4096));
  ASSERT_TRUE(roots.set_context(dev, legacy_context(slx.root(), static_cast<unsigned>(levels - 2), 9)));
  WalkTrace trace;
  const Translation t = walk_second_level(w.mem, slx.root(), levels, iova | 0x10, false,
                                          SlOptions::from(caps, false), &trace);
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_EQ(t.output, 0xa000'0010u);
  EXPECT_EQ(t.memory_reads, static_cast<unsigned>(levels));
  EXPECT_EQ(trace.table[levels], slx.root());
  for (int l = 1; l <= levels; ++l) EXPECT_NE(trace.table[l], 0u) << "level " << l;
  EXPECT_EQ(dma(iova | 0x10).output, 0xa000'0010u);
  // one past the width is beyond the AGAW
  EXPECT_EQ(fault(1ull << width_for_levels(levels)), FaultReason::AddressBeyondAgaw);
}
INSTANTIATE_TEST_SUITE_P(Levels, WalkLegacyLevels, ::testing::Values(3, 4, 5));

TEST_F(WalkLegacy, RootNotPresent_0x1) {
  EXPECT_EQ(dma(0x1000, false, AddressType::Untranslated, RequesterId::from_bdf(9, 0, 0)).fault,
            FaultReason::RootNotPresent);
}

TEST_F(WalkLegacy, ContextNotPresent_0x2) {
  const Translation t = dma(0x1000, false, AddressType::Untranslated, RequesterId::from_bdf(1, 2, 4));
  EXPECT_EQ(t.fault, FaultReason::ContextNotPresent);
  EXPECT_EQ(t.memory_reads, 2u);
  // FPD in a non-present context entry does not count
  set_context_raw(0x2, 0);
  const Translation u = dma(0x1000);
  EXPECT_EQ(u.fault, FaultReason::ContextNotPresent);
  EXPECT_FALSE(u.fault_suppressed);
}

TEST_F(WalkLegacy, InvalidContext_0x3) {
  ContextEntry e = legacy_context(sl.root(), 1, 7, /*tt*/ 3);
  ASSERT_TRUE(roots.set_context(dev, e));
  EXPECT_EQ(fault(0x1000), FaultReason::ContextInvalid);
  e.tt = 1;  // device TLBs without ECAP.DT
  ASSERT_TRUE(roots.set_context(dev, e));
  EXPECT_EQ(fault(0x1000), FaultReason::ContextInvalid);
  e.tt = 0;
  e.aw = 2;  // 48-bit: not in QEMU's SAGAW
  ASSERT_TRUE(roots.set_context(dev, e));
  EXPECT_EQ(fault(0x1000), FaultReason::ContextInvalid);
  e.aw = 1;
  e.tt = 2;  // pass-through without ECAP.PT
  ASSERT_TRUE(roots.set_context(dev, e));
  caps.ecap &= ~bit(6);
  EXPECT_EQ(fault(0x1000), FaultReason::ContextInvalid);
  caps.ecap |= bit(6);
  EXPECT_TRUE(dma(0x1000).ok());
}

TEST_F(WalkLegacy, AddressBeyondAgaw_0x4) {
  EXPECT_EQ(fault(1ull << 39), FaultReason::AddressBeyondAgaw);
  EXPECT_EQ(fault(~0ull), FaultReason::AddressBeyondAgaw);
  EXPECT_EQ(dma(1ull << 39).memory_reads, 2u);  // no table read
  // MGAW caps the context's AGAW: a 4-level context on a 39-bit MGAW unit
  caps = wide();
  caps.cap = (caps.cap & ~(0x3full << 16)) | (38ull << 16);
  SecondLevelBuilder sl4(w.tables, 4);
  ASSERT_TRUE(roots.set_context(dev, legacy_context(sl4.root(), 2, 8)));
  EXPECT_EQ(fault(1ull << 40), FaultReason::AddressBeyondAgaw);
}

TEST_F(WalkLegacy, WriteDenied_0x5) {
  EXPECT_EQ(fault(0x2000, true), FaultReason::WriteDenied);
  EXPECT_EQ(fault(0x40'0000, true), FaultReason::WriteDenied);  // nothing mapped: R = W = 0
  // cumulative: a read-only directory entry denies writes below it at once
  const uint64_t l2 = sl.entry_address(0x1000, 2);
  ASSERT_NE(l2, 0u);
  w.mem.write64(l2, w.mem.read64(l2) & ~2ull);
  const Translation t = dma(0x1000, true);
  EXPECT_EQ(t.fault, FaultReason::WriteDenied);
  EXPECT_EQ(t.memory_reads, 2u + 2u);
  EXPECT_TRUE(dma(0x1000).ok());
}

TEST_F(WalkLegacy, ReadDenied_0x6) {
  EXPECT_EQ(fault(0x3000), FaultReason::ReadDenied);
  EXPECT_EQ(fault(0x40'0000), FaultReason::ReadDenied);
  EXPECT_TRUE(dma(0x3000, true).ok());
}

TEST_F(WalkLegacy, SecondLevelEntryAccess_0x7) {
  ASSERT_TRUE(sl.set_raw(0x4000'0000, 3, encode_sl_entry(TableWorld::kUnbacked, true, true)));
  EXPECT_EQ(fault(0x4000'0000), FaultReason::SlEntryAccess);
  // the root of the tables itself unreadable
  ASSERT_TRUE(roots.set_context(dev, legacy_context(TableWorld::kUnbacked, 1, 7)));
  EXPECT_EQ(fault(0x1000), FaultReason::SlEntryAccess);
}

TEST_F(WalkLegacy, RootTableAccess_0x8) {
  Request r;
  r.source = dev;
  const Translation t = translate(w.mem, make_rtaddr(TableWorld::kUnbacked, TableMode::Legacy), caps, r);
  EXPECT_EQ(t.fault, FaultReason::RootAccess);
  EXPECT_EQ(t.memory_reads, 1u);
}

TEST_F(WalkLegacy, ContextTableAccess_0x9) {
  ASSERT_TRUE(w.mem.write64(roots.root_entry_address(1), TableWorld::kUnbacked | 1));
  EXPECT_EQ(fault(0x1000), FaultReason::ContextAccess);
}

TEST_F(WalkLegacy, RootReserved_0xA) {
  const uint64_t re = roots.root_entry_address(1);
  ASSERT_TRUE(w.mem.write64(re + 8, 1));  // upper 64 bits are reserved in legacy mode
  EXPECT_EQ(fault(0x1000), FaultReason::RootReserved);
  ASSERT_TRUE(w.mem.write64(re + 8, 0));
  ASSERT_TRUE(w.mem.write64(re, w.mem.read64(re) | 0x10));  // bits 11:1
  EXPECT_EQ(fault(0x1000), FaultReason::RootReserved);
  ASSERT_TRUE(w.mem.write64(re, (w.mem.read64(re) & ~0x10ull) | (1ull << 40)));  // beyond HAW 39
  EXPECT_EQ(fault(0x1000), FaultReason::RootReserved);
}

TEST_F(WalkLegacy, ContextReserved_0xB) {
  const ContextRaw good = encode_legacy_context(legacy_context(sl.root(), 1, 7));
  set_context_raw(good[0] | 0x10, good[1]);  // lo 11:4
  EXPECT_EQ(fault(0x1000), FaultReason::ContextReserved);
  set_context_raw(good[0], good[1] | 0x80);  // hi bit 7
  EXPECT_EQ(fault(0x1000), FaultReason::ContextReserved);
  set_context_raw(good[0], good[1] | (1ull << 40));  // hi 63:24
  EXPECT_EQ(fault(0x1000), FaultReason::ContextReserved);
  set_context_raw(good[0] | (1ull << 45), good[1]);  // SLPTPTR beyond HAW
  EXPECT_EQ(fault(0x1000), FaultReason::ContextReserved);
  set_context_raw(good[0] | 0x2 | 0x10, good[1]);  // FPD does not hide a reserved context entry
  const Translation t = dma(0x1000);
  EXPECT_EQ(t.fault, FaultReason::ContextReserved);
  EXPECT_FALSE(t.fault_suppressed);
  set_context_raw(good[0], good[1] | 0x78);  // AVAIL is software's
  EXPECT_TRUE(dma(0x1000).ok());
}

TEST_F(WalkLegacy, SecondLevelEntryReserved_0xC) {
  const uint64_t pte = sl.entry_address(0x1000, 1);
  const uint64_t good = w.mem.read64(pte);
  for (uint64_t rsvd : {bit(2), bit(6), bit(11) /*SNP without SC*/, bit(62) /*TM without DT*/, bit(39), bit(51)}) {
    ASSERT_TRUE(w.mem.write64(pte, good | rsvd));
    EXPECT_EQ(fault(0x1000), FaultReason::SlEntryReserved) << std::hex << rsvd;
  }
  for (uint64_t ignored : {bit(7), bit(8), bit(10), bit(52), bit(61), bit(63)}) {
    ASSERT_TRUE(w.mem.write64(pte, good | ignored));
    EXPECT_TRUE(dma(0x1000).ok()) << std::hex << ignored;
  }
  // EMT/IPAT are allowed with ECAP.MTS, SNP with ECAP.SC, TM with ECAP.DT
  caps.ecap |= bit(25) | bit(7) | bit(2);
  ASSERT_TRUE(w.mem.write64(pte, good | bit(2) | bit(6) | bit(11) | bit(62)));
  const Translation t = dma(0x1000);
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_TRUE(t.snoop);
}

TEST_F(WalkLegacy, TranslationTypeBlocksAts_0xD) {
  EXPECT_EQ(fault(0x1000, false, AddressType::TranslationRequest), FaultReason::TranslationTypeBlocked);
  EXPECT_EQ(fault(0x1000, false, AddressType::Translated), FaultReason::TranslationTypeBlocked);
  ASSERT_TRUE(roots.set_context(dev, legacy_context(0, 1, 7, /*tt*/ 2)));
  EXPECT_EQ(fault(0x1000, false, AddressType::TranslationRequest), FaultReason::TranslationTypeBlocked);
  EXPECT_EQ(fault(0x1000, true, AddressType::Translated), FaultReason::TranslationTypeBlocked);
}

TEST_F(WalkLegacy, DeviceTlbContextAllowsTranslationRequestsAndReportsRights) {
  caps.ecap |= bit(2);  // DT
  ASSERT_TRUE(roots.set_context(dev, legacy_context(sl.root(), 1, 7, /*tt*/ 1)));
  const Translation ro = dma(0x2000, false, AddressType::TranslationRequest);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(ro.output, 0x8000'1000u);
  EXPECT_TRUE(ro.rights.read);
  EXPECT_FALSE(ro.rights.write);
  // a write translation request for a read-only page is no fault: the completion says W = 0
  EXPECT_TRUE(dma(0x2000, true, AddressType::TranslationRequest).ok());
  const Translation none = dma(0x40'0000, false, AddressType::TranslationRequest);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.rights.read || none.rights.write);
  // translated requests pass untouched
  const Translation tr = dma(0x1234'5000, true, AddressType::Translated);
  ASSERT_TRUE(tr.ok());
  EXPECT_TRUE(tr.pass_through);
  EXPECT_EQ(tr.output, 0x1234'5000u);
  EXPECT_EQ(tr.memory_reads, 2u);
  // untranslated requests still walk and check
  EXPECT_EQ(fault(0x2000, true), FaultReason::WriteDenied);
}

TEST_F(WalkLegacy, PassThroughSkipsTheWalk) {
  ASSERT_TRUE(roots.set_context(dev, legacy_context(0, 1, 3, /*tt*/ 2)));
  const Translation t = dma(0x7654'3210, true);
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_TRUE(t.pass_through);
  EXPECT_EQ(t.output, 0x7654'3210u);
  EXPECT_EQ(t.domain_id, 3);
  EXPECT_EQ(t.memory_reads, 2u);
}

TEST_F(WalkLegacy, LargePagesOnlyWhereSllpsAllows) {
  ASSERT_TRUE(sl.map(0x4000'0000, 0x1'4000'0000, k1G));
  ASSERT_TRUE(sl.map(0x20'0000, 0x6000'0000, k2M, SlMapping{true, false}));
  const Translation g = dma(0x4012'3456);
  ASSERT_TRUE(g.ok()) << describe(g.fault);
  EXPECT_EQ(g.output, 0x1'4012'3456u);
  EXPECT_EQ(g.page_size, k1G);
  EXPECT_EQ(g.memory_reads, 2u + 1u);
  const Translation m = dma(0x2f'fff0);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m.output, 0x600f'fff0u);
  EXPECT_EQ(m.page_size, k2M);
  EXPECT_EQ(m.memory_reads, 2u + 2u);
  // without SLLPS the PS bit is reserved
  caps.cap &= ~(3ull << 34);
  EXPECT_EQ(fault(0x4012'3456), FaultReason::SlEntryReserved);
  EXPECT_EQ(fault(0x2f'fff0), FaultReason::SlEntryReserved);
  caps.cap |= 1ull << 34;  // 2 MiB only
  EXPECT_TRUE(dma(0x2f'fff0).ok());
  EXPECT_EQ(fault(0x4012'3456), FaultReason::SlEntryReserved);
  // low frame bits of a large page are reserved
  caps.cap |= 3ull << 34;
  const uint64_t pde = sl.entry_address(0x20'0000, 2);
  ASSERT_TRUE(w.mem.write64(pde, w.mem.read64(pde) | 0x1000));
  EXPECT_EQ(fault(0x2f'fff0), FaultReason::SlEntryReserved);
}

TEST_F(WalkLegacy, FpdSuppressesQualifiedFaultsOnly) {
  ASSERT_TRUE(roots.set_context(dev, legacy_context(sl.root(), 1, 7, 0, /*fpd*/ true)));
  const Translation t = dma(0x3000);
  EXPECT_EQ(t.fault, FaultReason::ReadDenied);
  EXPECT_TRUE(t.fault_suppressed);
  const ContextResult c = lookup_context(w.mem, roots.rtaddr(), dev, caps);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c.fpd);
  EXPECT_EQ(c.memory_reads, 2u);
  EXPECT_EQ(c.entry.did, 7);
  EXPECT_EQ(c.entry.slptptr, sl.root());
  EXPECT_FALSE(dma(0x1000).fault_suppressed);
  ASSERT_TRUE(roots.set_context(dev, legacy_context(sl.root(), 1, 7)));
  EXPECT_FALSE(dma(0x3000).fault_suppressed);
}

TEST(WalkRtaddr, ReservedTableModesAreInvalidRootTables) {
  TableWorld w;
  Request r;
  EXPECT_EQ(translate(w.mem, make_rtaddr(0x1000'0000, TableMode::Reserved), Capabilities::server(), r).fault,
            FaultReason::SmRootTableInvalid);
  EXPECT_EQ(translate(w.mem, make_rtaddr(0x1000'0000, TableMode::AbortDma), Capabilities::server(), r).fault,
            FaultReason::SmRootTableInvalid);
}

}  // namespace
