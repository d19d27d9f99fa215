// The ATS Extended Capability and the Address Translation Cache (models/pcie/ats.h), without an
// IOMMU: registers after reset, writable bits, the topology key, completion decoding, fill, hit
// and range invalidation.
#include <gtest/gtest.h>

#include "pcie/ats.h"
#include "pcie/fabric_fixture.h"
#include "pcie/topology/yaml_loader.h"

namespace pciesim {
namespace {

using namespace test;

const char* kTopology = R"(
name: ats
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        below:
          endpoint:
            name: dev
            ats: true
            functions: [{function: 0, bars: [{index: 0, size: 64KiB}]}]
      - name: rp1
        device: 2
        below:
          endpoint:
            name: plain
            functions: [{function: 0, bars: [{index: 0, size: 64KiB}]}]
)";

TEST(AtsCapability, RegistersAfterResetAndWritableBits) {
  auto f = make_fabric(kTopology);
  const FunctionInfo& d = fn(*f, "dev");
  const uint16_t off = d.fn->config().find_ext_capability(0x000f);
  ASSERT_NE(off, 0) << "ats: true adds the ATS Extended Capability";
  EXPECT_EQ(cfg_read(*f, "dev", off, 4) & 0xffff, 0x0001'000fu & 0xffff);   // ID 000Fh
  EXPECT_EQ((cfg_read(*f, "dev", off, 4) >> 16) & 0xf, 1u);                 // version 1
  EXPECT_EQ(cfg_read(*f, "dev", off + 4, 2), 0x0020u);  // Page Aligned Request, queue depth 0 (= 32)
  EXPECT_EQ(cfg_read(*f, "dev", off + 6, 2), 0u);       // disabled after reset
  cfg_write(*f, "dev", off + 4, 2, 0xffff);             // capability register is read-only
  EXPECT_EQ(cfg_read(*f, "dev", off + 4, 2), 0x0020u);
  cfg_write(*f, "dev", off + 6, 2, 0xffff);             // STU 4:0 and Enable 15 only
  EXPECT_EQ(cfg_read(*f, "dev", off + 6, 2), 0x801fu);
  ASSERT_NE(d.endpoint->ats(0), nullptr);
  EXPECT_TRUE(d.endpoint->ats(0)->enabled());
  EXPECT_EQ(d.endpoint->ats(0)->regs().stu, 0x1fu);
  // An FLR clears Enable (PCIe 10.5.1.3 default 0).
  d.endpoint->reset_function(0, ResetKind::FunctionLevel);
  EXPECT_FALSE(d.endpoint->ats(0)->enabled());
  // Without the key: no capability, no ATC.
  EXPECT_EQ(fn(*f, "plain").fn->config().find_ext_capability(0x000f), 0);
  EXPECT_EQ(fn(*f, "plain").endpoint->ats(0), nullptr);
}

TEST(AtsCapability, ConventionalFunctionIsRejectedWithItsLocation) {
  const std::string yaml = R"(
name: bad
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        below:
          pci_bridge:
            name: br
            devices:
              - {name: old, device: 0, functions: [{function: 0, ats: true}]}
)";
  try {
    topo::load_topology_string(yaml, "bad.yaml");
    FAIL() << "no error";
  } catch (const topo::TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml:13:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ats: a conventional PCI function"), std::string::npos) << e.what();
  }
}

TEST(Atc, DecodesTranslationCompletions) {
  // 4 KiB, read and write.
  AtcTranslation t = decode_translation_completion(0x12345678, 0xabcde000ull | 3);
  EXPECT_EQ(t.untranslated, 0x12345000u);
  EXPECT_EQ(t.translated, 0xabcde000u);
  EXPECT_EQ(t.size, 4096u);
  EXPECT_TRUE(t.read && t.write);
  EXPECT_EQ(t.translate(0x12345678), 0xabcde678u);
  // S = 1, bits 19:12 set and bit 20 clear: 2 MiB; read only.
  t = decode_translation_completion(0x40123456, 0x80000000ull | 0xff000ull | (1ull << 11) | 1);
  EXPECT_EQ(t.size, 2u << 20);
  EXPECT_EQ(t.untranslated, 0x40000000u);
  EXPECT_EQ(t.translated, 0x80000000u);
  EXPECT_TRUE(t.read);
  EXPECT_FALSE(t.write);
  // R = W = 0: no translation.
  t = decode_translation_completion(0x1000, 0);
  EXPECT_FALSE(t.read || t.write);
}

TEST(Atc, FillHitMissAndRangeInvalidation) {
  AddressTranslationCache atc;
  EXPECT_EQ(atc.lookup(0x1000), nullptr);
  atc.fill(decode_translation_completion(0x1000, 0x9000 | 3));
  atc.fill(decode_translation_completion(0x40000000, 0x80000000ull | 0xff000ull | (1ull << 11) | 3));  // 2 MiB
  ASSERT_NE(atc.lookup(0x1abc), nullptr);
  EXPECT_EQ(atc.lookup(0x1abc)->translate(0x1abc), 0x9abcu);
  ASSERT_NE(atc.lookup(0x401ff000), nullptr) << "a 2 MiB entry serves every 4 KiB page inside it";
  EXPECT_EQ(atc.lookup(0x401ff010)->translate(0x401ff010), 0x801ff010u);
  EXPECT_EQ(atc.lookup(0x2000), nullptr);
  EXPECT_EQ(atc.stats().misses, 2u);
  EXPECT_EQ(atc.occupancy(), 2u);
  // A 4 KiB invalidation inside the 2 MiB entry drops the whole entry (it overlaps); the other stays.
  EXPECT_EQ(atc.invalidate(0x40100000, 4096), 1u);
  EXPECT_EQ(atc.peek(0x40000000), nullptr);
  EXPECT_NE(atc.peek(0x1000), nullptr);
  // A range that does not overlap drops nothing; size 0 drops everything.
  EXPECT_EQ(atc.invalidate(0x2000, 0x2000), 0u);
  EXPECT_EQ(atc.invalidate(0, 0), 1u);
  EXPECT_EQ(atc.occupancy(), 0u);
}

TEST(Atc, ClearingEnableEmptiesTheCacheAndStopsAnswering) {
  auto f = make_fabric(kTopology);
  const FunctionInfo& d = fn(*f, "dev");
  AtsFunction& a = *d.endpoint->ats(0);
  const uint16_t off = a.cap_offset();
  cfg_write(*f, "dev", off + 6, 2, 0x8000);
  a.atc().fill(decode_translation_completion(0x1000, 0x9000 | 3));
  EXPECT_TRUE(a.invalidate(0x5000, 4096));  // answered, nothing dropped
  EXPECT_EQ(a.atc().occupancy(), 1u);
  cfg_write(*f, "dev", off + 6, 2, 0);
  EXPECT_EQ(a.atc().occupancy(), 0u) << "no translation survives a disable";
  EXPECT_FALSE(a.invalidate(0x1000, 4096)) << "disabled: no Invalidate Completion";
  EXPECT_EQ(a.invalidate_requests(), 2u);
  EXPECT_EQ(a.invalidate_completions(), 1u);
}

TEST(Atc, DmaWithAtsButEnableClearGoesOutUntranslated) {
  auto f = make_fabric(kTopology);
  bus_master(*f, "dev");
  const FunctionInfo& d = fn(*f, "dev");
  std::vector<uint8_t> buf(64, 0x11);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  DmaOptions o;
  o.ats = true;
  const PcieExtension& e = d.endpoint->dma(0, TlpKind::MemWrite, 0x3000, buf.data(), 64, delay, o);
  EXPECT_EQ(e.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(e.at, AddressType::Untranslated);
  EXPECT_EQ(e.atc, AtcOutcome::NotUsed);
  EXPECT_EQ(d.endpoint->ats(0)->translation_requests(), 0u);
}

}  // namespace
}  // namespace pciesim
