/* Bit masks (include/linux/bits.h). */
#ifndef _LINUX_BITS_H
#define _LINUX_BITS_H

#ifndef BITS_PER_LONG
#define BITS_PER_LONG 64
#endif
#define BIT(nr) (1UL << (nr))
#define BIT_ULL(nr) (1ULL << (nr))
#define GENMASK(h, l) (((~0UL) - (1UL << (l)) + 1) & (~0UL >> (BITS_PER_LONG - 1 - (h))))
#define GENMASK_ULL(h, l) (((~0ULL) - (1ULL << (l)) + 1) & (~0ULL >> (63 - (h))))

#endif /* _LINUX_BITS_H */
