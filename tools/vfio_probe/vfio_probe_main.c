/* vfio_probe on a real Linux host: the system-call table is the C library's. Built statically so
 * it runs in a minimal initramfs or on a lab machine without the project's build.
 *
 *   vfio_probe [--gpu] [--iova ADDR] [--bytes N] 0000:01:00.0 > probe.json  (--gpu: the pciesim GPU flow)
 *
 * The device must be bound to vfio-pci (or a variant such as pciesim_vfio_pci) and its IOMMU group
 * viable. Exit status: 0 when every step ran, 1 when the flow stopped early, 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>

#include "vfio_probe.h"

static int neg(long rc) { return rc < 0 ? -errno : (int)rc; }

static int sys_open(const char *path, int flags) { return neg(open(path, flags)); }
static int sys_close(int fd) { return neg(close(fd)); }
static int sys_ioctl(int fd, unsigned long req, void *arg) { return neg(ioctl(fd, req, arg)); }
static long sys_read(int fd, void *buf, size_t n) { ssize_t r = read(fd, buf, n); return r < 0 ? -errno : r; }
static long sys_pread(int fd, void *buf, size_t n, long long off) { ssize_t r = pread(fd, buf, n, (off_t)off); return r < 0 ? -errno : r; }
static long sys_pwrite(int fd, const void *buf, size_t n, long long off) { ssize_t r = pwrite(fd, buf, n, (off_t)off); return r < 0 ? -errno : r; }
static long long sys_lseek(int fd, long long off, int whence) { off_t r = lseek(fd, (off_t)off, whence); return r < 0 ? -errno : r; }

static void *sys_mmap(size_t len, int prot, int flags, int fd, long long off, int *err)
{
	void *p = mmap(NULL, len, prot, flags, fd, (off_t)off);
	if (p == MAP_FAILED) {
		*err = errno;
		return NULL;
	}
	return p;
}

static int sys_munmap(void *addr, size_t len) { return neg(munmap(addr, len)); }
static int sys_eventfd(unsigned int initval, int flags) { return neg(eventfd(initval, flags)); }
static int sys_poll(struct pollfd *fds, unsigned long n, int timeout) { return neg(poll(fds, (nfds_t)n, timeout)); }
static long sys_readlink(const char *path, char *buf, size_t size) { ssize_t r = readlink(path, buf, size); return r < 0 ? -errno : r; }
static void sys_usleep(unsigned int usec) { usleep(usec); }
static uint32_t sys_mmio_read32(const volatile void *a) { return *(const volatile uint32_t *)a; }
static void sys_mmio_write32(volatile void *a, uint32_t v) { *(volatile uint32_t *)a = v; }

static const struct vfio_probe_sys libc_sys = {
	.open = sys_open, .close = sys_close, .ioctl = sys_ioctl, .read = sys_read,
	.pread = sys_pread, .pwrite = sys_pwrite, .lseek = sys_lseek, .mmap = sys_mmap,
	.munmap = sys_munmap, .eventfd = sys_eventfd, .poll = sys_poll, .readlink = sys_readlink,
	.usleep = sys_usleep, .mmio_read32 = sys_mmio_read32, .mmio_write32 = sys_mmio_write32,
};

static int usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--gpu] [--iova ADDR] [--bytes N] DDDD:BB:DD.F\n", argv0);
	return 2;
}

int main(int argc, char **argv)
{
	struct vfio_probe_options opt = { .device = NULL, .iova = VFIO_PROBE_DEFAULT_IOVA, .dma_len = VFIO_PROBE_DEFAULT_BYTES };
	for (int i = 1; i < argc; ++i) {
		char *end = NULL;
		if (strcmp(argv[i], "--gpu") == 0) {
			opt.flow = VFIO_PROBE_FLOW_GPU;
		} else if (strcmp(argv[i], "--iova") == 0 && i + 1 < argc) {
			opt.iova = strtoull(argv[++i], &end, 0);
			if (*end || opt.iova % 4096)
				return fprintf(stderr, "vfio_probe: --iova %s: not a page-aligned number\n", argv[i]), 2;
		} else if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc) {
			unsigned long n = strtoul(argv[++i], &end, 0);
			if (*end || n == 0 || n > 4095)
				return fprintf(stderr, "vfio_probe: --bytes %s: 1..4095 (QEMU 7.2's edu aborts on 4096)\n", argv[i]), 2;
			opt.dma_len = (unsigned int)n;
		} else if (argv[i][0] == '-' || opt.device) {
			return usage(argv[0]);
		} else {
			opt.device = argv[i];
		}
	}
	if (!opt.device)
		return usage(argv[0]);
	return vfio_probe_run_flow(&libc_sys, &opt, stdout);
}
