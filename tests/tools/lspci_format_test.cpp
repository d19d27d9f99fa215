#include "lspci_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>

#include "pcie/capabilities.h"

using namespace pciesim;

namespace {

// A small pci.ids so names do not depend on the installed database; one file per process
// (ctest runs test cases in parallel processes), removed at exit.
struct TestIds {
  std::string path = ::testing::TempDir() + "pciesim_test_pci_" + std::to_string(getpid()) + ".ids";
  TestIds() {
    std::ofstream f(path);
    f << "# test ids\n"
         "1b36  Red Hat, Inc.\n"
         "\t0011  Example 64-bit endpoint\n"
         "\t\t1b36 1100  Example subsystem\n"
         "8086  Intel Corporation\n"
         "\t7c38  Example Root Port #1\n"
         "10b5  PLX Technology, Inc.\n"
         "C 00  Unclassified device\n"
         "C 06  Bridge\n"
         "\t04  PCI bridge\n"
         "\t\t00  Normal decode\n"
         "C 12  Processing accelerators\n"
         "\t00  Processing accelerators\n";
  }
  ~TestIds() { std::remove(path.c_str()); }
};

const std::string& test_ids_path() {
  static const TestIds ids;
  return ids.path;
}

LspciOptions opts(int v, int numeric = 0) {
  LspciOptions o;
  o.verbosity = v;
  o.numeric = numeric;
  o.ids_path = test_ids_path();
  return o;
}

topo::LinkSpec link(int gen, int width, int mps = 256, int mrrs = 512) {
  topo::LinkSpec l;
  l.gen = gen;
  l.width = width;
  l.mps = mps;
  l.mrrs = mrrs;
  return l;
}

// Root port 00:01.0 with a slot, ACS SV/TB/RR/CR/UF and AER, link gen4 x16 up.
CapOffsets make_root_port(ConfigSpace& cs) {
  PortParams p;
  p.header.vendor = 0x8086;
  p.header.device = 0x7c38;
  p.express.type = regs::PortType::RootPort;
  p.express.link = link(4, 16);
  p.express.port_number = 1;
  p.express.slot = true;
  p.express.slot_number = 1;
  p.acs.present = true;
  p.acs.capability = 0x1f;
  return build_port_function(cs, p);
}

topo::FunctionSpec endpoint_spec() {
  topo::FunctionSpec fn;
  fn.vendor = 0x1b36;
  fn.device = 0x0011;
  fn.class_code = 0x120000;
  fn.revision = 0x01;
  fn.subsystem_vendor = 0x1b36;
  fn.subsystem = 0x1100;
  topo::BarSpec bar0;
  bar0.index = 0;
  bar0.size = 1 << 20;
  topo::BarSpec bar2;
  bar2.index = 2;
  bar2.size = 16ull << 30;
  bar2.is_64bit = bar2.prefetchable = true;
  fn.bars = {bar0, bar2};
  fn.msi_vectors = 1;
  fn.msix_vectors = 8;
  fn.aer = true;
  return fn;
}

CapOffsets make_endpoint(ConfigSpace& cs) {
  EndpointParams ep;
  ep.link = link(3, 8);
  return build_endpoint_function(cs, endpoint_spec(), ep);
}

// --- the real lspci as an oracle -------------------------------------------------------------

// lspci 3.9.0 (Debian 12) reading our `-xxxx` dump; nullopt when that exact version is absent.
std::optional<std::string> real_lspci(const std::string& dump, const std::string& args) {
  static const bool have = [] {
    FILE* p = popen("lspci --version 2>/dev/null", "r");
    if (!p) return false;
    char buf[128] = {};
    const bool ok = fgets(buf, sizeof buf, p) && std::string(buf) == "lspci version 3.9.0\n";
    pclose(p);
    return ok;
  }();
  if (!have) return std::nullopt;
  const std::string file = ::testing::TempDir() + "pciesim_lspci_dump_" + std::to_string(getpid()) + ".txt";
  std::ofstream(file) << dump;
  const std::string cmd = "lspci -i " + test_ids_path() + " -F " + file + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  std::remove(file.c_str());
  return out;
}

void expect_same_as_real_lspci(const LspciDevice& dev) {
  LspciOptions dump = opts(0);
  dump.hex = 4;
  const std::string hex = format_lspci(dev, dump);
  for (int v = 0; v <= 3; ++v)
    for (int n = 0; n <= 2; ++n) {
      std::string args = n ? std::string("-") + std::string(static_cast<size_t>(n), 'n') : "";
      if (v) args += " -" + std::string(static_cast<size_t>(v), 'v');
      const auto real = real_lspci(hex, args);
      if (!real) GTEST_SKIP() << "lspci 3.9.0 not installed";
      LspciOptions o = opts(v, n);
      o.access = LspciOptions::Access::ConfigOnly;
      const std::string ours = format_lspci(dev, o);
      EXPECT_EQ(ours, *real) << "lspci " << args;
      if (ours != *real) return;  // one diff per device is enough
    }
}

}  // namespace

TEST(LspciFormat, RootPortMatchesRealLspci) {
  ConfigSpace cs;
  make_root_port(cs);
  LspciDevice dev(cs, 0, 1, 0);
  expect_same_as_real_lspci(dev);
}

TEST(LspciFormat, EndpointMatchesRealLspci) {
  ConfigSpace cs;
  make_endpoint(cs);
  cs.write(cfg::kCommand, 2, regs::kCmdMemory | regs::kCmdBusMaster);
  cs.write(cfg::kBar0, 4, 0xfe000000);
  cs.write(cfg::kBar0 + 8, 4, 0x0000000c);
  cs.write(cfg::kBar0 + 12, 4, 0x00000080);
  LspciDevice dev(cs, 1, 0, 0);
  expect_same_as_real_lspci(dev);
}

namespace {

PortParams port(regs::PortType type, uint16_t vendor, uint16_t device, topo::LinkSpec l) {
  PortParams p;
  p.header.vendor = vendor;
  p.header.device = device;
  p.express.type = type;
  p.express.link = l;
  return p;
}

// Bus numbers and all three windows programmed, as firmware leaves a bridge.
void program_bridge(ConfigSpace& cs) {
  cs.write(cfg::kPrimaryBus, 4, 0x00050201);               // primary 01, secondary 02, subordinate 05
  cs.write(cfg::kIoBase, 2, 0x2020);                       // I/O 0x2000-0x2fff
  cs.write(cfg::kMemBase, 4, 0xfe30fe00);                  // 0xfe000000-0xfe3fffff
  cs.write(cfg::kPrefBase, 4, 0x0ff00000);                 // 0x80_0000_0000-0x80_0fff_ffff
  cs.write(cfg::kPrefBaseUpper, 4, 0x80);
  cs.write(cfg::kPrefLimitUpper, 4, 0x80);
  cs.write(cfg::kCommand, 2, regs::kCmdIo | regs::kCmdMemory | regs::kCmdBusMaster);
  cs.write(cfg::kBridgeControl, 2, regs::kBctlSerr);
}

}  // namespace

TEST(LspciFormat, SwitchPortsMatchRealLspci) {
  ConfigSpace usp, dsp;
  build_port_function(usp, port(regs::PortType::SwitchUpstream, 0x10b5, 0x8796, link(3, 16)));
  program_bridge(usp);
  PortParams d = port(regs::PortType::SwitchDownstream, 0x10b5, 0x8796, link(3, 8));
  d.express.slot = true;
  d.express.slot_number = 4;
  d.express.port_number = 4;
  d.express.link_up = false;
  d.express.card_present = false;
  d.acs.present = true;
  d.acs.capability = 0x3f;
  d.acs.control = 0x1d;
  d.acs.egress_vector_bits = 8;
  build_port_function(dsp, d);
  expect_same_as_real_lspci(LspciDevice(usp, 1, 0, 0));
  expect_same_as_real_lspci(LspciDevice(dsp, 2, 4, 0));
}

TEST(LspciFormat, PcieToPciBridgeAndConventionalDeviceMatchRealLspci) {
  ConfigSpace br;
  build_port_function(br, port(regs::PortType::PcieToPciBridge, 0x1b36, 0x000e, link(1, 1)));
  expect_same_as_real_lspci(LspciDevice(br, 3, 0, 0));

  ConfigSpace conv(false);
  topo::FunctionSpec fn;
  fn.class_code = 0x070002;
  fn.interrupt_pin = 2;
  topo::BarSpec io, mem;
  io.index = 0, io.size = 32, io.io = true;
  mem.index = 1, mem.size = 4096;
  fn.bars = {io, mem};
  build_type0_header(conv, fn, false, 64 * 1024);
  add_pm_cap(conv);
  add_msi_cap(conv, 4, false, true);
  conv.write(cfg::kBar0, 4, 0xc000);
  conv.write(cfg::kBar0 + 4, 4, 0xfe100000);
  conv.write(cfg::kRomBase, 4, 0xfe180001);
  conv.write(cfg::kIntLine, 1, 11);
  conv.write(cfg::kCommand, 2, regs::kCmdIo | regs::kCmdBusMaster);
  conv.write(cfg::kLatency, 1, 0x40);
  expect_same_as_real_lspci(LspciDevice(conv, 4, 1, 0));
}

TEST(LspciFormat, IntegratedMultifunctionAndExtraCapsMatchRealLspci) {
  ConfigSpace rciep;
  topo::FunctionSpec fn = endpoint_spec();
  EndpointParams ep;
  ep.type = regs::PortType::RcIntegratedEndpoint;
  fn.flr = true;
  build_endpoint_function(rciep, fn, ep);
  expect_same_as_real_lspci(LspciDevice(rciep, 0, 2, 0));

  ConfigSpace f1;
  fn = endpoint_spec();
  fn.function = 1;
  fn.ari = true;
  fn.acs.present = true;
  fn.acs.capability = 0x2c;  // RR CR EC
  fn.acs.egress_vector_bits = 4;
  EndpointParams mf;
  mf.multifunction = true;
  mf.ari_next_function = 2;
  mf.link = link(4, 4);
  build_endpoint_function(f1, fn, mf);
  expect_same_as_real_lspci(LspciDevice(f1, 5, 0, 1));

  // legacy endpoint with ATS, PRI, PASID and a serial number declared by hand
  ConfigSpace x;
  fn = endpoint_spec();
  EndpointParams leg;
  leg.type = regs::PortType::LegacyEndpoint;
  build_endpoint_function(x, fn, leg);
  uint16_t dsn = x.add_ext_capability(regs::kExtCapIdDsn, 1, 12);
  x.define(dsn + 4, 4, 0x89abcdef);
  x.define(dsn + 8, 4, 0x01234567);
  uint16_t ats = x.add_ext_capability(regs::kExtCapIdAts, 1, 8);
  x.define(ats + 4, 2, 0x0020);
  x.define(ats + 6, 2, 0x8002);
  uint16_t pri = x.add_ext_capability(0x0013, 1, 16);
  x.define(pri + 4, 2, 0x0001);
  x.define(pri + 8, 4, 0x200);
  uint16_t pasid = x.add_ext_capability(0x001b, 1, 8);
  x.define(pasid + 4, 2, 0x1406);
  x.define(pasid + 6, 2, 0x0001);
  expect_same_as_real_lspci(LspciDevice(x, 6, 0, 0));
}

// --- exact text, sysfs view ------------------------------------------------------------------

TEST(LspciFormat, RootPortWithAcsVeryVerbose) {
  ConfigSpace cs;
  make_root_port(cs);
  cs.write(cfg::kPrimaryBus, 4, 0x00050100);  // primary 00, secondary 01, subordinate 05
  cs.write(cfg::kIoBase, 2, 0x1010);
  cs.write(cfg::kMemBase, 4, 0xfe10fe00);
  cs.write(cfg::kPrefBase, 4, 0x00f10001);
  cs.write(cfg::kPrefBaseUpper, 4, 0x80);
  cs.write(cfg::kPrefLimitUpper, 4, 0x80);
  cs.write(cfg::kCommand, 2, regs::kCmdIo | regs::kCmdMemory | regs::kCmdBusMaster);
  LspciDevice dev(cs, 0, 1, 0);
  dev.irq = 122;
  dev.iommu_group = "7";
  dev.kernel_driver = "pcieport";
  const std::string expected =
      "00:01.0 PCI bridge: Intel Corporation Example Root Port #1 (prog-if 00 [Normal decode])\n"
      "\tControl: I/O+ Mem+ BusMaster+ SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx-\n"
      "\tStatus: Cap+ 66MHz- UDF- FastB2B- ParErr- DEVSEL=fast >TAbort- <TAbort- <MAbort- >SERR- <PERR- INTx-\n"
      "\tLatency: 0\n"
      "\tInterrupt: pin A routed to IRQ 122\n"
      "\tIOMMU group: 7\n"
      "\tBus: primary=00, secondary=01, subordinate=05, sec-latency=0\n"
      "\tI/O behind bridge: 00001000-00001fff [size=4K] [32-bit]\n"
      "\tMemory behind bridge: fe000000-fe1fffff [size=2M] [32-bit]\n"
      "\tPrefetchable memory behind bridge: 0000008000000000-0000008000ffffff [size=16M] [64-bit]\n"
      "\tSecondary status: 66MHz- FastB2B- ParErr- DEVSEL=fast >TAbort- <TAbort- <MAbort- <SERR- <PERR-\n"
      "\tBridgeCtl: Parity- SERR- NoISA- VGA- VGA16- MAbort- >Reset- FastB2B-\n"
      "\t\tPriDiscTmr- SecDiscTmr- DiscTmrStat- DiscTmrSERREn-\n"
      "\tCapabilities: [40] Power Management version 3\n"
      "\t\tFlags: PMEClk- DSI- D1- D2- AuxCurrent=0mA PME(D0+,D1-,D2-,D3hot+,D3cold+)\n"
      "\t\tStatus: D0 NoSoftRst+ PME-Enable- DSel=0 DScale=0 PME-\n"
      "\tCapabilities: [50] MSI: Enable- Count=1/1 Maskable- 64bit+\n"
      "\t\tAddress: 0000000000000000  Data: 0000\n"
      "\tCapabilities: [70] Express (v2) Root Port (Slot+), MSI 00\n"
      "\t\tDevCap:\tMaxPayload 256 bytes, PhantFunc 0\n"
      "\t\t\tExtTag+ RBE+\n"
      "\t\tDevCtl:\tCorrErr- NonFatalErr- FatalErr- UnsupReq-\n"
      "\t\t\tRlxdOrd+ ExtTag- PhantFunc- AuxPwr- NoSnoop+\n"
      "\t\t\tMaxPayload 256 bytes, MaxReadReq 512 bytes\n"
      "\t\tDevSta:\tCorrErr- NonFatalErr- FatalErr- UnsupReq- AuxPwr- TransPend-\n"
      "\t\tLnkCap:\tPort #1, Speed 16GT/s, Width x16, ASPM not supported\n"
      "\t\t\tClockPM- Surprise- LLActRep+ BwNot+ ASPMOptComp+\n"
      "\t\tLnkCtl:\tASPM Disabled; RCB 64 bytes, Disabled- CommClk-\n"
      "\t\t\tExtSynch- ClockPM- AutWidDis- BWInt- AutBWInt-\n"
      "\t\tLnkSta:\tSpeed 16GT/s, Width x16\n"
      "\t\t\tTrErr- Train- SlotClk+ DLActive+ BWMgmt- ABWMgmt-\n"
      "\t\tSltCap:\tAttnBtn- PwrCtrl- MRL- AttnInd- PwrInd- HotPlug+ Surprise+\n"
      "\t\t\tSlot #1, PowerLimit 0W; Interlock- NoCompl+\n"
      "\t\tSltCtl:\tEnable: AttnBtn- PwrFlt- MRL- PresDet- CmdCplt- HPIrq- LinkChg-\n"
      "\t\t\tControl: AttnInd Unknown, PwrInd Unknown, Power- Interlock-\n"
      "\t\tSltSta:\tStatus: AttnBtn- PowerFlt- MRL- CmdCplt- PresDet+ Interlock-\n"
      "\t\t\tChanged: MRL- PresDet- LinkState-\n"
      "\t\tRootCap: CRSVisible-\n"
      "\t\tRootCtl: ErrCorrectable- ErrNon-Fatal- ErrFatal- PMEIntEna- CRSVisible-\n"
      "\t\tRootSta: PME ReqID 0000, PMEStatus- PMEPending-\n"
      "\t\tDevCap2: Completion Timeout: Range ABCD, TimeoutDis+ NROPrPrP- LTR-\n"
      "\t\t\t 10BitTagComp- 10BitTagReq- OBFF Not Supported, ExtFmt- EETLPPrefix-\n"
      "\t\t\t EmergencyPowerReduction Not Supported, EmergencyPowerReductionInit-\n"
      "\t\t\t FRS- LN System CLS Not Supported, TPHComp- ExtTPHComp- ARIFwd+\n"
      "\t\t\t AtomicOpsCap: Routing- 32bit- 64bit- 128bitCAS-\n"
      "\t\tDevCtl2: Completion Timeout: 50us to 50ms, TimeoutDis- LTR- 10BitTagReq- OBFF Disabled, ARIFwd-\n"
      "\t\t\t AtomicOpsCtl: ReqEn- EgressBlck-\n"
      "\t\tLnkCap2: Supported Link Speeds: 2.5-16GT/s, Crosslink- Retimer- 2Retimers- DRS-\n"
      "\t\tLnkCtl2: Target Link Speed: 16GT/s, EnterCompliance- SpeedDis-\n"
      "\t\t\t Transmit Margin: Normal Operating Range, EnterModifiedCompliance- ComplianceSOS-\n"
      "\t\t\t Compliance Preset/De-emphasis: -6dB de-emphasis, 0dB preshoot\n"
      "\t\tLnkSta2: Current De-emphasis Level: -6dB, EqualizationComplete+ EqualizationPhase1+\n"
      "\t\t\t EqualizationPhase2+ EqualizationPhase3+ LinkEqualizationRequest-\n"
      "\t\t\t Retimer- 2Retimers- CrosslinkRes: unsupported\n"
      "\tCapabilities: [100 v2] Advanced Error Reporting\n"
      "\t\tUESta:\tDLP- SDES- TLP- FCP- CmpltTO- CmpltAbrt- UnxCmplt- RxOF- MalfTLP- ECRC- UnsupReq- ACSViol-\n"
      "\t\tUEMsk:\tDLP- SDES- TLP- FCP- CmpltTO- CmpltAbrt- UnxCmplt- RxOF- MalfTLP- ECRC- UnsupReq- ACSViol-\n"
      "\t\tUESvrt:\tDLP+ SDES+ TLP- FCP+ CmpltTO- CmpltAbrt- UnxCmplt- RxOF+ MalfTLP+ ECRC- UnsupReq- ACSViol-\n"
      "\t\tCESta:\tRxErr- BadTLP- BadDLLP- Rollover- Timeout- AdvNonFatalErr-\n"
      "\t\tCEMsk:\tRxErr- BadTLP- BadDLLP- Rollover- Timeout- AdvNonFatalErr+\n"
      "\t\tAERCap:\tFirst Error Pointer: 00, ECRCGenCap- ECRCGenEn- ECRCChkCap- ECRCChkEn-\n"
      "\t\t\tMultHdrRecCap- MultHdrRecEn- TLPPfxPres- HdrLogCap-\n"
      "\t\tHeaderLog: 00000000 00000000 00000000 00000000\n"
      "\t\tRootCmd: CERptEn- NFERptEn- FERptEn-\n"
      "\t\tRootSta: CERcvd- MultCERcvd- UERcvd- MultUERcvd-\n"
      "\t\t\t FirstFatal- NonFatalMsg- FatalMsg- IntMsg 0\n"
      "\t\tErrorSrc: ERR_COR: 0000 ERR_FATAL/NONFATAL: 0000\n"
      "\tCapabilities: [148 v1] Access Control Services\n"
      "\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-\n"
      "\t\tACSCtl:\tSrcValid- TransBlk- ReqRedir- CmpltRedir- UpstreamFwd- EgressCtrl- DirectTrans-\n"
      "\tKernel driver in use: pcieport\n"
      "\n";
  EXPECT_EQ(format_lspci(dev, opts(2)), expected);

  // the ACS lines follow the registers: enabling RR and CR shows up in ACSCtl
  const uint16_t acs = cs.find_ext_capability(regs::kExtCapIdAcs);
  cs.write(acs + regs::kAcsCtrl, 2, 0x7f);
  EXPECT_NE(format_lspci(dev, opts(2)).find(
                "\t\tACSCtl:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-\n"),
            std::string::npos);
}

TEST(LspciFormat, EndpointWith64BitBar) {
  ConfigSpace cs;
  make_endpoint(cs);
  cs.write(cfg::kCommand, 2, regs::kCmdMemory | regs::kCmdBusMaster);
  cs.write(cfg::kBar0, 4, 0xfe000000);
  cs.write(cfg::kBar0 + 8, 4, 0);
  cs.write(cfg::kBar0 + 12, 4, 0x80);
  cs.write(cfg::kIntLine, 1, 10);
  LspciDevice dev(cs, 1, 0, 0);
  dev.iommu_group = "12";
  dev.kernel_driver = "vfio-pci";
  EXPECT_EQ(format_lspci(dev, opts(1)),
            "01:00.0 Processing accelerators: Red Hat, Inc. Example 64-bit endpoint (rev 01)\n"
            "\tSubsystem: Red Hat, Inc. Example subsystem\n"
            "\tFlags: bus master, fast devsel, latency 0, IRQ 10, IOMMU group 12\n"
            "\tMemory at fe000000 (32-bit, non-prefetchable) [size=1M]\n"
            "\tMemory at 8000000000 (64-bit, prefetchable) [size=16G]\n"
            "\tCapabilities: [40] Power Management version 3\n"
            "\tCapabilities: [50] MSI: Enable- Count=1/1 Maskable- 64bit+\n"
            "\tCapabilities: [70] Express Endpoint, MSI 00\n"
            "\tCapabilities: [b0] MSI-X: Enable- Count=8 Masked-\n"
            "\tCapabilities: [100] Advanced Error Reporting\n"
            "\tKernel driver in use: vfio-pci\n"
            "\n");
  const std::string vv = format_lspci(dev, opts(2));
  EXPECT_NE(vv.find("\tRegion 0: Memory at fe000000 (32-bit, non-prefetchable) [size=1M]\n"
                    "\tRegion 2: Memory at 8000000000 (64-bit, prefetchable) [size=16G]\n"),
            std::string::npos);
  EXPECT_NE(vv.find("\t\tVector table: BAR=0 offset=000ff000\n\t\tPBA: BAR=0 offset=000ff080\n"), std::string::npos);
  EXPECT_NE(vv.find("\t\tDevCtl2: Completion Timeout: 50us to 50ms, TimeoutDis- LTR- 10BitTagReq- OBFF Disabled,\n"),
            std::string::npos);

  // what the OS resolved wins over the registers; decode off shows [disabled]
  std::array<LspciResource, 6> bars{};
  bars[0] = {0xfe000000, 1 << 20};
  bars[2] = {0x8000000000ull, 16ull << 30};
  dev.bars = bars;
  cs.write(cfg::kCommand, 2, 0);
  EXPECT_NE(format_lspci(dev, opts(1)).find("\tMemory at fe000000 (32-bit, non-prefetchable) [disabled] [size=1M]\n"),
            std::string::npos);
  // an unassigned 64-bit BAR: the flag bits remain, so lspci says <ignored>
  cs.write(cfg::kBar0 + 8, 4, 0);
  cs.write(cfg::kBar0 + 12, 4, 0);
  dev.bars.reset();
  EXPECT_NE(format_lspci(dev, opts(1)).find("\tMemory at <ignored> (64-bit, prefetchable) [disabled] [size=16G]\n"),
            std::string::npos);
}

TEST(LspciFormat, NumericIdsAndDomains) {
  ConfigSpace cs;
  make_root_port(cs);
  EXPECT_EQ(format_lspci(LspciDevice(cs, 0, 1, 0), opts(0, 1)), "00:01.0 0604: 8086:7c38\n");
  EXPECT_EQ(format_lspci(LspciDevice(cs, 0, 1, 0), opts(0, 2)),
            "00:01.0 PCI bridge [0604]: Intel Corporation Example Root Port #1 [8086:7c38]\n");
  EXPECT_EQ(format_lspci(LspciDevice(cs, 0, 1, 0, 1), opts(0, 1)), "0001:00:01.0 0604: 8086:7c38\n");
  LspciOptions d = opts(0, 1);
  d.show_domain = true;
  EXPECT_EQ(format_lspci(LspciDevice(cs, 0, 1, 0), d), "0000:00:01.0 0604: 8086:7c38\n");

  ConfigSpace ep;
  make_endpoint(ep);
  const std::string v = format_lspci(LspciDevice(ep, 1, 0, 0), opts(1, 1));
  EXPECT_EQ(v.substr(0, v.find('\n', v.find('\n') + 1) + 1),
            "01:00.0 1200: 1b36:0011 (rev 01)\n\tSubsystem: 1b36:1100\n");
}

TEST(LspciFormat, BridgeWindows) {
  ConfigSpace usp;
  build_port_function(usp, port(regs::PortType::SwitchUpstream, 0x10b5, 0x8796, link(3, 16)));
  LspciDevice dev(usp, 1, 0, 0);
  const std::string closed = format_lspci(dev, opts(1));
  EXPECT_NE(closed.find("\tBus: primary=00, secondary=00, subordinate=00, sec-latency=0\n"
                        "\tI/O behind bridge: [disabled] [32-bit]\n"
                        "\tMemory behind bridge: [disabled] [32-bit]\n"
                        "\tPrefetchable memory behind bridge: [disabled] [64-bit]\n"),
            std::string::npos)
      << closed;
  program_bridge(usp);
  EXPECT_EQ(format_lspci(dev, opts(1)),
            "01:00.0 PCI bridge: PLX Technology, Inc. Device 8796 (prog-if 00 [Normal decode])\n"
            "\tFlags: bus master, fast devsel, latency 0\n"
            "\tBus: primary=01, secondary=02, subordinate=05, sec-latency=0\n"
            "\tI/O behind bridge: 00002000-00002fff [size=4K] [32-bit]\n"
            "\tMemory behind bridge: fe000000-fe3fffff [size=4M] [32-bit]\n"
            "\tPrefetchable memory behind bridge: 0000008000000000-000000800fffffff [size=256M] [64-bit]\n"
            "\tCapabilities: [40] Power Management version 3\n"
            "\tCapabilities: [50] MSI: Enable- Count=1/1 Maskable- 64bit+\n"
            "\tCapabilities: [70] Express Upstream Port, MSI 00\n"
            "\tCapabilities: [100] Advanced Error Reporting\n"
            "\n");
  const std::string vv = format_lspci(dev, opts(2));
  EXPECT_NE(vv.find("\tBridgeCtl: Parity- SERR+ NoISA- VGA- VGA16- MAbort- >Reset- FastB2B-\n"), std::string::npos);
}

TEST(LspciFormat, NameFallbacks) {
  const LspciOptions o = opts(0);
  EXPECT_EQ(lspci_device_name(0xabcd, 0x1234, o), "Device abcd:1234");
  EXPECT_EQ(lspci_device_name(0x8086, 0x1234, o), "Intel Corporation Device 1234");
  EXPECT_EQ(lspci_device_name(0x8086, 0x7c38, o), "Intel Corporation Example Root Port #1");
  EXPECT_EQ(lspci_class_name(0x068000, o), "Bridge [0680]");  // base class known, subclass not
  EXPECT_EQ(lspci_class_name(0x0b4000, o), "Class 0b40");
  LspciOptions nn = opts(0, 2);
  EXPECT_EQ(lspci_device_name(0xabcd, 0x1234, nn), "Device [abcd:1234]");
  EXPECT_EQ(lspci_device_name(0x8086, 0x1234, nn), "Intel Corporation Device [8086:1234]");
  EXPECT_EQ(lspci_class_name(0x0b4000, nn), "Class [0b40]");
  // no database at all: the built-in class names still apply
  LspciOptions none;
  none.ids_path = ::testing::TempDir() + "no-such-pci.ids";
  EXPECT_EQ(lspci_class_name(0x060400, none), "PCI bridge");
  EXPECT_EQ(lspci_class_name(0xff0000, none), "Unassigned class [ff00]");
  EXPECT_EQ(lspci_device_name(0x8086, 0x7c38, none), "Device 8086:7c38");
}

TEST(LspciFormat, InstalledPciIds) {
  if (!std::ifstream("/usr/share/misc/pci.ids")) GTEST_SKIP() << "pci.ids not installed";
  LspciOptions o;  // default path
  EXPECT_EQ(lspci_device_name(0x1b36, 0x000c, o), "Red Hat, Inc. QEMU PCIe Root port");
  EXPECT_EQ(lspci_class_name(0x060400, o), "PCI bridge");
  EXPECT_EQ(lspci_class_name(0x010802, o), "Non-Volatile memory controller");
}

TEST(LspciFormat, AllFunctionsSortedWithDomains) {
  ConfigSpace a, b;
  make_root_port(a);
  make_endpoint(b);
  std::vector<LspciDevice> devs{LspciDevice(b, 1, 0, 0), LspciDevice(a, 0, 1, 0)};
  EXPECT_EQ(format_lspci_all(devs, opts(0, 1)), "00:01.0 0604: 8086:7c38\n01:00.0 1200: 1b36:0011 (rev 01)\n");
  devs.emplace_back(a, 0, 1, 0, 1);
  EXPECT_EQ(format_lspci_all(devs, opts(0, 1)),
            "0000:00:01.0 0604: 8086:7c38\n0000:01:00.0 1200: 1b36:0011 (rev 01)\n0001:00:01.0 0604: 8086:7c38\n");
}

TEST(LspciFormat, HexDumpAndKernelLines) {
  ConfigSpace cs;
  make_endpoint(cs);
  LspciDevice dev(cs, 1, 0, 0);
  auto lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  LspciOptions x = opts(0);
  x.hex = 1;
  const std::string x1 = format_lspci(dev, x);
  EXPECT_EQ(lines(x1), 1 + 4 + 1);
  EXPECT_NE(x1.find("\n00: 36 1b 11 00 00 00 10 00 01 00 00 12 00 00 00 00\n"), std::string::npos) << x1;
  x.hex = 3;
  EXPECT_EQ(lines(format_lspci(dev, x)), 1 + 16 + 1);
  x.hex = 4;
  const std::string x4 = format_lspci(dev, x);
  EXPECT_EQ(lines(x4), 1 + 256 + 1);
  EXPECT_NE(x4.find("\n100: 01 00 02 00 "), std::string::npos);  // AER header, next = 0
  ConfigSpace conv(false);
  build_type0_header(conv, topo::FunctionSpec{}, false);
  EXPECT_EQ(lines(format_lspci(LspciDevice(conv, 2, 0, 0), x)), 1 + 16 + 1);  // 256 B only

  dev.numa_node = 0;
  dev.kernel_driver = "vfio-pci";
  dev.kernel_modules = "pciesim_gpu";
  dev.physical_slot = "4";
  const std::string v = format_lspci(dev, opts(1));
  EXPECT_NE(v.find("\tPhysical Slot: 4\n\tFlags: fast devsel, NUMA node 0\n"), std::string::npos) << v;
  EXPECT_NE(v.find("\tKernel driver in use: vfio-pci\n\tKernel modules: pciesim_gpu\n\n"), std::string::npos) << v;
  EXPECT_NE(format_lspci(dev, opts(2)).find("\tNUMA node: 0\n"), std::string::npos);
}
