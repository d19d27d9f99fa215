// Routing without ACS: configuration by bus number, memory by windows and BARs, DMA to DRAM,
// Bus Master Enable, master aborts, PCIe-to-PCI bridge aliasing, multi-function devices.
#include <cstring>

#include "devices/dram.h"
#include "fabric_fixture.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {

std::string topology(const std::string& name) {
  const char* src = std::getenv("PCIESIM_SOURCE_DIR");
  return std::string(src ? src : ".") + "/scenarios/topologies/" + name;
}

std::unique_ptr<Fabric> load(const std::string& name) {
  auto f = std::make_unique<Fabric>(topo::load_topology_file(topology(name)));
  f->enumerate();
  return f;
}

}  // namespace

TEST(FabricRouting, DmaWriteLandsInDramAndReadsBack) {
  auto f = make_fabric(kAcsTopology);
  bus_master(*f, "epD");
  std::vector<uint8_t> payload(256);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7);
  Sent w = send(*f, "epD", TlpKind::MemWrite, 0x10000, 256, {}, payload);
  ASSERT_EQ(w.verdict.outcome, Outcome::Delivered) << path_text(w);
  EXPECT_EQ(path_text(w), "epD.f0 > dpD > sw1.up > dpC > sw0.up > rp0 > rc0.host > dram");
  std::vector<uint8_t> in_dram(256);
  ASSERT_TRUE(f->dram().read(0x10000, in_dram.data(), in_dram.size()));
  EXPECT_EQ(in_dram, payload);
  Sent r = send(*f, "epD", TlpKind::MemRead, 0x10000, 256);
  EXPECT_EQ(r.data, payload);
  EXPECT_GT(r.latency, w.latency);  // a read waits for its completions
}

TEST(FabricRouting, CpuMmioReachesTheClaimingBarThroughEveryWindow) {
  auto f = make_fabric(kAcsTopology);
  const uint64_t e = bar(*f, "epE", 0);
  uint32_t v = 0xdeadbeef;
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  const PcieExtension& w = f->cpu().access(true, e + 0x40, reinterpret_cast<uint8_t*>(&v), 4, d);
  ASSERT_EQ(w.verdict.outcome, Outcome::Delivered);
  std::vector<std::string> path;
  for (unsigned i = 0; i < w.hop_count; ++i) path.push_back(hops().name(w.hops[i]));
  EXPECT_EQ(path, (std::vector<std::string>{"rc0.host", "rp0", "sw0.up", "dpC", "sw1.up", "dpE"}));
  uint32_t back = 0;
  f->cpu().access(false, e + 0x40, reinterpret_cast<uint8_t*>(&back), 4, d);
  EXPECT_EQ(back, 0xdeadbeefu);
}

TEST(FabricRouting, UnclaimedMmioIsAMasterAbortReadingAllOnes) {
  auto f = make_fabric(kAcsTopology);
  uint32_t v = 0;
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  // inside rc0's mmio32 range but in no root port window
  const PcieExtension& r = f->cpu().access(false, 0xdff00000, reinterpret_cast<uint8_t*>(&v), 4, d);
  EXPECT_EQ(r.verdict.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(v, 0xffffffffu);
  // turning memory decode off on a switch port makes its BARs unreachable
  const uint64_t e = bar(*f, "epE", 0);
  const FunctionInfo& dpE = fn(*f, "dpE");
  f->config_write(dpE.segment, dpE.bdf(), 0x04, 2, 0x0004);  // bus master only
  const PcieExtension& r2 = f->cpu().access(false, e, reinterpret_cast<uint8_t*>(&v), 4, d);
  EXPECT_EQ(r2.verdict.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(hops().name(r2.verdict.port), "sw1.up");
}

TEST(FabricRouting, ConfigRequestsRouteByBusNumber) {
  auto f = make_fabric(kAcsTopology);
  const FunctionInfo& d = fn(*f, "epD");
  EXPECT_EQ(f->config_read(0, d.bdf(), 0x00, 4), d.fn->config().read32(0));
  // type 0 on a PCIe link reaches device 0 only (no ARI forwarding)
  RequesterId dev1{d.bdf().bus, static_cast<uint8_t>(1 << 3)};
  EXPECT_EQ(f->config_read(0, dev1, 0x00, 4), 0xffffffffu);
  // a bus nobody claims
  EXPECT_EQ(f->config_read(0, RequesterId::from_bdf(0xf0, 0, 0), 0x00, 4), 0xffffffffu);
  // misaligned ECAM access is refused
  EXPECT_EQ(f->config_read(0, d.bdf(), 0x01, 4), 0xffffffffu);
}

TEST(FabricRouting, FunctionsCaptureTheirIdFromTypeZeroWrites) {
  auto f = make_fabric(kAcsTopology);
  const FunctionInfo& e = fn(*f, "epE");
  EXPECT_EQ(e.bdf().bus, fn(*f, "dpE").fn->secondary_bus());
  EXPECT_EQ(e.bdf().devfn, 0);
}

TEST(FabricRouting, BusMasterEnableGatesDmaAtTheFunctionAndAtPorts) {
  auto f = make_fabric(kAcsTopology);
  Sent off = send(*f, "epA", TlpKind::MemWrite, 0x1000);
  EXPECT_EQ(off.verdict.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(off.at(), "epA.f0");
  EXPECT_EQ(off.path.size(), 1u);  // never left the device
  bus_master(*f, "epA");
  EXPECT_EQ(send(*f, "epA", TlpKind::MemWrite, 0x1000).verdict.outcome, Outcome::Delivered);
  bus_master(*f, "dpA", false);  // PCIe 7.5.1.1.3: the port now URs upstream requests
  Sent port_off = send(*f, "epA", TlpKind::MemWrite, 0x1000);
  EXPECT_EQ(port_off.verdict.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(port_off.at(), "dpA");
}

TEST(FabricRouting, DmaBeyondMemoryIsUnsupported) {
  auto f = make_fabric(kAcsTopology);
  bus_master(*f, "epA");
  Sent s = send(*f, "epA", TlpKind::MemWrite, 0x7000000000ull);  // above DRAM, in no window
  EXPECT_EQ(s.verdict.outcome, Outcome::UnsupportedRequest) << path_text(s);
}

TEST(FabricRouting, PcieToPciBridgeAliasesRequesterIdAndKeepsBusLocalP2P) {
  auto f = load("pci-bridge.yaml");
  bus_master(*f, "edu0");
  bus_master(*f, "e1000");
  const FunctionInfo& edu = fn(*f, "edu0");
  const FunctionInfo& br = fn(*f, "pcibr0");
  Sent s = send(*f, "edu0", TlpKind::MemWrite, 0x2000);
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_NE(edu.bdf().devfn, 0);
  EXPECT_EQ(s.requester_on_wire, (RequesterId{br.fn->secondary_bus(), 0}));  // edu at 06:01.0 -> 06:00.0
  // edu -> e1000 on the same conventional bus never reaches the bridge's upstream side
  Sent p2p = send(*f, "edu0", TlpKind::MemWrite, bar(*f, "e1000", 0));
  EXPECT_EQ(p2p.verdict.outcome, Outcome::Delivered) << path_text(p2p);
  EXPECT_FALSE(p2p.passed("pcibr0")) << path_text(p2p);
  EXPECT_EQ(p2p.requester_on_wire, edu.bdf());
}

TEST(FabricRouting, MultifunctionDeviceRoutesBetweenItsFunctionsUnlessFunctionAcsSaysOtherwise) {
  auto f = load("multifunction-no-acs.yaml");
  bus_master(*f, "mf0.f0");
  const uint64_t f1 = bar(*f, "mf0.f1", 0);
  Sent inside = send(*f, "mf0.f0", TlpKind::MemWrite, f1);
  EXPECT_EQ(inside.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(inside.path, (std::vector<std::string>{"mf0.f0"}));
  EXPECT_EQ(inside.at(), "mf0.f1");

  // mf1's functions implement ACS; with RR on, P2P to a sibling leaves the device and the root
  // port without UF reflects it back down.
  bus_master(*f, "mf1.f0");
  set_acs(*f, "mf1.f0", 4 /*RR*/);
  Sent out = send(*f, "mf1.f0", TlpKind::MemWrite, bar(*f, "mf1.f1", 0));
  EXPECT_EQ(out.verdict.outcome, Outcome::Redirected) << path_text(out);
  EXPECT_GT(out.path.size(), 1u);
  EXPECT_EQ(hops().name(out.terminal.port), "mf1.f1");
}

TEST(FabricBuild, UnknownDeviceModelIsReportedAtItsLine) {
  std::string yaml = R"(
name: bad-model
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        below:
          endpoint:
            name: x
            model: warp-drive
            functions: [{function: 0}]
)";
  try {
    Fabric f(topo::load_topology_string(yaml, "test.yaml"));
    FAIL() << "unknown model accepted";
  } catch (const topo::TopologyError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("test.yaml:10"), std::string::npos) << m;
    EXPECT_NE(m.find("warp-drive"), std::string::npos) << m;
  }
}
