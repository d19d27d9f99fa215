#include "iommu/vtd_types.h"

#include <gtest/gtest.h>

using namespace pciesim::vtd;

TEST(VtdCapabilities, Qemu72PresetDecodesAsQemuDocuments) {
  Capabilities c = Capabilities::qemu_7_2();
  EXPECT_EQ(c.sagaw(), 0b10u);  // 39-bit, 3-level only
  EXPECT_EQ(c.mgaw(), 39u);
  EXPECT_EQ(c.fro(), 0x220u);
  EXPECT_EQ(c.iro(), 0xf0u);
  EXPECT_EQ(c.nfr(), 1u);
  EXPECT_TRUE(c.qi());
  EXPECT_TRUE(c.ir());
  EXPECT_TRUE(c.pt());
  EXPECT_FALSE(c.smts());
  EXPECT_FALSE(c.dt());
  EXPECT_EQ(c.sllps(), 0b11u);
}

TEST(VtdCapabilities, ServerPresetHasScalableModeAndFourLevels) {
  Capabilities c = Capabilities::server();
  EXPECT_EQ(c.sagaw(), 0b100u);  // 48-bit, 4-level
  EXPECT_EQ(c.mgaw(), 57u);
  EXPECT_TRUE(c.smts());
  EXPECT_TRUE(c.nest());
  EXPECT_TRUE(c.flts());
  EXPECT_TRUE(c.slts());
  EXPECT_TRUE(c.dt());
  EXPECT_EQ(c.pss(), 19u);  // 20-bit PASIDs
  EXPECT_EQ(c.fro(), 0x400u);
  EXPECT_EQ(c.iro(), 0x500u);
}

TEST(VtdFaults, ReasonCodesAndWording) {
  EXPECT_EQ(static_cast<int>(FaultReason::TranslationTypeBlocked), 0xd);
  EXPECT_TRUE(is_interrupt_fault(FaultReason::IrSourceIdInvalid));
  EXPECT_FALSE(is_interrupt_fault(FaultReason::SmRootAccess));
  EXPECT_STREQ(describe(FaultReason::ContextNotPresent), "Present bit in context entry is clear");
}
