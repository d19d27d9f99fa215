// MMIO accessors (linux/io.h) through the kernel's CPU (KernelCpu).
#include <cstdio>
#include <cstring>

#include "kernel/kernel.h"
#include "kernel/kapi.h"

using pciesim::cosim::Kernel;
using pciesim::cosim::KernelCpu;

namespace {
uint64_t phys_of(const volatile void* addr) {
  if (!KernelCpu::is_cookie(addr)) {
    char b[128];
    std::snprintf(b, sizeof b, KERN_ALERT "BUG: unable to handle page fault for address: %p (not an __iomem cookie)\n",
                  const_cast<const void*>(addr));
    Kernel::current().log().printk(b);
    cosim_bug(__FILE__, __LINE__);
  }
  return KernelCpu::phys(addr);
}
// lib/iomap.c IO_COND: an ioport_map() cookie is port I/O, anything else MMIO.
uint64_t rd(const volatile void* a, unsigned n) {
  if (KernelCpu::is_port_cookie(a)) return Kernel::current().cpu().port_read(KernelCpu::port_of(a), n);
  return Kernel::current().cpu().read(phys_of(a), n);
}
void wr(volatile void* a, uint64_t v, unsigned n) {
  if (KernelCpu::is_port_cookie(a)) return Kernel::current().cpu().port_write(KernelCpu::port_of(a), static_cast<uint32_t>(v), n);
  Kernel::current().cpu().write(phys_of(a), v, n);
}
}  // namespace

extern "C" u8 ioread8(const void __iomem* addr) { return static_cast<u8>(rd(addr, 1)); }
extern "C" u16 ioread16(const void __iomem* addr) { return static_cast<u16>(rd(addr, 2)); }
extern "C" u32 ioread32(const void __iomem* addr) { return static_cast<u32>(rd(addr, 4)); }
extern "C" u64 ioread64(const void __iomem* addr) { return rd(addr, 8); }
extern "C" void iowrite8(u8 value, void __iomem* addr) { wr(addr, value, 1); }
extern "C" void iowrite16(u16 value, void __iomem* addr) { wr(addr, value, 2); }
extern "C" void iowrite32(u32 value, void __iomem* addr) { wr(addr, value, 4); }
extern "C" void iowrite64(u64 value, void __iomem* addr) { wr(addr, value, 8); }

// x86 memcpy_fromio/toio: the widest naturally aligned accesses the range allows.
extern "C" void memcpy_fromio(void* dst, const volatile void __iomem* src, size_t count) {
  uint64_t p = phys_of(src);
  auto* d = static_cast<uint8_t*>(dst);
  while (count) {
    const unsigned n = (count >= 4 && p % 4 == 0) ? 4 : (count >= 2 && p % 2 == 0) ? 2 : 1;
    const uint64_t v = Kernel::current().cpu().read(p, n);
    std::memcpy(d, &v, n);
    d += n;
    p += n;
    count -= n;
  }
}
extern "C" void memcpy_toio(volatile void __iomem* dst, const void* src, size_t count) {
  uint64_t p = phys_of(dst);
  const auto* s = static_cast<const uint8_t*>(src);
  while (count) {
    const unsigned n = (count >= 4 && p % 4 == 0) ? 4 : (count >= 2 && p % 2 == 0) ? 2 : 1;
    uint64_t v = 0;
    std::memcpy(&v, s, n);
    Kernel::current().cpu().write(p, v, n);
    s += n;
    p += n;
    count -= n;
  }
}
extern "C" void memset_io(volatile void __iomem* dst, int c, size_t count) {
  uint64_t p = phys_of(dst);
  for (size_t i = 0; i < count; ++i) Kernel::current().cpu().write(p + i, static_cast<uint8_t>(c), 1);
}

extern "C" void __iomem* ioremap(resource_size_t offset, unsigned long size) {
  if (size == 0 || offset + size < offset || offset + size > KernelCpu::kIomapSpan) return nullptr;
  return KernelCpu::cookie(offset);
}
extern "C" void iounmap(volatile void __iomem* addr) {
  if (addr && !KernelCpu::is_cookie(addr)) cosim_warn(__FILE__, __LINE__, "iounmap of %p: not an ioremap cookie", const_cast<const void*>(addr));
}
