// Helpers for tests that build a whole fabric: load a topology from a YAML string, enumerate
// it, flip ACS bits through config writes (what setpci or Linux does), and send DMAs.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "pcie/endpoint.h"
#include "pcie/fabric.h"
#include "pcie/port_registry.h"
#include "pcie/topology/yaml_loader.h"

namespace pciesim::test {

inline std::unique_ptr<Fabric> make_fabric(const std::string& yaml) {
  auto f = std::make_unique<Fabric>(topo::load_topology_string(yaml, "test.yaml"));
  f->enumerate();
  return f;
}

inline const FunctionInfo& fn(const Fabric& f, const std::string& name) {
  const FunctionInfo* i = f.find(name);
  if (!i) throw std::runtime_error("no function " + name);
  return *i;
}

// Writes the ACS control register of `port` through ECAM.
inline void set_acs(Fabric& f, const std::string& port, uint16_t control) {
  const FunctionInfo& p = fn(f, port);
  uint16_t acs = p.fn->config().find_ext_capability(0x000d);
  ASSERT_NE(acs, 0) << port << " has no ACS capability";
  f.config_write(p.segment, p.bdf(), acs + 6, 2, control);
  ASSERT_EQ(p.fn->acs_control(), control & p.fn->acs_capability());
}

inline void set_egress_vector(Fabric& f, const std::string& port, uint32_t vector) {
  const FunctionInfo& p = fn(f, port);
  uint16_t acs = p.fn->config().find_ext_capability(0x000d);
  f.config_write(p.segment, p.bdf(), acs + 8, 4, vector);
}

inline void bus_master(Fabric& f, const std::string& name, bool on = true) {
  const FunctionInfo& p = fn(f, name);
  uint16_t cmd = static_cast<uint16_t>(f.config_read(p.segment, p.bdf(), 0x04, 2));
  f.config_write(p.segment, p.bdf(), 0x04, 2, on ? (cmd | 4) : (cmd & ~4));
}

// One CPU load or store (MMIO) of `len` bytes, little-endian, as a transaction through the root
// complex. The CPU's annotated delay is dropped: callers in SystemC threads wait for what they need.
inline uint64_t mmio_read(Fabric& f, uint64_t addr, unsigned len = 4) {
  uint64_t v = 0;
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  f.cpu().access(false, addr, reinterpret_cast<uint8_t*>(&v), len, delay);
  return v;
}
inline void mmio_write(Fabric& f, uint64_t addr, uint64_t v, unsigned len = 4) {
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  f.cpu().access(true, addr, reinterpret_cast<uint8_t*>(&v), len, delay);
}

// Configuration reads and writes of a function by name, through ECAM.
inline uint32_t cfg_read(Fabric& f, const std::string& name, uint16_t reg, unsigned size = 4) {
  const FunctionInfo& p = fn(f, name);
  return f.config_read(p.segment, p.bdf(), reg, size);
}
inline void cfg_write(Fabric& f, const std::string& name, uint16_t reg, unsigned size, uint32_t value) {
  const FunctionInfo& p = fn(f, name);
  f.config_write(p.segment, p.bdf(), reg, size, value);
}

inline uint64_t bar(const Fabric& f, const std::string& name, int index) {
  const DecodedBar& b = fn(f, name).fn->bars()[index];
  EXPECT_GE(b.index, 0) << name << " BAR" << index;
  return b.base;
}

struct Sent {
  Verdict verdict;        // final (what a user sees)
  Verdict terminal;       // the raw terminal outcome
  AcsBit redirect_bit;
  std::vector<std::string> path;  // hop names
  std::vector<uint8_t> data;
  RequesterId requester_on_wire;
  sc_core::sc_time latency;
  bool passed(const std::string& hop) const {
    for (const auto& h : path)
      if (h == hop) return true;
    return false;
  }
  std::string at() const { return hops().name(verdict.port); }
};

inline Sent send(Fabric& f, const std::string& from, TlpKind kind, uint64_t addr, unsigned len = 64,
                 DmaOptions opt = {}, const std::vector<uint8_t>& payload = {}) {
  const FunctionInfo& src = fn(f, from);
  EXPECT_NE(src.endpoint, nullptr) << from << " is not an endpoint function";
  Sent s;
  s.data = payload.empty() ? std::vector<uint8_t>(len, 0x5a) : payload;
  s.data.resize(len);
  f.settle();
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  const PcieExtension& e = src.endpoint->dma(src.function_number, kind, addr, s.data.data(), len, delay, opt);
  s.verdict = e.final_verdict();
  s.terminal = e.verdict;
  s.redirect_bit = e.redirect_bit;
  for (unsigned i = 0; i < e.hop_count; ++i) s.path.push_back(hops().name(e.hops[i]));
  s.requester_on_wire = e.requester;
  s.latency = delay;
  return s;
}

inline std::string path_text(const Sent& s) {
  std::string t;
  for (const auto& h : s.path) t += (t.empty() ? "" : " > ") + h;
  return t;
}

// One root port with a switch below it: dpA, dpB lead to endpoints A and B; dpC leads to a
// second switch with endpoints D and E; a second root port has endpoint F. Every port
// implements all ACS bits (egress vector of 8 bits) and firmware leaves them off; tests turn
// them on through config writes.
inline const char* kAcsTopology = R"(
name: acs-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    p2p: true
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 4, width: 16}
        acs: {capability: all, control: none, egress_vector_bits: 8}
        below:
          switch:
            name: sw0
            ports:
              - name: dpA
                device: 0
                link: {gen: 4, width: 16}
                acs: {capability: all, control: none, egress_vector_bits: 8}
                below:
                  endpoint:
                    name: epA
                    functions: [{function: 0, bars: [{index: 0, size: 1MiB, type: mem64, prefetchable: true}]}]
              - name: dpB
                device: 1
                link: {gen: 4, width: 16}
                acs: {capability: all, control: none, egress_vector_bits: 8}
                below:
                  endpoint:
                    name: epB
                    functions: [{function: 0, bars: [{index: 0, size: 1MiB, type: mem64, prefetchable: true}]}]
              - name: dpC
                device: 2
                link: {gen: 4, width: 16}
                acs: {capability: all, control: none, egress_vector_bits: 8}
                below:
                  switch:
                    name: sw1
                    ports:
                      - name: dpD
                        device: 0
                        link: {gen: 4, width: 8}
                        acs: {capability: all, control: none, egress_vector_bits: 8}
                        below:
                          endpoint:
                            name: epD
                            functions: [{function: 0, bars: [{index: 0, size: 64KiB}]}]
                      - name: dpE
                        device: 1
                        link: {gen: 4, width: 8}
                        acs: {capability: all, control: none, egress_vector_bits: 8}
                        below:
                          endpoint:
                            name: epE
                            functions: [{function: 0, bars: [{index: 0, size: 64KiB}]}]
      - name: rp1
        device: 2
        link: {gen: 3, width: 8}
        acs: {capability: all, control: none, egress_vector_bits: 8}
        below:
          endpoint:
            name: epF
            functions: [{function: 0, bars: [{index: 0, size: 64KiB}]}]
)";

}  // namespace pciesim::test
