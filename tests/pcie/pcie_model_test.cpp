// The pcie-model re-implementation against the numbers pcie-model itself produces
// (performance-facts.md sections A and B; pcie-bench/data bw_calc.dat).
#include "pcie/pcie_model.h"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace pciesim;
namespace pm = pciesim::pcie_model;

namespace {

pm::Config cfg(int gen, int width, int mps, int mrrs = 512) {
  pm::Config c;
  c.gen = gen;
  c.width = width;
  c.mps = mps;
  c.mrrs = mrrs;
  return c;
}

}  // namespace

TEST(PcieModel, RawBandwidthAfterEncoding) {
  EXPECT_NEAR(pm::raw_gbps(1, 1), 2.0, 1e-12);                 // 8b/10b
  EXPECT_NEAR(pm::raw_gbps(2, 1), 4.0, 1e-12);
  EXPECT_NEAR(pm::raw_gbps(3, 1), 8.0 * 128 / 130, 1e-12);     // 128b/130b
  EXPECT_NEAR(pm::gbytes(pm::raw_gbps(3, 16)), 15.75, 0.005);
  EXPECT_NEAR(pm::gbytes(pm::raw_gbps(4, 16)), 31.51, 0.005);
  EXPECT_NEAR(pm::gbytes(pm::raw_gbps(5, 16)), 63.02, 0.005);
  EXPECT_NEAR(pm::raw_gbps(6, 1), 64.0, 1e-12);                // Flit Mode, 1b/1b
}

TEST(PcieModel, TlpBandwidthMatchesPcieModel) {
  EXPECT_NEAR(pm::tlp_bw_gbps(cfg(3, 8, 256)), 57.88, 0.005);  // [PM] and the SIGCOMM'18 summary
  EXPECT_NEAR(pm::gbytes(pm::tlp_bw_gbps(cfg(3, 8, 256))), 7.24, 0.005);
  EXPECT_NEAR(pm::gbytes(pm::tlp_bw_gbps(cfg(4, 16, 128))), 27.92, 0.005);
  EXPECT_NEAR(pm::gbytes(pm::tlp_bw_gbps(cfg(4, 16, 256))), 28.43, 0.005);
  EXPECT_NEAR(pm::gbytes(pm::tlp_bw_gbps(cfg(4, 16, 512))), 28.66, 0.005);
  EXPECT_NEAR(pm::gbytes(pm::tlp_bw_gbps(cfg(5, 16, 256))), 56.85, 0.005);
  EXPECT_NEAR(pm::gbytes(pm::tlp_bw_gbps(cfg(5, 16, 512))), 57.31, 0.005);
}

TEST(PcieModel, Gen6UsesFlitAccounting) {
  // 64 GT/s x16 = 128 GB/s raw; 236 of 256 B carry TLPs -> 118 GB/s (bar 9); no DLLP deduction.
  EXPECT_NEAR(pm::gbytes(pm::tlp_bw_gbps(cfg(6, 16, 256))), 118.0, 0.005);
  EXPECT_DOUBLE_EQ(pm::tlp_bw_gbps(cfg(6, 16, 128)), pm::tlp_bw_gbps(cfg(6, 16, 4096)));
  // No per-TLP STP/LCRC in Flit Mode: only the 4 DW / 3 DW headers remain.
  EXPECT_EQ(pm::mem_request_overhead(cfg(6, 16, 256)), 16);
  EXPECT_EQ(pm::completion_overhead(cfg(6, 16, 256)), 12);
}

TEST(PcieModel, HeaderOverheads) {
  pm::Config c = cfg(3, 8, 256);
  EXPECT_EQ(pm::mem_request_overhead(c), 24);
  EXPECT_EQ(pm::completion_overhead(c), 20);
  c.addr_bits = 32;
  EXPECT_EQ(pm::mem_request_overhead(c), 20);
  c.ecrc = true;
  EXPECT_EQ(pm::mem_request_overhead(c), 24);
  EXPECT_EQ(pm::completion_overhead(c), 24);
}

TEST(PcieModel, ReproducesBwCalcDat) {
  // pcie-bench/data bw_calc.dat (Gen3 x8, MPS 256, MRRS 512), Gb/s.
  const pm::Config c = cfg(3, 8, 256);
  EXPECT_NEAR(pm::write_gbps(c, 64), 42.10, 0.005);
  EXPECT_NEAR(pm::read_gbps(c, 64), 44.10, 0.005);
  EXPECT_NEAR(pm::write_gbps(c, 512), 52.92, 0.005);
  EXPECT_NEAR(pm::read_gbps(c, 512), 53.69, 0.005);
}

TEST(PcieModel, ReproducesEffectiveBandwidthTable) {
  // performance-facts.md table B: write / read GB/s, MRRS 512, 64-bit addresses, no ECRC.
  struct Row {
    int gen, width, mps;
    double wr[5], rd[5];  // 64, 128, 256, 512, 4096 B
  };
  const Row rows[] = {
      {3, 8, 256, {5.26, 6.09, 6.62, 6.62, 6.62}, {5.51, 6.26, 6.71, 6.71, 6.71}},
      {4, 16, 128, {20.31, 23.52, 23.52, 23.52, 23.52}, {21.28, 24.15, 24.15, 24.15, 24.15}},
      {4, 16, 256, {20.67, 23.94, 25.99, 25.99, 25.99}, {21.66, 24.58, 26.37, 26.37, 26.37}},
      {4, 16, 512, {20.84, 24.13, 26.20, 27.37, 27.37}, {21.83, 24.78, 26.58, 27.58, 27.58}},
      {5, 16, 256, {41.35, 47.87, 51.98, 51.98, 51.98}, {43.31, 49.17, 52.73, 52.73, 52.73}},
      {5, 16, 512, {41.68, 48.26, 52.40, 54.75, 54.75}, {43.67, 49.57, 53.16, 55.16, 55.16}},
  };
  const uint64_t sizes[5] = {64, 128, 256, 512, 4096};
  for (const Row& r : rows) {
    const pm::Config c = cfg(r.gen, r.width, r.mps);
    for (int i = 0; i < 5; ++i) {
      SCOPED_TRACE("gen" + std::to_string(r.gen) + " x" + std::to_string(r.width) + " mps" +
                   std::to_string(r.mps) + " size " + std::to_string(sizes[i]));
      EXPECT_NEAR(pm::gbytes(pm::write_gbps(c, sizes[i])), r.wr[i], 0.0051);
      EXPECT_NEAR(pm::gbytes(pm::read_gbps(c, sizes[i])), r.rd[i], 0.0051);
    }
  }
}

TEST(PcieModel, RcbChunksSlowReads) {
  pm::Config c = cfg(4, 16, 256);
  c.rcb_chunks = true;
  // 4 KiB in 64 completions of 64 B: 4096 / (64 * 20 + 4096) of 28.43 GB/s.
  EXPECT_NEAR(pm::gbytes(pm::read_gbps(c, 4096)), 21.66, 0.005);
  EXPECT_EQ(pm::read_completion_wire_bytes(c, 4096), 64u * 20 + 4096);
}

TEST(PcieModel, ReadIsLimitedByTheSaturatedDirection) {
  // mem_bw.read: transfers/s are set by whichever direction runs out first (here MRRS 128 makes
  // 32 requests per 4 KiB, still fewer wire bytes than the completions).
  pm::Config c = cfg(3, 8, 4096, 128);
  const double bw = pm::tlp_bw_gbps(c);
  const uint64_t size = 4096;
  const double by_rx = size * bw / pm::read_completion_wire_bytes(c, size);
  const double by_tx = size * bw / pm::read_request_wire_bytes(c, size);
  EXPECT_DOUBLE_EQ(pm::read_gbps(c, size), std::min(by_rx, by_tx));
  EXPECT_EQ(pm::read_request_wire_bytes(c, size), 32u * 24);
}

TEST(PcieModel, WireBytesFollowCeilOfMps) {
  const pm::Config c = cfg(4, 16, 256);
  EXPECT_EQ(pm::write_wire_bytes(c, 1500), 6u * 24 + 1500);
  EXPECT_EQ(pm::read_request_wire_bytes(c, 1500), 3u * 24);
  EXPECT_EQ(pm::read_completion_wire_bytes(c, 1500), 6u * 20 + 1500);
  EXPECT_EQ(pm::write_gbps(c, 0), 0.0);
}

TEST(PcieModel, RejectsUnknownConfigurations) {
  EXPECT_THROW(pm::tlp_bw_gbps(cfg(7, 16, 256)), std::invalid_argument);
  EXPECT_THROW(pm::tlp_bw_gbps(cfg(3, 3, 256)), std::invalid_argument);
  EXPECT_THROW(pm::tlp_bw_gbps(cfg(3, 8, 100)), std::invalid_argument);
  EXPECT_THROW(pm::tlp_bw_gbps(cfg(3, 8, 256, 8192)), std::invalid_argument);
  EXPECT_NO_THROW(pm::tlp_bw_gbps(cfg(3, 12, 256)));  // x12: averaged table cells
}
