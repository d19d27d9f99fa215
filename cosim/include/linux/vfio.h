/* The VFIO core's driver API (include/linux/vfio.h, Linux 6.1): a driver embeds struct
 * vfio_device in its own device structure (vfio_alloc_device), fills struct vfio_device_ops, and
 * registers the device; user space then reaches the ops through /dev/vfio/N and the device file.
 * The user ABI (struct vfio_device_info, the ioctls) is Linux's own <uapi/linux/vfio.h>. */
#ifndef _LINUX_VFIO_H
#define _LINUX_VFIO_H

#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/types.h>
#include <uapi/linux/vfio.h>

struct vfio_device;
struct vm_area_struct;

struct vfio_device_ops {
	const char *name;
	int (*init)(struct vfio_device *vdev);
	void (*release)(struct vfio_device *vdev);
	int (*open_device)(struct vfio_device *vdev);
	void (*close_device)(struct vfio_device *vdev);
	ssize_t (*read)(struct vfio_device *vdev, char __user *buf, size_t count, __kernel_loff_t *ppos);
	ssize_t (*write)(struct vfio_device *vdev, const char __user *buf, size_t count, __kernel_loff_t *size);
	long (*ioctl)(struct vfio_device *vdev, unsigned int cmd, unsigned long arg);
	int (*mmap)(struct vfio_device *vdev, struct vm_area_struct *vma);
	void (*request)(struct vfio_device *vdev, unsigned int count);
	int (*match)(struct vfio_device *vdev, char *buf);
	int (*device_feature)(struct vfio_device *device, u32 flags, void __user *arg, size_t argsz);
};

struct vfio_device {
	struct device *dev;
	const struct vfio_device_ops *ops;
	unsigned int open_count;
	void *cosim;  /* the co-simulated kernel's record */
};

#ifdef __cplusplus
extern "C" {
#endif
struct vfio_device *_vfio_alloc_device(size_t size, struct device *dev, const struct vfio_device_ops *ops);
void vfio_put_device(struct vfio_device *device);
int vfio_register_group_dev(struct vfio_device *device);
void vfio_unregister_group_dev(struct vfio_device *device);
#ifdef __cplusplus
}
#endif

/* Capability chains of the info ioctls (vfio_main.c): a driver adds capabilities to `buf`, whose
 * `next` offsets count from the chain's start; vfio_info_cap_shift moves them by the size of the
 * info struct the chain is copied behind. */
struct vfio_info_cap {
	struct vfio_info_cap_header *buf;
	size_t size;
};
#ifdef __cplusplus
extern "C" {
#endif
/* Appends a zeroed capability of `size` bytes with its header set: the header or ERR_PTR(-ENOMEM). */
struct vfio_info_cap_header *vfio_info_cap_add(struct vfio_info_cap *caps, size_t size, u16 id, u16 version);
void vfio_info_cap_shift(struct vfio_info_cap *caps, size_t offset);
/* Appends a copy of `cap` (`size` bytes, header first): 0 or -ENOMEM. */
int vfio_info_add_capability(struct vfio_info_cap *caps, struct vfio_info_cap_header *cap, size_t size);
#ifdef __cplusplus
}
#endif

/* The vfio_device must be the first member (Linux checks it with BUILD_BUG_ON_ZERO). */
#define vfio_alloc_device(dev_struct, member, dev, ops) \
	container_of(_vfio_alloc_device(sizeof(struct dev_struct) + \
					0 * sizeof(char[1 - 2 * !!offsetof(struct dev_struct, member)]), \
					dev, ops), \
		     struct dev_struct, member)

#endif /* _LINUX_VFIO_H */
