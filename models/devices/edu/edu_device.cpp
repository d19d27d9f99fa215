#include "devices/edu/edu_device.h"

#include <cstring>
#include <string>

#include "pcie/device_models.h"

namespace pciesim {

using namespace edu;

namespace {

// Keeps the record bounded when a guest loops over a bad transfer.
constexpr size_t kMaxGuestErrors = 1024;

uint64_t parse_dma_mask(const topo::EndpointSpec& spec) {
  auto it = spec.params.find("dma_mask");
  if (it == spec.params.end()) return kDefaultDmaMask;
  try {
    size_t used = 0;
    const uint64_t v = std::stoull(it->second, &used, 0);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  throw topo::TopologyError(spec.loc, "edu: params.dma_mask '" + it->second + "' is not a number");
}

EduDevice::ResetBehaviour parse_reset(const topo::EndpointSpec& spec) {
  auto it = spec.params.find("reset");
  if (it == spec.params.end() || it->second == "qemu") return EduDevice::ResetBehaviour::Qemu;
  if (it->second == "clear") return EduDevice::ResetBehaviour::Clear;
  throw topo::TopologyError(spec.loc, "edu: params.reset '" + it->second + "' must be qemu or clear");
}

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

std::unique_ptr<Endpoint> make_edu(const char* name, const topo::EndpointSpec& s, int segment,
                                   const topo::LinkSpec* link) {
  return std::make_unique<EduDevice>(name, s, segment, link);
}

void edu_defaults(topo::EndpointSpec& spec) {
  // edu.c: INTERFACE_CONVENTIONAL_PCI_DEVICE, no PCIe capability wherever it is plugged. The
  // option `params: {pcie: true}` makes a PCIe endpoint of it instead (PCIe capability, 4 KiB
  // config space, same registers), for machines that want edu as a native PCIe function.
  spec.express = false;
  if (auto it = spec.params.find("pcie"); it != spec.params.end()) {
    if (it->second == "true" || it->second == "1") spec.express = true;
    else if (it->second != "false" && it->second != "0")
      throw topo::TopologyError(spec.loc, "edu: params.pcie '" + it->second + "' must be true or false");
  }
  parse_reset(spec);  // a bad params.reset is an error naming the file, when it is loaded
  if (spec.functions.empty()) {
    spec.functions.push_back(edu_function_spec());
    spec.functions.back().loc = spec.loc;
    spec.functions.back().acs.loc = spec.loc;
  }
}

[[maybe_unused]] const bool kRegistered = register_device_model("edu", make_edu, {true, edu_defaults});

}  // namespace

topo::FunctionSpec edu_function_spec() {
  topo::FunctionSpec f;
  f.function = 0;
  f.vendor = 0x1234;          // edu.c: PCI_VENDOR_ID_QEMU
  f.device = 0x11e8;
  f.revision = 0x10;
  f.class_code = 0x00ff00;    // PCI_CLASS_OTHERS (0xff) as class_id: subclass 0xff, base class 0x00
  f.subsystem_vendor = 0x1af4;  // QEMU pci.c pci_set_default_subsystem_id: Red Hat/Qumranet,
  f.subsystem = 0x1100;         // PCI_SUBDEVICE_ID_QEMU
  f.bars.push_back(topo::BarSpec{0, kBar0Size, false, false, false, {}});
  f.msi_vectors = 1;          // pci_edu_realize: msi_init(pdev, 0, 1, true, false)
  f.msi_64bit = true;
  f.msi_maskable = false;
  f.pm = false;               // no power-management capability: MSI lands at 0x40 as in QEMU
  f.flr = false;              // conventional PCI: no DEVCAP.FLR
  f.interrupt_pin = 1;        // pci_config_set_interrupt_pin(pci_conf, 1): INTA
  return f;
}

EduDevice::EduDevice(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment,
                     const topo::LinkSpec* link)
    : Endpoint(name, spec, segment, link), m_dma_mask(parse_dma_mask(spec)), m_reset(parse_reset(spec)) {
  for (size_t i = 0; i < kRegisterCount; ++i) m_values[i] = kRegisters[i].reset;
  SC_THREAD(fact_worker);
  SC_THREAD(dma_engine);
}

size_t EduDevice::guest_error_count(GuestError kind) const {
  size_t n = 0;
  for (const auto& e : m_guest_errors) n += e.kind == kind;
  return n;
}

void EduDevice::log(GuestError kind, uint64_t address, uint64_t count, Outcome o, uint16_t reason) {
  if (m_guest_errors.size() < kMaxGuestErrors) m_guest_errors.push_back({kind, address, count, o, reason});
}

void EduDevice::bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                           PcieExtension& ext, sc_core::sc_time& delay) {
  // QEMU completes edu MMIO synchronously in the vCPU thread: no device latency beyond the fabric's.
  ext.consume_burst(delay);
  uint8_t* data = gp.get_data_ptr();
  const unsigned len = gp.get_data_length();
  const int index = fn_no == 0 && bar == 0 && access_size_ok(offset, len) && offset <= UINT32_MAX
                        ? register_index(static_cast<uint32_t>(offset))
                        : -1;
  const Register* r = index >= 0 ? &kRegisters[index] : nullptr;
  if (gp.is_read()) {
    std::memset(data, 0xff, len);  // wrong size, unlisted or write-only: all ones
    if (r && r->access != Access::WriteOnly) {
      const uint64_t v = read_register(*r);
      std::memcpy(data, &v, len);  // len is 4 or 8 here; a 4-byte read of a DMA register: low half
    }
  } else if (r && r->access != Access::ReadOnly) {
    uint64_t v = 0;
    std::memcpy(&v, data, len);  // zero-extended, as edu.c stores a 4-byte write into a dma_addr_t
    write_register(*r, v, delay);
  }
  ext.completer = fn.bdf();
  ext.deliver(function_hop(fn_no));
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

uint64_t EduDevice::read_register(const Register& r) const {
  return m_values[static_cast<size_t>(register_index(r.offset))];
}

void EduDevice::write_register(const Register& r, uint64_t v, const sc_core::sc_time& delay) {
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

void EduDevice::raise_irq(uint32_t bits, const sc_core::sc_time& delay) {
  // edu.c edu_raise_irq: one MSI (vector 0) per raise when MSI is enabled, else INTx level.
  uint64_t& status = reg(kIrqStatus);
  status |= bits;
  if (!status) return;
  if (function(0)->msi_enabled()) {
    sc_core::sc_time d = delay;  // the message leaves after the write that raised it
    ++m_msi_count;
    m_last_msi = signal_msi(0, 0, d);
  } else {
    set_intx(0, true);
  }
}

void EduDevice::lower_irq(uint32_t bits) {
  // edu.c edu_lower_irq: INTx drops when no bit is left; with MSI the driver acks anyway.
  uint64_t& status = reg(kIrqStatus);
  status &= ~uint64_t{bits};
  if (!status && !function(0)->msi_enabled()) set_intx(0, false);
}

void EduDevice::fact_worker() {
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

void EduDevice::dma_engine() {
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

uint64_t EduDevice::clamp(uint64_t host_addr) {
  const uint64_t res = host_addr & m_dma_mask;  // edu.c edu_clamp_addr
  if (res != host_addr) log(GuestError::DmaAddressClamped, host_addr, reg(kDmaCount));
  return res;
}

void EduDevice::transfer(sc_core::sc_time& delay) {
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
  if (to_pci) {
    const PcieExtension& e = dma(0, TlpKind::MemWrite, host, buf, len, delay);
    if (!delivered(e.verdict.outcome))
      log(GuestError::DmaFailed, host, count, e.verdict.outcome, e.verdict.fault_reason);
    return;
  }
  std::array<uint8_t, kDmaBufferSize> in{};
  const PcieExtension& e = dma(0, TlpKind::MemRead, host, in.data(), len, delay);
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

void EduDevice::on_reset(unsigned fn, ResetKind) {
  // QEMU 7.2: pci_do_device_reset clears config space, BARs and MSI (done by the generic
  // function already) and edu has no handler of its own; its state carries on.
  if (fn != 0 || m_reset == ResetBehaviour::Qemu) return;
  ++m_generation;
  m_fact_start.cancel();
  m_dma_timer.cancel();
  for (size_t i = 0; i < kRegisterCount; ++i) m_values[i] = kRegisters[i].reset;
  m_buffer.fill(0);
}

}  // namespace pciesim
