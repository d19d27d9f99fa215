/* vfio_probe: a VFIO user-space client that walks the whole flow for one PCI device (container,
 * group, IOMMU, device, regions, IRQs, config space, BAR mmap, MSI, DMA with and without bus
 * mastering, faults after UNMAP_DMA) and prints one JSON document. docs/vfio-probe.md.
 *
 * The same source runs on a real Linux host through the C library (vfio_probe_main.c) and in the
 * simulator through the co-simulated kernel's process interface (tools/cmd_probe.cpp). The table
 * of system calls below is the only seam: every call returns what the raw system call returns
 * (the result, or -errno). */
#ifndef PCIESIM_VFIO_PROBE_H
#define PCIESIM_VFIO_PROBE_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vfio_probe_sys {
	int (*open)(const char *path, int flags);
	int (*close)(int fd);
	int (*ioctl)(int fd, unsigned long request, void *arg);
	long (*read)(int fd, void *buf, size_t count);
	long (*pread)(int fd, void *buf, size_t count, long long offset);
	long (*pwrite)(int fd, const void *buf, size_t count, long long offset);
	long long (*lseek)(int fd, long long offset, int whence);
	/* mmap(NULL, ...): the address, or NULL with *err = errno */
	void *(*mmap)(size_t length, int prot, int flags, int fd, long long offset, int *err);
	int (*munmap)(void *addr, size_t length);
	int (*eventfd)(unsigned int initval, int flags);
	int (*poll)(struct pollfd *fds, unsigned long nfds, int timeout_ms);
	long (*readlink)(const char *path, char *buf, size_t size);
	void (*usleep)(unsigned int usec);
	/* Loads and stores to a device page mapped with mmap (uncached MMIO). */
	uint32_t (*mmio_read32)(const volatile void *addr);
	void (*mmio_write32)(volatile void *addr, uint32_t value);
};

/* Below edu's 28-bit DMA mask; at most 4095 bytes (QEMU 7.2's edu aborts the VM on 4096). */
#define VFIO_PROBE_DEFAULT_IOVA 0x1000000ull
#define VFIO_PROBE_DEFAULT_BYTES 4000u

enum vfio_probe_flow {
	VFIO_PROBE_FLOW_EDU = 0, /* QEMU's edu (vfio_probe_run) */
	VFIO_PROBE_FLOW_GPU = 1, /* the pciesim GPU (vfio_probe_gpu_run) */
};

struct vfio_probe_options {
	const char *device;   /* "0000:01:00.0" */
	uint64_t iova;        /* where the probe maps its buffers (below edu's 28-bit DMA mask) */
	unsigned int dma_len; /* bytes per DMA transfer (QEMU 7.2's edu accepts at most 4095) */
	enum vfio_probe_flow flow;
};

/* The flow opt->flow names. */
int vfio_probe_run_flow(const struct vfio_probe_sys *sys, const struct vfio_probe_options *opt, FILE *out);

/* Runs the flow and writes the JSON document to `out`. Returns 0 when every step could run (the
 * document records what each step observed), 1 when the flow had to stop early (the document
 * says where and why). */
int vfio_probe_run(const struct vfio_probe_sys *sys, const struct vfio_probe_options *opt, FILE *out);

/* The GPU flow for the pciesim GPU (1234:9e10; vfio_probe_gpu.c): page tables in VRAM through
 * BAR1, system memory -> VRAM -> system memory with the copy engine, an IOMMU fault and a GMMU
 * fault, the driver's trapped invalidation window. Same document conventions and results. */
int vfio_probe_gpu_run(const struct vfio_probe_sys *sys, const struct vfio_probe_options *opt, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* PCIESIM_VFIO_PROBE_H */
