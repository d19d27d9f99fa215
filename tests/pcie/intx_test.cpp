// INTx (PCI 3.0 6.2.2-6.2.3): Endpoint::set_intx drives Status.Interrupt Status; the pin the
// fabric's listener hears follows it, gated by Command.Interrupt Disable and by MSI/MSI-X enable.
#include <tuple>

#include "pcie/fabric_fixture.h"
#include "pcie/pcie_regs.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {

const char* kTopology = R"(
name: intx-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        below:
          endpoint:
            name: dev
            functions:
              - {function: 0, bars: [{size: 16KiB}], msi: 1}
              - {function: 1, bars: [{size: 16KiB}], interrupt_pin: INTC}
              - {function: 2, bars: [{size: 16KiB}], interrupt_pin: none}
)";

struct IntxInFabric : ::testing::Test {
  std::unique_ptr<Fabric> f = make_fabric(kTopology);
  Endpoint& ep = *fn(*f, "dev").endpoint;
  std::vector<std::tuple<std::string, unsigned, bool>> events;  // function, pin, level

  void SetUp() override {
    f->set_intx_listener([this](const FunctionInfo& info, unsigned pin, bool asserted) {
      events.emplace_back(info.fn->name(), pin, asserted);
    });
  }
  uint16_t status(const std::string& name) { return static_cast<uint16_t>(cfg_read(*f, name, cfg::kStatus, 2)); }
  uint16_t command(const std::string& name) { return static_cast<uint16_t>(cfg_read(*f, name, cfg::kCommand, 2)); }
};

}  // namespace

TEST_F(IntxInFabric, PinFollowsTheInterruptStateAndNamesTheInterruptPin) {
  ep.set_intx(1, true);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], std::make_tuple(std::string("dev.f1"), 3u, true));  // INTC
  EXPECT_TRUE(status("dev.f1") & cfg::kStatusIntx);
  ep.set_intx(1, true);  // no change, no event
  EXPECT_EQ(events.size(), 1u);
  ep.set_intx(1, false);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1], std::make_tuple(std::string("dev.f1"), 3u, false));
  EXPECT_FALSE(status("dev.f1") & cfg::kStatusIntx);
}

TEST_F(IntxInFabric, InterruptDisableGatesThePinButNotTheStatusBit) {
  cfg_write(*f, "dev.f1", cfg::kCommand, 2, command("dev.f1") | cfg::kCmdIntxDisable);
  ep.set_intx(1, true);
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(status("dev.f1") & cfg::kStatusIntx) << "PCI 3.0 6.2.3: status reflects the device's state";
  cfg_write(*f, "dev.f1", cfg::kCommand, 2, command("dev.f1") & ~cfg::kCmdIntxDisable);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(std::get<2>(events[0])) << "the pending interrupt shows once software re-enables INTx";
  cfg_write(*f, "dev.f1", cfg::kCommand, 2, command("dev.f1") | cfg::kCmdIntxDisable);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(std::get<2>(events[1]));
}

TEST_F(IntxInFabric, MsiEnableSuppressesIntxAndAFunctionWithoutAPinSignalsNothing) {
  const uint16_t msi = fn(*f, "dev").fn->msi_cap();
  cfg_write(*f, "dev", msi + regs::kMsiFlags, 2, regs::kMsiFlagsEnable);
  ep.set_intx(0, true);
  EXPECT_TRUE(events.empty()) << "PCI 3.0 6.8.1.3: with MSI enabled the function must not use INTx";
  cfg_write(*f, "dev", msi + regs::kMsiFlags, 2, 0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], std::make_tuple(std::string("dev.f0"), 1u, true));
  ep.set_intx(2, true);
  EXPECT_EQ(events.size(), 1u);
}
