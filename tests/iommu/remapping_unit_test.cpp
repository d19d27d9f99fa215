// The remapping unit in the fabric: DMA translated through tables in DRAM, faults recorded with
// their reason codes, stale translations until invalidated, P2P below the root complex never
// seen by the unit, interrupts remapped, ATS, and what a miss costs.
#include <map>

#include "iommu/fault_recorder.h"
#include "pcie/fabric_fixture.h"
#include "iommu/vtd_programmer.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {

std::string with_iommu(const char* preset = "server") {
  return std::string(kAcsTopology) + "iommus:\n  - name: dmar0\n    preset: " + preset + "\n    include_all: true\n";
}

struct UnitInFabric : ::testing::Test {
  std::unique_ptr<Fabric> f = make_fabric(with_iommu());
  vtd::VtdProgrammer drv{*f, "dmar0"};
  RequesterId a = fn(*f, "epA").bdf();
  void SetUp() override {
    for (const char* e : {"epA", "epB", "epD", "epF"}) bus_master(*f, e);
  }
  Sent write(const std::string& from, uint64_t addr, uint8_t fill = 0x5a) {
    return send(*f, from, TlpKind::MemWrite, addr, 64, {}, std::vector<uint8_t>(64, fill));
  }
  uint8_t dram_byte(uint64_t pa) {
    uint8_t b = 0;
    f->dram().read(pa, &b, 1);
    return b;
  }
};

constexpr uint64_t kIova = 0x10000000, kPage = 0x01234000;

}  // namespace

TEST_F(UnitInFabric, TranslationOffPassesDmaThroughUntranslated) {
  Sent s = write("epA", 0x3000);
  EXPECT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_TRUE(s.passed("dmar0"));
  EXPECT_EQ(dram_byte(0x3000), 0x5a);
}

TEST_F(UnitInFabric, DmaIsTranslatedThroughTheTablesInDram) {
  drv.attach(a, 7).map(kIova, kPage, 4096);
  drv.set_root_table();
  drv.enable_translation();
  Sent s = write("epA", kIova + 0x80, 0x77);
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_EQ(dram_byte(kPage + 0x80), 0x77);
  EXPECT_EQ(dram_byte(kIova + 0x80), 0x00);  // nothing landed at the untranslated address
  EXPECT_EQ(path_text(s), "epA.f0 > dpA > sw0.up > rp0 > rc0.host > dmar0 > dram");
}

TEST_F(UnitInFabric, UnmappedAddressFaultsAndIsRecordedInTheFaultRegisters) {
  drv.attach(a, 7).map(kIova, kPage, 4096);
  drv.set_root_table();
  drv.enable_translation();
  Sent s = write("epA", kIova + 0x100000);  // no mapping there
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(s.verdict.fault_reason, 0x5);  // legacy: write to a page without W
  EXPECT_EQ(s.at(), "dmar0");
  const uint32_t fsts = static_cast<uint32_t>(drv.read(vtd::reg::kFsts));
  EXPECT_TRUE(fsts & 2) << "PPF";
  const uint32_t fro = drv.unit().caps().fro();
  vtd::FaultRecord r = vtd::decode_frcd(drv.read(fro, 8), drv.read(fro + 8, 8));
  EXPECT_EQ(r.reason, vtd::FaultReason::WriteDenied);
  EXPECT_EQ(r.source_id, a.raw());
  EXPECT_EQ(r.address, (kIova + 0x100000) & ~0xfffull);
  // A read of a device without any context entry: context not present.
  Sent r2 = send(*f, "epB", TlpKind::MemRead, kIova, 64);
  EXPECT_EQ(r2.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(r2.verdict.fault_reason, 0x1);  // epB's bus has no root entry at all
  EXPECT_EQ(r2.data, std::vector<uint8_t>(64, 0xff));  // completes as UR
}

TEST_F(UnitInFabric, StaleTranslationServesUntilTheRightInvalidation) {
  vtd::SecondLevelBuilder& dom = drv.attach(a, 7);
  dom.map(kIova, kPage, 4096);
  drv.set_root_table();
  drv.enable_translation();
  drv.enable_queue();
  ASSERT_EQ(write("epA", kIova).verdict.outcome, Outcome::Delivered);
  ASSERT_TRUE(dom.unmap(kIova, 4096));  // the table changes, nobody tells the IOTLB
  Sent stale = write("epA", kIova, 0x11);
  EXPECT_EQ(stale.verdict.outcome, Outcome::Delivered) << "a cached translation stays usable";
  EXPECT_EQ(dram_byte(kPage), 0x11);
  drv.invalidate_page(8, kIova);  // another domain: no effect
  EXPECT_EQ(write("epA", kIova, 0x11).verdict.outcome, Outcome::Delivered);
  drv.invalidate_page(7, kIova);
  Sent after = write("epA", kIova, 0x22);
  EXPECT_EQ(after.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(dram_byte(kPage), 0x11);
}

TEST_F(UnitInFabric, PeerToPeerBelowTheRootComplexNeverReachesTheUnit) {
  drv.set_root_table();
  drv.enable_translation();  // no context entries at all: any DMA the unit sees faults
  const uint64_t b = bar(*f, "epB", 0);
  Sent direct = write("epA", b);
  EXPECT_EQ(direct.verdict.outcome, Outcome::Delivered) << path_text(direct);
  EXPECT_FALSE(direct.passed("dmar0"));
  // With ACS redirecting it (and UF up to the root complex), the unit sees it and faults it.
  set_acs(*f, "dpA", 4 /*RR*/);
  set_acs(*f, "rp0", 16 /*UF*/);
  Sent redirected = write("epA", b);
  EXPECT_TRUE(redirected.passed("dmar0")) << path_text(redirected);
  EXPECT_EQ(redirected.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(redirected.verdict.fault_reason, 0x1);  // root entry not present
}

TEST_F(UnitInFabric, RedirectedPeerRequestIsTranslatedBeforeComingBackDown) {
  // The IOVA maps to epB's BAR: a P2P mapping through the IOMMU, as VFIO does for P2P DMA.
  const uint64_t b = bar(*f, "epB", 0);
  drv.attach(a, 3).map(kIova, b, 4096);
  drv.set_root_table();
  drv.enable_translation();
  set_acs(*f, "dpA", 4);
  Sent s = write("epA", kIova, 0x66);
  EXPECT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_EQ(hops().name(s.verdict.port), "epB.f0");
  EXPECT_TRUE(s.passed("dmar0"));
}

TEST_F(UnitInFabric, IotlbMissCostsTheWalkAndAHitDoesNot) {
  drv.attach(a, 7).map_range(kIova, kPage, 64 * 4096);
  drv.set_root_table();
  drv.enable_translation();
  Sent miss = write("epA", kIova);
  Sent hit = write("epA", kIova + 64);
  const double added = (miss.latency - hit.latency).to_seconds() * 1e9;
  // context (2 reads) + 4-level walk (4 reads) on the first miss of a cold unit
  EXPECT_GT(added, 500.0) << added;
  Sent warm_miss = write("epA", kIova + 4096 * 9);  // same domain: context cached, PSC hit
  const double warm = (warm_miss.latency - hit.latency).to_seconds() * 1e9;
  EXPECT_GT(warm, 150.0) << warm;  // performance-facts D: 214-227 ns per miss
  EXPECT_LT(warm, 300.0) << warm;
}

TEST_F(UnitInFabric, AtsTranslationRequestsAndTranslatedRequestsFollowTheContext) {
  drv.attach(a, 7, /*tt*/ 0).map(kIova, kPage, 4096);
  drv.set_root_table();
  drv.enable_translation();
  drv.enable_queue();
  DmaOptions tr;
  tr.at = AddressType::TranslationRequest;
  Sent blocked = send(*f, "epA", TlpKind::MemRead, kIova, 8, tr);
  EXPECT_EQ(blocked.verdict.fault_reason, 0xd);  // TT=00: no device TLB
  DmaOptions translated;
  translated.at = AddressType::Translated;
  EXPECT_EQ(send(*f, "epA", TlpKind::MemWrite, kPage, 64, translated).verdict.fault_reason, 0xd);

  drv.attach(a, 7, /*tt*/ 1);  // device TLB allowed (server preset has ECAP.DT)
  drv.invalidate_context_global();
  Sent ok = send(*f, "epA", TlpKind::MemRead, kIova, 8, tr);
  ASSERT_EQ(ok.verdict.outcome, Outcome::Delivered) << path_text(ok);
  uint64_t completion = 0;
  std::memcpy(&completion, ok.data.data(), 8);
  EXPECT_EQ(completion & ~0xfffull, kPage);
  EXPECT_EQ(completion & 3, 3u);  // R and W
  EXPECT_EQ(send(*f, "epA", TlpKind::MemWrite, kPage, 64, translated).verdict.outcome, Outcome::Delivered);
}

TEST_F(UnitInFabric, MsiWritesAreRemappedToTheLocalApic) {
  drv.set_root_table();
  drv.enable_interrupt_remapping();
  vtd::ApicInterrupt irq;
  irq.vector = 0x41;
  irq.destination = 3;
  drv.set_irte(5, vtd::make_remapped_irte(irq, false, vtd::SourceValidation::requester(a.raw())));
  vtd::MsiWrite msi = vtd::make_remappable_msi(5, false, 0, a.raw());
  uint32_t data = msi.data;
  std::vector<uint8_t> bytes(4);
  std::memcpy(bytes.data(), &data, 4);
  Sent s = send(*f, "epA", TlpKind::MemWrite, msi.address, 4, {}, bytes);
  EXPECT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  ASSERT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x41);
  EXPECT_EQ(f->apic().last()->irq.destination, 3u);
  // Another device using epA's entry fails source-id validation (0x26).
  Sent spoof = send(*f, "epD", TlpKind::MemWrite, msi.address, 4, {}, bytes);
  EXPECT_EQ(spoof.verdict.fault_reason, 0x26);
  // A compatibility-format MSI is blocked while CFI is off (0x25).
  vtd::MsiWrite compat = vtd::make_compatibility_msi(irq, a.raw());
  std::memcpy(bytes.data(), &compat.data, 4);
  EXPECT_EQ(send(*f, "epA", TlpKind::MemWrite, compat.address, 4, {}, bytes).verdict.fault_reason, 0x25);
  EXPECT_EQ(f->apic().count(), 1u);
}

TEST_F(UnitInFabric, FaultEventInterruptReachesTheApicWhenUnmasked) {
  drv.set_root_table();
  drv.enable_translation();
  drv.write(vtd::reg::kFectl + 4, 0x52);         // FEDATA: vector 0x52
  drv.write(vtd::reg::kFectl + 8, 0xfee00000);   // FEADDR: APIC 0
  drv.write(vtd::reg::kFectl, 0);                // FECTL.IM = 0
  write("epA", kIova);
  ASSERT_GE(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x52);
}

TEST(UnitScope, PortsOutsideTheScopeBypassTheUnit) {
  std::string yaml = std::string(kAcsTopology) + "iommus:\n  - name: dmar0\n    scope: [rp1]\n";
  auto f = make_fabric(yaml);
  bus_master(*f, "epA");
  bus_master(*f, "epF");
  EXPECT_FALSE(send(*f, "epA", TlpKind::MemWrite, 0x1000).passed("dmar0"));
  EXPECT_TRUE(send(*f, "epF", TlpKind::MemWrite, 0x1000).passed("dmar0"));
}

TEST(UnitScalableMode, RequestsWithAndWithoutPasidGoThroughThePasidTable) {
  auto f = make_fabric(with_iommu("server"));
  bus_master(*f, "epA");
  RequesterId a = fn(*f, "epA").bdf();
  vtd::VtdProgrammer drv(*f, "dmar0", 0x20000000, 0x1000000, vtd::TableMode::Scalable);
  drv.attach_scalable(a, 9, /*RID_PASID*/ 0).map(kIova, kPage, 4096);   // requests without PASID
  drv.attach_scalable(a, 12, /*pasid*/ 5).map(kIova, kPage + 0x10000, 4096);
  drv.set_root_table();
  drv.enable_translation();
  Sent plain = send(*f, "epA", TlpKind::MemWrite, kIova, 64);
  ASSERT_EQ(plain.verdict.outcome, Outcome::Delivered) << path_text(plain);
  DmaOptions p5;
  p5.has_pasid = true;
  p5.pasid = 5;
  Sent with_pasid = send(*f, "epA", TlpKind::MemWrite, kIova, 64, p5, std::vector<uint8_t>(64, 0x55));
  ASSERT_EQ(with_pasid.verdict.outcome, Outcome::Delivered);
  uint8_t b = 0;
  f->dram().read(kPage + 0x10000, &b, 1);
  EXPECT_EQ(b, 0x55);  // PASID 5's domain maps the same IOVA elsewhere
  DmaOptions p7 = p5;
  p7.pasid = 7;  // no entry in the PASID table
  EXPECT_EQ(send(*f, "epA", TlpKind::MemWrite, kIova, 64, p7).verdict.fault_reason, 0x59);
}
