// A fabric with one VT-d unit and the co-simulated intel-iommu driver on it, for the
// intel_iommu_*_test.cpp files.
#pragma once

#include <memory>
#include <string>

#include "iommu/intel_iommu.h"
#include "iommu/iommu_core.h"
#include "iommu/remapping_unit.h"
#include "kernel/kernel_log.h"
#include "kernel/kernel_memory.h"
#include "pcie/fabric_fixture.h"

namespace pciesim::test {

inline std::string intel_topology(const std::string& preset = "server", const std::string& extra = "") {
  return std::string(kAcsTopology) + "iommus:\n  - name: dmar0\n    preset: " + preset +
         "\n    include_all: true\n" + extra;
}

struct IntelIommuFixture : ::testing::Test {
  // Kernel memory: 32 MiB at 512 MiB of the 1 GiB DRAM; DMA targets below it.
  static constexpr uint64_t kKernelBase = 0x2000'0000, kKernelSize = 32ull << 20;
  static constexpr uint64_t kIova = 0x10'0000, kPage = 0x0123'4000;

  std::unique_ptr<Fabric> f;
  std::unique_ptr<cosim::KernelMemory> mem;
  cosim::KernelLog log;
  std::unique_ptr<cosim::IommuCore> core;
  cosim::IntelIommu* drv = nullptr;
  RequesterId a, d;

  void boot(const std::string& yaml = intel_topology()) {
    f = make_fabric(yaml);
    mem = std::make_unique<cosim::KernelMemory>(f->dram(), kKernelBase, kKernelSize);
    core = std::make_unique<cosim::IommuCore>(*f, *mem, log);
    drv = core->unit("dmar0");
    ASSERT_NE(drv, nullptr);
    ASSERT_TRUE(core->init()) << log.dmesg();
    for (const char* e : {"epA", "epB", "epD", "epF"}) bus_master(*f, e);
    a = fn(*f, "epA").bdf();
    d = fn(*f, "epD").bdf();
  }
  virtual std::string topology() { return intel_topology(); }
  void SetUp() override { boot(topology()); }

  Sent write(const std::string& from, uint64_t addr, uint8_t fill = 0x5a, unsigned len = 64) {
    return send(*f, from, TlpKind::MemWrite, addr, len, {}, std::vector<uint8_t>(len, fill));
  }
  Sent read(const std::string& from, uint64_t addr, unsigned len = 64) {
    return send(*f, from, TlpKind::MemRead, addr, len);
  }
  uint8_t dram_byte(uint64_t pa) {
    uint8_t b = 0;
    f->dram().read(pa, &b, 1);
    return b;
  }
  std::string bdf(RequesterId r) {
    char b[16];
    std::snprintf(b, sizeof b, "%02x:%02x.%u", r.bus, r.device(), r.function());
    return b;
  }
  bool logged(const std::string& line) {
    for (const auto& l : log.lines())
      if (l.text == line) return true;
    return false;
  }
};

}  // namespace pciesim::test
