// SPDX-License-Identifier: GPL-2.0
/*
 * pciesim_vfio_pci: the project's vfio-pci variant driver, in the pattern of upstream variant
 * drivers (drivers/vfio/pci/<vendor>/main.c): it embeds struct vfio_pci_core_device, takes
 * vfio_pci_core's ops for everything it does not add, and binds only through driver_override
 * (PCI_DRIVER_OVERRIDE_DEVICE_VFIO), so a device is handed to it deliberately.
 *
 * Devices, each with a personality in its own file (docs/vfio.md):
 *   - QEMU's edu (1234:11e8), edu.c: an info region and a scrub of edu's registers and buffer;
 *   - the pciesim GPU (1234:9e10), gpu.c: BAR0 and BAR1 with sparse mmap capabilities, the GMMU
 *     invalidation window trapped, an info region, and a scrub of VRAM and the GMMU TLB.
 * The same sources build in the simulator against cosim/include/linux and as a real module
 * (host_kmod/).
 */
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "pciesim_vfio.h"

#define PCIESIM_EDU_DEVICE_ID 0x11e8
#define PCIESIM_GPU_DEVICE_ID 0x9e10

bool pciesim_scrub = true;
module_param_named(scrub, pciesim_scrub, bool, 0444);
MODULE_PARM_DESC(scrub, "Scrub device state (edu: registers and DMA buffer; GPU: VRAM and GMMU TLB) at the last close and after a reset (default: Y)");

ssize_t pciesim_info_read(const void *info, size_t size, char __user *buf, size_t count, loff_t *ppos,
			  bool iswrite)
{
	loff_t pos = *ppos & VFIO_PCI_OFFSET_MASK;

	if (iswrite || pos >= size)
		return -EINVAL;
	count = min_t(size_t, count, size - pos);
	if (copy_to_user(buf, (const u8 *)info + pos, count))
		return -EFAULT;
	*ppos += count;
	return count;
}

void pciesim_info_release(struct vfio_pci_core_device *vdev, struct vfio_pci_region *region)
{
}

int pciesim_wait_reg(void __iomem *reg, u32 mask, u32 want, unsigned int timeout_ms)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(timeout_ms);

	for (;;) {
		if ((ioread32(reg) & mask) == want)
			return 0;
		if (time_after(jiffies, deadline))
			return (ioread32(reg) & mask) == want ? 0 : -ETIMEDOUT;
		usleep_range(5000, 10000);
	}
}

static int pciesim_vfio_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev = container_of(core_vdev, struct vfio_pci_core_device, vdev);
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;
	if (to_pciesim(vdev)->personality == PCIESIM_GPU)
		ret = pciesim_gpu_open(to_pciesim(vdev));
	else
		ret = pciesim_edu_open(to_pciesim(vdev));
	if (ret) {
		vfio_pci_core_disable(vdev);
		return ret;
	}
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static void pciesim_vfio_close_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev = container_of(core_vdev, struct vfio_pci_core_device, vdev);

	/* before the core disables the device: its memory decoding is still on */
	if (to_pciesim(vdev)->personality == PCIESIM_GPU)
		pciesim_gpu_close(to_pciesim(vdev));
	else
		pciesim_edu_scrub(to_pciesim(vdev));
	vfio_pci_core_close_device(core_vdev);
}

static long pciesim_vfio_ioctl(struct vfio_device *core_vdev, unsigned int cmd, unsigned long arg)
{
	struct vfio_pci_core_device *vdev = container_of(core_vdev, struct vfio_pci_core_device, vdev);
	struct pciesim_vfio_device *pvdev = to_pciesim(vdev);
	long ret;

	if (pvdev->personality == PCIESIM_GPU && pciesim_gpu_ioctl(pvdev, cmd, arg, &ret))
		return ret;
	ret = vfio_pci_core_ioctl(core_vdev, cmd, arg);
	/* edu and the GPU's VRAM keep their state over a reset: the user gets a clean device, or the
	 * scrub's error */
	if (!ret && (cmd == VFIO_DEVICE_RESET || cmd == VFIO_DEVICE_PCI_HOT_RESET))
		ret = pvdev->personality == PCIESIM_GPU ? pciesim_gpu_scrub(pvdev, true) : pciesim_edu_scrub(pvdev);
	return ret;
}

static ssize_t pciesim_vfio_write(struct vfio_device *core_vdev, const char __user *buf, size_t count,
				  loff_t *ppos)
{
	struct vfio_pci_core_device *vdev = container_of(core_vdev, struct vfio_pci_core_device, vdev);

	if (to_pciesim(vdev)->personality == PCIESIM_GPU)
		return pciesim_gpu_write(to_pciesim(vdev), buf, count, ppos);
	return vfio_pci_core_write(core_vdev, buf, count, ppos);
}

static int pciesim_vfio_mmap(struct vfio_device *core_vdev, struct vm_area_struct *vma)
{
	struct vfio_pci_core_device *vdev = container_of(core_vdev, struct vfio_pci_core_device, vdev);

	if (to_pciesim(vdev)->personality == PCIESIM_GPU)
		return pciesim_gpu_mmap(to_pciesim(vdev), vma);
	return vfio_pci_core_mmap(core_vdev, vma);
}

static const struct vfio_device_ops pciesim_vfio_ops = {
	.name = "pciesim-vfio-pci",
	.init = vfio_pci_core_init_dev,
	.release = vfio_pci_core_release_dev,
	.open_device = pciesim_vfio_open_device,
	.close_device = pciesim_vfio_close_device,
	.ioctl = pciesim_vfio_ioctl,
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = vfio_pci_core_read,
	.write = pciesim_vfio_write,
	.mmap = pciesim_vfio_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
};

static int pciesim_vfio_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct pciesim_vfio_device *pvdev;
	int ret;

	pvdev = vfio_alloc_device(pciesim_vfio_device, core_device.vdev, &pdev->dev, &pciesim_vfio_ops);
	if (IS_ERR(pvdev))
		return PTR_ERR(pvdev);
	pvdev->personality = pdev->device == PCIESIM_GPU_DEVICE_ID ? PCIESIM_GPU : PCIESIM_EDU;
	if (pvdev->personality == PCIESIM_GPU) {
		ret = pciesim_gpu_probe(pvdev);
		if (ret) {
			vfio_put_device(&pvdev->core_device.vdev);
			return ret;
		}
	}
	dev_set_drvdata(&pdev->dev, &pvdev->core_device);
	ret = vfio_pci_core_register_device(&pvdev->core_device);
	if (ret) {
		vfio_put_device(&pvdev->core_device.vdev);
		return ret;
	}
	return 0;
}

static void pciesim_vfio_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *core_device = dev_get_drvdata(&pdev->dev);

	vfio_pci_core_unregister_device(core_device);
	vfio_put_device(&core_device->vdev);
}

static const struct pci_device_id pciesim_vfio_table[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(0x1234, PCIESIM_EDU_DEVICE_ID) },  /* QEMU edu */
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(0x1234, PCIESIM_GPU_DEVICE_ID) },  /* pciesim GPU */
	{}
};
MODULE_DEVICE_TABLE(pci, pciesim_vfio_table);

static struct pci_driver pciesim_vfio_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = pciesim_vfio_table,
	.probe = pciesim_vfio_probe,
	.remove = pciesim_vfio_remove,
	.err_handler = &vfio_pci_core_err_handlers,  /* AER: the ERR eventfd (6.1 vfio_pci_core) */
	.driver_managed_dma = true,
};
module_pci_driver(pciesim_vfio_pci_driver);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("pciesim");
MODULE_DESCRIPTION("pciesim vfio-pci variant driver (edu, pciesim GPU)");
