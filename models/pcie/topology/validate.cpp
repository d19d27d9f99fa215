#include "pcie/topology/validate.h"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

namespace pciesim::topo {

namespace {

enum class EndpointContext { Link, Integrated, Conventional };

[[noreturn]] void issue(const SourceLoc& loc, std::string field, std::string message) {
  throw ValidationIssue{loc, std::move(field), std::move(message)};
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

std::string range_string(const AddressRange& r) { return "[" + hex(r.base) + ", " + hex(r.limit()) + "]"; }

bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

std::string quoted(const std::string& name) { return "'" + name + "'"; }

std::string first_at(const SourceLoc& loc) { return " (first at " + loc.to_string() + ")"; }

// Device/function numbers on one bus: root bus, switch internal bus, conventional bus.
class BusSlots {
 public:
  explicit BusSlots(std::string bus) : m_bus(std::move(bus)) {}

  void add_port(const DownstreamPortSpec& port) {
    auto [it, fresh] = m_devices.try_emplace(port.device, Slot{false, port.loc, port.name, {}});
    Slot& slot = it->second;
    if (!fresh && slot.endpoint)
      issue(port.loc, "device", "duplicate device number " + std::to_string(port.device) + " on " + m_bus +
                                    ": endpoint " + quoted(slot.who) + " uses it" + first_at(slot.loc));
    if (!slot.functions.insert(port.function).second)
      issue(port.loc, "device", "duplicate function number " + std::to_string(port.device) + "." +
                                      std::to_string(port.function) + " on " + m_bus + ": " +
                                      quoted(slot.who) + " has it" + first_at(slot.loc));
  }

  // A conventional PCI-to-PCI bridge on a PCI bus: a single-function device.
  void add_bridge(const PciBridgeSpec& br) {
    auto [it, fresh] = m_devices.try_emplace(br.device_number, Slot{true, br.loc, br.name, {}});
    if (!fresh)
      issue(br.loc, "device", "duplicate device number " + std::to_string(br.device_number) + " on " + m_bus + ": " +
                                  quoted(it->second.who) + " uses it" + first_at(it->second.loc));
  }

  void add_endpoint(const EndpointSpec& ep) {
    auto [it, fresh] = m_devices.try_emplace(ep.device, Slot{true, ep.loc, ep.name, {}});
    if (!fresh)
      issue(ep.loc, "device", "duplicate device number " + std::to_string(ep.device) + " on " + m_bus + ": " +
                                  quoted(it->second.who) + " uses it" + first_at(it->second.loc));
  }

  // Ports sharing a device number form one multi-function device, which needs function 0.
  void require_function0() const {
    for (const auto& [device, slot] : m_devices)
      if (!slot.endpoint && !slot.functions.count(0))
        issue(slot.loc, "function", "missing function 0: device " + std::to_string(device) + " on " + m_bus +
                                        " has ports only at function " + std::to_string(*slot.functions.begin()) +
                                        (slot.functions.size() > 1 ? " and up" : "") +
                                        " (a device must implement function 0)");
  }

 private:
  struct Slot {
    bool endpoint;
    SourceLoc loc;
    std::string who;
    std::set<int> functions;
  };
  std::string m_bus;
  std::map<int, Slot> m_devices;
};

class Validator {
 public:
  explicit Validator(const TopologySpec& spec) : m_spec(spec) {}

  void run() {
    SourceLoc file_loc{m_spec.file, 1, 1};
    if (m_spec.name.empty()) issue(file_loc, "name", "the topology needs a name");
    check_memory(m_spec.memory);
    if (m_spec.root_complexes.empty())
      issue(file_loc, "root_complexes", "the topology needs at least one root complex");
    for (const RootComplexSpec& rc : m_spec.root_complexes) check_root_complex(rc);
    check_overlaps();
    check_iommus();
  }

 private:
  void check_name(const std::string& name, const SourceLoc& loc, const char* what) {
    if (name.empty()) issue(loc, "name", std::string(what) + " needs a name");
    if (name.size() > 64) issue(loc, "name", "name " + quoted(name) + " is longer than 64 characters");
    for (char c : name)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
        issue(loc, "name", "name " + quoted(name) + " may contain only letters, digits, '_' and '-'");
    auto [it, fresh] = m_names.try_emplace(name, loc);
    if (!fresh) issue(loc, "name", "duplicate name " + quoted(name) + first_at(it->second));
  }

  // DMAR DRHD rules: every scope entry is a root port or RCiEP of the unit's segment, a device is
  // covered by at most one unit, at most one include-all unit per segment, register windows
  // 4 KiB aligned, disjoint and outside every root complex range.
  void check_iommus() {
    std::map<std::string, const IommuSpec*> covered;
    std::map<int, const IommuSpec*> include_all;
    std::vector<std::pair<uint64_t, const IommuSpec*>> bases;
    for (const IommuSpec& u : m_spec.iommus) {
      check_name(u.name, u.loc, "an IOMMU");
      auto rc = m_segments.find(u.segment);
      if (rc == m_segments.end())
        issue(u.loc, "segment", "no root complex owns segment " + std::to_string(u.segment));
      if (u.include_all) {
        auto [it, fresh] = include_all.try_emplace(u.segment, &u);
        if (!fresh)
          issue(u.loc, "include_all", "segment " + std::to_string(u.segment) + " already has the include-all unit " +
                                          quoted(it->second->name) + first_at(it->second->loc));
      }
      if (!u.include_all && u.scope.empty())
        issue(u.loc, "scope", "IOMMU " + quoted(u.name) + " covers nothing: give a scope or include_all: true");
      for (const std::string& d : u.scope) {
        bool found = false;
        for (const auto& p : rc->second->root_ports) found |= p.name == d;
        for (const auto& e : rc->second->integrated) found |= e.name == d;
        if (!found)
          issue(u.loc, "scope", "scope entry " + quoted(d) + " is not a root port or RCiEP of root complex " +
                                    quoted(rc->second->name));
        auto [it, fresh] = covered.try_emplace(d, &u);
        if (!fresh) issue(u.loc, "scope", quoted(d) + " is already covered by IOMMU " + quoted(it->second->name));
      }
      if (u.register_base % 0x1000)
        issue(u.loc, "register_base", "register_base " + hex(u.register_base) + " is not 4 KiB aligned");
      for (const auto& [base, other] : bases)
        if (base == u.register_base)
          issue(u.loc, "register_base", "register window " + hex(base) + " is also IOMMU " + quoted(other->name) + "'s");
      bases.emplace_back(u.register_base, &u);
      for (const RootComplexSpec& r : m_spec.root_complexes)
        for (const AddressRange* a : {&r.ecam, &r.mmio32, &r.mmio64})
          if (a->contains(u.register_base))
            issue(u.loc, "register_base", "register window " + hex(u.register_base) + " lies inside root complex " +
                                              quoted(r.name) + "'s " + hex(a->base) + ".." + hex(a->limit()));
    }
  }

  void check_memory(const MemorySpec& mem) {
    if (mem.range.size == 0) issue(mem.loc, "size", "memory size must be greater than 0");
    if (mem.range.limit() < mem.range.base) issue(mem.loc, "size", "memory range wraps past 2^64");
  }

  void check_root_complex(const RootComplexSpec& rc) {
    check_name(rc.name, rc.loc, "a root complex");
    if (rc.segment < 0 || rc.segment > 0xffff)
      issue(rc.loc, "segment", "segment " + std::to_string(rc.segment) + " is out of range 0..65535");
    auto [seg, fresh] = m_segments.try_emplace(rc.segment, &rc);
    if (!fresh)
      issue(rc.loc, "segment", "duplicate segment " + std::to_string(rc.segment) + ": root complex " +
                                   quoted(seg->second->name) + " already owns it" + first_at(seg->second->loc) +
                                   " (one root complex per segment)");
    if (rc.root_bus < 0 || rc.root_bus > 255)
      issue(rc.loc, "root_bus", "root_bus " + std::to_string(rc.root_bus) + " is out of range 0..255");
    check_window(rc, rc.ecam, "ecam", kMiB, 0, UINT64_MAX, false);
    if (rc.ecam.size > 256 * kMiB)
      issue(rc.loc, "ecam", "ecam size " + hex(rc.ecam.size) + " exceeds 256 MiB (256 buses x 1 MiB)");
    check_window(rc, rc.mmio32, "mmio32", kMiB, 0, k4GiB, true);
    check_window(rc, rc.mmio64, "mmio64", kMiB, k4GiB, UINT64_MAX, true);
    check_window(rc, rc.io, "io", 4096, 0, 0x10000, true);
    if (!std::isfinite(rc.p2p_rate_gbps) || rc.p2p_rate_gbps < 0)
      issue(rc.loc, "p2p_rate_gbps", "p2p_rate_gbps must be a number >= 0");

    BusSlots root_bus("the root bus of " + quoted(rc.name));
    for (const DownstreamPortSpec& port : rc.root_ports) {
      check_port(port, 0);
      root_bus.add_port(port);
    }
    for (const EndpointSpec& ep : rc.integrated) {
      check_endpoint(ep, EndpointContext::Integrated);
      root_bus.add_endpoint(ep);
    }
    root_bus.require_function0();

    int buses = count_buses(rc);
    if (rc.root_bus + buses > kBusesPerSegment)
      issue(rc.loc, "root_ports", "bus numbers exhausted: root complex " + quoted(rc.name) + " needs " +
                                      std::to_string(buses) + " buses from root bus " + std::to_string(rc.root_bus) +
                                      " but a segment has 256");
    // ECAM offset 0 is the root bus (the root complex model decodes bus = root_bus + offset / 1 MiB).
    uint64_t decoded = rc.ecam.size / kMiB;
    if (static_cast<uint64_t>(buses) > decoded)
      issue(rc.loc, "ecam", "ecam decodes " + std::to_string(decoded) + " buses but root complex " + quoted(rc.name) +
                                " needs " + std::to_string(buses) + " (1 MiB of ECAM per bus)");
  }

  // A decoded address window: aligned to `granule`, inside [lo, hi), optionally absent.
  void check_window(const RootComplexSpec& rc, const AddressRange& r, const char* field, uint64_t granule,
                    uint64_t lo, uint64_t hi, bool optional) {
    std::string what = std::string(field) + " " + range_string(r);
    if (r.size == 0) {
      if (!optional) issue(rc.loc, field, std::string(field) + " must have a size greater than 0");
      return;
    }
    if (r.limit() < r.base) issue(rc.loc, field, std::string(field) + " wraps past 2^64");
    if (r.base % granule || r.size % granule)
      issue(rc.loc, field, what + ": base and size must be multiples of " + hex(granule));
    if (r.base < lo) issue(rc.loc, field, what + " must start at or above " + hex(lo));
    if (hi != UINT64_MAX && r.limit() >= hi) issue(rc.loc, field, what + " must end below " + hex(hi));
  }

  void check_port(const DownstreamPortSpec& port, int depth) {
    check_name(port.name, port.loc, "a port");
    if (port.device < 0 || port.device > 31)
      issue(port.loc, "device", "device " + std::to_string(port.device) + " is out of range 0..31");
    if (port.function < 0 || port.function > 7)
      issue(port.loc, "function", "function " + std::to_string(port.function) + " is out of range 0..7");
    if (port.port_number < -1 || port.port_number > 255)
      issue(port.loc, "port_number", "port_number " + std::to_string(port.port_number) + " is out of range 0..255");
    check_link(port.link);
    check_acs(port.acs);
    if (port.child) check_node(*port.child, depth + 1);
  }

  void check_node(const NodeSpec& node, int depth) {
    if (depth > kMaxNesting)
      issue(node.loc(), "", "the hierarchy nests deeper than " + std::to_string(kMaxNesting) + " levels");
    if (const auto* ep = std::get_if<EndpointSpec>(&node.node)) {
      check_endpoint(*ep, EndpointContext::Link);
    } else if (const auto* sw = std::get_if<SwitchSpec>(&node.node)) {
      check_name(sw->name, sw->loc, "a switch");
      if (sw->ports.empty()) issue(sw->loc, "ports", "switch " + quoted(sw->name) + " has no downstream ports");
      BusSlots internal("the internal bus of switch " + quoted(sw->name));
      for (const DownstreamPortSpec& port : sw->ports) {
        check_port(port, depth);
        internal.add_port(port);
      }
      internal.require_function0();
    } else {
      check_pci_bus(std::get<PciBridgeSpec>(node.node), depth);
    }
  }

  // A PCIe-to-PCI bridge or a conventional PCI-to-PCI bridge and the PCI bus behind it.
  void check_pci_bus(const PciBridgeSpec& br, int depth) {
    if (depth > kMaxNesting)
      issue(br.loc, "", "the hierarchy nests deeper than " + std::to_string(kMaxNesting) + " levels");
    check_name(br.name, br.loc, br.conventional ? "a PCI-to-PCI bridge" : "a PCI bridge");
    if (br.conventional && (br.device_number < 0 || br.device_number > 31))
      issue(br.loc, "device", "device " + std::to_string(br.device_number) + " is out of range 0..31");
    BusSlots bus("the PCI bus of bridge " + quoted(br.name));
    for (const EndpointSpec& ep : br.devices) {
      check_endpoint(ep, EndpointContext::Conventional);
      bus.add_endpoint(ep);
    }
    for (const PciBridgeSpec& child : br.bridges) {
      bus.add_bridge(child);
      check_pci_bus(child, depth + 1);
    }
  }

  void check_endpoint(const EndpointSpec& ep, EndpointContext ctx) {
    check_name(ep.name, ep.loc, "an endpoint");
    bool want_pcie = ctx != EndpointContext::Conventional, want_integrated = ctx == EndpointContext::Integrated;
    if (ep.pcie != want_pcie || ep.integrated != want_integrated)
      issue(ep.loc, "", "endpoint " + quoted(ep.name) + " has pcie/integrated flags that do not match its place " +
                            "(below a port: PCIe; integrated: RCiEP; behind a PCI bridge: conventional)");
    if (ctx == EndpointContext::Link) {
      if (ep.device != 0)
        issue(ep.loc, "device", "endpoint " + quoted(ep.name) + " is below a PCIe port, so it must be device 0, not " +
                                    std::to_string(ep.device) + " (a link carries one device; use ARI for more functions)");
    } else if (ep.device < 0 || ep.device > 31) {
      issue(ep.loc, "device", "device " + std::to_string(ep.device) + " is out of range 0..31");
    }
    if (ep.functions.empty()) issue(ep.loc, "functions", "endpoint " + quoted(ep.name) + " has no functions");

    const FunctionSpec* ari_function = nullptr;
    for (const FunctionSpec& fn : ep.functions)
      if (fn.ari) ari_function = &fn;
    if (ari_function && (ctx != EndpointContext::Link || !ep.express))
      issue(ari_function->loc, "ari", "ARI needs a PCIe link: endpoint " + quoted(ep.name) + " is " +
                                          (ctx == EndpointContext::Integrated ? "integrated" : "conventional"));
    std::set<int> numbers;
    for (const FunctionSpec& fn : ep.functions) {
      int max_fn = ari_function ? 255 : 7;
      if (fn.function < 0 || fn.function > max_fn)
        issue(fn.loc, "function", "function " + std::to_string(fn.function) + " is out of range 0.." +
                                      std::to_string(max_fn) + (ari_function ? "" : " (0..255 needs ari: true)"));
      if (ari_function && !fn.ari)
        issue(fn.loc, "ari", "function " + std::to_string(fn.function) + " of ARI endpoint " + quoted(ep.name) +
                                 " lacks ARI (every function of an ARI device implements it)");
      if (!numbers.insert(fn.function).second)
        issue(fn.loc, "function", "duplicate function number " + std::to_string(fn.function) + " in endpoint " +
                                      quoted(ep.name));
      check_function(fn, ctx == EndpointContext::Conventional || !ep.express);
    }
    if (!numbers.count(0))
      issue(ep.loc, "functions", "missing function 0: endpoint " + quoted(ep.name) +
                                     " must implement function 0 (software probes it first)");
  }

  // `conventional`: no PCIe capability (behind a PCI bridge, or a device model that is conventional
  // PCI wherever it sits, EndpointSpec::express).
  void check_function(const FunctionSpec& fn, bool conventional) {
    if (fn.vendor == 0x0000 || fn.vendor == 0xffff)
      issue(fn.loc, "vendor", "vendor " + hex(fn.vendor) + " is reserved (it reads as 'no function')");
    if (fn.class_code > 0xffffff) issue(fn.loc, "class", "class " + hex(fn.class_code) + " exceeds 24 bits");
    if (!(fn.msi_vectors == 0 || (is_pow2(fn.msi_vectors) && fn.msi_vectors <= 32)))
      issue(fn.loc, "msi", "msi " + std::to_string(fn.msi_vectors) + " must be 0 or a power of two up to 32");
    if (fn.msix_vectors < 0 || fn.msix_vectors > 2048)
      issue(fn.loc, "msix", "msix " + std::to_string(fn.msix_vectors) + " is out of range 0..2048");
    if (fn.interrupt_pin < 0 || fn.interrupt_pin > 4)
      issue(fn.loc, "interrupt_pin", "interrupt_pin " + std::to_string(fn.interrupt_pin) + " is out of range 0..4");
    if (conventional) {
      const char* why = " (conventional PCI has no extended capabilities)";
      if (fn.acs.present) issue(fn.acs.loc, "", std::string("ACS on a conventional PCI function") + why);
      if (fn.aer) issue(fn.loc, "aer", std::string("AER on a conventional PCI function") + why);
    }
    check_acs(fn.acs);
    check_bars(fn);
    if (fn.msix_vectors > 0) {
      const BarSpec* first = nullptr;
      for (const BarSpec& bar : fn.bars)
        if (!bar.io && (!first || bar.index < first->index)) first = &bar;
      uint64_t need = uint64_t(fn.msix_vectors) * 16 + (uint64_t(fn.msix_vectors) + 63) / 64 * 8;
      if (!first)
        issue(fn.loc, "msix", "msix needs a memory BAR to hold the MSI-X table and PBA");
      if (first->size < need)
        issue(fn.loc, "msix", "msix " + std::to_string(fn.msix_vectors) + " needs " + std::to_string(need) +
                                  " bytes of table and PBA but BAR " + std::to_string(first->index) + " is " +
                                  std::to_string(first->size) + " bytes");
    }
  }

  void check_bars(const FunctionSpec& fn) {
    unsigned used = 0;  // bit per BAR slot
    const BarSpec* owner[6] = {};
    for (const BarSpec& bar : fn.bars) {
      std::string name = "BAR " + std::to_string(bar.index);
      if (bar.index < 0 || bar.index > 5) issue(bar.loc, "index", "BAR index " + std::to_string(bar.index) + " is out of range 0..5");
      if (bar.io && bar.is_64bit) issue(bar.loc, "type", name + ": I/O BARs are 32-bit");
      if (bar.io && bar.prefetchable) issue(bar.loc, "prefetchable", name + ": I/O BARs cannot be prefetchable");
      if (bar.is_64bit && bar.index == 5)
        issue(bar.loc, "index", "64-bit BAR at index 5 has no slot for its upper half (use index 0..4)");
      if (!is_pow2(bar.size)) issue(bar.loc, "size", name + " size " + hex(bar.size) + " is not a power of two");
      uint64_t min = bar.io ? 4 : 16, max = bar.io ? 0x10000 : bar.is_64bit ? (1ull << 63) : 2 * kGiB;
      if (bar.size < min || bar.size > max)
        issue(bar.loc, "size", name + " size " + hex(bar.size) + " is out of range " + hex(min) + ".." + hex(max));
      unsigned slots = (bar.is_64bit ? 3u : 1u) << bar.index;
      if (unsigned clash = used & slots) {
        const BarSpec* prev = owner[__builtin_ctz(clash)];
        issue(bar.loc, "index", "overlapping BAR slots: " + name +
                                    (bar.is_64bit ? " (64-bit, slots " + std::to_string(bar.index) + " and " +
                                                        std::to_string(bar.index + 1) + ")"
                                                  : std::string()) +
                                    " collides with " + (prev->is_64bit ? "64-bit " : "") + "BAR " +
                                    std::to_string(prev->index) + first_at(prev->loc));
      }
      used |= slots;
      owner[bar.index] = &bar;
      if (bar.is_64bit) owner[bar.index + 1] = &bar;
    }
  }

  void check_link(const LinkSpec& link) {
    if (link.gen < 1 || link.gen > 6) issue(link.loc, "gen", "gen " + std::to_string(link.gen) + " is out of range 1..6");
    static const std::set<int> widths{1, 2, 4, 8, 12, 16, 32};
    if (!widths.count(link.width))
      issue(link.loc, "width", "width " + std::to_string(link.width) + " is not one of 1, 2, 4, 8, 12, 16, 32");
    auto payload_ok = [](int v) { return v >= 128 && v <= 4096 && is_pow2(v); };
    if (!payload_ok(link.mps))
      issue(link.loc, "mps", "mps " + std::to_string(link.mps) + " must be a power of two in 128..4096");
    if (!payload_ok(link.mrrs))
      issue(link.loc, "mrrs", "mrrs " + std::to_string(link.mrrs) + " must be a power of two in 128..4096");
    if (link.rcb != 64 && link.rcb != 128) issue(link.loc, "rcb", "rcb " + std::to_string(link.rcb) + " must be 64 or 128");
  }

  void check_acs(const AcsSpec& acs) {
    if (!acs.present) return;
    if (acs.capability & ~kAcsAllBits)
      issue(acs.loc, "capability", "unknown ACS capability bits " + hex(acs.capability & ~kAcsAllBits) +
                                       " (only SV TB RR CR UF EC DT, bits 0-6)");
    if (uint16_t extra = acs.control & ~acs.capability)
      issue(acs.loc, "control", "ACS control bit(s) " + acs_bits_to_string(extra) +
                                    " set but the capability lacks them (capability: " +
                                    acs_bits_to_string(acs.capability) + ")");
    if (acs.egress_vector_bits > 256)
      issue(acs.loc, "egress_vector_bits", "egress_vector_bits " + std::to_string(acs.egress_vector_bits) +
                                               " is out of range 0..256");
    bool ec = acs.capability & kAcsEgressControl;
    if (ec && acs.egress_vector_bits == 0)
      issue(acs.loc, "egress_vector_bits", "ACS capability EC needs egress_vector_bits (1..256)");
    if (!ec && acs.egress_vector_bits != 0)
      issue(acs.loc, "egress_vector_bits", "egress_vector_bits given but the ACS capability lacks EC");
    if (acs.egress_vector_bits < 32 && (acs.egress_vector >> acs.egress_vector_bits))
      issue(acs.loc, "egress_vector", "egress_vector " + hex(acs.egress_vector) + " has bits beyond egress_vector_bits " +
                                          std::to_string(acs.egress_vector_bits));
  }

  struct Region {
    const RootComplexSpec* rc;  // null for DRAM
    const char* field;
    AddressRange range;
  };

  // Every ECAM/MMIO range in memory space is disjoint from every other (across and within root
  // complexes), I/O windows likewise; DRAM may sit under the 32-bit hole only.
  void check_overlaps() {
    std::vector<Region> mem, io;
    for (const RootComplexSpec& rc : m_spec.root_complexes) {
      for (auto [field, r] : {std::pair{"ecam", rc.ecam}, {"mmio32", rc.mmio32}, {"mmio64", rc.mmio64}})
        if (r.size) mem.push_back({&rc, field, r});
      if (rc.io.size) io.push_back({&rc, "io", rc.io});
    }
    const AddressRange& dram = m_spec.memory.range;
    for (const Region& r : mem) {
      uint64_t lo = std::max(r.range.base, dram.base), hi = std::min(r.range.limit(), dram.limit());
      if (lo <= hi && hi >= k4GiB)
        issue(r.rc->loc, r.field, "address ranges overlap: " + r.rc->name + " " + r.field + " " + range_string(r.range) +
                                      " overlaps memory " + range_string(dram) +
                                      " above 4 GiB (only the 32-bit PCI hole may shadow DRAM)");
    }
    sweep(mem);
    sweep(io);
  }

  static void sweep(std::vector<Region>& regions) {
    std::sort(regions.begin(), regions.end(),
              [](const Region& a, const Region& b) { return a.range.base < b.range.base; });
    const Region* reach = nullptr;  // the region reaching furthest so far
    for (const Region& r : regions) {
      if (reach && r.range.base <= reach->range.limit()) {
        // Blame the one declared later in the file.
        const Region& late = r.rc >= reach->rc ? r : *reach;
        const Region& early = &late == &r ? *reach : r;
        issue(late.rc->loc, late.field, "address ranges overlap: " + late.rc->name + " " + late.field + " " +
                                            range_string(late.range) + " overlaps " + early.rc->name + " " +
                                            early.field + " " + range_string(early.range) +
                                            (early.rc == late.rc ? std::string() : first_at(early.rc->loc)));
      }
      if (!reach || r.range.limit() > reach->range.limit()) reach = &r;
    }
  }

  const TopologySpec& m_spec;
  std::unordered_map<std::string, SourceLoc> m_names;
  std::unordered_map<int, const RootComplexSpec*> m_segments;
};

// The bus behind a PCI bridge and one more per PCI-to-PCI bridge below it, at any depth.
int count_pci_buses(const PciBridgeSpec& br) {
  int n = 1;
  for (const PciBridgeSpec& child : br.bridges) n += count_pci_buses(child);
  return n;
}

int count_node_buses(const NodeSpec& node) {
  if (const auto* sw = std::get_if<SwitchSpec>(&node.node)) {
    int n = 1;  // internal bus
    for (const DownstreamPortSpec& p : sw->ports) n += 1 + (p.child ? count_node_buses(*p.child) : 0);
    return n;
  }
  if (const auto* br = std::get_if<PciBridgeSpec>(&node.node)) return count_pci_buses(*br);
  return 0;
}

// --- resource estimate ---

struct Need {
  uint64_t size, align;
};
struct Needs {
  std::vector<Need> mem, pref, io;  // 32-bit non-prefetchable, 64-bit prefetchable, I/O
};

uint64_t round_up(uint64_t v, uint64_t granule) { return (v + granule - 1) / granule * granule; }

uint64_t pack(std::vector<Need> items) {
  std::sort(items.begin(), items.end(), [](const Need& a, const Need& b) { return a.align > b.align; });
  uint64_t end = 0;
  for (const Need& n : items) end = round_up(end, n.align) + n.size;
  return end;
}

void add_window(std::vector<Need>& out, const std::vector<Need>& inside, uint64_t granule) {
  if (inside.empty()) return;
  uint64_t align = granule;
  for (const Need& n : inside) align = std::max(align, n.align);
  out.push_back({round_up(pack(inside), granule), align});
}

// What a bridge with `inside` behind it asks of its parent: one window per type.
Needs bridge_windows(const Needs& inside) {
  Needs out;
  add_window(out.mem, inside.mem, kMiB);
  add_window(out.pref, inside.pref, kMiB);
  add_window(out.io, inside.io, 4096);
  return out;
}

void add_bars(const EndpointSpec& ep, Needs& out) {
  for (const FunctionSpec& fn : ep.functions)
    for (const BarSpec& bar : fn.bars) {
      if (bar.io) {
        out.io.push_back({bar.size, bar.size});
      } else {
        uint64_t size = std::max<uint64_t>(bar.size, 4096);
        (bar.is_64bit && bar.prefetchable ? out.pref : out.mem).push_back({size, size});
      }
    }
}

void append(Needs& to, const Needs& from) {
  to.mem.insert(to.mem.end(), from.mem.begin(), from.mem.end());
  to.pref.insert(to.pref.end(), from.pref.begin(), from.pref.end());
  to.io.insert(to.io.end(), from.io.begin(), from.io.end());
}

Needs port_needs(const DownstreamPortSpec& port);

// What the devices on a PCI bus need; each PCI-to-PCI bridge on it adds its own windows.
Needs pci_bus_needs(const PciBridgeSpec& br) {
  Needs inside;
  for (const EndpointSpec& ep : br.devices) add_bars(ep, inside);
  for (const PciBridgeSpec& child : br.bridges) append(inside, bridge_windows(pci_bus_needs(child)));
  return inside;
}

Needs node_needs(const NodeSpec& node) {
  Needs inside;
  if (const auto* ep = std::get_if<EndpointSpec>(&node.node)) {
    add_bars(*ep, inside);
    return inside;
  }
  if (const auto* sw = std::get_if<SwitchSpec>(&node.node)) {
    for (const DownstreamPortSpec& p : sw->ports) append(inside, port_needs(p));
  } else {
    inside = pci_bus_needs(std::get<PciBridgeSpec>(node.node));
  }
  return bridge_windows(inside);  // the switch upstream port or the PCI bridge
}

Needs port_needs(const DownstreamPortSpec& port) {
  return port.child ? bridge_windows(node_needs(*port.child)) : Needs{};
}

}  // namespace

std::optional<uint16_t> acs_bit_from_name(std::string_view name) {
  for (int i = 0; i < kAcsBitCount; ++i)
    if (name == kAcsBitNames[i]) return static_cast<uint16_t>(1u << i);
  return std::nullopt;
}

std::string acs_bits_to_string(uint16_t bits) {
  std::string s;
  for (int i = 0; i < 16; ++i)
    if (bits & (1u << i)) {
      if (!s.empty()) s += ' ';
      s += i < kAcsBitCount ? kAcsBitNames[i] : "bit" + std::to_string(i);
    }
  return s.empty() ? "none" : s;
}

std::optional<ValidationIssue> find_first_issue(const TopologySpec& spec) {
  try {
    Validator(spec).run();
  } catch (const ValidationIssue& found) {
    return found;
  }
  return std::nullopt;
}

void validate_topology(const TopologySpec& spec) {
  if (auto found = find_first_issue(spec)) throw TopologyError(found->loc, found->message);
}

int count_buses(const RootComplexSpec& rc) {
  int n = 1;  // the root bus
  for (const DownstreamPortSpec& p : rc.root_ports) n += 1 + (p.child ? count_node_buses(*p.child) : 0);
  return n;
}

ResourceEstimate estimate_resources(const RootComplexSpec& rc) {
  Needs top;
  for (const DownstreamPortSpec& p : rc.root_ports) append(top, port_needs(p));
  for (const EndpointSpec& ep : rc.integrated) add_bars(ep, top);
  return {pack(top.mem), pack(top.pref), pack(top.io)};
}

}  // namespace pciesim::topo
