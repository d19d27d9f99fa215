// MSI and MSI-X for the PCI core (drivers/pci/msi, arch/x86/kernel/apic/msi.c,
// drivers/iommu/intel/irq_remapping.c): IRQ numbers and vectors from the IRQ core, one IRTE per
// vector when interrupt remapping is on (remappable-format messages; the source check Linux's
// set_msi_sid picks), compatibility-format messages straight to the APIC otherwise. Messages are
// written into the MSI capability or the MSI-X table (BAR MMIO) and enabled as Linux does.
#include <cstdio>

#include "iommu/iommu_api.h"
#include "iommu/iommu_core.h"
#include "kernel/irq_core.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "pci/pci_msi.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {

namespace {

// set_msi_sid (irq_remapping.c): the requester id or bus range the IRTE checks.
vtd::SourceValidation msi_source_check(Kernel& k, PciDev& d) {
  const std::vector<RequesterId> aliases = k.iommu().dma_aliases(d);
  // pci_for_each_dma_alias order: the device, its quirk aliases, then bridges upward; the last
  // one visited is what set_msi_sid_cb leaves in data.alias.
  unsigned count = 0, busmatch = 0;
  RequesterId alias{};
  for (RequesterId a : aliases) {
    if (count == 0 || a.bus == alias.bus) ++busmatch;
    alias = a;
    ++count;
  }
  // The alias "device" is the bridge for topology aliases; its bus is where the alias lives.
  const bool alias_on_other_bus = alias.bus != d.bdf.bus;
  if (alias_on_other_bus && alias != d.bdf) {
    // A PCIe-to-PCI bridge aliases with its secondary bus: only the bus can be verified.
    const PciDev* bridge = nullptr;
    for (const pci_bus* b = d.dev->bus; b && b->self; b = b->parent)
      if (b->self->subordinate && b->self->subordinate->number == alias.bus && alias.devfn == 0) bridge = &PciCore::of(b->self);
    if (bridge) return vtd::SourceValidation::bus_range(alias.bus, d.bdf.bus);
    return vtd::SourceValidation::requester(alias.raw());
  }
  if (count >= 2 && busmatch == count) return vtd::SourceValidation::bus_range(d.bdf.bus, d.bdf.bus);
  return vtd::SourceValidation::requester(d.bdf.raw());
}

uint64_t compat_address(uint32_t apic) { return 0xfee00000ull | (uint64_t(apic & 0xff) << 12); }  // SDM 10.11.1

}  // namespace

int msi_capable_count(Kernel& k, PciDev& d, bool msix) {
  pci_dev* dev = d.dev.get();
  uint32_t v = 0;
  if (msix) {
    if (!dev->msix_cap) return -EINVAL;
    k.pci().config_read(dev, dev->msix_cap + PCI_MSIX_FLAGS, 2, v);
    return static_cast<int>((v & PCI_MSIX_FLAGS_QSIZE) + 1);
  }
  if (!dev->msi_cap) return -EINVAL;
  k.pci().config_read(dev, dev->msi_cap + PCI_MSI_FLAGS, 2, v);
  return 1 << ((v & PCI_MSI_FLAGS_QMASK) >> 1);
}

// Programs the message for vector `i` (msi: the block's base message).
static void write_msix_entry(Kernel& k, PciDev& d, unsigned i, uint64_t addr, uint32_t data, bool masked) {
  const uint64_t e = d.msix_table + uint64_t(i) * PCI_MSIX_ENTRY_SIZE;
  k.cpu().write(e + PCI_MSIX_ENTRY_LOWER_ADDR, static_cast<uint32_t>(addr), 4);
  k.cpu().write(e + PCI_MSIX_ENTRY_UPPER_ADDR, static_cast<uint32_t>(addr >> 32), 4);
  k.cpu().write(e + PCI_MSIX_ENTRY_DATA, data, 4);
  k.cpu().write(e + PCI_MSIX_ENTRY_VECTOR_CTRL, masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0, 4);
}

static int setup_vectors(Kernel& k, PciDev& d, unsigned n, bool msix) {
  IrqCore& irq = k.irq();
  pci_dev* dev = d.dev.get();
  // MSI with several vectors needs them consecutive (one IRTE block); MSI-X vectors are separate.
  const int first = irq.alloc(msix ? 1 : n);
  if (first < 0) return first;
  d.irqs.clear();
  d.irtes.assign(n, -1);
  d.messages.clear();
  std::vector<int> firsts{first};
  for (unsigned i = 1; i < n && msix; ++i) {
    const int more = irq.alloc(1);
    if (more < 0) {
      for (int f : firsts) irq.free(static_cast<unsigned>(f));
      return more;
    }
    firsts.push_back(more);
  }
  for (unsigned i = 0; i < n; ++i) d.irqs.push_back(msix ? static_cast<unsigned>(firsts[i]) : static_cast<unsigned>(first) + i);
  IntelIommu* unit = k.iommu().enabled() ? k.iommu().unit_for(d) : nullptr;
  const bool remap = unit && unit->ir_enabled();
  const vtd::SourceValidation check = remap ? msi_source_check(k, d) : vtd::SourceValidation{};
  if (!msix) {
    const uint8_t vector = irq.vector_of(d.irqs[0]);
    uint64_t addr = compat_address(IrqCore::kApicId);
    uint32_t data = vector;  // fixed, edge (SDM 10.11.2)
    if (remap) {
      const int index = unit->alloc_irq(check, vector, IrqCore::kApicId, n);
      if (index < 0) return index;
      d.irte_base = index;
      const MsiMessage m = unit->compose_msi(static_cast<unsigned>(index), 0);
      addr = m.address;
      data = m.data;
    }
    d.messages.emplace_back(addr, data);
    return 0;
  }
  for (unsigned i = 0; i < n; ++i) {
    const uint8_t vector = irq.vector_of(d.irqs[i]);
    uint64_t addr = compat_address(IrqCore::kApicId);
    uint32_t data = vector;
    if (remap) {
      const int index = unit->alloc_irq(check, vector, IrqCore::kApicId, 1);
      if (index < 0) return index;
      d.irtes[i] = index;
      const MsiMessage m = unit->compose_msi(static_cast<unsigned>(index), 0);
      addr = m.address;
      data = m.data;
    }
    d.messages.emplace_back(addr, data);
  }
  (void)dev;
  return 0;
}

void msi_write_state(Kernel& k, PciDev& d) {
  PciCore& pci = k.pci();
  pci_dev* dev = d.dev.get();
  if (d.irq_mode == IrqMode::Msi && !d.messages.empty()) {
    const int cap = dev->msi_cap;
    uint32_t ctrl = 0;
    pci.config_read(dev, cap + PCI_MSI_FLAGS, 2, ctrl);
    const bool is64 = ctrl & PCI_MSI_FLAGS_64BIT;
    const auto [addr, data] = d.messages[0];
    pci.config_write(dev, cap + PCI_MSI_ADDRESS_LO, 4, static_cast<uint32_t>(addr));
    if (is64) pci.config_write(dev, cap + PCI_MSI_ADDRESS_HI, 4, static_cast<uint32_t>(addr >> 32));
    pci.config_write(dev, cap + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32), 2, data & 0xffff);
    unsigned mme = 0;
    while ((1u << mme) < d.irqs.size()) ++mme;
    ctrl = (ctrl & ~uint32_t(PCI_MSI_FLAGS_QSIZE)) | (mme << 4) | PCI_MSI_FLAGS_ENABLE;
    pci.config_write(dev, cap + PCI_MSI_FLAGS, 2, ctrl);
    dev->msi_enabled = 1;
  } else if (d.irq_mode == IrqMode::Msix) {
    const int cap = dev->msix_cap;
    uint32_t ctrl = 0;
    pci.config_read(dev, cap + PCI_MSIX_FLAGS, 2, ctrl);
    // msix_capability_init: enable with the function masked, program, then unmask.
    pci.config_write(dev, cap + PCI_MSIX_FLAGS, 2, ctrl | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    for (unsigned i = 0; i < d.messages.size(); ++i) write_msix_entry(k, d, i, d.messages[i].first, d.messages[i].second, false);
    pci.config_write(dev, cap + PCI_MSIX_FLAGS, 2, (ctrl | PCI_MSIX_FLAGS_ENABLE) & ~uint32_t(PCI_MSIX_FLAGS_MASKALL));
    dev->msix_enabled = 1;
  }
}

int alloc_irq_vectors(Kernel& k, PciDev& d, unsigned min_vecs, unsigned max_vecs, unsigned flags) {
  pci_dev* dev = d.dev.get();
  if (min_vecs == 0 || max_vecs < min_vecs) return -EINVAL;
  if (d.irq_mode != IrqMode::None) return -EINVAL;  // already allocated (pci_alloc_irq_vectors WARNs too)
  PciCore& pci = k.pci();
  if ((flags & PCI_IRQ_MSIX) && dev->msix_cap) {
    const int cap = msi_capable_count(k, d, true);
    if (cap >= static_cast<int>(min_vecs)) {
      const unsigned n = std::min<unsigned>(max_vecs, static_cast<unsigned>(cap));
      uint32_t table = 0;
      pci.config_read(dev, dev->msix_cap + PCI_MSIX_TABLE, 4, table);
      const unsigned bir = table & PCI_MSIX_TABLE_BIR;
      if (bir < PCI_STD_NUM_BARS && dev->resource[bir].flags & IORESOURCE_MEM) {
        d.msix_table = dev->resource[bir].start + (table & PCI_MSIX_TABLE_OFFSET);
        const int rc = setup_vectors(k, d, n, true);
        if (rc == 0) {
          d.irq_mode = IrqMode::Msix;
          msi_write_state(k, d);
          dev->irq = d.irqs[0];
          return static_cast<int>(n);
        }
      }
    }
  }
  if ((flags & PCI_IRQ_MSI) && dev->msi_cap) {
    const int cap = msi_capable_count(k, d, false);
    unsigned n = std::min<unsigned>(max_vecs, static_cast<unsigned>(cap));
    unsigned p = 1;
    while (p * 2 <= n) p *= 2;  // a power of two (PCI 3.0 6.8.1.3)
    n = p;
    IntelIommu* unit = k.iommu().enabled() ? k.iommu().unit_for(d) : nullptr;
    if (!(unit && unit->ir_enabled())) n = 1;  // x86 without IR: one vector per MSI function
    if (n >= min_vecs) {
      const int rc = setup_vectors(k, d, n, false);
      if (rc == 0) {
        d.irq_mode = IrqMode::Msi;
        msi_write_state(k, d);
        dev->irq = d.irqs[0];
        return static_cast<int>(n);
      }
    }
  }
  if ((flags & PCI_IRQ_LEGACY) && dev->pin && min_vecs == 1) {
    const int irq = intx_irq(k, d);
    if (irq > 0) {
      k.irq().ensure_line(static_cast<unsigned>(irq));
      d.irq_mode = IrqMode::Intx;
      d.irqs = {static_cast<unsigned>(irq)};
      dev->irq = static_cast<unsigned>(irq);
      return 1;
    }
  }
  return -ENOSPC;
}

void free_irq_vectors(Kernel& k, PciDev& d) {
  PciCore& pci = k.pci();
  pci_dev* dev = d.dev.get();
  IntelIommu* unit = k.iommu().enabled() ? k.iommu().unit_for(d) : nullptr;
  if (d.irq_mode == IrqMode::Msi) {
    uint32_t ctrl = 0;
    pci.config_read(dev, dev->msi_cap + PCI_MSI_FLAGS, 2, ctrl);
    pci.config_write(dev, dev->msi_cap + PCI_MSI_FLAGS, 2, ctrl & ~uint32_t(PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE));
    dev->msi_enabled = 0;
    if (unit && d.irte_base >= 0) unit->free_irq(static_cast<unsigned>(d.irte_base), static_cast<unsigned>(d.irqs.size()));
    for (unsigned irq : d.irqs) k.irq().free(irq);
  } else if (d.irq_mode == IrqMode::Msix) {
    for (unsigned i = 0; i < d.irqs.size(); ++i) write_msix_entry(k, d, i, 0, 0, true);
    uint32_t ctrl = 0;
    pci.config_read(dev, dev->msix_cap + PCI_MSIX_FLAGS, 2, ctrl);
    pci.config_write(dev, dev->msix_cap + PCI_MSIX_FLAGS, 2, ctrl & ~uint32_t(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
    dev->msix_enabled = 0;
    for (unsigned i = 0; i < d.irqs.size(); ++i) {
      if (unit && d.irtes[i] >= 0) unit->free_irq(static_cast<unsigned>(d.irtes[i]), 1);
      k.irq().free(d.irqs[i]);
    }
  }
  d.irq_mode = IrqMode::None;
  d.irqs.clear();
  d.irtes.clear();
  d.irte_base = -1;
  d.messages.clear();
  dev->irq = 0;
}

int intx_irq(Kernel& k, PciDev& d) {
  // The INTx line of the device as the root complex sees it after the bridges' swizzle (PCI-to-PCI
  // bridge 9.1: pin + device number, mod 4, at every bridge), on IOAPIC pins 16-23 (GSI 16 + line).
  unsigned pin = d.dev->pin;
  if (!pin || pin > 4) return -EINVAL;
  pin -= 1;
  const pci_dev* cur = d.dev.get();
  while (cur->bus && cur->bus->self) {
    pin = (pin + PCI_SLOT(cur->devfn)) % 4;
    cur = cur->bus->self;
  }
  const unsigned gsi = 16 + ((pin + PCI_SLOT(cur->devfn)) % 8);
  (void)k;
  return static_cast<int>(gsi);
}

}  // namespace pciesim::cosim
