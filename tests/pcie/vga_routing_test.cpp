// I/O requests and legacy VGA routing (docs/vga.md): Bridge Control VGA Enable on a root port, a
// switch's ports and a PCIe-to-PCI bridge; two VGA devices with one path open; I/O BAR routing by
// I/O windows; the ISA aliases of the VGA ports and VGA 16-bit Decode; what the CPU sees when no
// path is open; DMA to the VGA window still reaching DRAM.
#include <cstring>

#include "devices/dram.h"
#include "fabric_fixture.h"
#include "pcie/legacy_vga.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {

// rc0 ─┬─ rp0 ── vga0                      (VGA on a root port)
//      ├─ rp1 ── sw0 ─┬─ dp0 ── vga1       (VGA behind a switch)
//      │              └─ dp1 ── nic0       (an I/O BAR)
//      └─ rp2 ── br0 ── vga2 (conventional, behind a PCIe-to-PCI bridge)
const char* kVgaTopology = R"(
name: vga-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        below:
          endpoint:
            name: vga0
            functions: [{vendor: 0x1234, device: 0x1111, class: 0x030000, bars: [{index: 0, size: 16MiB}]}]
      - name: rp1
        device: 2
        below:
          switch:
            name: sw0
            ports:
              - name: dp0
                below:
                  endpoint:
                    name: vga1
                    functions: [{vendor: 0x10de, device: 0x1e04, class: 0x030000, bars: [{index: 0, size: 16MiB}]}]
              - name: dp1
                below:
                  endpoint:
                    name: nic0
                    functions: [{vendor: 0x8086, device: 0x100e, class: 0x020000,
                                 bars: [{index: 0, size: 128KiB}, {index: 1, size: 64, type: io}]}]
      - name: rp2
        device: 3
        below:
          pci_bridge:
            name: br0
            devices:
              - name: vga2
                device: 1
                functions: [{vendor: 0x5333, device: 0x8811, class: 0x030000, bars: [{index: 0, size: 4MiB}]}]
)";

constexpr uint16_t kCommand = 0x04, kBridgeControl = 0x3e;
constexpr uint16_t kCmdIo = 1, kCmdMem = 2;
constexpr uint16_t kVgaEnable = 1u << 3, kVga16 = 1u << 4, kIsaEnable = 1u << 2;

struct Access {
  Outcome outcome = Outcome::Pending;
  std::string at;                  // where the verdict happened
  std::vector<std::string> path;
  uint32_t value = 0;              // read data
  bool passed(const std::string& hop) const {
    for (const auto& h : path)
      if (h == hop) return true;
    return false;
  }
};

Access record(const PcieExtension& e, uint32_t value) {
  Access a;
  a.outcome = e.verdict.outcome;
  a.at = hops().name(e.verdict.port);
  for (unsigned i = 0; i < e.hop_count; ++i) a.path.push_back(hops().name(e.hops[i]));
  a.value = value;
  return a;
}

Access io(Fabric& f, bool write, uint32_t port, uint32_t value = 0, unsigned len = 1) {
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  uint32_t v = value;
  const PcieExtension& e = f.cpu().io_access(write, port, reinterpret_cast<uint8_t*>(&v), len, d);
  return record(e, write ? 0 : (len == 4 ? v : v & ((1u << (8 * len)) - 1)));
}

Access mem(Fabric& f, bool write, uint64_t addr, uint32_t value = 0, unsigned len = 4) {
  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  uint32_t v = value;
  const PcieExtension& e = f.cpu().access(write, addr, reinterpret_cast<uint8_t*>(&v), len, d);
  return record(e, write ? 0 : (len == 4 ? v : v & ((1u << (8 * len)) - 1)));
}

void set16(Fabric& f, const std::string& name, uint16_t reg, uint16_t bits, bool on) {
  const uint16_t v = static_cast<uint16_t>(cfg_read(f, name, reg, 2));
  cfg_write(f, name, reg, 2, on ? (v | bits) : (v & ~bits));
}
void vga_enable(Fabric& f, const std::string& bridge, bool on) { set16(f, bridge, kBridgeControl, kVgaEnable, on); }
void decode(Fabric& f, const std::string& dev, uint16_t bits, bool on = true) { set16(f, dev, kCommand, bits, on); }

}  // namespace

TEST(VgaRouting, NoVgaPathIsAMasterAbortNotDram) {
  auto f = make_fabric(kVgaTopology);
  decode(*f, "vga0", kCmdMem | kCmdIo);
  // DRAM holds something at A0000h; the CPU must not see it while the address is legacy VGA.
  const uint32_t marker = 0x5a5a1234;
  ASSERT_TRUE(f->dram().write(0xa0000, &marker, 4));
  Access r = mem(*f, false, 0xa0000);
  EXPECT_EQ(r.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(r.value, 0xffffffffu);  // master abort: all ones
  EXPECT_EQ(r.at, "rc0.host");
  Access w = mem(*f, true, 0xa0000, 0x11223344);
  EXPECT_EQ(w.outcome, Outcome::UnsupportedRequest);
  uint32_t in_dram = 0;
  ASSERT_TRUE(f->dram().read(0xa0000, &in_dram, 4));
  EXPECT_EQ(in_dram, marker);  // the write was dropped, not swallowed by DRAM
  EXPECT_EQ(io(*f, false, 0x3c4).outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(io(*f, false, 0x3c4).value, 0xffu);
}

TEST(VgaRouting, RootPortVgaEnableForwardsTheLegacyRanges) {
  auto f = make_fabric(kVgaTopology);
  decode(*f, "vga0", kCmdMem | kCmdIo);
  vga_enable(*f, "rp0", true);
  Access w = mem(*f, true, 0xb8000, 0x0741);  // text mode: 'A', light grey
  ASSERT_EQ(w.outcome, Outcome::Delivered);
  EXPECT_EQ(w.path, (std::vector<std::string>{"rc0.host", "rp0"}));
  EXPECT_EQ(w.at, "vga0.f0");  // the completer
  EXPECT_EQ(mem(*f, false, 0xb8000).value, 0x0741u);
  Access p = io(*f, true, 0x3d4, 0x0e);  // CRTC index
  ASSERT_EQ(p.outcome, Outcome::Delivered);
  EXPECT_TRUE(p.passed("rp0"));
  EXPECT_EQ(io(*f, false, 0x3d4).value, 0x0eu);
  // Off again: the same accesses end at the host bridge.
  vga_enable(*f, "rp0", false);
  EXPECT_EQ(mem(*f, false, 0xb8000).outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(io(*f, false, 0x3d4).outcome, Outcome::UnsupportedRequest);
  // VGA Enable forwards, but the device must decode: Memory Space Enable off at vga0 = UR there.
  vga_enable(*f, "rp0", true);
  decode(*f, "vga0", kCmdMem, false);
  Access d = mem(*f, false, 0xb8000);
  EXPECT_EQ(d.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(d.at, "vga0");
  EXPECT_EQ(io(*f, false, 0x3d4).outcome, Outcome::Delivered);  // I/O decode still on
  // The port's own Command register qualifies its forwarding (I/O Space Enable here).
  decode(*f, "rp0", kCmdIo, false);
  EXPECT_EQ(io(*f, false, 0x3d4).outcome, Outcome::UnsupportedRequest);
}

TEST(VgaRouting, SwitchPortsNeedVgaEnableAtEveryLevel) {
  auto f = make_fabric(kVgaTopology);
  decode(*f, "vga1", kCmdMem | kCmdIo);
  vga_enable(*f, "rp1", true);
  Access a = mem(*f, true, 0xa0010, 0xcafe);
  EXPECT_EQ(a.outcome, Outcome::UnsupportedRequest);  // the switch's upstream port does not forward
  EXPECT_EQ(a.at, "sw0.up");
  vga_enable(*f, "sw0.up", true);
  Access b = mem(*f, true, 0xa0010, 0xcafe);
  EXPECT_EQ(b.outcome, Outcome::UnsupportedRequest);  // nor does any downstream port
  EXPECT_EQ(b.at, "sw0.up");
  vga_enable(*f, "dp0", true);
  Access c = mem(*f, true, 0xa0010, 0xcafe);
  ASSERT_EQ(c.outcome, Outcome::Delivered);
  EXPECT_EQ(c.path, (std::vector<std::string>{"rc0.host", "rp1", "sw0.up", "dp0"}));
  EXPECT_EQ(c.at, "vga1.f0");
  EXPECT_EQ(mem(*f, false, 0xa0010).value, 0xcafeu);
  EXPECT_EQ(io(*f, true, 0x3c0, 0x20).outcome, Outcome::Delivered);
  vga_enable(*f, "dp0", false);
  EXPECT_EQ(mem(*f, false, 0xa0010).outcome, Outcome::UnsupportedRequest);
}

TEST(VgaRouting, PcieToPciBridgeVgaEnableReachesAConventionalVgaDevice) {
  auto f = make_fabric(kVgaTopology);
  decode(*f, "vga2", kCmdMem | kCmdIo);
  vga_enable(*f, "rp2", true);
  EXPECT_EQ(mem(*f, false, 0xa0000).outcome, Outcome::UnsupportedRequest);
  vga_enable(*f, "br0", true);
  Access w = mem(*f, true, 0xa0000, 0x77);
  ASSERT_EQ(w.outcome, Outcome::Delivered);
  EXPECT_EQ(w.path, (std::vector<std::string>{"rc0.host", "rp2", "br0", "br0.bus/vga2"}));
  EXPECT_EQ(w.at, "vga2.f0");
  EXPECT_EQ(mem(*f, false, 0xa0000).value, 0x77u);
  EXPECT_EQ(io(*f, true, 0x3ce, 0x05).outcome, Outcome::Delivered);
  vga_enable(*f, "br0", false);
  EXPECT_EQ(io(*f, false, 0x3ce).outcome, Outcome::UnsupportedRequest);
}

TEST(VgaRouting, TwoVgaDevicesOnlyTheEnabledPathAnswers) {
  auto f = make_fabric(kVgaTopology);
  decode(*f, "vga0", kCmdMem | kCmdIo);
  decode(*f, "vga1", kCmdMem | kCmdIo);
  // Path to vga1 only.
  for (const char* b : {"rp1", "sw0.up", "dp0"}) vga_enable(*f, b, true);
  ASSERT_EQ(mem(*f, true, 0xa0100, 0x1111).outcome, Outcome::Delivered);
  ASSERT_EQ(io(*f, true, 0x3c8, 0x01).outcome, Outcome::Delivered);
  EXPECT_EQ(mem(*f, false, 0xa0100).at, "vga1.f0");
  // Switch the legacy path to vga0: it never saw those writes.
  for (const char* b : {"rp1", "sw0.up", "dp0"}) vga_enable(*f, b, false);
  vga_enable(*f, "rp0", true);
  Access r = mem(*f, false, 0xa0100);
  ASSERT_EQ(r.outcome, Outcome::Delivered);
  EXPECT_EQ(r.at, "vga0.f0");
  EXPECT_EQ(r.value, 0u);
  EXPECT_EQ(io(*f, false, 0x3c8).value, 0u);
  ASSERT_EQ(mem(*f, true, 0xa0100, 0x2222).outcome, Outcome::Delivered);
  // And back: vga1 kept its own contents.
  vga_enable(*f, "rp0", false);
  for (const char* b : {"rp1", "sw0.up", "dp0"}) vga_enable(*f, b, true);
  EXPECT_EQ(mem(*f, false, 0xa0100).value, 0x1111u);
  EXPECT_EQ(io(*f, false, 0x3c8).value, 0x01u);
}

TEST(VgaRouting, IoBarsRouteByIoWindows) {
  auto f = make_fabric(kVgaTopology);
  const uint64_t port = bar(*f, "nic0", 1);
  ASSERT_TRUE(fn(*f, "nic0").fn->bars()[1].io);
  ASSERT_GE(port, 0x1000u);  // firmware placed it in rc0's I/O range
  Access w = io(*f, true, static_cast<uint32_t>(port + 8), 0xa5a5a5a5, 4);
  ASSERT_EQ(w.outcome, Outcome::Delivered);
  EXPECT_EQ(w.path, (std::vector<std::string>{"rc0.host", "rp1", "sw0.up", "dp1"}));
  EXPECT_EQ(w.at, "nic0.f0");
  EXPECT_EQ(io(*f, false, static_cast<uint32_t>(port + 8), 0, 4).value, 0xa5a5a5a5u);
  EXPECT_EQ(io(*f, false, static_cast<uint32_t>(port + 9), 0, 1).value, 0xa5u);
  // A port no window holds, and a request beyond one DW.
  EXPECT_EQ(io(*f, false, 0xf000).outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(io(*f, false, static_cast<uint32_t>(port + 2), 0, 4).outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(io(*f, false, static_cast<uint32_t>(port + 2), 0, 4).path.size(), 0u);  // never sent
  // I/O Space Enable off at the downstream port: the switch does not forward it.
  decode(*f, "dp1", kCmdIo, false);
  Access off = io(*f, false, static_cast<uint32_t>(port + 8), 0, 4);
  EXPECT_EQ(off.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(off.at, "sw0.up");
  decode(*f, "dp1", kCmdIo, true);
  // ...and off at the device: its BAR does not decode.
  decode(*f, "nic0", kCmdIo, false);
  EXPECT_EQ(io(*f, false, static_cast<uint32_t>(port + 8), 0, 4).at, "nic0");
  // Memory requests are unaffected by the I/O window and vice versa.
  decode(*f, "nic0", kCmdIo | kCmdMem, true);
  EXPECT_EQ(mem(*f, false, bar(*f, "nic0", 0)).outcome, Outcome::Delivered);
}

TEST(VgaRouting, TenBitAliasesUnlessVga16BitDecode) {
  auto f = make_fabric(kVgaTopology);
  decode(*f, "vga0", kCmdMem | kCmdIo);
  vga_enable(*f, "rp0", true);
  // 7C4h and 0BC4h are 3C4h with AD[15:10] set: the port forwards them (10-bit decode) and the
  // ISA-style VGA device answers at its register 3C4h.
  ASSERT_EQ(io(*f, true, 0x7c4, 0x02).outcome, Outcome::Delivered);
  EXPECT_EQ(io(*f, false, 0x3c4).value, 0x02u);
  EXPECT_EQ(io(*f, false, 0xbc4).value, 0x02u);
  EXPECT_EQ(io(*f, false, 0x3bc).outcome, Outcome::UnsupportedRequest);  // between the two ranges
  EXPECT_EQ(io(*f, false, 0x3e0).outcome, Outcome::UnsupportedRequest);
  // VGA 16-bit Decode: only 3B0h-3BBh and 3C0h-3DFh themselves.
  set16(*f, "rp0", kBridgeControl, kVga16, true);
  Access alias = io(*f, false, 0x7c4);
  EXPECT_EQ(alias.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(alias.at, "rc0.host");
  EXPECT_EQ(io(*f, false, 0x3c4).value, 0x02u);
  EXPECT_TRUE(legacy::vga_io(0x7c4, false));
  EXPECT_FALSE(legacy::vga_io(0x7c4, true));
  EXPECT_FALSE(legacy::vga_io(0x103c4, false));  // beyond the first 64 KiB
}

TEST(VgaRouting, IsaEnableHoldsBackTheTopOfEachKilobyteOfTheIoWindow) {
  auto f = make_fabric(kVgaTopology);
  const uint32_t port = static_cast<uint32_t>(bar(*f, "nic0", 1));
  ASSERT_EQ(port & 0x300, 0u) << "the BAR sits in the first 256 bytes of a 1 KiB block";
  ASSERT_EQ(io(*f, false, port).outcome, Outcome::Delivered);
  set16(*f, "rp1", kBridgeControl, kIsaEnable, true);
  EXPECT_EQ(io(*f, false, port).outcome, Outcome::Delivered);  // AD[9:8] = 0: still forwarded
  const Window& w = fn(*f, "rp1").fn->io_window();
  ASSERT_TRUE(w.contains(port + 0x100));
  Access isa = io(*f, false, port + 0x100);
  EXPECT_EQ(isa.outcome, Outcome::UnsupportedRequest);
  EXPECT_EQ(isa.at, "rc0.host");  // rp1 no longer claims it
}

TEST(VgaRouting, DmaToTheVgaWindowStillReachesDram) {
  auto f = make_fabric(kVgaTopology);
  decode(*f, "vga0", kCmdMem | kCmdIo);
  vga_enable(*f, "rp0", true);
  bus_master(*f, "vga1");
  std::vector<uint8_t> payload(64, 0x3c);
  Sent s = send(*f, "vga1", TlpKind::MemWrite, 0xa0000, 64, {}, payload);
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_TRUE(s.passed("dram"));
  std::vector<uint8_t> in_dram(64);
  ASSERT_TRUE(f->dram().read(0xa0000, in_dram.data(), 64));
  EXPECT_EQ(in_dram, payload);
  EXPECT_EQ(mem(*f, false, 0xa0000).value, 0u);  // the CPU's view is vga0's, not DRAM's
}

TEST(VgaRouting, VgaClassAndTheShippedTopology) {
  const char* src = std::getenv("PCIESIM_SOURCE_DIR");
  auto f = std::make_unique<Fabric>(
      topo::load_topology_file(std::string(src ? src : ".") + "/scenarios/topologies/vga.yaml"));
  f->enumerate();
  unsigned vga = 0;
  for (const FunctionInfo& i : f->functions())
    if (i.endpoint && i.endpoint->vga_function(i.function_number)) ++vga;
  EXPECT_EQ(vga, 2u);
  // Firmware leaves legacy VGA routing off; the OS (the VGA arbiter) decides who gets it.
  for (const FunctionInfo& i : f->functions()) {
    if (i.fn->is_bridge()) {
      EXPECT_EQ(i.fn->bridge_control() & kVgaEnable, 0) << i.fn->name();
    }
  }
}
