// Conventional PCI-to-PCI bridges nested behind a PCIe-to-PCI bridge under the co-simulated
// Linux 6.1 (scenarios/topologies/pci-chain.yaml, docs/dma-alias.md): the scan finds every bridge
// and device and logs them as drivers/pci/probe.c does, everything behind the PCIe-to-PCI bridge
// is one IOMMU group (pci_device_group: no ACS on the way up), the alias chain is
// pci_for_each_dma_alias()'s, intel-iommu's context entry for the last alias translates the DMA,
// and a fault is attributed to that alias in the Linux-format DMAR line.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "iommu/iommu_api.h"
#include "kernel/kapi.h"
#include "kernel_fixture.h"

namespace pciesim::test {
namespace {

std::string topology_file() {
  const char* src = std::getenv("PCIESIM_SOURCE_DIR");
  std::ifstream in(std::string(src ? src : ".") + "/scenarios/topologies/pci-chain.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RequesterId bdf(unsigned bus, unsigned dev, unsigned fn) { return RequesterId::from_bdf(bus, dev, fn); }

struct KernelPciChain : KernelFixture {
  void SetUp() override {
    const std::string yaml = topology_file();
    ASSERT_FALSE(yaml.empty()) << "scenarios/topologies/pci-chain.yaml not found (PCIESIM_SOURCE_DIR)";
    boot(yaml);
  }
  int group(const std::string& name) {
    cosim::GroupRec* g = k->iommu().group_of(dev(name));
    return g ? g->id : -1;
  }
  void enable(const std::string& name) {
    pci_dev* d = dev(name).dev.get();
    k->run("enable", [&] {
      ASSERT_EQ(pci_enable_device(d), 0);
      pci_set_master(d);
    });
  }
  std::pair<uint8_t*, dma_addr_t> buffer(const std::string& name) {
    pci_dev* d = dev(name).dev.get();
    void* cpu = nullptr;
    dma_addr_t h = 0;
    k->run("alloc", [&] { cpu = dma_alloc_coherent(&d->dev, 4096, &h, GFP_KERNEL); });
    EXPECT_NE(cpu, nullptr);
    return {static_cast<uint8_t*>(cpu), h};
  }
  Sent write(const std::string& from, uint64_t addr, uint8_t fill) {
    return send(*f, from, TlpKind::MemWrite, addr, 64, {}, std::vector<uint8_t>(64, fill));
  }
};

// probe.c: pci_setup_device logs "[vvvv:dddd] type 01 class 0x060400" for each bridge, and each
// bridge's bus range is printed as %pR of its bus resource ("[bus 04]" for a single bus).
TEST_F(KernelPciChain, ScanFindsTheNestedBridgesAndTheirDevices) {
  EXPECT_TRUE(logged("pci 0000:01:00.0: [1b36:000e] type 01 class 0x060400")) << dmesg();
  EXPECT_TRUE(logged("pci 0000:01:00.0: PCI bridge to [bus 02-04]")) << dmesg();
  EXPECT_TRUE(logged("pci 0000:02:02.0: [104c:ac28] type 01 class 0x060400")) << dmesg();
  EXPECT_TRUE(logged("pci 0000:02:02.0: PCI bridge to [bus 03-04]")) << dmesg();
  EXPECT_TRUE(logged("pci 0000:03:03.0: [1011:0026] type 01 class 0x060400")) << dmesg();
  EXPECT_TRUE(logged("pci 0000:03:03.0: PCI bridge to [bus 04]")) << dmesg();
  EXPECT_TRUE(logged("pci 0000:04:04.0: [1234:11e8] type 00 class 0x00ff00")) << dmesg();
  EXPECT_TRUE(logged("pci 0000:04:05.0: [10ec:8139] type 00 class 0x020000")) << dmesg();
  EXPECT_TRUE(logged("pci 0000:03:00.0: [1000:0012] type 00 class 0x010000")) << dmesg();
  EXPECT_EQ(dev("ppb1").dev->pcie_cap, 0) << "a conventional bridge has no PCI Express capability";
  ASSERT_NE(dev("ppb1").dev->subordinate, nullptr);
  EXPECT_EQ(dev("edu0").dev->bus, dev("ppb1").dev->subordinate);
}

// drivers/iommu/iommu.c pci_device_group: the walk up stops only at a bridge with ACS; neither
// PCI-to-PCI bridge nor the PCIe-to-PCI bridge has it, so every device and bridge below the
// root port shares one group, apart from the device on the other root port.
TEST_F(KernelPciChain, EverythingBehindThePcieToPciBridgeIsOneGroup) {
  const int g = group("pcibr0");
  ASSERT_GE(g, 0);
  for (const char* n : {"fxp0", "ppb0", "scsi0", "ppb1", "edu0", "rtl0"}) EXPECT_EQ(group(n), g) << n;
  EXPECT_NE(group("edu1"), g);
}

// drivers/pci/search.c pci_for_each_dma_alias: the device, then each conventional bridge's own id
// on the way up, then the PCIe-to-PCI bridge's (secondary bus, 00.0); the root port adds nothing.
TEST_F(KernelPciChain, TheAliasChainIsPciForEachDmaAliases) {
  const std::vector<RequesterId> want{bdf(4, 5, 0), bdf(3, 3, 0), bdf(2, 2, 0), bdf(2, 0, 0)};
  EXPECT_EQ(k->iommu().dma_aliases(dev("rtl0")), want);
  const std::vector<RequesterId> scsi{bdf(3, 0, 0), bdf(2, 2, 0), bdf(2, 0, 0)};
  EXPECT_EQ(k->iommu().dma_aliases(dev("scsi0")), scsi);
}

// intel-iommu domain_context_mapping programs every alias; the DMA arrives as 02:00.0 and is
// translated by the group's domain.
TEST_F(KernelPciChain, DmaFromTwoBridgesDownIsTranslatedThroughTheAliasContext) {
  enable("edu0");
  auto [cpu, iova] = buffer("edu0");
  ASSERT_NE(cpu, nullptr);
  const Sent s = write("edu0", iova, 0x4c);
  EXPECT_EQ(s.requester_on_wire, bdf(2, 0, 0));
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s) << "\n" << dmesg();
  EXPECT_TRUE(s.passed("ppb1"));
  EXPECT_TRUE(s.passed("dmar0"));
  EXPECT_EQ(cpu[0], 0x4c);
  EXPECT_EQ(cpu[63], 0x4c);
}

// A write outside the mapped buffer faults in the group's domain; VT-d records the requester id
// it saw, so Linux's DMAR line names the alias, not rtl0's 04:05.0.
TEST_F(KernelPciChain, AFaultIsAttributedToThePcieToPciBridgeAlias) {
  enable("rtl0");
  auto [cpu, iova] = buffer("rtl0");
  ASSERT_NE(cpu, nullptr);
  const uint64_t bad = iova + 0x100000;
  const Sent s = write("rtl0", bad, 0x66);
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault) << path_text(s);
  k->run("idle", [] { msleep(1); });
  char line[160];
  std::snprintf(line, sizeof line, "DMAR: [DMA Write NO_PASID] Request device [02:00.0] fault addr %#llx [fault reason 0x%02x]",
                static_cast<unsigned long long>(bad), s.verdict.fault_reason);
  EXPECT_TRUE(logged(line)) << dmesg();
  EXPECT_FALSE(logged("Request device [04:05.0]")) << dmesg();
}

}  // namespace
}  // namespace pciesim::test
