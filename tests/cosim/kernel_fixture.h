// A fabric with a VT-d unit and the co-simulated kernel booted on it, for kernel_*_test.cpp.
#pragma once

#include <memory>
#include <string>

#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "pcie/fabric_fixture.h"

namespace pciesim::test {

// Two NICs behind a switch whose downstream ports have no ACS capability, a NIC with MSI-X on its
// own root port (whose ACS firmware leaves off: Linux turns it on), and the include-all unit.
inline const char* kKernelTopology = R"(
name: kernel-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 4, width: 16}
        acs: {capability: all, control: [SV, RR, CR, UF]}
        below:
          switch:
            name: sw0
            ports:
              - name: dpA
                device: 0
                link: {gen: 4, width: 8}
                acs: none
                below:
                  endpoint:
                    name: epA
                    functions: [{function: 0, vendor: 0x8086, device: 0x10d3, class: 0x020000, msi: 4, flr: true,
                                 bars: [{index: 0, size: 128KiB}]}]
              - name: dpB
                device: 1
                link: {gen: 4, width: 8}
                acs: none
                below:
                  endpoint:
                    name: epB
                    functions: [{function: 0, vendor: 0x8086, device: 0x10d3, class: 0x020000, msi: 1, flr: false,
                                 bars: [{index: 0, size: 128KiB}]}]
      - name: rp1
        device: 2
        link: {gen: 3, width: 8}
        acs: {capability: all, control: none}
        below:
          endpoint:
            name: epF
            functions: [{function: 0, vendor: 0x15b3, device: 0x1017, class: 0x020000, msix: 8, flr: true,
                         bars: [{index: 0, size: 1MiB, type: mem64, prefetchable: true}]}]
iommus:
  - name: dmar0
    preset: server
    include_all: true
)";

// QEMU's edu on a root port with ACS, behind QEMU 7.2's VT-d: the real-host comparison's machine.
inline const char* kEduOnRootPort = R"(
name: vfio-edu
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 3, width: 4}
        acs: {capability: [SV, RR, CR, UF]}
        below:
          endpoint: {name: edu0, model: edu}
iommus:
  - {name: dmar0, preset: qemu-7.2, include_all: true}
)";

struct KernelFixture : ::testing::Test {
  std::unique_ptr<Fabric> f;
  std::unique_ptr<cosim::Kernel> k;

  void boot(const std::string& yaml = kKernelTopology, cosim::KernelOptions o = {}) {
    f = make_fabric(yaml);
    k = std::make_unique<cosim::Kernel>(*f, o);
    k->boot();
  }
  cosim::PciDev& dev(const std::string& name) {
    const FunctionInfo& i = fn(*f, name);
    cosim::PciDev* d = k->pci().find(i.segment, i.bdf());
    if (!d) throw std::runtime_error("the kernel did not find " + name);
    return *d;
  }
  bool logged(const std::string& needle) { return !k->log().grep(needle).empty(); }
  std::string dmesg() { return k->log().dmesg(); }
};

}  // namespace pciesim::test
