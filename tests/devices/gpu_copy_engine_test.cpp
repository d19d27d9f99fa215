// The GPU's copy engine and fault buffer through a fabric with a VT-d unit: system memory ->
// VRAM -> system memory through the IOMMU (the records show GPU VA -> IOVA -> PA), FILL, the
// semaphore and the CE-done interrupt over MSI-X, a GMMU fault written to the fault buffer (every
// field, PUT/GET, MSI-X, overflow), each CE error code, and peer copies to another GPU's BAR1 with
// ACS off (direct P2P under the switch) and ACS RR on (redirected through the IOMMU).
#include "devices/gpu_fixture.h"

using namespace pciesim;
using namespace pciesim::test;
using namespace pciesim::test::gpu_test;

namespace {

struct GpuCopyEngineTest : GpuFixture {
  static constexpr uint64_t kVramVa = 0x2000'0000, kVramPa = 0x40'0000;
  PageTables t = PageTables(GmmuFormat::v2_pascal(), nullptr);

  // The flow of the lead's VFIO client: tables in VRAM through BAR1 (physical mode), context 0's
  // instance block, the ring, 4 pages of VRAM at kVramVa and 4 pages of system memory (IOVA
  // kIova) at kSysVa.
  void setup_context() {
    t = tables();
    ring(t);
    t.map_range(kVramVa, kVramPa, 4 * 4096);
    t.map_range(kSysVa, kIova, 4 * 4096, GmmuAperture::SysCoherent);
    bind(0, kInst, kPdb);
  }
};

}  // namespace

TEST_F(GpuCopyEngineTest, CopySystemToVramToSystemThroughTheIommu) {
  iommu_map();
  setup_context();
  listen();
  const auto data = pattern(4096, 0x21);
  f->dram().write(kPa, data.data(), data.size());
  in_thread([&] {
    Cmd in{kCeOpCopy, 0, kSysVa, kVramVa, 4096};
    Cmd out{kCeOpCopy, 0, kVramVa, kSysVa + 0x2000, 4096};
    submit({in, out});
  });
  EXPECT_EQ(rd(kCeStatus), 0u) << "idle, no error";
  EXPECT_EQ(rd(kCeGet), 2u);
  EXPECT_EQ(rd(kCeCompleted), 2u);
  EXPECT_EQ(rd(kCeBytesLo), 8192u);
  EXPECT_EQ(vram(kVramPa, 4096), data);
  EXPECT_EQ(dram(kPa + 0x2000, 4096), data) << "back in system memory at the PA the IOMMU chose";
  // The records: the first source read goes GPU VA kSysVa -> IOVA kIova -> PA kPa.
  const GpuTransaction* first_sys = nullptr;
  size_t upstream = 0;
  for (const auto& r : records) {
    if (!r.upstream) continue;
    ++upstream;
    if (!first_sys && r.purpose == GpuPurpose::Source) first_sys = &r;
  }
  ASSERT_NE(first_sys, nullptr);
  EXPECT_EQ(first_sys->va, kSysVa);
  EXPECT_EQ(first_sys->address, kIova);
  EXPECT_TRUE(first_sys->iommu_checked);
  EXPECT_EQ(first_sys->iommu_output, kPa);
  EXPECT_EQ(first_sys->verdict.outcome, Outcome::Delivered);
  EXPECT_FALSE(first_sys->path.empty());
  EXPECT_EQ(upstream, 2u * 4096 / 64) << "64-byte requests: 64 reads in, 64 writes out";
  EXPECT_EQ(gpu0->ce_stats().requests, 2u * 4096 / 64);
  // One walk per page touched (ring page, 1 system + 1 VRAM page per command, then 1 system page).
  EXPECT_EQ(gpu0->gmmu().walks(), 4u);
}

TEST_F(GpuCopyEngineTest, FillSemaphoreAndCeDoneInterruptOverMsix) {
  setup_context();
  enable_msix();
  wr(kIntrEnable, kIntrCeDone);
  in_thread([&] {
    Cmd fill{kCeOpFill, kCeFlagSemaphore | kCeFlagInterrupt, 0, kVramVa + 0x100, 0x1000, kVramVa + 0x3000, 0xa5};
    submit({fill});
  });
  EXPECT_EQ(vram(kVramPa + 0x100, 0x1000), std::vector<uint8_t>(0x1000, 0xa5));
  EXPECT_EQ(vram(kVramPa + 0x1100, 1)[0], 0) << "FILL stops at its length";
  EXPECT_EQ(gpu0->vram_read64(kVramPa + 0x3000), 0xa5u) << "the semaphore holds the payload";
  EXPECT_EQ(rd(kIntrStatus), kIntrCeDone);
  EXPECT_EQ(gpu0->msi_sent(), 1u);
  EXPECT_EQ(f->apic().count(), 1u);
  wr(kIntrStatus, kIntrCeDone);
  EXPECT_EQ(rd(kIntrStatus), 0u) << "write 1 to clear";
}

TEST_F(GpuCopyEngineTest, GmmuFaultGoesToTheFaultBufferWithEveryField) {
  setup_context();
  enable_msix();
  fault_buffer(4);
  wr(kIntrEnable, kIntrMmuFault | kIntrCeError | kIntrFaultOverflow);
  const uint64_t bad_va = 0x7700'5000;
  // Five commands, each writing the unmapped page: the first faults and halts the engine, each
  // RESUME skips the failed one and the next faults in turn.
  const Cmd bad{kCeOpCopy, 0, kVramVa, bad_va + 0x40, 64};
  in_thread([&] { submit({bad, bad, bad, bad, bad}); });
  EXPECT_EQ(ce_error(), kCeErrDstFault);
  EXPECT_EQ(rd(kCeGet), 0u) << "GET stays on the failed command while halted";
  EXPECT_EQ(rd(kCeStatus) & kCeHalted, kCeHalted);
  EXPECT_EQ(rd(kFaultPut), 1u);
  EXPECT_EQ(rd(kFaultCount), 1u);
  EXPECT_EQ(rd(kIntrStatus), kIntrMmuFault | kIntrCeError);
  EXPECT_EQ(gpu0->msi_sent(), 2u) << "MMU-fault vector and error vector";
  uint32_t e[8];
  gpu0->vram_read(kFaultPa, reinterpret_cast<uint8_t*>(e), 32);
  EXPECT_EQ(e[0], static_cast<uint32_t>(kInst) | (kTargetVideo << 8));
  EXPECT_EQ(e[1], 0u);
  EXPECT_EQ(e[2], static_cast<uint32_t>(bad_va & ~0xfffull));
  EXPECT_EQ(e[3], 0u);
  EXPECT_EQ(e[6], kEngineCe0);
  EXPECT_EQ(e[7] & 0x1f, static_cast<uint32_t>(GmmuFaultType::Pde));
  EXPECT_EQ((e[7] >> 8) & 0x7f, kClientCe0);
  EXPECT_EQ((e[7] >> 16) & 0xf, kAccessWrite);
  EXPECT_EQ((e[7] >> 20) & 1, 1u) << "HUB client";
  EXPECT_EQ(e[7] & kFaultValid, kFaultValid);
  // Two more faults fill the ring (4 entries, one kept free); the fourth overflows.
  in_thread([&] {
    for (int i = 0; i < 3; ++i) {
      wr(kCeCtrl, kCeResume);
      sc_core::wait(sc_core::sc_time(1, sc_core::SC_US));
    }
  });
  EXPECT_EQ(rd(kFaultPut), 3u);
  EXPECT_EQ(rd(kFaultCount), 4u);
  EXPECT_EQ(rd(kFaultDropped), 1u);
  EXPECT_EQ(rd(kFaultCtrl), kFaultEnable | kFaultOverflow);
  EXPECT_EQ(rd(kIntrStatus) & kIntrFaultOverflow, kIntrFaultOverflow);
  // Software consumes entries: GET moves, room again.
  wr(kFaultGet, 3);
  wr(kFaultCtrl, kFaultEnable | kFaultOverflow);  // OVERFLOW is write-1-to-clear
  EXPECT_EQ(rd(kFaultCtrl), kFaultEnable);
  EXPECT_EQ(rd(kCeGet), 3u);
  // Map the page and resume: the fourth is skipped, the fifth now completes.
  t.map(bad_va, kVramPa + 0x3000, kGmmuSmallPage);
  wr(kInvalidate, kInvalTrigger | kInvalAll);
  in_thread([&] {
    wr(kCeCtrl, kCeResume);
    sc_core::wait(sc_core::sc_time(1, sc_core::SC_US));
  });
  EXPECT_EQ(rd(kCeStatus), 0u);
  EXPECT_EQ(rd(kCeCompleted), 1u);
  EXPECT_EQ(rd(kCeGet), rd(kCePut));
}

TEST_F(GpuCopyEngineTest, EachErrorCodeHaltsTheEngine) {
  iommu_map();
  setup_context();
  t.map(0x6000'0000, kVramPa, kGmmuSmallPage, GmmuAperture::Video, 0, /*read_only*/ true);
  struct Case {
    Cmd cmd;
    uint32_t error;
  } cases[] = {
      {Cmd{7}, kCeErrBadCommand},                                                        // unknown opcode
      {Cmd{kCeOpCopy, 0, kVramVa, kVramVa + 64, 0}, kCeErrBadCommand},                   // zero length
      {Cmd{kCeOpCopy, 0, 0x5000'0000, kVramVa, 64}, kCeErrSrcFault},                     // unmapped source
      {Cmd{kCeOpCopy, 0, kVramVa, 0x6000'0000, 64}, kCeErrDstFault},                     // read-only destination
      {Cmd{kCeOpNop, kCeFlagSemaphore, 0, 0, 0, 0x5000'0000, 1}, kCeErrSemFault},         // unmapped semaphore
      {Cmd{kCeOpCopy, 0, kSysVa + 0x3000 + 4096, kVramVa, 64}, kCeErrSrcFault},          // beyond the mapping
  };
  for (const Case& c : cases) {
    in_thread([&] { submit({c.cmd}); });
    EXPECT_EQ(ce_error(), c.error) << "opcode " << c.cmd.op;
    EXPECT_EQ(rd(kCeStatus) >> 16, rd(kCeGet)) << "the failing command's index";
    wr(kCeGet + 0, 0);  // RO: no effect
    // RESUME skips the failed command: no semaphore, no completion.
    const uint32_t get = rd(kCeGet), completed = rd(kCeCompleted);
    in_thread([&] {
      wr(kCeCtrl, kCeResume);
      sc_core::wait(sc_core::sc_time(1, sc_core::SC_US));
    });
    EXPECT_EQ(rd(kCeStatus), 0u);
    EXPECT_EQ(rd(kCeGet), (get + 1) % kRingEntries);
    EXPECT_EQ(rd(kCeCompleted), completed);
  }
  // A GPU VA that maps system memory the IOMMU does not map. A write there is posted: the IOMMU
  // faults it, the engine cannot know and completes the command. A read's completion reports the
  // fault: BUS_ERROR.
  t.map(0x6100'0000, 0x0900'0000, kGmmuSmallPage, GmmuAperture::SysCoherent);
  const uint32_t completed = rd(kCeCompleted);
  in_thread([&] { submit({Cmd{kCeOpCopy, 0, kVramVa, 0x6100'0000, 64}}); });
  EXPECT_EQ(ce_error(), 0u) << "a lost posted write does not halt the engine";
  EXPECT_EQ(rd(kCeCompleted), completed + 1);
  EXPECT_EQ(f->iommu("dmar0")->faults(), 1u);
  in_thread([&] { submit({Cmd{kCeOpCopy, 0, 0x6100'0000, kVramVa, 64}}); });
  EXPECT_EQ(ce_error(), kCeErrBusError);
  EXPECT_EQ(f->iommu("dmar0")->faults(), 2u);
  // A misaligned ring.
  wr(kCeCtrl, kCeResume);
  wr(kCeRingLo, static_cast<uint32_t>(kRingVa + 8));
  in_thread([&] { submit({Cmd{}}); });
  EXPECT_EQ(ce_error(), kCeErrBadCommand);
  // Reading the command faults: the ring's VA unmapped.
  wr(kCeCtrl, kCeResume);
  wr(kCeRingLo, 0x0ff0'0000);
  wr(kCeRingHi, 0);
  in_thread([&] { submit({Cmd{}}); });
  EXPECT_EQ(ce_error(), kCeErrRingFault);
}

// gpu0 copies into gpu1's VRAM through a peer PTE: bus address = PEER_BAR1[0] + page address, and
// gpu1's BAR1 (physical mode) puts it in its VRAM. ACS off: the switch routes it straight across.
// ACS RR at dpA (and UF at rp0): redirected to the root complex, where the IOMMU translates the bus address as an
// IOVA; with nothing mapped for gpu0 it faults: the write is lost (posted), the IOMMU records it.
TEST_F(GpuCopyEngineTest, PeerCopyDirectWithAcsOffAndThroughTheIommuWithRr) {
  setup_context();
  listen();
  const uint64_t peer_bar1 = bar(*f, "gpu1", 1);
  wr(kPeerBar1Base, static_cast<uint32_t>(peer_bar1));
  wr(kPeerBar1Base + 4, static_cast<uint32_t>(peer_bar1 >> 32));
  const uint64_t kPeerVa = 0x4000'0000;
  t.map(kPeerVa, 0x1000, kGmmuSmallPage, GmmuAperture::Peer, 0);
  const auto data = pattern(256, 0x61);
  gpu0->vram_write(kVramPa, data.data(), data.size());
  in_thread([&] { submit({Cmd{kCeOpCopy, 0, kVramVa, kPeerVa, 256}}); });
  EXPECT_EQ(ce_error(), 0u);
  EXPECT_EQ(vram(0x1000, 256, gpu1), data) << "in gpu1's VRAM";
  const GpuTransaction* w = nullptr;
  for (const auto& r : records)
    if (r.purpose == GpuPurpose::Destination) w = &r;
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->aperture, GmmuAperture::Peer);
  EXPECT_EQ(w->address, peer_bar1 + 0x1000 + 192);
  EXPECT_EQ(w->verdict.outcome, Outcome::Delivered);
  EXPECT_FALSE(w->iommu_checked) << "direct P2P under the switch: no IOMMU on the path";

  // ACS RR at gpu0's downstream port, IOMMU translating with nothing mapped for gpu0: fault.
  set_acs(*f, "dpA", 0x0004 /*RR*/ | 0x0001 /*SV*/);
  set_acs(*f, "rp0", 0x0010 /*UF: forward it on to the root complex, not back down*/);
  iommu_map("gpu0", kIova, kPa, 1);
  records.clear();
  in_thread([&] { submit({Cmd{kCeOpCopy, 0, kVramVa, kPeerVa, 64}}); });
  EXPECT_EQ(ce_error(), 0u) << "the posted write is lost without the engine knowing";
  ASSERT_FALSE(records.empty());
  EXPECT_TRUE(records.back().iommu_checked);
  EXPECT_EQ(records.back().verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(records.back().verdict.acs_bit, AcsBit::None);
}

// v3 (Hopper): a 512 MiB page in PD1 and a 64 KiB big page, used by the copy engine.
struct GpuHopperCopyTest : GpuCopyEngineTest {
  void SetUp() override { build(gpu_topology("v3-hopper")); }
};

TEST_F(GpuHopperCopyTest, CopiesThroughA512MiBAndABigPage) {
  t = tables();
  ring(t);
  t.map(0x2000'0000, 0, kGmmu512MPage);            // VA 512 MiB .. 1 GiB -> VRAM 0 (first 64 MiB exist)
  t.map(0x4001'0000, 0x60'0000, 0x10000);          // one 64 KiB big page
  bind(0, kInst, kPdb);
  const auto data = pattern(512, 0x33);
  gpu0->vram_write(0x50'0000, data.data(), data.size());
  in_thread([&] { submit({Cmd{kCeOpCopy, 0, 0x2050'0000, 0x4001'8000, 512}}); });
  EXPECT_EQ(ce_error(), 0u);
  EXPECT_EQ(vram(0x60'8000, 512), data);
  EXPECT_EQ(gpu0->gmmu().walks(), 3u) << "ring page, the 512 MiB page, the big page";
}

// Physical addressing (gpu_regs.h kCeRingPhysical, kCeFlag*Physical): no context, no GMMU. A FILL
// of zeros over all of VRAM (the variant driver's scrub) erases the data and gives the pages back.
TEST_F(GpuCopyEngineTest, PhysicalRingFillAndCopyNeedNoContextAndScrubVram) {
  const uint64_t size = gpu0->vram_size();
  const auto data = pattern(4096, 0x5c);
  gpu0->vram_write(0x20'0000, data.data(), data.size());
  gpu0->vram_write(size - 4096, data.data(), data.size());
  wr(kCeRingLo, static_cast<uint32_t>(kRingPa) | kCeRingPhysical | kTargetVideo);
  wr(kCeRingHi, 0);
  wr(kCeRingSize, kRingEntries);
  const uint32_t dst_vram = kCeFlagDstPhysical | kTargetVideo << kCeFlagDstTargetShift;
  const uint32_t both_vram = dst_vram | kCeFlagSrcPhysical | kTargetVideo << kCeFlagSrcTargetShift;
  // A physical copy inside VRAM first.
  in_thread([&] { submit({Cmd{kCeOpCopy, both_vram, 0x20'0000, 0x30'0000, 4096}}); });
  EXPECT_EQ(ce_error(), 0u);
  EXPECT_EQ(vram(0x30'0000, 4096), data);
  const size_t pages_before = gpu0->vram().pages_allocated();
  EXPECT_GE(pages_before, 4u) << "ring, the two pages written, the copy";
  const sc_core::sc_time t0 = sc_core::sc_time_stamp();
  in_thread([&] { submit({Cmd{kCeOpFill, dst_vram, 0, 0x20'0000, size - 0x20'0000}}); });
  EXPECT_EQ(ce_error(), 0u);
  EXPECT_EQ(vram(0x20'0000, 4096), std::vector<uint8_t>(4096, 0));
  EXPECT_EQ(vram(size - 4096, 4096), std::vector<uint8_t>(4096, 0));
  EXPECT_EQ(gpu0->vram().pages_allocated(), 1u) << "only the ring's page is left";
  EXPECT_EQ(gpu0->gmmu().walks(), 0u) << "nothing was translated";
  // The time is the bytes at the VRAM bandwidth, as for any FILL.
  const double bytes = double(size - 0x20'0000);
  EXPECT_GE((sc_core::sc_time_stamp() - t0).to_seconds(), bytes / (gpu0->params().vram_gbps > 0 ? gpu0->params().vram_gbps * 1e9 : 900e9) * 0.99);
  // Target 1 is no memory: a bad command.
  in_thread([&] { submit({Cmd{kCeOpFill, kCeFlagDstPhysical | 1u << kCeFlagDstTargetShift, 0, 0, 64}}); });
  EXPECT_EQ(ce_error(), kCeErrBadCommand);
}

// Copy throughput (docs/gpu.md "Timing"): a system -> VRAM copy runs at most at the link's rate
// (Gen4 x16: 16 GT/s x 16 lanes x 128/130 = 31.5 GB/s before TLP overhead, PCIe 4.0 4.2.2), a
// VRAM -> VRAM copy does not touch the link and is bounded by VRAM's bandwidth: with `vram_gbps: 4`
// it takes at least its bytes at 4 GB/s.
struct GpuSlowVramTest : GpuCopyEngineTest {
  void SetUp() override { build(gpu_topology("v2-pascal", ", vram_gbps: 4")); }
};

namespace {
double copy_seconds(GpuCopyEngineTest& t, uint64_t src, uint64_t dst, uint64_t len) {
  sc_core::sc_time elapsed;
  const uint32_t done = t.gpu0->reg(kCeCompleted) + 1;
  in_thread([&] {
    const sc_core::sc_time t0 = sc_core::sc_time_stamp();
    t.put_cmd(t.gpu0->reg(kCePut), GpuFixture::Cmd{kCeOpCopy, 0, src, dst, len});
    t.gpu0->reg(kCePut);
    t.wr(kCePut, (t.gpu0->reg(kCePut) + 1) % GpuFixture::kRingEntries);
    // the doorbell's own write time is part of what a driver sees; poll without bus traffic
    while (t.gpu0->reg(kCeCompleted) != done && !(t.gpu0->reg(kCeStatus) & kCeHalted))
      sc_core::wait(sc_core::sc_time(1, sc_core::SC_NS));
    elapsed = sc_core::sc_time_stamp() - t0;
  });
  return elapsed.to_seconds();
}
}  // namespace

// 1 MiB of VRAM at kBigVram and 1 MiB of system memory (IOVA kIova) at kBigSys, so fixed costs
// (doorbell, command fetch, latencies) are small beside the transfer.
constexpr uint64_t kBig = 1 << 20, kBigVram = 0x5000'0000, kBigSys = 0x6000'0000;

TEST_F(GpuCopyEngineTest, SystemCopiesRunAtMostAtTheLinksRate) {
  iommu_map("gpu0", kIova, kPa, kBig / 4096);
  setup_context();
  t.map_range(kBigVram, 0x80'0000, 2 * kBig);
  t.map_range(kBigSys, kIova, kBig, GmmuAperture::SysCoherent);
  copy_seconds(*this, kBigSys, kBigVram, kBig);  // warm: TLB, IOTLB, route cache
  const double sys = copy_seconds(*this, kBigSys, kBigVram, kBig);
  const double local = copy_seconds(*this, kBigVram, kBigVram + kBig, kBig);
  EXPECT_EQ(ce_error(), 0u);
  EXPECT_LE(kBig / sys, 31.5e9) << "no faster than the Gen4 x16 link";
  EXPECT_GT(kBig / sys, 4e9) << "requests are pipelined, not one round trip each";
  EXPECT_LT(local, sys) << "VRAM -> VRAM does not cross the link";
}

TEST_F(GpuSlowVramTest, VramCopiesAreBoundedByVramBandwidth) {
  setup_context();
  t.map_range(kBigVram, 0x80'0000, 2 * kBig);
  copy_seconds(*this, kBigVram, kBigVram + kBig, kBig);  // warm the TLB
  const double s = copy_seconds(*this, kBigVram, kBigVram + kBig, kBig);
  EXPECT_EQ(ce_error(), 0u);
  EXPECT_GE(s, kBig / 4e9) << "1 MiB at 4 GB/s";
  EXPECT_LT(s, kBig / 4e9 * 1.2) << "and not much more: requests are pipelined";
}

// The ring and the fault buffer in system memory: the engine fetches its commands and writes its
// fault entries by DMA through the fabric and the IOMMU (IOVA -> PA), as a driver that keeps them
// in host memory has it.
TEST_F(GpuCopyEngineTest, RingAndFaultBufferInSystemMemoryGoThroughTheIommu) {
  iommu_map("gpu0", kIova, kPa, 8);
  t = tables();
  t.map_range(kRingVa, kIova + 0x4000, 4096, GmmuAperture::SysCoherent);  // ring: IOVA page 4
  t.map_range(kVramVa, kVramPa, 4096);
  bind(0, kInst, kPdb);
  wr(kCeCtx, 0);
  wr(kCeRingLo, static_cast<uint32_t>(kRingVa));
  wr(kCeRingHi, 0);
  wr(kCeRingSize, kRingEntries);
  fault_buffer(4, kIova + 0x5000, kTargetSysCoherent);                      // entries: IOVA page 5
  listen();
  auto command = [&](uint32_t slot, const Cmd& c) {
    uint8_t b[kCeCommandSize] = {};
    std::memcpy(b, &c.op, 4);
    std::memcpy(b + 4, &c.flags, 4);
    std::memcpy(b + 0x08, &c.src, 8);
    std::memcpy(b + 0x10, &c.dst, 8);
    std::memcpy(b + 0x18, &c.len, 8);
    std::memcpy(b + 0x28, &c.payload, 8);
    f->dram().write(kPa + 0x4000 + slot * kCeCommandSize, b, sizeof b);  // the driver's RAM
  };
  command(0, Cmd{kCeOpFill, 0, 0, kVramVa, 256, 0, 0x77});
  command(1, Cmd{kCeOpCopy, 0, 0x7100'0000, kVramVa, 64});               // an unmapped source
  in_thread([&] {
    wr(kCePut, 2);
    while (gpu0->reg(kCeCompleted) < 1 || !(gpu0->reg(kCeStatus) & kCeHalted))
      sc_core::wait(sc_core::sc_time(10, sc_core::SC_NS));
  });
  EXPECT_EQ(vram(kVramPa, 256), std::vector<uint8_t>(256, 0x77));
  EXPECT_EQ(ce_error(), kCeErrSrcFault);
  // The commands came from DRAM through the IOMMU.
  size_t fetches = 0;
  for (const GpuTransaction& r : records)
    if (r.purpose == GpuPurpose::Command) {
      ++fetches;
      EXPECT_TRUE(r.upstream);
      EXPECT_TRUE(r.iommu_checked);
      EXPECT_EQ(r.iommu_output, kPa + 0x4000 + (fetches - 1) * kCeCommandSize);
    }
  EXPECT_EQ(fetches, 2u);
  // The fault entry is in DRAM at the PA behind the buffer's IOVA.
  uint32_t e[8];
  f->dram().read(kPa + 0x5000, e, sizeof e);
  EXPECT_EQ(e[2], 0x7100'0000u) << "the faulting VA";
  EXPECT_EQ(e[7] & kFaultValid, kFaultValid);
  EXPECT_EQ(e[7] & 0x1f, static_cast<uint32_t>(GmmuFaultType::Pde));
  EXPECT_EQ(rd(kFaultPut), 1u);
}
