// The kernel's IOMMU core (drivers/iommu/iommu.c, dma-iommu.c, Linux 6.1) over the intel-iommu
// driver: IOMMU groups computed with Linux's rules (cosim/groups) from what the PCI core scanned,
// each group's default domain attached at boot, domains for users (iommu_domain_alloc), group
// attach/detach with Linux's ownership rules (a kernel driver and VFIO never share a group), and
// the DMA API's IOVA allocation and mapping.
//
// A domain spans every remapping unit its devices sit behind: it keeps one intel-iommu page table
// (IommuDomain, one domain id) per unit and maps into all of them. Linux shares one table between
// units; the translations the devices see are the same.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "iommu/iommu_domain.h"
#include "iommu/iova_allocator.h"
#include "pciesim/tlp.h"

struct iommu_domain;

namespace pciesim::cosim {

class IntelIommu;
class Kernel;
struct PciDev;
struct DomainRec;

// struct iommu_group (C sees it opaque).
struct GroupRec {
  int id = -1;
  std::vector<PciDev*> devices;
  DomainRec* default_domain = nullptr;
  DomainRec* domain = nullptr;      // attached now
  DomainRec* blocking = nullptr;    // while a user owns the group
  void* owner = nullptr;            // iommu_group_claim_dma_owner
  unsigned owner_cnt = 0;           // kernel drivers using the default domain, or 1 for an owner
};

struct DomainRec {
  std::unique_ptr<::iommu_domain> c;   // what kernel C holds; c->cosim points here
  unsigned type = 0;                   // IOMMU_DOMAIN_*
  std::map<IntelIommu*, IommuDomain*> hw;  // one page table per unit, made on first attach
  struct Mapping {
    uint64_t phys, size;
    unsigned prot;
  };
  std::map<uint64_t, Mapping> mappings;  // iova -> what iommu_map established (replayed into new units)
  std::unique_ptr<IovaAllocator> iova;   // DMA domains
  std::vector<uint64_t> deferred_free;   // lazy: IOVAs freed once the flush queue has flushed
  unsigned attached = 0;                 // devices attached
};

class IommuApi {
 public:
  // The reserved MSI region intel-iommu reports for every device (intel_iommu_get_resv_regions:
  // IOAPIC_RANGE_START..END). No DMA address may fall in it.
  static constexpr uint64_t kMsiFirst = 0xfee00000ull, kMsiLast = 0xfeefffffull;

  explicit IommuApi(Kernel& kernel);
  ~IommuApi();

  // After the PCI scan and intel-iommu init: groups in Linux's order ("Adding to iommu group N"),
  // default domains attached. Without units (or iommu off) every device stays group-less. After a
  // rescan it groups only the new devices: they join an existing group when Linux's rules put
  // them with one of its members, else get new groups numbered on.
  void probe_devices();
  bool enabled() const { return m_enabled; }

  // iommu_release_device (a device that goes away: an SR-IOV VF): detached from its domain and
  // dropped from its group ("Removing from iommu group N"); an emptied group stays numbered.
  void remove_device(PciDev& d);
  GroupRec* group_of(const PciDev& d) const;
  const std::vector<std::unique_ptr<GroupRec>>& groups() const { return m_groups; }
  IntelIommu* unit_for(const PciDev& d) const;
  // pci_for_each_dma_alias: the requester ids the device's DMA carries (itself first).
  std::vector<RequesterId> dma_aliases(const PciDev& d) const;
  // The devfns (same bus) the DMA-alias header fixups add for `d` (Linux pci_add_dma_alias() from
  // drivers/pci/quirks.c: quirk_dma_func0_alias, quirk_dma_func1_alias, quirk_fixed_dma_alias,
  // quirk_mic_x200_dma_alias), by vendor and device id as Linux matches them.
  static std::vector<uint8_t> quirk_alias_devfns(const PciDev& d);

  // ---- domains ----
  DomainRec* alloc_domain(unsigned type);
  void free_domain(DomainRec* d);
  static DomainRec* of(const ::iommu_domain* d);
  int attach_group(DomainRec* d, GroupRec& g);
  void detach_group(DomainRec* d, GroupRec& g);
  int attach_device(DomainRec* d, PciDev& dev);  // groups of exactly one device (-EINVAL otherwise)
  DomainRec* domain_of(const PciDev& dev) const;
  int map(DomainRec* d, uint64_t iova, uint64_t phys, uint64_t size, int prot);
  uint64_t unmap(DomainRec* d, uint64_t iova, uint64_t size);
  uint64_t iova_to_phys(DomainRec* d, uint64_t iova) const;

  // ---- ownership (iommu_device_use_default_domain, iommu_group_claim_dma_owner) ----
  int device_use_default_domain(PciDev& dev);
  void device_unuse_default_domain(PciDev& dev);
  int claim_dma_owner(GroupRec& g, void* owner);
  void release_dma_owner(GroupRec& g);

  // ---- DMA API (dma-iommu.c) ----
  // DMA address for `size` bytes at `phys` within the device's mask; DMA_MAPPING_ERROR (~0) when
  // out of IOVA space or the mapping failed. Identity / no IOMMU: the physical address.
  uint64_t dma_map(PciDev& dev, uint64_t phys, uint64_t size, unsigned prot);
  // Unmaps what dma_map returned (the whole allocation); false (and a WARNING) for an unknown one.
  bool dma_unmap(PciDev& dev, uint64_t dma, uint64_t size);
  // Runs the lazy flush queues' 10 ms timer (Linux fq_flush_timeout) for every domain.
  void service_flush_timers();

 private:
  int attach_device_to(DomainRec* d, PciDev& dev);
  void detach_device_from(DomainRec* d, PciDev& dev);
  int set_group_domain(GroupRec& g, DomainRec* d);
  IommuDomain* hw_domain(DomainRec* d, IntelIommu* unit);
  void release_deferred(DomainRec* d);
  void arm_flush_timer();

  Kernel& m_kernel;
  bool m_enabled = false;
  std::vector<std::unique_ptr<GroupRec>> m_groups;
  std::map<const PciDev*, GroupRec*> m_group_of;
  std::map<const PciDev*, DomainRec*> m_domain_of;
  std::vector<std::unique_ptr<DomainRec>> m_domains;
  bool m_timer_running = false;
};

}  // namespace pciesim::cosim
