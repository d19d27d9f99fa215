/* include/linux/overflow.h: the size of a structure with a trailing flexible array, saturating
 * at SIZE_MAX when the multiplication or the addition overflows (so an allocation of it fails). */
#ifndef _LINUX_OVERFLOW_H
#define _LINUX_OVERFLOW_H

#include <linux/types.h>

static inline size_t __cosim_struct_size(size_t base, size_t elem, size_t n)
{
	size_t bytes;

	if (__builtin_mul_overflow(elem, n, &bytes) || __builtin_add_overflow(bytes, base, &bytes))
		return (size_t)-1;
	return bytes;
}

#define struct_size(p, member, count) \
	__cosim_struct_size(sizeof(*(p)), sizeof(*(p)->member), (size_t)(count))

#endif /* _LINUX_OVERFLOW_H */
