// Function Level Reset (PCIe 6.6.2) through Device Control "Initiate FLR", and Secondary Bus
// Reset (PCIe 6.6.1, PCI-to-PCI Bridge 1.2 3.2.5.17) through a port's Bridge Control: what the
// functions lose, what they keep, and that device models and cached routes hear of it.
#include "pcie/device_models.h"
#include "pcie/fabric_fixture.h"
#include "pcie/pcie_regs.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {

// A device model that records its resets and keeps one register of state.
class ResetProbe : public Endpoint {
 public:
  using Endpoint::Endpoint;
  std::vector<std::pair<unsigned, ResetKind>> resets;
  uint32_t state = 0x1234;

 protected:
  void on_reset(unsigned fn, ResetKind kind) override {
    resets.emplace_back(fn, kind);
    state = 0;
  }
};

std::unique_ptr<Endpoint> make_probe(const char* n, const topo::EndpointSpec& s, int seg, const topo::LinkSpec* l) {
  return std::make_unique<ResetProbe>(n, s, seg, l);
}
[[maybe_unused]] const bool kProbe = register_device_model("reset-probe", make_probe);

//   rp0 ── sw0 ─┬─ dpA ── epA (FLR, AER, MSI-X)
//               └─ dpB ── epB (no FLR)
//   rp1 ── probe (a device model)
const char* kTopology = R"(
name: reset-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 4, width: 16}
        below:
          switch:
            name: sw0
            ports:
              - name: dpA
                device: 0
                below:
                  endpoint:
                    name: epA
                    functions: [{bars: [{size: 1MiB, type: mem64, prefetchable: true}], msix: 4, aer: true}]
              - name: dpB
                device: 1
                below:
                  endpoint:
                    name: epB
                    functions: [{bars: [{size: 64KiB}], flr: false}]
      - name: rp1
        device: 2
        below:
          endpoint:
            name: probe
            model: reset-probe
            functions: [{bars: [{size: 64KiB}]}]
)";

struct ResetInFabric : ::testing::Test {
  std::unique_ptr<Fabric> f = make_fabric(kTopology);
  uint16_t pcie(const std::string& name) { return fn(*f, name).fn->pcie_cap(); }
  uint16_t devctl(const std::string& name) {
    return static_cast<uint16_t>(cfg_read(*f, name, pcie(name) + regs::kExpDevCtl, 2));
  }
  void initiate_flr(const std::string& name) {
    cfg_write(*f, name, pcie(name) + regs::kExpDevCtl, 2, devctl(name) | regs::kDevCtlInitiateFlr);
  }
  void set_sbr(const std::string& port, bool on) {
    const uint16_t bctl = static_cast<uint16_t>(cfg_read(*f, port, cfg::kBridgeControl, 2));
    cfg_write(*f, port, cfg::kBridgeControl, 2,
              on ? (bctl | cfg::kBctlSecondaryBusReset) : (bctl & ~cfg::kBctlSecondaryBusReset));
  }
  uint16_t command(const std::string& name) { return static_cast<uint16_t>(cfg_read(*f, name, cfg::kCommand, 2)); }
  ResetProbe& probe() { return *dynamic_cast<ResetProbe*>(fn(*f, "probe").endpoint); }
};

}  // namespace

TEST_F(ResetInFabric, FlrReturnsTheFunctionToItsResetStateExceptWhatTheSpecKeeps) {
  bus_master(*f, "epA");
  const uint64_t base = bar(*f, "epA", 0);
  ASSERT_NE(base, 0u);
  mmio_write(*f, base + 0x40, 0xcafef00d);
  const uint64_t table = base + 0xff000;  // MSI-X table at the top of BAR0
  mmio_write(*f, table + 8, 0x41);
  mmio_write(*f, table + 12, 0);
  // Software state before the FLR: MRRS 1024 B, relaxed ordering off, MPS as firmware set it.
  const uint16_t before = devctl("epA");
  const uint16_t programmed = static_cast<uint16_t>((before & ~regs::kDevCtlReadRqMask & ~regs::kDevCtlRelaxed) |
                                                    (3u << 12));
  cfg_write(*f, "epA", pcie("epA") + regs::kExpDevCtl, 2, programmed);
  // An error logged in AER (sticky) and a mask software chose.
  const uint16_t aer = fn(*f, "epA").fn->config().find_ext_capability(regs::kExtCapIdAer);
  fn(*f, "epA").fn->config().set(aer + regs::kAerUncorStatus, 4, regs::kAerUncCompTimeout);
  cfg_write(*f, "epA", aer + regs::kAerUncorMask, 4, regs::kAerUncUnsupported);
  std::vector<bool> intx;
  f->set_intx_listener([&](const FunctionInfo&, unsigned, bool level) { intx.push_back(level); });
  fn(*f, "epA").endpoint->set_intx(0, true);

  initiate_flr("epA");

  EXPECT_EQ(command("epA"), 0u) << "memory decode and bus mastering are gone";
  EXPECT_EQ(cfg_read(*f, "epA", cfg::kBar0), 0x0000000cu) << "BAR0 back to its type bits";
  EXPECT_EQ(cfg_read(*f, "epA", cfg::kBar0 + 4), 0u);
  EXPECT_EQ(fn(*f, "epA").fn->bars()[0].base, 0u);
  const uint16_t after = devctl("epA");
  EXPECT_FALSE(after & regs::kDevCtlInitiateFlr) << "PCIe 7.5.3.4: Initiate FLR reads 0";
  EXPECT_EQ(after & regs::kDevCtlPayloadMask, programmed & regs::kDevCtlPayloadMask) << "6.6.2 keeps MPS";
  EXPECT_EQ(after & regs::kDevCtlReadRqMask, 2u << 12) << "MRRS back to 512 B";
  EXPECT_TRUE(after & regs::kDevCtlRelaxed);
  EXPECT_EQ(cfg_read(*f, "epA", aer + regs::kAerUncorStatus), regs::kAerUncCompTimeout) << "sticky";
  EXPECT_EQ(cfg_read(*f, "epA", aer + regs::kAerUncorMask), regs::kAerUncUnsupported) << "sticky";
  EXPECT_EQ(intx, std::vector<bool>({true, false})) << "the reset deasserts INTx";
  // Reprogrammed, the function shows nothing of its previous use: the BAR's data and the
  // MSI-X table (every vector masked, data 0) are gone.
  cfg_write(*f, "epA", cfg::kBar0, 4, static_cast<uint32_t>(base));
  cfg_write(*f, "epA", cfg::kBar0 + 4, 4, static_cast<uint32_t>(base >> 32));
  cfg_write(*f, "epA", cfg::kCommand, 2, cfg::kCmdMemory);
  EXPECT_EQ(mmio_read(*f, base + 0x40), 0u);
  EXPECT_EQ(mmio_read(*f, table + 8), 0u);
  EXPECT_EQ(mmio_read(*f, table + 12), 1u);
}

TEST_F(ResetInFabric, InitiateFlrDoesNothingWithoutDevcapFlr) {
  const uint32_t devcap = cfg_read(*f, "epB", pcie("epB") + regs::kExpDevCap);
  ASSERT_FALSE(devcap & regs::kDevCapFlr);
  const uint16_t cmd = command("epB");
  ASSERT_NE(cmd, 0u);
  initiate_flr("epB");
  EXPECT_EQ(command("epB"), cmd);
  EXPECT_NE(fn(*f, "epB").fn->bars()[0].base, 0u);
  EXPECT_FALSE(devctl("epB") & regs::kDevCtlInitiateFlr);
}

TEST_F(ResetInFabric, FlrInvalidatesTheFunctionsCachedRoutes) {
  bus_master(*f, "epA");
  EXPECT_EQ(send(*f, "epA", TlpKind::MemWrite, 0x1000).verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(send(*f, "epA", TlpKind::MemWrite, 0x1000).verdict.outcome, Outcome::Delivered);  // cached
  initiate_flr("epA");
  Sent s = send(*f, "epA", TlpKind::MemWrite, 0x1000);
  EXPECT_EQ(s.verdict.outcome, Outcome::UnsupportedRequest) << "Bus Master Enable is clear after the FLR";
  EXPECT_EQ(s.at(), "epA.f0");
}

TEST_F(ResetInFabric, FlrCallsTheDeviceModelsResetHook) {
  ResetProbe& p = probe();
  ASSERT_TRUE(p.resets.empty());
  initiate_flr("probe");
  ASSERT_EQ(p.resets.size(), 1u);
  EXPECT_EQ(p.resets[0], std::make_pair(0u, ResetKind::FunctionLevel));
  EXPECT_EQ(p.state, 0u);
}

TEST_F(ResetInFabric, ConfigListenerHearsWritesButNotTheResetItself) {
  std::vector<uint16_t> heard;
  fn(*f, "probe").fn->set_config_listener([&](uint16_t offset, unsigned) { heard.push_back(offset); });
  cfg_write(*f, "probe", cfg::kCommand, 2, command("probe") | cfg::kCmdBusMaster);
  cfg_write(*f, "probe", cfg::kVendorId, 2, 0);  // read-only: no write reached a bit
  EXPECT_EQ(heard, std::vector<uint16_t>{cfg::kCommand});
  initiate_flr("probe");
  EXPECT_EQ(heard, (std::vector<uint16_t>{cfg::kCommand, uint16_t(pcie("probe") + regs::kExpDevCtl)}));
  EXPECT_EQ(command("probe"), 0u);
}

TEST_F(ResetInFabric, SecondaryBusResetResetsEverythingBelowThePort) {
  ASSERT_NE(fn(*f, "sw0").fn->secondary_bus(), 0);
  const uint8_t rp0_secondary = fn(*f, "rp0").fn->secondary_bus();
  const uint16_t epB_command = command("epB");
  ASSERT_NE(epB_command, 0u);
  set_sbr("rp0", true);
  // The switch's ports lost their bus numbers and windows, the endpoints their BARs and command.
  for (const char* port : {"sw0", "dpA", "dpB"}) {
    const PciFunction& p = *fn(*f, port).fn;
    EXPECT_EQ(p.secondary_bus(), 0) << port;
    EXPECT_EQ(p.subordinate_bus(), 0) << port;
    EXPECT_FALSE(p.mem_window().enabled() && p.memory_enabled()) << port;
    EXPECT_EQ(p.config().read16(cfg::kCommand), 0u) << port;
  }
  for (const char* ep : {"epA", "epB"}) {
    EXPECT_EQ(fn(*f, ep).fn->config().read16(cfg::kCommand), 0u) << ep;
    EXPECT_EQ(fn(*f, ep).fn->bars()[0].base, 0u) << ep;
  }
  // The port itself keeps its own programming, and below it nothing answers until software
  // enumerates again.
  EXPECT_EQ(fn(*f, "rp0").fn->secondary_bus(), rp0_secondary);
  EXPECT_EQ(cfg_read(*f, "epB", cfg::kVendorId, 2), 0xffffu);
  EXPECT_TRUE(probe().resets.empty()) << "rp1's device is not below rp0";
  set_sbr("rp0", false);
  // Another port's SBR reaches the device model as a conventional reset.
  set_sbr("rp1", true);
  ASSERT_EQ(probe().resets.size(), 1u);
  EXPECT_EQ(probe().resets[0], std::make_pair(0u, ResetKind::Conventional));
  EXPECT_EQ(probe().state, 0u);
  EXPECT_EQ(fn(*f, "probe").fn->config().read16(cfg::kCommand), 0u);
  EXPECT_EQ(cfg_read(*f, "probe", cfg::kVendorId, 2), 0xffffu) << "held in reset while SBR is set";
  set_sbr("rp1", false);  // releasing the reset does not reset again
  EXPECT_EQ(probe().resets.size(), 1u);
  EXPECT_EQ(cfg_read(*f, "probe", cfg::kVendorId, 2), 0x1b36u);
}

TEST_F(ResetInFabric, SecondaryBusResetOfASwitchPortResetsOnlyItsLink) {
  const uint16_t epA_command = command("epA");
  set_sbr("dpB", true);
  EXPECT_EQ(fn(*f, "epB").fn->config().read16(cfg::kCommand), 0u);
  EXPECT_EQ(command("epA"), epA_command);
  EXPECT_NE(fn(*f, "dpB").fn->secondary_bus(), 0) << "the port that resets its link keeps its bus numbers";
}
