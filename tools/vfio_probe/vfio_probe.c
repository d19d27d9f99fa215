/* vfio_probe: the VFIO flow for one edu device, step by step, recorded as JSON (vfio_probe.h).
 * Every step records what it observed, including failures; a step that later steps depend on
 * ends the flow when it fails ("stopped": the step and its errno). */
#include "vfio_probe.h"
#include "vfio_probe_flow.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vfio_probe_json.h"

/* QEMU's edu (hw/misc/edu.c; docs/edu.md): BAR0 registers */
#define EDU_ID 0x00
#define EDU_LIVENESS 0x04
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_DMA_RUN 0x1
#define EDU_DMA_TO_RAM 0x2
#define EDU_DMA_IRQ 0x4
#define EDU_DMA_IRQ_VALUE 0x100
#define EDU_BUFFER 0x40000
#define EDU_PROBE_IRQ 0x1           /* the value the probe raises through EDU_IRQ_RAISE */
#define EDU_LIVENESS_VALUE 0x12345678u

#define PROBE_DMA_TIMEOUT_MS 2000    /* edu completes a transfer 100 ms after the command */

static uint32_t rd(struct probe *p, unsigned off) { return probe_bar_rd(p, 0, off); }
static void wr(struct probe *p, unsigned off, uint32_t v) { probe_bar_wr(p, 0, off, v); }

/* One edu DMA: program the engine, start it, wait for the run bit to clear. */
static int edu_dma(struct probe *p, uint64_t src, uint64_t dst, uint32_t cmd)
{
	wr(p, EDU_DMA_SRC, (uint32_t)src);
	wr(p, EDU_DMA_SRC + 4, (uint32_t)(src >> 32));
	wr(p, EDU_DMA_DST, (uint32_t)dst);
	wr(p, EDU_DMA_DST + 4, (uint32_t)(dst >> 32));
	wr(p, EDU_DMA_CNT, p->opt->dma_len);
	wr(p, EDU_DMA_CMD, cmd | EDU_DMA_RUN);
	for (int waited = 0; waited <= PROBE_DMA_TIMEOUT_MS; waited += PROBE_POLL_MS) {
		if (!(rd(p, EDU_DMA_CMD) & EDU_DMA_RUN))
			return 0;
		p->sys->usleep(PROBE_POLL_MS * 1000);
	}
	return -ETIMEDOUT;
}

static void step_config_and_bar0(struct probe *p)
{
	uint16_t ids[2] = { 0, 0 };
	long rc = p->sys->pread(p->device, ids, 4, (long long)p->config_off);
	pj_object(&p->j, "config");
	pj_result(&p->j, "read", rc);
	pj_hex(&p->j, "vendor", ids[0]);
	pj_hex(&p->j, "device", ids[1]);
	pj_close_object(&p->j);
	if (!p->bars[0].n)
		{ probe_stop(p, "mmap BAR0", -ENODEV); return; }
	/* VFIO leaves the command register as the device had it: memory decoding and bus mastering
	 * are the user's to enable, or MMIO reads all ones and DMA silently does nothing. */
	rc = probe_set_command_bits(p, 0x2 | 0x4, 0);
	pj_object(&p->j, "bar0");
	pj_result(&p->j, "enable_memory_and_bus_master", rc);
	pj_hex(&p->j, "ident", rd(p, EDU_ID));
	wr(p, EDU_LIVENESS, EDU_LIVENESS_VALUE);
	pj_hex(&p->j, "liveness_wrote", EDU_LIVENESS_VALUE);
	pj_hex(&p->j, "liveness_read", rd(p, EDU_LIVENESS));
	pj_close_object(&p->j);
}

static void step_msi(struct probe *p)
{
	pj_object(&p->j, "msi");
	p->msi_fd = p->sys->eventfd(0, 0);
	pj_result(&p->j, "eventfd", p->msi_fd < 0 ? p->msi_fd : 0);
	if (p->msi_fd >= 0) {
		long rc = probe_set_irq(p, VFIO_PCI_MSI_IRQ_INDEX, p->msi_fd);
		pj_result(&p->j, "set_irqs", rc);
		if (rc == 0) {
			wr(p, EDU_IRQ_RAISE, EDU_PROBE_IRQ);
			pj_int(&p->j, "eventfd_count", (long long)probe_wait_eventfd(p, p->msi_fd, 1000));
			pj_hex(&p->j, "irq_status", rd(p, EDU_IRQ_STATUS));
			wr(p, EDU_IRQ_ACK, EDU_PROBE_IRQ);
			pj_hex(&p->j, "irq_status_after_ack", rd(p, EDU_IRQ_STATUS));
		}
	}
	pj_close_object(&p->j);
}

static void step_dma(struct probe *p)
{
	const uint64_t iova = p->opt->iova;
	const size_t n = p->opt->dma_len;
	uint8_t *src = p->buf, *dst = p->buf + PROBE_PAGE;
	long rc = probe_begin_dma(p, "dma");
	if (rc == 0) {
		pj_result(&p->j, "ram_to_device", edu_dma(p, iova, EDU_BUFFER, 0));
		pj_result(&p->j, "device_to_ram", edu_dma(p, EDU_BUFFER, iova + PROBE_PAGE, EDU_DMA_TO_RAM | EDU_DMA_IRQ));
		pj_bool(&p->j, "data_equal", memcmp(src, dst, n) == 0);
		if (p->msi_fd >= 0) {
			pj_int(&p->j, "completion_msi", (long long)probe_wait_eventfd(p, p->msi_fd, 1000));
			wr(p, EDU_IRQ_ACK, EDU_DMA_IRQ_VALUE);
		}
	}
	pj_close_object(&p->j);
	if (rc != 0)
		{ probe_stop(p, "VFIO_IOMMU_MAP_DMA", rc); return; }

	/* Bus Master Enable clear: the device must not write memory. */
	pj_object(&p->j, "dma_bus_master_off");
	memset(dst, 0x5a, PROBE_PAGE);
	pj_result(&p->j, "disable", probe_set_command_bits(p, 0, 0x4));
	pj_result(&p->j, "device_to_ram", edu_dma(p, EDU_BUFFER, iova + PROBE_PAGE, EDU_DMA_TO_RAM));
	pj_bool(&p->j, "memory_written", !probe_all_bytes(dst, PROBE_PAGE, 0x5a));
	pj_result(&p->j, "enable", probe_set_command_bits(p, 0x4, 0));
	pj_close_object(&p->j);
}

static void step_faults(struct probe *p)
{
	const uint64_t iova = p->opt->iova;
	const size_t n = p->opt->dma_len;
	uint8_t *dst = p->buf + PROBE_PAGE, *spare = p->buf + 2 * PROBE_PAGE;
	uint64_t unmapped = 0;
	long rc = probe_unmap_dma(p, iova, 2 * PROBE_PAGE, &unmapped);
	pj_object(&p->j, "unmap");
	pj_result(&p->j, "result", rc);
	pj_hex(&p->j, "size", unmapped);
	pj_close_object(&p->j);

	/* The kernel log, from its end: the faults below are the next DMAR lines. */
	probe_open_kmsg(p);

	pj_object(&p->j, "faults");
	pj_result(&p->j, "kmsg", p->kmsg < 0 ? p->kmsg : 0);
	memset(dst, 0xa5, PROBE_PAGE);
	pj_result(&p->j, "device_to_ram", edu_dma(p, EDU_BUFFER, iova + PROBE_PAGE, EDU_DMA_TO_RAM));
	pj_bool(&p->j, "write_left_memory_unchanged", probe_all_bytes(dst, PROBE_PAGE, 0xa5));
	pj_result(&p->j, "ram_to_device", edu_dma(p, iova, EDU_BUFFER, 0));
	/* What did the faulted read leave in the device? Copy the buffer out through a fresh mapping. */
	const uint64_t check_iova = iova + 0x100000;
	memset(spare, 0x5a, PROBE_PAGE);
	rc = probe_map_dma(p, spare, check_iova, PROBE_PAGE);
	if (rc == 0) {
		edu_dma(p, EDU_BUFFER, check_iova, EDU_DMA_TO_RAM);
		pj_bool(&p->j, "read_filled_device_buffer_with_zeros", probe_all_bytes(spare, n, 0));
		probe_unmap_dma(p, check_iova, PROBE_PAGE, NULL);
	} else {
		pj_result(&p->j, "check_map", rc);
	}
	probe_read_dmar_faults(p, 2);
	pj_close_object(&p->j);
}

static void step_msi_window(struct probe *p)
{
	pj_object(&p->j, "map_msi_window");
	pj_hex(&p->j, "iova", PROBE_MSI_IOVA);
	pj_result(&p->j, "result", probe_map_dma(p, p->buf, PROBE_MSI_IOVA, PROBE_PAGE));
	pj_close_object(&p->j);
}

int vfio_probe_run(const struct vfio_probe_sys *sys, const struct vfio_probe_options *opt, FILE *out)
{
	static void (*const steps[])(struct probe *) = {
		probe_step_container, probe_step_group, probe_step_iommu_info, probe_step_device, step_config_and_bar0,
		step_msi, step_dma, step_faults, step_msi_window,
	};
	struct probe p;
	probe_init(&p, sys, opt, out, 1u << VFIO_PCI_BAR0_REGION_INDEX, 3 * PROBE_PAGE);
	return probe_run_steps(&p, steps, sizeof(steps) / sizeof(steps[0]));
}
