/* Notifier chains (include/linux/notifier.h) and the driver core's bus notifiers
 * (include/linux/device/bus.h, drivers/base/bus.c, Linux 6.1): a driver registers a
 * notifier_block on a bus and hears of devices added to it and of drivers bound to them. */
#ifndef _LINUX_NOTIFIER_H
#define _LINUX_NOTIFIER_H

#include <linux/types.h>

struct bus_type;
struct device;

struct notifier_block {
	int (*notifier_call)(struct notifier_block *nb, unsigned long action, void *data);
	struct notifier_block *next;
	int priority;
};

#define NOTIFY_DONE 0x0000
#define NOTIFY_OK 0x0001

/* include/linux/device/bus.h: what a bus notifier is told (data is the struct device *) */
#define BUS_NOTIFY_ADD_DEVICE 0x00000001     /* device added, before a driver may bind */
#define BUS_NOTIFY_DEL_DEVICE 0x00000002     /* device about to be removed */
#define BUS_NOTIFY_REMOVED_DEVICE 0x00000003 /* device removed */
#define BUS_NOTIFY_BIND_DRIVER 0x00000004    /* driver about to be bound */
#define BUS_NOTIFY_BOUND_DRIVER 0x00000005   /* driver bound to device */

#ifdef __cplusplus
extern "C" {
#endif
/* 0; a block already registered on the bus is -EEXIST (blocking_notifier_chain_register). */
int bus_register_notifier(struct bus_type *bus, struct notifier_block *nb);
/* 0, or -ENOENT when the block is not registered. */
int bus_unregister_notifier(struct bus_type *bus, struct notifier_block *nb);
/* The co-simulated driver core's side (bus_notify, drivers/base/core.c): calls every block
 * registered on `bus`, in registration order, with `action` and `dev`. */
void cosim_bus_notify(struct bus_type *bus, unsigned long action, struct device *dev);
#ifdef __cplusplus
}
#endif

#endif /* _LINUX_NOTIFIER_H */
