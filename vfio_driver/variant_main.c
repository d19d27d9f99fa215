// SPDX-License-Identifier: GPL-2.0
/*
 * pciesim_vfio_pci: the project's vfio-pci variant driver, in the pattern of upstream variant
 * drivers (drivers/vfio/pci/<vendor>/main.c): it embeds struct vfio_pci_core_device, takes
 * vfio_pci_core's ops for everything it does not add, and binds only through driver_override
 * (PCI_DRIVER_OVERRIDE_DEVICE_VFIO), so a device is handed to it deliberately.
 *
 * Devices: QEMU's edu (1234:11e8). The same source builds in the simulator against
 * cosim/include/linux and as a real module (host_kmod/).
 *
 * What it adds to vfio_pci_core (docs/vfio.md, "The variant driver's region and scrub"):
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
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

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

static bool scrub = true;
module_param(scrub, bool, 0444);
MODULE_PARM_DESC(scrub, "Scrub edu's registers and DMA buffer at the last close and after a reset (default: Y)");

struct pciesim_vfio_device {
	struct vfio_pci_core_device core_device;  /* first: vfio_alloc_device requires it */
	u32 scrubs;
	int last_scrub;
};

static struct pciesim_vfio_device *to_pciesim(struct vfio_pci_core_device *vdev)
{
	return container_of(vdev, struct pciesim_vfio_device, core_device);
}

/* Polls until `bit` of the register at `reg` reads clear: 0, or -ETIMEDOUT after timeout_ms. */
static int pciesim_edu_wait_clear(void __iomem *reg, u32 bit, unsigned int timeout_ms)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(timeout_ms);

	for (;;) {
		if (!(ioread32(reg) & bit))
			return 0;
		if (time_after(jiffies, deadline))
			return (ioread32(reg) & bit) ? -ETIMEDOUT : 0;
		usleep_range(5000, 10000);
	}
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
static int pciesim_edu_scrub(struct pciesim_vfio_device *pvdev)
{
	struct pci_dev *pdev = pvdev->core_device.pdev;
	void __iomem *bar;
	u16 cmd;
	int ret;

	if (!scrub)
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
	loff_t pos = *ppos & VFIO_PCI_OFFSET_MASK;
	struct pciesim_edu_info info = {
		.magic = cpu_to_le32(PCIESIM_EDU_INFO_MAGIC),
		.version = cpu_to_le32(PCIESIM_EDU_INFO_VERSION),
		.dma_addr_bits = cpu_to_le32(EDU_DMA_ADDR_BITS),
		.dma_max_len = cpu_to_le32(EDU_DMA_MAX_LEN),
		.buf_base = cpu_to_le64(EDU_BUF_BASE),
		.scrubs = cpu_to_le32(pvdev->scrubs),
		.last_scrub = cpu_to_le32((u32)pvdev->last_scrub),
	};

	/* read-only, as vfio-pci's IGD OpRegion: a write or a read past the end is -EINVAL */
	if (iswrite || pos >= sizeof(info))
		return -EINVAL;
	count = min_t(size_t, count, sizeof(info) - pos);
	if (copy_to_user(buf, (u8 *)&info + pos, count))
		return -EFAULT;
	*ppos += count;
	return count;
}

static void pciesim_edu_info_release(struct vfio_pci_core_device *vdev, struct vfio_pci_region *region)
{
	/* the region's content lives in struct pciesim_vfio_device: nothing to free */
}

static const struct vfio_pci_regops pciesim_edu_info_regops = {
	.rw = pciesim_edu_info_rw,
	.release = pciesim_edu_info_release,
};

static int pciesim_vfio_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev = container_of(core_vdev, struct vfio_pci_core_device, vdev);
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;
	ret = vfio_pci_core_register_dev_region(vdev, PCIESIM_EDU_INFO_TYPE, PCIESIM_EDU_INFO_SUBTYPE,
						&pciesim_edu_info_regops, sizeof(struct pciesim_edu_info),
						VFIO_REGION_INFO_FLAG_READ, to_pciesim(vdev));
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
	pciesim_edu_scrub(to_pciesim(vdev));
	vfio_pci_core_close_device(core_vdev);
}

static long pciesim_vfio_ioctl(struct vfio_device *core_vdev, unsigned int cmd, unsigned long arg)
{
	struct vfio_pci_core_device *vdev = container_of(core_vdev, struct vfio_pci_core_device, vdev);
	long ret;

	ret = vfio_pci_core_ioctl(core_vdev, cmd, arg);
	/* edu keeps its state over the reset: the user gets a clean device, or the scrub's error */
	if (!ret && (cmd == VFIO_DEVICE_RESET || cmd == VFIO_DEVICE_PCI_HOT_RESET))
		ret = pciesim_edu_scrub(to_pciesim(vdev));
	return ret;
}

static const struct vfio_device_ops pciesim_vfio_ops = {
	.name = "pciesim-vfio-pci",
	.init = vfio_pci_core_init_dev,
	.release = vfio_pci_core_release_dev,
	.open_device = pciesim_vfio_open_device,
	.close_device = pciesim_vfio_close_device,
	.ioctl = pciesim_vfio_ioctl,
	.read = vfio_pci_core_read,
	.write = vfio_pci_core_write,
	.mmap = vfio_pci_core_mmap,
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
