// Interrupt remapping by the driver: an IRTE it allocates turns the device's remappable MSI into
// the vector it asked for; another device forging that MSI is blocked and logged in Linux's
// INTR-REMAP format; compatibility-format MSIs are blocked.
#include "intel_iommu_fixture.h"

#include <cstring>

#include "iommu/interrupt_remap.h"
#include "iommu/local_apic_sink.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {
using IntelIommuIrq = IntelIommuFixture;

Sent msi(Fabric& f, const std::string& from, const cosim::MsiMessage& m) {
  std::vector<uint8_t> bytes(4);
  std::memcpy(bytes.data(), &m.data, 4);
  return send(f, from, TlpKind::MemWrite, m.address, 4, {}, bytes);
}
}  // namespace

TEST_F(IntelIommuIrq, RemappedMsiArrivesWithTheAllocatedVector) {
  std::vector<vtd::DeliveredInterrupt> seen;
  core->set_interrupt_handler([&](const vtd::DeliveredInterrupt& i) { seen.push_back(i); });
  const int index = drv->alloc_irq(a, 0x41, 3);
  ASSERT_GE(index, 0);
  const cosim::MsiMessage m = drv->compose_msi(static_cast<unsigned>(index));
  EXPECT_EQ(m.address & 0xfff00000ull, 0xfee00000ull);
  EXPECT_TRUE(m.address & (1u << 4)) << "remappable format";
  Sent s = msi(*f, "epA", m);
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].irq.vector, 0x41);
  EXPECT_EQ(seen[0].irq.destination, 3u);
  EXPECT_EQ(seen[0].path, vtd::InterruptPath::Remapped);
  EXPECT_EQ(seen[0].index, index);
  EXPECT_EQ(seen[0].source_id, a.raw());

  // A block of four for multi-MSI: aligned, sub-handles pick the vector.
  const int block = drv->alloc_irq(a, 0x50, 3, 4);
  ASSERT_GE(block, 0);
  EXPECT_EQ(block % 4, 0);
  ASSERT_EQ(msi(*f, "epA", drv->compose_msi(static_cast<unsigned>(block), 2)).verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(seen.back().irq.vector, 0x52);

  // Freed: the entry is no longer present (0x22).
  drv->free_irq(static_cast<unsigned>(index));
  EXPECT_EQ(msi(*f, "epA", m).verdict.fault_reason, 0x22);
  core->service_faults();
  char line[200];
  std::snprintf(line, sizeof line,
                "DMAR: [INTR-REMAP] Request device [%s] fault index 0x%x [fault reason 0x22] Present field in the "
                "IRTE entry is clear",
                bdf(a).c_str(), index);
  EXPECT_TRUE(logged(line)) << log.dmesg();
}

TEST_F(IntelIommuIrq, ForgedMsiFromAnotherDeviceIsBlockedAndLogged) {
  std::vector<vtd::DeliveredInterrupt> seen;
  core->set_interrupt_handler([&](const vtd::DeliveredInterrupt& i) { seen.push_back(i); });
  const int index = drv->alloc_irq(a, 0x41, 0);
  ASSERT_GE(index, 0);
  Sent forged = msi(*f, "epD", drv->compose_msi(static_cast<unsigned>(index)));
  EXPECT_EQ(forged.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(forged.verdict.fault_reason, 0x26);
  EXPECT_TRUE(seen.empty()) << "nothing reached a CPU but the fault event";
  EXPECT_TRUE(drv->fault_pending());
  EXPECT_EQ(core->service_faults(), 1u);
  char line[200];
  std::snprintf(line, sizeof line,
                "DMAR: [INTR-REMAP] Request device [%s] fault index 0x%x [fault reason 0x26] Blocked an interrupt "
                "request due to source-id verification failure",
                bdf(d).c_str(), index);
  EXPECT_TRUE(logged(line)) << log.dmesg();

  // A compatibility-format MSI straight at vector 0x41: blocked (CFIS clear), 0x25.
  vtd::ApicInterrupt irq;
  irq.vector = 0x41;
  const vtd::MsiWrite compat = vtd::make_compatibility_msi(irq, d.raw());
  EXPECT_EQ(msi(*f, "epD", {compat.address, compat.data}).verdict.fault_reason, 0x25);
  core->service_faults();
  EXPECT_EQ(log.grep("[fault reason 0x25] Blocked a compatibility format interrupt request").size(), 1u)
      << log.dmesg();
  EXPECT_TRUE(seen.empty());
}
