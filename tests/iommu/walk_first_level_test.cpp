// First-level (PGTT 001) and nested (PGTT 011) translation in scalable mode: x86-64 paging with
// U/S, R/W, XD, PS, canonical addresses, SRE/WPE/ERE, and every first-level table pointer and the
// output going through the second level when nested.
#include <gtest/gtest.h>

#include "iommu/sparse_memory.h"
#include "iommu/walk.h"

using namespace pciesim;
using namespace pciesim::vtd;
using test::TableWorld;

namespace {

constexpr uint64_t k2M = 2ull << 20, k1G = 1ull << 30;

class WalkFirstLevel : public ::testing::Test {
 protected:
  TableWorld w;
  Capabilities caps = Capabilities::server();  // FLTS, FL1GP, SRS, NEST; no FL5LP, no ERS
  RootTableBuilder roots{w.tables, TableMode::Scalable};
  PasidTableBuilder pasids{w.tables, 2};
  FirstLevelBuilder fl{w.tables, 4};
  RequesterId dev = RequesterId::from_bdf(5, 0, 0);
  static constexpr uint32_t kPasid = 1;

  void SetUp() override {
    ASSERT_TRUE(roots.set_context(dev, scalable_context(pasids.directory(), 2, 0, true, true)));
    ASSERT_TRUE(pasids.set(kPasid, first_level_pasid(fl.root_pointer(), 0, 21)));
    ASSERT_TRUE(fl.map(0x40'1000, 0x8000'0000, 4096));
    ASSERT_TRUE(fl.map(0x40'2000, 0x8000'1000, 4096, FlMapping{/*write*/ false}));
    ASSERT_TRUE(fl.map(0x40'3000, 0x8000'2000, 4096, FlMapping{true, /*user*/ false}));
    ASSERT_TRUE(fl.map(0x40'4000, 0x8000'3000, 4096, FlMapping{true, true, /*xd*/ true}));
  }
  Request req(uint64_t addr, bool write = false, uint32_t pasid = kPasid) const {
    Request r;
    r.source = dev;
    r.has_pasid = true;
    r.pasid = pasid;
    r.addr = addr;
    r.write = write;
    return r;
  }
  Request supervisor(uint64_t addr, bool write = false) const {
    Request r = req(addr, write);
    r.privileged = true;
    return r;
  }
  Translation run(const Request& r) { return translate(w.mem, roots.rtaddr(), caps, r); }
  FaultReason fault(uint64_t addr, bool write = false) { return run(req(addr, write)).fault; }
  void set_pasid(const PasidEntry& e) { ASSERT_TRUE(pasids.set(kPasid, e)); }
  PasidEntry fl_pasid() const { return first_level_pasid(fl.root_pointer(), 0, 21); }
};

TEST_F(WalkFirstLevel, Translates4KPageInFourReads) {
  w.mem.reset_reads();
  const Translation t = run(req(0x40'1abc, true));
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_EQ(t.output, 0x8000'0abcu);
  EXPECT_EQ(t.domain_id, 21);
  EXPECT_TRUE(t.rights.read && t.rights.write && t.rights.execute);
  EXPECT_EQ(t.memory_reads, 2u + 2u + 4u);
  EXPECT_EQ(w.mem.reads(), t.memory_reads);
}

TEST_F(WalkFirstLevel, CanonicalAddresses_0x80) {
  const uint64_t high = 0xffff'8000'0000'1000ull;
  ASSERT_TRUE(fl.map(high, 0x9000'0000, 4096));
  const Translation t = run(req(high | 0x44));
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_EQ(t.output, 0x9000'0044u);
  EXPECT_EQ(fault(0x0000'8000'0000'0000ull), FaultReason::SmFlNonCanonical);
  EXPECT_EQ(fault(0xffff'0000'0000'1000ull), FaultReason::SmFlNonCanonical);
  EXPECT_EQ(fault(0x0001'0000'0000'0000ull), FaultReason::SmFlNonCanonical);
  EXPECT_EQ(run(req(0x0000'8000'0000'0000ull)).memory_reads, 4u);  // no paging entry read
}

TEST_F(WalkFirstLevel, FiveLevelPagingWithFl5lp) {
  caps.cap |= bit(60);
  FirstLevelBuilder fl5(w.tables, 5);
  const uint64_t va = 0x00ab'cdef'1234'5000ull;  // needs 57 bits
  ASSERT_TRUE(fl5.map(va, 0xa000'0000, 4096));
  set_pasid(first_level_pasid(fl5.root_pointer(), /*flpm*/ 1, 22));
  const Translation t = run(req(va | 0x10));
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_EQ(t.output, 0xa000'0010u);
  EXPECT_EQ(t.memory_reads, 2u + 2u + 5u);
  caps.cap &= ~bit(60);
  EXPECT_EQ(fault(va), FaultReason::SmPasidEntryInvalid);
  set_pasid(fl_pasid());
  EXPECT_EQ(fault(va), FaultReason::SmFlNonCanonical);  // 4-level: 48-bit canonical
}

TEST_F(WalkFirstLevel, LargePages) {
  ASSERT_TRUE(fl.map(0x4000'0000, 0x1'0000'0000, k1G));
  ASSERT_TRUE(fl.map(0x20'0000, 0x6000'0000, k2M));
  const Translation g = run(req(0x4abc'def0));
  ASSERT_TRUE(g.ok()) << describe(g.fault);
  EXPECT_EQ(g.output, 0x1'0abc'def0u);
  EXPECT_EQ(g.page_size, k1G);
  EXPECT_EQ(g.memory_reads, 4u + 2u);
  const Translation m = run(req(0x21'2345));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m.output, 0x6001'2345u);
  EXPECT_EQ(m.page_size, k2M);
  // bit 12 of a large leaf is PAT, bits 20:13 are reserved
  const uint64_t pde = fl.entry_address(0x20'0000, 2);
  ASSERT_TRUE(w.mem.write64(pde, w.mem.read64(pde) | bit(12)));
  EXPECT_TRUE(run(req(0x21'2345)).ok());
  ASSERT_TRUE(w.mem.write64(pde, w.mem.read64(pde) | bit(13)));
  EXPECT_EQ(fault(0x21'2345), FaultReason::SmFlEntryReserved);
  // 1 GiB leaves need CAP.FL1GP
  caps.cap &= ~bit(56);
  EXPECT_EQ(fault(0x4abc'def0), FaultReason::SmFlEntryReserved);
}

TEST_F(WalkFirstLevel, EntryAccess_0x70) {
  ASSERT_TRUE(fl.set_raw(1ull << 39, 4, encode_fl_entry(TableWorld::kUnbacked, FlFlags{})));
  EXPECT_EQ(fault(1ull << 39), FaultReason::SmFlEntryAccess);
  set_pasid(first_level_pasid(TableWorld::kUnbacked, 0, 21));
  EXPECT_EQ(fault(0x40'1000), FaultReason::SmFlEntryAccess);
}

TEST_F(WalkFirstLevel, NotPresent_0x71) {
  EXPECT_EQ(fault(0x80'0000), FaultReason::SmFlEntryNotPresent);
  EXPECT_EQ(fault(0x7fff'ffff'f000ull), FaultReason::SmFlEntryNotPresent);
}

TEST_F(WalkFirstLevel, Reserved_0x72) {
  ASSERT_TRUE(fl.set_raw(2ull << 39, 4, encode_fl_entry(0x1000'0000, FlFlags{true, true, false, /*ps*/ true})));
  EXPECT_EQ(fault(2ull << 39), FaultReason::SmFlEntryReserved);
  const uint64_t pte = fl.entry_address(0x40'1000, 1);
  ASSERT_TRUE(w.mem.write64(pte, w.mem.read64(pte) | bit(7) | bit(8) | bit(62)));  // PAT, G, ignored
  EXPECT_TRUE(run(req(0x40'1000)).ok());
  // a 39-bit host address width makes address bits 51:39 reserved
  caps.cap = (caps.cap & ~(0x3full << 16)) | (38ull << 16);
  ASSERT_TRUE(w.mem.write64(pte, w.mem.read64(pte) | bit(45)));
  EXPECT_EQ(fault(0x40'1000), FaultReason::SmFlEntryReserved);
}

TEST_F(WalkFirstLevel, UserSupervisor_0x81) {
  EXPECT_EQ(fault(0x40'3000), FaultReason::SmFlUserDenied);
  PasidEntry e = fl_pasid();
  e.sre = true;
  set_pasid(e);
  EXPECT_TRUE(run(supervisor(0x40'3000)).ok());
  EXPECT_TRUE(run(supervisor(0x40'1000)).ok());  // supervisor may use user pages
  // U/S must be set at every level for a user request
  const uint64_t l3 = fl.entry_address(0x40'1000, 3);
  ASSERT_TRUE(w.mem.write64(l3, w.mem.read64(l3) & ~4ull));
  EXPECT_EQ(fault(0x40'1000), FaultReason::SmFlUserDenied);
}

TEST_F(WalkFirstLevel, WriteProtect_0x85) {
  EXPECT_EQ(fault(0x40'2000, true), FaultReason::SmWriteDenied);
  EXPECT_TRUE(run(req(0x40'2000)).ok());
  PasidEntry e = fl_pasid();
  e.sre = true;
  set_pasid(e);
  EXPECT_TRUE(run(supervisor(0x40'2000, true)).ok());  // WPE clear: supervisor writes anywhere
  e.wpe = true;
  set_pasid(e);
  EXPECT_EQ(run(supervisor(0x40'2000, true)).fault, FaultReason::SmWriteDenied);
}

TEST_F(WalkFirstLevel, ExecuteDisable_0x82) {
  caps.ecap |= bit(30);  // ERS
  PasidEntry e = fl_pasid();
  e.ere = true;
  set_pasid(e);
  Request r = req(0x40'4000);
  r.execute = true;
  EXPECT_EQ(run(r).fault, FaultReason::SmFlExecuteDenied);
  r.addr = 0x40'1000;
  EXPECT_TRUE(run(r).ok());
  r.addr = 0x40'4000;
  r.execute = false;
  EXPECT_TRUE(run(r).ok());  // XD does not stop reads
}

TEST_F(WalkFirstLevel, TranslationRequestReportsRightsWithoutFaulting) {
  Request r = req(0x40'3000);
  r.at = AddressType::TranslationRequest;
  Translation t = run(r);
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_FALSE(t.rights.read || t.rights.write);  // a supervisor page, a user request
  r.addr = 0x40'2000;
  t = run(r);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t.rights.read);
  EXPECT_FALSE(t.rights.write);
  EXPECT_EQ(t.output, 0x8000'1000u);
  r.addr = 0x80'0000;
  t = run(r);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t.rights.read);
}

// Nested: the first-level tables live at host-physical X and their entries say X + kGpaOffset;
// the second level maps that guest-physical window back, and the data GPA to its host page.
class WalkNested : public WalkFirstLevel {
 protected:
  static constexpr int64_t kGpaOffset = 0x10'0000'0000;  // 64 GiB
  static constexpr uint64_t kDataGpa = 0x2'0000'0000;
  SecondLevelBuilder sl{w.tables, 4};
  FirstLevelBuilder nfl{w.tables, 4, kGpaOffset};

  void SetUp() override {
    WalkFirstLevel::SetUp();
    ASSERT_TRUE(nfl.map(0x40'1000, kDataGpa, 4096));
    ASSERT_TRUE(nfl.map(0x40'2000, kDataGpa + 0x1000, 4096));
    ASSERT_TRUE(sl.map_range(TableWorld::kTablesBase + kGpaOffset, TableWorld::kTablesBase, TableWorld::kTablesSize,
                             SlMapping{}, k2M));
    ASSERT_TRUE(sl.map(kDataGpa, 0x8000'0000, 4096));
    ASSERT_TRUE(sl.map(kDataGpa + 0x1000, 0x8000'1000, 4096, SlMapping{true, false}));
    set_pasid(nested());
  }
  PasidEntry nested(uint64_t flptptr = 0) const {
    return nested_pasid(flptptr ? flptptr : nfl.root_pointer(), 0, sl.root(), 2, 23);
  }
};

TEST_F(WalkNested, TranslatesThroughBothLevels) {
  w.mem.reset_reads();
  const Translation t = run(req(0x40'1234, true));
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_EQ(t.output, 0x8000'0234u);
  EXPECT_EQ(t.page_size, 4096u);
  EXPECT_EQ(t.domain_id, 23);
  // context 2 + PASID 2 + FL 4 + 4 table pointers x 3 (2 MiB second-level leaves) + output 4
  EXPECT_EQ(t.memory_reads, 2u + 2u + 4u + 4u * 3u + 4u);
  EXPECT_EQ(w.mem.reads(), t.memory_reads);
}

TEST_F(WalkNested, OutputSecondLevelRightsApply) {
  EXPECT_EQ(fault(0x40'2000, true), FaultReason::SmWriteDenied);
  EXPECT_TRUE(run(req(0x40'2000)).ok());
  ASSERT_TRUE(nfl.map(0x40'5000, kDataGpa + 0x5000, 4096));  // GPA not mapped by the second level
  EXPECT_EQ(fault(0x40'5000), FaultReason::SmSlPermission);
  Request r = req(0x40'2000, true);
  r.at = AddressType::TranslationRequest;
  const Translation t = run(r);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t.rights.read);
  EXPECT_FALSE(t.rights.write);  // FL says writable, SL says read-only
}

TEST_F(WalkNested, FlPml4Access_0x73) {
  ASSERT_TRUE(sl.map(0x30'0000'0000, TableWorld::kUnbacked, 4096));
  set_pasid(nested(0x30'0000'0000));
  EXPECT_EQ(fault(0x40'1000), FaultReason::SmNestedFlPml4Access);
}

TEST_F(WalkNested, AddressBeyondSecondLevel_0x74) {
  set_pasid(nested(1ull << 49));
  EXPECT_EQ(fault(0x40'1000), FaultReason::SmNestedFlAddressBeyond);
  set_pasid(nested());
  ASSERT_TRUE(nfl.map(0x40'6000, 1ull << 50, 4096));  // output GPA beyond 48 bits
  EXPECT_EQ(fault(0x40'6000), FaultReason::SmNestedFlAddressBeyond);
}

TEST_F(WalkNested, FlPml4NotReadable_0x75) {
  set_pasid(nested(0x31'0000'0000));  // not mapped by the second level
  EXPECT_EQ(fault(0x40'1000), FaultReason::SmNestedFlPml4Read);
  ASSERT_TRUE(sl.map(0x31'0000'0000, TableWorld::kTablesBase, 4096, SlMapping{false, true}));  // write-only
  EXPECT_EQ(fault(0x40'1000), FaultReason::SmNestedFlPml4Read);
}

TEST_F(WalkNested, FlTableNotReadable_0x76) {
  ASSERT_TRUE(nfl.set_raw(1ull << 39, 4, encode_fl_entry(0x32'0000'0000, FlFlags{})));
  EXPECT_EQ(fault(1ull << 39), FaultReason::SmNestedFlRead);
}

TEST_F(WalkNested, SecondLevelFaultsInsideTablePointers) {
  ASSERT_TRUE(sl.set_raw(0x33'0000'0000, 3, ~0ull));  // all-ones second-level entry
  set_pasid(nested(0x33'0000'0000));
  EXPECT_EQ(fault(0x40'1000), FaultReason::SmSlEntryReserved);
}

}  // namespace
