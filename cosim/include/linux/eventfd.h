/* eventfd contexts (include/linux/eventfd.h, Linux 6.1): how a driver signals user space. A file
 * descriptor of the calling process becomes a context with eventfd_ctx_fdget(); eventfd_signal()
 * adds to its counter and wakes readers. */
#ifndef _LINUX_EVENTFD_H
#define _LINUX_EVENTFD_H

#include <linux/err.h>
#include <linux/types.h>

#define EFD_SEMAPHORE (1 << 0)
#define EFD_CLOEXEC 02000000
#define EFD_NONBLOCK 04000

struct eventfd_ctx;

#ifdef __cplusplus
extern "C" {
#endif
/* The context behind `fd`: ERR_PTR(-EBADF) for a closed fd, ERR_PTR(-EINVAL) for one that is not
 * an eventfd. Takes a reference. */
struct eventfd_ctx *eventfd_ctx_fdget(int fd);
void eventfd_ctx_put(struct eventfd_ctx *ctx);
/* Adds n to the counter (saturating before ULLONG_MAX, as Linux does); returns what was added. */
__u64 eventfd_signal(struct eventfd_ctx *ctx, __u64 n);
#ifdef __cplusplus
}
#endif

#endif /* _LINUX_EVENTFD_H */
