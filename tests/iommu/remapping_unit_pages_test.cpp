// A DMA whose bytes span more than one page: the unit translates every page it touches, as it
// translates every TLP a device sends for it (PCIe 6.0 2.2.7: no TLP crosses a 4 KiB boundary),
// and never hands the bytes past a page on as if the IOVA range were physically contiguous
// (RemappingUnit::hand_on_pages).
#include <vector>

#include "iommu/fault_recorder.h"
#include "iommu/vtd_programmer.h"
#include "pcie/fabric_fixture.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {

std::string with_iommu() {
  return std::string(kAcsTopology) + "iommus:\n  - name: dmar0\n    preset: server\n    include_all: true\n";
}

constexpr uint64_t kIova = 0x10000000;
// Physical pages, none next to another: a DMA that treated the IOVA range as contiguous would
// write the page after kPage0 (kPage0 + 4 KiB), which nothing maps.
constexpr uint64_t kPage0 = 0x01234000, kPage1 = 0x05678000, kPage2 = 0x0389a000;
constexpr uint64_t kSuper = 0x00400000;  // 2 MiB aligned
constexpr uint64_t kIova2M = 0x20000000;

std::vector<uint8_t> pattern(unsigned len, uint8_t seed) {
  std::vector<uint8_t> v(len);
  for (unsigned i = 0; i < len; ++i) v[i] = static_cast<uint8_t>(seed + 7 * i + (i >> 8));
  return v;
}

struct PagesInFabric : ::testing::Test {
  std::unique_ptr<Fabric> f = make_fabric(with_iommu());
  vtd::VtdProgrammer drv{*f, "dmar0"};
  RequesterId a = fn(*f, "epA").bdf();
  vtd::SecondLevelBuilder& dom = drv.attach(a, 7);

  void SetUp() override { bus_master(*f, "epA"); }
  void enable() {
    drv.set_root_table();
    drv.enable_translation();
  }
  std::vector<uint8_t> dram(uint64_t pa, unsigned len) {
    std::vector<uint8_t> v(len);
    f->dram().read(pa, v.data(), len);
    return v;
  }
  void fill_dram(uint64_t pa, const std::vector<uint8_t>& v) { f->dram().write(pa, v.data(), v.size()); }
  static std::vector<uint8_t> slice(const std::vector<uint8_t>& v, size_t from, size_t n) {
    return {v.begin() + from, v.begin() + from + n};
  }
  vtd::FaultRecord frcd(unsigned i) {
    const uint32_t fro = drv.unit().caps().fro();
    return vtd::decode_frcd(drv.read(fro + 16 * i, 8), drv.read(fro + 16 * i + 8, 8));
  }
  // The server preset has one fault recording register (CAP.NFR = 0): clear it (F is
  // write-1-to-clear, then FSTS) before the next fault, as Linux's fault handler does.
  void clear_fault() {
    drv.write(drv.unit().caps().fro() + 12, 0x80000000u);
    drv.write(vtd::reg::kFsts, 0x3);
  }
};

}  // namespace

TEST_F(PagesInFabric, WriteAcrossPagesLandsWhereEachPageMaps) {
  dom.map(kIova, kPage0, 4096);
  dom.map(kIova + 0x1000, kPage1, 4096);
  enable();
  const std::vector<uint8_t> bytes = pattern(256, 0x31);
  Sent s = send(*f, "epA", TlpKind::MemWrite, kIova + 0xf80, 256, {}, bytes);
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_EQ(path_text(s), "epA.f0 > dpA > sw0.up > rp0 > rc0.host > dmar0 > dram");
  EXPECT_EQ(dram(kPage0 + 0xf80, 128), slice(bytes, 0, 128));
  EXPECT_EQ(dram(kPage1, 128), slice(bytes, 128, 128));
  EXPECT_EQ(dram(kPage0 + 0x1000, 128), std::vector<uint8_t>(128, 0)) << "the bytes past the page went to page 0's neighbour";
  EXPECT_EQ(drv.unit().translations(), 2u);  // one per page
  EXPECT_EQ(drv.unit().faults(), 0u);
}

TEST_F(PagesInFabric, ReadAcrossPagesReadsEachPage) {
  dom.map(kIova, kPage0, 4096);
  dom.map(kIova + 0x1000, kPage1, 4096);
  dom.map(kIova + 0x2000, kPage2, 4096);
  enable();
  const std::vector<uint8_t> p0 = pattern(4096, 0x10), p1 = pattern(4096, 0x60), p2 = pattern(4096, 0xa0);
  fill_dram(kPage0, p0);
  fill_dram(kPage1, p1);
  fill_dram(kPage2, p2);
  fill_dram(kPage0 + 0x1000, std::vector<uint8_t>(4096, 0xee));  // what a contiguous read would see
  // 4000 bytes at an unaligned IOVA (an edu transfer): page 0's tail, page 1's head.
  Sent s = send(*f, "epA", TlpKind::MemRead, kIova + 0x800, 4000);
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_EQ(slice(s.data, 0, 0x800), slice(p0, 0x800, 0x800));
  EXPECT_EQ(slice(s.data, 0x800, 4000 - 0x800), slice(p1, 0, 4000 - 0x800));
  // Three pages.
  Sent three = send(*f, "epA", TlpKind::MemRead, kIova + 0xff0, 0x1020);
  ASSERT_EQ(three.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(slice(three.data, 0, 0x10), slice(p0, 0xff0, 0x10));
  EXPECT_EQ(slice(three.data, 0x10, 0x1000), p1);
  EXPECT_EQ(slice(three.data, 0x1010, 0x10), slice(p2, 0, 0x10));
}

TEST_F(PagesInFabric, CrossingIntoAnUnmappedPageFaultsWithThatPagesAddress) {
  dom.map(kIova, kPage0, 4096);  // kIova + 4 KiB is not mapped
  enable();
  const std::vector<uint8_t> bytes = pattern(256, 0x42);
  Sent s = send(*f, "epA", TlpKind::MemWrite, kIova + 0xf80, 256, {}, bytes);
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(s.verdict.fault_reason, 0x5);  // legacy: no W in the (missing) entry
  EXPECT_EQ(s.at(), "dmar0");
  EXPECT_EQ(path_text(s), "epA.f0 > dpA > sw0.up > rp0 > rc0.host > dmar0");
  EXPECT_EQ(dram(kPage0 + 0xf80, 128), slice(bytes, 0, 128)) << "the first page's TLPs were written";
  EXPECT_EQ(dram(kPage0 + 0x1000, 128), std::vector<uint8_t>(128, 0));
  const vtd::FaultRecord r = frcd(0);
  EXPECT_EQ(r.reason, vtd::FaultReason::WriteDenied);
  EXPECT_EQ(r.address, kIova + 0x1000);
  EXPECT_EQ(r.source_id, a.raw());
  EXPECT_EQ(drv.unit().faults(), 1u);
  clear_fault();

  // A read: the first page's bytes, then all ones (the UR completion) from the faulting page on.
  const std::vector<uint8_t> p0 = pattern(4096, 0x77);
  fill_dram(kPage0, p0);
  fill_dram(kPage0 + 0x1000, std::vector<uint8_t>(4096, 0xee));
  Sent rd = send(*f, "epA", TlpKind::MemRead, kIova + 0xf00, 512);
  EXPECT_EQ(rd.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(rd.verdict.fault_reason, 0x6);  // no R
  EXPECT_EQ(slice(rd.data, 0, 256), slice(p0, 0xf00, 256));
  EXPECT_EQ(slice(rd.data, 256, 256), std::vector<uint8_t>(256, 0xff));
  EXPECT_EQ(frcd(0).address, kIova + 0x1000);
  EXPECT_EQ(frcd(0).type, vtd::FaultRequestType::Read);
}

TEST_F(PagesInFabric, CrossingIntoAReadOnlyPageFaultsTheWriteThere) {
  dom.map(kIova, kPage0, 4096);
  vtd::SlMapping ro;
  ro.write = false;
  dom.map(kIova + 0x1000, kPage1, 4096, ro);
  enable();
  const std::vector<uint8_t> bytes = pattern(64, 0x13);
  Sent s = send(*f, "epA", TlpKind::MemWrite, kIova + 0xfe0, 64, {}, bytes);
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(s.verdict.fault_reason, 0x5);
  EXPECT_EQ(frcd(0).address, kIova + 0x1000);
  EXPECT_EQ(dram(kPage0 + 0xfe0, 32), slice(bytes, 0, 32));
  EXPECT_EQ(dram(kPage1, 32), std::vector<uint8_t>(32, 0)) << "a read-only page was written";
  // Reading across is fine.
  Sent rd = send(*f, "epA", TlpKind::MemRead, kIova + 0xfe0, 64);
  EXPECT_EQ(rd.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(slice(rd.data, 0, 32), slice(bytes, 0, 32));
}

TEST_F(PagesInFabric, PostedWritesAfterAFaultingPageStillLandAndAReadStopsThere) {
  // Page 1 unmapped between two mapped pages. A write's TLPs for page 2 are posted requests of
  // their own: translated and written. Every unmapped page records its fault.
  dom.map(kIova, kPage0, 4096);
  dom.map(kIova + 0x2000, kPage2, 4096);
  enable();
  const std::vector<uint8_t> bytes = pattern(0x1100, 0x21);
  Sent s = send(*f, "epA", TlpKind::MemWrite, kIova + 0xf80, 0x1100, {}, bytes);
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(s.verdict.fault_reason, 0x5);
  EXPECT_EQ(dram(kPage0 + 0xf80, 0x80), slice(bytes, 0, 0x80));
  EXPECT_EQ(dram(kPage2, 0x80), slice(bytes, 0x1080, 0x80)) << "the posted write after the fault";
  EXPECT_EQ(drv.unit().faults(), 1u);
  EXPECT_EQ(frcd(0).address, kIova + 0x1000);
  clear_fault();

  // A write starting in the unmapped page: it faults, and the next page is still written.
  const std::vector<uint8_t> more = pattern(0x200, 0x90);
  Sent s2 = send(*f, "epA", TlpKind::MemWrite, kIova + 0x1f00, 0x200, {}, more);
  EXPECT_EQ(s2.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(dram(kPage2, 0x100), slice(more, 0x100, 0x100));
  EXPECT_EQ(frcd(0).address, kIova + 0x1000);
  clear_fault();
  // Two unmapped pages in one write: each records its fault (the unit counts both; the one
  // recording register keeps the first, as real hardware's would).
  const uint64_t before = drv.unit().faults();
  Sent s3 = send(*f, "epA", TlpKind::MemWrite, kIova + 0x2f00, 0x1200, {}, pattern(0x1200, 3));
  EXPECT_EQ(s3.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(drv.unit().faults(), before + 2);
  EXPECT_EQ(frcd(0).address, kIova + 0x3000);
  clear_fault();

  // A read across the same pages ends at the fault: page 0's bytes, then all ones, one fault.
  const uint64_t faults = drv.unit().faults();
  Sent rd = send(*f, "epA", TlpKind::MemRead, kIova + 0xf80, 0x1100);
  EXPECT_EQ(rd.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(slice(rd.data, 0, 0x80), slice(bytes, 0, 0x80));
  EXPECT_EQ(slice(rd.data, 0x80, 0x1080), std::vector<uint8_t>(0x1080, 0xff));
  EXPECT_EQ(drv.unit().faults(), faults + 1);
}

TEST_F(PagesInFabric, ASuperpageCoversACrossingWithoutSplitting) {
  dom.map(kIova2M, kSuper, 2ull << 20);
  enable();
  const std::vector<uint8_t> bytes = pattern(0x3000, 0x55);
  const uint64_t writes = f->dram().writes();
  Sent s = send(*f, "epA", TlpKind::MemWrite, kIova2M + 0x1f00, 0x3000, {}, bytes);
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_EQ(dram(kSuper + 0x1f00, 0x3000), bytes);
  EXPECT_EQ(drv.unit().translations(), 1u);
  EXPECT_EQ(f->dram().writes() - writes, 1u);  // one hand-on
  // Across the superpage's end into a page that is not mapped: faults there.
  Sent end = send(*f, "epA", TlpKind::MemWrite, kIova2M + (2ull << 20) - 0x40, 0x80, {}, pattern(0x80, 1));
  EXPECT_EQ(end.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(frcd(0).address, kIova2M + (2ull << 20));
}

TEST_F(PagesInFabric, ContiguousPagesAreTranslatedEachAndHandedOnOnce) {
  dom.map_range(kIova, kPage0, 3 * 4096);  // physically contiguous 4 KiB pages
  enable();
  const std::vector<uint8_t> bytes = pattern(0x2000, 0x0c);
  const uint64_t writes = f->dram().writes();
  Sent s = send(*f, "epA", TlpKind::MemWrite, kIova + 0x800, 0x2000, {}, bytes);
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(dram(kPage0 + 0x800, 0x2000), bytes);
  EXPECT_EQ(drv.unit().translations(), 3u);
  EXPECT_EQ(f->dram().writes() - writes, 1u);
}

TEST_F(PagesInFabric, EachPageIsTranslatedWhenItsBytesArrive) {
  // Timing: the pieces' translations are made as their bytes reach the unit. A later page that
  // hits the IOTLB costs nothing on top of the same burst through one superpage; one that misses
  // adds its walk, as much as the miss adds to a request of its own.
  dom.map(kIova2M, kSuper, 2ull << 20);
  dom.map(kIova, kPage0, 4096);
  dom.map(kIova + 0x1000, kPage1, 4096);
  dom.map(kIova + 0x3000, 0x06000000, 4096);
  dom.map(kIova + 0x4000, 0x07000000, 4096);
  dom.map(kIova + 0x5000, 0x08000000, 4096);
  enable();
  auto idle = [] { sc_core::sc_start(sc_core::sc_time(10, sc_core::SC_US)); };  // every page walker free
  for (uint64_t warm : {kIova2M + 0x800, kIova + 0x800, kIova + 0x1800, kIova + 0x3800}) {
    send(*f, "epA", TlpKind::MemWrite, warm, 64);
    idle();
  }
  Sent whole = send(*f, "epA", TlpKind::MemWrite, kIova2M + 0x800, 0x1000);
  idle();
  Sent split = send(*f, "epA", TlpKind::MemWrite, kIova + 0x800, 0x1000);
  idle();
  ASSERT_EQ(split.verdict.outcome, Outcome::Delivered);
  // (Within a nanosecond: the links account DLLPs and SKP ordered sets discretely, so two equal
  // bursts at different times may differ by part of a symbol time.)
  auto ns = [](sc_core::sc_time t) { return t.to_seconds() * 1e9; };
  EXPECT_NEAR(ns(split.latency), ns(whole.latency), 1.0);
  Sent hit = send(*f, "epA", TlpKind::MemWrite, kIova + 0x900, 64);
  idle();
  Sent miss = send(*f, "epA", TlpKind::MemWrite, kIova + 0x5000, 64);  // same tables: as many reads
  idle();
  ASSERT_GT(miss.latency, hit.latency);
  Sent cold_second = send(*f, "epA", TlpKind::MemWrite, kIova + 0x3800, 0x1000);
  ASSERT_EQ(cold_second.verdict.outcome, Outcome::Delivered);
  EXPECT_NEAR(ns(cold_second.latency) - ns(whole.latency), ns(miss.latency) - ns(hit.latency), 1.0);
  EXPECT_GT(ns(miss.latency) - ns(hit.latency), 150.0);
}

TEST_F(PagesInFabric, AWriteRunningIntoTheInterruptRangeIsAnInterruptRequestFromThere) {
  // Below 0xFEE00000 the write is DMA; from there on it is what a write starting there is: an
  // interrupt request (VT-d 3.15), not DMA through the page tables.
  constexpr uint64_t kBelow = 0xfedff000;
  dom.map(kBelow, kPage0, 4096);
  dom.map(0xfee00000, kPage1, 4096);  // never used: interrupt requests are not remapped as DMA
  enable();
  const std::vector<uint8_t> bytes = pattern(0x200, 0x3c);
  Sent s = send(*f, "epA", TlpKind::MemWrite, kBelow + 0xf00, 0x200, {}, bytes);
  EXPECT_EQ(dram(kPage0 + 0xf00, 0x100), slice(bytes, 0, 0x100));
  EXPECT_EQ(dram(kPage1, 0x100), std::vector<uint8_t>(0x100, 0));
  EXPECT_EQ(dram(kPage0 + 0x1000, 0x100), std::vector<uint8_t>(0x100, 0));
  EXPECT_EQ(drv.unit().interrupts(), 1u);
  EXPECT_EQ(drv.unit().translations(), 1u);
  // A read is DMA everywhere: translated page by page (0xFEE00000 through the tables).
  fill_dram(kPage1, pattern(0x100, 0x99));
  Sent rd = send(*f, "epA", TlpKind::MemRead, kBelow + 0xf00, 0x200);
  EXPECT_EQ(rd.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(slice(rd.data, 0, 0x100), slice(bytes, 0, 0x100));
  EXPECT_EQ(slice(rd.data, 0x100, 0x100), pattern(0x100, 0x99));
  EXPECT_EQ(drv.unit().interrupts(), 1u);
}

TEST_F(PagesInFabric, TranslationOffPassesAMultiPageRequestThroughWhole) {
  const std::vector<uint8_t> bytes = pattern(0x2000, 0x66);
  const uint64_t writes = f->dram().writes();
  Sent s = send(*f, "epA", TlpKind::MemWrite, 0x3000800, 0x2000, {}, bytes);
  EXPECT_EQ(s.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(dram(0x3000800, 0x2000), bytes);
  EXPECT_EQ(f->dram().writes() - writes, 1u);
}

TEST(PagesScalable, RequestsWithPasidAreTranslatedPageByPageToo) {
  auto f = make_fabric(with_iommu());
  bus_master(*f, "epA");
  const RequesterId a = fn(*f, "epA").bdf();
  vtd::VtdProgrammer drv(*f, "dmar0", 0x20000000, 0x1000000, vtd::TableMode::Scalable);
  vtd::SecondLevelBuilder& dom = drv.attach_scalable(a, 12, /*pasid*/ 5);
  dom.map(kIova, kPage0, 4096);
  dom.map(kIova + 0x1000, kPage1, 4096);
  drv.set_root_table();
  drv.enable_translation();
  DmaOptions p5;
  p5.has_pasid = true;
  p5.pasid = 5;
  const std::vector<uint8_t> bytes = pattern(0x100, 0x47);
  Sent s = send(*f, "epA", TlpKind::MemWrite, kIova + 0xf80, 0x100, p5, bytes);
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  std::vector<uint8_t> got(0x80);
  f->dram().read(kPage1, got.data(), got.size());
  EXPECT_EQ(got, std::vector<uint8_t>(bytes.begin() + 0x80, bytes.end()));
  // Into a page PASID 5 does not map: the fault names it, with the PASID.
  Sent past = send(*f, "epA", TlpKind::MemWrite, kIova + 0x1f80, 0x100, p5, bytes);
  EXPECT_EQ(past.verdict.outcome, Outcome::IommuFault);
  const uint32_t fro = drv.unit().caps().fro();
  const vtd::FaultRecord r = vtd::decode_frcd(drv.read(fro, 8), drv.read(fro + 8, 8));
  EXPECT_EQ(r.address, kIova + 0x2000);
  EXPECT_TRUE(r.pasid_present);
  EXPECT_EQ(r.pasid, 5u);
}
