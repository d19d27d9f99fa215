// Scalable-mode translation (RTADDR.TTM = 01): scalable root/context entries, PASID directory and
// table, PGTT second-level and pass-through, RID_PASID, and the scalable fault reasons of those
// stages and of the second-level walk.
#include <gtest/gtest.h>

#include "iommu/sparse_memory.h"
#include "iommu/walk.h"

using namespace pciesim;
using namespace pciesim::vtd;
using test::TableWorld;

namespace {

class WalkScalable : public ::testing::Test {
 protected:
  TableWorld w;
  // Sapphire Rapids: SAGAW 48-bit only, SC, DT, PT, NEST, FLTS, SLTS, SRS, RPS, MTS, PSS 19; no ERS.
  Capabilities caps = Capabilities::server();
  RootTableBuilder roots{w.tables, TableMode::Scalable};
  PasidTableBuilder pasids{w.tables, 2};  // 512 directory entries: PASIDs below 2^15
  SecondLevelBuilder sl{w.tables, 4};
  RequesterId dev = RequesterId::from_bdf(3, 0, 0);

  void SetUp() override {
    ASSERT_TRUE(roots.set_context(dev, scalable_context(pasids.directory(), 2, 0, true, true)));
    ASSERT_TRUE(pasids.set(0, second_level_pasid(sl.root(), 2, 5)));
    ASSERT_TRUE(sl.map(0x1000, 0x8000'0000, 4096));
    ASSERT_TRUE(sl.map(0x2000, 0x8000'1000, 4096, SlMapping{true, false}));
    ASSERT_TRUE(sl.map(0x3000, 0x8000'2000, 4096, SlMapping{false, true}));
  }
  Request req(uint64_t addr, bool write = false) const {
    Request r;
    r.source = dev;
    r.addr = addr;
    r.write = write;
    return r;
  }
  Request with_pasid(uint64_t addr, uint32_t pasid, bool write = false) const {
    Request r = req(addr, write);
    r.has_pasid = true;
    r.pasid = pasid;
    return r;
  }
  Translation run(const Request& r) { return translate(w.mem, roots.rtaddr(), caps, r); }
  FaultReason fault(uint64_t addr, bool write = false) { return run(req(addr, write)).fault; }
  uint64_t context_at() const { return roots.context_entry_address(dev); }
  uint64_t pasid_at(uint32_t pasid) const { return pasids.entry_address(pasid); }
};

TEST_F(WalkScalable, SecondLevelThroughRidPasidCountsEveryRead) {
  w.mem.reset_reads();
  const Translation t = run(req(0x1abc, true));
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_EQ(t.output, 0x8000'0abcu);
  EXPECT_EQ(t.domain_id, 5);
  EXPECT_EQ(t.memory_reads, 2u + 2u + 4u);  // root, context, PASID dir, PASID entry, 4 levels
  EXPECT_EQ(w.mem.reads(), t.memory_reads);
}

TEST_F(WalkScalable, StagesDecodeWhatTheBuilderWrote) {
  const ContextResult c = lookup_context(w.mem, roots.rtaddr(), dev, caps);
  ASSERT_TRUE(c.ok()) << describe(c.fault);
  EXPECT_EQ(c.mode, TableMode::Scalable);
  EXPECT_TRUE(c.entry.scalable && c.entry.pasid_enable && c.entry.dte);
  EXPECT_EQ(c.entry.pdts, 2u);
  EXPECT_EQ(c.entry.pasid_dir_ptr, pasids.directory());
  const PasidResult p = lookup_pasid(w.mem, c.entry, 0, caps);
  ASSERT_TRUE(p.ok()) << describe(p.fault);
  EXPECT_EQ(p.memory_reads, 2u);
  EXPECT_EQ(p.entry.type(), Pgtt::SecondLevel);
  EXPECT_EQ(p.entry.ssptptr, sl.root());
  EXPECT_EQ(p.entry.sl_levels(), 4);
  EXPECT_EQ(p.entry.did, 5);
}

TEST_F(WalkScalable, RidPasidSelectsThePasidEntryOnlyWithRps) {
  SecondLevelBuilder other(w.tables, 4);
  ASSERT_TRUE(other.map(0x1000, 0x9000'0000, 4096));
  ASSERT_TRUE(pasids.set(17, second_level_pasid(other.root(), 2, 17)));
  ASSERT_TRUE(roots.set_context(dev, scalable_context(pasids.directory(), 2, /*rid_pasid*/ 17, true, true)));
  Translation t = run(req(0x1000));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.output, 0x9000'0000u);
  EXPECT_EQ(t.domain_id, 17);
  caps.ecap &= ~bit(49);  // no RPS: RID_PASID is 0
  t = run(req(0x1000));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.output, 0x8000'0000u);
  EXPECT_EQ(t.domain_id, 5);
}

TEST_F(WalkScalable, RequestsWithPasidUseTheirOwnEntry) {
  SecondLevelBuilder other(w.tables, 4);
  ASSERT_TRUE(other.map(0x5000, 0xa000'0000, 4096));
  ASSERT_TRUE(pasids.set(0x1234, second_level_pasid(other.root(), 2, 9)));
  const Translation t = run(with_pasid(0x5008, 0x1234));
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_EQ(t.output, 0xa000'0008u);
  EXPECT_EQ(t.domain_id, 9);
}

TEST_F(WalkScalable, PassThroughPgtt) {
  ASSERT_TRUE(pasids.set(0, pass_through_pasid(11)));
  const Translation t = run(req(0x1234'5678, true));
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t.pass_through);
  EXPECT_EQ(t.output, 0x1234'5678u);
  EXPECT_EQ(t.domain_id, 11);
  EXPECT_EQ(t.memory_reads, 4u);
  caps.ecap &= ~bit(6);  // PT not supported: invalid PASID entry
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidEntryInvalid);
}

TEST_F(WalkScalable, InvalidRootTable_0x30) {
  caps.ecap &= ~bit(43);  // no SMTS
  EXPECT_EQ(fault(0x1000), FaultReason::SmRootTableInvalid);
  EXPECT_EQ(run(req(0x1000)).memory_reads, 0u);
}

TEST_F(WalkScalable, TtmZeroWithPasid_0x31) {
  RootTableBuilder legacy(w.tables, TableMode::Legacy);
  Request r = with_pasid(0x1000, 1);
  EXPECT_EQ(translate(w.mem, legacy.rtaddr(), caps, r).fault, FaultReason::SmTtmZeroWithPasid);
}

TEST_F(WalkScalable, RootAccess_0x38) {
  EXPECT_EQ(translate(w.mem, make_rtaddr(TableWorld::kUnbacked, TableMode::Scalable), caps, req(0)).fault,
            FaultReason::SmRootAccess);
}

TEST_F(WalkScalable, RootNotPresent_0x39) {
  Request r = req(0x1000);
  r.source = RequesterId::from_bdf(4, 0, 0);
  EXPECT_EQ(run(r).fault, FaultReason::SmRootNotPresent);
  r.source = RequesterId{3, 0x80};  // lower half present, upper not
  EXPECT_EQ(run(r).fault, FaultReason::SmRootNotPresent);
}

TEST_F(WalkScalable, RootReserved_0x3A) {
  const uint64_t re = roots.root_entry_address(3);
  ASSERT_TRUE(w.mem.write64(re, w.mem.read64(re) | 0x20));
  EXPECT_EQ(fault(0x1000), FaultReason::SmRootReserved);
  // the unused (upper, not present) half is not checked
  ASSERT_TRUE(w.mem.write64(re, w.mem.read64(re) & ~0x20ull));
  ASSERT_TRUE(w.mem.write64(re + 8, 0x20));
  EXPECT_TRUE(run(req(0x1000)).ok());
}

TEST_F(WalkScalable, ContextAccess_0x40) {
  ASSERT_TRUE(w.mem.write64(roots.root_entry_address(3), TableWorld::kUnbacked | 1));
  EXPECT_EQ(fault(0x1000), FaultReason::SmContextAccess);
}

TEST_F(WalkScalable, ContextNotPresent_0x41) {
  Request r = req(0x1000);
  r.source = RequesterId::from_bdf(3, 1, 0);
  EXPECT_EQ(run(r).fault, FaultReason::SmContextNotPresent);
}

TEST_F(WalkScalable, ContextReserved_0x42) {
  const uint64_t ce = context_at();
  const uint64_t lo = w.mem.read64(ce);
  ASSERT_TRUE(w.mem.write64(ce + 16, 1));  // bits 191:128
  EXPECT_EQ(fault(0x1000), FaultReason::SmContextReserved);
  ASSERT_TRUE(w.mem.write64(ce + 16, 0));
  ASSERT_TRUE(w.mem.write64(ce, lo | bit(4)));  // PRE without ECAP.PRS
  EXPECT_EQ(fault(0x1000), FaultReason::SmContextReserved);
  ASSERT_TRUE(w.mem.write64(ce, lo | bit(6)));  // bits 8:5
  EXPECT_EQ(fault(0x1000), FaultReason::SmContextReserved);
  ASSERT_TRUE(w.mem.write64(ce, lo));
  ASSERT_TRUE(w.mem.write64(ce + 8, bit(30)));  // bits 127:85
  EXPECT_EQ(fault(0x1000), FaultReason::SmContextReserved);
  ASSERT_TRUE(w.mem.write64(ce + 8, 0));
  caps.ecap &= ~bit(2);  // DTE without ECAP.DT
  EXPECT_EQ(fault(0x1000), FaultReason::SmContextReserved);
}

TEST_F(WalkScalable, ContextInvalid_0x43) {
  caps.ecap = (caps.ecap & ~(0x1full << 35)) | (9ull << 35);  // 10-bit PASIDs: PDTS 2 is too big
  EXPECT_EQ(fault(0x1000), FaultReason::SmContextInvalid);
}

TEST_F(WalkScalable, DeviceTlbDisabled_0x44) {
  ASSERT_TRUE(roots.set_context(dev, scalable_context(pasids.directory(), 2, 0, true, /*dte*/ false)));
  Request r = req(0x1000);
  r.at = AddressType::TranslationRequest;
  EXPECT_EQ(run(r).fault, FaultReason::SmDeviceTlbDisabled);
  r.at = AddressType::Translated;
  EXPECT_EQ(run(r).fault, FaultReason::SmDeviceTlbDisabled);
  r.at = AddressType::Untranslated;
  EXPECT_TRUE(run(r).ok());
}

TEST_F(WalkScalable, AtsWithDteReportsRightsAndPassesTranslated) {
  Request r = req(0x2000, true);
  r.at = AddressType::TranslationRequest;
  const Translation t = run(r);
  ASSERT_TRUE(t.ok()) << describe(t.fault);
  EXPECT_EQ(t.output, 0x8000'1000u);
  EXPECT_TRUE(t.rights.read);
  EXPECT_FALSE(t.rights.write);
  r.at = AddressType::Translated;
  const Translation p = run(r);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.pass_through);
  EXPECT_EQ(p.output, 0x2000u);
}

TEST_F(WalkScalable, PasidDisabled_0x45) {
  ASSERT_TRUE(roots.set_context(dev, scalable_context(pasids.directory(), 2, 0, /*paside*/ false, true)));
  EXPECT_EQ(run(with_pasid(0x1000, 0)).fault, FaultReason::SmPasidDisabled);
  EXPECT_TRUE(run(req(0x1000)).ok());
}

TEST_F(WalkScalable, PasidTooLarge_0x46) {
  EXPECT_EQ(run(with_pasid(0x1000, 1u << 15)).fault, FaultReason::SmPasidTooLarge);
  EXPECT_EQ(run(with_pasid(0x1000, (1u << 15) - 1)).fault, FaultReason::SmPasidDirNotPresent);
}

TEST_F(WalkScalable, RidPasidError_0x48) {
  ASSERT_TRUE(roots.set_context(dev, scalable_context(pasids.directory(), 2, /*rid_pasid*/ 1u << 16, true, true)));
  EXPECT_EQ(fault(0x1000), FaultReason::SmRidPasidError);
}

TEST_F(WalkScalable, PasidDirAccess_0x50) {
  ASSERT_TRUE(roots.set_context(dev, scalable_context(TableWorld::kUnbacked, 2, 0, true, true)));
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidDirAccess);
}

TEST_F(WalkScalable, PasidDirNotPresent_0x51) {
  EXPECT_EQ(run(with_pasid(0x1000, 64)).fault, FaultReason::SmPasidDirNotPresent);
}

TEST_F(WalkScalable, PasidDirReserved_0x52) {
  const uint64_t de = pasids.dir_entry_address(0);
  ASSERT_TRUE(w.mem.write64(de, w.mem.read64(de) | bit(3)));
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidDirReserved);
}

TEST_F(WalkScalable, PasidEntryAccess_0x58) {
  ASSERT_TRUE(w.mem.write64(pasids.dir_entry_address(0), TableWorld::kUnbacked | 1));
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidEntryAccess);
}

TEST_F(WalkScalable, PasidEntryNotPresent_0x59) {
  EXPECT_EQ(run(with_pasid(0x1000, 1)).fault, FaultReason::SmPasidEntryNotPresent);
}

TEST_F(WalkScalable, PasidEntryReserved_0x5A) {
  const uint64_t pe = pasid_at(0);
  ASSERT_TRUE(w.mem.write64(pe + 24, 1));  // bits 255:192
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidEntryReserved);
  ASSERT_TRUE(w.mem.write64(pe + 24, 0));
  ASSERT_TRUE(w.mem.write64(pe + 56, bit(63)));  // bits 511:448
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidEntryReserved);
  ASSERT_TRUE(w.mem.write64(pe + 56, 0));
  ASSERT_TRUE(w.mem.write64(pe + 16, bit(1)));  // ERE without ECAP.ERS
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidEntryReserved);
  ASSERT_TRUE(w.mem.write64(pe + 16, bit(0)));  // SRE: the server has SRS
  EXPECT_TRUE(run(req(0x1000)).ok());
  caps.ecap &= ~bit(31);
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidEntryReserved);
  ASSERT_TRUE(w.mem.write64(pe + 16, 0));
  ASSERT_TRUE(w.mem.write64(pe + 8, w.mem.read64(pe + 8) | bit(24)));  // PGSNP: the server has SC
  EXPECT_TRUE(run(req(0x1000)).ok());
  caps.ecap &= ~bit(7);
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidEntryReserved);
}

TEST_F(WalkScalable, PasidEntryInvalid_0x5B) {
  PasidEntry e = second_level_pasid(sl.root(), 2, 5);
  for (unsigned pgtt : {0u, 5u, 6u, 7u}) {
    e.pgtt = pgtt;
    ASSERT_TRUE(pasids.set(0, e));
    EXPECT_EQ(fault(0x1000), FaultReason::SmPasidEntryInvalid) << "PGTT " << pgtt;
  }
  e = second_level_pasid(sl.root(), 1, 5);  // 39-bit: not in the server's SAGAW
  ASSERT_TRUE(pasids.set(0, e));
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidEntryInvalid);
  ASSERT_TRUE(pasids.set(0, first_level_pasid(sl.root(), /*flpm*/ 1, 5)));  // 5-level without FL5LP
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidEntryInvalid);
  ASSERT_TRUE(pasids.set(0, nested_pasid(sl.root(), 0, sl.root(), 2, 5)));
  caps.ecap &= ~bit(26);  // nested without NEST
  EXPECT_EQ(fault(0x1000), FaultReason::SmPasidEntryInvalid);
}

TEST_F(WalkScalable, ExecuteNeedsEre_0x5C) {
  Request r = with_pasid(0x1000, 0);
  r.execute = true;
  EXPECT_EQ(run(r).fault, FaultReason::SmExecuteDisabled);
  caps.ecap |= bit(30);  // ERS, then ERE
  PasidEntry e = second_level_pasid(sl.root(), 2, 5);
  e.ere = true;
  ASSERT_TRUE(pasids.set(0, e));
  EXPECT_TRUE(run(r).ok());
}

TEST_F(WalkScalable, SupervisorNeedsSre_0x5D) {
  Request r = with_pasid(0x1000, 0);
  r.privileged = true;
  EXPECT_EQ(run(r).fault, FaultReason::SmSupervisorDisabled);
  PasidEntry e = second_level_pasid(sl.root(), 2, 5);
  e.sre = true;
  ASSERT_TRUE(pasids.set(0, e));
  EXPECT_TRUE(run(r).ok());
  // privilege is carried only by the PASID prefix: a request without PASID is never supervisor
  e.sre = false;
  ASSERT_TRUE(pasids.set(0, e));
  r.has_pasid = false;
  EXPECT_TRUE(run(r).ok());
}

TEST_F(WalkScalable, SecondLevelEntryAccess_0x78) {
  ASSERT_TRUE(sl.set_raw(1ull << 39, 4, encode_sl_entry(TableWorld::kUnbacked, true, true)));
  EXPECT_EQ(fault(1ull << 39), FaultReason::SmSlEntryAccess);
}

TEST_F(WalkScalable, SecondLevelNotPresent_0x79) {
  EXPECT_EQ(fault(0x40'0000), FaultReason::SmSlPermission);
  EXPECT_EQ(fault(0x40'0000, true), FaultReason::SmSlPermission);
}

TEST_F(WalkScalable, SecondLevelReserved_0x7A) {
  ASSERT_TRUE(sl.set_raw(2ull << 39, 4, encode_sl_entry(0x1000'0000, true, true, /*ps*/ true)));
  EXPECT_EQ(fault(2ull << 39), FaultReason::SmSlEntryReserved);
  const uint64_t pte = sl.entry_address(0x1000, 1);
  ASSERT_TRUE(w.mem.write64(pte, w.mem.read64(pte) | bit(62)));  // TM: ignored in scalable mode
  EXPECT_TRUE(run(req(0x1000)).ok());
}

TEST_F(WalkScalable, AddressBeyondMax_0x83) {
  EXPECT_EQ(fault(1ull << 48), FaultReason::SmAddressBeyondMax);
}

TEST_F(WalkScalable, WriteDenied_0x85_ReadDenied_0x86) {
  EXPECT_EQ(fault(0x2000, true), FaultReason::SmWriteDenied);
  EXPECT_EQ(fault(0x3000), FaultReason::SmReadDenied);
}

TEST_F(WalkScalable, OutputInInterruptRange_0x87) {
  ASSERT_TRUE(sl.map(0x9000, 0xfee0'0000, 4096));
  ASSERT_TRUE(sl.map(0xa000, 0xfef0'0000, 4096));
  EXPECT_EQ(fault(0x9010, true), FaultReason::SmOutputInInterruptRange);
  EXPECT_TRUE(run(req(0xa010, true)).ok());
}

TEST_F(WalkScalable, PageSnoopAndSnpForceSnooping) {
  EXPECT_FALSE(run(req(0x1000)).snoop);
  PasidEntry e = second_level_pasid(sl.root(), 2, 5);
  e.pgsnp = true;
  ASSERT_TRUE(pasids.set(0, e));
  EXPECT_TRUE(run(req(0x1000)).snoop);
  ASSERT_TRUE(pasids.set(0, second_level_pasid(sl.root(), 2, 5)));
  ASSERT_TRUE(sl.map(0x8000, 0x8000'8000, 4096, SlMapping{true, true, /*snoop*/ true}));
  EXPECT_TRUE(run(req(0x8000)).snoop);
}

TEST_F(WalkScalable, FpdInPasidStructuresSuppressesQualifiedFaults) {
  PasidEntry e = second_level_pasid(sl.root(), 2, 5);
  e.fpd = true;
  ASSERT_TRUE(pasids.set(0, e));
  const Translation t = run(req(0x40'0000));
  EXPECT_EQ(t.fault, FaultReason::SmSlPermission);
  EXPECT_TRUE(t.fault_suppressed);
  // a directory entry's FPD counts even when it is not present (QEMU vtd_ce_get_pasid_fpd)
  ASSERT_TRUE(w.mem.write64(pasids.dir_entry_address(64), 2));
  const Translation d = run(with_pasid(0x1000, 64));
  EXPECT_EQ(d.fault, FaultReason::SmPasidDirNotPresent);
  EXPECT_TRUE(d.fault_suppressed);
  // reserved fields are always recorded
  ASSERT_TRUE(w.mem.write64(pasid_at(0) + 24, 1));
  const Translation r = run(req(0x1000));
  EXPECT_EQ(r.fault, FaultReason::SmPasidEntryReserved);
  EXPECT_FALSE(r.fault_suppressed);
  // and the context entry's FPD reaches everything below it
  ASSERT_TRUE(roots.set_context(dev, scalable_context(pasids.directory(), 2, 0, true, true, /*fpd*/ true)));
  ASSERT_TRUE(pasids.set(0, second_level_pasid(sl.root(), 2, 5)));
  EXPECT_TRUE(run(req(0x40'0000)).fault_suppressed);
}

}  // namespace
