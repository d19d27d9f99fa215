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
struct vfio_pci_vf_token;  /* vfio_pci_sriov.cpp: lock-free here (one kernel task at a time) */

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
	bool has_vga;                    /* the VGA region (index 8) is offered: docs/vga.md */
	int num_regions;                 /* device-specific regions: index VFIO_PCI_NUM_REGIONS + i */
	struct vfio_pci_region *region;
	/* SR-IOV (6.1): a VF whose PF vfio-pci drives and created it; a PF's VF token (its UUID, and
	 * how many VF device fds are open); whether this PF is on vfio_pci_sriov_pfs. */
	struct vfio_pci_core_device *sriov_pf_core_dev;
	struct vfio_pci_vf_token *vf_token;
	bool sriov_pfs_listed;     /* Linux: !list_empty(&sriov_pfs_item) */
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
/* "DDDD:BB:DD.F" optionally followed by " vf_token=<uuid>": 1 match, 0 no match, or the errno
 * of a bad option or a VF token that fails the rules (vfio_pci_sriov.cpp). */
int vfio_pci_core_match(struct vfio_device *core_vdev, char *buf);
/* A PF's sriov_configure (vfio-pci with enable_sriov): nr_virtfn VFs, or 0 to remove them. */
int vfio_pci_core_sriov_configure(struct vfio_pci_core_device *vdev, int nr_virtfn);
/* vfio_device_ops.device_feature: VFIO_DEVICE_FEATURE_PCI_VF_TOKEN (SET only, on a PF). */
int vfio_pci_core_ioctl_feature(struct vfio_device *device, u32 flags, void __user *arg, size_t argsz);
void vfio_pci_core_request(struct vfio_device *core_vdev, unsigned int count);
/* The AER recovery callbacks vfio-pci and variant drivers put in pci_driver.err_handler: error_detected
 * signals the ERR eventfd (VFIO_PCI_ERR_IRQ_INDEX) and returns PCI_ERS_RESULT_CAN_RECOVER. */
extern const struct pci_error_handlers vfio_pci_core_err_handlers;
int vfio_pci_core_mmap(struct vfio_device *core_vdev, struct vm_area_struct *vma);
/* The core's module parameters, as vfio-pci's module init hands them over (only disable_vga is
 * modelled; the others are accepted and ignored). */
void vfio_pci_core_set_params(bool is_nointxmask, bool is_disable_vga, bool is_disable_idle_d3);
#ifdef __cplusplus
}
#endif

#endif /* _LINUX_VFIO_PCI_CORE_H */
