// A two-function edu (models/devices/edu, docs/edu.md "Several functions"): QEMU's
// `-device edu,addr=0x0.0x0,multifunction=on -device edu,addr=0x0.0x1`, written in a topology as
// `functions: [{function: 0}, {function: 1}]`. Each function is a whole edu: its own registers,
// factorial, interrupt status, DMA engine and buffer, MSI capability, INTA pin and requester id.
// Tests that need simulated time run their body in a SystemC thread and wait() in it.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <functional>
#include <string>
#include <utility>
#include <vector>

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

// Two edus at slot 0 below a root port; the reset parameter is filled in per test.
const char* kTopology = R"(
name: edu-multifunction
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        below:
          endpoint:
            name: edu2
            model: edu
            params: {PARAMS}
            functions: [{function: 0}, {function: 1}]
)";

std::string topology(const std::string& params = "dma_mask: 0xfffffff", bool iommu = false) {
  std::string yaml = kTopology;
  yaml.replace(yaml.find("PARAMS"), 6, params);
  if (iommu) yaml += "iommus:\n  - name: dmar0\n    preset: qemu-7.2\n    include_all: true\n";
  return yaml;
}

// Runs `body` in a SystemC thread and simulates until nothing is left to do.
void in_thread(std::function<void()> body) {
  sc_core::sc_spawn(std::move(body));
  sc_core::sc_start();
}

std::vector<uint8_t> pattern(unsigned len, uint8_t seed) {
  std::vector<uint8_t> d(len);
  for (unsigned i = 0; i < len; ++i) d[i] = static_cast<uint8_t>(seed + i);
  return d;
}

constexpr uint64_t kBufferAddr = edu::kDmaBufferBase;
const char* const kFn[2] = {"edu2", "edu2.f1"};

struct EduMultifunction : ::testing::Test {
  std::unique_ptr<Fabric> f;
  EduDevice* edu = nullptr;
  uint64_t base[2] = {0, 0};
  std::vector<std::pair<unsigned, bool>> intx;  // (function, level) as the fabric heard them, pin A only

  void SetUp() override { build(topology()); }
  void build(const std::string& yaml) {
    f = make_fabric(yaml);
    edu = dynamic_cast<EduDevice*>(fn(*f, "edu2").endpoint);
    ASSERT_NE(edu, nullptr);
    ASSERT_EQ(fn(*f, "edu2.f1").endpoint, edu) << "one device, two functions";
    for (unsigned i = 0; i < 2; ++i) base[i] = bar(*f, kFn[i], 0);
    f->set_intx_listener([this](const FunctionInfo& info, unsigned pin, bool level) {
      if (info.endpoint == edu && pin == 1) intx.emplace_back(info.function_number, level);
    });
  }
  uint64_t rd(unsigned n, uint32_t off, unsigned len = 4) { return mmio_read(*f, base[n] + off, len); }
  void wr(unsigned n, uint32_t off, uint64_t v, unsigned len = 4) { mmio_write(*f, base[n] + off, v, len); }
  void dram_fill(uint64_t pa, const std::vector<uint8_t>& d) { f->dram().write(pa, d.data(), d.size()); }
  std::vector<uint8_t> dram(uint64_t pa, unsigned len) {
    std::vector<uint8_t> d(len);
    f->dram().read(pa, d.data(), len);
    return d;
  }
  std::vector<uint8_t> buffer(unsigned n, unsigned off, unsigned len) {
    const auto& b = edu->dma_buffer(n);
    return {b.begin() + off, b.begin() + off + len};
  }
  void start_dma(unsigned n, uint64_t src, uint64_t dst, uint64_t count, uint64_t cmd) {
    wr(n, edu::kDmaSrc, src, 8);
    wr(n, edu::kDmaDst, dst, 8);
    wr(n, edu::kDmaCount, count, 8);
    wr(n, edu::kDmaCmd, cmd, 8);
  }
  void enable_msi(const char* name, uint32_t apic_id, uint16_t vector) {
    const uint16_t msi = fn(*f, name).fn->msi_cap();
    ASSERT_EQ(msi, 0x40) << name;
    cfg_write(*f, name, msi + regs::kMsiAddrLo, 4, 0xfee00000u | (apic_id << 12));
    cfg_write(*f, name, msi + regs::kMsiAddrHi, 4, 0);
    cfg_write(*f, name, msi + regs::kMsiData64, 2, vector);
    cfg_write(*f, name, msi + regs::kMsiFlags, 2, regs::kMsiFlagsEnable);
  }
};

struct EduMultifunctionWithIommu : EduMultifunction {
  void SetUp() override { build(topology("dma_mask: 0xfffffff", true)); }
};

struct EduMultifunctionResetClear : EduMultifunction {
  void SetUp() override { build(topology("reset: clear")); }
};

}  // namespace

TEST_F(EduMultifunction, EachListedFunctionIsQemusEduAndFunction0CarriesTheMultifunctionBit) {
  EXPECT_EQ(fn(*f, "edu2").bdf_string(), "0000:01:00.0");
  EXPECT_EQ(fn(*f, "edu2.f1").bdf_string(), "0000:01:00.1");
  for (const char* name : kFn) {
    EXPECT_EQ(cfg_read(*f, name, cfg::kVendorId), 0x11e81234u) << name;
    EXPECT_EQ(cfg_read(*f, name, cfg::kRevision), 0x00ff0010u) << name;
    EXPECT_EQ(cfg_read(*f, name, cfg::kSubsysVendor), 0x11001af4u) << name;
    EXPECT_EQ(cfg_read(*f, name, cfg::kIntPin, 1), 1u) << name << ": INTA, as every QEMU edu";
    EXPECT_EQ(cfg_read(*f, name, cfg::kCapPtr, 1), 0x40u) << name;
    EXPECT_EQ(cfg_read(*f, name, 0x40), 0x00800005u) << name << ": its own MSI, 1 vector, 64-bit";
    const PciFunction& pf = *fn(*f, name).fn;
    EXPECT_EQ(pf.pcie_cap(), 0u) << name << ": conventional, as QEMU's edu";
    EXPECT_EQ(pf.bars()[0].size, edu::kBar0Size) << name;
  }
  // QEMU: only the function realized with multifunction=on (function 0) sets Header Type bit 7.
  EXPECT_EQ(cfg_read(*f, "edu2", cfg::kHeaderType, 1), regs::kHeaderTypeMultiFunction);
  EXPECT_EQ(cfg_read(*f, "edu2.f1", cfg::kHeaderType, 1), 0u);
  EXPECT_NE(base[0], base[1]) << "each function decodes its own BAR0";
  EXPECT_EQ(rd(0, edu::kId), edu::kIdValue);
  EXPECT_EQ(rd(1, edu::kId), edu::kIdValue);
  EXPECT_TRUE(edu->has_edu_function(1));
  EXPECT_FALSE(edu->has_edu_function(2));
  EXPECT_THROW(edu->edu_function(2), std::out_of_range);
}

TEST_F(EduMultifunction, LivenessFactorialAndInterruptStatusAreEachFunctionsOwn) {
  wr(0, edu::kLiveness, 0x12345678);
  wr(1, edu::kLiveness, 0x0000ffff);
  EXPECT_EQ(rd(0, edu::kLiveness), 0xedcba987u);
  EXPECT_EQ(rd(1, edu::kLiveness), 0xffff0000u);
  wr(0, edu::kIrqRaise, 0x20);
  EXPECT_EQ(rd(0, edu::kIrqStatus), 0x20u);
  EXPECT_EQ(rd(1, edu::kIrqStatus), 0u) << "a raise on function 0 is function 0's";
  wr(1, edu::kIrqAck, 0x20);
  EXPECT_EQ(rd(0, edu::kIrqStatus), 0x20u) << "an acknowledge on function 1 does not clear function 0";
  wr(1, edu::kDmaSrc, 0x1234, 8);
  EXPECT_EQ(rd(0, edu::kDmaSrc, 8), 0u);
  in_thread([&] {
    // Both workers run at once; only function 1 asks for the completion interrupt.
    wr(1, edu::kStatus, edu::kStatusIrqFact);
    wr(0, edu::kFactorial, 10);
    wr(1, edu::kFactorial, 5);
    EXPECT_EQ(rd(0, edu::kStatus), edu::kStatusComputing);
    EXPECT_EQ(rd(1, edu::kStatus), edu::kStatusComputing | edu::kStatusIrqFact);
    sc_core::wait(sc_time(5, SC_US));
    EXPECT_EQ(rd(0, edu::kFactorial), 3628800u);
    EXPECT_EQ(rd(1, edu::kFactorial), 120u);
    EXPECT_EQ(rd(0, edu::kStatus), 0u);
    EXPECT_EQ(rd(1, edu::kStatus), edu::kStatusIrqFact);
    EXPECT_EQ(rd(0, edu::kIrqStatus), 0x20u);
    EXPECT_EQ(rd(1, edu::kIrqStatus), edu::kFactIrq);
  });
}

TEST_F(EduMultifunction, DmaFromFunction1CarriesItsRequesterIdAndLandsWhereItsRegistersSay) {
  bus_master(*f, "edu2");
  bus_master(*f, "edu2.f1");
  dram_fill(0x100000, pattern(256, 0x10));
  dram_fill(0x200000, pattern(256, 0x80));
  in_thread([&] {
    // Both engines at once, each with its own timer, registers and buffer.
    start_dma(0, 0x100000, kBufferAddr, 256, edu::kDmaRun);
    start_dma(1, 0x200000, kBufferAddr + 0x100, 256, edu::kDmaRun);
    EXPECT_EQ(rd(0, edu::kDmaSrc, 8), 0x100000u);
    EXPECT_EQ(rd(1, edu::kDmaSrc, 8), 0x200000u);
    sc_core::wait(sc_time(101, SC_MS));
    EXPECT_EQ(rd(0, edu::kDmaCmd, 8) & edu::kDmaRun, 0u);
    EXPECT_EQ(rd(1, edu::kDmaCmd, 8) & edu::kDmaRun, 0u);
    // Function 1 writes its buffer out; function 0 stays idle.
    start_dma(1, kBufferAddr + 0x100, 0x300000, 256, edu::kDmaRun | edu::kDmaToPci | edu::kDmaIrq);
    sc_core::wait(sc_time(101, SC_MS));
  });
  EXPECT_EQ(buffer(0, 0, 256), pattern(256, 0x10));
  EXPECT_EQ(buffer(1, 0x100, 256), pattern(256, 0x80));
  EXPECT_EQ(buffer(0, 0x100, 256), std::vector<uint8_t>(256, 0)) << "function 1 never touched function 0's buffer";
  EXPECT_EQ(buffer(1, 0, 256), std::vector<uint8_t>(256, 0));
  EXPECT_EQ(dram(0x300000, 256), pattern(256, 0x80));
  EXPECT_EQ(edu->dma_transfers(0), 1u);
  EXPECT_EQ(edu->dma_transfers(1), 2u);
  EXPECT_EQ(rd(1, edu::kIrqStatus), edu::kDmaIrqValue);
  EXPECT_EQ(rd(0, edu::kIrqStatus), 0u);
  EXPECT_EQ(intx, (std::vector<std::pair<unsigned, bool>>{{1, true}})) << "function 1's INTA";
  // The last TLP was function 1's write: requester 01:00.1, from the function's own hop.
  const auto* ext = edu->last_payload().get_extension<PcieExtension>();
  ASSERT_NE(ext, nullptr);
  EXPECT_EQ(ext->requester, RequesterId::from_bdf(1, 0, 1));
  EXPECT_EQ(ext->verdict.outcome, Outcome::Delivered);
  std::string path;
  for (unsigned i = 0; i < ext->hop_count; ++i) path += (i ? " > " : "") + hops().name(ext->hops[i]);
  EXPECT_EQ(path, "edu2.f1 > rp0 > rc0.host > dram");
}

// The remapping unit tells the functions apart by requester id: a domain attached to 01:00.1
// only translates function 1's DMA; function 0 (no context entry) faults, and its read, as QEMU's,
// leaves zeros.
TEST_F(EduMultifunctionWithIommu, EachFunctionIsTranslatedByItsOwnContextEntry) {
  bus_master(*f, "edu2");
  bus_master(*f, "edu2.f1");
  vtd::VtdProgrammer drv(*f, "dmar0");
  constexpr uint64_t kIova = 0x08000000, kPage = 0x01234000;
  drv.attach(fn(*f, "edu2.f1").bdf(), 1, /*tt*/ 0, /*levels*/ 3).map(kIova, kPage, 4096);
  drv.set_root_table();
  drv.enable_translation();
  dram_fill(kPage, pattern(64, 0x55));
  in_thread([&] {
    start_dma(0, kIova, kBufferAddr, 64, edu::kDmaRun);
    start_dma(1, kIova, kBufferAddr, 64, edu::kDmaRun);
    sc_core::wait(sc_time(101, SC_MS));
  });
  EXPECT_EQ(buffer(1, 0, 64), pattern(64, 0x55)) << "function 1's IOVA translates to its page";
  EXPECT_EQ(buffer(0, 0, 64), std::vector<uint8_t>(64, 0));
  EXPECT_TRUE(edu->guest_errors(1).empty());
  ASSERT_EQ(edu->guest_error_count(EduDevice::GuestError::DmaFailed, 0), 1u);
  EXPECT_EQ(edu->guest_errors(0).back().outcome, Outcome::IommuFault);
  EXPECT_EQ(edu->guest_errors(0).back().fault_reason, 0x2) << "VT-d: context entry not present for 01:00.0";
  EXPECT_EQ(f->iommu("dmar0")->faults(), 1u);
}

TEST_F(EduMultifunction, Function1SignalsMsiThroughItsOwnCapability) {
  bus_master(*f, "edu2");
  bus_master(*f, "edu2.f1");
  enable_msi("edu2.f1", 3, 0x4b);
  wr(1, edu::kIrqRaise, 0x8);
  ASSERT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x4b);
  EXPECT_EQ(f->apic().last()->irq.destination, 3u);
  EXPECT_EQ(f->apic().last()->source_id, fn(*f, "edu2.f1").bdf().raw()) << "the message carries 01:00.1";
  EXPECT_EQ(edu->last_msi(1), MsiResult::Sent);
  EXPECT_EQ(edu->msi_count(1), 1u);
  EXPECT_TRUE(intx.empty());
  // Function 0's MSI is off: its raise asserts its own INTA, and sends nothing.
  wr(0, edu::kIrqRaise, 0x8);
  EXPECT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(edu->msi_count(0), 0u);
  EXPECT_EQ(intx, (std::vector<std::pair<unsigned, bool>>{{0, true}}));
  // Function 0 with MSI, to another vector: each function's messages follow its own capability.
  enable_msi("edu2", 1, 0x61);
  wr(0, edu::kIrqRaise, 0x1);
  ASSERT_EQ(f->apic().count(), 2u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x61);
  EXPECT_EQ(f->apic().last()->source_id, fn(*f, "edu2").bdf().raw());
}

TEST_F(EduMultifunction, Function1sIntxIsItsOwnPinA) {
  wr(1, edu::kIrqRaise, 0x40);
  EXPECT_EQ(intx, (std::vector<std::pair<unsigned, bool>>{{1, true}}));
  EXPECT_TRUE(cfg_read(*f, "edu2.f1", cfg::kStatus, 2) & cfg::kStatusIntx);
  EXPECT_FALSE(cfg_read(*f, "edu2", cfg::kStatus, 2) & cfg::kStatusIntx);
  wr(0, edu::kIrqRaise, 0x1);
  wr(0, edu::kIrqAck, 0x41);  // function 0 acknowledges everything: its own pin drops, not function 1's
  EXPECT_EQ(intx, (std::vector<std::pair<unsigned, bool>>{{1, true}, {0, true}, {0, false}}));
  EXPECT_TRUE(fn(*f, "edu2.f1").fn->intx_asserted());
  wr(1, edu::kIrqAck, 0x40);
  EXPECT_EQ(intx.back(), (std::pair<unsigned, bool>{1, false}));
  EXPECT_FALSE(fn(*f, "edu2.f1").fn->intx_asserted());
}

// QEMU 7.2: edu has no FLR and no PM capability, so Linux finds no way to reset one function of the
// pair (pci_parent_bus_reset refuses a bus with siblings); the only reset is a bus reset, which
// reaches both functions, and edu keeps its state through it (no reset handler). Both DMAs in
// flight carry on: once software has restored BARs and Bus Master Enable, both land on time.
TEST_F(EduMultifunction, ASecondaryBusResetHitsBothFunctionsAndEachKeepsItsWorkAsQemu) {
  for (const char* name : kFn) bus_master(*f, name);
  dram_fill(0x100000, pattern(64, 0x21));
  dram_fill(0x200000, pattern(64, 0x42));
  wr(0, edu::kLiveness, 0);
  wr(1, edu::kLiveness, 0xf);
  in_thread([&] {
    start_dma(0, 0x100000, kBufferAddr, 64, edu::kDmaRun);
    start_dma(1, 0x200000, kBufferAddr, 64, edu::kDmaRun);
    sc_core::wait(sc_time(50, SC_MS));
    const uint16_t bctl = static_cast<uint16_t>(cfg_read(*f, "rp0", cfg::kBridgeControl, 2));
    cfg_write(*f, "rp0", cfg::kBridgeControl, 2, bctl | cfg::kBctlSecondaryBusReset);
    cfg_write(*f, "rp0", cfg::kBridgeControl, 2, bctl);
    for (unsigned n = 0; n < 2; ++n) {
      EXPECT_EQ(cfg_read(*f, kFn[n], cfg::kCommand, 2), 0u) << kFn[n] << ": the generic reset cleared it";
      cfg_write(*f, kFn[n], cfg::kBar0, 4, static_cast<uint32_t>(base[n]));
      cfg_write(*f, kFn[n], cfg::kCommand, 2, cfg::kCmdMemory | cfg::kCmdBusMaster);
    }
    sc_core::wait(sc_time(51, SC_MS));
  });
  EXPECT_EQ(buffer(0, 0, 64), pattern(64, 0x21));
  EXPECT_EQ(buffer(1, 0, 64), pattern(64, 0x42));
  EXPECT_EQ(edu->dma_transfers(0), 1u);
  EXPECT_EQ(edu->dma_transfers(1), 1u);
  EXPECT_EQ(rd(0, edu::kLiveness), 0xffffffffu);
  EXPECT_EQ(rd(1, edu::kLiveness), 0xfffffff0u);
}

// params.reset: clear acts function by function: Endpoint::reset_function(0) (what an FLR ends in
// on a device that has one) drops function 0's transfer in flight and clears its registers and
// buffer; function 1's transfer lands on time and its registers stay.
TEST_F(EduMultifunctionResetClear, ResettingOneFunctionLeavesTheOthersDmaInFlight) {
  EXPECT_EQ(edu->reset_behaviour(), EduDevice::ResetBehaviour::Clear);
  for (const char* name : kFn) bus_master(*f, name);
  dram_fill(0x100000, pattern(64, 0x21));
  dram_fill(0x200000, pattern(64, 0x42));
  in_thread([&] {
    start_dma(0, 0x100000, kBufferAddr, 64, edu::kDmaRun);
    sc_core::wait(sc_time(101, SC_MS));
    ASSERT_EQ(buffer(0, 0, 64), pattern(64, 0x21));
    wr(0, edu::kLiveness, 0);
    wr(1, edu::kLiveness, 0);
    start_dma(0, 0x200000, kBufferAddr + 0x100, 64, edu::kDmaRun);
    start_dma(1, 0x200000, kBufferAddr, 64, edu::kDmaRun | edu::kDmaIrq);
    sc_core::wait(sc_time(50, SC_MS));
    edu->reset_function(0, ResetKind::FunctionLevel);
    bus_master(*f, "edu2");  // the reset cleared function 0's command register; function 1's is untouched
    EXPECT_TRUE(cfg_read(*f, "edu2.f1", cfg::kCommand, 2) & cfg::kCmdBusMaster);
    sc_core::wait(sc_time(51, SC_MS));
  });
  EXPECT_EQ(buffer(1, 0, 64), pattern(64, 0x42)) << "function 1's transfer landed";
  EXPECT_EQ(edu->dma_transfers(1), 1u);
  EXPECT_EQ(rd(1, edu::kLiveness), 0xffffffffu);
  EXPECT_EQ(rd(1, edu::kIrqStatus), edu::kDmaIrqValue);
  EXPECT_EQ(edu->dma_transfers(0), 1u) << "function 0's second transfer was dropped";
  EXPECT_EQ(buffer(0, 0, 0x200), std::vector<uint8_t>(0x200, 0)) << "and its buffer zeroed";
  cfg_write(*f, "edu2", cfg::kBar0, 4, static_cast<uint32_t>(base[0]));
  cfg_write(*f, "edu2", cfg::kCommand, 2, cfg::kCmdMemory);
  EXPECT_EQ(rd(0, edu::kLiveness), 0u);
  EXPECT_EQ(rd(0, edu::kDmaCmd, 8), 0u);
}

TEST(EduMultifunctionPcie, ThePcieVariantGivesTwoPcieFunctionsWithTheirOwnRequesterIds) {
  auto f = make_fabric(topology("pcie: true"));
  auto* edu = dynamic_cast<EduDevice*>(fn(*f, "edu2").endpoint);
  ASSERT_NE(edu, nullptr);
  for (const char* name : kFn) {
    EXPECT_NE(fn(*f, name).fn->pcie_cap(), 0u) << name;
    EXPECT_TRUE(fn(*f, name).fn->config().extended()) << name;
    EXPECT_EQ(cfg_read(*f, name, cfg::kVendorId), 0x11e81234u) << name;
    bus_master(*f, name);
  }
  EXPECT_EQ(cfg_read(*f, "edu2", cfg::kHeaderType, 1), regs::kHeaderTypeMultiFunction);
  const uint64_t b0 = bar(*f, "edu2", 0), b1 = bar(*f, "edu2.f1", 0);
  mmio_write(*f, b0 + edu::kLiveness, 1);
  mmio_write(*f, b1 + edu::kLiveness, 2);
  EXPECT_EQ(mmio_read(*f, b0 + edu::kLiveness), ~1u);
  EXPECT_EQ(mmio_read(*f, b1 + edu::kLiveness), ~2u);
  std::vector<uint8_t> d = pattern(32, 0x33);
  f->dram().write(0x5000, d.data(), d.size());
  in_thread([&] {
    mmio_write(*f, b1 + edu::kDmaSrc, 0x5000, 8);
    mmio_write(*f, b1 + edu::kDmaDst, kBufferAddr, 8);
    mmio_write(*f, b1 + edu::kDmaCount, 32, 8);
    mmio_write(*f, b1 + edu::kDmaCmd, edu::kDmaRun, 8);
    sc_core::wait(sc_time(101, SC_MS));
  });
  EXPECT_EQ(std::vector<uint8_t>(edu->dma_buffer(1).begin(), edu->dma_buffer(1).begin() + 32), d);
  EXPECT_EQ(edu->dma_transfers(0), 0u);
  const auto* ext = edu->last_payload().get_extension<PcieExtension>();
  ASSERT_NE(ext, nullptr);
  EXPECT_EQ(ext->requester, RequesterId::from_bdf(1, 0, 1));
}

TEST(EduMultifunctionTopology, FunctionEntriesGiveOnlyTheirNumber) {
  // `count` copies a bare entry: functions 0 and 1.
  std::string yaml = topology();
  yaml.replace(yaml.find("[{function: 0}, {function: 1}]"), 30, "[{count: 2}]");
  const topo::TopologySpec spec = topo::load_topology_string(yaml, "count.yaml");
  const auto& ep = std::get<topo::EndpointSpec>(spec.root_complexes[0].root_ports[0].child->node);
  ASSERT_EQ(ep.functions.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ep.functions[i].function, i);
    EXPECT_EQ(ep.functions[i].vendor, 0x1234);
    EXPECT_EQ(ep.functions[i].device, 0x11e8);
    EXPECT_EQ(ep.functions[i].msi_vectors, 1);
    EXPECT_FALSE(ep.functions[i].pm);
    EXPECT_EQ(ep.functions[i].bars.size(), 1u);
  }
  EXPECT_FALSE(ep.express);

  // Anything else in an entry is an error at the entry's line. Line 14 is `functions:`, so the
  // entries are on lines 15 and 16.
  auto error = [](const std::string& functions) -> std::string {
    std::string bad = topology();
    bad.replace(bad.find("functions: [{function: 0}, {function: 1}]"), 42, functions);
    try {
      topo::load_topology_string(bad, "bad.yaml");
    } catch (const topo::TopologyError& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string indent = "\n              ";
  std::string e = error("functions:" + indent + "- {function: 0}" + indent + "- {function: 1, vendor: 0x8086}");
  EXPECT_NE(e.find("bad.yaml:16:"), std::string::npos) << e;
  EXPECT_NE(e.find("edu: function 1 of endpoint 'edu2' sets 'vendor'"), std::string::npos) << e;
  EXPECT_NE(e.find("takes only 'function:'"), std::string::npos) << e;
  e = error("functions:" + indent + "- {function: 0, bars: [{size: 4KiB}]}" + indent + "- {function: 1}");
  EXPECT_NE(e.find("bad.yaml:15:"), std::string::npos) << e;
  EXPECT_NE(e.find("sets 'bars'"), std::string::npos) << e;
  e = error("functions:" + indent + "- {function: 0}" + indent + "- {function: 1, msix: 4}");
  EXPECT_NE(e.find("bad.yaml:16:"), std::string::npos) << e;
  EXPECT_NE(e.find("sets 'msix'"), std::string::npos) << e;
  e = error("ari: true" + std::string("\n            ") + "functions: [{function: 0}, {function: 1}]");
  EXPECT_NE(e.find("sets 'ari'"), std::string::npos) << e;
  // Numbers are the validator's: function 0 is required, a number appears once, 0..7.
  e = error("functions: [{function: 1}]");
  EXPECT_NE(e.find("missing function 0"), std::string::npos) << e;
  e = error("functions: [{function: 0}, {function: 0}]");
  EXPECT_NE(e.find("duplicate function number 0"), std::string::npos) << e;
  e = error("functions: [{function: 0}, {function: 8}]");
  EXPECT_NE(e.find("out of range 0..7"), std::string::npos) << e;
  EXPECT_NE(e.find("bad.yaml"), std::string::npos) << e;
}
