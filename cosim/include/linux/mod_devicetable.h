/* Device ID tables (include/linux/mod_devicetable.h). */
#ifndef _LINUX_MOD_DEVICETABLE_H
#define _LINUX_MOD_DEVICETABLE_H

#include <linux/types.h>

#define PCI_ANY_ID (~0)

enum {
	PCI_ID_F_VFIO_DRIVER_OVERRIDE = 1,
};

struct pci_device_id {
	__u32 vendor, device;         /* vendor and device ID or PCI_ANY_ID */
	__u32 subvendor, subdevice;   /* subsystem IDs or PCI_ANY_ID */
	__u32 class, class_mask;      /* (class, subclass, prog-if) triplet */
	kernel_ulong_t driver_data;
	__u32 override_only;          /* matched only through driver_override */
};

#endif /* _LINUX_MOD_DEVICETABLE_H */
