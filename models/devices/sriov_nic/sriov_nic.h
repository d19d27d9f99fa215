// An SR-IOV NIC (docs/sriov.md): one physical function with the SR-IOV extended capability
// (PCIe 5.0 9.3.3) and ARI, modelled on the Intel 82599 (ids and SR-IOV values in
// sriov_nic_regs.h), and up to TotalVFs virtual functions that exist only while the PF's VF Enable
// is set. Each VF has
//   - its own routing id, PF RID + First VF Offset + n * VF Stride (PCIe 9.2.1.2), on the PF's bus
//     (the topology loader rejects parameters that would put a VF on another bus);
//   - its own config space (PCIe 9.3.4): Vendor and Device ID read FFFFh, no INTx, BARs read 0,
//     PCIe capability with FLR, MSI-X (table and PBA in VF BAR3), ARI;
//   - memory space decoded from the PF's VF BARn: VF n's BARn is VF BARn base + n * VF BARn size,
//     while VF MSE is set (PCIe 9.3.3.3.4);
//   - a DMA engine like the PF's (sriov_nic_regs.h) whose copies go through Endpoint::dma, so they
//     carry the VF's requester id across the fabric and through the IOMMU, and whose completion
//     interrupt is one of the VF's MSI-X vectors.
// Clearing VF Enable (or resetting the PF) removes the VFs; an FLR of a VF resets that VF.
// Not modelled: VF migration, the 100 ms after VF Enable during which VFs may answer CRS, System
// Page Size values above the 16 KiB VF BARs (the BARs stay 16 KiB), PF-to-VF mailboxes.
#pragma once

#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <array>
#include <cstdint>
#include <memory>
#include <systemc>
#include <vector>

#include "devices/sriov_nic/sriov_nic_regs.h"
#include "pcie/endpoint.h"

namespace pciesim {

// The model's parameters (topology `params:`), checked when the topology is loaded.
struct SriovNicParams {
  unsigned total_vfs = sriov_nic::kDefaultTotalVfs;
  unsigned initial_vfs = sriov_nic::kDefaultTotalVfs;  // defaults to total_vfs
  unsigned vf_offset = sriov_nic::kDefaultVfOffset;
  unsigned vf_stride = sriov_nic::kDefaultVfStride;
  uint16_t vf_device = sriov_nic::kVfDevice;
  unsigned vf_msix_vectors = sriov_nic::kDefaultVfMsixVectors;
  // Does the device route a request from one of its functions (PF or VF) to another's BAR inside
  // itself (PCIe 6.12.1.2 allows it to a multi-function device without ACS)? The 82599 does not:
  // Intel states its functions do no peer-to-peer among themselves, which is why Linux lists the
  // 82599 PF ids with pci_quirk_mf_endpoint_acs (drivers/pci/quirks.c pci_dev_acs_enabled[]).
  // false: every request of the PF and its VFs leaves on the upstream link, and the port above
  // decides (ACS UF/RR redirect to the IOMMU, or reflection back down without ACS).
  bool internal_p2p = false;
};
// Parses spec.params; throws topo::TopologyError at spec.loc for an unknown key or a bad value.
SriovNicParams parse_sriov_nic_params(const topo::EndpointSpec& spec);

class SriovNic : public Endpoint {
 public:
  SC_HAS_PROCESS(SriovNic);
  SriovNic(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment, const topo::LinkSpec* link);

  const SriovNicParams& params() const { return m_params; }
  PciFunction& pf() const { return *function(0); }
  uint16_t sriov_cap() const { return m_sriov; }
  // VFs that exist now (VF Enable set): NumVFs as latched when VF Enable was set.
  unsigned num_vfs_enabled() const { return m_enabled_vfs; }
  // Function number (ARI: the devfn on the PF's bus) of VF `n` (0-based), and back.
  unsigned vf_function_number(unsigned n) const;
  int vf_index(unsigned fn) const;  // -1 when `fn` is no VF
  // VF `n` whether or not it exists now (nullptr beyond TotalVFs).
  PciFunction* vf(unsigned n) const { return n < m_vfs.size() ? m_vfs[n].get() : nullptr; }
  // Copies the engine of function `fn` finished since its reset.
  uint32_t copies(unsigned fn) const;

 protected:
  void bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                  PcieExtension& ext, sc_core::sc_time& delay) override;
  void on_reset(unsigned fn, ResetKind kind) override;

 private:
  struct Engine {
    std::array<uint64_t, sriov_nic::kEngineRegisterCount> values{};
    bool busy = false;
    uint64_t generation = 0;
  };
  std::unique_ptr<PciFunction> make_vf(unsigned n, const topo::EndpointSpec& spec, const topo::LinkSpec* link);
  void add_sriov_capability(PciFunction& pf);
  // The PF's config listener: SR-IOV Control, NumVFs and VF BAR writes.
  void pf_config_written(uint16_t offset, unsigned size);
  void enable_vfs();
  void disable_vfs();
  void update_vf_bars();
  Engine& engine(unsigned fn);
  void engine_mmio(unsigned fn, bool is_read, uint64_t offset, uint8_t* data, unsigned len,
                   const sc_core::sc_time& delay);
  void engine_thread();  // SC_THREAD: runs the copies the doorbells start

  SriovNicParams m_params;
  uint16_t m_sriov = 0;     // SR-IOV capability offset in the PF
  unsigned m_enabled_vfs = 0;
  bool m_vf_enable = false;
  std::vector<std::unique_ptr<PciFunction>> m_vfs;  // VF index -> function (built once)
  std::vector<HopId> m_vf_hops;
  std::vector<std::unique_ptr<Engine>> m_engines;   // function number -> engine
  sc_core::sc_event m_start;
};

}  // namespace pciesim
