// The PCIe extension carried by every TLM-2.0 generic payload in the fabric, and the record a
// transaction leaves behind: its hops and exactly one verdict.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <tlm>

namespace pciesim {

class RouteRecorder;  // models/pcie/route_cache.h

// Requester / completer identity. With ARI (PCIe 6.13) the 8-bit devfn is a plain function number;
// the encoding on the wire is the same 16 bits, only its printing and decoding differ.
struct RequesterId {
  uint8_t bus = 0;
  uint8_t devfn = 0;

  static constexpr RequesterId from_bdf(unsigned bus, unsigned dev, unsigned fn) {
    return RequesterId{static_cast<uint8_t>(bus), static_cast<uint8_t>(((dev & 0x1f) << 3) | (fn & 7))};
  }
  constexpr uint16_t raw() const { return static_cast<uint16_t>((bus << 8) | devfn); }
  constexpr unsigned device() const { return devfn >> 3; }
  constexpr unsigned function() const { return devfn & 7; }
  constexpr bool operator==(const RequesterId& o) const { return raw() == o.raw(); }
  constexpr bool operator!=(const RequesterId& o) const { return raw() != o.raw(); }
  // "bb:dd.f", or "bb:00.ff"-style "bb:fn" when the function sits on an ARI bus.
  std::string to_string(bool ari = false) const;
};

// PCIe 2.2.1: the transaction kinds the fabric routes.
enum class TlpKind : uint8_t {
  MemRead,
  MemWrite,
  CfgRead0,
  CfgRead1,
  CfgWrite0,
  CfgWrite1,
  Message,
  AtomicOp,
  Completion,  // materialised only when a completion must be routed on its own (ACS CR redirect)
  IoRead,      // PCIe 2.2.7: I/O requests (CPU port I/O; one DW at most). Last, so that memory
  IoWrite,     // and config kinds keep their values (docs/vga.md).
};
const char* to_string(TlpKind kind);
constexpr bool is_config(TlpKind k) {
  return k == TlpKind::CfgRead0 || k == TlpKind::CfgRead1 || k == TlpKind::CfgWrite0 ||
         k == TlpKind::CfgWrite1;
}
constexpr bool is_io(TlpKind k) { return k == TlpKind::IoRead || k == TlpKind::IoWrite; }
constexpr bool is_memory(TlpKind k) {
  return k == TlpKind::MemRead || k == TlpKind::MemWrite || k == TlpKind::AtomicOp;
}

// PCIe 10.2.1: AT field of memory requests.
enum class AddressType : uint8_t { Untranslated = 0, TranslationRequest = 1, Translated = 2 };
const char* to_string(AddressType at);

// What a request issued with ATS (DmaOptions::ats, models/pcie/ats.h) found in the function's
// Address Translation Cache.
enum class AtcOutcome : uint8_t {
  NotUsed,         // not an ATS request, or ATS Enable clear: sent untranslated
  Hit,             // sent translated (AT = 10b) with the cached translation
  Miss,            // a Translation Request filled the ATC, then sent translated
  NoTranslation,   // the completion had R = W = 0 (or lacked the right): sent untranslated
  RequestFailed,   // the Translation Request itself failed: its verdict is the record's
};
const char* to_string(AtcOutcome o);

// PCIe 7.7.8: ACS capability / control bit positions.
enum class AcsBit : uint8_t { SV = 0, TB = 1, RR = 2, CR = 3, UF = 4, EC = 5, DT = 6, None = 0xff };
const char* to_string(AcsBit bit);
constexpr uint16_t acs_mask(AcsBit bit) { return static_cast<uint16_t>(1u << static_cast<unsigned>(bit)); }

enum class Outcome : uint8_t {
  Pending,             // still travelling
  Delivered,           // a completer accepted it
  Redirected,          // delivered, but ACS sent it upstream on the way (see redirect_*)
  BlockedByAcs,        // ACS violation at a port (acs_bit, port)
  UnsupportedRequest,  // no one claims it (PCIe 2.3.1 UR)
  CompleterAbort,      // the completer refused it (PCIe 2.3.1 CA)
  IommuFault,          // the remapping unit faulted it (fault_reason holds the VT-d reason code)
};
const char* to_string(Outcome o);

// Hops are interned port ids (see PortRegistry in models/pcie/port_registry.h): "component.port".
using HopId = uint32_t;
constexpr HopId kNoHop = 0xffffffffu;

// Hops kept inline so recording a path never allocates (ARCHITECTURE.md: DMA fast path).
constexpr unsigned kMaxHops = 32;

struct Verdict {
  Outcome outcome = Outcome::Pending;
  AcsBit acs_bit = AcsBit::None;  // BlockedByAcs / Redirected: which bit acted
  HopId port = kNoHop;            // where the verdict (or the redirect) happened
  uint16_t fault_reason = 0;      // IommuFault: VT-d fault reason (FRCD.FR)
};

class PcieExtension : public tlm::tlm_extension<PcieExtension> {
 public:
  // --- TLP header fields ---
  TlpKind kind = TlpKind::MemRead;
  RequesterId requester;            // as the TLP carries it now (a PCIe-to-PCI bridge rewrites it)
  RequesterId original_requester;   // the function that really issued it
  RequesterId completer;            // set by the completer
  bool has_pasid = false;
  uint32_t pasid = 0;               // 20 bits
  bool privileged = false;
  bool execute = false;
  AddressType at = AddressType::Untranslated;
  uint16_t tag = 0;
  bool no_snoop = false;
  bool relaxed_ordering = false;
  // Messages (kind Message): PCIe 2.2.8 Message Code, e.g. ERR_COR 0x30 (models/pcie/aer.h).
  uint8_t message_code = 0;
  // Config requests: target bus/devfn and register (the generic payload's address is the ECAM
  // offset only at the host bridge; inside the fabric the ids below route it).
  RequesterId cfg_target;
  uint16_t cfg_register = 0;
  // Set by the fabric while the TLP climbs after an ACS redirect: upper ports with UF forward
  // it upstream instead of reflecting it back down (PCIe 6.12.1.1).
  bool redirected = false;
  // Set once a completion was routed as its own TLP (ACS CR redirect): links on the request's
  // way back then carry no second copy of it.
  bool completion_routed = false;
  // Set by whoever builds the TLP for throughput runs: no hops are recorded.
  bool record_path = true;
  // Timing of a burst (a transfer larger than one TLP, split at MPS/MRRS/RCB by the links): the
  // TLM delay argument is when the burst's first TLP is at the current point; `tail` is how much
  // later its last byte is. Links update both (see models/pcie/link.h).
  sc_core::sc_time tail = sc_core::SC_ZERO_TIME;
  // Set only while the route cache records a hop-by-hop run (models/pcie/route_cache.h): the
  // components on the way report their timing steps and routing decisions to it. Null otherwise,
  // so each report is one untaken branch.
  RouteRecorder* recorder = nullptr;

  // --- the IOMMU's part of the record (set by the remapping unit the TLP passed) ---
  bool iommu_checked = false;       // a remapping unit handled it (translated, passed through or faulted)
  uint64_t iommu_input = 0;         // address as the device sent it (IOVA)
  uint64_t iommu_output = 0;        // physical address it was translated to
  uint16_t iommu_domain = 0;        // domain id of the translation
  HopId iommu_unit = kNoHop;
  // ATS requests: what the ATC did, and the Translation Request's completion entry on a miss.
  AtcOutcome atc = AtcOutcome::NotUsed;
  uint64_t ats_completion = 0;

  // --- the record ---
  std::array<HopId, kMaxHops> hops{};
  // When the request (the burst's first TLP) reached each hop: simulated time plus the TLM delay
  // at that point. Valid for every hop when hop_times is set; a route replayed from the route
  // cache (models/pcie/route_cache.h) restores the hops but not their times, and clears it.
  std::array<sc_core::sc_time, kMaxHops> hop_at{};
  bool hop_times = true;
  uint8_t hop_count = 0;
  bool hops_truncated = false;
  Verdict verdict;                  // terminal outcome
  AcsBit redirect_bit = AcsBit::None;
  HopId redirect_port = kNoHop;

  // `delay`: the caller's TLM delay argument (when the request is at this hop, relative to now).
  void add_hop(HopId h, const sc_core::sc_time& delay) {
    if (!record_path) return;
    if (hop_count < kMaxHops) {
      // (A replayed route has cleared hop_times before its unit adds its hop: no time to keep.)
      if (hop_times) hop_at[hop_count] = sc_core::sc_get_curr_simcontext()->time_stamp() + delay;
      hops[hop_count++] = h;
    } else {
      hops_truncated = true;
    }
  }
  // The completer, or the component that ends the transaction, calls exactly one of these.
  void deliver(HopId at_port) { finish(Outcome::Delivered, AcsBit::None, at_port); }
  void fail(Outcome o, HopId at_port, AcsBit bit = AcsBit::None, uint16_t reason = 0) {
    finish(o, bit, at_port);
    verdict.fault_reason = reason;
  }
  void note_redirect(AcsBit bit, HopId at_port) {
    if (redirect_bit == AcsBit::None) {
      redirect_bit = bit;
      redirect_port = at_port;
    }
    redirected = true;
  }
  // The verdict a user sees: a failure wins; a delivered TLP that was redirected is "Redirected".
  Verdict final_verdict() const;
  bool finished() const { return verdict.outcome != Outcome::Pending; }
  // A completer (or the requester receiving completions) has the whole burst only when its last
  // byte arrived: fold the burst's tail into the TLM delay.
  void consume_burst(sc_core::sc_time& delay) {
    delay += tail;
    tail = sc_core::SC_ZERO_TIME;
  }
  void reset_record() {
    hop_count = 0;
    hop_times = true;
    hops_truncated = false;
    verdict = Verdict{};
    redirect_bit = AcsBit::None;
    redirect_port = kNoHop;
    redirected = false;
    completion_routed = false;
    tail = sc_core::SC_ZERO_TIME;
    iommu_checked = false;
    iommu_input = iommu_output = 0;
    iommu_domain = 0;
    iommu_unit = kNoHop;
    atc = AtcOutcome::NotUsed;
    ats_completion = 0;
  }

  tlm::tlm_extension_base* clone() const override {
    auto* copy = new PcieExtension(*this);
    copy->recorder = nullptr;  // a copy is not the transaction being recorded
    return copy;
  }
  void copy_from(const tlm::tlm_extension_base& other) override {
    RouteRecorder* keep = recorder;
    *this = static_cast<const PcieExtension&>(other);
    recorder = keep;
  }

 private:
  void finish(Outcome o, AcsBit bit, HopId at_port) {
    if (finished()) return;  // first terminal decision wins
    verdict.outcome = o;
    verdict.acs_bit = bit;
    verdict.port = at_port;
  }
};

// Maps a verdict to the TLM response status the initiator sees.
tlm::tlm_response_status response_for(Outcome o);

}  // namespace pciesim
