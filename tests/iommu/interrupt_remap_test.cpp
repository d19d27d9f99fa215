#include "iommu/interrupt_remap.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace pciesim::vtd;

namespace {

// Byte-addressed memory backing [base, base + size); reads and writes outside fail.
class FakeMemory : public MemReader, public MemWriter {
 public:
  FakeMemory(uint64_t base, size_t size) : m_base(base), m_bytes(size, 0) {}
  bool read(uint64_t pa, void* dst, unsigned len) const override {
    ++reads;
    if (!inside(pa, len)) return false;
    std::memcpy(dst, m_bytes.data() + (pa - m_base), len);
    return true;
  }
  bool write(uint64_t pa, const void* src, unsigned len) override {
    if (!inside(pa, len)) return false;
    std::memcpy(m_bytes.data() + (pa - m_base), src, len);
    return true;
  }
  void put_irte(uint64_t table, uint32_t index, const CachedIrte& e) {
    const uint64_t raw[2] = {e.lo, e.hi};
    write(table + 16ull * index, raw, 16);
  }
  void put_descriptor(uint64_t pa, const std::array<uint64_t, 8>& d) { write(pa, d.data(), 64); }
  std::array<uint64_t, 8> descriptor(uint64_t pa) const {
    std::array<uint64_t, 8> d{};
    std::memcpy(d.data(), m_bytes.data() + (pa - m_base), 64);
    return d;
  }
  mutable unsigned reads = 0;

 private:
  bool inside(uint64_t pa, unsigned len) const { return pa >= m_base && pa + len <= m_base + m_bytes.size(); }
  uint64_t m_base;
  std::vector<uint8_t> m_bytes;
};

constexpr uint64_t kTable = 0x10'0000;
constexpr uint64_t kPid = 0x20'0000;         // posted-interrupt descriptor
constexpr uint16_t kDev = 0x0100;            // 01:00.0
constexpr uint16_t kOtherFn = 0x0103;        // 01:00.3
constexpr uint16_t kOtherBus = 0x0500;       // 05:00.0

ApicInterrupt irq(uint8_t vector, uint32_t dest, bool level = false) {
  ApicInterrupt i;
  i.vector = vector;
  i.destination = dest;
  i.level = level;
  return i;
}

// QEMU-7.2-like unit (no EIM, no PI), remapping on, CFI off, 256-entry table.
InterruptRemapState xapic_state() {
  InterruptRemapState s;
  s.enabled = true;
  s.cfis = false;
  s.irta = kTable | 0x7;  // S = 7: 2^8 entries
  s.caps = Capabilities::qemu_7_2();
  return s;
}

// Sapphire-Rapids-like unit (EIM and PI), x2APIC mode.
InterruptRemapState x2apic_state() {
  InterruptRemapState s = xapic_state();
  s.caps = Capabilities::server();
  s.irta = kTable | (1ull << 11) | 0x7;
  return s;
}

struct Fixture : ::testing::Test {
  FakeMemory mem{0x10'0000, 0x20'0000};  // table and descriptors
};

}  // namespace

using InterruptRemap = Fixture;

TEST_F(InterruptRemap, RemapsToAnXapicDestination) {
  const auto s = xapic_state();
  ApicInterrupt want = irq(0x41, 3, true);
  want.logical = true;
  want.redirection_hint = true;
  want.delivery_mode = static_cast<uint8_t>(ApicDeliveryMode::LowestPriority);
  mem.put_irte(kTable, 5, make_remapped_irte(want, false, SourceValidation::requester(kDev)));

  auto r = remap_interrupt(make_remappable_msi(5, false, 0, kDev), s, mem);
  ASSERT_TRUE(r.ok()) << describe(r.fault);
  EXPECT_EQ(r.path, InterruptPath::Remapped);
  EXPECT_EQ(r.index, 5u);
  EXPECT_EQ(r.irq, want);
  EXPECT_EQ(r.memory_reads, 1u);

  // Linux style: HANDLE = block base, SHV = 1, sub-handle in the data.
  r = remap_interrupt(make_remappable_msi(4, true, 1, kDev), s, mem);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.index, 5u);
  EXPECT_EQ(r.irq.vector, 0x41);
}

TEST_F(InterruptRemap, RemapsToAnX2apicDestinationWithEime) {
  const auto s = x2apic_state();
  mem.put_irte(kTable, 9, make_remapped_irte(irq(0x55, 0x1234'5678), true, SourceValidation::requester(kDev)));
  auto r = remap_interrupt(make_remappable_msi(9, false, 0, kDev), s, mem);
  ASSERT_TRUE(r.ok()) << describe(r.fault);
  EXPECT_EQ(r.irq.destination, 0x1234'5678u);
  EXPECT_EQ(r.irq.vector, 0x55);

  // The same table read in xAPIC mode: DST[31:16] is reserved there.
  auto x = xapic_state();
  x.caps = Capabilities::server();
  r = remap_interrupt(make_remappable_msi(9, false, 0, kDev), x, mem);
  EXPECT_EQ(r.fault, FaultReason::IrEntryReserved);

  // EIME without ECAP.EIM is reserved: the unit stays in xAPIC mode.
  auto no_eim = xapic_state();
  no_eim.irta |= 1ull << 11;
  mem.put_irte(kTable, 10, make_remapped_irte(irq(0x56, 7), false, SourceValidation::none()));
  r = remap_interrupt(make_remappable_msi(10, false, 0, kDev), no_eim, mem);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.irq.destination, 7u);
}

TEST_F(InterruptRemap, Fault20ReservedBitsInTheRequest) {
  const auto s = xapic_state();
  mem.put_irte(kTable, 1, make_remapped_irte(irq(0x30, 1), false, SourceValidation::none()));
  MsiWrite m = make_remappable_msi(1, true, 0, kDev);
  m.data |= 0x1'0000;  // data[31:16] must be zero with SHV
  EXPECT_EQ(remap_interrupt(m, s, mem).fault, FaultReason::IrReservedRequest);
  m = make_remappable_msi(1, false, 0, kDev);
  m.address |= 1ull << 32;  // upper address bits
  EXPECT_EQ(remap_interrupt(m, s, mem).fault, FaultReason::IrReservedRequest);
  m = make_remappable_msi(1, false, 0, kDev);
  m.address &= 0x000f'ffff;  // not 0xFEEx_xxxx
  EXPECT_EQ(remap_interrupt(m, s, mem).fault, FaultReason::IrReservedRequest);
  // Without SHV the data is not part of the index and is not checked.
  m = make_remappable_msi(1, false, 0, kDev);
  m.data = 0xdead'0030;
  EXPECT_TRUE(remap_interrupt(m, s, mem).ok());
}

TEST_F(InterruptRemap, Fault21IndexBeyondTheTableSize) {
  const auto s = xapic_state();  // 256 entries
  auto r = remap_interrupt(make_remappable_msi(256, false, 0, kDev), s, mem);
  EXPECT_EQ(r.fault, FaultReason::IrIndexBeyondSize);
  EXPECT_EQ(r.index, 256u);
  EXPECT_FALSE(r.fault_suppressed);
  EXPECT_EQ(mem.reads, 0u);  // never reached the table
  r = remap_interrupt(make_remappable_msi(255, true, 1, kDev), s, mem);  // handle + sub-handle
  EXPECT_EQ(r.fault, FaultReason::IrIndexBeyondSize);
  r = remap_interrupt(make_remappable_msi(0x8000, false, 0, kDev), s, mem);  // HANDLE[15] in bit 2
  EXPECT_EQ(r.fault, FaultReason::IrIndexBeyondSize);
  EXPECT_EQ(r.index, 0x8000u);
}

TEST_F(InterruptRemap, Fault22EntryNotPresentAndFpdSuppressesIt) {
  const auto s = xapic_state();
  auto r = remap_interrupt(make_remappable_msi(2, false, 0, kDev), s, mem);  // zeroed entry
  EXPECT_EQ(r.fault, FaultReason::IrEntryNotPresent);
  EXPECT_FALSE(r.fault_suppressed);
  mem.put_irte(kTable, 2, CachedIrte{0x2, 0});  // P = 0, FPD = 1
  r = remap_interrupt(make_remappable_msi(2, false, 0, kDev), s, mem);
  EXPECT_EQ(r.fault, FaultReason::IrEntryNotPresent);
  EXPECT_TRUE(r.fault_suppressed);
}

TEST_F(InterruptRemap, Fault23TableNotReadable) {
  auto s = xapic_state();
  s.irta = 0x8000'0000 | 0x7;  // nothing backs it
  auto r = remap_interrupt(make_remappable_msi(0, false, 0, kDev), s, mem);
  EXPECT_EQ(r.fault, FaultReason::IrTableAccess);
}

TEST_F(InterruptRemap, Fault24ReservedBitsInAPresentEntry) {
  const auto s = xapic_state();
  const CachedIrte good = make_remapped_irte(irq(0x30, 1), false, SourceValidation::none());
  struct Case {
    const char* what;
    uint64_t lo_or, hi_or;
  } cases[] = {
      {"lo bit 12", 1ull << 12, 0},
      {"lo bit 31", 1ull << 31, 0},
      {"hi bit 84 (127:84)", 0, 1ull << 20},
      {"xAPIC DST[7:0]", 1ull << 32, 0},
      {"IM without CAP.PI", 1ull << 15, 0},
  };
  for (const auto& c : cases) {
    mem.put_irte(kTable, 3, CachedIrte{good.lo | c.lo_or, good.hi | c.hi_or});
    auto r = remap_interrupt(make_remappable_msi(3, false, 0, kDev), s, mem);
    EXPECT_EQ(r.fault, FaultReason::IrEntryReserved) << c.what;
    EXPECT_FALSE(r.fault_suppressed) << c.what;
  }
  mem.put_irte(kTable, 3, CachedIrte{good.lo | (1ull << 12) | 0x2, good.hi});  // FPD
  EXPECT_TRUE(remap_interrupt(make_remappable_msi(3, false, 0, kDev), s, mem).fault_suppressed);
}

TEST_F(InterruptRemap, Fault25CompatibilityFormatBlocked) {
  auto s = xapic_state();
  const MsiWrite compat = make_compatibility_msi(irq(0x61, 2), kDev);
  s.cfis = false;
  EXPECT_EQ(remap_interrupt(compat, s, mem).fault, FaultReason::IrCompatibilityBlocked);
  auto x = x2apic_state();  // EIME = 1 blocks compatibility format even with CFIS
  x.cfis = true;
  EXPECT_EQ(remap_interrupt(compat, x, mem).fault, FaultReason::IrCompatibilityBlocked);
}

TEST_F(InterruptRemap, CompatibilityFormatPassesThroughWithCfi) {
  auto s = xapic_state();
  s.cfis = true;
  ApicInterrupt want = irq(0x61, 2, true);
  want.logical = true;
  want.delivery_mode = static_cast<uint8_t>(ApicDeliveryMode::Nmi);
  auto r = remap_interrupt(make_compatibility_msi(want, kDev), s, mem);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.path, InterruptPath::Compatibility);
  EXPECT_EQ(r.irq, want);
  EXPECT_EQ(mem.reads, 0u);
}

TEST_F(InterruptRemap, RemappingDisabledPassesEverythingThrough) {
  auto s = xapic_state();
  s.enabled = false;
  auto r = remap_interrupt(make_compatibility_msi(irq(0x70, 4), kDev), s, mem);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.path, InterruptPath::Unremapped);
  EXPECT_EQ(r.irq.vector, 0x70);
  EXPECT_EQ(r.irq.destination, 4u);
}

TEST_F(InterruptRemap, Fault26SourceIdValidation) {
  const auto s = xapic_state();
  auto check = [&](SourceValidation sv, uint16_t requester) {
    mem.put_irte(kTable, 7, make_remapped_irte(irq(0x33, 1), false, sv));
    return remap_interrupt(make_remappable_msi(7, false, 0, requester), s, mem).fault;
  };
  // SVT 0: anyone.
  EXPECT_EQ(check(SourceValidation::none(), kOtherBus), FaultReason::None);
  // SVT 1: requester id under the SQ mask.
  EXPECT_EQ(check(SourceValidation::requester(kDev), kDev), FaultReason::None);
  EXPECT_EQ(check(SourceValidation::requester(kDev), kOtherFn), FaultReason::IrSourceIdInvalid);
  EXPECT_EQ(check(SourceValidation::requester(kDev, 3), kOtherFn), FaultReason::None);  // ignore fn
  EXPECT_EQ(check(SourceValidation::requester(kDev, 1), 0x0104), FaultReason::None);    // ignore bit 2
  EXPECT_EQ(check(SourceValidation::requester(kDev, 1), 0x0102), FaultReason::IrSourceIdInvalid);
  EXPECT_EQ(check(SourceValidation::requester(kDev, 3), 0x0108), FaultReason::IrSourceIdInvalid);  // dev 1
  // SVT 2: bus range [start, end] (a device behind a PCIe-to-PCI bridge).
  EXPECT_EQ(check(SourceValidation::bus_range(2, 5), kOtherBus), FaultReason::None);    // end bus
  EXPECT_EQ(check(SourceValidation::bus_range(2, 5), 0x0200), FaultReason::None);       // start bus
  EXPECT_EQ(check(SourceValidation::bus_range(2, 5), kDev), FaultReason::IrSourceIdInvalid);
  EXPECT_EQ(check(SourceValidation::bus_range(2, 5), 0x0600), FaultReason::IrSourceIdInvalid);
  // SVT 3 is reserved: fails like QEMU.
  EXPECT_EQ(check(SourceValidation{3, 0, kDev}, kDev), FaultReason::IrSourceIdInvalid);
  // FPD suppresses recording.
  mem.put_irte(kTable, 7, make_remapped_irte(irq(0x33, 1), false, SourceValidation::requester(kDev), true));
  auto r = remap_interrupt(make_remappable_msi(7, false, 0, kOtherBus), s, mem);
  EXPECT_EQ(r.fault, FaultReason::IrSourceIdInvalid);
  EXPECT_TRUE(r.fault_suppressed);
}

TEST_F(InterruptRemap, PostedInterruptSetsPirAndNotifiesOnce) {
  const auto s = x2apic_state();  // CAP.PI = 1
  mem.put_irte(kTable, 20, make_posted_irte(kPid, 0x95, false, SourceValidation::requester(kDev)));
  mem.put_descriptor(kPid, make_posted_descriptor(0xf2, 0x11, true));

  auto r = remap_interrupt(make_remappable_msi(20, false, 0, kDev), s, mem);
  ASSERT_TRUE(r.ok()) << describe(r.fault);
  ASSERT_TRUE(r.posted);
  EXPECT_EQ(r.post.descriptor, kPid);
  EXPECT_EQ(r.post.vector, 0x95);
  EXPECT_TRUE(r.post.notify);
  EXPECT_EQ(r.post.notification.vector, 0xf2);
  EXPECT_EQ(r.post.notification.destination, 0x11u);
  EXPECT_EQ(r.memory_reads, 2u);  // IRTE + descriptor
  ASSERT_TRUE(commit_posted_interrupt(r.post, mem));
  auto d = mem.descriptor(kPid);
  EXPECT_EQ(d[0x95 / 64], 1ull << (0x95 % 64));  // PIR bit
  EXPECT_EQ(d[4] & 1, 1u);                        // ON

  LocalApicSink sink;
  EXPECT_TRUE(deliver(r, make_remappable_msi(20, false, 0, kDev), sink));
  ASSERT_EQ(sink.count(), 1u);
  EXPECT_EQ(sink.last()->path, InterruptPath::PostedNotification);
  EXPECT_EQ(sink.last()->irq.vector, 0xf2);

  // ON is set now: the next posted interrupt only sets its PIR bit.
  mem.put_irte(kTable, 21, make_posted_irte(kPid, 0x20, false, SourceValidation::requester(kDev)));
  r = remap_interrupt(make_remappable_msi(21, false, 0, kDev), s, mem);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.post.notify);
  commit_posted_interrupt(r.post, mem);
  EXPECT_EQ(mem.descriptor(kPid)[0], 1ull << 0x20);
  EXPECT_FALSE(deliver(r, make_remappable_msi(21, false, 0, kDev), sink));
  EXPECT_EQ(sink.count(), 1u);
}

TEST_F(InterruptRemap, PostedSuppressNotifyUnlessUrgent) {
  const auto s = x2apic_state();
  mem.put_descriptor(kPid, make_posted_descriptor(0xf2, 0x11, true, /*sn*/ true));
  mem.put_irte(kTable, 30, make_posted_irte(kPid, 0x40, false, SourceValidation::none()));
  mem.put_irte(kTable, 31, make_posted_irte(kPid, 0x41, true, SourceValidation::none()));
  auto r = remap_interrupt(make_remappable_msi(30, false, 0, kDev), s, mem);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.post.notify);
  r = remap_interrupt(make_remappable_msi(31, false, 0, kDev), s, mem);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.post.notify);
}

TEST_F(InterruptRemap, PostedXapicNotificationDestination) {
  auto s = xapic_state();
  s.caps = Capabilities::server();  // PI, xAPIC mode (EIME = 0)
  mem.put_descriptor(kPid, make_posted_descriptor(0xf2, 6, false));  // NDST[15:8] = 6
  mem.put_irte(kTable, 40, make_posted_irte(kPid, 0x40, false, SourceValidation::none()));
  auto r = remap_interrupt(make_remappable_msi(40, false, 0, kDev), s, mem);
  ASSERT_TRUE(r.ok()) << describe(r.fault);
  EXPECT_EQ(r.post.notification.destination, 6u);
}

TEST_F(InterruptRemap, Fault27PostedDescriptorNotReadable) {
  const auto s = x2apic_state();
  mem.put_irte(kTable, 22, make_posted_irte(0x9000'0000, 0x40, false, SourceValidation::none()));
  auto r = remap_interrupt(make_remappable_msi(22, false, 0, kDev), s, mem);
  EXPECT_EQ(r.fault, FaultReason::IrPostedDescriptorAccess);
  EXPECT_TRUE(is_interrupt_fault(r.fault));
}

TEST_F(InterruptRemap, PostedEntryReservedBits) {
  const auto s = x2apic_state();
  CachedIrte e = make_posted_irte(kPid, 0x40, false, SourceValidation::none());
  e.lo |= 1ull << 2;  // 7:2 reserved in the posted format (DM in the remapped one)
  mem.put_irte(kTable, 23, e);
  EXPECT_EQ(remap_interrupt(make_remappable_msi(23, false, 0, kDev), s, mem).fault,
            FaultReason::IrEntryReserved);
}

TEST_F(InterruptRemap, InterruptEntryCacheServesStaleEntriesUntilInvalidated) {
  const auto s = xapic_state();
  VtdCaches caches;
  mem.put_irte(kTable, 12, make_remapped_irte(irq(0x44, 1), false, SourceValidation::none()));
  auto r = remap_interrupt(make_remappable_msi(12, false, 0, kDev), s, mem, &caches.iec());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.iec_hit);
  mem.put_irte(kTable, 12, make_remapped_irte(irq(0x45, 2), false, SourceValidation::none()));
  r = remap_interrupt(make_remappable_msi(12, false, 0, kDev), s, mem, &caches.iec());
  EXPECT_TRUE(r.iec_hit);
  EXPECT_EQ(r.memory_reads, 0u);
  EXPECT_EQ(r.irq.vector, 0x44);  // stale
  caches.invalidate_iec_index(13, 0);  // another index: still stale
  EXPECT_EQ(remap_interrupt(make_remappable_msi(12, false, 0, kDev), s, mem, &caches.iec()).irq.vector, 0x44);
  caches.invalidate_iec_index(8, 2);  // 8..11: still stale
  EXPECT_EQ(remap_interrupt(make_remappable_msi(12, false, 0, kDev), s, mem, &caches.iec()).irq.vector, 0x44);
  caches.invalidate_iec_index(14, 2);  // 12..15
  r = remap_interrupt(make_remappable_msi(12, false, 0, kDev), s, mem, &caches.iec());
  EXPECT_FALSE(r.iec_hit);
  EXPECT_EQ(r.irq.vector, 0x45);
  // Source-id validation still applies to cached entries.
  mem.put_irte(kTable, 12, make_remapped_irte(irq(0x45, 2), false, SourceValidation::requester(kDev)));
  caches.invalidate_iec_global();
  EXPECT_TRUE(remap_interrupt(make_remappable_msi(12, false, 0, kDev), s, mem, &caches.iec()).ok());
  EXPECT_EQ(remap_interrupt(make_remappable_msi(12, false, 0, kOtherBus), s, mem, &caches.iec()).fault,
            FaultReason::IrSourceIdInvalid);
  // Not-present entries are not cached.
  remap_interrupt(make_remappable_msi(50, false, 0, kDev), s, mem, &caches.iec());
  EXPECT_EQ(caches.iec().peek(50), nullptr);
}

TEST(LocalApicSink, RecordsQueriesAndClears) {
  LocalApicSink sink;
  int heard = 0;
  sink.set_listener([&](const DeliveredInterrupt&) { ++heard; });
  const auto s = [] {
    InterruptRemapState st;
    st.enabled = true;
    st.cfis = true;
    st.irta = kTable | 0x7;
    st.caps = Capabilities::qemu_7_2();
    return st;
  }();
  FakeMemory mem(kTable, 0x1000);
  mem.put_irte(kTable, 1, make_remapped_irte(irq(0x50, 2, true), false, SourceValidation::none()));
  const MsiWrite remapped = make_remappable_msi(1, false, 0, kDev);
  const MsiWrite compat = make_compatibility_msi(irq(0x51, 3), kOtherBus);
  EXPECT_TRUE(deliver(remap_interrupt(remapped, s, mem), remapped, sink, 1000));
  EXPECT_TRUE(deliver(remap_interrupt(compat, s, mem), compat, sink, 2000));
  EXPECT_TRUE(deliver(remap_interrupt(remapped, s, mem), remapped, sink, 3000));
  MsiWrite bad = make_remappable_msi(300, false, 0, kDev);
  EXPECT_FALSE(deliver(remap_interrupt(bad, s, mem), bad, sink));  // faults deliver nothing

  EXPECT_EQ(sink.count(), 3u);
  EXPECT_EQ(heard, 3);
  EXPECT_EQ(sink.count_vector(0x50), 2u);
  EXPECT_EQ(sink.count_vector(0x50, 3u), 0u);
  EXPECT_EQ(sink.count_destination(3), 1u);
  const auto& first = sink.delivered().front();
  EXPECT_EQ(first.source_id, kDev);
  EXPECT_EQ(first.path, InterruptPath::Remapped);
  EXPECT_EQ(first.index, 1u);
  EXPECT_TRUE(first.irq.level);
  EXPECT_EQ(first.time_ps, 1000u);
  EXPECT_EQ(sink.delivered()[1].path, InterruptPath::Compatibility);
  EXPECT_EQ(sink.delivered()[1].source_id, kOtherBus);
  EXPECT_STREQ(to_string(sink.last()->path), "remapped");

  auto taken = sink.take();
  EXPECT_EQ(taken.size(), 3u);
  EXPECT_EQ(sink.count(), 0u);
  EXPECT_EQ(sink.last(), nullptr);
  EXPECT_TRUE(deliver(remap_interrupt(compat, s, mem), compat, sink));
  sink.clear();
  EXPECT_EQ(sink.count(), 0u);
}
