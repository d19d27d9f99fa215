// Importers from what people publish about real machines into a HostView:
// lspci -v/-vv/-vvv (with or without -nn, also mail-wrapped), lspci -tv, plain lspci, and
// kernel boot logs (dmesg). Errors name the file, the line and the problem.
#pragma once

#include <stdexcept>
#include <string>

#include "groups/pci_view.h"

namespace pciesim::groups {

class ImportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Any mix of `lspci -tv` tree, `lspci -v...` blocks and plain `lspci` lines in one text.
HostView import_lspci_text(const std::string& text, const std::string& file);
// A boot log: "pci SSSS:BB:DD.F: [vvvv:dddd] type NN class 0xCCCCCC [port type]" and
// "pci ...: PCI bridge to [bus XX-YY]" lines (optionally with timestamps or diff markers).
HostView import_dmesg_text(const std::string& text, const std::string& file);

HostView import_lspci_file(const std::string& path);
HostView import_dmesg_file(const std::string& path);

// AMD IOMMU (drivers/iommu/amd): the IOMMU's own PCI function (class 0806, vendor AMD) and the
// root complex 00.0 on its bus are not given a group.
void mark_amd_iommu_exclusions(HostView& host);

// Class code for an lspci class name ("PCI bridge" -> 0x060400); 0 when unknown.
uint32_t class_from_lspci_name(const std::string& name);
// Vendor id for an lspci vendor name prefix of `text` (length of the match in *len); -1 if none.
int vendor_from_lspci_name(const std::string& text, size_t* len);

}  // namespace pciesim::groups
