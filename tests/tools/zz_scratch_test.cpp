#include "lspci_format.h"
#include <gtest/gtest.h>
#include <iostream>
#include <fstream>
#include "pcie/capabilities.h"
using namespace pciesim;
TEST(Scratch, Print) {
  std::ofstream f("/tmp/t.ids");
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
  f.close();
  ConfigSpace cs;
  PortParams p;
  p.header.vendor = 0x8086;
  p.header.device = 0x7c38;
  p.express.type = regs::PortType::RootPort;
  p.express.link.gen = 4; p.express.link.width = 16;
  p.express.port_number = 1;
  p.express.slot = true;
  p.express.slot_number = 1;
  p.acs.present = true;
  p.acs.capability = 0x1f;
  build_port_function(cs, p);
  cs.write(cfg::kPrimaryBus, 4, 0x00050100);
  cs.write(cfg::kIoBase, 2, 0x1010);
  cs.write(cfg::kMemBase, 4, 0xfe10fe00);
  cs.write(cfg::kPrefBase, 4, 0x1ff10001);
  cs.write(cfg::kPrefBaseUpper, 4, 0x80);
  cs.write(cfg::kPrefLimitUpper, 4, 0x83);
  cs.write(cfg::kCommand, 2, 7);
  LspciOptions o; o.verbosity = 2; o.ids_path="/tmp/t.ids";
  LspciDevice d(cs, 0, 1, 0); d.irq = 122; d.iommu_group = "7"; d.kernel_driver = "pcieport";
  std::cout << format_lspci(d, o);
  o.verbosity = 1;
  std::cout << format_lspci(d, o);
}
