/* UUIDs (include/linux/uuid.h, lib/uuid.c, Linux 6.1): uuid_t is 16 bytes in the order the
 * string form gives them ("bd8d9d2b-5a5f-..." -> 0xbd, 0x8d, ...), unlike guid_t. */
#ifndef _LINUX_UUID_H
#define _LINUX_UUID_H

#include <linux/string.h>
#include <linux/types.h>

#define UUID_SIZE 16
#define UUID_STRING_LEN 36 /* xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx */

typedef struct {
	__u8 b[UUID_SIZE];
} uuid_t;

static inline bool uuid_equal(const uuid_t *u1, const uuid_t *u2)
{
	return memcmp(u1, u2, sizeof(uuid_t)) == 0;
}

static inline void uuid_copy(uuid_t *dst, const uuid_t *src)
{
	memcpy(dst, src, sizeof(uuid_t));
}

#ifdef __cplusplus
extern "C" {
#endif
/* lib/uuid.c uuid_is_valid + __uuid_parse: the first 36 characters must be the canonical form
 * (hyphens at 8, 13, 18, 23, hex digits elsewhere); 0 or -EINVAL. */
int uuid_parse(const char *uuid, uuid_t *u);
/* A random (version 4, variant 1) UUID. */
void uuid_gen(uuid_t *u);
#ifdef __cplusplus
}
#endif

#endif /* _LINUX_UUID_H */
