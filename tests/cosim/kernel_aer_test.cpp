// The AER service (cosim/pci/aer.c, Linux 6.1 aer.c + err.c) on errors injected in the model
// (models/pcie/aer.h): what boot enables, the root port's interrupt, what the kernel prints, the
// recovery callbacks of a driver (tests/cosim/modules/aer_recovery.c), the Secondary Bus Reset of
// a fatal error, and vfio-pci's err_handler signalling the user's ERR eventfd.
#include <cstring>
#include <uapi/linux/vfio.h>

#include "kernel/eventfd.h"
#include "kernel/kapi.h"
#include "kernel/sysfs.h"
#include "kernel_fixture.h"
#include "pcie/aer.h"
#include "pcie/pcie_regs.h"
#include "vfio/vfio_core.h"
#include "iommu/iommu_api.h"

namespace pciesim::test {
namespace {

// edu0 (PCIe, AER) on rp0; edu1 (PCIe, AER) behind switch sw0 (dp0) on rp1.
const char* kAerTopology = R"(
name: kernel-aer
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 3, width: 4}
        acs: {capability: [SV, RR, CR, UF]}
        below:
          endpoint: {name: edu0, model: edu, params: {pcie: true, aer: true}}
      - name: rp1
        device: 2
        link: {gen: 3, width: 4}
        acs: {capability: [SV, RR, CR, UF]}
        below:
          switch:
            name: sw0
            ports:
              - name: dp0
                device: 0
                below:
                  endpoint: {name: edu1, model: edu, params: {pcie: true, aer: true}}
iommus:
  - {name: dmar0, preset: qemu-7.2, include_all: true}
)";

using namespace regs;

struct KernelAer : KernelFixture {
  void SetUp() override { boot(kAerTopology); }

  std::string bdf(const std::string& n) { return fn(*f, n).bdf_string(); }
  uint16_t aer(const std::string& n) { return fn(*f, n).fn->config().find_ext_capability(kExtCapIdAer); }
  uint32_t aer_reg(const std::string& n, uint16_t reg) { return cfg_read(*f, n, static_cast<uint16_t>(aer(n) + reg)); }

  // Injects the error on function 0 of `ep` from a kernel task, then lets the kernel's interrupt
  // thread run (a fatal error's Secondary Bus Reset waits 1 s in Linux 6.1).
  AerReport inject(const std::string& ep, bool correctable, uint32_t bit,
                   std::optional<std::array<uint32_t, 4>> hdr = std::nullopt) {
    AerReport r;
    k->run("inject", [&] {
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      r = inject_aer(*fn(*f, ep).endpoint, 0, AerInjection{correctable, bit, hdr}, delay);
      msleep(1500);
    });
    return r;
  }
  size_t lines(const std::string& needle) { return k->log().grep(needle).size(); }
};

TEST_F(KernelAer, BootEnablesReportingOnEveryRootPort) {
  for (const char* rp : {"rp0", "rp1"}) {
    const std::string line = "pcieport " + bdf(rp) + ": AER: enabled with IRQ ";
    EXPECT_TRUE(logged(line)) << line << "\n" << dmesg();
    EXPECT_EQ(aer_reg(rp, kAerRootCommand), kAerRootCmdCorEn | kAerRootCmdNonFatalEn | kAerRootCmdFatalEn);
    EXPECT_TRUE(fn(*f, rp).fn->msi_enabled()) << "the port's vector is its MSI";
  }
  // set_downstream_devices_error_reporting: every port below a root port; endpoints keep theirs.
  for (const char* p : {"rp0", "rp1", "sw0", "dp0"}) {
    const uint16_t devctl = static_cast<uint16_t>(cfg_read(*f, p, fn(*f, p).fn->pcie_cap() + kExpDevCtl, 2));
    EXPECT_EQ(devctl & 0xf, kDevCtlCere | kDevCtlNfere | kDevCtlFere | kDevCtlUrre) << p;
    EXPECT_TRUE(cfg_read(*f, p, 0x3e, 2) & kBctlSerr) << p << ": pci_configure_serr";
  }
  const uint16_t devctl = static_cast<uint16_t>(cfg_read(*f, "edu0", fn(*f, "edu0").fn->pcie_cap() + kExpDevCtl, 2));
  EXPECT_EQ(devctl & 0xf, 0) << "6.1 leaves endpoints to their drivers (pci_enable_pcie_error_reporting)";
}

TEST_F(KernelAer, CorrectableErrorIsPrintedAndCleared) {
  ASSERT_EQ(k->load_module("aer_recovery"), 0) << dmesg();
  ASSERT_TRUE(logged("aer_recovery " + bdf("edu0") + ": error reporting enabled (0)")) << dmesg();
  const AerReport r = inject("edu0", true, kAerCorBadTlp);
  ASSERT_TRUE(r.message_sent);
  const std::string rp = "pcieport " + bdf("rp0") + ": ", ep = "aer_recovery " + bdf("edu0") + ": ";
  EXPECT_TRUE(logged(rp + "AER: Corrected error received: " + bdf("edu0"))) << dmesg();
  EXPECT_TRUE(logged(ep + "PCIe Bus Error: severity=Corrected, type=Data Link Layer, (Receiver ID)")) << dmesg();
  EXPECT_TRUE(logged(ep + "  device [1234:11e8] error status/mask=00000040/0000e000")) << dmesg();
  EXPECT_TRUE(logged(ep + "   [ 6] BadTLP                ")) << dmesg();
  EXPECT_EQ(lines("error_detected"), 0u) << "correctable errors need no recovery";
  // aer_irq cleared Root Error Status; handle_error_source the device's status and Device Status.
  EXPECT_EQ(aer_reg("rp0", kAerRootStatus) & kAerRootStaW1c, 0u);
  EXPECT_EQ(aer_reg("edu0", kAerCorStatus), 0u);
  EXPECT_EQ(cfg_read(*f, "edu0", fn(*f, "edu0").fn->pcie_cap() + kExpDevSta, 2) & 0xf, 0u);
}

TEST_F(KernelAer, NonFatalErrorBehindASwitchRunsRecovery) {
  ASSERT_EQ(k->load_module("aer_recovery"), 0) << dmesg();
  const std::array<uint32_t, 4> hdr{0x00000001u, 0x0300000fu, 0xfeb00000u, 0u};
  const AerReport r = inject("edu1", false, kAerUncUnsupported, hdr);
  ASSERT_TRUE(r.message_sent);
  const std::string ep = "aer_recovery " + bdf("edu1") + ": ";
  EXPECT_TRUE(logged("pcieport " + bdf("rp1") + ": AER: Uncorrected (Non-Fatal) error received: " + bdf("edu1")))
      << dmesg();
  EXPECT_TRUE(logged(ep + "PCIe Bus Error: severity=Uncorrected (Non-Fatal), type=Transaction Layer, (Requester ID)"))
      << dmesg();
  EXPECT_TRUE(logged(ep + "  device [1234:11e8] error status/mask=00100000/00400000")) << dmesg();
  EXPECT_TRUE(logged(ep + "   [20] UnsupReq               (First)")) << dmesg();
  EXPECT_TRUE(logged(ep + "AER:   TLP Header: 00000001 0300000f feb00000 00000000")) << dmesg();
  // pcie_do_recovery on everything below dp0 (the source's upstream bridge): normal state, the
  // driver votes CAN_RECOVER, so mmio_enabled then resume; no reset.
  EXPECT_TRUE(logged(ep + "error_detected: state normal")) << dmesg();
  EXPECT_TRUE(logged(ep + "mmio_enabled"));
  EXPECT_FALSE(logged(ep + "slot_reset"));
  EXPECT_TRUE(logged(ep + "resume"));
  EXPECT_FALSE(logged("link has been reset"));
  EXPECT_TRUE(logged("pcieport " + bdf("dp0") + ": AER: device recovery successful")) << dmesg();
  EXPECT_EQ(aer_reg("edu1", kAerUncorStatus), 0u) << "pci_aer_clear_nonfatal_status";
  EXPECT_EQ(aer_reg("rp1", kAerRootStatus) & kAerRootStaW1c, 0u);
}

TEST_F(KernelAer, FatalErrorResetsTheLinkBelowTheRootPort) {
  ASSERT_EQ(k->load_module("aer_recovery", "need_reset=1"), 0) << dmesg();
  const uint16_t cmd_before = static_cast<uint16_t>(cfg_read(*f, "edu0", 0x04, 2));
  ASSERT_TRUE(cmd_before & 0x2) << "the driver enabled memory decoding";
  const AerReport r = inject("edu0", false, kAerUncDlp);  // fatal by default
  ASSERT_TRUE(r.detection.fatal);
  const std::string rp = "pcieport " + bdf("rp0") + ": ", ep = "aer_recovery " + bdf("edu0") + ": ";
  EXPECT_TRUE(logged(rp + "AER: Uncorrected (Fatal) error received: " + bdf("edu0"))) << dmesg();
  // 6.1 does not read an endpoint's registers after a fatal error (the link is not trusted).
  EXPECT_TRUE(logged(ep + "AER: PCIe Bus Error: severity=Uncorrected (Fatal), type=Inaccessible, (Unregistered Agent ID)"))
      << dmesg();
  EXPECT_TRUE(logged(ep + "error_detected: state frozen")) << dmesg();
  EXPECT_TRUE(logged(rp + "AER: Root Port link has been reset (0)")) << dmesg();
  EXPECT_TRUE(logged(ep + "slot_reset")) << "NEED_RESET: slot_reset, not mmio_enabled";
  EXPECT_FALSE(logged(ep + "mmio_enabled"));
  EXPECT_TRUE(logged(ep + "resume"));
  EXPECT_TRUE(logged(rp + "AER: device recovery successful")) << dmesg();
  // The Secondary Bus Reset reached the device: Command is back at its reset value; the AER
  // status is sticky (PCIe 7.8.4) and fatal bits are not cleared by 6.1's recovery.
  EXPECT_EQ(cfg_read(*f, "edu0", 0x04, 2) & 0x7, 0u);
  EXPECT_EQ(aer_reg("edu0", kAerUncorStatus), kAerUncDlp);
  EXPECT_EQ(aer_reg("rp0", kAerRootCommand), 7u) << "aer_root_reset turned the interrupts back on";
}

TEST_F(KernelAer, DriverWithoutErrorHandlersCannotRecover) {
  ASSERT_EQ(k->load_module("edu_dmatest"), 0) << dmesg();  // binds edu, no err_handler
  // Firmware leaves Command SERR# set (firmware.cpp), so the uncorrectable error is reported.
  inject("edu0", false, kAerUncCompAbort);
  const std::string ep = "edu_dmatest " + bdf("edu0") + ": ";
  EXPECT_TRUE(logged(ep + "PCIe Bus Error: severity=Uncorrected (Non-Fatal), type=Transaction Layer, (Completer ID)"))
      << dmesg();
  EXPECT_TRUE(logged(ep + "AER: can't recover (no error_detected callback)")) << dmesg();
  EXPECT_TRUE(logged("pcieport " + bdf("rp0") + ": AER: device recovery failed")) << dmesg();
}

// vfio-pci (Linux's and our variant) registers vfio_pci_core_err_handlers: error_detected signals
// the ERR eventfd the user set with VFIO_DEVICE_SET_IRQS.
struct KernelAerVfio : KernelAer {
  int container = -1, group = -1;
  std::shared_ptr<cosim::VfioDeviceFile> file;

  void open(const std::string& edu, const std::string& driver) {
    ASSERT_EQ(k->load_module("pciesim_vfio_pci"), 0) << dmesg();
    ASSERT_EQ(k->load_module("vfio_pci"), 0) << dmesg();
    const std::string name = dev(edu).name;
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/devices/" + name + "/driver_override", driver), 0);
    ASSERT_EQ(k->sysfs().write("/sys/bus/pci/drivers_probe", name), 0);
    ASSERT_NE(dev(edu).dev->driver, nullptr) << dmesg();
    container = k->vfio().open("/dev/vfio/vfio");
    group = k->vfio().open("/dev/vfio/" + std::to_string(k->iommu().group_of(dev(edu))->id));
    ASSERT_GE(group, 0);
    auto g = std::dynamic_pointer_cast<cosim::VfioGroupFile>(k->files().get(group));
    auto c = std::dynamic_pointer_cast<cosim::VfioContainer>(k->files().get(container));
    ASSERT_EQ(g->ioctl(VFIO_GROUP_SET_CONTAINER, &container), 0);
    ASSERT_EQ(c->ioctl(VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1v2_IOMMU})), 0);
    std::vector<char> n(name.begin(), name.end());
    n.push_back('\0');
    const long fd = g->ioctl(VFIO_GROUP_GET_DEVICE_FD, n.data());
    ASSERT_GE(fd, 0);
    file = std::dynamic_pointer_cast<cosim::VfioDeviceFile>(k->files().get(static_cast<int>(fd)));
  }
  long set_err_eventfd(int32_t efd) {
    std::vector<uint8_t> b(sizeof(vfio_irq_set) + sizeof efd);
    vfio_irq_set s{static_cast<uint32_t>(b.size()), VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                   VFIO_PCI_ERR_IRQ_INDEX, 0, 1};
    std::memcpy(b.data(), &s, sizeof s);
    std::memcpy(b.data() + sizeof s, &efd, sizeof efd);
    return file->ioctl(VFIO_DEVICE_SET_IRQS, b.data());
  }
  // What a guest's driver does through QEMU: Device Control error reporting on, by a write to the
  // config region (PCI_EXP_DEVCTL is not virtualised by vfio-pci).
  void enable_reporting_through_vfio(const std::string& edu) {
    const uint64_t at = (uint64_t{VFIO_PCI_CONFIG_REGION_INDEX} << 40) + fn(*f, edu).fn->pcie_cap() + kExpDevCtl;
    uint16_t v = 0;
    ASSERT_EQ(file->read(&v, 2, at), 2);
    v |= kDevCtlCere | kDevCtlNfere | kDevCtlFere | kDevCtlUrre;
    ASSERT_EQ(file->write(&v, 2, at), 2);
  }
  uint64_t drain(int efd) {
    uint64_t v = 0;
    return cosim::eventfd_read(*k, efd, v) == 0 ? v : 0;
  }
};

TEST_F(KernelAerVfio, NonFatalErrorSignalsTheErrEventfdOfLinuxVfioPci) {
  ASSERT_NO_FATAL_FAILURE(open("edu0", "vfio-pci"));
  const int32_t efd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  ASSERT_EQ(set_err_eventfd(efd), 0);
  ASSERT_NO_FATAL_FAILURE(enable_reporting_through_vfio("edu0"));
  inject("edu0", true, kAerCorReceiver);
  EXPECT_EQ(drain(efd), 0u) << "correctable errors are not the user's business";
  EXPECT_TRUE(logged("vfio-pci " + bdf("edu0") + ": PCIe Bus Error: severity=Corrected, type=Physical Layer"))
      << dmesg();
  inject("edu0", false, kAerUncCompTimeout);
  EXPECT_EQ(drain(efd), 1u) << dmesg();
  EXPECT_TRUE(logged("pcieport " + bdf("rp0") + ": AER: device recovery successful")) << dmesg();
}

TEST_F(KernelAerVfio, ErrorsBehindASwitchReachTheVariantDriversUser) {
  ASSERT_NO_FATAL_FAILURE(open("edu1", "pciesim_vfio_pci"));
  const int32_t efd = cosim::eventfd_create(*k, 0, EFD_NONBLOCK);
  // Without an eventfd the error is still handled: error_detected votes CAN_RECOVER.
  ASSERT_NO_FATAL_FAILURE(enable_reporting_through_vfio("edu1"));
  inject("edu1", false, kAerUncCompTimeout);
  EXPECT_EQ(lines("AER: device recovery successful"), 1u) << dmesg();
  ASSERT_EQ(set_err_eventfd(efd), 0);
  inject("edu1", false, kAerUncMalformed);  // fatal: frozen, the link below dp0 is reset
  EXPECT_EQ(drain(efd), 1u) << dmesg();
  EXPECT_TRUE(logged("pcieport " + bdf("dp0") + ": AER: Downstream Port link has been reset (0)")) << dmesg();
  EXPECT_EQ(lines("AER: device recovery successful"), 2u) << dmesg();
}

}  // namespace
}  // namespace pciesim::test
