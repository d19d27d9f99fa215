// SPDX-License-Identifier: GPL-2.0
/*
 * pciesim_vfio_pci: the project's vfio-pci variant driver, in the pattern of upstream variant
 * drivers (drivers/vfio/pci/<vendor>/main.c): it embeds struct vfio_pci_core_device, takes
 * vfio_pci_core's ops for everything it does not add, and binds only through driver_override
 * (PCI_DRIVER_OVERRIDE_DEVICE_VFIO), so a device is handed to it deliberately.
 *
 * Devices: QEMU's edu (1234:11e8). The same source builds in the simulator against
 * cosim/include/linux and as a real module (host_kmod/).
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

struct pciesim_vfio_device {
	struct vfio_pci_core_device core_device;  /* first: vfio_alloc_device requires it */
};

static int pciesim_vfio_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev = container_of(core_vdev, struct vfio_pci_core_device, vdev);
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static const struct vfio_device_ops pciesim_vfio_ops = {
	.name = "pciesim-vfio-pci",
	.init = vfio_pci_core_init_dev,
	.release = vfio_pci_core_release_dev,
	.open_device = pciesim_vfio_open_device,
	.close_device = vfio_pci_core_close_device,
	.ioctl = vfio_pci_core_ioctl,
	.read = vfio_pci_core_read,
	.write = vfio_pci_core_write,
	.match = vfio_pci_core_match,
};

static int pciesim_vfio_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct pciesim_vfio_device *pvdev;
	int ret;

	pvdev = vfio_alloc_device(pciesim_vfio_device, core_device.vdev, &pdev->dev, &pciesim_vfio_ops);
	if (IS_ERR(pvdev))
		return PTR_ERR(pvdev);
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
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(0x1234, 0x11e8) },  /* QEMU edu */
	{}
};
MODULE_DEVICE_TABLE(pci, pciesim_vfio_table);

static struct pci_driver pciesim_vfio_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = pciesim_vfio_table,
	.probe = pciesim_vfio_probe,
	.remove = pciesim_vfio_remove,
	.driver_managed_dma = true,
};
module_pci_driver(pciesim_vfio_pci_driver);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("pciesim");
MODULE_DESCRIPTION("pciesim vfio-pci variant driver (edu)");
