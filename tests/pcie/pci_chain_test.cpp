// Conventional PCI-to-PCI bridges behind a PCIe-to-PCI bridge, nested (docs/topology-format.md
// "pci_to_pci_bridge", docs/dma-alias.md): firmware numbers the buses and programs the windows
// through the chain, config type 1 becomes type 0 at the right bridge, memory and I/O follow the
// windows and Command bits, DMA goes up through every bridge and reaches the root complex with
// the PCIe-to-PCI bridge's alias {secondary bus, 00.0}, and the IOMMU translates (or faults) by
// that alias.
#include <cstring>

#include "devices/dram.h"
#include "fabric_fixture.h"
#include "iommu/fault_recorder.h"
#include "iommu/vtd_programmer.h"
#include "pcie/topology/validate.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {

// rc0 ─┬─ rp0 (00:01.0) ── br0 PCIe-to-PCI (01:00.0, bus 2)
//      │                     ├─ pa   02:01.0
//      │                     └─ pb1  PCI-to-PCI 02:02.0 (bus 3)
//      │                          ├─ pb   03:00.0
//      │                          └─ pb2 PCI-to-PCI 03:03.0 (bus 4)
//      │                               └─ pc  04:04.0 (memory + I/O BAR)
//      └─ rp1 (00:02.0) ── epF (bus 5)
const char* kChain = R"(
name: pci-chain-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        below:
          pci_bridge:
            name: br0
            devices:
              - name: pa
                device: 1
                functions: [{vendor: 0x8086, device: 0x1229, class: 0x020000, bars: [{index: 0, size: 64KiB}]}]
              - pci_to_pci_bridge:
                  name: pb1
                  device: 2
                  devices:
                    - name: pb
                      device: 0
                      functions: [{vendor: 0x1000, device: 0x000f, class: 0x010000, bars: [{index: 0, size: 64KiB}]}]
                    - pci_to_pci_bridge:
                        name: pb2
                        device: 3
                        vendor: 0x1011
                        device_id: 0x0026
                        devices:
                          - name: pc
                            device: 4
                            functions: [{vendor: 0x10ec, device: 0x8139, class: 0x020000,
                                         bars: [{index: 0, size: 1MiB}, {index: 1, size: 256, type: io}]}]
      - name: rp1
        device: 2
        below:
          endpoint:
            name: epF
            functions: [{function: 0, bars: [{index: 0, size: 64KiB}]}]
iommus:
  - name: dmar0
    include_all: true
)";

constexpr uint16_t kCommand = 0x04, kCmdMem = 2, kCmdBusMaster = 4;

RequesterId bdf(unsigned bus, unsigned dev, unsigned fn) { return RequesterId::from_bdf(bus, dev, fn); }

uint8_t dram_byte(Fabric& f, uint64_t pa) {
  uint8_t b = 0;
  f.dram().read(pa, &b, 1);
  return b;
}

void command(Fabric& f, const std::string& name, uint16_t bits, bool on) {
  const uint16_t v = static_cast<uint16_t>(cfg_read(f, name, kCommand, 2));
  cfg_write(f, name, kCommand, 2, on ? (v | bits) : (v & ~bits));
}

}  // namespace

TEST(PciChain, FirmwareNumbersTheBusesThroughTheChain) {
  auto f = make_fabric(kChain);
  EXPECT_EQ(fn(*f, "br0").bdf(), bdf(1, 0, 0));
  EXPECT_EQ(fn(*f, "pa").bdf(), bdf(2, 1, 0));
  EXPECT_EQ(fn(*f, "pb1").bdf(), bdf(2, 2, 0));
  EXPECT_EQ(fn(*f, "pb").bdf(), bdf(3, 0, 0));
  EXPECT_EQ(fn(*f, "pb2").bdf(), bdf(3, 3, 0));
  EXPECT_EQ(fn(*f, "pc").bdf(), bdf(4, 4, 0));
  EXPECT_EQ(fn(*f, "epF").bdf(), bdf(5, 0, 0));
  // primary | secondary | subordinate, read back through ECAM
  EXPECT_EQ(cfg_read(*f, "rp0", 0x18) & 0xffffff, 0x040100u);
  EXPECT_EQ(cfg_read(*f, "br0", 0x18) & 0xffffff, 0x040201u);
  EXPECT_EQ(cfg_read(*f, "pb1", 0x18) & 0xffffff, 0x040302u);
  EXPECT_EQ(cfg_read(*f, "pb2", 0x18) & 0xffffff, 0x040403u);
  EXPECT_EQ(to_string(fn(*f, "pb2").role), std::string("pci-to-pci-bridge"));
  EXPECT_EQ(fn(*f, "pb2").parent, fn(*f, "pb1").fn);
  EXPECT_EQ(fn(*f, "pc").parent, fn(*f, "pb2").fn);
}

TEST(PciChain, EveryFunctionAnswersConfigReadsAndAbsentOnesReadAllOnes) {
  auto f = make_fabric(kChain);
  EXPECT_EQ(cfg_read(*f, "br0", 0), 0x000e1b36u);
  EXPECT_EQ(cfg_read(*f, "pa", 0), 0x12298086u);
  EXPECT_EQ(cfg_read(*f, "pb1", 0), 0xac28104cu);  // TI PCI2050 by default
  EXPECT_EQ(cfg_read(*f, "pb", 0), 0x000f1000u);
  EXPECT_EQ(cfg_read(*f, "pb2", 0), 0x00261011u);  // DEC/Intel 21154 as given
  EXPECT_EQ(cfg_read(*f, "pc", 0), 0x813910ecu);
  for (const char* br : {"pb1", "pb2"}) {
    EXPECT_EQ(cfg_read(*f, br, 0x0e, 1) & 0x7f, 1u) << br << ": type 1 header";
    EXPECT_EQ(cfg_read(*f, br, 0x08) >> 8, 0x060400u) << br << ": PCI bridge class";
    // capability list: PM only, no PCI Express capability (id 10h)
    const PciFunction& fnc = *fn(*f, br).fn;
    EXPECT_EQ(fnc.pcie_cap(), 0) << br;
    EXPECT_NE(fnc.config().find_capability(0x01), 0) << br << ": PM";
    EXPECT_EQ(fnc.config().find_capability(0x10), 0) << br;
  }
  // a single-function bridge: function 1 does not answer; nor does an empty slot on bus 4
  EXPECT_EQ(f->config_read(0, bdf(3, 3, 1), 0, 4), 0xffffffffu);
  EXPECT_EQ(f->config_read(0, bdf(4, 5, 0), 0, 4), 0xffffffffu);
  EXPECT_EQ(f->config_read(0, bdf(3, 1, 0), 0, 4), 0xffffffffu);
  // writes reach the deepest device: its Interrupt Line is read/write
  cfg_write(*f, "pc", 0x3c, 1, 0x2b);
  EXPECT_EQ(cfg_read(*f, "pc", 0x3c, 1), 0x2bu);
  // with pb1's secondary range shrunk to bus 3 only, bus 4 is no longer reachable
  cfg_write(*f, "pb1", 0x1a, 1, 3);
  EXPECT_EQ(cfg_read(*f, "pc", 0), 0xffffffffu);
  cfg_write(*f, "pb1", 0x1a, 1, 4);
  EXPECT_EQ(cfg_read(*f, "pc", 0), 0x813910ecu);
}

TEST(PciChain, MemoryAndIoFollowTheWindowsAndCommandBits) {
  auto f = make_fabric(kChain);
  const uint64_t pc_bar = bar(*f, "pc", 0), pb_bar = bar(*f, "pb", 0);
  const PciFunction& pb1 = *fn(*f, "pb1").fn;
  const PciFunction& pb2 = *fn(*f, "pb2").fn;
  // nested windows: pb2's holds pc's BAR, pb1's holds pb2's and pb's
  EXPECT_TRUE(pb2.window_claims(pc_bar));
  EXPECT_TRUE(pb1.window_claims(pc_bar));
  EXPECT_TRUE(pb1.window_claims(pb_bar));
  EXPECT_FALSE(pb2.window_claims(pb_bar));
  EXPECT_TRUE(pb2.io_window_claims(fn(*f, "pc").fn->bars()[1].base));

  sc_core::sc_time d = sc_core::SC_ZERO_TIME;
  uint32_t v = 0;
  const PcieExtension& e = f->cpu().access(false, pc_bar, reinterpret_cast<uint8_t*>(&v), 4, d);
  EXPECT_EQ(e.verdict.outcome, Outcome::Delivered);
  bool via_pb2 = false;
  for (unsigned i = 0; i < e.hop_count; ++i) via_pb2 |= hops().name(e.hops[i]) == "pb1.bus/pb2";
  EXPECT_TRUE(via_pb2);

  // I/O BAR behind two PCI-to-PCI bridges
  const uint32_t io_port = static_cast<uint32_t>(fn(*f, "pc").fn->bars()[1].base);
  const PcieExtension& ie = f->cpu().io_access(false, io_port, reinterpret_cast<uint8_t*>(&v), 1, d);
  EXPECT_EQ(ie.verdict.outcome, Outcome::Delivered);

  // pb2 Memory Space Enable off: it stops forwarding (master abort, reads all ones)
  command(*f, "pb2", kCmdMem, false);
  const PcieExtension& e2 = f->cpu().access(false, pc_bar, reinterpret_cast<uint8_t*>(&v), 4, d);
  EXPECT_NE(e2.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(mmio_read(*f, pc_bar), 0xffffffffu);
  EXPECT_NE(mmio_read(*f, pb_bar), 0xffffffffu) << "pb on pb1's bus is unaffected";
  command(*f, "pb2", kCmdMem, true);
  EXPECT_EQ(f->cpu().access(false, pc_bar, reinterpret_cast<uint8_t*>(&v), 4, d).verdict.outcome,
            Outcome::Delivered);
}

TEST(PciChain, DmaLeavesWithThePcieToPciBridgeAlias) {
  auto f = make_fabric(kChain);
  for (const char* e : {"pa", "pb", "pc"}) bus_master(*f, e);
  Sent s = send(*f, "pc", TlpKind::MemWrite, 0x3000, 64);
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_EQ(s.requester_on_wire, bdf(2, 0, 0)) << "br0's secondary bus, 00.0";
  EXPECT_TRUE(s.passed("pb2"));
  EXPECT_TRUE(s.passed("pb1"));
  EXPECT_TRUE(s.passed("br0"));
  EXPECT_EQ(dram_byte(*f, 0x3000), 0x5a);
  // the same alias for a device directly on br0's bus and one on pb1's bus
  EXPECT_EQ(send(*f, "pa", TlpKind::MemWrite, 0x4000, 64).requester_on_wire, bdf(2, 0, 0));
  EXPECT_EQ(send(*f, "pb", TlpKind::MemWrite, 0x4000, 64).requester_on_wire, bdf(2, 0, 0));
  // a DMA read returns data through the chain
  f->dram().write(0x5000, reinterpret_cast<const uint8_t*>("chain!!!"), 8);
  Sent r = send(*f, "pc", TlpKind::MemRead, 0x5000, 8);
  ASSERT_EQ(r.verdict.outcome, Outcome::Delivered) << path_text(r);
  EXPECT_EQ(std::string(r.data.begin(), r.data.end()), "chain!!!");
  // Bus Master Enable off on pb2: it forwards nothing upstream
  command(*f, "pb2", kCmdBusMaster, false);
  Sent blocked = send(*f, "pc", TlpKind::MemWrite, 0x6000, 64);
  EXPECT_EQ(blocked.verdict.outcome, Outcome::UnsupportedRequest) << path_text(blocked);
  EXPECT_EQ(blocked.at(), "pb2");
  EXPECT_EQ(dram_byte(*f, 0x6000), 0x00);
}

TEST(PciChain, PeerToPeerTurnsOnTheSharedBuses) {
  auto f = make_fabric(kChain);
  bus_master(*f, "pc");
  // pc -> pb (pb1's bus): pb2 forwards up, pb claims it on bus 3; br0 never sees it
  Sent s = send(*f, "pc", TlpKind::MemWrite, bar(*f, "pb", 0), 4);
  EXPECT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_FALSE(s.passed("br0"));
  // pc -> pa (br0's bus): pb1 forwards up too, pa claims it on bus 2
  Sent t = send(*f, "pc", TlpKind::MemWrite, bar(*f, "pa", 0), 4);
  EXPECT_EQ(t.verdict.outcome, Outcome::Delivered) << path_text(t);
  EXPECT_FALSE(t.passed("br0"));
  EXPECT_TRUE(t.passed("pb1"));
}

TEST(PciChain, TheIommuTranslatesByTheAliasNotTheDevicesOwnId) {
  auto f = make_fabric(kChain);
  bus_master(*f, "pc");
  vtd::VtdProgrammer drv{*f, "dmar0"};
  constexpr uint64_t kIova = 0x10000000, kPage = 0x01234000;
  // a context entry for pc's own id only (what a kernel without the alias walk would program)
  drv.attach(fn(*f, "pc").bdf(), 3).map(kIova, kPage, 4096);
  drv.set_root_table();
  drv.enable_queue();
  drv.enable_translation();
  Sent s = send(*f, "pc", TlpKind::MemWrite, kIova, 64);
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault) << path_text(s);
  EXPECT_EQ(s.verdict.fault_reason, 0x1);  // bus 2 has no root entry
  const uint32_t fro = drv.unit().caps().fro();
  vtd::FaultRecord rec = vtd::decode_frcd(drv.read(fro, 8), drv.read(fro + 8, 8));
  EXPECT_EQ(rec.source_id, bdf(2, 0, 0).raw()) << "the fault is attributed to the alias";
  // program the alias: now pc's DMA is translated
  drv.attach(bdf(2, 0, 0), 3);
  drv.invalidate_context_global();
  Sent ok = send(*f, "pc", TlpKind::MemWrite, kIova + 0x40, 64, {}, std::vector<uint8_t>(64, 0x77));
  ASSERT_EQ(ok.verdict.outcome, Outcome::Delivered) << path_text(ok);
  EXPECT_EQ(dram_byte(*f, kPage + 0x40), 0x77);
}

TEST(PciChain, TopologyErrorsNameFileAndLine) {
  const std::string dup = R"(
name: dup
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        below:
          pci_bridge:
            name: br0
            devices:
              - name: a
                device: 1
                functions: [{function: 0}]
              - pci_to_pci_bridge:
                  name: pb
                  device: 1
)";
  try {
    topo::load_topology_string(dup, "dup.yaml");
    FAIL() << "duplicate device number accepted";
  } catch (const topo::TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("dup.yaml:16"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("duplicate device number 1"), std::string::npos) << e.what();
  }
  // 70 nested bridges: deeper than the 64 levels the format allows
  std::string deep = "name: deep\nroot_complexes:\n  - name: rc0\n    root_ports:\n      - name: rp0\n"
                     "        below:\n          pci_bridge:\n            name: br0\n            devices:\n";
  std::string ind = "              ";
  for (int i = 0; i < 70; ++i) {
    deep += ind + "- pci_to_pci_bridge:\n" + ind + "    name: p" + std::to_string(i) + "\n" + ind + "    devices:\n";
    ind += "      ";
  }
  try {
    topo::load_topology_string(deep, "deep.yaml");
    FAIL() << "70 nested bridges accepted";
  } catch (const topo::TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("deep.yaml:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nests deeper"), std::string::npos) << e.what();
  }
  // 30 bridges with 9 bridges each: 301 buses behind one root port, more than a segment has
  std::string wide = "name: wide\nroot_complexes:\n  - name: rc0\n    root_ports:\n      - name: rp0\n"
                     "        below:\n          pci_bridge:\n            name: br0\n            devices:\n";
  for (int i = 0; i < 30; ++i) {
    wide += "              - pci_to_pci_bridge:\n                  name: w" + std::to_string(i) +
            "\n                  devices:\n";
    for (int j = 0; j < 9; ++j)
      wide += "                    - pci_to_pci_bridge: {name: w" + std::to_string(i) + "_" + std::to_string(j) + "}\n";
  }
  try {
    topo::load_topology_string(wide, "wide.yaml");
    FAIL() << "301 buses accepted";
  } catch (const topo::TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("wide.yaml:4"), std::string::npos) << e.what();  // the root complex
    EXPECT_NE(std::string(e.what()).find("buses"), std::string::npos) << e.what();
  }
}

TEST(PciChain, TheShippedTopologyLoadsAndEnumerates) {
  const char* src = std::getenv("PCIESIM_SOURCE_DIR");
  Fabric f(topo::load_topology_file(std::string(src ? src : ".") + "/scenarios/topologies/pci-chain.yaml"));
  f.enumerate();
  size_t bridges = 0;
  for (const FunctionInfo& i : f.functions()) bridges += i.role == FunctionRole::PciToPciBridge;
  EXPECT_GE(bridges, 2u);
}
