// SPDX-License-Identifier: GPL-2.0
/*
 * pcieport, the PCI Express port bus driver (Linux 6.1 drivers/pci/pcie/portdrv_pci.c), as
 * kernel C over the co-simulated kernel's API: it binds every PCIe root port, switch upstream and
 * downstream port (and root complex event collector), as the built-in driver does at boot, so a
 * port shows "pcieport" as its driver and counts as a driver-managed-DMA user of its group, as on a
 * real host. It enables the port and bus mastering. The AER service is cosim/pci/aer.c (module
 * "aer", loaded after this one: docs/aer.md); PME, hotplug, DPC and bandwidth notification are not
 * modelled.
 */
#include <linux/module.h>
#include <linux/pci.h>

static int pcie_portdrv_probe(struct pci_dev *dev, const struct pci_device_id *id)
{
	int type = pci_pcie_type(dev);
	int status;

	if (!pci_is_pcie(dev) ||
	    ((type != PCI_EXP_TYPE_ROOT_PORT) &&
	     (type != PCI_EXP_TYPE_UPSTREAM) &&
	     (type != PCI_EXP_TYPE_DOWNSTREAM) &&
	     (type != PCI_EXP_TYPE_RC_EC)))
		return -ENODEV;

	/* pcie_port_device_register: the port is enabled and may master (for its MSI) */
	status = pci_enable_device(dev);
	if (status)
		return status;
	pci_set_master(dev);
	return 0;
}

static void pcie_portdrv_remove(struct pci_dev *dev)
{
	pci_clear_master(dev);
	pci_disable_device(dev);
}

static const struct pci_device_id port_pci_ids[] = {
	/* handle any PCI-Express port */
	{ PCI_DEVICE_CLASS(((PCI_CLASS_BRIDGE_PCI << 8) | 0x00), ~0) },
	/* subtractive decode PCI-to-PCI bridge, class type is 060401h */
	{ PCI_DEVICE_CLASS(((PCI_CLASS_BRIDGE_PCI << 8) | 0x01), ~0) },
	/* handle any Root Complex Event Collector */
	{ PCI_DEVICE_CLASS(((PCI_CLASS_SYSTEM_RCEC << 8) | 0x00), ~0) },
	{ },
};

static struct pci_driver pcie_portdriver = {
	.name = "pcieport",
	.id_table = port_pci_ids,
	.probe = pcie_portdrv_probe,
	.remove = pcie_portdrv_remove,
	.driver_managed_dma = true,
};
module_pci_driver(pcie_portdriver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("PCI Express port bus driver");
