// vfio_probe (tools/vfio_probe) in the simulator: the unchanged C client, run as a process of the
// co-simulated kernel, against QEMU's edu on a root port and behind a PCIe-to-PCI bridge
// (scenarios/topologies/edu.yaml), bound to Linux's vfio-pci and to our variant driver. The
// expected values are what a Linux 6.1 host with QEMU 7.2's VT-d reports (issue facts, §6).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "vfio_probe_cosim.h"

namespace pciesim::test {
namespace {

using nlohmann::json;

struct VfioProbe : ::testing::Test {
  cli::Machine m;
  std::unique_ptr<cosim::Kernel> k;
  std::string dmesg() const { return k->log().dmesg(); }

  json probe(const std::string& device, const std::string& driver, const std::string& module) {
    m = cli::load_machine(std::string(PCIESIM_SOURCE_ROOT) + "/scenarios/topologies/edu.yaml");
    k = std::make_unique<cosim::Kernel>(*m.fabric);
    k->boot();
    EXPECT_EQ(k->load_module(module), 0) << dmesg();
    const FunctionInfo* fi = m.fabric->find(device);
    if (!fi) throw std::runtime_error("no " + device);
    const std::string name = k->pci().find(fi->segment, fi->bdf())->name;
    std::string step;
    EXPECT_EQ(tools::bind_to_driver(*k, name, driver, step), 0) << step << dmesg();
    vfio_probe_options opt{};
    opt.device = name.c_str();
    opt.iova = VFIO_PROBE_DEFAULT_IOVA;
    opt.dma_len = VFIO_PROBE_DEFAULT_BYTES;
    const tools::ProbeRun r = tools::run_vfio_probe(*k, opt);
    EXPECT_EQ(r.status, 0) << r.why << "\n" << r.json << dmesg();
    return json::parse(r.json);
  }

  static const json& region(const json& j, int index) { return j.at("regions").at(index); }
  static const json& irq(const json& j, int index) { return j.at("irqs").at(index); }

  // Every value the issue lists for a real host, whichever driver and position.
  void expect_real_host_values(const json& j, unsigned regions) {
    EXPECT_EQ(j["api_version"], 0);
    EXPECT_EQ(j["extensions"]["type1"], 1);
    EXPECT_EQ(j["extensions"]["type1v2"], 1);
    EXPECT_EQ(j["extensions"]["noiommu"], 0);
    EXPECT_EQ(j["extensions"]["unmap_all"], 1);
    EXPECT_EQ(j["group_status"]["flags"], "0x1") << "viable, no container yet";
    EXPECT_EQ(j["group_status"]["flags_after"], "0x3");
    const json& io = j["iommu_info"];
    EXPECT_EQ(io["flags"], "0x3");
    EXPECT_EQ(io["iova_pgsizes"], "0x40201000");
    EXPECT_EQ(io["argsz_needed"], 116) << "24-byte info + migration 32 + DMA avail 12 + IOVA ranges 48, packed as 6.1 packs";
    json ranges, avail;
    for (const json& c : io["caps"]) {
      if (c.contains("iova_ranges")) ranges = c["iova_ranges"];
      if (c.contains("dma_avail")) avail = c["dma_avail"];
    }
    ASSERT_EQ(ranges.size(), 2u) << io.dump(2);
    EXPECT_EQ(ranges[0]["start"], "0x0");
    EXPECT_EQ(ranges[0]["end"], "0xfedfffff");
    EXPECT_EQ(ranges[1]["start"], "0xfef00000");
    EXPECT_EQ(ranges[1]["end"], "0x7fffffffff");
    EXPECT_EQ(avail, 65535);
    EXPECT_EQ(j["device_info"]["flags"], "0x3") << "PCI | RESET";
    EXPECT_EQ(j["device_info"]["num_regions"], regions);
    EXPECT_EQ(j["device_info"]["num_irqs"], 5);
    EXPECT_EQ(region(j, 0)["flags"], "0x7") << "READ | WRITE | MMAP";
    EXPECT_EQ(region(j, 0)["size"], "0x100000");
    EXPECT_EQ(region(j, 0)["mmap"], 0);
    for (int i = 1; i <= 6; ++i) EXPECT_EQ(region(j, i)["size"], "0x0") << "BAR" << i << " / ROM";
    EXPECT_EQ(region(j, 7)["flags"], "0x3");
    EXPECT_EQ(region(j, 7)["size"], "0x100");
    EXPECT_EQ(region(j, 8)["result"], "EINVAL") << "no VGA region";
    EXPECT_EQ(irq(j, 0)["count"], 1);
    EXPECT_EQ(irq(j, 0)["flags"], "0x7") << "EVENTFD | MASKABLE | AUTOMASKED";
    EXPECT_EQ(irq(j, 1)["count"], 1);
    EXPECT_EQ(irq(j, 1)["flags"], "0x9") << "EVENTFD | NORESIZE";
    EXPECT_EQ(irq(j, 2)["count"], 0);
    EXPECT_EQ(irq(j, 3)["result"], "EINVAL") << "ERR: edu is conventional PCI";
    EXPECT_EQ(irq(j, 4)["count"], 1);
    EXPECT_EQ(j["config"]["vendor"], "0x1234");
    EXPECT_EQ(j["config"]["device"], "0x11e8");
    EXPECT_EQ(j["bar0"]["ident"], "0x10000ed");
    EXPECT_EQ(j["bar0"]["liveness_read"], "0xedcba987") << "edu inverts what is written";
    EXPECT_EQ(j["msi"]["set_irqs"], 0);
    EXPECT_EQ(j["msi"]["eventfd_count"], 1);
    EXPECT_EQ(j["msi"]["irq_status_after_ack"], "0x0");
    EXPECT_EQ(j["dma"]["map"], 0);
    EXPECT_EQ(j["dma"]["ram_to_device"], 0);
    EXPECT_EQ(j["dma"]["device_to_ram"], 0);
    EXPECT_EQ(j["dma"]["data_equal"], true);
    EXPECT_EQ(j["dma"]["completion_msi"], 1);
    EXPECT_EQ(j["dma_bus_master_off"]["memory_written"], false);
    EXPECT_EQ(j["unmap"]["result"], 0);
    EXPECT_EQ(j["unmap"]["size"], "0x2000");
    EXPECT_EQ(j["faults"]["write_left_memory_unchanged"], true);
    EXPECT_EQ(j["faults"]["read_filled_device_buffer_with_zeros"], true);
    EXPECT_EQ(j["map_msi_window"]["result"], "EINVAL");
    EXPECT_EQ(j["completed"], true);
  }

  // The two faults after UNMAP_DMA: the write (reason 0x05) then the read (0x06), from `source`.
  static void expect_faults(const json& j, const std::string& source) {
    const json& lines = j["faults"]["lines"];
    ASSERT_EQ(lines.size(), 2u) << j["faults"].dump(2);
    EXPECT_EQ(lines[0]["access"], "write");
    EXPECT_EQ(lines[0]["reason"], "0x5");
    EXPECT_EQ(lines[0]["addr"], "0x1001000");
    EXPECT_EQ(lines[0]["source"], source);
    EXPECT_EQ(lines[1]["access"], "read");
    EXPECT_EQ(lines[1]["reason"], "0x6");
    EXPECT_EQ(lines[1]["addr"], "0x1000000");
    EXPECT_EQ(lines[1]["source"], source);
  }
};

TEST_F(VfioProbe, EduOnARootPortWithVfioPciMatchesARealHost) {
  const json j = probe("edu0", "vfio-pci", "vfio_pci");
  expect_real_host_values(j, 9);
  expect_faults(j, "01:00.0");
}

TEST_F(VfioProbe, EduBehindAPcieToPciBridgeFaultsUnderTheBridgeAlias) {
  const json j = probe("edu1", "vfio-pci", "vfio_pci");
  expect_real_host_values(j, 9);
  // 03:01.0's requests reach the IOMMU with the bridge's secondary bus and devfn 00.0.
  expect_faults(j, "03:00.0");
}

TEST_F(VfioProbe, OurVariantDriverAddsItsRegionAndOtherwiseAnswersAsVfioPci) {
  const json j = probe("edu0", "pciesim_vfio_pci", "pciesim_vfio_pci");
  expect_real_host_values(j, 10);
  expect_faults(j, "01:00.0");
  const json& r = region(j, 9);
  EXPECT_EQ(r["result"], 0);
  ASSERT_TRUE(r.contains("caps")) << r.dump(2);
  EXPECT_EQ(r["caps"][0]["id"], 2) << "VFIO_REGION_INFO_CAP_TYPE";
  EXPECT_EQ(r["caps"][0]["type"], "0x80001234") << "VFIO_REGION_TYPE_PCI_VENDOR_TYPE | edu's vendor";
  EXPECT_EQ(r["caps"][0]["subtype"], 1);
}

TEST_F(VfioProbe, TheKernelLogHasLinuxFormatFaultLines) {
  const json j = probe("edu1", "pciesim_vfio_pci", "pciesim_vfio_pci");
  const auto lines = k->log().grep("DMAR: [DMA Write NO_PASID] Request device [03:00.0] fault addr 0x1001000 [fault reason 0x05] ");
  EXPECT_EQ(lines.size(), 1u) << dmesg();
  EXPECT_EQ(k->log().grep("DMAR: [DMA Read NO_PASID] Request device [03:00.0] fault addr 0x1000000 [fault reason 0x06] ").size(), 1u);
  EXPECT_EQ(j["faults"]["lines"][0]["line"].get<std::string>().rfind("DMAR: [DMA Write NO_PASID]", 0), 0u);
}

}  // namespace
}  // namespace pciesim::test
