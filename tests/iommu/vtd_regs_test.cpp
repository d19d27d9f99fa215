// Register file of the VT-d unit: values after reset for both presets, access rules, masks, and every
// GCMD command with its GSTS handshake (VT-d 11.4; hardware-facts 1.1-1.10).
#include "iommu/vtd_regs.h"

#include <gtest/gtest.h>

#include "byte_memory.h"

#include <cstring>
#include <map>
#include <stdexcept>
#include <utility>
#include <string>
#include <vector>

#include "iommu/fault_recorder.h"
#include "iommu/invalidation.h"

using namespace pciesim::vtd;

namespace {

// Records every call as text.
class RecordingTarget : public InvalidationTarget {
 public:
  std::vector<std::string> calls;
  void invalidate_context_global() override { calls.push_back("cc_global"); }
  void invalidate_context_domain(uint16_t did) override { calls.push_back("cc_domain " + std::to_string(did)); }
  void invalidate_context_device(uint16_t did, uint16_t sid, unsigned fm) override {
    calls.push_back("cc_device " + std::to_string(did) + " " + std::to_string(sid) + " " + std::to_string(fm));
  }
  void invalidate_iotlb_global() override { calls.push_back("iotlb_global"); }
  void invalidate_iotlb_domain(uint16_t did) override { calls.push_back("iotlb_domain " + std::to_string(did)); }
  void invalidate_iotlb_page(uint16_t, uint64_t, unsigned, bool) override { calls.push_back("iotlb_page"); }
  void invalidate_pasid_cache_domain(uint16_t) override { calls.push_back("pc_domain"); }
  void invalidate_pasid_cache_pasid(uint16_t, uint32_t) override { calls.push_back("pc_pasid"); }
  void invalidate_pasid_cache_global() override { calls.push_back("pc_global"); }
  void invalidate_piotlb_pasid(uint16_t, uint32_t) override { calls.push_back("piotlb_pasid"); }
  void invalidate_piotlb_page(uint16_t, uint32_t, uint64_t, unsigned, bool) override { calls.push_back("piotlb_page"); }
  void invalidate_device_tlb(uint16_t, bool, uint32_t, uint64_t, bool) override { calls.push_back("devtlb"); }
  void invalidate_iec_global() override { calls.push_back("iec_global"); }
  void invalidate_iec_index(uint16_t, unsigned) override { calls.push_back("iec_index"); }
};

using Memory = pciesim::vtd::test::ByteMemory;

constexpr uint32_t TE = 1u << 31, SRTP = 1u << 30, SFL = 1u << 29, EAFL = 1u << 28, WBF = 1u << 27,
                   QIE = 1u << 26, IRE = 1u << 25, SIRTP = 1u << 24, CFI = 1u << 23;

struct Unit {
  explicit Unit(Capabilities c) : regs(c, target, mem, mem) {}
  RecordingTarget target;
  Memory mem;
  RegisterFile regs;
  uint64_t r32(uint32_t off) const { return regs.read(off, 4); }
  uint64_t r64(uint32_t off) const { return regs.read(off, 8); }
  void w32(uint32_t off, uint64_t v) { regs.write(off, 4, v); }
  void w64(uint32_t off, uint64_t v) { regs.write(off, 8, v); }
};

Capabilities with_cap_bits(Capabilities c, uint64_t set, uint64_t clear = 0) {
  c.cap = (c.cap | set) & ~clear;
  return c;
}

}  // namespace

TEST(VtdRegs, Qemu72ValuesAfterReset) {
  Unit u(Capabilities::qemu_7_2());
  EXPECT_EQ(u.r32(0x00), 0x10u);
  EXPECT_EQ(u.r64(0x08), 0xd2008c22260206ull);
  EXPECT_EQ(u.r32(0x08), 0x22260206u);  // CAP as two dwords, as Linux' readq fallback would
  EXPECT_EQ(u.r32(0x0c), 0x00d2008cu);
  EXPECT_EQ(u.r64(0x10), 0xf00f4aull);
  EXPECT_EQ(u.r32(0x18), 0u);  // GCMD
  EXPECT_EQ(u.r32(0x1c), 0u);  // GSTS
  EXPECT_EQ(u.r64(0x20), 0u);  // RTADDR
  EXPECT_EQ(u.r64(0x28), 0u);  // CCMD
  EXPECT_EQ(u.r32(0x34), 0u);  // FSTS
  EXPECT_EQ(u.r32(0x38), 0x80000000u);  // FECTL: IM set
  EXPECT_EQ(u.r32(0x3c), 0u);
  EXPECT_EQ(u.r32(0x40), 0u);
  EXPECT_EQ(u.r64(0x80), 0u);  // IQH
  EXPECT_EQ(u.r64(0x88), 0u);  // IQT
  EXPECT_EQ(u.r64(0x90), 0u);  // IQA
  EXPECT_EQ(u.r32(0x9c), 0u);  // ICS
  EXPECT_EQ(u.r32(0xa0), 0x80000000u);  // IECTL: IM set
  EXPECT_EQ(u.r64(0xb0), 0u);  // IQER
  EXPECT_EQ(u.r64(0xb8), 0u);  // IRTA
  EXPECT_EQ(u.r64(0xf0), 0u);  // IVA at ECAP.IRO
  EXPECT_EQ(u.r64(0xf8), 0u);  // IOTLB
  EXPECT_EQ(u.r64(0x220), 0u);  // FRCD[0] at CAP.FRO
  EXPECT_EQ(u.r64(0x228), 0u);
  // registers the caps do not imply are absent
  EXPECT_FALSE(u.regs.bank().defined(0x58));   // AFLOG: no CAP.AFL
  EXPECT_FALSE(u.regs.bank().defined(0x64));   // PMEN: no PLMR/PHMR
  EXPECT_FALSE(u.regs.bank().defined(0x230));  // one FRCD only (NFR = 1)
  EXPECT_FALSE(u.regs.bank().defined(0x100));  // no MTRRs
  EXPECT_TRUE(u.regs.register_invalidation_supported());
  EXPECT_EQ(u.regs.window_size(), 0x1000u);
  EXPECT_FALSE(u.regs.translation_enabled());
  EXPECT_FALSE(u.regs.root_table().latched);
}

TEST(VtdRegs, ServerValuesAfterReset) {
  Unit u(Capabilities::server());
  EXPECT_EQ(u.r32(0x00), 0x60u);
  EXPECT_EQ(u.r64(0x08), 0x9ed008c40780466ull);
  EXPECT_EQ(u.r64(0x10), 0x3ee9e86f050dfull);
  EXPECT_EQ(u.r32(0x1c), 0u);
  EXPECT_EQ(u.r32(0x34), 0u);
  EXPECT_EQ(u.r32(0x38), 0x80000000u);
  EXPECT_EQ(u.r32(0xa0), 0x80000000u);
  EXPECT_EQ(u.r32(0x64), 0u);  // PMEN exists (PLMR/PHMR)
  EXPECT_TRUE(u.regs.bank().defined(0x68));
  EXPECT_TRUE(u.regs.bank().defined(0x70));
  EXPECT_EQ(u.r64(0x100), 0x10au);  // MTRRCAP (ECAP.MTS)
  EXPECT_TRUE(u.regs.bank().defined(0x400));  // FRCD[0] at 0x400
  EXPECT_TRUE(u.regs.bank().defined(0x408));
  // VER 6: no register-based invalidation (VT-d 6.5); CCMD and IVA/IOTLB read 0 and ignore writes
  EXPECT_FALSE(u.regs.register_invalidation_supported());
  EXPECT_FALSE(u.regs.bank().defined(0x28));
  EXPECT_FALSE(u.regs.bank().defined(0x500));
  u.w64(0x28, (1ull << 63) | (1ull << 61));
  EXPECT_EQ(u.r64(0x28), 0u);
  EXPECT_TRUE(u.target.calls.empty());
  EXPECT_EQ(u.regs.window_size(), 0x1000u);
}

TEST(VtdRegs, EveryDeclaredRegisterReadsItsResetValue) {
  for (const Capabilities& c : {Capabilities::qemu_7_2(), Capabilities::server()}) {
    Unit u(c);
    for (const RegisterSpec& s : u.regs.bank().specs()) {
      const uint64_t expect = s.reset & ~s.womask;
      EXPECT_EQ(u.regs.read(s.offset, s.size), expect) << s.name;
      if (s.size == 8) {
        EXPECT_EQ(u.r32(s.offset), expect & 0xffffffffu) << s.name;
        EXPECT_EQ(u.r32(s.offset + 4), expect >> 32) << s.name;
      }
    }
  }
}

TEST(VtdRegs, ReadOnlyRegistersIgnoreWrites) {
  Unit u(Capabilities::qemu_7_2());
  const std::pair<uint32_t, unsigned> read_only[] = {{0x00, 4}, {0x08, 8}, {0x10, 8}, {0x1c, 4},
                                                     {0x80, 8}, {0xb0, 8}, {0x220, 8}};
  for (auto [off, size] : read_only) {
    const uint64_t before = u.regs.read(off, size);
    u.regs.write(off, size, ~0ull);
    u.w32(off, 0xffffffffu);
    if (size == 8) u.w32(off + 4, 0xffffffffu);
    EXPECT_EQ(u.regs.read(off, size), before) << std::hex << off;
  }
  EXPECT_EQ(u.r64(0x08), Capabilities::qemu_7_2().cap);
  EXPECT_EQ(u.r64(0x10), Capabilities::qemu_7_2().ecap);
  EXPECT_EQ(u.r32(0x1c), 0u);
}

TEST(VtdRegs, AccessRules) {
  Unit u(Capabilities::qemu_7_2());
  // an 8-byte access over two 32-bit registers is two 4-byte accesses
  u.w64(0x38, (0x41ull << 32) | 0x80000000u);  // FECTL, FEDATA
  EXPECT_EQ(u.r32(0x3c), 0x41u);
  EXPECT_EQ(u.r64(0x38), (0x41ull << 32) | 0x80000000u);
  u.w64(0x40, 0x00000000fee0100cull);  // FEADDR, FEUADDR (FEUADDR needs ECAP.EIM)
  EXPECT_EQ(u.r32(0x40), 0xfee0100cu);
  EXPECT_EQ(u.r64(0x40), 0xfee0100cull);
  // unaligned and odd sizes read 0 and are ignored
  EXPECT_EQ(u.regs.read(0x09, 4), 0u);
  EXPECT_EQ(u.regs.read(0x0c, 8), 0u);
  EXPECT_EQ(u.regs.read(0x08, 2), 0u);
  EXPECT_EQ(u.regs.read(0x08, 1), 0u);
  u.regs.write(0x3e, 4, 0xffffffff);
  u.regs.write(0x3c, 2, 0xffff);
  EXPECT_EQ(u.r32(0x3c), 0x41u);
  // undefined offsets
  EXPECT_EQ(u.r32(0x50), 0u);
  u.w32(0x50, 0x1234);
  EXPECT_EQ(u.r32(0x50), 0u);
  EXPECT_EQ(u.r32(0x5000), 0u);
  u.w32(0x5000, 1);
  // a 32-bit write reaches only its half of a 64-bit register
  u.w32(0x24, 0x1);
  EXPECT_EQ(u.r64(0x20), 0x100000000ull);
  u.w32(0x20, 0xabcde000);
  EXPECT_EQ(u.r64(0x20), 0x1abcde000ull);
}

TEST(VtdRegs, WritableMasks) {
  Unit q(Capabilities::qemu_7_2());
  q.w64(0x20, 0x12345fffull);  // TTM not writable without ECAP.SMTS, 9:0 reserved
  EXPECT_EQ(q.r64(0x20), 0x12345000ull);
  q.w32(0x40, 0xffffffffu);  // FEADDR 1:0 reserved
  EXPECT_EQ(q.r32(0x40), 0xfffffffcu);
  q.w32(0x44, 0xffffffffu);  // FEUADDR only with ECAP.EIM
  EXPECT_EQ(q.r32(0x44), 0u);
  q.w32(0x3c, 0xffffffffu);  // FEDATA: 15:0 without EIM
  EXPECT_EQ(q.r32(0x3c), 0xffffu);
  q.w32(0x38, 0x7fffffffu);  // FECTL: IM writable, IP read-only
  EXPECT_EQ(q.r32(0x38), 0u);
  q.w64(0x88, ~0ull);  // IQT 18:4
  EXPECT_EQ(q.r64(0x88), 0x7fff0ull);
  q.w64(0xb8, ~0ull);  // IRTA: no EIME without ECAP.EIM
  EXPECT_EQ(q.r64(0xb8), 0xfffffffffffff00full);
  q.w64(0x28, 0x07fffffc00000000ull);  // CCMD reserved 58:34 and CAIG read-only
  EXPECT_EQ(q.r64(0x28), 0u);

  Unit s(Capabilities::server());
  s.w64(0x20, 0x12345fffull);  // TTM bit 10 with SMTS (bit 11, abort-DMA, needs ECAP.ADMS)
  EXPECT_EQ(s.r64(0x20), 0x12345400ull);
  s.w32(0x44, 0x1u);
  EXPECT_EQ(s.r32(0x44), 1u);
  s.w64(0xb8, ~0ull);
  EXPECT_EQ(s.r64(0xb8), 0xfffffffffffff80full);
}

TEST(VtdRegs, WriteOneToClearMasks) {
  Unit u(Capabilities::server());
  // Status bits cannot be set by software.
  u.w32(0x34, 0xffffffffu);
  EXPECT_EQ(u.r32(0x34), 0u);
  u.w32(0x9c, 1);
  EXPECT_EQ(u.r32(0x9c), 0u);
  // Hardware sets them; writing 1 clears, writing 0 keeps; PPF/FRI are not W1C.
  u.regs.faults().raise_status(fsts::kIqe | fsts::kIte | fsts::kIce);
  u.regs.faults().record(FaultRecord::from_interrupt(0x10, FaultReason::IrEntryNotPresent, 3));
  EXPECT_EQ(u.r32(0x34), 0x72u);
  u.w32(0x34, 0);
  EXPECT_EQ(u.r32(0x34), 0x72u);
  u.w32(0x34, fsts::kIqe | fsts::kPpf);
  EXPECT_EQ(u.r32(0x34), 0x62u);
  u.w32(0x34, 0xffffffffu);
  EXPECT_EQ(u.r32(0x34), 0x02u);  // PPF follows FRCD.F only
  u.w32(0x40c, 0x80000000u);       // FRCD[0].F, W1C through the upper dword
  EXPECT_EQ(u.r32(0x34), 0u);
  EXPECT_EQ(u.r64(0x408) >> 63, 0u);
}

TEST(VtdRegs, GcmdReadsZero) {
  Unit u(Capabilities::qemu_7_2());
  u.w32(0x18, TE);
  EXPECT_EQ(u.r32(0x18), 0u);
  EXPECT_EQ(u.r32(0x1c), TE);
}

TEST(VtdRegs, TranslationEnable) {
  Unit u(Capabilities::qemu_7_2());
  u.w32(0x18, TE);
  EXPECT_TRUE(u.regs.translation_enabled());
  EXPECT_EQ(u.r32(0x1c) & TE, TE);
  u.w32(0x18, 0);
  EXPECT_FALSE(u.regs.translation_enabled());
  EXPECT_EQ(u.r32(0x1c), 0u);
}

TEST(VtdRegs, SetRootTablePointerLatchesRtaddr) {
  Unit u(Capabilities::server());
  u.w64(0x20, 0x7654000ull | (1ull << 10));
  EXPECT_FALSE(u.regs.root_table().latched);
  u.w32(0x18, SRTP);
  EXPECT_EQ(u.r32(0x1c), SRTP);  // RTPS
  EXPECT_TRUE(u.regs.root_table().latched);
  EXPECT_EQ(u.regs.root_table().address, 0x7654000ull);
  EXPECT_EQ(u.regs.root_table().ttm, 1u);
  EXPECT_TRUE(u.regs.root_table().scalable());
  // RTADDR changes take effect only at the next SRTP
  u.w64(0x20, 0x9000ull);
  EXPECT_EQ(u.regs.root_table().address, 0x7654000ull);
  u.w32(0x18, SRTP);
  EXPECT_EQ(u.regs.root_table().address, 0x9000ull);
  EXPECT_FALSE(u.regs.root_table().scalable());
  EXPECT_TRUE(u.target.calls.empty());  // no ESRTPS: software flushes
}

TEST(VtdRegs, LinuxStyleShadowWritesKeepPersistentEnables) {
  Unit u(Capabilities::qemu_7_2());
  // Linux keeps iommu->gcmd and writes it with one command bit added.
  uint32_t shadow = 0;
  u.w64(0x20, 0x1000);
  u.w32(0x18, shadow | SRTP);
  shadow |= TE;
  u.w32(0x18, shadow);
  EXPECT_EQ(u.r32(0x1c), TE | SRTP);
  u.w64(0x20, 0x2000);
  u.w32(0x18, shadow | SRTP);  // re-latch while enabled
  EXPECT_TRUE(u.regs.translation_enabled());
  EXPECT_EQ(u.regs.root_table().address, 0x2000u);
  u.w32(0x18, SRTP);  // without TE: translation is disabled by the same write
  EXPECT_FALSE(u.regs.translation_enabled());
}

TEST(VtdRegs, EnhancedSetRootTablePointerInvalidatesCaches) {
  Unit u(with_cap_bits(Capabilities::server(), (1ull << 63) | (1ull << 62)));
  u.w32(0x18, SRTP);
  EXPECT_EQ(u.target.calls, (std::vector<std::string>{"cc_global", "pc_global", "iotlb_global"}));
  u.target.calls.clear();
  u.w32(0x18, SIRTP);
  EXPECT_EQ(u.target.calls, (std::vector<std::string>{"iec_global"}));
}

TEST(VtdRegs, FaultLogCommandsNeedAdvancedFaultLogging) {
  Unit plain(Capabilities::qemu_7_2());
  plain.w32(0x18, SFL | EAFL);
  EXPECT_EQ(plain.r32(0x1c), 0u);

  Unit u(with_cap_bits(Capabilities::qemu_7_2(), 1ull << 3));  // CAP.AFL
  u.w64(0x58, 0x55000ull | (2u << 9));
  u.w32(0x18, SFL);
  EXPECT_EQ(u.r32(0x1c), SFL);  // FLS
  EXPECT_EQ(u.regs.fault_log(), 0x55000ull | (2u << 9));
  u.w32(0x18, EAFL);
  EXPECT_EQ(u.r32(0x1c), SFL | EAFL);  // AFLS
  EXPECT_TRUE(u.regs.advanced_fault_logging());
  u.w32(0x18, 0);
  EXPECT_EQ(u.r32(0x1c), SFL);
}

TEST(VtdRegs, WriteBufferFlushCompletesAtOnce) {
  Unit plain(Capabilities::qemu_7_2());
  plain.w32(0x18, WBF);
  EXPECT_EQ(plain.regs.write_buffer_flushes(), 0u);  // no CAP.RWBF: reserved

  Unit u(with_cap_bits(Capabilities::qemu_7_2(), 1ull << 4));  // CAP.RWBF
  u.w32(0x18, WBF);
  EXPECT_EQ(u.regs.write_buffer_flushes(), 1u);
  EXPECT_EQ(u.r32(0x1c) & WBF, 0u);  // WBFS clear: flush done
}

TEST(VtdRegs, QueuedInvalidationEnableAndRefusedDisable) {
  Unit u(Capabilities::qemu_7_2());
  u.w64(0x90, 0x100000);  // IQA: unbacked memory, so fetches fail
  u.w32(0x18, QIE);
  EXPECT_EQ(u.r32(0x1c), QIE);
  EXPECT_TRUE(u.regs.qi_enabled());
  EXPECT_EQ(u.r64(0x80), 0u);
  u.w32(0x88, 0x10);  // one descriptor: fetch error, IQH stays 0
  EXPECT_EQ(u.r32(0x34) & fsts::kIqe, fsts::kIqe);
  EXPECT_EQ(u.r64(0x80), 0u);
  u.w32(0x18, 0);  // disable refused while IQH != IQT
  EXPECT_EQ(u.r32(0x1c), QIE);
  EXPECT_TRUE(u.regs.qi_enabled());
  u.w32(0x88, 0);  // software rewinds the tail: queue empty
  u.w32(0x18, 0);
  EXPECT_EQ(u.r32(0x1c), 0u);
  EXPECT_FALSE(u.regs.qi_enabled());
}

TEST(VtdRegs, QueuedInvalidationNeedsEcapQi) {
  Capabilities c = Capabilities::qemu_7_2();
  c.ecap &= ~2ull;
  Unit u(c);
  u.w32(0x18, QIE);
  EXPECT_EQ(u.r32(0x1c), 0u);
  EXPECT_FALSE(u.regs.bank().defined(0x88));
}

TEST(VtdRegs, InterruptRemappingCommands) {
  Unit u(Capabilities::server());
  u.w64(0xb8, 0xabc000ull | (1ull << 11) | 0xf);
  u.w32(0x18, SIRTP);
  EXPECT_EQ(u.r32(0x1c), SIRTP);  // IRTPS
  const InterruptRemapTablePointer t = u.regs.irta();
  EXPECT_TRUE(t.latched);
  EXPECT_EQ(t.address, 0xabc000ull);
  EXPECT_TRUE(t.eime);
  EXPECT_EQ(t.size_field, 0xfu);
  EXPECT_EQ(t.entries(), 65536u);
  u.w32(0x18, IRE);
  EXPECT_TRUE(u.regs.ir_enabled());
  EXPECT_EQ(u.r32(0x1c), SIRTP | IRE);
  u.w32(0x18, IRE | CFI);
  EXPECT_TRUE(u.regs.cfi());
  EXPECT_EQ(u.r32(0x1c), SIRTP | IRE | CFI);
  u.w32(0x18, IRE);  // Linux clears CFI to block compatibility-format interrupts
  EXPECT_FALSE(u.regs.cfi());
  u.w32(0x18, 0);
  EXPECT_FALSE(u.regs.ir_enabled());
  EXPECT_EQ(u.r32(0x1c), SIRTP);
}

TEST(VtdRegs, InterruptRemappingCommandsNeedEcapIr) {
  Capabilities c = Capabilities::qemu_7_2();
  c.ecap &= ~8ull;
  Unit u(c);
  u.w32(0x18, SIRTP | IRE | CFI);
  EXPECT_EQ(u.r32(0x1c), 0u);
  EXPECT_FALSE(u.regs.ir_enabled());
}

TEST(VtdRegs, ProtectedMemoryEnableHandshake) {
  Unit u(Capabilities::server());
  u.w32(0x64, 0x80000000u);
  EXPECT_EQ(u.r32(0x64), 0x80000001u);  // EPM | PRS
  EXPECT_TRUE(u.regs.protected_memory_enabled());
  u.w32(0x64, 1);  // PRS is read-only
  EXPECT_EQ(u.r32(0x64), 0u);
  EXPECT_FALSE(u.regs.protected_memory_enabled());
  u.w32(0x68, 0xffffffffu);
  EXPECT_EQ(u.r32(0x68), 0xffe00000u);  // PLMBASE: 2 MiB granular
}

TEST(VtdRegs, ResetRestoresEverything) {
  Unit u(Capabilities::qemu_7_2());
  u.w64(0x20, 0x5000);
  u.w32(0x18, SRTP);
  u.w32(0x18, TE);
  u.w32(0x38, 0);
  u.regs.reset();
  EXPECT_EQ(u.r32(0x1c), 0u);
  EXPECT_EQ(u.r64(0x20), 0u);
  EXPECT_EQ(u.r32(0x38), 0x80000000u);
  EXPECT_FALSE(u.regs.root_table().latched);
  EXPECT_FALSE(u.regs.translation_enabled());
}

TEST(VtdRegs, OverlappingLayoutIsRejected) {
  Capabilities c = Capabilities::qemu_7_2();
  c.cap = (c.cap & ~(0x3ffull << 24)) | (0x0full << 24);  // FRO = 0xf0: on top of IVA/IOTLB
  RecordingTarget t;
  Memory m;
  EXPECT_THROW(RegisterFile(c, t, m, m), std::logic_error);
}
