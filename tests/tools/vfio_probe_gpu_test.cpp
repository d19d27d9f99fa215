// vfio_probe's GPU flow (tools/vfio_probe/vfio_probe_gpu.c) in the simulator, against the pciesim
// GPU (scenarios/topologies/gpu.yaml) bound to our variant driver's GPU personality
// (vfio_driver/gpu.c) and, for contrast, to Linux's vfio-pci: page tables in VRAM through BAR1,
// system memory -> VRAM -> system memory with the copy engine through the IOMMU, then an IOMMU
// fault and a GMMU fault each seen with its reason, the trapped invalidation window, and the scrub
// that leaves nothing of one user's VRAM to the next.
#include <gtest/gtest.h>
#include <fstream>
#include <sstream>
#include <linux/vfio.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "devices/gpu/gpu_device.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "vfio_probe_cosim.h"

namespace pciesim::test {
namespace {

using nlohmann::json;

struct GpuProbe : ::testing::Test {
  cli::Machine m;
  std::unique_ptr<cosim::Kernel> k;
  GpuDevice* gpu = nullptr;
  std::string name;
  std::string dmesg() const { return k->log().dmesg(); }

  void start(const std::string& driver, const std::string& module, const std::string& params = "",
             const std::string& topology = std::string(PCIESIM_SOURCE_ROOT) + "/scenarios/topologies/gpu.yaml") {
    m = cli::load_machine(topology);
    k = std::make_unique<cosim::Kernel>(*m.fabric);
    k->boot();
    ASSERT_EQ(k->load_module(module, params), 0) << dmesg();
    const FunctionInfo* fi = m.fabric->find("gpu0");
    ASSERT_NE(fi, nullptr);
    gpu = dynamic_cast<GpuDevice*>(fi->endpoint);
    ASSERT_NE(gpu, nullptr);
    name = k->pci().find(fi->segment, fi->bdf())->name;
    std::string step;
    ASSERT_EQ(tools::bind_to_driver(*k, name, driver, step), 0) << step << dmesg();
  }
  json run() {
    vfio_probe_options opt{};
    opt.device = name.c_str();
    opt.iova = VFIO_PROBE_DEFAULT_IOVA;
    opt.dma_len = VFIO_PROBE_DEFAULT_BYTES;
    opt.flow = VFIO_PROBE_FLOW_GPU;
    const tools::ProbeRun r = tools::run_vfio_probe(*k, opt);
    EXPECT_EQ(r.status, 0) << r.why << "\n" << r.json << dmesg();
    return json::parse(r.json);
  }
};

TEST_F(GpuProbe, TheCopyEngineFlowRunsThroughVfioAndBothFaultsAreReportedWithTheirReasons) {
  start("pciesim_vfio_pci", "pciesim_vfio_pci");
  const json j = run();
  ASSERT_EQ(j["completed"], true) << j.dump(2);
  // BAR0 and BAR1 with their sparse mmap capabilities; the invalidation window left out of BAR0.
  const json& bar0 = j["regions"][0];
  EXPECT_EQ(bar0["flags"], "0xf") << "READ | WRITE | MMAP | CAPS";
  ASSERT_EQ(bar0["caps"][0]["id"], VFIO_REGION_INFO_CAP_SPARSE_MMAP);
  EXPECT_EQ(bar0["caps"][0]["areas"][0]["size"], "0x2000");
  EXPECT_EQ(bar0["caps"][0]["areas"][1]["offset"], "0x3000");
  EXPECT_EQ(bar0["caps"][1]["id"], VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
  EXPECT_EQ(bar0["mmap"], 0);
  const json& bar1 = j["regions"][1];
  EXPECT_EQ(bar1["caps"][0]["areas"][0]["size"], bar1["size"]) << "VRAM backs all of BAR1";
  EXPECT_EQ(bar1["mmap"], 0);
  EXPECT_EQ(j["regions"][8]["result"], "EINVAL") << "a 3D controller has no VGA region";
  // Identity and the driver's info region.
  EXPECT_EQ(j["gpu"]["vendor"], "0x1234");
  EXPECT_EQ(j["gpu"]["device"], "0x9e10");
  EXPECT_EQ(j["gpu"]["boot0"], "0x9e10c0de");
  EXPECT_EQ(j["gpu"]["driver_info"]["magic"], "0x31757067");
  EXPECT_EQ(j["gpu"]["driver_info"]["inval_offset"], "0x2000");
  // system memory -> VRAM -> system memory, with the semaphore and the CE interrupt.
  const json& c = j["copy"];
  EXPECT_EQ(c["map"], 0);
  EXPECT_EQ(c["ce_error"], 0);
  EXPECT_EQ(c["ce_completed"], 2);
  EXPECT_EQ(c["semaphore"], "0x600dc0de5e");
  EXPECT_GE(c["ce_msi"], 1);
  EXPECT_EQ(c["vram_equal"], true);
  EXPECT_EQ(c["data_equal"], true);
  // The IOVA unmapped: the engine's read faults in the IOMMU (VT-d reason 6: read not allowed by
  // the absent second-level entry), the completion reports it, the engine halts with BUS_ERROR.
  const json& io = j["iommu_fault"];
  EXPECT_EQ(io["unmapped"], "0x2000");
  EXPECT_EQ(io["halted"], true);
  EXPECT_EQ(io["ce_error"], 6) << "kCeErrBusError";
  ASSERT_EQ(io["lines"].size(), 1u) << io.dump(2) << dmesg();
  EXPECT_EQ(io["lines"][0]["access"], "read");
  EXPECT_EQ(io["lines"][0]["source"], "01:00.0");
  EXPECT_EQ(io["lines"][0]["addr"], "0x1000000");
  EXPECT_EQ(io["lines"][0]["reason"], "0x6");
  // A VA with no valid PTE: a GMMU fault in the fault buffer, with its MSI-X.
  const json& g = j["gmmu_fault"];
  EXPECT_EQ(g["status_after_resume"], "0x0") << "RESUME skipped the failed command";
  EXPECT_EQ(g["fault_msi"], 1);
  EXPECT_EQ(g["ce_error"], 2) << "kCeErrSrcFault";
  EXPECT_EQ(g["fault_put"], 1);
  EXPECT_EQ(g["entry"]["va"], "0x206000");
  EXPECT_EQ(g["entry"]["inst"], "0x10000");
  EXPECT_EQ(g["entry"]["fault_type"], "0x2") << "NV_PFAULT_FAULT_TYPE_PTE";
  EXPECT_EQ(g["entry"]["access_type"], 0) << "read";
  EXPECT_EQ(g["entry"]["engine"], 15) << "CE0";
  EXPECT_EQ(g["entry"]["valid"], true);
  EXPECT_EQ(g["intr_status_after_ack"], "0x0");
  // The trapped window: a by-context invalidation goes through; an undefined scope and a context
  // the device does not have are refused before the device sees them; the window cannot be mapped.
  const json& inv = j["invalidation"];
  EXPECT_EQ(inv["by_context"], 4);
  EXPECT_EQ(inv["undefined_scope"], "EINVAL");
  EXPECT_EQ(inv["no_such_context"], "EINVAL");
  EXPECT_EQ(inv["mmap_window"], "EINVAL");
  EXPECT_EQ(inv["driver_invalidations"], 1);
  EXPECT_EQ(inv["driver_refused"], 2);
  EXPECT_EQ(gpu->reg(gpu::regs::kInvalCount), 0u) << "the close scrubbed and reset the GPU";
}

// The same flow under Linux's vfio-pci: no sparse capability, so BAR0 maps whole, the window with
// it, and nothing checks what reaches the device.
TEST_F(GpuProbe, UnderLinuxVfioPciTheWindowIsNotTrapped) {
  start("vfio-pci", "vfio_pci");
  const json j = run();
  ASSERT_EQ(j["completed"], true) << j.dump(2);
  EXPECT_EQ(j["regions"][0]["flags"], "0xf") << "CAPS: only MSI-X mappable";
  EXPECT_EQ(j["regions"][0]["caps"].size(), 1u);
  EXPECT_EQ(j["copy"]["data_equal"], true);
  EXPECT_EQ(j["invalidation"]["undefined_scope"], 4) << "the device got the undefined scope";
  EXPECT_EQ(j["invalidation"]["mmap_window"], 0);
  EXPECT_FALSE(j["invalidation"].contains("driver_invalidations")) << "no info region";
}

// What one user leaves in VRAM, the next must not find: the variant driver scrubs VRAM and the
// TLB at the last close; with scrub=0 the page tables and data of the first run are still there.
TEST_F(GpuProbe, TheScrubLeavesNothingOfTheLastUsersVram) {
  start("pciesim_vfio_pci", "pciesim_vfio_pci");
  const json first = run();
  ASSERT_EQ(first["completed"], true);
  // Every page the flow wrote is gone but page 0, where the scrub put its own FILL command and
  // which it zeroed through BAR1 afterwards.
  EXPECT_LE(gpu->vram().pages_allocated(), 1u);
  std::vector<uint8_t> page0(4096, 0xff);
  gpu->vram_read(0, page0.data(), page0.size());
  EXPECT_EQ(page0, std::vector<uint8_t>(4096, 0));
  EXPECT_EQ(gpu->vram_read64(0x20000), 0u) << "the page directory";
  EXPECT_EQ(gpu->reg(gpu::regs::kCeCompleted), 0u) << "registers at their reset values";
  const json second = run();
  EXPECT_EQ(second["gpu"]["driver_info"]["scrubs"], 1);
  EXPECT_EQ(second["gpu"]["driver_info"]["last_scrub"], 0) << dmesg();
}

TEST_F(GpuProbe, WithoutTheScrubTheNextUserFindsThePreviousUsersVram) {
  start("pciesim_vfio_pci", "pciesim_vfio_pci", "scrub=0");
  const json first = run();
  ASSERT_EQ(first["completed"], true);
  EXPECT_GT(gpu->vram().pages_allocated(), 0u);
  EXPECT_NE(gpu->vram_read64(0x20000), 0u) << "the first user's page directory survives the reset";
  EXPECT_EQ(gpu->reg(gpu::regs::kCeCompleted), 0u) << "the close's reset still clears the registers";
}

// The VGA-class option (params: {vga: true}): class 0x030000, and VFIO offers the VGA region
// (index 8: 0xa0000-0xbffff memory, 0x3b0-0x3bb and 0x3c0-0x3df I/O; docs/vga.md) as vfio-pci
// does for GPUs, through the variant driver too.
TEST_F(GpuProbe, AVgaClassGpuHasTheVgaRegion) {
  std::ifstream in(std::string(PCIESIM_SOURCE_ROOT) + "/scenarios/topologies/gpu.yaml");
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  const size_t at = yaml.find("# vga: true");
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, 11, "vga: true  ");
  const std::string path = ::testing::TempDir() + "/gpu-vga.yaml";
  std::ofstream(path) << yaml;
  start("pciesim_vfio_pci", "pciesim_vfio_pci", "", path);
  const json j = run();
  ASSERT_EQ(j["completed"], true) << j.dump(2);
  const json& vga = j["regions"][8];
  EXPECT_EQ(vga["result"], 0);
  EXPECT_EQ(vga["flags"], "0x3") << "READ | WRITE, no mmap";
  EXPECT_EQ(vga["size"], "0xc0000");
  EXPECT_EQ(j["copy"]["data_equal"], true);
}

}  // namespace
}  // namespace pciesim::test
