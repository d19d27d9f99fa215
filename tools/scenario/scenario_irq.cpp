// The interrupt steps of a scenario (scenario_irq.h).
#include "scenario_irq.h"

#include <map>

#include <linux/vfio.h>
#include <sys/eventfd.h>  // EFD_NONBLOCK: the UAPI value the co-simulated eventfd takes

#include <cstring>
#include <sstream>

#include "cli_common.h"
#include "devices/dram.h"
#include "iommu/intel_iommu.h"
#include "iommu/iommu_api.h"
#include "iommu/queued_invalidation.h"
#include "iommu/vtd_regs.h"
#include "kernel/eventfd.h"
#include "kernel/irq_core.h"
#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "pci/pci_msi.h"
#include "pcie/endpoint.h"
#include "pcie/msi_signal.h"
#include "vfio/vfio_core.h"

namespace pciesim::scenario {

namespace {

// IRTE fields a scenario changes (VT-d 9.10, remapped format; Linux include/linux/dmar.h struct irte).
constexpr uint64_t kIrtePresent = 1ull << 0;        // P, bit 0
constexpr unsigned kIrteVectorShift = 16;           // V, bits 23:16
constexpr uint64_t kIrteVectorMask = 0xffull << kIrteVectorShift;
constexpr unsigned kIrteDestShift = 32;             // DST, bits 63:32 (xAPIC: the id in 47:40)
constexpr uint64_t kIrteSidMask = 0xffff;           // SID, bits 79:64 = hi 15:0
constexpr unsigned kIrteSvtShift = 18;              // SVT, bits 83:82 = hi 19:18
constexpr uint64_t kIrteSvtMask = 3ull << kIrteSvtShift;
constexpr unsigned kIrteSqShift = 16;               // SQ, bits 81:80 = hi 17:16
constexpr uint64_t kIrteSqMask = 3ull << kIrteSqShift;
constexpr uint64_t kIrtaBaseMask = ~0xfffull;       // IRTA: table base 63:12 (VT-d 10.4.29)
constexpr uint64_t kIrteBytes = 16;
// pci_alloc_irq_vectors flags (Linux include/linux/pci.h; the kernel API header is not on the
// tools' include path)
constexpr unsigned kPciIrqMsi = 1u << 1, kPciIrqMsix = 1u << 2;

// The APIC sink only queues the IRQ (IrqCore::deliver); the kernel's interrupt task runs the
// handler (vfio_msihandler -> eventfd_signal) once it is scheduled. The user reads the eventfd
// this long after the write: long enough for the interrupt task to run, and of the order of an
// MSI's way to a user-space eventfd read on x86 (interrupt entry, handler, wake-up: microseconds).
const sc_core::sc_time kUserReadDelay(1, sc_core::SC_US);

std::string hex(uint64_t v) {
  std::ostringstream o;
  o << "0x" << std::hex << v;
  return o.str();
}

}  // namespace

cosim::PciDev& ScenarioIrq::pcidev(const FunctionInfo& f) const {
  cosim::PciDev* d = m_kernel.pci().find(f.segment, f.bdf());
  if (!d) throw std::runtime_error("the kernel did not find " + f.fn->name());
  return *d;
}

int ScenarioIrq::irte_index(const cosim::PciDev& d, unsigned vector) const {
  if (vector >= d.irqs.size()) return -1;
  if (d.irq_mode == cosim::IrqMode::Msi) return d.irte_base < 0 ? -1 : d.irte_base + static_cast<int>(vector);
  if (d.irq_mode == cosim::IrqMode::Msix) return vector < d.irtes.size() ? d.irtes[vector] : -1;
  return -1;
}

int ScenarioIrq::eventfd_of(const std::string& device, unsigned vector) const {
  auto it = m_eventfds.find(device);
  if (it == m_eventfds.end() || vector >= it->second.size()) return -1;
  return it->second[vector];
}

// VFIO: what QEMU does when the guest enables MSI (vfio_msi_enable): one eventfd per vector, then
// VFIO_DEVICE_SET_IRQS (DATA_EVENTFD | ACTION_TRIGGER, start 0, count n) on the MSI or MSI-X
// index; vfio_pci_core allocates the vectors (pci_alloc_irq_vectors) and requests each IRQ with
// vfio_msihandler. DMA API: the driver's pci_alloc_irq_vectors(dev, n, n, PCI_IRQ_MSI[X]).
int ScenarioIrq::setup(const Step& st, const FunctionInfo& f, cosim::VfioDeviceFile* vfio) {
  const unsigned n = st.irq.vectors;
  bool msix = st.irq.type == "msix";
  if (st.irq.type.empty()) msix = !f.fn->msi_cap() && f.fn->msix_cap();
  if (msix ? !f.fn->msix_cap() : !f.fn->msi_cap())
    throw ScenarioError(st.loc, "irq_setup.type", st.from + " has no " + (msix ? "MSI-X" : "MSI") + " capability");
  if (!vfio) {
    const int got = cosim::alloc_irq_vectors(m_kernel, pcidev(f), n, n, msix ? kPciIrqMsix : kPciIrqMsi);
    return got < 0 ? got : got == static_cast<int>(n) ? 0 : -ENOSPC;
  }
  std::vector<int32_t> fds;
  for (unsigned i = 0; i < n; ++i) {
    const int fd = cosim::eventfd_create(m_kernel, 0, EFD_NONBLOCK);
    if (fd < 0) return fd;
    fds.push_back(fd);
  }
  std::vector<uint8_t> buf(sizeof(vfio_irq_set) + fds.size() * sizeof(int32_t));
  vfio_irq_set s{static_cast<uint32_t>(buf.size()), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                 msix ? uint32_t{VFIO_PCI_MSIX_IRQ_INDEX} : uint32_t{VFIO_PCI_MSI_IRQ_INDEX}, 0, n};
  std::memcpy(buf.data(), &s, sizeof s);
  std::memcpy(buf.data() + sizeof s, fds.data(), fds.size() * sizeof(int32_t));
  const long rc = vfio->ioctl(VFIO_DEVICE_SET_IRQS, buf.data());
  if (rc == 0) m_eventfds[st.from].assign(fds.begin(), fds.end());
  return static_cast<int>(rc);
}

std::string ScenarioIrq::programmed(const FunctionInfo& f, unsigned vector, uint64_t& address, uint32_t& data) const {
  PciFunction& fn = *f.fn;
  if (fn.msix_enabled()) {
    const MsixTable* t = f.endpoint->msix_table(f.function_number);
    if (!t || vector >= t->size()) return "MSI-X has no vector " + std::to_string(vector);
    const MsixEntry e = t->entry(vector);
    address = e.address;
    data = e.data;
    return "";
  }
  if (fn.msi_enabled()) {
    const MsiRegs r = read_msi(fn.config(), fn.msi_cap());
    if (vector >= r.vectors_enabled) return "MSI has " + std::to_string(r.vectors_enabled) + " vector(s) enabled";
    const MsiMessage m = msi_message(r, vector);
    address = m.address;
    data = m.data;
    return "";
  }
  return "neither MSI nor MSI-X is enabled (irq_setup first)";
}

// Endpoint::signal_msi's two halves, so the step sees the write's record: prepare_msi (enables,
// Bus Master Enable, masks; the message the function holds), then the DWORD write upstream as
// Endpoint::send_message issues it (PCI 3.0 6.8.1.9 / 6.8.2.8).
AgentResult ScenarioIrq::send_own(const FunctionInfo& f, unsigned vector, uint64_t& address, std::string& why) {
  AgentResult res;
  const MsiDecision d = prepare_msi(*f.fn, f.endpoint->msix_table(f.function_number), vector);
  if (d.result != MsiResult::Sent) {
    why = std::string("MSI not sent: ") + to_string(d.result);
    res.verdict.outcome = Outcome::Pending;
    res.requester_on_wire = f.endpoint->dma_requester(f.function_number);
    return res;
  }
  address = d.message.address;
  uint8_t data[4] = {static_cast<uint8_t>(d.message.data), static_cast<uint8_t>(d.message.data >> 8),
                     static_cast<uint8_t>(d.message.data >> 16), static_cast<uint8_t>(d.message.data >> 24)};
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  const PcieExtension& e = f.endpoint->dma(f.function_number, TlpKind::MemWrite, address, data, 4, delay);
  res.take_record(e);
  res.latency = delay;
  return res;
}

// What a buggy or malicious kernel (or the driver changing affinity, Linux intel_ir_set_affinity
// -> modify_irte) does: CPU stores to the IRTE in the in-memory table (kernel memory is DRAM),
// high quadword first as modify_irte writes it, then, unless told not to, the index-selective
// interrupt-entry-cache invalidation (QI descriptor type 0x4, VT-d 6.5.2.7; qi_flush_iec).
int ScenarioIrq::modify_irte(const Step& st, const FunctionInfo& f) {
  const std::string field = "irte.device";
  cosim::PciDev& d = pcidev(f);
  cosim::IntelIommu* unit = m_kernel.iommu().enabled() ? m_kernel.iommu().unit_for(d) : nullptr;
  if (!unit || !unit->ir_enabled()) throw ScenarioError(st.loc, field, "interrupt remapping is off for " + st.from + ": it has no IRTEs");
  const int index = irte_index(d, *st.irq.vector);
  if (index < 0)
    throw ScenarioError(st.loc, "irte.vector", st.from + " has no IRTE for vector " + std::to_string(*st.irq.vector) + " (irq_setup first)");
  const uint64_t irta = unit->registers().read64(vtd::reg::kIrta);
  const uint64_t at = (irta & kIrtaBaseMask) + kIrteBytes * static_cast<uint64_t>(index);
  uint64_t e[2] = {0, 0};
  Dram& dram = m_fabric.dram();
  if (!dram.read(at, e, sizeof e)) throw std::runtime_error("irte: IRTE " + std::to_string(index) + " is not in DRAM");
  uint64_t& lo = e[0];
  uint64_t& hi = e[1];
  const IrqStepSpec& q = st.irq;
  if (q.present) lo = *q.present ? (lo | kIrtePresent) : (lo & ~kIrtePresent);
  if (q.new_vector) lo = (lo & ~kIrteVectorMask) | (uint64_t{*q.new_vector} << kIrteVectorShift);
  if (q.dest) {
    // EIME: the 32-bit x2APIC id; xAPIC: the 8-bit id in DST[15:8] (VT-d 9.10; Linux stores dest << 8)
    if (!unit->eim() && *q.dest > 0xff) throw ScenarioError(st.loc, "irte.set.dest", "an xAPIC destination is 8 bits (the unit runs without EIME)");
    const uint64_t dst = unit->eim() ? *q.dest : (uint64_t{*q.dest} << 8);
    lo = (lo & ((1ull << kIrteDestShift) - 1)) | (dst << kIrteDestShift);
  }
  uint16_t sid = static_cast<uint16_t>(hi & kIrteSidMask);
  if (q.sid) sid = cli::parse_bdf(*q.sid).id.raw();
  if (q.svt) {
    const uint64_t svt = *q.svt == "none" ? 0 : *q.svt == "requester" ? 1 : 2;
    // SVT 10: SID holds start bus << 8 | end bus (Linux set_irte_verify_bus); here the one bus of
    // the requester id given (or the device's own).
    if (svt == 2) sid = static_cast<uint16_t>(((q.sid ? sid >> 8 : d.bdf.bus) << 8) | (q.sid ? sid >> 8 : d.bdf.bus));
    hi = (hi & ~(kIrteSvtMask | kIrteSqMask)) | (svt << kIrteSvtShift);
  }
  hi = (hi & ~kIrteSidMask) | sid;
  dram.write(at + 8, &hi, 8);
  dram.write(at, &lo, 8);
  if (!q.invalidate) return 0;
  return unit->submit({cosim::qi::iec_index(static_cast<uint16_t>(index), 0)});
}

void ScenarioIrq::begin(const Step& st, const FunctionInfo* target) {
  m_seen = m_fabric.apic().count();
  const std::string& name = st.irq.copy.empty() ? st.from : st.irq.copy;
  if (target && st.irq.vector) {
    const int fd = eventfd_of(name, *st.irq.vector);
    uint64_t v = 0;
    if (fd >= 0) cosim::eventfd_read(m_kernel, fd, v);  // what an earlier step left
  }
}

void ScenarioIrq::judge(const Step& st, const FunctionInfo* target, RequesterId wire, StepResult& r) {
  const InterruptExpect& x = st.expect.interrupt;
  const auto& all = m_fabric.apic().delivered();
  std::vector<const vtd::DeliveredInterrupt*> mine;  // this step's message, not the unit's fault event
  for (size_t i = m_seen; i < all.size(); ++i)
    if (all[i].source_id == wire.raw()) mine.push_back(&all[i]);
  if (!x.any()) return;
  std::vector<std::string> exp;
  bool pass = r.pass;
  std::string obs;
  if (mine.empty()) {
    obs = "; APIC: nothing";
  } else {
    const vtd::DeliveredInterrupt& d = *mine.front();
    obs = "; APIC: vector " + hex(d.irq.vector) + " destination " + std::to_string(d.irq.destination) + " (" +
          vtd::to_string(d.path) + (d.path == vtd::InterruptPath::Remapped ? ", IRTE " + std::to_string(d.index) : "") + ")";
  }
  if (x.delivered) {
    exp.push_back(*x.delivered ? "interrupt delivered" : "interrupt blocked");
    pass &= mine.empty() != *x.delivered;
  }
  const std::string& name = st.irq.copy.empty() ? st.from : st.irq.copy;
  if (x.vector) {
    unsigned want = *x.vector;
    if (want == InterruptExpect::kAssigned) {
      const cosim::PciDev& d = pcidev(*target);
      if (*st.irq.vector >= d.irqs.size())
        throw ScenarioError(st.expect.loc, "expect.vector", name + " has no vector " + std::to_string(*st.irq.vector) + " allocated (irq_setup first)");
      want = m_kernel.irq().vector_of(d.irqs[*st.irq.vector]);
      exp.push_back("vector " + hex(want) + " (assigned)");
    } else {
      exp.push_back("vector " + hex(want));
    }
    pass &= !mine.empty() && mine.front()->irq.vector == want;
  }
  if (x.destination) {
    exp.push_back("destination " + std::to_string(*x.destination));
    pass &= !mine.empty() && mine.front()->irq.destination == *x.destination;
  }
  if (x.eventfd) {
    const int fd = eventfd_of(name, *st.irq.vector);
    if (fd < 0)
      throw ScenarioError(st.expect.loc, "expect.eventfd", name + " vector " + std::to_string(*st.irq.vector) +
                                                               " has no eventfd: irq_setup by a VFIO owner first");
    const cosim::TaskResult t = m_kernel.run("scenario-eventfd", [&] { m_kernel.scheduler().sleep(kUserReadDelay, "a user's eventfd read"); });
    if (!t.ok()) throw std::runtime_error("msi: " + t.what);
    uint64_t v = 0;
    const bool fired = cosim::eventfd_read(m_kernel, fd, v) == 0 && v > 0;
    exp.push_back(*x.eventfd ? "eventfd signalled" : "eventfd silent");
    obs += fired ? "; eventfd " + std::to_string(v) : "; eventfd not signalled";
    pass &= fired == *x.eventfd;
  }
  for (const std::string& e : exp) r.expected += (r.expected.empty() ? "" : ", ") + e;
  r.observed += obs;
  r.pass = pass;
}

void check_irq_steps(const Scenario& s) {
  std::map<std::string, const Owner*> owner;
  for (const Owner& o : s.owners)
    for (const std::string& d : o.devices) owner[d] = &o;
  struct Setup {
    unsigned vectors = 0;
    bool vfio = false;
  };
  std::map<std::string, Setup> setup;  // irq_setup so far, by device
  for (const Step& st : s.steps) {
    if (st.kind == Step::Kind::IrqSetup) {
      auto o = owner.find(st.from);
      if (o == owner.end())
        throw ScenarioError(st.loc, "irq_setup.device", st.from + " has no owner: list it under owners (vfio or dma_api)");
      setup[st.from] = {st.irq.vectors, o->second->kind == Owner::Kind::Vfio};
    } else if (st.kind == Step::Kind::Irte) {
      const unsigned v = st.irq.vector.value_or(0);
      auto it = setup.find(st.from);
      if (it == setup.end() || v >= it->second.vectors)
        throw ScenarioError(st.loc, "irte.vector", st.from + " has no IRTE for vector " + std::to_string(v) + " (irq_setup first)");
    } else if (st.kind == Step::Kind::Msi && st.expect.interrupt.eventfd && st.irq.vector) {
      const std::string& name = st.irq.copy.empty() ? st.from : st.irq.copy;
      auto it = setup.find(name);
      if (it == setup.end() || !it->second.vfio || *st.irq.vector >= it->second.vectors)
        throw ScenarioError(st.expect.loc, "expect.eventfd", name + " vector " + std::to_string(*st.irq.vector) +
                                                                " has no eventfd: irq_setup by a VFIO owner first");
    }
  }
}

}  // namespace pciesim::scenario
