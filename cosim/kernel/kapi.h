// The kernel API headers (cosim/include/linux) as the C++ implementation sees them. Include this
// LAST: the headers define Linux's macros (min, max, BIT, ...) that would rewrite later C++
// headers. Fields Linux names with C++ keywords (`class`) are spelled `class_` here.
#pragma once

#ifndef KBUILD_MODNAME
#define KBUILD_MODNAME "kernel"
#endif

#define class class_
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/eventfd.h>
#include <linux/errno.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>
#undef class
#undef min
#undef max
#undef clamp
#undef jiffies
#undef printk
