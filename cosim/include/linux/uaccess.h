/* Copies between kernel and user memory (include/linux/uaccess.h). The simulated process's
 * addresses are host addresses of its memory (cosim/vfio/user_memory.h) and the buffers a user
 * passes to read, write and ioctl are the caller's own, so a copy is a memcpy. Both return the
 * number of bytes NOT copied (0 here), as Linux's do. */
#ifndef _LINUX_UACCESS_H
#define _LINUX_UACCESS_H

#include <linux/compiler.h>
#include <linux/string.h>
#include <linux/types.h>

static inline unsigned long copy_to_user(void __user *to, const void *from, unsigned long n)
{
	memcpy(to, from, n);
	return 0;
}

static inline unsigned long copy_from_user(void *to, const void __user *from, unsigned long n)
{
	memcpy(to, from, n);
	return 0;
}

#endif /* _LINUX_UACCESS_H */
