// SPDX-License-Identifier: GPL-2.0
/*
 * pciesim_vfio_pci's GPU personality: the pciesim GPU (1234:9e10; its programming interface is
 * models/devices/gpu/gpu_regs.h and docs/gpu.md). What it adds to vfio_pci_core (docs/vfio.md,
 * "The GPU personality"):
 *
 * - BAR0 and BAR1 region info with a sparse mmap capability (VFIO_REGION_INFO_CAP_SPARSE_MMAP).
 *   BAR1, the VRAM aperture, offers the part of the BAR that VRAM backs; BAR0 offers every page
 *   but the GMMU invalidation window, which user space reaches only through read()/write() on
 *   the region, and mmap() of the window is refused.
 *
 * - The trapped invalidation window (BAR0 0x2000-0x2fff). Every write there goes through the
 *   driver, which: refuses malformed requests with -EINVAL before the device sees them (a scope
 *   the device does not define, reserved bits, a context the device does not have, a VA that is
 *   not 4 KiB aligned, a read-only or undefined register, an access that is not one aligned
 *   dword); makes an invalidation complete before write() returns (it waits for PENDING to
 *   clear), so a user that unmaps, invalidates and reuses the memory cannot race the TLB; and
 *   counts both in the info region. The scenario suite reads the counts to tell a driver that
 *   forgot to invalidate from a device that ignored the request.
 *
 * - A read-only info region (type VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x1234, subtype 2):
 *   struct pciesim_gpu_info below.
 *
 * - A scrub when the last user closes the device and after every successful VFIO_DEVICE_RESET
 *   and VFIO_DEVICE_PCI_HOT_RESET. A function reset returns the GPU's registers, copy engine and
 *   TLB to their power-on state but not VRAM (the model, like real GPUs, keeps memory contents
 *   over a reset), so without the scrub the next owner reads the previous owner's data. The
 *   scrub: reset the function unless a reset was just done, fill all of VRAM with zeros using
 *   the copy engine in physical mode (its ring in VRAM page 0, written through BAR1 in physical
 *   mode, with Bus Master Enable clear: the engine touches nothing outside VRAM), zero page 0
 *   through BAR1, invalidate the whole GMMU TLB, and reset the function again so the next owner
 *   finds the registers at their power-on values.
 */
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/overflow.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "pciesim_vfio.h"

/* BAR0 registers (gpu_regs.h) */
#define GPU_BOOT0		0x000000
#define  GPU_BOOT0_VALUE	0x9e10c0de
#define GPU_VRAM_SIZE_LO	0x000008
#define GPU_VRAM_SIZE_HI	0x00000c
#define GPU_CAPS		0x000014	/* [7:0] contexts */
#define GPU_INTR_STATUS		0x000100
#define GPU_INTR_ENABLE		0x000104
#define GPU_BAR1_BLOCK		0x001800	/* 0: physical mode, BAR1 offset = VRAM address */
#define GPU_INVAL_WINDOW	0x002000
#define GPU_INVAL_WINDOW_SIZE	0x001000
#define GPU_INVAL_CTX		0x002000
#define GPU_INVAL_VA_LO		0x002004
#define GPU_INVAL_VA_HI		0x002008
#define GPU_INVALIDATE		0x00200c
#define  GPU_INVAL_SCOPE	0x3
#define  GPU_INVAL_ALL		0
#define  GPU_INVAL_CONTEXT	1
#define  GPU_INVAL_VA		2
#define  GPU_INVAL_TRIGGER	0x80000000	/* write: start; read: PENDING */
#define GPU_INVAL_COUNT		0x002010
#define GPU_CE_RING_LO		0x004004
#define  GPU_CE_RING_PHYSICAL	0x4		/* target [1:0] 0: VRAM */
#define GPU_CE_RING_HI		0x004008
#define GPU_CE_RING_SIZE	0x00400c
#define GPU_CE_PUT		0x004010
#define GPU_CE_GET		0x004014
#define GPU_CE_STATUS		0x004018
#define  GPU_CE_BUSY		0x1
#define  GPU_CE_HALTED		0x2
#define GPU_REG_END		0x005000	/* what the driver maps of the 16 MiB BAR0 */

/* copy-engine command (64 bytes): FILL with the destination physical in VRAM */
#define GPU_CE_OP_FILL		2
#define GPU_CE_FLAG_DST_PHYS	(1u << 3)	/* destination target [7:6] 0: VRAM */
#define GPU_CE_CMD_SIZE		64
#define GPU_CE_SCRUB_RING	2		/* entries: one command in flight */
#define GPU_SCRUB_CHUNK		(1ull << 30)	/* bytes per FILL (below the 4 GiB length limit) */
/* At the model's VRAM bandwidth a 1 GiB FILL takes about a millisecond of device time; the
 * timeout leaves room for slow VRAM and a loaded host. */
#define GPU_CE_TIMEOUT_MS	5000
#define GPU_INVAL_TIMEOUT_MS	100

/*
 * The info region's content, little-endian, 56 bytes:
 *   0x00 magic          "gpu1" (0x31757067)
 *   0x04 version        1
 *   0x08 vram_size      bytes of VRAM
 *   0x10 bar1_size      bytes of BAR1
 *   0x18 bar1_mappable  bytes of BAR1 the sparse mmap capability offers (from offset 0)
 *   0x20 inval_offset   BAR0 offset of the trapped invalidation window
 *   0x24 inval_size     its size
 *   0x28 scrubs         scrubs run since the driver bound the device
 *   0x2c last_scrub     result of the last scrub: 0, or a negative errno (s32)
 *   0x30 invalidations  trapped INVALIDATE writes passed to the device
 *   0x34 refused        trapped writes refused with -EINVAL
 */
#define PCIESIM_GPU_INFO_TYPE		(VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x1234)
#define PCIESIM_GPU_INFO_SUBTYPE	2
#define PCIESIM_GPU_INFO_MAGIC		0x31757067
#define PCIESIM_GPU_INFO_VERSION	1

struct pciesim_gpu_info {
	__le32 magic;
	__le32 version;
	__le64 vram_size;
	__le64 bar1_size;
	__le64 bar1_mappable;
	__le32 inval_offset;
	__le32 inval_size;
	__le32 scrubs;
	__le32 last_scrub;
	__le32 invalidations;
	__le32 refused;
};

int pciesim_gpu_probe(struct pciesim_vfio_device *pvdev)
{
	struct pci_dev *pdev = pvdev->core_device.pdev;

	if (pci_resource_len(pdev, 0) < GPU_REG_END || !pci_resource_len(pdev, 1)) {
		pci_warn(pdev, "pciesim GPU without its BAR0 registers or BAR1 aperture\n");
		return -ENODEV;
	}
	pvdev->gpu.bar1_size = pci_resource_len(pdev, 1);
	return 0;
}

static ssize_t pciesim_gpu_info_rw(struct vfio_pci_core_device *vdev, char __user *buf, size_t count,
				   loff_t *ppos, bool iswrite)
{
	struct pciesim_vfio_device *pvdev = to_pciesim(vdev);
	struct pciesim_gpu_info info = {
		.magic = cpu_to_le32(PCIESIM_GPU_INFO_MAGIC),
		.version = cpu_to_le32(PCIESIM_GPU_INFO_VERSION),
		.vram_size = cpu_to_le64(pvdev->gpu.vram_size),
		.bar1_size = cpu_to_le64(pvdev->gpu.bar1_size),
		.bar1_mappable = cpu_to_le64(pvdev->gpu.bar1_mappable),
		.inval_offset = cpu_to_le32(GPU_INVAL_WINDOW),
		.inval_size = cpu_to_le32(GPU_INVAL_WINDOW_SIZE),
		.scrubs = cpu_to_le32(pvdev->scrubs),
		.last_scrub = cpu_to_le32((u32)pvdev->last_scrub),
		.invalidations = cpu_to_le32(pvdev->gpu.invalidations),
		.refused = cpu_to_le32(pvdev->gpu.refused),
	};

	return pciesim_info_read(&info, sizeof(info), buf, count, ppos, iswrite);
}

static const struct vfio_pci_regops pciesim_gpu_info_regops = {
	.rw = pciesim_gpu_info_rw,
	.release = pciesim_info_release,
};

/* Reads the device's geometry (memory decoding is on once vfio_pci_core_enable has run). */
static int pciesim_gpu_read_geometry(struct pciesim_vfio_device *pvdev)
{
	struct pci_dev *pdev = pvdev->core_device.pdev;
	struct pciesim_gpu_state *g = &pvdev->gpu;
	void __iomem *regs = g->regs;
	u32 boot0;

	boot0 = ioread32(regs + GPU_BOOT0);
	g->vram_size = ioread32(regs + GPU_VRAM_SIZE_LO) | (u64)ioread32(regs + GPU_VRAM_SIZE_HI) << 32;
	g->contexts = ioread32(regs + GPU_CAPS) & 0xff;
	if (boot0 != GPU_BOOT0_VALUE) {
		pci_warn(pdev, "pciesim GPU: BOOT0 reads %#x, expected %#x\n", boot0, GPU_BOOT0_VALUE);
		return -EIO;
	}
	g->bar1_mappable = min_t(u64, g->bar1_size, g->vram_size) & ~(u64)(PAGE_SIZE - 1);
	return 0;
}

int pciesim_gpu_open(struct pciesim_vfio_device *pvdev)
{
	struct pci_dev *pdev = pvdev->core_device.pdev;
	int ret;

	/* mapped once per open: the geometry, the trapped window and the scrub all use it */
	pvdev->gpu.regs = pci_iomap(pdev, 0, GPU_REG_END);
	if (!pvdev->gpu.regs)
		return -ENOMEM;
	ret = pciesim_gpu_read_geometry(pvdev);
	if (!ret)
		ret = vfio_pci_core_register_dev_region(&pvdev->core_device, PCIESIM_GPU_INFO_TYPE,
							PCIESIM_GPU_INFO_SUBTYPE, &pciesim_gpu_info_regops,
							sizeof(struct pciesim_gpu_info), VFIO_REGION_INFO_FLAG_READ,
							pvdev);
	if (ret) {
		pci_iounmap(pdev, pvdev->gpu.regs);
		pvdev->gpu.regs = NULL;
	}
	return ret;
}

/* True when BAR `bar` holds the MSI-X table (the core then reports VFIO_REGION_INFO_CAP_MSIX_MAPPABLE). */
static bool pciesim_gpu_msix_bar(struct pci_dev *pdev, int bar)
{
	u8 cap = pci_find_capability(pdev, PCI_CAP_ID_MSIX);
	u32 table;

	if (!cap || pci_read_config_dword(pdev, cap + PCI_MSIX_TABLE, &table))
		return false;
	return (table & PCI_MSIX_TABLE_BIR) == (u32)bar;
}

/*
 * VFIO_DEVICE_GET_REGION_INFO for BAR0 and BAR1, as vfio_pci_core answers for a BAR (offset,
 * size, read/write/mmap, the MSI-X mappable capability) plus the sparse mmap capability, laid
 * out as vfio_pci_core lays out any capability chain.
 */
static long pciesim_gpu_region_info(struct pciesim_vfio_device *pvdev, unsigned long arg)
{
	struct pci_dev *pdev = pvdev->core_device.pdev;
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);
	struct vfio_info_cap caps = { .buf = NULL, .size = 0 };
	struct vfio_region_info_cap_sparse_mmap *sparse;
	struct vfio_region_info info;
	unsigned int nr_areas;
	size_t size;
	int ret;

	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	nr_areas = info.index == 0 ? 2 : 1;
	size = struct_size(sparse, areas, nr_areas);
	sparse = kzalloc(size, GFP_KERNEL);
	if (!sparse)
		return -ENOMEM;
	sparse->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
	sparse->header.version = 1;
	sparse->nr_areas = nr_areas;
	if (info.index == 0) {
		sparse->areas[0].offset = 0;
		sparse->areas[0].size = GPU_INVAL_WINDOW;
		sparse->areas[1].offset = GPU_INVAL_WINDOW + GPU_INVAL_WINDOW_SIZE;
		sparse->areas[1].size = pci_resource_len(pdev, 0) - sparse->areas[1].offset;
	} else {
		sparse->areas[0].offset = 0;
		sparse->areas[0].size = pvdev->gpu.bar1_mappable;
	}
	ret = vfio_info_add_capability(&caps, &sparse->header, size);
	kfree(sparse);
	if (!ret && pciesim_gpu_msix_bar(pdev, info.index)) {
		struct vfio_info_cap_header msix = { .id = VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, .version = 1 };

		ret = vfio_info_add_capability(&caps, &msix, sizeof(msix));
	}
	if (ret) {
		kfree(caps.buf);
		return ret;
	}

	info.offset = VFIO_PCI_INDEX_TO_OFFSET(info.index);
	info.size = pci_resource_len(pdev, info.index);
	info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP |
		     VFIO_REGION_INFO_FLAG_CAPS;
	if (info.argsz < sizeof(info) + caps.size) {
		info.argsz = sizeof(info) + caps.size;
		info.cap_offset = 0;
	} else {
		vfio_info_cap_shift(&caps, sizeof(info));
		if (copy_to_user((void __user *)arg + sizeof(info), caps.buf, caps.size)) {
			kfree(caps.buf);
			return -EFAULT;
		}
		info.cap_offset = sizeof(info);
	}
	kfree(caps.buf);
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

int pciesim_gpu_ioctl(struct pciesim_vfio_device *pvdev, unsigned int cmd, unsigned long arg, long *ret)
{
	struct vfio_region_info head;

	if (cmd != VFIO_DEVICE_GET_REGION_INFO)
		return 0;
	if (copy_from_user(&head, (void __user *)arg, offsetofend(struct vfio_region_info, index))) {
		*ret = -EFAULT;
		return 1;
	}
	if (head.index != VFIO_PCI_BAR0_REGION_INDEX && head.index != VFIO_PCI_BAR1_REGION_INDEX)
		return 0;  /* the core answers (and checks argsz) */
	*ret = pciesim_gpu_region_info(pvdev, arg);
	return 1;
}

/* One trapped dword write at BAR0 offset `reg`: 0 once the device has it, or -EINVAL / -EIO. */
static int pciesim_gpu_inval_write(struct pciesim_vfio_device *pvdev, u32 reg, u32 val)
{
	struct pci_dev *pdev = pvdev->core_device.pdev;
	struct pciesim_gpu_state *g = &pvdev->gpu;
	void __iomem *regs = g->regs;
	u16 cmd;
	int ret = 0;

	switch (reg) {
	case GPU_INVAL_CTX:
		if (val >= g->contexts)
			return -EINVAL;
		break;
	case GPU_INVAL_VA_LO:
		if (val & (PAGE_SIZE - 1))
			return -EINVAL;
		break;
	case GPU_INVAL_VA_HI:
		break;
	case GPU_INVALIDATE:
		if (val & ~(GPU_INVAL_TRIGGER | GPU_INVAL_SCOPE) || (val & GPU_INVAL_SCOPE) > GPU_INVAL_VA)
			return -EINVAL;
		break;
	default:
		return -EINVAL;  /* INVAL_COUNT is read-only, the rest of the window undefined */
	}

	/* as vfio_pci_bar_rw: no access while memory decoding is off */
	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	if (!(cmd & PCI_COMMAND_MEMORY))
		return -EIO;
	if (reg == GPU_INVALIDATE && (val & GPU_INVAL_TRIGGER) && (val & GPU_INVAL_SCOPE) != GPU_INVAL_ALL &&
	    ioread32(regs + GPU_INVAL_CTX) >= g->contexts) {
		ret = -EINVAL;
	} else {
		iowrite32(val, regs + reg);
		if (reg == GPU_INVALIDATE && (val & GPU_INVAL_TRIGGER)) {
			ret = pciesim_wait_reg(regs + GPU_INVALIDATE, GPU_INVAL_TRIGGER, 0, GPU_INVAL_TIMEOUT_MS);
			g->invalidations++;
		}
	}
	return ret;
}

ssize_t pciesim_gpu_write(struct pciesim_vfio_device *pvdev, const char __user *buf, size_t count,
			  loff_t *ppos)
{
	unsigned int index = VFIO_PCI_OFFSET_TO_INDEX(*ppos);
	u64 pos = *ppos & VFIO_PCI_OFFSET_MASK;
	u32 val;
	int ret;

	if (index != VFIO_PCI_BAR0_REGION_INDEX || pos + count <= GPU_INVAL_WINDOW ||
	    pos >= GPU_INVAL_WINDOW + GPU_INVAL_WINDOW_SIZE)
		return vfio_pci_core_write(&pvdev->core_device.vdev, buf, count, ppos);

	/* the window: one aligned dword at a time, checked before the device sees it */
	if (pos < GPU_INVAL_WINDOW || pos + count > GPU_INVAL_WINDOW + GPU_INVAL_WINDOW_SIZE || count != 4 ||
	    (pos & 3)) {
		pvdev->gpu.refused++;
		return -EINVAL;
	}
	if (copy_from_user(&val, buf, sizeof(val)))
		return -EFAULT;
	ret = pciesim_gpu_inval_write(pvdev, (u32)pos, le32_to_cpu(val));
	if (ret == -EINVAL)
		pvdev->gpu.refused++;
	if (ret)
		return ret;
	*ppos += count;
	return count;
}

int pciesim_gpu_mmap(struct pciesim_vfio_device *pvdev, struct vm_area_struct *vma)
{
	unsigned int index = vma->vm_pgoff >> (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);
	u64 start = ((u64)vma->vm_pgoff << PAGE_SHIFT) & VFIO_PCI_OFFSET_MASK;
	u64 len = vma->vm_end - vma->vm_start;

	/* only what the sparse capabilities offer */
	if (index == VFIO_PCI_BAR0_REGION_INDEX && start < GPU_INVAL_WINDOW + GPU_INVAL_WINDOW_SIZE &&
	    start + len > GPU_INVAL_WINDOW)
		return -EINVAL;
	if (index == VFIO_PCI_BAR1_REGION_INDEX && start + len > pvdev->gpu.bar1_mappable)
		return -EINVAL;
	return vfio_pci_core_mmap(&pvdev->core_device.vdev, vma);
}

/* Zero-fills VRAM [PAGE_SIZE, vram_size) with the copy engine, its ring in VRAM page 0. */
static int pciesim_gpu_fill_vram(struct pciesim_vfio_device *pvdev, void __iomem *regs, void __iomem *bar1)
{
	u64 addr = PAGE_SIZE, end = pvdev->gpu.vram_size;
	int ret;

	iowrite32(GPU_CE_RING_PHYSICAL, regs + GPU_CE_RING_LO);
	iowrite32(0, regs + GPU_CE_RING_HI);
	iowrite32(GPU_CE_SCRUB_RING, regs + GPU_CE_RING_SIZE);
	while (addr < end) {
		u64 len = min_t(u64, end - addr, GPU_SCRUB_CHUNK);
		u32 get = ioread32(regs + GPU_CE_GET) % GPU_CE_SCRUB_RING;
		u32 next = (get + 1) % GPU_CE_SCRUB_RING;
		u32 cmd[GPU_CE_CMD_SIZE / 4] = {
			GPU_CE_OP_FILL, GPU_CE_FLAG_DST_PHYS,
			0, 0,                                  /* source: unused by FILL */
			lower_32_bits(addr), upper_32_bits(addr),
			lower_32_bits(len), upper_32_bits(len),
			/* semaphore VA, payload (its low byte is the pattern: 0), reserved */
		};
		unsigned int i;

		for (i = 0; i < ARRAY_SIZE(cmd); i++)
			iowrite32(cmd[i], bar1 + get * GPU_CE_CMD_SIZE + i * 4);
		iowrite32(next, regs + GPU_CE_PUT);
		ret = pciesim_wait_reg(regs + GPU_CE_GET, ~0u, next, GPU_CE_TIMEOUT_MS);
		if (!ret)
			ret = pciesim_wait_reg(regs + GPU_CE_STATUS, GPU_CE_BUSY, 0, GPU_CE_TIMEOUT_MS);
		if (ret)
			return ret;
		if (ioread32(regs + GPU_CE_STATUS) & GPU_CE_HALTED)
			return -EIO;
		addr += len;
	}
	memset_io(bar1, 0, PAGE_SIZE);
	return 0;
}

/* The scrub proper, with memory decoding on and bus mastering off. */
static int pciesim_gpu_scrub_vram(struct pciesim_vfio_device *pvdev)
{
	struct pci_dev *pdev = pvdev->core_device.pdev;
	void __iomem *regs = pvdev->gpu.regs, *bar1;
	u32 count;
	int ret;

	bar1 = pci_iomap(pdev, 1, PAGE_SIZE);
	if (!bar1)
		return -ENOMEM;
	iowrite32(0, regs + GPU_INTR_ENABLE);
	iowrite32(0, regs + GPU_BAR1_BLOCK);  /* physical: BAR1 offset = VRAM address */
	if (ioread32(regs + GPU_CE_STATUS) & (GPU_CE_BUSY | GPU_CE_HALTED)) {
		ret = -EBUSY;  /* the reset did not stop the engine */
		goto out;
	}
	ret = pciesim_gpu_fill_vram(pvdev, regs, bar1);
	count = ioread32(regs + GPU_INVAL_COUNT);
	iowrite32(GPU_INVAL_TRIGGER | GPU_INVAL_ALL, regs + GPU_INVALIDATE);
	if (!ret)
		ret = pciesim_wait_reg(regs + GPU_INVALIDATE, GPU_INVAL_TRIGGER, 0, GPU_INVAL_TIMEOUT_MS);
	if (!ret && (ioread32(regs + GPU_INVAL_COUNT) == count || ioread32(bar1)))
		ret = -EIO;
	iowrite32(~0u, regs + GPU_INTR_STATUS);
out:
	pci_iounmap(pdev, bar1);
	return ret;
}

int pciesim_gpu_scrub(struct pciesim_vfio_device *pvdev, bool reset_done)
{
	struct pci_dev *pdev = pvdev->core_device.pdev;
	u16 cmd;
	int ret, err;

	if (!pciesim_scrub)
		return 0;
	/* a clean copy engine and TLB first; the registers come back with the second reset */
	ret = reset_done ? 0 : pci_try_reset_function(pdev);
	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	pci_write_config_word(pdev, PCI_COMMAND,
			      (cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE) & ~PCI_COMMAND_MASTER);
	err = pciesim_gpu_scrub_vram(pvdev);
	pci_write_config_word(pdev, PCI_COMMAND, cmd);
	if (!ret)
		ret = err;
	err = pci_try_reset_function(pdev);
	if (!ret)
		ret = err;

	pvdev->scrubs++;
	pvdev->last_scrub = ret;
	if (ret)
		pci_warn(pdev, "GPU scrub failed (%d): VRAM may keep the previous user's data\n", ret);
	else
		pci_dbg(pdev, "GPU scrubbed (%llu bytes of VRAM, GMMU TLB)\n", (unsigned long long)pvdev->gpu.vram_size);
	return ret;
}

void pciesim_gpu_close(struct pciesim_vfio_device *pvdev)
{
	pciesim_gpu_scrub(pvdev, false);
	pci_iounmap(pvdev->core_device.pdev, pvdev->gpu.regs);
	pvdev->gpu.regs = NULL;
}
