// QEMU's edu device: its BAR0 register map as a table (QEMU hw/misc/edu.c edu_mmio_read /
// edu_mmio_write, docs/specs/edu.rst; hardware-facts 5). Each row gives offset, access, width,
// value after reset and the bits a plain write stores; edu_device.cpp adds handlers only where a
// write has a side effect (factorial start, interrupt raise/acknowledge, DMA start, ...).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pciesim::edu {

// BAR0 offsets.
constexpr uint32_t kId = 0x00, kLiveness = 0x04, kFactorial = 0x08, kStatus = 0x20, kIrqStatus = 0x24;
constexpr uint32_t kIrqRaise = 0x60, kIrqAck = 0x64;
constexpr uint32_t kDmaSrc = 0x80, kDmaDst = 0x88, kDmaCount = 0x90, kDmaCmd = 0x98;

// edu.c: identification 0xRRrr00ed, major RR, minor rr: version 1.0.
constexpr uint32_t kIdValue = 0x010000ed;
// edu.c EDU_STATUS_COMPUTING / EDU_STATUS_IRQFACT.
constexpr uint32_t kStatusComputing = 0x01, kStatusIrqFact = 0x80;
// edu.c EDU_DMA_RUN, EDU_DMA_DIR (1 = EDU_DMA_TO_PCI: buffer -> RAM), EDU_DMA_IRQ.
constexpr uint64_t kDmaRun = 0x1, kDmaToPci = 0x2, kDmaIrq = 0x4;
// edu.c FACT_IRQ / DMA_IRQ: the interrupt status bits the device raises itself.
constexpr uint32_t kFactIrq = 0x001, kDmaIrqValue = 0x100;
// edu.c DMA_START / DMA_SIZE: the 4 KiB buffer as the DMA registers address it.
constexpr uint64_t kDmaBufferBase = 0x40000, kDmaBufferSize = 4096;
// edu.c edu_instance_init: property dma_mask, default (1UL << 28) - 1.
constexpr uint64_t kDefaultDmaMask = (uint64_t{1} << 28) - 1;
// edu.c edu_mmio_read/write: below 0x80 only 4-byte accesses, from 0x80 4 or 8 bytes.
constexpr uint32_t kWideRegistersStart = 0x80;
// edu.c pci_edu_realize: BAR0, 32-bit non-prefetchable memory, 1 MiB.
constexpr uint64_t kBar0Size = uint64_t{1} << 20;

enum class Access : uint8_t { ReadOnly, ReadWrite, WriteOnly };

struct Register {
  uint32_t offset;
  const char* name;
  Access access;
  unsigned width;   // bytes: the DMA registers are 64-bit (dma_addr_t), the rest 32-bit
  uint64_t reset;   // edu.c keeps every field zero after realize (no reset handler)
  uint64_t wmask;   // bits a plain write stores
};

inline constexpr Register kRegisters[] = {
    {kId, "identification", Access::ReadOnly, 4, kIdValue, 0},
    {kLiveness, "liveness", Access::ReadWrite, 4, 0, 0xffffffff},      // stores NOT value
    {kFactorial, "factorial", Access::ReadWrite, 4, 0, 0xffffffff},    // ignored while computing
    {kStatus, "status", Access::ReadWrite, 4, 0, kStatusIrqFact},      // bit 0 is the device's
    {kIrqStatus, "interrupt status", Access::ReadOnly, 4, 0, 0},
    {kIrqRaise, "interrupt raise", Access::WriteOnly, 4, 0, 0},
    {kIrqAck, "interrupt acknowledge", Access::WriteOnly, 4, 0, 0},
    {kDmaSrc, "DMA source address", Access::ReadWrite, 8, 0, ~uint64_t{0}},       // ignored while
    {kDmaDst, "DMA destination address", Access::ReadWrite, 8, 0, ~uint64_t{0}},  // a transfer runs
    {kDmaCount, "DMA transfer count", Access::ReadWrite, 8, 0, ~uint64_t{0}},
    {kDmaCmd, "DMA command", Access::ReadWrite, 8, 0, ~uint64_t{0}},  // taken only with kDmaRun
};
constexpr size_t kRegisterCount = sizeof(kRegisters) / sizeof(kRegisters[0]);

// Index into kRegisters of the register at exactly `offset`; -1 for an unlisted offset.
constexpr int register_index(uint32_t offset) {
  for (size_t i = 0; i < kRegisterCount; ++i)
    if (kRegisters[i].offset == offset) return static_cast<int>(i);
  return -1;
}

// edu.c: an access of the wrong size reads all ones and writes nothing.
constexpr bool access_size_ok(uint64_t offset, unsigned size) {
  return offset < kWideRegistersStart ? size == 4 : (size == 4 || size == 8);
}

}  // namespace pciesim::edu
