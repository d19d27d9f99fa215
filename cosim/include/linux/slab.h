/* kmalloc and friends (include/linux/slab.h). Every allocation lives in the simulated DRAM the
 * kernel owns, so a device can DMA to it; the largest is 2 MiB (KMALLOC_MAX_SIZE is larger on
 * Linux, 4 MiB with 4 KiB pages; the co-simulated allocator stops at one backing chunk). */
#ifndef _LINUX_SLAB_H
#define _LINUX_SLAB_H

#include <linux/gfp.h>
#include <linux/types.h>

#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(x) ((unsigned long)(x) <= (unsigned long)ZERO_SIZE_PTR)

#ifdef __cplusplus
extern "C" {
#endif
void *kmalloc(size_t size, gfp_t flags);
void *krealloc(const void *p, size_t new_size, gfp_t flags);
void kfree(const void *p);
size_t ksize(const void *p);
void *kvmalloc(size_t size, gfp_t flags);
void kvfree(const void *p);
#ifdef __cplusplus
}
#endif

static inline void *kzalloc(size_t size, gfp_t flags) { return kmalloc(size, flags | __GFP_ZERO); }
static inline void *kvzalloc(size_t size, gfp_t flags) { return kvmalloc(size, flags | __GFP_ZERO); }
static inline void *kmalloc_array(size_t n, size_t size, gfp_t flags)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	return kmalloc(bytes, flags);
}
static inline void *kcalloc(size_t n, size_t size, gfp_t flags) { return kmalloc_array(n, size, flags | __GFP_ZERO); }
static inline void *kvcalloc(size_t n, size_t size, gfp_t flags) { return kcalloc(n, size, flags); }

#endif /* _LINUX_SLAB_H */
