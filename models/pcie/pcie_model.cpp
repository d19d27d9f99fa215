#include "pcie/pcie_model.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "pcie/link_constants.h"

namespace pciesim::pcie_model {

namespace lc = link_constants;

namespace {

bool power_of_two_in(int v, int lo, int hi) { return v >= lo && v <= hi && (v & (v - 1)) == 0; }

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

void validate(const Config& c) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("pcie_model: " + what); };
  if (c.gen < lc::kMinGen || c.gen > lc::kMaxGen) fail("gen must be 1..6, got " + std::to_string(c.gen));
  if (std::find(std::begin(lc::kWidths), std::end(lc::kWidths), c.width) == std::end(lc::kWidths))
    fail("width must be 1, 2, 4, 8, 12, 16 or 32, got " + std::to_string(c.width));
  if (!power_of_two_in(c.mps, 128, 4096)) fail("mps must be 128..4096, got " + std::to_string(c.mps));
  if (!power_of_two_in(c.mrrs, 128, 4096)) fail("mrrs must be 128..4096, got " + std::to_string(c.mrrs));
  if (!power_of_two_in(c.rcb, 64, 512)) fail("rcb must be 64..512, got " + std::to_string(c.rcb));
  if (c.addr_bits != 32 && c.addr_bits != 64) fail("addr_bits must be 32 or 64");
}

double raw_gbps(int gen, int width) {
  const lc::LineEncoding enc = lc::line_encoding(gen);
  return lc::kGigaTransfersPerSec[gen] * enc.payload_bits / enc.coded_bits * width;
}

double tlp_bw_gbps(const Config& c) {
  validate(c);
  const double raw = raw_gbps(c.gen, c.width);
  if (lc::uses_flit_mode(c.gen)) return raw * lc::kFlitTlpBytes / lc::kFlitBytes;
  const double ack = double(lc::kDllpBytes) / lc::dllp_interval(lc::ack_limit_table(c.gen), c.width, c.mps);
  const double fc = double(lc::kDllpBytes) / lc::dllp_interval(lc::fc_guide_table(c.gen), c.width, c.mps);
  const double skp = double(lc::kSkpBytes) / lc::kSkpIntervalBytes;
  return raw - raw * (ack + fc + skp);
}

int mem_request_overhead(const Config& c) {
  const int header = c.addr_bits == 64 ? lc::kHeader4dwBytes : lc::kHeader3dwBytes;
  return lc::tlp_framing_bytes(c.gen) + header + (c.ecrc ? lc::kEcrcBytes : 0);
}

int completion_overhead(const Config& c) {
  return lc::tlp_framing_bytes(c.gen) + lc::kHeader3dwBytes + (c.ecrc ? lc::kEcrcBytes : 0);
}

uint64_t write_wire_bytes(const Config& c, uint64_t size) {
  return ceil_div(size, c.mps) * mem_request_overhead(c) + size;
}

uint64_t read_request_wire_bytes(const Config& c, uint64_t size) {
  return ceil_div(size, c.mrrs) * mem_request_overhead(c);
}

uint64_t read_completion_wire_bytes(const Config& c, uint64_t size) {
  const uint64_t chunk = c.rcb_chunks ? c.rcb : c.mps;
  return ceil_div(size, chunk) * completion_overhead(c) + size;
}

double write_gbps(const Config& c, uint64_t size) {
  if (size == 0) return 0.0;
  return double(size) * tlp_bw_gbps(c) / double(write_wire_bytes(c, size));
}

double read_gbps(const Config& c, uint64_t size) {
  if (size == 0) return 0.0;
  // Both directions offer TLP_bw; the transfer rate is set by the direction that saturates first
  // (mem_bw.read's two branches reduce to this minimum).
  const double bw = tlp_bw_gbps(c);
  const double per_rx = bw / double(read_completion_wire_bytes(c, size));
  const double per_tx = bw / double(read_request_wire_bytes(c, size));
  return double(size) * std::min(per_rx, per_tx);
}

}  // namespace pciesim::pcie_model
