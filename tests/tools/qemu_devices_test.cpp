// The topology -> QEMU q35 device list of pciesim hostval (tools/qemu_devices.h): what QEMU 7.2
// builds for the shipped hostval topologies, and the reasons it gives for what it cannot build.
#include <gtest/gtest.h>

#include "pcie/topology/yaml_loader.h"
#include "qemu_devices.h"

namespace pciesim::test {
namespace {

hostval::QemuMachine machine(const std::string& file) {
  return hostval::qemu_machine(topo::load_topology_file(std::string(PCIESIM_SOURCE_ROOT) + "/" + file));
}

bool mentions(const std::vector<std::string>& v, const std::string& what) {
  for (const auto& s : v)
    if (s.find(what) != std::string::npos) return true;
  return false;
}

TEST(QemuDevices, TheMixBecomesRootPortsASwitchABridgeEdusAndAnE1000) {
  const hostval::QemuMachine m = machine("tests/hostval/topologies/mix.yaml");
  EXPECT_TRUE(m.unsupported.empty()) << m.unsupported.front();
  const std::vector<std::string> want = {
      "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1,addr=0x1.0x0",
      "x3130-upstream,id=sw0,bus=rp0",
      "xio3130-downstream,id=sw0-dp0,bus=sw0,chassis=2,slot=2,addr=0x0.0x0",
      "edu,bus=sw0-dp0,addr=0x0.0x0,id=edu0",
      "xio3130-downstream,id=sw0-dp1,bus=sw0,chassis=3,slot=3,addr=0x1.0x0",
      "edu,bus=sw0-dp1,addr=0x0.0x0,id=edu1.f0,multifunction=on",
      "edu,bus=sw0-dp1,addr=0x0.0x1,id=edu1.f1",
      "pcie-root-port,id=rp1,bus=pcie.0,chassis=4,slot=4,addr=0x2.0x0",
      "pcie-pci-bridge,id=pcibr0,bus=rp1",
      "edu,bus=pcibr0,addr=0x1.0x0,id=edu2",
      "e1000,bus=pcibr0,addr=0x2.0x0,id=e1000",
  };
  EXPECT_EQ(m.devices, want);
  EXPECT_EQ(m.memory_mib, 1024u);
}

TEST(QemuDevices, MultifunctionRootPortsGetMultifunctionOnFunctionZero) {
  const hostval::QemuMachine m = machine("tests/hostval/topologies/grouping-stress.yaml");
  ASSERT_TRUE(m.unsupported.empty());
  EXPECT_EQ(m.devices.front(), "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1,addr=0x2.0x0,multifunction=on");
  EXPECT_TRUE(mentions(m.devices, "pcie-root-port,id=rp1,bus=pcie.0,chassis=4,slot=4,addr=0x2.0x1"));
}

TEST(QemuDevices, WhatQemuCannotBuildIsNamedWithFileLineAndReason) {
  const hostval::QemuMachine m = machine("scenarios/topologies/two-level-switch.yaml");
  EXPECT_TRUE(mentions(m.unsupported, "two-level-switch.yaml:")) << "file and line";
  EXPECT_TRUE(mentions(m.unsupported, "has no ACS capability")) << "ACS on a switch downstream port";
  EXPECT_TRUE(mentions(m.unsupported, "no QEMU device for a generic endpoint 8086:37c8"));
  EXPECT_TRUE(mentions(m.unsupported, "a root port in QEMU is pcie-root-port (1b36:000c)"));
  const hostval::QemuMachine e = machine("scenarios/topologies/edu.yaml");
  EXPECT_TRUE(e.unsupported.empty()) << "edu.yaml is a q35 machine";
}

}  // namespace
}  // namespace pciesim::test
