#include "lspci_format.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>

#include "pcie/capabilities.h"

using namespace pciesim;

namespace {

// A small pci.ids so names do not depend on the installed database.
std::string test_ids_path() {
  static const std::string path = [] {
    std::string p = ::testing::TempDir() + "pciesim_test_pci.ids";
    std::ofstream f(p);
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
    return p;
  }();
  return path;
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
