// Endpoint::dma with DmaOptions::ats: the device side of Address Translation Services (PCIe 6.0
// 10.1-10.2; models/pcie/ats.h).
#include <algorithm>
#include <cstring>

#include "pcie/endpoint.h"

namespace pciesim {

namespace {
constexpr uint64_t kPage = 4096;  // PCIe 10.2.2: translations are requested for 4 KiB-aligned addresses

// PCIe 10.2.3: R grants reads, W writes; an AtomicOp reads and writes (6.15).
bool allows(const AtcTranslation& t, TlpKind kind) {
  if (kind == TlpKind::MemRead) return t.read;
  if (kind == TlpKind::MemWrite) return t.write;
  return t.read && t.write;
}

// "Worse" of two pieces' outcomes, for a request split at 4 KiB boundaries.
AtcOutcome combine(AtcOutcome a, AtcOutcome b) { return static_cast<uint8_t>(b) > static_cast<uint8_t>(a) ? b : a; }
}  // namespace

const char* to_string(AtcOutcome o) {
  switch (o) {
    case AtcOutcome::NotUsed: return "not-used";
    case AtcOutcome::Hit: return "hit";
    case AtcOutcome::Miss: return "miss";
    case AtcOutcome::NoTranslation: return "no-translation";
    case AtcOutcome::RequestFailed: return "request-failed";
  }
  return "?";
}

const PcieExtension& Endpoint::dma_ats(unsigned fn, TlpKind kind, uint64_t addr, uint8_t* data, unsigned len,
                                       sc_core::sc_time& delay, const DmaOptions& opt) {
  DmaOptions plain = opt;
  plain.ats = false;
  plain.at = AddressType::Untranslated;
  // The records dma() returns are this endpoint's own payload extensions: adding the ATC outcome
  // to one is writing to an object that is not const.
  auto record = [](const PcieExtension& e, AtcOutcome o, uint64_t completion = 0) -> const PcieExtension& {
    auto& m = const_cast<PcieExtension&>(e);
    m.atc = o;
    m.ats_completion = completion;
    return m;
  };
  AtsFunction* a = ats(fn);
  if (!a || !a->enabled() || !function(fn)) return record(dma(fn, kind, addr, data, len, delay, plain), AtcOutcome::NotUsed);

  // A request spanning 4 KiB pages goes out as one TLP per page (PCIe 6.0 2.2.7), each with its
  // own translation. The pieces are issued one after the other (no overlap of their latencies).
  if (len && (addr % kPage) + len > kPage) {
    AtcOutcome worst = AtcOutcome::NotUsed;
    const PcieExtension* last = nullptr;
    for (uint64_t done = 0; done < len;) {
      const auto piece = static_cast<unsigned>(std::min<uint64_t>(len - done, kPage - (addr + done) % kPage));
      const PcieExtension& e = dma_ats(fn, kind, addr + done, data ? data + done : nullptr, piece, delay, opt);
      worst = combine(worst, e.atc);
      last = &e;
      done += piece;
      if (e.verdict.outcome != Outcome::Delivered) break;  // the first failing piece is the record
    }
    return record(*last, worst, last->ats_completion);
  }

  if (const AtcTranslation* t = a->atc().lookup(addr); t && allows(*t, kind)) {
    plain.at = AddressType::Translated;
    return record(dma(fn, kind, t->translate(addr), data, len, delay, plain), AtcOutcome::Hit);
  }

  // PCIe 10.2.2: a Translation Request, a memory read with AT = 01b for the 4 KiB-aligned
  // untranslated address, completed with one 8-byte translation entry (10.2.3).
  a->count_translation_request();
  uint8_t entry_bytes[8] = {};
  DmaOptions treq = plain;
  treq.at = AddressType::TranslationRequest;
  const PcieExtension& req = dma(fn, TlpKind::MemRead, addr & ~(kPage - 1), entry_bytes, sizeof entry_bytes, delay, treq);
  if (req.verdict.outcome != Outcome::Delivered) return record(req, AtcOutcome::RequestFailed);
  uint64_t entry = 0;
  std::memcpy(&entry, entry_bytes, sizeof entry);  // TLP payloads are little-endian, as the host
  const AtcTranslation t = decode_translation_completion(addr, entry);
  // PCIe 10.2.3: R = W = 0 is "no translation"; such an entry is not cached.
  if (t.read || t.write) a->atc().fill(t);
  if (!allows(t, kind)) {
    // PCIe 10.2.3: without a usable translation the function may still send the request
    // untranslated; the translation agent then checks it as any untranslated request.
    return record(dma(fn, kind, addr, data, len, delay, plain), AtcOutcome::NoTranslation, entry);
  }
  plain.at = AddressType::Translated;
  return record(dma(fn, kind, t.translate(addr), data, len, delay, plain), AtcOutcome::Miss, entry);
}

}  // namespace pciesim
