/* Annotations and access helpers (include/linux/compiler_types.h, compiler.h). The sparse address
 * spaces are empty here as they are in a normal (non-sparse) kernel build. */
#ifndef _LINUX_COMPILER_H
#define _LINUX_COMPILER_H

#define __iomem
#define __user
#define __force
#define __rcu
#define __percpu
#define __must_check __attribute__((__warn_unused_result__))
#ifndef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#endif
#define __maybe_unused __attribute__((__unused__))
#define __always_unused __attribute__((__unused__))
#define __packed __attribute__((__packed__))
#define __aligned(x) __attribute__((__aligned__(x)))
#define __printf(a, b) __attribute__((__format__(printf, a, b)))
#define noinline __attribute__((__noinline__))
#define fallthrough __attribute__((__fallthrough__))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" : : : "memory")

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, val) \
	do { \
		*(volatile __typeof__(x) *)&(x) = (val); \
	} while (0)

#endif /* _LINUX_COMPILER_H */
