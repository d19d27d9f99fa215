/* Monotonic time (include/linux/ktime.h, timekeeping.h): simulated nanoseconds. */
#ifndef _LINUX_KTIME_H
#define _LINUX_KTIME_H

#include <linux/types.h>

typedef s64 ktime_t;

#ifdef __cplusplus
extern "C" {
#endif
ktime_t ktime_get(void);
#ifdef __cplusplus
}
#endif

static inline u64 ktime_get_ns(void) { return (u64)ktime_get(); }
static inline s64 ktime_to_ns(ktime_t kt) { return kt; }
static inline s64 ktime_to_us(ktime_t kt) { return kt / 1000; }
static inline ktime_t ktime_sub(ktime_t a, ktime_t b) { return a - b; }

#endif /* _LINUX_KTIME_H */
