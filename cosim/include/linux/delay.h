/* Delays (include/linux/delay.h). Each advances the calling kernel task's simulated time;
 * msleep and usleep_range sleep (not allowed in atomic context), udelay/ndelay/mdelay busy-wait. */
#ifndef _LINUX_DELAY_H
#define _LINUX_DELAY_H

#include <linux/types.h>

#ifdef __cplusplus
extern "C" {
#endif
void msleep(unsigned int msecs);
unsigned long msleep_interruptible(unsigned int msecs);
void usleep_range(unsigned long min, unsigned long max);
void ndelay(unsigned long nsecs);
void udelay(unsigned long usecs);
void mdelay(unsigned long msecs);
#ifdef __cplusplus
}
#endif

static inline void ssleep(unsigned int seconds) { msleep(seconds * 1000); }
static inline void fsleep(unsigned long usecs) { usleep_range(usecs, usecs + usecs / 4); }

#endif /* _LINUX_DELAY_H */
