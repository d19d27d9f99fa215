/* The tick counter (include/linux/jiffies.h). HZ is 250 as in Debian's amd64 kernels
 * (CONFIG_HZ_250). jiffies follows simulated time and starts at Linux's INITIAL_JIFFIES, five
 * minutes before the wrap, so code that compares ticks without time_after() fails here as it
 * would on a real machine. */
#ifndef _LINUX_JIFFIES_H
#define _LINUX_JIFFIES_H

#include <linux/types.h>

#define HZ 250
#define INITIAL_JIFFIES ((unsigned long)(unsigned int)(-300 * HZ))

#ifdef __cplusplus
extern "C" {
#endif
unsigned long cosim_jiffies(void);
unsigned long msecs_to_jiffies(unsigned int m);
unsigned long usecs_to_jiffies(unsigned int u);
unsigned int jiffies_to_msecs(unsigned long j);
unsigned int jiffies_to_usecs(unsigned long j);
#ifdef __cplusplus
}
#endif

#define jiffies cosim_jiffies()

#define time_after(a, b) ((long)((b) - (a)) < 0)
#define time_before(a, b) time_after(b, a)
#define time_after_eq(a, b) ((long)((a) - (b)) >= 0)
#define time_before_eq(a, b) time_after_eq(b, a)
#define time_is_before_jiffies(a) time_after(jiffies, a)
#define time_is_after_jiffies(a) time_before(jiffies, a)

#endif /* _LINUX_JIFFIES_H */
