/* PCIe Advanced Error Reporting (include/linux/aer.h, Linux 6.1): what drivers call. The service
 * itself is cosim/pci/aer.c (module "aer", loaded at boot after pcieport when a program links it). */
#ifndef _LINUX_AER_H
#define _LINUX_AER_H

#include <linux/types.h>

struct pci_dev;

#ifdef __cplusplus
extern "C" {
#endif
/* Device Control Correctable/Non-Fatal/Fatal/Unsupported Request Reporting Enable on; -EIO when
 * the device has no AER capability (pcie_aer_is_native). */
int pci_enable_pcie_error_reporting(struct pci_dev *dev);
int pci_disable_pcie_error_reporting(struct pci_dev *dev);
/* Clears the Uncorrectable Error Status bits whose severity is non-fatal. */
int pci_aer_clear_nonfatal_status(struct pci_dev *dev);
#ifdef __cplusplus
}
#endif

#endif /* _LINUX_AER_H */
