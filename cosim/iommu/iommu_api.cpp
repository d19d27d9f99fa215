#include "iommu/iommu_api.h"

#include <algorithm>
#include <cstdio>

#include "groups/acs_override.h"
#include "groups/acs_quirks.h"
#include "groups/iommu_groups.h"
#include "iommu/intel_ats.h"
#include "iommu/intel_iommu.h"
#include "iommu/iommu_core.h"
#include "iommu/remapping_unit.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "pcie/fabric.h"
#include "pcie/root_complex.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {

namespace {

groups::PortType port_type(const pci_dev* dev) {
  using groups::PortType;
  if (!dev->pcie_cap) return PortType::Conventional;
  switch (pci_pcie_type(dev)) {
    case PCI_EXP_TYPE_ENDPOINT: return PortType::Endpoint;
    case PCI_EXP_TYPE_LEG_END: return PortType::LegacyEndpoint;
    case PCI_EXP_TYPE_ROOT_PORT: return PortType::RootPort;
    case PCI_EXP_TYPE_UPSTREAM: return PortType::UpstreamPort;
    case PCI_EXP_TYPE_DOWNSTREAM: return PortType::DownstreamPort;
    case PCI_EXP_TYPE_PCI_BRIDGE: return PortType::PcieToPciBridge;
    case PCI_EXP_TYPE_PCIE_BRIDGE: return PortType::PciToPcieBridge;
    case PCI_EXP_TYPE_RC_END: return PortType::RcEndpoint;
    case PCI_EXP_TYPE_RC_EC: return PortType::RcEventCollector;
    default: return PortType::Endpoint;
  }
}

unsigned hw_prot(int prot) {
  return ((prot & IOMMU_READ) ? kIommuRead : 0u) | ((prot & IOMMU_WRITE) ? kIommuWrite : 0u);
}
}  // namespace

IommuApi::IommuApi(Kernel& kernel) : m_kernel(kernel) {}
IommuApi::~IommuApi() {
  // Context entries first: the intel-iommu driver refuses to free an attached domain.
  while (!m_domain_of.empty()) {
    auto it = m_domain_of.begin();
    detach_device_from(it->second, *const_cast<PciDev*>(it->first));
  }
  for (auto& d : m_domains)
    for (auto& [unit, hw] : d->hw) unit->free_domain(*hw);
}

DomainRec* IommuApi::of(const ::iommu_domain* d) { return d ? static_cast<DomainRec*>(d->cosim) : nullptr; }

IntelIommu* IommuApi::unit_for(const PciDev& d) const {
  IommuCore* core = m_kernel.iommu_hw();
  if (!core || !d.info) return nullptr;
  // dmar_find_matched_drhd_unit: the unit whose device scope holds the device's root port (or the
  // RCiEP itself), else the segment's include-all unit.
  const FunctionInfo* top = d.info;
  while (top->parent) top = m_kernel.fabric().find(top->parent);
  if (!top) return nullptr;
  const std::string fn_name = top->fn->name();
  IntelIommu* include_all = nullptr;
  for (const auto& u : core->units()) {
    if (!u->initialized()) continue;
    const topo::IommuSpec* spec = nullptr;
    for (vtd::RemappingUnit* ru : m_kernel.fabric().iommus())
      if (ru->spec().name == u->name()) spec = &ru->spec();
    if (!spec || spec->segment != d.segment) continue;
    if (spec->include_all) {
      if (!include_all) include_all = u.get();
      continue;
    }
    for (const std::string& s : spec->scope)
      if (s == fn_name || s == top->component) return u.get();
  }
  return include_all;
}

std::vector<uint8_t> IommuApi::quirk_alias_devfns(const PciDev& d) {
  groups::HostView one;
  groups::FunctionView f;
  f.segment = d.segment;
  f.bus = d.bdf.bus;
  f.devfn = d.bdf.devfn;
  f.vendor = d.dev->vendor;
  f.device = d.dev->device;
  f.class_code = d.dev->class_;
  f.header_type = d.dev->hdr_type;
  one.functions.push_back(f);
  groups::apply_dma_alias_quirks(one);
  return one.functions[0].dma_alias_devfns;
}

std::vector<RequesterId> IommuApi::dma_aliases(const PciDev& d) const {
  std::vector<RequesterId> out{d.bdf};
  auto add = [&](RequesterId r) {
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  };
  // dma_alias_mask from the quirk table (same bus)
  for (uint8_t devfn : quirk_alias_devfns(d)) add(RequesterId{d.bdf.bus, devfn});
  // pci_for_each_dma_alias: the bridges on the way up
  for (const pci_bus* bus = d.dev->bus; bus && bus->parent; bus = bus->parent) {
    const pci_dev* tmp = bus->self;
    if (!tmp) break;
    const PciDev& b = PciCore::of(tmp);
    if (tmp->pcie_cap) {
      switch (pci_pcie_type(tmp)) {
        case PCI_EXP_TYPE_ROOT_PORT:
        case PCI_EXP_TYPE_UPSTREAM:
        case PCI_EXP_TYPE_DOWNSTREAM: continue;
        case PCI_EXP_TYPE_PCI_BRIDGE:
          if (tmp->subordinate) add(RequesterId{tmp->subordinate->number, 0});
          continue;
        case PCI_EXP_TYPE_PCIE_BRIDGE: add(b.bdf); continue;
        default: continue;
      }
    }
    add(b.bdf);  // a conventional bridge: its own requester id
  }
  return out;
}

// ---- boot ----

void IommuApi::probe_devices() {
  IommuCore* core = m_kernel.iommu_hw();
  m_enabled = core != nullptr;
  if (!m_enabled) return;
  PciCore& pci = m_kernel.pci();
  groups::HostView host;
  host.source = "pci core";
  std::map<int, PciDev*> by_index;
  for (const auto& d : pci.devices()) {
    const pci_dev* dev = d->dev.get();
    groups::FunctionView f;
    f.segment = d->segment;
    f.bus = d->bdf.bus;
    f.devfn = d->bdf.devfn;
    f.vendor = dev->vendor;
    f.device = dev->device;
    f.class_code = dev->class_;
    f.header_type = dev->hdr_type;
    f.multifunction = dev->multifunction;
    f.port_type = port_type(dev);
    f.pcix = pci.find_capability(dev, PCI_CAP_ID_PCIX) != 0;
    f.acs = groups::AcsState{};
    if (dev->acs_cap) {
      uint32_t cap = 0, ctrl = 0;
      pci.config_read(dev, dev->acs_cap + PCI_ACS_CAP, 2, cap);
      pci.config_read(dev, dev->acs_cap + PCI_ACS_CTRL, 2, ctrl);
      f.acs = groups::AcsState{true, static_cast<uint16_t>(cap), static_cast<uint16_t>(ctrl)};
    }
    if (dev->subordinate) {
      f.secondary = dev->subordinate->number;
      uint32_t sub = 0;
      pci.config_read(dev, PCI_SUBORDINATE_BUS, 1, sub);
      f.subordinate = static_cast<uint8_t>(sub);
    }
    f.iommu_attached = unit_for(*d) != nullptr;
    f.name = d->name;
    by_index[static_cast<int>(host.functions.size())] = d.get();
    host.functions.push_back(f);
  }
  host.link_parents();
  groups::GroupAssumptions assume;
  if (const groups::AcsOverride& ov = m_kernel.options().acs_override; ov.any())
    // The patch's last pci_dev_acs_enabled[] entry (pcie_acs_overrides), consulted after the quirks.
    assume.acs_override = [ov](const groups::HostView& h, int index, groups::PortType t) {
      return groups::acs_override_isolates(ov, h, index, t);
    };
  const groups::GroupResult r = groups::compute_iommu_groups(host, assume);
  for (const std::string& why : r.undecidable_because)
    m_kernel.printk(LogLevel::Warning, "iommu: cannot group: " + why + "\n");
  const unsigned type = m_kernel.options().passthrough ? IOMMU_DOMAIN_IDENTITY
                        : m_kernel.options().strict    ? IOMMU_DOMAIN_DMA
                                                       : IOMMU_DOMAIN_DMA_FQ;
  // Devices already grouped keep their groups (a rescan adds devices); a computed group that
  // holds one of them is that group, any other computed group is a new one with the next number,
  // as iommu_group_alloc numbers them.
  std::map<int, GroupRec*> by_computed;
  for (const groups::DeviceGroup& dg : r.devices)
    if (dg.group >= 0)
      if (GroupRec* known = group_of(*by_index[dg.index])) by_computed[dg.group] = known;
  const bool first = m_group_of.empty();
  for (const groups::DeviceGroup& dg : r.devices) {
    if (dg.group < 0) continue;
    PciDev* d = by_index[dg.index];
    if (group_of(*d)) continue;
    GroupRec*& slot = by_computed[dg.group];
    if (!slot) {
      m_groups.push_back(std::make_unique<GroupRec>());
      m_groups.back()->id = static_cast<int>(m_groups.size()) - 1;
      slot = m_groups.back().get();
    }
    GroupRec& g = *slot;
    g.devices.push_back(d);
    m_group_of[d] = &g;
    d->dev->dev.iommu_group = reinterpret_cast<iommu_group*>(&g);
    _dev_printk(KERN_INFO, &d->dev->dev, "Adding to iommu group %d\n", g.id);
    if (!g.default_domain) {
      g.default_domain = alloc_domain(type);
      g.domain = g.default_domain;
    }
    attach_device_to(g.domain == g.default_domain || !g.domain ? g.default_domain : g.domain, *d);
  }
  if (!first) return;
  const char* mode = type == IOMMU_DOMAIN_IDENTITY ? "Passthrough" : type == IOMMU_DOMAIN_DMA ? "Translated" : "Translated";
  m_kernel.printk(LogLevel::Info, std::string("iommu: Default domain type: ") + mode + " \n");
  m_kernel.printk(LogLevel::Info, std::string("iommu: DMA domain TLB invalidation policy: ") +
                                      (type == IOMMU_DOMAIN_DMA_FQ ? "lazy mode" : "strict mode") + " \n");
}

GroupRec* IommuApi::group_of(const PciDev& d) const {
  auto it = m_group_of.find(&d);
  return it == m_group_of.end() ? nullptr : it->second;
}

DomainRec* IommuApi::domain_of(const PciDev& dev) const {
  auto it = m_domain_of.find(&dev);
  return it == m_domain_of.end() ? nullptr : it->second;
}

// ---- domains ----

DomainRec* IommuApi::alloc_domain(unsigned type) {
  auto d = std::make_unique<DomainRec>();
  d->type = type;
  d->c = std::make_unique<::iommu_domain>();
  *d->c = ::iommu_domain{};
  d->c->type = type;
  // intel-iommu: 4 KiB, plus 2 MiB / 1 GiB as every unit's CAP.SLLPS allows (domain_update_iommu_superpage).
  unsigned sllps = 3;
  int width = 48;
  if (IommuCore* core = m_kernel.iommu_hw())
    for (const auto& u : core->units())
      if (u->initialized()) {
        width = std::min(width, static_cast<int>(u->caps().mgaw()));
        sllps &= u->caps().sllps();
      }
  d->c->pgsize_bitmap = 0x1000ul | ((sllps & 1) ? 0x200000ul : 0) | ((sllps & 2) ? 0x40000000ul : 0);
  d->c->geometry.aperture_start = 0;
  d->c->geometry.aperture_end = (1ull << width) - 1;
  d->c->geometry.force_aperture = true;
  d->c->cosim = d.get();
  if (type & __IOMMU_DOMAIN_DMA_API) {
    d->iova = std::make_unique<IovaAllocator>(d->c->geometry.aperture_end);
    d->iova->reserve(0, IovaAllocator::kGranule - 1);  // IOVA_START_PFN 1
    d->iova->reserve(kMsiFirst, kMsiLast);            // iova_reserve_iommu_regions: the MSI window
    for (RootComplex* rc : m_kernel.fabric().root_complexes()) {  // iova_reserve_pci_windows
      const auto& s = rc->spec();
      d->iova->reserve(s.mmio32.base, s.mmio32.base + s.mmio32.size - 1);
      d->iova->reserve(s.mmio64.base, s.mmio64.base + s.mmio64.size - 1);
    }
  }
  DomainRec* out = d.get();
  m_domains.push_back(std::move(d));
  if (type == IOMMU_DOMAIN_IDENTITY) {
    // si_domain without ECAP.PT use: every DRAM byte mapped 1:1 (si_domain_init, hw = false).
    const uint64_t base = m_kernel.fabric().spec().memory.range.base, size = m_kernel.fabric().spec().memory.range.size;
    out->mappings[base] = DomainRec::Mapping{base, size, kIommuRead | kIommuWrite};
  }
  return out;
}

void IommuApi::free_domain(DomainRec* d) {
  if (!d) return;
  for (auto& [unit, hw] : d->hw) unit->free_domain(*hw);
  d->hw.clear();
  m_domains.erase(std::remove_if(m_domains.begin(), m_domains.end(), [d](const auto& p) { return p.get() == d; }),
                  m_domains.end());
}

IommuDomain* IommuApi::hw_domain(DomainRec* d, IntelIommu* unit) {
  auto it = d->hw.find(unit);
  if (it != d->hw.end()) return it->second;
  IommuDomain& hw = unit->alloc_domain();
  hw.set_flush_mode(d->type == IOMMU_DOMAIN_DMA_FQ ? FlushMode::Lazy : FlushMode::Strict);
  for (const auto& [iova, m] : d->mappings) hw.map(iova, m.phys, m.size, m.prot);
  d->hw[unit] = &hw;
  return &hw;
}

int IommuApi::attach_device_to(DomainRec* d, PciDev& dev) {
  IntelIommu* unit = unit_for(dev);
  if (!unit) return -ENODEV;
  if (d->type == IOMMU_DOMAIN_BLOCKED) return -EINVAL;
  IommuDomain* hw = hw_domain(d, unit);
  if (DomainRec* old = domain_of(dev); old && old != d) detach_device_from(old, dev);
  // intel_iommu_probe_device's info->ats_supported; ATS stays off while the context changes
  // (iommu_disable_dev_iotlb before domain_context_clear_one, intel_ats.h).
  const bool ats = intel_ats_supported(m_kernel, *unit, dev);
  iommu_disable_dev_iotlb(m_kernel, *unit, dev);
  for (RequesterId alias : dma_aliases(dev)) {
    if (unit->attached_domain(alias) == hw) continue;
    if (unit->attached_domain(alias)) unit->detach_device(alias);
    // domain_context_mapping_one: CONTEXT_TT_DEV_IOTLB for the device itself (its aliases have no
    // device_domain_info of their own).
    const int rc = unit->attach_device(*hw, alias, ats && alias == dev.bdf);
    if (rc) return rc;
  }
  if (ats) iommu_enable_dev_iotlb(m_kernel, *unit, dev, hw->did());
  m_domain_of[&dev] = d;
  ++d->attached;
  return 0;
}

void IommuApi::detach_device_from(DomainRec* d, PciDev& dev) {
  IntelIommu* unit = unit_for(dev);
  if (!unit || domain_of(dev) != d) return;
  iommu_disable_dev_iotlb(m_kernel, *unit, dev);  // dmar_remove_one_dev_info: before the context goes
  for (RequesterId alias : dma_aliases(dev))
    if (unit->attached_domain(alias)) unit->detach_device(alias);
  m_domain_of.erase(&dev);
  if (d->attached) --d->attached;
}

int IommuApi::set_group_domain(GroupRec& g, DomainRec* d) {
  if (g.domain == d) return 0;
  for (PciDev* dev : g.devices) {
    const int rc = attach_device_to(d, *dev);
    if (rc) return rc;
  }
  g.domain = d;
  return 0;
}

int IommuApi::attach_group(DomainRec* d, GroupRec& g) {
  // __iommu_attach_group: only over the default or blocking domain.
  if (g.domain && g.domain != g.default_domain && g.domain != g.blocking) return -EBUSY;
  return set_group_domain(g, d);
}

void IommuApi::detach_group(DomainRec* d, GroupRec& g) {
  if (g.domain != d) return;
  set_group_domain(g, g.owner ? g.blocking : g.default_domain);
}

int IommuApi::attach_device(DomainRec* d, PciDev& dev) {
  GroupRec* g = group_of(dev);
  if (!g) return -ENODEV;
  if (g->devices.size() != 1) return -EINVAL;  // iommu_attach_device: singleton groups only
  return attach_group(d, *g);
}

int IommuApi::map(DomainRec* d, uint64_t iova, uint64_t phys, uint64_t size, int prot) {
  if (!d || !(d->type & __IOMMU_DOMAIN_PAGING)) return -EINVAL;
  if ((iova | phys | size) & 0xfff) {
    char b[160];
    std::snprintf(b, sizeof b, "iommu: unaligned: iova 0x%llx pa 0x%016llx size 0x%llx min_pagesz 0x1000\n",
                  (unsigned long long)iova, (unsigned long long)phys, (unsigned long long)size);
    m_kernel.printk(LogLevel::Err, b);
    return -EINVAL;
  }
  if (size == 0) return -EINVAL;
  const unsigned p = hw_prot(prot);
  for (auto& [unit, hw] : d->hw) {
    const int rc = hw->map(iova, phys, size, p);
    if (rc) {
      for (auto& [u2, hw2] : d->hw) {
        if (hw2 == hw) break;
        hw2->unmap(iova, size);
      }
      return rc;
    }
  }
  if (d->hw.empty()) {  // nothing attached yet: check the range against what is recorded
    for (const auto& [v, m] : d->mappings)
      if (iova < v + m.size && v < iova + size) return -EEXIST;
  }
  d->mappings[iova] = DomainRec::Mapping{phys, size, p};
  return 0;
}

uint64_t IommuApi::unmap(DomainRec* d, uint64_t iova, uint64_t size) {
  if (!d || !(d->type & __IOMMU_DOMAIN_PAGING)) return 0;
  uint64_t done = 0;
  for (auto& [unit, hw] : d->hw) done = std::max(done, hw->unmap(iova, size));
  // Forget recorded mappings inside the range (a partially covered one is split).
  for (auto it = d->mappings.begin(); it != d->mappings.end();) {
    const uint64_t v = it->first, e = v + it->second.size;
    if (e <= iova || v >= iova + size) {
      ++it;
      continue;
    }
    DomainRec::Mapping m = it->second;
    it = d->mappings.erase(it);
    if (v < iova) d->mappings[v] = DomainRec::Mapping{m.phys, iova - v, m.prot};
    if (e > iova + size) d->mappings[iova + size] = DomainRec::Mapping{m.phys + (iova + size - v), e - (iova + size), m.prot};
    if (d->hw.empty()) done += std::min(e, iova + size) - std::max(v, iova);
  }
  if (d->type == IOMMU_DOMAIN_DMA_FQ) arm_flush_timer();
  return done;
}

uint64_t IommuApi::iova_to_phys(DomainRec* d, uint64_t iova) const {
  if (!d) return 0;
  if (d->type == IOMMU_DOMAIN_IDENTITY) return iova;
  for (const auto& [unit, hw] : d->hw) return hw->iova_to_phys(iova);
  for (const auto& [v, m] : d->mappings)
    if (iova >= v && iova < v + m.size) return m.phys + (iova - v);
  return 0;
}

// ---- ownership ----

int IommuApi::device_use_default_domain(PciDev& dev) {
  GroupRec* g = group_of(dev);
  if (!g) return 0;
  if (g->owner_cnt && (g->domain != g->default_domain || g->owner)) return -EBUSY;
  ++g->owner_cnt;
  return 0;
}

void IommuApi::device_unuse_default_domain(PciDev& dev) {
  GroupRec* g = group_of(dev);
  if (g && g->owner_cnt && !g->owner) --g->owner_cnt;
}

int IommuApi::claim_dma_owner(GroupRec& g, void* owner) {
  if (g.owner_cnt) return -EPERM;
  if (g.domain && g.domain != g.default_domain) return -EBUSY;
  // __iommu_group_alloc_blocking_domain: intel-iommu in 6.1 has no BLOCKED type, so an empty
  // unmanaged domain blocks every DMA.
  if (!g.blocking) g.blocking = alloc_domain(IOMMU_DOMAIN_UNMANAGED);
  const int rc = set_group_domain(g, g.blocking);
  if (rc) return rc;
  g.owner = owner;
  ++g.owner_cnt;
  return 0;
}

void IommuApi::release_dma_owner(GroupRec& g) {
  if (!g.owner_cnt || !g.owner) return;
  set_group_domain(g, g.default_domain);
  g.owner = nullptr;
  g.owner_cnt = 0;
}

// ---- DMA API ----

uint64_t IommuApi::dma_map(PciDev& dev, uint64_t phys, uint64_t size, unsigned prot) {
  const uint64_t mask = dev.dev->dev.dma_mask && *dev.dev->dev.dma_mask ? *dev.dev->dev.dma_mask : 0xffffffffull;
  DomainRec* d = domain_of(dev);
  if (!d || d->type == IOMMU_DOMAIN_IDENTITY) {  // dma-direct
    if (phys + size - 1 > mask) return DMA_MAPPING_ERROR;
    return phys;
  }
  if (!d->iova) return DMA_MAPPING_ERROR;  // a user domain: the DMA API has no IOVA space there
  const uint64_t offset = phys & 0xfff;
  const uint64_t span = ((offset + size + 0xfff) & ~0xfffull);
  const uint64_t limit = std::min(mask, d->c->geometry.aperture_end);
  // iommu_dma_alloc_iova: below 4 GiB first for PCI devices, then the whole mask.
  uint64_t iova = 0;
  if (limit > 0xffffffffull) iova = d->iova->alloc(span, 0xffffffffull);
  if (!iova) iova = d->iova->alloc(span, limit);
  if (!iova && !d->deferred_free.empty()) {  // recycle what the flush queue still holds
    for (auto& [unit, hw] : d->hw) hw->flush_lazy();
    release_deferred(d);
    iova = d->iova->alloc(span, limit);
  }
  if (!iova) return DMA_MAPPING_ERROR;
  const int rc = map(d, iova, phys & ~0xfffull, span, static_cast<int>(prot));
  if (rc) {
    d->iova->free(iova);
    return DMA_MAPPING_ERROR;
  }
  return iova + offset;
}

bool IommuApi::dma_unmap(PciDev& dev, uint64_t dma, uint64_t size) {
  DomainRec* d = domain_of(dev);
  if (!d || d->type == IOMMU_DOMAIN_IDENTITY) return true;
  if (!d->iova) return false;
  const uint64_t iova = dma & ~0xfffull;
  const uint64_t alloc = d->iova->allocated_size(iova);
  if (!alloc || alloc < ((dma & 0xfff) + size)) return false;
  const uint64_t span = (((dma & 0xfff) + size + 0xfff) & ~0xfffull);
  unmap(d, iova, span);
  if (d->type == IOMMU_DOMAIN_DMA_FQ) {
    d->deferred_free.push_back(iova);  // freed when the queue has flushed (queue_iova)
    release_deferred(d);
  } else {
    d->iova->free(iova);
  }
  return true;
}

void IommuApi::release_deferred(DomainRec* d) {
  for (auto& [unit, hw] : d->hw)
    if (hw->flush_queue_depth()) return;
  for (uint64_t v : d->deferred_free) d->iova->free(v);
  d->deferred_free.clear();
}

void IommuApi::service_flush_timers() {
  const uint64_t now_ps = static_cast<uint64_t>(sc_core::sc_time_stamp() / sc_core::sc_time(1, sc_core::SC_PS));
  for (auto& d : m_domains) {
    for (auto& [unit, hw] : d->hw) hw->service_flush_timer(now_ps);
    if (d->iova) release_deferred(d.get());
  }
}

void IommuApi::arm_flush_timer() {
  if (m_timer_running) return;
  m_timer_running = true;
  // fq_flush_timeout: 10 ms after a range was queued, whatever is held is flushed.
  m_kernel.scheduler().spawn_daemon("fq_flush_timer", [this] {
    Scheduler& s = m_kernel.scheduler();
    auto pending = [this] {
      for (auto& d : m_domains)
        for (auto& [unit, hw] : d->hw)
          if (hw->flush_queue_depth()) return true;
      return false;
    };
    while (pending()) {
      s.sleep(sc_core::sc_time(10, sc_core::SC_MS), "the flush queue timer");
      service_flush_timers();
    }
    m_timer_running = false;
  });
}

}  // namespace pciesim::cosim
