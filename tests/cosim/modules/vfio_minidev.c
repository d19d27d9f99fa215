// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_minidev: the smallest VFIO driver for QEMU's edu device, in the shape of upstream vfio
 * drivers (vfio_alloc_device, vfio_device_ops, vfio_register_group_dev), used to test the VFIO
 * core's device path: device info, config-space reads through the device file, open/close
 * accounting. The project's real driver (vfio_driver/) builds on vfio_pci_core instead.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/string.h>
#include <linux/vfio.h>

#define MINIDEV_CONFIG_INDEX 7           /* VFIO_PCI_CONFIG_REGION_INDEX */
#define MINIDEV_OFFSET_SHIFT 40          /* vfio-pci: region index << 40 */

struct minidev {
	struct vfio_device vdev;             /* first: vfio_alloc_device checks it */
	struct pci_dev *pdev;
	unsigned int opens, closes;
};

static int minidev_open(struct vfio_device *vdev)
{
	container_of(vdev, struct minidev, vdev)->opens++;
	return 0;
}

static void minidev_close(struct vfio_device *vdev)
{
	container_of(vdev, struct minidev, vdev)->closes++;
}

static long minidev_ioctl(struct vfio_device *vdev, unsigned int cmd, unsigned long arg)
{
	struct vfio_device_info info;
	unsigned long minsz = offsetof(struct vfio_device_info, num_irqs) + sizeof(info.num_irqs);

	if (cmd != VFIO_DEVICE_GET_INFO)
		return -ENOTTY;
	memcpy(&info, (void *)arg, minsz);
	if (info.argsz < minsz)
		return -EINVAL;
	info.flags = VFIO_DEVICE_FLAGS_PCI;
	info.num_regions = VFIO_PCI_NUM_REGIONS;
	info.num_irqs = VFIO_PCI_NUM_IRQS;
	memcpy((void *)arg, &info, minsz);
	return 0;
}

static ssize_t minidev_read(struct vfio_device *vdev, char __user *buf, size_t count, __kernel_loff_t *ppos)
{
	struct minidev *m = container_of(vdev, struct minidev, vdev);
	unsigned int index = *ppos >> MINIDEV_OFFSET_SHIFT;
	unsigned int pos = *ppos & ((1ULL << MINIDEV_OFFSET_SHIFT) - 1);
	size_t done;

	if (index != MINIDEV_CONFIG_INDEX || pos >= PCI_CFG_SPACE_SIZE)
		return -EINVAL;
	count = min_t(size_t, count, PCI_CFG_SPACE_SIZE - pos);
	for (done = 0; done < count; done++) {
		u8 b;
		pci_read_config_byte(m->pdev, pos + done, &b);
		buf[done] = b;
	}
	*ppos += done;
	return done;
}

static const struct vfio_device_ops minidev_ops = {
	.name = "vfio-minidev",
	.open_device = minidev_open,
	.close_device = minidev_close,
	.ioctl = minidev_ioctl,
	.read = minidev_read,
};

static int minidev_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct minidev *m = vfio_alloc_device(minidev, vdev, &pdev->dev, &minidev_ops);
	int ret;

	if (IS_ERR(m))
		return PTR_ERR(m);
	m->pdev = pdev;
	dev_set_drvdata(&pdev->dev, m);
	ret = vfio_register_group_dev(&m->vdev);
	if (ret) {
		vfio_put_device(&m->vdev);
		return ret;
	}
	return 0;
}

static void minidev_remove(struct pci_dev *pdev)
{
	struct minidev *m = dev_get_drvdata(&pdev->dev);

	vfio_unregister_group_dev(&m->vdev);
	vfio_put_device(&m->vdev);
}

static const struct pci_device_id minidev_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ 0, }
};
MODULE_DEVICE_TABLE(pci, minidev_ids);

static struct pci_driver minidev_driver = {
	.name = KBUILD_MODNAME,
	.id_table = minidev_ids,
	.probe = minidev_probe,
	.remove = minidev_remove,
	.driver_managed_dma = true,  /* VFIO drivers own the device's DMA through the group */
};
module_pci_driver(minidev_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("A minimal VFIO driver for the edu device (VFIO core tests)");
