/* The VGA arbiter (include/linux/vgaarb.h, Linux 6.1 drivers/pci/vgaarb.c): one VGA device at a
 * time owns the legacy VGA resources (memory 0xa0000-0xbffff, I/O 0x3b0-0x3bb and 0x3c0-0x3df);
 * vga_get routes them to it by setting VGA Enable on the bridges above it and clearing it on the
 * others' paths (pci_set_vga_state). Implemented in cosim/pci/vgaarb.cpp (docs/vga.md). */
#ifndef _LINUX_VGAARB_H
#define _LINUX_VGAARB_H

#include <linux/types.h>

#define VGA_RSRC_NONE 0x00
#define VGA_RSRC_LEGACY_IO 0x01
#define VGA_RSRC_LEGACY_MEM 0x02
#define VGA_RSRC_LEGACY_MASK (VGA_RSRC_LEGACY_IO | VGA_RSRC_LEGACY_MEM)
#define VGA_RSRC_NORMAL_IO 0x04
#define VGA_RSRC_NORMAL_MEM 0x08

struct pci_dev;

#ifdef __cplusplus
extern "C" {
#endif
/* What the device decodes (VGA_RSRC_*): a driver that turned legacy decoding off says so. */
void vga_set_legacy_decoding(struct pci_dev *pdev, unsigned int decodes);
/* Acquires `rsrc` for pdev (NULL: the default VGA device), waiting while another device holds
 * a conflicting lock. 0, or -ENODEV when pdev is not a VGA device the arbiter knows. */
int vga_get(struct pci_dev *pdev, unsigned int rsrc, int interruptible);
/* Without waiting: -EBUSY on a conflict. */
int vga_tryget(struct pci_dev *pdev, unsigned int rsrc);
void vga_put(struct pci_dev *pdev, unsigned int rsrc);
struct pci_dev *vga_default_device(void);
void vga_set_default_device(struct pci_dev *pdev);
/* A driver's callback the arbiter calls when the number of VGA devices changes. */
int vga_client_register(struct pci_dev *pdev, unsigned int (*set_decode)(struct pci_dev *pdev, bool state));
#ifdef __cplusplus
}
#endif

static inline int vga_get_interruptible(struct pci_dev *pdev, unsigned int rsrc)
{
	return vga_get(pdev, rsrc, 1);
}
static inline int vga_get_uninterruptible(struct pci_dev *pdev, unsigned int rsrc)
{
	return vga_get(pdev, rsrc, 0);
}
static inline void vga_client_unregister(struct pci_dev *pdev)
{
	vga_client_register(pdev, NULL);
}

#endif /* _LINUX_VGAARB_H */
