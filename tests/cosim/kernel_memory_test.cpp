#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <stdexcept>

#include "devices/dram.h"
#include "kernel/kernel_log.h"
#include "kernel/kernel_memory.h"

using namespace pciesim;
using namespace pciesim::cosim;

namespace {
constexpr uint64_t kDramBase = 0x1'0000'0000ull;
}

TEST(KernelMemory, AllocationsAreZeroedAlignedDisjointDramTheDeviceSees) {
  Dram dram("dram", kDramBase, 64ull << 20);
  KernelMemory mem(dram, kDramBase + (16ull << 20), 8ull << 20);
  auto* a = static_cast<uint8_t*>(mem.alloc(100));
  auto* page = static_cast<uint8_t*>(mem.alloc_pages(0));
  auto* big = static_cast<uint8_t*>(mem.alloc(64 * 1024, 64 * 1024));
  ASSERT_TRUE(a && page && big);
  EXPECT_EQ(mem.virt_to_phys(page) % 4096, 0u);
  EXPECT_EQ(mem.virt_to_phys(big) % 65536, 0u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a[i], 0);
  // A CPU store through the kernel pointer is what a device reads at the physical address.
  std::memcpy(page, "hello", 6);
  char seen[6] = {};
  ASSERT_TRUE(dram.read(mem.virt_to_phys(page), seen, 6));
  EXPECT_STREQ(seen, "hello");
  // And a device write shows up behind the pointer.
  ASSERT_TRUE(dram.write(mem.virt_to_phys(big) + 10, "dma", 3));
  EXPECT_EQ(std::memcmp(big + 10, "dma", 3), 0);
  EXPECT_EQ(mem.phys_to_virt(mem.virt_to_phys(big) + 10), big + 10);
  // Disjoint.
  const uint64_t pa = mem.virt_to_phys(a), pp = mem.virt_to_phys(page), pb = mem.virt_to_phys(big);
  EXPECT_TRUE(pa + 104 <= pp || pp + 4096 <= pa);
  EXPECT_TRUE(pp + 4096 <= pb || pb + 65536 <= pp);
}

TEST(KernelMemory, FreeMergesAndBadFreesAreCaught) {
  Dram dram("dram", kDramBase, 16ull << 20);
  KernelMemory mem(dram, kDramBase, 2ull << 20);
  void* whole = mem.alloc(2ull << 20, 4096);
  ASSERT_NE(whole, nullptr);
  EXPECT_EQ(mem.alloc(8), nullptr);  // exhausted
  mem.free(whole);
  std::set<void*> pages;
  for (int i = 0; i < 512; ++i) pages.insert(mem.alloc_pages(0));
  EXPECT_EQ(pages.size(), 512u);
  EXPECT_EQ(pages.count(nullptr), 0u);
  for (void* p : pages) mem.free(p);
  EXPECT_EQ(mem.bytes_in_use(), 0u);
  EXPECT_NE(mem.alloc(2ull << 20, 4096), nullptr);  // merged back into one range
  int stack = 0;
  EXPECT_THROW(mem.free(&stack), std::invalid_argument);
  EXPECT_EQ(mem.alloc(0), nullptr);
  EXPECT_EQ(mem.alloc((2ull << 20) + 1), nullptr);
  EXPECT_THROW(KernelMemory(dram, kDramBase + 1, 4096), std::invalid_argument);
  EXPECT_THROW(KernelMemory(dram, kDramBase, 32ull << 20), std::invalid_argument);
}

TEST(KernelMemory, NoAllocationStraddlesABackingChunk) {
  Dram dram("dram", kDramBase, 16ull << 20);
  KernelMemory mem(dram, kDramBase + (1ull << 20), 4ull << 20);  // starts mid-chunk
  for (int i = 0; i < 40; ++i) {
    void* p = mem.alloc(100 * 1024);
    if (!p) break;
    const uint64_t phys = mem.virt_to_phys(p);
    EXPECT_EQ(phys / Dram::kPageSize, (phys + 100 * 1024 - 1) / Dram::kPageSize);
  }
}

TEST(KernelLog, LevelsLinesAndDmesgFormat) {
  KernelLog log;
  log.printk("\0013DMAR: [DMA Write NO_PASID] Request device [05:00.0] fault addr 0x101000\n");
  log.printk("pci 0000:00:00.0: [8086:29c0] type 00 class 0x060000\nsecond line\n");
  ASSERT_EQ(log.lines().size(), 3u);
  EXPECT_EQ(log.lines()[0].level, LogLevel::Err);
  EXPECT_EQ(log.lines()[0].text, "DMAR: [DMA Write NO_PASID] Request device [05:00.0] fault addr 0x101000");
  EXPECT_EQ(log.lines()[2].text, "second line");
  EXPECT_EQ(log.grep("DMAR").size(), 1u);
  EXPECT_EQ(log.dmesg().substr(0, 15), "[    0.000000] ");
}
