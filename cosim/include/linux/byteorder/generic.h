/* Byte order conversions (include/linux/byteorder/generic.h over x86's little-endian
 * uapi/linux/byteorder/little_endian.h): to and from the little-endian layouts of devices and
 * user ABIs. On x86-64 the little-endian ones are identities and the big-endian ones swap. A driver
 * gets them through <linux/kernel.h> here, as it gets them through its includes on Linux. */
#ifndef _LINUX_BYTEORDER_GENERIC_H
#define _LINUX_BYTEORDER_GENERIC_H

#include <linux/types.h>

#define cpu_to_le16(x) ((__le16)(__u16)(x))
#define cpu_to_le32(x) ((__le32)(__u32)(x))
#define cpu_to_le64(x) ((__le64)(__u64)(x))
#define le16_to_cpu(x) ((__u16)(__le16)(x))
#define le32_to_cpu(x) ((__u32)(__le32)(x))
#define le64_to_cpu(x) ((__u64)(__le64)(x))
#define cpu_to_be16(x) ((__be16)__builtin_bswap16((__u16)(x)))
#define cpu_to_be32(x) ((__be32)__builtin_bswap32((__u32)(x)))
#define cpu_to_be64(x) ((__be64)__builtin_bswap64((__u64)(x)))
#define be16_to_cpu(x) ((__u16)__builtin_bswap16((__u16)(__be16)(x)))
#define be32_to_cpu(x) ((__u32)__builtin_bswap32((__u32)(__be32)(x)))
#define be64_to_cpu(x) ((__u64)__builtin_bswap64((__u64)(__be64)(x)))

#endif /* _LINUX_BYTEORDER_GENERIC_H */
