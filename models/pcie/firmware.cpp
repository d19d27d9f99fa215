#include "pcie/firmware.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "pcie/config_space.h"
#include "pcie/fabric.h"
#include "pcie/root_complex.h"
#include "pcie/topology/spec.h"

namespace pciesim {

namespace {
constexpr uint8_t kCapPcie = 0x10;
constexpr uint16_t kExtCapAri = 0x000e, kExtCapAcs = 0x000d;
// PCIe 7.5.3: offsets inside the PCI Express capability
constexpr uint16_t kDevCap = 0x04, kDevCtl = 0x08, kDevCap2 = 0x24, kDevCtl2 = 0x28;
constexpr uint32_t kDevCap2AriForwarding = 1u << 5;
constexpr uint16_t kDevCtl2AriForwarding = 1u << 5;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

unsigned size_code(int bytes) {  // PCIe 7.5.3.4: 128 B << code
  unsigned code = 0;
  while ((128 << code) < bytes && code < 5) ++code;
  return code;
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}
}  // namespace

uint32_t Firmware::rd(int seg, RequesterId b, uint16_t reg, unsigned size) {
  return m_fabric.config_read(seg, b, reg, size);
}
void Firmware::wr(int seg, RequesterId b, uint16_t reg, unsigned size, uint32_t v) {
  m_fabric.config_write(seg, b, reg, size, v);
}

const FunctionInfo* Firmware::info(int segment, RequesterId bdf) {
  return m_fabric.find(segment, bdf);
}

uint16_t Firmware::find_cap(int seg, RequesterId bdf, uint8_t id) {
  if (!(rd(seg, bdf, cfg::kStatus, 2) & cfg::kStatusCapList)) return 0;
  uint16_t p = rd(seg, bdf, cfg::kCapPtr, 1) & 0xfc;
  for (int guard = 0; p >= 0x40 && guard < 48; ++guard) {
    if (rd(seg, bdf, p, 1) == id) return p;
    p = rd(seg, bdf, p + 1, 1) & 0xfc;
  }
  return 0;
}

uint16_t Firmware::find_ext_cap(int seg, RequesterId bdf, uint16_t id) {
  uint16_t p = cfg::kExtCapStart;
  for (int guard = 0; p >= cfg::kExtCapStart && guard < 960; ++guard) {
    uint32_t h = rd(seg, bdf, p, 4);
    if (h == 0 || h == 0xffffffffu) return 0;
    if ((h & 0xffff) == id) return p;
    p = (h >> 20) & 0xffc;
  }
  return 0;
}

void Firmware::exhausted_buses(int segment, RequesterId bridge) {
  m_fabric.refresh_index();
  const FunctionInfo* fi = info(segment, bridge);
  topo::SourceLoc loc = fi ? fi->loc : topo::SourceLoc{m_fabric.spec().file, 0, 0};
  throw topo::TopologyError(loc, "bus numbers exhausted in segment " + std::to_string(segment) +
                                     ": no bus left below " + (fi ? fi->fn->name() : std::string("this bridge")) +
                                     " (a segment has 256 buses; split the tree over more root complexes)");
}

void Firmware::run() {
  for (RootComplex* rc : m_fabric.root_complexes()) {
    const int seg = rc->segment();
    Node root;
    root.bridge = true;
    m_next_bus = rc->root_bus();
    scan_bus(seg, rc->root_bus(), root, false);
    m_fabric.refresh_index();
    // Sizing and placement: the root bus behaves like a bridge whose windows are the RC's ranges.
    size_bars(seg, root);
    const auto& s = rc->spec();
    const bool pref64 = s.mmio64.size != 0;
    m_pref64 = pref64;
    measure(root, pref64);
    const topo::AddressRange* ranges[3] = {&s.mmio32, pref64 ? &s.mmio64 : &s.mmio32, &s.io};
    const char* names[3] = {"mmio32", pref64 ? "mmio64" : "mmio32", "io"};
    uint64_t start[3];
    for (int sp = 0; sp < 3; ++sp) {
      const uint64_t need = root.need[sp];
      start[sp] = align_up(ranges[sp]->base, root.align[sp]);
      if (need && (ranges[sp]->size == 0 || start[sp] + need - 1 > ranges[sp]->limit()))
        throw topo::TopologyError(s.loc, std::string("windows do not fit: ") + s.name + " needs " + hex(need) +
                                             " bytes of " + names[sp] + " space but has " + hex(ranges[sp]->size) +
                                             " at " + hex(ranges[sp]->base));
    }
    place(seg, root, start);
  }
}

uint8_t Firmware::scan_bus(int seg, uint8_t bus, Node& parent, bool ari_bus) {
  uint8_t max_bus = bus;
  if (ari_bus) {
    // PCIe 6.13: on an ARI bus, function numbers are 0..255 and chained by Next Function Number.
    unsigned fn = 0;
    for (int guard = 0; guard < 256; ++guard) {
      RequesterId id{bus, static_cast<uint8_t>(fn)};
      if ((rd(seg, id, cfg::kVendorId, 2) & 0xffff) == 0xffff) break;
      scan_function(seg, bus, static_cast<uint8_t>(fn), parent, max_bus);
      uint16_t ari = find_ext_cap(seg, id, kExtCapAri);
      unsigned next = ari ? (rd(seg, id, ari + 4, 2) >> 8) & 0xff : 0;
      if (next == 0 || next <= fn) break;
      fn = next;
    }
    return max_bus;
  }
  for (unsigned dev = 0; dev < 32; ++dev) {
    RequesterId f0 = RequesterId::from_bdf(bus, dev, 0);
    if ((rd(seg, f0, cfg::kVendorId, 2) & 0xffff) == 0xffff) continue;
    const bool multi = rd(seg, f0, cfg::kHeaderType, 1) & 0x80;
    for (unsigned fn = 0; fn < (multi ? 8u : 1u); ++fn) {
      RequesterId id = RequesterId::from_bdf(bus, dev, fn);
      if (fn && (rd(seg, id, cfg::kVendorId, 2) & 0xffff) == 0xffff) continue;
      scan_function(seg, bus, id.devfn, parent, max_bus);
    }
  }
  return max_bus;
}

void Firmware::scan_function(int seg, uint8_t bus, uint8_t devfn, Node& parent, uint8_t& max_bus) {
  RequesterId id{bus, devfn};
  auto node = std::make_unique<Node>();
  node->bdf = id;
  // Turn decoding off while sizing; this first type 0 write also lets the function capture its id.
  wr(seg, id, cfg::kCommand, 2, 0);
  node->bridge = (rd(seg, id, cfg::kHeaderType, 1) & 0x7f) == 1;
  if (node->bridge) {
    if (m_next_bus >= 255) exhausted_buses(seg, id);
    const uint8_t secondary = static_cast<uint8_t>(++m_next_bus);
    // primary | secondary | subordinate (0xff while the subtree is scanned)
    wr(seg, id, cfg::kPrimaryBus, 1, bus);
    wr(seg, id, cfg::kSecondaryBus, 1, secondary);
    wr(seg, id, cfg::kSubordinateBus, 1, 0xff);
    enable_ari_forwarding(seg, *node);
    bool ari = false;
    if (uint16_t pcie = find_cap(seg, id, kCapPcie))
      ari = rd(seg, id, pcie + kDevCtl2, 2) & kDevCtl2AriForwarding;
    uint8_t sub = scan_bus(seg, secondary, *node, ari);
    wr(seg, id, cfg::kSubordinateBus, 1, sub);
    max_bus = std::max(max_bus, sub);
  }
  parent.children.push_back(std::move(node));
}

void Firmware::enable_ari_forwarding(int seg, const Node& port) {
  uint16_t pcie = find_cap(seg, port.bdf, kCapPcie);
  if (!pcie || !(rd(seg, port.bdf, pcie + kDevCap2, 4) & kDevCap2AriForwarding)) return;
  const uint8_t secondary = static_cast<uint8_t>(rd(seg, port.bdf, cfg::kSecondaryBus, 1));
  RequesterId below{secondary, 0};
  if ((rd(seg, below, cfg::kVendorId, 2) & 0xffff) == 0xffff) return;
  if (!find_ext_cap(seg, below, kExtCapAri)) return;
  uint16_t ctl2 = static_cast<uint16_t>(rd(seg, port.bdf, pcie + kDevCtl2, 2));
  wr(seg, port.bdf, pcie + kDevCtl2, 2, ctl2 | kDevCtl2AriForwarding);
}

void Firmware::size_bars(int seg, Node& node) {
  for (auto& child : node.children) size_bars(seg, *child);
  if (node.bridge) return;
  // PCI 3.0 6.2.5.1: write all ones, read back, restore.
  for (int i = 0; i < 6; ++i) {
    const uint16_t off = static_cast<uint16_t>(cfg::kBar0 + 4 * i);
    const uint32_t orig = rd(seg, node.bdf, off, 4);
    wr(seg, node.bdf, off, 4, 0xffffffffu);
    const uint32_t lo = rd(seg, node.bdf, off, 4);
    wr(seg, node.bdf, off, 4, orig);
    if (lo == 0) continue;
    Bar bar{i, 0, (lo & 1) != 0, false, false};
    if (bar.io) {
      bar.size = (~uint64_t{lo & ~3u} + 1) & 0xffff;  // only the low 16 bits of I/O decode
    } else {
      bar.is_64bit = ((lo >> 1) & 3) == 2;
      bar.prefetchable = lo & 8;
      uint64_t mask = lo & ~0xfull;
      if (bar.is_64bit && i < 5) {
        const uint16_t hoff = static_cast<uint16_t>(off + 4);
        const uint32_t horig = rd(seg, node.bdf, hoff, 4);
        wr(seg, node.bdf, hoff, 4, 0xffffffffu);
        mask |= uint64_t{rd(seg, node.bdf, hoff, 4)} << 32;
        wr(seg, node.bdf, hoff, 4, horig);
      } else {
        mask |= 0xffffffff00000000ull;
      }
      bar.size = ~mask + 1;
    }
    if (bar.size) node.bars.push_back(bar);
    if (bar.is_64bit) ++i;
  }
  size_vf_bars(seg, node);
}

// SR-IOV (PCIe 9.3.3.14): each VF BARn sizes like a BAR and gives one VF's share; the PF needs
// TotalVFs shares, aligned to one share, in the window above it (as Linux's sriov_init sizes the
// IOV resources and BIOSes that support SR-IOV assign them).
void Firmware::size_vf_bars(int seg, Node& node) {
  const uint16_t sriov = find_ext_cap(seg, node.bdf, regs::kExtCapIdSriov);
  if (!sriov) return;
  const unsigned total = rd(seg, node.bdf, sriov + 0x0e, 2);  // TotalVFs
  if (!total) return;
  for (int i = 0; i < 6; ++i) {
    const auto off = static_cast<uint16_t>(sriov + 0x24 + 4 * i);  // VF BARn
    const uint32_t orig = rd(seg, node.bdf, off, 4);
    wr(seg, node.bdf, off, 4, 0xffffffffu);
    const uint32_t lo = rd(seg, node.bdf, off, 4);
    wr(seg, node.bdf, off, 4, orig);
    if (lo == 0 || (lo & 1)) continue;  // unimplemented; VF BARs are memory only
    Bar bar{i, 0, false, ((lo >> 1) & 3) == 2, (lo & 8) != 0, off, 0};
    uint64_t mask = lo & ~0xfull;
    if (bar.is_64bit && i < 5) {
      const auto hoff = static_cast<uint16_t>(off + 4);
      const uint32_t horig = rd(seg, node.bdf, hoff, 4);
      wr(seg, node.bdf, hoff, 4, 0xffffffffu);
      mask |= uint64_t{rd(seg, node.bdf, hoff, 4)} << 32;
      wr(seg, node.bdf, hoff, 4, horig);
    } else {
      mask |= 0xffffffff00000000ull;
    }
    const uint64_t share = std::max(~mask + 1, kMinMemBar);
    bar.size = share * total;
    bar.align = share;
    node.bars.push_back(bar);
    if (bar.is_64bit) ++i;
  }
}

void Firmware::measure(Node& node, bool has_pref64) {
  // Items to pack into each of this bridge's windows, largest alignment first (what Linux's
  // pbus_size_mem does), so every item lands naturally aligned with no gaps.
  struct Item { uint64_t size, align; };
  std::vector<Item> items[3];
  for (auto& child : node.children) {
    if (child->bridge) {
      measure(*child, has_pref64);
      for (int sp = 0; sp < 3; ++sp)
        if (child->need[sp]) items[sp].push_back({child->need[sp], child->align[sp]});
      continue;
    }
    for (const Bar& b : child->bars) {
      uint64_t size = b.io ? b.size : std::max(b.size, kMinMemBar);
      int sp = b.io ? kIo : (b.prefetchable && b.is_64bit && has_pref64) ? kPref : kMem;
      items[sp].push_back({size, b.align ? b.align : size});
    }
  }
  for (int sp = 0; sp < 3; ++sp) {
    std::sort(items[sp].begin(), items[sp].end(), [](const Item& a, const Item& b) { return a.align > b.align; });
    uint64_t off = 0, align = sp == kIo ? kIoWindowGranule : kMemWindowGranule;
    for (const Item& it : items[sp]) {
      off = align_up(off, it.align) + it.size;
      align = std::max(align, it.align);
    }
    node.need[sp] = off ? align_up(off, sp == kIo ? kIoWindowGranule : kMemWindowGranule) : 0;
    node.align[sp] = align;
  }
}

void Firmware::place(int seg, Node& node, const uint64_t start[3]) {
  for (int sp = 0; sp < 3; ++sp) node.base[sp] = start[sp];
  // Children in the same order measure() packed them: by alignment, largest first.
  struct Item { Node* n; int bar; int space; uint64_t size, align; };
  std::vector<Item> items;
  for (auto& child : node.children) {
    if (child->bridge) {
      for (int sp = 0; sp < 3; ++sp)
        if (child->need[sp]) items.push_back({child.get(), -1, sp, child->need[sp], child->align[sp]});
      continue;
    }
    for (size_t i = 0; i < child->bars.size(); ++i) {
      const Bar& b = child->bars[i];
      uint64_t size = b.io ? b.size : std::max(b.size, kMinMemBar);
      int sp = b.io ? kIo : (b.prefetchable && b.is_64bit && m_pref64) ? kPref : kMem;
      items.push_back({child.get(), static_cast<int>(i), sp, size, b.align ? b.align : size});
    }
  }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.align > b.align; });
  uint64_t cursor[3] = {start[0], start[1], start[2]};
  std::vector<std::array<uint64_t, 3>> child_start(node.children.size(), {0, 0, 0});
  for (Item& it : items) {
    uint64_t at = align_up(cursor[it.space], it.align);
    cursor[it.space] = at + it.size;
    if (it.bar < 0) {
      it.n->base[it.space] = at;
    } else {
      const Bar& b = it.n->bars[it.bar];
      const uint16_t off = b.reg ? b.reg : static_cast<uint16_t>(cfg::kBar0 + 4 * b.index);
      uint32_t flags = rd(seg, it.n->bdf, off, 4) & (b.io ? 0x3u : 0xfu);
      wr(seg, it.n->bdf, off, 4, static_cast<uint32_t>(at) | flags);
      if (b.is_64bit) wr(seg, it.n->bdf, off + 4, 4, static_cast<uint32_t>(at >> 32));
    }
  }
  for (auto& child : node.children) {
    if (child->bridge) {
      place(seg, *child, child->base);
      program_bridge(seg, *child);
    } else {
      program_device(seg, *child);
    }
  }
}

void Firmware::program_bridge(int seg, const Node& n) {
  const RequesterId id = n.bdf;
  // PCI-to-PCI bridge 3.2.5.6-3.2.5.9; a window with base above limit is off.
  if (n.need[kMem]) {
    uint64_t lim = n.base[kMem] + n.need[kMem] - 1;
    wr(seg, id, cfg::kMemBase, 2, static_cast<uint32_t>((n.base[kMem] >> 16) & 0xfff0));
    wr(seg, id, cfg::kMemLimit, 2, static_cast<uint32_t>((lim >> 16) & 0xfff0));
  } else {
    wr(seg, id, cfg::kMemBase, 2, 0xfff0);
    wr(seg, id, cfg::kMemLimit, 2, 0x0000);
  }
  if (n.need[kPref]) {
    uint64_t base = n.base[kPref], lim = base + n.need[kPref] - 1;
    wr(seg, id, cfg::kPrefBase, 2, static_cast<uint32_t>((base >> 16) & 0xfff0));
    wr(seg, id, cfg::kPrefLimit, 2, static_cast<uint32_t>((lim >> 16) & 0xfff0));
    wr(seg, id, cfg::kPrefBaseUpper, 4, static_cast<uint32_t>(base >> 32));
    wr(seg, id, cfg::kPrefLimitUpper, 4, static_cast<uint32_t>(lim >> 32));
  } else {
    wr(seg, id, cfg::kPrefBase, 2, 0xfff0);
    wr(seg, id, cfg::kPrefLimit, 2, 0x0000);
    wr(seg, id, cfg::kPrefBaseUpper, 4, 0xffffffffu);
    wr(seg, id, cfg::kPrefLimitUpper, 4, 0);
  }
  if (n.need[kIo]) {
    uint64_t lim = n.base[kIo] + n.need[kIo] - 1;
    wr(seg, id, cfg::kIoBase, 1, static_cast<uint32_t>((n.base[kIo] >> 8) & 0xf0));
    wr(seg, id, cfg::kIoLimit, 1, static_cast<uint32_t>((lim >> 8) & 0xf0));
    wr(seg, id, cfg::kIoBaseUpper, 2, static_cast<uint32_t>(n.base[kIo] >> 16));
    wr(seg, id, cfg::kIoLimitUpper, 2, static_cast<uint32_t>(lim >> 16));
  } else {
    wr(seg, id, cfg::kIoBase, 1, 0xf0);
    wr(seg, id, cfg::kIoLimit, 1, 0x00);
  }
  program_device(seg, n);
}

void Firmware::program_device(int seg, const Node& n) {
  const RequesterId id = n.bdf;
  const FunctionInfo* fi = info(seg, id);
  // MPS / MRRS from the link above (PCIe 7.5.3.4); firmware uses the path's agreed values.
  if (uint16_t pcie = find_cap(seg, id, kCapPcie)) {
    const topo::LinkSpec* link = fi ? fi->link : nullptr;
    if (link) {
      unsigned supported = rd(seg, id, pcie + kDevCap, 4) & 7;
      unsigned mps = std::min(size_code(link->mps), supported);
      unsigned mrrs = size_code(link->mrrs);
      uint16_t ctl = static_cast<uint16_t>(rd(seg, id, pcie + kDevCtl, 2));
      ctl = static_cast<uint16_t>((ctl & ~0x70e0u) | (mps << 5) | (mrrs << 12));
      wr(seg, id, pcie + kDevCtl, 2, ctl);
    }
  }
  // ACS control and egress vector as the topology says firmware leaves them (PCIe 7.7.8).
  if (fi && fi->acs && fi->acs->present) {
    if (uint16_t acs = find_ext_cap(seg, id, kExtCapAcs)) {
      if (fi->acs->egress_vector_bits) wr(seg, id, acs + 8, 4, fi->acs->egress_vector);
      wr(seg, id, acs + 6, 2, fi->acs->control);
    }
  }
  // Command: bridges forward in both directions; endpoints decode their BARs. Bus mastering
  // on endpoints is the OS driver's to enable (pci_set_master), as on real firmware.
  uint16_t cmd = 0;
  if (n.bridge) {
    cmd = cfg::kCmdMemory | cfg::kCmdIo | cfg::kCmdBusMaster | cfg::kCmdSerr;
  } else {
    for (const Bar& b : n.bars)
      if (!b.reg) cmd |= b.io ? cfg::kCmdIo : cfg::kCmdMemory;  // VF BARs decode by VF MSE instead
    cmd |= cfg::kCmdSerr;
  }
  wr(seg, id, cfg::kCommand, 2, cmd);
}

}  // namespace pciesim
