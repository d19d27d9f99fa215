// An independent re-implementation of the pcie-model analytic bandwidth formulas
// (pcie-bench/pcie-model, Neugebauer et al., SIGCOMM'18: model/pcie.py `TLP_bw`, model/mem_bw.py
// `write` and `read`). It is the reference column the link timing model is checked against
// (tests/pcie/link_test.cpp, the DMA benchmark). Plain functions, no SystemC.
//
// Units as in pcie-model: bandwidth in Gb/s (1e9 bit/s) per direction; gbytes() converts to GB/s.
// Beyond pcie-model: Gen6 (Flit Mode, 236 of 256 B per flit carry TLPs, no ACK/FC/SKP
// deduction, no per-TLP framing; performance-facts.md bar 9) and x12 links (table cells averaged,
// see link_constants.h).
#pragma once

#include <cstdint>

namespace pciesim::pcie_model {

// pcie-model `Cfg`. Defaults are pcie_bw.py's: Gen3 x8, MPS 256, MRRS 512, RCB 64, 64-bit
// addresses, no ECRC, completions chopped at MPS.
struct Config {
  int gen = 3;
  int width = 8;
  int mps = 256;
  int mrrs = 512;
  int rcb = 64;
  bool rcb_chunks = false;  // completions of RCB size instead of MPS (seen on older chipsets)
  int addr_bits = 64;       // 32 or 64: 3 DW or 4 DW request headers
  bool ecrc = false;
};

// Throws std::invalid_argument naming the offending field.
void validate(const Config& c);

// pcie-model `Raw`: Gb/s per direction after line encoding.
double raw_gbps(int gen, int width);
// pcie-model `TLP_bw`: raw bandwidth less the ACK, UpdateFC and SKP shares (Gen6: the flit share).
double tlp_bw_gbps(const Config& c);

// Per-TLP overhead on the wire, bytes: pcie-model `TLP_MWr_Hdr_Sz` (= MRd) and `TLP_CplD_Hdr_Sz`.
int mem_request_overhead(const Config& c);
int completion_overhead(const Config& c);

// Bytes on the wire for one transfer of `size` bytes (pcie-model's raw_bytes / raw_tx_B / raw_rx_B).
uint64_t write_wire_bytes(const Config& c, uint64_t size);
uint64_t read_request_wire_bytes(const Config& c, uint64_t size);
uint64_t read_completion_wire_bytes(const Config& c, uint64_t size);

// pcie-model `mem_bw.write(cfg, BW_Spec(TLP_bw, TLP_bw, BW_RAW), size).tx_eff`, Gb/s.
double write_gbps(const Config& c, uint64_t size);
// pcie-model `mem_bw.read(...).rx_eff`, Gb/s: limited by whichever direction saturates first.
double read_gbps(const Config& c, uint64_t size);

constexpr double gbytes(double gbps) { return gbps / 8.0; }

}  // namespace pciesim::pcie_model
