#include "pcie/capabilities.h"

#include <gtest/gtest.h>

using namespace pciesim;
using regs::PortType;

namespace {

topo::LinkSpec link(int gen, int width, int mps = 256, int mrrs = 512) {
  topo::LinkSpec l;
  l.gen = gen;
  l.width = width;
  l.mps = mps;
  l.mrrs = mrrs;
  return l;
}

topo::BarSpec bar(int index, uint64_t size, bool is_64bit = false, bool prefetchable = false, bool io = false) {
  topo::BarSpec b;
  b.index = index;
  b.size = size;
  b.is_64bit = is_64bit;
  b.prefetchable = prefetchable;
  b.io = io;
  return b;
}

// BAR0 32-bit 1 MiB, BAR2/3 64-bit prefetchable 16 GiB, BAR4 I/O 32 B.
topo::FunctionSpec endpoint_fn() {
  topo::FunctionSpec fn;
  fn.vendor = 0x1b36;
  fn.device = 0x0011;
  fn.class_code = 0x120000;
  fn.revision = 0x02;
  fn.subsystem_vendor = 0x1af4;
  fn.subsystem = 0x1100;
  fn.bars = {bar(0, 1 << 20), bar(2, 16ull << 30, true, true), bar(4, 32, false, false, true)};
  fn.msi_vectors = 4;
  fn.msix_vectors = 16;
  fn.aer = true;
  fn.flr = true;
  return fn;
}

PortParams port(PortType type, topo::LinkSpec l = link(3, 16)) {
  PortParams p;
  p.header.vendor = 0x8086;
  p.header.device = 0x7c38;
  p.express.type = type;
  p.express.link = l;
  return p;
}

}  // namespace

// --- register values after reset, one per component kind -------------------------------------

TEST(Capabilities, EndpointAfterReset) {
  ConfigSpace cs;
  EndpointParams ep;
  ep.link = link(3, 4);
  const CapOffsets o = build_endpoint_function(cs, endpoint_fn(), ep);
  EXPECT_EQ(o.pm, 0x40);
  EXPECT_EQ(o.msi, 0x50);
  EXPECT_EQ(o.pcie, 0x70);
  EXPECT_EQ(o.msix, 0xb0);
  EXPECT_EQ(o.aer, 0x100);
  EXPECT_EQ(o.acs, 0);
  EXPECT_EQ(o.ari, 0);
  // header
  EXPECT_EQ(cs.read32(cfg::kVendorId), 0x00111b36u);
  EXPECT_EQ(cs.read16(cfg::kCommand), 0);
  EXPECT_EQ(cs.read16(cfg::kStatus), regs::kStatusCapList);
  EXPECT_EQ(cs.read32(cfg::kRevision), 0x12000002u);  // class 120000, revision 02
  EXPECT_EQ(cs.read(cfg::kHeaderType, 1), 0x00u);
  EXPECT_EQ(cs.read32(cfg::kBar0), 0x00000000u);
  EXPECT_EQ(cs.read32(cfg::kBar0 + 4), 0x00000000u);           // unused
  EXPECT_EQ(cs.read32(cfg::kBar0 + 8), 0x0000000cu);           // 64-bit prefetchable
  EXPECT_EQ(cs.read32(cfg::kBar0 + 16), 0x00000001u);          // I/O
  EXPECT_EQ(cs.read32(cfg::kSubsysVendor), 0x11001af4u);
  EXPECT_EQ(cs.read32(cfg::kRomBase), 0u);
  EXPECT_EQ(cs.read(cfg::kCapPtr, 1), 0x40u);
  EXPECT_EQ(cs.read(cfg::kIntLine, 1), 0u);
  EXPECT_EQ(cs.read(cfg::kIntPin, 1), 1u);
  // capability chain
  EXPECT_EQ(cs.read16(0x40), 0x5001);  // PM, next MSI
  EXPECT_EQ(cs.read16(0x50), 0x7005);  // MSI, next PCIe
  EXPECT_EQ(cs.read16(0x70), 0xb010);  // PCIe, next MSI-X
  EXPECT_EQ(cs.read16(0xb0), 0x0011);  // MSI-X, last
  // PM / MSI / MSI-X
  EXPECT_EQ(cs.read16(o.pm + regs::kPmPmc), 0x0003);
  EXPECT_EQ(cs.read16(o.pm + regs::kPmCsr), regs::kPmCsrNoSoftReset);
  EXPECT_EQ(cs.read16(o.msi + regs::kMsiFlags), 0x0084);  // 64-bit, 4 vectors capable
  EXPECT_EQ(cs.read16(o.msix + regs::kMsixFlags), 15);
  EXPECT_EQ(cs.read32(o.msix + regs::kMsixTable), 0x000ff000u);  // top 4 KiB of BAR0
  EXPECT_EQ(cs.read32(o.msix + regs::kMsixPba), 0x000ff100u);
  // PCIe capability
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpFlags), 0x0002);            // v2 endpoint
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpDevCap), 0x10008021u);      // FLR, RBE, ExtTag, MPSS 256
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpDevCtl), 0x2830);           // MRRS 512, NS, MPS 256, RO
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpDevSta), 0);
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpLnkCap), 0x00400043u);      // x4 8 GT/s, port 0
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpLnkSta), 0x1043);           // slot clock, x4, 8 GT/s
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpSltCap), 0u);
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpDevCap2), 0x0000001fu);     // ranges ABCD, timeout disable
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpLnkCap2), 0x0000000eu);     // 2.5, 5, 8 GT/s
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpLnkCtl2), 3);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpLnkSta2), 0x001e);          // equalization complete
  // AER
  EXPECT_EQ(cs.read32(o.aer), 0x00020001u);
  EXPECT_EQ(cs.read32(o.aer + regs::kAerUncorSeverity), 0x00462030u);
  EXPECT_EQ(cs.read32(o.aer + regs::kAerUncorMask), 0x00400000u);
  EXPECT_EQ(cs.read32(o.aer + regs::kAerCorMask), 0x0000e000u);
  // DEVCTL carries the programmed MPS; a reset goes back to the spec defaults
  cs.reset();
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpDevCtl), 0x2810);
}

TEST(Capabilities, MultifunctionEndpointAfterReset) {
  ConfigSpace f0, f1;
  topo::FunctionSpec fn = endpoint_fn();
  fn.ari = true;
  fn.acs.present = true;
  fn.acs.capability = acs_mask(AcsBit::RR) | acs_mask(AcsBit::CR) | acs_mask(AcsBit::EC);
  fn.acs.egress_vector_bits = 2;
  EndpointParams ep;
  ep.multifunction = true;
  ep.link = link(4, 8);
  ep.ari_next_function = 1;
  const CapOffsets o0 = build_endpoint_function(f0, fn, ep);
  fn.function = 1;
  ep.ari_next_function = 0;
  const CapOffsets o1 = build_endpoint_function(f1, fn, ep);
  EXPECT_EQ(f0.read(cfg::kHeaderType, 1), 0x80u);
  EXPECT_EQ(f1.read(cfg::kHeaderType, 1), 0x80u);
  EXPECT_EQ(o0.acs, 0x148);
  EXPECT_EQ(o0.ari, 0x154);  // after an ACS capability with one egress vector register
  EXPECT_EQ(f0.read32(o0.aer) >> 20, 0x148u);
  EXPECT_EQ(f0.read32(o0.acs) >> 20, 0x154u);
  EXPECT_EQ(f0.read32(o0.acs) & 0xfffff, 0x1000du);
  EXPECT_EQ(f0.read16(o0.acs + regs::kAcsCap), 0x022c);  // 2-bit egress vector, RR CR EC
  EXPECT_EQ(f0.read16(o0.acs + regs::kAcsCtrl), 0);
  EXPECT_EQ(f0.read32(o0.ari), 0x0001000eu);
  EXPECT_EQ(f0.read16(o0.ari + regs::kAriCap), 0x0100);
  EXPECT_EQ(f1.read16(o1.ari + regs::kAriCap), 0x0000);
}

TEST(Capabilities, RootPortAfterReset) {
  ConfigSpace cs;
  PortParams p = port(PortType::RootPort, link(4, 16));
  p.express.port_number = 3;
  p.express.slot = true;
  p.express.slot_number = 5;
  p.acs.present = true;
  p.acs.capability = 0x1f;
  const CapOffsets o = build_port_function(cs, p);
  EXPECT_EQ(cs.read(cfg::kHeaderType, 1), 0x01u);
  EXPECT_EQ(cs.read32(cfg::kRevision) >> 8, 0x060400u);
  EXPECT_EQ(cs.read32(cfg::kBar0), 0u);
  EXPECT_EQ(cs.read32(cfg::kBar0 + 4), 0u);
  EXPECT_EQ(cs.read32(cfg::kPrimaryBus), 0u);
  EXPECT_EQ(cs.read(cfg::kIoBase, 1), 0xf1u);      // closed, 32-bit decode
  EXPECT_EQ(cs.read(cfg::kIoLimit, 1), 0x01u);
  EXPECT_EQ(cs.read16(cfg::kMemBase), 0xfff0);
  EXPECT_EQ(cs.read16(cfg::kMemLimit), 0x0000);
  EXPECT_EQ(cs.read16(cfg::kPrefBase), 0xfff1);    // closed, 64-bit decode
  EXPECT_EQ(cs.read16(cfg::kPrefLimit), 0x0001);
  EXPECT_EQ(cs.read16(cfg::kBridgeControl), 0);
  EXPECT_EQ(cs.read(cfg::kIntPin, 1), 1u);
  EXPECT_FALSE(read_bridge_windows(cs).io.enabled());
  EXPECT_FALSE(read_bridge_windows(cs).mem.enabled());
  EXPECT_FALSE(read_bridge_windows(cs).pref.enabled());
  EXPECT_EQ(o.pm, 0x40);
  EXPECT_EQ(cs.read16(o.pm + regs::kPmPmc), 0xc803);  // PME from D0, D3hot, D3cold
  EXPECT_EQ(o.pcie, 0x70);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpFlags), 0x0142);  // v2, root port, slot
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpDevCap), 0x00008021u);
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpLnkCap), 0x03700104u);  // port 3, ASPMOptComp, LBNC, DLLLA, x16, 16 GT/s
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpLnkSta), 0x3104);         // DLL active, slot clock, x16, 16 GT/s
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpSltCap), (5u << 19) | 0x40060u);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpSltSta), regs::kSltStaPresence);
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpDevCap2), 0x0000003fu);  // + ARI forwarding
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpLnkCap2), 0x0000001eu);
  EXPECT_EQ(o.aer, 0x100);
  EXPECT_EQ(o.acs, 0x148);
  EXPECT_EQ(cs.read32(o.acs), 0x0001000du);
  EXPECT_EQ(cs.read16(o.acs + regs::kAcsCap), 0x001f);
  EXPECT_EQ(read_port_type(cs, o.pcie), PortType::RootPort);
}

TEST(Capabilities, SwitchUpstreamAfterReset) {
  ConfigSpace cs;
  const CapOffsets o = build_port_function(cs, port(PortType::SwitchUpstream, link(3, 16)));
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpFlags), 0x0052);
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpLnkCap), 0x00400103u);  // no DLLLA / LBNC, port 0
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpLnkSta), 0x1103);       // no DLL active reporting
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpDevCap2), 0u);          // no completion timeout, no ARI fwd
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpSltCap), 0u);
  EXPECT_EQ(o.acs, 0);
  EXPECT_EQ(read_port_type(cs, o.pcie), PortType::SwitchUpstream);
}

TEST(Capabilities, SwitchDownstreamAfterReset) {
  ConfigSpace cs;
  PortParams p = port(PortType::SwitchDownstream, link(3, 4));
  p.express.slot = true;
  p.express.link_up = false;
  p.express.card_present = false;
  p.acs.present = true;
  p.acs.capability = 0x1d;  // SV RR CR UF
  p.acs.control = 0x1d;
  const CapOffsets o = build_port_function(cs, p);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpFlags), 0x0162);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpLnkSta), 0x1001);  // link down: 2.5 GT/s, x0
  EXPECT_FALSE(read_link_status(cs, o.pcie).dll_active);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpSltSta), 0);
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpDevCap2), regs::kDevCap2Ari);
  EXPECT_EQ(cs.read16(o.acs + regs::kAcsCtrl), 0x1d);  // as firmware left it
  cs.reset();
  EXPECT_EQ(cs.read16(o.acs + regs::kAcsCtrl), 0);     // a conventional reset clears ACS control
  EXPECT_EQ(read_port_type(cs, o.pcie), PortType::SwitchDownstream);
}

TEST(Capabilities, PcieToPciBridgeAfterReset) {
  ConfigSpace cs;
  const CapOffsets o = build_port_function(cs, port(PortType::PcieToPciBridge, link(1, 1)));
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpFlags), 0x0072);
  EXPECT_EQ(cs.read16(cfg::kSecStatus), regs::kStatusDevselMedium);
  cs.write(cfg::kSecLatency, 1, 0x40);  // conventional secondary bus: RW
  EXPECT_EQ(cs.read(cfg::kSecLatency, 1), 0x40u);
  cs.write(o.pcie + regs::kExpDevCtl, 2, 0xffff);
  EXPECT_TRUE(cs.read16(o.pcie + regs::kExpDevCtl) & regs::kDevCtlBridgeCfgRetry);
  EXPECT_EQ(read_port_type(cs, o.pcie), PortType::PcieToPciBridge);
}

TEST(Capabilities, ConventionalDeviceBehindBridgeAfterReset) {
  ConfigSpace cs(false);
  topo::FunctionSpec fn;
  fn.bars = {bar(0, 256, false, false, true), bar(1, 4096)};
  fn.msi_vectors = 1;
  fn.msi_64bit = false;
  EndpointParams ep;
  ep.conventional = true;
  const CapOffsets o = build_endpoint_function(cs, fn, ep);
  EXPECT_EQ(o.pcie, 0);
  EXPECT_EQ(o.aer, 0);
  EXPECT_EQ(o.msi, 0x50);
  EXPECT_EQ(cs.read16(cfg::kStatus), regs::kStatusCapList | regs::kStatusDevselMedium);
  EXPECT_EQ(cs.read16(o.msi + regs::kMsiFlags), 0x0000);
  cs.write(cfg::kLatency, 1, 0x40);  // conventional bus master: latency timer RW
  EXPECT_EQ(cs.read(cfg::kLatency, 1), 0x40u);
  fn.aer = true;
  ConfigSpace bad(false);
  EXPECT_THROW(build_endpoint_function(bad, fn, ep), topo::TopologyError);
}

TEST(Capabilities, IntegratedEndpointAfterReset) {
  ConfigSpace cs;
  EndpointParams ep;
  ep.type = PortType::RcIntegratedEndpoint;
  const CapOffsets o = build_endpoint_function(cs, endpoint_fn(), ep);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpFlags), 0x0092);
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpLnkCap), 0u);  // no link
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpLnkSta), 0);
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpLnkCap2), 0u);
  EXPECT_TRUE(cs.read32(o.pcie + regs::kExpDevCap) & regs::kDevCapFlr);
  EXPECT_EQ(read_port_type(cs, o.pcie), PortType::RcIntegratedEndpoint);
}

TEST(Capabilities, PortTypePerKind) {
  const PortType kinds[] = {PortType::RootPort, PortType::SwitchUpstream, PortType::SwitchDownstream,
                            PortType::PcieToPciBridge};
  for (PortType t : kinds) {
    ConfigSpace cs;
    const CapOffsets o = build_port_function(cs, port(t));
    EXPECT_EQ(read_port_type(cs, o.pcie), t);
    EXPECT_EQ((cs.read16(o.pcie + regs::kExpFlags) >> 4) & 0xf, static_cast<unsigned>(t));
  }
  for (PortType t : {PortType::Endpoint, PortType::LegacyEndpoint, PortType::RcIntegratedEndpoint}) {
    ConfigSpace cs;
    EndpointParams ep;
    ep.type = t;
    const CapOffsets o = build_endpoint_function(cs, endpoint_fn(), ep);
    EXPECT_EQ(read_port_type(cs, o.pcie), t);
  }
  ConfigSpace cs;
  EXPECT_THROW(build_port_function(cs, port(PortType::Endpoint)), topo::TopologyError);
}

// --- masks -------------------------------------------------------------------------------------

TEST(Capabilities, Bar32Sizing) {
  ConfigSpace cs;
  build_type0_header(cs, endpoint_fn(), false);
  cs.write(cfg::kBar0, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(cfg::kBar0), 0xfff00000u);
  cs.write(cfg::kBar0, 4, 0xfe012345);
  EXPECT_EQ(cs.read32(cfg::kBar0), 0xfe000000u);
  const BarDecode b = read_bar(cs, 0);
  EXPECT_TRUE(b.present);
  EXPECT_FALSE(b.io || b.is_64bit || b.prefetchable);
  EXPECT_EQ(b.base, 0xfe000000u);
  EXPECT_EQ(b.size, 1u << 20);
  EXPECT_TRUE(b.contains(0xfe0fffff));
  EXPECT_FALSE(b.contains(0xfe100000));
  EXPECT_FALSE(read_bar(cs, 1).present);  // unused BAR: RO zero
  cs.write(cfg::kBar0 + 4, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(cfg::kBar0 + 4), 0u);
}

TEST(Capabilities, Bar64PrefetchableSixteenGiBSizing) {
  ConfigSpace cs;
  build_type0_header(cs, endpoint_fn(), false);
  cs.write(cfg::kBar0 + 8, 4, 0xffffffff);
  cs.write(cfg::kBar0 + 12, 4, 0xffffffff);
  const uint32_t lo = cs.read32(cfg::kBar0 + 8), hi = cs.read32(cfg::kBar0 + 12);
  EXPECT_EQ(lo, 0x0000000cu);  // flags only: 16 GiB leaves no writable bits below bit 32
  EXPECT_EQ(hi, 0xfffffffcu);
  const uint64_t readback = (uint64_t{hi} << 32) | (lo & ~0xfu);
  EXPECT_EQ(~readback + 1, 16ull << 30);  // the sizing rule of PCI 3.0 6.2.5.1 over both dwords
  EXPECT_EQ(read_bar(cs, 2).size, 16ull << 30);
  cs.write(cfg::kBar0 + 8, 4, 0);
  cs.write(cfg::kBar0 + 12, 4, 0x84);  // 0x84_0000_0000
  const BarDecode b = read_bar(cs, 2);
  EXPECT_TRUE(b.is_64bit && b.prefetchable);
  EXPECT_EQ(b.base, 0x8400000000ull);
}

TEST(Capabilities, Bar64BelowFourGiBUpperDwordFullyWritable) {
  ConfigSpace cs;
  topo::FunctionSpec fn;
  fn.bars = {bar(0, 256 << 20, true, true)};
  build_type0_header(cs, fn, false);
  cs.write(cfg::kBar0, 4, 0xffffffff);
  cs.write(cfg::kBar0 + 4, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(cfg::kBar0), 0xf000000cu);
  EXPECT_EQ(cs.read32(cfg::kBar0 + 4), 0xffffffffu);
  EXPECT_EQ(read_bar(cs, 0).size, 256u << 20);
}

TEST(Capabilities, IoBarSizing) {
  ConfigSpace cs;
  build_type0_header(cs, endpoint_fn(), false);
  cs.write(cfg::kBar0 + 16, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(cfg::kBar0 + 16), 0x0000ffe1u);  // 16-bit decode, 32 ports
  cs.write(cfg::kBar0 + 16, 4, 0xc040);
  const BarDecode b = read_bar(cs, 4);
  EXPECT_TRUE(b.io);
  EXPECT_EQ(b.base, 0xc040u);
  EXPECT_EQ(b.size, 32u);
}

TEST(Capabilities, RomSizing) {
  ConfigSpace cs;
  build_type0_header(cs, endpoint_fn(), false, 64 * 1024);
  cs.write(cfg::kRomBase, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(cfg::kRomBase), 0xffff0001u);
  const BarDecode r = read_rom(cs);
  EXPECT_TRUE(r.present && r.enabled);
  EXPECT_EQ(r.size, 64u * 1024);
  ConfigSpace none;
  build_type0_header(none, endpoint_fn(), false);
  EXPECT_FALSE(read_rom(none).present);
}

TEST(Capabilities, BadBarsAreTopologyErrors) {
  for (const topo::BarSpec& b : {bar(0, 3000), bar(5, 4096, true), bar(0, 8, false), bar(0, 16, true, false, true),
                                 bar(0, 4ull << 30)}) {
    topo::FunctionSpec fn;
    fn.bars = {b};
    ConfigSpace cs;
    EXPECT_THROW(build_type0_header(cs, fn, false), topo::TopologyError) << b.index << " " << b.size;
  }
  topo::FunctionSpec overlap;
  overlap.bars = {bar(0, 4096, true), bar(1, 4096)};
  ConfigSpace cs;
  EXPECT_THROW(build_type0_header(cs, overlap, false), topo::TopologyError);
}

TEST(Capabilities, ReadOnlyIdsAndCommandMask) {
  ConfigSpace cs;
  build_type0_header(cs, endpoint_fn(), false);
  cs.write(cfg::kVendorId, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(cfg::kVendorId), 0x00111b36u);
  cs.write(cfg::kRevision, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(cfg::kRevision), 0x12000002u);
  cs.write(cfg::kSubsysVendor, 4, 0);
  EXPECT_EQ(cs.read32(cfg::kSubsysVendor), 0x11001af4u);
  cs.write(cfg::kIntPin, 1, 0x4);
  EXPECT_EQ(cs.read(cfg::kIntPin, 1), 1u);
  cs.write(cfg::kIntLine, 1, 0x0b);
  EXPECT_EQ(cs.read(cfg::kIntLine, 1), 0x0bu);
  cs.write(cfg::kCommand, 2, 0xffff);
  EXPECT_EQ(cs.read16(cfg::kCommand), 0x0547);  // I/O, mem, master, parity, SERR, INTx disable
  cs.write(cfg::kLatency, 1, 0xff);
  EXPECT_EQ(cs.read(cfg::kLatency, 1), 0u);      // PCIe: hardwired 0
  cs.write(cfg::kCacheLine, 1, 0x10);
  EXPECT_EQ(cs.read(cfg::kCacheLine, 1), 0x10u);
}

TEST(Capabilities, StatusErrorBitsAreWriteOneToClear) {
  ConfigSpace cs;
  const CapOffsets o = build_port_function(cs, port(PortType::RootPort));
  (void)o;
  cs.set(cfg::kStatus, 2, regs::kStatusCapList | 0xf900);
  cs.write(cfg::kStatus, 2, regs::kStatusDetectedParity | regs::kStatusCapList);
  EXPECT_EQ(cs.read16(cfg::kStatus), regs::kStatusCapList | 0x7900);  // only bit 15 cleared, cap list RO
  cs.write(cfg::kStatus, 2, 0xffff);
  EXPECT_EQ(cs.read16(cfg::kStatus), regs::kStatusCapList);
  cs.set(cfg::kSecStatus, 2, regs::kStatusRecMasterAbort);
  cs.write(cfg::kSecStatus, 2, regs::kStatusRecMasterAbort);
  EXPECT_EQ(cs.read16(cfg::kSecStatus), 0);
}

TEST(Capabilities, BridgeRegistersAndWindows) {
  ConfigSpace cs;
  build_port_function(cs, port(PortType::SwitchDownstream));
  cs.write(cfg::kPrimaryBus, 4, 0xff050201);
  const BusNumbers bn = read_bus_numbers(cs);
  EXPECT_EQ(bn.primary, 1);
  EXPECT_EQ(bn.secondary, 2);
  EXPECT_EQ(bn.subordinate, 5);
  EXPECT_TRUE(bn.routes(4));
  EXPECT_FALSE(bn.routes(6));
  EXPECT_EQ(cs.read(cfg::kSecLatency, 1), 0u);  // PCIe port: RO 0
  cs.write(cfg::kIoBase, 2, 0xffff);
  EXPECT_EQ(cs.read16(cfg::kIoBase), 0xf1f1);  // type nibbles RO = 32-bit
  cs.write(cfg::kIoBase, 2, 0x3020);
  cs.write(cfg::kIoBaseUpper, 4, 0x00010001);
  cs.write(cfg::kMemBase, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(cfg::kMemBase), 0xfff0fff0u);  // bits 3:0 RO 0
  cs.write(cfg::kMemBase, 4, 0xfe3ffe00);
  cs.write(cfg::kPrefBase, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(cfg::kPrefBase), 0xfff1fff1u);  // 64-bit type nibbles RO
  cs.write(cfg::kPrefBase, 4, 0x0ff00000);
  cs.write(cfg::kPrefBaseUpper, 4, 0x80);
  cs.write(cfg::kPrefLimitUpper, 4, 0x81);
  const BridgeWindows w = read_bridge_windows(cs);
  EXPECT_TRUE(w.io_32bit && w.pref_64bit);
  EXPECT_EQ(w.io.base, 0x12000u);
  EXPECT_EQ(w.io.limit, 0x13fffu);
  EXPECT_EQ(w.mem.base, 0xfe000000u);
  EXPECT_EQ(w.mem.limit, 0xfe3fffffu);
  EXPECT_EQ(w.pref.base, 0x8000000000ull);
  EXPECT_EQ(w.pref.limit, 0x810fffffffull);
  EXPECT_TRUE(w.pref.contains(0x8100000000ull));
  cs.write(cfg::kBridgeControl, 2, 0xffff);
  EXPECT_EQ(cs.read16(cfg::kBridgeControl), 0x007f);  // parity..secondary bus reset
  // a bridge without an I/O window forwards no I/O
  ConfigSpace noio;
  PortParams p = port(PortType::SwitchDownstream);
  p.header.io_window = false;
  build_port_function(noio, p);
  noio.write(cfg::kIoBase, 2, 0x2010);
  EXPECT_EQ(noio.read16(cfg::kIoBase), 0);
  EXPECT_FALSE(read_bridge_windows(noio).io.enabled());
}

TEST(Capabilities, AcsControlKeepsOnlyImplementedBits) {
  ConfigSpace cs;
  PortParams p = port(PortType::SwitchDownstream);
  p.acs.present = true;
  p.acs.capability = acs_mask(AcsBit::SV) | acs_mask(AcsBit::RR) | acs_mask(AcsBit::CR) | acs_mask(AcsBit::UF);
  const CapOffsets o = build_port_function(cs, p);
  cs.write(o.acs + regs::kAcsCap, 2, 0xffff);
  EXPECT_EQ(cs.read16(o.acs + regs::kAcsCap), 0x001d);  // capability RO
  cs.write(o.acs + regs::kAcsCtrl, 2, 0xffff);
  EXPECT_EQ(cs.read16(o.acs + regs::kAcsCtrl), 0x001d);
  const AcsRegs a = read_acs(cs, o.acs);
  EXPECT_TRUE(a.present);
  EXPECT_TRUE(a.enabled(AcsBit::RR) && a.enabled(AcsBit::CR) && a.enabled(AcsBit::SV) && a.enabled(AcsBit::UF));
  EXPECT_FALSE(a.enabled(AcsBit::TB));
  EXPECT_FALSE(a.implemented(AcsBit::EC));
  EXPECT_EQ(a.egress_vector_bits, 0u);
  cs.write(o.acs + regs::kAcsCtrl, 2, acs_mask(AcsBit::RR));
  EXPECT_EQ(read_acs(cs, o.acs).control, acs_mask(AcsBit::RR));
  EXPECT_FALSE(read_acs(cs, 0).present);
}

TEST(Capabilities, AcsEgressControlVector) {
  ConfigSpace cs;
  topo::AcsSpec spec;
  spec.present = true;
  spec.capability = 0x3f;
  spec.egress_vector_bits = 40;
  spec.egress_vector = 0x5;
  const uint16_t off = add_acs_cap(cs, spec);
  EXPECT_EQ(cs.read16(off + regs::kAcsCap), 0x283f);  // 40 bits in 15:8
  EXPECT_EQ(cs.read32(off + regs::kAcsEgressVector), 0x5u);
  cs.write(off + regs::kAcsEgressVector, 4, 0xffffffff);
  cs.write(off + regs::kAcsEgressVector + 4, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(off + regs::kAcsEgressVector + 4), 0xffu);  // bits 32..39 only
  const AcsRegs a = read_acs(cs, off);
  EXPECT_EQ(a.egress_vector_bits, 40u);
  EXPECT_TRUE(a.egress_blocked(39));
  EXPECT_FALSE(a.egress_blocked(40));
  // 256 bits encode as 0
  ConfigSpace big;
  spec.egress_vector_bits = 256;
  const uint16_t b = add_acs_cap(big, spec);
  EXPECT_EQ(big.read16(b + regs::kAcsCap) >> 8, 0);
  EXPECT_EQ(read_acs(big, b).egress_vector_bits, 256u);
}

TEST(Capabilities, AcsBadSpecsAreTopologyErrors) {
  topo::AcsSpec ec_without_vector;
  ec_without_vector.capability = acs_mask(AcsBit::EC);
  topo::AcsSpec control_beyond_cap;
  control_beyond_cap.capability = acs_mask(AcsBit::RR);
  control_beyond_cap.control = acs_mask(AcsBit::CR);
  topo::AcsSpec reserved_bits;
  reserved_bits.capability = 0x80;
  for (const topo::AcsSpec& s : {ec_without_vector, control_beyond_cap, reserved_bits}) {
    ConfigSpace cs;
    EXPECT_THROW(add_acs_cap(cs, s), topo::TopologyError);
  }
}

TEST(Capabilities, AriNextFunction) {
  ConfigSpace cs;
  const uint16_t off = add_ari_cap(cs, 5);
  EXPECT_EQ(cs.read32(off), 0x0001000eu);
  EXPECT_EQ(cs.read16(off + regs::kAriCap), 0x0500);
  cs.write(off + regs::kAriCap, 4, 0xffffffff);
  EXPECT_EQ(cs.read16(off + regs::kAriCap), 0x0500);
  EXPECT_EQ(cs.read16(off + regs::kAriCtrl), 0);  // no function groups: RO
}

TEST(Capabilities, AerSeverityResetAndStatusMasks) {
  ConfigSpace cs;
  const CapOffsets o = build_port_function(cs, port(PortType::RootPort));
  const uint16_t aer = o.aer;
  EXPECT_EQ(cs.read32(aer + regs::kAerUncorSeverity), 0x00462030u);
  cs.write(aer + regs::kAerUncorSeverity, 4, 0);
  EXPECT_EQ(cs.read32(aer + regs::kAerUncorSeverity), 0x00000020u);  // surprise down not implemented: RO
  cs.reset();
  EXPECT_EQ(cs.read32(aer + regs::kAerUncorSeverity), 0x00462030u);
  cs.set(aer + regs::kAerUncorStatus, 4, regs::kAerUncUnsupported | regs::kAerUncAcsViolation);
  cs.write(aer + regs::kAerUncorStatus, 4, regs::kAerUncAcsViolation);
  EXPECT_EQ(cs.read32(aer + regs::kAerUncorStatus), regs::kAerUncUnsupported);
  cs.write(aer + regs::kAerRootCommand, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(aer + regs::kAerRootCommand), 7u);
  cs.set(aer + regs::kAerRootStatus, 4, (3u << 27) | 0x5);
  cs.write(aer + regs::kAerRootStatus, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(aer + regs::kAerRootStatus), 3u << 27);  // message number RO
  // not a root port: root error registers are reserved
  ConfigSpace usp;
  const CapOffsets u = build_port_function(usp, port(PortType::SwitchUpstream));
  usp.write(u.aer + regs::kAerRootCommand, 4, 0xffffffff);
  EXPECT_EQ(usp.read32(u.aer + regs::kAerRootCommand), 0u);
}

TEST(Capabilities, ExpressControlMasks) {
  ConfigSpace cs;
  EndpointParams ep;
  ep.link = link(3, 4);
  const CapOffsets o = build_endpoint_function(cs, endpoint_fn(), ep);
  cs.write(o.pcie + regs::kExpDevCtl, 2, 0x5000 | (2u << 5) | regs::kDevCtlExtTag);  // MRRS 4K, MPS 512
  DevCtlRegs d = read_devctl(cs, o.pcie);
  EXPECT_EQ(d.mps, 512u);
  EXPECT_EQ(d.mrrs, 4096u);
  EXPECT_TRUE(d.ext_tag);
  EXPECT_FALSE(d.relaxed_ordering || d.no_snoop);
  cs.write(o.pcie + regs::kExpDevCtl, 2, regs::kDevCtlInitiateFlr);  // latches for the owner's hook
  EXPECT_TRUE(cs.read16(o.pcie + regs::kExpDevCtl) & regs::kDevCtlInitiateFlr);
  cs.reset();  // the FLR
  EXPECT_FALSE(cs.read16(o.pcie + regs::kExpDevCtl) & regs::kDevCtlInitiateFlr);
  cs.set(o.pcie + regs::kExpDevSta, 2, regs::kDevStaUrd | regs::kDevStaTransPending);
  cs.write(o.pcie + regs::kExpDevSta, 2, 0xffff);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpDevSta), regs::kDevStaTransPending);
  cs.write(o.pcie + regs::kExpLnkCap, 4, 0);
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpLnkCap), 0x00400043u);
  cs.write(o.pcie + regs::kExpLnkSta, 2, 0);
  EXPECT_EQ(read_link_status(cs, o.pcie).gen, 3);
  EXPECT_EQ(read_link_status(cs, o.pcie).width, 4);

  // without FLR the bit is not writable
  ConfigSpace noflr;
  topo::FunctionSpec fn = endpoint_fn();
  fn.flr = false;
  const CapOffsets n = build_endpoint_function(noflr, fn, ep);
  noflr.write(n.pcie + regs::kExpDevCtl, 2, 0xffff);
  EXPECT_FALSE(noflr.read16(n.pcie + regs::kExpDevCtl) & regs::kDevCtlInitiateFlr);
  EXPECT_FALSE(noflr.read32(n.pcie + regs::kExpDevCap) & regs::kDevCapFlr);
}

TEST(Capabilities, AriForwardingEnableOnDownstreamPortsOnly) {
  ConfigSpace dsp, usp;
  const CapOffsets d = build_port_function(dsp, port(PortType::SwitchDownstream));
  const CapOffsets u = build_port_function(usp, port(PortType::SwitchUpstream));
  dsp.write(d.pcie + regs::kExpDevCtl2, 2, regs::kDevCtl2Ari);
  usp.write(u.pcie + regs::kExpDevCtl2, 2, regs::kDevCtl2Ari);
  EXPECT_TRUE(read_devctl(dsp, d.pcie).ari_forwarding);
  EXPECT_FALSE(read_devctl(usp, u.pcie).ari_forwarding);
}

TEST(Capabilities, RootPortControlMasks) {
  ConfigSpace cs;
  PortParams p = port(PortType::RootPort);
  p.express.slot = true;
  const CapOffsets o = build_port_function(cs, p);
  cs.write(o.pcie + regs::kExpLnkCtl, 2, 0xffff);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpLnkCtl), 0x0cf0);  // no ASPM, RCB RO; disable, retrain, CC, ES, BW IEs
  cs.write(o.pcie + regs::kExpSltCtl, 2, 0xffff);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpSltCtl), 0x103f);
  cs.set(o.pcie + regs::kExpSltSta, 2, regs::kSltStaPresence | regs::kSltStaPresenceChanged);
  cs.write(o.pcie + regs::kExpSltSta, 2, 0xffff);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpSltSta), regs::kSltStaPresence);
  cs.write(o.pcie + regs::kExpRtCtl, 2, 0xffff);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpRtCtl), 0x000f);
  cs.set(o.pcie + regs::kExpRtSta, 4, regs::kRtStaPmeStatus | 0x0100);
  cs.write(o.pcie + regs::kExpRtSta, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(o.pcie + regs::kExpRtSta), 0x0100u);
  cs.write(o.pcie + regs::kExpLnkCtl2, 2, 0xffff);
  EXPECT_EQ(cs.read16(o.pcie + regs::kExpLnkCtl2), 0x000f);
}

TEST(Capabilities, MsiMasks) {
  ConfigSpace cs;
  const uint16_t off = add_msi_cap(cs, 8, true, true);
  EXPECT_EQ(cs.read16(off + regs::kMsiFlags), 0x0186);  // maskable, 64-bit, 8 capable
  cs.write(off + regs::kMsiFlags, 2, 0xffff);
  EXPECT_EQ(cs.read16(off + regs::kMsiFlags), 0x01f7);  // enable + MME RW
  cs.write(off + regs::kMsiAddrLo, 4, 0xfee00003);
  EXPECT_EQ(cs.read32(off + regs::kMsiAddrLo), 0xfee00000u);
  cs.write(off + regs::kMsiAddrHi, 4, 0x12345678);
  EXPECT_EQ(cs.read32(off + regs::kMsiAddrHi), 0x12345678u);
  cs.write(off + regs::kMsiData64, 4, 0xffff4321);
  EXPECT_EQ(cs.read32(off + regs::kMsiData64), 0x00004321u);
  cs.write(off + regs::kMsiMask64, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(off + regs::kMsiMask64), 0xffu);
  cs.write(off + regs::kMsiPending64, 4, 0xffffffff);
  EXPECT_EQ(cs.read32(off + regs::kMsiPending64), 0u);
  ConfigSpace c32;
  const uint16_t o32 = add_msi_cap(c32, 1, false, false);
  c32.write(o32 + regs::kMsiData32, 2, 0x1234);
  EXPECT_EQ(c32.read16(o32 + regs::kMsiData32), 0x1234);
  EXPECT_EQ(c32.read32(o32 + regs::kMsiMask32), 0u);
  EXPECT_THROW(add_msi_cap(c32, 3, false, false), topo::TopologyError);
  EXPECT_THROW(add_msi_cap(c32, 64, false, false), topo::TopologyError);
}

TEST(Capabilities, MsixMasksAndLayout) {
  ConfigSpace cs;
  MsixLayout l;
  l.table_bir = 2;
  l.table_offset = 0x2000;
  l.pba_bir = 2;
  l.pba_offset = 0x3000;
  const uint16_t off = add_msix_cap(cs, 64, l);
  EXPECT_EQ(cs.read32(off + regs::kMsixTable), 0x2002u);
  EXPECT_EQ(cs.read32(off + regs::kMsixPba), 0x3002u);
  cs.write(off + regs::kMsixFlags, 2, 0xffff);
  EXPECT_EQ(cs.read16(off + regs::kMsixFlags), 0xc03f);  // enable + mask RW, table size RO
  cs.write(off + regs::kMsixTable, 4, 0);
  EXPECT_EQ(cs.read32(off + regs::kMsixTable), 0x2002u);
  topo::FunctionSpec small;
  small.bars = {bar(0, 4096)};
  EXPECT_THROW(default_msix_layout(small, 2048), topo::TopologyError);
  topo::FunctionSpec none;
  EXPECT_THROW(default_msix_layout(none, 1), topo::TopologyError);
}

TEST(Capabilities, PmMasks) {
  ConfigSpace cs;
  const uint16_t off = add_pm_cap(cs, true);
  cs.write(off + regs::kPmCsr, 2, 0x0103);
  EXPECT_EQ(cs.read16(off + regs::kPmCsr), 0x010b);  // D3hot, PME_En, No_Soft_Reset RO
  cs.set(off + regs::kPmCsr, 2, 0x810b);
  cs.write(off + regs::kPmCsr, 2, 0x8000 | 0x0103);
  EXPECT_EQ(cs.read16(off + regs::kPmCsr), 0x010b);  // PME status W1C
  ConfigSpace nopme;
  const uint16_t n = add_pm_cap(nopme, false);
  nopme.write(n + regs::kPmCsr, 2, 0xffff);
  EXPECT_EQ(nopme.read16(n + regs::kPmCsr), 0x000b);
}

TEST(Capabilities, HeaderBuiltAfterCapabilitiesKeepsTheList) {
  ConfigSpace cs;
  add_pm_cap(cs);
  build_type0_header(cs, endpoint_fn(), false);
  EXPECT_EQ(cs.read(cfg::kCapPtr, 1), 0x40u);
  EXPECT_TRUE(cs.read16(cfg::kStatus) & regs::kStatusCapList);
  EXPECT_EQ(cs.find_capability(regs::kCapIdPm), 0x40);
}

TEST(Capabilities, BadLinksAreTopologyErrors) {
  for (const topo::LinkSpec& l : {link(7, 4), link(3, 3), link(3, 4, 100), link(3, 4, 256, 8192)}) {
    ConfigSpace cs;
    EXPECT_THROW(build_port_function(cs, port(PortType::RootPort, l)), topo::TopologyError);
  }
  ConfigSpace cs;
  PortParams p = port(PortType::RootPort, link(4, 16));
  p.express.max_gen = 3;  // trained above capability
  EXPECT_THROW(build_port_function(cs, p), topo::TopologyError);
  EXPECT_EQ(encode_payload(4096), 5u);
  EXPECT_THROW(encode_payload(96), std::invalid_argument);
}
