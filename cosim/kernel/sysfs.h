// A sysfs view of the co-simulated kernel (Documentation/ABI/testing/sysfs-bus-pci,
// sysfs-kernel-iommu_groups): the directories and attributes the CLI, tests and scenarios read
// and write, with Linux's formats and errnos.
//
//   /sys/bus/pci/devices/DDDD:BB:DD.F/  vendor device subsystem_vendor subsystem_device class
//        revision irq enable resource driver_override reset iommu_group@ driver@
//        sriov_numvfs sriov_totalvfs (SR-IOV PFs)
//   /sys/bus/pci/drivers/NAME/           bind unbind module@ DDDD:BB:DD.F@
//   /sys/bus/pci/drivers_probe
//   /sys/kernel/iommu_groups/N/          devices/DDDD:BB:DD.F@ type reserved_regions
//
// Entries marked @ are links: read() returns the link target, as readlink does.
#pragma once

#include <string>
#include <vector>

namespace pciesim::cosim {

class Kernel;

class Sysfs {
 public:
  explicit Sysfs(Kernel& kernel) : m_kernel(kernel) {}

  // The entries of a directory, sorted; -ENOENT (not a directory) or 0.
  int list(const std::string& path, std::vector<std::string>& out) const;
  // An attribute's contents (newline-terminated, as cat prints it) or a link's target. 0, -ENOENT,
  // -EISDIR, -EACCES (write-only attribute).
  int read(const std::string& path, std::string& out) const;
  // Writes an attribute (driver_override, bind, unbind, drivers_probe, reset, enable). 0 or the
  // errno Linux's store function returns (-EINVAL, -ENODEV, -EBUSY, -EACCES for read-only).
  int write(const std::string& path, const std::string& value);

  // Every path below `root` with its contents, one per line ("path: value" or "path -> target"),
  // as `grep -r . root` and `ls -l` would together show it.
  std::string dump(const std::string& root = "/sys") const;

 private:
  Kernel& m_kernel;
};

}  // namespace pciesim::cosim
