// ATS end to end against a remapping unit (no kernel): a function with ATS enabled translates
// through a Translation Request, caches the completion in its ATC, sends translated requests,
// and the unit's device-TLB invalidation descriptors reach the ATC (models/pcie/ats_wiring.h);
// a function without ATS leaves the descriptor unanswered: Invalidation Time-out Error.
#include <gtest/gtest.h>

#include "iommu/invalidation.h"
#include "iommu/vtd_programmer.h"
#include "pcie/fabric_fixture.h"

namespace pciesim {
namespace {

using namespace test;

// epA has ATS; the other endpoints do not.
std::string topology(const char* iommu_extra = "") {
  std::string t = kAcsTopology;
  const std::string anchor = "                    name: epA\n";
  t.insert(t.find(anchor) + anchor.size(), "                    ats: true\n");
  return t + "iommus:\n  - name: dmar0\n    preset: server\n    include_all: true\n" + iommu_extra;
}

constexpr uint64_t kIova = 0x10000000, kPage = 0x01234000;

struct AtsInFabric : ::testing::Test {
  std::unique_ptr<Fabric> f = make_fabric(topology());
  vtd::VtdProgrammer drv{*f, "dmar0"};
  RequesterId a = fn(*f, "epA").bdf();
  AtsFunction& ats = *fn(*f, "epA").endpoint->ats(0);
  void SetUp() override {
    for (const char* e : {"epA", "epB"}) bus_master(*f, e);
    // TT = 01b: untranslated, translation and translated requests (VT-d 9.3, legacy mode).
    drv.attach(a, 7, 1).map(kIova, kPage, 4096);
    drv.attach(fn(*f, "epB").bdf(), 8, 0).map(kIova, kPage + 0x10000, 4096);
    drv.set_root_table();
    drv.enable_queue();
    drv.enable_translation();
    cfg_write(*f, "epA", ats.cap_offset() + 6, 2, 0x8000);  // Enable, STU 0 (Linux: VTD_PAGE_SHIFT - 12)
  }
  const PcieExtension& dma(const std::string& from, TlpKind kind, uint64_t addr, std::vector<uint8_t>& buf) {
    const FunctionInfo& i = fn(*f, from);
    f->settle();
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    DmaOptions o;
    o.ats = true;
    return i.endpoint->dma(i.function_number, kind, addr, buf.data(), static_cast<unsigned>(buf.size()), delay, o);
  }
  uint8_t dram_byte(uint64_t pa) {
    uint8_t b = 0;
    f->dram().read(pa, &b, 1);
    return b;
  }
  // VT-d 6.5.2.5: device-TLB invalidate of one 4 KiB page at addr (S = 0), then a wait descriptor.
  void invalidate_device_tlb(RequesterId sid, uint64_t addr, bool size_bit = false) {
    drv.submit(0x3 | (uint64_t{sid.raw()} << 32), (addr & ~0xfffull) | (size_bit ? 1 : 0));
    drv.submit(0x5 | (1u << 5), 0x30000000);  // SW: status write to scratch memory
  }
};

TEST_F(AtsInFabric, MissTranslatesFillsTheAtcThenHits) {
  std::vector<uint8_t> buf(64, 0x42);
  const PcieExtension& e = dma("epA", TlpKind::MemWrite, kIova + 0x80, buf);
  ASSERT_EQ(e.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(e.atc, AtcOutcome::Miss);
  EXPECT_EQ(e.at, AddressType::Translated);
  EXPECT_EQ(e.ats_completion, kPage | 3) << "PCIe 10.2.3: translated address, R and W";
  EXPECT_EQ(ats.translation_requests(), 1u);
  EXPECT_EQ(dram_byte(kPage + 0x80), 0x42);
  EXPECT_EQ(dram_byte(kIova + 0x80), 0x00);
  ASSERT_NE(ats.atc().peek(kIova), nullptr);

  std::vector<uint8_t> again(64, 0x43);
  const PcieExtension& h = dma("epA", TlpKind::MemWrite, kIova + 0x100, again);
  ASSERT_EQ(h.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(h.atc, AtcOutcome::Hit);
  EXPECT_EQ(h.iommu_input, kPage + 0x100) << "the translated address is what reaches the unit";
  EXPECT_EQ(ats.translation_requests(), 1u) << "a hit sends no Translation Request";
  EXPECT_EQ(dram_byte(kPage + 0x100), 0x43);
}

TEST_F(AtsInFabric, DeviceTlbInvalidationDropsTheRangeAndCompletes) {
  std::vector<uint8_t> buf(64, 0x42);
  dma("epA", TlpKind::MemWrite, kIova, buf);
  ASSERT_NE(ats.atc().peek(kIova), nullptr);
  // Another page: nothing dropped, the device answers.
  invalidate_device_tlb(a, kIova + 0x200000);
  EXPECT_NE(ats.atc().peek(kIova), nullptr);
  // The page: dropped.
  invalidate_device_tlb(a, kIova);
  EXPECT_EQ(ats.atc().peek(kIova), nullptr);
  EXPECT_EQ(ats.invalidate_completions(), 2u);
  EXPECT_EQ(drv.read(vtd::reg::kFsts) & vtd::fsts::kIte, 0u);
  EXPECT_EQ(drv.unit().caches().device_tlb_invalidations(), 2u);
  // The next ATS request misses again.
  EXPECT_EQ(dma("epA", TlpKind::MemWrite, kIova, buf).atc, AtcOutcome::Miss);
  // S = 1 with every address bit set below bit 63: the whole space (Linux MAX_AGAW_PFN_WIDTH).
  invalidate_device_tlb(a, 0x7ffffffffffff000ull, true);
  EXPECT_EQ(ats.atc().occupancy(), 0u);
}

TEST_F(AtsInFabric, DeviceWithoutAtsTimesOutTheInvalidation) {
  invalidate_device_tlb(fn(*f, "epB").bdf(), kIova);
  EXPECT_NE(drv.read(vtd::reg::kFsts) & vtd::fsts::kIte, 0u) << "VT-d 6.5.2.5: no completion -> ITE";
  EXPECT_EQ((drv.read(vtd::reg::kIqer, 8) >> 32) & 0xffff, fn(*f, "epB").bdf().raw()) << "IQER.ITESID";
  // The queue stops behind the timed-out descriptor until software clears ITE (RW1C).
  EXPECT_NE(drv.read(vtd::reg::kIqh, 8), drv.read(vtd::reg::kIqt, 8));
  drv.write(vtd::reg::kFsts, vtd::fsts::kIte);
  EXPECT_EQ(drv.read(vtd::reg::kIqh, 8), drv.read(vtd::reg::kIqt, 8));
}

TEST_F(AtsInFabric, DisabledAtsTimesOutToo) {
  cfg_write(*f, "epA", ats.cap_offset() + 6, 2, 0);
  invalidate_device_tlb(a, kIova);
  EXPECT_NE(drv.read(vtd::reg::kFsts) & vtd::fsts::kIte, 0u);
}

TEST_F(AtsInFabric, UnmappedPageTranslatesToNothingAndTheUntranslatedRequestFaults) {
  std::vector<uint8_t> buf(64, 0x42);
  const PcieExtension& e = dma("epA", TlpKind::MemWrite, kIova + 0x100000, buf);
  EXPECT_EQ(e.atc, AtcOutcome::NoTranslation);
  EXPECT_EQ(e.ats_completion & 3, 0u) << "R = W = 0";
  EXPECT_EQ(e.at, AddressType::Untranslated);
  EXPECT_EQ(e.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(e.verdict.fault_reason, 0x5);
  EXPECT_EQ(ats.atc().occupancy(), 0u) << "R = W = 0 is not cached";
}

TEST_F(AtsInFabric, TranslationRequestOfAFunctionWhoseContextBlocksAtsFails) {
  // epB's context has TT = 00b: its Translation Request is blocked (fault 0x0D); enable ATS in
  // epB's registers by hand is not possible (no capability), so send a translated request.
  std::vector<uint8_t> buf(64, 0x42);
  const FunctionInfo& b = fn(*f, "epB");
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  DmaOptions o;
  o.at = AddressType::Translated;
  const PcieExtension& e = b.endpoint->dma(0, TlpKind::MemWrite, kPage, buf.data(), 64, delay, o);
  EXPECT_EQ(e.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(e.verdict.fault_reason, 0x0d);
}

}  // namespace
}  // namespace pciesim
