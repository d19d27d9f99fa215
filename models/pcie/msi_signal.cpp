#include "pcie/msi_signal.h"

#include "pcie/function.h"
#include "pcie/msix_table.h"
#include "pcie/pcie_regs.h"

namespace pciesim {

using namespace regs;

const char* to_string(MsiResult r) {
  switch (r) {
    case MsiResult::Sent: return "sent";
    case MsiResult::Pending: return "pending";
    case MsiResult::Disabled: return "disabled";
    case MsiResult::Fault: return "fault";
  }
  return "?";
}

MsiRegs read_msi(const ConfigSpace& cs, uint16_t off) {
  MsiRegs r;
  if (!off) return r;
  auto at = [off](uint16_t rel) { return static_cast<uint16_t>(off + rel); };
  const uint16_t flags = cs.read16(at(kMsiFlags));
  r.present = true;
  r.enabled = flags & kMsiFlagsEnable;
  r.is_64bit = flags & kMsiFlags64Bit;
  r.maskable = flags & kMsiFlagsMaskable;
  // PCI 3.0 6.8.1.3: MME above MMC is undefined; the function uses what it is capable of.
  const unsigned capable = (flags & kMsiFlagsQmask) >> 1, enabled = (flags & kMsiFlagsQsize) >> 4;
  r.vectors_enabled = 1u << (enabled < capable ? enabled : capable);
  r.address = cs.read32(at(kMsiAddrLo));
  if (r.is_64bit) r.address |= uint64_t{cs.read32(at(kMsiAddrHi))} << 32;
  r.data = cs.read16(at(r.is_64bit ? kMsiData64 : kMsiData32));
  if (r.maskable) {
    r.mask = cs.read32(at(r.is_64bit ? kMsiMask64 : kMsiMask32));
    r.pending_offset = at(r.is_64bit ? kMsiPending64 : kMsiPending32);
    r.pending = cs.read32(r.pending_offset);
  }
  return r;
}

MsiMessage msi_message(const MsiRegs& r, unsigned vector) {
  const uint32_t low = r.vectors_enabled - 1;
  return MsiMessage{r.address, (uint32_t{r.data} & ~low) | (vector & low), vector};
}

namespace {

MsiMessage msix_message(const MsixTable& t, unsigned vector) {
  const MsixEntry e = t.entry(vector);
  return MsiMessage{e.address, e.data, vector};
}

bool msix_function_masked(const PciFunction& fn) {
  return fn.config().read16(static_cast<uint16_t>(fn.msix_cap() + kMsixFlags)) & kMsixMaskAll;
}

void set_msi_pending(PciFunction& fn, const MsiRegs& r, uint32_t pending) {
  fn.config().set(r.pending_offset, 4, pending);
}

}  // namespace

MsiDecision prepare_msi(PciFunction& fn, MsixTable* table, unsigned vector) {
  MsiDecision d;
  if (table && fn.msix_enabled()) {
    // PCI 3.0 6.8.2: a vector beyond the table does not exist; with Bus Master Enable clear the
    // function may not issue the write at all (PCIe 7.5.1.1.3).
    if (vector >= table->size() || !fn.bus_master()) return d;
    if (msix_function_masked(fn) || table->entry(vector).masked) {
      table->set_pending(vector, true);  // PCI 3.0 6.8.2.10
      d.result = MsiResult::Pending;
      return d;
    }
    d.result = MsiResult::Sent;
    d.message = msix_message(*table, vector);
    return d;
  }
  const MsiRegs r = read_msi(fn.config(), fn.msi_cap());
  if (!r.enabled || vector >= r.vectors_enabled || !fn.bus_master()) return d;
  if (r.maskable && ((r.mask >> vector) & 1u)) {
    set_msi_pending(fn, r, r.pending | (1u << vector));  // PCI 3.0 6.8.1.7-6.8.1.8
    d.result = MsiResult::Pending;
    return d;
  }
  d.result = MsiResult::Sent;
  d.message = msi_message(r, vector);
  return d;
}

std::vector<MsiMessage> take_unmasked_pending(PciFunction& fn, MsixTable* table) {
  std::vector<MsiMessage> due;
  if (!fn.bus_master()) return due;
  if (table && fn.msix_enabled()) {
    if (msix_function_masked(fn) || !table->any_pending()) return due;
    for (unsigned v = 0; v < table->size(); ++v) {
      if (!table->pending(v) || table->entry(v).masked) continue;
      table->set_pending(v, false);
      due.push_back(msix_message(*table, v));
    }
    return due;
  }
  const MsiRegs r = read_msi(fn.config(), fn.msi_cap());
  if (!r.enabled || !r.maskable) return due;
  const uint32_t allocated = r.vectors_enabled >= 32 ? ~0u : (1u << r.vectors_enabled) - 1;
  const uint32_t ready = r.pending & ~r.mask & allocated;
  if (!ready) return due;
  for (unsigned v = 0; v < r.vectors_enabled; ++v)
    if ((ready >> v) & 1u) due.push_back(msi_message(r, v));
  set_msi_pending(fn, r, r.pending & ~ready);
  return due;
}

}  // namespace pciesim
