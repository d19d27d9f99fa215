/* Kernel integer and address types (include/linux/types.h, include/uapi/asm-generic/int-ll64.h). */
#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

typedef int8_t s8;
typedef uint8_t u8;
typedef int16_t s16;
typedef uint16_t u16;
typedef int32_t s32;
typedef uint32_t u32;
typedef int64_t s64;
typedef uint64_t u64;
typedef s8 __s8;
typedef u8 __u8;
typedef s16 __s16;
typedef u16 __u16;
typedef s32 __s32;
typedef u32 __u32;
typedef s64 __s64;
typedef u64 __u64;
typedef u16 __le16;
typedef u32 __le32;
typedef u64 __le64;
typedef u16 __be16;
typedef u32 __be32;
typedef u64 __be64;
#define __aligned_u64 __u64 __attribute__((aligned(8)))
#define __aligned_be64 __be64 __attribute__((aligned(8)))
#define __aligned_le64 __le64 __attribute__((aligned(8)))

typedef long ssize_t;              /* x86-64: __kernel_ssize_t is long */
typedef long long __kernel_loff_t;
#ifndef __cplusplus
/* C++ (the kernel layer's implementation) gets glibc's loff_t; prototypes say __kernel_loff_t. */
typedef __kernel_loff_t loff_t;
#endif
typedef int pid_t;
typedef unsigned int gfp_t;
typedef unsigned long kernel_ulong_t;
typedef u64 dma_addr_t;            /* CONFIG_ARCH_DMA_ADDR_T_64BIT */
typedef u64 phys_addr_t;           /* CONFIG_PHYS_ADDR_T_64BIT */
typedef phys_addr_t resource_size_t;

struct list_head {
	struct list_head *next, *prev;
};

typedef struct {
	int counter;
} atomic_t;

#endif /* _LINUX_TYPES_H */
