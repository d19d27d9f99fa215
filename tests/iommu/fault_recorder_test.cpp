// Primary fault logging and the fault event interrupt (VT-d 7.2.1, 11.4.9, 11.4.14; hardware-facts 1.8).
// Records are checked the way Linux' dmar_fault() reads them: 32-bit reads of the upper dwords.
#include "iommu/fault_recorder.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "iommu/invalidation.h"
#include "iommu/vtd_regs.h"

using namespace pciesim;
using namespace pciesim::vtd;

namespace {

class NullTarget : public InvalidationTarget {
 public:
  void invalidate_context_global() override {}
  void invalidate_context_domain(uint16_t) override {}
  void invalidate_context_device(uint16_t, uint16_t, unsigned) override {}
  void invalidate_iotlb_global() override {}
  void invalidate_iotlb_domain(uint16_t) override {}
  void invalidate_iotlb_page(uint16_t, uint64_t, unsigned, bool) override {}
  void invalidate_pasid_cache_domain(uint16_t) override {}
  void invalidate_pasid_cache_pasid(uint16_t, uint32_t) override {}
  void invalidate_pasid_cache_global() override {}
  void invalidate_piotlb_pasid(uint16_t, uint32_t) override {}
  void invalidate_piotlb_page(uint16_t, uint32_t, uint64_t, unsigned, bool) override {}
  void invalidate_device_tlb(uint16_t, bool, uint32_t, uint64_t, bool) override {}
  void invalidate_iec_global() override {}
  void invalidate_iec_index(uint16_t, unsigned) override {}
};

class NoMemory : public MemReader, public QueueMemWriter {
 public:
  bool read(uint64_t, void*, unsigned) const override { return false; }
  bool write(uint64_t, const void*, unsigned) override { return false; }
};

struct Msi {
  uint64_t addr;
  uint32_t data;
  bool operator==(const Msi& o) const { return addr == o.addr && data == o.data; }
};

// QEMU's unit with NFR raised to `records` (FRCD at 0x220, 0x230, ...).
Capabilities qemu_with_records(unsigned records) {
  Capabilities c = Capabilities::qemu_7_2();
  c.cap = (c.cap & ~(0xffull << 40)) | (static_cast<uint64_t>(records - 1) << 40);
  return c;
}

struct Unit {
  explicit Unit(Capabilities c) : regs(c, target, mem, mem) {
    regs.set_fault_event_sink([this](uint64_t a, uint32_t d) { msis.push_back({a, d}); });
    fro = c.fro();
  }
  NullTarget target;
  NoMemory mem;
  RegisterFile regs;
  std::vector<Msi> msis;
  uint32_t fro = 0;

  uint32_t r32(uint32_t off) const { return static_cast<uint32_t>(regs.read(off, 4)); }
  void w32(uint32_t off, uint32_t v) { regs.write(off, 4, v); }
  uint32_t fsts() const { return r32(0x34); }
  uint32_t fectl() const { return r32(0x38); }
  void program_msi(uint32_t addr, uint32_t data, bool unmask) {
    w32(0x40, addr);
    w32(0x3c, data);
    if (unmask) w32(0x38, 0);
  }
  RecordOutcome dma_fault(uint16_t sid, uint64_t addr, bool write, FaultReason r = FaultReason::ReadDenied) {
    Request req;
    req.source = RequesterId{static_cast<uint8_t>(sid >> 8), static_cast<uint8_t>(sid)};
    req.addr = addr;
    req.write = write;
    return regs.faults().record(FaultRecord::from_request(req, r));
  }
  // Linux dmar_fault(): walk from FRI while F is set, clear F, then clear PFO/PPF in FSTS.
  std::vector<std::pair<uint16_t, uint8_t>> linux_service() {
    std::vector<std::pair<uint16_t, uint8_t>> seen;
    const uint32_t status = fsts();
    if (status & 2) {
      const unsigned nfr = regs.caps().nfr();
      unsigned index = (status >> 8) & 0xff;
      for (unsigned n = 0; n < nfr; ++n) {
        const uint32_t off = fro + 16 * index;
        const uint32_t hi = r32(off + 12);
        if (!(hi >> 31)) break;
        const uint32_t sid_word = r32(off + 8);
        seen.push_back({static_cast<uint16_t>(sid_word & 0xffff), static_cast<uint8_t>(hi & 0xff)});
        w32(off + 12, 0x80000000u);
        index = (index + 1) % nfr;
      }
    }
    w32(0x34, 0x1 | 0x2 | 0x80);  // DMA_FSTS_PFO | DMA_FSTS_PPF | DMA_FSTS_PRO
    return seen;
  }
};

}  // namespace

TEST(FaultRecorder, DmaFaultRecordLayoutAsLinuxReadsIt) {
  Unit u(Capabilities::server());  // FRCD[0] at 0x400
  Request req;
  req.source = RequesterId::from_bdf(3, 2, 1);
  req.addr = 0x12345678abcull;
  req.write = false;
  req.has_pasid = true;
  req.pasid = 0x5a5a5;
  req.privileged = true;
  req.execute = true;
  req.at = AddressType::TranslationRequest;
  EXPECT_EQ(u.regs.faults().record(FaultRecord::from_request(req, FaultReason::SmPasidEntryNotPresent)),
            RecordOutcome::Recorded);
  const uint32_t hi = u.r32(0x40c), mid = u.r32(0x408);
  EXPECT_EQ(hi >> 31, 1u);                          // F
  EXPECT_EQ((hi >> 30) & 1, 1u);                    // T (T1): read
  EXPECT_EQ((hi >> 28) & 3, 1u);                    // AT: translation request
  EXPECT_EQ((hi >> 8) & 0xfffff, 0x5a5a5u);         // PV
  EXPECT_EQ(hi & 0xff, 0x59u);                      // FR
  EXPECT_EQ(mid & 0xffff, 0x0311u);                 // SID 03:02.1
  EXPECT_EQ(mid >> 31, 1u);                         // PP
  EXPECT_EQ((mid >> 30) & 1, 1u);                   // EXE
  EXPECT_EQ((mid >> 29) & 1, 1u);                   // PRIV
  EXPECT_EQ((mid >> 28) & 1, 0u);                   // T2
  EXPECT_EQ(u.regs.read(0x400, 8), 0x12345678000ull);  // FI: page address
  const FaultRecord back = u.regs.faults().pending(0);
  EXPECT_EQ(back.source_id, 0x0311);
  EXPECT_EQ(back.reason, FaultReason::SmPasidEntryNotPresent);
  EXPECT_EQ(back.type, FaultRequestType::Read);
  EXPECT_EQ(back.pasid, 0x5a5a5u);
  EXPECT_TRUE(back.pasid_present && back.privileged && back.execute);
}

TEST(FaultRecorder, WriteAndSpecialTypes) {
  Unit u(qemu_with_records(4));
  u.dma_fault(0x0008, 0x2000, true, FaultReason::WriteDenied);
  EXPECT_EQ((u.r32(0x22c) >> 30) & 1, 0u);  // T1 = 0: write
  EXPECT_EQ((u.r32(0x228) >> 28) & 1, 0u);  // T2 = 0
  FaultRecord atomic;
  atomic.reason = FaultReason::SmWriteDenied;
  atomic.type = FaultRequestType::AtomicOp;
  u.regs.faults().record(atomic);
  EXPECT_EQ((u.r32(0x23c) >> 30) & 1, 1u);
  EXPECT_EQ((u.r32(0x238) >> 28) & 1, 1u);
  FaultRecord prq;
  prq.reason = FaultReason::SmRootNotPresent;
  prq.type = FaultRequestType::PageRequest;
  u.regs.faults().record(prq);
  EXPECT_EQ((u.r32(0x24c) >> 30) & 1, 0u);
  EXPECT_EQ((u.r32(0x248) >> 28) & 1, 1u);
  EXPECT_EQ(u.regs.faults().pending(2).type, FaultRequestType::PageRequest);
}

TEST(FaultRecorder, InterruptRemappingFaultRecordsTheIndex) {
  Unit u(Capabilities::qemu_7_2());
  u.program_msi(0xfee00000, 0x30, true);
  EXPECT_EQ(u.regs.faults().record(FaultRecord::from_interrupt(0x00f8, FaultReason::IrIndexBeyondSize, 0x1234)),
            RecordOutcome::Recorded);
  EXPECT_EQ(u.regs.read(0x220, 8), 0x1234ull << 48);
  EXPECT_EQ(u.r32(0x22c) & 0xff, 0x21u);
  EXPECT_EQ(u.r32(0x228) & 0xffff, 0xf8u);
  EXPECT_EQ(u.fsts(), 0x2u);
  EXPECT_EQ(u.msis, (std::vector<Msi>{{0xfee00000, 0x30}}));
  EXPECT_EQ(u.regs.faults().pending(0).interrupt_index, 0x1234);
}

TEST(FaultRecorder, RingAdvancesFriAndOverflows) {
  Unit u(qemu_with_records(4));
  for (uint16_t i = 0; i < 4; ++i) EXPECT_EQ(u.dma_fault(0x100 + i, 0x1000 * i, false), RecordOutcome::Recorded);
  EXPECT_EQ(u.fsts(), 0x2u);  // PPF, FRI = 0 (first pending fault)
  for (unsigned i = 0; i < 4; ++i) EXPECT_TRUE(u.regs.faults().slot_full(i));
  EXPECT_EQ(u.regs.faults().next_index(), 0u);  // wrapped
  EXPECT_EQ(u.dma_fault(0x200, 0x9000, false), RecordOutcome::Overflow);
  EXPECT_EQ(u.fsts(), 0x3u);  // PFO | PPF
  EXPECT_EQ(u.dma_fault(0x201, 0xa000, false), RecordOutcome::Dropped);
  EXPECT_EQ(u.regs.faults().pending(0).source_id, 0x100);  // not overwritten
  EXPECT_EQ(u.regs.faults().recorded(), 4u);
  EXPECT_EQ(u.regs.faults().dropped(), 2u);
}

TEST(FaultRecorder, ClearingFaultBitsRecomputesPpfAndFriFollowsTheNextRecord) {
  Unit u(qemu_with_records(4));
  u.dma_fault(0x100, 0x1000, false);
  u.dma_fault(0x101, 0x2000, false);
  u.w32(0x22c, 0);  // writing 0 does not clear
  EXPECT_TRUE(u.regs.faults().slot_full(0));
  u.w32(0x22c, 0x7fffffffu);  // other bits are read-only
  EXPECT_EQ(u.r32(0x22c) & 0xff, 0x06u);
  u.w32(0x22c, 0x80000000u);
  EXPECT_FALSE(u.regs.faults().slot_full(0));
  EXPECT_EQ(u.fsts() & 2, 2u);  // FRCD[1] still pending
  u.regs.write(0x238, 8, 1ull << 63);  // 64-bit write of the high qword also clears
  EXPECT_EQ(u.fsts() & 2, 0u);
  // the next fault goes to index 2 and FRI names it
  u.dma_fault(0x102, 0x3000, false);
  EXPECT_EQ(u.fsts(), 0x2u | (2u << 8));
  EXPECT_EQ(u.regs.faults().pending(2).source_id, 0x102);
  // PFO is cleared by software, after which recording resumes
  u.dma_fault(0x103, 0x4000, false);
  u.dma_fault(0x104, 0x5000, false);
  u.dma_fault(0x105, 0x6000, false);  // index 1 is free again
  EXPECT_EQ(u.dma_fault(0x106, 0x7000, false), RecordOutcome::Overflow);  // index 2 full
  u.w32(0x34, 1);
  EXPECT_EQ(u.fsts() & 1, 0u);
  EXPECT_EQ(u.dma_fault(0x107, 0x8000, false), RecordOutcome::Overflow);  // still full
}

TEST(FaultRecorder, FaultProcessingDisableSuppresses) {
  Unit u(Capabilities::qemu_7_2());
  u.program_msi(0xfee00000, 0x30, true);
  FaultRecord f = FaultRecord::from_interrupt(1, FaultReason::IrEntryNotPresent, 5);
  EXPECT_EQ(u.regs.faults().record(f, /*fpd*/ true), RecordOutcome::Suppressed);
  EXPECT_EQ(u.fsts(), 0u);
  EXPECT_FALSE(u.regs.faults().slot_full(0));
  EXPECT_TRUE(u.msis.empty());
  Request req;
  Translation t;
  t.fault = FaultReason::ContextNotPresent;
  t.fault_suppressed = true;
  EXPECT_EQ(u.regs.faults().record(req, t), RecordOutcome::Suppressed);
  EXPECT_EQ(u.regs.faults().record(req, Translation{}), RecordOutcome::NoFault);
  t.fault_suppressed = false;
  EXPECT_EQ(u.regs.faults().record(req, t), RecordOutcome::Recorded);
  EXPECT_EQ(u.regs.faults().suppressed(), 2u);
}

TEST(FaultRecorder, FaultEventDeliveredOncePerCondition) {
  Unit u(qemu_with_records(4));
  u.program_msi(0xfee0100c, 0x4041, true);
  u.dma_fault(0x10, 0x1000, false);
  EXPECT_EQ(u.msis, (std::vector<Msi>{{0xfee0100c, 0x4041}}));
  EXPECT_EQ(u.fectl(), 0u);  // IP cleared after the message went out
  u.dma_fault(0x11, 0x2000, false);  // PPF already set: no new condition
  u.regs.faults().raise_status(fsts::kIqe);  // status already pending: no new condition
  EXPECT_EQ(u.msis.size(), 1u);
  auto seen = u.linux_service();
  EXPECT_EQ(seen, (std::vector<std::pair<uint16_t, uint8_t>>{{0x10, 0x06}, {0x11, 0x06}}));
  EXPECT_EQ(u.fsts() & 3, 0u);
  u.w32(0x34, fsts::kIqe);
  EXPECT_EQ(u.fsts(), 0u);
  u.dma_fault(0x12, 0x3000, true);
  EXPECT_EQ(u.msis.size(), 2u);
  EXPECT_EQ(u.linux_service(), (std::vector<std::pair<uint16_t, uint8_t>>{{0x12, 0x06}}));
}

TEST(FaultRecorder, MaskedEventIsHeldAndReleasedOnUnmask) {
  Unit u(Capabilities::qemu_7_2());
  u.program_msi(0xfee00000, 0x22, /*unmask*/ false);
  u.dma_fault(0x10, 0x1000, false);
  EXPECT_TRUE(u.msis.empty());
  EXPECT_EQ(u.fectl(), 0xc0000000u);  // IM | IP
  u.w32(0x38, 0x80000000u);  // still masked
  EXPECT_TRUE(u.msis.empty());
  u.w32(0x38, 0);  // unmask: the held message goes out
  EXPECT_EQ(u.msis, (std::vector<Msi>{{0xfee00000, 0x22}}));
  EXPECT_EQ(u.fectl(), 0u);
  u.w32(0x38, 0);
  EXPECT_EQ(u.msis.size(), 1u);
}

TEST(FaultRecorder, ServicingWhileMaskedClearsPendingWithoutMessage) {
  Unit u(Capabilities::qemu_7_2());
  u.program_msi(0xfee00000, 0x22, false);
  u.dma_fault(0x10, 0x1000, false);
  EXPECT_EQ(u.fectl(), 0xc0000000u);
  u.linux_service();  // F cleared, PPF 0: every status field serviced
  EXPECT_EQ(u.fectl(), 0x80000000u);
  u.w32(0x38, 0);
  EXPECT_TRUE(u.msis.empty());
}

TEST(FaultRecorder, InvalidationErrorsAreFaultEvents) {
  Unit u(Capabilities::server());
  u.program_msi(0xfee00000, 0x50, true);
  EXPECT_TRUE(u.regs.faults().raise_status(fsts::kIte));
  EXPECT_EQ(u.msis.size(), 1u);
  EXPECT_FALSE(u.regs.faults().raise_status(fsts::kIte));  // already set
  u.dma_fault(0x10, 0x1000, false);  // ITE pending: PPF is no new condition
  EXPECT_EQ(u.msis.size(), 1u);
  EXPECT_EQ(u.fsts(), fsts::kIte | fsts::kPpf);
}

TEST(FaultRecorder, UpperAddressWithExtendedInterruptMode) {
  Unit u(Capabilities::server());  // ECAP.EIM
  u.w32(0x44, 0x1);
  u.program_msi(0xfee00000, 0x12345, true);
  u.dma_fault(0x10, 0x1000, false);
  EXPECT_EQ(u.msis, (std::vector<Msi>{{0x1fee00000ull, 0x12345}}));
}

TEST(FaultRecorder, DecodeRoundTrips) {
  FaultRecord f;
  f.source_id = 0xbeef;
  f.reason = FaultReason::SmSlPermission;
  f.address = 0xfffff000;
  f.type = FaultRequestType::AtomicOp;
  f.at = AddressType::Translated;
  f.pasid_present = true;
  f.pasid = 0xfffff;
  const FaultRecord g = decode_frcd(f.frcd_low(), f.frcd_high());
  EXPECT_EQ(g.source_id, f.source_id);
  EXPECT_EQ(g.reason, f.reason);
  EXPECT_EQ(g.address, f.address);
  EXPECT_EQ(g.type, f.type);
  EXPECT_EQ(g.at, f.at);
  EXPECT_EQ(g.pasid, f.pasid);
  EXPECT_FALSE(g.privileged);
}
