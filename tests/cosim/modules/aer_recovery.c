// SPDX-License-Identifier: GPL-2.0
/*
 * aer_recovery: a driver for QEMU's edu device (1234:11e8) that takes part in PCIe error
 * recovery, to test the AER service's pcie_do_recovery (cosim/pci/aer.c). Probe enables the
 * device and its error reporting (pci_enable_pcie_error_reporting, as 6.1 drivers do); each
 * pci_error_handlers callback prints one line naming itself. error_detected votes
 * PCI_ERS_RESULT_NEED_RESET when need_reset=1 (so slot_reset runs), else CAN_RECOVER (so
 * mmio_enabled runs); every callback after it votes RECOVERED.
 */
#include <linux/aer.h>
#include <linux/module.h>
#include <linux/pci.h>

static int need_reset;
module_param(need_reset, int, 0444);
MODULE_PARM_DESC(need_reset, "error_detected votes NEED_RESET instead of CAN_RECOVER");

static pci_ers_result_t aer_recovery_error_detected(struct pci_dev *pdev, pci_channel_state_t state)
{
	pci_info(pdev, "error_detected: state %s\n",
		 state == pci_channel_io_frozen ? "frozen" : state == pci_channel_io_normal ? "normal" : "failed");
	return need_reset ? PCI_ERS_RESULT_NEED_RESET : PCI_ERS_RESULT_CAN_RECOVER;
}

static pci_ers_result_t aer_recovery_mmio_enabled(struct pci_dev *pdev)
{
	pci_info(pdev, "mmio_enabled\n");
	return PCI_ERS_RESULT_RECOVERED;
}

static pci_ers_result_t aer_recovery_slot_reset(struct pci_dev *pdev)
{
	pci_info(pdev, "slot_reset\n");
	return PCI_ERS_RESULT_RECOVERED;
}

static void aer_recovery_resume(struct pci_dev *pdev)
{
	pci_info(pdev, "resume\n");
}

static const struct pci_error_handlers aer_recovery_err_handlers = {
	.error_detected = aer_recovery_error_detected,
	.mmio_enabled = aer_recovery_mmio_enabled,
	.slot_reset = aer_recovery_slot_reset,
	.resume = aer_recovery_resume,
};

static int aer_recovery_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int ret = pci_enable_device(pdev);

	if (ret)
		return ret;
	ret = pci_enable_pcie_error_reporting(pdev);
	pci_info(pdev, "error reporting %s (%d)\n", ret ? "unavailable" : "enabled", ret);
	return 0;
}

static void aer_recovery_remove(struct pci_dev *pdev)
{
	pci_disable_pcie_error_reporting(pdev);
	pci_disable_device(pdev);
}

static const struct pci_device_id aer_recovery_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, aer_recovery_ids);

static struct pci_driver aer_recovery_driver = {
	.name = "aer_recovery",
	.id_table = aer_recovery_ids,
	.probe = aer_recovery_probe,
	.remove = aer_recovery_remove,
	.err_handler = &aer_recovery_err_handlers,
};
module_pci_driver(aer_recovery_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("edu driver taking part in PCIe error recovery (AER service test)");
