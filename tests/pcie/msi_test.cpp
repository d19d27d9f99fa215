// Device-side MSI and MSI-X signalling through the fabric (Endpoint::signal_msi, msi_signal.h,
// msix_table.h): the message a programmed capability sends, masks and pending bits, the MSI-X
// table as BAR registers, and the message's trip up to the local APIC sink (directly, and through
// a remapping unit's interrupt path).
#include <cstring>

#include "iommu/local_apic_sink.h"
#include "iommu/vtd_programmer.h"
#include "pcie/device_models.h"
#include "pcie/fabric_fixture.h"
#include "pcie/pcie_regs.h"

using namespace pciesim;
using namespace pciesim::test;

namespace {

// nic.f0: 4 maskable 64-bit MSI vectors and an 8-vector MSI-X table at the top of BAR0 (64 KiB:
// table at 0xf000, PBA at 0xf080). nic.f1: one 32-bit MSI vector, INTB.
const char* kTopology = R"(
name: msi-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 3, width: 8}
        below:
          endpoint:
            name: nic
            functions:
              - {function: 0, bars: [{size: 64KiB}], msi: 4, msi_maskable: true, msix: 8}
              - {function: 1, bars: [{size: 16KiB}], msi: 1, msi_64bit: false, interrupt_pin: INTB}
)";

std::string with_iommu() {
  return std::string(kTopology) + "iommus:\n  - name: dmar0\n    preset: qemu-7.2\n    include_all: true\n";
}

// Intel SDM 10.11.1-2: compatibility-format MSI to physical APIC `dest`, fixed, edge.
constexpr uint64_t msi_address(unsigned dest) { return 0xfee00000ull | (uint64_t{dest} << 12); }

constexpr uint64_t kTableOffset = 0xf000, kPbaOffset = 0xf080;

struct MsiInFabric : ::testing::Test {
  std::unique_ptr<Fabric> f = make_fabric(kTopology);
  Endpoint& ep = *fn(*f, "nic").endpoint;
  uint16_t msi0 = fn(*f, "nic").fn->msi_cap();

  void SetUp() override {
    bus_master(*f, "nic");
    bus_master(*f, "nic.f1");
  }
  // MSI of nic.f0 (64-bit): address, data, Multiple Message Enable (log2), enable.
  void program_msi(uint64_t addr, uint16_t data, unsigned mme, bool enable = true) {
    cfg_write(*f, "nic", msi0 + regs::kMsiAddrLo, 4, static_cast<uint32_t>(addr));
    cfg_write(*f, "nic", msi0 + regs::kMsiAddrHi, 4, static_cast<uint32_t>(addr >> 32));
    cfg_write(*f, "nic", msi0 + regs::kMsiData64, 2, data);
    cfg_write(*f, "nic", msi0 + regs::kMsiFlags, 2, (mme << 4) | (enable ? 1u : 0u));
  }
  MsiResult signal(unsigned fn_no, unsigned vector) {
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    return ep.signal_msi(fn_no, vector, delay);
  }
  uint64_t table(unsigned vector, unsigned field) { return bar(*f, "nic", 0) + kTableOffset + 16 * vector + field; }
  void program_msix_entry(unsigned vector, uint64_t addr, uint32_t data, bool masked) {
    mmio_write(*f, table(vector, 0), addr, 8);  // address low + high: one QWORD
    mmio_write(*f, table(vector, 8), data);
    mmio_write(*f, table(vector, 12), masked ? 1u : 0u);
  }
  void msix_control(uint16_t flags) {
    const uint16_t msix = fn(*f, "nic").fn->msix_cap();
    cfg_write(*f, "nic", msix + regs::kMsixFlags, 2, flags);
  }
};

}  // namespace

TEST_F(MsiInFabric, MsiWriteCarriesTheVectorInTheLowDataBitsAndReachesTheApic) {
  program_msi(msi_address(3), 0x40, /*4 vectors*/ 2);
  EXPECT_EQ(signal(0, 2), MsiResult::Sent);
  ASSERT_EQ(f->apic().count(), 1u);
  const vtd::DeliveredInterrupt& d = *f->apic().last();
  EXPECT_EQ(d.irq.vector, 0x42);  // PCI 3.0 6.8.1.3: vector 2 in data bits 1:0
  EXPECT_EQ(d.irq.destination, 3u);
  EXPECT_EQ(d.source_id, fn(*f, "nic").bdf().raw());
  EXPECT_EQ(d.path, vtd::InterruptPath::Unremapped);
  // The write went up the link as a TLP of the function: one DWORD at the message address.
  const tlm::tlm_generic_payload& gp = ep.last_payload();
  EXPECT_EQ(gp.get_address(), msi_address(3));
  EXPECT_EQ(gp.get_data_length(), 4u);
  EXPECT_EQ(gp.get_response_status(), tlm::TLM_OK_RESPONSE);
}

TEST_F(MsiInFabric, MsiIsDisabledWithoutEnableBusMasterOrAnAllocatedVector) {
  program_msi(msi_address(0), 0x40, 0, /*enable*/ false);
  EXPECT_EQ(signal(0, 0), MsiResult::Disabled);
  program_msi(msi_address(0), 0x40, /*1 vector*/ 0);
  EXPECT_EQ(signal(0, 1), MsiResult::Disabled) << "only vector 0 is allocated";
  bus_master(*f, "nic", false);
  EXPECT_EQ(signal(0, 0), MsiResult::Disabled) << "PCIe 7.5.1.1.3: no memory writes without BME";
  EXPECT_EQ(f->apic().count(), 0u);
  bus_master(*f, "nic");
  EXPECT_EQ(signal(0, 0), MsiResult::Sent);
  EXPECT_EQ(f->apic().count(), 1u);
}

TEST_F(MsiInFabric, MaskedMsiVectorSetsItsPendingBitAndIsSentWhenUnmasked) {
  program_msi(msi_address(1), 0x60, 2);
  cfg_write(*f, "nic", msi0 + regs::kMsiMask64, 4, 0b0010);  // mask vector 1
  EXPECT_EQ(signal(0, 1), MsiResult::Pending);
  EXPECT_EQ(cfg_read(*f, "nic", msi0 + regs::kMsiPending64), 0b0010u);
  EXPECT_EQ(f->apic().count(), 0u);
  EXPECT_EQ(signal(0, 0), MsiResult::Sent) << "other vectors are not masked";
  ASSERT_EQ(f->apic().count(), 1u);
  // Unmasking through a config write sends the pending message and clears its bit.
  cfg_write(*f, "nic", msi0 + regs::kMsiMask64, 4, 0);
  ASSERT_EQ(f->apic().count(), 2u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x61);
  EXPECT_EQ(cfg_read(*f, "nic", msi0 + regs::kMsiPending64), 0u);
}

TEST_F(MsiInFabric, ThirtyTwoBitMsiCapabilityUsesItsOwnLayout) {
  const uint16_t msi1 = fn(*f, "nic.f1").fn->msi_cap();
  cfg_write(*f, "nic.f1", msi1 + regs::kMsiAddrLo, 4, static_cast<uint32_t>(msi_address(7)));
  cfg_write(*f, "nic.f1", msi1 + regs::kMsiData32, 2, 0x33);
  cfg_write(*f, "nic.f1", msi1 + regs::kMsiFlags, 2, 1);
  EXPECT_EQ(signal(1, 0), MsiResult::Sent);
  ASSERT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x33);
  EXPECT_EQ(f->apic().last()->irq.destination, 7u);
  EXPECT_EQ(f->apic().last()->source_id, fn(*f, "nic.f1").bdf().raw());
}

TEST_F(MsiInFabric, MsixTableIsRegistersInTheBarTheCapabilityNames) {
  const uint16_t msix = fn(*f, "nic").fn->msix_cap();
  ASSERT_EQ(cfg_read(*f, "nic", msix + regs::kMsixTable), kTableOffset | 0u);  // BIR 0
  ASSERT_EQ(cfg_read(*f, "nic", msix + regs::kMsixPba), kPbaOffset | 0u);
  // After reset every vector is masked (PCI 3.0 6.8.2.9).
  EXPECT_EQ(mmio_read(*f, table(5, 12)), 1u);
  program_msix_entry(5, msi_address(2) | 3, 0x1234abcd, false);
  EXPECT_EQ(mmio_read(*f, table(5, 0)), msi_address(2)) << "address bits 1:0 read 0";
  EXPECT_EQ(mmio_read(*f, table(5, 8)), 0x1234abcdu);
  mmio_write(*f, table(5, 12), 0xffffffff);
  EXPECT_EQ(mmio_read(*f, table(5, 12)), 1u) << "vector control bits 31:1 are reserved";
  EXPECT_EQ(mmio_read(*f, table(5, 0), 8), msi_address(2));
  // The PBA is read-only.
  mmio_write(*f, bar(*f, "nic", 0) + kPbaOffset, ~0ull, 8);
  EXPECT_EQ(mmio_read(*f, bar(*f, "nic", 0) + kPbaOffset, 8), 0u);
  // Outside the table the BAR is the generic model's memory.
  mmio_write(*f, bar(*f, "nic", 0) + 0x100, 0x55aa);
  EXPECT_EQ(mmio_read(*f, bar(*f, "nic", 0) + 0x100), 0x55aau);
}

TEST_F(MsiInFabric, MsixSendsTheEntryMessageAndHonoursFunctionAndVectorMasks) {
  program_msix_entry(3, msi_address(4), 0x51, false);
  program_msix_entry(6, msi_address(5), 0x52, true);
  EXPECT_EQ(signal(0, 3), MsiResult::Disabled) << "MSI-X not enabled (and MSI off)";
  msix_control(regs::kMsixEnable | regs::kMsixMaskAll);
  EXPECT_EQ(signal(0, 3), MsiResult::Pending) << "Function Mask";
  EXPECT_EQ(mmio_read(*f, bar(*f, "nic", 0) + kPbaOffset), 1u << 3);
  EXPECT_EQ(f->apic().count(), 0u);
  msix_control(regs::kMsixEnable);  // clearing the Function Mask sends what is pending
  ASSERT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x51);
  EXPECT_EQ(f->apic().last()->irq.destination, 4u);
  EXPECT_EQ(mmio_read(*f, bar(*f, "nic", 0) + kPbaOffset), 0u);
  EXPECT_EQ(signal(0, 3), MsiResult::Sent);
  EXPECT_EQ(signal(0, 6), MsiResult::Pending) << "vector 6 is masked in its entry";
  EXPECT_EQ(mmio_read(*f, bar(*f, "nic", 0) + kPbaOffset), 1u << 6);
  EXPECT_EQ(signal(0, 8), MsiResult::Disabled) << "beyond the table";
  ASSERT_EQ(f->apic().count(), 2u);
  mmio_write(*f, table(6, 12), 0);  // unmasking the entry through MMIO sends it
  ASSERT_EQ(f->apic().count(), 3u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x52);
  EXPECT_EQ(mmio_read(*f, bar(*f, "nic", 0) + kPbaOffset), 0u);
  // MSI-X wins over MSI; with both off nothing goes.
  program_msi(msi_address(0), 0x70, 0);
  EXPECT_EQ(signal(0, 3), MsiResult::Sent);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x51);
}

namespace {

// A device model with its own BAR behaviour: it counts the accesses that reach it.
class CountingModel : public Endpoint {
 public:
  using Endpoint::Endpoint;
  unsigned accesses = 0;

 protected:
  void bar_access(unsigned fn_no, PciFunction& fn, int, uint64_t, tlm::tlm_generic_payload& gp, PcieExtension& ext,
                  sc_core::sc_time&) override {
    ++accesses;
    if (gp.is_read()) std::memset(gp.get_data_ptr(), 0xee, gp.get_data_length());
    ext.completer = fn.bdf();
    ext.deliver(function_hop(fn_no));
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

}  // namespace

TEST(MsixWithDeviceModel, TableAccessesNeverReachTheModelsBarHandler) {
  register_device_model("counting", [](const char* n, const topo::EndpointSpec& s, int seg, const topo::LinkSpec* l) {
    return std::make_unique<CountingModel>(n, s, seg, l);
  });
  std::string yaml = kTopology;
  yaml.replace(yaml.find("name: nic"), 9, "name: nic\n            model: counting");
  auto f = make_fabric(yaml);
  auto* model = dynamic_cast<CountingModel*>(fn(*f, "nic").endpoint);
  ASSERT_NE(model, nullptr);
  const uint64_t b = bar(*f, "nic", 0);
  mmio_write(*f, b + kTableOffset + 16 * 2 + 8, 0x77);
  EXPECT_EQ(mmio_read(*f, b + kTableOffset + 16 * 2 + 8), 0x77u);
  EXPECT_EQ(mmio_read(*f, b + kPbaOffset), 0u);
  EXPECT_EQ(model->accesses, 0u);
  EXPECT_EQ(mmio_read(*f, b + 0x10), 0xeeeeeeeeu);
  EXPECT_EQ(model->accesses, 1u);
}

TEST(MsiThroughIommu, CompatibilityMsiPassesTheUnitWithRemappingOff) {
  auto f = make_fabric(with_iommu());
  bus_master(*f, "nic");
  const uint16_t msi = fn(*f, "nic").fn->msi_cap();
  cfg_write(*f, "nic", msi + regs::kMsiAddrLo, 4, static_cast<uint32_t>(msi_address(2)));
  cfg_write(*f, "nic", msi + regs::kMsiData64, 2, 0x45);
  cfg_write(*f, "nic", msi + regs::kMsiFlags, 2, 1);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  EXPECT_EQ(fn(*f, "nic").endpoint->signal_msi(0, 0, delay), MsiResult::Sent);
  EXPECT_GT(delay, sc_core::SC_ZERO_TIME) << "the write crossed a link";
  EXPECT_EQ(f->iommu("dmar0")->interrupts(), 1u);
  ASSERT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x45);
}

TEST(MsiThroughIommu, RemappedMsixReachesTheApicAndABlockedOneIsAFault) {
  auto f = make_fabric(with_iommu());
  bus_master(*f, "nic");
  vtd::VtdProgrammer drv(*f, "dmar0");
  drv.set_root_table();
  drv.enable_interrupt_remapping();  // compatibility format blocked (CFIS = 0)
  const RequesterId nic = fn(*f, "nic").bdf();
  vtd::ApicInterrupt irq;
  irq.vector = 0x66;
  irq.destination = 1;
  drv.set_irte(9, vtd::make_remapped_irte(irq, false, vtd::SourceValidation::requester(nic.raw())));
  const vtd::MsiWrite remappable = vtd::make_remappable_msi(9, false, 0, nic.raw());
  const uint64_t t = bar(*f, "nic", 0) + kTableOffset;
  mmio_write(*f, t + 0, remappable.address, 8);
  mmio_write(*f, t + 8, remappable.data);
  mmio_write(*f, t + 12, 0);
  mmio_write(*f, t + 16 + 0, msi_address(0), 8);  // vector 1: compatibility format
  mmio_write(*f, t + 16 + 8, 0x30);
  mmio_write(*f, t + 16 + 12, 0);
  cfg_write(*f, "nic", fn(*f, "nic").fn->msix_cap() + regs::kMsixFlags, 2, regs::kMsixEnable);
  Endpoint& ep = *fn(*f, "nic").endpoint;
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  EXPECT_EQ(ep.signal_msi(0, 0, delay), MsiResult::Sent);
  ASSERT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x66);
  EXPECT_EQ(f->apic().last()->path, vtd::InterruptPath::Remapped);
  EXPECT_EQ(ep.signal_msi(0, 1, delay), MsiResult::Fault);
  EXPECT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->iommu("dmar0")->faults(), 1u);
}

namespace {

// Function 1's BAR is a doorbell: a write to it signals function 1's MSI vector 0 from inside the
// BAR handler, while the write that rang it is still on its way.
class DoorbellModel : public Endpoint {
 public:
  using Endpoint::Endpoint;
  MsiResult rung = MsiResult::Disabled;

 protected:
  void bar_access(unsigned fn_no, PciFunction& fn, int, uint64_t, tlm::tlm_generic_payload& gp, PcieExtension& ext,
                  sc_core::sc_time& delay) override {
    if (gp.is_write() && fn_no == 1) {
      sc_core::sc_time d = delay;
      rung = signal_msi(1, 0, d);
    }
    ext.completer = fn.bdf();
    ext.deliver(function_hop(fn_no));
    gp.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

}  // namespace

TEST(MsiFromADeviceModel, AMessageSentWhileASiblingsDmaIsOnItsWayLeavesThatDmasRecordIntact) {
  register_device_model("doorbell", [](const char* n, const topo::EndpointSpec& s, int seg, const topo::LinkSpec* l) {
    return std::make_unique<DoorbellModel>(n, s, seg, l);
  });
  std::string yaml = kTopology;
  yaml.replace(yaml.find("name: nic"), 9, "name: nic\n            model: doorbell");
  auto f = make_fabric(yaml);
  auto* model = dynamic_cast<DoorbellModel*>(fn(*f, "nic").endpoint);
  ASSERT_NE(model, nullptr);
  bus_master(*f, "nic");
  bus_master(*f, "nic.f1");
  const uint16_t msi1 = fn(*f, "nic.f1").fn->msi_cap();
  cfg_write(*f, "nic.f1", msi1 + regs::kMsiAddrLo, 4, static_cast<uint32_t>(msi_address(6)));
  cfg_write(*f, "nic.f1", msi1 + regs::kMsiData32, 2, 0x2c);
  cfg_write(*f, "nic.f1", msi1 + regs::kMsiFlags, 2, 1);
  // nic.f0 writes the doorbell: the multi-function device routes it to f1 internally.
  Sent s = send(*f, "nic", TlpKind::MemWrite, bar(*f, "nic.f1", 0), 4);
  EXPECT_EQ(s.verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(s.at(), "nic.f1") << path_text(s);
  EXPECT_EQ(path_text(s), "nic.f0");
  EXPECT_EQ(model->rung, MsiResult::Sent);
  ASSERT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x2c);
  EXPECT_EQ(f->apic().last()->source_id, fn(*f, "nic.f1").bdf().raw());
}
