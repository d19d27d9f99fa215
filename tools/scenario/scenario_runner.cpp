// Runs one scenario: its Fabric, the co-simulated kernel booted on it, the owners set up through
// the kernel (VFIO: the vfio-pci driver, one container per owner, every group of its devices
// attached to it; DMA API: the kernel's dma_map/dma_unmap on the device's default domain), then
// each step, checked against its expectations. Device-initiated requests are Endpoint::dma (the
// DMA agent's issue() for forged MSIs), so every port, ACS check and remapping unit sees them.
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <cstring>
#include <functional>
#include <iomanip>
#include <memory>
#include <set>
#include <sstream>
#include <variant>

#include "cli_common.h"
#include "devices/dma_agent/dma_agent.h"
#include "devices/dram.h"
#include "devices/gpu/gmmu_walk.h"
#include "devices/sriov_nic/sriov_nic.h"
#include "iommu/iommu_api.h"
#include "iommu/iommu_domain.h"
#include "iommu/vtd_types.h"
#include "kernel/kernel.h"
#include "kernel/sysfs.h"
#include "pci/pci_core.h"
#include "pcie/endpoint.h"
#include "pcie/fabric.h"
#include "pcie/port_registry.h"
#include "scenario.h"
#include "scenario_gpu.h"
#include "scenario_irq.h"
#include "vfio/user_memory.h"
#include "vfio/vfio_core.h"
#include "vfio_probe_cosim.h"

namespace pciesim::scenario {

namespace {

// How a request ended, from Endpoint::dma's record or the DMA agent's result.
struct Observation {
  Verdict verdict;
  AcsBit redirect_bit = AcsBit::None;
  HopId redirect_port = kNoHop;
  RequesterId wire, original;
  bool iommu_checked = false;
  uint64_t iommu_output = 0;
  double latency_ns = 0;
  bool ats = false;                         // issued with at: ats
  AtcOutcome atc = AtcOutcome::NotUsed;     // what the function's ATC did
  bool delivered() const {
    return verdict.outcome == Outcome::Delivered || verdict.outcome == Outcome::Redirected;
  }
};

std::string where(HopId h) { return h == kNoHop ? std::string("?") : hops().describe(h); }

std::string hex(uint64_t v) {
  std::ostringstream o;
  o << "0x" << std::hex << v;
  return o.str();
}

std::string describe(const Observation& o) {
  std::string s;
  switch (o.verdict.outcome) {
    case Outcome::Delivered:
    case Outcome::Redirected: s = "delivered at " + where(o.verdict.port); break;
    case Outcome::BlockedByAcs: s = std::string("blocked by ACS ") + to_string(o.verdict.acs_bit) + " at " + where(o.verdict.port); break;
    case Outcome::UnsupportedRequest: s = "UR at " + where(o.verdict.port); break;
    case Outcome::CompleterAbort: s = "CA at " + where(o.verdict.port); break;
    case Outcome::IommuFault:
      s = "IOMMU fault " + hex(o.verdict.fault_reason) + " (" +
          vtd::describe(static_cast<vtd::FaultReason>(o.verdict.fault_reason)) + ")";
      break;
    case Outcome::Pending: s = "not completed"; break;
  }
  if (o.redirect_bit != AcsBit::None)
    s = std::string("redirected by ACS ") + to_string(o.redirect_bit) + " at " + where(o.redirect_port) + ", " + s;
  if (o.wire != o.original) s += "; requester " + o.wire.to_string() + " (alias of " + o.original.to_string() + ")";
  if (o.ats) s += std::string("; ATC ") + to_string(o.atc);
  return s;
}

struct VfioMapping {
  uint8_t* mem = nullptr;
  uint64_t size = 0;
};
struct DmaBuffer {
  void* kbuf = nullptr;
  uint64_t size = 0;
  std::map<std::string, uint64_t> iova;  // per device
  bool mapped = true;
};

struct OwnerState {
  const Owner* spec = nullptr;
  int container = -1;
  std::vector<int> groups;
  std::map<std::string, std::shared_ptr<cosim::VfioDeviceFile>> devices;
  std::map<uint64_t, VfioMapping> maps;
  std::map<std::string, DmaBuffer> buffers;
};

class Run {
 public:
  explicit Run(const Scenario& s) : m_s(s) {}

  ScenarioResult go() {
    ScenarioResult r;
    r.file = m_s.file;
    r.name = m_s.name;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      const std::set<std::string> names = names_in_topology();
      check_device_names(&names);
      check_irq_steps(m_s);
      m_fabric = std::make_unique<Fabric>(m_s.topology);
      m_fabric->enumerate();
      // Every request takes the hop-by-hop path, so the trace has each hop's time: a route the
      // cache replays restores its hops but not their times (route_cache.h). Verdicts, data and
      // latencies are the same on both paths (tests/pcie route cache tests).
      for (const FunctionInfo& f : m_fabric->functions())
        if (f.endpoint) f.endpoint->route_cache().set_enabled(false);
      cosim::KernelOptions ko;
      ko.iommu = m_s.boot.iommu;
      ko.strict = m_s.boot.strict;
      ko.passthrough = m_s.boot.passthrough;
      ko.acs_override = m_s.boot.acs_override;
      check_device_names();  // and that each is an endpoint function
      m_kernel = std::make_unique<cosim::Kernel>(*m_fabric, ko);
      m_kernel->boot();
      r.machine = machine_from_fabric(*m_fabric, [this](const FunctionInfo& f) {  // as the groups step reads them
        cosim::PciDev* pd = m_kernel->pci().find(f.segment, f.bdf());
        cosim::GroupRec* g = pd ? m_kernel->iommu().group_of(*pd) : nullptr;
        return g ? g->id : -1;
      });
      for (const Owner& o : m_s.owners)
        if (r.error.empty()) r.error = set_up(o);
      int index = 0;
      for (const Step& st : r.error.empty() ? m_s.steps : std::vector<Step>{}) {
        m_step = index + 1;
        const double start = now_ns();
        StepResult sr = run_step(st);
        sr.index = ++index;
        trace_step(st, sr, start);
        sr.kind = to_string(st.kind);
        sr.label = st.label;
        sr.line = st.loc.line;
        r.steps.push_back(sr);
      }
    } catch (const ScenarioError&) {
      throw;
    } catch (const topo::TopologyError&) {
      throw;
    } catch (const std::exception& e) {
      r.error = e.what();
    }
    r.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    r.sim_ns = sc_core::sc_time_stamp().to_seconds() * 1e9;
    r.trace = std::move(m_trace);
    return r;
  }

 private:
  // --- the trace (scenario_trace.h): each step's simulated span and the transactions it issued ---
  static double now_ns() { return sc_core::sc_time_stamp().to_seconds() * 1e9; }
  void trace_step(const Step& st, const StepResult& sr, double start) {
    m_trace.steps.push_back({m_step, to_string(st.kind), st.label, start, now_ns(), sr.pass});
  }
  TraceTx& trace_tx(const std::string& from, const std::string& name, double start, double dur, const Verdict& v,
                    AcsBit redirect_bit, HopId redirect_port, const std::vector<HopId>& path,
                    const std::vector<sc_core::sc_time>& hop_at = {}) {
    TraceTx x;
    x.step = m_step;
    x.initiator = from;
    x.name = name;
    x.start_ns = start;
    x.dur_ns = dur;
    for (HopId h : path) x.hops.push_back(h == kNoHop ? std::string("?") : hops().name(h));
    if (hop_at.size() == path.size())
      for (const sc_core::sc_time& t : hop_at) x.hop_ns.push_back(t.to_seconds() * 1e9);
    x.outcome = pciesim::to_string(v.outcome);
    if (v.port != kNoHop) x.port = hops().name(v.port);
    if (v.acs_bit != AcsBit::None) x.acs_bit = to_string(v.acs_bit);
    if (v.outcome == Outcome::IommuFault) {
      x.fault_reason = v.fault_reason;
      x.fault_text = vtd::describe(static_cast<vtd::FaultReason>(v.fault_reason));
    }
    if (redirect_bit != AcsBit::None) {
      x.redirect_bit = to_string(redirect_bit);
      x.redirect_port = redirect_port == kNoHop ? std::string("?") : hops().name(redirect_port);
    }
    m_trace.txs.push_back(std::move(x));
    return m_trace.txs.back();
  }

  [[noreturn]] void fail(const SourceLoc& loc, const std::string& field, const std::string& msg) const {
    throw ScenarioError(loc, field, msg);
  }

  // A topology function, or a VF of an SR-IOV device ("nic0.vf1", VF 1 of nic0) while it exists
  // (VFs come and go with VF Enable, so the Fabric's table does not list them).
  const FunctionInfo* lookup(const std::string& name) {
    if (const FunctionInfo* f = m_fabric->find(name)) return f;
    const auto dot = name.rfind(".vf");
    if (dot == std::string::npos) return nullptr;
    const FunctionInfo* pf = m_fabric->find(name.substr(0, dot));
    auto* nic = pf ? dynamic_cast<SriovNic*>(pf->endpoint) : nullptr;
    const std::string idx = name.substr(dot + 3);
    if (!nic || idx.empty() || idx.size() > 3 || !std::all_of(idx.begin(), idx.end(), ::isdigit)) return nullptr;
    const unsigned n = static_cast<unsigned>(std::stoul(idx));
    if (n >= nic->num_vfs_enabled() || !nic->vf(n)) return nullptr;
    for (const FunctionInfo& v : m_vf_infos)
      if (v.fn == nic->vf(n)) return &v;
    FunctionInfo v = *pf;
    v.fn = nic->vf(n);
    v.function_number = nic->vf_function_number(n);
    m_vf_infos.push_back(v);
    return &m_vf_infos.back();
  }

  // Every device a step names exists in the topology: bad input found before any simulated
  // thread runs (an exception thrown across SystemC's coroutines confuses AddressSanitizer), with
  // the same file:line:field errors the steps give. VF names exist only once sriov_enable has run;
  // gpu_* steps and owners check theirs when they use them.
  // Called twice: before the Fabric exists, against the names the topology file gives (`known`),
  // so no exception is thrown after SystemC has switched coroutines; then against the fabric, for
  // the role checks.
  void check_device_names(const std::set<std::string>* known = nullptr) {
    auto check = [&](const std::string& name, const SourceLoc& loc, const std::string& field) {
      if (name.empty() || name.find(".vf") != std::string::npos) return;
      if (!known) function(name, loc, field);
      else if (!known->count(name)) fail(loc, field, "no device '" + name + "' in the topology (or no such VF enabled)");
    };
    auto lookup_known = [&](const std::string& d) { return known ? known->count(d) > 0 : lookup(d) != nullptr; };
    for (const Step& st : m_s.steps) {
      const std::string kind = to_string(st.kind);
      switch (st.kind) {
        case Step::Kind::Dma:
        case Step::Kind::P2p:
          check(st.from, st.loc, kind + ".from");
          if (const auto bar = st.to.find(":BAR"); bar != std::string::npos) check(st.to.substr(0, bar), st.loc, kind + ".to");
          break;
        case Step::Kind::Msi:
          check(st.from, st.loc, "msi.from");
          check(st.irq.copy, st.loc, "msi.copy");
          break;
        case Step::Kind::IrqSetup: check(st.from, st.loc, "irq_setup.device"); break;
        case Step::Kind::Irte: check(st.from, st.loc, "irte.device"); break;
        case Step::Kind::Reset: check(st.from, st.loc, "reset.device"); break;
        case Step::Kind::Setpci: check(st.from, st.loc, "setpci.device"); break;
        case Step::Kind::SriovEnable: check(st.from, st.loc, "sriov_enable.device"); break;
        case Step::Kind::Groups:
          for (const std::string& d : st.devices)
            if (d.find(".vf") == std::string::npos && !lookup_known(d)) fail(st.loc, "groups", "no device '" + d + "' in the topology");
          break;
        default: break;
      }
    }
  }

  // Every name the topology file gives a node (endpoints, their functions as NAME.fN, ports,
  // switches, bridges): what Fabric::find can answer once the machine is built.
  std::set<std::string> names_in_topology() const {
    std::set<std::string> names;
    std::function<void(const topo::EndpointSpec&)> endpoint = [&](const topo::EndpointSpec& e) {
      names.insert(e.name);
      for (const topo::FunctionSpec& f : e.functions) names.insert(e.name + ".f" + std::to_string(f.function));
    };
    std::function<void(const topo::PciBridgeSpec&)> bridge = [&](const topo::PciBridgeSpec& b) {
      names.insert(b.name);
      for (const topo::EndpointSpec& e : b.devices) endpoint(e);
      for (const topo::PciBridgeSpec& c : b.bridges) bridge(c);
    };
    std::function<void(const topo::DownstreamPortSpec&)> port = [&](const topo::DownstreamPortSpec& p) {
      names.insert(p.name);
      if (!p.child) return;
      if (const auto* e = std::get_if<topo::EndpointSpec>(&p.child->node)) endpoint(*e);
      if (const auto* b = std::get_if<topo::PciBridgeSpec>(&p.child->node)) bridge(*b);
      if (const auto* sw = std::get_if<topo::SwitchSpec>(&p.child->node)) {
        names.insert(sw->name);
        for (const topo::DownstreamPortSpec& d : sw->ports) port(d);
      }
    };
    for (const topo::RootComplexSpec& rc : m_s.topology.root_complexes) {
      names.insert(rc.name);
      for (const topo::DownstreamPortSpec& p : rc.root_ports) port(p);
      for (const topo::EndpointSpec& e : rc.integrated) endpoint(e);
    }
    return names;
  }

  const FunctionInfo& function(const std::string& name, const SourceLoc& loc, const std::string& field) {
    const FunctionInfo* f = lookup(name);
    if (!f) fail(loc, field, "no device '" + name + "' in the topology (or no such VF enabled)");
    if (!f->endpoint) fail(loc, field, name + " is a " + std::string(pciesim::to_string(f->role)) + ", not an endpoint function");
    return *f;
  }
  cosim::PciDev& pcidev(const FunctionInfo& f) {
    cosim::PciDev* d = m_kernel->pci().find(f.segment, f.bdf());
    if (!d) throw std::runtime_error("the kernel did not find " + f.fn->name());
    return *d;
  }
  template <class T>
  long on(int fd, unsigned long cmd, T* arg) {
    auto f = m_kernel->files().get(fd);
    if (auto c = std::dynamic_pointer_cast<cosim::VfioContainer>(f)) return c->ioctl(cmd, arg);
    if (auto g = std::dynamic_pointer_cast<cosim::VfioGroupFile>(f)) return g->ioctl(cmd, arg);
    return -EBADF;
  }

  // VFIO: vfio-pci bound to every device, one container, each group attached, device fds opened,
  // Memory Space and Bus Master enabled through the config region (as QEMU does). DMA API: the
  // device stays with no driver; Bus Master as pci_set_master() sets it.
  // Returns "" or why the owner could not take its devices (the run stops with that error). It is
  // returned, not thrown: an exception unwinding after SystemC switched coroutines (the kernel's
  // tasks) is misread by AddressSanitizer as a stack overflow, so run-time failures that a scenario
  // can provoke (a group not viable for one owner) end without one.
  std::string set_up(const Owner& o) {
    OwnerState& st = m_owners[o.name];
    st.spec = &o;
    for (const std::string& d : o.devices) {
      const FunctionInfo& f = function(d, o.loc, "owners." + o.name);
      if (o.kind == Owner::Kind::DmaApi) {
        const uint16_t cmd = static_cast<uint16_t>(m_fabric->config_read(f.segment, f.bdf(), 0x04, 2));
        m_fabric->config_write(f.segment, f.bdf(), 0x04, 2, cmd | 0x6);  // PCI 3.0 6.2.2: MEM | BME
      }
    }
    if (o.kind == Owner::Kind::DmaApi) return "";
    if (!m_kernel->module_loaded("vfio_pci")) {
      const int rc = m_kernel->load_module("vfio_pci", vfio_pci_params());
      if (rc) return "modprobe vfio_pci failed: " + std::to_string(rc);
    }
    for (const std::string& d : o.devices) {
      std::string log;
      const int rc = tools::bind_to_driver(*m_kernel, pcidev(*m_fabric->find(d)).name, "vfio-pci", log);
      if (rc) return o.name + ": binding " + d + " to vfio-pci: " + log + " failed: " + std::to_string(rc);
    }
    st.container = m_kernel->vfio().open("/dev/vfio/vfio");
    std::map<int, int> group_fd;  // group id -> its fd
    for (const std::string& d : o.devices) {
      cosim::GroupRec* g = m_kernel->iommu().group_of(pcidev(*m_fabric->find(d)));
      if (!g) return o.name + ": " + d + " has no IOMMU group (is the IOMMU on?)";
      if (group_fd.count(g->id)) continue;
      const int fd = m_kernel->vfio().open("/dev/vfio/" + std::to_string(g->id));
      if (fd < 0) return o.name + ": open /dev/vfio/" + std::to_string(g->id) + ": " + std::to_string(fd);
      long rc = on(fd, VFIO_GROUP_SET_CONTAINER, &st.container);
      if (rc) return o.name + ": VFIO_GROUP_SET_CONTAINER: " + std::to_string(rc) + " (is every device of group " + std::to_string(g->id) + " owned?)";
      if (st.groups.empty()) {
        rc = on(st.container, VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1v2_IOMMU}));
        if (rc) return o.name + ": VFIO_SET_IOMMU: " + std::to_string(rc);
      }
      st.groups.push_back(fd);
      group_fd[g->id] = fd;
    }
    for (const std::string& d : o.devices) {
      const cosim::PciDev& pd = pcidev(*m_fabric->find(d));
      const int gfd = group_fd.at(m_kernel->iommu().group_of(pd)->id);
      std::vector<char> n(pd.name.begin(), pd.name.end());
      n.push_back('\0');
      const int fd = static_cast<int>(on(gfd, VFIO_GROUP_GET_DEVICE_FD, n.data()));
      if (fd < 0) return o.name + ": VFIO_GROUP_GET_DEVICE_FD " + d + ": " + std::to_string(fd);
      auto dev = std::dynamic_pointer_cast<cosim::VfioDeviceFile>(m_kernel->files().get(fd));
      // Where the config region is, as a user learns it (VFIO_DEVICE_GET_REGION_INFO).
      vfio_region_info ri{};
      ri.argsz = sizeof(ri);
      ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
      if (dev->ioctl(VFIO_DEVICE_GET_REGION_INFO, &ri) != 0) return o.name + ": region info of " + d;
      const uint64_t kConfig = ri.offset;
      uint16_t cmd = 0;
      if (dev->read(&cmd, 2, kConfig + PCI_COMMAND) != 2) return o.name + ": config read of " + d;
      cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
      if (dev->write(&cmd, 2, kConfig + PCI_COMMAND) != 2) return o.name + ": config write of " + d;
      st.devices[d] = dev;
    }
    return "";
  }

  // vfio_pci's enable_sriov (off by default, vfio_pci.c) when a step enables VFs on a PF.
  std::string vfio_pci_params() const {
    for (const Step& st : m_s.steps)
      if (st.kind == Step::Kind::SriovEnable) return "enable_sriov=1";
    return "";
  }

  OwnerState* owner_of_device(const std::string& d) {
    for (auto& [name, st] : m_owners)
      for (const std::string& x : st.spec->devices)
        if (x == d) return &st;
    return nullptr;
  }

  // "0x1000", "buf0[+OFF]" (a DMA-API owner's buffer as `from` sees it), "dev:BARn[+OFF]".
  uint64_t resolve(const Step& st, const std::string& from, const std::string& text) {
    auto bar = text.find(":BAR");
    std::string base = text;
    uint64_t off = 0;
    const auto plus = text.find('+');
    if (plus != std::string::npos) {
      base = text.substr(0, plus);
      off = parse(st, text.substr(plus + 1));
    }
    if (bar != std::string::npos) {
      const FunctionInfo& f = function(text.substr(0, bar), st.loc, std::string(to_string(st.kind)) + ".to");
      const unsigned idx = static_cast<unsigned>(parse(st, base.substr(bar + 4)));
      if (idx > 5 || f.fn->bars()[idx].index < 0) fail(st.loc, std::string(to_string(st.kind)) + ".to", f.fn->name() + " has no BAR" + std::to_string(idx));
      if (off >= f.fn->bars()[idx].size) fail(st.loc, std::string(to_string(st.kind)) + ".to", "offset beyond the BAR");
      return f.fn->bars()[idx].base + off;
    }
    if (!base.empty() && !std::isdigit(static_cast<unsigned char>(base[0]))) {
      for (auto& [n, o] : m_owners) {
        auto b = o.buffers.find(base);
        if (b == o.buffers.end()) continue;
        auto i = b->second.iova.find(from);
        if (i == b->second.iova.end()) fail(st.loc, "dma.to", "buffer " + base + " is not mapped for " + from);
        return i->second + off;
      }
      fail(st.loc, "dma.to", "no mapped buffer '" + base + "' (map it first)");
    }
    return parse(st, base) + off;
  }
  uint64_t parse(const Step& st, const std::string& t) {
    try {
      return cli::parse_number(t, "address");
    } catch (const std::exception& e) {
      fail(st.loc, std::string(to_string(st.kind)) + ".to", e.what());
    }
  }

  // Reads what is at bus address `addr` now: DRAM directly, anything else (a BAR) as a CPU load.
  std::vector<uint8_t> memory_at(uint64_t addr, unsigned len) {
    std::vector<uint8_t> out(len, 0);
    Dram& dram = m_fabric->dram();
    if (addr >= dram.base() && addr + len <= dram.base() + dram.size()) {
      dram.read(addr, out.data(), len);
    } else {
      sc_core::sc_time d = sc_core::SC_ZERO_TIME;
      m_fabric->cpu().access(false, addr, out.data(), len, d);
    }
    return out;
  }

  StepResult run_step(const Step& st) {
    switch (st.kind) {
      case Step::Kind::Map: return check_result(st, do_map(st));
      case Step::Kind::Unmap: return check_result(st, do_unmap(st));
      case Step::Kind::Invalidate: return check_result(st, do_invalidate(st));
      case Step::Kind::Reset: return check_result(st, do_reset(st));
      case Step::Kind::Dma:
      case Step::Kind::P2p: return do_transfer(st);
      case Step::Kind::Msi: return do_msi(st);
      case Step::Kind::Groups: return do_groups(st);
      case Step::Kind::Setpci: return check_result(st, do_setpci(st));
      case Step::Kind::Wait: return check_result(st, do_wait(st));
      case Step::Kind::SriovEnable: return check_result(st, do_sriov_enable(st));
      case Step::Kind::GpuMap: return check_result(st, do_gpu_map(st));
      case Step::Kind::GpuCopy: return do_gpu_copy(st);
      case Step::Kind::IrqSetup: return check_result(st, do_irq_setup(st));
      case Step::Kind::Irte: return check_result(st, irq().modify_irte(st, function(st.from, st.loc, "irte.device")));
    }
    return {};
  }

  StepResult check_result(const Step& st, int rc) {
    StepResult r;
    r.expected = "result " + std::to_string(st.expect.result.value_or(0));
    r.observed = rc == 0 ? "result 0" : "result " + std::to_string(rc) + " (" + std::strerror(-rc) + ")";
    r.pass = rc == st.expect.result.value_or(0);
    return r;
  }

  int do_map(const Step& st) {
    OwnerState& o = m_owners.at(st.owner);
    if (o.spec->kind == Owner::Kind::Vfio) {
      auto* mem = static_cast<uint8_t*>(m_kernel->user_memory().map(st.size));
      if (!mem) return -ENOMEM;
      unsigned flags = (st.readable ? VFIO_DMA_MAP_FLAG_READ : 0) | (st.writable ? VFIO_DMA_MAP_FLAG_WRITE : 0);
      vfio_iommu_type1_dma_map m{sizeof(m), flags, reinterpret_cast<uint64_t>(mem), st.iova, st.size};
      const long rc = on(o.container, VFIO_IOMMU_MAP_DMA, &m);
      if (rc == 0) o.maps[st.iova] = {mem, st.size};
      return static_cast<int>(rc);
    }
    DmaBuffer b;
    b.size = st.size;
    b.kbuf = m_kernel->memory().alloc(st.size, 4096);
    if (!b.kbuf) return -ENOMEM;
    std::memset(b.kbuf, 0, st.size);
    const uint64_t phys = m_kernel->memory().virt_to_phys(b.kbuf);
    const unsigned prot = (st.readable ? unsigned{cosim::kIommuRead} : 0u) | (st.writable ? unsigned{cosim::kIommuWrite} : 0u);
    for (const std::string& d : o.spec->devices) {
      const uint64_t iova = m_kernel->iommu().dma_map(pcidev(*m_fabric->find(d)), phys, st.size, prot);
      if (iova == ~0ull) return -ENOMEM;
      b.iova[d] = iova;
    }
    o.buffers[st.buffer] = b;
    return 0;
  }

  int do_unmap(const Step& st) {
    OwnerState& o = m_owners.at(st.owner);
    if (o.spec->kind == Owner::Kind::Vfio) {
      vfio_iommu_type1_dma_unmap u{sizeof(u), 0, st.iova, st.size};
      const long rc = on(o.container, VFIO_IOMMU_UNMAP_DMA, &u);
      return rc < 0 ? static_cast<int>(rc) : 0;
    }
    auto b = o.buffers.find(st.buffer);
    if (b == o.buffers.end()) fail(st.loc, "unmap.buffer", "no buffer '" + st.buffer + "' mapped by " + st.owner);
    if (!b->second.mapped) return -EINVAL;  // already unmapped
    for (const auto& [d, iova] : b->second.iova)
      if (!m_kernel->iommu().dma_unmap(pcidev(*m_fabric->find(d)), iova, b->second.size)) return -EINVAL;
    // The kernel buffer stays allocated: a stale translation still reaches it (the point of the
    // lazy-flush scenarios); kernel memory is freed with the process.
    b->second.mapped = false;  // its name still resolves to the old IOVA (for stale-entry steps)
    return 0;
  }

  // The DMA API owner's domains flush what their lazy flush queues hold (what the 10 ms
  // fq_flush_timeout or a full queue would do; Linux dma-iommu.c fq_flush_iotlb).
  int do_invalidate(const Step& st) {
    OwnerState& o = m_owners.at(st.owner);
    if (o.spec->kind == Owner::Kind::Vfio)
      fail(st.loc, "invalidate.owner", "VFIO type1 invalidates the IOTLB on every unmap; invalidate applies to dma_api owners");
    for (const std::string& d : o.spec->devices) {
      cosim::DomainRec* dom = m_kernel->iommu().domain_of(pcidev(*m_fabric->find(d)));
      if (!dom) continue;
      for (auto& [unit, hw] : dom->hw)
        if (const int rc = hw->flush_lazy()) return rc;
    }
    return 0;
  }

  // FLR: through VFIO_DEVICE_RESET when a VFIO owner holds the device, else directly.
  int do_reset(const Step& st) {
    const FunctionInfo& f = function(st.from, st.loc, "reset.device");
    if (OwnerState* o = owner_of_device(st.from); o && o->spec->kind == Owner::Kind::Vfio)
      return static_cast<int>(o->devices.at(st.from)->ioctl(VFIO_DEVICE_RESET, nullptr));
    f.endpoint->reset_function(f.function_number, ResetKind::FunctionLevel);
    return 0;
  }

  // A device no owner holds still issues the step's request: Bus Master Enable is set first, as
  // its driver's pci_set_master() would (PCI 3.0 6.2.2; without it the function may not issue
  // memory requests and the request ends as UR).
  void master(const std::string& name, const FunctionInfo& f) {
    if (owner_of_device(name) || f.fn->bus_master()) return;
    const uint16_t cmd = static_cast<uint16_t>(m_fabric->config_read(f.segment, f.bdf(), 0x04, 2));
    m_fabric->config_write(f.segment, f.bdf(), 0x04, 2, cmd | 0x4);
  }

  DmaOptions options(const Step& st) {
    DmaOptions opt;
    if (st.at == "translated") opt.at = AddressType::Translated;
    if (st.at == "translation-request") opt.at = AddressType::TranslationRequest;
    if (st.at == "ats") opt.ats = true;  // the function's ATS decides (models/pcie/ats.h)
    opt.phantom = st.phantom;
    if (st.spoof) {
      try {
        opt.spoof_requester = cli::parse_bdf(*st.spoof).id;
      } catch (const std::exception& e) {
        fail(st.loc, std::string(to_string(st.kind)) + ".spoof", e.what());
      }
    }
    return opt;
  }

  StepResult do_transfer(const Step& st) {
    const FunctionInfo& f = function(st.from, st.loc, std::string(to_string(st.kind)) + ".from");
    const uint64_t addr = resolve(st, st.from, st.to);
    master(st.from, f);
    std::vector<uint8_t> data(st.length);
    for (uint32_t i = 0; i < st.length; ++i) data[i] = static_cast<uint8_t>(st.fill + i);
    m_fabric->settle();  // the request starts on idle links: its latency is its own
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    const double issued = now_ns();
    const TlpKind kind = st.write ? TlpKind::MemWrite : TlpKind::MemRead;
    const PcieExtension& ext = f.endpoint->dma(f.function_number, kind, addr, data.data(), st.length, delay, options(st));
    {
      TraceTx& x = trace_tx(st.from, std::string(pciesim::to_string(kind)) + " " + std::to_string(st.length) + " B " + hex(addr),
                            issued, delay.to_seconds() * 1e9, ext.final_verdict(), ext.redirect_bit, ext.redirect_port,
                            std::vector<HopId>(ext.hops.begin(), ext.hops.begin() + ext.hop_count),
                            ext.hop_times ? std::vector<sc_core::sc_time>(ext.hop_at.begin(), ext.hop_at.begin() + ext.hop_count)
                                          : std::vector<sc_core::sc_time>{});
      x.hops_truncated = ext.hops_truncated;
      x.requester = ext.requester.to_string();
      x.iommu_checked = ext.iommu_checked;
      x.iommu_input = ext.iommu_input;
      x.iommu_output = ext.iommu_output;
      x.iommu_domain = ext.iommu_domain;
    }
    Observation o;
    o.verdict = ext.final_verdict();
    o.redirect_bit = ext.redirect_bit;
    o.redirect_port = ext.redirect_port;
    o.wire = ext.requester;
    o.original = ext.original_requester;
    o.iommu_checked = ext.iommu_checked;
    o.iommu_output = ext.iommu_output;
    o.latency_ns = delay.to_seconds() * 1e9;
    o.ats = st.at == "ats";
    o.atc = ext.atc;
    std::optional<bool> equal;
    if (st.expect.data_equal) {
      if (!o.delivered()) {
        equal = false;
      } else {
        const uint64_t where = o.iommu_checked ? o.iommu_output : addr;
        equal = memory_at(where, st.length) == data;
      }
    }
    return judge(st, o, equal);
  }

  StepResult do_msi(const Step& st) {
    const FunctionInfo& f = function(st.from, st.loc, "msi.from");
    auto* agent = dynamic_cast<DmaAgent*>(f.endpoint);
    const bool own = st.irq.vector && st.irq.copy.empty();  // the device's own MSI (scenario_irq.h)
    if (!agent && !own) fail(st.loc, "msi.from", st.from + " is not a DMA agent (model: dma-agent): only it forges MSI writes");
    const FunctionInfo* target = st.irq.vector ? &function(own ? st.from : st.irq.copy, st.loc, own ? "msi.from" : "msi.copy") : nullptr;
    master(st.from, f);
    m_fabric->settle();
    irq().begin(st, target);
    uint64_t address = st.to.empty() ? 0 : parse(st, st.to);
    uint32_t data = st.msi_data;
    std::string why;
    if (!own && target) why = irq().programmed(*target, *st.irq.vector, address, data);
    if (!why.empty()) fail(st.loc, "msi.copy", st.irq.copy + ": " + why);
    AgentRequest req = AgentRequest::forged_msi(address, data, options(st));
    req.function = f.function_number;
    const double issued = now_ns();
    const AgentResult r = own ? irq().send_own(f, *st.irq.vector, address, why) : agent->issue(req);
    {
      TraceTx& x = trace_tx(st.from, "MSI write " + hex(address), issued, r.latency.to_seconds() * 1e9,
                            r.verdict, r.redirect_bit, r.redirect_port, r.path, r.path_at);
      x.requester = r.requester_on_wire.to_string();
      x.iommu_checked = r.iommu_checked;
      x.iommu_output = r.iommu_output;
    }
    Observation o;
    o.verdict = r.verdict;
    o.redirect_bit = r.redirect_bit;
    o.redirect_port = r.redirect_port;
    o.wire = r.requester_on_wire;
    o.original = st.spoof ? r.requester_on_wire : f.endpoint->dma_requester(f.function_number);
    o.iommu_checked = r.iommu_checked;
    o.iommu_output = r.iommu_output;
    o.latency_ns = r.latency.to_seconds() * 1e9;
    StepResult res = judge(st, o, std::nullopt);
    if (!why.empty()) res.observed += "; " + why;
    irq().judge(st, target, r.requester_on_wire, res);
    return res;
  }

  // The interrupt steps (scenario_irq.h), made when a step first needs them.
  ScenarioIrq& irq() {
    if (!m_irq) m_irq = std::make_unique<ScenarioIrq>(*m_fabric, *m_kernel);
    return *m_irq;
  }
  // irq_setup: the device's owner enables its MSI / MSI-X (VFIO: SET_IRQS; DMA API: pci_alloc_irq_vectors).
  int do_irq_setup(const Step& st) {
    const FunctionInfo& f = function(st.from, st.loc, "irq_setup.device");
    OwnerState* o = owner_of_device(st.from);
    if (!o) fail(st.loc, "irq_setup.device", st.from + " has no owner: list it under owners (vfio or dma_api)");
    return irq().setup(st, f, o->spec->kind == Owner::Kind::Vfio ? o->devices.at(st.from).get() : nullptr);
  }

  // The fabric-verdict expectations dma/p2p/msi steps and gpu_copy share: redirected by an ACS bit,
  // blocked (an ACS bit, UR or CA), an IOMMU fault reason.
  static void expect_verdict(const Expect& e, const Verdict& v, AcsBit redirect_bit, std::vector<std::string>& exp,
                             bool& pass) {
    if (e.redirected) {
      exp.push_back("redirected by ACS " + *e.redirected);
      pass &= redirect_bit != AcsBit::None && *e.redirected == to_string(redirect_bit);
    }
    if (e.blocked) {
      exp.push_back("blocked by " + (*e.blocked == "UR" || *e.blocked == "CA" ? *e.blocked : "ACS " + *e.blocked));
      if (*e.blocked == "UR") pass &= v.outcome == Outcome::UnsupportedRequest;
      else if (*e.blocked == "CA") pass &= v.outcome == Outcome::CompleterAbort;
      else pass &= v.outcome == Outcome::BlockedByAcs && *e.blocked == to_string(v.acs_bit);
    }
    if (e.iommu_fault) {
      exp.push_back("IOMMU fault " + hex(*e.iommu_fault));
      pass &= v.outcome == Outcome::IommuFault && v.fault_reason == *e.iommu_fault;
    }
  }

  StepResult judge(const Step& st, const Observation& o, std::optional<bool> equal) {
    const Expect& e = st.expect;
    StepResult r;
    std::vector<std::string> exp;
    bool pass = true;
    if (e.delivered) {
      exp.push_back(*e.delivered ? "delivered" : "not delivered");
      pass &= o.delivered() == *e.delivered;
    }
    expect_verdict(e, o.verdict, o.redirect_bit, exp, pass);
    if (e.atc) {
      exp.push_back("ATC " + *e.atc);
      pass &= o.ats && *e.atc == to_string(o.atc);
    }
    if (e.requester) {
      exp.push_back("requester " + *e.requester);
      try {
        pass &= cli::parse_bdf(*e.requester).id == o.wire;
      } catch (const std::exception& ex) {
        fail(e.loc, "expect.requester", ex.what());
      }
    }
    std::string observed = describe(o);
    if (e.requester && o.wire == o.original) observed += "; requester " + o.wire.to_string();
    if (e.data_equal) {
      exp.push_back(*e.data_equal ? "data equal" : "data not equal");
      observed += *equal ? "; data equal" : "; data differs";
      pass &= *equal == *e.data_equal;
    }
    if (e.latency_max_ns) {
      std::ostringstream t;
      t << "latency <= " << *e.latency_max_ns << " ns";
      exp.push_back(t.str());
      std::ostringstream l;
      l << std::fixed << std::setprecision(1) << "; " << o.latency_ns << " ns";
      observed += l.str();
      pass &= o.delivered() && o.latency_ns <= *e.latency_max_ns;
    }
    for (size_t i = 0; i < exp.size(); ++i) r.expected += (i ? ", " : "") + exp[i];
    r.observed = observed;
    r.pass = pass;
    return r;
  }

  StepResult do_groups(const Step& st) {
    StepResult r;
    std::vector<int> ids;
    std::string obs;
    for (const std::string& d : st.devices) {
      const FunctionInfo* f = lookup(d);
      if (!f) fail(st.loc, "groups", "no device '" + d + "' in the topology");
      cosim::PciDev* pd = m_kernel->pci().find(f->segment, f->bdf());
      cosim::GroupRec* g = pd ? m_kernel->iommu().group_of(*pd) : nullptr;
      ids.push_back(g ? g->id : -1);
      obs += (obs.empty() ? "" : ", ") + d + " in group " + (g ? std::to_string(g->id) : std::string("none"));
    }
    const bool same = std::all_of(ids.begin(), ids.end(), [&](int i) { return i >= 0 && i == ids[0]; });
    const bool distinct = std::set<int>(ids.begin(), ids.end()).size() == ids.size() &&
                          std::find(ids.begin(), ids.end(), -1) == ids.end();
    bool pass = true;
    if (st.expect.same_group) {
      r.expected = *st.expect.same_group ? "same group" : "not all in one group";
      pass &= same == *st.expect.same_group;
    }
    if (st.expect.different_groups) {
      r.expected += std::string(r.expected.empty() ? "" : ", ") + (*st.expect.different_groups ? "different groups" : "not all apart");
      pass &= distinct == *st.expect.different_groups;
    }
    r.observed = obs;
    r.pass = pass;
    return r;
  }

  // setpci: a read-modify-write of config space through ECAM (as setpci does through sysfs);
  // a capability name is looked up in the function's capability lists (PCI 3.0 6.7, PCIe 7.6).
  int do_setpci(const Step& st) {
    const FunctionInfo& f = function(st.from, st.loc, "setpci.device");
    uint16_t base = 0;
    if (!st.cap.empty()) {
      static const std::map<std::string, unsigned> std_caps = {{"CAP_PM", 0x01}, {"CAP_MSI", 0x05}, {"CAP_EXP", 0x10}, {"CAP_MSIX", 0x11}};
      static const std::map<std::string, unsigned> ext_caps = {{"ECAP_AER", 0x01}, {"ECAP_ACS", 0x0d}, {"ECAP_ARI", 0x0e}, {"ECAP_SRIOV", 0x10}};
      if (std_caps.count(st.cap)) {
        uint32_t pos = cfg(f, 0x34, 1) & 0xfc;  // Capabilities Pointer
        for (int guard = 0; pos && guard < 48 && !base; ++guard) {
          if ((cfg(f, pos, 1)) == std_caps.at(st.cap)) base = static_cast<uint16_t>(pos);
          pos = cfg(f, pos + 1, 1) & 0xfc;
        }
      } else {
        uint32_t pos = 0x100;
        for (int guard = 0; pos && guard < 960 && !base; ++guard) {
          const uint32_t h = cfg(f, pos, 4);
          if (h == 0 || h == 0xffffffffu) break;
          if ((h & 0xffff) == ext_caps.at(st.cap)) base = static_cast<uint16_t>(pos);
          pos = (h >> 20) & 0xffc;
        }
      }
      if (!base) fail(st.loc, "setpci.write", st.from + " has no " + st.cap + " capability");
    }
    const uint16_t reg = static_cast<uint16_t>(base + st.reg);
    if (reg + st.width > 0x1000) fail(st.loc, "setpci.write", "register beyond config space");
    const uint32_t old = cfg(f, reg, st.width);
    m_fabric->config_write(f.segment, f.bdf(), reg, st.width, (old & ~st.mask) | (st.value & st.mask));
    return 0;
  }
  uint32_t cfg(const FunctionInfo& f, uint32_t reg, unsigned size) {
    return m_fabric->config_read(f.segment, f.bdf(), static_cast<uint16_t>(reg), size);
  }

  // Simulated time passes (kernel timers run: the lazy flush queue's 10 ms timer, for example).
  int do_wait(const Step& st) {
    const cosim::TaskResult r = m_kernel->run("scenario-wait", [&] {
      m_kernel->scheduler().sleep(sc_core::sc_time(static_cast<double>(st.wait_ps), sc_core::SC_PS), "a scenario wait");
    });
    if (!r.ok()) throw std::runtime_error("wait: " + r.what);
    return 0;
  }

  // As an administrator enables VFs: a PF without a driver is bound to vfio-pci (loaded with
  // enable_sriov=1; driver_override + bind), then /sys/bus/pci/devices/PF/sriov_numvfs is written
  // (Linux iov.c sriov_numvfs_store). The result is what the write returns.
  int do_sriov_enable(const Step& st) {
    const FunctionInfo& f = function(st.from, st.loc, "sriov_enable.device");
    cosim::PciDev& pf = pcidev(f);
    std::string bound;
    if (m_kernel->sysfs().read("/sys/bus/pci/devices/" + pf.name + "/driver", bound) != 0) {  // no driver
      if (!m_kernel->module_loaded("vfio_pci")) {
        const int rc = m_kernel->load_module("vfio_pci", vfio_pci_params());
        if (rc) return rc;
      }
      std::string log;
      if (const int rc = tools::bind_to_driver(*m_kernel, pf.name, "vfio-pci", log)) return rc;
    }
    return m_kernel->sysfs().write("/sys/bus/pci/devices/" + pf.name + "/sriov_numvfs", std::to_string(st.size) + "\n");
  }

  // Advances simulated time in a kernel task until `done()` (polling at 0.1 % of the elapsed time,
  // at least 20 ns; a copy that never ends is stopped after 1 s of simulated time).
  void run_until(std::function<bool()> done) {
    const cosim::TaskResult r = m_kernel->run("scenario-gpu", [&] {
      const sc_core::sc_time t0 = sc_core::sc_time_stamp();
      sc_core::sc_time step(20, sc_core::SC_NS);
      m_kernel->scheduler().sleep(step, "the copy engine");
      while (!done()) {
        const sc_core::sc_time elapsed = sc_core::sc_time_stamp() - t0;
        if (elapsed > sc_core::sc_time(1, sc_core::SC_SEC)) throw std::runtime_error("the copy engine ran for 1 s");
        m_kernel->scheduler().sleep(std::max(step, elapsed / 1000.0), "the copy engine");
      }
    });
    if (!r.ok()) throw std::runtime_error("gpu_copy: " + r.what);
  }

  ScenarioGpu& gpu(const std::string& name, const SourceLoc& loc, const std::string& field) {
    auto it = m_gpus.find(name);
    if (it != m_gpus.end()) return *it->second;
    const FunctionInfo& f = function(name, loc, field);
    if (!dynamic_cast<GpuDevice*>(f.endpoint)) fail(loc, field, name + " is not a GPU (model: gpu)");
    auto g = std::make_unique<ScenarioGpu>(*m_fabric, f, [this](std::function<bool()> d) { run_until(std::move(d)); });
    return *m_gpus.emplace(name, std::move(g)).first->second;
  }

  int do_gpu_map(const Step& st) {
    ScenarioGpu& g = gpu(st.from, st.loc, "gpu_map.gpu");
    GpuTarget t;
    std::string rest;
    if (st.to.rfind("vram:", 0) == 0) {
      rest = st.to.substr(5);
    } else if (st.to.rfind("sys:", 0) == 0) {
      t.aperture = gpu::GmmuAperture::SysCoherent;
      rest = st.to.substr(4);
    } else {  // peer:GPU:ADDRESS; peer slots are given out in the order peers are first named
      const auto colon = st.to.find(':', 5);
      if (colon == std::string::npos) fail(st.loc, "gpu_map.to", "peer:GPU:ADDRESS");
      const std::string peer = st.to.substr(5, colon - 5);
      ScenarioGpu& p = gpu(peer, st.loc, "gpu_map.to");
      if (&p == &g) fail(st.loc, "gpu_map.to", "a GPU is not its own peer: use vram:");
      auto& slots = m_peer_slots[st.from];
      auto s = std::find(slots.begin(), slots.end(), peer);
      if (s == slots.end()) {
        if (slots.size() == gpu::regs::kMaxPeers) fail(st.loc, "gpu_map.to", "more than 8 peers");
        g.set_peer(static_cast<unsigned>(slots.size()), *lookup(peer));
        slots.push_back(peer);
        s = slots.end() - 1;
      }
      t.aperture = gpu::GmmuAperture::Peer;
      t.peer = static_cast<uint8_t>(s - slots.begin());
      t.peer_gpu = &p.device();
      rest = st.to.substr(colon + 1);
    }
    t.address = parse(st, rest);
    const std::string err = g.map(st.ctx, st.iova, st.size, t);
    if (!err.empty()) fail(st.loc, "gpu_map", err);
    return 0;
  }

  StepResult do_gpu_copy(const Step& st) {
    ScenarioGpu& g = gpu(st.from, st.loc, "gpu_copy.gpu");
    if (st.expect.data_equal) {
      // A known pattern in the source and its complement in the destination, so equal data after
      // the copy means the copy moved it (like dma's fill).
      std::vector<uint8_t> src(st.size), dst(st.size);
      for (uint64_t i = 0; i < st.size; ++i) {
        src[i] = static_cast<uint8_t>(st.fill + i * 7);
        dst[i] = static_cast<uint8_t>(~src[i]);
      }
      if (!g.write(st.ctx, st.iova, src) || !g.write(st.ctx, st.dst, dst))
        fail(st.expect.loc, "expect.data_equal", "source and destination must be mapped to VRAM or peer VRAM to compare");
    }
    const double issued = now_ns();
    const GpuCopyOutcome c = g.copy(st.ctx, st.iova, st.dst, st.size);
    {
      // The copy as one slice (doorbell to idle); hops and verdict are its first failing upstream
      // request's, else its first's (GpuCopyOutcome); none when the copy stayed in VRAM.
      TraceTx& x = trace_tx(st.from, "gpu copy " + std::to_string(st.size) + " B", issued, c.seconds * 1e9,
                            c.upstream ? c.verdict : Verdict{c.completed ? Outcome::Delivered : Outcome::Pending},
                            c.redirect_bit, c.redirect_port, c.path);
      for (gpu::GmmuFaultType t : c.gmmu_faults) x.gmmu_faults.push_back(gpu::to_string(t));
    }
    const Expect& e = st.expect;
    StepResult r;
    std::vector<std::string> exp;
    bool pass = true;
    const bool upstream_ok = !c.upstream || c.verdict.outcome == Outcome::Delivered || c.verdict.outcome == Outcome::Redirected;
    const bool delivered = c.completed && upstream_ok && c.gmmu_faults.empty();
    std::string obs;
    if (!c.gmmu_faults.empty()) {
      obs = "GMMU fault";
      for (gpu::GmmuFaultType t : c.gmmu_faults) obs += std::string(" ") + gpu::to_string(t);
      obs += " (fault buffer)";
    } else if (!c.completed) {
      obs = "copy engine halted, error " + std::to_string(c.ce_error);
    } else {
      obs = "copied";
    }
    if (c.upstream) {
      Observation o;
      o.verdict = c.verdict;
      o.redirect_bit = c.redirect_bit;
      o.redirect_port = c.redirect_port;
      obs += "; " + describe(o) + "; path";
      for (HopId h : c.path) obs += " " + hops().name(h);
    }
    if (c.completed && c.gmmu_faults.empty()) {
      std::ostringstream b;
      b << std::fixed << std::setprecision(2) << "; " << c.gbps() << " GB/s";
      obs += b.str();
    }
    if (e.delivered) {
      exp.push_back(*e.delivered ? "delivered" : "not delivered");
      pass &= delivered == *e.delivered;
    }
    if (e.gmmu_fault) {
      exp.push_back("GMMU fault " + *e.gmmu_fault);
      pass &= std::any_of(c.gmmu_faults.begin(), c.gmmu_faults.end(),
                          [&](gpu::GmmuFaultType t) { return *e.gmmu_fault == gpu::to_string(t); });
    }
    // A copy without upstream requests has no fabric verdict (Pending): no redirect, block or fault.
    expect_verdict(e, c.verdict, c.redirect_bit, exp, pass);
    if (e.data_equal) {
      exp.push_back(*e.data_equal ? "data equal" : "data not equal");
      const auto a = g.read(st.ctx, st.iova, st.size), b = g.read(st.ctx, st.dst, st.size);
      if (!a || !b) fail(e.loc, "expect.data_equal", "source and destination must be mapped to VRAM or peer VRAM to compare");
      const bool eq = *a == *b;
      obs += eq ? "; data equal" : "; data differs";
      pass &= eq == *e.data_equal;
    }
    if (e.bandwidth_min_gbps) {
      std::ostringstream t;
      t << ">= " << *e.bandwidth_min_gbps << " GB/s";
      exp.push_back(t.str());
      pass &= delivered && c.gbps() >= *e.bandwidth_min_gbps;
    }
    for (size_t i = 0; i < exp.size(); ++i) r.expected += (i ? ", " : "") + exp[i];
    r.observed = obs;
    r.pass = pass;
    return r;
  }

  const Scenario& m_s;
  std::unique_ptr<Fabric> m_fabric;
  std::unique_ptr<cosim::Kernel> m_kernel;
  std::map<std::string, OwnerState> m_owners;
  std::deque<FunctionInfo> m_vf_infos;                 // lookup(): VFs, built when first named
  std::map<std::string, std::unique_ptr<ScenarioGpu>> m_gpus;
  std::unique_ptr<ScenarioIrq> m_irq;  // the interrupt steps' eventfds and APIC bookkeeping
  std::map<std::string, std::vector<std::string>> m_peer_slots;  // gpu -> peer gpu per slot
  ScenarioTrace m_trace;
  int m_step = 0;  // the step running (1-based), for its trace records
};

}  // namespace

ScenarioResult run_scenario(const Scenario& s) { return Run(s).go(); }

}  // namespace pciesim::scenario
