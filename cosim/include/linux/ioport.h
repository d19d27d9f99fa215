/* Resources (include/linux/ioport.h): a BAR's bus address range and kind. */
#ifndef _LINUX_IOPORT_H
#define _LINUX_IOPORT_H

#include <linux/types.h>

struct resource {
	resource_size_t start;
	resource_size_t end;   /* inclusive */
	const char *name;
	unsigned long flags;
};

#define IORESOURCE_BITS 0x000000ffUL
#define IORESOURCE_IO 0x00000100UL
#define IORESOURCE_MEM 0x00000200UL
#define IORESOURCE_PREFETCH 0x00002000UL
#define IORESOURCE_READONLY 0x00004000UL
#define IORESOURCE_SIZEALIGN 0x00040000UL
#define IORESOURCE_MEM_64 0x00100000UL
#define IORESOURCE_DISABLED 0x10000000UL
#define IORESOURCE_UNSET 0x20000000UL
#define IORESOURCE_BUSY 0x80000000UL

static inline resource_size_t resource_size(const struct resource *res) { return res->end - res->start + 1; }
static inline unsigned long resource_type(const struct resource *res) { return res->flags & (IORESOURCE_IO | IORESOURCE_MEM); }

#endif /* _LINUX_IOPORT_H */
