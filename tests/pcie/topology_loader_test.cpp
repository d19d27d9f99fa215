// The topology file format: the shipped topologies load, `count` expands as documented, and
// every class of bad input is a TopologyError naming file:line:col and the problem.
#include "pcie/topology/yaml_loader.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "pcie/topology/template_expr.h"
#include "pcie/topology/validate.h"

using namespace pciesim::topo;

namespace {

std::string source_dir() {
  const char* dir = std::getenv("PCIESIM_SOURCE_DIR");
  return dir ? dir : ".";
}
std::string shipped(const std::string& name) { return source_dir() + "/scenarios/topologies/" + name; }
std::string fixture(const std::string& name) { return source_dir() + "/tests/pcie/data/" + name; }

// The error message for `yaml`, loaded as "t.yaml"; "" (and a test failure) when it loads.
std::string error_of(const std::string& yaml) {
  try {
    load_topology_string(yaml, "t.yaml");
  } catch (const TopologyError& e) {
    return e.what();
  }
  ADD_FAILURE() << "loaded without error:\n" << yaml;
  return "";
}

#define EXPECT_TOPOLOGY_ERROR(yaml, where, keyword)          \
  do {                                                       \
    std::string msg_ = error_of(yaml);                       \
    EXPECT_EQ(msg_.rfind(where, 0), 0u) << msg_;             \
    EXPECT_NE(msg_.find(keyword), std::string::npos) << msg_; \
  } while (0)

// A minimal valid file: a root port with one single-function endpoint. Line numbers below are
// what the error tests refer to.
const char* kHead = R"(name: t
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
)";  // lines 1-5; tests append from line 6

std::string with(const std::string& tail) { return kHead + tail; }

const char* kEndpoint = R"(        below:
          endpoint:
            name: ep0
            functions:
              - {function: 0, vendor: 0x8086, device: 0x1234}
)";  // lines 6-10

}  // namespace

// --- shipped topologies ---

TEST(TopologyLoader, TwoLevelSwitchLoads) {
  TopologySpec spec = load_topology_file(shipped("two-level-switch.yaml"));
  EXPECT_EQ(spec.name, "two-level-switch");
  ASSERT_EQ(spec.root_complexes.size(), 1u);
  const RootComplexSpec& rc = spec.root_complexes[0];
  EXPECT_EQ(rc.root_ports.size(), 2u);
  ASSERT_EQ(rc.integrated.size(), 1u);
  EXPECT_TRUE(rc.integrated[0].integrated);
  EXPECT_EQ(rc.integrated[0].device, 4);

  const DownstreamPortSpec& rp0 = rc.root_ports[0];
  EXPECT_EQ(rp0.device, 1);
  EXPECT_EQ(rp0.link.gen, 4);
  EXPECT_EQ(rp0.link.width, 16);
  EXPECT_EQ(rp0.link.mrrs, 512);
  EXPECT_TRUE(rp0.acs.present);
  EXPECT_EQ(rp0.acs.capability, 0b1011111);  // SV TB RR CR UF DT
  EXPECT_EQ(rp0.acs.control, 0b0011101);     // SV RR CR UF
  const auto& sw0 = std::get<SwitchSpec>(rp0.child->node);
  EXPECT_EQ(sw0.vendor, 0x1000);
  ASSERT_EQ(sw0.ports.size(), 3u);
  EXPECT_EQ(sw0.ports[2].acs.egress_vector_bits, 8u);
  EXPECT_EQ(sw0.ports[2].acs.control & kAcsEgressControl, kAcsEgressControl);
  EXPECT_EQ(sw0.ports[0].vendor, 0x1000);  // downstream ports inherit the switch's ids
  const auto& sw1 = std::get<SwitchSpec>(sw0.ports[0].child->node);
  ASSERT_EQ(sw1.ports.size(), 4u);
  EXPECT_FALSE(sw1.ports[0].acs.present);
  EXPECT_EQ(sw1.ports[1].acs.control, 0);
  EXPECT_EQ(sw1.ports[2].device, 10);
  EXPECT_FALSE(sw1.ports[3].child);
  const auto& gpu = std::get<EndpointSpec>(sw1.ports[2].child->node);
  ASSERT_EQ(gpu.functions[0].bars.size(), 3u);
  EXPECT_EQ(gpu.functions[0].bars[1].size, 256ull << 20);
  EXPECT_TRUE(gpu.functions[0].bars[1].is_64bit && gpu.functions[0].bars[1].prefetchable);
  const auto& nic0 = std::get<EndpointSpec>(sw0.ports[1].child->node);
  ASSERT_EQ(nic0.functions.size(), 2u);
  EXPECT_EQ(nic0.functions[1].function, 1);
  EXPECT_EQ(nic0.functions[1].msix_vectors, 129);
  EXPECT_EQ(count_buses(rc), 1 + 2 + 1 + 3 + 1 + 4);
}

TEST(TopologyLoader, PciBridgeLoads) {
  TopologySpec spec = load_topology_file(shipped("pci-bridge.yaml"));
  const RootComplexSpec& rc = spec.root_complexes[0];
  ASSERT_EQ(rc.root_ports.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(rc.root_ports[i].name, "rp" + std::to_string(i));
    EXPECT_EQ(rc.root_ports[i].device, 2);
    EXPECT_EQ(rc.root_ports[i].function, i);
    EXPECT_EQ(rc.root_ports[i].port_number, 16 + i);
  }
  const auto& br = std::get<PciBridgeSpec>(rc.root_ports[4].child->node);
  EXPECT_EQ(br.vendor, 0x1b36);
  EXPECT_EQ(br.device, 0x000e);
  ASSERT_EQ(br.devices.size(), 2u);
  EXPECT_FALSE(br.devices[0].pcie);
  EXPECT_EQ(br.devices[0].device, 1);
  EXPECT_EQ(br.devices[0].functions[0].vendor, 0x1234);
  EXPECT_EQ(br.devices[0].functions[0].device, 0x11e8);
  EXPECT_EQ(br.devices[0].functions[0].msi_vectors, 1);
  EXPECT_FALSE(br.devices[0].functions[0].flr);  // no PCIe capability, no DEVCAP.FLR
  EXPECT_EQ(br.devices[1].device, 2);
  EXPECT_TRUE(br.devices[1].functions[0].bars[1].io);
  EXPECT_EQ(br.devices[1].functions[0].interrupt_pin, 1);
  // Depth-first bus numbers: root ports 1..5, the bridge's secondary bus 6.
  EXPECT_EQ(count_buses(rc), 1 + 5 + 1);
}

TEST(TopologyLoader, MultifunctionLoads) {
  TopologySpec spec = load_topology_file(shipped("multifunction-no-acs.yaml"));
  const RootComplexSpec& rc = spec.root_complexes[0];
  const auto& mf0 = std::get<EndpointSpec>(rc.root_ports[0].child->node);
  const auto& mf1 = std::get<EndpointSpec>(rc.root_ports[1].child->node);
  ASSERT_EQ(mf0.functions.size(), 4u);
  ASSERT_EQ(mf1.functions.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(mf0.functions[i].function, i);
    EXPECT_EQ(mf0.functions[i].interrupt_pin, i + 1);
    EXPECT_FALSE(mf0.functions[i].acs.present);
    EXPECT_TRUE(mf1.functions[i].acs.present);
    EXPECT_EQ(mf1.functions[i].acs.control, 0b1100);  // RR CR
  }
  EXPECT_EQ(rc.segment, 0);  // segments count from 0 when omitted
}

TEST(TopologyLoader, Generated10kLoads) {
  TopologySpec spec = load_topology_file(shipped("generated-10k.yaml"));
  ASSERT_EQ(spec.root_complexes.size(), 6u);
  size_t functions = 0;
  for (size_t s = 0; s < spec.root_complexes.size(); ++s) {
    const RootComplexSpec& rc = spec.root_complexes[s];
    EXPECT_EQ(rc.segment, static_cast<int>(s));
    EXPECT_EQ(rc.name, "rc" + std::to_string(s));
    EXPECT_EQ(rc.ecam.base, (2ull << 30) + s * (256ull << 20));
    EXPECT_LE(count_buses(rc), kBusesPerSegment);
    EXPECT_EQ(count_buses(rc), 239);
    ResourceEstimate need = estimate_resources(rc);
    EXPECT_EQ(need.mmio64, 7 * (32ull << 20));
    EXPECT_LE(need.mmio64, rc.mmio64.size);
    EXPECT_EQ(need.mmio32, 0u);
    for (const DownstreamPortSpec& rp : rc.root_ports)
      for (const DownstreamPortSpec& dp : std::get<SwitchSpec>(rp.child->node).ports)
        functions += std::get<EndpointSpec>(dp.child->node).functions.size();
  }
  EXPECT_GE(functions, 10000u);
  EXPECT_EQ(functions, 10752u);
  const auto& sw = std::get<SwitchSpec>(spec.root_complexes[5].root_ports[6].child->node);
  EXPECT_EQ(sw.name, "s5-sw6");
  EXPECT_EQ(sw.ports[31].name, "s5-sw6-dp31");
  EXPECT_EQ(sw.ports[31].device, 31);
  EXPECT_EQ(std::get<EndpointSpec>(sw.ports[31].child->node).name, "s5-ep6-31");
}

TEST(TopologyLoader, ShippedTopologiesFitTheirWindows) {
  for (const char* name : {"two-level-switch.yaml", "pci-bridge.yaml", "multifunction-no-acs.yaml"}) {
    TopologySpec spec = load_topology_file(shipped(name));
    for (const RootComplexSpec& rc : spec.root_complexes) {
      ResourceEstimate need = estimate_resources(rc);
      EXPECT_LE(need.mmio32, rc.mmio32.size) << name;
      EXPECT_LE(need.mmio64, rc.mmio64.size) << name;
      EXPECT_LE(need.io, rc.io.size) << name;
    }
  }
}

TEST(TopologyLoader, SourceLocationsAreOneBased) {
  TopologySpec spec = load_topology_string(with(kEndpoint), "t.yaml");
  const RootComplexSpec& rc = spec.root_complexes[0];
  EXPECT_EQ(rc.loc.to_string(), "t.yaml:3:5");
  EXPECT_EQ(rc.root_ports[0].loc.to_string(), "t.yaml:5:9");
  EXPECT_EQ(rc.root_ports[0].child->loc().line, 8);
  EXPECT_EQ(std::get<EndpointSpec>(rc.root_ports[0].child->node).functions[0].loc.to_string(), "t.yaml:10:17");
  EXPECT_EQ(spec.file, "t.yaml");
  EXPECT_EQ(rc.root_ports[0].device, 1);  // root ports number from 1 when not given
}

TEST(TopologyLoader, FixtureFileLoadsWithDefaults) {
  TopologySpec spec = load_topology_file(fixture("topology-minimal.yaml"));
  const RootComplexSpec& rc = spec.root_complexes[0];
  EXPECT_EQ(rc.ecam.base, 0xe0000000u);
  EXPECT_EQ(rc.root_ports[0].link.gen, 3);
  const auto& ep = std::get<EndpointSpec>(rc.root_ports[0].child->node);
  EXPECT_EQ(ep.model, "edu");
  EXPECT_EQ(ep.params.at("dma_mask"), "0xfffffff");
  EXPECT_EQ(ep.functions[0].class_code, 0x00ff00u);  // edu's own (the model fills the entry)
  EXPECT_EQ(spec.memory.range.size, 1ull << 30);
}

TEST(TopologyLoader, SuggestedShapeLoads) {
  TopologySpec spec = load_topology_file(fixture("topology-suggested-shape.yaml"));
  const RootComplexSpec& rc = spec.root_complexes[0];
  EXPECT_EQ(spec.memory.range.size, 4ull << 30);  // DRAM under the 32-bit hole is allowed
  EXPECT_EQ(rc.root_ports[0].acs.capability, kAcsAllBits);
  EXPECT_EQ(rc.root_ports[0].acs.egress_vector_bits, 8u);
  const auto& sw = std::get<SwitchSpec>(rc.root_ports[0].child->node);
  EXPECT_EQ(sw.ports[0].acs.capability, kAcsAllBits & ~kAcsEgressControl);  // all: EC only with a vector
  EXPECT_EQ(sw.ports[0].acs.control, 0);
  EXPECT_EQ(rc.integrated[0].name, "rciep0");
  EXPECT_EQ(rc.integrated[0].functions[0].function, 0);
}

TEST(TopologyLoader, DocumentedExampleLoads) {
  // docs/topology-format.md's annotated example (its first yaml block) must stay valid.
  std::ifstream in(source_dir() + "/docs/topology-format.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t begin = doc.find("```yaml\n");
  ASSERT_NE(begin, std::string::npos);
  begin += 8;
  std::string yaml = doc.substr(begin, doc.find("```", begin) - begin);
  TopologySpec spec = load_topology_string(yaml, "topology-format.md");
  const auto& sw = std::get<SwitchSpec>(spec.root_complexes[0].root_ports[0].child->node);
  ASSERT_EQ(sw.ports.size(), 4u);
  EXPECT_EQ(std::get<EndpointSpec>(sw.ports[3].child->node).name, "nvme3");
  EXPECT_EQ(sw.ports[3].device, 3);
}

// --- count and templates ---

TEST(TopologyCount, NestedVariablesAndAutoNumbers) {
  TopologySpec spec = load_topology_string(R"(name: t
root_complexes:
  - count: 2
    var: s
    name: "rc{s}"
    ecam: {base: "{0xe0000000 + s * 16MiB}", size: 16MiB}
    mmio32: {base: "{0xc0000000 + s * 256MiB}", size: 256MiB}
    mmio64: {base: "{(s + 1) << 40}", size: 1TiB}
    io: none
    root_ports:
      - count: 3
        name: "rc{s}-rp{i:02x}"
        below:
          switch:
            name: "sw{s}-{i}"
            ports:
              - {count: 2, var: d, name: "sw{s}-{i}-dp{d}"}
)",
                                           "t.yaml");
  ASSERT_EQ(spec.root_complexes.size(), 2u);
  EXPECT_EQ(spec.root_complexes[1].segment, 1);  // segments count up
  EXPECT_EQ(spec.root_complexes[1].mmio64.base, 2ull << 40);
  const auto& rps = spec.root_complexes[1].root_ports;
  ASSERT_EQ(rps.size(), 3u);
  EXPECT_EQ(rps[2].name, "rc1-rp02");
  EXPECT_EQ(rps[2].device, 3);  // 1, 2, 3
  const auto& sw = std::get<SwitchSpec>(rps[2].child->node);
  EXPECT_EQ(sw.name, "sw1-2");
  EXPECT_EQ(sw.ports[1].name, "sw1-2-dp1");
  EXPECT_EQ(sw.ports[1].device, 1);  // 0, 1
}

TEST(TopologyCount, ZeroDropsTheItem) {
  TopologySpec spec = load_topology_string(with(kEndpoint) + "      - {count: 0, name: unused}\n", "t.yaml");
  EXPECT_EQ(spec.root_complexes[0].root_ports.size(), 1u);
}

TEST(TopologyCount, ExpressionLanguage) {
  TemplateScope scope;
  scope.push("i", 5);
  scope.push("j", 3);
  EXPECT_EQ(evaluate_expression("i * 2 + j", scope), 13);
  EXPECT_EQ(evaluate_expression("(i + 1) % 4", scope), 2);
  EXPECT_EQ(evaluate_expression("1 << 4 + 1", scope), 32);  // C precedence
  EXPECT_EQ(evaluate_expression("2 MiB * i", scope), 10 << 20);
  EXPECT_EQ(evaluate_expression("-j + 0x10", scope), 13);
  EXPECT_EQ(expand_template("dev{i:03d}-{j:x}{{x}}", scope), "dev005-3{x}");
  EXPECT_EQ(expand_template("{i * 51:02X}", scope), "FF");
  EXPECT_THROW(evaluate_expression("k", scope), TemplateError);
  EXPECT_THROW(evaluate_expression("i / 0", scope), TemplateError);
  EXPECT_THROW(evaluate_expression("0x7fffffffffffffff * 2", scope), TemplateError);
  EXPECT_THROW(evaluate_expression("((((((((((((((((((1))))))))))))))))))", scope), TemplateError);
  EXPECT_THROW(expand_template("a{i", scope), TemplateError);
  EXPECT_EQ(parse_unsigned("0x1_0000"), 0x10000u);
  EXPECT_EQ(parse_unsigned("4 GiB"), 4ull << 30);
  EXPECT_EQ(parse_unsigned("0b101"), 5u);
  EXPECT_FALSE(parse_unsigned("16EiB"));
  EXPECT_FALSE(parse_unsigned("20000000TiB"));
  EXPECT_FALSE(parse_unsigned("12abc"));
}

// --- errors: syntax, keys, types ---

TEST(TopologyErrors, YamlSyntaxError) {
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - name: rc0\n    ecam: {base: 1, size: 2\n  - x\n",
                        "t.yaml:6:1", "YAML syntax error: end of map flow not found");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - name: rc0\n    ecam: {base: 1, size: 2}}\n",
                        "t.yaml:4:29", "YAML syntax error: illegal flow end");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes: [\n", "t.yaml:3:", "YAML syntax error");
}

TEST(TopologyErrors, UnknownKeyListsAllowed) {
  std::string msg = error_of(with("        speed: 16\n"));
  EXPECT_EQ(msg.rfind("t.yaml:6:9: port: unknown key 'speed' (allowed: name, device,", 0), 0u) << msg;
  EXPECT_TOPOLOGY_ERROR(with(kEndpoint) + "    colour: blue\n", "t.yaml:11:5", "unknown key 'colour'");
  EXPECT_TOPOLOGY_ERROR("name: t\nversion: 2\nroot_complexes: []\n", "t.yaml:2:1", "unknown key 'version'");
  EXPECT_TOPOLOGY_ERROR(with("        <<: {device: 3}\n"), "t.yaml:6:9", "merge keys");
}

TEST(TopologyErrors, DuplicateKey) {
  EXPECT_TOPOLOGY_ERROR(with("        device: 1\n        device: 2\n"), "t.yaml:7:9", "duplicate key 'device'");
}

TEST(TopologyErrors, WrongTypes) {
  EXPECT_TOPOLOGY_ERROR(with("        link: {gen: four}\n"), "t.yaml:6:21", "gen: expected a non-negative integer");
  EXPECT_TOPOLOGY_ERROR(with("        link: [4, 16]\n"), "t.yaml:6:15", "link: expected a mapping");
  EXPECT_TOPOLOGY_ERROR(with("        slot: maybe\n"), "t.yaml:6:15", "expected true or false");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes: {rc0: 1}\n", "t.yaml:2:17", "expected a list");
  EXPECT_TOPOLOGY_ERROR("name: [t]\nroot_complexes: []\n", "t.yaml:1:7", "expected a string");
  EXPECT_TOPOLOGY_ERROR(with("        device: -1\n"), "t.yaml:6:17", "non-negative integer");
  EXPECT_TOPOLOGY_ERROR(with("        vendor: 0x12345\n"), "t.yaml:6:17", "out of range");
  EXPECT_TOPOLOGY_ERROR(with("        device: {i}\n"), "t.yaml:6:17", "quote the expression");
  EXPECT_TOPOLOGY_ERROR("- a\n- b\n", "t.yaml:1:1", "topology: expected a mapping");
}

TEST(TopologyErrors, TemplateProblems) {
  EXPECT_TOPOLOGY_ERROR(with("        device: \"{i}\"\n"), "t.yaml:6:17", "unknown variable 'i' (no enclosing count)");
  EXPECT_TOPOLOGY_ERROR(with("      - name: \"rp{j}\"\n"), "t.yaml:6:15", "unknown variable 'j'");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - {count: 2, var: 9x, name: rc}\n", "t.yaml:3:21",
                        "not a variable name");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - {var: s, name: rc}\n", "t.yaml:3:11", "together with count");
  EXPECT_TOPOLOGY_ERROR(with("        device: \"{1 - 2}\"\n"), "t.yaml:6:17", "negative");
}

// --- errors: missing and out-of-range values ---

TEST(TopologyErrors, MissingRequired) {
  EXPECT_TOPOLOGY_ERROR("name: t\n", "t.yaml:1:1", "missing required key 'root_complexes'");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - segment: 0\n", "t.yaml:3:5", "missing required key 'name'");
  EXPECT_TOPOLOGY_ERROR(with("        below:\n          endpoint: {name: ep0}\n"), "t.yaml:7:21",
                        "missing required key 'functions'");
  EXPECT_TOPOLOGY_ERROR(with("        below:\n          endpoint: {name: ep0, functions: [{bars: [{index: 0}]}]}\n"),
                        "t.yaml:7:53", "BAR: missing required key 'size'");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - name: rc0\n    integrated:\n      - {name: x, functions: [{}]}\n",
                        "t.yaml:5:9", "missing required key 'device'");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes: []\n", "t.yaml:2:1", "at least one root complex");
  EXPECT_TOPOLOGY_ERROR(with("        below: {}\n"), "t.yaml:6:16", "exactly one of endpoint, switch, pci_bridge");
}

TEST(TopologyErrors, LinkOutOfRange) {
  EXPECT_TOPOLOGY_ERROR(with("        link: {gen: 7}\n"), "t.yaml:6:16", "gen 7 is out of range 1..6");
  EXPECT_TOPOLOGY_ERROR(with("        link:\n          gen: 4\n          width: 3\n"), "t.yaml:8:11",
                        "width 3 is not one of");
  EXPECT_TOPOLOGY_ERROR(with("        link: {mps: 384}\n"), "t.yaml:6:16", "mps 384 must be a power of two");
  EXPECT_TOPOLOGY_ERROR(with("        link: {mrrs: 8KiB}\n"), "t.yaml:6:16", "mrrs 8192");
  EXPECT_TOPOLOGY_ERROR(with("        link: {mps: 64}\n"), "t.yaml:6:16", "128..4096");
  EXPECT_TOPOLOGY_ERROR(with("        link: {rcb: 32}\n"), "t.yaml:6:16", "rcb 32 must be 64 or 128");
}

TEST(TopologyErrors, DeviceAndFunctionOutOfRange) {
  EXPECT_TOPOLOGY_ERROR(with("        device: 32\n"), "t.yaml:6:9", "device 32 is out of range 0..31");
  EXPECT_TOPOLOGY_ERROR(with("        function: 8\n"), "t.yaml:6:9", "function 8 is out of range 0..7");
  std::string ep = R"(        below:
          endpoint:
            name: ep0
            functions: [{function: 0}, {function: 8}]
)";
  EXPECT_TOPOLOGY_ERROR(with(ep), "t.yaml:9:41", "0..255 needs ari");
  std::string ari = R"(        below:
          endpoint:
            name: ep0
            ari: true
            functions: [{function: 0}, {function: 255}, {function: 256}]
)";
  EXPECT_TOPOLOGY_ERROR(with(ari), "t.yaml:10:58", "function 256 is out of range 0..255");
  std::string mixed = R"(        below:
          endpoint:
            name: ep0
            functions: [{function: 0, ari: true}, {function: 9}]
)";
  EXPECT_TOPOLOGY_ERROR(with(mixed), "t.yaml:9:51", "lacks ARI");
}

TEST(TopologyErrors, AriOutsideALink) {
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - name: rc0\n    integrated:\n"
                        "      - {name: x, device: 3, ari: true, functions: [{}]}\n",
                        "t.yaml:5:53", "ARI needs a PCIe link");
}

TEST(TopologyErrors, BarRules) {
  auto bars = [](const std::string& list) {
    return with("        below:\n          endpoint:\n            name: ep0\n            functions:\n"
                "              - bars: " + list + "\n");
  };  // the BAR list is on line 10, from column 23
  EXPECT_TOPOLOGY_ERROR(bars("[{index: 6, size: 4KiB}]"), "t.yaml:10:25", "BAR index 6 is out of range 0..5");
  EXPECT_TOPOLOGY_ERROR(bars("[{index: 0, size: 3000}]"), "t.yaml:10:35", "not a power of two");
  EXPECT_TOPOLOGY_ERROR(bars("[{index: 0, size: 8}]"), "t.yaml:10:35", "out of range");
  EXPECT_TOPOLOGY_ERROR(bars("[{index: 0, size: 4GiB}]"), "t.yaml:10:35", "out of range");  // 32-bit BAR
  EXPECT_TOPOLOGY_ERROR(bars("[{index: 5, size: 4KiB, type: mem64}]"), "t.yaml:10:25",
                        "64-bit BAR at index 5");
  EXPECT_TOPOLOGY_ERROR(bars("[{index: 0, size: 4KiB, type: mem64}, {index: 1, size: 4KiB}]"), "t.yaml:10:62",
                        "overlapping BAR slots: BAR 1 collides with 64-bit BAR 0");
  EXPECT_TOPOLOGY_ERROR(bars("[{size: 4KiB, type: mem64}, {index: 1, size: 4KiB}]"), "t.yaml:10:52",
                        "overlapping BAR slots");
  EXPECT_TOPOLOGY_ERROR(bars("[{index: 0, size: 16, type: io, prefetchable: true}]"), "t.yaml:10:55",
                        "cannot be prefetchable");
  EXPECT_TOPOLOGY_ERROR(bars("[{index: 0, size: 4KiB, type: mem128}]"), "t.yaml:10:53",
                        "expected mem32, mem64 or io");
  // Automatic indices follow the previous BAR (a 64-bit BAR takes two slots).
  TopologySpec spec = load_topology_string(bars("[{size: 4KiB, type: mem64}, {size: 4KiB}, {size: 4KiB}]"), "t.yaml");
  const auto& fn = std::get<EndpointSpec>(spec.root_complexes[0].root_ports[0].child->node).functions[0];
  EXPECT_EQ(fn.bars[1].index, 2);
  EXPECT_EQ(fn.bars[2].index, 3);
}

TEST(TopologyErrors, MsixNeedsAMemoryBar) {
  std::string ep = R"(        below:
          endpoint:
            name: ep0
            functions:
              - msix: 4
                bars: [{index: 0, size: 32, type: io}]
)";
  EXPECT_TOPOLOGY_ERROR(with(ep), "t.yaml:10:17", "msix needs a memory BAR");
}

TEST(TopologyErrors, OtherFunctionFields) {
  auto fn = [](const std::string& body) {
    return with("        below:\n          endpoint:\n            name: ep0\n            functions:\n"
                "              - {" + body + "}\n");
  };
  EXPECT_TOPOLOGY_ERROR(fn("vendor: 0xffff"), "t.yaml:10:18", "reserved");
  EXPECT_TOPOLOGY_ERROR(fn("msi: 3"), "t.yaml:10:18", "power of two up to 32");
  EXPECT_TOPOLOGY_ERROR(fn("class: 0x1000000"), "t.yaml:10:18", "exceeds 24 bits");
  EXPECT_TOPOLOGY_ERROR(fn("interrupt_pin: INTE"), "t.yaml:10:33", "interrupt_pin");
}

// --- errors: structure ---

TEST(TopologyErrors, DuplicateNames) {
  std::string yaml = with(kEndpoint) + "      - name: ep0\n";
  EXPECT_TOPOLOGY_ERROR(yaml, "t.yaml:11:9", "duplicate name 'ep0' (first at t.yaml:8:13)");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - {name: rc0}\n  - {name: rc0, segment: 1}\n", "t.yaml:4:6",
                        "duplicate name 'rc0'");
  // Generated names must differ too.
  EXPECT_TOPOLOGY_ERROR(with("      - {count: 2, name: spare}\n"), "t.yaml:6:20", "duplicate name 'spare'");
}

TEST(TopologyErrors, DuplicateDeviceNumbersOnOneBus) {
  EXPECT_TOPOLOGY_ERROR(with("        device: 3\n      - {name: rp1, device: 3}\n"), "t.yaml:7:21",
                        "duplicate function number 3.0");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - name: rc0\n    root_ports: [{name: rp0, device: 2}]\n"
                        "    integrated:\n      - {name: x, device: 2, functions: [{}]}\n",
                        "t.yaml:6:19", "duplicate device number 2 on the root bus of 'rc0'");
  std::string bridge = R"(        below:
          pci_bridge:
            name: br0
            devices:
              - {name: a, device: 1, functions: [{}]}
              - {name: b, device: 1, functions: [{}]}
)";
  EXPECT_TOPOLOGY_ERROR(with(bridge), "t.yaml:11:27", "duplicate device number 1 on the PCI bus of bridge 'br0'");
  std::string sw = R"(        below:
          switch:
            name: sw0
            ports: [{name: dp0, device: 4}, {name: dp1, device: 4}]
)";
  EXPECT_TOPOLOGY_ERROR(with(sw), "t.yaml:9:57", "duplicate function number 4.0 on the internal bus of switch 'sw0'");
}

TEST(TopologyErrors, DuplicateFunctionNumbers) {
  std::string ep = R"(        below:
          endpoint:
            name: ep0
            functions: [{function: 0}, {function: 1}, {function: 1}]
)";
  EXPECT_TOPOLOGY_ERROR(with(ep), "t.yaml:9:56", "duplicate function number 1 in endpoint 'ep0'");
}

TEST(TopologyErrors, MissingFunctionZero) {
  std::string ep = R"(        below:
          endpoint:
            name: ep0
            functions: [{function: 1}]
)";
  EXPECT_TOPOLOGY_ERROR(with(ep), "t.yaml:9:13", "missing function 0");
  EXPECT_TOPOLOGY_ERROR(with("        device: 3\n        function: 1\n"), "t.yaml:7:9",
                        "missing function 0: device 3 on the root bus");
  EXPECT_TOPOLOGY_ERROR(with("        below: {endpoint: {name: ep0, functions: []}}\n"), "t.yaml:6:39",
                        "has no functions");
}

TEST(TopologyErrors, NonZeroDeviceOnALink) {
  std::string ep = R"(        below:
          endpoint:
            name: ep0
            device: 3
            functions: [{}]
)";
  EXPECT_TOPOLOGY_ERROR(with(ep), "t.yaml:9:13", "must be device 0");
}

TEST(TopologyErrors, AcsControlWithoutCapability) {
  EXPECT_TOPOLOGY_ERROR(with("        acs: {capability: [SV, RR], control: [SV, RR, CR]}\n"), "t.yaml:6:37",
                        "ACS control bit(s) CR set but the capability lacks them");
  EXPECT_TOPOLOGY_ERROR(with("        acs: {capability: [SV, XX]}\n"), "t.yaml:6:32", "unknown ACS bit 'XX'");
  EXPECT_TOPOLOGY_ERROR(with("        acs: {capability: [SV, EC]}\n"), "t.yaml:6:14", "EC needs egress_vector_bits");
  EXPECT_TOPOLOGY_ERROR(with("        acs: {capability: all, egress_vector_bits: 4, egress_vector: 0x10}\n"),
                        "t.yaml:6:55", "beyond egress_vector_bits");
  std::string conventional = R"(        below:
          pci_bridge:
            name: br0
            devices:
              - {name: a, device: 1, functions: [{acs: {capability: [RR]}}]}
)";
  EXPECT_TOPOLOGY_ERROR(with(conventional), "t.yaml:10:56", "ACS on a conventional PCI function");
}

TEST(TopologyErrors, OverlappingRanges) {
  const char* two = R"(name: t
root_complexes:
  - name: rc0
    io: none
  - name: rc1
    io: none
    ecam: {base: 0xd0000000, size: 256MiB}
    mmio32: {base: 0xc0000000, size: 256MiB}
    mmio64: {base: 0x10000000000, size: 1GiB}
)";
  // rc1's mmio32 [0xc0000000, 0xcfffffff] meets rc0's default mmio32 [0xc0000000, 0xdfffffff].
  EXPECT_TOPOLOGY_ERROR(two, "t.yaml:8:5", "address ranges overlap: rc1 mmio32");
  const char* ecam = R"(name: t
root_complexes:
  - name: rc0
    io: none
  - name: rc1
    io: none
    ecam: {base: 0xe8000000, size: 64MiB}
    mmio32: none
    mmio64: {base: 0x10000000000, size: 1GiB}
)";
  EXPECT_TOPOLOGY_ERROR(ecam, "t.yaml:7:5", "rc1 ecam [0xe8000000, 0xebffffff] overlaps rc0 ecam");
  const char* io = R"(name: t
root_complexes:
  - name: rc0
  - name: rc1
    ecam: {base: 0xa0000000, size: 16MiB}
    mmio32: none
    mmio64: none
)";
  EXPECT_TOPOLOGY_ERROR(io, "t.yaml:4:5", "rc1 io");
  const char* dram = R"(name: t
memory: {base: 0, size: 1TiB}
root_complexes:
  - name: rc0
)";
  EXPECT_TOPOLOGY_ERROR(dram, "t.yaml:4:5", "overlaps memory");
  const char* own = R"(name: t
root_complexes:
  - name: rc0
    ecam: {base: 0xc0000000, size: 256MiB}
)";
  EXPECT_TOPOLOGY_ERROR(own, "t.yaml:3:5", "rc0 mmio32 [0xc0000000, 0xdfffffff] overlaps rc0 ecam");
  // DRAM may sit under the 32-bit hole.
  EXPECT_NO_THROW(load_topology_string("name: t\nmemory: 4GiB\nroot_complexes: [{name: rc0}]\n", "t.yaml"));
}

TEST(TopologyErrors, RangeRules) {
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - name: rc0\n    mmio32: {base: 0xf0000000, size: 512MiB}\n",
                        "t.yaml:4:5", "must end below 0x100000000");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - name: rc0\n    ecam: {base: 0xe0000000, size: 1MiB}\n    root_ports: [{name: rp0}]\n",
                        "t.yaml:4:5", "ecam decodes 1 buses but root complex 'rc0' needs 2");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - name: rc0\n    ecam: none\n", "t.yaml:4:5",
                        "ecam must have a size");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - name: rc0\n    mmio64: {base: 0x100000, size: 1MiB}\n",
                        "t.yaml:4:5", "must start at or above 0x100000000");
  EXPECT_TOPOLOGY_ERROR("name: t\nroot_complexes:\n  - {name: rc0, segment: 1}\n  - {name: rc1, segment: 1}\n",
                        "t.yaml:4:17", "duplicate segment 1");
}

TEST(TopologyErrors, TooManyBuses) {
  // 8 root ports x (1 + 1 + 32) = 272 buses.
  const char* yaml = R"(name: t
root_complexes:
  - name: rc0
    root_ports:
      - count: 8
        var: p
        name: "rp{p}"
        below: {switch: {name: "sw{p}", ports: [{count: 32, name: "sw{p}-dp{i}"}]}}
)";
  EXPECT_TOPOLOGY_ERROR(yaml, "t.yaml:4:5", "bus numbers exhausted");
}

TEST(TopologyErrors, FileCannotBeOpened) {
  std::string path = fixture("no-such-topology.yaml");
  try {
    load_topology_file(path);
    FAIL() << "loaded a missing file";
  } catch (const TopologyError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": cannot open topology file", 0), 0u) << e.what();
    EXPECT_EQ(e.where().file, path);
  }
  EXPECT_THROW(load_topology_file(source_dir() + "/tests/pcie/data"), TopologyError);
}

TEST(TopologyErrors, FixtureFileErrorNamesThePath) {
  std::string path = fixture("topology-bad-acs.yaml");
  try {
    load_topology_file(path);
    FAIL() << "loaded a bad file";
  } catch (const TopologyError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ":11:", 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find("capability lacks"), std::string::npos);
  }
}

// --- hostile input ---

TEST(TopologyHostile, DeepYamlNesting) {
  std::string deep = "name: t\nroot_complexes: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  std::string msg = error_of(deep);
  EXPECT_EQ(msg.rfind("t.yaml:", 0), 0u) << msg;
}

TEST(TopologyHostile, DeepHierarchy) {
  std::string yaml = "name: t\nroot_complexes:\n- name: rc0\n  root_ports:\n  - name: rp\n    below:\n";
  std::string indent = "      ";
  for (int i = 0; i < 80; ++i) {
    yaml += indent + "switch:\n" + indent + "  name: s" + std::to_string(i) + "\n" + indent + "  ports:\n" + indent +
            "  - name: p" + std::to_string(i) + "\n" + indent + "    below:\n";
    indent += "        ";
  }
  EXPECT_TOPOLOGY_ERROR(yaml, "t.yaml:", "nests deeper than 64 levels");
}

TEST(TopologyHostile, HugeCounts) {
  EXPECT_TOPOLOGY_ERROR(with("      - {count: 1000000000, name: x}\n"), "t.yaml:6:17", "count: 1000000000 is out of range");
  // 4096 x 4096 x ... items: the expansion budget stops it long before memory runs out.
  const char* bomb = R"(name: t
root_complexes:
  - name: rc0
    integrated:
      - count: 4096
        var: a
        name: "e{a}"
        device: 1
        functions: [{count: 4096, function: 0}]
)";
  EXPECT_TOPOLOGY_ERROR(bomb, "t.yaml:", "topology too large");
}

TEST(TopologyHostile, AliasBomb) {
  // Port k holds a switch whose 9 ports are aliases of port k-1: 9^k ports if expanded blindly.
  std::string yaml = "name: t\nroot_complexes:\n  - name: rc0\n    root_ports:\n      - &p0 {name: p}\n";
  for (int k = 1; k <= 8; ++k) {
    std::string prev = "*p" + std::to_string(k - 1), list = prev;
    for (int j = 1; j < 9; ++j) list += ", " + prev;
    yaml += "      - &p" + std::to_string(k) + " {name: p, below: {switch: {name: s, ports: [" + list + "]}}}\n";
  }
  EXPECT_TOPOLOGY_ERROR(yaml, "t.yaml:", "topology too large");
}

TEST(TopologyHostile, GarbageAndEmptyInput) {
  EXPECT_TOPOLOGY_ERROR("", "t.yaml:1:1", "empty topology file");
  EXPECT_TOPOLOGY_ERROR("# only a comment\n", "t.yaml:1:1", "empty topology file");
  EXPECT_TOPOLOGY_ERROR(std::string("\x01\xff\xfe{[:", 6), "t.yaml:", "");
  EXPECT_TOPOLOGY_ERROR("name: a\n---\nname: b\n", "t.yaml:3:1", "one YAML document");
  EXPECT_TOPOLOGY_ERROR("just a string", "t.yaml:1:1", "expected a mapping");
  EXPECT_TOPOLOGY_ERROR("a: &x [*x]\n", "t.yaml:", "");
}
