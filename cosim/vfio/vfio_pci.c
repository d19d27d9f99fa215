// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-pci, the kernel's own VFIO driver for PCI devices (Linux 6.1 drivers/vfio/pci/vfio_pci.c),
 * as kernel C over the co-simulated kernel's API: it binds any device handed to it through
 * driver_override (an override-only "match all" ID table entry), refuses the devices on Linux's
 * denylist, and takes every operation from vfio_pci_core. Real-host comparisons bind a device to
 * this driver and, separately, to our variant driver (vfio_driver/), and diff the two.
 *
 * disable_vga is modelled as Linux builds it with CONFIG_VFIO_PCI_VGA=y: false by default, so a
 * VGA-class device gets the VGA region (docs/vga.md). enable_sriov (CONFIG_PCI_IOV=y) lets a PF
 * bound here create VFs through sriov_numvfs; their users then need the PF's VF token
 * (docs/sriov.md). Not modelled: the ids=, nointxmask and disable_idle_d3 parameters, and the
 * IGD special regions.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#define CONFIG_VFIO_PCI_VGA 1 /* as Debian's x86 config: the VGA region is built in */

#ifdef CONFIG_VFIO_PCI_VGA
static bool disable_vga;
module_param(disable_vga, bool, 0444);
MODULE_PARM_DESC(disable_vga, "Disable VGA resource access through vfio-pci");
#endif

#define CONFIG_PCI_IOV 1 /* as Debian's x86 config */

#ifdef CONFIG_PCI_IOV
static bool enable_sriov;
module_param(enable_sriov, bool, 0644);
MODULE_PARM_DESC(enable_sriov, "Enable support for SR-IOV configuration.  Enabling SR-IOV on a PF typically requires support of the userspace PF driver, enabling VFs without such support may result in non-functional VFs or PF.");
#endif

static bool disable_denylist;
module_param(disable_denylist, bool, 0444);
MODULE_PARM_DESC(disable_denylist, "Disable use of device denylist. Disabling the denylist allows binding to devices with known errata that may lead to exploitable stability or security issues when accessed by untrusted users.");

/* vfio_pci_dev_in_denylist: Intel QuickAssist devices whose errata make assignment unsafe */
static bool vfio_pci_dev_in_denylist(struct pci_dev *pdev)
{
	if (pdev->vendor != PCI_VENDOR_ID_INTEL)
		return false;
	switch (pdev->device) {
	case 0x19e2: /* PCI_DEVICE_ID_INTEL_QAT_C3XXX */
	case 0x19e3: /* PCI_DEVICE_ID_INTEL_QAT_C3XXX_VF */
	case 0x37c8: /* PCI_DEVICE_ID_INTEL_QAT_C62X */
	case 0x37c9: /* PCI_DEVICE_ID_INTEL_QAT_C62X_VF */
	case 0x0435: /* PCI_DEVICE_ID_INTEL_QAT_DH895XCC */
	case 0x0443: /* PCI_DEVICE_ID_INTEL_QAT_DH895XCC_VF */
		return true;
	default:
		return false;
	}
}

static bool vfio_pci_is_denylisted(struct pci_dev *pdev)
{
	if (!vfio_pci_dev_in_denylist(pdev))
		return false;
	if (disable_denylist) {
		pci_warn(pdev, "device denylist disabled - allowing device %04x:%04x.\n", pdev->vendor, pdev->device);
		return false;
	}
	pci_warn(pdev, "%04x:%04x exists in vfio-pci device denylist, driver probing disallowed.\n",
		 pdev->vendor, pdev->device);
	return true;
}

static int vfio_pci_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev = container_of(core_vdev, struct vfio_pci_core_device, vdev);
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static const struct vfio_device_ops vfio_pci_ops = {
	.name = "vfio-pci",
	.init = vfio_pci_core_init_dev,
	.release = vfio_pci_core_release_dev,
	.open_device = vfio_pci_open_device,
	.close_device = vfio_pci_core_close_device,
	.ioctl = vfio_pci_core_ioctl,
	.read = vfio_pci_core_read,
	.write = vfio_pci_core_write,
	.mmap = vfio_pci_core_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
	.device_feature = vfio_pci_core_ioctl_feature,
};

static int vfio_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vfio_pci_core_device *vdev;
	int ret;

	if (vfio_pci_is_denylisted(pdev))
		return -EINVAL;

	vdev = vfio_alloc_device(vfio_pci_core_device, vdev, &pdev->dev, &vfio_pci_ops);
	if (IS_ERR(vdev))
		return PTR_ERR(vdev);
	dev_set_drvdata(&pdev->dev, vdev);
	ret = vfio_pci_core_register_device(vdev);
	if (ret) {
		vfio_put_device(&vdev->vdev);
		return ret;
	}
	return 0;
}

static void vfio_pci_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	vfio_pci_core_unregister_device(vdev);
	vfio_put_device(&vdev->vdev);
}

static int vfio_pci_sriov_configure(struct pci_dev *pdev, int nr_virtfn)
{
	if (!enable_sriov)
		return -ENOENT;

	return vfio_pci_core_sriov_configure(dev_get_drvdata(&pdev->dev), nr_virtfn);
}

static const struct pci_device_id vfio_pci_table[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID) }, /* match all by default */
	{}
};
MODULE_DEVICE_TABLE(pci, vfio_pci_table);

static struct pci_driver vfio_pci_driver = {
	.name = "vfio-pci",
	.id_table = vfio_pci_table,
	.probe = vfio_pci_probe,
	.remove = vfio_pci_remove,
	.sriov_configure = vfio_pci_sriov_configure,
	.err_handler = &vfio_pci_core_err_handlers,
	.driver_managed_dma = true,
};
static int __init vfio_pci_init(void)
{
	bool is_disable_vga = true;

#ifdef CONFIG_VFIO_PCI_VGA
	is_disable_vga = disable_vga;
#endif
	vfio_pci_core_set_params(false, is_disable_vga, false);
	return pci_register_driver(&vfio_pci_driver);
}
module_init(vfio_pci_init);

static void __exit vfio_pci_cleanup(void)
{
	pci_unregister_driver(&vfio_pci_driver);
}
module_exit(vfio_pci_cleanup);

MODULE_LICENSE("GPL v2");
MODULE_DESCRIPTION("VFIO PCI - User Level meta-driver");
