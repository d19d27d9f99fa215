#include "iommu/intel_iommu.h"

#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "iommu/local_apic_sink.h"
#include "iommu/remapping_unit.h"
#include "iommu/tables.h"
#include "iommu/vtd_regs.h"
#include "kernel/kernel_log.h"
#include "kernel/kernel_memory.h"
#include "pcie/fabric.h"

namespace pciesim::cosim {

namespace {
std::string format(const char* fmt, unsigned long long a, unsigned long long b = 0, unsigned long long c = 0,
                   unsigned long long d = 0, unsigned long long e = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b, c, d, e);
  return buf;
}
// CAP bits Linux reads beyond vtd::Capabilities (VT-d 11.4.2).
bool cap_write_drain(uint64_t cap) { return (cap >> 54) & 1; }
bool cap_read_drain(uint64_t cap) { return (cap >> 55) & 1; }
bool cap_esirtps(uint64_t cap) { return (cap >> 62) & 1; }
// MAX_AGAW_PFN_WIDTH = MAX_AGAW_WIDTH (64) - VTD_PAGE_SHIFT: a device-TLB flush of everything.
constexpr unsigned kMaxAgawPfnWidth = 52;
unsigned ceil_log2(uint64_t v) {
  unsigned n = 0;
  while ((1ull << n) < v) ++n;
  return n;
}
}  // namespace

IntelIommu::IntelIommu(Fabric& fabric, vtd::RemappingUnit& unit, KernelMemory& mem, KernelLog& log,
                       IntelIommuOptions options)
    : m_fabric(fabric), m_unit(unit), m_mem(mem), m_log(log), m_options(options), m_name(unit.spec().name),
      m_regs(fabric, unit.register_base()), m_qi(std::make_unique<QueuedInvalidation>(m_regs, mem, log)) {}

IntelIommu::~IntelIommu() {
  m_domains.clear();
  for (auto& [bus, t] : m_context) m_mem.free(t);
  m_mem.free(m_root);
  m_mem.free(m_irt);
}

uint64_t IntelIommu::root_table_phys() const { return m_root ? m_mem.virt_to_phys(m_root) : 0; }

bool IntelIommu::init() {
  if (m_initialized) return true;
  // dmar.c map_iommu / alloc_iommu: the unit's identity.
  const uint32_t ver = m_regs.read32(vtd::reg::kVer);
  m_caps.version = ver;
  m_caps.cap = m_regs.read64(vtd::reg::kCap);
  m_caps.ecap = m_regs.read64(vtd::reg::kEcap);
  m_log.log(LogLevel::Info,
            "DMAR: " + m_name +
                format(": reg_base_addr %llx ver %llu:%llu cap %llx ecap %llx", m_regs.base(), (ver >> 4) & 0xf,
                       ver & 0xf, m_caps.cap, m_caps.ecap));
  if (m_caps.cap == ~0ull || m_caps.ecap == ~0ull) {
    m_log.log(LogLevel::Warning, "DMAR: " + m_name + ": Invalid register values");
    return false;
  }
  // Address width: Linux __iommu_calculate_agaw picks the widest SAGAW-supported AGAW up to
  // DEFAULT_DOMAIN_ADDRESS_WIDTH (57 bits, 5 levels); levels = agaw + 2 (hardware-facts 1.12).
  const unsigned sagaw = m_caps.sagaw();
  m_levels = 0;
  if (m_options.levels) {
    if (sagaw & (1u << (m_options.levels - 2))) m_levels = m_options.levels;
  } else {
    for (int l = 5; l >= 3 && !m_levels; --l)
      if (sagaw & (1u << (l - 2))) m_levels = l;
  }
  if (!m_levels) {
    m_log.log(LogLevel::Err, "DMAR: " + m_name + format(": Cannot get a valid agaw (SAGAW %llx)", sagaw));
    return false;
  }
  if (!m_caps.qi()) {
    m_log.log(LogLevel::Err, "DMAR: " + m_name + ": queued invalidation not supported (not driven)");
    return false;
  }
  if (!setup_fault_event() || !enable_qi()) return false;
  if (m_options.interrupt_remapping && m_caps.ir() && !enable_irq_remapping()) return false;
  if (!set_root_table()) return false;
  // iommu_enable_translation
  if (!m_regs.set_enable(vtd::gcmd::kTe, true)) {
    m_log.log(LogLevel::Err, "DMAR: " + m_name + ": translation enable timed out");
    return false;
  }
  m_log.log(LogLevel::Info, "DMAR: Intel(R) Virtualization Technology for Directed I/O");
  m_initialized = true;
  return true;
}

// dmar_set_interrupt / dmar_msi_write / dmar_msi_unmask (VT-d 10.4.9-10.4.12): fault event MSI in
// compatibility format (the unit's own events are never remapped), then clear what firmware left.
bool IntelIommu::setup_fault_event() {
  m_regs.write32(vtd::reg::kFedata, m_options.fault_vector);
  m_regs.write32(vtd::reg::kFeaddr, 0xfee00000u | (uint32_t{m_options.fault_apic_id} << 12));
  m_regs.write32(vtd::reg::kFeuaddr, 0);
  handle_faults();  // Linux: dmar_fault(iommu->irq, iommu) to clear faults left from boot
  m_regs.write32(vtd::reg::kFectl, 0);  // IM = 0
  return true;
}

// dmar_enable_qi / __dmar_enable_qi (VT-d 6.5.2).
bool IntelIommu::enable_qi() {
  if (!m_qi->prepare()) {
    m_log.log(LogLevel::Err, "DMAR: " + m_name + ": no memory for the invalidation queue");
    return false;
  }
  if (!m_regs.set_enable(vtd::gcmd::kQie, true)) {
    m_log.log(LogLevel::Err, "DMAR: " + m_name + ": queued invalidation enable timed out");
    return false;
  }
  m_log.log(LogLevel::Info, "DMAR: " + m_name + ": Using Queued invalidation");
  return true;
}

// iommu_set_root_entry (VT-d 10.4.6, 6.1): legacy root table, then global context and IOTLB
// invalidations. Linux skips them with CAP.ESRTPS; the driver always issues them (harmless, and
// the unit's caches are known empty afterwards).
bool IntelIommu::set_root_table() {
  if (!m_root) {
    m_root = static_cast<uint64_t*>(m_mem.alloc_pages(0));
    if (!m_root) return false;
  }
  m_regs.write64(vtd::reg::kRtaddr, vtd::make_rtaddr(root_table_phys(), vtd::TableMode::Legacy));
  if (!m_regs.latch(vtd::gcmd::kSrtp)) {
    m_log.log(LogLevel::Err, "DMAR: " + m_name + ": set root table pointer timed out");
    return false;
  }
  return flush_context_global() == 0 && flush_iotlb_global() == 0;
}

// ---- domains ----------------------------------------------------------------------------------

IommuDomain& IntelIommu::alloc_domain() {
  const unsigned max_did = 1u << (4 + 2 * m_caps.nd());  // CAP.ND
  uint16_t did = 0;
  for (unsigned n = 0; n < max_did && !did; ++n) {
    const uint16_t cand = static_cast<uint16_t>(m_next_did);
    m_next_did = static_cast<uint16_t>(m_next_did + 1u >= max_did ? 1u : m_next_did + 1u);
    if (cand && !m_domains.count(cand)) did = cand;
  }
  if (!did) throw std::runtime_error("intel-iommu: domain ids exhausted");
  auto d = std::make_unique<IommuDomain>(*this, m_mem, did, m_levels);
  IommuDomain& ref = *d;
  m_domains.emplace(did, std::move(d));
  return ref;
}

void IntelIommu::free_domain(IommuDomain& d) {
  for (const auto& [sid, did] : m_attached)
    if (did == d.did()) throw std::logic_error("intel-iommu: freeing a domain still attached");
  m_domains.erase(d.did());
}

IommuDomain* IntelIommu::domain(uint16_t did) const {
  auto it = m_domains.find(did);
  return it == m_domains.end() ? nullptr : it->second.get();
}

IommuDomain* IntelIommu::attached_domain(RequesterId source) const {
  auto it = m_attached.find(source.raw());
  return it == m_attached.end() ? nullptr : domain(it->second);
}

// iommu_context_addr (legacy mode): root[bus] -> context table[devfn], 16-byte entries.
uint64_t* IntelIommu::context_entry(RequesterId source, bool allocate) {
  if (!m_root) return nullptr;
  auto it = m_context.find(source.bus);
  if (it == m_context.end()) {
    if (!allocate) return nullptr;
    auto* t = static_cast<uint64_t*>(m_mem.alloc_pages(0));
    if (!t) return nullptr;
    it = m_context.emplace(source.bus, t).first;
    const vtd::RootRaw root = vtd::encode_legacy_root(m_mem.virt_to_phys(t), true);
    m_root[2 * source.bus + 1] = root[1];
    m_root[2 * source.bus] = root[0];
  }
  return &it->second[2 * source.devfn];
}

int IntelIommu::flush_device(uint16_t did_for_context, uint16_t did_for_iotlb, RequesterId source) {
  return submit({qi::context(qi::kGranDeviceOrPage, did_for_context, source.raw(), 0),
                 qi::iotlb(qi::kGranDomain, did_for_iotlb, 0, 0, false, cap_read_drain(m_caps.cap),
                           cap_write_drain(m_caps.cap))});
}

// domain_context_mapping_one (VT-d 9.3).
int IntelIommu::attach_device(IommuDomain& d, RequesterId source, bool dev_iotlb) {
  auto it = m_attached.find(source.raw());
  if (it != m_attached.end()) return it->second == d.did() ? 0 : -EBUSY;
  uint64_t* ce = context_entry(source, true);
  if (!ce) return -ENOMEM;
  vtd::ContextEntry e;
  e.present = true;
  // CONTEXT_TT_MULTI_LEVEL (00b): untranslated requests only, ATS blocked; CONTEXT_TT_DEV_IOTLB
  // (01b) for a device whose ATS is supported.
  e.tt = dev_iotlb ? 1 : 0;
  e.aw = static_cast<unsigned>(d.levels() - 2);
  e.did = d.did();
  e.slptptr = d.pgd_phys();
  const vtd::ContextRaw raw = vtd::encode_legacy_context(e);
  ce[1] = raw[1];
  ce[0] = raw[0];  // present bit last
  m_attached[source.raw()] = d.did();
  // The entry was not present: with CAP.CM the unit may have cached that under DID 0 (Linux
  // flushes device-selective with DID 0, then the new domain's IOTLB).
  return flush_device(0, d.did(), source);
}

// domain_context_clear_one.
int IntelIommu::detach_device(RequesterId source) {
  auto it = m_attached.find(source.raw());
  if (it == m_attached.end()) return -ENODEV;
  const uint16_t did = it->second;
  m_attached.erase(it);
  uint64_t* ce = context_entry(source, false);
  if (ce) {
    ce[0] = 0;  // not present first
    ce[1] = 0;
  }
  const int rc = flush_device(did, did, source);
  // domain_context_clear_one: __iommu_flush_dev_iotlb(info, 0, MAX_AGAW_PFN_WIDTH) for a device
  // whose ATS is still enabled (iommu_disable_dev_iotlb usually ran first).
  if (auto d = m_dev_iotlb.find(source.raw()); d != m_dev_iotlb.end()) {
    const DevIotlb info = d->second;
    m_dev_iotlb.erase(d);
    submit({qi::dev_iotlb(source.raw(), info.pfsid, info.qdep, 0, kMaxAgawPfnWidth)});
  }
  return rc;
}

// ---- invalidation -------------------------------------------------------------------------------

int IntelIommu::submit(const std::vector<QiDescriptor>& batch) {
  const int rc = m_qi->submit_sync(batch);
  service_faults();  // a queue error raised a fault event too
  return rc;
}

int IntelIommu::flush_context_global() { return submit({qi::context(qi::kGranGlobal)}); }

int IntelIommu::flush_iotlb_global() {
  return submit({qi::iotlb(qi::kGranGlobal, 0, 0, 0, false, cap_read_drain(m_caps.cap),
                           cap_write_drain(m_caps.cap))});
}

int IntelIommu::flush_iotlb_dsi(uint16_t did) {
  return submit({qi::iotlb(qi::kGranDomain, did, 0, 0, false, cap_read_drain(m_caps.cap),
                           cap_write_drain(m_caps.cap))});
}

// iommu_flush_iotlb_psi / calculate_psi_aligned_address (VT-d 6.5.2.3: 2^AM pages, aligned).
int IntelIommu::flush_iotlb_psi(uint16_t did, uint64_t addr, uint64_t pages, bool map) {
  if (pages == 0) return 0;
  const uint64_t start = addr & ~0xfffull, end = start + pages * 4096;
  unsigned am = ceil_log2(pages);
  uint64_t aligned = start & ~((4096ull << am) - 1);
  while (aligned + (4096ull << am) < end && am < 52) {
    ++am;
    aligned = start & ~((4096ull << am) - 1);
  }
  const int rc = !m_caps.psi() || am > m_caps.mamv()
                     ? flush_iotlb_dsi(did)
                     : submit({qi::iotlb(qi::kGranDeviceOrPage, did, aligned, am, false, cap_read_drain(m_caps.cap),
                                         cap_write_drain(m_caps.cap))});
  // In caching mode a non-present to present change needs no device-TLB flush.
  const int dev_rc = !m_caps.caching_mode() || !map ? flush_dev_iotlb(did, aligned, am) : 0;
  return rc ? rc : dev_rc;
}

// ---- device TLBs --------------------------------------------------------------------------------

void IntelIommu::dev_iotlb_enabled(RequesterId sid, uint16_t did, uint16_t qdep, uint16_t pfsid) {
  m_dev_iotlb[sid.raw()] = DevIotlb{did, qdep, pfsid};
}

void IntelIommu::dev_iotlb_disabled(RequesterId sid) { m_dev_iotlb.erase(sid.raw()); }

int IntelIommu::flush_dev_iotlb(uint16_t did, uint64_t addr, unsigned mask) {
  int rc = 0;
  for (const auto& [sid, info] : m_dev_iotlb) {
    if (info.did != did) continue;
    // One qi_submit_sync per device, as Linux's __iommu_flush_dev_iotlb.
    const int r = submit({qi::dev_iotlb(sid, info.pfsid, info.qdep, addr, mask)});
    if (r && !rc) rc = r;
  }
  return rc;
}

// ---- interrupt remapping enable (irq_remapping.c intel_setup_irq_remapping,
// iommu_set_irq_remapping, iommu_enable_irq_remapping) --------------------------------------------

bool IntelIommu::enable_irq_remapping() {
  // INTR_REMAP_TABLE_ENTRIES = 65536 x 16 bytes, IRTA.S = 0xF (hardware-facts 1.10).
  constexpr unsigned kOrder = 8, kSizeField = 0xf;
  m_irt = static_cast<uint64_t*>(m_mem.alloc_pages(kOrder));
  if (!m_irt) {
    m_log.log(LogLevel::Err, "DMAR-IR: " + m_name + ": failed to allocate the remapping table");
    return false;
  }
  m_irte_entries = 2u << kSizeField;
  m_irte_used.assign(m_irte_entries, false);
  m_eim = m_options.x2apic && m_caps.eim();
  m_regs.write64(vtd::reg::kIrta,
                 m_mem.virt_to_phys(m_irt) | (m_eim ? vtd::field::kIrtaEime : 0) | kSizeField);
  if (!m_regs.latch(vtd::gcmd::kSirtp)) return false;
  if (!cap_esirtps(m_caps.cap) && submit({qi::iec_global()}) != 0) return false;
  if (!m_regs.set_enable(vtd::gcmd::kIre, true)) return false;
  // Block compatibility-format MSIs.
  if (m_regs.read32(vtd::reg::kGsts) & vtd::gcmd::kCfi) m_regs.set_enable(vtd::gcmd::kCfi, false);
  m_log.log(LogLevel::Info,
            std::string("DMAR-IR: Enabled IRQ remapping in ") + (m_eim ? "x2apic" : "xapic") + " mode");
  return true;
}

}  // namespace pciesim::cosim
