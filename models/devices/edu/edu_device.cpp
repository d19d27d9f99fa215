#include "devices/edu/edu_device.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "pcie/device_models.h"
#include "pcie/pcie_regs.h"

namespace pciesim {

using namespace edu;

namespace {

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

// The first key of a listed function entry that asks for something other than what the loader
// gives a bare `{function: N}` (yaml_loader.cpp function_spec: FunctionSpec's defaults, DEVCAP.FLR
// off behind a PCIe-to-PCI bridge); nullptr when there is none. A key written with the generic
// default's value (`pm: true`, `interrupt_pin: INTA`) cannot be told from an absent one.
const char* overridden_key(const topo::FunctionSpec& f, const topo::EndpointSpec& ep) {
  const topo::FunctionSpec bare;
  if (f.vendor != bare.vendor) return "vendor";
  if (f.device != bare.device) return "device";
  if (f.class_code != bare.class_code) return "class";
  if (f.revision != bare.revision) return "revision";
  if (f.subsystem_vendor != bare.subsystem_vendor) return "subsystem_vendor";
  if (f.subsystem != bare.subsystem) return "subsystem";
  if (!f.bars.empty()) return "bars";
  if (f.msi_vectors != bare.msi_vectors) return "msi";
  if (f.msi_64bit != bare.msi_64bit) return "msi_64bit";
  if (f.msi_maskable != bare.msi_maskable) return "msi_maskable";
  if (f.msix_vectors != bare.msix_vectors) return "msix";
  if (f.pm != bare.pm) return "pm";
  if (f.aer != bare.aer) return "aer";
  if (f.ari != bare.ari) return "ari";  // also the endpoint's `ari: true`: edu has no ARI capability
  if (f.flr != ep.pcie) return "flr";
  if (f.acs.present || f.acs.capability || f.acs.control || f.acs.egress_vector_bits || f.acs.egress_vector)
    return "acs";
  if (f.interrupt_pin != bare.interrupt_pin) return "interrupt_pin";
  return nullptr;
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
  // `params: {aer: true}` (with pcie): an AER capability on each function, for error injection
  // (models/pcie/aer.h, docs/aer.md). QEMU's edu has none.
  bool aer = false;
  if (auto it = spec.params.find("aer"); it != spec.params.end()) {
    if (it->second == "true" || it->second == "1") aer = true;
    else if (it->second != "false" && it->second != "0")
      throw topo::TopologyError(spec.loc, "edu: params.aer '" + it->second + "' must be true or false");
    if (aer && !spec.express)
      throw topo::TopologyError(spec.loc, "edu: params.aer needs params.pcie (AER is a PCIe extended capability)");
  }
  if (spec.functions.empty()) {
    spec.functions.push_back(edu_function_spec());
    spec.functions.back().loc = spec.loc;
    spec.functions.back().acs.loc = spec.loc;
    spec.functions.back().aer = aer;
    return;
  }
  // Each listed function is a whole edu, as each QEMU `-device edu,addr=D.F` is: the entry picks
  // its number and edu supplies the rest. Numbers, function 0 and duplicates are the validator's.
  for (topo::FunctionSpec& f : spec.functions) {
    if (const char* key = overridden_key(f, spec))
      throw topo::TopologyError(f.loc, "edu: function " + std::to_string(f.function) + " of endpoint '" + spec.name +
                                           "' sets '" + key +
                                           "'; an edu function is QEMU's edu (1234:11e8, BAR0 1 MiB, one MSI "
                                           "vector, INTA) and takes only 'function:'");
    const topo::SourceLoc loc = f.loc;
    f = edu_function_spec(f.function);
    f.loc = loc;
    f.aer = aer;
    f.acs.loc = loc;
  }
}

[[maybe_unused]] const bool kRegistered = register_device_model("edu", make_edu, {true, edu_defaults});

}  // namespace

topo::FunctionSpec edu_function_spec(int function) {
  topo::FunctionSpec f;
  f.function = function;
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
  f.interrupt_pin = 1;        // pci_config_set_interrupt_pin(pci_conf, 1): INTA, on every function
  return f;
}

EduDevice::EduDevice(sc_core::sc_module_name name, const topo::EndpointSpec& spec, int segment,
                     const topo::LinkSpec* link)
    : Endpoint(name, spec, segment, link), m_dma_mask(parse_dma_mask(spec)), m_reset(parse_reset(spec)) {
  for (const topo::FunctionSpec& f : spec.functions) {
    const auto n = static_cast<unsigned>(f.function);
    if (m_edus.size() <= n) m_edus.resize(n + 1);
    m_edus[n] = std::make_unique<EduFunction>(("fn" + std::to_string(n)).c_str(), *this, n, m_dma_mask, m_reset);
    // QEMU sets Header Type bit 7 only on the function realized with multifunction=on (hw/pci/
    // pci.c pci_init_multifunction): function 0 of `-device edu,addr=D.0,multifunction=on
    // -device edu,addr=D.1`. The other functions read 0x00 (Linux's scan marks them anyway).
    if (n != 0)
      if (PciFunction* pf = function(n)) pf->config().set_reset(cfg::kHeaderType, 1, regs::kHeaderTypeNormal);
  }
}

const EduFunction& EduDevice::edu_function(unsigned fn) const {
  if (!has_edu_function(fn)) throw std::out_of_range(std::string(name()) + ": no edu function " + std::to_string(fn));
  return *m_edus[fn];
}

void EduDevice::bar_access(unsigned fn_no, PciFunction& fn, int bar, uint64_t offset, tlm::tlm_generic_payload& gp,
                           PcieExtension& ext, sc_core::sc_time& delay) {
  // QEMU completes edu MMIO synchronously in the vCPU thread: no device latency beyond the fabric's.
  ext.consume_burst(delay);
  uint8_t* data = gp.get_data_ptr();
  const unsigned len = gp.get_data_length();
  if (bar == 0 && has_edu_function(fn_no)) {
    m_edus[fn_no]->mmio(gp.is_read(), offset, data, len, delay);
  } else if (gp.is_read()) {
    std::memset(data, 0xff, len);
  }
  ext.completer = fn.bdf();
  ext.deliver(function_hop(fn_no));
  gp.set_response_status(tlm::TLM_OK_RESPONSE);
}

void EduDevice::on_reset(unsigned fn, ResetKind) {
  if (has_edu_function(fn)) m_edus[fn]->reset();
}

}  // namespace pciesim
