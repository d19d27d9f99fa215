#include "iommu/vtd_regs.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "iommu/fault_recorder.h"
#include "iommu/invalidation.h"

namespace pciesim::vtd {

// ---------------------------------------------------------------------------------------------
// RegisterBank: storage and the one function that applies the masks.

void RegisterBank::define(const RegisterSpec& spec) {
  if ((spec.size != 4 && spec.size != 8) || spec.offset % spec.size != 0)
    throw std::logic_error(std::string("vtd register ") + spec.name + ": bad size or alignment");
  const uint32_t first = spec.offset / 4, last = (spec.offset + spec.size) / 4;
  if (m_word_index.size() < last) m_word_index.resize(last, -1);
  for (uint32_t w = first; w < last; ++w)
    if (m_word_index[w] >= 0)
      throw std::logic_error(std::string("vtd register ") + spec.name + " overlaps " +
                             m_specs[static_cast<size_t>(m_word_index[w])].name);
  const auto index = static_cast<int32_t>(m_specs.size());
  for (uint32_t w = first; w < last; ++w) m_word_index[w] = index;
  m_specs.push_back(spec);
  m_slots.push_back(Slot{spec.reset, {}});
}

void RegisterBank::on_write(uint32_t offset, WriteHandler handler) {
  const int i = slot_at(offset);
  if (i < 0 || m_specs[static_cast<size_t>(i)].offset != offset)
    throw std::logic_error("vtd register handler for an undefined offset");
  m_slots[static_cast<size_t>(i)].on_write = std::move(handler);
}

int RegisterBank::slot_at(uint32_t offset) const {
  const uint32_t w = offset / 4;
  return w < m_word_index.size() ? m_word_index[w] : -1;
}

const RegisterSpec* RegisterBank::find(uint32_t offset) const {
  const int i = slot_at(offset);
  if (i < 0 || m_specs[static_cast<size_t>(i)].offset != offset) return nullptr;
  return &m_specs[static_cast<size_t>(i)];
}

const RegisterSpec* RegisterBank::spec(uint32_t offset) const { return find(offset); }

uint64_t RegisterBank::get(uint32_t offset) const {
  const int i = slot_at(offset);
  return i < 0 ? 0 : m_slots[static_cast<size_t>(i)].value;
}

void RegisterBank::set(uint32_t offset, uint64_t value) {
  ++m_changes;
  const int i = slot_at(offset);
  if (i >= 0) m_slots[static_cast<size_t>(i)].value = value;
}

void RegisterBank::reset() {
  ++m_changes;
  for (size_t i = 0; i < m_specs.size(); ++i) m_slots[i].value = m_specs[i].reset;
}

uint64_t RegisterBank::read32(uint32_t offset) const {
  const int i = slot_at(offset);
  if (i < 0) return 0;
  const RegisterSpec& s = m_specs[static_cast<size_t>(i)];
  const unsigned shift = (offset - s.offset) * 8;
  return ((m_slots[static_cast<size_t>(i)].value & ~s.womask) >> shift) & 0xffffffffull;
}

uint64_t RegisterBank::read(uint32_t offset, unsigned size) const {
  if (size == 4 && offset % 4 == 0) return read32(offset);
  if (size == 8 && offset % 8 == 0) return read32(offset) | (read32(offset + 4) << 32);
  return 0;  // unaligned or unsupported size
}

// One write into one register, limited to the byte lanes `lanes` (VT-d 11.4: RW bits take the new
// value, RW1C bits clear where a 1 is written, everything else keeps its value).
static uint64_t apply_masks(const RegisterSpec& s, uint64_t old_value, uint64_t value, uint64_t lanes) {
  const uint64_t rw = s.wmask & lanes, w1c = s.w1c & lanes;
  uint64_t next = (old_value & ~rw) | (value & rw);
  next &= ~(value & w1c);
  return next;
}

void RegisterBank::write32(uint32_t offset, uint32_t value) {
  const int i = slot_at(offset);
  if (i < 0) return;
  const RegisterSpec& s = m_specs[static_cast<size_t>(i)];
  Slot& slot = m_slots[static_cast<size_t>(i)];
  const unsigned shift = (offset - s.offset) * 8;
  const uint64_t old_value = slot.value;
  slot.value = apply_masks(s, old_value, static_cast<uint64_t>(value) << shift, 0xffffffffull << shift);
  if (slot.on_write) slot.on_write(old_value, slot.value);
  ++m_changes;  // after the handler: what it derived from the write is in place
}

void RegisterBank::write(uint32_t offset, unsigned size, uint64_t value) {
  if (size == 4 && offset % 4 == 0) return write32(offset, static_cast<uint32_t>(value));
  if (size != 8 || offset % 8 != 0) return;
  const RegisterSpec* s = find(offset);
  if (s && s->size == 8) {
    Slot& slot = m_slots[static_cast<size_t>(slot_at(offset))];
    const uint64_t old_value = slot.value;
    slot.value = apply_masks(*s, old_value, value, ~0ull);
    if (slot.on_write) slot.on_write(old_value, slot.value);
    ++m_changes;
    return;
  }
  // two 32-bit registers (or a hole): low word first, as two 4-byte writes
  write32(offset, static_cast<uint32_t>(value));
  write32(offset + 4, static_cast<uint32_t>(value >> 32));
}

// ---------------------------------------------------------------------------------------------
// EventInterrupt (VT-d 5.1.6; FECTL/IECTL IP description).

EventInterrupt::EventInterrupt(RegisterBank& regs, uint32_t control, uint32_t data, uint32_t addr,
                               uint32_t upper_addr, bool upper_addr_implemented)
    : m_regs(regs), m_control(control), m_data(data), m_addr(addr), m_upper_addr(upper_addr),
      m_upper(upper_addr_implemented) {}

bool EventInterrupt::pending() const { return (m_regs.get(m_control) & ectl::kIp) != 0; }

void EventInterrupt::raise() {
  m_regs.set_bits(m_control, ectl::kIp);
  if (!(m_regs.get(m_control) & ectl::kIm)) deliver();
}

void EventInterrupt::control_written() {
  const uint64_t c = m_regs.get(m_control);
  if ((c & ectl::kIp) && !(c & ectl::kIm)) deliver();
}

void EventInterrupt::serviced() { m_regs.clear_bits(m_control, ectl::kIp); }

void EventInterrupt::deliver() {
  uint64_t addr = m_regs.get(m_addr) & 0xfffffffcull;
  if (m_upper) addr |= (m_regs.get(m_upper_addr) & 0xffffffffull) << 32;
  const auto data = static_cast<uint32_t>(m_regs.get(m_data));
  m_regs.clear_bits(m_control, ectl::kIp);
  ++m_delivered;
  if (m_sink) m_sink(addr, data);
}

// ---------------------------------------------------------------------------------------------
// RegisterFile

namespace {

constexpr bool bit(uint64_t v, unsigned n) { return (v >> n) & 1; }
// CAP / ECAP bits Capabilities has no accessor for (VT-d 11.4.2-11.4.3; hardware-facts 1.2-1.3).
bool cap_afl(const Capabilities& c) { return bit(c.cap, 3); }
bool cap_plmr(const Capabilities& c) { return bit(c.cap, 5); }
bool cap_phmr(const Capabilities& c) { return bit(c.cap, 6); }
bool cap_esirtps(const Capabilities& c) { return bit(c.cap, 62); }
bool cap_esrtps(const Capabilities& c) { return bit(c.cap, 63); }
bool ecap_mts(const Capabilities& c) { return bit(c.ecap, 25); }
bool ecap_prs(const Capabilities& c) { return bit(c.ecap, 29); }
bool ecap_adms(const Capabilities& c) { return bit(c.ecap, 52); }

constexpr uint64_t kPageMask = ~0xfffull;
constexpr uint64_t kCcmdWmask = (1ull << 63) | (3ull << 61) | (3ull << 32) | 0xffffffffull;
constexpr uint64_t kIotlbWmask = (1ull << 63) | (3ull << 60) | (1ull << 49) | (1ull << 48) | (0xffffull << 32);
constexpr uint64_t kIvaWmask = kPageMask | 0x7f;  // ADDR 63:12, IH 6, AM 5:0

}  // namespace

// The command table (VT-d 11.4.4). Order matters only for a write that carries several commands
// (software issues one at a time): pointers are latched before anything is enabled.
const RegisterFile::GlobalCommand RegisterFile::kCommands[] = {
    {"SRTP", gcmd::kSrtp, CommandKind::OneShot, [](const Capabilities&) { return true; }, &RegisterFile::command_srtp},
    {"SFL", gcmd::kSfl, CommandKind::OneShot, cap_afl, &RegisterFile::command_sfl},
    {"SIRTP", gcmd::kSirtp, CommandKind::OneShot, [](const Capabilities& c) { return c.ir(); }, &RegisterFile::command_sirtp},
    {"WBF", gcmd::kWbf, CommandKind::OneShot, [](const Capabilities& c) { return c.rwbf(); }, &RegisterFile::command_wbf},
    {"QIE", gcmd::kQie, CommandKind::Enable, [](const Capabilities& c) { return c.qi(); }, &RegisterFile::command_qie},
    {"EAFL", gcmd::kEafl, CommandKind::Enable, cap_afl, &RegisterFile::command_eafl},
    {"TE", gcmd::kTe, CommandKind::Enable, [](const Capabilities&) { return true; }, &RegisterFile::command_te},
    {"IRE", gcmd::kIre, CommandKind::Enable, [](const Capabilities& c) { return c.ir(); }, &RegisterFile::command_ire},
    {"CFI", gcmd::kCfi, CommandKind::Enable, [](const Capabilities& c) { return c.ir(); }, &RegisterFile::command_cfi},
};

RegisterFile::RegisterFile(const Capabilities& caps, InvalidationTarget& target, const MemReader& mem,
                           QueueMemWriter& writer)
    : m_caps(caps), m_target(target) {
  declare();
  m_faults = std::make_unique<FaultRecorder>(m_bank, m_caps);
  m_reg_inval = std::make_unique<RegisterInvalidation>(m_bank, m_caps, target);
  m_queue = std::make_unique<InvalidationQueue>(m_bank, m_caps, target, mem, writer, *m_faults);
  wire();
}

RegisterFile::~RegisterFile() = default;

bool RegisterFile::register_invalidation_supported() const { return (m_caps.version >> 4) < 6; }

// The table. One row per register; which rows exist follows CAP/ECAP (VT-d 11.4; hardware-facts 1.1).
void RegisterFile::declare() {
  const Capabilities& c = m_caps;
  RegisterBank& r = m_bank;
  const bool eim = c.eim();
  const uint64_t msi_data_wmask = eim ? 0xffffffffull : 0xffffull;  // EIMD 31:16 only with EIM
  const uint64_t msi_upper_wmask = eim ? 0xffffffffull : 0;
  constexpr uint64_t kAllCommands = gcmd::kTe | gcmd::kSrtp | gcmd::kSfl | gcmd::kEafl | gcmd::kWbf |
                                    gcmd::kQie | gcmd::kIre | gcmd::kSirtp | gcmd::kCfi;

  //        name        offset          size reset                wmask                 w1c   womask
  r.define({"VER", reg::kVer, 4, c.version, 0, 0, 0});
  r.define({"CAP", reg::kCap, 8, c.cap, 0, 0, 0});
  r.define({"ECAP", reg::kEcap, 8, c.ecap, 0, 0, 0});
  r.define({"GCMD", reg::kGcmd, 4, 0, kAllCommands, 0, kAllCommands});
  r.define({"GSTS", reg::kGsts, 4, 0, 0, 0, 0});
  const uint64_t ttm_wmask = (c.smts() ? 1ull << 10 : 0) | (ecap_adms(c) ? 1ull << 11 : 0);
  r.define({"RTADDR", reg::kRtaddr, 8, 0, kPageMask | ttm_wmask, 0, 0});
  if (register_invalidation_supported()) r.define({"CCMD", reg::kCcmd, 8, 0, kCcmdWmask, 0, 0});

  uint64_t fsts_w1c = fsts::kPfo;
  if (cap_afl(c)) fsts_w1c |= fsts::kAfo | fsts::kApf;
  if (c.qi()) fsts_w1c |= fsts::kIqe;
  if (c.dt()) fsts_w1c |= fsts::kIce | fsts::kIte;
  r.define({"FSTS", reg::kFsts, 4, 0, 0, fsts_w1c, 0});
  r.define({"FECTL", reg::kFectl, 4, ectl::kIm, ectl::kIm, 0, 0});
  r.define({"FEDATA", reg::kFedata, 4, 0, msi_data_wmask, 0, 0});
  r.define({"FEADDR", reg::kFeaddr, 4, 0, 0xfffffffcull, 0, 0});
  r.define({"FEUADDR", reg::kFeuaddr, 4, 0, msi_upper_wmask, 0, 0});
  if (cap_afl(c)) r.define({"AFLOG", reg::kAflog, 8, 0, kPageMask | 0xe00, 0, 0});  // FLA 63:12, FLS 11:9

  if (cap_plmr(c) || cap_phmr(c)) r.define({"PMEN", reg::kPmen, 4, 0, field::kPmenEpm, 0, 0});
  if (cap_plmr(c)) {
    r.define({"PLMBASE", reg::kPlmbase, 4, 0, 0xffe00000ull, 0, 0});  // 2 MiB granular
    r.define({"PLMLIMIT", reg::kPlmlimit, 4, 0, 0xffe00000ull, 0, 0});
  }
  if (cap_phmr(c)) {
    r.define({"PHMBASE", reg::kPhmbase, 8, 0, ~0x1fffffull, 0, 0});
    r.define({"PHMLIMIT", reg::kPhmlimit, 8, 0, ~0x1fffffull, 0, 0});
  }

  if (c.qi()) {
    r.define({"IQH", reg::kIqh, 8, 0, 0, 0, 0});
    r.define({"IQT", reg::kIqt, 8, 0, field::kIqOffsetMask, 0, 0});
    r.define({"IQA", reg::kIqa, 8, 0, kPageMask | field::kIqaDw | field::kIqaQsMask, 0, 0});
    r.define({"ICS", reg::kIcs, 4, 0, 0, field::kIcsIwc, 0});
    r.define({"IECTL", reg::kIectl, 4, ectl::kIm, ectl::kIm, 0, 0});
    r.define({"IEDATA", reg::kIedata, 4, 0, msi_data_wmask, 0, 0});
    r.define({"IEADDR", reg::kIeaddr, 4, 0, 0xfffffffcull, 0, 0});
    r.define({"IEUADDR", reg::kIeuaddr, 4, 0, msi_upper_wmask, 0, 0});
    r.define({"IQER", reg::kIqer, 8, 0, 0, 0, 0});
  }
  if (c.ir())
    r.define({"IRTA", reg::kIrta, 8, 0, kPageMask | (eim ? field::kIrtaEime : 0) | field::kIrtaSizeMask, 0, 0});

  if (ecap_prs(c)) {  // page request queue: storage only, the model issues no page requests
    r.define({"PQH", reg::kPqh, 8, 0, 0x7ffe0, 0, 0});
    r.define({"PQT", reg::kPqt, 8, 0, 0, 0, 0});
    r.define({"PQA", reg::kPqa, 8, 0, kPageMask | 0x7, 0, 0});
    r.define({"PRS", reg::kPrs, 4, 0, 0, 0x3, 0});
    r.define({"PECTL", reg::kPectl, 4, ectl::kIm, ectl::kIm, 0, 0});
    r.define({"PEDATA", reg::kPedata, 4, 0, msi_data_wmask, 0, 0});
    r.define({"PEADDR", reg::kPeaddr, 4, 0, 0xfffffffcull, 0, 0});
    r.define({"PEUADDR", reg::kPeuaddr, 4, 0, msi_upper_wmask, 0, 0});
  }
  if (ecap_mts(c)) {  // MTRR emulation: storage only (VCNT 10, fixed ranges supported)
    r.define({"MTRRCAP", reg::kMtrrcap, 8, 0x10a, 0, 0, 0});
    r.define({"MTRRDEF", reg::kMtrrdef, 8, 0, 0xcff, 0, 0});
    for (uint32_t i = 0; i < 11; ++i) r.define({"MTRR_FIX", reg::kMtrrFixFirst + 8 * i, 8, 0, ~0ull, 0, 0});
    for (uint32_t i = 0; i < 10; ++i) {
      r.define({"MTRR_PHYSBASE", reg::kMtrrVarFirst + 16 * i, 8, 0, kPageMask | 0xff, 0, 0});
      r.define({"MTRR_PHYSMASK", reg::kMtrrVarFirst + 16 * i + 8, 8, 0, kPageMask | 0x800, 0, 0});
    }
  }

  if (register_invalidation_supported()) {
    r.define({"IVA", c.iro(), 8, 0, kIvaWmask, 0, 0});
    r.define({"IOTLB", c.iro() + 8, 8, 0, kIotlbWmask, 0, 0});
  }
  for (unsigned i = 0; i < c.nfr(); ++i) {
    r.define({"FRCD_LO", c.fro() + 16 * i, 8, 0, 0, 0, 0});
    r.define({"FRCD_HI", c.fro() + 16 * i + 8, 8, 0, 0, frcd::kF, 0});
  }
}

// Side effects, one handler per register that has any.
void RegisterFile::wire() {
  RegisterBank& r = m_bank;
  r.on_write(reg::kGcmd, [this](uint64_t, uint64_t v) { handle_gcmd(v); });
  if (r.defined(reg::kCcmd))
    r.on_write(reg::kCcmd, [this](uint64_t, uint64_t v) { m_reg_inval->ccmd_written(v, qi_enabled()); });
  if (r.defined(m_reg_inval->iotlb_offset()))
    r.on_write(m_reg_inval->iotlb_offset(),
               [this](uint64_t, uint64_t v) { m_reg_inval->iotlb_written(v, qi_enabled()); });
  r.on_write(reg::kFsts, [this](uint64_t old_value, uint64_t v) {
    m_faults->fsts_written(old_value, v);
    const auto cleared = static_cast<uint32_t>(old_value & ~v & (fsts::kIqe | fsts::kIte));
    if (cleared) m_effects.descriptors_processed += m_queue->fsts_errors_cleared(cleared);
  });
  r.on_write(reg::kFectl, [this](uint64_t, uint64_t) { m_faults->fectl_written(); });
  for (unsigned i = 0; i < m_caps.nfr(); ++i)
    r.on_write(m_faults->frcd_offset(i) + 8,
               [this, i](uint64_t old_value, uint64_t v) { m_faults->frcd_high_written(i, old_value, v); });
  if (m_caps.qi()) {
    r.on_write(reg::kIqt, [this](uint64_t, uint64_t) { m_effects.descriptors_processed += m_queue->tail_written(); });
    r.on_write(reg::kIcs, [this](uint64_t old_value, uint64_t v) { m_queue->ics_written(old_value, v); });
    r.on_write(reg::kIectl, [this](uint64_t, uint64_t) { m_queue->iectl_written(); });
  }
  if (r.defined(reg::kPmen))  // PMEN.PRS reports EPM (protected regions take effect at once)
    r.on_write(reg::kPmen, [this](uint64_t, uint64_t v) {
      m_bank.set(reg::kPmen, (v & field::kPmenEpm) ? (field::kPmenEpm | field::kPmenPrs) : 0);
    });
}

AccessEffects RegisterFile::write(uint32_t offset, unsigned size, uint64_t value) {
  m_effects = AccessEffects{};
  m_bank.write(offset, size, value);
  return m_effects;
}

void RegisterFile::reset() {
  m_bank.reset();
  m_root = RootTablePointer{};
  m_irta = InterruptRemapTablePointer{};
  m_fault_log = 0;
  m_write_buffer_flushes = 0;
  m_faults->reset();
  m_queue->reset();
}

uint32_t RegisterFile::window_size() const {
  const uint32_t end = (m_bank.extent() + 0xfffu) & ~0xfffu;
  return std::max<uint32_t>(end, 0x1000);
}

bool RegisterFile::protected_memory_enabled() const {
  return (m_bank.get(reg::kPmen) & field::kPmenEpm) != 0;
}

void RegisterFile::set_fault_event_sink(MsiSink sink) { m_faults->event().set_sink(std::move(sink)); }
void RegisterFile::set_invalidation_event_sink(MsiSink sink) { m_queue->completion_event().set_sink(std::move(sink)); }

bool RegisterFile::status(uint32_t bit_mask) const { return (m_bank.get(reg::kGsts) & bit_mask) != 0; }

// VT-d 11.4.4: run the command table against a GCMD write. Unsupported commands are ignored
// (their GSTS bits stay 0).
void RegisterFile::handle_gcmd(uint64_t value) {
  for (const GlobalCommand& c : kCommands) {
    if (!c.supported(m_caps)) continue;
    const bool requested = (value & c.bit) != 0;
    if (c.kind == CommandKind::Enable && requested == status(c.bit)) continue;
    if (c.kind == CommandKind::OneShot && !requested) continue;
    const bool now = (this->*c.apply)(requested);
    if (now)
      m_bank.set_bits(reg::kGsts, c.bit);
    else
      m_bank.clear_bits(reg::kGsts, c.bit);
  }
}

bool RegisterFile::command_te(bool on) { return on; }

// SRTP latches RTADDR (address and TTM); RTPS reports it. With CAP.ESRTPS the unit also
// invalidates its context, PASID and IOTLB caches (Linux skips its global flushes then).
bool RegisterFile::command_srtp(bool) {
  const uint64_t rt = m_bank.get(reg::kRtaddr);
  m_root.latched = true;
  m_root.address = rt & kPageMask;
  m_root.ttm = static_cast<unsigned>((rt >> field::kRtaddrTtmShift) & 3);
  m_queue->set_scalable_mode(m_root.scalable());
  if (cap_esrtps(m_caps)) {
    m_target.invalidate_context_global();
    m_target.invalidate_pasid_cache_global();
    m_target.invalidate_iotlb_global();
  }
  return true;
}

bool RegisterFile::command_sfl(bool) {
  m_fault_log = m_bank.get(reg::kAflog);
  return true;
}

bool RegisterFile::command_eafl(bool on) { return on; }

// WBF: the write buffer is flushed at once, so WBFS reads clear right after the command.
bool RegisterFile::command_wbf(bool) {
  ++m_write_buffer_flushes;
  return false;
}

// QIE: enabling resets IQH; descriptors already between IQH and IQT run at once. Disabling is
// refused while the queue is not empty (QIES stays set).
bool RegisterFile::command_qie(bool on) {
  if (on) {
    m_queue->enable();
    m_bank.set_bits(reg::kGsts, gcmd::kQie);
    m_effects.descriptors_processed += m_queue->tail_written();
    return true;
  }
  return !m_queue->disable();
}

bool RegisterFile::command_ire(bool on) { return on; }

// SIRTP latches IRTA; IRTPS reports it. With CAP.ESIRTPS the unit also invalidates the interrupt
// entry cache (otherwise software does, Linux: qi_global_iec unless cap_esirtps).
bool RegisterFile::command_sirtp(bool) {
  const uint64_t v = m_bank.get(reg::kIrta);
  m_irta.latched = true;
  m_irta.address = v & kPageMask;
  m_irta.eime = (v & field::kIrtaEime) != 0;
  m_irta.size_field = static_cast<unsigned>(v & field::kIrtaSizeMask);
  if (cap_esirtps(m_caps)) m_target.invalidate_iec_global();
  return true;
}

bool RegisterFile::command_cfi(bool on) { return on; }

}  // namespace pciesim::vtd
