// The GPU device model (models/devices/gpu/gpu_device.h) through a fabric: config space and every
// BAR0 register after reset, parameters (and bad ones), sparse VRAM, BAR1 in physical and virtual
// mode, GMMU translation through instance blocks for 4 KiB / 64 KiB / 2 MiB / 512 MiB pages in
// v2 and v3, the TLB (a stale entry is used until invalidated: all, context, VA), and a
// function-level reset (registers back, VRAM kept).
#include "devices/gpu_fixture.h"

#include <cstdlib>

#include "pcie/topology/yaml_loader.h"

using namespace pciesim;
using namespace pciesim::test;
using namespace pciesim::test::gpu_test;

namespace {

struct GpuDeviceTest : GpuFixture {};

// Every register of gpu_regs.h with its reset value (VRAM 64 MiB, BAR1 32 MiB, v2-pascal).
void expect_reset_values(GpuFixture& t) {
  EXPECT_EQ(t.rd(kBoot0), kBoot0Value);
  EXPECT_EQ(t.rd(kVersion), kVersionValue);
  EXPECT_EQ(t.rd(kVramSizeLo), 64u << 20);
  EXPECT_EQ(t.rd(kVramSizeHi), 0u);
  EXPECT_EQ(t.rd(kMmuFormat), kMmuFormatV2Pascal);
  EXPECT_EQ(t.rd(kCaps), 64u | (8u << 8) | (1u << 16));
  EXPECT_EQ(t.rd(kBar1SizeLo), 32u << 20);
  EXPECT_EQ(t.rd(kBar1SizeHi), 0u);
  for (uint32_t r : {kScratch, kIntrStatus, kIntrEnable, kBar1Block, kInvalCtx, kInvalVaLo, kInvalVaHi, kInvalidate,
                     kInvalCount, kFaultBufLo, kFaultBufHi, kFaultBufSize, kFaultGet, kFaultPut, kFaultCtrl,
                     kFaultCount, kFaultDropped, kCeCtx, kCeRingLo, kCeRingHi, kCeRingSize, kCePut, kCeGet,
                     kCeStatus, kCeCtrl, kCeCompleted, kCeBytesLo, kCeBytesHi})
    EXPECT_EQ(t.rd(r), 0u) << std::hex << r;
  for (unsigned i = 0; i < kMaxContexts; ++i) {
    EXPECT_EQ(t.rd(kCtxInstBase + i * kCtxInstStride), 0u) << i;
    EXPECT_EQ(t.rd(kCtxInstBase + i * kCtxInstStride + 4), 0u) << i;
  }
  for (unsigned p = 0; p < kMaxPeers; ++p) {
    EXPECT_EQ(t.rd(kPeerBar1Base + p * kPeerStride), 0u);
    EXPECT_EQ(t.rd(kPeerBar1Base + p * kPeerStride + 4), 0u);
  }
}

}  // namespace

TEST_F(GpuDeviceTest, ConfigSpaceIdsClassBarsMsixAer) {
  EXPECT_EQ(cfg_read(*f, "gpu0", cfg::kVendorId), (uint32_t{kDeviceId} << 16) | kVendorId);
  EXPECT_EQ(cfg_read(*f, "gpu0", cfg::kRevision) >> 8, kClass3d);
  const PciFunction& p = *fn(*f, "gpu0").fn;
  EXPECT_NE(p.pcie_cap(), 0u);
  EXPECT_NE(p.config().find_ext_capability(0x0001), 0u) << "AER";
  EXPECT_EQ(p.bars()[0].size, kBar0Size);
  EXPECT_FALSE(p.bars()[0].is_64bit);
  EXPECT_FALSE(p.bars()[0].prefetchable);
  EXPECT_EQ(p.bars()[1].size, uint64_t{32} << 20);
  EXPECT_TRUE(p.bars()[1].is_64bit);
  EXPECT_TRUE(p.bars()[1].prefetchable);
  ASSERT_NE(p.msix_cap(), 0u);
  const uint32_t ctl = cfg_read(*f, "gpu0", p.msix_cap() + 2, 2);
  EXPECT_EQ((ctl & 0x7ff) + 1, kMsixVectors);
  const uint32_t table = cfg_read(*f, "gpu0", p.msix_cap() + 4);
  EXPECT_EQ(table & 7, 0u) << "BIR 0";
  EXPECT_EQ(table & ~7u, kBar0Size - 4096) << "the last 4 KiB page of BAR0";
}

struct GpuHopperVgaTest : GpuFixture {
  void SetUp() override { build(gpu_topology("v3-hopper", ", vga: true")); }
};

// `vga: true` gives class 0x030000; `mmu: v3-hopper` the v3 format, walked from PD4.
TEST_F(GpuHopperVgaTest, VgaClassAndV3Bar1Translation) {
  EXPECT_EQ(cfg_read(*f, "gpu0", cfg::kRevision) >> 8, kClassVga);
  EXPECT_EQ(rd(kMmuFormat), kMmuFormatV3Hopper);
  PageTables t = tables();
  t.map(0x3000, 0x45'0000, kGmmuSmallPage);
  t.map(0x20'0000, 0x80'0000, kGmmu2MPage);
  bind(0, kInst, kPdb);
  gpu0->vram_write64(0x45'0008, 0x3333);
  gpu0->vram_write64(0x81'0008, 0x4444);
  wr(kBar1Block, kBar1Virtual);
  EXPECT_EQ(mmio_read(*f, bar1 + 0x3008, 8), 0x3333u);
  EXPECT_EQ(mmio_read(*f, bar1 + 0x21'0008, 8), 0x4444u);
  EXPECT_EQ(gpu0->fault_count(), 0u);
}

TEST_F(GpuDeviceTest, EveryRegisterReadsItsResetValueAndMasksApply) {
  expect_reset_values(*this);
  // Read-only registers ignore writes; RW ones keep only their writable bits.
  wr(kBoot0, 0);
  wr(kFaultPut, 5);
  wr(kCeGet, 3);
  EXPECT_EQ(rd(kBoot0), kBoot0Value);
  EXPECT_EQ(rd(kFaultPut), 0u);
  EXPECT_EQ(rd(kCeGet), 0u);
  wr(kScratch, 0xdeadbeef);
  EXPECT_EQ(rd(kScratch), 0xdeadbeefu);
  wr(kIntrEnable, 0xffffffff);
  EXPECT_EQ(rd(kIntrEnable), 0xfu);
  wr(kCtxInstBase, 0xffffffff);
  EXPECT_EQ(rd(kCtxInstBase), 0xfffff007u);
  wr(kBar1Block, 0xffffffff);
  EXPECT_EQ(rd(kBar1Block), kBar1Virtual | 0x3fu);
  wr(kFaultBufLo, 0xffffffff);
  EXPECT_EQ(rd(kFaultBufLo), 0xfffff003u);
  wr(kInvalidate, kInvalTrigger | kInvalVa);
  EXPECT_EQ(rd(kInvalidate), kInvalVa) << "PENDING reads 0";
  EXPECT_EQ(rd(kInvalCount), 1u);
  // Unlisted offsets and wrong sizes read all ones.
  EXPECT_EQ(rd(0x24), 0xffffffffu);
  EXPECT_EQ(mmio_read(*f, bar0 + kScratch, 2), 0xffffu);
}

TEST_F(GpuDeviceTest, VramIsSparseAndBar1PhysicalReachesIt) {
  EXPECT_EQ(gpu0->vram().pages_allocated(), 0u);
  EXPECT_EQ(gpu0->vram_read64(0x123000), 0u) << "never written: zeros";
  mmio_write(*f, bar1 + 0x5008, 0x1122334455667788ull, 8);
  EXPECT_EQ(gpu0->vram_read64(0x5008), 0x1122334455667788ull);
  EXPECT_EQ(mmio_read(*f, bar1 + 0x5008, 8), 0x1122334455667788ull);
  EXPECT_EQ(gpu0->vram().pages_allocated(), 1u);
  // BAR1 (32 MiB) is smaller than VRAM (64 MiB): its last byte is VRAM 32 MiB - 1.
  mmio_write(*f, bar1 + (32 << 20) - 1, 0xab, 1);
  EXPECT_EQ(vram((32 << 20) - 1, 1)[0], 0xab);
  // Tens of GiB of VRAM cost nothing until written.
  GpuVram big(uint64_t{48} << 30);
  big.write64((uint64_t{47} << 30) + 8, 7);
  EXPECT_EQ(big.read64((uint64_t{47} << 30) + 8), 7u);
  EXPECT_EQ(big.pages_allocated(), 1u);
  big.fill(0, 0, 1 << 20);
  EXPECT_EQ(big.pages_allocated(), 1u) << "zeros into unwritten pages allocate nothing";
}

// BAR1 in virtual mode through context 0 with 4 KiB, 64 KiB and 2 MiB pages (v2-pascal).
TEST_F(GpuDeviceTest, Bar1VirtualTranslatesSmallBigAndHugePages) {
  PageTables t = tables();
  t.map(0x0000'1000, 0x40'0000, kGmmuSmallPage);
  t.map(0x0001'0000, 0x50'0000, 0x10000);  // big page (64 KiB)
  t.map(0x0060'0000, 0x60'0000, kGmmu2MPage);
  bind(0, kInst, kPdb);
  gpu0->vram_write64(0x40'0010, 0xaaaa);
  gpu0->vram_write64(0x50'8010, 0xbbbb);
  gpu0->vram_write64(0x61'2340, 0xcccc);
  wr(kBar1Block, kBar1Virtual | 0);
  EXPECT_EQ(mmio_read(*f, bar1 + 0x1010, 8), 0xaaaau);
  EXPECT_EQ(mmio_read(*f, bar1 + 0x1'8010, 8), 0xbbbbu);
  EXPECT_EQ(mmio_read(*f, bar1 + 0x61'2340, 8), 0xccccu);
  mmio_write(*f, bar1 + 0x1018, 0x5555, 8);
  EXPECT_EQ(gpu0->vram_read64(0x40'0018), 0x5555u);
  EXPECT_EQ(gpu0->tlb_stats().misses, 3u);
  EXPECT_EQ(gpu0->tlb_stats().hits, 1u);
  // An unmapped BAR1 VA faults: the read returns all ones, a write is dropped, the fault counted.
  EXPECT_EQ(mmio_read(*f, bar1 + 0x9000, 4), 0xffffffffu);
  mmio_write(*f, bar1 + 0x9000, 1, 4);
  EXPECT_EQ(gpu0->fault_count(), 2u);
  EXPECT_EQ(gpu0->faults_dropped(), 2u) << "no fault buffer programmed";
  // Back to physical mode: BAR1 offset = VRAM address again.
  wr(kBar1Block, 0);
  EXPECT_EQ(mmio_read(*f, bar1 + 0x40'0018, 8), 0x5555u);
}

// The TLB keeps a translation after the PTE changes until software invalidates: by VA, by
// context, all. Each scope drops exactly what it names.
TEST_F(GpuDeviceTest, StaleTlbEntryIsUsedUntilInvalidated) {
  PageTables t = tables();
  PageTables t1 = tables(kPdb1, 0x30000);
  t.map(0x1000, 0x40'0000, kGmmuSmallPage);
  t.map(0x2000, 0x41'0000, kGmmuSmallPage);
  t1.map(0x1000, 0x42'0000, kGmmuSmallPage);
  bind(0, kInst, kPdb);
  bind(1, kInst1, kPdb1);
  gpu0->vram_write64(0x40'0000, 1);
  gpu0->vram_write64(0x41'0000, 2);
  gpu0->vram_write64(0x42'0000, 3);
  gpu0->vram_write64(0x48'0000, 9);
  auto via = [&](unsigned ctx, uint64_t va) {
    wr(kBar1Block, kBar1Virtual | ctx);
    const uint64_t v = mmio_read(*f, bar1 + va, 8);
    wr(kBar1Block, 0);  // back to physical mode: the table updates below go through BAR1
    return v;
  };
  EXPECT_EQ(via(0, 0x1000), 1u);
  EXPECT_EQ(via(0, 0x2000), 2u);
  EXPECT_EQ(via(1, 0x1000), 3u);
  // Remap all three to 0x48'0000: the TLB still answers with the old pages.
  t.map(0x1000, 0x48'0000, kGmmuSmallPage);
  t.map(0x2000, 0x48'0000, kGmmuSmallPage);
  t1.map(0x1000, 0x48'0000, kGmmuSmallPage);
  EXPECT_EQ(via(0, 0x1000), 1u) << "stale";
  EXPECT_EQ(via(0, 0x2000), 2u) << "stale";
  EXPECT_EQ(via(1, 0x1000), 3u) << "stale";
  // By VA: context 0's 0x1000 only.
  wr(kInvalCtx, 0);
  wr(kInvalVaLo, 0x1000);
  wr(kInvalVaHi, 0);
  wr(kInvalidate, kInvalTrigger | kInvalVa);
  EXPECT_EQ(via(0, 0x1000), 9u);
  EXPECT_EQ(via(0, 0x2000), 2u) << "another VA stays";
  EXPECT_EQ(via(1, 0x1000), 3u) << "another context stays";
  // By context: context 1 only.
  wr(kInvalCtx, 1);
  wr(kInvalidate, kInvalTrigger | kInvalContext);
  EXPECT_EQ(via(1, 0x1000), 9u);
  EXPECT_EQ(via(0, 0x2000), 2u);
  // All.
  wr(kInvalidate, kInvalTrigger | kInvalAll);
  EXPECT_EQ(via(0, 0x2000), 9u);
  EXPECT_EQ(rd(kInvalCount), 3u);
}

TEST_F(GpuDeviceTest, FunctionLevelResetRestoresRegistersAndKeepsVram) {
  PageTables t = tables();
  t.map(0x1000, 0x40'0000, kGmmuSmallPage);
  bind(0, kInst, kPdb);
  wr(kBar1Block, kBar1Virtual);
  mmio_write(*f, bar1 + 0x1000, 0x77, 8);
  wr(kScratch, 0x1234);
  wr(kIntrEnable, 0xf);
  fault_buffer(8);
  wr(kCeRingSize, 16);
  wr(kPeerBar1Base, 0xe0000000);
  EXPECT_GT(gpu0->tlb_stats().lookups(), 0u);
  const uint32_t lo = cfg_read(*f, "gpu0", cfg::kBar0), b1lo = cfg_read(*f, "gpu0", cfg::kBar0 + 4),
                 b1hi = cfg_read(*f, "gpu0", cfg::kBar0 + 8), cmd = cfg_read(*f, "gpu0", cfg::kCommand, 2);
  gpu0->reset_function(0, ResetKind::FunctionLevel);
  cfg_write(*f, "gpu0", cfg::kBar0, 4, lo);
  cfg_write(*f, "gpu0", cfg::kBar0 + 4, 4, b1lo);
  cfg_write(*f, "gpu0", cfg::kBar0 + 8, 4, b1hi);
  cfg_write(*f, "gpu0", cfg::kCommand, 2, cmd);
  expect_reset_values(*this);
  EXPECT_EQ(gpu0->tlb_stats().lookups(), 0u);
  EXPECT_EQ(gpu0->gmmu().tlb_occupancy(), 0u);
  EXPECT_FALSE(gpu0->gmmu().context(0).valid);
  // VRAM survives: the data, and the page tables the driver must scrub.
  EXPECT_EQ(gpu0->vram_read64(0x40'0000), 0x77u);
  EXPECT_EQ(mmio_read(*f, bar1 + 0x40'0000, 8), 0x77u) << "BAR1 is back in physical mode";
  EXPECT_NE(gpu0->vram_read64(kInst + 512), 0u);
}

TEST(GpuParams, BadParametersNameTheFileAndLine) {
  auto load = [](const std::string& params) {
    const std::string y = "name: t\nmemory: {base: 0, size: 1GiB}\nroot_complexes:\n  - name: rc0\n    root_ports:\n"
                          "      - name: rp0\n        device: 1\n        below:\n          endpoint: {name: g, model: gpu, "
                          "params: {" + params + "}}\n";
    try {
      topo::load_topology_string(y, "bad.yaml");
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(load("vram: 12345").find("bad.yaml:9"), std::string::npos) << load("vram: 12345");
  EXPECT_NE(load("vram: 12345").find("params.vram"), std::string::npos);
  EXPECT_NE(load("mmu: v4").find("params.mmu"), std::string::npos);
  EXPECT_NE(load("bar1: 3MiB").find("params.bar1"), std::string::npos);
  EXPECT_NE(load("vga: maybe").find("params.vga"), std::string::npos);
  EXPECT_NE(load("tlb_entries: 96, tlb_ways: 8").find("params.tlb_entries"), std::string::npos);
  EXPECT_NE(load("ce_request_bytes: 48").find("params.ce_request_bytes"), std::string::npos);
  EXPECT_NE(load("vram_gbps: -1").find("params.vram_gbps"), std::string::npos);
  EXPECT_NE(load("colour: red").find("unknown parameter 'colour'"), std::string::npos);
  EXPECT_NE(load("vram: 256GiB").find("exceeds"), std::string::npos) << "v2 PTEs address 128 GiB of VRAM";
  EXPECT_EQ(load("vram: 64GiB, bar1: 64MiB, mmu: v3-hopper, vga: true, tlb_entries: 64, tlb_ways: 4"), "");
}

// The shipped topologies load, enumerate and give working GPUs (one design per test process).
void expect_shipped(const char* file, std::vector<const char*> gpus) {
  const char* dir = std::getenv("PCIESIM_SOURCE_DIR");
  ASSERT_NE(dir, nullptr);
  Fabric fab(topo::load_topology_file(std::string(dir) + "/scenarios/topologies/" + file));
  fab.enumerate();
  for (const char* g : gpus) {
    ASSERT_NE(dynamic_cast<GpuDevice*>(fn(fab, g).endpoint), nullptr) << file << " " << g;
    EXPECT_EQ(mmio_read(fab, bar(fab, g, 0) + kBoot0), kBoot0Value) << file << " " << g;
  }
}
TEST(GpuTopologies, ShippedGpuYamlLoads) { expect_shipped("gpu.yaml", {"gpu0"}); }
TEST(GpuTopologies, ShippedGpuP2pYamlLoads) { expect_shipped("gpu-p2p.yaml", {"gpu0", "gpu1"}); }
