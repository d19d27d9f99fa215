// A topology as a QEMU q35 machine: the -device list that builds the same PCIe tree from QEMU
// 7.2's devices (pcie-root-port, x3130-upstream, xio3130-downstream, pcie-pci-bridge, edu, e1000),
// and every feature of the topology QEMU cannot express, with the reason. hostval (docs/hostval.md)
// compares the simulator with such a machine only when nothing is unsupported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pcie/topology/spec.h"

namespace pciesim::hostval {

struct QemuMachine {
  std::vector<std::string> devices;      // -device values, parents before children
  std::vector<std::string> unsupported;  // "file:line: rp1: why QEMU cannot build it"
  uint64_t memory_mib = 1024;
};

QemuMachine qemu_machine(const topo::TopologySpec& spec);

}  // namespace pciesim::hostval
