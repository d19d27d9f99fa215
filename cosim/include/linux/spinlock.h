/* Spinning locks (include/linux/spinlock.h). spin_lock_irqsave and spin_lock_irq also keep the
 * co-simulated kernel's interrupt handlers from running until the matching unlock, as disabling
 * local interrupts does. Sleeping (msleep, mutex_lock, wait_for_completion) with a spinlock held
 * is reported as Linux's "BUG: scheduling while atomic". */
#ifndef _LINUX_SPINLOCK_H
#define _LINUX_SPINLOCK_H

#include <linux/types.h>

typedef struct spinlock {
	void *owner;
	const char *name;
} spinlock_t;

#define __SPIN_LOCK_UNLOCKED(lockname) { NULL, #lockname }
#define DEFINE_SPINLOCK(x) spinlock_t x = __SPIN_LOCK_UNLOCKED(x)
#define spin_lock_init(l) __spin_lock_init((l), #l)

#ifdef __cplusplus
extern "C" {
#endif
void __spin_lock_init(spinlock_t *lock, const char *name);
void spin_lock(spinlock_t *lock);
void spin_unlock(spinlock_t *lock);
int spin_trylock(spinlock_t *lock);
void spin_lock_irq(spinlock_t *lock);
void spin_unlock_irq(spinlock_t *lock);
unsigned long cosim_spin_lock_irqsave(spinlock_t *lock);
void spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);
unsigned long cosim_local_irq_save(void);
void local_irq_restore(unsigned long flags);
void local_irq_disable(void);
void local_irq_enable(void);
bool irqs_disabled(void);
#ifdef __cplusplus
}
#endif

#define spin_lock_irqsave(lock, flags) do { (flags) = cosim_spin_lock_irqsave(lock); } while (0)
#define local_irq_save(flags) do { (flags) = cosim_local_irq_save(); } while (0)
#define spin_lock_bh spin_lock
#define spin_unlock_bh spin_unlock

#endif /* _LINUX_SPINLOCK_H */
