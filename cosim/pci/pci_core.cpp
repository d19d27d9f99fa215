#include "pci/pci_core.h"

#include <algorithm>
#include <cstdio>

#include "iommu/iommu_api.h"
#include "kernel/kernel.h"
#include "kernel/module_registry.h"
#include "pcie/fabric.h"
#include "pcie/root_complex.h"
#include "kernel/kapi.h"
#include <linux/notifier.h>

namespace {
constexpr __u32 kPciAnyId = static_cast<__u32>(PCI_ANY_ID);
}  // namespace

struct bus_type pci_bus_type = {"pci"};

namespace pciesim::cosim {

namespace {
// The ID every driver_override match reports (drivers/pci/pci-driver.c pci_device_id_any).
const pci_device_id kAnyId = {kPciAnyId, kPciAnyId, kPciAnyId, kPciAnyId, 0, 0, 0, 0};

}  // namespace

PciCore::PciCore(Kernel& kernel) : m_kernel(kernel) {}
PciCore::~PciCore() = default;

PciDev& PciCore::of(const pci_dev* dev) { return *static_cast<PciDev*>(dev->dev.cosim); }
PciDev* PciCore::of(const struct device* dev) {
  return dev && dev->bus == &pci_bus_type ? static_cast<PciDev*>(dev->cosim) : nullptr;
}

PciDev* PciCore::find(int segment, RequesterId bdf) const {
  for (const auto& d : m_devices)
    if (d->segment == segment && d->bdf == bdf) return d.get();
  return nullptr;
}
PciDev* PciCore::find(const std::string& name) const {
  for (const auto& d : m_devices)
    if (d->name == name) return d.get();
  return nullptr;
}

// ---- scanning (drivers/pci/probe.c) ----

void PciCore::scan() {
  for (RootComplex* rc : m_kernel.fabric().root_complexes()) {
    pci_bus* b = nullptr;
    for (const auto& x : m_buses)
      if (!x->parent && x->domain_nr == rc->segment() && x->number == rc->root_bus()) b = x.get();
    if (!b) {
      auto root = std::make_unique<pci_bus>();
      *root = pci_bus{nullptr, nullptr, rc->root_bus(), 0, rc->segment()};
      b = root.get();
      m_buses.push_back(std::move(root));
      char line[96];
      std::snprintf(line, sizeof line, "PCI host bridge to bus %04x:%02x", rc->segment(), rc->root_bus());
      m_kernel.printk(LogLevel::Info, std::string("pci_bus ") + line + "\n");
    }
    scan_bus(rc->segment(), rc->root_bus(), b, nullptr, 0);
  }
}

std::vector<PciDev*> PciCore::rescan() {
  std::vector<PciDev*> fresh;
  m_fresh = &fresh;
  m_kernel.fabric().refresh_index();
  scan();
  m_fresh = nullptr;
  if (fresh.empty()) return fresh;
  m_kernel.iommu().probe_devices();
  for (PciDev* d : fresh) attach(*d);
  return fresh;
}

void PciCore::scan_bus(int segment, uint8_t bus, pci_bus* on_bus, pci_dev* bridge, unsigned depth) {
  if (depth > 256) return;  // a bus loop programmed by firmware: Linux stops at the bus number range
  std::vector<PciDev*> here;
  // ARI (PCIe 6.13): below a port with ARI forwarding on, device 0 carries 256 functions.
  bool ari = false;
  if (bridge && bridge->pcie_cap) {
    uint32_t ctl2 = 0;
    m_kernel.cpu().config_read(segment, RequesterId{static_cast<uint8_t>(bridge->bus->number), static_cast<uint8_t>(bridge->devfn)},
                               bridge->pcie_cap + PCI_EXP_DEVCTL2, 2, ctl2);
    ari = ctl2 & PCI_EXP_DEVCTL2_ARI;
  }
  for (unsigned slot = 0; slot < 32; ++slot) {
    PciDev* f0 = scan_device(segment, bus, static_cast<uint8_t>(slot << 3), on_bus);
    if (!f0) continue;
    here.push_back(f0);
    if (ari && slot == 0) {
      // Next function numbers from each function's ARI capability.
      unsigned fn = 0;
      for (unsigned guard = 0; guard < 256; ++guard) {
        PciDev* cur = find(segment, RequesterId{bus, static_cast<uint8_t>(fn)});
        if (!cur) break;
        const uint16_t ari_cap = find_ext_capability(cur->dev.get(), PCI_EXT_CAP_ID_ARI);
        if (!ari_cap) break;
        uint32_t cap = 0;
        config_read(cur->dev.get(), ari_cap + 4, 2, cap);
        const unsigned next = (cap >> 8) & 0xff;
        if (next == 0 || next <= fn) break;
        fn = next;
        if (PciDev* d = scan_device(segment, bus, static_cast<uint8_t>(fn), on_bus)) here.push_back(d);
      }
      break;
    }
    if (f0->dev->multifunction)
      for (unsigned fn = 1; fn < 8; ++fn)
        if (PciDev* d = scan_device(segment, bus, static_cast<uint8_t>(slot << 3 | fn), on_bus)) here.push_back(d);
  }
  // pci_bus_add_devices: this bus's devices first (already added in devfn order), then the buses
  // behind its bridges.
  for (PciDev* d : here) {
    if (!pci_is_bridge(d->dev.get())) continue;
    uint32_t v = 0;
    config_read(d->dev.get(), PCI_PRIMARY_BUS, 4, v);
    const uint8_t secondary = static_cast<uint8_t>(v >> 8), subordinate = static_cast<uint8_t>(v >> 16);
    if (secondary == 0 || secondary <= bus || subordinate < secondary) continue;  // not configured
    pci_bus* c = d->dev->subordinate;
    if (!c || c->number != secondary) {
      auto child = std::make_unique<pci_bus>();
      *child = pci_bus{on_bus, d->dev.get(), secondary, bus, segment};
      d->dev->subordinate = child.get();
      c = child.get();
      m_buses.push_back(std::move(child));
      char line[128];
      // %pR of a bus resource (lib/vsprintf.c resource_string): "[bus 04]" when it spans one bus
      if (subordinate == secondary)
        std::snprintf(line, sizeof line, "pci %s: PCI bridge to [bus %02x]\n", d->name.c_str(), secondary);
      else
        std::snprintf(line, sizeof line, "pci %s: PCI bridge to [bus %02x-%02x]\n", d->name.c_str(), secondary, subordinate);
      m_kernel.printk(LogLevel::Info, line);
    }
    scan_bus(segment, secondary, c, d->dev.get(), depth + 1);
  }
}

PciDev* PciCore::scan_device(int segment, uint8_t bus, uint8_t devfn, pci_bus* on_bus) {
  const RequesterId id{bus, devfn};
  if (PciDev* known = find(segment, id)) return known;  // a rescan: already there
  uint32_t ids = 0;
  m_kernel.cpu().config_read(segment, id, PCI_VENDOR_ID, 4, ids);
  if (ids == 0xffffffffu || ids == 0 || (ids & 0xffff) == 0xffff || (ids & 0xffff) == 0) return nullptr;
  auto rec = std::make_unique<PciDev>();
  rec->dev = std::make_unique<pci_dev>();
  pci_dev* dev = rec->dev.get();
  *dev = pci_dev{};
  rec->segment = segment;
  rec->bdf = id;
  rec->info = m_kernel.fabric().find(segment, id);
  char name[32];
  std::snprintf(name, sizeof name, "%04x:%02x:%02x.%u", segment, bus, devfn >> 3, devfn & 7u);
  rec->name = name;
  dev->bus = on_bus;
  dev->devfn = devfn;
  dev->dev.cosim = rec.get();
  dev->dev.bus = &pci_bus_type;
  dev->dev.parent = on_bus->self ? &on_bus->self->dev : nullptr;
  std::snprintf(dev->dev.name, sizeof dev->dev.name, "%s", name);
  dev->vendor = ids & 0xffff;
  dev->device = ids >> 16;
  uint32_t v = 0;
  config_read(dev, PCI_CLASS_REVISION, 4, v);
  dev->revision = v & 0xff;
  dev->class_ = v >> 8;
  config_read(dev, PCI_HEADER_TYPE, 1, v);
  dev->hdr_type = v & PCI_HEADER_TYPE_MASK;
  dev->multifunction = (v & PCI_HEADER_TYPE_MFD) != 0 || (devfn & 7) != 0;  // pci_scan_slot: fn > 0
  if (dev->hdr_type == PCI_HEADER_TYPE_NORMAL) {
    config_read(dev, PCI_SUBSYSTEM_VENDOR_ID, 2, v);
    dev->subsystem_vendor = static_cast<unsigned short>(v);
    config_read(dev, PCI_SUBSYSTEM_ID, 2, v);
    dev->subsystem_device = static_cast<unsigned short>(v);
  }
  config_read(dev, PCI_INTERRUPT_PIN, 1, v);
  dev->pin = static_cast<u8>(v);
  dev->pcie_cap = find_capability(dev, PCI_CAP_ID_EXP);
  if (dev->pcie_cap) {
    config_read(dev, dev->pcie_cap + PCI_EXP_FLAGS, 2, v);
    dev->pcie_flags_reg = static_cast<u16>(v);
    uint32_t devcap = 0;
    config_read(dev, dev->pcie_cap + PCI_EXP_DEVCAP, 4, devcap);
    dev->reset_fn = (devcap & PCI_EXP_DEVCAP_FLR) != 0;
  }
  dev->msi_cap = find_capability(dev, PCI_CAP_ID_MSI);
  dev->msix_cap = find_capability(dev, PCI_CAP_ID_MSIX);
  // pci_cfg_space_size: 4096 for PCIe functions whose extended space answers.
  dev->cfg_size = PCI_CFG_SPACE_SIZE;
  if (dev->pcie_cap) {
    uint32_t ext = 0;
    config_read(dev, 0x100, 4, ext);
    if (ext != 0xffffffffu) dev->cfg_size = PCI_CFG_SPACE_EXP_SIZE;
  }
  dev->acs_cap = find_ext_capability(dev, PCI_EXT_CAP_ID_ACS);
  sriov_init(*rec);  // pci_iov_init (pci_iov.cpp): a function with SR-IOV is a PF from now on
  if (m_acs_requested) enable_acs(*rec);
  // pci_setup_device: 32-bit DMA until the driver asks for more.
  dev->dma_mask = 0xffffffffull;
  dev->dev.dma_mask = &dev->dma_mask;
  dev->dev.coherent_dma_mask = 0xffffffffull;
  read_bars(*rec);
  PciDev* out = rec.get();
  m_devices.push_back(std::move(rec));
  log_device(*out);
  if (m_fresh) m_fresh->push_back(out);
  return out;
}

// pci_std_enable_acs (drivers/pci/pci.c), run from pci_acs_init for every scanned device once the
// IOMMU driver called pci_request_acs(): Source Validation, Request and Completion Redirect and
// Upstream Forwarding wherever the capability has them (Translation Blocking only for untrusted
// or external-facing ports, which nothing here is).
void PciCore::enable_acs(PciDev& d) {
  pci_dev* dev = d.dev.get();
  if (!dev->acs_cap) return;
  uint32_t cap = 0, ctrl = 0;
  config_read(dev, dev->acs_cap + PCI_ACS_CAP, 2, cap);
  config_read(dev, dev->acs_cap + PCI_ACS_CTRL, 2, ctrl);
  ctrl |= cap & (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);
  config_write(dev, dev->acs_cap + PCI_ACS_CTRL, 2, ctrl);
}

// __pci_read_base: the sizing protocol with decoding off (PCI 3.0 6.2.5.1).
void PciCore::read_bars(PciDev& d) {
  pci_dev* dev = d.dev.get();
  const unsigned count = dev->hdr_type == PCI_HEADER_TYPE_NORMAL ? 6 : dev->hdr_type == PCI_HEADER_TYPE_BRIDGE ? 2 : 0;
  uint32_t cmd = 0;
  config_read(dev, PCI_COMMAND, 2, cmd);
  if (cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY))
    config_write(dev, PCI_COMMAND, 2, cmd & ~uint32_t(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
  for (unsigned i = 0; i < count; ++i) {
    const int reg = PCI_BASE_ADDRESS_0 + 4 * static_cast<int>(i);
    uint32_t lo = 0, sz = 0;
    config_read(dev, reg, 4, lo);
    config_write(dev, reg, 4, 0xffffffffu);
    config_read(dev, reg, 4, sz);
    config_write(dev, reg, 4, lo);
    if (sz == 0 || sz == 0xffffffffu) continue;
    resource& r = dev->resource[i];
    r.name = d.name.c_str();
    if (lo & PCI_BASE_ADDRESS_SPACE_IO) {
      const uint32_t mask = sz & static_cast<uint32_t>(PCI_BASE_ADDRESS_IO_MASK) & 0xffff;
      if (!mask) continue;
      r.flags = IORESOURCE_IO | IORESOURCE_SIZEALIGN | (lo & ~static_cast<uint32_t>(PCI_BASE_ADDRESS_IO_MASK));  // decode_bar keeps the low bits
      r.start = lo & static_cast<uint32_t>(PCI_BASE_ADDRESS_IO_MASK);
      r.end = r.start + ((~mask & 0xffff) | 3);
      continue;
    }
    uint64_t base = lo & static_cast<uint32_t>(PCI_BASE_ADDRESS_MEM_MASK);
    uint64_t mask = sz & static_cast<uint32_t>(PCI_BASE_ADDRESS_MEM_MASK);
    r.flags = IORESOURCE_MEM | IORESOURCE_SIZEALIGN | (lo & ~static_cast<uint32_t>(PCI_BASE_ADDRESS_MEM_MASK));
    if (lo & PCI_BASE_ADDRESS_MEM_PREFETCH) r.flags |= IORESOURCE_PREFETCH;
    if ((lo & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64 && i + 1 < count) {
      uint32_t hi = 0, szhi = 0;
      config_read(dev, reg + 4, 4, hi);
      config_write(dev, reg + 4, 4, 0xffffffffu);
      config_read(dev, reg + 4, 4, szhi);
      config_write(dev, reg + 4, 4, hi);
      base |= uint64_t(hi) << 32;
      mask |= uint64_t(szhi) << 32;
      r.flags |= IORESOURCE_MEM_64;
      ++i;  // the upper half is not a BAR of its own
    } else {
      mask |= 0xffffffff00000000ull;
    }
    const uint64_t size = ~mask + 1;
    r.start = base;
    r.end = base + size - 1;
    if (base == 0) r.flags |= IORESOURCE_UNSET;
  }
  if (cmd & (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)) config_write(dev, PCI_COMMAND, 2, cmd);
}

void PciCore::log_device(PciDev& d) {
  const pci_dev* dev = d.dev.get();
  char line[160];
  std::snprintf(line, sizeof line, "pci %s: [%04x:%04x] type %02x class %#08x\n", d.name.c_str(), dev->vendor,
                dev->device, dev->hdr_type, dev->class_);
  m_kernel.printk(LogLevel::Info, line);
  for (int i = 0; i < PCI_STD_NUM_BARS; ++i) {
    const resource& r = dev->resource[i];
    if (!r.flags) continue;
    _dev_printk(KERN_INFO, &dev->dev, "reg %#x: %pR\n", PCI_BASE_ADDRESS_0 + 4 * i, &r);  // pci_read_bases
  }
  // pci_fixup_device(pci_fixup_header): the DMA-alias fixups call pci_add_dma_alias(), which says so
  // (drivers/pci/pci.c, one devfn per call here).
  for (uint8_t devfn : IommuApi::quirk_alias_devfns(d))
    _dev_printk(KERN_INFO, &dev->dev, "Enabling fixed DMA alias to %02x.%d\n", devfn >> 3, devfn & 7);
}

// ---- config space (drivers/pci/access.c) ----

int PciCore::config_read(const pci_dev* dev, int where, unsigned size, uint32_t& value) {
  if (where < 0 || where % static_cast<int>(size)) {
    value = 0xffffffffu;
    return PCIBIOS_BAD_REGISTER_NUMBER;
  }
  const PciDev& d = of(dev);
  if (!m_kernel.cpu().config_read(d.segment, d.bdf, static_cast<uint16_t>(where), size, value)) {
    value = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return PCIBIOS_BAD_REGISTER_NUMBER;
  }
  return PCIBIOS_SUCCESSFUL;
}

int PciCore::config_write(const pci_dev* dev, int where, unsigned size, uint32_t value) {
  if (where < 0 || where % static_cast<int>(size)) return PCIBIOS_BAD_REGISTER_NUMBER;
  const PciDev& d = of(dev);
  if (!m_kernel.cpu().config_write(d.segment, d.bdf, static_cast<uint16_t>(where), size, value))
    return PCIBIOS_BAD_REGISTER_NUMBER;
  return PCIBIOS_SUCCESSFUL;
}

uint8_t PciCore::find_capability(const pci_dev* dev, int cap, uint8_t start) {
  uint32_t v = 0;
  uint8_t pos = start;
  if (!pos) {
    config_read(dev, PCI_STATUS, 2, v);
    if (!(v & PCI_STATUS_CAP_LIST) || v == 0xffff) return 0;
    config_read(dev, PCI_CAPABILITY_LIST, 1, v);
    pos = static_cast<uint8_t>(v);
  } else {
    config_read(dev, pos + PCI_CAP_LIST_NEXT, 1, v);
    pos = static_cast<uint8_t>(v);
  }
  for (int ttl = 48; ttl-- > 0 && pos >= 0x40;) {  // PCI_FIND_CAP_TTL: a looped list ends
    pos &= ~3;
    uint32_t ent = 0;
    config_read(dev, pos, 2, ent);
    const unsigned id = ent & 0xff;
    if (id == 0xff) break;
    if (id == static_cast<unsigned>(cap)) return pos;
    pos = static_cast<uint8_t>(ent >> 8);
  }
  return 0;
}

uint16_t PciCore::find_ext_capability(const pci_dev* dev, int cap) {
  if (dev->cfg_size && dev->cfg_size <= PCI_CFG_SPACE_SIZE && dev->pcie_cap == 0) return 0;
  uint16_t pos = PCI_CFG_SPACE_SIZE;
  for (int ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 8; ttl-- > 0;) {
    uint32_t header = 0;
    if (config_read(dev, pos, 4, header) != PCIBIOS_SUCCESSFUL || header == 0 || header == 0xffffffffu) return 0;
    if (PCI_EXT_CAP_ID(header) == static_cast<unsigned>(cap) && pos) return pos;
    pos = static_cast<uint16_t>(PCI_EXT_CAP_NEXT(header));
    if (pos < PCI_CFG_SPACE_SIZE) break;
  }
  return 0;
}

// ---- drivers ----

pci_driver* PciCore::driver(const std::string& name) const {
  for (pci_driver* d : m_drivers)
    if (name == d->name) return d;
  return nullptr;
}

const std::string& PciCore::driver_module(const pci_driver* drv) const {
  static const std::string kNone;
  for (size_t i = 0; i < m_drivers.size(); ++i)
    if (m_drivers[i] == drv) return m_driver_modules[i];
  return kNone;
}

const pci_device_id* PciCore::match(pci_driver* drv, PciDev& d) const {
  pci_dev* dev = d.dev.get();
  if (dev->driver_override && std::string(dev->driver_override) != drv->name) return nullptr;
  for (const pci_device_id* id = pci_match_id(drv->id_table, dev); id; id = pci_match_id(id + 1, dev)) {
    if (id->override_only) {
      if (dev->driver_override) return id;
      continue;
    }
    return id;
  }
  return dev->driver_override ? &kAnyId : nullptr;
}

int PciCore::register_driver(pci_driver* drv, const char* module) {
  if (!drv || !drv->name) return -EINVAL;
  if (driver(drv->name)) {
    m_kernel.printk(LogLevel::Err, std::string("Error: Driver '") + drv->name + "' is already registered, aborting...\n");
    return -EBUSY;
  }
  drv->driver.name = drv->name;
  drv->driver.bus = &pci_bus_type;
  drv->driver.mod_name = module;
  m_drivers.push_back(drv);
  m_driver_modules.push_back(module ? module : "");
  // driver_attach: every unbound device the driver matches, in device order.
  for (const auto& d : m_devices)
    if (!d->dev->driver && match(drv, *d)) probe(drv, *d);
  return 0;
}

void PciCore::unregister_driver(pci_driver* drv) {
  auto it = std::find(m_drivers.begin(), m_drivers.end(), drv);
  if (it == m_drivers.end()) return;
  for (auto d = m_devices.rbegin(); d != m_devices.rend(); ++d)
    if ((*d)->dev->driver == drv) release(**d);
  m_driver_modules.erase(m_driver_modules.begin() + (it - m_drivers.begin()));
  m_drivers.erase(it);
}

int PciCore::attach(PciDev& d) {
  if (d.dev->driver) return 1;
  for (pci_driver* drv : m_drivers) {
    if (!match(drv, d)) continue;
    const int rc = probe(drv, d);
    if (rc == 0) return 1;
    if (rc != -ENODEV && rc != -ENXIO) return rc;
  }
  return 0;
}

int PciCore::probe(pci_driver* drv, PciDev& d) {
  pci_dev* dev = d.dev.get();
  if (dev->driver) return -EBUSY;
  const pci_device_id* id = match(drv, d);
  if (!id) return -ENODEV;
  // really_probe: a driver that does not manage DMA itself gets the group's default domain, which
  // fails while a user (VFIO) owns the group.
  if (!drv->driver_managed_dma) {
    const int rc = m_kernel.iommu().device_use_default_domain(d);
    if (rc) {
      _dev_printk(KERN_ERR, &dev->dev, "probe with driver %s failed with error %d\n", drv->name, rc);
      return rc;
    }
  }
  dev->driver = drv;
  dev->dev.driver = &drv->driver;
  int rc = -ENODEV;
  if (!m_kernel.run(std::string(drv->name) + ".probe", [&] { rc = drv->probe ? drv->probe(dev, id) : 0; }).ok())
    rc = -EFAULT;  // the probe oopsed or never finished: the binding is undone
  if (rc == 0) {
    cosim_bus_notify(&pci_bus_type, BUS_NOTIFY_BOUND_DRIVER, &dev->dev);  // driver_bound
    return 0;
  }
  forget_driver(d, drv);
  if (rc == -ENODEV || rc == -ENXIO) return rc;
  _dev_printk(KERN_ERR, &dev->dev, "probe with driver %s failed with error %d\n", drv->name, rc);
  return rc;
}

void PciCore::release(PciDev& d) {
  pci_dev* dev = d.dev.get();
  pci_driver* drv = dev->driver;
  if (!drv) return;
  if (drv->remove) m_kernel.run(std::string(drv->name) + ".remove", [&] { drv->remove(dev); });
  forget_driver(d, drv);
}

// really_probe's error path and __device_release_driver: managed resources go, the binding and
// drvdata are cleared, the group's default domain is no longer in use by this driver.
void PciCore::forget_driver(PciDev& d, pci_driver* drv) {
  for (void* p : d.devres) kfree(p);
  d.devres.clear();
  d.dev->driver = nullptr;
  d.dev->dev.driver = nullptr;
  d.dev->dev.driver_data = nullptr;
  if (!drv->driver_managed_dma) m_kernel.iommu().device_unuse_default_domain(d);
}

int PciCore::set_driver_override(PciDev& d, const std::string& name) {
  // driver_override_store: a trailing newline is dropped; empty clears; PAGE_SIZE limit.
  std::string n = name;
  if (!n.empty() && n.back() == '\n') n.pop_back();
  if (n.size() >= 4096) return -EINVAL;
  d.driver_override = n;
  d.dev->driver_override = n.empty() ? nullptr : d.driver_override.c_str();
  return 0;
}

int PciCore::bind(const std::string& name, PciDev& d) {
  pci_driver* drv = driver(name);
  if (!drv) return -ENODEV;
  if (d.dev->driver) return -EBUSY;   // bind_store: device_driver_attach fails on a bound device
  if (!match(drv, d)) return -ENODEV;  // bind_store: driver_match_device
  const int rc = probe(drv, d);
  return rc;
}

int PciCore::unbind(PciDev& d) {
  if (!d.dev->driver) return -ENODEV;
  release(d);
  return 0;
}

}  // namespace pciesim::cosim
