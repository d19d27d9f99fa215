/* vfio_probe's GPU flow (vfio_probe.h vfio_probe_gpu_run; docs/vfio-probe.md, "The GPU flow"):
 * the pciesim GPU (models/devices/gpu/gpu_regs.h) driven through VFIO as a user-space driver
 * would: BARs mapped as their sparse mmap capabilities allow, GMMU page tables built in VRAM
 * through BAR1, system memory mapped with MAP_DMA and reached through system-aperture PTEs, the
 * copy engine moving system memory -> VRAM -> system memory with a semaphore and an MSI-X, then
 * an IOMMU fault (the IOVA unmapped) and a GMMU fault (an invalid PTE) each observed with its
 * reason, and the driver's trapped invalidation window. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vfio_probe.h"
#include "vfio_probe_flow.h"

/* BAR0 registers (gpu_regs.h) */
#define GPU_BOOT0 0x000000
#define GPU_VRAM_SIZE_LO 0x000008
#define GPU_VRAM_SIZE_HI 0x00000c
#define GPU_MMU_FORMAT 0x000010
#define GPU_MMU_V3 3
#define GPU_CAPS 0x000014
#define GPU_INTR_STATUS 0x000100
#define GPU_INTR_ENABLE 0x000104
#define GPU_INTR_CE_DONE 0x1
#define GPU_INTR_CE_ERROR 0x2
#define GPU_INTR_MMU_FAULT 0x4
#define GPU_CTX_INST 0x001000 /* context 0: +0 LO, +4 HI */
#define GPU_INST_VALID 0x4
#define GPU_BAR1_BLOCK 0x001800
#define GPU_INVAL_CTX 0x002000
#define GPU_INVALIDATE 0x00200c
#define GPU_INVAL_CONTEXT 1
#define GPU_INVAL_TRIGGER 0x80000000u
#define GPU_INVAL_WINDOW 0x002000
#define GPU_FAULT_BUF_LO 0x003000
#define GPU_FAULT_BUF_HI 0x003004
#define GPU_FAULT_BUF_SIZE 0x003008
#define GPU_FAULT_GET 0x00300c
#define GPU_FAULT_PUT 0x003010
#define GPU_FAULT_CTRL 0x003014
#define GPU_FAULT_ENABLE 0x1
#define GPU_CE_CTX 0x004000
#define GPU_CE_RING_LO 0x004004
#define GPU_CE_RING_HI 0x004008
#define GPU_CE_RING_SIZE 0x00400c
#define GPU_CE_PUT 0x004010
#define GPU_CE_GET 0x004014
#define GPU_CE_STATUS 0x004018
#define GPU_CE_CTRL 0x00401c
#define GPU_CE_COMPLETED 0x004020
#define GPU_CE_BUSY 0x1
#define GPU_CE_HALTED 0x2
#define GPU_CE_RESUME 0x1
#define GPU_CE_OP_COPY 1
#define GPU_CE_FLAG_SEMAPHORE 0x1
#define GPU_CE_FLAG_INTERRUPT 0x2
#define GPU_MSIX_CE 0
#define GPU_MSIX_MMU_FAULT 1

/* Where the flow puts things in VRAM (reached through BAR1 in physical mode) */
#define VRAM_INSTANCE 0x10000ull
#define VRAM_TABLES 0x20000ull /* one 4 KiB table per level, root first */
#define VRAM_RING 0x30000ull
#define VRAM_SEMAPHORE 0x31000ull
#define VRAM_BUFFER 0x40000ull
#define VRAM_FAULT_BUF 0x50000ull
#define VRAM_NEEDED 0x60000ull
#define RING_ENTRIES 64
#define FAULT_ENTRIES 16
#define SEM_PAYLOAD 0x600dc0de5eull

/* GPU virtual pages of context 0, from VA_BASE (PD0 entry 1: VA[28:21] = 1) */
#define VA_BASE 0x200000ull
#define VA_PAGE(n) (VA_BASE + (uint64_t)(n) * PROBE_PAGE)
enum { PG_RING, PG_SEM, PG_VRAM0, PG_VRAM1, PG_SYS_SRC, PG_SYS_DST, PG_UNMAPPED, PG_COUNT };

/* PTE / PDE apertures (hardware-facts 4.2, 4.3) */
#define AP_PDE_VIDEO 1ull
#define AP_PTE_VIDEO 0ull
#define AP_PTE_SYS_COHERENT 2ull

#define CE_TIMEOUT_MS 2000

static int is_v3(struct probe *p) { return probe_bar_rd(p, 0, GPU_MMU_FORMAT) == GPU_MMU_V3; }
static uint32_t g_rd(struct probe *p, uint32_t off) { return probe_bar_rd(p, 0, off); }
static void g_wr(struct probe *p, uint32_t off, uint32_t v) { probe_bar_wr(p, 0, off, v); }
static void vram_wr64(struct probe *p, uint64_t addr, uint64_t v)
{
	probe_bar_wr(p, 1, addr, (uint32_t)v);
	probe_bar_wr(p, 1, addr + 4, (uint32_t)(v >> 32));
}
static uint64_t vram_rd64(struct probe *p, uint64_t addr)
{
	return probe_bar_rd(p, 1, addr) | (uint64_t)probe_bar_rd(p, 1, addr + 4) << 32;
}

/* Directory entry pointing at a 4 KiB table in VRAM (v2: address >> 12 at bit 8; v3: bits 51:12). */
static uint64_t pde_video(int v3, uint64_t table)
{
	return v3 ? (table | AP_PDE_VIDEO << 1) : ((table >> 12) << 8 | AP_PDE_VIDEO << 1);
}
/* The small-table half of a PD0 dual entry (the high 8 bytes; the big half stays invalid):
 * v2 aperture 66:65, address 96:72 >> 12; v3 aperture 66:65, address 115:76 >> 12. */
static uint64_t dual_small_video(int v3, uint64_t table)
{
	return v3 ? (table | AP_PDE_VIDEO << 1) : ((table >> 12) << 8 | AP_PDE_VIDEO << 1);
}
/* A valid 4 KiB PTE, read-write, cached, kind 0. */
static uint64_t pte(int v3, uint64_t ap, uint64_t addr)
{
	return v3 ? (addr | ap << 1 | 1) : ((addr >> 12) << 8 | ap << 1 | 1);
}

static void submit(struct probe *p, unsigned slot, uint32_t op, uint32_t flags, uint64_t src, uint64_t dst,
		   uint64_t len, uint64_t sem)
{
	uint64_t cmd[8] = { (uint64_t)flags << 32 | op, src, dst, len, sem, SEM_PAYLOAD, 0, 0 };
	for (unsigned i = 0; i < 8; ++i)
		vram_wr64(p, VRAM_RING + (slot % RING_ENTRIES) * 64 + i * 8, cmd[i]);
	g_wr(p, GPU_CE_PUT, (slot + 1) % RING_ENTRIES);
}

/* Waits until the engine has taken every command or stopped: its STATUS. */
static uint32_t ce_wait(struct probe *p)
{
	for (int waited = 0; waited <= CE_TIMEOUT_MS; waited += PROBE_POLL_MS) {
		uint32_t st = g_rd(p, GPU_CE_STATUS);
		if ((st & GPU_CE_HALTED) || (!(st & GPU_CE_BUSY) && g_rd(p, GPU_CE_GET) == g_rd(p, GPU_CE_PUT)))
			return st;
		p->sys->usleep(PROBE_POLL_MS * 1000);
	}
	return g_rd(p, GPU_CE_STATUS);
}

static void ce_status(struct probe *p, uint32_t st)
{
	pj_hex(&p->j, "ce_status", st);
	pj_bool(&p->j, "halted", (st & GPU_CE_HALTED) != 0);
	pj_int(&p->j, "ce_error", (st >> 8) & 0xff);
	pj_int(&p->j, "ce_get", g_rd(p, GPU_CE_GET));
}

static void step_identity(struct probe *p)
{
	uint16_t ids[2] = { 0, 0 };
	pj_object(&p->j, "gpu");
	pj_result(&p->j, "config_read", p->sys->pread(p->device, ids, 4, (long long)p->config_off));
	pj_hex(&p->j, "vendor", ids[0]);
	pj_hex(&p->j, "device", ids[1]);
	pj_result(&p->j, "enable_memory_and_bus_master", probe_set_command_bits(p, 0x2 | 0x4, 0));
	const uint64_t vram = g_rd(p, GPU_VRAM_SIZE_LO) | (uint64_t)g_rd(p, GPU_VRAM_SIZE_HI) << 32;
	pj_hex(&p->j, "boot0", g_rd(p, GPU_BOOT0));
	pj_hex(&p->j, "vram_size", vram);
	pj_hex(&p->j, "mmu_format", g_rd(p, GPU_MMU_FORMAT));
	pj_int(&p->j, "contexts", g_rd(p, GPU_CAPS) & 0xff);

	/* the variant driver's info region: the first device-specific region */
	struct vfio_region_info r = { .argsz = sizeof(r), .index = VFIO_PCI_NUM_REGIONS };
	uint8_t info[56];
	if (probe_ioctl(p, p->device, VFIO_DEVICE_GET_REGION_INFO, &r) == 0 &&
	    p->sys->pread(p->device, info, sizeof(info), (long long)r.offset) == (long)sizeof(info)) {
		uint32_t w[14];
		memcpy(w, info, sizeof(w));
		pj_object(&p->j, "driver_info");
		pj_hex(&p->j, "magic", w[0]);
		pj_hex(&p->j, "bar1_mappable", w[6] | (uint64_t)w[7] << 32);
		pj_hex(&p->j, "inval_offset", w[8]);
		pj_hex(&p->j, "inval_size", w[9]);
		pj_int(&p->j, "scrubs", w[10]);
		pj_int(&p->j, "last_scrub", (int32_t)w[11]);
		pj_close_object(&p->j);
	}
	pj_close_object(&p->j);
	if (!p->bars[0].n || !p->bars[1].n)
		{ probe_stop(p, "mmap BAR0 and BAR1", -ENODEV); return; }
	if (vram < VRAM_NEEDED)
		probe_stop(p, "VRAM too small for the flow's tables", -ENOSPC);
}

/* Two eventfds on MSI-X vectors 0 (copy engine) and 1 (MMU fault). */
static void step_msix(struct probe *p)
{
	struct {
		struct vfio_irq_set set;
		int32_t fd[2];
	} req = { .set = { .argsz = sizeof(req), .index = VFIO_PCI_MSIX_IRQ_INDEX, .start = 0, .count = 2,
			   .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER } };
	pj_object(&p->j, "msix");
	p->msi_fd = p->sys->eventfd(0, 0);
	p->aux_fd = p->sys->eventfd(0, 0);
	pj_result(&p->j, "eventfds", p->msi_fd < 0 ? p->msi_fd : p->aux_fd < 0 ? p->aux_fd : 0);
	req.fd[GPU_MSIX_CE] = p->msi_fd;
	req.fd[GPU_MSIX_MMU_FAULT] = p->aux_fd;
	long rc = probe_ioctl(p, p->device, VFIO_DEVICE_SET_IRQS, &req);
	pj_result(&p->j, "set_irqs", rc);
	if (rc == 0)
		p->irq_index = VFIO_PCI_MSIX_IRQ_INDEX;
	g_wr(p, GPU_INTR_ENABLE, GPU_INTR_CE_DONE | GPU_INTR_CE_ERROR | GPU_INTR_MMU_FAULT);
	pj_close_object(&p->j);
}

/* Page tables for context 0 in VRAM, written through BAR1 in physical mode. */
static void step_tables(struct probe *p)
{
	const int v3 = is_v3(p);
	const unsigned dirs = v3 ? 4 : 3; /* levels above PD0 */
	const uint64_t pd0 = VRAM_TABLES + dirs * PROBE_PAGE, pt = pd0 + PROBE_PAGE;
	const uint64_t iova = p->opt->iova;
	static const uint64_t vram_page[PG_COUNT] = {
		[PG_RING] = VRAM_RING, [PG_SEM] = VRAM_SEMAPHORE, [PG_VRAM0] = VRAM_BUFFER,
		[PG_VRAM1] = VRAM_BUFFER + PROBE_PAGE,
	};

	pj_object(&p->j, "tables");
	pj_str(&p->j, "format", v3 ? "v3" : "v2");
	g_wr(p, GPU_BAR1_BLOCK, 0); /* physical */
	/* zero what the flow uses: the tables, the instance block, ring, semaphore, fault buffer */
	for (uint64_t a = 0; a < dirs + 2; ++a)
		for (uint64_t o = 0; o < PROBE_PAGE; o += 8)
			vram_wr64(p, VRAM_TABLES + a * PROBE_PAGE + o, 0);
	for (uint64_t o = 0; o < PROBE_PAGE; o += 8) {
		vram_wr64(p, VRAM_INSTANCE + o, 0);
		vram_wr64(p, VRAM_RING + o, 0);
		vram_wr64(p, VRAM_SEMAPHORE + o, 0);
		vram_wr64(p, VRAM_FAULT_BUF + o, 0);
	}
	/* root ... PD1: entry 0 points at the next level (VA_BASE has no bits above 28) */
	for (unsigned l = 0; l < dirs; ++l)
		vram_wr64(p, VRAM_TABLES + l * PROBE_PAGE, pde_video(v3, VRAM_TABLES + (l + 1) * PROBE_PAGE));
	/* PD0 entry 1 (16 bytes): big half invalid, small half -> the PT */
	vram_wr64(p, pd0 + 16, 0);
	vram_wr64(p, pd0 + 24, dual_small_video(v3, pt));
	for (unsigned i = 0; i < PG_COUNT; ++i) {
		uint64_t e = 0;
		if (i == PG_SYS_SRC || i == PG_SYS_DST)
			e = pte(v3, AP_PTE_SYS_COHERENT, iova + (i - PG_SYS_SRC) * PROBE_PAGE);
		else if (i != PG_UNMAPPED)
			e = pte(v3, AP_PTE_VIDEO, vram_page[i]);
		vram_wr64(p, pt + i * 8, e);
	}
	/* instance block: PDB in dwords 128/129 (target video, USE_VER2_PT_FORMAT, 64 KiB big pages) */
	probe_bar_wr(p, 1, VRAM_INSTANCE + 128 * 4, (uint32_t)VRAM_TABLES | 1u << 10 | 1u << 11);
	probe_bar_wr(p, 1, VRAM_INSTANCE + 129 * 4, 0);
	g_wr(p, GPU_CTX_INST, (uint32_t)VRAM_INSTANCE | GPU_INST_VALID);
	g_wr(p, GPU_CTX_INST + 4, 0);
	/* fault buffer in VRAM, copy engine on context 0 with its ring at VA page PG_RING */
	g_wr(p, GPU_FAULT_BUF_LO, (uint32_t)VRAM_FAULT_BUF);
	g_wr(p, GPU_FAULT_BUF_HI, 0);
	g_wr(p, GPU_FAULT_BUF_SIZE, FAULT_ENTRIES);
	g_wr(p, GPU_FAULT_CTRL, GPU_FAULT_ENABLE);
	g_wr(p, GPU_CE_CTX, 0);
	g_wr(p, GPU_CE_RING_LO, (uint32_t)VA_PAGE(PG_RING));
	g_wr(p, GPU_CE_RING_HI, (uint32_t)(VA_PAGE(PG_RING) >> 32));
	g_wr(p, GPU_CE_RING_SIZE, RING_ENTRIES);
	pj_hex(&p->j, "instance", VRAM_INSTANCE);
	pj_hex(&p->j, "root", VRAM_TABLES);
	pj_hex(&p->j, "va_base", VA_BASE);
	pj_hex(&p->j, "pt_entry_sys_src", vram_rd64(p, pt + PG_SYS_SRC * 8));
	pj_close_object(&p->j);
}

/* system memory -> VRAM -> system memory, the second copy with a semaphore and an interrupt */
static void step_copy(struct probe *p)
{
	const size_t n = p->opt->dma_len;
	uint8_t *src = p->buf, *dst = p->buf + PROBE_PAGE;
	long rc = probe_begin_dma(p, "copy");
	if (rc == 0) {
		unsigned slot = g_rd(p, GPU_CE_GET);
		submit(p, slot, GPU_CE_OP_COPY, 0, VA_PAGE(PG_SYS_SRC), VA_PAGE(PG_VRAM0), n, 0);
		submit(p, slot + 1, GPU_CE_OP_COPY, GPU_CE_FLAG_SEMAPHORE | GPU_CE_FLAG_INTERRUPT, VA_PAGE(PG_VRAM0),
		       VA_PAGE(PG_SYS_DST), n, VA_PAGE(PG_SEM));
		pj_int(&p->j, "ce_msi", (long long)probe_wait_eventfd(p, p->msi_fd, CE_TIMEOUT_MS));
		ce_status(p, ce_wait(p));
		pj_int(&p->j, "ce_completed", g_rd(p, GPU_CE_COMPLETED));
		pj_hex(&p->j, "semaphore", vram_rd64(p, VRAM_SEMAPHORE));
		pj_hex(&p->j, "intr_status", g_rd(p, GPU_INTR_STATUS));
		g_wr(p, GPU_INTR_STATUS, GPU_INTR_CE_DONE);
		int vram_equal = 1;
		for (size_t i = 0; i + 4 <= n && vram_equal; i += 4) {
			uint32_t want;
			memcpy(&want, src + i, 4);
			vram_equal = probe_bar_rd(p, 1, VRAM_BUFFER + i) == want;
		}
		pj_bool(&p->j, "vram_equal", vram_equal);
		pj_bool(&p->j, "data_equal", memcmp(src, dst, n) == 0);
	}
	pj_close_object(&p->j);
	if (rc != 0)
		probe_stop(p, "VFIO_IOMMU_MAP_DMA", rc);
}

/* The IOVAs unmapped: the engine's read of system memory faults in the IOMMU. */
static void step_iommu_fault(struct probe *p)
{
	uint64_t unmapped = 0;
	pj_object(&p->j, "iommu_fault");
	pj_result(&p->j, "unmap", probe_unmap_dma(p, p->opt->iova, 2 * PROBE_PAGE, &unmapped));
	pj_hex(&p->j, "unmapped", unmapped);
	probe_open_kmsg(p);
	pj_result(&p->j, "kmsg", p->kmsg < 0 ? p->kmsg : 0);
	submit(p, g_rd(p, GPU_CE_GET), GPU_CE_OP_COPY, GPU_CE_FLAG_INTERRUPT, VA_PAGE(PG_SYS_SRC), VA_PAGE(PG_VRAM1),
	       p->opt->dma_len, 0);
	uint32_t st = ce_wait(p);
	ce_status(p, st);
	pj_hex(&p->j, "intr_status", g_rd(p, GPU_INTR_STATUS));
	probe_read_dmar_faults(p, 1);
	pj_close_object(&p->j);
}

/* Past the IOMMU fault, a copy from a VA with no valid PTE: a GMMU fault in the fault buffer. */
static void step_gmmu_fault(struct probe *p)
{
	pj_object(&p->j, "gmmu_fault");
	g_wr(p, GPU_CE_CTRL, GPU_CE_RESUME);
	g_wr(p, GPU_INTR_STATUS, ~0u);
	pj_hex(&p->j, "status_after_resume", g_rd(p, GPU_CE_STATUS));
	const uint32_t put_before = g_rd(p, GPU_FAULT_PUT);
	submit(p, g_rd(p, GPU_CE_GET), GPU_CE_OP_COPY, 0, VA_PAGE(PG_UNMAPPED), VA_PAGE(PG_VRAM1), 64, 0);
	pj_int(&p->j, "fault_msi", (long long)probe_wait_eventfd(p, p->aux_fd, CE_TIMEOUT_MS));
	ce_status(p, ce_wait(p));
	const uint32_t put = g_rd(p, GPU_FAULT_PUT);
	pj_int(&p->j, "fault_put", put);
	if (put != put_before) {
		const uint64_t e = VRAM_FAULT_BUF + (uint64_t)(put_before % FAULT_ENTRIES) * 32;
		uint32_t w[8];
		for (unsigned i = 0; i < 8; ++i)
			w[i] = probe_bar_rd(p, 1, e + i * 4);
		pj_object(&p->j, "entry");
		pj_hex(&p->j, "inst", (w[0] & ~0xfffu) | (uint64_t)w[1] << 32);
		pj_hex(&p->j, "va", (w[2] & ~0xfffu) | (uint64_t)w[3] << 32);
		pj_int(&p->j, "engine", w[6] & 0x1ff);
		pj_hex(&p->j, "fault_type", w[7] & 0x1f);
		pj_hex(&p->j, "client", (w[7] >> 8) & 0x7f);
		pj_int(&p->j, "access_type", (w[7] >> 16) & 0xf);
		pj_bool(&p->j, "valid", (w[7] >> 31) & 1);
		pj_close_object(&p->j);
		g_wr(p, GPU_FAULT_GET, put);
	}
	g_wr(p, GPU_CE_CTRL, GPU_CE_RESUME);
	/* acknowledge and mask everything before MSI-X goes: the device would fall back to INTx */
	g_wr(p, GPU_INTR_ENABLE, 0);
	g_wr(p, GPU_INTR_STATUS, ~0u);
	pj_hex(&p->j, "intr_status_after_ack", g_rd(p, GPU_INTR_STATUS));
	pj_close_object(&p->j);
}

/* The variant driver's trapped window: accepted and refused requests, mmap refused. */
static void step_invalidation(struct probe *p)
{
	const long long bar0 = (long long)p->bars[0].region_offset;
	uint32_t v;
	pj_object(&p->j, "invalidation");
	v = 0;
	pj_result(&p->j, "set_context", p->sys->pwrite(p->device, &v, 4, bar0 + GPU_INVAL_CTX));
	v = GPU_INVAL_TRIGGER | GPU_INVAL_CONTEXT;
	pj_result(&p->j, "by_context", p->sys->pwrite(p->device, &v, 4, bar0 + GPU_INVALIDATE));
	v = GPU_INVAL_TRIGGER | 3;
	pj_result(&p->j, "undefined_scope", p->sys->pwrite(p->device, &v, 4, bar0 + GPU_INVALIDATE));
	v = 0xff;
	pj_result(&p->j, "no_such_context", p->sys->pwrite(p->device, &v, 4, bar0 + GPU_INVAL_CTX));
	int err = 0;
	void *m = p->sys->mmap(PROBE_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, p->device, bar0 + GPU_INVAL_WINDOW, &err);
	pj_result(&p->j, "mmap_window", m ? 0 : -err);
	if (m)
		p->sys->munmap(m, PROBE_PAGE);
	struct vfio_region_info r = { .argsz = sizeof(r), .index = VFIO_PCI_NUM_REGIONS };
	uint32_t counts[2] = { 0, 0 };
	if (probe_ioctl(p, p->device, VFIO_DEVICE_GET_REGION_INFO, &r) == 0 &&
	    p->sys->pread(p->device, counts, sizeof(counts), (long long)r.offset + 0x30) == (long)sizeof(counts)) {
		pj_int(&p->j, "driver_invalidations", counts[0]);
		pj_int(&p->j, "driver_refused", counts[1]);
	}
	pj_close_object(&p->j);
}

int vfio_probe_gpu_run(const struct vfio_probe_sys *sys, const struct vfio_probe_options *opt, FILE *out)
{
	static void (*const steps[])(struct probe *) = {
		probe_step_container, probe_step_group, probe_step_iommu_info, probe_step_device, step_identity,
		step_msix, step_tables, step_copy, step_iommu_fault, step_gmmu_fault, step_invalidation,
	};
	struct probe p;
	probe_init(&p, sys, opt, out, 1u << VFIO_PCI_BAR0_REGION_INDEX | 1u << VFIO_PCI_BAR1_REGION_INDEX,
		   3 * PROBE_PAGE);
	pj_str(&p.j, "flow", "gpu");
	return probe_run_steps(&p, steps, sizeof(steps) / sizeof(steps[0]));
}

int vfio_probe_run_flow(const struct vfio_probe_sys *sys, const struct vfio_probe_options *opt, FILE *out)
{
	return opt->flow == VFIO_PROBE_FLOW_GPU ? vfio_probe_gpu_run(sys, opt, out) : vfio_probe_run(sys, opt, out);
}
