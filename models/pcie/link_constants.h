// Named constants of the PCIe link timing model (models/pcie/link.h) and of the analytic reference
// (models/pcie/pcie_model.h). Every value names its source. [PM] is pcie-bench/pcie-model
// (Neugebauer et al., SIGCOMM'18), files model/pcie.py and model/mem_bw.py; its tables are the
// ones of the PCIe Base Spec 5.0 it cites. Figures are per link direction.
#pragma once

#include <cstdint>

namespace pciesim::link_constants {

// ---------------------------------------------------------------------------------------------
// Physical layer
// ---------------------------------------------------------------------------------------------

constexpr int kMinGen = 1;
constexpr int kMaxGen = 6;

// PCIe 4.2 (and [PM] pcie.py `GTs`): transfer rate per lane in GT/s, indexed by generation.
// Gen6 (PCIe 6.0) runs 64 GT/s with PAM4 signalling; [PM] has no Gen6 entry.
constexpr double kGigaTransfersPerSec[kMaxGen + 1] = {0.0, 2.5, 5.0, 8.0, 16.0, 32.0, 64.0};

// Line encoding: payload bits per coded bits. PCIe 4.2.1 (8b/10b, 2.5 and 5 GT/s), 4.2.2
// (128b/130b, 8 GT/s and up, [PM] `Gbs`); Gen6 Flit Mode has no block encoding ("1b/1b", Linux
// PCIE_SPEED2MBS_ENC after the 64 GT/s fix citing PCIe r6.1 1.2).
struct LineEncoding {
  int payload_bits;
  int coded_bits;
};
constexpr LineEncoding kEncoding8b10b{8, 10};
constexpr LineEncoding kEncoding128b130b{128, 130};
constexpr LineEncoding kEncodingFlit1b1b{1, 1};
constexpr LineEncoding line_encoding(int gen) {
  return gen <= 2 ? kEncoding8b10b : gen <= 5 ? kEncoding128b130b : kEncodingFlit1b1b;
}

// Gen6 Flit Mode: a 256 B flit carries 236 B of TLP bytes, 6 B DLP, 8 B CRC, 6 B FEC (92.2 %);
// ACK/NAK and flow control ride in the DLP bytes, so no separate DLLPs are accounted
// (glennklockwood.com/garden/PCIe-Gen6; performance-facts.md section A and bar 9).
constexpr int kFlitBytes = 256;
constexpr int kFlitTlpBytes = 236;
constexpr bool uses_flit_mode(int gen) { return gen >= 6; }

// Link widths the tables below know (PCIe 4.2.4.x negotiated widths). x12 is not in [PM].
constexpr int kWidths[] = {1, 2, 4, 8, 12, 16, 32};

// ---------------------------------------------------------------------------------------------
// TLP sizes on the wire (non-Flit Mode, Gen1..5)
// ---------------------------------------------------------------------------------------------

// [PM] pcie.py `DLLP_Hdr` = 8: the data-link and physical wrapping of every TLP, i.e. sequence
// number 2 B + LCRC 4 B + framing 2 B (STP/END symbols, Gen1/2) or STP token (Gen3..5, which also
// holds the sequence number) -- PCIe 3.3.5, 4.2.2.3.
constexpr int kTlpFramingBytes = 8;
// PCIe 6.0 Flit Mode: TLPs are packed into flits with no per-TLP STP token, sequence number or
// LCRC (the flit's DLP and CRC bytes carry those), so the per-TLP wrapping is zero.
constexpr int tlp_framing_bytes(int gen) { return uses_flit_mode(gen) ? 0 : kTlpFramingBytes; }
// PCIe 2.2.1: 3 DW header (32-bit memory address, configuration, completions) and 4 DW header
// (64-bit memory address, messages). [PM] splits them as `TLP_Hdr` 4 + 8 (or 12).
constexpr int kHeader3dwBytes = 12;
constexpr int kHeader4dwBytes = 16;
// PCIe 2.2.4.1: addresses below 4 GiB must use the 32-bit (3 DW) format.
constexpr uint64_t kFourGiB = 1ull << 32;
// PCIe 2.7.1 / [PM] `TLP_Dig`: optional ECRC digest.
constexpr int kEcrcBytes = 4;
// Results in [PM] `TLP_MWr_Hdr_Szs[64][0]` = 24 and `TLP_CplD_Hdr_Szs[0]` = 20.
constexpr int kMemRequest64Overhead = kTlpFramingBytes + kHeader4dwBytes;  // 24 B
constexpr int kMemRequest32Overhead = kTlpFramingBytes + kHeader3dwBytes;  // 20 B
constexpr int kCompletionOverhead = kTlpFramingBytes + kHeader3dwBytes;    // 20 B
static_assert(kMemRequest64Overhead == 24 && kCompletionOverhead == 20, "[PM] pcie.py header sizes");
// PCIe 2.2.7: configuration requests carry exactly 1 DW (CfgWr) or no data (CfgRd).
constexpr int kConfigDataBytes = 4;
// PCIe 2.2.2: payload length is counted in DWs.
constexpr int kDwBytes = 4;
// PCIe 2.2.7 / 2.2.2: no request or completion may cross a 4 KiB address boundary; max payload.
constexpr uint64_t kTlpBoundaryBytes = 4096;

// ---------------------------------------------------------------------------------------------
// Data-link layer overheads (non-Flit Mode)
// ---------------------------------------------------------------------------------------------

// [PM] `Ack_Size`/`FC_Size`/`DLLP_Hdr`: a DLLP on the wire is 2 B framing + 4 B DLLP + 2 B CRC
// (PCIe 3.5.1, 4.2.2.3).
constexpr int kDllpBytes = 8;

// [PM] `SKIP_Length`/`SKIP_Interval`: a 4 B SKP ordered set every 1538 B of each direction
// (PCIe 4.2.7: SKP OS scheduled every 1180..1538 symbol times; [PM] takes the long end).
constexpr int kSkpBytes = 4;
constexpr int kSkpIntervalBytes = 1538;

// Columns of the two tables below: link width x1, x2, x4, x8, x16, x32; rows: MPS 128..4096.
constexpr int kTableWidths[] = {1, 2, 4, 8, 16, 32};
constexpr int kTableMps[] = {128, 256, 512, 1024, 2048, 4096};
using DllpTable = uint16_t[6][6];  // [width column][mps row]

// [PM] `Ack_Limits` = PCIe 5.0 Tables 3-7 (2.5 GT/s), 3-8 (5.0 GT/s), 3-9 (8.0 GT/s and up):
// maximum Ack latency, which [PM] applies as "one 8 B Ack DLLP per this many bytes". The spec's
// unit is symbol times; [PM] counts bytes, and this model follows [PM] since it is the reference.
// Gen3, Gen4 and Gen5 share one table in [PM] (and in the spec).
constexpr DllpTable kAckLimitGen1 = {
    {237, 416, 559, 1071, 2095, 4143}, {128, 217, 289, 545, 1057, 2081},
    {73, 118, 154, 282, 538, 1050},    {67, 107, 86, 150, 278, 534},
    {48, 72, 86, 150, 278, 534},       {33, 45, 52, 84, 148, 276}};
constexpr DllpTable kAckLimitGen2 = {
    {288, 467, 610, 1122, 2146, 4194}, {179, 268, 340, 596, 1108, 2132},
    {124, 169, 205, 333, 589, 1101},   {118, 158, 137, 201, 329, 585},
    {99, 123, 137, 201, 329, 585},     {84, 96, 103, 135, 199, 237}};
constexpr DllpTable kAckLimitGen3Plus = {
    {333, 512, 655, 1167, 2191, 4239}, {224, 313, 385, 641, 1153, 2177},
    {169, 214, 250, 378, 634, 1146},   {163, 203, 182, 246, 374, 630},
    {144, 168, 182, 246, 374, 630},    {129, 141, 148, 180, 244, 372}};

// [PM] `FC_Guide` = PCIe 5.0 Tables 2-46 (2.5 GT/s), 2-47 (5.0 GT/s), 2-48 (8.0 GT/s and up):
// recommended UpdateFC interval, applied by [PM] as "one 8 B UpdateFC DLLP per this many bytes".
// Identical to the Ack table except two x32 cells that [PM] lists differently (kept as in [PM]).
constexpr DllpTable kFcGuideGen1 = {
    {237, 416, 559, 1071, 2095, 4143}, {128, 217, 289, 545, 1057, 2081},
    {73, 118, 154, 282, 538, 1050},    {67, 107, 86, 150, 278, 534},
    {48, 72, 86, 150, 278, 534},       {33, 45, 52, 84, 248, 276}};
constexpr DllpTable kFcGuideGen2 = {
    {288, 467, 610, 1122, 2146, 4194}, {179, 268, 340, 596, 1108, 2132},
    {124, 169, 205, 333, 589, 1101},   {118, 158, 137, 201, 329, 585},
    {99, 123, 137, 201, 329, 585},     {84, 96, 103, 135, 199, 327}};
constexpr DllpTable kFcGuideGen3Plus = {
    {333, 512, 655, 1167, 2191, 4239}, {224, 313, 385, 641, 1153, 2177},
    {169, 214, 250, 378, 634, 1146},   {163, 203, 182, 246, 374, 630},
    {144, 168, 182, 246, 374, 630},    {129, 141, 148, 180, 244, 372}};

constexpr const DllpTable& ack_limit_table(int gen) {
  return gen <= 1 ? kAckLimitGen1 : gen == 2 ? kAckLimitGen2 : kAckLimitGen3Plus;
}
constexpr const DllpTable& fc_guide_table(int gen) {
  return gen <= 1 ? kFcGuideGen1 : gen == 2 ? kFcGuideGen2 : kFcGuideGen3Plus;
}
// Index of `mps` among kTableMps, or -1.
constexpr int mps_row(int mps) {
  for (int i = 0; i < 6; ++i)
    if (kTableMps[i] == mps) return i;
  return -1;
}
// Index of `width` among kTableWidths, or -1.
constexpr int width_column(int width) {
  for (int i = 0; i < 6; ++i)
    if (kTableWidths[i] == width) return i;
  return -1;
}
// Bytes per DLLP from `table` for a width and MPS; 0 if the table has no such entry. x12 is not
// in [PM] (nor in its tables): the mean of the x8 and x16 cells, rounded down, stands in for it.
constexpr int dllp_interval(const DllpTable& table, int width, int mps) {
  const int row = mps_row(mps);
  if (row < 0) return 0;
  if (width == 12) return (table[width_column(8)][row] + table[width_column(16)][row]) / 2;
  const int col = width_column(width);
  return col < 0 ? 0 : table[col][row];
}
static_assert(dllp_interval(kAckLimitGen3Plus, 16, 256) == 168, "[PM]: Gen3 x16 MPS256 every 168 B");

// ---------------------------------------------------------------------------------------------
// Fixed latencies
// ---------------------------------------------------------------------------------------------

// Cut-through port-to-port latency of a switch, per traversal (first bit in to first bit out),
// in ns. Gen4: 105 ns between two x16 ports, Broadcom PEX88000 (Linley Newsletter 2019-09-24).
// Gen3: PEX88000 is quoted as 30 % below PEX9700, so about 150 ns (derived, same source); Gen1/2
// reuse it. Gen5: "< 115 ns" for PEX89048 (techpowerup / HighPoint "The Latency War") -> 110 ns.
// Gen6: no published figure found; reuses Gen5.
constexpr double kSwitchLatencyGen3Ns = 150.0;
constexpr double kSwitchLatencyGen4Ns = 105.0;
constexpr double kSwitchLatencyGen5Ns = 110.0;
constexpr double switch_latency_ns(int gen) {
  return gen <= 3 ? kSwitchLatencyGen3Ns : gen == 4 ? kSwitchLatencyGen4Ns : kSwitchLatencyGen5Ns;
}

// Root-complex port traversal (root port <-> host bridge / IOMMU / memory fabric), per direction,
// in ns. No published per-port figure was found: the default equals the switch cut-through
// figure of the same generation, so that the Xeon E5 Gen3 x8 64 B DMA read round trip of 546 ns
// (pcie-bench data, performance-facts.md section C) splits as 2 x 150 ns root port + ~15 ns of
// links + LLC/DRAM + device-side DMA overhead. A calibration parameter, not a measurement.
constexpr double root_port_latency_ns(int gen) { return switch_latency_ns(gen); }

// Propagation of one link (trace + connector), in ns: about 15 cm of FR-4 at ~6.7 ps/mm. PHY
// (SerDes) pipeline latency is not included here; it is part of the port latencies above.
constexpr double kLinkPropagationNs = 1.0;

}  // namespace pciesim::link_constants
