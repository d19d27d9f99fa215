// DMA-alias devices under the co-simulated Linux 6.1 (docs/dma-alias.md, scenarios/topologies/
// dma-alias.yaml): a Marvell 88SE9215 whose function 0 DMAs as function 1, the same behaviour
// under an id no quirk lists, a phantom-function device, and conventional PCI devices behind a
// PCIe-to-PCI bridge. Groups, context entries and fault attribution as Linux's rules give them.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "iommu/iommu_api.h"
#include "kernel/kapi.h"
#include "kernel_fixture.h"
#include "pcie/pcie_regs.h"

namespace pciesim::test {
namespace {

std::string topology_file() {
  const char* src = std::getenv("PCIESIM_SOURCE_DIR");
  std::ifstream in(std::string(src ? src : ".") + "/scenarios/topologies/dma-alias.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string bdf_short(RequesterId r) {
  char b[16];
  std::snprintf(b, sizeof b, "%02x:%02x.%u", r.bus, r.device(), r.function());
  return b;
}

struct KernelDmaAlias : KernelFixture {
  void SetUp() override {
    const std::string yaml = topology_file();
    ASSERT_FALSE(yaml.empty()) << "scenarios/topologies/dma-alias.yaml not found (PCIESIM_SOURCE_DIR)";
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
  // A coherent buffer in `name`'s default domain: (cpu address, IOVA).
  std::pair<uint8_t*, dma_addr_t> buffer(const std::string& name) {
    pci_dev* d = dev(name).dev.get();
    void* cpu = nullptr;
    dma_addr_t h = 0;
    k->run("alloc", [&] { cpu = dma_alloc_coherent(&d->dev, 4096, &h, GFP_KERNEL); });
    EXPECT_NE(cpu, nullptr);
    return {static_cast<uint8_t*>(cpu), h};
  }
  Sent write(const std::string& from, uint64_t addr, uint8_t fill, DmaOptions opt = {}) {
    return send(*f, from, TlpKind::MemWrite, addr, 64, opt, std::vector<uint8_t>(64, fill));
  }
  void let_interrupts_run() {
    k->run("idle", [] { msleep(1); });
  }
  std::string fault_line(RequesterId r, uint64_t addr, unsigned reason = 0x02) {
    char b[160];
    std::snprintf(b, sizeof b, "DMAR: [DMA Write NO_PASID] Request device [%s] fault addr %#llx [fault reason 0x%02x]",
                  bdf_short(r).c_str(), static_cast<unsigned long long>(addr), reason);
    return b;
  }
};

// quirk_dma_func1_alias: pci_add_dma_alias() at header-fixup time says so, and pci_device_group()
// finds function 1 through function 0's alias although ACS would separate the functions.
TEST_F(KernelDmaAlias, MarvellFunc1AliasIsAddedAtScanAndJoinsBothFunctionsInOneGroup) {
  EXPECT_TRUE(logged("pci 0000:01:00.0: Enabling fixed DMA alias to 00.1")) << dmesg();
  EXPECT_FALSE(logged("pci 0000:01:00.1: Enabling fixed DMA alias")) << "function 1 is the alias itself";
  EXPECT_EQ(group("sata0.f0"), group("sata0.f1"));
  EXPECT_NE(group("sata0.f0"), group("ph0"));
  // The same hardware under an unlisted id: no alias, and the functions' ACS keeps them apart.
  EXPECT_FALSE(logged("pci 0000:02:00.0: Enabling fixed DMA alias")) << dmesg();
  EXPECT_NE(group("sata1.f0"), group("sata1.f1"));
}

// intel-iommu programs a context entry for every DMA alias (domain_context_mapping ->
// pci_for_each_dma_alias), so function 0's DMA carrying 01:00.1 is translated by its domain.
TEST_F(KernelDmaAlias, QuirkedFunctionsDmaWithTheAliasIdIsTranslatedByItsDomain) {
  enable("sata0.f0");
  auto [cpu, iova] = buffer("sata0.f0");
  ASSERT_NE(cpu, nullptr);
  const Sent s = write("sata0.f0", iova, 0x5c);
  EXPECT_EQ(s.requester_on_wire, RequesterId::from_bdf(1, 0, 1)) << "the model puts function 1's id on the TLP";
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s) << "\n" << dmesg();
  EXPECT_TRUE(s.passed("dmar0"));
  EXPECT_EQ(cpu[0], 0x5c);
  EXPECT_EQ(cpu[63], 0x5c);
}

// The ghost case with the quirk: no function 1 exists, so only the alias makes intel-iommu program
// 07:00.1's context entry (domain_context_mapping -> pci_for_each_dma_alias).
TEST_F(KernelDmaAlias, QuirkedGhostAliasGetsAContextEntryWithTheDevicesDomain) {
  EXPECT_TRUE(logged("pci " + dev("sata3").name + ": Enabling fixed DMA alias to 00.1")) << dmesg();
  enable("sata3");
  auto [cpu, iova] = buffer("sata3");
  ASSERT_NE(cpu, nullptr);
  const Sent s = write("sata3", iova, 0x5d);
  EXPECT_EQ(s.requester_on_wire, (RequesterId{dev("sata3").bdf.bus, 1}));
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s) << "\n" << dmesg();
  EXPECT_EQ(cpu[0], 0x5d);
}

// Without a quirk entry the alias id is simply another function's: a present function 1 has its
// own default domain, which translates function 0's DMA and does not map its buffer (legacy-mode
// write to a non-present PTE: reason 0x05), attributed to 02:00.1.
TEST_F(KernelDmaAlias, UnquirkedFunctionsDmaIsTranslatedByTheAliasFunctionsDomain) {
  enable("sata1.f0");
  auto [cpu, iova] = buffer("sata1.f0");
  ASSERT_NE(cpu, nullptr);
  const Sent s = write("sata1.f0", iova, 0x77);
  const RequesterId alias = RequesterId::from_bdf(2, 0, 1);
  EXPECT_EQ(s.requester_on_wire, alias);
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault) << path_text(s);
  EXPECT_EQ(s.verdict.fault_reason, 0x05);
  EXPECT_EQ(cpu[0], 0) << "the write never reached memory";
  let_interrupts_run();
  EXPECT_TRUE(logged(fault_line(alias, iova, 0x05))) << dmesg();
}

// Without a quirk entry and without a function 1 ("ghost" requester, as on Marvell SKUs that lack
// it) nothing programs the alias's context entry: VT-d fault reason 0x2, context entry not
// present, attributed to the id on the TLP (bugzilla.kernel.org 42679 shows the same line).
TEST_F(KernelDmaAlias, UnquirkedGhostAliasFaultsWithContextEntryNotPresent) {
  enable("sata2");
  auto [cpu, iova] = buffer("sata2");
  ASSERT_NE(cpu, nullptr);
  const Sent s = write("sata2", iova, 0x78);
  const RequesterId alias{dev("sata2").bdf.bus, 1};
  EXPECT_EQ(s.requester_on_wire, alias);
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault) << path_text(s);
  EXPECT_EQ(s.verdict.fault_reason, 0x02);
  EXPECT_EQ(cpu[0], 0);
  let_interrupts_run();
  EXPECT_TRUE(logged(fault_line(alias, iova) + " Present bit in context entry is clear")) << dmesg();
}

// PCIe 7.5.3.3-4: the DEVCAP field is what the topology says and DEVCTL Phantom Functions Enable
// is writable only then; Linux 6.1 leaves the bit clear (nothing in drivers/pci sets it).
TEST_F(KernelDmaAlias, PhantomFunctionsAreAdvertisedAndLeftDisabledByLinux) {
  pci_dev* d = dev("ph0").dev.get();
  uint32_t devcap = 0;
  uint16_t devctl = 0;
  k->run("read", [&] {
    pcie_capability_read_dword(d, 4, &devcap);
    pcie_capability_read_word(d, 8, &devctl);
  });
  EXPECT_EQ((devcap >> 3) & 3, 1u);
  EXPECT_EQ(devctl & regs::kDevCtlPhantom, 0u);
  // A function without phantom functions has the bit read-only 0.
  pci_dev* other = dev("sata0.f1").dev.get();
  k->run("write", [&] {
    uint16_t v = 0;
    pcie_capability_read_word(other, 8, &v);
    pcie_capability_write_word(other, 8, static_cast<uint16_t>(v | regs::kDevCtlPhantom));
    pcie_capability_read_word(other, 8, &v);
    EXPECT_EQ(v & regs::kDevCtlPhantom, 0u);
  });
}

// Phantom requests carry function 4 (N = 1: the function number's MSB). Linux adds no alias for
// them, so they fault with 03:00.4 attributed; with the enable bit clear the device must use its
// own id, and the same DMA is translated.
TEST_F(KernelDmaAlias, PhantomFunctionRequestsFaultWithThePhantomIdUnlessDisabled) {
  enable("ph0");
  auto [cpu, iova] = buffer("ph0");
  ASSERT_NE(cpu, nullptr);
  DmaOptions phantom;
  phantom.phantom = 1;
  const Sent own = write("ph0", iova, 0x31, phantom);
  EXPECT_EQ(own.requester_on_wire, RequesterId::from_bdf(3, 0, 0)) << "Phantom Functions Enable is clear";
  EXPECT_EQ(own.verdict.outcome, Outcome::Delivered) << path_text(own);
  EXPECT_EQ(cpu[0], 0x31);

  pci_dev* d = dev("ph0").dev.get();
  k->run("enable phantom", [&] { pcie_capability_clear_and_set_word(d, 8, 0, regs::kDevCtlPhantom); });
  const Sent s = write("ph0", iova, 0x32, phantom);
  const RequesterId ph = RequesterId::from_bdf(3, 0, 4);
  EXPECT_EQ(s.requester_on_wire, ph);
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault) << path_text(s);
  EXPECT_EQ(s.verdict.fault_reason, 0x02);
  EXPECT_EQ(cpu[0], 0x31);
  let_interrupts_run();
  EXPECT_TRUE(logged(fault_line(ph, iova))) << dmesg();
  // Without a phantom request the enabled device still uses its own id.
  EXPECT_EQ(write("ph0", iova, 0x33).verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(cpu[0], 0x33);
}

// Conventional PCI behind a PCIe-to-PCI bridge: the bridge takes ownership with (secondary bus,
// 00.0), so both devices share the bridge's group and the context entry for that alias
// translates their DMA (pci_for_each_dma_alias; intel-iommu maps every alias).
TEST_F(KernelDmaAlias, ConventionalDevicesBehindThePcieToPciBridgeShareItsGroupAndAlias) {
  EXPECT_EQ(group("cdev1"), group("pcibr0"));
  EXPECT_EQ(group("cdev2"), group("pcibr0"));
  const std::vector<RequesterId> aliases = k->iommu().dma_aliases(dev("cdev1"));
  ASSERT_FALSE(aliases.empty());
  const RequesterId bridge_alias{dev("cdev1").bdf.bus, 0};
  EXPECT_EQ(aliases.back(), bridge_alias) << "the last alias is the one the IOMMU sees";
  enable("cdev1");
  auto [cpu, iova] = buffer("cdev1");
  ASSERT_NE(cpu, nullptr);
  const Sent s = write("cdev1", iova, 0x44);
  EXPECT_EQ(s.verdict.outcome, Outcome::Delivered) << path_text(s);
  EXPECT_EQ(cpu[0], 0x44);
}

}  // namespace
}  // namespace pciesim::test
