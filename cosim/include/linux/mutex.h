/* Sleeping locks (include/linux/mutex.h). Kernel tasks of the co-simulated kernel are SystemC
 * threads: a task that finds the mutex held waits in simulated time until it is released. Taking
 * a mutex it already holds is the deadlock Linux would hang in; here it is reported as a BUG. */
#ifndef _LINUX_MUTEX_H
#define _LINUX_MUTEX_H

#include <linux/types.h>

struct mutex {
	void *owner;          /* the kernel task holding it, NULL when free */
	const char *name;
};

#define __MUTEX_INITIALIZER(lockname) { NULL, #lockname }
#define DEFINE_MUTEX(mutexname) struct mutex mutexname = __MUTEX_INITIALIZER(mutexname)
#define mutex_init(m) __mutex_init((m), #m)

#ifdef __cplusplus
extern "C" {
#endif
void __mutex_init(struct mutex *lock, const char *name);
void mutex_lock(struct mutex *lock);
int mutex_lock_interruptible(struct mutex *lock);
int mutex_trylock(struct mutex *lock);
void mutex_unlock(struct mutex *lock);
bool mutex_is_locked(struct mutex *lock);
void mutex_destroy(struct mutex *lock);
/* lockdep_assert_held(): a WARNING when the running task does not hold the lock. */
void cosim_assert_held(const void *owner_field, const char *name, const char *file, int line);
#ifdef __cplusplus
}
#endif

#define lockdep_assert_held(l) cosim_assert_held(&(l)->owner, (l)->name, __FILE__, __LINE__)

#endif /* _LINUX_MUTEX_H */
