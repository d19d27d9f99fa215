/* vfio_probe: the VFIO flow for one edu device, step by step, recorded as JSON (vfio_probe.h).
 * Every step records what it observed, including failures; a step that later steps depend on
 * ends the flow when it fails ("stopped": the step and its errno). */
#include "vfio_probe.h"

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

#define PROBE_PAGE 4096ul
#define PROBE_MSI_IOVA 0xfee00000ull /* the x86 interrupt window type1 refuses to map */
#define PROBE_DMA_TIMEOUT_MS 2000    /* edu completes a transfer 100 ms after the command */
#define PROBE_POLL_MS 5
#define PROBE_FAULT_WAIT_MS 2000

struct probe {
	const struct vfio_probe_sys *sys;
	const struct vfio_probe_options *opt;
	struct pj j;
	int container, group, device, msi_fd, kmsg;
	volatile uint8_t *bar0;
	size_t bar0_size;
	uint8_t *buf;        /* three pages: source, destination, spare */
	uint64_t config_off; /* the config region's offset in the device file */
	int stopped;
};

static long probe_ioctl(struct probe *p, int fd, unsigned long req, void *arg)
{
	return p->sys->ioctl(fd, req, arg);
}

static void stop(struct probe *p, const char *step, long rc)
{
	pj_object(&p->j, "stopped");
	pj_str(&p->j, "step", step);
	pj_result(&p->j, "result", rc);
	pj_close_object(&p->j);
	p->stopped = 1;
}

static uint32_t rd(struct probe *p, unsigned off) { return p->sys->mmio_read32(p->bar0 + off); }
static void wr(struct probe *p, unsigned off, uint32_t v) { p->sys->mmio_write32(p->bar0 + off, v); }

static long cfg_read16(struct probe *p, unsigned off, uint16_t *v)
{
	return p->sys->pread(p->device, v, 2, (long long)(p->config_off + off));
}

static long cfg_write16(struct probe *p, unsigned off, uint16_t v)
{
	return p->sys->pwrite(p->device, &v, 2, (long long)(p->config_off + off));
}

static long set_command_bits(struct probe *p, uint16_t set, uint16_t clear)
{
	uint16_t cmd = 0;
	long rc = cfg_read16(p, 0x04, &cmd);
	if (rc < 0)
		return rc;
	cmd = (uint16_t)((cmd | set) & ~clear);
	return cfg_write16(p, 0x04, cmd);
}

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

/* Waits for the MSI eventfd; returns its counter (0: nothing arrived). */
static uint64_t wait_msi(struct probe *p, int timeout_ms)
{
	struct pollfd pfd = { .fd = p->msi_fd, .events = POLLIN };
	uint64_t count = 0;
	if (p->sys->poll(&pfd, 1, timeout_ms) > 0 && p->sys->read(p->msi_fd, &count, 8) == 8)
		return count;
	return 0;
}

static int all_bytes(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; ++i)
		if (b[i] != v)
			return 0;
	return 1;
}

static void fill_pattern(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; ++i)
		b[i] = (uint8_t)(i * 7 + 3);
}

static long map_dma(struct probe *p, void *vaddr, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uint64_t)(uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};
	return probe_ioctl(p, p->container, VFIO_IOMMU_MAP_DMA, &map);
}

static long unmap_dma(struct probe *p, uint64_t iova, uint64_t size, uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap), .iova = iova, .size = size };
	long rc = probe_ioctl(p, p->container, VFIO_IOMMU_UNMAP_DMA, &unmap);
	if (unmapped)
		*unmapped = unmap.size;
	return rc;
}

static void step_container(struct probe *p)
{
	static const struct { const char *name; unsigned long ext; } exts[] = {
		{ "type1", VFIO_TYPE1_IOMMU },
		{ "type1v2", VFIO_TYPE1v2_IOMMU },
		{ "noiommu", VFIO_NOIOMMU_IOMMU },
		{ "unmap_all", VFIO_UNMAP_ALL },
	};
	p->container = p->sys->open("/dev/vfio/vfio", O_RDWR);
	if (p->container < 0)
		{ stop(p, "open /dev/vfio/vfio", p->container); return; }
	pj_result(&p->j, "api_version", probe_ioctl(p, p->container, VFIO_GET_API_VERSION, NULL));
	pj_object(&p->j, "extensions");
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); ++i)
		pj_result(&p->j, exts[i].name, probe_ioctl(p, p->container, VFIO_CHECK_EXTENSION, (void *)exts[i].ext));
	pj_close_object(&p->j);
}

static void step_group(struct probe *p)
{
	char path[320], link[256];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", p->opt->device);
	long n = p->sys->readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		{ stop(p, "readlink iommu_group", n); return; }
	link[n] = '\0';
	const char *slash = strrchr(link, '/');
	const char *id = slash ? slash + 1 : link;
	pj_int(&p->j, "group", atoi(id));
	snprintf(path, sizeof(path), "/dev/vfio/%s", id);
	p->group = p->sys->open(path, O_RDWR);
	if (p->group < 0)
		{ stop(p, "open group", p->group); return; }
	struct vfio_group_status status = { .argsz = sizeof(status) };
	long rc = probe_ioctl(p, p->group, VFIO_GROUP_GET_STATUS, &status);
	pj_object(&p->j, "group_status");
	pj_result(&p->j, "result", rc);
	pj_hex(&p->j, "flags", status.flags);
	rc = probe_ioctl(p, p->group, VFIO_GROUP_SET_CONTAINER, &p->container);
	pj_result(&p->j, "set_container", rc);
	if (rc < 0) {
		pj_close_object(&p->j);
		{ stop(p, "VFIO_GROUP_SET_CONTAINER", rc); return; }
	}
	rc = probe_ioctl(p, p->container, VFIO_SET_IOMMU, (void *)(unsigned long)VFIO_TYPE1v2_IOMMU);
	pj_result(&p->j, "set_iommu", rc);
	status.flags = 0;
	probe_ioctl(p, p->group, VFIO_GROUP_GET_STATUS, &status);
	pj_hex(&p->j, "flags_after", status.flags);
	pj_close_object(&p->j);
	if (rc < 0)
		stop(p, "VFIO_SET_IOMMU", rc);
}

/* Capability chains are packed (Linux 6.1's vfio_info_cap_add adds no padding), so a capability
 * may start at any 4-byte offset: every field is copied out before use. */
static void iommu_caps(struct probe *p, const uint8_t *info, uint32_t argsz, uint32_t cap_offset)
{
	pj_array(&p->j, "caps");
	for (uint32_t off = cap_offset; off && off + sizeof(struct vfio_info_cap_header) <= argsz;) {
		struct vfio_info_cap_header h;
		memcpy(&h, info + off, sizeof(h));
		pj_object(&p->j, NULL);
		pj_int(&p->j, "id", h.id);
		pj_int(&p->j, "version", h.version);
		if (h.id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE &&
		    off + sizeof(struct vfio_iommu_type1_info_cap_iova_range) <= argsz) {
			struct vfio_iommu_type1_info_cap_iova_range r;
			memcpy(&r, info + off, sizeof(r));
			pj_array(&p->j, "iova_ranges");
			for (uint32_t i = 0; i < r.nr_iovas; ++i) {
				struct vfio_iova_range range;
				const size_t at = off + sizeof(r) + i * sizeof(range);
				if (at + sizeof(range) > argsz)
					break;
				memcpy(&range, info + at, sizeof(range));
				pj_object(&p->j, NULL);
				pj_hex(&p->j, "start", range.start);
				pj_hex(&p->j, "end", range.end);
				pj_close_object(&p->j);
			}
			pj_close_array(&p->j);
		} else if (h.id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL &&
			   off + sizeof(struct vfio_iommu_type1_info_dma_avail) <= argsz) {
			struct vfio_iommu_type1_info_dma_avail a;
			memcpy(&a, info + off, sizeof(a));
			pj_int(&p->j, "dma_avail", a.avail);
		} else if (h.id == VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION &&
			   off + sizeof(struct vfio_iommu_type1_info_cap_migration) <= argsz) {
			struct vfio_iommu_type1_info_cap_migration m;
			memcpy(&m, info + off, sizeof(m));
			pj_hex(&p->j, "pgsize_bitmap", m.pgsize_bitmap);
			pj_hex(&p->j, "max_dirty_bitmap_size", m.max_dirty_bitmap_size);
		}
		pj_close_object(&p->j);
		if (h.next <= off)
			break;  /* the chain only moves forward */
		off = h.next;
	}
	pj_close_array(&p->j);
}

static void step_iommu_info(struct probe *p)
{
	struct vfio_iommu_type1_info head = { .argsz = sizeof(head) };
	long rc = probe_ioctl(p, p->container, VFIO_IOMMU_GET_INFO, &head);
	pj_object(&p->j, "iommu_info");
	pj_result(&p->j, "result", rc);
	if (rc >= 0) {
		pj_hex(&p->j, "flags", head.flags);
		pj_hex(&p->j, "iova_pgsizes", head.iova_pgsizes);
		pj_int(&p->j, "argsz_needed", head.argsz);
		if ((head.flags & VFIO_IOMMU_INFO_CAPS) && head.argsz > sizeof(head) && head.argsz < 65536) {
			uint8_t *full = calloc(1, head.argsz);
			struct vfio_iommu_type1_info *info = (void *)full;
			info->argsz = head.argsz;
			if (full && probe_ioctl(p, p->container, VFIO_IOMMU_GET_INFO, info) == 0)
				iommu_caps(p, full, info->argsz, info->cap_offset);
			free(full);
		}
	}
	pj_close_object(&p->j);
}

static void region_caps(struct probe *p, const struct vfio_region_info *want)
{
	uint8_t *full = calloc(1, want->argsz);
	if (!full)
		return;
	struct vfio_region_info *info = (void *)full;
	info->argsz = want->argsz;
	info->index = want->index;
	if (probe_ioctl(p, p->device, VFIO_DEVICE_GET_REGION_INFO, info) == 0) {
		pj_array(&p->j, "caps");
		for (uint32_t off = info->cap_offset; off && off + sizeof(struct vfio_info_cap_header) <= info->argsz;) {
			struct vfio_info_cap_header h;
			memcpy(&h, full + off, sizeof(h));
			pj_object(&p->j, NULL);
			pj_int(&p->j, "id", h.id);
			if (h.id == VFIO_REGION_INFO_CAP_TYPE && off + sizeof(struct vfio_region_info_cap_type) <= info->argsz) {
				struct vfio_region_info_cap_type t;
				memcpy(&t, full + off, sizeof(t));
				pj_hex(&p->j, "type", t.type);
				pj_int(&p->j, "subtype", t.subtype);
			} else if (h.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP &&
				   off + sizeof(struct vfio_region_info_cap_sparse_mmap) <= info->argsz) {
				struct vfio_region_info_cap_sparse_mmap sp;
				memcpy(&sp, full + off, sizeof(sp));
				pj_array(&p->j, "areas");
				for (uint32_t i = 0; i < sp.nr_areas; ++i) {
					struct vfio_region_sparse_mmap_area area;
					const size_t at = off + sizeof(sp) + i * sizeof(area);
					if (at + sizeof(area) > info->argsz)
						break;
					memcpy(&area, full + at, sizeof(area));
					pj_object(&p->j, NULL);
					pj_hex(&p->j, "offset", area.offset);
					pj_hex(&p->j, "size", area.size);
					pj_close_object(&p->j);
				}
				pj_close_array(&p->j);
			}
			pj_close_object(&p->j);
			if (h.next <= off)
				break;
			off = h.next;
		}
		pj_close_array(&p->j);
	}
	free(full);
}

static void step_device(struct probe *p)
{
	p->device = probe_ioctl(p, p->group, VFIO_GROUP_GET_DEVICE_FD, (void *)p->opt->device);
	if (p->device < 0)
		{ stop(p, "VFIO_GROUP_GET_DEVICE_FD", p->device); return; }
	struct vfio_device_info dev = { .argsz = sizeof(dev) };
	long rc = probe_ioctl(p, p->device, VFIO_DEVICE_GET_INFO, &dev);
	pj_object(&p->j, "device_info");
	pj_result(&p->j, "result", rc);
	pj_hex(&p->j, "flags", dev.flags);
	pj_int(&p->j, "num_regions", dev.num_regions);
	pj_int(&p->j, "num_irqs", dev.num_irqs);
	pj_close_object(&p->j);
	if (rc < 0)
		{ stop(p, "VFIO_DEVICE_GET_INFO", rc); return; }

	pj_array(&p->j, "regions");
	for (uint32_t i = 0; i < dev.num_regions; ++i) {
		struct vfio_region_info r = { .argsz = sizeof(r), .index = i };
		rc = probe_ioctl(p, p->device, VFIO_DEVICE_GET_REGION_INFO, &r);
		pj_object(&p->j, NULL);
		pj_int(&p->j, "index", i);
		pj_result(&p->j, "result", rc);
		if (rc >= 0) {
			pj_hex(&p->j, "flags", r.flags);
			pj_hex(&p->j, "size", r.size);
			pj_hex(&p->j, "offset", r.offset);
			if ((r.flags & VFIO_REGION_INFO_FLAG_CAPS) && r.argsz > sizeof(r) && r.argsz < 65536)
				region_caps(p, &r);
			if (i == VFIO_PCI_CONFIG_REGION_INDEX)
				p->config_off = r.offset;
			if (i == VFIO_PCI_BAR0_REGION_INDEX && (r.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
				int err = 0;
				void *m = p->sys->mmap(r.size, PROT_READ | PROT_WRITE, MAP_SHARED, p->device, (long long)r.offset, &err);
				pj_result(&p->j, "mmap", m ? 0 : -err);
				if (m) {
					p->bar0 = m;
					p->bar0_size = r.size;
				}
			}
		}
		pj_close_object(&p->j);
	}
	pj_close_array(&p->j);

	pj_array(&p->j, "irqs");
	for (uint32_t i = 0; i < dev.num_irqs; ++i) {
		struct vfio_irq_info q = { .argsz = sizeof(q), .index = i };
		rc = probe_ioctl(p, p->device, VFIO_DEVICE_GET_IRQ_INFO, &q);
		pj_object(&p->j, NULL);
		pj_int(&p->j, "index", i);
		pj_result(&p->j, "result", rc);
		if (rc >= 0) {
			pj_hex(&p->j, "flags", q.flags);
			pj_int(&p->j, "count", q.count);
		}
		pj_close_object(&p->j);
	}
	pj_close_array(&p->j);
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
	if (!p->bar0)
		{ stop(p, "mmap BAR0", -ENODEV); return; }
	/* VFIO leaves the command register as the device had it: memory decoding and bus mastering
	 * are the user's to enable, or MMIO reads all ones and DMA silently does nothing. */
	rc = set_command_bits(p, 0x2 | 0x4, 0);
	pj_object(&p->j, "bar0");
	pj_result(&p->j, "enable_memory_and_bus_master", rc);
	pj_hex(&p->j, "ident", rd(p, EDU_ID));
	wr(p, EDU_LIVENESS, EDU_LIVENESS_VALUE);
	pj_hex(&p->j, "liveness_wrote", EDU_LIVENESS_VALUE);
	pj_hex(&p->j, "liveness_read", rd(p, EDU_LIVENESS));
	pj_close_object(&p->j);
}

static long set_msi(struct probe *p, int fd)
{
	struct {
		struct vfio_irq_set set;
		int32_t fd;
	} req = {
		.set = { .argsz = sizeof(req), .index = VFIO_PCI_MSI_IRQ_INDEX, .start = 0, .count = fd >= 0 ? 1 : 0,
			 .flags = (fd >= 0 ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE) | VFIO_IRQ_SET_ACTION_TRIGGER },
		.fd = fd,
	};
	if (fd < 0)
		req.set.argsz = sizeof(req.set);
	return probe_ioctl(p, p->device, VFIO_DEVICE_SET_IRQS, &req);
}

static void step_msi(struct probe *p)
{
	pj_object(&p->j, "msi");
	p->msi_fd = p->sys->eventfd(0, 0);
	pj_result(&p->j, "eventfd", p->msi_fd < 0 ? p->msi_fd : 0);
	if (p->msi_fd >= 0) {
		long rc = set_msi(p, p->msi_fd);
		pj_result(&p->j, "set_irqs", rc);
		if (rc == 0) {
			wr(p, EDU_IRQ_RAISE, EDU_PROBE_IRQ);
			pj_int(&p->j, "eventfd_count", (long long)wait_msi(p, 1000));
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
	pj_object(&p->j, "dma");
	long rc = map_dma(p, p->buf, iova, 2 * PROBE_PAGE);
	pj_result(&p->j, "map", rc);
	pj_hex(&p->j, "iova", iova);
	pj_int(&p->j, "bytes", (long long)n);
	if (rc == 0) {
		fill_pattern(src, n);
		memset(dst, 0, PROBE_PAGE);
		pj_result(&p->j, "ram_to_device", edu_dma(p, iova, EDU_BUFFER, 0));
		pj_result(&p->j, "device_to_ram", edu_dma(p, EDU_BUFFER, iova + PROBE_PAGE, EDU_DMA_TO_RAM | EDU_DMA_IRQ));
		pj_bool(&p->j, "data_equal", memcmp(src, dst, n) == 0);
		if (p->msi_fd >= 0) {
			pj_int(&p->j, "completion_msi", (long long)wait_msi(p, 1000));
			wr(p, EDU_IRQ_ACK, EDU_DMA_IRQ_VALUE);
		}
	}
	pj_close_object(&p->j);
	if (rc != 0)
		{ stop(p, "VFIO_IOMMU_MAP_DMA", rc); return; }

	/* Bus Master Enable clear: the device must not write memory. */
	pj_object(&p->j, "dma_bus_master_off");
	memset(dst, 0x5a, PROBE_PAGE);
	pj_result(&p->j, "disable", set_command_bits(p, 0, 0x4));
	pj_result(&p->j, "device_to_ram", edu_dma(p, EDU_BUFFER, iova + PROBE_PAGE, EDU_DMA_TO_RAM));
	pj_bool(&p->j, "memory_written", !all_bytes(dst, PROBE_PAGE, 0x5a));
	pj_result(&p->j, "enable", set_command_bits(p, 0x4, 0));
	pj_close_object(&p->j);
}

/* The DMAR fault lines the kernel logged since `p->kmsg` was positioned (Linux 6.1
 * dmar_fault_do_one: "DMAR: [DMA Write NO_PASID] Request device [bb:dd.f] fault addr 0x...
 * [fault reason 0x05] ..."). */
static int read_faults(struct probe *p, int want)
{
	int found = 0;
	char rec[1024];
	pj_array(&p->j, "lines");
	for (int waited = 0; p->kmsg >= 0 && found < want && waited <= PROBE_FAULT_WAIT_MS;) {
		long n = p->sys->read(p->kmsg, rec, sizeof(rec) - 1);
		if (n == -EAGAIN) {
			p->sys->usleep(PROBE_POLL_MS * 1000);
			waited += PROBE_POLL_MS;
			continue;
		}
		if (n == -EPIPE)
			continue;  /* records were overwritten: the read moves on to the oldest */
		if (n <= 0)
			break;
		rec[n] = '\0';
		char *msg = strchr(rec, ';');
		char *nl = strchr(rec, '\n');
		if (nl)
			*nl = '\0';
		if (!msg || !strstr(msg, "DMAR: [DMA "))
			continue;
		++msg;
		char kind[8] = "";
		unsigned bus = 0, slot = 0, fn = 0, reason = 0;
		unsigned long long addr = 0;
		if (sscanf(msg, "DMAR: [DMA %7s %*[^]]] Request device [%x:%x.%x] fault addr 0x%llx [fault reason 0x%x]",
			   kind, &bus, &slot, &fn, &addr, &reason) != 6)
			continue;
		char source[16];
		snprintf(source, sizeof(source), "%02x:%02x.%x", bus & 0xff, slot & 0x1f, fn & 7);
		pj_object(&p->j, NULL);
		pj_str(&p->j, "access", strcmp(kind, "Read") == 0 ? "read" : "write");
		pj_str(&p->j, "source", source);
		pj_hex(&p->j, "addr", addr);
		pj_hex(&p->j, "reason", reason);
		pj_str(&p->j, "line", msg);
		pj_close_object(&p->j);
		++found;
	}
	pj_close_array(&p->j);
	return found;
}

static void step_faults(struct probe *p)
{
	const uint64_t iova = p->opt->iova;
	const size_t n = p->opt->dma_len;
	uint8_t *dst = p->buf + PROBE_PAGE, *spare = p->buf + 2 * PROBE_PAGE;
	uint64_t unmapped = 0;
	long rc = unmap_dma(p, iova, 2 * PROBE_PAGE, &unmapped);
	pj_object(&p->j, "unmap");
	pj_result(&p->j, "result", rc);
	pj_hex(&p->j, "size", unmapped);
	pj_close_object(&p->j);

	/* The kernel log, from its end: the faults below are the next DMAR lines. */
	p->kmsg = p->sys->open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (p->kmsg >= 0)
		p->sys->lseek(p->kmsg, 0, SEEK_END);

	pj_object(&p->j, "faults");
	pj_result(&p->j, "kmsg", p->kmsg < 0 ? p->kmsg : 0);
	memset(dst, 0xa5, PROBE_PAGE);
	pj_result(&p->j, "device_to_ram", edu_dma(p, EDU_BUFFER, iova + PROBE_PAGE, EDU_DMA_TO_RAM));
	pj_bool(&p->j, "write_left_memory_unchanged", all_bytes(dst, PROBE_PAGE, 0xa5));
	pj_result(&p->j, "ram_to_device", edu_dma(p, iova, EDU_BUFFER, 0));
	/* What did the faulted read leave in the device? Copy the buffer out through a fresh mapping. */
	const uint64_t check_iova = iova + 0x100000;
	memset(spare, 0x5a, PROBE_PAGE);
	rc = map_dma(p, spare, check_iova, PROBE_PAGE);
	if (rc == 0) {
		edu_dma(p, EDU_BUFFER, check_iova, EDU_DMA_TO_RAM);
		pj_bool(&p->j, "read_filled_device_buffer_with_zeros", all_bytes(spare, n, 0));
		unmap_dma(p, check_iova, PROBE_PAGE, NULL);
	} else {
		pj_result(&p->j, "check_map", rc);
	}
	read_faults(p, 2);
	pj_close_object(&p->j);
}

static void step_msi_window(struct probe *p)
{
	pj_object(&p->j, "map_msi_window");
	pj_hex(&p->j, "iova", PROBE_MSI_IOVA);
	pj_result(&p->j, "result", map_dma(p, p->buf, PROBE_MSI_IOVA, PROBE_PAGE));
	pj_close_object(&p->j);
}

static void teardown(struct probe *p)
{
	if (p->msi_fd >= 0) {
		if (p->device >= 0)
			set_msi(p, -1);
		p->sys->close(p->msi_fd);
	}
	if (p->kmsg >= 0)
		p->sys->close(p->kmsg);
	if (p->bar0)
		p->sys->munmap((void *)p->bar0, p->bar0_size);
	if (p->device >= 0)
		p->sys->close(p->device);
	if (p->group >= 0) {
		probe_ioctl(p, p->group, VFIO_GROUP_UNSET_CONTAINER, NULL);
		p->sys->close(p->group);
	}
	if (p->container >= 0)
		p->sys->close(p->container);
	if (p->buf)
		p->sys->munmap(p->buf, 3 * PROBE_PAGE);
}

int vfio_probe_run(const struct vfio_probe_sys *sys, const struct vfio_probe_options *opt, FILE *out)
{
	struct probe p;
	memset(&p, 0, sizeof(p));
	p.sys = sys;
	p.opt = opt;
	p.container = p.group = p.device = p.msi_fd = p.kmsg = -1;
	pj_begin(&p.j, out);
	pj_str(&p.j, "device", opt->device);

	void (*const steps[])(struct probe *) = {
		step_container, step_group, step_iommu_info, step_device, step_config_and_bar0,
		step_msi, step_dma, step_faults, step_msi_window,
	};
	int err = 0;
	p.buf = sys->mmap(3 * PROBE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &err);
	if (!p.buf)
		stop(&p, "mmap buffer", -err);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !p.stopped; ++i)
		steps[i](&p);
	teardown(&p);
	pj_bool(&p.j, "completed", !p.stopped);
	pj_end(&p.j);
	return p.stopped ? 1 : 0;
}
