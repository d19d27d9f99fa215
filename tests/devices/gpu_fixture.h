// Helpers for the GPU device tests (gpu_*_test.cpp): a topology with two GPUs under a switch and a
// VT-d unit, a GMMU page-table builder that writes tables into VRAM the way the lead's VFIO client
// does (BAR1 in physical mode), contexts, the copy-engine ring, MSI-X, and a recording listener.
#pragma once
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "devices/gpu/gpu_device.h"
#include "iommu/vtd_programmer.h"
#include "pcie/fabric_fixture.h"
#include "pcie/pcie_regs.h"

namespace pciesim::test::gpu_test {

using namespace pciesim::gpu;
using namespace pciesim::gpu::regs;

//   rc0 ── rp0 ── sw0 ─┬─ dpA ── gpu0
//                      └─ dpB ── gpu1      (every port implements ACS; firmware leaves it off)
// with a QEMU 7.2 VT-d unit over everything. `mmu` picks the page-table format of both GPUs.
inline std::string gpu_topology(const std::string& mmu = "v2-pascal", const std::string& extra = "") {
  return R"(
name: gpu-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    p2p: true
    mmio32: {base: 0xc0000000, size: 512MiB}
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
                  endpoint: {name: gpu0, model: gpu, params: {vram: 64MiB, bar1: 32MiB, mmu: )" +
         mmu + extra + R"(}}
              - name: dpB
                device: 1
                link: {gen: 4, width: 16}
                acs: {capability: all, control: none, egress_vector_bits: 8}
                below:
                  endpoint: {name: gpu1, model: gpu, params: {vram: 64MiB, bar1: 32MiB, mmu: )" +
         mmu + R"(}}
iommus:
  - name: dmar0
    preset: qemu-7.2
    include_all: true
)";
}

inline void in_thread(std::function<void()> body) {
  sc_core::sc_spawn(std::move(body));
  sc_core::sc_start();
}

inline uint64_t level_index(uint64_t va, const GmmuLevelBits& b) {
  return (va >> b.lo) & ((uint64_t{1} << (b.hi - b.lo + 1)) - 1);
}

// GMMU tables in VRAM, built with the codecs; every entry goes through `write64` (a BAR1 store in
// physical mode unless the test says otherwise). A shadow keeps what was written.
struct PageTables {
  GmmuFormat f;
  std::function<void(uint64_t, uint64_t)> write64;
  uint64_t pdb;
  uint64_t next;
  std::map<uint64_t, uint64_t> shadow;

  PageTables(const GmmuFormat& fmt, std::function<void(uint64_t, uint64_t)> w, uint64_t root = 0x10000,
             uint64_t pool = 0x20000)
      : f(fmt), write64(std::move(w)), pdb(root), next(pool) {}
  void set(uint64_t a, uint64_t v) {
    shadow[a] = v;
    write64(a, v);
  }
  uint64_t get(uint64_t a) const {
    auto it = shadow.find(a);
    return it == shadow.end() ? 0 : it->second;
  }
  uint64_t alloc() { return (next += kGmmuTableAlign) - kGmmuTableAlign; }
  uint64_t upper(uint64_t va, bool stop_at_pd1) {
    uint64_t table = pdb;
    for (unsigned i = 0; i < f.upper_level_count(); ++i) {
      const GmmuLevelBits b = f.upper_level(i);
      const uint64_t entry = table + level_index(va, b) * kGmmuPdeBytes;
      if (stop_at_pd1 && b.level == GmmuLevel::Pd1) return entry;
      GmmuPde pde = decode_pde(f, get(entry));
      if (pde.aperture == GmmuAperture::Invalid) {
        pde = {};
        pde.aperture = GmmuAperture::Video;
        pde.address = alloc();
        set(entry, *encode_pde(f, pde));
      }
      table = pde.address;
    }
    return table + level_index(va, GmmuFormat::kPd0) * kGmmuDualPdeBytes;
  }
  // Maps [va, va + size) to `pa` in `ap` with one page of `size` (4 KiB, big, 2 MiB, 512 MiB).
  void map(uint64_t va, uint64_t pa, uint64_t size, GmmuAperture ap = GmmuAperture::Video, uint8_t peer = 0,
           bool read_only = false) {
    GmmuPte pte;
    pte.valid = true;
    pte.aperture = ap;
    pte.peer_id = peer;
    pte.read_only = read_only;
    pte.address = pa;
    const auto raw = encode_pte(f, pte);
    ASSERT_TRUE(raw.has_value()) << std::hex << pa;
    if (size == kGmmu512MPage) return set(upper(va, true), *raw);
    const uint64_t e = upper(va, false);
    if (size == kGmmu2MPage) {
      set(e, *raw);
      set(e + 8, 0);
      return;
    }
    GmmuDualPde d = decode_dual_pde(f, get(e), get(e + 8));
    const bool big = size != kGmmuSmallPage;
    GmmuPde& half = big ? d.big : d.small;
    if (half.aperture == GmmuAperture::Invalid) {
      half.aperture = GmmuAperture::Video;
      half.address = alloc();
      const auto r = encode_dual_pde(f, d);
      ASSERT_TRUE(r.has_value());
      set(e, (*r)[0]);
      set(e + 8, (*r)[1]);
    }
    set(half.address + level_index(va, big ? f.big_pt() : GmmuFormat::kSmallPt) * kGmmuPteBytes, *raw);
  }
  // Maps `bytes` with 4 KiB pages.
  void map_range(uint64_t va, uint64_t pa, uint64_t bytes, GmmuAperture ap = GmmuAperture::Video, uint8_t peer = 0) {
    for (uint64_t o = 0; o < bytes; o += kGmmuSmallPage) map(va + o, pa + o, kGmmuSmallPage, ap, peer);
  }
  void unmap_small(uint64_t va) {
    const uint64_t e = upper(va, false);
    GmmuDualPde d = decode_dual_pde(f, get(e), get(e + 8));
    set(d.small.address + level_index(va, GmmuFormat::kSmallPt) * kGmmuPteBytes, 0);
  }
};

struct GpuFixture : ::testing::Test {
  std::unique_ptr<Fabric> f;
  GpuDevice* gpu0 = nullptr;
  GpuDevice* gpu1 = nullptr;
  uint64_t bar0 = 0, bar1 = 0;
  std::vector<GpuTransaction> records;

  // VRAM layout the tests share (gpu0).
  static constexpr uint64_t kInst = 0x1000;          // context 0's instance block
  static constexpr uint64_t kInst1 = 0x2000;         // context 1's
  static constexpr uint64_t kPdb = 0x10000, kPdb1 = 0x11000;
  static constexpr uint64_t kRingPa = 0x100000, kRingVa = 0x1000'0000;
  static constexpr uint32_t kRingEntries = 16;
  static constexpr uint64_t kFaultPa = 0x80000;
  // System memory: IOVA kIova (mapped by VT-d to kPa) at GPU VA kSysVa.
  static constexpr uint64_t kIova = 0x0800'0000, kPa = 0x0123'4000, kSysVa = 0x3000'0000;

  void build(const std::string& yaml) {
    f = make_fabric(yaml);
    gpu0 = dynamic_cast<GpuDevice*>(fn(*f, "gpu0").endpoint);
    gpu1 = dynamic_cast<GpuDevice*>(fn(*f, "gpu1").endpoint);
    ASSERT_NE(gpu0, nullptr);
    ASSERT_NE(gpu1, nullptr);
    bar0 = bar(*f, "gpu0", 0);
    bar1 = bar(*f, "gpu0", 1);
    bus_master(*f, "gpu0");
    bus_master(*f, "gpu1");
  }
  void SetUp() override { build(gpu_topology()); }

  uint32_t rd(uint32_t off, uint64_t b = 0) { return static_cast<uint32_t>(mmio_read(*f, (b ? b : bar0) + off, 4)); }
  void wr(uint32_t off, uint32_t v, uint64_t b = 0) { mmio_write(*f, (b ? b : bar0) + off, v, 4); }
  // BAR1 in physical mode: offset = VRAM address (what the lead's client uses to build tables).
  void vram_store64(uint64_t addr, uint64_t v) { mmio_write(*f, bar1 + addr, v, 8); }

  PageTables tables(uint64_t pdb = kPdb, uint64_t pool = 0x20000) {
    const uint64_t root = pdb;
    return PageTables(gpu0->gmmu().format(), [this](uint64_t a, uint64_t v) { vram_store64(a, v); }, root, pool);
  }
  // Writes the instance block's PDB words and binds context `ctx` to it.
  void bind(unsigned ctx, uint64_t inst, uint64_t pdb, uint64_t base0 = 0) {
    GmmuInstancePdb p;
    p.aperture = GmmuAperture::Video;
    p.use_ver2_format = true;
    p.address = pdb;
    const auto w = encode_instance_pdb(p);
    vram_store64(inst + 512, (uint64_t{w[1]} << 32) | w[0]);
    const uint64_t b = base0 ? base0 : bar0;
    wr(kCtxInstBase + ctx * kCtxInstStride + 4, static_cast<uint32_t>(inst >> 32), b);
    wr(kCtxInstBase + ctx * kCtxInstStride, static_cast<uint32_t>(inst) | kInstValid | kTargetVideo, b);
  }
  void fault_buffer(uint32_t entries, uint64_t pa = kFaultPa, uint32_t target = kTargetVideo) {
    wr(kFaultBufHi, static_cast<uint32_t>(pa >> 32));
    wr(kFaultBufLo, static_cast<uint32_t>(pa) | target);
    wr(kFaultBufSize, entries);
    wr(kFaultCtrl, kFaultEnable);
  }
  // Ring in VRAM at kRingPa, mapped at kRingVa in context `ctx`.
  void ring(PageTables& t, unsigned ctx = 0) {
    t.map_range(kRingVa, kRingPa, kRingEntries * kCeCommandSize);
    wr(kCeCtx, ctx);
    wr(kCeRingLo, static_cast<uint32_t>(kRingVa));
    wr(kCeRingHi, static_cast<uint32_t>(kRingVa >> 32));
    wr(kCeRingSize, kRingEntries);
  }
  struct Cmd {
    uint32_t op = kCeOpNop, flags = 0;
    uint64_t src = 0, dst = 0, len = 0, sem = 0, payload = 0;
  };
  // Writes command `c` at ring slot `slot` (through BAR1) without ringing the doorbell.
  void put_cmd(uint32_t slot, const Cmd& c) {
    uint8_t b[kCeCommandSize] = {};
    std::memcpy(b, &c.op, 4);
    std::memcpy(b + 4, &c.flags, 4);
    std::memcpy(b + 0x08, &c.src, 8);
    std::memcpy(b + 0x10, &c.dst, 8);
    std::memcpy(b + 0x18, &c.len, 8);
    std::memcpy(b + 0x20, &c.sem, 8);
    std::memcpy(b + 0x28, &c.payload, 8);
    for (unsigned i = 0; i < kCeCommandSize; i += 8) {
      uint64_t v;
      std::memcpy(&v, b + i, 8);
      vram_store64(kRingPa + slot * kCeCommandSize + i, v);
    }
  }
  // Submits commands from GET and waits (in a SystemC thread) until the engine stops.
  void submit(const std::vector<Cmd>& cmds) {
    uint32_t put = rd(kCePut);
    for (const Cmd& c : cmds) {
      put_cmd(put, c);
      put = (put + 1) % kRingEntries;
    }
    wr(kCePut, put);
    sc_core::wait(sc_core::sc_time(1, sc_core::SC_NS));
    while (gpu0->ce_busy()) sc_core::wait(sc_core::sc_time(100, sc_core::SC_NS));
  }
  // VT-d: gpu0's requester id in domain 1 with IOVA kIova -> kPa (`pages` of 4 KiB), translation on.
  void iommu_map(const std::string& who = "gpu0", uint64_t iova = kIova, uint64_t pa = kPa, unsigned pages = 4) {
    vtd::VtdProgrammer drv(*f, "dmar0");
    auto& d = drv.attach(fn(*f, who).bdf(), 1, 0, 3);
    for (unsigned i = 0; i < pages; ++i) d.map(iova + i * 4096ull, pa + i * 4096ull, 4096);
    drv.set_root_table();
    drv.enable_translation();
  }
  void listen() {
    gpu0->set_transaction_listener([this](const GpuTransaction& t) { records.push_back(t); });
  }
  // MSI-X on, every vector unmasked, to the host's MSI address.
  void enable_msix(const std::string& who = "gpu0") {
    const PciFunction& p = *fn(*f, who).fn;
    const uint16_t cap = p.msix_cap();
    ASSERT_NE(cap, 0);
    const uint64_t table = bar(*f, who, 0) + kBar0Size - 4096;  // capabilities.cpp default_msix_layout
    for (unsigned v = 0; v < kMsixVectors; ++v) {
      mmio_write(*f, table + v * 16, 0xfee00000u, 4);
      mmio_write(*f, table + v * 16 + 4, 0, 4);
      mmio_write(*f, table + v * 16 + 8, 0x40 + v, 4);
      mmio_write(*f, table + v * 16 + 12, 0, 4);
    }
    const uint16_t ctl = static_cast<uint16_t>(cfg_read(*f, who, cap + 2, 2));
    cfg_write(*f, who, cap + 2, 2, ctl | 0x8000);
  }
  std::vector<uint8_t> vram(uint64_t a, unsigned n, GpuDevice* g = nullptr) {
    std::vector<uint8_t> d(n);
    (g ? g : gpu0)->vram_read(a, d.data(), n);
    return d;
  }
  std::vector<uint8_t> dram(uint64_t pa, unsigned n) {
    std::vector<uint8_t> d(n);
    f->dram().read(pa, d.data(), n);
    return d;
  }
  static std::vector<uint8_t> pattern(unsigned n, uint8_t seed) {
    std::vector<uint8_t> d(n);
    for (unsigned i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(seed + i * 7);
    return d;
  }
  uint32_t ce_error() { return (rd(kCeStatus) >> 8) & 0xff; }
};

}  // namespace pciesim::test::gpu_test
