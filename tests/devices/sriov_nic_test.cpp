// The SR-IOV NIC (models/devices/sriov_nic, docs/sriov.md) driven through a fabric as firmware
// and a driver would: the PF's SR-IOV capability after reset and the VF BARs firmware assigned,
// VFs that appear only with VF Enable at PF RID + offset + n * stride, their config space
// (PCIe 9.3.4), VF BAR decode from the PF's VF BARn with VF MSE, DMA with the VF's requester id
// through VT-d, the VF's MSI-X, VF FLR, PF reset, and bad topology parameters.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <cstring>
#include <functional>

#include "devices/sriov_nic/sriov_nic.h"
#include "iommu/local_apic_sink.h"
#include "iommu/vtd_programmer.h"
#include "pcie/fabric_fixture.h"
#include "pcie/pcie_regs.h"
#include "pcie/topology/yaml_loader.h"

using namespace pciesim;
using namespace pciesim::test;
using namespace pciesim::sriov_nic;
using sc_core::sc_time;
using sc_core::SC_US;

namespace {

//   rc0 ── rp0 (ACS, ARI forwarding) ── nic0: PF 01:00.0, VFs 01:10.0, 01:10.2, ... (ARI fn 128, 130, ..)
const char* kTopology = R"(
name: sriov-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 3, width: 8}
        acs: {capability: all, control: [SV, RR, CR, UF]}
        below:
          endpoint: {name: nic0, model: sriov-nic, params: {total_vfs: 8}}
iommus:
  - {name: dmar0, preset: qemu-7.2, include_all: true}
)";

void in_thread(std::function<void()> body) {
  sc_core::sc_spawn(std::move(body));
  sc_core::sc_start();
}

struct SriovNicTest : ::testing::Test {
  std::unique_ptr<Fabric> f;
  SriovNic* nic = nullptr;
  RequesterId pf_id;
  uint16_t sriov = 0;

  void SetUp() override {
    f = make_fabric(kTopology);
    nic = dynamic_cast<SriovNic*>(fn(*f, "nic0").endpoint);
    ASSERT_NE(nic, nullptr);
    pf_id = fn(*f, "nic0").bdf();
    sriov = nic->pf().config().find_ext_capability(regs::kExtCapIdSriov);
    ASSERT_NE(sriov, 0);
  }
  uint32_t pf_rd(uint16_t reg, unsigned size = 4) { return f->config_read(0, pf_id, reg, size); }
  void pf_wr(uint16_t reg, unsigned size, uint32_t v) { f->config_write(0, pf_id, reg, size, v); }
  RequesterId vf_id(unsigned n) const {
    return RequesterId{pf_id.bus, static_cast<uint8_t>(pf_id.devfn + 128 + 2 * n)};
  }
  uint32_t vf_rd(unsigned n, uint16_t reg, unsigned size = 4) { return f->config_read(0, vf_id(n), reg, size); }
  void vf_wr(unsigned n, uint16_t reg, unsigned size, uint32_t v) { f->config_write(0, vf_id(n), reg, size, v); }
  uint64_t vf_bar(unsigned bar) {
    return (pf_rd(sriov + kSriovBar0 + 4 * bar) & ~0xfull) | uint64_t{pf_rd(sriov + kSriovBar0 + 4 * bar + 4)} << 32;
  }
  void enable(unsigned num, bool mse = true) {
    pf_wr(sriov + kSriovNumVfs, 2, num);
    pf_wr(sriov + kSriovCtrl, 2, kCtrlVfEnable | (mse ? kCtrlVfMse : 0));
  }
};

}  // namespace

TEST_F(SriovNicTest, PfConfigAndSriovCapabilityReadTheirResetValues) {
  EXPECT_EQ(pf_rd(cfg::kVendorId), 0x10fb8086u);
  EXPECT_EQ(pf_rd(cfg::kRevision) >> 8, 0x020000u);
  EXPECT_NE(nic->pf().config().find_ext_capability(regs::kExtCapIdAri), 0);
  EXPECT_EQ(pf_rd(sriov) & 0xffff, regs::kExtCapIdSriov);
  EXPECT_EQ((pf_rd(sriov) >> 16) & 0xf, 1u) << "capability version 1";
  EXPECT_EQ(pf_rd(sriov + kSriovCap), 0u);
  EXPECT_EQ(pf_rd(sriov + kSriovCtrl, 2), 0u);
  EXPECT_EQ(pf_rd(sriov + kSriovInitialVfs, 2), 8u);
  EXPECT_EQ(pf_rd(sriov + kSriovTotalVfs, 2), 8u);
  EXPECT_EQ(pf_rd(sriov + kSriovNumVfs, 2), 0u);
  EXPECT_EQ(pf_rd(sriov + kSriovVfOffset, 2), 128u);
  EXPECT_EQ(pf_rd(sriov + kSriovVfStride, 2), 2u);
  EXPECT_EQ(pf_rd(sriov + kSriovVfDid, 2), 0x10edu);
  EXPECT_EQ(pf_rd(sriov + kSriovSupPgsize), 0x553u);
  EXPECT_EQ(pf_rd(sriov + kSriovSysPgsize), 1u);
  // Read-only fields stay; only VF Enable, VF MSE and ARI Capable Hierarchy are writable.
  pf_wr(sriov + kSriovTotalVfs, 2, 1);
  pf_wr(sriov + kSriovVfOffset, 2, 1);
  EXPECT_EQ(pf_rd(sriov + kSriovTotalVfs, 2), 8u);
  EXPECT_EQ(pf_rd(sriov + kSriovVfOffset, 2), 128u);
  // Firmware sized and placed the VF BARs: TotalVFs x 16 KiB each, 64-bit prefetchable, inside
  // the root port's prefetchable window.
  EXPECT_EQ(pf_rd(sriov + kSriovBar0) & 0xf, kBarMem64Pref);
  EXPECT_EQ(pf_rd(sriov + kSriovBar0 + 8), 0u) << "VF BAR2 unimplemented";
  const uint64_t b0 = vf_bar(0), b3 = vf_bar(3);
  EXPECT_NE(b0, 0u);
  EXPECT_NE(b3, 0u);
  EXPECT_EQ(b0 % kVfBarSize, 0u);
  const PciFunction& rp = *fn(*f, "rp0").fn;
  for (uint64_t b : {b0, b3}) {
    EXPECT_TRUE(rp.pref_window().contains(b)) << std::hex << b;
    EXPECT_TRUE(rp.pref_window().contains(b + 8 * kVfBarSize - 1)) << std::hex << b;
  }
  EXPECT_TRUE(b0 + 8 * kVfBarSize <= b3 || b3 + 8 * kVfBarSize <= b0) << "the two VF BARs do not overlap";
  // No VF answers while VF Enable is clear.
  EXPECT_EQ(vf_rd(0, cfg::kVendorId), 0xffffffffu);
  EXPECT_EQ(nic->num_vfs_enabled(), 0u);
  // The PF's engine.
  const uint64_t pf_bar0 = nic->pf().bars()[0].base;
  EXPECT_EQ(mmio_read(*f, pf_bar0 + kEngId), kEngIdValue);
  EXPECT_EQ(mmio_read(*f, pf_bar0 + kEngStatus), 0u);
}

TEST_F(SriovNicTest, VfsAppearWithVfEnableAtOffsetPlusStride) {
  enable(4);
  EXPECT_EQ(nic->num_vfs_enabled(), 4u);
  for (unsigned n = 0; n < 4; ++n) {
    SCOPED_TRACE(n);
    // PCIe 9.3.4.1: Vendor and Device ID read FFFFh; class from the VF; no INTx; BARs read 0.
    EXPECT_EQ(vf_rd(n, cfg::kVendorId), 0xffffffffu);
    EXPECT_EQ(vf_rd(n, cfg::kRevision) >> 8, 0x020000u);
    EXPECT_EQ(vf_rd(n, cfg::kIntPin, 1), 0u);
    for (int i = 0; i < 6; ++i) {
      vf_wr(n, static_cast<uint16_t>(cfg::kBar0 + 4 * i), 4, 0xffffffffu);
      EXPECT_EQ(vf_rd(n, static_cast<uint16_t>(cfg::kBar0 + 4 * i)), 0u);
    }
    // 9.3.4.1.3: Command I/O and Memory Space Enable are RO 0; Bus Master Enable is the VF's.
    vf_wr(n, cfg::kCommand, 2, 0x0007);
    EXPECT_EQ(vf_rd(n, cfg::kCommand, 2), 0x0004u);
    vf_wr(n, cfg::kCommand, 2, 0);
    const PciFunction& vf = *nic->vf(n);
    EXPECT_EQ(vf.bdf(), vf_id(n));
    EXPECT_NE(vf.pcie_cap(), 0);
    EXPECT_NE(vf.config().find_ext_capability(regs::kExtCapIdAri), 0);
    ASSERT_NE(vf.msix_cap(), 0);
    EXPECT_EQ(vf_rd(n, vf.msix_cap() + 2, 2) & 0x7ff, 2u) << "3 vectors";
    EXPECT_EQ(vf_rd(n, vf.msix_cap() + 4), kVfMsixBar) << "table in BAR3 at 0";
    EXPECT_EQ(vf_rd(n, vf.msix_cap() + 8), kVfMsixPba | kVfMsixBar);
    // Memory: VF n's BAR0 is VF BAR0 + n * 16 KiB.
    EXPECT_EQ(mmio_read(*f, vf_bar(0) + n * kVfBarSize + kEngId), kEngIdValue);
  }
  EXPECT_EQ(vf_id(3).devfn, 0x86);
  EXPECT_EQ(vf_rd(4, cfg::kVendorId), 0xffffffffu) << "NumVFs = 4: VF 4 does not exist";
  EXPECT_EQ(nic->vf(4)->bdf().raw(), 0u);
  EXPECT_EQ(f->config_read(0, RequesterId{pf_id.bus, 129}, cfg::kRevision, 4), 0xffffffffu) << "between strides: nothing";
  // A VF's BAR registers are distinct: a write to VF 1's source register leaves VF 0's alone.
  mmio_write(*f, vf_bar(0) + kVfBarSize + kEngSrc, 0x1234, 8);
  EXPECT_EQ(mmio_read(*f, vf_bar(0) + kVfBarSize + kEngSrc, 8), 0x1234u);
  EXPECT_EQ(mmio_read(*f, vf_bar(0) + kEngSrc, 8), 0u);
  // NumVFs cannot change while VF Enable is set (PCIe 9.3.3.7).
  pf_wr(sriov + kSriovNumVfs, 2, 8);
  EXPECT_EQ(pf_rd(sriov + kSriovNumVfs, 2), 4u);
  // VF MSE off: VF memory is no longer decoded (the CPU read completes as UR: all ones).
  pf_wr(sriov + kSriovCtrl, 2, kCtrlVfEnable);
  EXPECT_EQ(mmio_read(*f, vf_bar(0) + kEngId), 0xffffffffu);
  pf_wr(sriov + kSriovCtrl, 2, kCtrlVfEnable | kCtrlVfMse);
  EXPECT_EQ(mmio_read(*f, vf_bar(0) + kEngSrc + kVfBarSize, 8), 0x1234u);
  // VF Enable cleared: the VFs are gone; enabled again, they come back from reset.
  pf_wr(sriov + kSriovCtrl, 2, 0);
  EXPECT_EQ(nic->num_vfs_enabled(), 0u);
  EXPECT_EQ(vf_rd(0, cfg::kRevision), 0xffffffffu);
  EXPECT_EQ(mmio_read(*f, vf_bar(0) + kEngId), 0xffffffffu);
  enable(8);
  EXPECT_EQ(vf_rd(7, cfg::kRevision) >> 8, 0x020000u);
  EXPECT_EQ(vf_id(7).devfn, 128 + 14);
  EXPECT_EQ(mmio_read(*f, vf_bar(0) + kVfBarSize + kEngSrc, 8), 0u) << "VF 1 came back from reset";
  EXPECT_EQ(mmio_read(*f, vf_bar(0) + 7 * kVfBarSize + kEngId), kEngIdValue);
}

TEST_F(SriovNicTest, VfDmaCarriesTheVfRequesterIdThroughTheIommu) {
  enable(2);
  // VT-d: VF 1's RID gets a domain mapping IOVA 0x10000..0x11fff; nothing else is attached.
  vtd::VtdProgrammer drv(*f, "dmar0");
  drv.attach(vf_id(1), 5, /*tt*/ 0, /*levels: qemu-7.2 has 39-bit AGAW*/ 3).map_range(0x10000, 0x00300000, 0x2000);
  drv.set_root_table();
  drv.enable_translation();
  std::vector<uint8_t> src(256);
  for (unsigned i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(0xa0 + i);
  f->dram().write(0x00300000, src.data(), src.size());
  const uint64_t vf1 = vf_bar(0) + kVfBarSize;
  vf_wr(1, cfg::kCommand, 2, cfg::kCmdBusMaster);
  in_thread([&] {
    mmio_write(*f, vf1 + kEngSrc, 0x10000, 8);
    mmio_write(*f, vf1 + kEngDst, 0x11000, 8);
    mmio_write(*f, vf1 + kEngLen, 256);
    mmio_write(*f, vf1 + kEngDoorbell, kDoorbellCopy);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(mmio_read(*f, vf1 + kEngStatus), kStatusDone);
    EXPECT_EQ(nic->copies(vf_id(1).devfn), 1u);
    std::vector<uint8_t> got(256);
    f->dram().read(0x00301000, got.data(), got.size());
    EXPECT_EQ(got, src) << "copied through the VF's domain";
    EXPECT_EQ(f->iommu("dmar0")->faults(), 0u);
    // VF 0 has no context entry: the same copy faults with VF 0's requester id.
    const uint64_t vf0 = vf_bar(0);
    vf_wr(0, cfg::kCommand, 2, cfg::kCmdBusMaster);
    mmio_write(*f, vf0 + kEngSrc, 0x10000, 8);
    mmio_write(*f, vf0 + kEngDst, 0x11000, 8);
    mmio_write(*f, vf0 + kEngLen, 64);
    mmio_write(*f, vf0 + kEngDoorbell, kDoorbellCopy);
    sc_core::wait(sc_time(10, SC_US));
    EXPECT_EQ(mmio_read(*f, vf0 + kEngStatus), kStatusError);
    EXPECT_EQ(f->iommu("dmar0")->faults(), 1u);
    EXPECT_EQ(nic->last_payload().get_response_status() == tlm::TLM_OK_RESPONSE, false);
    // W1C clears the status.
    mmio_write(*f, vf0 + kEngStatus, kStatusError);
    EXPECT_EQ(mmio_read(*f, vf0 + kEngStatus), 0u);
  });
}

TEST_F(SriovNicTest, VfMsixCompletionInterruptCarriesTheVfId) {
  enable(2);
  const PciFunction& vf = *nic->vf(1);
  const uint64_t bar3 = vf_bar(3) + kVfBarSize;  // VF 1's BAR3: MSI-X table at 0
  // Entry 2: address 0xfee00000 (APIC 0), data vector 0x45, unmasked.
  mmio_write(*f, bar3 + 2 * 16 + 0, 0xfee00000u);
  mmio_write(*f, bar3 + 2 * 16 + 4, 0);
  mmio_write(*f, bar3 + 2 * 16 + 8, 0x45);
  mmio_write(*f, bar3 + 2 * 16 + 12, 0);
  vf_wr(1, vf.msix_cap() + 2, 2, 0x8000);  // MSI-X Enable
  vf_wr(1, cfg::kCommand, 2, cfg::kCmdBusMaster);
  f->dram().write(0x00300000, "hello", 5);
  const uint64_t vf1 = vf_bar(0) + kVfBarSize;
  in_thread([&] {
    mmio_write(*f, vf1 + kEngSrc, 0x00300000, 8);
    mmio_write(*f, vf1 + kEngDst, 0x00301000, 8);
    mmio_write(*f, vf1 + kEngLen, 5);
    mmio_write(*f, vf1 + kEngCtrl, kCtrlIrq);
    mmio_write(*f, vf1 + kEngVector, 2);
    mmio_write(*f, vf1 + kEngDoorbell, kDoorbellCopy);
    sc_core::wait(sc_time(10, SC_US));
  });
  ASSERT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x45);
  EXPECT_EQ(f->apic().last()->source_id, vf_id(1).raw());
  char got[6] = {};
  f->dram().read(0x00301000, got, 5);
  EXPECT_STREQ(got, "hello");
}

TEST_F(SriovNicTest, VfFlrResetsTheVfAndPfResetRemovesTheVfs) {
  enable(2);
  const PciFunction& vf = *nic->vf(0);
  const uint64_t vf0 = vf_bar(0);
  mmio_write(*f, vf0 + kEngSrc, 0x5000, 8);
  mmio_write(*f, vf0 + kEngLen, 77);
  vf_wr(0, cfg::kCommand, 2, cfg::kCmdBusMaster);
  // Initiate FLR on VF 0 (PCIe 7.5.3.4); VF 1 keeps its state.
  mmio_write(*f, vf0 + kVfBarSize + kEngLen, 99);
  vf_wr(0, vf.pcie_cap() + 8, 2, vf_rd(0, vf.pcie_cap() + 8, 2) | regs::kDevCtlInitiateFlr);
  EXPECT_EQ(mmio_read(*f, vf0 + kEngSrc, 8), 0u);
  EXPECT_EQ(mmio_read(*f, vf0 + kEngLen), 0u);
  EXPECT_EQ(vf_rd(0, cfg::kCommand, 2) & cfg::kCmdBusMaster, 0u);
  EXPECT_EQ(mmio_read(*f, vf0 + kVfBarSize + kEngLen), 99u);
  EXPECT_EQ(nic->num_vfs_enabled(), 2u) << "a VF's FLR leaves VF Enable alone";
  // FLR of the PF: SR-IOV Control back to 0, the VFs are gone.
  const uint16_t pcie = nic->pf().pcie_cap();
  pf_wr(pcie + 8, 2, pf_rd(pcie + 8, 2) | regs::kDevCtlInitiateFlr);
  EXPECT_EQ(pf_rd(sriov + kSriovCtrl, 2), 0u);
  EXPECT_EQ(nic->num_vfs_enabled(), 0u);
  EXPECT_EQ(vf_rd(1, cfg::kRevision), 0xffffffffu);
}

TEST(SriovNicParamsTest, BadParametersAreErrorsNamingTheFileAndLine) {
  auto load = [](const std::string& params) {
    const std::string yaml = std::string("name: t\nmemory: {base: 0, size: 1GiB}\nroot_complexes:\n  - name: rc0\n"
                                         "    root_ports:\n      - name: rp0\n        device: 1\n        below:\n"
                                         "          endpoint: {name: nic0, model: sriov-nic, params: ") + params + "}\n";
    try {
      topo::load_topology_string(yaml, "bad.yaml");
    } catch (const topo::TopologyError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(load("{total_vfs: 8}"), "");
  const std::string beyond = load("{total_vfs: 65}");
  EXPECT_NE(beyond.find("bad.yaml:9"), std::string::npos) << beyond;
  EXPECT_NE(beyond.find("function 256"), std::string::npos) << beyond;
  EXPECT_NE(load("{total_vfs: 0}").find("params.total_vfs"), std::string::npos);
  EXPECT_NE(load("{total_vfs: many}").find("bad.yaml:9"), std::string::npos);
  EXPECT_NE(load("{vf_msix_vectors: 600}").find("params.vf_msix_vectors"), std::string::npos);
  EXPECT_NE(load("{queues: 4}").find("unknown parameter 'queues'"), std::string::npos);
  EXPECT_NE(load("{total_vfs: 4, initial_vfs: 2}").find("initial_vfs"), std::string::npos);
  EXPECT_EQ(load("{total_vfs: 127, vf_offset: 1, vf_stride: 2}"), "") << "1 + 126*2 = 253 fits";
}
