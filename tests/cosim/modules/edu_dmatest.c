// SPDX-License-Identifier: GPL-2.0
/*
 * edu_dmatest: a driver-style self test for QEMU's edu device (1234:11e8), written against the
 * Linux kernel API only. It probes the device, maps BAR0, checks the identification and liveness
 * registers, sets a 28-bit DMA mask (edu masks its host addresses to 28 bits), takes one MSI
 * vector, and moves a buffer through the device with its DMA engine: RAM -> device buffer from a
 * dma_alloc_coherent() buffer, then device buffer -> RAM into a dma_map_single() mapping, each
 * completion signalled by the device's interrupt. With fault_after_unmap=1 it then unmaps the
 * streaming buffer and starts one more device -> RAM transfer to the stale DMA address, which the
 * IOMMU must block (the fault appears in the kernel log).
 *
 * In the simulator it is linked into the test program and loaded with
 * Kernel::load_module("edu_dmatest"); the same source builds as a real module.
 */
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8

/* BAR0 registers (QEMU docs/specs/edu.rst) */
#define EDU_IDENT 0x00
#define EDU_LIVENESS 0x04
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define  EDU_DMA_START 0x1
#define  EDU_DMA_TO_RAM 0x2
#define  EDU_DMA_IRQ 0x4
#define EDU_DMA_IRQ_VALUE 0x100
#define EDU_BUFFER 0x40000  /* the device's DMA buffer, device-side address */
#define EDU_DMA_BITS 28

#define TEST_BYTES 4096

static int fault_after_unmap;
module_param(fault_after_unmap, int, 0444);
MODULE_PARM_DESC(fault_after_unmap, "after the round trip, DMA once more to the unmapped buffer");

struct edu_test {
	struct pci_dev *pdev;
	void __iomem *bar0;
	int irq;
	struct completion dma_done;
	u32 last_status;
	unsigned int interrupts;
};

static irqreturn_t edu_test_irq(int irq, void *data)
{
	struct edu_test *t = data;
	u32 status = ioread32(t->bar0 + EDU_IRQ_STATUS);

	if (!status)
		return IRQ_NONE;
	iowrite32(status, t->bar0 + EDU_IRQ_ACK);
	t->last_status = status;
	t->interrupts++;
	if (status & EDU_DMA_IRQ_VALUE)
		complete(&t->dma_done);
	return IRQ_HANDLED;
}

/* One transfer of the DMA engine; 0 when its interrupt arrived in time. */
static int edu_test_dma(struct edu_test *t, u64 src, u64 dst, u32 count, u32 dir)
{
	reinit_completion(&t->dma_done);
	writeq(src, t->bar0 + EDU_DMA_SRC); /* 8-byte accesses: edu takes a 4-byte write as the whole address */
	writeq(dst, t->bar0 + EDU_DMA_DST);
	iowrite32(count, t->bar0 + EDU_DMA_COUNT);
	iowrite32(EDU_DMA_START | EDU_DMA_IRQ | dir, t->bar0 + EDU_DMA_CMD);
	/* edu runs a transfer 100 ms after the command (a virtual-clock timer) */
	if (!wait_for_completion_timeout(&t->dma_done, msecs_to_jiffies(1000)))
		return -ETIMEDOUT;
	return 0;
}

static int edu_test_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu_test *t;
	u8 *coherent, *stream;
	dma_addr_t coherent_dma, stream_dma;
	u32 ident, live;
	int ret, i;

	t = devm_kzalloc(&pdev->dev, sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	t->pdev = pdev;
	init_completion(&t->dma_done);
	pci_set_drvdata(pdev, t);

	ret = pci_enable_device(pdev);
	if (ret)
		return ret;
	ret = pci_request_regions(pdev, KBUILD_MODNAME);
	if (ret)
		goto err_disable;
	t->bar0 = pci_iomap(pdev, 0, 0);
	if (!t->bar0) {
		ret = -ENOMEM;
		goto err_regions;
	}

	ident = ioread32(t->bar0 + EDU_IDENT);
	if ((ident & 0xff) != 0xed) {
		dev_err(&pdev->dev, "not an edu device: ident %#010x\n", ident);
		ret = -ENODEV;
		goto err_unmap;
	}
	iowrite32(0x12345678, t->bar0 + EDU_LIVENESS);
	live = ioread32(t->bar0 + EDU_LIVENESS);
	dev_info(&pdev->dev, "edu %u.%u, liveness %s\n", ident >> 24, (ident >> 16) & 0xff,
		 live == ~0x12345678u ? "ok" : "BROKEN");

	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(EDU_DMA_BITS));
	if (ret)
		goto err_unmap;
	pci_set_master(pdev);

	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI);
	if (ret < 0)
		goto err_unmap;
	t->irq = pci_irq_vector(pdev, 0);
	ret = request_irq(t->irq, edu_test_irq, 0, KBUILD_MODNAME, t);
	if (ret)
		goto err_vectors;

	coherent = dma_alloc_coherent(&pdev->dev, TEST_BYTES, &coherent_dma, GFP_KERNEL);
	stream = kmalloc(TEST_BYTES, GFP_KERNEL);
	if (!coherent || !stream) {
		ret = -ENOMEM;
		goto err_buffers;
	}
	for (i = 0; i < TEST_BYTES; i++)
		coherent[i] = (u8)(i * 7 + 3);
	memset(stream, 0, TEST_BYTES);

	ret = edu_test_dma(t, coherent_dma, EDU_BUFFER, TEST_BYTES, 0);
	if (ret) {
		dev_err(&pdev->dev, "RAM -> device DMA from %pad timed out\n", &coherent_dma);
		goto err_buffers;
	}
	stream_dma = dma_map_single(&pdev->dev, stream, TEST_BYTES, DMA_FROM_DEVICE);
	if (dma_mapping_error(&pdev->dev, stream_dma)) {
		ret = -ENOMEM;
		goto err_buffers;
	}
	ret = edu_test_dma(t, EDU_BUFFER, stream_dma, TEST_BYTES, EDU_DMA_TO_RAM);
	dma_unmap_single(&pdev->dev, stream_dma, TEST_BYTES, DMA_FROM_DEVICE);
	if (ret) {
		dev_err(&pdev->dev, "device -> RAM DMA to %pad timed out\n", &stream_dma);
		goto err_buffers;
	}
	if (memcmp(stream, coherent, TEST_BYTES)) {
		dev_err(&pdev->dev, "DMA round trip corrupted the data\n");
		ret = -EIO;
		goto err_buffers;
	}
	dev_info(&pdev->dev, "DMA round trip of %d bytes OK: coherent %pad, streaming %pad, %u interrupts\n",
		 TEST_BYTES, &coherent_dma, &stream_dma, t->interrupts);

	if (fault_after_unmap) {
		/* The mapping is gone: the IOMMU must not let the device write there. */
		memset(stream, 0, TEST_BYTES);
		ret = edu_test_dma(t, EDU_BUFFER, stream_dma, TEST_BYTES, EDU_DMA_TO_RAM);
		dev_info(&pdev->dev, "DMA to unmapped %pad: %s, memory %s\n", &stream_dma,
			 ret ? "no completion" : "completed",
			 memcmp(stream, coherent, TEST_BYTES) ? "untouched" : "WRITTEN");
		ret = 0;
	}

	kfree(stream);
	dma_free_coherent(&pdev->dev, TEST_BYTES, coherent, coherent_dma);
	return 0;

err_buffers:
	kfree(stream);
	if (coherent)
		dma_free_coherent(&pdev->dev, TEST_BYTES, coherent, coherent_dma);
	free_irq(t->irq, t);
err_vectors:
	pci_free_irq_vectors(pdev);
err_unmap:
	pci_iounmap(pdev, t->bar0);
err_regions:
	pci_release_regions(pdev);
err_disable:
	pci_disable_device(pdev);
	return ret;
}

static void edu_test_remove(struct pci_dev *pdev)
{
	struct edu_test *t = pci_get_drvdata(pdev);

	free_irq(t->irq, t);
	pci_free_irq_vectors(pdev);
	pci_clear_master(pdev);
	pci_iounmap(pdev, t->bar0);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
}

static const struct pci_device_id edu_test_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR, EDU_DEVICE) },
	{ 0, }
};
MODULE_DEVICE_TABLE(pci, edu_test_ids);

static struct pci_driver edu_test_driver = {
	.name = KBUILD_MODNAME,
	.id_table = edu_test_ids,
	.probe = edu_test_probe,
	.remove = edu_test_remove,
};
module_pci_driver(edu_test_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("DMA self test for QEMU's edu device through the DMA API");
