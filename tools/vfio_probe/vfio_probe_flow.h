/* vfio_probe's flows share one state and the steps every VFIO user takes (vfio_probe_common.c):
 * the edu flow (vfio_probe.c) and the GPU flow (vfio_probe_gpu.c) are built on them. Internal to
 * the tool: the public interface is vfio_probe.h. */
#ifndef PCIESIM_VFIO_PROBE_FLOW_H
#define PCIESIM_VFIO_PROBE_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "vfio_probe.h"
#include "vfio_probe_json.h"

#define PROBE_PAGE 4096ul
#define PROBE_MSI_IOVA 0xfee00000ull /* the x86 interrupt window type1 refuses to map */
#define PROBE_POLL_MS 5
#define PROBE_FAULT_WAIT_MS 2000
#define PROBE_MAX_AREAS 4            /* mmap'ed pieces of one BAR (its sparse mmap areas) */

/* A BAR as the probe reaches it: the pieces it could mmap (the whole BAR, or each area of its
 * sparse mmap capability), and the region's offset in the device file for the rest, which goes
 * through pread/pwrite as QEMU does for the trapped parts of a sparse BAR. */
struct probe_bar {
	uint64_t region_offset, region_size;
	int n;
	volatile uint8_t *map[PROBE_MAX_AREAS];
	uint64_t off[PROBE_MAX_AREAS], size[PROBE_MAX_AREAS];
};

struct probe {
	const struct vfio_probe_sys *sys;
	const struct vfio_probe_options *opt;
	struct pj j;
	int container, group, device, msi_fd, kmsg;
	int aux_fd;          /* a second interrupt eventfd (closed by teardown) */
	unsigned irq_index;  /* the IRQ index msi_fd is set on (teardown disables it) */
	unsigned map_bars;   /* bit i: probe_step_device mmaps BAR i */
	struct probe_bar bars[6];
	uint8_t *buf;        /* buf_size bytes of anonymous memory for DMA */
	size_t buf_size;
	uint64_t config_off; /* the config region's offset in the device file */
	int stopped;
};

void probe_init(struct probe *p, const struct vfio_probe_sys *sys, const struct vfio_probe_options *opt, FILE *out,
		unsigned map_bars, size_t buf_size);
/* Runs `steps` in order until one stops the flow, tears down, closes the document: 0 or 1. */
int probe_run_steps(struct probe *p, void (*const *steps)(struct probe *), size_t n);

long probe_ioctl(struct probe *p, int fd, unsigned long req, void *arg);
/* Records where and why the flow stopped; later steps do not run. */
void probe_stop(struct probe *p, const char *step, long rc);
long probe_cfg_read16(struct probe *p, unsigned off, uint16_t *v);
long probe_cfg_write16(struct probe *p, unsigned off, uint16_t v);
long probe_set_command_bits(struct probe *p, uint16_t set, uint16_t clear);
/* A dword of BAR `bar` at `off`: through its mapping where one covers it, else pread/pwrite.
 * A failed read returns all ones, as a bus error does. */
uint32_t probe_bar_rd(struct probe *p, int bar, uint64_t off);
long probe_bar_wr(struct probe *p, int bar, uint64_t off, uint32_t v);
/* Waits for interrupt eventfd `fd` (p->msi_fd, p->aux_fd); returns its counter (0: nothing arrived). */
uint64_t probe_wait_eventfd(struct probe *p, int fd, int timeout_ms);
int probe_all_bytes(const uint8_t *b, size_t n, uint8_t v);
void probe_fill_pattern(uint8_t *b, size_t n);
long probe_map_dma(struct probe *p, void *vaddr, uint64_t iova, uint64_t size);
long probe_unmap_dma(struct probe *p, uint64_t iova, uint64_t size, uint64_t *unmapped);
/* Opens object `key`, maps the first two buffer pages at opt->iova (MAP_DMA), records the map's
 * result, the IOVA and the transfer size, and fills the source page with the pattern and zeroes
 * the destination page: the MAP_DMA result. */
long probe_begin_dma(struct probe *p, const char *key);
/* Triggers vectors 0 .. (fd >= 0) of IRQ index `index` (MSI, MSI-X) on eventfd `fd`; fd < 0 disables. */
long probe_set_irq(struct probe *p, unsigned index, int fd);

void probe_step_container(struct probe *p);
void probe_step_group(struct probe *p);
void probe_step_iommu_info(struct probe *p);
void probe_step_device(struct probe *p);
/* Opens /dev/kmsg at its end (p->kmsg) so the next DMAR lines can be read. */
void probe_open_kmsg(struct probe *p);
/* Reads up to `want` DMAR fault lines into a "lines" array; returns how many. */
int probe_read_dmar_faults(struct probe *p, int want);
void probe_teardown(struct probe *p);

#endif /* PCIESIM_VFIO_PROBE_FLOW_H */
