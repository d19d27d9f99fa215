#include "kernel/sysfs.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>

#include "iommu/iommu_api.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "kernel/kapi.h"

namespace pciesim::cosim {

namespace {

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

std::string hex(unsigned v, int digits) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%0*x\n", digits, v);
  return b;
}

const char* domain_type_name(unsigned type) {  // iommu_group_show_type
  switch (type) {
    case IOMMU_DOMAIN_BLOCKED: return "blocked";
    case IOMMU_DOMAIN_IDENTITY: return "identity";
    case IOMMU_DOMAIN_UNMANAGED: return "unmanaged";
    case IOMMU_DOMAIN_DMA: return "DMA";
    case IOMMU_DOMAIN_DMA_FQ: return "DMA-FQ";
    default: return "unknown";
  }
}

const std::vector<std::string> kDeviceAttrs = {"class", "device", "driver_override", "enable", "irq", "reset", "resource",
                                               "revision", "subsystem_device", "subsystem_vendor", "vendor"};

}  // namespace

int Sysfs::list(const std::string& path, std::vector<std::string>& out) const {
  out.clear();
  const std::vector<std::string> p = split(path);
  PciCore& pci = m_kernel.pci();
  IommuApi& iommu = m_kernel.iommu();
  auto is = [&](std::initializer_list<const char*> want) {
    if (p.size() != want.size()) return false;
    size_t i = 0;
    for (const char* w : want)
      if (*w != '*' && p[i++] != w) return false;
      else if (*w == '*') ++i;
    return true;
  };
  if (p.empty()) out = {"sys"};
  else if (is({"sys"})) out = {"bus", "kernel"};
  else if (is({"sys", "bus"})) out = {"pci"};
  else if (is({"sys", "bus", "pci"})) out = {"devices", "drivers", "drivers_probe", "rescan"};
  else if (is({"sys", "bus", "pci", "devices"})) {
    for (const auto& d : pci.devices()) out.push_back(d->name);
  } else if (is({"sys", "bus", "pci", "devices", "*"})) {
    PciDev* d = pci.find(p[4]);
    if (!d) return -ENOENT;
    out = kDeviceAttrs;
    if (d->sriov_pos) out.insert(out.end(), {"sriov_numvfs", "sriov_totalvfs"});  // sriov_pf_dev_attrs: PFs only
    if (d->dev->driver) out.push_back("driver");
    if (iommu.group_of(*d)) out.push_back("iommu_group");
  } else if (is({"sys", "bus", "pci", "drivers"})) {
    for (pci_driver* drv : pci.drivers()) out.push_back(drv->name);
  } else if (is({"sys", "bus", "pci", "drivers", "*"})) {
    pci_driver* drv = pci.driver(p[4]);
    if (!drv) return -ENOENT;
    out = {"bind", "unbind"};
    if (!pci.driver_module(drv).empty()) out.push_back("module");
    for (const auto& d : pci.devices())
      if (d->dev->driver == drv) out.push_back(d->name);
  } else if (is({"sys", "kernel"})) out = {"iommu_groups"};
  else if (is({"sys", "kernel", "iommu_groups"})) {
    for (const auto& g : iommu.groups()) out.push_back(std::to_string(g->id));
  } else if (is({"sys", "kernel", "iommu_groups", "*"}) || is({"sys", "kernel", "iommu_groups", "*", "devices"})) {
    const GroupRec* g = nullptr;
    for (const auto& x : iommu.groups())
      if (std::to_string(x->id) == p[3]) g = x.get();
    if (!g) return -ENOENT;
    if (p.size() == 4) out = {"devices", "reserved_regions", "type"};
    else
      for (const PciDev* d : g->devices) out.push_back(d->name);
  } else {
    return -ENOENT;
  }
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() && std::all_of(a.begin(), a.end(), ::isdigit) && std::all_of(b.begin(), b.end(), ::isdigit)
               ? a.size() < b.size()
               : a < b;
  });
  return 0;
}

int Sysfs::read(const std::string& path, std::string& out) const {
  out.clear();
  std::vector<std::string> entries;
  if (list(path, entries) == 0) return -EISDIR;
  const std::vector<std::string> p = split(path);
  PciCore& pci = m_kernel.pci();
  IommuApi& iommu = m_kernel.iommu();
  if (p.size() == 6 && p[0] == "sys" && p[1] == "bus" && p[2] == "pci" && p[3] == "devices") {
    PciDev* d = pci.find(p[4]);
    if (!d) return -ENOENT;
    const pci_dev* dev = d->dev.get();
    const std::string& a = p[5];
    if (a == "vendor") out = hex(dev->vendor, 4);
    else if (a == "device") out = hex(dev->device, 4);
    else if (a == "subsystem_vendor") out = hex(dev->subsystem_vendor, 4);
    else if (a == "subsystem_device") out = hex(dev->subsystem_device, 4);
    else if (a == "class") out = hex(dev->class_, 6);
    else if (a == "revision") out = hex(dev->revision, 2);
    else if (a == "irq") out = std::to_string(dev->irq) + "\n";
    else if (a == "enable") out = std::to_string(atomic_read(&dev->enable_cnt)) + "\n";
    else if (a == "driver_override") out = dev->driver_override ? std::string(dev->driver_override) + "\n" : "(null)\n";
    else if (a == "reset") return -EACCES;  // write-only (0200)
    else if (a == "sriov_numvfs" && d->sriov_pos) out = std::to_string(d->num_vfs) + "\n";
    else if (a == "sriov_totalvfs" && d->sriov_pos) out = std::to_string(pci.sriov_totalvfs(*d)) + "\n";
    else if (a == "resource") {
      char line[80];
      for (int i = 0; i < PCI_NUM_RESOURCES; ++i) {
        const resource& r = dev->resource[i];
        const bool set = r.flags && !(r.flags & IORESOURCE_UNSET);
        std::snprintf(line, sizeof line, "0x%016llx 0x%016llx 0x%016llx\n", set ? (unsigned long long)r.start : 0ull,
                      set ? (unsigned long long)r.end : 0ull, (unsigned long long)r.flags);
        out += line;
      }
    } else if (a == "driver" && dev->driver) {
      out = std::string("../../../bus/pci/drivers/") + dev->driver->name + "\n";
    } else if (a == "iommu_group" && iommu.group_of(*d)) {
      out = "../../../kernel/iommu_groups/" + std::to_string(iommu.group_of(*d)->id) + "\n";
    } else {
      return -ENOENT;
    }
    return 0;
  }
  if (p.size() == 6 && p[0] == "sys" && p[3] == "drivers") {
    pci_driver* drv = pci.driver(p[4]);
    if (!drv) return -ENOENT;
    if (p[5] == "bind" || p[5] == "unbind") return -EACCES;
    if (p[5] == "module" && !pci.driver_module(drv).empty()) {
      out = "../../../../module/" + pci.driver_module(drv) + "\n";
      return 0;
    }
    if (PciDev* d = pci.find(p[5]); d && d->dev->driver == drv) {
      out = "../../../../devices/pci/" + d->name + "\n";
      return 0;
    }
    return -ENOENT;
  }
  if (p.size() == 4 && p[0] == "sys" && (p[3] == "drivers_probe" || p[3] == "rescan")) return -EACCES;
  if (p.size() >= 5 && p[0] == "sys" && p[1] == "kernel" && p[2] == "iommu_groups") {
    const GroupRec* g = nullptr;
    for (const auto& x : iommu.groups())
      if (std::to_string(x->id) == p[3]) g = x.get();
    if (!g) return -ENOENT;
    if (p.size() == 5 && p[4] == "type") {
      out = std::string(g->default_domain ? domain_type_name(g->default_domain->type) : "unknown") + "\n";
      return 0;
    }
    if (p.size() == 5 && p[4] == "reserved_regions") {
      char line[64];  // iommu_group_show_resv_regions: "%pa %pa %s"
      std::snprintf(line, sizeof line, "0x%016llx 0x%016llx msi\n", (unsigned long long)IommuApi::kMsiFirst,
                    (unsigned long long)IommuApi::kMsiLast);
      out = line;
      return 0;
    }
    if (p.size() == 6 && p[4] == "devices")
      for (const PciDev* d : g->devices)
        if (d->name == p[5]) {
          out = "../../../../devices/pci/" + d->name + "\n";
          return 0;
        }
  }
  return -ENOENT;
}

int Sysfs::write(const std::string& path, const std::string& value) {
  const std::vector<std::string> p = split(path);
  PciCore& pci = m_kernel.pci();
  std::string v = value;
  if (!v.empty() && v.back() == '\n') v.pop_back();
  if (p.size() == 4 && p[0] == "sys" && p[3] == "drivers_probe") {  // bus_rescan_devices_helper
    PciDev* d = pci.find(v);
    if (!d) return -ENODEV;
    const int rc = pci.attach(*d);
    return rc < 0 ? rc : 0;
  }
  if (p.size() == 4 && p[0] == "sys" && p[3] == "rescan") {  // bus_rescan_store: kstrtoul, any non-zero
    unsigned long long x = 0;
    if (kstrtoull(v.c_str(), 0, &x)) return -EINVAL;
    if (x) pci.rescan();
    return 0;
  }
  if (p.size() == 4 && p[0] == "sys" && p[3] == "rescan") {  // bus_rescan_store: kstrtoul, any non-zero
    unsigned long long x = 0;
    if (kstrtoull(v.c_str(), 0, &x)) return -EINVAL;
    if (x) pci.rescan();
    return 0;
  }
  if (p.size() == 6 && p[0] == "sys" && p[3] == "drivers") {
    pci_driver* drv = pci.driver(p[4]);
    if (!drv) return -ENOENT;
    PciDev* d = pci.find(v);
    if (p[5] == "bind") {
      if (!d) return -ENODEV;
      return pci.bind(p[4], *d);
    }
    if (p[5] == "unbind") {  // unbind_store: the device must be bound to this driver
      if (!d || d->dev->driver != drv) return -ENODEV;
      return pci.unbind(*d);
    }
    return -EACCES;
  }
  if (p.size() == 6 && p[0] == "sys" && p[3] == "devices") {
    PciDev* d = pci.find(p[4]);
    if (!d) return -ENOENT;
    if (p[5] == "driver_override") return pci.set_driver_override(*d, value);
    if (p[5] == "sriov_numvfs" && d->sriov_pos) {  // iov.c sriov_numvfs_store: kstrtou16, then the driver
      unsigned int n = 0;
      if (kstrtouint(v.c_str(), 0, &n) || n > 0xffff) return -EINVAL;
      return pci.sriov_numvfs_store(*d, n);
    }
    if (p[5] == "sriov_totalvfs" && d->sriov_pos) return -EACCES;  // read-only (0444)
    if (p[5] == "reset") {  // reset_store: kstrtoul, then pci_reset_function
      unsigned long long x = 0;
      if (kstrtoull(v.c_str(), 0, &x)) return -EINVAL;
      if (x != 1) return -EINVAL;
      int rc = 0;
      m_kernel.run("sysfs reset", [&] { rc = pci_reset_function(d->dev.get()); });
      return rc;
    }
    if (p[5] == "enable") {  // enable_store: 1 enables, 0 disables (when enabled)
      bool on = false;
      if (kstrtobool(v.c_str(), &on)) return -EINVAL;
      int rc = 0;
      m_kernel.run("sysfs enable", [&] {
        if (on) rc = pci_enable_device(d->dev.get());
        else if (pci_is_enabled(d->dev.get())) pci_disable_device(d->dev.get());
        else rc = -EIO;
      });
      return rc;
    }
    std::string ignored;
    return read(path, ignored) == -ENOENT ? -ENOENT : -EACCES;
  }
  return -ENOENT;
}

std::string Sysfs::dump(const std::string& root) const {
  std::string out;
  std::function<void(const std::string&)> walk = [&](const std::string& path) {
    std::vector<std::string> entries;
    if (list(path, entries) == 0) {
      for (const std::string& e : entries) walk(path == "/" ? "/" + e : path + "/" + e);
      return;
    }
    std::string value;
    const int rc = read(path, value);
    if (rc == -EACCES) {
      out += path + " (write-only)\n";
      return;
    }
    if (rc) return;
    const bool link = value.rfind("../", 0) == 0;
    if (link) out += path + " -> " + value;
    else if (value.find('\n') + 1 == value.size()) out += path + ": " + value;
    else {
      out += path + ":\n";
      out += value;
    }
  };
  walk(root);
  return out;
}

}  // namespace pciesim::cosim
