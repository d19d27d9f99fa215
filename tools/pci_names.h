// pci.ids lookups and pciutils' name formatting (lib/names.c semantics) for the lspci printer.
// Only lspci_format.cpp includes this; it is its own file because the name database is a
// concern of its own.
#pragma once

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "lspci_format.h"

namespace pciesim::pci_names {

// ---------------------------------------------------------------------------------------------
// pci.ids: "vvvv  name", "\tdddd  name", "\t\tssvv ssdd  name", "C cc  name", "\tss  name",
// "\t\tpp  name". Parsed once per file, on first use.
// ---------------------------------------------------------------------------------------------

enum class IdKind : uint64_t { Vendor = 1, Device, Class, Subclass, ProgIf };

constexpr uint64_t id_key(IdKind k, uint64_t ids) { return (static_cast<uint64_t>(k) << 56) | ids; }

// Class names used when no pci.ids is installed (the class part of pci.ids).
struct BuiltinClass {
  uint32_t key;  // 0x1BB = base class BB, 0x2BBSS = subclass, 0x3BBSSPP = prog-if
  const char* name;
};
constexpr BuiltinClass kBuiltinClasses[] = {
    {0x100, "Unclassified device"}, {0x20000, "Non-VGA unclassified device"},
    {0x20001, "VGA compatible unclassified device"}, {0x101, "Mass storage controller"},
    {0x20100, "SCSI storage controller"}, {0x20101, "IDE interface"}, {0x20104, "RAID bus controller"},
    {0x20106, "SATA controller"}, {0x20107, "Serial Attached SCSI controller"},
    {0x20108, "Non-Volatile memory controller"}, {0x3010802, "NVM Express"},
    {0x20180, "Mass storage controller"}, {0x102, "Network controller"}, {0x20200, "Ethernet controller"},
    {0x20207, "Infiniband controller"}, {0x20280, "Network controller"}, {0x103, "Display controller"},
    {0x20300, "VGA compatible controller"}, {0x3030000, "VGA controller"}, {0x20302, "3D controller"},
    {0x20380, "Display controller"}, {0x104, "Multimedia controller"}, {0x20403, "Audio device"},
    {0x105, "Memory controller"}, {0x20500, "RAM memory"}, {0x20580, "Memory controller"}, {0x106, "Bridge"},
    {0x20600, "Host bridge"}, {0x20601, "ISA bridge"}, {0x20604, "PCI bridge"}, {0x3060400, "Normal decode"},
    {0x3060401, "Subtractive decode"}, {0x20607, "CardBus bridge"}, {0x20680, "Bridge"},
    {0x107, "Communication controller"}, {0x20700, "Serial controller"},
    {0x20780, "Communication controller"}, {0x108, "Generic system peripheral"}, {0x20806, "IOMMU"},
    {0x20880, "System peripheral"}, {0x109, "Input device controller"}, {0x10a, "Docking station"},
    {0x10b, "Processor"}, {0x20b40, "Co-processor"}, {0x10c, "Serial bus controller"},
    {0x20c03, "USB controller"}, {0x30c0330, "XHCI"}, {0x20c05, "SMBus"}, {0x20c80, "Serial bus controller"},
    {0x10d, "Wireless controller"}, {0x10e, "Intelligent controller"},
    {0x10f, "Satellite communications controller"}, {0x110, "Encryption controller"},
    {0x111, "Signal processing controller"}, {0x21180, "Signal processing controller"},
    {0x112, "Processing accelerators"}, {0x21200, "Processing accelerators"},
    {0x113, "Non-Essential Instrumentation"}, {0x140, "Coprocessor"}, {0x1ff, "Unassigned class"},
};

class PciIds {
 public:
  static std::shared_ptr<const PciIds> get(const std::string& path) {
    static std::mutex mu;
    static std::map<std::string, std::shared_ptr<const PciIds>> cache;
    std::lock_guard<std::mutex> lock(mu);
    auto& slot = cache[path];
    if (!slot) slot = std::make_shared<const PciIds>(path);
    return slot;
  }

  explicit PciIds(const std::string& path) {
    const char* candidates[] = {"/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"};
    std::ifstream in;
    if (!path.empty()) in.open(path);
    for (const char* c : candidates)
      if (path.empty() && !in.is_open()) in.open(c);
    if (in.is_open()) parse(in);
    if (m_names.empty())
      for (const BuiltinClass& c : kBuiltinClasses) {
        const IdKind k = c.key >= 0x3000000 ? IdKind::ProgIf : c.key >= 0x20000 ? IdKind::Subclass : IdKind::Class;
        const uint32_t ids = c.key - (k == IdKind::ProgIf ? 0x3000000 : k == IdKind::Subclass ? 0x20000 : 0x100);
        m_names.emplace(id_key(k, ids), c.name);
      }
  }

  // nullptr when unknown (an empty name counts as unknown, as in libpci)
  const char* find(IdKind k, uint64_t ids) const {
    auto it = m_names.find(id_key(k, ids));
    return it == m_names.end() || it->second.empty() ? nullptr : it->second.c_str();
  }

 private:
  static bool hex(const std::string& s, size_t pos, size_t n, uint32_t& out) {
    if (s.size() < pos + n) return false;
    out = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (!std::isxdigit(c)) return false;
      out = out * 16 + static_cast<uint32_t>(std::isdigit(c) ? c - '0' : std::tolower(c) - 'a' + 10);
    }
    return true;
  }
  static std::string name_after(const std::string& s, size_t pos) {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
    return s.substr(pos);
  }

  void parse(std::istream& in) {
    std::string line;
    bool classes = false;
    uint32_t v = 0, d = 0, c = 0, sc = 0;
    bool have_v = false, have_d = false, have_c = false, have_sc = false;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      const size_t tabs = line.find_first_not_of('\t');
      if (tabs == std::string::npos) continue;
      uint32_t a = 0, b = 0;
      if (tabs == 0) {
        have_d = have_sc = false;
        if (line.size() > 2 && line[0] == 'C' && line[1] == ' ') {
          classes = true;
          if ((have_c = hex(line, 2, 2, c))) m_names[id_key(IdKind::Class, c)] = name_after(line, 4);
        } else if (line.size() > 1 && line[1] == ' ' && !std::isxdigit(static_cast<unsigned char>(line[0]))) {
          classes = false, have_v = have_c = false;  // another list (e.g. "X" or "V" sections)
        } else if ((have_v = hex(line, 0, 4, v))) {
          classes = false;
          m_names[id_key(IdKind::Vendor, v)] = name_after(line, 4);
        }
      } else if (tabs == 1 && classes && have_c && (have_sc = hex(line, 1, 2, sc))) {
        m_names[id_key(IdKind::Subclass, (c << 8) | sc)] = name_after(line, 3);
      } else if (tabs == 1 && !classes && have_v && (have_d = hex(line, 1, 4, d))) {
        m_names[id_key(IdKind::Device, (v << 16) | d)] = name_after(line, 5);
      } else if (tabs == 2 && classes && have_sc && hex(line, 2, 2, a)) {
        m_names[id_key(IdKind::ProgIf, (c << 16) | (sc << 8) | a)] = name_after(line, 4);
      } else if (tabs == 2 && !classes && have_d && hex(line, 2, 4, a) && hex(line, 7, 4, b)) {
        m_subsys[(uint64_t{v} << 48) | (uint64_t{d} << 32) | (a << 16) | b] = name_after(line, 11);
      }
    }
  }

 public:
  const char* subsystem(uint16_t v, uint16_t d, uint16_t sv, uint16_t sd) const {
    auto it = m_subsys.find((uint64_t{v} << 48) | (uint64_t{d} << 32) | (uint64_t{sv} << 16) | sd);
    return it == m_subsys.end() || it->second.empty() ? nullptr : it->second.c_str();
  }

 private:
  std::unordered_map<uint64_t, std::string> m_names;
  std::unordered_map<uint64_t, std::string> m_subsys;  // vendor:device:subvendor:subdevice
};

// ---------------------------------------------------------------------------------------------
// Name formatting (lib/names.c semantics)
// ---------------------------------------------------------------------------------------------

struct Names {
  std::shared_ptr<const PciIds> ids;
  bool numeric, mixed;
  explicit Names(const LspciOptions& o)
      : ids(PciIds::get(o.ids_path)), numeric(o.numeric == 1), mixed(o.numeric >= 2) {}

  std::string single(const char* name, const std::string& num, const char* unknown, bool mixed_flag) const {
    if (numeric) return num;
    if (!name) return std::string(unknown) + (mixed_flag ? " [" + num + "]" : " " + num);
    return mixed_flag ? std::string(name) + " [" + num + "]" : std::string(name);
  }
  std::string pair(const char* v, const char* d, const std::string& num) const {
    if (numeric) return num;
    if (mixed) {
      if (v && d) return std::string(v) + " " + d + " [" + num + "]";
      if (!v) return "Device [" + num + "]";
      return std::string(v) + " Device [" + num + "]";
    }
    if (v && d) return std::string(v) + " " + d;
    if (!v) return "Device " + num;
    return std::string(v) + " Device " + num.substr(5);
  }
  std::string device(uint16_t v, uint16_t d) const {
    char num[16];
    std::snprintf(num, sizeof num, "%04x:%04x", v, d);
    return pair(ids->find(IdKind::Vendor, v), ids->find(IdKind::Device, (uint32_t{v} << 16) | d), num);
  }
  std::string subsystem(uint16_t v, uint16_t d, uint16_t sv, uint16_t sd) const {
    const char* name = ids->subsystem(v, d, sv, sd);
    if (!name && v == sv && d == sd) name = ids->find(IdKind::Device, (uint32_t{v} << 16) | d);
    char num[16];
    std::snprintf(num, sizeof num, "%04x:%04x", sv, sd);
    return pair(ids->find(IdKind::Vendor, sv), name, num);
  }
  std::string cls(uint16_t c) const {  // base << 8 | subclass
    char num[8];
    std::snprintf(num, sizeof num, "%04x", c);
    const char* name = ids->find(IdKind::Subclass, c);
    bool m = mixed;
    if (!name && (name = ids->find(IdKind::Class, c >> 8)) && !numeric) m = true;  // "Bridge [0680]"
    return single(name, num, "Class", m);
  }
  // PCI_LOOKUP_NO_NUMBERS: the name, or nothing
  const char* progif(uint16_t c, uint8_t p, std::string& buf) const {
    if (const char* n = ids->find(IdKind::ProgIf, (uint32_t{c} << 8) | p)) return n;
    if (c == 0x0101 && !(p & 0x70)) {  // IDE controllers spell out their prog-if bits
      buf.clear();
      if (p & 0x80) buf += " Master";
      if (p & 0x08) buf += " SecP";
      if (p & 0x04) buf += " SecO";
      if (p & 0x02) buf += " PriP";
      if (p & 0x01) buf += " PriO";
      return buf.empty() ? nullptr : buf.c_str() + 1;
    }
    return nullptr;
  }
};

}  // namespace pciesim::pci_names
