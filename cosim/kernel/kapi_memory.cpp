// Allocations and strings (linux/slab.h, linux/string.h, devres in linux/device.h). Every
// allocation comes from the kernel's range of the simulated DRAM (KernelMemory).
#include <cerrno>
#include <cstring>
#include <string>

#include "kernel/kernel.h"
#include "pci/pci_core.h"
#include "kernel/kapi.h"

using pciesim::cosim::Kernel;
using pciesim::cosim::KernelMemory;

namespace {
KernelMemory* memory() {
  Kernel* k = Kernel::current_or_null();
  return k ? &k->memory() : nullptr;
}
}  // namespace

extern "C" void* kmalloc(size_t size, gfp_t flags) {
  if (size == 0) return ZERO_SIZE_PTR;
  KernelMemory* m = memory();
  if (!m) return nullptr;
  // kmalloc caches: power-of-two sizes from 8 bytes, naturally aligned up to a page.
  size_t align = 8;
  while (align < size && align < KernelMemory::kPageSize) align <<= 1;
  void* p = m->alloc(size, align);
  if (!p && !(flags & __GFP_NOWARN)) {
    char b[128];
    std::snprintf(b, sizeof b, KERN_WARNING "kmalloc: allocation of %zu bytes failed (kernel memory %s)\n", size,
                  size > KernelMemory::kMaxAllocation ? "allocations stop at 2 MiB" : "exhausted");
    Kernel::current().log().printk(b);
  }
  // KernelMemory hands out zeroed memory; a non-__GFP_ZERO allocation gets poison like SLUB debug,
  // so code that forgets to initialise shows it.
  if (p && !(flags & __GFP_ZERO)) std::memset(p, 0x6b, size);
  return p;
}

extern "C" void kfree(const void* p) {
  if (ZERO_OR_NULL_PTR(p)) return;
  if (KernelMemory* m = memory()) {
    try {
      m->free(p);
    } catch (const std::invalid_argument&) {
      char b[96];
      std::snprintf(b, sizeof b, KERN_ERR "kfree: %p is not an allocation (double free or stray pointer)\n", p);
      Kernel::current().log().printk(b);
      cosim_bug(__FILE__, __LINE__);
    }
  }
}

extern "C" size_t ksize(const void* p) {
  KernelMemory* m = memory();
  return m && !ZERO_OR_NULL_PTR(p) ? m->allocation_size(p) : 0;
}

extern "C" void* krealloc(const void* p, size_t new_size, gfp_t flags) {
  if (!new_size) {
    kfree(p);
    return ZERO_SIZE_PTR;
  }
  const size_t old = ZERO_OR_NULL_PTR(p) ? 0 : ksize(p);
  if (old >= new_size) return const_cast<void*>(p);
  void* n = kmalloc(new_size, flags);
  if (n && old) std::memcpy(n, p, old);
  if (n) kfree(p);
  return n;
}

extern "C" void* kvmalloc(size_t size, gfp_t flags) { return kmalloc(size, flags); }
extern "C" void kvfree(const void* p) { kfree(p); }

extern "C" ssize_t strscpy(char* dst, const char* src, size_t size) {
  if (size == 0) return -E2BIG;
  const size_t len = strnlen(src, size);
  if (len == size) {
    std::memcpy(dst, src, size - 1);
    dst[size - 1] = '\0';
    return -E2BIG;
  }
  std::memcpy(dst, src, len + 1);
  return static_cast<ssize_t>(len);
}

extern "C" bool sysfs_streq(const char* a, const char* b) {
  while (*a && *a == *b) {
    ++a;
    ++b;
  }
  if (*a == *b) return true;
  if (*a == '\n' && !a[1] && !*b) return true;
  if (*b == '\n' && !b[1] && !*a) return true;
  return false;
}

extern "C" char* kstrdup(const char* s, gfp_t gfp) {
  if (!s) return nullptr;
  const size_t n = std::strlen(s) + 1;
  char* p = static_cast<char*>(kmalloc(n, gfp));
  if (p) std::memcpy(p, s, n);
  return p;
}

extern "C" void* kmemdup(const void* src, size_t len, gfp_t gfp) {
  void* p = kmalloc(len, gfp);
  if (p) std::memcpy(p, src, len);
  return p;
}

extern "C" struct device* get_device(struct device* dev) {
  if (auto* d = pciesim::cosim::PciCore::of(dev)) ++d->refs;
  return dev;
}
extern "C" void put_device(struct device* dev) {
  if (auto* d = pciesim::cosim::PciCore::of(dev); d && d->refs > 0) --d->refs;
}

extern "C" void* devm_kmalloc(struct device* dev, size_t size, gfp_t gfp) {
  void* p = kmalloc(size, gfp);
  if (p && !ZERO_OR_NULL_PTR(p))
    if (auto* d = pciesim::cosim::PciCore::of(dev)) d->devres.push_back(p);
  return p;
}

extern "C" void devm_kfree(struct device* dev, const void* p) {
  auto* d = pciesim::cosim::PciCore::of(dev);
  if (!d) return;
  for (auto it = d->devres.begin(); it != d->devres.end(); ++it)
    if (*it == p) {
      d->devres.erase(it);
      kfree(p);
      return;
    }
  cosim_warn(__FILE__, __LINE__, "devm_kfree of %p: not a managed allocation of %s", p, dev_name(dev));
}
