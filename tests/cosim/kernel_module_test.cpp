// The issue's "done when": a driver-style module in C, compiled against cosim/include only
// (tests/cosim/modules/edu_dmatest.c), probes QEMU's edu device, maps buffers through the DMA API
// and sees the device DMA into them through VT-d; after unmap the IOMMU blocks the device and the
// intel-iommu driver prints the fault as Linux does (strict), or a stale IOTLB entry lets it
// through until the flush queue runs (lazy).
#include "iommu/remapping_unit.h"
#include "kernel/module_registry.h"
#include "kernel_fixture.h"
#include "kernel/kapi.h"

namespace pciesim::test {
namespace {

// edu as QEMU's q35 has it (on the root bus, as `-device edu`) and a second one below a root port.
const char* kEduTopology = R"(
name: edu-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    integrated:
      - name: edu0
        device: 3
        model: edu
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 3, width: 4}
        acs: {capability: all, control: [SV, RR, CR, UF]}
        below:
          endpoint:
            name: edu1
            model: edu
iommus:
  - name: dmar0
    preset: qemu-7.2
    include_all: true
)";

struct KernelModule : KernelFixture {
  void SetUp() override {}
  std::string bdf_short(const std::string& name) {
    const cosim::PciDev& d = dev(name);
    char b[16];
    std::snprintf(b, sizeof b, "%02x:%02x.%u", d.bdf.bus, d.bdf.device(), d.bdf.function());
    return b;
  }
};

TEST_F(KernelModule, TheModuleIsLinkedWithItsMetadata) {
  cosim::ModuleEntry* m = cosim::ModuleRegistry::instance().find("edu_dmatest");
  ASSERT_NE(m, nullptr);
  EXPECT_NE(m->init, nullptr);
  EXPECT_NE(m->exit, nullptr);
  EXPECT_EQ(m->info.find("license")->second, "GPL");
  ASSERT_EQ(m->params.size(), 1u);
  EXPECT_EQ(m->params[0].name, "fault_after_unmap");
}

TEST_F(KernelModule, ProbesBothEduDevicesAndTheirDmaGoesThroughVtd) {
  boot(kEduTopology);
  ASSERT_EQ(k->load_module("edu_dmatest"), 0) << dmesg();
  for (const char* name : {"edu0", "edu1"}) {
    const std::string bdf = dev(name).name;
    EXPECT_TRUE(logged("edu_dmatest " + bdf + ": edu 1.0, liveness ok")) << dmesg();
    EXPECT_TRUE(logged("edu_dmatest " + bdf + ": DMA round trip of 4096 bytes OK")) << dmesg();
    EXPECT_NE(dev(name).dev->driver, nullptr);
  }
  // Both buffers were IOVAs of the 28-bit mask, not physical addresses of the kernel's memory
  // (which lies above 512 MiB): the transfers were translated.
  const auto lines = k->log().grep("DMA round trip");
  ASSERT_EQ(lines.size(), 2u);
  const std::string& l = lines[0];
  const uint64_t coherent = std::stoull(l.substr(l.find("coherent ") + 9, 18), nullptr, 16);
  EXPECT_LT(coherent, 1ull << 28);
  EXPECT_GT(f->iommus()[0]->translations(), 0u);
  EXPECT_EQ(k->log().grep("DMAR: [DMA").size(), 0u) << "no faults: " << dmesg();
  EXPECT_EQ(k->unload_module("edu_dmatest"), 0);
  EXPECT_EQ(dev("edu0").dev->driver, nullptr) << "module_exit unregistered the driver";
}

TEST_F(KernelModule, StrictUnmapBlocksTheDeviceAndTheFaultIsLoggedAsLinuxDoes) {
  cosim::KernelOptions o;
  o.strict = true;
  boot(kEduTopology, o);
  ASSERT_EQ(k->load_module("edu_dmatest", "fault_after_unmap=1"), 0) << dmesg();
  const auto done = k->log().grep(dev("edu1").name + ": DMA to unmapped");
  ASSERT_EQ(done.size(), 1u) << dmesg();
  EXPECT_NE(done[0].find("memory untouched"), std::string::npos) << done[0];
  const auto faults = k->log().grep("DMAR: [DMA Write NO_PASID] Request device [" + bdf_short("edu1") + "] fault addr");
  ASSERT_FALSE(faults.empty()) << dmesg();
  EXPECT_NE(faults[0].find("[fault reason 0x05] PTE Write access is not set"), std::string::npos) << faults[0];
}

TEST_F(KernelModule, LazyUnmapIsFlushedByTheQueueTimerBeforeEdusTransferRuns) {
  boot(kEduTopology);  // Linux 6.1's default policy
  ASSERT_EQ(k->load_module("edu_dmatest", "fault_after_unmap=1"), 0) << dmesg();
  // Lazy unmap leaves the IOTLB entry until the flush queue flushes (KernelDma shows the window);
  // edu starts its transfer 100 ms after the command, long after the queue's 10 ms timer, so the
  // stale entry is gone and the write faults.
  const auto done = k->log().grep(dev("edu1").name + ": DMA to unmapped");
  ASSERT_EQ(done.size(), 1u) << dmesg();
  EXPECT_NE(done[0].find("memory untouched"), std::string::npos) << done[0];
  EXPECT_FALSE(k->log().grep("DMAR: [DMA Write NO_PASID] Request device [" + bdf_short("edu1") + "]").empty()) << dmesg();
}

TEST_F(KernelModule, BadParametersAndUnknownModulesAreRefused) {
  boot(kEduTopology);
  EXPECT_EQ(k->load_module("no_such_module"), -ENOENT);
  EXPECT_EQ(k->load_module("edu_dmatest", "fault_after_unmap=yes"), -EINVAL);
  EXPECT_TRUE(logged("edu_dmatest: 'yes' invalid for parameter 'fault_after_unmap'")) << dmesg();
  EXPECT_EQ(k->load_module("edu_dmatest", "nonsense=1"), -EINVAL);
  EXPECT_EQ(k->load_module("edu_dmatest"), 0);
  EXPECT_EQ(k->load_module("edu_dmatest"), -EEXIST);
}

}  // namespace
}  // namespace pciesim::test
