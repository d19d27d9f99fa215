// The DMA agent (models/devices/dma_agent, docs/dma-agent.md) driven through a fabric: its
// registers after reset, bad register values (a status, never a crash), reads and writes of DRAM
// through the registers, and the attack requests it exists for: a spoofed requester id against
// ACS SV, a peer-to-peer write against ACS RR, AT=translated without ATS against ACS TB and VT-d,
// a PASID request to a legacy-mode unit, and MSI writes with forged data against interrupt
// remapping. Tests that need simulated time run their body in a SystemC thread (in_thread).
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <cstdlib>
#include <cstring>
#include <functional>

#include "devices/dma_agent/dma_agent.h"
#include "iommu/local_apic_sink.h"
#include "iommu/vtd_programmer.h"
#include "pcie/fabric_fixture.h"
#include "pcie/pcie_regs.h"

using namespace pciesim;
using namespace pciesim::test;
using namespace pciesim::dma_agent;
using sc_core::sc_time;
using sc_core::SC_US;

namespace {

// agent0 and a generic peer epB below one switch, agent1 alone on a second root port, every port
// with every ACS bit implemented and firmware leaving them off; a QEMU 7.2 VT-d unit covers all
// (translation and interrupt remapping off until a test turns them on).
//
//   rc0 ─┬─ rp0 ── sw0 ─┬─ dpA ── agent0 (03:00.0)
//        │              └─ dpB ── epB    (04:00.0)
//        └─ rp1 ── agent1 (05:00.0)
const char* kTopology = R"(
name: dma-agent-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    p2p: true
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 4, width: 16}
        acs: {capability: all, control: none, egress_vector_bits: 8}
        below:
          switch:
            name: sw0
            ports:
              - name: dpA
                device: 0
                link: {gen: 4, width: 16}
                acs: {capability: all, control: none, egress_vector_bits: 8}
                below:
                  endpoint: {name: agent0, model: dma-agent}
              - name: dpB
                device: 1
                link: {gen: 4, width: 16}
                acs: {capability: all, control: none, egress_vector_bits: 8}
                below:
                  endpoint:
                    name: epB
                    functions: [{function: 0, bars: [{index: 0, size: 1MiB, type: mem64, prefetchable: true}]}]
      - name: rp1
        device: 2
        link: {gen: 4, width: 16}
        acs: {capability: all, control: none, egress_vector_bits: 8}
        below:
          endpoint: {name: agent1, model: dma-agent}
iommus:
  - name: dmar0
    preset: qemu-7.2
    include_all: true
)";

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

struct DmaAgentTest : ::testing::Test {
  std::unique_ptr<Fabric> f;
  DmaAgent* agent0 = nullptr;
  DmaAgent* agent1 = nullptr;
  uint64_t base0 = 0, base1 = 0;

  void SetUp() override {
    f = make_fabric(kTopology);
    agent0 = dynamic_cast<DmaAgent*>(fn(*f, "agent0").endpoint);
    agent1 = dynamic_cast<DmaAgent*>(fn(*f, "agent1").endpoint);
    ASSERT_NE(agent0, nullptr);
    ASSERT_NE(agent1, nullptr);
    base0 = bar(*f, "agent0", 0);
    base1 = bar(*f, "agent1", 0);
  }
  uint64_t rd(uint32_t off, unsigned len = 4, uint64_t b = 0) { return mmio_read(*f, (b ? b : base0) + off, len); }
  void wr(uint32_t off, uint64_t v, unsigned len = 4, uint64_t b = 0) { mmio_write(*f, (b ? b : base0) + off, v, len); }
  uint32_t status_code(uint64_t b = 0) { return static_cast<uint32_t>(rd(kStatus, 4, b) >> kStatusCodeShift) & 0xff; }
  static uint32_t code(StatusCode c) { return static_cast<uint32_t>(c); }
  std::vector<uint8_t> dram(uint64_t pa, unsigned len) {
    std::vector<uint8_t> d(len);
    f->dram().read(pa, d.data(), len);
    return d;
  }
  std::vector<uint8_t> window(unsigned len, uint64_t b = 0) {
    std::vector<uint8_t> d(len);
    for (unsigned i = 0; i < len; ++i) d[i] = static_cast<uint8_t>(rd(kWindow + i, 1, b));
    return d;
  }
  std::string hop(HopId h) const { return hops().name(h); }
  static std::string path(const AgentResult& r) {
    std::string t;
    for (HopId h : r.path) t += (t.empty() ? "" : " > ") + hops().name(h);
    return t;
  }
  // The requester id field of the agent's registers for `name`.
  uint16_t bdf(const std::string& name) { return fn(*f, name).bdf().raw(); }
  // A function-level reset of agent0, then what a driver does after one: BAR0 and Command back.
  void flr_agent0() {
    const uint32_t lo = cfg_read(*f, "agent0", cfg::kBar0), hi = cfg_read(*f, "agent0", cfg::kBar0 + 4);
    const uint32_t cmd = cfg_read(*f, "agent0", cfg::kCommand, 2);
    agent0->reset_function(0, ResetKind::FunctionLevel);
    cfg_write(*f, "agent0", cfg::kBar0, 4, lo);
    cfg_write(*f, "agent0", cfg::kBar0 + 4, 4, hi);
    cfg_write(*f, "agent0", cfg::kCommand, 2, cmd);
  }
};

}  // namespace

TEST_F(DmaAgentTest, ConfigHeaderAndRegistersReadTheirResetValues) {
  EXPECT_EQ(cfg_read(*f, "agent0", cfg::kVendorId), 0xda7a1234u);
  EXPECT_EQ(cfg_read(*f, "agent0", cfg::kRevision) >> 8, 0xff0000u);
  const PciFunction& f0 = *fn(*f, "agent0").fn;
  EXPECT_NE(f0.pcie_cap(), 0u) << "a PCIe endpoint";
  EXPECT_NE(f0.msi_cap(), 0u);
  EXPECT_EQ(f0.bars()[0].size, kBar0Size);
  EXPECT_TRUE(f0.bars()[0].is_64bit);

  EXPECT_EQ(rd(kId), kIdValue);
  EXPECT_EQ(rd(kAddress, 8), 0u);
  for (uint32_t r : {kLength, kControl, kPasid, kRequester, kPattern, kMsiData, kStatus, kWireRequester, kCount})
    EXPECT_EQ(rd(r), 0u) << std::hex << r;
  EXPECT_EQ(rd(kVerdict), 0xff00u) << "outcome Pending, no ACS bit, no redirect, reason 0";
  EXPECT_EQ(rd(kIommuOutput, 8), 0u);
  EXPECT_EQ(rd(kWindow, 8), 0u);
  EXPECT_EQ(rd(kWindow + kWindowSize - 8, 8), 0u);
  // Write-only, unlisted offsets and wrong sizes read all ones.
  for (uint32_t r : {kCommand, 0x04u, 0x2cu, 0x48u, 0xffcu}) EXPECT_EQ(rd(r), 0xffffffffu) << std::hex << r;
  EXPECT_EQ(rd(kId, 2), 0xffffu);
  EXPECT_EQ(rd(kLength, 8), ~uint64_t{0});
  // Writable masks: PASID is 20 bits, the requester id 16, control only its defined bits.
  wr(kPasid, 0xffffffff);
  wr(kRequester, 0xffffffff);
  wr(kControl, 0xffffffff);
  wr(kId, 0);
  wr(kStatus, 0xffffffff);
  EXPECT_EQ(rd(kPasid), 0xfffffu);
  EXPECT_EQ(rd(kRequester), 0xffffu);
  EXPECT_EQ(rd(kControl), kControlMask);
  EXPECT_EQ(rd(kId), kIdValue);
  EXPECT_EQ(rd(kStatus), 0u);
  wr(kAddress, 0x1122334455667788ull, 8);
  EXPECT_EQ(rd(kAddress, 8), 0x1122334455667788ull);
  wr(kAddress, 0xaabbccdd, 4);
  EXPECT_EQ(rd(kAddress, 8), 0xaabbccddull) << "a 4-byte write stores the low half, zero-extended";
  // The window takes 1..8-byte accesses inside it.
  wr(kWindow + 3, 0x5a, 1);
  EXPECT_EQ(rd(kWindow, 4), 0x5a000000u);
  EXPECT_EQ(rd(kWindow + kWindowSize - 4, 8), ~uint64_t{0}) << "runs off the end";
  // A function-level reset puts everything back.
  wr(kAddress, 0x1000, 8);
  flr_agent0();
  EXPECT_EQ(rd(kId), kIdValue);
  EXPECT_EQ(rd(kAddress, 8), 0u);
  EXPECT_EQ(rd(kPasid), 0u);
  EXPECT_EQ(rd(kControl), 0u);
  EXPECT_EQ(rd(kWindow, 4), 0u);
}

TEST_F(DmaAgentTest, BadRegisterValuesGiveAStatusAndIssueNothing) {
  bus_master(*f, "agent0");
  in_thread([&] {
    wr(kAddress, 0x1000, 8);
    wr(kLength, 0);
    wr(kCommand, kCmdStart);
    EXPECT_EQ(status_code(), code(StatusCode::BadLength));
    EXPECT_EQ(rd(kStatus) & kStatusBusy, 0u);
    wr(kLength, kMaxLength + 1);
    wr(kCommand, kCmdStart);
    EXPECT_EQ(status_code(), code(StatusCode::TooLong));
    wr(kLength, 0xffffffff);
    wr(kCommand, kCmdStart);
    EXPECT_EQ(status_code(), code(StatusCode::TooLong));
    wr(kLength, 64);
    wr(kControl, 3u << kCtlAtShift);  // AT = 11b is reserved (PCIe 10.2.1)
    wr(kCommand, kCmdStart);
    EXPECT_EQ(status_code(), code(StatusCode::BadAddressType));
    wr(kControl, 0);
    wr(kCommand, 0x77);
    EXPECT_EQ(status_code(), code(StatusCode::BadCommand));
    sc_core::wait(sc_time(1, SC_US));
    EXPECT_EQ(rd(kCount), 0u) << "nothing was issued";
    // The C++ API says the same.
    EXPECT_EQ(agent0->issue(AgentRequest::read(0x1000, 0)).status, StatusCode::BadLength);
    EXPECT_EQ(agent0->issue(AgentRequest::read(0x1000, kMaxLength + 1)).status, StatusCode::TooLong);
    AgentRequest bad_fn = AgentRequest::read(0x1000, 4);
    bad_fn.function = 3;
    EXPECT_EQ(agent0->issue(bad_fn).status, StatusCode::BadCommand);
    EXPECT_EQ(agent0->issued(), 0u);
    // The largest request is fine; a second start while it runs is refused with Busy.
    wr(kLength, kMaxLength);
    wr(kCommand, kCmdStart);
    EXPECT_EQ(rd(kStatus) & kStatusBusy, kStatusBusy);
    wr(kCommand, kCmdStart);
    EXPECT_EQ(status_code(), code(StatusCode::Busy));
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(rd(kStatus), code(StatusCode::Delivered) << kStatusCodeShift);
    EXPECT_EQ(rd(kCount), 1u);
  });
}

TEST_F(DmaAgentTest, ReadsAndWritesDramThroughTheRegisters) {
  bus_master(*f, "agent0");
  const std::vector<uint8_t> src = pattern(256, 0x30);
  f->dram().write(0x100000, src.data(), src.size());
  in_thread([&] {
    wr(kAddress, 0x100000, 8);
    wr(kLength, 256);
    wr(kControl, kCtlNoSnoop | kCtlRelaxedOrdering);
    wr(kCommand, kCmdStart);
    EXPECT_EQ(rd(kStatus) & kStatusBusy, kStatusBusy) << "busy until the completion is back";
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(rd(kStatus), code(StatusCode::Delivered) << kStatusCodeShift);
    EXPECT_EQ(rd(kVerdict) & kVerdictOutcomeMask, static_cast<uint32_t>(Outcome::Delivered));
    EXPECT_EQ(rd(kWireRequester), bdf("agent0"));
    EXPECT_EQ(window(256), src);
    // Write a pattern out, then the window.
    wr(kAddress, 0x200000, 8);
    wr(kLength, 10);
    wr(kPattern, 0xdeadbeef);
    wr(kControl, kCtlWrite | kCtlPattern);
    wr(kCommand, kCmdStart);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(dram(0x200000, 12),
              (std::vector<uint8_t>{0xef, 0xbe, 0xad, 0xde, 0xef, 0xbe, 0xad, 0xde, 0xef, 0xbe, 0, 0}));
    wr(kAddress, 0x300000, 8);
    wr(kLength, 256);
    wr(kControl, kCtlWrite);
    wr(kCommand, kCmdStart);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(dram(0x300000, 256), src);
    EXPECT_EQ(rd(kCount), 3u);
  });
  const AgentResult& r = agent0->last_result();
  EXPECT_EQ(path(r), "agent0.f0 > dpA > sw0.up > rp0 > rc0.host > dmar0 > dram");
}

TEST_F(DmaAgentTest, ABusMasterDisabledRequestIsUnsupportedAndReadsAllOnes) {
  const std::vector<uint8_t> src = pattern(16, 0x30);
  f->dram().write(0x100000, src.data(), src.size());
  const AgentResult r = agent0->issue(AgentRequest::read(0x100000, 16));
  EXPECT_EQ(r.status, StatusCode::Failed);
  EXPECT_EQ(r.verdict.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(r.data, std::vector<uint8_t>(16, 0xff));
  EXPECT_EQ(status_code(), code(StatusCode::Failed)) << "the API updates the result registers too";
  EXPECT_EQ(rd(kVerdict) & kVerdictOutcomeMask, static_cast<uint32_t>(Outcome::UnsupportedRequest));
}

// PCIe 6.12.1.1: ACS Source Validation at the downstream port checks the requester's bus number
// against the port's secondary..subordinate range.
TEST_F(DmaAgentTest, SpoofedRequesterIdIsBlockedByAcsSvAndDeliveredWithoutIt) {
  bus_master(*f, "agent0");
  const uint16_t victim = bdf("agent1");  // 05:00.0, outside dpA's bus range
  ASSERT_NE(victim >> 8, bdf("agent0") >> 8);
  in_thread([&] {
    wr(kAddress, 0x100000, 8);
    wr(kLength, 64);
    wr(kRequester, victim);
    wr(kControl, kCtlWrite | kCtlSpoof);
    wr(kCommand, kCmdStart);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(status_code(), code(StatusCode::Delivered)) << "no ACS: the lie goes through";
    EXPECT_EQ(rd(kWireRequester), victim);
    EXPECT_EQ(agent0->last_result().requester_on_wire.raw(), victim);

    set_acs(*f, "dpA", acs_mask(AcsBit::SV));
    wr(kCommand, kCmdStart);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(status_code(), code(StatusCode::Failed));
    const uint32_t v = static_cast<uint32_t>(rd(kVerdict));
    EXPECT_EQ(v & kVerdictOutcomeMask, static_cast<uint32_t>(Outcome::BlockedByAcs));
    EXPECT_EQ((v >> kVerdictAcsShift) & 0xf, static_cast<uint32_t>(AcsBit::SV));
    EXPECT_EQ(hop(agent0->last_result().verdict.port), "dpA");

    // SV checks the bus only: another function number on agent0's own bus passes.
    wr(kRequester, bdf("agent0") | 0x3);
    wr(kCommand, kCmdStart);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(status_code(), code(StatusCode::Delivered));
    // Without the spoof bit the register is not used.
    wr(kRequester, victim);
    wr(kControl, kCtlWrite);
    wr(kCommand, kCmdStart);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(status_code(), code(StatusCode::Delivered));
    EXPECT_EQ(rd(kWireRequester), bdf("agent0"));
  });
}

// PCIe 6.12.1.1: without ACS the switch turns a peer-to-peer write at the lowest common port;
// ACS P2P Request Redirect at the ingress port sends it upstream (the root port reflects it back
// down, it has no UF), where an IOMMU could see it.
TEST_F(DmaAgentTest, PeerWriteTurnsInTheSwitchUnlessAcsRrRedirectsIt) {
  bus_master(*f, "agent0");
  const uint64_t peer = bar(*f, "epB", 0);
  in_thread([&] {
    AgentResult r = agent0->issue(AgentRequest::write(peer + 0x100, pattern(64, 0x11)));
    EXPECT_EQ(r.status, StatusCode::Delivered);
    EXPECT_EQ(r.verdict.outcome, Outcome::Delivered);
    EXPECT_EQ(path(r), "agent0.f0 > dpA > dpB") << "turned in the switch, never upstream";
    EXPECT_EQ(hop(r.verdict.port), "epB.f0");
    EXPECT_FALSE(r.iommu_checked);

    set_acs(*f, "dpA", acs_mask(AcsBit::RR));
    r = agent0->issue(AgentRequest::write(peer + 0x200, pattern(64, 0x22)));
    EXPECT_EQ(r.status, StatusCode::Delivered);
    EXPECT_EQ(r.verdict.outcome, Outcome::Redirected);
    EXPECT_EQ(r.redirect_bit, AcsBit::RR);
    EXPECT_EQ(hop(r.redirect_port), "dpA");
    EXPECT_EQ(hop(r.terminal.port), "epB.f0");
    bool via_root_port = false;
    for (HopId h : r.path) via_root_port |= hop(h) == "rp0";
    EXPECT_TRUE(via_root_port) << path(r);
    // The register view of the same result.
    const uint32_t v = static_cast<uint32_t>(rd(kVerdict));
    EXPECT_EQ(v & kVerdictOutcomeMask, static_cast<uint32_t>(Outcome::Redirected));
    EXPECT_EQ((v >> kVerdictRedirectShift) & 0xf, static_cast<uint32_t>(AcsBit::RR));
    // Both writes landed in the peer's BAR.
    sc_core::wait(sc_time(1, SC_US));
  });
  EXPECT_EQ(mmio_read(*f, peer + 0x100, 8), 0x1817161514131211ull);
  EXPECT_EQ(mmio_read(*f, peer + 0x200, 8), 0x2928272625242322ull);
}

// A translated request (AT = 10b) from a device without ATS: ACS Translation Blocking at the root
// port stops it before the IOMMU (PCIe 6.12.1.1); without TB, VT-d faults it because the
// context entry does not allow translated requests (VT-d 9.3: TT = 00b, fault 0x0D).
TEST_F(DmaAgentTest, TranslatedRequestWithoutAtsIsBlockedByTbOrFaultedByVtd) {
  bus_master(*f, "agent1");
  vtd::VtdProgrammer drv(*f, "dmar0");
  drv.attach(fn(*f, "agent1").bdf(), 1, /*tt*/ 0, /*levels*/ 3).map(0x08000000, 0x01234000, 4096);
  drv.set_root_table();
  drv.enable_translation();
  const std::vector<uint8_t> secret = pattern(64, 0x60);
  f->dram().write(0x00400000, secret.data(), secret.size());
  in_thread([&] {
    set_acs(*f, "rp1", acs_mask(AcsBit::TB));
    wr(kAddress, 0x00400000, 8, base1);
    wr(kLength, 64, 4, base1);
    wr(kControl, uint32_t{2} << kCtlAtShift, 4, base1);  // AT = translated, a read of "physical" memory
    wr(kCommand, kCmdStart, 4, base1);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(status_code(base1), code(StatusCode::Failed));
    uint32_t v = static_cast<uint32_t>(rd(kVerdict, 4, base1));
    EXPECT_EQ(v & kVerdictOutcomeMask, static_cast<uint32_t>(Outcome::BlockedByAcs));
    EXPECT_EQ((v >> kVerdictAcsShift) & 0xf, static_cast<uint32_t>(AcsBit::TB));
    EXPECT_EQ(hop(agent1->last_result().verdict.port), "rp1");
    EXPECT_EQ(f->iommu("dmar0")->faults(), 0u) << "the unit never saw it";
    EXPECT_EQ(window(64, base1), std::vector<uint8_t>(64, 0xff));

    set_acs(*f, "rp1", 0);
    wr(kCommand, kCmdStart, 4, base1);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(status_code(base1), code(StatusCode::Failed));
    v = static_cast<uint32_t>(rd(kVerdict, 4, base1));
    EXPECT_EQ(v & kVerdictOutcomeMask, static_cast<uint32_t>(Outcome::IommuFault));
    EXPECT_EQ(v >> kVerdictReasonShift, static_cast<uint32_t>(vtd::FaultReason::TranslationTypeBlocked));
    EXPECT_EQ(f->iommu("dmar0")->faults(), 1u);
    EXPECT_EQ(window(64, base1), std::vector<uint8_t>(64, 0xff)) << "the secret did not leak";
    // The same address untranslated is not mapped either (the domain maps only 0x08000000).
    const AgentResult r = agent1->issue(AgentRequest::read(0x00400000, 64));
    EXPECT_EQ(r.verdict.outcome, Outcome::IommuFault);
    EXPECT_NE(r.verdict.fault_reason, static_cast<uint16_t>(vtd::FaultReason::TranslationTypeBlocked));
  });
}

// VT-d 9.1 / 3.4: a unit in legacy mode (RTADDR.TTM = 00b) has no PASID tables; a request with
// a PASID prefix faults with reason 0x31.
TEST_F(DmaAgentTest, PasidRequestToALegacyModeIommuFaults) {
  bus_master(*f, "agent1");
  vtd::VtdProgrammer drv(*f, "dmar0");
  drv.attach(fn(*f, "agent1").bdf(), 1, /*tt*/ 0, /*levels*/ 3).map(0x08000000, 0x01234000, 4096);
  drv.set_root_table();
  drv.enable_translation();
  in_thread([&] {
    // Without PASID the mapping works: the reference.
    AgentResult r = agent1->issue(AgentRequest::write(0x08000000, pattern(16, 1)));
    ASSERT_EQ(r.status, StatusCode::Delivered);
    EXPECT_EQ(r.iommu_output, 0x01234000u);
    EXPECT_EQ(dram(0x01234000, 16), pattern(16, 1));

    wr(kAddress, 0x08000000, 8, base1);
    wr(kLength, 16, 4, base1);
    wr(kPasid, 0x42, 4, base1);
    wr(kControl, kCtlWrite | kCtlPasid | kCtlPrivileged | kCtlExecute, 4, base1);
    wr(kCommand, kCmdStart, 4, base1);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(status_code(base1), code(StatusCode::Failed));
    const uint32_t v = static_cast<uint32_t>(rd(kVerdict, 4, base1));
    EXPECT_EQ(v & kVerdictOutcomeMask, static_cast<uint32_t>(Outcome::IommuFault));
    EXPECT_EQ(v >> kVerdictReasonShift, static_cast<uint32_t>(vtd::FaultReason::SmTtmZeroWithPasid));
    EXPECT_EQ(hop(agent1->last_result().verdict.port), "dmar0");
  });
  EXPECT_EQ(f->iommu("dmar0")->faults(), 1u);
}

// An MSI write with forged data is a plain DWORD memory write to 0xFEEx_xxxx. Without interrupt
// remapping it interrupts whatever CPU and vector it names; with remapping (CFI clear) VT-d 5.1.4
// blocks compatibility format (0x25), looks up the IRTE a remappable one names (not present:
// 0x22) and checks its source id (0x26); only an IRTE for this requester delivers, and then
// with the IRTE's vector, not the forged data.
TEST_F(DmaAgentTest, ForgedMsiWritesMeetInterruptRemapping) {
  bus_master(*f, "agent1");
  const uint16_t me = bdf("agent1");
  vtd::ApicInterrupt forged;
  forged.vector = 0x99;
  forged.destination = 3;
  const vtd::MsiWrite compat = vtd::make_compatibility_msi(forged, me);

  // Remapping off: the forged message reaches the local APIC sink as written.
  AgentResult r = agent1->issue(AgentRequest::forged_msi(compat.address, compat.data));
  EXPECT_EQ(r.status, StatusCode::Delivered);
  ASSERT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x99);
  EXPECT_EQ(f->apic().last()->irq.destination, 3u);
  EXPECT_EQ(f->apic().last()->source_id, me);

  vtd::VtdProgrammer drv(*f, "dmar0");
  drv.enable_interrupt_remapping(/*allow_compatibility*/ false);
  vtd::ApicInterrupt real;
  real.vector = 0x41;
  real.destination = 1;
  drv.set_irte(5, vtd::make_remapped_irte(real, false, vtd::SourceValidation::requester(bdf("agent0"))));
  drv.set_irte(6, vtd::make_remapped_irte(real, false, vtd::SourceValidation::requester(me)));

  // Compatibility format through the registers.
  wr(kAddress, compat.address, 8, base1);
  wr(kMsiData, compat.data, 4, base1);
  wr(kLength, 0, 4, base1);  // a forged MSI is always one DWORD: length does not matter
  in_thread([&] {
    wr(kCommand, kCmdForgedMsi, 4, base1);
    sc_core::wait(sc_time(10, SC_US));
  });
  EXPECT_EQ(status_code(base1), code(StatusCode::Failed));
  uint32_t v = static_cast<uint32_t>(rd(kVerdict, 4, base1));
  EXPECT_EQ(v & kVerdictOutcomeMask, static_cast<uint32_t>(Outcome::IommuFault));
  EXPECT_EQ(v >> kVerdictReasonShift, static_cast<uint32_t>(vtd::FaultReason::IrCompatibilityBlocked));

  // Remappable format: an entry nobody set, another device's entry, then its own.
  const vtd::MsiWrite absent = vtd::make_remappable_msi(7, false, 0, me);
  r = agent1->issue(AgentRequest::forged_msi(absent.address, absent.data));
  EXPECT_EQ(r.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(r.verdict.fault_reason, static_cast<uint16_t>(vtd::FaultReason::IrEntryNotPresent));
  const vtd::MsiWrite stolen = vtd::make_remappable_msi(5, false, 0, me);
  r = agent1->issue(AgentRequest::forged_msi(stolen.address, 0xdead0099));
  EXPECT_EQ(r.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(r.verdict.fault_reason, static_cast<uint16_t>(vtd::FaultReason::IrSourceIdInvalid));
  // Spoofing agent0's requester id gets past source validation: only ACS SV at the root port
  // stops that lie (SVT checks the id the TLP carries).
  DmaOptions spoof;
  spoof.spoof_requester = fn(*f, "agent0").bdf();
  r = agent1->issue(AgentRequest::forged_msi(stolen.address, 0xdead0099, spoof));
  EXPECT_EQ(r.status, StatusCode::Delivered);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x41) << "the IRTE's vector, not the forged data";
  set_acs(*f, "rp1", acs_mask(AcsBit::SV));
  r = agent1->issue(AgentRequest::forged_msi(stolen.address, 0xdead0099, spoof));
  EXPECT_EQ(r.verdict.outcome, Outcome::BlockedByAcs);
  EXPECT_EQ(r.verdict.acs_bit, AcsBit::SV);
  const size_t before = f->apic().count();
  const vtd::MsiWrite own = vtd::make_remappable_msi(6, false, 0, me);
  r = agent1->issue(AgentRequest::forged_msi(own.address, 0x12345678));
  EXPECT_EQ(r.status, StatusCode::Delivered);
  ASSERT_EQ(f->apic().count(), before + 1);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x41);
  EXPECT_EQ(f->iommu("dmar0")->faults(), 3u);
}

// A reset while a command is in flight: the registers go back at once, and the command's result
// is not written back over them when its completion arrives.
TEST_F(DmaAgentTest, AResetDropsTheResultOfACommandInFlight) {
  bus_master(*f, "agent0");
  in_thread([&] {
    wr(kAddress, 0x100000, 8);
    wr(kLength, 4096);
    wr(kCommand, kCmdStart);
    // Wait until the engine has sent the read and waits for its completions.
    for (int i = 0; i < 1000 && agent0->issued() == 0; ++i) sc_core::wait(sc_time(1, sc_core::SC_NS));
    ASSERT_EQ(agent0->issued(), 1u);
    ASSERT_EQ(rd(kStatus) & kStatusBusy, kStatusBusy) << "4 KiB of completions take longer than that";
    flr_agent0();
    EXPECT_EQ(rd(kStatus), 0u);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(rd(kStatus), 0u);
    EXPECT_EQ(rd(kVerdict), kVerdictReset);
    EXPECT_EQ(rd(kAddress, 8), 0u);
  });
}

// The shipped example topology loads, enumerates as its comment draws it, and its attacker's
// spoofed write is what ACS SV at dpA stops.
TEST(DmaAgentTopology, TheExampleTopologyBuildsAndItsAttackerIsCaughtBySv) {
  const char* dir = std::getenv("PCIESIM_SOURCE_DIR");
  ASSERT_NE(dir, nullptr) << "ctest sets PCIESIM_SOURCE_DIR";
  const std::string path = std::string(dir) + "/scenarios/topologies/dma-agent.yaml";
  auto f = std::make_unique<Fabric>(topo::load_topology_file(path));
  f->enumerate();
  EXPECT_EQ(fn(*f, "attacker").bdf(), RequesterId::from_bdf(3, 0, 0));
  EXPECT_EQ(fn(*f, "victim").bdf(), RequesterId::from_bdf(4, 0, 0));
  EXPECT_EQ(fn(*f, "agent1").bdf(), RequesterId::from_bdf(5, 0, 0));
  auto* attacker = dynamic_cast<DmaAgent*>(fn(*f, "attacker").endpoint);
  ASSERT_NE(attacker, nullptr);
  EXPECT_NE(dynamic_cast<DmaAgent*>(fn(*f, "agent1").endpoint), nullptr);
  bus_master(*f, "attacker");
  set_acs(*f, "dpA", acs_mask(AcsBit::SV));
  DmaOptions o;
  o.spoof_requester = RequesterId::from_bdf(5, 0, 0);
  const AgentResult r = attacker->issue(AgentRequest::write(0x1000, pattern(8, 0), o));
  EXPECT_EQ(r.verdict.outcome, Outcome::BlockedByAcs);
  EXPECT_EQ(r.verdict.acs_bit, AcsBit::SV);
}

// A function listed with a BAR0 too small for the registers and the window is an error at its
// line, not a device that crashes later.
TEST(DmaAgentTopology, AListedFunctionNeedsRoomForTheRegistersAndTheWindow) {
  const std::string bad = R"(
name: bad
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        below:
          endpoint:
            name: a
            model: dma-agent
            functions: [{function: 0, bars: [{index: 0, size: 4KiB}]}]
)";
  try {
    topo::load_topology_string(bad, "bad.yaml");
    FAIL() << "a 4 KiB BAR0 must be an error";
  } catch (const topo::TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("needs a memory BAR0 of at least 8192 bytes"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.yaml"), std::string::npos) << e.what();
  }
  // Without bars the function gets the agent's BAR0.
  const topo::TopologySpec ok = topo::load_topology_string(
      bad.substr(0, bad.find("functions:")) + "functions: [{function: 0}, {function: 1}]\n", "ok.yaml");
  const auto& ep = std::get<topo::EndpointSpec>(ok.root_complexes[0].root_ports[0].child->node);
  ASSERT_EQ(ep.functions.size(), 2u);
  EXPECT_EQ(ep.functions[1].bars.at(0).size, kBar0Size);
}
