// The co-simulated kernel's CPU: loads and stores to MMIO and to ECAM as TLM transactions from the
// fabric's CPU initiator, through the host bus and the root complex, with the CPU's timing. On x86
// an uncached MMIO read stalls the core until its completion returns, so a kernel task's simulated
// time advances by the round trip; an MMIO write is posted and the task goes on (the transaction
// still carries its delay to the target). Outside a kernel task (boot before the simulation runs)
// nothing waits.
//
// __iomem cookies: pci_iomap() and ioremap() hand out addresses in a range no host pointer uses
// (Linux's ioremap space on x86-64, 0xffffc9...), each the cookie base plus the physical address;
// the accessors turn them back. Dereferencing one faults on the host, as it would in the kernel.
#pragma once

#include <cstdint>

#include "pciesim/tlp.h"

namespace pciesim {
class Fabric;
}

namespace pciesim::cosim {

class KernelCpu {
 public:
  static constexpr uintptr_t kIomapBase = 0xffffc90000000000ull;
  static constexpr uintptr_t kIomapSpan = 1ull << 46;  // physical addresses below 64 TiB

  explicit KernelCpu(Fabric& fabric) : m_fabric(fabric) {}

  // 1, 2, 4 or 8 bytes. A read nobody completes successfully returns all ones (PCIe 2.3.2).
  uint64_t read(uint64_t phys, unsigned size);
  void write(uint64_t phys, uint64_t value, unsigned size);

  // Configuration space through ECAM of the segment's root complex; reads of absent functions
  // return all ones. False when the segment has no root complex or reg/size is out of range.
  bool config_read(int segment, RequesterId bdf, uint16_t reg, unsigned size, uint32_t& value);
  bool config_write(int segment, RequesterId bdf, uint16_t reg, unsigned size, uint32_t value);

  // Port I/O (IN/OUT): 1, 2 or 4 bytes within one DW, as I/O requests through the fabric
  // (docs/vga.md). A read nobody completes returns all ones, as on a PC.
  uint32_t port_read(uint16_t port, unsigned size);
  void port_write(uint16_t port, uint32_t value, unsigned size);
  // ioport_map() cookies, as x86's lib/iomap.c makes them: PIO_OFFSET + port, below PIO_RESERVED.
  static constexpr uintptr_t kPioOffset = 0x10000, kPioReserved = 0x40000, kPioMask = 0xffff;
  static void* port_cookie(uint16_t port) { return reinterpret_cast<void*>(kPioOffset + port); }
  static bool is_port_cookie(const volatile void* p) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    return a > kPioOffset && a < kPioReserved;  // lib/iomap.c IO_COND
  }
  static uint16_t port_of(const volatile void* p) { return reinterpret_cast<uintptr_t>(p) & kPioMask; }

  static void* cookie(uint64_t phys) { return reinterpret_cast<void*>(kIomapBase + phys); }
  static bool is_cookie(const volatile void* p) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    return a >= kIomapBase && a - kIomapBase < kIomapSpan;
  }
  static uint64_t phys(const volatile void* p) { return reinterpret_cast<uintptr_t>(p) - kIomapBase; }

  uint64_t reads() const { return m_reads; }
  uint64_t writes() const { return m_writes; }
  uint64_t failed() const { return m_failed; }

 private:
  bool ecam_address(int segment, RequesterId bdf, uint16_t reg, uint64_t& addr) const;
  uint64_t access(bool write, uint64_t addr, uint64_t value, unsigned size, bool io = false);

  Fabric& m_fabric;
  uint64_t m_reads = 0, m_writes = 0, m_failed = 0;
};

}  // namespace pciesim::cosim
