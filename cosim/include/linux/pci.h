/* The PCI core (include/linux/pci.h, include/uapi/linux/pci.h): devices built from the firmware
 * enumeration of the simulated fabric, drivers with ID tables, config accessors through ECAM,
 * BAR mapping, MSI/MSI-X through interrupt remapping, and resets. */
#ifndef _LINUX_PCI_H
#define _LINUX_PCI_H

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/errno.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/mod_devicetable.h>
#include <linux/pci_ids.h>
#include <linux/pci_regs.h>
#include <linux/types.h>

#define PCI_DEVFN(slot, func) ((((slot) & 0x1f) << 3) | ((func) & 0x07))
#define PCI_SLOT(devfn) (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn) ((devfn) & 0x07)
#define PCI_DEVID(bus, devfn) ((((u16)(bus)) << 8) | (devfn))
#define PCI_BUS_NUM(x) (((x) >> 8) & 0xff)

/* Resource slots of a pci_dev (CONFIG_PCI_IOV): 6 BARs, the ROM, 6 SR-IOV BARs, 4 bridge windows. */
#define PCI_STD_NUM_BARS 6
#define PCI_STD_RESOURCES 0
#define PCI_STD_RESOURCE_END 5
#define PCI_ROM_RESOURCE 6
#define PCI_IOV_RESOURCES 7
#define PCI_IOV_RESOURCE_END 12
#define PCI_BRIDGE_RESOURCES 13
#define PCI_NUM_RESOURCES 17
#define DEVICE_COUNT_RESOURCE PCI_NUM_RESOURCES

/* Config accessor results (PCIBIOS_*) */
#define PCIBIOS_SUCCESSFUL 0x00
#define PCIBIOS_FUNC_NOT_SUPPORTED 0x81
#define PCIBIOS_BAD_VENDOR_ID 0x83
#define PCIBIOS_DEVICE_NOT_FOUND 0x86
#define PCIBIOS_BAD_REGISTER_NUMBER 0x87
#define PCIBIOS_SET_FAILED 0x88
#define PCIBIOS_BUFFER_TOO_SMALL 0x89

static inline int pcibios_err_to_errno(int err)
{
	if (err <= PCIBIOS_SUCCESSFUL)
		return err;
	switch (err) {
	case PCIBIOS_FUNC_NOT_SUPPORTED: return -ENOENT;
	case PCIBIOS_BAD_VENDOR_ID: return -ENOTTY;
	case PCIBIOS_DEVICE_NOT_FOUND: return -ENODEV;
	case PCIBIOS_BAD_REGISTER_NUMBER: return -EFAULT;
	case PCIBIOS_SET_FAILED: return -EIO;
	case PCIBIOS_BUFFER_TOO_SMALL: return -ENOSPC;
	}
	return -ERANGE;
}

typedef int pci_power_t;
#define PCI_D0 ((pci_power_t)0)
#define PCI_D1 ((pci_power_t)1)
#define PCI_D2 ((pci_power_t)2)
#define PCI_D3hot ((pci_power_t)3)
#define PCI_D3cold ((pci_power_t)4)

typedef unsigned int pci_channel_state_t;
enum pci_channel_state { pci_channel_io_normal = 1, pci_channel_io_frozen = 2, pci_channel_io_perm_failure = 3 };
typedef unsigned int pci_ers_result_t;
enum pci_ers_result {
	PCI_ERS_RESULT_NONE = 1,
	PCI_ERS_RESULT_CAN_RECOVER = 2,
	PCI_ERS_RESULT_NEED_RESET = 3,
	PCI_ERS_RESULT_DISCONNECT = 4,
	PCI_ERS_RESULT_RECOVERED = 5,
	PCI_ERS_RESULT_NO_AER_DRIVER = 6,
};

struct pci_dev;

struct pci_bus {
	struct pci_bus *parent;   /* NULL for a root bus */
	struct pci_dev *self;     /* the bridge leading to this bus, NULL for a root bus */
	unsigned char number;
	unsigned char primary;
	int domain_nr;            /* PCI segment */
};

struct pci_dev {
	struct pci_bus *bus;          /* the bus this device is on */
	struct pci_bus *subordinate;  /* bridges: the bus behind */
	unsigned int devfn;
	unsigned short vendor;
	unsigned short device;
	unsigned short subsystem_vendor;
	unsigned short subsystem_device;
	unsigned int class;           /* base class, subclass, programming interface */
	u8 revision;
	u8 hdr_type;
	u8 pin;                       /* interrupt pin, 0 = none */
	u8 pcie_cap;                  /* PCIe capability offset, 0 = conventional PCI */
	u8 msi_cap;
	u8 msix_cap;
	u16 pcie_flags_reg;
	u16 acs_cap;
	struct pci_driver *driver;
	u64 dma_mask;
	struct device dev;
	int cfg_size;
	unsigned int irq;             /* legacy/first vector's Linux IRQ number, 0 = none */
	struct resource resource[DEVICE_COUNT_RESOURCE];
	unsigned int multifunction : 1;
	unsigned int is_busmaster : 1;
	unsigned int msi_enabled : 1;
	unsigned int msix_enabled : 1;
	unsigned int is_physfn : 1;
	unsigned int is_virtfn : 1;
	unsigned int reset_fn : 1;
	unsigned int no_command_memory : 1;
	atomic_t enable_cnt;
	const char *driver_override;  /* set through sysfs; the only driver allowed to bind */
	struct pci_dev *physfn;       /* is_virtfn: the PF (Linux keeps it in a union with sriov) */
};

#define to_pci_dev(n) container_of(n, struct pci_dev, dev)

struct pci_error_handlers {
	pci_ers_result_t (*error_detected)(struct pci_dev *dev, pci_channel_state_t error);
	pci_ers_result_t (*mmio_enabled)(struct pci_dev *dev);
	pci_ers_result_t (*slot_reset)(struct pci_dev *dev);
	void (*reset_prepare)(struct pci_dev *dev);
	void (*reset_done)(struct pci_dev *dev);
	void (*resume)(struct pci_dev *dev);
};

struct pci_driver {
	const char *name;
	const struct pci_device_id *id_table;
	int (*probe)(struct pci_dev *dev, const struct pci_device_id *id);
	void (*remove)(struct pci_dev *dev);
	void (*shutdown)(struct pci_dev *dev);
	int (*sriov_configure)(struct pci_dev *dev, int num_vfs);
	const struct pci_error_handlers *err_handler;
	struct device_driver driver;
	bool driver_managed_dma;
};

#define to_pci_driver(drv) container_of(drv, struct pci_driver, driver)

#define PCI_DEVICE(vend, dev) \
	.vendor = (vend), .device = (dev), .subvendor = PCI_ANY_ID, .subdevice = PCI_ANY_ID
#define PCI_DEVICE_SUB(vend, dev, subvend, subdev) \
	.vendor = (vend), .device = (dev), .subvendor = (subvend), .subdevice = (subdev)
#define PCI_DEVICE_CLASS(dev_class, dev_class_mask) \
	.class = (dev_class), .class_mask = (dev_class_mask), .vendor = PCI_ANY_ID, .device = PCI_ANY_ID, \
	.subvendor = PCI_ANY_ID, .subdevice = PCI_ANY_ID
#define PCI_VDEVICE(vend, dev) \
	.vendor = PCI_VENDOR_ID_##vend, .device = (dev), .subvendor = PCI_ANY_ID, .subdevice = PCI_ANY_ID, 0, 0
/* An entry only a driver_override can select (vfio-pci variant drivers, Linux 5.19+). */
#define PCI_DRIVER_OVERRIDE_DEVICE_VFIO(vend, dev) \
	.vendor = (vend), .device = (dev), .subvendor = PCI_ANY_ID, .subdevice = PCI_ANY_ID, \
	.override_only = PCI_ID_F_VFIO_DRIVER_OVERRIDE

/* pci_alloc_irq_vectors() flags */
#define PCI_IRQ_LEGACY (1 << 0)
#define PCI_IRQ_MSI (1 << 1)
#define PCI_IRQ_MSIX (1 << 2)
#define PCI_IRQ_AFFINITY (1 << 3)
#define PCI_IRQ_ALL_TYPES (PCI_IRQ_LEGACY | PCI_IRQ_MSI | PCI_IRQ_MSIX)

extern struct bus_type pci_bus_type;

#ifdef __cplusplus
extern "C" {
#endif

/* Config space through ECAM: PCIBIOS_* results; reads of an absent device give all ones. */
int pci_read_config_byte(const struct pci_dev *dev, int where, u8 *val);
int pci_read_config_word(const struct pci_dev *dev, int where, u16 *val);
int pci_read_config_dword(const struct pci_dev *dev, int where, u32 *val);
int pci_write_config_byte(const struct pci_dev *dev, int where, u8 val);
int pci_write_config_word(const struct pci_dev *dev, int where, u16 val);
int pci_write_config_dword(const struct pci_dev *dev, int where, u32 val);
int pcie_capability_read_word(struct pci_dev *dev, int pos, u16 *val);
int pcie_capability_read_dword(struct pci_dev *dev, int pos, u32 *val);
int pcie_capability_write_word(struct pci_dev *dev, int pos, u16 val);
int pcie_capability_write_dword(struct pci_dev *dev, int pos, u32 val);
int pcie_capability_clear_and_set_word(struct pci_dev *dev, int pos, u16 clear, u16 set);
u8 pci_find_capability(struct pci_dev *dev, int cap);
u8 pci_find_next_capability(struct pci_dev *dev, u8 pos, int cap);
u16 pci_find_ext_capability(struct pci_dev *dev, int cap);

/* Drivers */
int __pci_register_driver(struct pci_driver *drv, struct module *owner, const char *mod_name);
void pci_unregister_driver(struct pci_driver *drv);
const struct pci_device_id *pci_match_id(const struct pci_device_id *ids, struct pci_dev *dev);
struct pci_dev *pci_dev_get(struct pci_dev *dev);
void pci_dev_put(struct pci_dev *dev);
struct pci_dev *pci_get_device(unsigned int vendor, unsigned int device, struct pci_dev *from);
struct pci_dev *pci_get_domain_bus_and_slot(int domain, unsigned int bus, unsigned int devfn);
struct pci_dev *pci_upstream_bridge(struct pci_dev *dev);

/* Enabling and resources */
int pci_enable_device(struct pci_dev *dev);
/* SR-IOV (drivers/pci/iov.c) */
int pci_enable_sriov(struct pci_dev *dev, int nr_virtfn);
void pci_disable_sriov(struct pci_dev *dev);
int pci_num_vf(struct pci_dev *dev);
int pci_sriov_get_totalvfs(struct pci_dev *dev);
static inline struct pci_dev *pci_physfn(struct pci_dev *dev)
{
	return dev->is_virtfn ? dev->physfn : dev;
}
int pci_enable_device_mem(struct pci_dev *dev);
void pci_disable_device(struct pci_dev *dev);
void pci_set_master(struct pci_dev *dev);
void pci_clear_master(struct pci_dev *dev);
int pci_request_region(struct pci_dev *dev, int bar, const char *name);
void pci_release_region(struct pci_dev *dev, int bar);
int pci_request_regions(struct pci_dev *dev, const char *name);
void pci_release_regions(struct pci_dev *dev);
int pci_request_selected_regions(struct pci_dev *dev, int bars, const char *name);
void pci_release_selected_regions(struct pci_dev *dev, int bars);
int pci_select_bars(struct pci_dev *dev, unsigned long flags);
void __iomem *pci_iomap(struct pci_dev *dev, int bar, unsigned long maxlen);
void __iomem *pci_iomap_range(struct pci_dev *dev, int bar, unsigned long offset, unsigned long maxlen);
void pci_iounmap(struct pci_dev *dev, void __iomem *addr);
void pci_intx(struct pci_dev *dev, int enable);
/* INTx masking at the device (PCI 2.3 Interrupt Disable): whether it works, and the atomic
 * "mask if this device is asserting" / "unmask unless it is" that shared-line drivers use. */
bool pci_intx_mask_supported(struct pci_dev *dev);
bool pci_check_and_mask_intx(struct pci_dev *dev);
bool pci_check_and_unmask_intx(struct pci_dev *dev);
int pci_set_power_state(struct pci_dev *dev, pci_power_t state);

/* Interrupts: MSI/MSI-X messages are programmed in remappable format through the IOMMU's
 * interrupt-remapping table when interrupt remapping is on. */
int pci_alloc_irq_vectors(struct pci_dev *dev, unsigned int min_vecs, unsigned int max_vecs, unsigned int flags);
void pci_free_irq_vectors(struct pci_dev *dev);
int pci_irq_vector(struct pci_dev *dev, unsigned int nr);
int pci_msi_vec_count(struct pci_dev *dev);
int pci_msix_vec_count(struct pci_dev *dev);

/* Resets */
int pcie_flr(struct pci_dev *dev);
bool pcie_has_flr(struct pci_dev *dev);
int pci_reset_function(struct pci_dev *dev);
int pci_reset_function_locked(struct pci_dev *dev);
int pci_try_reset_function(struct pci_dev *dev);
int pci_reset_bus(struct pci_dev *dev);
/* drivers/pci/pci.c: decode (or stop decoding) the legacy VGA resources: the device's Command
 * I/O / Memory bits (CHANGE_DECODES) and VGA Enable on every bridge above it (CHANGE_BRIDGE). */
#define PCI_VGA_STATE_CHANGE_BRIDGE (1 << 0)
#define PCI_VGA_STATE_CHANGE_DECODES (1 << 1)
int pci_set_vga_state(struct pci_dev *dev, bool decode, unsigned int command_bits, u32 flags);
int pci_bridge_secondary_bus_reset(struct pci_dev *dev);
int pci_save_state(struct pci_dev *dev);
void pci_restore_state(struct pci_dev *dev);
bool pci_wait_for_pending_transaction(struct pci_dev *dev);
void pci_dev_lock(struct pci_dev *dev);
void pci_dev_unlock(struct pci_dev *dev);
int pci_dev_trylock(struct pci_dev *dev);

#ifdef __cplusplus
}
#endif

#define pci_register_driver(driver) __pci_register_driver(driver, THIS_MODULE, KBUILD_MODNAME)
#define module_pci_driver(__pci_driver) module_driver(__pci_driver, pci_register_driver, pci_unregister_driver)

static inline const char *pci_name(const struct pci_dev *pdev) { return dev_name(&pdev->dev); }
static inline void *pci_get_drvdata(struct pci_dev *pdev) { return dev_get_drvdata(&pdev->dev); }
static inline void pci_set_drvdata(struct pci_dev *pdev, void *data) { dev_set_drvdata(&pdev->dev, data); }
static inline int pci_domain_nr(struct pci_bus *bus) { return bus->domain_nr; }
static inline u16 pci_dev_id(struct pci_dev *dev) { return PCI_DEVID(dev->bus->number, dev->devfn); }
static inline bool pci_is_pcie(struct pci_dev *dev) { return dev->pcie_cap != 0; }
static inline int pci_pcie_type(const struct pci_dev *dev) { return (dev->pcie_flags_reg & PCI_EXP_FLAGS_TYPE) >> 4; }
static inline bool pci_is_root_bus(struct pci_bus *pbus) { return !(pbus->parent); }
static inline bool pci_is_bridge(struct pci_dev *dev) { return dev->hdr_type == PCI_HEADER_TYPE_BRIDGE || dev->hdr_type == PCI_HEADER_TYPE_CARDBUS; }
static inline bool pci_is_enabled(struct pci_dev *pdev) { return atomic_read(&pdev->enable_cnt) > 0; }
static inline bool dev_is_pci(const struct device *dev) { return dev->bus == &pci_bus_type; }
static inline bool pci_dev_msi_enabled(struct pci_dev *pci_dev) { return pci_dev->msi_enabled || pci_dev->msix_enabled; }

#define pci_resource_start(dev, bar) ((dev)->resource[(bar)].start)
#define pci_resource_end(dev, bar) ((dev)->resource[(bar)].end)
#define pci_resource_flags(dev, bar) ((dev)->resource[(bar)].flags)
#define pci_resource_len(dev, bar) \
	((pci_resource_end((dev), (bar)) == 0) ? 0 : (pci_resource_end((dev), (bar)) - pci_resource_start((dev), (bar)) + 1))

/* include/linux/pci.h: the dev_* printk helpers on a pci_dev */
#define pci_err(pdev, fmt, ...) dev_err(&(pdev)->dev, fmt, ##__VA_ARGS__)
#define pci_warn(pdev, fmt, ...) dev_warn(&(pdev)->dev, fmt, ##__VA_ARGS__)
#define pci_notice(pdev, fmt, ...) dev_notice(&(pdev)->dev, fmt, ##__VA_ARGS__)
#define pci_info(pdev, fmt, ...) dev_info(&(pdev)->dev, fmt, ##__VA_ARGS__)
#define pci_dbg(pdev, fmt, ...) dev_dbg(&(pdev)->dev, fmt, ##__VA_ARGS__)

#endif /* _LINUX_PCI_H */
