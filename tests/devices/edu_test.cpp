// QEMU's edu device (models/devices/edu, docs/edu.md) driven through a fabric: its config header
// and registers after reset, the access-size rules, the factorial worker, the DMA engine (through
// the fabric, with and without the IOMMU), interrupts by INTx and by MSI to the APIC sink, its
// placement behind a PCIe-to-PCI bridge, a Secondary Bus Reset (edu keeps its state, as QEMU's)
// and reads that fail (zeros, as QEMU's). Several functions: edu_multifunction_test.cpp. Tests that
// need simulated time run their body in a SystemC thread (in_thread) and wait() in it.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <cstdlib>
#include <functional>

#include "devices/edu/edu_device.h"
#include "iommu/local_apic_sink.h"
#include "iommu/vtd_programmer.h"
#include "pcie/fabric_fixture.h"
#include "pcie/pcie_regs.h"

using namespace pciesim;
using namespace pciesim::test;
using sc_core::sc_time;
using sc_core::SC_MS;
using sc_core::SC_US;

namespace {

// edu on a root port (conventional PCI on a PCIe port, as QEMU allows) and one behind a
// PCIe-to-PCI bridge; the topology names only the model.
const char* kTopology = R"(
name: edu-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        below:
          endpoint: {name: edu0, model: edu}
      - name: rp1
        device: 2
        below:
          pci_bridge:
            name: pcibr0
            devices:
              - {name: edu1, model: edu, device: 1, params: {dma_mask: 0xffffffffff}}
)";

std::string with_iommu() {
  return std::string(kTopology) + "iommus:\n  - name: dmar0\n    preset: qemu-7.2\n    include_all: true\n";
}

// Runs `body` in a SystemC thread and simulates until nothing is left to do.
void in_thread(std::function<void()> body) {
  sc_core::sc_spawn(std::move(body));
  sc_core::sc_start();
}

struct Edu : ::testing::Test {
  std::unique_ptr<Fabric> f;
  EduDevice* edu = nullptr;
  uint64_t base = 0;
  std::vector<bool> intx;  // levels the fabric's INTx listener heard for edu0

  void SetUp() override { build(kTopology); }
  void build(const std::string& yaml) {
    f = make_fabric(yaml);
    edu = dynamic_cast<EduDevice*>(fn(*f, "edu0").endpoint);
    ASSERT_NE(edu, nullptr);
    base = bar(*f, "edu0", 0);
    f->set_intx_listener([this](const FunctionInfo& info, unsigned pin, bool level) {
      if (info.fn == fn(*f, "edu0").fn && pin == 1) intx.push_back(level);
    });
  }
  uint64_t rd(uint32_t off, unsigned len = 4) { return mmio_read(*f, base + off, len); }
  void wr(uint32_t off, uint64_t v, unsigned len = 4) { mmio_write(*f, base + off, v, len); }
  void dram_fill(uint64_t pa, unsigned len, uint8_t seed) {
    std::vector<uint8_t> d(len);
    for (unsigned i = 0; i < len; ++i) d[i] = static_cast<uint8_t>(seed + i);
    f->dram().write(pa, d.data(), len);
  }
  std::vector<uint8_t> dram(uint64_t pa, unsigned len) {
    std::vector<uint8_t> d(len);
    f->dram().read(pa, d.data(), len);
    return d;
  }
  std::vector<uint8_t> buffer(unsigned off, unsigned len) {
    return {edu->dma_buffer().begin() + off, edu->dma_buffer().begin() + off + len};
  }
  static std::vector<uint8_t> pattern(unsigned len, uint8_t seed) {
    std::vector<uint8_t> d(len);
    for (unsigned i = 0; i < len; ++i) d[i] = static_cast<uint8_t>(seed + i);
    return d;
  }
  // Programs the four DMA registers as edu's documentation says: src, dst, count, then command.
  void start_dma(uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd) {
    wr(edu::kDmaSrc, src, 8);
    wr(edu::kDmaDst, dst, 8);
    wr(edu::kDmaCount, count, 8);
    wr(edu::kDmaCmd, cmd, 8);
  }
};

// The same machine with a VT-d unit covering every device (QEMU 7.2's intel-iommu registers).
struct EduWithIommu : Edu {
  void SetUp() override { build(with_iommu()); }
};

constexpr uint64_t kBufferAddr = edu::kDmaBufferBase;

}  // namespace

TEST_F(Edu, ConfigHeaderIsQemusConventionalPciFunction) {
  EXPECT_EQ(cfg_read(*f, "edu0", cfg::kVendorId), 0x11e81234u);
  EXPECT_EQ(cfg_read(*f, "edu0", cfg::kRevision), 0x00ff0010u) << "revision 0x10, class 0x00ff00";
  EXPECT_EQ(cfg_read(*f, "edu0", cfg::kHeaderType, 1), 0u);
  EXPECT_EQ(cfg_read(*f, "edu0", cfg::kSubsysVendor), 0x11001af4u);
  EXPECT_EQ(cfg_read(*f, "edu0", cfg::kIntPin, 1), 1u) << "INTA";
  EXPECT_TRUE(cfg_read(*f, "edu0", cfg::kStatus, 2) & cfg::kStatusCapList);
  // One capability, MSI at 0x40: 1 vector, 64-bit, no per-vector masking; no PM, no PCIe.
  EXPECT_EQ(cfg_read(*f, "edu0", cfg::kCapPtr, 1), 0x40u);
  EXPECT_EQ(cfg_read(*f, "edu0", 0x40), 0x00800005u);
  const PciFunction& fn0 = *fn(*f, "edu0").fn;
  EXPECT_EQ(fn0.pcie_cap(), 0u);
  EXPECT_FALSE(fn0.config().extended()) << "256-byte config space even on a PCIe port";
  EXPECT_EQ(fn0.config().find_capability(regs::kCapIdPm), 0u);
  const DecodedBar& b = fn0.bars()[0];
  EXPECT_EQ(b.size, edu::kBar0Size);
  EXPECT_FALSE(b.is_64bit);
  EXPECT_FALSE(b.prefetchable);
  EXPECT_FALSE(b.io);
  for (int i = 1; i < 6; ++i) EXPECT_LT(fn0.bars()[i].index, 0) << "BAR" << i;
  EXPECT_EQ(edu->dma_mask(), edu::kDefaultDmaMask);
}

TEST_F(Edu, RegistersReadTheirResetValues) {
  EXPECT_EQ(rd(edu::kId), 0x010000edu);
  EXPECT_EQ(rd(edu::kLiveness), 0u);
  EXPECT_EQ(rd(edu::kFactorial), 0u);
  EXPECT_EQ(rd(edu::kStatus), 0u);
  EXPECT_EQ(rd(edu::kIrqStatus), 0u);
  for (uint32_t r : {edu::kDmaSrc, edu::kDmaDst, edu::kDmaCount, edu::kDmaCmd}) {
    EXPECT_EQ(rd(r, 8), 0u) << std::hex << r;
    EXPECT_EQ(rd(r, 4), 0u) << std::hex << r;
  }
  // Write-only and unlisted offsets read all ones.
  for (uint32_t r : {edu::kIrqRaise, edu::kIrqAck, 0x0cu, 0x10u, 0x28u, 0x84u, 0xa0u, 0x1000u, 0xffffcu})
    EXPECT_EQ(rd(r), 0xffffffffu) << std::hex << r;
  EXPECT_EQ(rd(0xa0, 8), ~uint64_t{0});
}

TEST_F(Edu, LivenessAndTheAccessSizeRules) {
  wr(edu::kLiveness, 0x12345678);
  EXPECT_EQ(rd(edu::kLiveness), 0xedcba987u) << "reads back the bitwise NOT";
  // Below 0x80 only 4-byte accesses: others read all ones and write nothing.
  EXPECT_EQ(rd(edu::kId, 2), 0xffffu);
  EXPECT_EQ(rd(edu::kId, 1), 0xffu);
  EXPECT_EQ(rd(edu::kId, 8), ~uint64_t{0});
  wr(edu::kLiveness, 0, 2);
  wr(edu::kLiveness, 0, 8);
  wr(edu::kLiveness, 0, 1);
  EXPECT_EQ(rd(edu::kLiveness), 0xedcba987u);
  // From 0x80, 4 or 8 bytes; a 4-byte access reaches the low half and zero-extends a write.
  wr(edu::kDmaSrc, 0x1122334455667788ull, 8);
  EXPECT_EQ(rd(edu::kDmaSrc, 8), 0x1122334455667788ull);
  EXPECT_EQ(rd(edu::kDmaSrc, 4), 0x55667788u);
  EXPECT_EQ(rd(edu::kDmaSrc + 4, 4), 0xffffffffu) << "the upper half is no register of its own";
  wr(edu::kDmaSrc, 0xaabbccdd, 4);
  EXPECT_EQ(rd(edu::kDmaSrc, 8), 0xaabbccddull);
  wr(edu::kDmaSrc, 0, 2);
  EXPECT_EQ(rd(edu::kDmaSrc, 8), 0xaabbccddull);
  EXPECT_EQ(rd(edu::kDmaSrc, 2), 0xffffu);
  // Read-only registers ignore writes.
  wr(edu::kId, 0);
  wr(edu::kIrqStatus, 0xff);
  EXPECT_EQ(rd(edu::kId), 0x010000edu);
  EXPECT_EQ(rd(edu::kIrqStatus), 0u);
  // Status: only bit 7 is software's.
  wr(edu::kStatus, 0xff);
  EXPECT_EQ(rd(edu::kStatus), edu::kStatusIrqFact);
}

TEST_F(Edu, FactorialFinishesAfterTheModelledDelay) {
  in_thread([&] {
    wr(edu::kFactorial, 10);
    EXPECT_EQ(rd(edu::kStatus) & edu::kStatusComputing, edu::kStatusComputing);
    wr(edu::kFactorial, 5);  // ignored while computing
    sc_core::wait(sc_time(5, SC_US));  // 10 multiplications at 1 ns each, and the MMIO latency
    EXPECT_EQ(rd(edu::kStatus) & edu::kStatusComputing, 0u);
    EXPECT_EQ(rd(edu::kFactorial), 3628800u);
    wr(edu::kFactorial, 13);
    sc_core::wait(sc_time(5, SC_US));
    EXPECT_EQ(rd(edu::kFactorial), 1932053504u) << "13! wraps in 32 bits";
    wr(edu::kFactorial, 0xffffffffu);  // 2^32 - 1 multiplications: about 4.3 s of simulated time
    sc_core::wait(sc_time(4000, SC_MS));
    EXPECT_EQ(rd(edu::kStatus) & edu::kStatusComputing, edu::kStatusComputing);
    sc_core::wait(sc_time(400, SC_MS));
    EXPECT_EQ(rd(edu::kStatus) & edu::kStatusComputing, 0u);
    EXPECT_EQ(rd(edu::kFactorial), 0u);
  });
  EXPECT_TRUE(intx.empty()) << "no interrupt unless status bit 7 asks";
}

TEST_F(Edu, FactorialRaisesInterrupt0x001WhenAskedAndIntxFollowsTheStatus) {
  in_thread([&] {
    wr(edu::kStatus, edu::kStatusIrqFact);
    wr(edu::kFactorial, 4);
    sc_core::wait(sc_time(5, SC_US));
    EXPECT_EQ(rd(edu::kFactorial), 24u);
    EXPECT_EQ(rd(edu::kIrqStatus), edu::kFactIrq);
    EXPECT_EQ(intx, std::vector<bool>{true});
    EXPECT_TRUE(cfg_read(*f, "edu0", cfg::kStatus, 2) & cfg::kStatusIntx);
    // Software raises 0x10 too; INTx stays up until every bit is acknowledged.
    wr(edu::kIrqRaise, 0x10);
    EXPECT_EQ(rd(edu::kIrqStatus), 0x11u);
    wr(edu::kIrqAck, 0x01);
    EXPECT_EQ(intx, std::vector<bool>{true});
    wr(edu::kIrqAck, 0x10);
    EXPECT_EQ(intx, (std::vector<bool>{true, false}));
    EXPECT_FALSE(cfg_read(*f, "edu0", cfg::kStatus, 2) & cfg::kStatusIntx);
  });
}

TEST_F(Edu, DmaMovesRamToTheBufferAndBackAfterTheTimersHundredMilliseconds) {
  bus_master(*f, "edu0");
  dram_fill(0x100000, 256, 0x30);
  in_thread([&] {
    const sc_time t0 = sc_core::sc_time_stamp();
    start_dma(0x100000, kBufferAddr + 0x100, 256, edu::kDmaRun);
    EXPECT_EQ(rd(edu::kDmaCmd, 8), edu::kDmaRun);
    wr(edu::kDmaCount, 16, 8);  // ignored while the transfer runs
    wr(edu::kDmaCmd, edu::kDmaRun | edu::kDmaToPci, 8);
    EXPECT_EQ(rd(edu::kDmaCount, 8), 256u);
    EXPECT_EQ(rd(edu::kDmaCmd, 8), edu::kDmaRun);
    sc_core::wait(t0 + sc_time(99, SC_MS) - sc_core::sc_time_stamp());
    EXPECT_EQ(rd(edu::kDmaCmd, 8) & edu::kDmaRun, edu::kDmaRun) << "QEMU's timer fires after 100 ms";
    EXPECT_EQ(buffer(0x100, 256), std::vector<uint8_t>(256, 0));
    sc_core::wait(sc_time(2, SC_MS));
    EXPECT_EQ(rd(edu::kDmaCmd, 8) & edu::kDmaRun, 0u);
    EXPECT_EQ(buffer(0x100, 256), pattern(256, 0x30));
    EXPECT_EQ(rd(edu::kIrqStatus), 0u) << "command bit 2 was clear";
    // Back to RAM, with the completion interrupt.
    start_dma(kBufferAddr + 0x100, 0x200000, 256, edu::kDmaRun | edu::kDmaToPci | edu::kDmaIrq);
    sc_core::wait(sc_time(101, SC_MS));
    EXPECT_EQ(dram(0x200000, 256), pattern(256, 0x30));
    EXPECT_EQ(rd(edu::kIrqStatus), edu::kDmaIrqValue);
  });
  EXPECT_EQ(edu->dma_transfers(), 2u);
  EXPECT_EQ(intx, std::vector<bool>{true});
  EXPECT_TRUE(edu->guest_errors().empty());
  // The transfer was a TLP through the fabric: edu0's function, its root port, the host, DRAM.
  const auto* ext = edu->last_payload().get_extension<PcieExtension>();
  ASSERT_NE(ext, nullptr);
  std::string path;
  for (unsigned i = 0; i < ext->hop_count; ++i) path += (i ? " > " : "") + hops().name(ext->hops[i]);
  EXPECT_EQ(path, "edu0.f0 > rp0 > rc0.host > dram");
}

TEST_F(EduWithIommu, DmaGoesThroughTheIommuAndAFaultIsRecordedNotFatal) {
  bus_master(*f, "edu0");
  vtd::VtdProgrammer drv(*f, "dmar0");
  constexpr uint64_t kIova = 0x08000000, kPage = 0x01234000;
  // QEMU 7.2's SAGAW offers 3-level (39-bit) tables only.
  drv.attach(fn(*f, "edu0").bdf(), 1, /*tt*/ 0, /*levels*/ 3).map(kIova, kPage, 4096);
  drv.set_root_table();
  drv.enable_translation();
  dram_fill(kPage, 64, 0x70);
  in_thread([&] {
    start_dma(kIova, kBufferAddr, 64, edu::kDmaRun);
    sc_core::wait(sc_time(101, SC_MS));
    EXPECT_EQ(buffer(0, 64), pattern(64, 0x70)) << "read through the translation";
    start_dma(kBufferAddr, kIova + 0x800, 64, edu::kDmaRun | edu::kDmaToPci);
    sc_core::wait(sc_time(101, SC_MS));
    EXPECT_EQ(dram(kPage + 0x800, 64), pattern(64, 0x70));
    EXPECT_EQ(dram(kIova + 0x800, 64), std::vector<uint8_t>(64, 0)) << "nothing at the untranslated address";
    // An unmapped IOVA: the unit faults the read, the command completes anyway (and the window
    // reads zeros: AFaultedReadFillsItsWindowWithZerosAsQemuDoes).
    start_dma(kIova + 0x100000, kBufferAddr, 64, edu::kDmaRun | edu::kDmaIrq);
    sc_core::wait(sc_time(101, SC_MS));
    EXPECT_EQ(rd(edu::kDmaCmd, 8) & edu::kDmaRun, 0u);
    EXPECT_EQ(rd(edu::kIrqStatus), edu::kDmaIrqValue);
  });
  ASSERT_EQ(edu->guest_error_count(EduDevice::GuestError::DmaFailed), 1u);
  const EduDevice::GuestErrorRecord& e = edu->guest_errors().back();
  EXPECT_EQ(e.outcome, Outcome::IommuFault);
  EXPECT_EQ(e.address, kIova + 0x100000);
  EXPECT_EQ(e.fault_reason, 0x6) << "legacy mode: read of a page without R";
  EXPECT_EQ(f->iommu("dmar0")->faults(), 1u);
}

// QEMU 7.2 + VT-d: after the mapping goes away, a RAM -> device read faults and the device buffer
// holds zeros where the window was (edu ignores pci_dma_read's result; the memory core returns 0
// for the refused access). The rest of the buffer is untouched, and the zeros are what a
// following device -> RAM transfer writes out.
TEST_F(EduWithIommu, AFaultedReadFillsItsWindowWithZerosAsQemuDoes) {
  bus_master(*f, "edu0");
  vtd::VtdProgrammer drv(*f, "dmar0");
  constexpr uint64_t kIova = 0x08000000, kPage = 0x01234000, kOut = 0x02345000;
  auto& tables = drv.attach(fn(*f, "edu0").bdf(), 1, /*tt*/ 0, /*levels*/ 3);
  tables.map(kIova, kPage, 4096);
  tables.map(kIova + 0x1000, kOut, 4096);
  drv.set_root_table();
  drv.enable_translation();
  dram_fill(kPage, 256, 0x40);
  in_thread([&] {
    start_dma(kIova, kBufferAddr, 256, edu::kDmaRun);
    sc_core::wait(sc_time(101, SC_MS));
    ASSERT_EQ(buffer(0, 256), pattern(256, 0x40)) << "the mapped read lands";
    // 64 bytes from an IOVA nothing maps, into the middle of what just landed.
    start_dma(kIova + 0x200000, kBufferAddr + 0x40, 64, edu::kDmaRun);
    sc_core::wait(sc_time(101, SC_MS));
    EXPECT_EQ(rd(edu::kDmaCmd, 8) & edu::kDmaRun, 0u) << "the command completes";
    // Out to RAM through the second mapping: the zeros travel.
    start_dma(kBufferAddr, kIova + 0x1000, 256, edu::kDmaRun | edu::kDmaToPci);
    sc_core::wait(sc_time(101, SC_MS));
  });
  // The faulted window reads zeros; before and after it the buffer is untouched.
  std::vector<uint8_t> expect = pattern(256, 0x40);
  std::fill(expect.begin() + 0x40, expect.begin() + 0x80, 0);
  EXPECT_EQ(buffer(0, 256), expect);
  EXPECT_EQ(dram(kOut, 256), expect);
  ASSERT_EQ(edu->guest_error_count(EduDevice::GuestError::DmaFailed), 1u);
  EXPECT_EQ(edu->guest_errors().back().outcome, Outcome::IommuFault);
  EXPECT_EQ(edu->guest_errors().back().address, kIova + 0x200000);
  EXPECT_EQ(f->iommu("dmar0")->faults(), 1u);
}

// With Bus Master Enable clear the function issues no request at all (PCIe 7.5.1.1.3); QEMU 7.2's
// bus-master region is disabled, so the read finds nothing and the window fills with zeros. No
// TLP leaves the function: nothing reaches the remapping unit, no fault is recorded.
TEST_F(EduWithIommu, WithBusMasterOffAReadFillsZerosWithoutATransaction) {
  bus_master(*f, "edu0");
  vtd::VtdProgrammer drv(*f, "dmar0");
  constexpr uint64_t kIova = 0x08000000, kPage = 0x01234000;
  drv.attach(fn(*f, "edu0").bdf(), 1, /*tt*/ 0, /*levels*/ 3).map(kIova, kPage, 4096);
  drv.set_root_table();
  drv.enable_translation();
  dram_fill(kPage, 512, 0x10);
  in_thread([&] {
    start_dma(kIova, kBufferAddr, 512, edu::kDmaRun);
    sc_core::wait(sc_time(101, SC_MS));
    ASSERT_EQ(buffer(0, 512), pattern(512, 0x10));
    bus_master(*f, "edu0", false);
    // The same, mapped, source: only Bus Master Enable differs.
    start_dma(kIova, kBufferAddr + 0x100, 0x100, edu::kDmaRun | edu::kDmaIrq);
    sc_core::wait(sc_time(101, SC_MS));
    EXPECT_EQ(rd(edu::kDmaCmd, 8) & edu::kDmaRun, 0u);
    EXPECT_EQ(rd(edu::kIrqStatus), edu::kDmaIrqValue) << "the command completes and raises its interrupt";
  });
  EXPECT_EQ(buffer(0x100, 0x100), std::vector<uint8_t>(0x100, 0));
  EXPECT_EQ(buffer(0, 0x100), pattern(0x100, 0x10));
  EXPECT_EQ(buffer(0x200, 0x100), std::vector<uint8_t>(0x100, 0)) << "never written";
  ASSERT_EQ(edu->guest_error_count(EduDevice::GuestError::DmaFailed), 1u);
  EXPECT_EQ(edu->guest_errors().back().outcome, Outcome::UnsupportedRequest);
  const auto* ext = edu->last_payload().get_extension<PcieExtension>();
  ASSERT_NE(ext, nullptr);
  EXPECT_EQ(ext->hop_count, 1u) << "the request never left the function";
  EXPECT_EQ(hops().name(ext->hops[0]), "edu0.f0");
  EXPECT_FALSE(ext->iommu_checked);
  EXPECT_EQ(f->iommu("dmar0")->faults(), 0u) << "no IOMMU fault";
  EXPECT_EQ(dram(kPage, 16), pattern(16, 0x10)) << "RAM untouched";
}

TEST_F(Edu, HostAddressIsClampedToDmaMaskAndBadBufferWindowsMoveNothing) {
  bus_master(*f, "edu0");
  dram_fill(0x300000, 32, 0x11);
  in_thread([&] {
    // 0x1_0030_0000 & (2^28 - 1) = 0x30_0000 (edu.c edu_clamp_addr).
    start_dma(0x100300000ull, kBufferAddr, 32, edu::kDmaRun);
    sc_core::wait(sc_time(101, SC_MS));
    EXPECT_EQ(buffer(0, 32), pattern(32, 0x11));
    // The buffer window must lie inside 0x40000..0x40fff.
    start_dma(0x300000, kBufferAddr + 4090, 32, edu::kDmaRun);
    sc_core::wait(sc_time(101, SC_MS));
    start_dma(0x300000, 0x1000, 32, edu::kDmaRun);
    sc_core::wait(sc_time(101, SC_MS));
    EXPECT_EQ(rd(edu::kDmaCmd, 8) & edu::kDmaRun, 0u);
  });
  ASSERT_EQ(edu->guest_error_count(EduDevice::GuestError::DmaAddressClamped), 1u);
  EXPECT_EQ(edu->guest_errors()[0].address, 0x100300000ull);
  EXPECT_EQ(edu->guest_error_count(EduDevice::GuestError::DmaOutOfRange), 2u);
  EXPECT_EQ(edu->dma_transfers(), 3u);
  EXPECT_EQ(buffer(4090, 6), std::vector<uint8_t>(6, 0));
  // edu1's topology sets params.dma_mask.
  auto* edu1 = dynamic_cast<EduDevice*>(fn(*f, "edu1").endpoint);
  ASSERT_NE(edu1, nullptr);
  EXPECT_EQ(edu1->dma_mask(), 0xffffffffffull);
}

TEST_F(Edu, MsiReachesTheApicSinkWithRemappingOff) {
  bus_master(*f, "edu0");
  const uint16_t msi = fn(*f, "edu0").fn->msi_cap();
  ASSERT_EQ(msi, 0x40);
  cfg_write(*f, "edu0", msi + regs::kMsiAddrLo, 4, 0xfee02000);  // APIC id 2
  cfg_write(*f, "edu0", msi + regs::kMsiAddrHi, 4, 0);
  cfg_write(*f, "edu0", msi + regs::kMsiData64, 2, 0x4a);
  cfg_write(*f, "edu0", msi + regs::kMsiFlags, 2, regs::kMsiFlagsEnable);
  wr(edu::kIrqRaise, 0x8);
  ASSERT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x4a);
  EXPECT_EQ(f->apic().last()->irq.destination, 2u);
  EXPECT_EQ(f->apic().last()->source_id, fn(*f, "edu0").bdf().raw());
  EXPECT_EQ(edu->last_msi(), MsiResult::Sent);
  EXPECT_TRUE(intx.empty()) << "with MSI enabled edu does not use INTx";
  wr(edu::kIrqRaise, 0x8);  // one message per raise, even with the bit already set
  EXPECT_EQ(f->apic().count(), 2u);
  // A DMA completion interrupt arrives as an MSI too.
  in_thread([&] {
    start_dma(0x1000, kBufferAddr, 4, edu::kDmaRun | edu::kDmaIrq);
    sc_core::wait(sc_time(101, SC_MS));
  });
  EXPECT_EQ(f->apic().count(), 3u);
  EXPECT_EQ(rd(edu::kIrqStatus), 0x108u);
}

// QEMU 7.2's edu has no reset handler: a Secondary Bus Reset clears config space (BAR, command)
// and MSI, but edu's registers and buffer carry on.
TEST_F(Edu, BehindAPciBridgeASecondaryBusResetKeepsEdusStateAsQemu) {
  auto* edu1 = dynamic_cast<EduDevice*>(fn(*f, "edu1").endpoint);
  ASSERT_NE(edu1, nullptr);
  EXPECT_EQ(edu1->reset_behaviour(), EduDevice::ResetBehaviour::Qemu) << "the default";
  const uint64_t b1 = bar(*f, "edu1", 0);
  EXPECT_EQ(mmio_read(*f, b1 + edu::kId), 0x010000edu);
  mmio_write(*f, b1 + edu::kLiveness, 0);
  mmio_write(*f, b1 + edu::kDmaDst, 0x40000, 8);
  mmio_write(*f, b1 + edu::kIrqRaise, 0x20);
  EXPECT_EQ(mmio_read(*f, b1 + edu::kLiveness), 0xffffffffu);
  // SBR on the bridge: edu1 loses its BAR and command.
  const uint16_t bctl = static_cast<uint16_t>(cfg_read(*f, "pcibr0", cfg::kBridgeControl, 2));
  cfg_write(*f, "pcibr0", cfg::kBridgeControl, 2, bctl | cfg::kBctlSecondaryBusReset);
  EXPECT_EQ(cfg_read(*f, "edu1", cfg::kVendorId, 2), 0xffffu) << "RST# is asserted on the PCI bus";
  cfg_write(*f, "pcibr0", cfg::kBridgeControl, 2, bctl);
  EXPECT_EQ(cfg_read(*f, "edu1", cfg::kBar0), 0u);
  EXPECT_EQ(cfg_read(*f, "edu1", cfg::kCommand, 2), 0u);
  EXPECT_EQ(mmio_read(*f, b1 + edu::kId), 0xffffffffu) << "nobody decodes the old address";
  cfg_write(*f, "edu1", cfg::kBar0, 4, static_cast<uint32_t>(b1));
  cfg_write(*f, "edu1", cfg::kCommand, 2, cfg::kCmdMemory);
  EXPECT_EQ(mmio_read(*f, b1 + edu::kLiveness), 0xffffffffu) << "edu's own registers survive";
  EXPECT_EQ(mmio_read(*f, b1 + edu::kDmaDst, 8), 0x40000u);
  EXPECT_EQ(mmio_read(*f, b1 + edu::kIrqStatus), 0x20u);
  EXPECT_FALSE(fn(*f, "edu1").fn->intx_asserted()) << "the reset deasserted INTx (pci_device_deassert_intx)";
  EXPECT_EQ(mmio_read(*f, bar(*f, "edu0", 0) + edu::kId), 0x010000edu) << "edu0 is on another port";
}

// The same reset with params.reset: clear, a device that honours PCIe 6.6.2: registers back to
// their reset values, the buffer zeroed and a transfer in flight dropped.
TEST(EduResetClear, ASecondaryBusResetReturnsEverythingToItsResetValues) {
  const std::string params = "params: {dma_mask: 0xffffffffff}";
  std::string yaml = kTopology;
  yaml.replace(yaml.find(params), params.size(), "params: {dma_mask: 0xffffffffff, reset: clear}");
  // Bad input first: an exception after the simulation has switched coroutine stacks is what
  // AddressSanitizer cannot follow (docs/kernel-layer.md).
  std::string bad = kTopology;
  bad.replace(bad.find(params), params.size(), "params: {reset: sometimes}");
  try {
    topo::load_topology_string(bad, "bad.yaml");
    FAIL() << "a bad params.reset must be an error";
  } catch (const topo::TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("params.reset 'sometimes' must be qemu or clear"), std::string::npos) << e.what();
  }
  auto f = make_fabric(yaml);
  auto* edu1 = dynamic_cast<EduDevice*>(fn(*f, "edu1").endpoint);
  ASSERT_NE(edu1, nullptr);
  EXPECT_EQ(edu1->reset_behaviour(), EduDevice::ResetBehaviour::Clear);
  bus_master(*f, "edu1");
  const uint64_t b1 = bar(*f, "edu1", 0);
  std::vector<uint8_t> d(64, 0x5a);
  f->dram().write(0x7000, d.data(), d.size());
  in_thread([&] {
    mmio_write(*f, b1 + edu::kDmaSrc, 0x7000, 8);
    mmio_write(*f, b1 + edu::kDmaDst, edu::kDmaBufferBase, 8);
    mmio_write(*f, b1 + edu::kDmaCount, 64, 8);
    mmio_write(*f, b1 + edu::kDmaCmd, edu::kDmaRun, 8);
    sc_core::wait(sc_time(101, SC_MS));
    ASSERT_EQ(edu1->dma_buffer()[0], 0x5a);
    mmio_write(*f, b1 + edu::kLiveness, 0);
    mmio_write(*f, b1 + edu::kDmaCmd, edu::kDmaRun, 8);  // a second transfer, still on its timer
    const uint16_t bctl = static_cast<uint16_t>(cfg_read(*f, "pcibr0", cfg::kBridgeControl, 2));
    cfg_write(*f, "pcibr0", cfg::kBridgeControl, 2, bctl | cfg::kBctlSecondaryBusReset);
    cfg_write(*f, "pcibr0", cfg::kBridgeControl, 2, bctl);
    sc_core::wait(sc_time(101, SC_MS));
  });
  cfg_write(*f, "edu1", cfg::kBar0, 4, static_cast<uint32_t>(b1));
  cfg_write(*f, "edu1", cfg::kCommand, 2, cfg::kCmdMemory);
  EXPECT_EQ(mmio_read(*f, b1 + edu::kLiveness), 0u);
  EXPECT_EQ(mmio_read(*f, b1 + edu::kDmaSrc, 8), 0u);
  EXPECT_EQ(mmio_read(*f, b1 + edu::kDmaCmd, 8), 0u);
  EXPECT_EQ(edu1->dma_transfers(), 1u) << "the transfer in flight was dropped";
  EXPECT_EQ(edu1->dma_buffer()[0], 0u);
}

TEST(EduTopology, TheModelSuppliesItsFunctionAndStaysConventional) {
  const topo::TopologySpec spec = topo::load_topology_string(kTopology, "edu.yaml");
  const topo::EndpointSpec& ep = std::get<topo::EndpointSpec>(spec.root_complexes[0].root_ports[0].child->node);
  EXPECT_EQ(ep.model, "edu");
  EXPECT_FALSE(ep.express);
  ASSERT_EQ(ep.functions.size(), 1u);
  EXPECT_EQ(ep.functions[0].vendor, 0x1234);
  EXPECT_EQ(ep.functions[0].device, 0x11e8);
  EXPECT_EQ(ep.functions[0].msi_vectors, 1);
  // A listed function is a whole edu and takes only its number (edu_multifunction_test.cpp):
  // BARs, AER or ids of its own are an error at the entry's line.
  std::string bad = kTopology;
  bad.replace(bad.find("{name: edu0, model: edu}"), 24,
              "{name: edu0, model: edu, functions: [{bars: [{size: 1MiB}], aer: true}]}");
  try {
    topo::load_topology_string(bad, "bad.yaml");
    FAIL() << "a function entry with BARs of its own must be an error";
  } catch (const topo::TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml:10:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("edu: function 0 of endpoint 'edu0' sets 'bars'"), std::string::npos)
        << e.what();
  }
}

TEST(EduShippedTopology, BothPlacementsEnumerateAndDmaBehindTheBridgeCarriesItsAlias) {
  const char* dir = std::getenv("PCIESIM_SOURCE_DIR");
  auto f = std::make_unique<Fabric>(
      topo::load_topology_file(std::string(dir ? dir : ".") + "/scenarios/topologies/edu.yaml"));
  f->enumerate();
  EXPECT_EQ(fn(*f, "edu0").bdf_string(), "0000:01:00.0");
  EXPECT_EQ(fn(*f, "edu1").bdf_string(), "0000:03:01.0");
  for (const char* name : {"edu0", "edu1"}) {
    EXPECT_EQ(mmio_read(*f, bar(*f, name, 0) + edu::kId), 0x010000edu) << name;
    EXPECT_EQ(fn(*f, name).fn->pcie_cap(), 0u) << name;
  }
  auto* edu1 = dynamic_cast<EduDevice*>(fn(*f, "edu1").endpoint);
  ASSERT_NE(edu1, nullptr);
  EXPECT_EQ(edu1->dma_mask(), 0xffffffffu);
  bus_master(*f, "edu1");
  const uint64_t b1 = bar(*f, "edu1", 0);
  in_thread([&] {
    mmio_write(*f, b1 + edu::kDmaSrc, 0x5000, 8);
    mmio_write(*f, b1 + edu::kDmaDst, edu::kDmaBufferBase, 8);
    mmio_write(*f, b1 + edu::kDmaCount, 16, 8);
    mmio_write(*f, b1 + edu::kDmaCmd, edu::kDmaRun, 8);
    sc_core::wait(sc_time(101, SC_MS));
  });
  EXPECT_EQ(edu1->dma_transfers(), 1u);
  const auto* ext = edu1->last_payload().get_extension<PcieExtension>();
  ASSERT_NE(ext, nullptr);
  EXPECT_EQ(ext->verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(ext->requester, (RequesterId{3, 0})) << "the PCIe-to-PCI bridge owns the transaction";
  EXPECT_TRUE(ext->iommu_checked) << "dmar0 covers every device (translation off: passed through)";
}


TEST(EduVariant, ThePcieOptionGivesAPcieEndpointAndTheDefaultStaysConventional) {
  const char* yaml = R"(
name: edu-pcie
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        below:
          endpoint: {name: edu0, model: edu, params: {pcie: true}}
      - name: rp1
        device: 2
        below:
          endpoint: {name: edu1, model: edu}
)";
  std::string bad = yaml;  // bad input before the simulation runs (ASan and coroutine stacks)
  bad.replace(bad.find("pcie: true"), 10, "pcie: maybe");
  try {
    pciesim::topo::load_topology_string(bad, "bad.yaml");
    FAIL() << "a bad params.pcie must be an error";
  } catch (const pciesim::topo::TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("params.pcie 'maybe' must be true or false"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.yaml"), std::string::npos) << e.what();
  }
  auto f = pciesim::test::make_fabric(yaml);
  const auto& pcie = pciesim::test::fn(*f, "edu0");
  const auto& conv = pciesim::test::fn(*f, "edu1");
  EXPECT_NE(pcie.fn->pcie_cap(), 0) << "params.pcie: a PCIe capability";
  EXPECT_EQ(conv.fn->pcie_cap(), 0) << "QEMU 7.2's edu: conventional PCI";
  EXPECT_EQ(pciesim::test::cfg_read(*f, "edu0", 0x00), 0x11e81234u);
}
