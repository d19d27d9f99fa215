// SPDX-License-Identifier: GPL-2.0
/*
 * pciesim_vfio_pci's edu personality (QEMU's edu, 1234:11e8; docs/vfio.md, "The variant driver's
 * region and scrub"):
 *
 * - A read-only device-specific region (index VFIO_PCI_NUM_REGIONS, type
 *   VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x1234, subtype 1) describing edu's DMA limits and the
 *   scrubs done: struct pciesim_edu_info below. It is registered in open_device, as vfio-pci
 *   registers its IGD regions, because vfio_pci_core_disable releases every device-specific
 *   region when the last user closes the device.
 *
 * - A scrub of the device's state. QEMU 7.2's edu has no reset handler of its own (the PCI core's
 *   reset clears config space and MSI only), so a bus reset leaves its registers and its 4 KiB DMA
 *   buffer as the last user left them, and the next user reads them. The driver scrubs when the
 *   last user closes the device and after every successful VFIO_DEVICE_RESET and
 *   VFIO_DEVICE_PCI_HOT_RESET: interrupts acknowledged, factorial interrupt off, liveness and
 *   factorial back to their power-on values, DMA registers cleared, and the buffer zeroed by a
 *   RAM -> device transfer with Bus Master Enable clear (edu then reads zeros without any memory
 *   transaction: QEMU's memory core answers a disabled bus master with zeros).
 */
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/pci.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "pciesim_vfio.h"

/* edu's BAR0 registers (QEMU hw/misc/edu.c, docs/specs/edu.rst) */
#define EDU_REG_LIVENESS	0x04	/* reads the NOT of the last write */
#define EDU_REG_FACTORIAL	0x08
#define EDU_REG_STATUS		0x20
#define  EDU_STATUS_COMPUTING	0x01
#define  EDU_STATUS_IRQFACT	0x80
#define EDU_REG_IRQ_STATUS	0x24
#define EDU_REG_IRQ_ACK		0x64
#define EDU_REG_DMA_SRC		0x80	/* 64-bit; a 4-byte write stores the zero-extended value */
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define  EDU_DMA_RUN		0x01	/* direction bit clear: RAM -> buffer; no interrupt bit */
#define EDU_REG_END		0x100	/* what the driver maps of the 1 MiB BAR */

#define EDU_BUF_BASE		0x40000	/* the buffer's device-side address */
#define EDU_DMA_ADDR_BITS	28	/* edu's default dma_mask, 2^28 - 1 */
/*
 * QEMU 7.2's edu_check_range wants the window's end strictly below the buffer's end and calls
 * hw_error() otherwise, which aborts the VM: a 4096-byte transfer kills QEMU 7.2, and byte
 * 0x40FFF cannot be reached by any DMA there (fixed in QEMU 8.2.1). The driver moves 4095 bytes.
 */
#define EDU_DMA_MAX_LEN		4095
/* 34! has 32 factors of two: 0 in edu's 32-bit factorial, its power-on value */
#define EDU_FACT_TO_ZERO	34

/* QEMU runs a DMA command 100 ms (QEMU_CLOCK_VIRTUAL) after it was written; a factorial of a
 * large n takes seconds of host time in QEMU's worker thread. */
#define EDU_DMA_TIMEOUT_MS	1000
#define EDU_FACT_TIMEOUT_MS	5000

/*
 * The region's content, little-endian, 32 bytes:
 *   0x00 magic          "edu1" (0x31756465)
 *   0x04 version        1
 *   0x08 dma_addr_bits  width of the DMA address mask: 28 (host addresses are ANDed with 2^28 - 1)
 *   0x0c dma_max_len    longest transfer QEMU 7.2 accepts: 4095
 *   0x10 buf_base       device-side address of the DMA buffer: 0x40000 (64-bit)
 *   0x18 scrubs         scrubs run since the driver bound the device
 *   0x1c last_scrub     result of the last scrub: 0, or a negative errno (s32)
 */
#define PCIESIM_EDU_INFO_TYPE		(VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x1234)
#define PCIESIM_EDU_INFO_SUBTYPE	1
#define PCIESIM_EDU_INFO_MAGIC		0x31756465
#define PCIESIM_EDU_INFO_VERSION	1

struct pciesim_edu_info {
	__le32 magic;
	__le32 version;
	__le32 dma_addr_bits;
	__le32 dma_max_len;
	__le64 buf_base;
	__le32 scrubs;
	__le32 last_scrub;
};

/* Polls until `bit` of the register at `reg` reads clear. */
static int pciesim_edu_wait_clear(void __iomem *reg, u32 bit, unsigned int timeout_ms)
{
	return pciesim_wait_reg(reg, bit, 0, timeout_ms);
}

/* The scrub proper, with memory decoding on and bus mastering off. */
static int pciesim_edu_scrub_regs(void __iomem *bar)
{
	int ret, err;

	/* No factorial interrupt from here on; let a computation or a transfer in flight finish
	 * (with bus mastering off a transfer in flight reads zeros or writes nothing). */
	iowrite32(0, bar + EDU_REG_STATUS);
	ret = pciesim_edu_wait_clear(bar + EDU_REG_DMA_CMD, EDU_DMA_RUN, EDU_DMA_TIMEOUT_MS);
	err = pciesim_edu_wait_clear(bar + EDU_REG_STATUS, EDU_STATUS_COMPUTING, EDU_FACT_TIMEOUT_MS);
	if (!err) {
		iowrite32(EDU_FACT_TO_ZERO, bar + EDU_REG_FACTORIAL);
		err = pciesim_edu_wait_clear(bar + EDU_REG_STATUS, EDU_STATUS_COMPUTING, EDU_FACT_TIMEOUT_MS);
	}
	if (!ret)
		ret = err;

	iowrite32(0xffffffff, bar + EDU_REG_LIVENESS);  /* reads back 0 */

	/* The buffer: RAM -> buffer with bus mastering off reads zeros. */
	if (!(ioread32(bar + EDU_REG_DMA_CMD) & EDU_DMA_RUN)) {
		iowrite32(0, bar + EDU_REG_DMA_SRC);
		iowrite32(EDU_BUF_BASE, bar + EDU_REG_DMA_DST);
		iowrite32(EDU_DMA_MAX_LEN, bar + EDU_REG_DMA_COUNT);
		iowrite32(EDU_DMA_RUN, bar + EDU_REG_DMA_CMD);
		msleep(100);
		err = pciesim_edu_wait_clear(bar + EDU_REG_DMA_CMD, EDU_DMA_RUN, EDU_DMA_TIMEOUT_MS);
		if (!ret)
			ret = err;
	}
	/* Ignored while a command runs; the command register is 0 once ours has finished. */
	iowrite32(0, bar + EDU_REG_DMA_SRC);
	iowrite32(0, bar + EDU_REG_DMA_DST);
	iowrite32(0, bar + EDU_REG_DMA_COUNT);

	iowrite32(0xffffffff, bar + EDU_REG_IRQ_ACK);

	if (!ret && (ioread32(bar + EDU_REG_LIVENESS) || ioread32(bar + EDU_REG_FACTORIAL) ||
		     ioread32(bar + EDU_REG_STATUS) || ioread32(bar + EDU_REG_IRQ_STATUS) ||
		     ioread32(bar + EDU_REG_DMA_SRC) || ioread32(bar + EDU_REG_DMA_DST) ||
		     ioread32(bar + EDU_REG_DMA_COUNT) || ioread32(bar + EDU_REG_DMA_CMD)))
		ret = -EIO;
	return ret;
}

/*
 * Returns edu to its power-on state as far as software can: see the top of the file. The command
 * register is restored afterwards. Byte 0x40FFF of the buffer stays as it was: no DMA reaches it
 * on QEMU 7.2.
 */
int pciesim_edu_scrub(struct pciesim_vfio_device *pvdev)
{
	struct pci_dev *pdev = pvdev->core_device.pdev;
	void __iomem *bar;
	u16 cmd;
	int ret;

	if (!pciesim_scrub)
		return 0;
	bar = pci_iomap(pdev, 0, EDU_REG_END);
	if (!bar) {
		ret = -ENOMEM;
	} else {
		pci_read_config_word(pdev, PCI_COMMAND, &cmd);
		pci_write_config_word(pdev, PCI_COMMAND,
				      (cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE) & ~PCI_COMMAND_MASTER);
		ret = pciesim_edu_scrub_regs(bar);
		pci_write_config_word(pdev, PCI_COMMAND, cmd);
		pci_iounmap(pdev, bar);
	}
	pvdev->scrubs++;
	pvdev->last_scrub = ret;
	if (ret)
		dev_warn(&pdev->dev, "edu scrub failed (%d): the device may keep the previous user's data\n", ret);
	else
		dev_dbg(&pdev->dev, "edu scrubbed (registers, %d-byte DMA buffer)\n", EDU_DMA_MAX_LEN);
	return ret;
}

static ssize_t pciesim_edu_info_rw(struct vfio_pci_core_device *vdev, char __user *buf, size_t count,
				   loff_t *ppos, bool iswrite)
{
	struct pciesim_vfio_device *pvdev = to_pciesim(vdev);
	struct pciesim_edu_info info = {
		.magic = cpu_to_le32(PCIESIM_EDU_INFO_MAGIC),
		.version = cpu_to_le32(PCIESIM_EDU_INFO_VERSION),
		.dma_addr_bits = cpu_to_le32(EDU_DMA_ADDR_BITS),
		.dma_max_len = cpu_to_le32(EDU_DMA_MAX_LEN),
		.buf_base = cpu_to_le64(EDU_BUF_BASE),
		.scrubs = cpu_to_le32(pvdev->scrubs),
		.last_scrub = cpu_to_le32((u32)pvdev->last_scrub),
	};

	return pciesim_info_read(&info, sizeof(info), buf, count, ppos, iswrite);
}

static const struct vfio_pci_regops pciesim_edu_info_regops = {
	.rw = pciesim_edu_info_rw,
	.release = pciesim_info_release,
};

int pciesim_edu_open(struct pciesim_vfio_device *pvdev)
{
	return vfio_pci_core_register_dev_region(&pvdev->core_device, PCIESIM_EDU_INFO_TYPE,
						 PCIESIM_EDU_INFO_SUBTYPE, &pciesim_edu_info_regops,
						 sizeof(struct pciesim_edu_info), VFIO_REGION_INFO_FLAG_READ, pvdev);
}
