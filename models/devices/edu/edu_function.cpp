#include "devices/edu/edu_function.h"

#include <cstring>

namespace pciesim {

using namespace edu;

namespace {

// Keeps the record bounded when a guest loops over a bad transfer.
constexpr size_t kMaxGuestErrors = 1024;

// A read whose TLP reached a completer (an ACS redirect still delivers it).
bool delivered(Outcome o) { return o == Outcome::Delivered || o == Outcome::Redirected; }

// edu.c edu_fact_thread: ret *= val-- down to 1, in 32 bits. From 34 on, n! has at least 32
// factors of two, so the wrapped result is 0 (the loop's answer, without 4 billion iterations).
uint32_t factorial32(uint32_t n) {
  if (n >= 34) return 0;
  uint32_t ret = 1;
  while (n > 0) ret *= n--;
  return ret;
}

}  // namespace

EduFunction::EduFunction(sc_core::sc_module_name name, Endpoint& device, unsigned fn, uint64_t dma_mask,
                         ResetBehaviour reset)
    : sc_module(name), m_device(device), m_fn(fn), m_dma_mask(dma_mask), m_reset(reset) {
  for (size_t i = 0; i < kRegisterCount; ++i) m_values[i] = kRegisters[i].reset;
  SC_THREAD(fact_worker);
  SC_THREAD(dma_engine);
}

size_t EduFunction::guest_error_count(GuestError kind) const {
  size_t n = 0;
  for (const auto& e : m_guest_errors) n += e.kind == kind;
  return n;
}

void EduFunction::log(GuestError kind, uint64_t address, uint64_t count, Outcome o, uint16_t reason) {
  if (m_guest_errors.size() < kMaxGuestErrors) m_guest_errors.push_back({kind, address, count, o, reason});
}

void EduFunction::mmio(bool is_read, uint64_t offset, uint8_t* data, unsigned len, const sc_core::sc_time& delay) {
  const int index = access_size_ok(offset, len) && offset <= UINT32_MAX ? register_index(static_cast<uint32_t>(offset))
                                                                        : -1;
  const Register* r = index >= 0 ? &kRegisters[index] : nullptr;
  if (is_read) {
    std::memset(data, 0xff, len);  // wrong size, unlisted or write-only: all ones
    if (r && r->access != Access::WriteOnly) {
      const uint64_t v = m_values[static_cast<size_t>(index)];
      std::memcpy(data, &v, len);  // len is 4 or 8 here; a 4-byte read of a DMA register: low half
    }
  } else if (r && r->access != Access::ReadOnly) {
    uint64_t v = 0;
    std::memcpy(&v, data, len);  // zero-extended, as edu.c stores a 4-byte write into a dma_addr_t
    write_register(*r, v, delay);
  }
}

void EduFunction::write_register(const Register& r, uint64_t v, const sc_core::sc_time& delay) {
  uint64_t& value = reg(r.offset);
  const bool dma_running = reg(kDmaCmd) & kDmaRun;
  switch (r.offset) {
    case kLiveness:  // edu.c: addr4 = ~val
      value = ~v & r.wmask;
      return;
    case kFactorial:
      if (reg(kStatus) & kStatusComputing) return;
      value = v & r.wmask;
      reg(kStatus) |= kStatusComputing;
      m_fact_start.notify(delay);
      return;
    case kIrqRaise:
      raise_irq(static_cast<uint32_t>(v), delay);
      return;
    case kIrqAck:
      lower_irq(static_cast<uint32_t>(v));
      return;
    case kDmaSrc:
    case kDmaDst:
    case kDmaCount:
      if (dma_running) return;  // edu.c dma_rw: no writes while EDU_DMA_RUN
      break;
    case kDmaCmd:
      if (!(v & kDmaRun) || dma_running) return;
      value = v;
      m_dma_timer.notify(delay + sc_core::sc_time(kDmaDelayMs, sc_core::SC_MS));
      return;
    default:
      break;
  }
  value = (value & ~r.wmask) | (v & r.wmask);
}

void EduFunction::raise_irq(uint32_t bits, const sc_core::sc_time& delay) {
  // edu.c edu_raise_irq: one MSI (vector 0) per raise when MSI is enabled, else INTx level
  // (edu.c: pci_set_irq on the function's own pin, INTA).
  uint64_t& status = reg(kIrqStatus);
  status |= bits;
  if (!status) return;
  if (m_device.function(m_fn)->msi_enabled()) {
    sc_core::sc_time d = delay;  // the message leaves after the write that raised it
    ++m_msi_count;
    m_last_msi = m_device.signal_msi(m_fn, 0, d);
  } else {
    m_device.set_intx(m_fn, true);
  }
}

void EduFunction::lower_irq(uint32_t bits) {
  // edu.c edu_lower_irq: INTx drops when no bit is left; with MSI the driver acks anyway.
  uint64_t& status = reg(kIrqStatus);
  status &= ~uint64_t{bits};
  if (!status && !m_device.function(m_fn)->msi_enabled()) m_device.set_intx(m_fn, false);
}

void EduFunction::fact_worker() {
  for (;;) {
    sc_core::wait(m_fact_start);
    const uint64_t generation = m_generation;
    const auto n = static_cast<uint32_t>(reg(kFactorial));
    sc_core::wait(sc_core::sc_time(kFactorialStepNs * n, sc_core::SC_NS));
    if (generation != m_generation) continue;  // reset while computing
    reg(kFactorial) = factorial32(n);
    reg(kStatus) &= ~uint64_t{kStatusComputing};
    if (reg(kStatus) & kStatusIrqFact) raise_irq(kFactIrq, sc_core::SC_ZERO_TIME);
  }
}

void EduFunction::dma_engine() {
  for (;;) {
    sc_core::wait(m_dma_timer);
    if (!(reg(kDmaCmd) & kDmaRun)) continue;
    const uint64_t generation = m_generation;
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    transfer(delay);
    sc_core::wait(delay);  // the data has landed (or the completions are back)
    if (generation != m_generation) continue;  // reset while the transfer was on its way
    reg(kDmaCmd) &= ~kDmaRun;
    ++m_dma_transfers;
    if (reg(kDmaCmd) & kDmaIrq) raise_irq(kDmaIrqValue, sc_core::SC_ZERO_TIME);
  }
}

uint64_t EduFunction::clamp(uint64_t host_addr) {
  const uint64_t res = host_addr & m_dma_mask;  // edu.c edu_clamp_addr
  if (res != host_addr) log(GuestError::DmaAddressClamped, host_addr, reg(kDmaCount));
  return res;
}

void EduFunction::transfer(sc_core::sc_time& delay) {
  const bool to_pci = reg(kDmaCmd) & kDmaToPci;
  const uint64_t count = reg(kDmaCount);
  const uint64_t device_addr = to_pci ? reg(kDmaSrc) : reg(kDmaDst);
  // edu.c edu_check_range: the device-side window must lie inside the buffer, without wrapping.
  const uint64_t end = device_addr + count, buffer_end = kDmaBufferBase + kDmaBufferSize;
  if (end < device_addr || device_addr < kDmaBufferBase || end > buffer_end) {
    // QEMU logs this and copies anyway, past its buffer; here nothing is moved.
    log(GuestError::DmaOutOfRange, device_addr, count);
    return;
  }
  const uint64_t host = clamp(to_pci ? reg(kDmaDst) : reg(kDmaSrc));
  if (count == 0) return;
  uint8_t* buf = m_buffer.data() + (device_addr - kDmaBufferBase);
  const auto len = static_cast<unsigned>(count);
  // The request carries this function's requester id (pci_dma_read/write on this PCIDevice).
  if (to_pci) {
    const PcieExtension& e = m_device.dma(m_fn, TlpKind::MemWrite, host, buf, len, delay);
    if (!delivered(e.verdict.outcome))
      log(GuestError::DmaFailed, host, count, e.verdict.outcome, e.verdict.fault_reason);
    return;
  }
  std::array<uint8_t, kDmaBufferSize> in{};
  const PcieExtension& e = m_device.dma(m_fn, TlpKind::MemRead, host, in.data(), len, delay);
  if (!delivered(e.verdict.outcome)) {
    // A read that is not delivered (an IOMMU fault, a UR, Bus Master Enable clear, which
    // Endpoint::dma refuses before any TLP leaves) fills the window with zeros, as on QEMU 7.2:
    // edu.c edu_dma_timer ignores pci_dma_read's result, and QEMU's memory core stores 0 for a
    // read nothing accepts. softmmu/physmem.c address_space_translate_iommu sends a VT-d
    // translation without the read permission to io_mem_unassigned; with BME clear hw/pci/pci.c
    // keeps the device's bus_master_enable_region (pci_init_bus_master) disabled, so nothing in
    // its address space is assigned; and softmmu/memory.c memory_region_dispatch_read answers an
    // access the region refuses (unassigned_mem_accepts: always) with unassigned_mem_read, which
    // returns 0, and flatview_read_continue copies that value into the buffer.
    // QEMU does this page by page; the remapping unit here faults a transfer as a whole.
    log(GuestError::DmaFailed, host, count, e.verdict.outcome, e.verdict.fault_reason);
    std::memset(buf, 0, len);
    return;
  }
  std::memcpy(buf, in.data(), len);
}

void EduFunction::reset() {
  // QEMU 7.2: pci_do_device_reset clears config space, BARs and MSI (done by the generic
  // function already) and edu has no handler of its own; its state carries on.
  if (m_reset == ResetBehaviour::Qemu) return;
  ++m_generation;
  m_fact_start.cancel();
  m_dma_timer.cancel();
  for (size_t i = 0; i < kRegisterCount; ++i) m_values[i] = kRegisters[i].reset;
  m_buffer.fill(0);
}

}  // namespace pciesim
