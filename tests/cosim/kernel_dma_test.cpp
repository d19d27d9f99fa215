// The co-simulated kernel's DMA API and interrupts over VT-d: translated DMA into what the kernel
// allocated, faults after unmap printed as Linux prints them (strict), stale translations until
// the flush queue's timer (lazy), DMA masks, the direct and identity cases, MSI through interrupt
// remapping to a handler, and a forged MSI blocked by source-id verification.
#include <cstring>

#include "devices/dram.h"
#include "iommu/iommu_api.h"
#include "kernel/irq_core.h"
#include "kernel_fixture.h"
#include "kernel/kapi.h"

namespace pciesim::test {
namespace {

std::string bdf_short(const cosim::PciDev& d) {
  char b[16];
  std::snprintf(b, sizeof b, "%02x:%02x.%u", d.bdf.bus, d.bdf.device(), d.bdf.function());
  return b;
}
std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

struct KernelDma : KernelFixture {
  void SetUp() override {}
  // The device as a driver leaves it: memory decoding and bus mastering on.
  void enable(const std::string& name) {
    pci_dev* d = dev(name).dev.get();
    k->run("enable", [&] {
      ASSERT_EQ(pci_enable_device(d), 0);
      pci_set_master(d);
    });
  }
  Sent dma_write(const std::string& from, uint64_t addr, uint8_t fill, unsigned len = 64) {
    return send(*f, from, TlpKind::MemWrite, addr, len, {}, std::vector<uint8_t>(len, fill));
  }
  // Lets the interrupt task run (fault handling, device handlers).
  void let_interrupts_run() {
    k->run("idle", [] { msleep(1); });
  }
};

TEST_F(KernelDma, CoherentBufferIsTranslatedBelow4GiBAndTheDeviceWritesIntoIt) {
  boot();
  enable("epF");
  pci_dev* d = dev("epF").dev.get();
  void* cpu = nullptr;
  dma_addr_t handle = 0;
  k->run("alloc", [&] {
    ASSERT_EQ(dma_set_mask_and_coherent(&d->dev, DMA_BIT_MASK(64)), 0);
    cpu = dma_alloc_coherent(&d->dev, 8192, &handle, GFP_KERNEL);
  });
  ASSERT_NE(cpu, nullptr);
  const uint64_t phys = k->memory().virt_to_phys(cpu);
  EXPECT_NE(handle, phys) << "with a DMA domain the device sees an IOVA";
  EXPECT_LT(handle, 1ull << 32) << "dma-iommu tries below 4 GiB first for PCI devices";
  EXPECT_FALSE(handle >= 0xfee00000ull && handle < 0xfef00000ull) << "never in the MSI window";
  const Sent s = dma_write("epF", handle + 4096, 0xa5);
  ASSERT_EQ(s.verdict.outcome, Outcome::Delivered);
  EXPECT_TRUE(s.passed("dmar0"));
  EXPECT_EQ(static_cast<uint8_t*>(cpu)[4096], 0xa5);
  EXPECT_EQ(static_cast<uint8_t*>(cpu)[4096 + 63], 0xa5);
  k->run("free", [&] { dma_free_coherent(&d->dev, 8192, cpu, handle); });
}

TEST_F(KernelDma, StrictUnmapMakesTheNextDmaFaultAndTheDriverPrintsLinuxsLine) {
  cosim::KernelOptions o;
  o.strict = true;
  boot(kKernelTopology, o);
  enable("epF");
  cosim::PciDev& fd = dev("epF");
  void* buf = nullptr;
  dma_addr_t h = 0;
  k->run("map", [&] {
    buf = kzalloc(4096, GFP_KERNEL);
    h = dma_map_single(&fd.dev->dev, buf, 4096, DMA_FROM_DEVICE);
    ASSERT_EQ(dma_mapping_error(&fd.dev->dev, h), 0);
  });
  EXPECT_EQ(dma_write("epF", h, 0x11).verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(static_cast<uint8_t*>(buf)[0], 0x11);
  // DMA_FROM_DEVICE maps write-only: the device may not read it.
  const Sent r = send(*f, "epF", TlpKind::MemRead, h, 64);
  EXPECT_EQ(r.verdict.outcome, Outcome::IommuFault);
  k->run("unmap", [&] { dma_unmap_single(&fd.dev->dev, h, 4096, DMA_FROM_DEVICE); });
  const Sent s = dma_write("epF", h, 0x22);
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(static_cast<uint8_t*>(buf)[0], 0x11) << "the write after unmap never reached memory";
  let_interrupts_run();
  const std::string line = "DMAR: [DMA Write NO_PASID] Request device [" + bdf_short(fd) + "] fault addr " + hex(h) +
                           " [fault reason 0x05] PTE Write access is not set";
  EXPECT_TRUE(logged(line)) << "expected: " << line << "\n" << dmesg();
  EXPECT_TRUE(logged("DMAR: [DMA Read NO_PASID] Request device [" + bdf_short(fd) + "] fault addr " + hex(h) +
                     " [fault reason 0x06] PTE Read access is not set"))
      << dmesg();
}

TEST_F(KernelDma, LazyUnmapLeavesAStaleTranslationUntilTheFlushQueueTimerFires) {
  boot();  // Linux 6.1's default: lazy
  enable("epF");
  cosim::PciDev& fd = dev("epF");
  void* buf = nullptr;
  dma_addr_t h = 0;
  k->run("map", [&] {
    buf = kzalloc(4096, GFP_KERNEL);
    h = dma_map_single(&fd.dev->dev, buf, 4096, DMA_BIDIRECTIONAL);
  });
  EXPECT_EQ(dma_write("epF", h, 0x33).verdict.outcome, Outcome::Delivered);  // the IOTLB now holds it
  k->run("unmap", [&] { dma_unmap_single(&fd.dev->dev, h, 4096, DMA_BIDIRECTIONAL); });
  EXPECT_EQ(dma_write("epF", h, 0x44).verdict.outcome, Outcome::Delivered)
      << "lazy: the IOTLB entry survives the unmap until the flush queue is flushed";
  EXPECT_EQ(static_cast<uint8_t*>(buf)[0], 0x44);
  k->run("wait", [] { msleep(20); });  // fq_flush_timeout: 10 ms
  EXPECT_EQ(dma_write("epF", h, 0x55).verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(static_cast<uint8_t*>(buf)[0], 0x44);
}

TEST_F(KernelDma, TheDmaMaskBoundsTheIova) {
  boot();
  pci_dev* d = dev("epA").dev.get();
  dma_addr_t h = 0;
  void* cpu = nullptr;
  k->run("alloc", [&] {
    ASSERT_EQ(dma_set_mask_and_coherent(&d->dev, DMA_BIT_MASK(28)), 0);
    cpu = dma_alloc_coherent(&d->dev, 4096, &h, GFP_KERNEL);
  });
  ASSERT_NE(cpu, nullptr);
  EXPECT_LT(h, 1ull << 28);
  EXPECT_GE(h, 4096u) << "IOVA 0 is never handed out";
}

TEST_F(KernelDma, WithoutTheIommuTheDmaAddressIsPhysicalAndThereAreNoGroups) {
  cosim::KernelOptions o;
  o.iommu = false;
  boot(kKernelTopology, o);
  enable("epF");
  pci_dev* d = dev("epF").dev.get();
  EXPECT_EQ(iommu_group_get(&d->dev), nullptr);
  void* cpu = nullptr;
  dma_addr_t h = 0;
  k->run("alloc", [&] { cpu = dma_alloc_coherent(&d->dev, 4096, &h, GFP_KERNEL); });
  EXPECT_EQ(h, k->memory().virt_to_phys(cpu));
  EXPECT_EQ(dma_write("epF", h, 0x66).verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(static_cast<uint8_t*>(cpu)[0], 0x66);
  EXPECT_TRUE(logged("DMAR: IOMMU disabled"));
}

TEST_F(KernelDma, PassthroughDomainsMapAllOfDramOneToOne) {
  cosim::KernelOptions o;
  o.passthrough = true;
  boot(kKernelTopology, o);
  enable("epF");
  pci_dev* d = dev("epF").dev.get();
  ASSERT_NE(iommu_get_domain_for_dev(&d->dev), nullptr);
  EXPECT_EQ(iommu_get_domain_for_dev(&d->dev)->type, IOMMU_DOMAIN_IDENTITY);
  void* cpu = nullptr;
  dma_addr_t h = 0;
  k->run("alloc", [&] { cpu = dma_alloc_coherent(&d->dev, 4096, &h, GFP_KERNEL); });
  EXPECT_EQ(h, k->memory().virt_to_phys(cpu));
  const Sent s = dma_write("epF", h, 0x77);
  EXPECT_EQ(s.verdict.outcome, Outcome::Delivered);
  EXPECT_TRUE(s.passed("dmar0")) << "still translated, by an identity table";
  EXPECT_EQ(static_cast<uint8_t*>(cpu)[0], 0x77);
}

TEST_F(KernelDma, UserDomainMapUnmapAndIovaToPhys) {
  boot();
  pci_dev* d = dev("epF").dev.get();
  iommu_domain* dom = nullptr;
  k->run("user", [&] {
    dom = iommu_domain_alloc(&pci_bus_type);
    ASSERT_NE(dom, nullptr);
    EXPECT_EQ(iommu_map(dom, 0x100000, 0x2000'0000, 0x4000, IOMMU_READ | IOMMU_WRITE), 0);
    EXPECT_EQ(iommu_map(dom, 0x100001, 0x2000'0000, 0x1000, IOMMU_READ), -EINVAL);
    EXPECT_EQ(iommu_iova_to_phys(dom, 0x101234), 0x2000'1234u);
    EXPECT_EQ(iommu_attach_group(dom, iommu_group_get(&d->dev)), 0);
    EXPECT_EQ(iommu_get_domain_for_dev(&d->dev), dom);
  });
  enable("epF");
  EXPECT_EQ(dma_write("epF", 0x102000, 0x88).verdict.outcome, Outcome::Delivered);
  uint8_t b = 0;
  f->dram().read(0x2000'2000, &b, 1);
  EXPECT_EQ(b, 0x88);
  k->run("unmap", [&] {
    EXPECT_EQ(iommu_unmap(dom, 0x100000, 0x4000), 0x4000u);
    EXPECT_EQ(iommu_iova_to_phys(dom, 0x101234), 0u);
    iommu_detach_group(dom, iommu_group_get(&d->dev));
    EXPECT_EQ(iommu_get_domain_for_dev(&d->dev)->type, IOMMU_DOMAIN_DMA_FQ) << "back to the default domain";
    iommu_domain_free(dom);
  });
}

TEST_F(KernelDma, AGroupOwnedByAUserRefusesKernelDriversAndTheOtherWayRound) {
  boot();
  pci_dev* d = dev("epF").dev.get();
  iommu_group* g = iommu_group_get(&d->dev);
  int owner = 0;
  k->run("claim", [&] {
    EXPECT_EQ(iommu_group_claim_dma_owner(g, &owner), 0);
    EXPECT_TRUE(iommu_group_dma_owner_claimed(g));
    EXPECT_EQ(iommu_group_claim_dma_owner(g, &owner), -EPERM);
  });
  enable("epF");
  EXPECT_EQ(dma_write("epF", 0x1000, 0x99).verdict.outcome, Outcome::IommuFault) << "the blocking domain";
  EXPECT_EQ(k->iommu().device_use_default_domain(dev("epF")), -EBUSY);
  k->run("release", [&] { iommu_group_release_dma_owner(g); });
  EXPECT_EQ(k->iommu().device_use_default_domain(dev("epF")), 0);
  k->run("claim again", [&] { EXPECT_EQ(iommu_group_claim_dma_owner(g, &owner), -EPERM); });
}

// ---- interrupts ----

int g_irqs = 0, g_last_irq = -1;
void* g_last_dev = nullptr;
irqreturn_t count_irq(int irq, void* dev) {
  ++g_irqs;
  g_last_irq = irq;
  g_last_dev = dev;
  return IRQ_HANDLED;
}

struct MsiMessageOnDevice {
  uint64_t address;
  uint32_t data;
};
MsiMessageOnDevice msi_of(Fabric& f, const std::string& name, uint16_t cap) {
  const uint32_t ctrl = cfg_read(f, name, cap + 2, 2);
  const bool is64 = ctrl & PCI_MSI_FLAGS_64BIT;
  uint64_t a = cfg_read(f, name, cap + 4);
  if (is64) a |= uint64_t(cfg_read(f, name, cap + 8)) << 32;
  return {a, cfg_read(f, name, cap + (is64 ? 12 : 8), 2)};
}

TEST_F(KernelDma, MsiGoesThroughInterruptRemappingToTheHandlerAndAForgedOneIsBlocked) {
  boot();
  g_irqs = 0;
  enable("epA");
  enable("epB");
  cosim::PciDev& a = dev("epA");
  int n = 0, irq0 = -1;
  k->run("irq", [&] {
    n = pci_alloc_irq_vectors(a.dev.get(), 1, 4, PCI_IRQ_MSI);
    irq0 = pci_irq_vector(a.dev.get(), 0);
    ASSERT_EQ(request_irq(static_cast<unsigned>(irq0), count_irq, 0, "epA", &a), 0);
  });
  ASSERT_EQ(n, 4) << "with interrupt remapping a function gets its whole multi-message block";
  EXPECT_TRUE(a.dev->msi_enabled);
  const MsiMessageOnDevice m = msi_of(*f, "epA", a.dev->msi_cap);
  EXPECT_EQ(m.address & 0xfff00010ull, 0xfee00010ull) << "remappable format (bit 4 set)";
  // The device signals vector 0: a DWORD write of the message.
  std::vector<uint8_t> data(4);
  std::memcpy(data.data(), &m.data, 4);
  Sent s = send(*f, "epA", TlpKind::MemWrite, m.address, 4, {}, data);
  EXPECT_EQ(s.verdict.outcome, Outcome::Delivered);
  let_interrupts_run();
  EXPECT_EQ(g_irqs, 1);
  EXPECT_EQ(g_last_irq, irq0);
  EXPECT_EQ(g_last_dev, &a);
  // epB sends epA's message: the IRTE's source-id check refuses it (VT-d 0x26).
  s = send(*f, "epB", TlpKind::MemWrite, m.address, 4, {}, data);
  EXPECT_EQ(s.verdict.outcome, Outcome::IommuFault);
  EXPECT_EQ(s.verdict.fault_reason, 0x26);
  let_interrupts_run();
  EXPECT_EQ(g_irqs, 1);
  EXPECT_TRUE(logged("DMAR: [INTR-REMAP] Request device [" + bdf_short(dev("epB")) + "] fault index")) << dmesg();
  EXPECT_TRUE(logged("[fault reason 0x26]")) << dmesg();
  k->run("free", [&] {
    free_irq(static_cast<unsigned>(irq0), &a);
    pci_free_irq_vectors(a.dev.get());
  });
  EXPECT_FALSE(a.dev->msi_enabled);
}

TEST_F(KernelDma, MsixVectorsEachGetAnIrteAndTheirOwnHandler) {
  boot();
  g_irqs = 0;
  enable("epF");
  cosim::PciDev& fd = dev("epF");
  int n = 0;
  k->run("irq", [&] {
    n = pci_alloc_irq_vectors(fd.dev.get(), 2, 8, PCI_IRQ_MSIX | PCI_IRQ_MSI);
    for (int i = 0; i < n; ++i)
      ASSERT_EQ(request_irq(static_cast<unsigned>(pci_irq_vector(fd.dev.get(), static_cast<unsigned>(i))), count_irq, 0, "epF", &fd), 0);
  });
  ASSERT_EQ(n, 8);
  EXPECT_TRUE(fd.dev->msix_enabled);
  // Entry 5 of the table in BAR memory, as the kernel programmed it through MMIO.
  const uint64_t entry = fd.msix_table + 5 * 16;
  const uint64_t addr = mmio_read(*f, entry) | (mmio_read(*f, entry + 4) << 32);
  const uint32_t data = static_cast<uint32_t>(mmio_read(*f, entry + 8));
  EXPECT_EQ(mmio_read(*f, entry + 12) & 1, 0u) << "unmasked";
  std::vector<uint8_t> bytes(4);
  std::memcpy(bytes.data(), &data, 4);
  EXPECT_EQ(send(*f, "epF", TlpKind::MemWrite, addr, 4, {}, bytes).verdict.outcome, Outcome::Delivered);
  let_interrupts_run();
  EXPECT_EQ(g_irqs, 1);
  EXPECT_EQ(g_last_irq, pci_irq_vector(fd.dev.get(), 5));
}

TEST_F(KernelDma, AnInterruptWithNoHandlerIsLoggedAsSpurious) {
  boot();
  enable("epB");
  cosim::PciDev& b = dev("epB");
  k->run("irq", [&] { ASSERT_EQ(pci_alloc_irq_vectors(b.dev.get(), 1, 1, PCI_IRQ_MSI), 1); });
  const MsiMessageOnDevice m = msi_of(*f, "epB", b.dev->msi_cap);
  std::vector<uint8_t> data(4);
  std::memcpy(data.data(), &m.data, 4);
  send(*f, "epB", TlpKind::MemWrite, m.address, 4, {}, data);
  let_interrupts_run();
  EXPECT_TRUE(logged("nobody cared")) << dmesg();
}

}  // namespace
}  // namespace pciesim::test
