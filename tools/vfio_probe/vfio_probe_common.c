/* vfio_probe's shared steps (vfio_probe_flow.h): the container, the group, the IOMMU info, the
 * device with its regions (BARs mapped as their sparse mmap capabilities allow) and IRQs, DMA
 * mappings, interrupts through an eventfd, the DMAR fault lines of the kernel log, teardown. */
#include "vfio_probe_flow.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

long probe_ioctl(struct probe *p, int fd, unsigned long req, void *arg)
{
	return p->sys->ioctl(fd, req, arg);
}

void probe_stop(struct probe *p, const char *step, long rc)
{
	pj_object(&p->j, "stopped");
	pj_str(&p->j, "step", step);
	pj_result(&p->j, "result", rc);
	pj_close_object(&p->j);
	p->stopped = 1;
}


long probe_cfg_read16(struct probe *p, unsigned off, uint16_t *v)
{
	return p->sys->pread(p->device, v, 2, (long long)(p->config_off + off));
}

long probe_cfg_write16(struct probe *p, unsigned off, uint16_t v)
{
	return p->sys->pwrite(p->device, &v, 2, (long long)(p->config_off + off));
}

long probe_set_command_bits(struct probe *p, uint16_t set, uint16_t clear)
{
	uint16_t cmd = 0;
	long rc = probe_cfg_read16(p, 0x04, &cmd);
	if (rc < 0)
		return rc;
	cmd = (uint16_t)((cmd | set) & ~clear);
	return probe_cfg_write16(p, 0x04, cmd);
}

uint64_t probe_wait_eventfd(struct probe *p, int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t count = 0;
	if (fd >= 0 && p->sys->poll(&pfd, 1, timeout_ms) > 0 && p->sys->read(fd, &count, 8) == 8)
		return count;
	return 0;
}

int probe_all_bytes(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; ++i)
		if (b[i] != v)
			return 0;
	return 1;
}

void probe_fill_pattern(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; ++i)
		b[i] = (uint8_t)(i * 7 + 3);
}

long probe_map_dma(struct probe *p, void *vaddr, uint64_t iova, uint64_t size)
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

long probe_begin_dma(struct probe *p, const char *key)
{
	pj_object(&p->j, key);
	long rc = probe_map_dma(p, p->buf, p->opt->iova, 2 * PROBE_PAGE);
	pj_result(&p->j, "map", rc);
	pj_hex(&p->j, "iova", p->opt->iova);
	pj_int(&p->j, "bytes", (long long)p->opt->dma_len);
	if (rc == 0) {
		probe_fill_pattern(p->buf, p->opt->dma_len);
		memset(p->buf + PROBE_PAGE, 0, PROBE_PAGE);
	}
	return rc;
}

long probe_unmap_dma(struct probe *p, uint64_t iova, uint64_t size, uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap), .iova = iova, .size = size };
	long rc = probe_ioctl(p, p->container, VFIO_IOMMU_UNMAP_DMA, &unmap);
	if (unmapped)
		*unmapped = unmap.size;
	return rc;
}

long probe_set_irq(struct probe *p, unsigned index, int fd)
{
	struct {
		struct vfio_irq_set set;
		int32_t fd;
	} req = {
		.set = { .argsz = sizeof(req), .index = index, .start = 0, .count = fd >= 0 ? 1 : 0,
			 .flags = (fd >= 0 ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE) | VFIO_IRQ_SET_ACTION_TRIGGER },
		.fd = fd,
	};
	if (fd < 0)
		req.set.argsz = sizeof(req.set);
	return probe_ioctl(p, p->device, VFIO_DEVICE_SET_IRQS, &req);
}

uint32_t probe_bar_rd(struct probe *p, int bar, uint64_t off)
{
	const struct probe_bar *b = &p->bars[bar];
	uint32_t v = 0xffffffffu;
	for (int i = 0; i < b->n; ++i)
		if (off >= b->off[i] && off + 4 <= b->off[i] + b->size[i])
			return p->sys->mmio_read32(b->map[i] + (off - b->off[i]));
	if (p->sys->pread(p->device, &v, 4, (long long)(b->region_offset + off)) != 4)
		return 0xffffffffu;
	return v;
}

long probe_bar_wr(struct probe *p, int bar, uint64_t off, uint32_t v)
{
	const struct probe_bar *b = &p->bars[bar];
	for (int i = 0; i < b->n; ++i)
		if (off >= b->off[i] && off + 4 <= b->off[i] + b->size[i]) {
			p->sys->mmio_write32(b->map[i] + (off - b->off[i]), v);
			return 4;
		}
	return p->sys->pwrite(p->device, &v, 4, (long long)(b->region_offset + off));
}

void probe_step_container(struct probe *p)
{
	static const struct { const char *name; unsigned long ext; } exts[] = {
		{ "type1", VFIO_TYPE1_IOMMU },
		{ "type1v2", VFIO_TYPE1v2_IOMMU },
		{ "noiommu", VFIO_NOIOMMU_IOMMU },
		{ "unmap_all", VFIO_UNMAP_ALL },
	};
	p->container = p->sys->open("/dev/vfio/vfio", O_RDWR);
	if (p->container < 0)
		{ probe_stop(p, "open /dev/vfio/vfio", p->container); return; }
	pj_result(&p->j, "api_version", probe_ioctl(p, p->container, VFIO_GET_API_VERSION, NULL));
	pj_object(&p->j, "extensions");
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); ++i)
		pj_result(&p->j, exts[i].name, probe_ioctl(p, p->container, VFIO_CHECK_EXTENSION, (void *)exts[i].ext));
	pj_close_object(&p->j);
}

void probe_step_group(struct probe *p)
{
	char path[320], link[256];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", p->opt->device);
	long n = p->sys->readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		{ probe_stop(p, "readlink iommu_group", n); return; }
	link[n] = '\0';
	const char *slash = strrchr(link, '/');
	const char *id = slash ? slash + 1 : link;
	pj_int(&p->j, "group", atoi(id));
	snprintf(path, sizeof(path), "/dev/vfio/%s", id);
	p->group = p->sys->open(path, O_RDWR);
	if (p->group < 0)
		{ probe_stop(p, "open group", p->group); return; }
	struct vfio_group_status status = { .argsz = sizeof(status) };
	long rc = probe_ioctl(p, p->group, VFIO_GROUP_GET_STATUS, &status);
	pj_object(&p->j, "group_status");
	pj_result(&p->j, "result", rc);
	pj_hex(&p->j, "flags", status.flags);
	rc = probe_ioctl(p, p->group, VFIO_GROUP_SET_CONTAINER, &p->container);
	pj_result(&p->j, "set_container", rc);
	if (rc < 0) {
		pj_close_object(&p->j);
		{ probe_stop(p, "VFIO_GROUP_SET_CONTAINER", rc); return; }
	}
	rc = probe_ioctl(p, p->container, VFIO_SET_IOMMU, (void *)(unsigned long)VFIO_TYPE1v2_IOMMU);
	pj_result(&p->j, "set_iommu", rc);
	status.flags = 0;
	probe_ioctl(p, p->group, VFIO_GROUP_GET_STATUS, &status);
	pj_hex(&p->j, "flags_after", status.flags);
	pj_close_object(&p->j);
	if (rc < 0)
		probe_stop(p, "VFIO_SET_IOMMU", rc);
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

void probe_step_iommu_info(struct probe *p)
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

/* Records the region's capability chain; a sparse mmap capability's areas also go to `areas`
 * (nr_areas set; at most PROBE_MAX_AREAS kept). */
static void region_caps(struct probe *p, const struct vfio_region_info *want, struct probe_bar *areas)
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
					if (areas && areas->n < PROBE_MAX_AREAS) {
						areas->off[areas->n] = area.offset;
						areas->size[areas->n++] = area.size;
					}
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

/* mmaps the BAR whole, or each area of its sparse mmap capability: 0, or the first -errno. */
static long map_bar(struct probe *p, struct probe_bar *b, const struct probe_bar *sparse)
{
	struct probe_bar whole = { .n = 1, .off = { 0 }, .size = { b->region_size } };
	const struct probe_bar *areas = sparse->n ? sparse : &whole;
	long rc = 0;
	for (int a = 0; a < areas->n; ++a) {
		int err = 0;
		void *m = areas->size[a] ? p->sys->mmap(areas->size[a], PROT_READ | PROT_WRITE, MAP_SHARED, p->device,
						       (long long)(b->region_offset + areas->off[a]), &err)
					 : NULL;
		if (!m) {
			if (!rc)
				rc = areas->size[a] ? -err : -EINVAL;
			continue;
		}
		b->map[b->n] = m;
		b->off[b->n] = areas->off[a];
		b->size[b->n++] = areas->size[a];
	}
	return rc;
}

void probe_step_device(struct probe *p)
{
	p->device = probe_ioctl(p, p->group, VFIO_GROUP_GET_DEVICE_FD, (void *)p->opt->device);
	if (p->device < 0)
		{ probe_stop(p, "VFIO_GROUP_GET_DEVICE_FD", p->device); return; }
	struct vfio_device_info dev = { .argsz = sizeof(dev) };
	long rc = probe_ioctl(p, p->device, VFIO_DEVICE_GET_INFO, &dev);
	pj_object(&p->j, "device_info");
	pj_result(&p->j, "result", rc);
	pj_hex(&p->j, "flags", dev.flags);
	pj_int(&p->j, "num_regions", dev.num_regions);
	pj_int(&p->j, "num_irqs", dev.num_irqs);
	pj_close_object(&p->j);
	if (rc < 0)
		{ probe_stop(p, "VFIO_DEVICE_GET_INFO", rc); return; }

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
			struct probe_bar sparse = { .n = 0 };
			if ((r.flags & VFIO_REGION_INFO_FLAG_CAPS) && r.argsz > sizeof(r) && r.argsz < 65536)
				region_caps(p, &r, &sparse);
			if (i == VFIO_PCI_CONFIG_REGION_INDEX)
				p->config_off = r.offset;
			if (i <= VFIO_PCI_BAR5_REGION_INDEX) {
				p->bars[i].region_offset = r.offset;
				p->bars[i].region_size = r.size;
			}
			if (i <= VFIO_PCI_BAR5_REGION_INDEX && (p->map_bars & (1u << i)) && (r.flags & VFIO_REGION_INFO_FLAG_MMAP))
				pj_result(&p->j, "mmap", map_bar(p, &p->bars[i], &sparse));
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

/* The DMAR fault lines the kernel logged since `p->kmsg` was positioned (Linux 6.1
 * dmar_fault_do_one: "DMAR: [DMA Write NO_PASID] Request device [bb:dd.f] fault addr 0x...
 * [fault reason 0x05] ..."). */
int probe_read_dmar_faults(struct probe *p, int want)
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

void probe_teardown(struct probe *p)
{
	if (p->msi_fd >= 0) {
		if (p->device >= 0)
			probe_set_irq(p, p->irq_index, -1);
		p->sys->close(p->msi_fd);
	}
	if (p->aux_fd >= 0)
		p->sys->close(p->aux_fd);
	if (p->kmsg >= 0)
		p->sys->close(p->kmsg);
	for (int i = 0; i < 6; ++i)
		for (int a = 0; a < p->bars[i].n; ++a)
			p->sys->munmap((void *)p->bars[i].map[a], p->bars[i].size[a]);
	if (p->device >= 0)
		p->sys->close(p->device);
	if (p->group >= 0) {
		probe_ioctl(p, p->group, VFIO_GROUP_UNSET_CONTAINER, NULL);
		p->sys->close(p->group);
	}
	if (p->container >= 0)
		p->sys->close(p->container);
	if (p->buf)
		p->sys->munmap(p->buf, p->buf_size);
}


void probe_open_kmsg(struct probe *p)
{
	p->kmsg = p->sys->open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (p->kmsg >= 0)
		p->sys->lseek(p->kmsg, 0, SEEK_END);
}

void probe_init(struct probe *p, const struct vfio_probe_sys *sys, const struct vfio_probe_options *opt, FILE *out,
		unsigned map_bars, size_t buf_size)
{
	memset(p, 0, sizeof(*p));
	p->sys = sys;
	p->opt = opt;
	p->map_bars = map_bars;
	p->irq_index = VFIO_PCI_MSI_IRQ_INDEX;
	p->container = p->group = p->device = p->msi_fd = p->kmsg = p->aux_fd = -1;
	pj_begin(&p->j, out);
	pj_str(&p->j, "device", opt->device);
	int err = 0;
	p->buf = sys->mmap(buf_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, &err);
	if (p->buf)
		p->buf_size = buf_size;
	else
		probe_stop(p, "mmap buffer", -err);
}

int probe_run_steps(struct probe *p, void (*const *steps)(struct probe *), size_t n)
{
	for (size_t i = 0; i < n && !p->stopped; ++i)
		steps[i](p);
	probe_teardown(p);
	pj_bool(&p->j, "completed", !p->stopped);
	pj_end(&p->j);
	return p->stopped ? 1 : 0;
}
