// Named registers and bits of the PCI header and of the capabilities the models implement.
// Offsets inside a capability are relative to the capability's own offset. Header offsets are in
// config_space.h (namespace cfg); everything here is in namespace regs.
#pragma once

#include <cstdint>

namespace pciesim::regs {

// PCI 3.0 6.2.2: Command
constexpr uint16_t kCmdIo = 1u << 0, kCmdMemory = 1u << 1, kCmdBusMaster = 1u << 2;
constexpr uint16_t kCmdSpecialCycles = 1u << 3, kCmdMwi = 1u << 4, kCmdVgaSnoop = 1u << 5;
constexpr uint16_t kCmdParity = 1u << 6, kCmdStepping = 1u << 7, kCmdSerr = 1u << 8;
constexpr uint16_t kCmdFastB2b = 1u << 9, kCmdIntxDisable = 1u << 10;

// PCI 3.0 6.2.3: Status (also the layout of a bridge's Secondary Status)
constexpr uint16_t kStatusIntx = 1u << 3, kStatusCapList = 1u << 4, kStatus66Mhz = 1u << 5;
constexpr uint16_t kStatusUdf = 1u << 6, kStatusFastB2b = 1u << 7, kStatusMasterParity = 1u << 8;
constexpr uint16_t kStatusDevselMask = 3u << 9, kStatusDevselMedium = 1u << 9, kStatusDevselSlow = 2u << 9;
constexpr uint16_t kStatusSigTargetAbort = 1u << 11, kStatusRecTargetAbort = 1u << 12;
constexpr uint16_t kStatusRecMasterAbort = 1u << 13, kStatusSigSystemError = 1u << 14;
constexpr uint16_t kStatusDetectedParity = 1u << 15;
constexpr uint16_t kStatusErrorsW1c = 0xf900;  // bits 8, 11..15

// PCI 3.0 6.2.1: Header Type, BIST
constexpr uint8_t kHeaderTypeNormal = 0x00, kHeaderTypeBridge = 0x01, kHeaderTypeCardbus = 0x02;
constexpr uint8_t kHeaderTypeMask = 0x7f, kHeaderTypeMultiFunction = 0x80;
constexpr uint8_t kBistCapable = 0x80, kBistStart = 0x40, kBistCodeMask = 0x0f;

// PCI 3.0 6.2.5.1: BARs and the expansion ROM
constexpr uint32_t kBarIo = 1u << 0, kBarMemTypeMask = 3u << 1, kBarMemType64 = 2u << 1;
constexpr uint32_t kBarMemType1M = 1u << 1, kBarPrefetch = 1u << 3;
constexpr uint32_t kBarMemAddrMask = ~0xfu, kBarIoAddrMask = ~0x3u;
constexpr uint32_t kIoSpaceMask = 0xffffu;  // I/O BARs decode 16 bits (x86 port space)
constexpr uint32_t kRomEnable = 1u << 0, kRomAddrMask = 0xfffff800u;

// PCI-to-PCI Bridge 1.2 3.2.5: windows and Bridge Control
constexpr uint8_t kIoRangeTypeMask = 0x0f, kIoRangeType32 = 0x01, kIoRangeMask = 0xf0;
constexpr uint16_t kMemRangeTypeMask = 0x000f, kMemRangeMask = 0xfff0, kPrefRangeType64 = 0x0001;
constexpr uint16_t kBctlParity = 1u << 0, kBctlSerr = 1u << 1, kBctlIsa = 1u << 2, kBctlVga = 1u << 3;
constexpr uint16_t kBctlVga16 = 1u << 4, kBctlMasterAbort = 1u << 5, kBctlSecondaryBusReset = 1u << 6;
constexpr uint16_t kBctlFastB2b = 1u << 7, kBctlPriDiscardTimer = 1u << 8, kBctlSecDiscardTimer = 1u << 9;
constexpr uint16_t kBctlDiscardTimerStatus = 1u << 10, kBctlDiscardTimerSerr = 1u << 11;

// PCI 3.0 6.7 / PCIe 7.5.3, 7.6: capability ids
constexpr uint8_t kCapIdPm = 0x01, kCapIdMsi = 0x05, kCapIdVendor = 0x09, kCapIdSsvid = 0x0d;
constexpr uint8_t kCapIdExp = 0x10, kCapIdMsix = 0x11, kCapIdAf = 0x13;
constexpr uint16_t kExtCapIdAer = 0x0001, kExtCapIdDsn = 0x0003, kExtCapIdAcs = 0x000d;
constexpr uint16_t kExtCapIdAri = 0x000e, kExtCapIdAts = 0x000f, kExtCapIdSriov = 0x0010;

// PCI PM 1.2 3.2: Power Management capability
constexpr uint16_t kPmPmc = 0x02, kPmCsr = 0x04, kPmBridgeExt = 0x06, kPmData = 0x07, kPmSize = 0x08;
constexpr uint16_t kPmcVersionMask = 0x0007, kPmcPmeClock = 1u << 3, kPmcDsi = 1u << 5;
constexpr uint16_t kPmcAuxCurrentMask = 7u << 6, kPmcD1 = 1u << 9, kPmcD2 = 1u << 10;
constexpr uint16_t kPmcPmeD0 = 1u << 11, kPmcPmeD1 = 1u << 12, kPmcPmeD2 = 1u << 13;
constexpr uint16_t kPmcPmeD3Hot = 1u << 14, kPmcPmeD3Cold = 1u << 15;
constexpr uint16_t kPmCsrStateMask = 0x0003, kPmCsrNoSoftReset = 1u << 3, kPmCsrPmeEnable = 1u << 8;
constexpr uint16_t kPmCsrDataSelMask = 0x1e00, kPmCsrDataScaleMask = 0x6000, kPmCsrPmeStatus = 1u << 15;
constexpr uint8_t kPmBseB2B3 = 1u << 6, kPmBseBpccEnable = 1u << 7;

// PCI 3.0 6.8.1: MSI
constexpr uint16_t kMsiFlags = 0x02, kMsiAddrLo = 0x04, kMsiAddrHi = 0x08;
constexpr uint16_t kMsiData32 = 0x08, kMsiMask32 = 0x0c, kMsiPending32 = 0x10;
constexpr uint16_t kMsiData64 = 0x0c, kMsiMask64 = 0x10, kMsiPending64 = 0x14;
constexpr uint16_t kMsiFlagsEnable = 1u << 0, kMsiFlagsQmask = 7u << 1, kMsiFlagsQsize = 7u << 4;
constexpr uint16_t kMsiFlags64Bit = 1u << 7, kMsiFlagsMaskable = 1u << 8;

// PCI 3.0 6.8.2: MSI-X
constexpr uint16_t kMsixFlags = 0x02, kMsixTable = 0x04, kMsixPba = 0x08, kMsixSize = 0x0c;
constexpr uint16_t kMsixTableSizeMask = 0x07ff, kMsixMaskAll = 1u << 14, kMsixEnable = 1u << 15;
constexpr uint32_t kMsixBirMask = 0x7;
constexpr unsigned kMsixEntrySize = 16;

// PCIe 7.5.3: PCI Express capability
constexpr uint16_t kExpFlags = 0x02, kExpDevCap = 0x04, kExpDevCtl = 0x08, kExpDevSta = 0x0a;
constexpr uint16_t kExpLnkCap = 0x0c, kExpLnkCtl = 0x10, kExpLnkSta = 0x12;
constexpr uint16_t kExpSltCap = 0x14, kExpSltCtl = 0x18, kExpSltSta = 0x1a;
constexpr uint16_t kExpRtCtl = 0x1c, kExpRtCap = 0x1e, kExpRtSta = 0x20;
constexpr uint16_t kExpDevCap2 = 0x24, kExpDevCtl2 = 0x28, kExpDevSta2 = 0x2a;
constexpr uint16_t kExpLnkCap2 = 0x2c, kExpLnkCtl2 = 0x30, kExpLnkSta2 = 0x32;
constexpr uint16_t kExpSltCap2 = 0x34, kExpSltCtl2 = 0x38, kExpSltSta2 = 0x3a;
constexpr uint16_t kExpSizeV2 = 0x3c;

// PCIe 7.5.3.2: device/port type (Capabilities bits 7:4)
enum class PortType : uint8_t {
  Endpoint = 0x0,
  LegacyEndpoint = 0x1,
  RootPort = 0x4,
  SwitchUpstream = 0x5,
  SwitchDownstream = 0x6,
  PcieToPciBridge = 0x7,
  PciToPcieBridge = 0x8,
  RcIntegratedEndpoint = 0x9,
  RcEventCollector = 0xa,
};
constexpr bool is_downstream_port(PortType t) {
  return t == PortType::RootPort || t == PortType::SwitchDownstream || t == PortType::PciToPcieBridge;
}
constexpr bool is_endpoint(PortType t) {
  return t == PortType::Endpoint || t == PortType::LegacyEndpoint || t == PortType::RcIntegratedEndpoint;
}
constexpr bool has_link(PortType t) {
  return t != PortType::RcIntegratedEndpoint && t != PortType::RcEventCollector;
}

constexpr uint16_t kExpFlagsVersionMask = 0x000f, kExpFlagsTypeMask = 0x00f0;
constexpr uint16_t kExpFlagsSlot = 1u << 8, kExpFlagsIrqMask = 0x3e00;

// PCIe 7.5.3.3 DEVCAP
constexpr uint32_t kDevCapPayloadMask = 0x7, kDevCapPhantomMask = 3u << 3, kDevCapExtTag = 1u << 5;
constexpr uint32_t kDevCapL0sMask = 7u << 6, kDevCapL1Mask = 7u << 9;
constexpr uint32_t kDevCapAttnButton = 1u << 12, kDevCapAttnInd = 1u << 13, kDevCapPwrInd = 1u << 14;
constexpr uint32_t kDevCapRbe = 1u << 15, kDevCapPwrValMask = 0xffu << 18, kDevCapPwrScaleMask = 3u << 26;
constexpr uint32_t kDevCapFlr = 1u << 28;

// PCIe 7.5.3.4 DEVCTL
constexpr uint16_t kDevCtlCere = 1u << 0, kDevCtlNfere = 1u << 1, kDevCtlFere = 1u << 2, kDevCtlUrre = 1u << 3;
constexpr uint16_t kDevCtlRelaxed = 1u << 4, kDevCtlPayloadMask = 7u << 5, kDevCtlExtTag = 1u << 8;
constexpr uint16_t kDevCtlPhantom = 1u << 9, kDevCtlAuxPm = 1u << 10, kDevCtlNoSnoop = 1u << 11;
constexpr uint16_t kDevCtlReadRqMask = 7u << 12;
constexpr uint16_t kDevCtlBridgeCfgRetry = 1u << 15, kDevCtlInitiateFlr = 1u << 15;  // by port type

// PCIe 7.5.3.5 DEVSTA
constexpr uint16_t kDevStaCed = 1u << 0, kDevStaNfed = 1u << 1, kDevStaFed = 1u << 2, kDevStaUrd = 1u << 3;
constexpr uint16_t kDevStaAuxPwr = 1u << 4, kDevStaTransPending = 1u << 5;

// PCIe 7.5.3.6 LNKCAP
constexpr uint32_t kLnkCapSpeedMask = 0xf, kLnkCapWidthMask = 0x3f0, kLnkCapAspmMask = 3u << 10;
constexpr uint32_t kLnkCapL0sMask = 7u << 12, kLnkCapL1Mask = 7u << 15, kLnkCapClockPm = 1u << 18;
constexpr uint32_t kLnkCapSurprise = 1u << 19, kLnkCapDllla = 1u << 20, kLnkCapLbnc = 1u << 21;
constexpr uint32_t kLnkCapAspmOptComp = 1u << 22;
constexpr unsigned kLnkCapPortShift = 24;

// PCIe 7.5.3.7 LNKCTL
constexpr uint16_t kLnkCtlAspmMask = 0x3, kLnkCtlRcb = 1u << 3, kLnkCtlDisable = 1u << 4;
constexpr uint16_t kLnkCtlRetrain = 1u << 5, kLnkCtlCommonClock = 1u << 6, kLnkCtlExtSynch = 1u << 7;
constexpr uint16_t kLnkCtlClockPm = 1u << 8, kLnkCtlHwAutWidthDis = 1u << 9;
constexpr uint16_t kLnkCtlBwMgmtIe = 1u << 10, kLnkCtlAutBwIe = 1u << 11;

// PCIe 7.5.3.8 LNKSTA
constexpr uint16_t kLnkStaSpeedMask = 0xf, kLnkStaWidthMask = 0x3f0, kLnkStaTrainErr = 1u << 10;
constexpr uint16_t kLnkStaTraining = 1u << 11, kLnkStaSlotClock = 1u << 12, kLnkStaDllActive = 1u << 13;
constexpr uint16_t kLnkStaBwMgmt = 1u << 14, kLnkStaAutBw = 1u << 15;

// PCIe 7.5.3.9-11 SLTCAP / SLTCTL / SLTSTA
constexpr uint32_t kSltCapAttnButton = 1u << 0, kSltCapPwrCtrl = 1u << 1, kSltCapMrl = 1u << 2;
constexpr uint32_t kSltCapAttnInd = 1u << 3, kSltCapPwrInd = 1u << 4, kSltCapHpSurprise = 1u << 5;
constexpr uint32_t kSltCapHpCapable = 1u << 6, kSltCapPwrValMask = 0xffu << 7, kSltCapPwrScaleMask = 3u << 15;
constexpr uint32_t kSltCapInterlock = 1u << 17, kSltCapNoCmdCompl = 1u << 18;
constexpr unsigned kSltCapSlotNumberShift = 19;
constexpr uint16_t kSltCtlAttnButtonIe = 1u << 0, kSltCtlPwrFaultIe = 1u << 1, kSltCtlMrlIe = 1u << 2;
constexpr uint16_t kSltCtlPresenceIe = 1u << 3, kSltCtlCmdComplIe = 1u << 4, kSltCtlHpIe = 1u << 5;
constexpr uint16_t kSltCtlAttnIndMask = 3u << 6, kSltCtlPwrIndMask = 3u << 8, kSltCtlPwrCtrl = 1u << 10;
constexpr uint16_t kSltCtlInterlock = 1u << 11, kSltCtlDllStateIe = 1u << 12;
constexpr uint16_t kSltStaAttnButton = 1u << 0, kSltStaPwrFault = 1u << 1, kSltStaMrlChanged = 1u << 2;
constexpr uint16_t kSltStaPresenceChanged = 1u << 3, kSltStaCmdCompl = 1u << 4, kSltStaMrlState = 1u << 5;
constexpr uint16_t kSltStaPresence = 1u << 6, kSltStaInterlock = 1u << 7, kSltStaDllStateChanged = 1u << 8;

// PCIe 7.5.3.12-14 RTCTL / RTCAP / RTSTA
constexpr uint16_t kRtCtlSecee = 1u << 0, kRtCtlSenfee = 1u << 1, kRtCtlSefee = 1u << 2;
constexpr uint16_t kRtCtlPmeIe = 1u << 3, kRtCtlCrsVisible = 1u << 4, kRtCapCrsVisible = 1u << 0;
constexpr uint32_t kRtStaPmeReqIdMask = 0xffff, kRtStaPmeStatus = 1u << 16, kRtStaPmePending = 1u << 17;

// PCIe 7.5.3.15-16 DEVCAP2 / DEVCTL2
constexpr uint32_t kDevCap2TimeoutRangesMask = 0xf, kDevCap2TimeoutDisable = 1u << 4, kDevCap2Ari = 1u << 5;
constexpr uint32_t kDevCap2AtomicRouting = 1u << 6, kDevCap2Atomic32 = 1u << 7, kDevCap2Atomic64 = 1u << 8;
constexpr uint32_t kDevCap2Cas128 = 1u << 9, kDevCap2NroPrPrP = 1u << 10, kDevCap2Ltr = 1u << 11;
constexpr uint32_t kDevCap2TphCompMask = 3u << 12, kDevCap2LnClsMask = 3u << 14;
constexpr uint32_t kDevCap2Tag10Comp = 1u << 16, kDevCap2Tag10Req = 1u << 17, kDevCap2ObffMask = 3u << 18;
constexpr uint32_t kDevCap2ExtFmt = 1u << 20, kDevCap2EeTlpPrefix = 1u << 21, kDevCap2MaxEeTlpMask = 3u << 22;
constexpr uint32_t kDevCap2EprMask = 3u << 24, kDevCap2EprInit = 1u << 26, kDevCap2Frs = 1u << 31;
constexpr uint16_t kDevCtl2TimeoutValueMask = 0xf, kDevCtl2TimeoutDisable = 1u << 4, kDevCtl2Ari = 1u << 5;
constexpr uint16_t kDevCtl2AtomicReq = 1u << 6, kDevCtl2AtomicEgressBlock = 1u << 7;
constexpr uint16_t kDevCtl2IdoReq = 1u << 8, kDevCtl2IdoCompl = 1u << 9, kDevCtl2Ltr = 1u << 10;
constexpr uint16_t kDevCtl2EprReq = 1u << 11, kDevCtl2Tag10Req = 1u << 12, kDevCtl2ObffMask = 3u << 13;

// PCIe 7.5.3.18-20 LNKCAP2 / LNKCTL2 / LNKSTA2
constexpr uint32_t kLnkCap2SpeedsMask = 0xfe, kLnkCap2Crosslink = 1u << 8;
constexpr uint32_t kLnkCap2Retimer = 1u << 23, kLnkCap2TwoRetimers = 1u << 24, kLnkCap2Drs = 1u << 31;
constexpr uint16_t kLnkCtl2TargetSpeedMask = 0xf, kLnkCtl2EnterCompliance = 1u << 4;
constexpr uint16_t kLnkCtl2SpeedDisable = 1u << 5, kLnkCtl2SelDeemphasis = 1u << 6;
constexpr uint16_t kLnkCtl2MarginMask = 7u << 7, kLnkCtl2ModCompliance = 1u << 10;
constexpr uint16_t kLnkCtl2ComplianceSos = 1u << 11, kLnkCtl2CompliancePresetMask = 0xfu << 12;
constexpr uint16_t kLnkSta2Deemphasis = 1u << 0, kLnkSta2EqComplete = 1u << 1, kLnkSta2EqPhase1 = 1u << 2;
constexpr uint16_t kLnkSta2EqPhase2 = 1u << 3, kLnkSta2EqPhase3 = 1u << 4, kLnkSta2EqRequest = 1u << 5;
constexpr uint16_t kLnkSta2Retimer = 1u << 6, kLnkSta2TwoRetimers = 1u << 7, kLnkSta2CrosslinkMask = 3u << 8;
constexpr uint16_t kLnkSta2ComponentMask = 7u << 12, kLnkSta2DrsReceived = 1u << 15;

// PCIe 7.8.4: Advanced Error Reporting (extended capability 0x0001, version 2)
constexpr uint16_t kAerUncorStatus = 0x04, kAerUncorMask = 0x08, kAerUncorSeverity = 0x0c;
constexpr uint16_t kAerCorStatus = 0x10, kAerCorMask = 0x14, kAerCapCtl = 0x18, kAerHeaderLog = 0x1c;
constexpr uint16_t kAerRootCommand = 0x2c, kAerRootStatus = 0x30, kAerCorSourceId = 0x34;
constexpr uint16_t kAerSourceId = 0x36, kAerTlpPrefixLog = 0x38, kAerSize = 0x48;
constexpr uint32_t kAerUncDlp = 1u << 4, kAerUncSurpriseDown = 1u << 5, kAerUncPoisonedTlp = 1u << 12;
constexpr uint32_t kAerUncFcp = 1u << 13, kAerUncCompTimeout = 1u << 14, kAerUncCompAbort = 1u << 15;
constexpr uint32_t kAerUncUnexpComp = 1u << 16, kAerUncRxOverflow = 1u << 17, kAerUncMalformed = 1u << 18;
constexpr uint32_t kAerUncEcrc = 1u << 19, kAerUncUnsupported = 1u << 20, kAerUncAcsViolation = 1u << 21;
constexpr uint32_t kAerUncInternal = 1u << 22, kAerUncMcBlocked = 1u << 23, kAerUncAtomicEgress = 1u << 24;
constexpr uint32_t kAerUncTlpPrefixBlocked = 1u << 25, kAerUncPoisonedEgress = 1u << 26;
constexpr uint32_t kAerUncSeverityDefault = 0x00462030;  // DLP, SDES, FCP, RxOF, MalfTLP, internal
constexpr uint32_t kAerCorReceiver = 1u << 0, kAerCorBadTlp = 1u << 6, kAerCorBadDllp = 1u << 7;
constexpr uint32_t kAerCorReplayRollover = 1u << 8, kAerCorReplayTimer = 1u << 12;
constexpr uint32_t kAerCorAdvisoryNonFatal = 1u << 13, kAerCorInternal = 1u << 14;
constexpr uint32_t kAerCorHeaderLogOverflow = 1u << 15;
constexpr uint32_t kAerCapFirstErrMask = 0x1f, kAerCapEcrcGenCap = 1u << 5, kAerCapEcrcGenEn = 1u << 6;
constexpr uint32_t kAerCapEcrcChkCap = 1u << 7, kAerCapEcrcChkEn = 1u << 8;
constexpr uint32_t kAerCapMultiHdrCap = 1u << 9, kAerCapMultiHdrEn = 1u << 10;
constexpr uint32_t kAerCapTlpPrefixPresent = 1u << 11, kAerCapHdrLogCap = 1u << 12;
constexpr uint32_t kAerRootCmdCorEn = 1u << 0, kAerRootCmdNonFatalEn = 1u << 1, kAerRootCmdFatalEn = 1u << 2;
constexpr uint32_t kAerRootStaCorRcv = 1u << 0, kAerRootStaMultiCorRcv = 1u << 1;
constexpr uint32_t kAerRootStaUncorRcv = 1u << 2, kAerRootStaMultiUncorRcv = 1u << 3;
constexpr uint32_t kAerRootStaFirstFatal = 1u << 4, kAerRootStaNonFatalRcv = 1u << 5;
constexpr uint32_t kAerRootStaFatalRcv = 1u << 6, kAerRootStaW1c = 0x7f;
constexpr unsigned kAerRootStaMsgNumShift = 27;

// PCIe 7.7.8: ACS (extended capability 0x000d, version 1). Capability/control bits are AcsBit
// positions (pciesim/tlp.h); bits 15:8 of the capability give the egress vector size.
constexpr uint16_t kAcsCap = 0x04, kAcsCtrl = 0x06, kAcsEgressVector = 0x08;
constexpr uint16_t kAcsBitsMask = 0x007f;
constexpr unsigned kAcsVectorSizeShift = 8;

// PCIe 7.8.8: ARI (extended capability 0x000e, version 1)
constexpr uint16_t kAriCap = 0x04, kAriCtrl = 0x06, kAriSize = 0x08;
constexpr uint16_t kAriCapMfvc = 1u << 0, kAriCapAcs = 1u << 1, kAriCapNextFnMask = 0xff00;
constexpr uint16_t kAriCtrlMfvc = 1u << 0, kAriCtrlAcs = 1u << 1, kAriCtrlFgMask = 7u << 4;

}  // namespace pciesim::regs
