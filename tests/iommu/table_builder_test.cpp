// The table builder: page allocation, entry encoders against the decoders, and the structures it
// writes read back by the walkers.
#include <gtest/gtest.h>

#include <stdexcept>

#include "iommu/sparse_memory.h"
#include "iommu/walk.h"

using namespace pciesim;
using namespace pciesim::vtd;
using test::SparseMemory;
using test::TableWorld;

namespace {

TEST(TableBuilderAllocator, ContiguousPagesFreeListAndExhaustion) {
  PageAllocator pages(0x10'0800, 4 * kPageSize);  // unaligned base: rounded up, 3 whole pages left
  EXPECT_EQ(pages.base(), 0x10'1000u);
  const uint64_t a = pages.alloc(2);
  EXPECT_EQ(a, 0x10'1000u);
  const uint64_t b = pages.alloc();
  EXPECT_EQ(b, 0x10'3000u);
  EXPECT_EQ(pages.alloc(), 0u);  // used up
  EXPECT_EQ(pages.pages_in_use(), 3u);
  pages.free(a);
  EXPECT_EQ(pages.alloc(), a);   // reused
  EXPECT_EQ(pages.alloc(2), 0u); // the free list does not merge
  EXPECT_EQ(pages.alloc(0), 0u);
  EXPECT_THROW(PageAllocator(0, kPageSize * 4), std::invalid_argument);
}

TEST(TableBuilderAllocator, NewTablesAreZeroed) {
  TableWorld w;
  const uint64_t p = w.pages.alloc();
  ASSERT_TRUE(w.mem.write64(p + 64, 0xdead));
  w.pages.free(p);
  EXPECT_EQ(w.tables.new_table(), p);
  EXPECT_EQ(w.mem.read64(p + 64), 0u);
}

TEST(TableBuilderAllocator, UnwritableMemoryFailsCleanly) {
  SparseMemory mem(0, 0x1000);  // the allocator's range is not backed
  PageAllocator pages(0x10'0000, 16 * kPageSize);
  TableMemory tables(mem, mem, pages);
  EXPECT_EQ(tables.new_table(), 0u);
  SecondLevelBuilder sl(tables, 4);
  EXPECT_FALSE(sl.ok());
  EXPECT_FALSE(sl.map(0, 0, kPageSize));
}

TEST(TableBuilderEntries, EncodersRoundTripThroughDecoders) {
  ContextEntry l = legacy_context(0x1234'5000, 2, 0xbeef, 1, true);
  l.avail = 5;
  const ContextEntry ld = decode_legacy_context(encode_legacy_context(l));
  EXPECT_TRUE(ld.present && ld.fpd);
  EXPECT_EQ(ld.tt, 1u);
  EXPECT_EQ(ld.aw, 2u);
  EXPECT_EQ(ld.did, 0xbeef);
  EXPECT_EQ(ld.avail, 5u);
  EXPECT_EQ(ld.slptptr, 0x1234'5000u);
  EXPECT_EQ(ld.levels(), 4);

  ContextEntry s = scalable_context(0x5555'6000, 7, 0xabcde, true, true, true);
  s.pre = true;
  s.rid_priv = true;
  const ContextEntry sd = decode_scalable_context(encode_scalable_context(s));
  EXPECT_TRUE(sd.scalable && sd.present && sd.fpd && sd.dte && sd.pasid_enable && sd.pre && sd.rid_priv);
  EXPECT_EQ(sd.pdts, 7u);
  EXPECT_EQ(sd.pasid_dir_ptr, 0x5555'6000u);
  EXPECT_EQ(sd.rid_pasid, 0xabcdeu);

  PasidEntry p = nested_pasid(0x7777'7000, 1, 0x8888'8000, 3, 0x4321);
  p.fpd = p.ssade = p.pwsnp = p.pgsnp = p.sre = p.ere = p.wpe = p.eafe = true;
  const PasidRaw raw = encode_pasid_entry(p);
  const PasidEntry pd = decode_pasid_entry(raw);
  EXPECT_TRUE(pd.present && pd.fpd && pd.ssade && pd.pwsnp && pd.pgsnp && pd.sre && pd.ere && pd.wpe && pd.eafe);
  EXPECT_EQ(pd.type(), Pgtt::Nested);
  EXPECT_EQ(pd.aw, 3u);
  EXPECT_EQ(pd.flpm, 1u);
  EXPECT_EQ(pd.did, 0x4321);
  EXPECT_EQ(pd.flptptr, 0x7777'7000u);
  EXPECT_EQ(pd.ssptptr, 0x8888'8000u);
  // the positions Linux's pasid.h setters use
  EXPECT_EQ((raw[0] >> 6) & 7, 3u);          // PGTT 8:6
  EXPECT_EQ((raw[0] >> 2) & 7, 3u);          // AW 4:2
  EXPECT_EQ(raw[1] & 0xffff, 0x4321u);       // DID 79:64
  EXPECT_TRUE(raw[1] & bit(24));             // PGSNP 88
  EXPECT_TRUE(raw[2] & 1);                   // SRE 128
  EXPECT_EQ((raw[2] >> 2) & 3, 1u);          // FLPM 131:130
  EXPECT_TRUE(raw[2] & bit(4));              // WPE 132

  const SlEntry e = decode_sl_entry(encode_sl_entry(0xf'ffff'f000, true, false, true, true));
  EXPECT_TRUE(e.read && !e.write && e.ps && e.snp);
  EXPECT_EQ(e.addr, 0xf'ffff'f000u);
  const FlEntry f = decode_fl_entry(encode_fl_entry(0x1'2345'6000, FlFlags{false, true, true, true, true, true}));
  EXPECT_TRUE(f.present && !f.write && f.user && f.xd && f.ps && f.accessed && f.dirty);
  EXPECT_EQ(f.addr, 0x1'2345'6000u);
  EXPECT_EQ(decode_rtaddr(make_rtaddr(0xabc000, TableMode::Scalable)).mode, TableMode::Scalable);
  EXPECT_EQ(decode_rtaddr(make_rtaddr(0xabc000, TableMode::Scalable)).base, 0xabc000u);
}

TEST(TableBuilderContext, LegacyRootAndContextTables) {
  TableWorld w;
  RootTableBuilder roots(w.tables, TableMode::Legacy);
  ASSERT_TRUE(roots.ok());
  EXPECT_EQ(roots.rtaddr() & 0xc00, 0u);
  const RequesterId a = RequesterId::from_bdf(2, 0x1f, 7), b = RequesterId::from_bdf(2, 0, 0);
  EXPECT_EQ(roots.context_entry_address(a), 0u);  // no context table yet
  ASSERT_TRUE(roots.set_context(a, legacy_context(0x2000'0000, 1, 42)));
  ASSERT_TRUE(roots.set_context(b, legacy_context(0x3000'0000, 1, 43)));
  const uint64_t re = w.mem.read64(roots.root_entry_address(2));
  EXPECT_TRUE(re & 1);
  EXPECT_EQ(roots.context_entry_address(a), (re & kPageMask) + 0xff * 16);
  const Capabilities caps = Capabilities::qemu_7_2();
  const ContextResult ra = lookup_context(w.mem, roots.rtaddr(), a, caps);
  ASSERT_TRUE(ra.ok()) << describe(ra.fault);
  EXPECT_EQ(ra.entry.did, 42);
  EXPECT_EQ(ra.entry.slptptr, 0x2000'0000u);
  EXPECT_EQ(lookup_context(w.mem, roots.rtaddr(), b, caps).entry.did, 43);
  ASSERT_TRUE(roots.clear_context(a));
  EXPECT_EQ(lookup_context(w.mem, roots.rtaddr(), a, caps).fault, FaultReason::ContextNotPresent);
  EXPECT_TRUE(lookup_context(w.mem, roots.rtaddr(), b, caps).ok());
  EXPECT_FALSE(roots.clear_context(RequesterId::from_bdf(9, 0, 0)));
}

TEST(TableBuilderContext, ScalableLowerAndUpperContextTables) {
  TableWorld w;
  RootTableBuilder roots(w.tables, TableMode::Scalable);
  EXPECT_EQ((roots.rtaddr() >> 10) & 3, 1u);
  const RequesterId lo = RequesterId{7, 0x7f}, hi = RequesterId{7, 0x80};
  ASSERT_TRUE(roots.set_context(lo, scalable_context(0x2000'0000, 2, 0)));
  EXPECT_EQ(roots.context_entry_address(hi), 0u);  // the upper table is created on demand
  ASSERT_TRUE(roots.set_context(hi, scalable_context(0x3000'0000, 2, 5)));
  const uint64_t at = roots.root_entry_address(7);
  const uint64_t lctp = w.mem.read64(at), uctp = w.mem.read64(at + 8);
  EXPECT_TRUE((lctp & 1) && (uctp & 1));
  EXPECT_NE(lctp & kPageMask, uctp & kPageMask);
  EXPECT_EQ(roots.context_entry_address(lo), (lctp & kPageMask) + 0x7f * 32);
  EXPECT_EQ(roots.context_entry_address(hi), (uctp & kPageMask) + 0);
  const Capabilities caps = Capabilities::server();
  EXPECT_EQ(lookup_context(w.mem, roots.rtaddr(), lo, caps).entry.pasid_dir_ptr, 0x2000'0000u);
  const ContextResult rh = lookup_context(w.mem, roots.rtaddr(), hi, caps);
  ASSERT_TRUE(rh.ok()) << describe(rh.fault);
  EXPECT_EQ(rh.entry.pasid_dir_ptr, 0x3000'0000u);
  EXPECT_EQ(rh.entry.rid_pasid, 5u);
}

TEST(TableBuilderPasid, DirectoryAndTablesOnDemand) {
  TableWorld w;
  PasidTableBuilder pasids(w.tables, 7);  // 2^14 directory entries: 32 pages
  ASSERT_TRUE(pasids.ok());
  EXPECT_EQ(w.pages.pages_in_use(), 32u);
  EXPECT_EQ(pasids.entry_address(100), 0u);
  ASSERT_TRUE(pasids.set(100, pass_through_pasid(3)));
  ASSERT_TRUE(pasids.set(101, second_level_pasid(0x4000'0000, 2, 4)));
  EXPECT_EQ(w.pages.pages_in_use(), 33u);  // one PASID table for 64..127
  ASSERT_TRUE(pasids.set(0xfffff, pass_through_pasid(9)));
  EXPECT_EQ(pasids.entry_address(101), pasids.entry_address(100) + 64);
  const Capabilities caps = Capabilities::server();
  const ContextEntry ce = scalable_context(pasids.directory(), 7);
  EXPECT_EQ(lookup_pasid(w.mem, ce, 100, caps).entry.type(), Pgtt::PassThrough);
  EXPECT_EQ(lookup_pasid(w.mem, ce, 101, caps).entry.did, 4);
  EXPECT_EQ(lookup_pasid(w.mem, ce, 0xfffff, caps).entry.did, 9);
  ASSERT_TRUE(pasids.clear(100));
  EXPECT_EQ(lookup_pasid(w.mem, ce, 100, caps).fault, FaultReason::SmPasidEntryNotPresent);
  PasidTableBuilder small(w.tables, 0);
  EXPECT_FALSE(small.set(1u << 13, pass_through_pasid(1)));  // beyond its directory
}

TEST(TableBuilderPaging, SecondLevelMapUnmapAndLargePages) {
  TableWorld w;
  const Capabilities caps = Capabilities::server();
  const SlOptions opts = SlOptions::from(caps, true);
  SecondLevelBuilder sl(w.tables, 4);
  ASSERT_TRUE(sl.map(0x1000, 0x8000'0000, kPageSize, SlMapping{true, false}));
  EXPECT_FALSE(sl.map(0x1800, 0x8000'0000, kPageSize));             // misaligned IOVA
  EXPECT_FALSE(sl.map(0x20'0000, 0x8000'1000, 2ull << 20));         // misaligned PA for 2 MiB
  EXPECT_FALSE(sl.map(0x20'0000, 0x8000'0000, 3 * kPageSize));      // no such size
  EXPECT_FALSE(sl.map(0, 0x4000'0000, 1ull << 30));                 // a table is in the way
  ASSERT_TRUE(sl.map(0x4000'0000, 0x4000'0000, 1ull << 30));
  EXPECT_FALSE(sl.map(0x4000'1000, 0x9000'0000, kPageSize));        // a large page is in the way
  Translation t = walk_second_level(w.mem, sl.root(), 4, 0x1010, false, opts);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.output, 0x8000'0010u);
  EXPECT_FALSE(t.rights.write);
  ASSERT_TRUE(sl.unmap(0x1000, kPageSize));
  EXPECT_FALSE(sl.unmap(0x1000, kPageSize));
  EXPECT_EQ(walk_second_level(w.mem, sl.root(), 4, 0x1010, false, opts).fault, FaultReason::SmSlPermission);
  ASSERT_TRUE(sl.unmap(0x4000'0000, 1ull << 30));
  // map_range picks 2 MiB leaves where alignment allows
  ASSERT_TRUE(sl.map_range(0x1'0000'0000 - 0x1000, 0x2'0000'0000 - 0x1000, 0x40'2000, SlMapping{}, 2ull << 20));
  EXPECT_NE(w.mem.read64(sl.entry_address(0x1'0000'0000, 2)) & bit(7), 0u);
  EXPECT_EQ(w.mem.read64(sl.entry_address(0x1'0000'0000 - 0x1000, 1)) & kPageMask, 0x2'0000'0000u - 0x1000);
  t = walk_second_level(w.mem, sl.root(), 4, 0x1'0020'0000 + 0x123, true, opts);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.output, 0x2'0020'0123u);
  EXPECT_EQ(t.page_size, 2ull << 20);
  t = walk_second_level(w.mem, sl.root(), 4, 0x1'0040'0000, true, opts);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.page_size, kPageSize);
}

TEST(TableBuilderPaging, FirstLevelEntriesHoldOffsetTableAddresses) {
  TableWorld w;
  constexpr int64_t kOffset = 0x100'0000'0000;
  FirstLevelBuilder fl(w.tables, 4, kOffset);
  EXPECT_EQ(fl.root_pointer(), fl.root() + kOffset);
  ASSERT_TRUE(fl.map(0x40'0000, 0x5000'0000, 2ull << 20, FlMapping{false, false, true, true}));
  const uint64_t pml4e = w.mem.read64(fl.root());
  EXPECT_EQ(pml4e & 0x7, 0x7u);  // P, R/W, U/S on intermediate entries
  EXPECT_GE(pml4e & kPageMask, static_cast<uint64_t>(kOffset));
  const FlEntry leaf = decode_fl_entry(w.mem.read64(fl.entry_address(0x40'0000, 2)));
  EXPECT_TRUE(leaf.present && leaf.ps && leaf.xd && leaf.dirty && !leaf.write && !leaf.user);
  EXPECT_EQ(leaf.addr, 0x5000'0000u);
  ASSERT_TRUE(fl.unmap(0x40'0000, 2ull << 20));
  EXPECT_EQ(w.mem.read64(fl.entry_address(0x40'0000, 2)), 0u);
}

TEST(TableBuilderPaging, RawEntriesForHostileTables) {
  TableWorld w;
  SecondLevelBuilder sl(w.tables, 3);
  ASSERT_TRUE(sl.set_raw(0x7f'ffff'f000, 1, 0x0123'4567'89ab'cdefull));
  const uint64_t at = sl.entry_address(0x7f'ffff'f000, 1);
  ASSERT_NE(at, 0u);
  EXPECT_EQ(w.mem.read64(at), 0x0123'4567'89ab'cdefull);
  EXPECT_EQ(at & 0xfff, 511u * 8);
  EXPECT_FALSE(sl.set_raw(0, 4, 0));  // no level 4 in a 3-level table
  EXPECT_EQ(sl.entry_address(0x1000, 0), 0u);
}

}  // namespace
