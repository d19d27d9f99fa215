// Port I/O (asm/io.h inb/outb and friends) and ioport_map() (lib/iomap.c) through the kernel's
// CPU: each access is an I/O request through the host bus and the root complex (docs/vga.md).
#include "kernel/kernel.h"
#include "kernel/kapi.h"  // last: the kernel headers' macros must not meet the C++ library's

using pciesim::cosim::Kernel;
using pciesim::cosim::KernelCpu;

extern "C" u8 inb(u16 port) { return static_cast<u8>(Kernel::current().cpu().port_read(port, 1)); }
extern "C" u16 inw(u16 port) { return static_cast<u16>(Kernel::current().cpu().port_read(port, 2)); }
extern "C" u32 inl(u16 port) { return Kernel::current().cpu().port_read(port, 4); }
extern "C" void outb(u8 value, u16 port) { Kernel::current().cpu().port_write(port, value, 1); }
extern "C" void outw(u16 value, u16 port) { Kernel::current().cpu().port_write(port, value, 2); }
extern "C" void outl(u32 value, u16 port) { Kernel::current().cpu().port_write(port, value, 4); }

// lib/iomap.c ioport_map: ports above PIO_MASK cannot be mapped.
extern "C" void __iomem* ioport_map(unsigned long port, unsigned int nr) {
  if (port > KernelCpu::kPioMask) return nullptr;
  (void)nr;
  return KernelCpu::port_cookie(static_cast<u16>(port));
}
extern "C" void ioport_unmap(void __iomem* addr) { (void)addr; }  // nothing to undo (lib/iomap.c)
