/* MMIO and port I/O accessors (include/linux/io.h, asm-generic/iomap.h, asm/io.h). Each access is a CPU load or
 * store that travels as a TLM transaction through the host bus and the root complex to the
 * device, with the CPU's timing. __iomem cookies come from pci_iomap() or ioremap() and must not
 * be dereferenced (they are not host memory). */
#ifndef _LINUX_IO_H
#define _LINUX_IO_H

#include <linux/compiler.h>
#include <linux/types.h>

#ifdef __cplusplus
extern "C" {
#endif
u8 ioread8(const void __iomem *addr);
u16 ioread16(const void __iomem *addr);
u32 ioread32(const void __iomem *addr);
u64 ioread64(const void __iomem *addr);
void iowrite8(u8 value, void __iomem *addr);
void iowrite16(u16 value, void __iomem *addr);
void iowrite32(u32 value, void __iomem *addr);
void iowrite64(u64 value, void __iomem *addr);
void memcpy_fromio(void *dst, const volatile void __iomem *src, size_t count);
void memcpy_toio(volatile void __iomem *dst, const void *src, size_t count);
void memset_io(volatile void __iomem *dst, int c, size_t count);
void __iomem *ioremap(resource_size_t offset, unsigned long size);
void iounmap(volatile void __iomem *addr);
/* Port I/O (asm/io.h) and its iomap cookies (lib/iomap.c): the ioread/iowrite accessors take
 * either kind of cookie. */
u8 inb(u16 port);
u16 inw(u16 port);
u32 inl(u16 port);
void outb(u8 value, u16 port);
void outw(u16 value, u16 port);
void outl(u32 value, u16 port);
void __iomem *ioport_map(unsigned long port, unsigned int nr);
void ioport_unmap(void __iomem *addr);
#ifdef __cplusplus
}
#endif

#define readb(a) ioread8(a)
#define readw(a) ioread16(a)
#define readl(a) ioread32(a)
#define readq(a) ioread64(a)
#define writeb(v, a) iowrite8(v, a)
#define writew(v, a) iowrite16(v, a)
#define writel(v, a) iowrite32(v, a)
#define writeq(v, a) iowrite64(v, a)
#define readl_relaxed readl
#define writel_relaxed writel
#define ioread64_lo_hi ioread64
#define iowrite64_lo_hi iowrite64

#endif /* _LINUX_IO_H */
