#include "pcie/link.h"

#include <algorithm>
#include <string>
#include <type_traits>

namespace pciesim {

namespace lc = link_constants;
using sc_core::sc_time;

namespace {

bool power_of_two_in(int v, int lo, int hi) { return v >= lo && v <= hi && (v & (v - 1)) == 0; }

unsigned log2_of(int pow2) {
  unsigned s = 0;
  while ((1 << s) < pow2) ++s;
  return s;
}

// Conversions off the fast path: the same rounding.
double to_ps(const sc_time& t) { return link_time::to_ps(t, link_time::resolution_ps()); }
sc_time from_ps(double ps) { return link_time::from_ps(ps, link_time::resolution_ps()); }

uint64_t dw_span(uint64_t addr, uint64_t n) { return Link::dw_span(addr, n); }

// Calls f(address, length) for each piece of [addr, addr + bytes) cut at multiples of 2^shift
// (<= 4 KiB, so no piece crosses a 4 KiB boundary); once with length 0 if empty. The address
// space is assumed not to wrap at 2^64.
template <class F>
void split_aligned(uint64_t addr, uint64_t bytes, unsigned shift, F&& f) {
  if (bytes == 0) {
    f(addr, uint64_t{0});
    return;
  }
  const uint64_t mask = (uint64_t{1} << shift) - 1;
  const uint64_t end = addr + bytes;
  for (uint64_t a = addr; a < end;) {
    const uint64_t next = std::min(end, (a | mask) + 1);
    f(a, next - a);
    a = next;
  }
}

// Number of thresholds t, t + p, t + 2p, ... (t >= 1) at or below x, without a division
// (x - t < 2^52, so the estimate is off by at most one).
uint64_t crossings(uint64_t t, uint64_t p, double inv_p, uint64_t x) {
  if (x < t) return 0;
  const int64_t span = static_cast<int64_t>(x - t);
  const int64_t period = static_cast<int64_t>(p);
  int64_t q = static_cast<int64_t>(double(span) * inv_p);
  if (q * period > span) --q;
  else if ((q + 1) * period <= span) ++q;
  return static_cast<uint64_t>(q) + 1;
}

}  // namespace

namespace link_time {
double g_resolution_ps = 0;
double init() {
  // Conversions used to go through sc_time::from_value(non-zero), which fixes the resolution;
  // keep that side effect, since values are written directly from here on.
  (void)sc_time::from_value(1);
  g_resolution_ps = sc_core::sc_get_time_resolution().to_seconds() * 1e12;
  return g_resolution_ps;
}
}  // namespace link_time

const char* to_string(LinkDir d) { return d == LinkDir::Up ? "up" : "down"; }

Link::Link(const topo::LinkSpec& spec, const LinkOptions& options) : m_spec(spec), m_options(options) {
  auto fail = [&](const std::string& what) { throw topo::TopologyError(spec.loc, "link: " + what); };
  if (spec.gen < lc::kMinGen || spec.gen > lc::kMaxGen)
    fail("gen must be 1..6, got " + std::to_string(spec.gen));
  if (std::find(std::begin(lc::kWidths), std::end(lc::kWidths), spec.width) == std::end(lc::kWidths))
    fail("width must be 1, 2, 4, 8, 12, 16 or 32, got " + std::to_string(spec.width));
  if (!power_of_two_in(spec.mps, 128, 4096)) fail("mps must be 128..4096, got " + std::to_string(spec.mps));
  if (!power_of_two_in(spec.mrrs, 128, 4096)) fail("mrrs must be 128..4096, got " + std::to_string(spec.mrrs));
  if (spec.rcb != 64 && spec.rcb != 128) fail("rcb must be 64 or 128, got " + std::to_string(spec.rcb));
  if (!(options.propagation_ns >= 0)) fail("propagation must not be negative");

  m_flit = lc::uses_flit_mode(spec.gen);
  m_own_dllps = !m_flit && options.dllp == DllpAccounting::Symmetric;
  m_framing = lc::tlp_framing_bytes(spec.gen);
  m_ecrc = options.ecrc ? lc::kEcrcBytes : 0;
  m_mps_shift = log2_of(spec.mps);
  m_mrrs_shift = log2_of(spec.mrrs);
  m_mps_mask = uint64_t(spec.mps) - 1;
  m_mrrs_mask = uint64_t(spec.mrrs) - 1;
  m_store_and_forward = spec.store_and_forward;
  m_mem_header_32 = uint64_t(mem_request_overhead(0));
  m_mem_header_64 = uint64_t(mem_request_overhead(lc::kFourGiB));
  m_cpl_shift = options.rcb_chunks ? log2_of(spec.rcb) : std::min(m_mps_shift, m_mrrs_shift);
  m_ack_limit = static_cast<uint64_t>(lc::dllp_interval(lc::ack_limit_table(spec.gen), spec.width, spec.mps));
  m_fc_guide = static_cast<uint64_t>(lc::dllp_interval(lc::fc_guide_table(spec.gen), spec.width, spec.mps));
  m_fc_is_ack = m_fc_guide == m_ack_limit;
  m_inv_ack = 1.0 / double(m_ack_limit);
  m_inv_fc = 1.0 / double(m_fc_guide);
  m_inv_skp = 1.0 / lc::kSkpIntervalBytes;

  const lc::LineEncoding enc = lc::line_encoding(spec.gen);
  const double gbytes_per_s = lc::kGigaTransfersPerSec[spec.gen] * enc.payload_bits / enc.coded_bits * spec.width / 8.0;
  m_byte_ps = 1e3 / gbytes_per_s;
  m_tlp_byte_ps = m_flit ? m_byte_ps * lc::kFlitBytes / lc::kFlitTlpBytes : m_byte_ps;
  m_prop_ps = options.propagation_ns * 1e3;
  m_burst_ok = !options.per_tlp_schedule && (m_own_dllps || m_flit);
  // settle_small(): below this many added bytes, the added bytes plus at most one ACK, one
  // UpdateFC and one SKP (20 B) stay short of every second threshold (thresholds are >= 1 B away).
  constexpr uint64_t kOneOfEach = 2 * lc::kDllpBytes + lc::kSkpBytes;
  const uint64_t shortest = std::min({m_ack_limit, m_fc_guide, uint64_t(lc::kSkpIntervalBytes)});
  m_single_crossing_below = shortest > kOneOfEach ? shortest - kOneOfEach + 1 : 0;
  for (Direction& d : m_dir) {
    d.to_ack = m_ack_limit;
    d.to_fc = m_fc_guide;
    d.to_skp = lc::kSkpIntervalBytes;
  }
}


void Link::reset_stats() {
  for (Direction& d : m_dir) d.stats = LinkDirStats{};
}

sc_time Link::serialisation(uint64_t wire_bytes) const { return from_ps(double(wire_bytes) * m_tlp_byte_ps); }

sc_time Link::propagation() const { return from_ps(m_prop_ps); }

double Link::tlp_bandwidth_gbps() const {
  const double raw = 8e3 / m_byte_ps;  // Gb/s after encoding
  if (m_flit) return raw * lc::kFlitTlpBytes / lc::kFlitBytes;
  const double share = double(lc::kDllpBytes) / double(m_ack_limit) + double(lc::kDllpBytes) / double(m_fc_guide) +
                       double(lc::kSkpBytes) / lc::kSkpIntervalBytes;
  return raw * (1.0 - share);
}

int Link::completion_overhead() const { return m_framing + lc::kHeader3dwBytes + m_ecrc; }

// ---------------------------------------------------------------------------------------------
// Which TLPs a request or a read's completions become
// ---------------------------------------------------------------------------------------------

namespace {

// [addr, addr + bytes) cut at multiples of 2^shift, each piece `header` bytes plus its DW-rounded
// data if `data`; `empty_data` is what an empty transfer carries (a zero-length write: 1 DW).
struct ChunkedShape {
  uint64_t tlps, wire, first_wire, last_wire;
};
ChunkedShape chunked_shape(uint64_t addr, uint64_t bytes, unsigned shift, uint64_t header, bool data,
                           uint64_t empty_data) {
  if (bytes == 0) return {1, header + empty_data, header + empty_data, header + empty_data};
  const uint64_t chunk = uint64_t{1} << shift;
  const uint64_t first_len = std::min(bytes, chunk - (addr & (chunk - 1)));
  const uint64_t tlps = 1 + ((bytes - first_len + chunk - 1) >> shift);
  if (!data) return {tlps, tlps * header, header, header};
  const uint64_t first = header + dw_span(addr, first_len);
  uint64_t last = first;
  if (tlps > 1) {
    const uint64_t last_addr = addr + first_len + ((tlps - 2) << shift);
    last = header + dw_span(last_addr, addr + bytes - last_addr);
  }
  // The pieces meet at DW-aligned addresses, so their DW spans add up to the whole one's.
  return {tlps, tlps * header + dw_span(addr, bytes), first, last};
}

}  // namespace

bool Link::request_shape(TlpKind kind, uint64_t addr, uint64_t bytes, BurstShape& shape) const {
  auto single = [&](uint64_t wire, uint64_t payload) {
    shape = BurstShape{1, wire, wire, wire, payload};
    return true;
  };
  switch (kind) {
    case TlpKind::MemWrite:
    case TlpKind::MemRead: {
      if (addr < lc::kFourGiB && bytes > lc::kFourGiB - addr) return false;  // header size changes midway
      const bool write = kind == TlpKind::MemWrite;
      const ChunkedShape c = chunked_shape(addr, bytes, write ? m_mps_shift : m_mrrs_shift,
                                           uint64_t(mem_request_overhead(addr)), write, write ? lc::kDwBytes : 0);
      shape = BurstShape{c.tlps, c.wire, c.first_wire, c.last_wire, write ? bytes : 0};
      return true;
    }
    case TlpKind::CfgRead0:
    case TlpKind::CfgRead1:
      return single(uint64_t(m_framing + lc::kHeader3dwBytes + m_ecrc), 0);
    case TlpKind::CfgWrite0:
    case TlpKind::CfgWrite1:
      return single(uint64_t(m_framing + lc::kHeader3dwBytes + lc::kConfigDataBytes + m_ecrc), lc::kConfigDataBytes);
    case TlpKind::Message:
      // PCIe 2.2.8: messages always use the 4 DW header; MsgD carries `bytes` of data.
      return single(m_framing + lc::kHeader4dwBytes + dw_span(0, bytes) + m_ecrc, bytes);
    case TlpKind::AtomicOp:
      // PCIe 6.15: FetchAdd/Swap carry one operand, CAS two; `bytes` is their total size.
      return single(mem_request_overhead(addr) + dw_span(0, bytes), bytes);
    case TlpKind::Completion:
      shape = completion_shape(addr, bytes);
      return true;
    case TlpKind::IoRead:  // PCIe 2.2.7: I/O requests use the 3 DW header; IOWr carries one DW
      return single(uint64_t(m_framing + lc::kHeader3dwBytes + m_ecrc), 0);
    case TlpKind::IoWrite:
      return single(uint64_t(m_framing + lc::kHeader3dwBytes + lc::kDwBytes + m_ecrc), lc::kDwBytes);
  }
  return false;
}

Link::BurstShape Link::completion_shape(uint64_t addr, uint64_t bytes) const {
  const ChunkedShape c = chunked_shape(addr, bytes, m_cpl_shift, uint64_t(completion_overhead()), true, 0);
  return BurstShape{c.tlps, c.wire, c.first_wire, c.last_wire, bytes};
}

template <class Emit>
void Link::for_each_request_tlp(TlpKind kind, uint64_t addr, uint64_t bytes, Emit&& emit) const {
  switch (kind) {
    case TlpKind::MemWrite:
      split_aligned(addr, bytes, m_mps_shift, [&](uint64_t a, uint64_t n) {
        // A zero-length write is 1 DW with no byte enabled (PCIe 2.2.5).
        emit(mem_request_overhead(a) + (n ? dw_span(a, n) : uint64_t(lc::kDwBytes)), n);
      });
      return;
    case TlpKind::MemRead:
      split_aligned(addr, bytes, m_mrrs_shift, [&](uint64_t a, uint64_t) { emit(uint64_t(mem_request_overhead(a)), 0); });
      return;
    case TlpKind::Completion:
      for_each_completion(addr, bytes, emit);
      return;
    default: {
      BurstShape one;
      request_shape(kind, addr, bytes, one);  // single-TLP kinds
      emit(one.wire, one.payload);
      return;
    }
  }
}

template <class Emit>
void Link::for_each_completion(uint64_t addr, uint64_t bytes, Emit&& emit) const {
  split_aligned(addr, bytes, m_cpl_shift,
                [&](uint64_t a, uint64_t n) { emit(completion_overhead() + dw_span(a, n), n); });
}

// ---------------------------------------------------------------------------------------------
// Carrying bursts
// ---------------------------------------------------------------------------------------------

void Link::carry_request_general(LinkDir dir, TlpKind kind, uint64_t addr, uint64_t bytes, sc_time& head,
                                 sc_time& tail) {
  Direction& d = m_dir[index(dir)];
  BurstShape shape;
  if (fast_path_ok(d) && request_shape(kind, addr, bytes, shape)) {
    transmit_burst(d, shape, head, tail);
    return;
  }
  transmit_per_tlp(dir, [&](auto&& emit) { for_each_request_tlp(kind, addr, bytes, emit); }, head, tail);
}

void Link::carry_completions(LinkDir dir, uint64_t addr, uint64_t bytes, sc_time& head, sc_time& tail) {
  Direction& d = m_dir[index(dir)];
  if (fast_path_ok(d)) {
    transmit_burst(d, completion_shape(addr, bytes), head, tail);
    return;
  }
  transmit_per_tlp(dir, [&](auto&& emit) { for_each_completion(addr, bytes, emit); }, head, tail);
}

// TLPs go back to back from max(head, busy). The last one may instead wait for its own readiness
// (paced input); intermediate TLPs are assumed not to (exact for tail = 0 or a fast producer,
// within a few DLLP times otherwise).
void Link::transmit_burst(Direction& d, const BurstShape& s, sc_time& head, sc_time& tail) {
  if (s.tlps == 1) {
    transmit_one(d, s.wire, s.payload, head, tail);
    return;
  }
  const double head_ps = to_ps(head);
  const double first_start = std::max(head_ps, d.busy_ps);
  const double first_end = first_start + double(s.first_wire) * m_tlp_byte_ps;
  const uint64_t before_last = s.wire - s.last_wire;
  const uint64_t overhead = settle(d, before_last);
  const double contiguous = first_start + double(before_last) * m_tlp_byte_ps + double(overhead) * m_byte_ps;
  const double tail_ps = to_ps(tail);
  const double ready = tail_ps > 0 ? head_ps + tail_ps * double(before_last) / double(s.wire) : head_ps;
  const double last_end = std::max(contiguous, ready) + double(s.last_wire) * m_tlp_byte_ps;
  d.busy_ps = last_end + double(settle(d, s.last_wire)) * m_byte_ps;
  count_tlps(d, s.tlps, s.wire, s.payload);
  report(first_start, first_end, last_end, head, tail, link_time::resolution_ps());
}

template <class ForEachTlp>
void Link::transmit_per_tlp(LinkDir dir, ForEachTlp&& for_each_tlp, sc_time& head, sc_time& tail) {
  Direction& d = m_dir[index(dir)];
  const double head_ps = to_ps(head);
  const double tail_ps = to_ps(tail);

  // A paced input: TLP k becomes available in proportion to the wire bytes before it.
  double total = 0;
  if (tail_ps > 0) for_each_tlp([&](uint64_t wire, uint64_t) { total += double(wire); });

  double before = 0;
  double first_start = -1, first_end = 0, last_end = 0;
  for_each_tlp([&](uint64_t wire, uint64_t payload) {
    const double ready = tail_ps > 0 ? head_ps + tail_ps * before / total : head_ps;
    before += double(wire);
    if (d.pending_count) send_pending_dllps(d, ready);
    const double start = std::max(ready, d.busy_ps);
    const double end = start + double(wire) * m_tlp_byte_ps;
    d.busy_ps = end + double(settle(d, wire)) * m_byte_ps;
    count_tlps(d, 1, wire, payload);
    if (first_start < 0) {
      first_start = start;
      first_end = end;
    }
    last_end = end;
    if (m_options.dllp == DllpAccounting::Reverse && !m_flit) owe_dllps(dir, wire, end + m_prop_ps);
  });
  report(first_start, first_end, last_end, head, tail, link_time::resolution_ps());
}

// ---------------------------------------------------------------------------------------------
// DLLPs and SKPs
// ---------------------------------------------------------------------------------------------

// The least total >= added with total = added + the DLLP and SKP bytes of all thresholds at or
// below total: the inserted bytes count as traffic too. Iterating from below reaches it.
uint64_t Link::settle_crossing(Direction& d, uint64_t added) {
  uint64_t acks = 0, fcs = 0, skps = 0, total = added;
  for (;;) {
    if (m_own_dllps) {
      acks = crossings(d.to_ack, m_ack_limit, m_inv_ack, total);
      // Same interval and phase (all but two table cells): the same count.
      fcs = m_fc_is_ack ? acks : crossings(d.to_fc, m_fc_guide, m_inv_fc, total);
    }
    skps = crossings(d.to_skp, lc::kSkpIntervalBytes, m_inv_skp, total);
    const uint64_t next = added + (acks + fcs) * lc::kDllpBytes + skps * lc::kSkpBytes;
    if (next == total) break;
    total = next;
  }
  if (m_own_dllps) {
    d.to_ack = d.to_ack + acks * m_ack_limit - total;
    if (!m_fc_is_ack) d.to_fc = d.to_fc + fcs * m_fc_guide - total;
  }
  d.to_skp = d.to_skp + skps * lc::kSkpIntervalBytes - total;
  d.stats.dllps += acks + fcs;
  d.stats.dllp_bytes += (acks + fcs) * lc::kDllpBytes;
  d.stats.skp_bytes += skps * lc::kSkpBytes;
  return total - added;
}

// The receiver acknowledges and returns credits on the opposite direction, once the TLP bytes
// have arrived.
void Link::owe_dllps(LinkDir dir, uint64_t wire, double arrived_ps) {
  Direction& rx = m_dir[index(dir)];
  Direction& o = m_dir[index(opposite(dir))];
  rx.rx_for_ack += wire;
  rx.rx_for_fc += wire;
  for (; rx.rx_for_ack >= m_ack_limit; rx.rx_for_ack -= m_ack_limit) queue_dllp(o, arrived_ps);
  for (; rx.rx_for_fc >= m_fc_guide; rx.rx_for_fc -= m_fc_guide) queue_dllp(o, arrived_ps);
}

// Statistics count a queued DLLP at once: it will be sent.
void Link::queue_dllp(Direction& d, double due_ps) {
  if (d.pending_count == kPendingDllps) send_oldest_pending_dllp(d);  // bounded look-ahead
  d.pending[(d.pending_first + d.pending_count) % kPendingDllps] = due_ps;
  d.pending_count++;
  d.stats.dllps++;
  d.stats.dllp_bytes += lc::kDllpBytes;
}

void Link::send_oldest_pending_dllp(Direction& d) {
  const double due = d.pending[d.pending_first];
  d.pending_first = (d.pending_first + 1) % kPendingDllps;
  d.pending_count--;
  d.busy_ps = std::max(d.busy_ps, due) + lc::kDllpBytes * m_byte_ps;
  d.busy_ps += double(settle(d, lc::kDllpBytes)) * m_byte_ps;  // SKPs
}

// Sends the owed DLLPs that are due before a TLP ready at `before_ps` could start.
void Link::send_pending_dllps(Direction& d, double before_ps) {
  while (d.pending_count && d.pending[d.pending_first] <= std::max(before_ps, d.busy_ps))
    send_oldest_pending_dllp(d);
}

sc_time switch_port_latency(int gen) { return sc_time(lc::switch_latency_ns(gen), sc_core::SC_NS); }

sc_time root_port_latency(int gen) { return sc_time(lc::root_port_latency_ns(gen), sc_core::SC_NS); }

}  // namespace pciesim
