/* The driver model (include/linux/device.h, device/driver.h, device/bus.h, dev_printk.h,
 * device/devres.h). */
#ifndef _LINUX_DEVICE_H
#define _LINUX_DEVICE_H

#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/printk.h>
#include <linux/types.h>

struct module;
struct iommu_group;

struct bus_type {
	const char *name;
};

struct device_driver {
	const char *name;
	struct bus_type *bus;
	struct module *owner;
	const char *mod_name;
};

struct device {
	struct device *parent;
	struct bus_type *bus;
	struct device_driver *driver;  /* bound driver, NULL when none */
	void *driver_data;
	u64 *dma_mask;
	u64 coherent_dma_mask;
	struct iommu_group *iommu_group;
	char name[32];                 /* dev_name(): "0000:03:00.0" for PCI */
	void *cosim;                   /* the co-simulated kernel's record of this device */
};

static inline const char *dev_name(const struct device *dev) { return dev->name; }
static inline void *dev_get_drvdata(const struct device *dev) { return dev->driver_data; }
static inline void dev_set_drvdata(struct device *dev, void *data) { dev->driver_data = data; }

#ifdef __cplusplus
extern "C" {
#endif
struct device *get_device(struct device *dev);
void put_device(struct device *dev);
/* The driver's name when bound, else the bus name ("pci"), as dev_printk prefixes lines. */
const char *dev_driver_string(const struct device *dev);
void _dev_printk(const char *level, const struct device *dev, const char *fmt, ...) __printf(3, 4);
int dev_err_probe(const struct device *dev, int err, const char *fmt, ...) __printf(3, 4);
/* Managed allocations: freed when the driver detaches from the device (or its probe fails). */
void *devm_kmalloc(struct device *dev, size_t size, gfp_t gfp);
void devm_kfree(struct device *dev, const void *p);
#ifdef __cplusplus
}
#endif

static inline void *devm_kzalloc(struct device *dev, size_t size, gfp_t gfp) { return devm_kmalloc(dev, size, gfp | __GFP_ZERO); }
static inline void *devm_kcalloc(struct device *dev, size_t n, size_t size, gfp_t gfp)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes))
		return NULL;
	return devm_kmalloc(dev, bytes, gfp | __GFP_ZERO);
}

/* dev_fmt: a file's prefix for dev_err() and friends (Linux dev_printk.h); dev_printk() has none. */
#ifndef dev_fmt
#define dev_fmt(fmt) fmt
#endif
#define dev_printk(level, dev, fmt, ...) _dev_printk(level, dev, fmt, ##__VA_ARGS__)
#define dev_emerg(dev, fmt, ...) _dev_printk(KERN_EMERG, dev, dev_fmt(fmt), ##__VA_ARGS__)
#define dev_crit(dev, fmt, ...) _dev_printk(KERN_CRIT, dev, dev_fmt(fmt), ##__VA_ARGS__)
#define dev_err(dev, fmt, ...) _dev_printk(KERN_ERR, dev, dev_fmt(fmt), ##__VA_ARGS__)
#define dev_warn(dev, fmt, ...) _dev_printk(KERN_WARNING, dev, dev_fmt(fmt), ##__VA_ARGS__)
#define dev_notice(dev, fmt, ...) _dev_printk(KERN_NOTICE, dev, dev_fmt(fmt), ##__VA_ARGS__)
#define dev_info(dev, fmt, ...) _dev_printk(KERN_INFO, dev, dev_fmt(fmt), ##__VA_ARGS__)
#ifdef DEBUG
#define dev_dbg(dev, fmt, ...) _dev_printk(KERN_DEBUG, dev, dev_fmt(fmt), ##__VA_ARGS__)
#else
#define dev_dbg(dev, fmt, ...) ({ if (0) _dev_printk(KERN_DEBUG, dev, fmt, ##__VA_ARGS__); })
#endif

#endif /* _LINUX_DEVICE_H */
