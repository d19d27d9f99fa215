// lspci text -> HostView. Understands verbose blocks (-v, -vv, -vvv, with -nn ids or names only,
// including mail-wrapped copies without leading tabs), the -tv tree and plain one-line listings.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <vector>

#include "groups/host_import.h"
#include "groups/port_type_inference.h"

namespace pciesim::groups {

namespace {

struct ClassName {
  const char* name;
  uint32_t code;
};
// pci.ids class names as lspci prints them (the ones seen in published dumps).
const ClassName kClassNames[] = {
    {"Non-VGA unclassified device", 0x000000}, {"SCSI storage controller", 0x010000},
    {"IDE interface", 0x010100}, {"RAID bus controller", 0x010400}, {"SATA controller", 0x010600},
    {"Serial Attached SCSI controller", 0x010700}, {"Non-Volatile memory controller", 0x010800},
    {"Ethernet controller", 0x020000}, {"Network controller", 0x028000}, {"Fibre Channel", 0x020400},
    {"VGA compatible controller", 0x030000}, {"3D controller", 0x030200}, {"Display controller", 0x038000},
    {"Multimedia video controller", 0x040000}, {"Multimedia audio controller", 0x040100},
    {"Audio device", 0x040300}, {"Multimedia controller", 0x048000}, {"RAM memory", 0x050000},
    {"Host bridge", 0x060000}, {"ISA bridge", 0x060100}, {"PCI bridge", 0x060400},
    {"CardBus bridge", 0x060700}, {"Bridge", 0x068000}, {"Serial controller", 0x070000},
    {"Communication controller", 0x078000}, {"PIC", 0x080000}, {"IOMMU", 0x080600},
    {"System peripheral", 0x088000}, {"SD Host controller", 0x080500}, {"FireWire (IEEE 1394)", 0x0c0000},
    {"USB controller", 0x0c0300}, {"SMBus", 0x0c0500}, {"IPMI Interface", 0x0c0700},
    {"Serial bus controller", 0x0c8000}, {"Encryption controller", 0x108000},
    {"Signal processing controller", 0x118000}, {"Performance counters", 0x110100},
    {"Processing accelerators", 0x120000}, {"Unassigned class", 0xff0000}, {"Co-processor", 0x0b4000},
};

struct VendorName {
  const char* name;
  uint16_t id;
};
// Longest names first where one is a prefix of another.
const VendorName kVendorNames[] = {
    {"Advanced Micro Devices, Inc. [AMD/ATI]", 0x1002}, {"Advanced Micro Devices, Inc. [AMD]", 0x1022},
    {"Intel Corporation", 0x8086}, {"NVIDIA Corporation", 0x10de}, {"Realtek Semiconductor Co., Ltd.", 0x10ec},
    {"Samsung Electronics Co Ltd", 0x144d}, {"MEDIATEK Corp.", 0x14c3}, {"Genesys Logic, Inc", 0x17a0},
    {"Renesas Technology Corp.", 0x1912}, {"Renesas Electronics Corp.", 0x1912}, {"Sandisk Corp", 0x15b7},
    {"ASMedia Technology Inc.", 0x1b21}, {"Broadcom / LSI", 0x1000}, {"Broadcom Inc. and subsidiaries", 0x14e4},
    {"Mellanox Technologies", 0x15b3}, {"ASPEED Technology, Inc.", 0x1a03}, {"Matrox Electronics Systems Ltd.", 0x102b},
    {"Marvell Technology Group Ltd.", 0x1b4b}, {"Micron Technology Inc", 0x1344}, {"Kingston Technology Company, Inc.", 0x2646},
    {"Qualcomm Atheros", 0x168c}, {"Ricoh Co Ltd", 0x1180}, {"JMicron Technology Corp.", 0x197b},
    {"Emulex Corporation", 0x10df}, {"Solarflare Communications", 0x1924}, {"Cavium, Inc.", 0x177d},
    {"AMD Solarflare", 0x1924},  // vendor 1924's name in pci.ids since 2023
    {"Texas Instruments", 0x104c}, {"VIA Technologies, Inc.", 0x1106}, {"Silicon Motion, Inc.", 0x126f},
    {"Phison Electronics Corporation", 0x1987}, {"Toshiba Corporation", 0x1179}, {"KIOXIA Corporation", 0x1e0f},
};

const std::regex kHeader(R"(^([0-9a-fA-F]{4}:)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7]) (.*)$)");
const std::regex kNnIds(R"(\[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\])");
const std::regex kDeviceHex(R"(^Device ([0-9a-fA-F]{4})\b)");
const std::regex kClassHex(R"(\[([0-9a-fA-F]{4})\]$)");
const std::regex kBusLine(R"(Bus: primary=([0-9a-fA-F]{2}), secondary=([0-9a-fA-F]{2}), subordinate=([0-9a-fA-F]{2}))");
const std::regex kFieldKey(R"(^[A-Za-z][A-Za-z0-9 /#._-]*:( |$))");

std::string trim(const std::string& s);

// pci.ids reverse lookup: lspci prints the names pci.ids gives, so a printed name identifies the
// id (when exactly one entry of that vendor carries it). Path: $PCIESIM_PCI_IDS or the usual places.
class PciIds {
 public:
  static const PciIds& get() {
    static PciIds ids;
    return ids;
  }
  // Every id of `vendor` whose pci.ids name is `name` (usually one; some names are shared).
  std::vector<uint16_t> devices(uint16_t vendor, const std::string& name) const {
    std::vector<uint16_t> found;
    auto it = m_devices.find(vendor);
    if (it == m_devices.end()) return found;
    for (const auto& d : it->second)
      if (d.second == name) found.push_back(d.first);
    return found;
  }
  // Longest vendor name that prefixes `text`.
  std::optional<uint16_t> vendor(const std::string& text, size_t* len) const {
    std::optional<uint16_t> best;
    size_t best_len = 0;
    for (const auto& v : m_vendors)
      if (v.second.size() > best_len && text.compare(0, v.second.size(), v.second) == 0 &&
          (text.size() == v.second.size() || text[v.second.size()] == ' ')) {
        best = v.first;
        best_len = v.second.size();
      }
    if (best && len) *len = best_len;
    return best;
  }
  bool loaded() const { return !m_vendors.empty(); }

 private:
  PciIds() {
    const char* env = std::getenv("PCIESIM_PCI_IDS");
    for (const char* p : {env, "/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids"}) {
      if (!p) continue;
      std::ifstream in(p);
      if (!in) continue;
      std::string l;
      uint16_t vendor = 0;
      bool in_vendor = false;
      while (std::getline(in, l)) {
        if (l.empty() || l[0] == '#') continue;
        if (l[0] == 'C' && l.size() > 1 && l[1] == ' ') { in_vendor = false; continue; }
        if (l[0] != '\t' && l.size() > 6 && std::isxdigit(static_cast<unsigned char>(l[0]))) {
          vendor = uint16_t(std::stoul(l.substr(0, 4), nullptr, 16));
          m_vendors.emplace_back(vendor, l.substr(6));
          in_vendor = true;
        } else if (in_vendor && l.size() > 7 && l[0] == '\t' && l[1] != '\t') {
          m_devices[vendor].emplace_back(uint16_t(std::stoul(l.substr(1, 4), nullptr, 16)), l.substr(7));
        }
      }
      return;
    }
  }
  std::vector<std::pair<uint16_t, std::string>> m_vendors;
  std::map<uint16_t, std::vector<std::pair<uint16_t, std::string>>> m_devices;
};

// "Name (rev 01) (prog-if 00 [Normal decode])" -> "Name"
std::string strip_suffixes(std::string s) {
  for (const char* suffix : {" (prog-if", " (rev "}) {
    size_t p = s.find(suffix);
    if (p != std::string::npos) s.resize(p);
  }
  return s;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

[[noreturn]] void fail(const std::string& file, size_t line, const std::string& what) {
  throw ImportError(file + ":" + std::to_string(line) + ": " + what);
}

std::optional<PortType> express_type(const std::string& text) {
  static const std::pair<const char*, PortType> kTypes[] = {
      {"Root Complex Integrated Endpoint", PortType::RcEndpoint},
      {"Root Complex Event Collector", PortType::RcEventCollector},
      {"Legacy Endpoint", PortType::LegacyEndpoint}, {"Endpoint", PortType::Endpoint},
      {"Root Port", PortType::RootPort}, {"Upstream Port", PortType::UpstreamPort},
      {"Downstream Port", PortType::DownstreamPort}, {"PCI-Express to PCI/PCI-X Bridge", PortType::PcieToPciBridge},
      {"PCI/PCI-X to PCI-Express Bridge", PortType::PciToPcieBridge},
  };
  for (const auto& t : kTypes)
    if (text.find(t.first) != std::string::npos) return t.second;
  return std::nullopt;
}

// ACS bit list ("SrcValid+ TransBlk- ..."); returns bits seen and their values.
void acs_bits(const std::string& text, uint16_t& seen, uint16_t& value) {
  static const char* kNames[] = {"SrcValid", "TransBlk", "ReqRedir", "CmpltRedir", "UpstreamFwd", "EgressCtrl", "DirectTrans"};
  for (int b = 0; b < 7; ++b) {
    size_t p = text.find(kNames[b]);
    if (p == std::string::npos) continue;
    size_t q = p + std::char_traits<char>::length(kNames[b]);
    if (q >= text.size() || (text[q] != '+' && text[q] != '-')) continue;
    seen |= uint16_t(1u << b);
    if (text[q] == '+') value |= uint16_t(1u << b);
  }
}

struct Block {
  FunctionView f;
  bool cap_list = false, cap_minus = false, cap_denied = false, saw_caps = false;
  uint16_t acs_cap_seen = 0, acs_cap = 0, acs_ctl_seen = 0, acs_ctl = 0;
  bool acs = false, express = false;
  size_t line = 0;
};

// The header text after "BB:DD.F ": "Class name[ [cccc]]: Vendor Device (rev xx) (prog-if ...)".
void parse_header_text(const std::string& rest, FunctionView& f) {
  size_t colon = rest.find(": ");
  std::string cls = colon == std::string::npos ? rest : rest.substr(0, colon);
  std::string desc = colon == std::string::npos ? "" : rest.substr(colon + 2);
  f.name = desc;
  std::smatch m;
  std::string cname = cls;
  if (std::regex_search(cls, m, kClassHex)) {
    f.class_code = uint32_t(std::stoul(m[1], nullptr, 16)) << 8;
    cname = trim(cls.substr(0, size_t(m.position(0))));
  }
  if (!f.class_code) {
    uint32_t c = class_from_lspci_name(cname);
    if (c || cname == "Non-VGA unclassified device") f.class_code = c;
  }
  if (std::regex_search(desc, m, kNnIds)) {  // -nn: "... [8086:02bf]"
    f.vendor = uint16_t(std::stoul(m[1], nullptr, 16));
    f.device = uint16_t(std::stoul(m[2], nullptr, 16));
    return;
  }
  size_t len = 0;
  int v = vendor_from_lspci_name(desc, &len);
  if (v < 0) {
    if (auto pv = PciIds::get().vendor(desc, &len)) v = *pv;
  }
  if (v >= 0) {
    f.vendor = uint16_t(v);
    std::string tail = trim(strip_suffixes(desc.substr(len)));
    if (std::regex_search(tail, m, kDeviceHex)) {
      f.device = uint16_t(std::stoul(m[1], nullptr, 16));
    } else {
      // lspci printed the pci.ids name of the id it read: the id is one of the ids carrying that
      // name (assuming the reporter's pci.ids named them as ours does).
      std::vector<uint16_t> ids = PciIds::get().devices(f.vendor.value(), tail);
      if (ids.size() == 1) f.device = ids[0];
      else f.device_candidates = ids;
    }
  }
}

void finish_block(Block& b, HostView& host) {
  FunctionView& f = b.f;
  if (b.cap_minus) {  // "Status: Cap-": no capability list at all
    f.port_type = PortType::Conventional;
    f.acs = AcsState{};
  } else if (b.saw_caps && !b.cap_denied) {
    f.port_type = b.express ? f.port_type : PortType::Conventional;
    if (b.acs) {
      if ((b.acs_cap_seen & kRequiredAcs) == kRequiredAcs && (b.acs_ctl_seen & kRequiredAcs) == kRequiredAcs)
        f.acs = AcsState{true, b.acs_cap, b.acs_ctl};
      // else: the bit lists were cut: ACS stays unknown
    } else {
      f.acs = AcsState{};
    }
  }
  if (!f.header_type && f.class_code) f.header_type = ((*f.class_code >> 8) == 0x0604 || (*f.class_code >> 8) == 0x0607) ? 1 : 0;
  host.functions.push_back(f);
}

}  // namespace

uint32_t class_from_lspci_name(const std::string& name) {
  for (const ClassName& c : kClassNames)
    if (name == c.name) return c.code;
  return 0;
}

int vendor_from_lspci_name(const std::string& text, size_t* len) {
  for (const VendorName& v : kVendorNames) {
    size_t n = std::char_traits<char>::length(v.name);
    if (text.compare(0, n, v.name) == 0) {
      if (len) *len = n;
      return v.id;
    }
  }
  return -1;
}

HostView import_lspci_text(const std::string& text, const std::string& file) {
  HostView host;
  host.source = file;
  std::vector<std::string> lines;
  {
    std::istringstream is(text);
    std::string l;
    while (std::getline(is, l)) {
      if (!l.empty() && l.back() == '\r') l.pop_back();
      lines.push_back(l);
    }
  }
  bool any_verbose = false, any_tree = false, any_plain = false;
  std::optional<Block> cur;
  // -tv tree state: (column, segment, bus) of open brackets.
  std::vector<std::tuple<size_t, int, unsigned>> tree_stack;
  const std::regex tree_root(R"(\[([0-9a-fA-F]{4}):([0-9a-fA-F]{2})\])");
  const std::regex tree_dev(R"(([0-9a-fA-F]{2})\.([0-7])(-\[([0-9a-fA-F]{2})(-([0-9a-fA-F]{2}))?\])?)");
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& raw = lines[i];
    size_t lineno = i + 1;
    std::string line = trim(raw);
    std::smatch m;
    bool is_tree = !raw.empty() && (raw[0] == '-' || raw.find("+-") != std::string::npos || raw.find("\\-") != std::string::npos) &&
                   !std::regex_match(raw, kHeader);
    if (is_tree) {
      any_tree = true;
      if (std::regex_search(raw, m, tree_root) && raw.compare(0, 2, "-[") == 0) {
        tree_stack.clear();
        tree_stack.emplace_back(size_t(m.position(0)), int(std::stoul(m[1], nullptr, 16)), unsigned(std::stoul(m[2], nullptr, 16)));
      }
      auto begin = std::sregex_iterator(raw.begin(), raw.end(), tree_dev);
      for (auto it = begin; it != std::sregex_iterator(); ++it) {
        size_t col = size_t(it->position(0));
        if (col > 0 && raw[col - 1] != '-') continue;  // "00.0" only after a tree edge
        if (col == 0) continue;
        while (tree_stack.size() > 1 && std::get<0>(tree_stack.back()) >= col) tree_stack.pop_back();
        if (tree_stack.empty()) fail(file, lineno, "lspci -tv device before any [domain:bus] root");
        auto [c0, seg, bus] = tree_stack.back();
        (void)c0;
        unsigned dev = unsigned(std::stoul((*it)[1], nullptr, 16)), fn = unsigned(std::stoul((*it)[2], nullptr, 16));
        FunctionView f;
        f.segment = seg;
        f.bus = uint8_t(bus);
        f.devfn = uint8_t(dev << 3 | fn);
        f.origin = file + ":" + std::to_string(lineno);
        std::string after = raw.substr(size_t(it->position(0) + it->length(0)));
        if (after.compare(0, 2, "  ") == 0) f.name = trim(after);
        if ((*it)[3].matched) {
          f.header_type = 1;
          f.secondary = uint8_t(std::stoul((*it)[4], nullptr, 16));
          f.subordinate = (*it)[6].matched ? uint8_t(std::stoul((*it)[6], nullptr, 16)) : *f.secondary;
          tree_stack.emplace_back(col, seg, *f.secondary);
        }
        if (!f.header_type) f.header_type = 0;  // -tv shows every bridge with its [bus] range
        if (!f.name.empty()) parse_header_text("?: " + f.name, f);
        f.class_code.reset();  // -tv prints no class
        if (host.find(f.segment, f.bus, f.devfn) < 0) host.functions.push_back(f);
      }
      continue;
    }
    if (std::regex_match(line, m, kHeader) && raw.size() && !std::isspace(static_cast<unsigned char>(raw[0]))) {
      if (cur) finish_block(*cur, host), cur.reset();
      Block b;
      b.line = lineno;
      b.f.segment = m[1].matched ? int(std::stoul(m[1].str().substr(0, 4), nullptr, 16)) : 0;
      b.f.bus = uint8_t(std::stoul(m[2], nullptr, 16));
      b.f.devfn = uint8_t(std::stoul(m[3], nullptr, 16) << 3 | std::stoul(m[4]));
      b.f.origin = file + ":" + std::to_string(lineno);
      std::string rest = m[5];
      // Mail-wrapped header: the next line continues it when it is not a "Key: value" field.
      if (i + 1 < lines.size()) {
        std::string next = trim(lines[i + 1]);
        if (!next.empty() && !std::regex_search(next, kFieldKey) && !std::regex_match(next, kHeader) &&
            (lines[i + 1].empty() || !std::isspace(static_cast<unsigned char>(lines[i + 1][0])))) {
          rest += " " + next;
          ++i;
        }
      }
      if (rest.find(": ") == std::string::npos) fail(file, lineno, "lspci header without 'class: device'");
      parse_header_text(rest, b.f);
      cur = b;
      continue;
    }
    if (!cur) {
      if (!line.empty()) fail(file, lineno, "unrecognised lspci line: '" + line.substr(0, 60) + "'");
      continue;
    }
    Block& b = *cur;
    if (line.empty()) {
      finish_block(b, host);
      cur.reset();
      continue;
    }
    if (line.rfind("Status:", 0) == 0) {
      any_verbose = true;
      if (line.find("Cap-") != std::string::npos) b.cap_minus = true;
      if (line.find("Cap+") != std::string::npos) b.cap_list = true;
    } else if (line.rfind("Capabilities:", 0) == 0) {
      any_verbose = true;
      b.saw_caps = true;
      if (line.find("<access denied>") != std::string::npos) b.cap_denied = true;
      if (line.find("] Express (") != std::string::npos) {
        std::string t = line;
        if (!express_type(t) && i + 1 < lines.size()) t += " " + trim(lines[i + 1]);
        b.express = true;
        b.f.port_type = express_type(t);
        if (!b.f.port_type) fail(file, lineno, "Express capability with an unrecognised device/port type");
      }
      if (line.find("] PCI-X ") != std::string::npos) b.f.pcix = true;
      if (line.find("Access Control Services") != std::string::npos) b.acs = true;
    } else if (line.rfind("Kernel driver in use:", 0) == 0) {
      b.f.evidence.pcieport_driver = trim(line.substr(21)) == "pcieport";
    } else if (std::regex_search(line, m, kBusLine)) {
      b.f.header_type = 1;
      b.f.secondary = uint8_t(std::stoul(m[2], nullptr, 16));
      b.f.subordinate = uint8_t(std::stoul(m[3], nullptr, 16));
    } else if (line.rfind("ACSCap:", 0) == 0 || line.rfind("ACSCtl:", 0) == 0) {
      bool ctl = line.rfind("ACSCtl:", 0) == 0;
      std::string t = line;
      // Wrapped bit list: continue onto the next line while it holds only "Name+/-" words.
      if (t.find("DirectTrans") == std::string::npos && i + 1 < lines.size() &&
          trim(lines[i + 1]).rfind("ACSC", 0) != 0 && !std::regex_search(trim(lines[i + 1]), kFieldKey))
        t += " " + trim(lines[i + 1]);
      acs_bits(t, ctl ? b.acs_ctl_seen : b.acs_cap_seen, ctl ? b.acs_ctl : b.acs_cap);
    }
  }
  if (cur) finish_block(*cur, host);
  if (host.functions.empty()) throw ImportError(file + ": no PCI functions found (expected lspci output)");
  // Merge duplicates (a tree entry and a verbose block for the same BDF): the verbose one wins.
  HostView merged;
  merged.source = file;
  for (const FunctionView& f : host.functions) {
    int j = merged.find(f.segment, f.bus, f.devfn);
    if (j < 0) { merged.functions.push_back(f); continue; }
    FunctionView& g = merged.functions[size_t(j)];
    const bool f_wins = f.port_type || f.class_code;
    FunctionView keep = f_wins ? f : g;
    const FunctionView other = f_wins ? g : f;
    if (!keep.secondary) { keep.secondary = other.secondary; keep.subordinate = other.subordinate; }
    if (!keep.header_type) keep.header_type = other.header_type;
    if (!keep.vendor) keep.vendor = other.vendor;
    if (!keep.device && keep.device_candidates.empty()) {
      keep.device = other.device;
      keep.device_candidates = other.device_candidates;
    }
    keep.evidence.pcieport_driver |= other.evidence.pcieport_driver;
    g = keep;
  }
  host = merged;
  (void)any_verbose;
  any_plain = !any_tree;
  bool has_bridge_ranges = false;
  for (const FunctionView& f : host.functions) has_bridge_ranges |= f.secondary.has_value();
  bool has_nonroot = false;
  for (const FunctionView& f : host.functions) has_nonroot |= f.bus != 0;
  if (any_plain && !has_bridge_ranges && has_nonroot)
    host.missing.push_back(file + ": topology unknown (no bridge bus ranges: plain lspci prints no 'Bus: primary=' and no tree)");
  host.link_parents();
  host.infer_multifunction();
  infer_port_types(host);
  for (const FunctionView& f : host.functions)
    if (f.bus != 0 && f.parent < 0 && has_bridge_ranges)
      host.missing.push_back(f.bdf() + ": no bridge above bus " + format_bdf(f.segment, f.bus, 0).substr(5, 2) + " in the listing");
  mark_amd_iommu_exclusions(host);
  return host;
}

HostView import_lspci_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ImportError(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return import_lspci_text(ss.str(), path);
}

void mark_amd_iommu_exclusions(HostView& host) {
  for (const FunctionView& iommu : host.functions) {
    bool amd_iommu = iommu.class_code && (*iommu.class_code >> 8) == 0x0806 && (!iommu.vendor || *iommu.vendor == 0x1022);
    if (!amd_iommu) continue;
    for (FunctionView& f : host.functions)
      if (f.segment == iommu.segment && f.bus == iommu.bus && (f.devfn == iommu.devfn || f.devfn == 0))
        f.iommu_attached = false;
  }
}

}  // namespace pciesim::groups
