// The SR-IOV NIC's `internal_p2p` parameter (docs/sriov.md): false (the default, as the 82599
// whose functions do no peer-to-peer among themselves) sends a VF's request to another VF's BAR,
// or to the PF's, out on the upstream link, where the root port decides: with Linux's ACS
// controls (SV RR CR UF) UF sends it on to the IOMMU, without ACS the port reflects it back down
// to the device. true routes it inside the device (PCIe 6.12.1.2), past the port and the IOMMU.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <string>

#include "devices/sriov_nic/sriov_nic.h"
#include "iommu/vtd_programmer.h"
#include "pcie/fabric_fixture.h"
#include "pcie/pcie_regs.h"

using namespace pciesim;
using namespace pciesim::test;
using namespace pciesim::sriov_nic;

namespace {

//   rc0 ── rp0 (ACS capability; control as the test asks) ── nic0: PF 01:00.0, VFs 01:10.0, 01:10.2
std::string topology(const std::string& internal_p2p, const std::string& acs_control) {
  std::string params = "{total_vfs: 4";
  if (!internal_p2p.empty()) params += ", internal_p2p: " + internal_p2p;
  params += "}";
  return R"(
name: sriov-p2p-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 3, width: 8}
        acs: {capability: all, control: )" + acs_control + R"(}
        below:
          endpoint: {name: nic0, model: sriov-nic, params: )" + params + R"(}
iommus:
  - {name: dmar0, preset: server, include_all: true}   # 48-bit AGAW: the 64-bit VF BARs fit
)";
}

struct Wire {
  Outcome outcome = Outcome::Pending;
  AcsBit redirect = AcsBit::None;
  uint16_t fault_reason = 0;
  std::string path;      // the hops on the way
  std::string verdict_at;  // where it ended (the completer's function when delivered)
  RequesterId requester;
};

struct SriovP2p {
  std::unique_ptr<Fabric> f;
  SriovNic* nic = nullptr;
  RequesterId pf_id;
  uint16_t sriov = 0;

  SriovP2p(const std::string& internal_p2p, const std::string& acs_control) {
    f = make_fabric(topology(internal_p2p, acs_control));
    nic = dynamic_cast<SriovNic*>(fn(*f, "nic0").endpoint);
    pf_id = fn(*f, "nic0").bdf();
    sriov = nic->pf().config().find_ext_capability(regs::kExtCapIdSriov);
    // Two VFs, as pci_enable_sriov leaves them: NumVFs, VF Enable + VF MSE.
    f->config_write(0, pf_id, sriov + kSriovNumVfs, 2, 2);
    f->config_write(0, pf_id, sriov + kSriovCtrl, 2, kCtrlVfEnable | kCtrlVfMse);
    f->config_write(0, vf_id(0), cfg::kCommand, 2, cfg::kCmdBusMaster);
    f->config_write(0, vf_id(1), cfg::kCommand, 2, cfg::kCmdBusMaster);
  }
  RequesterId vf_id(unsigned n) const {
    return RequesterId{pf_id.bus, static_cast<uint8_t>(pf_id.devfn + 128 + 2 * n)};
  }
  uint64_t vf_bar0(unsigned n) const {
    const uint64_t base = (f->config_read(0, pf_id, sriov + kSriovBar0, 4) & ~0xfull) |
                          uint64_t{f->config_read(0, pf_id, sriov + kSriovBar0 + 4, 4)} << 32;
    return base + n * kVfBarSize;
  }
  // A 4-byte memory write from function `from_fn` (DMA engine's requester id) to `addr`.
  Wire write(unsigned from_fn, uint64_t addr, uint32_t value) {
    Wire w;
    sc_core::sc_spawn([&] {
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      const PcieExtension& e =
          nic->dma(from_fn, TlpKind::MemWrite, addr, reinterpret_cast<uint8_t*>(&value), 4, delay);
      w.outcome = e.verdict.outcome;
      w.redirect = e.redirect_bit;
      w.fault_reason = e.verdict.fault_reason;
      w.requester = e.requester;
      w.verdict_at = hops().name(e.verdict.port);
      for (unsigned i = 0; i < e.hop_count; ++i) w.path += (i ? " > " : "") + hops().name(e.hops[i]);
    });
    sc_core::sc_start();
    return w;
  }
};

constexpr unsigned kVf0Fn = 128, kVf1Fn = 130;

TEST(SriovNicInternalP2p, DefaultSendsVfToVfUpWhereRootPortAcsRedirectsItToTheIommu) {
  SriovP2p t("", "[SV, RR, CR, UF]");  // the default, and the controls Linux sets on rp0
  EXPECT_FALSE(t.nic->params().internal_p2p);
  // VT-d on, VF 0 in a domain with nothing mapped (what an empty VFIO container gives).
  vtd::VtdProgrammer drv(*t.f, "dmar0");
  drv.attach(t.vf_id(0), 1, /*tt*/ 0, /*levels: 48-bit*/ 4);
  drv.set_root_table();
  drv.enable_translation();
  const Wire w = t.write(kVf0Fn, t.vf_bar0(1) + kEngSrc, 0x1234);
  // The target is below rp0 itself, so it is UF (PCIe 6.12.1.1: no reflection back down the
  // ingress port), not RR (which acts on peers below other ports), that sends it on upward.
  EXPECT_EQ(w.redirect, AcsBit::UF) << w.path;
  EXPECT_EQ(w.outcome, Outcome::IommuFault) << w.path;
  // VT-d fault reason 5h: a write through a second-level entry with W clear (never mapped: R=W=0).
  EXPECT_EQ(w.fault_reason, 0x05) << "VF 1's BAR0 at 0x" << std::hex << t.vf_bar0(1);
  EXPECT_EQ(w.requester, t.vf_id(0));
  EXPECT_NE(w.path.find("rp0"), std::string::npos) << w.path;
  EXPECT_EQ(mmio_read(*t.f, t.vf_bar0(1) + kEngSrc, 8), 0u) << "VF 1's register never saw the write";
  EXPECT_EQ(t.f->iommu("dmar0")->faults(), 1u);
  // VF 1 -> the PF's BAR0 goes the same way (VF 1 has no context entry at all).
  const Wire to_pf = t.write(kVf1Fn, bar(*t.f, "nic0", 0) + kEngSrc, 0x5678);
  EXPECT_EQ(to_pf.redirect, AcsBit::UF) << to_pf.path;
  EXPECT_EQ(to_pf.outcome, Outcome::IommuFault) << to_pf.path;
  EXPECT_EQ(mmio_read(*t.f, bar(*t.f, "nic0", 0) + kEngSrc, 8), 0u);
}

TEST(SriovNicInternalP2p, DefaultWithoutAcsAtTheRootPortIsReflectedBackDownThroughIt) {
  SriovP2p t("false", "none");
  const Wire w = t.write(kVf0Fn, t.vf_bar0(1) + kEngSrc, 0x1234);
  EXPECT_EQ(w.outcome, Outcome::Delivered) << w.path;
  EXPECT_EQ(w.redirect, AcsBit::None);
  // Out on the link, turned by rp0 (in and back out), delivered at VF 1: the IOMMU never saw it.
  EXPECT_EQ(w.path, "nic0.vf0 > rp0 > rp0");
  EXPECT_EQ(w.verdict_at, "nic0.vf1");
  EXPECT_EQ(mmio_read(*t.f, t.vf_bar0(1) + kEngSrc, 8), 0x1234u);
  EXPECT_EQ(t.f->iommu("dmar0")->faults(), 0u);
}

TEST(SriovNicInternalP2p, TrueRoutesVfToVfInsideTheDevicePastTheAcsOfThePort) {
  SriovP2p t("true", "[SV, RR, CR, UF]");
  EXPECT_TRUE(t.nic->params().internal_p2p);
  vtd::VtdProgrammer drv(*t.f, "dmar0");
  drv.attach(t.vf_id(0), 1, /*tt*/ 0, /*levels: 48-bit*/ 4);
  drv.set_root_table();
  drv.enable_translation();
  const Wire w = t.write(kVf0Fn, t.vf_bar0(1) + kEngSrc, 0x1234);
  EXPECT_EQ(w.outcome, Outcome::Delivered) << w.path;
  EXPECT_EQ(w.redirect, AcsBit::None);
  EXPECT_EQ(w.path, "nic0.vf0") << "never on the link";
  EXPECT_EQ(w.verdict_at, "nic0.vf1");
  EXPECT_EQ(mmio_read(*t.f, t.vf_bar0(1) + kEngSrc, 8), 0x1234u);
  EXPECT_EQ(t.f->iommu("dmar0")->faults(), 0u);
  // VF 1 -> the PF, inside too.
  const Wire to_pf = t.write(kVf1Fn, bar(*t.f, "nic0", 0) + kEngSrc, 0x5678);
  EXPECT_EQ(to_pf.path, "nic0.vf1");
  EXPECT_EQ(to_pf.verdict_at, "nic0.f0");
  EXPECT_EQ(mmio_read(*t.f, bar(*t.f, "nic0", 0) + kEngSrc, 8), 0x5678u);
}

TEST(SriovNicInternalP2p, ABadValueIsAnErrorNamingTheFileAndLine) {
  auto load = [](const std::string& value) {
    try {
      topo::load_topology_string(topology(value, "none"), "bad.yaml");
    } catch (const topo::TopologyError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(load("true"), "");
  EXPECT_EQ(load("false"), "");
  const std::string bad = load("sometimes");
  EXPECT_NE(bad.find("bad.yaml:12"), std::string::npos) << bad;
  EXPECT_NE(bad.find("params.internal_p2p 'sometimes' must be true or false"), std::string::npos) << bad;
}

}  // namespace
