// `lspci` text for simulated functions, in pciutils' format (lspci 3.9.0, Debian 12: the version
// the real-host harness runs), so simulator output and real-host output diff line by line.
// Names come from pci.ids (Debian package "pci.ids"), parsed once per file on first use.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pcie/config_space.h"

namespace pciesim {

// A BAR or ROM as the OS resolved it (Linux sysfs "resource": start and size, no flag bits).
struct LspciResource {
  uint64_t base = 0;
  uint64_t size = 0;
};

struct LspciDevice {
  LspciDevice(const ConfigSpace& cs, unsigned bus_, unsigned dev_, unsigned fn_, unsigned domain_ = 0)
      : config(cs), domain(domain_), bus(bus_), dev(dev_), fn(fn_) {}

  const ConfigSpace& config;
  unsigned domain, bus, dev, fn;
  // Sysfs access only: what the kernel resolved. Unset: addresses from the BARs, sizes from
  // their writable masks (what Linux finds when it sizes them).
  std::optional<std::array<LspciResource, 6>> bars;
  std::optional<LspciResource> rom;
  int irq = -1;                 // -1: the Interrupt Line register
  int numa_node = -1;           // -1: no "NUMA node" line
  std::string iommu_group;      // "" = none (no IOMMU, or not in a group)
  std::string kernel_driver;    // "Kernel driver in use: ..."
  std::string kernel_modules;   // "Kernel modules: ..."
  std::string physical_slot;    // "Physical Slot: ..."
};

struct LspciOptions {
  int verbosity = 0;         // number of -v (0..3)
  int numeric = 0;           // number of -n: 1 = ids only, 2 = names and ids
  bool show_domain = false;  // -D; format_lspci_all also shows it when any domain is not 0
  int hex = 0;               // number of -x: 1..2 = 64 bytes, 3 = 256, 4 = 4096
  // Sysfs: as lspci on Linux (BAR and ROM sizes known). ConfigOnly: as `lspci -F <dump>` sees a
  // function (no sizes); use it to compare against a real lspci reading our hex dump.
  enum class Access { Sysfs, ConfigOnly } access = Access::Sysfs;
  std::string ids_path;      // "" = /usr/share/misc/pci.ids, else /usr/share/hwdata/pci.ids
};

// One function: the terse line, the verbose block (with its trailing blank line at -v and above),
// the hex dump with -x.
std::string format_lspci(const LspciDevice& dev, const LspciOptions& opt);
// All functions in bus order, with domains shown when any is not 0 (as lspci does).
std::string format_lspci_all(const std::vector<LspciDevice>& devs, const LspciOptions& opt);

// Name lookups as libpci formats them ("Intel Corporation Device 1234", "Class 0b40", ...).
std::string lspci_class_name(uint32_t class_code_24, const LspciOptions& opt);
std::string lspci_device_name(uint16_t vendor, uint16_t device, const LspciOptions& opt);

}  // namespace pciesim
