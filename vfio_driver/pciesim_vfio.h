/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pciesim_vfio_pci: what the module's files share. variant_main.c registers the driver and its
 * vfio_device_ops and hands each call to the device's personality: edu.c (QEMU's edu) or gpu.c
 * (the pciesim GPU). docs/vfio.md.
 */
#ifndef PCIESIM_VFIO_H
#define PCIESIM_VFIO_H

#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/types.h>
#include <linux/vfio_pci_core.h>

/* Module parameter (variant_main.c): scrub device state at the last close and after resets. */
extern bool pciesim_scrub;

enum pciesim_personality {
	PCIESIM_EDU,
	PCIESIM_GPU,
};

/* The GPU personality's state (gpu.c). */
struct pciesim_gpu_state {
	u64 vram_size;          /* BAR0 VRAM_SIZE, read at probe */
	u64 bar1_size;          /* pci_resource_len(pdev, 1) */
	u64 bar1_mappable;      /* bytes of BAR1 the sparse mmap capability offers */
	u32 contexts;           /* BAR0 CAPS[7:0] */
	u32 invalidations;      /* trapped INVALIDATE writes passed to the device */
	u32 refused;            /* trapped writes refused with -EINVAL */
	void __iomem *regs;     /* BAR0 up to the copy engine, mapped while the device is open */
};

struct pciesim_vfio_device {
	struct vfio_pci_core_device core_device;  /* first: vfio_alloc_device requires it */
	enum pciesim_personality personality;
	u32 scrubs;
	int last_scrub;
	struct pciesim_gpu_state gpu;
};

static inline struct pciesim_vfio_device *to_pciesim(struct vfio_pci_core_device *vdev)
{
	return container_of(vdev, struct pciesim_vfio_device, core_device);
}

/* The read of a read-only info region whose content is `info` (`size` bytes): as vfio-pci's IGD
 * OpRegion, a write or a read past the end is -EINVAL and a read running past the end is cut. */
ssize_t pciesim_info_read(const void *info, size_t size, char __user *buf, size_t count, loff_t *ppos,
			  bool iswrite);
/* The regops release of such a region: its content lives in struct pciesim_vfio_device. */
void pciesim_info_release(struct vfio_pci_core_device *vdev, struct vfio_pci_region *region);

/* Polls until (register & mask) == want, sleeping between reads: 0, or -ETIMEDOUT after timeout_ms. */
int pciesim_wait_reg(void __iomem *reg, u32 mask, u32 want, unsigned int timeout_ms);

/* edu.c */
int pciesim_edu_open(struct pciesim_vfio_device *pvdev);
int pciesim_edu_scrub(struct pciesim_vfio_device *pvdev);

/* gpu.c */
int pciesim_gpu_probe(struct pciesim_vfio_device *pvdev);
int pciesim_gpu_open(struct pciesim_vfio_device *pvdev);
/* The last close: the scrub, then the registers' mapping goes. */
void pciesim_gpu_close(struct pciesim_vfio_device *pvdev);
int pciesim_gpu_scrub(struct pciesim_vfio_device *pvdev, bool reset_done);
/* 1 when the GPU personality answered the ioctl (its result in *ret), 0 to pass it on. */
int pciesim_gpu_ioctl(struct pciesim_vfio_device *pvdev, unsigned int cmd, unsigned long arg, long *ret);
ssize_t pciesim_gpu_write(struct pciesim_vfio_device *pvdev, const char __user *buf, size_t count,
			  loff_t *ppos);
int pciesim_gpu_mmap(struct pciesim_vfio_device *pvdev, struct vm_area_struct *vma);

#endif /* PCIESIM_VFIO_H */
