// SR-IOV under the co-simulated Linux 6.1 (docs/sriov.md): writing sriov_numvfs to an 82599-like
// PF (models/devices/sriov_nic) through its driver's sriov_configure -> pci_enable_sriov: VFs
// that appear as pci_devs with is_virtfn, physfn, the VF Device ID and their VF BAR resources,
// IOMMU groups by Linux's rules (own group below an ACS root port; the upstream group below a
// switch port without ACS), context entries for the VF RIDs, and disabling that removes them.
#include <cstring>
#include <set>

#include "iommu/intel_iommu.h"
#include "iommu/iommu_api.h"
#include "iommu/iommu_core.h"
#include "kernel/kapi.h"
#include "kernel/sysfs.h"
#include "kernel_fixture.h"
#include "pcie/pcie_regs.h"

namespace pciesim::test {
namespace {

// nicR on a root port with ACS (Linux enables SV/RR/CR/UF), nicS below a switch port without ACS.
const char* kSriovTopology = R"(
name: kernel-sriov
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 3, width: 8}
        acs: {capability: all, control: none}
        below:
          endpoint: {name: nicR, model: sriov-nic, params: {total_vfs: 8}}
      - name: rp1
        device: 2
        link: {gen: 3, width: 8}
        acs: {capability: all, control: none}
        below:
          switch:
            name: sw0
            ports:
              - name: dpA
                device: 0
                link: {gen: 3, width: 8}
                acs: none
                below:
                  endpoint: {name: nicS, model: sriov-nic, params: {total_vfs: 4}}
iommus:
  - {name: dmar0, preset: server, include_all: true}
)";

// A PF driver as ixgbe is one for SR-IOV: sriov_configure enables or disables VFs.
int pf_probe(struct pci_dev*, const struct pci_device_id*) { return 0; }
void pf_remove(struct pci_dev* dev) { pci_disable_sriov(dev); }
int pf_sriov_configure(struct pci_dev* dev, int num_vfs) {
  if (num_vfs == 0) {
    pci_disable_sriov(dev);
    return 0;
  }
  const int rc = pci_enable_sriov(dev, num_vfs);
  return rc ? rc : num_vfs;
}
const struct pci_device_id kPfIds[] = {{0x8086, 0x10fb, static_cast<__u32>(PCI_ANY_ID), static_cast<__u32>(PCI_ANY_ID), 0, 0, 0, 0}, {}};
struct pci_driver g_pf_driver = {"sriov_pf_test", kPfIds, pf_probe, pf_remove, nullptr, pf_sriov_configure,
                                 nullptr, {}, false};

struct KernelSriov : KernelFixture {
  void SetUp() override { boot(kSriovTopology); }
  int group(const cosim::PciDev& d) {
    cosim::GroupRec* g = k->iommu().group_of(d);
    return g ? g->id : -1;
  }
  std::vector<cosim::PciDev*> vfs_of(const cosim::PciDev& pf) {
    std::vector<cosim::PciDev*> out;
    for (const auto& d : k->pci().devices())
      if (d->dev->is_virtfn && d->dev->physfn == pf.dev.get()) out.push_back(d.get());
    return out;
  }
};

}  // namespace

TEST_F(KernelSriov, NumvfsNeedsADriverWithSriovConfigure) {
  cosim::PciDev& pf = dev("nicR");
  EXPECT_EQ(k->pci().sriov_numvfs_store(pf, 2), -ENOENT);
  EXPECT_TRUE(logged("no driver bound to device; cannot configure SR-IOV")) << dmesg();
  EXPECT_EQ(k->pci().sriov_numvfs_store(pf, 9), -ERANGE) << "TotalVFs is 8";
  EXPECT_TRUE(vfs_of(pf).empty());
}

TEST_F(KernelSriov, EnablingVfsAddsPciDevsWithTheirOwnGroupsAndContextEntries) {
  ASSERT_EQ(k->pci().register_driver(&g_pf_driver, "sriov_pf_test"), 0);
  cosim::PciDev& pf = dev("nicR");
  ASSERT_EQ(pf.dev->driver, &g_pf_driver);
  const size_t before = k->pci().devices().size();
  // As an administrator does it: the PF's sysfs attributes (sriov_pf_dev_attrs).
  const std::string dir = "/sys/bus/pci/devices/" + pf.name + "/";
  std::string text;
  ASSERT_EQ(k->sysfs().read(dir + "sriov_totalvfs", text), 0);
  EXPECT_EQ(text, "8\n");
  EXPECT_EQ(k->sysfs().write(dir + "sriov_numvfs", "four"), -EINVAL);
  EXPECT_EQ(k->sysfs().write(dir + "sriov_totalvfs", "4"), -EACCES);
  ASSERT_EQ(k->sysfs().write(dir + "sriov_numvfs", "4\n"), 0) << dmesg();
  ASSERT_EQ(k->sysfs().read(dir + "sriov_numvfs", text), 0);
  EXPECT_EQ(text, "4\n");
  EXPECT_EQ(k->pci().devices().size(), before + 4);
  EXPECT_EQ(pci_num_vf(pf.dev.get()), 4);
  const std::vector<cosim::PciDev*> vfs = vfs_of(pf);
  ASSERT_EQ(vfs.size(), 4u);
  std::set<int> groups{group(pf)};
  const uint16_t sriov = pf.sriov_pos;
  uint32_t bar0 = 0, bar0_hi = 0;
  k->pci().config_read(pf.dev.get(), sriov + PCI_SRIOV_BAR, 4, bar0);
  k->pci().config_read(pf.dev.get(), sriov + PCI_SRIOV_BAR + 4, 4, bar0_hi);
  const uint64_t vf_bar0 = (uint64_t{bar0_hi} << 32) | (bar0 & ~0xfu);
  cosim::IntelIommu* unit = k->iommu().unit_for(pf);
  ASSERT_NE(unit, nullptr);
  for (unsigned n = 0; n < vfs.size(); ++n) {
    const cosim::PciDev& vf = *vfs[n];
    SCOPED_TRACE(vf.name);
    EXPECT_EQ(vf.bdf, (RequesterId{pf.bdf.bus, static_cast<uint8_t>(pf.bdf.devfn + 128 + 2 * n)}));
    EXPECT_EQ(vf.dev->vendor, 0x8086);
    EXPECT_EQ(vf.dev->device, 0x10ed) << "from the PF's VF Device ID";
    EXPECT_EQ(vf.dev->class_, 0x020000u);
    EXPECT_EQ(vf.dev->physfn, pf.dev.get());
    EXPECT_EQ(vf.dev->multifunction, 0u);
    EXPECT_EQ(vf.dev->pin, 0);
    EXPECT_NE(vf.dev->msix_cap, 0);
    EXPECT_EQ(vf.dev->resource[0].start, vf_bar0 + n * 16384);
    EXPECT_EQ(vf.dev->resource[0].end - vf.dev->resource[0].start + 1, 16384u);
    EXPECT_NE(vf.dev->resource[3].start, 0u);
    // Below an ACS root port a VF (not multifunction) gets a group of its own.
    const int g = group(vf);
    EXPECT_GE(g, 0);
    EXPECT_TRUE(groups.insert(g).second) << "group " << g << " shared";
    EXPECT_TRUE(logged(vf.name + ": Adding to iommu group " + std::to_string(g))) << dmesg();
    // intel-iommu attached its default domain: a context entry for the VF's RID.
    EXPECT_NE(unit->attached_domain(vf.bdf), nullptr);
  }
  EXPECT_TRUE(logged(vfs[0]->name + ": [8086:10ed] type 00 class 0x020000")) << dmesg();
  // A second enable without disabling first: -EBUSY, as sriov_numvfs_store says.
  EXPECT_EQ(k->pci().sriov_numvfs_store(pf, 2), -EBUSY);
  EXPECT_TRUE(logged("4 VFs already enabled. Disable before enabling 2 VFs")) << dmesg();
  // Disabling removes them: pci_devs, groups, context entries; the hardware's VFs are gone.
  const RequesterId vf0 = vfs[0]->bdf;
  const std::string vf0_name = vfs[0]->name;
  ASSERT_EQ(k->pci().sriov_numvfs_store(pf, 0), 0);
  EXPECT_TRUE(vfs_of(pf).empty());
  EXPECT_EQ(k->pci().devices().size(), before);
  EXPECT_EQ(unit->attached_domain(vf0), nullptr);
  EXPECT_TRUE(logged(vf0_name + ": Removing from iommu group")) << dmesg();
  uint32_t id = 0;
  EXPECT_FALSE(k->cpu().config_read(0, vf0, PCI_CLASS_REVISION, 4, id) && id != 0xffffffffu);
  // And they come back.
  ASSERT_EQ(k->pci().sriov_numvfs_store(pf, 8), 0);
  EXPECT_EQ(vfs_of(pf).size(), 8u);
  k->pci().unregister_driver(&g_pf_driver);
  EXPECT_TRUE(vfs_of(pf).empty()) << "the PF driver's remove disabled SR-IOV";
}

TEST_F(KernelSriov, VfsBelowASwitchPortWithoutAcsShareTheUpstreamGroup) {
  ASSERT_EQ(k->pci().register_driver(&g_pf_driver, "sriov_pf_test"), 0);
  cosim::PciDev& pf = dev("nicS");
  ASSERT_EQ(k->pci().sriov_numvfs_store(pf, 4), 0) << dmesg();
  const std::vector<cosim::PciDev*> vfs = vfs_of(pf);
  ASSERT_EQ(vfs.size(), 4u);
  // pci_device_group: dpA has no ACS, so the walk up stops at the switch's upstream port and
  // every function below it (PF and VFs alike) lands in one group.
  for (const cosim::PciDev* vf : vfs) EXPECT_EQ(group(*vf), group(pf)) << vf->name;
  EXPECT_NE(group(pf), group(dev("nicR")));
}
}  // namespace pciesim::test
