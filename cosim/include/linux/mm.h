/* Memory mappings of a process as drivers see them (include/linux/mm.h, mm_types.h, Linux 6.1): the
 * vm_area_struct a driver's mmap handler fills, its fault handler, and io_remap_pfn_range, which
 * in the co-simulated kernel enters device pages into the simulated process's page table (a
 * user access to them becomes an MMIO transaction from the CPU). */
#ifndef _LINUX_MM_H
#define _LINUX_MM_H

#include <linux/types.h>

#define PAGE_SHIFT 12
#ifndef PAGE_SIZE
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#endif
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PAGE_ALIGN(addr) (((addr) + PAGE_SIZE - 1) & PAGE_MASK)

typedef unsigned long pgoff_t;
typedef struct { unsigned long pgprot; } pgprot_t;
/* x86 _PAGE_PCD | _PAGE_PWT: uncached, as MMIO must be */
#define pgprot_noncached(prot) ((pgprot_t){ (prot).pgprot | 0x18UL })

/* vm_flags (include/linux/mm.h) */
#define VM_READ       0x00000001UL
#define VM_WRITE      0x00000002UL
#define VM_EXEC       0x00000004UL
#define VM_SHARED     0x00000008UL
#define VM_IO         0x00004000UL
#define VM_PFNMAP     0x00000400UL
#define VM_DONTEXPAND 0x00040000UL
#define VM_DONTDUMP   0x04000000UL

typedef unsigned int vm_fault_t;
#define VM_FAULT_OOM    0x000001
#define VM_FAULT_SIGBUS 0x000002
#define VM_FAULT_NOPAGE 0x000100

struct vm_area_struct;

struct vm_fault {
	struct vm_area_struct *vma;
	unsigned long address;
	pgoff_t pgoff;
	unsigned int flags;
};

struct vm_operations_struct {
	void (*open)(struct vm_area_struct *vma);
	void (*close)(struct vm_area_struct *vma);
	vm_fault_t (*fault)(struct vm_fault *vmf);
};

struct vm_area_struct {
	unsigned long vm_start;  /* first user address */
	unsigned long vm_end;    /* first address after the mapping */
	unsigned long vm_pgoff;  /* offset in the file in pages; drivers may rewrite it (a pfn) */
	unsigned long vm_flags;
	pgprot_t vm_page_prot;
	const struct vm_operations_struct *vm_ops;
	void *vm_private_data;
	void *cosim;             /* the simulated process's record of the mapping */
};

#ifdef __cplusplus
extern "C" {
#endif
/* Maps [addr, addr + size) of the vma to the physical pages from `pfn`: 0 or -EINVAL. */
int io_remap_pfn_range(struct vm_area_struct *vma, unsigned long addr, unsigned long pfn,
		       unsigned long size, pgprot_t prot);
/* Removes the page-table entries of [address, address + size): the next access faults again. */
void zap_vma_ptes(struct vm_area_struct *vma, unsigned long address, unsigned long size);
#ifdef __cplusplus
}
#endif

#endif /* _LINUX_MM_H */
