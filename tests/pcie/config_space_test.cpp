#include "pcie/config_space.h"

#include <gtest/gtest.h>

using namespace pciesim;

TEST(ConfigSpace, MasksApplyPerByte) {
  ConfigSpace cs;
  cs.define(cfg::kCommand, 2, 0x0000, /*wmask*/ 0x0547);
  cs.define(cfg::kStatus, 2, 0x0010, /*wmask*/ 0, /*w1c*/ 0xf900);
  cs.write(cfg::kCommand, 4, 0xffffffff);
  EXPECT_EQ(cs.read16(cfg::kCommand), 0x0547);
  EXPECT_EQ(cs.read16(cfg::kStatus), 0x0010);  // RO bit kept, W1C bits were clear
  cs.set(cfg::kStatus, 2, 0x8110);
  cs.write(cfg::kStatus, 2, 0x8000);  // clears bit 15 only
  EXPECT_EQ(cs.read16(cfg::kStatus), 0x0110);
}

TEST(ConfigSpace, ResetRestoresDeclaredValues) {
  ConfigSpace cs;
  cs.define(0x3c, 1, 0xff, 0xff);
  cs.write(0x3c, 1, 0x0b);
  EXPECT_EQ(cs.read(0x3c, 1), 0x0bu);
  cs.reset();
  EXPECT_EQ(cs.read(0x3c, 1), 0xffu);
}

TEST(ConfigSpace, CapabilityListsLinkAndFind) {
  ConfigSpace cs;
  uint16_t pm = cs.add_capability(0x01, 8);
  uint16_t pcie = cs.add_capability(0x10, 0x3c);
  uint16_t aer = cs.add_ext_capability(0x0001, 2, 0x48);
  uint16_t acs = cs.add_ext_capability(0x000d, 1, 8);
  EXPECT_EQ(pm, 0x40);
  EXPECT_EQ(cs.read(cfg::kCapPtr, 1), 0x40u);
  EXPECT_TRUE(cs.read16(cfg::kStatus) & cfg::kStatusCapList);
  EXPECT_EQ(cs.find_capability(0x10), pcie);
  EXPECT_EQ(cs.find_ext_capability(0x000d), acs);
  EXPECT_EQ(cs.read32(aer) >> 20, acs);
  EXPECT_EQ(cs.find_capability(0x05), 0);
}

TEST(ConfigSpace, CorruptCapabilityLoopTerminates) {
  ConfigSpace cs;
  uint16_t a = cs.add_capability(0x01, 8);
  cs.set(a + 1, 1, a);  // points at itself
  EXPECT_EQ(cs.find_capability(0x05), 0);
  uint16_t e = cs.add_ext_capability(0x0001, 1, 8);
  cs.set(e, 4, 0x0001 | (uint32_t{e} << 20));
  EXPECT_EQ(cs.find_ext_capability(0x000d), 0);
}

TEST(ConfigSpace, ConventionalSpaceReadsZeroBeyond256) {
  ConfigSpace cs(false);
  EXPECT_EQ(cs.size(), 256);
  EXPECT_EQ(cs.read32(0x100), 0u);
  EXPECT_THROW(cs.add_ext_capability(0x000d, 1, 8), std::logic_error);
}
