#include "devices/sriov_nic/sriov_nic.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "pcie/capabilities.h"
#include "pcie/pcie_regs.h"
#include "pcie/device_models.h"
#include "pcie/function_factory.h"
#include "pcie/port_registry.h"

namespace pciesim {

using namespace sriov_nic;

namespace {

unsigned parse_number(const topo::EndpointSpec& spec, const std::string& key, const std::string& text,
                      unsigned lo, unsigned hi) {
  size_t used = 0;
  unsigned long v = 0;
  try {
    v = std::stoul(text, &used, 0);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || v < lo || v > hi)
    throw topo::TopologyError(spec.loc, "sriov-nic: params." + key + " '" + text + "' must be a number in " +
                                            std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<unsigned>(v);
}

bool parse_bool(const topo::EndpointSpec& spec, const std::string& key, const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  throw topo::TopologyError(spec.loc, "sriov-nic: params." + key + " '" + text + "' must be true or false");
}

std::unique_ptr<Endpoint> make_sriov_nic(const char* name, const topo::EndpointSpec& s, int segment,
                                         const topo::LinkSpec* link) {
  return std::make_unique<SriovNic>(name, s, segment, link);
}

// The PF as the model supplies it: 82599 ids, BAR0 512 KiB 64-bit with the PF's 64 MSI-X vectors
// at its top (the 82599 keeps them in BAR4; one BAR is enough here), FLR, ARI (so VFs at function
// numbers 128.. are reachable on the PF's bus, PCIe 6.13).
topo::FunctionSpec pf_spec(const topo::EndpointSpec& spec) {
  topo::FunctionSpec f;
  f.function = 0;
  f.vendor = kPfVendor;
  f.device = kPfDevice;
  f.class_code = kClassEthernet;
  f.revision = 0x01;  // 82599 production stepping (lspci "rev 01")
  f.subsystem_vendor = kPfVendor;
  f.subsystem = 0x000c;  // Intel's X520 adapter subsystem id for the 82599 (pci.ids 8086:10fb 8086:000c)
  f.bars.push_back(topo::BarSpec{0, kPfBar0Size, false, true, false, spec.loc});
  f.msix_vectors = kPfMsixVectors;
  f.ari = true;
  f.flr = true;
  f.loc = spec.loc;
  f.acs.loc = spec.loc;
  return f;
}

void sriov_nic_defaults(topo::EndpointSpec& spec) {
  if (!spec.functions.empty())
    throw topo::TopologyError(spec.functions.front().loc,
                              "sriov-nic: endpoint '" + spec.name +
                                  "' lists functions; the model supplies its PF (set VFs with params: total_vfs, "
                                  "vf_offset, vf_stride, vf_device, vf_msix_vectors, initial_vfs, internal_p2p)");
  parse_sriov_nic_params(spec);  // a bad parameter is an error naming the file and line, at load
  spec.functions.push_back(pf_spec(spec));
}

[[maybe_unused]] const bool kRegistered =
    register_device_model("sriov-nic", make_sriov_nic, {true, sriov_nic_defaults});

}  // namespace

SriovNicParams parse_sriov_nic_params(const topo::EndpointSpec& spec) {
  SriovNicParams p;
  bool initial_given = false;
  for (const auto& [key, value] : spec.params) {
    if (key == "total_vfs") p.total_vfs = parse_number(spec, key, value, 1, kMaxVfs - 1);
    else if (key == "initial_vfs") p.initial_vfs = parse_number(spec, key, value, 1, kMaxVfs - 1), initial_given = true;
    else if (key == "vf_offset") p.vf_offset = parse_number(spec, key, value, 1, 255);
    else if (key == "vf_stride") p.vf_stride = parse_number(spec, key, value, 1, 255);
    else if (key == "vf_device") p.vf_device = static_cast<uint16_t>(parse_number(spec, key, value, 0, 0xfffe));
    // VF BAR3 is 16 KiB with the PBA at 0x2000: the 16-byte table entries must end below it.
    else if (key == "vf_msix_vectors") p.vf_msix_vectors = parse_number(spec, key, value, 1, kVfMsixPba / 16);
    else if (key == "internal_p2p") p.internal_p2p = parse_bool(spec, key, value);
    else
      throw topo::TopologyError(spec.loc, "sriov-nic: unknown parameter '" + key +
                                              "' (total_vfs, initial_vfs, vf_offset, vf_stride, vf_device, "
                                              "vf_msix_vectors, internal_p2p)");
  }
  if (!initial_given) p.initial_vfs = p.total_vfs;
  // PCIe 9.3.3.6: without VF Migration, InitialVFs equals TotalVFs.
  if (p.initial_vfs != p.total_vfs)
    throw topo::TopologyError(spec.loc, "sriov-nic: params.initial_vfs must equal total_vfs (" +
                                            std::to_string(p.total_vfs) +
                                            ") when VF Migration is not supported (PCIe 9.3.3.6)");
  // PCIe 9.2.1.2: VF n's routing id is the PF's + First VF Offset + n * VF Stride; the 8 low bits
  // past 255 carry into the bus number. Linux reserves those buses (pci_iov_bus_range); pciesim
  // keeps VFs on the PF's bus (function 0, ARI), so the last VF's function number must be <= 255.
  const unsigned last = p.vf_offset + (p.total_vfs - 1) * p.vf_stride;
  if (last > 255)
    throw topo::TopologyError(spec.loc, "sriov-nic: VF " + std::to_string(p.total_vfs - 1) + " would have function " +
                                            std::to_string(last) + ", on bus +" + std::to_string(last / 256) +
                                            " from the PF's: VFs past the PF's bus are not modelled (lower total_vfs, "
                                            "vf_offset or vf_stride so that vf_offset + (total_vfs-1)*vf_stride <= 255)");
  return p;
}

SriovNic::SriovNic(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment,
                   const topo::LinkSpec* link)
    : Endpoint(name, spec, segment, link), m_params(parse_sriov_nic_params(spec)) {
  if (!function(0)) throw topo::TopologyError(spec.loc, "sriov-nic: endpoint '" + spec.name + "' has no function 0");
  add_sriov_capability(pf());
  set_internal_p2p(m_params.internal_p2p);
  pf().set_config_listener([this](uint16_t offset, unsigned size) { pf_config_written(offset, size); });
  for (unsigned n = 0; n < m_params.total_vfs; ++n) {
    m_vfs.push_back(make_vf(n, spec, link));
    m_vf_hops.push_back(hops().intern(m_vfs.back()->name(), m_vfs.back().get(), segment));
  }
  m_engines.resize(kMaxVfs);
  m_engines[0] = std::make_unique<Engine>();
  for (unsigned n = 0; n < m_params.total_vfs; ++n) m_engines[vf_function_number(n)] = std::make_unique<Engine>();
  for (unsigned fn = 0; fn < kMaxVfs; ++fn)
    if (m_engines[fn]) on_reset(fn, ResetKind::Conventional);
  SC_THREAD(engine_thread);
}

void SriovNic::add_sriov_capability(PciFunction& pf) {
  ConfigSpace& cs = pf.config();
  // PCIe 9.3.3: version 1, 0x40 bytes.
  m_sriov = cs.add_ext_capability(regs::kExtCapIdSriov, 1, kSriovSize);
  const uint16_t o = m_sriov;
  const uint64_t vf_bar_mask = ~(kVfBarSize - 1) & 0xfffffff0u;
  cs.define(o + kSriovCap, 4, 0);                       // no VF Migration, no 10-bit tags
  cs.define(o + kSriovCtrl, 2, 0, kCtrlWritable);
  cs.define(o + kSriovStatus, 2, 0, 0, 0);              // VF Migration Status: no migration
  cs.define(o + kSriovInitialVfs, 2, m_params.initial_vfs);
  cs.define(o + kSriovTotalVfs, 2, m_params.total_vfs);
  cs.define(o + kSriovNumVfs, 2, 0, 0xffff);
  cs.define(o + kSriovFuncLink, 1, 0);                  // PCIe 9.3.3.8: its own function number
  cs.define(o + kSriovVfOffset, 2, m_params.vf_offset);
  cs.define(o + kSriovVfStride, 2, m_params.vf_stride);
  cs.define(o + kSriovVfDid, 2, m_params.vf_device);
  cs.define(o + kSriovSupPgsize, 4, kSupportedPageSizes);
  cs.define(o + kSriovSysPgsize, 4, kSystemPageSize4K, kSupportedPageSizes);
  // VF BAR0/1 and VF BAR3/4: 64-bit prefetchable 16 KiB per VF, sized by their writable masks as
  // ordinary BARs are (PCIe 9.3.3.14); VF BAR2 and VF BAR5 unimplemented (RO 0).
  cs.define(o + kSriovBar0 + 0, 4, kBarMem64Pref, vf_bar_mask);
  cs.define(o + kSriovBar0 + 4, 4, 0, 0xffffffffu);
  cs.define(o + kSriovBar0 + 8, 4, 0);
  cs.define(o + kSriovBar0 + 12, 4, kBarMem64Pref, vf_bar_mask);
  cs.define(o + kSriovBar0 + 16, 4, 0, 0xffffffffu);
  cs.define(o + kSriovBar0 + 20, 4, 0);
  cs.define(o + kSriovMigration, 4, 0);
  pf.refresh();
}

std::unique_ptr<PciFunction> SriovNic::make_vf(unsigned n, const topo::EndpointSpec& spec, const topo::LinkSpec* link) {
  topo::FunctionSpec f;
  f.function = static_cast<int>(vf_function_number(n));
  // PCIe 9.3.4.1.1-2: a VF's Vendor ID and Device ID read FFFFh; software takes the vendor from
  // the PF and the device id from the PF's VF Device ID.
  f.vendor = 0xffff;
  f.device = 0xffff;
  const topo::FunctionSpec& pf_fn = spec.functions.front();
  f.class_code = pf_fn.class_code;           // 9.3.4.1.6: the VF's own class code (the PF's here)
  f.revision = pf_fn.revision;
  f.subsystem_vendor = pf_fn.subsystem_vendor;
  f.subsystem = pf_fn.subsystem;
  f.interrupt_pin = 0;                       // 9.3.4.1.14: VFs have no INTx
  f.flr = true;                              // 9.3.4.3: VFs support FLR (82599 VFs do)
  f.ari = true;                              // ARI capability with Next Function 0 (VFs are not chained)
  f.pm = true;
  f.msix_vectors = 0;                        // added below, in VF BAR3
  f.loc = spec.loc;
  f.acs.loc = spec.loc;
  auto vf = make_endpoint_function(spec.name + ".vf" + std::to_string(n), f, PortType::Endpoint, false, false, link, 0);
  MsixLayout layout;
  layout.table_bir = kVfMsixBar;
  layout.table_offset = kVfMsixTable;
  layout.pba_bir = kVfMsixBar;
  layout.pba_offset = kVfMsixPba;
  add_msix_cap(vf->config(), m_params.vf_msix_vectors, layout, spec.loc);
  // PCIe 9.3.4.1.3: a VF's Command I/O Space and Memory Space Enable are RO 0 (the PF's VF MSE
  // decides); Bus Master Enable, Parity and SERR# stay the VF's own. Interrupt Disable: no INTx.
  vf->config().define(cfg::kCommand, 2, 0, regs::kCmdBusMaster | regs::kCmdParity | regs::kCmdSerr);
  vf->refresh();
  vf->set_vf_bars({}, false);
  return vf;
}

unsigned SriovNic::vf_function_number(unsigned n) const {
  // PCIe 9.2.1.2 with the PF at function 0 of an ARI device (devfn 0).
  return m_params.vf_offset + n * m_params.vf_stride;
}

int SriovNic::vf_index(unsigned fn) const {
  if (fn < m_params.vf_offset || (fn - m_params.vf_offset) % m_params.vf_stride) return -1;
  const unsigned n = (fn - m_params.vf_offset) / m_params.vf_stride;
  return n < m_params.total_vfs ? static_cast<int>(n) : -1;
}

void SriovNic::pf_config_written(uint16_t offset, unsigned size) {
  if (offset >= m_sriov + kSriovSize || offset + size <= m_sriov) return;
  ConfigSpace& cs = pf().config();
  const uint16_t ctrl = cs.read16(static_cast<uint16_t>(m_sriov + kSriovCtrl));
  const bool enable = ctrl & kCtrlVfEnable;
  if (m_vf_enable) {
    // PCIe 9.3.3.7: NumVFs may not change while VF Enable is set; keep what was latched.
    const auto num = static_cast<uint16_t>(m_sriov + kSriovNumVfs);
    if (cs.read16(num) != m_enabled_vfs) cs.set(num, 2, m_enabled_vfs);
  }
  if (enable && !m_vf_enable) enable_vfs();
  else if (!enable && m_vf_enable) disable_vfs();
  update_vf_bars();
}

void SriovNic::enable_vfs() {
  m_vf_enable = true;
  const unsigned num = pf().config().read16(static_cast<uint16_t>(m_sriov + kSriovNumVfs));
  // NumVFs beyond TotalVFs is undefined (PCIe 9.3.3.7): the device brings up TotalVFs.
  m_enabled_vfs = std::min(num, m_params.total_vfs);
  const RequesterId pf_id = pf().bdf();
  for (unsigned n = 0; n < m_enabled_vfs; ++n) {
    PciFunction& vf = *m_vfs[n];
    const unsigned fn = vf_function_number(n);
    vf.reset(ResetKind::Conventional);
    vf.capture_id(RequesterId{pf_id.bus, static_cast<uint8_t>(pf_id.devfn + fn)});
    attach_function(fn, vf, m_vf_hops[n]);
    if (Engine* e = m_engines[fn].get()) {
      ++e->generation;
      for (size_t i = 0; i < kEngineRegisterCount; ++i) e->values[i] = kEngineRegisters[i].reset;
      e->busy = false;
    }
  }
}

void SriovNic::disable_vfs() {
  m_vf_enable = false;
  // PCIe 9.3.3.3.1: clearing VF Enable removes the VFs; they lose all state.
  for (unsigned n = 0; n < m_enabled_vfs; ++n) {
    const unsigned fn = vf_function_number(n);
    detach_function(fn);
    m_vfs[n]->set_vf_bars({}, false);
    if (Engine* e = m_engines[fn].get()) {
      ++e->generation;
      e->busy = false;
    }
  }
  m_enabled_vfs = 0;
}

void SriovNic::update_vf_bars() {
  const ConfigSpace& cs = pf().config();
  const uint16_t ctrl = cs.read16(static_cast<uint16_t>(m_sriov + kSriovCtrl));
  const bool decode = (ctrl & kCtrlVfEnable) && (ctrl & kCtrlVfMse);  // PCIe 9.3.3.3.4
  std::array<BarDecode, 6> base{};
  for (unsigned i = 0; i < 6; ++i) {
    const auto off = static_cast<uint16_t>(m_sriov + kSriovBar0 + 4 * i);
    const uint32_t lo = cs.read32(off);
    const uint32_t mask = cs.wmask_byte(off) | cs.wmask_byte(off + 1) << 8 | cs.wmask_byte(off + 2) << 16 |
                          uint32_t{cs.wmask_byte(off + 3)} << 24;
    if (!mask) continue;
    BarDecode& b = base[i];
    b.present = true;
    b.is_64bit = ((lo >> 1) & 3) == 2;
    b.prefetchable = lo & 8;
    b.base = lo & 0xfffffff0u;
    b.size = (~uint64_t{mask & ~0xfu} + 1) & 0xffffffffu;  // the writable address bits give the size
    if (b.is_64bit && i < 5) b.base |= uint64_t{cs.read32(static_cast<uint16_t>(off + 4))} << 32, ++i;
  }
  for (unsigned n = 0; n < m_vfs.size(); ++n) {
    std::array<DecodedBar, 6> bars{};
    if (n < m_enabled_vfs) {
      for (unsigned i = 0; i < 6; ++i) {
        if (!base[i].present) continue;
        static_cast<BarDecode&>(bars[i]) = base[i];
        bars[i].base = base[i].base + n * base[i].size;  // PCIe 9.3.3.14
        bars[i].index = static_cast<int>(i);
      }
    }
    m_vfs[n]->set_vf_bars(bars, decode && n < m_enabled_vfs);
  }
}

SriovNic::Engine& SriovNic::engine(unsigned fn) {
  if (fn >= m_engines.size() || !m_engines[fn]) throw std::out_of_range(std::string(name()) + ": no function " + std::to_string(fn));
  return *m_engines[fn];
}

uint32_t SriovNic::copies(unsigned fn) const {
  if (fn >= m_engines.size() || !m_engines[fn]) return 0;
  return static_cast<uint32_t>(m_engines[fn]->values[static_cast<size_t>(engine_register_index(kEngCount))]);
}

void SriovNic::on_reset(unsigned fn, ResetKind) {
  if (fn == 0) {
    // The PF's registers are back at reset values: VF Enable is clear, so the VFs are gone.
    if (m_vf_enable) disable_vfs();
    update_vf_bars();
  }
  if (fn >= m_engines.size() || !m_engines[fn]) return;
  Engine& e = *m_engines[fn];
  for (size_t i = 0; i < kEngineRegisterCount; ++i) e.values[i] = kEngineRegisters[i].reset;
  e.busy = false;
  ++e.generation;  // a copy in flight writes nothing back
}

void SriovNic::bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                          PcieExtension& ext, sc_core::sc_time& delay) {
  if (bar != 0 || offset >= 0x100 || fn_no >= m_engines.size() || !m_engines[fn_no]) {
    Endpoint::bar_access(fn_no, fn, bar, offset, gp, ext, delay);  // the rest of the BARs: plain memory
    return;
  }
  // Registers complete at once, as QEMU completes a device's MMIO in the vCPU thread.
  ext.consume_burst(delay);
  engine_mmio(fn_no, gp.is_read(), offset, gp.get_data_ptr(), gp.get_data_length(), delay);
  ext.completer = fn.bdf();
  ext.deliver(function_hop(fn_no));
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

void SriovNic::engine_mmio(unsigned fn, bool is_read, uint64_t offset, uint8_t* data, unsigned len,
                           const sc_core::sc_time& delay) {
  Engine& e = engine(fn);
  const int i = engine_register_index(offset);
  const EngineRegister* r = i >= 0 ? &kEngineRegisters[i] : nullptr;
  // 8-byte registers take 4- or 8-byte accesses, the others 4-byte ones.
  if (r && !(r->width == 8 ? (len == 4 || len == 8) : len == 4)) r = nullptr;
  if (is_read) {
    std::memset(data, 0xff, len);
    if (!r || !r->readable) return;
    uint64_t v = e.values[static_cast<size_t>(i)];
    if (r->offset == kEngStatus) v = (v & ~uint64_t{kStatusBusy}) | (e.busy ? kStatusBusy : 0);
    std::memcpy(data, &v, len);
    return;
  }
  if (!r) return;
  uint64_t v = 0;
  std::memcpy(&v, data, len);
  uint64_t& cur = e.values[static_cast<size_t>(i)];
  cur = (cur & ~r->wmask) | (v & r->wmask);
  cur &= ~(v & r->w1c);
  if (r->offset == kEngDoorbell && v == kDoorbellCopy && !e.busy) {
    e.busy = true;
    m_start.notify(delay);  // the engine starts when the CPU's write has arrived
  }
}

void SriovNic::engine_thread() {
  const size_t status = static_cast<size_t>(engine_register_index(kEngStatus));
  for (;;) {
    sc_core::wait(m_start);
    for (unsigned fn = 0; fn < m_engines.size(); ++fn) {
      Engine* e = m_engines[fn].get();
      if (!e || !e->busy || !function(fn)) continue;
      const uint64_t generation = e->generation;
      const uint64_t src = e->values[static_cast<size_t>(engine_register_index(kEngSrc))];
      const uint64_t dst = e->values[static_cast<size_t>(engine_register_index(kEngDst))];
      const auto len = static_cast<uint32_t>(e->values[static_cast<size_t>(engine_register_index(kEngLen))]);
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      bool ok = len >= 1 && len <= kEngMaxLength;
      if (ok) {
        std::vector<uint8_t> buf(len);
        // Read then write, each a memory request with this function's requester id (a VF's own).
        ok = dma(fn, TlpKind::MemRead, src, buf.data(), len, delay).verdict.outcome == Outcome::Delivered;
        if (ok) ok = dma(fn, TlpKind::MemWrite, dst, buf.data(), len, delay).verdict.outcome == Outcome::Delivered;
      }
      sc_core::wait(delay);
      if (generation != e->generation) continue;  // reset (or VF Enable cleared) meanwhile
      e->busy = false;
      e->values[status] |= ok ? kStatusDone : kStatusError;
      if (ok) ++e->values[static_cast<size_t>(engine_register_index(kEngCount))];
      if (e->values[static_cast<size_t>(engine_register_index(kEngCtrl))] & kCtrlIrq) {
        sc_core::sc_time d = sc_core::SC_ZERO_TIME;
        signal_msi(fn, static_cast<unsigned>(e->values[static_cast<size_t>(engine_register_index(kEngVector))]), d);
      }
    }
  }
}

}  // namespace pciesim
