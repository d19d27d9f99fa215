// AER error injection and reporting (models/pcie/aer.h): the registers after reset, what each
// injection leaves in the function (status, Device Status, First Error Pointer, Header Log),
// masking, reporting enables, the ERR_* message's trip up through a switch, and the root port's
// Root Error Status, Error Source Identification and interrupt.
#include "iommu/local_apic_sink.h"
#include "pcie/aer.h"
#include "pcie/fabric_fixture.h"
#include "pcie/pcie_regs.h"
#include "pcie/root_complex.h"

using namespace pciesim;
using namespace pciesim::test;
using namespace pciesim::regs;

namespace {

// ep0 right below rp0; ep1 below switch sw0 (usp sw0, dsp dp0) below rp1.
const char* kTopology = R"(
name: aer-test
memory: {base: 0, size: 1GiB}
root_complexes:
  - name: rc0
    root_ports:
      - name: rp0
        device: 1
        link: {gen: 3, width: 4}
        below:
          endpoint:
            name: ep0
            functions: [{bars: [{size: 16KiB}], msi: 1, aer: true}]
      - name: rp1
        device: 2
        link: {gen: 3, width: 4}
        below:
          switch:
            name: sw0
            ports:
              - name: dp0
                device: 0
                below:
                  endpoint:
                    name: ep1
                    functions: [{bars: [{size: 16KiB}], aer: true}]
)";

constexpr uint16_t kCmd = 0x04, kSta = 0x06, kSecSta = 0x1e, kBctl = 0x3e;

struct Aer : ::testing::Test {
  std::unique_ptr<Fabric> f = make_fabric(kTopology);

  uint16_t aer(const std::string& n) { return fn(*f, n).fn->config().find_ext_capability(kExtCapIdAer); }
  uint16_t exp(const std::string& n) { return fn(*f, n).fn->pcie_cap(); }
  uint32_t aer_read(const std::string& n, uint16_t reg, unsigned size = 4) {
    return cfg_read(*f, n, static_cast<uint16_t>(aer(n) + reg), size);
  }
  void aer_write(const std::string& n, uint16_t reg, uint32_t v, unsigned size = 4) {
    cfg_write(*f, n, static_cast<uint16_t>(aer(n) + reg), size, v);
  }
  uint16_t devsta(const std::string& n) { return static_cast<uint16_t>(cfg_read(*f, n, exp(n) + kExpDevSta, 2)); }
  void set_devctl(const std::string& n, uint16_t bits) {
    const uint16_t v = static_cast<uint16_t>(cfg_read(*f, n, exp(n) + kExpDevCtl, 2));
    cfg_write(*f, n, exp(n) + kExpDevCtl, 2, v | bits);
  }
  void set16(const std::string& n, uint16_t reg, uint16_t bits) {
    cfg_write(*f, n, reg, 2, cfg_read(*f, n, reg, 2) | bits);
  }
  // What Linux 6.1 leaves: Bridge Control SERR# on every bridge (probe.c pci_configure_serr),
  // Device Control error reporting on ports (aer.c set_downstream_devices_error_reporting),
  // Root Error Command enables (aer_enable_rootport).
  void enable_reporting_like_linux() {
    for (const char* p : {"rp0", "rp1", "sw0", "dp0"}) {
      set16(p, kBctl, kBctlSerr);
      set_devctl(p, kDevCtlCere | kDevCtlNfere | kDevCtlFere | kDevCtlUrre);
    }
    for (const char* rp : {"rp0", "rp1"})
      aer_write(rp, kAerRootCommand, kAerRootCmdCorEn | kAerRootCmdNonFatalEn | kAerRootCmdFatalEn);
  }
  AerReport inject(const std::string& n, bool correctable, uint32_t bit,
                   std::optional<std::array<uint32_t, 4>> hdr = std::nullopt) {
    const FunctionInfo& i = fn(*f, n);
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    return inject_aer(*i.endpoint, i.function_number, AerInjection{correctable, bit, hdr}, delay);
  }
};

}  // namespace

TEST_F(Aer, RegistersAfterReset) {
  ASSERT_EQ(aer("ep0"), 0x100);
  EXPECT_EQ(aer_read("ep0", 0) & 0xffff, kExtCapIdAer);
  EXPECT_EQ((aer_read("ep0", 0) >> 16) & 0xf, 2u);  // version 2
  EXPECT_EQ(aer_read("ep0", kAerUncorStatus), 0u);
  EXPECT_EQ(aer_read("ep0", kAerUncorMask), kAerUncInternal);
  // PCIe 7.8.4.4: DLP, SDES, FCP, RxOF, MalfTLP and UncorrIntErr default to fatal.
  EXPECT_EQ(aer_read("ep0", kAerUncorSeverity), 0x00462030u);
  EXPECT_EQ(aer_read("ep0", kAerCorStatus), 0u);
  EXPECT_EQ(aer_read("ep0", kAerCorMask), kAerCorAdvisoryNonFatal | kAerCorInternal | kAerCorHeaderLogOverflow);
  EXPECT_EQ(aer_read("ep0", kAerCapCtl), 0u);
  for (uint16_t o = 0; o < 16; o += 4) EXPECT_EQ(aer_read("ep0", kAerHeaderLog + o), 0u);
  // Root ports: Root Error Command/Status and the source ids start at 0; endpoints have none.
  EXPECT_EQ(aer_read("rp0", kAerRootCommand), 0u);
  EXPECT_EQ(aer_read("rp0", kAerRootStatus), 0u);
  EXPECT_EQ(aer_read("rp0", kAerCorSourceId), 0u);
  aer_write("ep0", kAerRootCommand, 7);
  EXPECT_EQ(aer_read("ep0", kAerRootCommand), 0u) << "an endpoint has no Root Error Command";
  // Ports carry AER too (capabilities.h PortParams::aer).
  EXPECT_NE(aer("sw0"), 0);
  EXPECT_NE(aer("dp0"), 0);
}

TEST_F(Aer, CorrectableErrorSetsStatusAndSendsErrCorWhenEnabled) {
  enable_reporting_like_linux();
  set_devctl("ep0", kDevCtlCere);
  const AerReport r = inject("ep0", true, kAerCorBadTlp);
  EXPECT_FALSE(r.detection.masked);
  ASSERT_TRUE(r.detection.message);
  EXPECT_EQ(*r.detection.message, ErrorMessage::Cor);
  EXPECT_TRUE(r.message_sent);
  EXPECT_EQ(r.message_verdict.outcome, Outcome::Delivered);
  RootComplex& rc = *f->root_complex(0);
  EXPECT_EQ(r.message_verdict.port, rc.port_hop(rc.port_by_name("rp0"))) << "consumed by the root port";
  EXPECT_EQ(aer_read("ep0", kAerCorStatus), kAerCorBadTlp);
  EXPECT_EQ(devsta("ep0") & 0xf, kDevStaCed);
  // The root port: ERR_COR Received, source = ep0's requester id; interrupt enabled -> MSI off,
  // so INTx (Status.Interrupt Status).
  EXPECT_EQ(aer_read("rp0", kAerRootStatus) & kAerRootStaW1c, kAerRootStaCorRcv);
  EXPECT_EQ(aer_read("rp0", kAerCorSourceId, 2), fn(*f, "ep0").bdf().raw());
  EXPECT_EQ(aer_read("rp0", kAerSourceId, 2), 0u);
  EXPECT_TRUE(cfg_read(*f, "rp0", kSta, 2) & kStatusIntx);
  // A second one: Multiple ERR_COR Received; the source id stays the first one's.
  inject("ep0", true, kAerCorReceiver);
  EXPECT_EQ(aer_read("rp0", kAerRootStatus) & kAerRootStaW1c, kAerRootStaCorRcv | kAerRootStaMultiCorRcv);
  // Software clears Root Error Status (W1C): the INTx deasserts.
  aer_write("rp0", kAerRootStatus, aer_read("rp0", kAerRootStatus));
  EXPECT_EQ(aer_read("rp0", kAerRootStatus), 0u);
  EXPECT_FALSE(cfg_read(*f, "rp0", kSta, 2) & kStatusIntx);
  // The device's status bits are RW1CS.
  aer_write("ep0", kAerCorStatus, kAerCorBadTlp);
  EXPECT_EQ(aer_read("ep0", kAerCorStatus), kAerCorReceiver);
}

TEST_F(Aer, UncorrectableSeverityComesFromTheSeverityRegister) {
  enable_reporting_like_linux();
  set_devctl("ep0", kDevCtlNfere | kDevCtlFere);
  // Completion Timeout: non-fatal by default.
  const std::array<uint32_t, 4> hdr{0x40000001u, 0x0100000fu, 0xfee00000u, 0u};
  AerReport r = inject("ep0", false, kAerUncCompTimeout, hdr);
  EXPECT_FALSE(r.detection.fatal);
  EXPECT_TRUE(r.detection.first_error);
  ASSERT_TRUE(r.detection.message);
  EXPECT_EQ(*r.detection.message, ErrorMessage::NonFatal);
  EXPECT_EQ(aer_read("ep0", kAerUncorStatus), kAerUncCompTimeout);
  EXPECT_EQ(aer_read("ep0", kAerCapCtl) & kAerCapFirstErrMask, 14u);
  EXPECT_EQ(aer_read("ep0", kAerHeaderLog), hdr[0]);
  EXPECT_EQ(aer_read("ep0", kAerHeaderLog + 8), hdr[2]);
  EXPECT_EQ(devsta("ep0") & 0xf, kDevStaNfed);
  EXPECT_EQ(aer_read("rp0", kAerRootStatus) & kAerRootStaW1c, kAerRootStaUncorRcv | kAerRootStaNonFatalRcv);
  EXPECT_EQ(aer_read("rp0", kAerSourceId, 2), fn(*f, "ep0").bdf().raw());
  EXPECT_TRUE(cfg_read(*f, "rp0", kSecSta, 2) & kStatusSigSystemError) << "Received System Error";

  // Malformed TLP: fatal by default. Not the first error (CmpltTO's status bit is still set).
  r = inject("ep0", false, kAerUncMalformed, std::array<uint32_t, 4>{1, 2, 3, 4});
  EXPECT_TRUE(r.detection.fatal);
  EXPECT_FALSE(r.detection.first_error);
  EXPECT_EQ(*r.detection.message, ErrorMessage::Fatal);
  EXPECT_EQ(aer_read("ep0", kAerCapCtl) & kAerCapFirstErrMask, 14u);
  EXPECT_EQ(aer_read("ep0", kAerHeaderLog), hdr[0]);
  EXPECT_EQ(devsta("ep0") & 0xf, kDevStaNfed | kDevStaFed);
  EXPECT_EQ(aer_read("rp0", kAerRootStatus) & kAerRootStaW1c,
            kAerRootStaUncorRcv | kAerRootStaMultiUncorRcv | kAerRootStaNonFatalRcv | kAerRootStaFatalRcv)
      << "the first uncorrectable was non-fatal: First Uncorrectable Fatal stays clear";

  // Software changes the severity: Completion Timeout becomes fatal; clears the status, so the
  // First Error Pointer takes the next error.
  aer_write("ep0", kAerUncorSeverity, aer_read("ep0", kAerUncorSeverity) | kAerUncCompTimeout);
  aer_write("ep0", kAerUncorStatus, 0xffffffffu);
  aer_write("rp0", kAerRootStatus, 0x7f);
  r = inject("ep0", false, kAerUncCompTimeout);
  EXPECT_TRUE(r.detection.fatal);
  EXPECT_TRUE(r.detection.first_error);
  EXPECT_EQ(aer_read("ep0", kAerHeaderLog), 0u) << "no header given: the log is cleared";
  EXPECT_EQ(aer_read("rp0", kAerRootStatus) & kAerRootStaW1c,
            kAerRootStaUncorRcv | kAerRootStaFirstFatal | kAerRootStaFatalRcv);
}

TEST_F(Aer, MaskedErrorsSetStatusOnly) {
  enable_reporting_like_linux();
  set_devctl("ep0", kDevCtlCere | kDevCtlNfere | kDevCtlFere);
  aer_write("ep0", kAerUncorMask, kAerUncPoisonedTlp);
  AerReport r = inject("ep0", false, kAerUncPoisonedTlp, std::array<uint32_t, 4>{9, 9, 9, 9});
  EXPECT_TRUE(r.detection.masked);
  EXPECT_FALSE(r.detection.message);
  EXPECT_FALSE(r.message_sent);
  EXPECT_EQ(aer_read("ep0", kAerUncorStatus), kAerUncPoisonedTlp);
  EXPECT_EQ(aer_read("ep0", kAerHeaderLog), 0u);
  EXPECT_EQ(devsta("ep0") & 0xf, kDevStaNfed) << "Device Status logs masked errors (PCIe 7.5.3.5)";
  // Advisory Non-Fatal is masked by default (kAerCorMask reset value).
  r = inject("ep0", true, kAerCorAdvisoryNonFatal);
  EXPECT_TRUE(r.detection.masked);
  EXPECT_EQ(aer_read("ep0", kAerCorStatus), kAerCorAdvisoryNonFatal);
  EXPECT_EQ(aer_read("rp0", kAerRootStatus), 0u);
}

TEST_F(Aer, NothingIsSentWithReportingDisabled) {
  enable_reporting_like_linux();  // the ports report; ep0's Device Control enables stay clear
  // Firmware leaves Command SERR# Enable set on every function (firmware.cpp, as BIOSes do).
  ASSERT_TRUE(cfg_read(*f, "ep0", kCmd, 2) & kCmdSerr);
  cfg_write(*f, "ep0", kCmd, 2, cfg_read(*f, "ep0", kCmd, 2) & ~kCmdSerr);
  AerReport r = inject("ep0", true, kAerCorReceiver);
  EXPECT_FALSE(r.detection.message);
  r = inject("ep0", false, kAerUncCompAbort);
  EXPECT_FALSE(r.detection.message);
  EXPECT_EQ(aer_read("ep0", kAerUncorStatus), kAerUncCompAbort);
  EXPECT_EQ(aer_read("rp0", kAerRootStatus), 0u);
  // Command SERR# Enable reports uncorrectable errors (not correctable ones) and sets Signaled
  // System Error.
  set16("ep0", kCmd, kCmdSerr);
  r = inject("ep0", true, kAerCorReceiver);
  EXPECT_FALSE(r.detection.message);
  r = inject("ep0", false, kAerUncUnexpComp);
  ASSERT_TRUE(r.detection.message);
  EXPECT_EQ(*r.detection.message, ErrorMessage::NonFatal);
  EXPECT_TRUE(cfg_read(*f, "ep0", kSta, 2) & kStatusSigSystemError);
  EXPECT_EQ(aer_read("rp0", kAerRootStatus) & kAerRootStaW1c, kAerRootStaUncorRcv | kAerRootStaNonFatalRcv);
  // An Unsupported Request also needs URRE.
  aer_write("rp0", kAerRootStatus, 0x7f);
  r = inject("ep0", false, kAerUncUnsupported);
  EXPECT_FALSE(r.detection.message);
  EXPECT_EQ(devsta("ep0") & kDevStaUrd, kDevStaUrd);
  set_devctl("ep0", kDevCtlUrre);
  r = inject("ep0", false, kAerUncUnsupported);
  EXPECT_TRUE(r.detection.message);
}

TEST_F(Aer, RootPortWithoutBridgeSerrDropsTheMessage) {
  set_devctl("ep0", kDevCtlCere);
  aer_write("rp0", kAerRootCommand, kAerRootCmdCorEn);
  const AerReport r = inject("ep0", true, kAerCorReceiver);
  EXPECT_TRUE(r.message_sent);
  EXPECT_EQ(aer_read("rp0", kAerRootStatus), 0u) << "Bridge Control SERR# clear: not forwarded";
  set16("rp0", kBctl, kBctlSerr);
  inject("ep0", true, kAerCorReceiver);
  EXPECT_EQ(aer_read("rp0", kAerRootStatus) & kAerRootStaW1c, kAerRootStaCorRcv);
}

TEST_F(Aer, MessagesClimbThroughASwitch) {
  enable_reporting_like_linux();
  set_devctl("ep1", kDevCtlCere | kDevCtlNfere | kDevCtlFere);
  const AerReport r = inject("ep1", false, kAerUncDlp);  // fatal by default
  ASSERT_TRUE(r.message_sent);
  EXPECT_EQ(r.message_verdict.outcome, Outcome::Delivered);
  EXPECT_EQ(aer_read("rp1", kAerRootStatus) & kAerRootStaW1c,
            kAerRootStaUncorRcv | kAerRootStaFirstFatal | kAerRootStaFatalRcv);
  EXPECT_EQ(aer_read("rp1", kAerSourceId, 2), fn(*f, "ep1").bdf().raw()) << "the endpoint's id, not the switch's";
  EXPECT_EQ(aer_read("rp0", kAerRootStatus), 0u);
  for (const char* p : {"dp0", "sw0", "rp1"})
    EXPECT_TRUE(cfg_read(*f, p, kSecSta, 2) & kStatusSigSystemError) << p << " Received System Error";
}

TEST_F(Aer, SwitchPortGatesForwarding) {
  enable_reporting_like_linux();
  set_devctl("ep1", kDevCtlCere | kDevCtlNfere | kDevCtlFere);
  // dp0 without Bridge Control SERR#: nothing leaves the switch.
  cfg_write(*f, "dp0", kBctl, 2, cfg_read(*f, "dp0", kBctl, 2) & ~kBctlSerr);
  inject("ep1", true, kAerCorReceiver);
  EXPECT_EQ(aer_read("rp1", kAerRootStatus), 0u);
  set16("dp0", kBctl, kBctlSerr);
  // The upstream port without Non-Fatal reporting (Device Control) or SERR#: ERR_NONFATAL stops
  // there, ERR_COR still passes (Command SERR# does not gate forwarded ERR_COR).
  const uint16_t e = exp("sw0");
  cfg_write(*f, "sw0", kCmd, 2, cfg_read(*f, "sw0", kCmd, 2) & ~kCmdSerr);  // firmware set it
  cfg_write(*f, "sw0", e + kExpDevCtl, 2, cfg_read(*f, "sw0", e + kExpDevCtl, 2) & ~kDevCtlNfere);
  inject("ep1", false, kAerUncCompTimeout);
  EXPECT_EQ(aer_read("rp1", kAerRootStatus), 0u);
  inject("ep1", true, kAerCorReceiver);
  EXPECT_EQ(aer_read("rp1", kAerRootStatus) & kAerRootStaW1c, kAerRootStaCorRcv);
  // With Command SERR# it passes and signals a system error.
  set16("sw0", kCmd, kCmdSerr);
  inject("ep1", false, kAerUncCompTimeout);
  EXPECT_TRUE(aer_read("rp1", kAerRootStatus) & kAerRootStaNonFatalRcv);
  EXPECT_TRUE(cfg_read(*f, "sw0", kSta, 2) & kStatusSigSystemError);
}

TEST_F(Aer, RootPortInterruptsByMsiWhenEnabled) {
  enable_reporting_like_linux();
  set_devctl("ep0", kDevCtlCere);
  // Program rp0's MSI (one vector) and Bus Master Enable, as pcieport does.
  const uint16_t msi = fn(*f, "rp0").fn->msi_cap();
  ASSERT_NE(msi, 0);
  cfg_write(*f, "rp0", msi + 4, 4, 0xfee00000u);
  cfg_write(*f, "rp0", msi + 8, 4, 0);
  cfg_write(*f, "rp0", msi + 12, 2, 0x51);
  cfg_write(*f, "rp0", msi + 2, 2, 1);
  bus_master(*f, "rp0");
  aer_write("rp0", kAerRootCommand, kAerRootCmdNonFatalEn);  // correctable: logged, no interrupt
  inject("ep0", true, kAerCorReceiver);
  EXPECT_EQ(f->apic().count(), 0u);
  EXPECT_TRUE(aer_read("rp0", kAerRootStatus) & kAerRootStaCorRcv);
  aer_write("rp0", kAerRootCommand, kAerRootCmdCorEn);
  inject("ep0", true, kAerCorBadDllp);
  ASSERT_EQ(f->apic().count(), 1u);
  EXPECT_EQ(f->apic().last()->irq.vector, 0x51);
  EXPECT_EQ(f->apic().last()->source_id, fn(*f, "rp0").bdf().raw()) << "the root port signals, not the device";
  EXPECT_FALSE(cfg_read(*f, "rp0", kSta, 2) & kStatusIntx) << "no INTx with MSI on";
}

TEST_F(Aer, BadInjectionsAreRejected) {
  EXPECT_THROW(inject("ep0", true, kAerCorReceiver | kAerCorBadTlp), std::invalid_argument);
  EXPECT_THROW(inject("ep0", true, 1u << 3), std::invalid_argument) << "bit 3 is reserved";
  EXPECT_THROW(inject("ep0", false, 0), std::invalid_argument);
}
