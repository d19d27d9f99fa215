// The co-simulated kernel booted with pcie_acs_override= (KernelOptions::acs_override,
// cosim/groups/acs_override.h): the IOMMU core groups as a kernel with the out-of-tree patch
// would, the command line is logged, no ACS register changes. And the ACS quirk answers for the
// SR-IOV NIC's ids (docs/sriov.md): Linux lists the 82599 PF (8086:10fb) with
// pci_quirk_mf_endpoint_acs, not its VF (8086:10ed).
#include <set>

#include "groups/acs_quirks.h"
#include "iommu/iommu_api.h"
#include "kernel_fixture.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {

// A 4-function endpoint without ACS in its functions (Realtek RTL8111 ids, no Linux quirk) on a
// root port with ACS.
const char* kMultifunction = R"(
name: acs-override-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 2, width: 4}
        acs: {capability: [SV, RR, CR, UF]}
        below:
          endpoint:
            name: mf0
            functions:
              - {count: 4, vendor: 0x10ec, device: 0x8168, class: 0x020000, bars: [{index: 0, size: 1MiB}]}
iommus:
  - {name: dmar0, preset: qemu-7.2, include_all: true}
)";

struct KernelAcsOverride : KernelFixture {
  int group(const std::string& name) {
    cosim::GroupRec* g = k->iommu().group_of(dev(name));
    return g ? g->id : -1;
  }
  std::set<int> groups_of(std::initializer_list<const char*> names) {
    std::set<int> out;
    for (const char* n : names) out.insert(group(n));
    return out;
  }
};

TEST_F(KernelAcsOverride, WithoutTheOverrideAMultifunctionDeviceWithoutAcsIsOneGroup) {
  boot(kMultifunction);
  EXPECT_EQ(groups_of({"mf0", "mf0.f1", "mf0.f2", "mf0.f3"}).size(), 1u);
  EXPECT_TRUE(logged("Kernel command line: intel_iommu=on")) << dmesg();
  EXPECT_FALSE(logged("pcie_acs_override")) << dmesg();
}

TEST_F(KernelAcsOverride, MultifunctionGivesEachFunctionItsOwnGroupAndIsLogged) {
  cosim::KernelOptions o;
  o.acs_override.multifunction = true;
  boot(kMultifunction, o);
  const std::set<int> g = groups_of({"mf0", "mf0.f1", "mf0.f2", "mf0.f3"});
  EXPECT_EQ(g.size(), 4u);
  EXPECT_EQ(g.count(-1), 0u) << "every function has a group";
  EXPECT_TRUE(logged("Kernel command line: intel_iommu=on pcie_acs_override=multifunction")) << dmesg();
  // The patch changes what pci_acs_enabled() answers, not the hardware: still no ACS capability.
  EXPECT_EQ(fn(*f, "mf0.f1").fn->config().find_ext_capability(0x000d), 0);
}

TEST_F(KernelAcsOverride, AnIdEntryMatchesOnlyThatDevice) {
  cosim::KernelOptions o;
  o.acs_override.ids = {{0x10ec, 0x8168}};
  boot(kMultifunction, o);
  EXPECT_EQ(groups_of({"mf0", "mf0.f1", "mf0.f2", "mf0.f3"}).size(), 4u);
  EXPECT_TRUE(logged("pcie_acs_override=id:10ec:8168")) << dmesg();
}

TEST_F(KernelAcsOverride, AnIdEntryForAnotherDeviceChangesNothing) {
  cosim::KernelOptions o;
  o.acs_override.ids = {{0x8086, 0x1234}};
  boot(kMultifunction, o);
  EXPECT_EQ(groups_of({"mf0", "mf0.f1", "mf0.f2", "mf0.f3"}).size(), 1u);
}

// pci_device_group walks up from epA: dpA has no ACS, so epA joins dpA's group (each downstream
// port's own group, since the switch's upstream port is single-function and rp0 has ACS).
TEST_F(KernelAcsOverride, WithoutTheOverrideAnEndpointSharesTheGroupOfItsPortWithoutAcs) {
  boot();  // kKernelTopology: epA, epB below dpA, dpB (no ACS capability) of sw0
  EXPECT_EQ(group("epA"), group("dpA"));
  EXPECT_EQ(group("epB"), group("dpB"));
}

// With `downstream` pci_acs_enabled(dpA) answers yes: the walk stops below dpA, epA is alone.
TEST_F(KernelAcsOverride, DownstreamOverrideSeparatesTheEndpointFromItsPort) {
  cosim::KernelOptions o;
  o.acs_override.downstream = true;
  boot(kKernelTopology, o);
  EXPECT_NE(group("epA"), group("dpA"));
  EXPECT_NE(group("epB"), group("dpB"));
  EXPECT_TRUE(logged("pcie_acs_override=downstream")) << dmesg();
}

// Linux 6.1 drivers/pci/quirks.c pci_dev_acs_enabled[] lists 8086:10F7..10FC (82599) with
// pci_quirk_mf_endpoint_acs; no entry names the 82599 VF (10ED), so VFs fall through to
// pci_acs_enabled()'s rules (single-function: isolated).
TEST(SriovNicAcsQuirk, LinuxListsThe82599PfButNotItsVf) {
  groups::HostView host;
  groups::FunctionView pf;
  pf.vendor = 0x8086;
  pf.device = 0x10fb;
  pf.class_code = 0x020000;
  pf.header_type = 0;
  pf.multifunction = true;
  pf.port_type = groups::PortType::Endpoint;
  host.functions.push_back(pf);
  groups::FunctionView vf = pf;
  vf.device = 0x10ed;
  vf.devfn = 0x80;
  vf.multifunction = false;
  host.functions.push_back(vf);
  host.link_parents();
  const groups::AcsQuirkAnswer a = groups::acs_quirk(host, 0, groups::PortType::Endpoint);
  EXPECT_EQ(a.kind, groups::AcsQuirkAnswer::Enabled) << a.why;
  EXPECT_EQ(groups::acs_quirk(host, 1, groups::PortType::Endpoint).kind, groups::AcsQuirkAnswer::NoQuirk);
}

}  // namespace
