// Timing of one PCIe link: serialisation of TLPs at the link's rate after line encoding, per-TLP
// framing and header overhead, ACK / UpdateFC DLLPs and SKP ordered sets accounted discretely,
// and one transmitter per direction whose busy-until time makes back-to-back transfers queue.
// Steady-state DMA bandwidth then emerges from occupancy and matches the pcie-model formulas
// (models/pcie/pcie_model.h) within +-2 % (tests/pcie/link_test.cpp).
//
// A burst is described by two times, as the PcieExtension carries them (`delay`, `tail`):
//
//   input   head        absolute time the first TLP may start on this link (a source: when its
//                       first TLP is ready; a forwarder: when it may start forwarding);
//           head + tail the last byte of the burst is available at the sender; TLPs in between
//                       become available in proportion to their wire bytes (tail = 0: all ready).
//   output  head        when the receiver may start forwarding the first TLP:
//                         cut-through (default)      its first byte has arrived;
//                         spec.store_and_forward     it has been received completely;
//           head + tail the last byte of the burst has been received (in both modes). A completer
//                       consumes the burst, and a single TLP is complete, at head + tail.
//
// Chaining through a switch, as the fabric should do it (per traversal):
//
//   link_a.carry_request(Up, kind, addr, n, head, tail);   // device -> switch DSP
//   head += switch_port_latency(gen);                      // header-in to header-out, cut-through
//   link_b.carry_request(Up, kind, addr, n, head, tail);   // switch USP -> root port
//   head += root_port_latency(gen);                         // into the host bridge
//   done = head + tail;                                     // burst at the root complex
//
// With equal link rates cut-through then costs the switch latency only; store-and-forward (set
// store_and_forward on the switch's links) adds one full first-TLP serialisation per hop. Each
// direction is FIFO in call order: a burst never starts before the previous one on the same
// direction has left, so fan-in shows up as queueing delay.
//
// Cost: O(1) per burst with the default (Symmetric) DLLP accounting, whatever its TLP count;
// one step per TLP with Reverse accounting or LinkOptions::per_tlp_schedule.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <systemc>
#include <type_traits>

#include "pcie/link_constants.h"
#include "pciesim/hot_inline.h"
#include "pcie/topology/spec.h"
#include "pciesim/tlp.h"

namespace pciesim {

// Up = towards the root complex.
enum class LinkDir : uint8_t { Up, Down };
constexpr LinkDir opposite(LinkDir d) { return d == LinkDir::Up ? LinkDir::Down : LinkDir::Up; }
const char* to_string(LinkDir d);

// Conversions between sc_time and picoseconds on the links' fast path, inline (SystemC 2.3's
// sc_time::from_value and sc_time(double, unit) are out of line). SystemC's time resolution is
// process-wide and fixed once any non-zero time exists; it is read on first use.
namespace link_time {
extern double g_resolution_ps;  // one resolution step in picoseconds; 0: not read yet
double init();  // reads (and fixes, as from_value of a non-zero value does) the resolution
// Read into a local: it then stays in a register across stores to other doubles.
inline double resolution_ps() {
  const double r = g_resolution_ps;
  return r != 0 ? r : init();
}
inline double to_ps(const sc_core::sc_time& t, double r) {
  return r == 1.0 ? double(t.value()) : double(t.value()) * r;  // x * 1.0 == x: same value, shorter chain
}
// sc_time is a standard-layout class whose only member is its value in resolution units, so the
// object and that member are pointer-interconvertible (C++17 [basic.compound]/4).
inline sc_core::sc_time from_value(sc_core::sc_time::value_type v) {
  static_assert(std::is_standard_layout<sc_core::sc_time>::value &&
                    sizeof(sc_core::sc_time) == sizeof(sc_core::sc_time::value_type),
                "sc_time is expected to hold just its value");
  sc_core::sc_time t;
  *reinterpret_cast<sc_core::sc_time::value_type*>(&t) = v;
  return t;
}
// Rounded to the nearest resolution step, as sc_time(double, unit) does (SystemC's default
// resolution is 1 ps, and x / 1.0 == x: the division is skipped then). Times are far below 2^63
// steps (106 days at 1 ps), so the signed conversion truncates exactly as the unsigned one.
inline sc_core::sc_time from_ps(double ps, double r) {
  return from_value(static_cast<sc_core::sc_time::value_type>(static_cast<int64_t>((r == 1.0 ? ps : ps / r) + 0.5)));
}
// from_ps(ps, 1.0)
inline sc_core::sc_time from_ps_unit(double ps) {
  return from_value(static_cast<sc_core::sc_time::value_type>(static_cast<int64_t>(ps + 0.5)));
}
}  // namespace link_time

// Which direction pays for the ACK and UpdateFC DLLPs (Gen1..5; Gen6 Flit Mode has none).
enum class DllpAccounting : uint8_t {
  // pcie-model's TLP_bw (the reference): every direction gives up one 8 B ACK per Ack_Limit
  // bytes and one 8 B UpdateFC per FC_Guide bytes of its own traffic, i.e. it carries the DLLPs
  // of an equally loaded reverse direction. Matches pcie-model, and the Gen3 x8 hardware
  // (53.0 Gb/s measured vs 52.92 model for writes), for one-way DMA.
  Symmetric,
  // Physical placement: receiving TLP bytes on one direction schedules the 8 B DLLPs on the
  // opposite direction. One-way DMA then runs 9-11 % above pcie-model (Gen3..5); saturated
  // two-way traffic comes within 1 % of it.
  Reverse,
};

struct LinkOptions {
  DllpAccounting dllp = DllpAccounting::Symmetric;
  // Schedule every TLP on its own even where a burst could be done in closed form. Same bytes;
  // timing differs only for paced input (a few DLLP times at most). For validation; slower.
  bool per_tlp_schedule = false;
  // pcie-model rcb_chunks: the completer returns one CplD per RCB (64/128 B) instead of
  // MPS-sized completions (seen on older chipsets).
  bool rcb_chunks = false;
  bool ecrc = false;                 // PCIe 2.7.1: 4 B digest on every TLP
  double propagation_ns = link_constants::kLinkPropagationNs;
};

// Per direction, bytes on the wire since construction or reset_stats().
struct LinkDirStats {
  uint64_t tlps = 0;
  uint64_t tlp_bytes = 0;      // framing + header + payload (+ ECRC)
  uint64_t payload_bytes = 0;  // data carried (memory write / completion / message payload)
  uint64_t dllps = 0;
  uint64_t dllp_bytes = 0;     // ACK + UpdateFC DLLPs sent on this direction
  uint64_t skp_bytes = 0;      // SKP ordered sets
  double flit_bytes = 0;       // Gen6: DLP + CRC + FEC share of the flits (20 of every 256 B)
};

class Link {
 public:
  // Throws topo::TopologyError (at spec.loc) on an unsupported gen, width, MPS, MRRS or RCB.
  explicit Link(const topo::LinkSpec& spec, const LinkOptions& options = {});

  const topo::LinkSpec& spec() const { return m_spec; }
  const LinkOptions& options() const { return m_options; }

  // Carries one request across the link in direction `dir`: a memory write of `bytes` (posted
  // TLPs of at most MPS bytes, split at MPS-aligned addresses so none crosses 4 KiB), a read
  // request for `bytes` (header-only TLPs split at MRRS-aligned addresses), a config request
  // (1 DW), a message (`bytes` of payload, 0 = none), an atomic (`bytes` of operands), or a
  // stand-alone completion (kind Completion: as carry_completions). Memory requests below 4 GiB
  // use the 3 DW header (PCIe 2.2.4.1): 20 B instead of 24 B per TLP. Payloads count in DWs.
  // (head, tail): see the top of this file.
  void carry_request(LinkDir dir, TlpKind kind, uint64_t addr, uint64_t bytes,
                     sc_core::sc_time& head, sc_core::sc_time& tail) {
    Direction& d = m_dir[index(dir)];
    // The DMA fast path, inline: one memory request TLP, i.e. a transfer inside one MPS (write) /
    // MRRS (read) aligned chunk: what request_shape() and transmit_burst() make of it. A chunk
    // never straddles 4 GiB (a multiple of every chunk size), so its header size is fixed.
    static_assert(uint8_t(TlpKind::MemRead) == 0 && uint8_t(TlpKind::MemWrite) == 1, "one compare for both");
    const bool write = kind == TlpKind::MemWrite;
    if (uint8_t(kind) <= uint8_t(TlpKind::MemWrite) && fast_path_ok(d)) {
      const uint64_t mask = write ? m_mps_mask : m_mrrs_mask;
      // 1 <= bytes <= the rest of the chunk (bytes = 0 wraps around and fails)
      if (bytes - 1 <= mask - (addr & mask)) {
        const uint64_t header = addr < link_constants::kFourGiB ? m_mem_header_32 : m_mem_header_64;
        transmit_one(d, write ? header + dw_span(addr, bytes) : header, write ? bytes : 0, head, tail);
        return;
      }
    }
    carry_request_general(dir, kind, addr, bytes, head, tail);
  }
  // Carries the completions for a read of `bytes` at `addr`: CplDs of at most MPS bytes that end
  // on MPS (hence RCB) aligned addresses and do not cross MRRS boundaries (PCIe 2.3.1.1), or one
  // per RCB with options().rcb_chunks; 20 B overhead each. `bytes` = 0: one Cpl without data.
  void carry_completions(LinkDir dir, uint64_t addr, uint64_t bytes,
                         sc_core::sc_time& head, sc_core::sc_time& tail);

  const LinkDirStats& stats(LinkDir dir) const { return m_dir[index(dir)].stats; }
  // When the transmitter of `dir` has sent everything queued so far (TLPs, DLLPs, SKPs); with
  // Reverse accounting, owed DLLPs not yet sent (they go out before its next TLP) are not included.
  sc_core::sc_time busy_until(LinkDir dir) const {
    return link_time::from_ps(m_dir[index(dir)].busy_ps, link_time::resolution_ps());
  }
  // Clears statistics; occupancy and DLLP/SKP phase are kept.
  void reset_stats();

  // Time one byte takes on the wire (after line encoding), in picoseconds; Gen6: per TLP byte
  // including the flit share.
  double byte_time_ps() const { return m_tlp_byte_ps; }
  // Serialisation of `wire_bytes` TLP bytes on this link (no DLLPs or SKPs).
  sc_core::sc_time serialisation(uint64_t wire_bytes) const;
  sc_core::sc_time propagation() const;
  // pcie-model TLP_bw of this link, Gb/s per direction.
  double tlp_bandwidth_gbps() const;
  // Wire bytes of one TLP: a memory request header (+ framing) at `addr`, a completion header.
  int mem_request_overhead(uint64_t addr) const {
    // PCIe 2.2.4.1: 32-bit format below 4 GiB, 64-bit format above.
    return m_framing + (addr < link_constants::kFourGiB ? link_constants::kHeader3dwBytes
                                                        : link_constants::kHeader4dwBytes) + m_ecrc;
  }
  int completion_overhead() const;
  // PCIe 2.2.2: bytes of data a TLP carries for `n` bytes at `addr` (the Length field counts
  // DWs; first/last DW byte enables trim the ends).
  static uint64_t dw_span(uint64_t addr, uint64_t n) {
    if (n == 0) return 0;
    constexpr uint64_t kDwMask = link_constants::kDwBytes - 1;
    return ((addr + n + kDwMask) & ~kDwMask) - (addr & ~kDwMask);
  }

 private:
  // Reverse accounting: DLLPs owed by a direction, by the time they become due. They are sent
  // when that direction next transmits (in idle time if they fit), so a reverse direction whose
  // callers run behind in simulated time (loosely timed) is not blocked by DLLPs due later.
  static constexpr unsigned kPendingDllps = 256;

  struct Direction {
    double busy_ps = 0;  // transmitter free from here (double ps: no rounding drift)
    // Bytes of this direction's traffic until the next own ACK / UpdateFC (Symmetric) and SKP.
    // (to_fc is not kept up to date when m_fc_is_ack: to_ack stands for both then.)
    uint64_t to_ack = 0, to_fc = 0, to_skp = 0;
    uint64_t rx_for_ack = 0, rx_for_fc = 0;  // Reverse: TLP bytes received, not yet acknowledged
    std::array<double, kPendingDllps> pending{};  // Reverse: due times, ascending (ring)
    unsigned pending_first = 0, pending_count = 0;
    LinkDirStats stats;
  };
  // A burst's TLPs in closed form (the fast path needs no more).
  struct BurstShape {
    uint64_t tlps = 0, wire = 0, first_wire = 0, last_wire = 0, payload = 0;
  };
  static constexpr int index(LinkDir d) { return d == LinkDir::Up ? 0 : 1; }

  // False when the burst cannot be described in closed form (it straddles 4 GiB).
  bool request_shape(TlpKind kind, uint64_t addr, uint64_t bytes, BurstShape& shape) const;
  BurstShape completion_shape(uint64_t addr, uint64_t bytes) const;
  template <class Emit>
  void for_each_request_tlp(TlpKind kind, uint64_t addr, uint64_t bytes, Emit&& emit) const;
  template <class Emit>
  void for_each_completion(uint64_t addr, uint64_t bytes, Emit&& emit) const;
  // The closed-form (O(1) per burst) schedule applies: Symmetric accounting or Gen6, no
  // per-TLP validation mode, no owed Reverse DLLPs waiting on this direction.
  bool fast_path_ok(const Direction& d) const { return m_burst_ok && d.pending_count == 0; }

  // O(1) per burst: exact when every TLP is ready by the time the link gets to it.
  void transmit_burst(Direction& d, const BurstShape& shape, sc_core::sc_time& head, sc_core::sc_time& tail);
  // transmit_burst() of a one-TLP burst (the DMA fast path: most DMA is one TLP). Its readiness
  // is `head`: a single TLP ignores the input tail.
  PCIESIM_HOT_INLINE void transmit_one(Direction& d, uint64_t wire, uint64_t payload, sc_core::sc_time& head, sc_core::sc_time& tail) {
    const double r = link_time::resolution_ps();
    if (r == 1.0) transmit_one_at<true>(d, wire, payload, head, tail, r);  // SystemC's default: 1 ps
    else transmit_one_at<false>(d, wire, payload, head, tail, r);
  }
  // `unit`: r == 1 ps, so conversions need neither the multiplication nor the division.
  template <bool unit>
  PCIESIM_HOT_INLINE void transmit_one_at(Direction& d, uint64_t wire, uint64_t payload, sc_core::sc_time& head,
                       sc_core::sc_time& tail, double r) {
    const double head_ps = unit ? double(head.value()) : link_time::to_ps(head, r);
    const double first_start = std::max(head_ps, d.busy_ps);
    const double first_end = first_start + double(wire) * m_tlp_byte_ps;
    d.busy_ps = first_end + double(settle(d, wire)) * m_byte_ps;
    count_tlps(d, 1, wire, payload);
    const double out_head = (m_store_and_forward ? first_end : first_start) + m_prop_ps;
    head = unit ? link_time::from_ps_unit(out_head) : link_time::from_ps(out_head, r);
    // rounded once each: head + tail is the last byte (as report())
    tail = (unit ? link_time::from_ps_unit(first_end + m_prop_ps) : link_time::from_ps(first_end + m_prop_ps, r)) - head;
  }
  // carry_request() beyond the single-TLP memory request.
  void carry_request_general(LinkDir dir, TlpKind kind, uint64_t addr, uint64_t bytes, sc_core::sc_time& head,
                             sc_core::sc_time& tail);
  // One TLP at a time: exact for paced input; always used with Reverse accounting.
  template <class ForEachTlp>
  void transmit_per_tlp(LinkDir dir, ForEachTlp&& for_each_tlp, sc_core::sc_time& head, sc_core::sc_time& tail);
  void count_tlps(Direction& d, uint64_t tlps, uint64_t wire, uint64_t payload) {
    d.stats.tlps += tlps;
    d.stats.tlp_bytes += wire;
    d.stats.payload_bytes += payload;
    if (m_flit)
      d.stats.flit_bytes += double(wire) * (link_constants::kFlitBytes - link_constants::kFlitTlpBytes) /
                            link_constants::kFlitTlpBytes;
  }
  void report(double first_start, double first_end, double last_end, sc_core::sc_time& head,
              sc_core::sc_time& tail, double r) const {
    const double out_head = (m_store_and_forward ? first_end : first_start) + m_prop_ps;
    head = link_time::from_ps(out_head, r);
    tail = link_time::from_ps(last_end + m_prop_ps, r) - head;  // rounded once each: head + tail is the last byte
  }
  // This direction's own DLLPs (Symmetric) and SKPs after it sent `added` more bytes; returns
  // their bytes (the caller adds their time). Byte-exact whether called per TLP or per burst.
  PCIESIM_HOT_INLINE uint64_t settle(Direction& d, uint64_t added) {
    if (m_flit) return 0;  // Gen6: ACK/NAK, flow control and the rest live in the flit (kFlitBytes)
    if (added < m_single_crossing_below) return settle_small(d, added);
    const uint64_t to_fc = m_fc_is_ack ? d.to_ack : d.to_fc;
    const uint64_t nearest = m_own_dllps ? std::min(std::min(d.to_ack, to_fc), d.to_skp) : d.to_skp;
    if (added < nearest) {  // no threshold reached
      if (m_own_dllps) {
        d.to_ack -= added;
        d.to_fc -= added;
      }
      d.to_skp -= added;
      return 0;
    }
    return settle_crossing(d, added);
  }
  // settle() of a small TLP, without branches on the data (whether a DLLP falls inside a TLP
  // alternates unpredictably on the DMA fast path). The total is the least fixed point of
  // total = added + the DLLP and SKP bytes of the thresholds at or below total; each threshold
  // kind (ACK, UpdateFC, SKP) can be crossed at most once here (m_single_crossing_below), and
  // each round that changes the total adds a kind, so iterating from `added` reaches it after
  // as many rounds as there are kinds; the counts of the last round are those at the fixed point.
  PCIESIM_HOT_INLINE uint64_t settle_small(Direction& d, uint64_t added) {
    namespace lc = link_constants;
    uint64_t acks = 0, fcs = 0, skps = 0, total = added;
    if (m_own_dllps && m_fc_is_ack) {
      // ACK and UpdateFC thresholds coincide (all but two table cells): two kinds, two rounds;
      // to_ack stands for both.
      for (int round = 0; round < 2; ++round) {
        acks = total >= d.to_ack;
        skps = total >= d.to_skp;
        total = added + acks * (2 * lc::kDllpBytes) + skps * lc::kSkpBytes;
      }
      d.to_ack = d.to_ack + acks * m_ack_limit - total;
      d.to_skp = d.to_skp + skps * lc::kSkpIntervalBytes - total;
      d.stats.dllps += 2 * acks;
      d.stats.dllp_bytes += acks * (2 * lc::kDllpBytes);
      d.stats.skp_bytes += skps * lc::kSkpBytes;
      return total - added;
    }
    for (int round = 0; round < 3; ++round) {
      if (m_own_dllps) {
        acks = total >= d.to_ack;
        fcs = total >= d.to_fc;
      }
      skps = total >= d.to_skp;
      total = added + (acks + fcs) * lc::kDllpBytes + skps * lc::kSkpBytes;
    }
    if (m_own_dllps) {
      d.to_ack = d.to_ack + acks * m_ack_limit - total;
      d.to_fc = d.to_fc + fcs * m_fc_guide - total;
    }
    d.to_skp = d.to_skp + skps * lc::kSkpIntervalBytes - total;
    d.stats.dllps += acks + fcs;
    d.stats.dllp_bytes += (acks + fcs) * lc::kDllpBytes;
    d.stats.skp_bytes += skps * lc::kSkpBytes;
    return total - added;
  }
  // settle() of larger byte counts that reach a threshold (bursts, large TLPs).
  uint64_t settle_crossing(Direction& d, uint64_t added);
  // Reverse: the receiver of `wire` TLP bytes arriving at `arrived_ps` owes DLLPs on `opposite(dir)`.
  void owe_dllps(LinkDir dir, uint64_t wire, double arrived_ps);
  void queue_dllp(Direction& d, double due_ps);
  void send_pending_dllps(Direction& d, double before_ps);
  void send_oldest_pending_dllp(Direction& d);

  topo::LinkSpec m_spec;
  LinkOptions m_options;
  bool m_flit = false;
  bool m_own_dllps = false;  // Symmetric accounting on Gen1..5
  int m_framing = 0;         // per-TLP wrapping bytes
  int m_ecrc = 0;
  unsigned m_mps_shift = 0, m_mrrs_shift = 0, m_cpl_shift = 0;  // log2 of the split sizes
  uint64_t m_ack_limit = 0;  // bytes per ACK DLLP
  uint64_t m_fc_guide = 0;   // bytes per UpdateFC DLLP
  bool m_fc_is_ack = false;  // equal intervals: ACK and UpdateFC thresholds coincide
  double m_inv_ack = 0, m_inv_fc = 0, m_inv_skp = 0;
  double m_byte_ps = 0;      // one raw byte on the wire
  double m_tlp_byte_ps = 0;  // one TLP byte (Gen6: scaled by 256/236)
  double m_prop_ps = 0;
  // At most one ACK, one UpdateFC and one SKP can fall inside `added + their bytes` when
  // added < this (settle_small() then applies).
  uint64_t m_single_crossing_below = 0;
  bool m_burst_ok = false;   // fast_path_ok() without the per-direction part
  bool m_store_and_forward = false;  // m_spec.store_and_forward
  uint64_t m_mps_mask = 0, m_mrrs_mask = 0;  // MPS - 1, MRRS - 1
  uint64_t m_mem_header_32 = 0, m_mem_header_64 = 0;  // mem_request_overhead below / above 4 GiB
  Direction m_dir[2];
};

// Cut-through latency of one switch traversal (link_constants.h: 150 / 105 / 110 ns).
sc_core::sc_time switch_port_latency(int gen);
// One traversal of a root port into the host bridge or back (a calibration default).
sc_core::sc_time root_port_latency(int gen);

}  // namespace pciesim
