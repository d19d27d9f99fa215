/* vfio_pci_core: the library vfio-pci and its variant drivers build on (include/linux/
 * vfio_pci_core.h, drivers/vfio/pci/vfio_pci_core.c, Linux 6.1). A variant driver embeds struct
 * vfio_pci_core_device, points its vfio_device_ops at these functions (overriding what it adds)
 * and registers with vfio_pci_core_register_device. */
#ifndef _LINUX_VFIO_PCI_CORE_H
#define _LINUX_VFIO_PCI_CORE_H

#include <linux/pci.h>
#include <linux/types.h>
#include <linux/vfio.h>

#define VFIO_PCI_OFFSET_SHIFT 40
#define VFIO_PCI_OFFSET_TO_INDEX(off) ((off) >> VFIO_PCI_OFFSET_SHIFT)
#define VFIO_PCI_INDEX_TO_OFFSET(index) ((u64)(index) << VFIO_PCI_OFFSET_SHIFT)
#define VFIO_PCI_OFFSET_MASK (((u64)(1) << VFIO_PCI_OFFSET_SHIFT) - 1)

struct vfio_pci_core_device;
struct vfio_pci_region;

/* A device-specific region's operations (vfio_pci_core_register_dev_region). rw serves reads and
 * writes of the region at offset (index << 40) and advances *ppos (ppos is a loff_t); release
 * runs when the device is disabled (last close); mmap and add_capability may be NULL. */
struct vfio_pci_regops {
	ssize_t (*rw)(struct vfio_pci_core_device *vdev, char __user *buf,
		      size_t count, __kernel_loff_t *ppos, bool iswrite);
	void	(*release)(struct vfio_pci_core_device *vdev,
			   struct vfio_pci_region *region);
	int	(*mmap)(struct vfio_pci_core_device *vdev,
			struct vfio_pci_region *region,
			struct vm_area_struct *vma);
	int	(*add_capability)(struct vfio_pci_core_device *vdev,
				  struct vfio_pci_region *region,
				  struct vfio_info_cap *caps);
};

struct vfio_pci_region {
	u32				type;
	u32				subtype;
	const struct vfio_pci_regops	*ops;
	void				*data;
	size_t				size;
	u32				flags;
};

struct vfio_pci_core_device {
	struct vfio_device vdev;   /* first member */
	struct pci_dev *pdev;
	bool reset_works;
	bool nointx;
	int num_regions;                 /* device-specific regions: index VFIO_PCI_NUM_REGIONS + i */
	struct vfio_pci_region *region;
	void *cosim;               /* the co-simulated core's state for this device */
};

#ifdef __cplusplus
extern "C" {
#endif
/* Adds a device-specific region (index VFIO_PCI_NUM_REGIONS + n) with its type capability:
 * 0 or -ENOMEM. The regions are released when the device is disabled, so drivers register them
 * in open_device, after vfio_pci_core_enable. */
int vfio_pci_core_register_dev_region(struct vfio_pci_core_device *vdev,
				      unsigned int type, unsigned int subtype,
				      const struct vfio_pci_regops *ops,
				      size_t size, u32 flags, void *data);
int vfio_pci_core_init_dev(struct vfio_device *core_vdev);
void vfio_pci_core_release_dev(struct vfio_device *core_vdev);
int vfio_pci_core_register_device(struct vfio_pci_core_device *vdev);
void vfio_pci_core_unregister_device(struct vfio_pci_core_device *vdev);
int vfio_pci_core_enable(struct vfio_pci_core_device *vdev);
void vfio_pci_core_disable(struct vfio_pci_core_device *vdev);
void vfio_pci_core_finish_enable(struct vfio_pci_core_device *vdev);
void vfio_pci_core_close_device(struct vfio_device *core_vdev);
long vfio_pci_core_ioctl(struct vfio_device *core_vdev, unsigned int cmd, unsigned long arg);
ssize_t vfio_pci_core_read(struct vfio_device *core_vdev, char __user *buf, size_t count, __kernel_loff_t *ppos);
ssize_t vfio_pci_core_write(struct vfio_device *core_vdev, const char __user *buf, size_t count, __kernel_loff_t *ppos);
int vfio_pci_core_match(struct vfio_device *core_vdev, char *buf);
void vfio_pci_core_request(struct vfio_device *core_vdev, unsigned int count);
int vfio_pci_core_mmap(struct vfio_device *core_vdev, struct vm_area_struct *vma);
#ifdef __cplusplus
}
#endif

#endif /* _LINUX_VFIO_PCI_CORE_H */
