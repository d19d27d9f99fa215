/* Everyday kernel helpers (include/linux/kernel.h, minmax.h, container_of.h, math.h, bug.h). */
#ifndef _LINUX_KERNEL_H
#define _LINUX_KERNEL_H

#include <linux/bits.h>
#include <linux/byteorder/generic.h>
#include <linux/compiler.h>
#include <linux/err.h>
#include <linux/printk.h>
#include <linux/types.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define ARRAY_SIZE(arr) (sizeof(arr) / sizeof((arr)[0]))
/* include/linux/stddef.h: the offset of the byte after MEMBER */
#define offsetofend(TYPE, MEMBER) (offsetof(TYPE, MEMBER) + sizeof(((TYPE *)0)->MEMBER))

#define min(x, y) ({ __typeof__(x) _min1 = (x); __typeof__(y) _min2 = (y); _min1 < _min2 ? _min1 : _min2; })
#define max(x, y) ({ __typeof__(x) _max1 = (x); __typeof__(y) _max2 = (y); _max1 > _max2 ? _max1 : _max2; })
#define min_t(type, x, y) ({ type _mt1 = (x); type _mt2 = (y); _mt1 < _mt2 ? _mt1 : _mt2; })
#define max_t(type, x, y) ({ type _xt1 = (x); type _xt2 = (y); _xt1 > _xt2 ? _xt1 : _xt2; })
#define clamp(val, lo, hi) min(max(val, lo), hi)

#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define ALIGN(x, a) (((x) + ((__typeof__(x))(a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define round_up(x, y) ((((x) - 1) | ((__typeof__(x))((y) - 1))) + 1)
#define round_down(x, y) ((x) & ~((__typeof__(x))((y) - 1)))
#define upper_32_bits(n) ((u32)(((n) >> 16) >> 16))
#define lower_32_bits(n) ((u32)((n) & 0xffffffff))
#define is_power_of_2(n) ((n) != 0 && (((n) & ((n) - 1)) == 0))

#ifdef __cplusplus
extern "C" {
#endif

/* BUG(): logs "kernel BUG at FILE:LINE!" and ends the running kernel task (the simulation reports it). */
void cosim_bug(const char *file, int line) __attribute__((__noreturn__));
/* WARN(): logs "WARNING: at FILE:LINE" with the message; execution goes on. */
void cosim_warn(const char *file, int line, const char *fmt, ...) __printf(3, 4);
/* might_sleep(): a sleeping call from atomic context (spinlock held, hard IRQ) is logged as Linux does. */
void cosim_might_sleep(const char *file, int line);
/* snprintf and friends with the kernel's %p extensions (%pa, %pad, %pR, %pr, %pS-less). */
int cosim_vsnprintf(char *buf, size_t size, const char *fmt, __builtin_va_list args);
int cosim_snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
int cosim_scnprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
int kstrtoint(const char *s, unsigned int base, int *res);
int kstrtouint(const char *s, unsigned int base, unsigned int *res);
int kstrtoull(const char *s, unsigned int base, unsigned long long *res);
int kstrtobool(const char *s, bool *res);

#ifdef __cplusplus
}
#endif

#ifndef __cplusplus
/* Kernel C gets the kernel's formatter under the kernel's names. */
#define vsnprintf cosim_vsnprintf
#define snprintf cosim_snprintf
#define scnprintf cosim_scnprintf
#endif

#define BUG() cosim_bug(__FILE__, __LINE__)
#define BUG_ON(cond) do { if (unlikely(cond)) BUG(); } while (0)
#define WARN(cond, fmt, ...) ({ int __ret_warn = !!(cond); if (unlikely(__ret_warn)) cosim_warn(__FILE__, __LINE__, fmt, ##__VA_ARGS__); unlikely(__ret_warn); })
#define WARN_ON(cond) ({ int __ret_warn_on = !!(cond); if (unlikely(__ret_warn_on)) cosim_warn(__FILE__, __LINE__, "%s", #cond); unlikely(__ret_warn_on); })
#define WARN_ON_ONCE(cond) ({ static bool __warned; int __ret_warn_once = !!(cond); if (unlikely(__ret_warn_once && !__warned)) { __warned = true; cosim_warn(__FILE__, __LINE__, "%s", #cond); } unlikely(__ret_warn_once); })
#define WARN_ONCE(cond, fmt, ...) ({ static bool __warned_o; int __ret_w = !!(cond); if (unlikely(__ret_w && !__warned_o)) { __warned_o = true; cosim_warn(__FILE__, __LINE__, fmt, ##__VA_ARGS__); } unlikely(__ret_w); })
#define might_sleep() cosim_might_sleep(__FILE__, __LINE__)

#endif /* _LINUX_KERNEL_H */
