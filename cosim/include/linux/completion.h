/* Completions (include/linux/completion.h): a count of complete() calls that waiters consume. */
#ifndef _LINUX_COMPLETION_H
#define _LINUX_COMPLETION_H

#include <linux/types.h>

struct completion {
	unsigned int done;    /* UINT_MAX after complete_all() */
	unsigned int waiters;
};

#define COMPLETION_INITIALIZER(work) { 0, 0 }
#define DECLARE_COMPLETION(work) struct completion work = COMPLETION_INITIALIZER(work)

static inline void init_completion(struct completion *x) { x->done = 0; x->waiters = 0; }
static inline void reinit_completion(struct completion *x) { x->done = 0; }

#ifdef __cplusplus
extern "C" {
#endif
void complete(struct completion *x);
void complete_all(struct completion *x);
void wait_for_completion(struct completion *x);
int wait_for_completion_interruptible(struct completion *x);
/* Jiffies left (at least 1) when completed in time, 0 on timeout. */
unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout);
bool try_wait_for_completion(struct completion *x);
bool completion_done(struct completion *x);
#ifdef __cplusplus
}
#endif

#endif /* _LINUX_COMPLETION_H */
