// SPDX-License-Identifier: GPL-2.0
/*
 * The PCIe AER port service (Linux 6.1 drivers/pci/pcie/aer.c) and its error recovery
 * (drivers/pci/pcie/err.c pcie_do_recovery), as kernel C over the co-simulated kernel's API.
 *
 * At boot (module "aer", loaded after pcieport; docs/aer.md) it does what 6.1 does at enumeration
 * and port probe: Bridge Control SERR# on every bridge (probe.c pci_configure_serr), AER status
 * cleared on every function (pci_aer_init), and for each AER-capable root port bound to pcieport:
 * one interrupt vector (portdrv pcie_port_enable_irq_vec: MSI-X, MSI, else INTx), the threaded
 * handler aer_irq/aer_isr, and aer_enable_rootport (Device Status and AER status cleared, system
 * error generation off, Device Control error reporting on the port and every port below it,
 * Root Error Command interrupts on). AER is taken as native (ACPI _OSC grants it, as on QEMU q35).
 *
 * An error message that reaches a root port interrupts; aer_irq reads and clears Root Error
 * Status, aer_isr finds the source (Error Source Identification, else a scan of the hierarchy
 * for a device whose unmasked status is set), reads its status and header log, prints what 6.1
 * prints, and handles it: correctable -> clear the status; uncorrectable -> pcie_do_recovery
 * (error_detected with pci_channel_io_normal / io_frozen, a Secondary Bus Reset of the link below
 * the port for fatal errors, mmio_enabled / slot_reset / resume as the drivers' votes decide).
 */
#define pr_fmt(fmt) "AER: " fmt
#define dev_fmt pr_fmt

#include <linux/aer.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/interrupt.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>

#define AER_NONFATAL 0
#define AER_FATAL 1
#define AER_CORRECTABLE 2

#define AER_MAX_MULTI_ERR_DEVICES 5 /* Not likely to have more */
#define AER_ERROR_SOURCES_MAX 128   /* the kfifo of error sources per root port */

#define PCI_EXP_AER_FLAGS (PCI_EXP_DEVCTL_CERE | PCI_EXP_DEVCTL_NFERE | PCI_EXP_DEVCTL_FERE | PCI_EXP_DEVCTL_URRE)
#define SYSTEM_ERROR_INTR_ON_MESG_MASK (PCI_EXP_RTCTL_SECEE | PCI_EXP_RTCTL_SENFEE | PCI_EXP_RTCTL_SEFEE)
#define ROOT_PORT_INTR_ON_MESG_MASK (PCI_ERR_ROOT_CMD_COR_EN | PCI_ERR_ROOT_CMD_NONFATAL_EN | PCI_ERR_ROOT_CMD_FATAL_EN)
#define AER_ERR_STATUS_MASK (PCI_ERR_ROOT_UNCOR_RCV | PCI_ERR_ROOT_COR_RCV | PCI_ERR_ROOT_MULTI_COR_RCV | \
			     PCI_ERR_ROOT_MULTI_UNCOR_RCV)
#define ERR_COR_ID(d) (d & 0xffff)
#define ERR_UNCOR_ID(d) (d >> 16)

#define AER_LOG_TLP_MASKS (PCI_ERR_UNC_POISON_TLP | PCI_ERR_UNC_ECRC | PCI_ERR_UNC_UNSUP | \
			   PCI_ERR_UNC_COMP_ABORT | PCI_ERR_UNC_UNX_COMP | PCI_ERR_UNC_MALF_TLP)

struct aer_header_log_regs {
	u32 dw0, dw1, dw2, dw3;
};

struct aer_err_info {
	struct pci_dev *dev[AER_MAX_MULTI_ERR_DEVICES];
	int error_dev_num;
	unsigned int id : 16;
	unsigned int severity : 2;
	unsigned int multi_error_valid : 1;
	unsigned int first_error : 5;
	unsigned int tlp_header_valid : 1;
	unsigned int status; /* COR/UNCOR Error Status */
	unsigned int mask;   /* COR/UNCOR Error Mask */
	struct aer_header_log_regs tlp;
};

struct aer_err_source {
	unsigned int status; /* Root Error Status */
	unsigned int id;     /* Error Source Identification */
};

/* One AER-serviced root port: the port, its IRQ and the kfifo aer_irq fills for aer_isr. */
struct aer_rpc {
	struct pci_dev *rpd;
	int irq;
	struct aer_err_source fifo[AER_ERROR_SOURCES_MAX];
	unsigned int head, tail;
};

#define AER_MAX_ROOT_PORTS 64
static struct aer_rpc *aer_rpcs[AER_MAX_ROOT_PORTS];

static const char *aer_error_severity_string[] = {
	"Uncorrected (Non-Fatal)",
	"Uncorrected (Fatal)",
	"Corrected"
};

static const char *aer_error_layer[] = {
	"Physical Layer",
	"Data Link Layer",
	"Transaction Layer"
};

static const char *aer_correctable_error_string[32] = {
	[0] = "RxErr",
	[6] = "BadTLP",
	[7] = "BadDLLP",
	[8] = "Rollover",
	[12] = "Timeout",
	[13] = "NonFatalErr",
	[14] = "CorrIntErr",
	[15] = "HeaderOF",
};

static const char *aer_uncorrectable_error_string[32] = {
	[0] = "Undefined",
	[4] = "DLP",
	[5] = "SDES",
	[12] = "TLP",
	[13] = "FCP",
	[14] = "CmpltTO",
	[15] = "CmpltAbrt",
	[16] = "UnxCmplt",
	[17] = "RxOF",
	[18] = "MalfTLP",
	[19] = "ECRC",
	[20] = "UnsupReq",
	[21] = "ACSViol",
	[22] = "UncorrIntErr",
	[23] = "BlockedTLP",
	[24] = "AtomicOpBlocked",
	[25] = "TLPBlockedErr",
	[26] = "PoisonTLPBlocked",
};

static const char *aer_agent_string[] = {
	"Receiver ID",
	"Requester ID",
	"Completer ID",
	"Transmitter ID"
};

#define AER_AGENT_RECEIVER 0
#define AER_AGENT_REQUESTER 1
#define AER_AGENT_COMPLETER 2
#define AER_AGENT_TRANSMITTER 3

#define AER_AGENT_REQUESTER_MASK(t) ((t == AER_CORRECTABLE) ? 0 : (PCI_ERR_UNC_COMP_TIME | PCI_ERR_UNC_UNSUP))
#define AER_AGENT_COMPLETER_MASK(t) ((t == AER_CORRECTABLE) ? 0 : PCI_ERR_UNC_COMP_ABORT)
#define AER_AGENT_TRANSMITTER_MASK(t) ((t == AER_CORRECTABLE) ? (PCI_ERR_COR_REP_ROLL | PCI_ERR_COR_REP_TIMER) : 0)

#define AER_GET_AGENT(t, e) \
	((e & AER_AGENT_COMPLETER_MASK(t)) ? AER_AGENT_COMPLETER : \
	 (e & AER_AGENT_REQUESTER_MASK(t)) ? AER_AGENT_REQUESTER : \
	 (e & AER_AGENT_TRANSMITTER_MASK(t)) ? AER_AGENT_TRANSMITTER : AER_AGENT_RECEIVER)

#define AER_PHYSICAL_LAYER_ERROR 0
#define AER_DATA_LINK_LAYER_ERROR 1
#define AER_TRANSACTION_LAYER_ERROR 2

#define AER_PHYSICAL_LAYER_ERROR_MASK(t) ((t == AER_CORRECTABLE) ? PCI_ERR_COR_RCVR : 0)
#define AER_DATA_LINK_LAYER_ERROR_MASK(t) \
	((t == AER_CORRECTABLE) ? (PCI_ERR_COR_BAD_TLP | PCI_ERR_COR_BAD_DLLP | PCI_ERR_COR_REP_ROLL | \
				   PCI_ERR_COR_REP_TIMER) : PCI_ERR_UNC_DLP)

#define AER_GET_LAYER_ERROR(t, e) \
	((e & AER_PHYSICAL_LAYER_ERROR_MASK(t)) ? AER_PHYSICAL_LAYER_ERROR : \
	 (e & AER_DATA_LINK_LAYER_ERROR_MASK(t)) ? AER_DATA_LINK_LAYER_ERROR : AER_TRANSACTION_LAYER_ERROR)

/* dev->aer_cap in Linux (pci_aer_init caches it). */
static int aer_cap(struct pci_dev *dev)
{
	return pci_is_pcie(dev) ? pci_find_ext_capability(dev, PCI_EXT_CAP_ID_ERR) : 0;
}

/* pcie_aer_is_native: the OS owns AER (host->native_aer) and the device has the capability. */
static bool pcie_aer_is_native(struct pci_dev *dev)
{
	return aer_cap(dev) != 0;
}

/* pci_walk_bus (drivers/pci/bus.c): depth first, a bridge before the devices behind it; a
 * callback returning non-zero stops the walk. */
static int aer_walk_bus(struct pci_bus *bus, int (*cb)(struct pci_dev *, void *), void *userdata)
{
	struct pci_dev *dev = NULL;
	int ret = 0;

	while ((dev = pci_get_device(PCI_ANY_ID, PCI_ANY_ID, dev)) != NULL) {
		if (dev->bus != bus)
			continue;
		ret = cb(dev, userdata);
		if (!ret && dev->subordinate)
			ret = aer_walk_bus(dev->subordinate, cb, userdata);
		if (ret) {
			pci_dev_put(dev);
			break;
		}
	}
	return ret;
}

static struct pci_dev *pcie_find_root_port(struct pci_dev *dev)
{
	while (dev) {
		if (pci_is_pcie(dev) && pci_pcie_type(dev) == PCI_EXP_TYPE_ROOT_PORT)
			return dev;
		dev = pci_upstream_bridge(dev);
	}
	return NULL;
}

static void pcie_capability_set_word_bits(struct pci_dev *dev, int pos, u16 set)
{
	pcie_capability_clear_and_set_word(dev, pos, 0, set);
}

static void pcie_clear_device_status(struct pci_dev *dev)
{
	u16 sta;

	pcie_capability_read_word(dev, PCI_EXP_DEVSTA, &sta);
	pcie_capability_write_word(dev, PCI_EXP_DEVSTA, sta);
}

int pci_enable_pcie_error_reporting(struct pci_dev *dev)
{
	if (!pcie_aer_is_native(dev))
		return -EIO;
	pcie_capability_set_word_bits(dev, PCI_EXP_DEVCTL, PCI_EXP_AER_FLAGS);
	return 0;
}

int pci_disable_pcie_error_reporting(struct pci_dev *dev)
{
	if (!pcie_aer_is_native(dev))
		return -EIO;
	pcie_capability_clear_and_set_word(dev, PCI_EXP_DEVCTL, PCI_EXP_AER_FLAGS, 0);
	return 0;
}

int pci_aer_clear_nonfatal_status(struct pci_dev *dev)
{
	int aer = aer_cap(dev);
	u32 status, sev;

	if (!pcie_aer_is_native(dev))
		return -EIO;

	/* Clear status bits for ERR_NONFATAL errors only */
	pci_read_config_dword(dev, aer + PCI_ERR_UNCOR_STATUS, &status);
	pci_read_config_dword(dev, aer + PCI_ERR_UNCOR_SEVER, &sev);
	status &= ~sev;
	if (status)
		pci_write_config_dword(dev, aer + PCI_ERR_UNCOR_STATUS, status);
	return 0;
}

/* pci_aer_raw_clear_status */
static int pci_aer_clear_status(struct pci_dev *dev)
{
	int aer = aer_cap(dev);
	int port_type;
	u32 status;

	if (!aer)
		return -EIO;
	port_type = pci_pcie_type(dev);
	if (port_type == PCI_EXP_TYPE_ROOT_PORT || port_type == PCI_EXP_TYPE_RC_EC) {
		pci_read_config_dword(dev, aer + PCI_ERR_ROOT_STATUS, &status);
		pci_write_config_dword(dev, aer + PCI_ERR_ROOT_STATUS, status);
	}
	pci_read_config_dword(dev, aer + PCI_ERR_COR_STATUS, &status);
	pci_write_config_dword(dev, aer + PCI_ERR_COR_STATUS, status);
	pci_read_config_dword(dev, aer + PCI_ERR_UNCOR_STATUS, &status);
	pci_write_config_dword(dev, aer + PCI_ERR_UNCOR_STATUS, status);
	return 0;
}

/* probe.c pci_configure_serr: "A bridge will not forward ERR_ messages coming from an endpoint
 * unless SERR# forwarding is enabled." */
static void pci_configure_serr(struct pci_dev *dev)
{
	u16 control;

	if (dev->hdr_type == PCI_HEADER_TYPE_BRIDGE) {
		pci_read_config_word(dev, PCI_BRIDGE_CONTROL, &control);
		if (!(control & PCI_BRIDGE_CTL_SERR)) {
			control |= PCI_BRIDGE_CTL_SERR;
			pci_write_config_word(dev, PCI_BRIDGE_CONTROL, control);
		}
	}
}

/* ---- error recovery (drivers/pci/pcie/err.c) ---- */

static pci_ers_result_t merge_result(enum pci_ers_result orig, enum pci_ers_result new)
{
	if (new == PCI_ERS_RESULT_NO_AER_DRIVER)
		return PCI_ERS_RESULT_NO_AER_DRIVER;
	if (new == PCI_ERS_RESULT_NONE)
		return orig;
	switch (orig) {
	case PCI_ERS_RESULT_CAN_RECOVER:
	case PCI_ERS_RESULT_RECOVERED:
		orig = new;
		break;
	case PCI_ERS_RESULT_DISCONNECT:
		if (new == PCI_ERS_RESULT_NEED_RESET)
			orig = PCI_ERS_RESULT_NEED_RESET;
		break;
	default:
		break;
	}
	return orig;
}

static int report_error_detected(struct pci_dev *dev, pci_channel_state_t state, enum pci_ers_result *result)
{
	struct pci_driver *pdrv = dev->driver;
	pci_ers_result_t vote;

	pci_dev_lock(dev);
	if (!pdrv || !pdrv->err_handler || !pdrv->err_handler->error_detected) {
		/*
		 * If any device in the subtree does not have an error_detected callback,
		 * PCI_ERS_RESULT_NO_AER_DRIVER prevents subsequent error callbacks of "any"
		 * device in the subtree, and will exit in the disconnected error state.
		 */
		if (dev->hdr_type != PCI_HEADER_TYPE_BRIDGE) {
			vote = PCI_ERS_RESULT_NO_AER_DRIVER;
			pci_info(dev, "can't recover (no error_detected callback)\n");
		} else {
			vote = PCI_ERS_RESULT_NONE;
		}
	} else {
		vote = pdrv->err_handler->error_detected(dev, state);
	}
	*result = merge_result(*result, vote);
	pci_dev_unlock(dev);
	return 0;
}

static int report_frozen_detected(struct pci_dev *dev, void *data)
{
	return report_error_detected(dev, pci_channel_io_frozen, data);
}

static int report_normal_detected(struct pci_dev *dev, void *data)
{
	return report_error_detected(dev, pci_channel_io_normal, data);
}

static int report_mmio_enabled(struct pci_dev *dev, void *data)
{
	struct pci_driver *pdrv = dev->driver;
	pci_ers_result_t *result = data;

	pci_dev_lock(dev);
	if (pdrv && pdrv->err_handler && pdrv->err_handler->mmio_enabled)
		*result = merge_result(*result, pdrv->err_handler->mmio_enabled(dev));
	pci_dev_unlock(dev);
	return 0;
}

static int report_slot_reset(struct pci_dev *dev, void *data)
{
	struct pci_driver *pdrv = dev->driver;
	pci_ers_result_t *result = data;

	pci_dev_lock(dev);
	if (pdrv && pdrv->err_handler && pdrv->err_handler->slot_reset)
		*result = merge_result(*result, pdrv->err_handler->slot_reset(dev));
	pci_dev_unlock(dev);
	return 0;
}

static int report_resume(struct pci_dev *dev, void *data)
{
	struct pci_driver *pdrv = dev->driver;

	pci_dev_lock(dev);
	if (pdrv && pdrv->err_handler && pdrv->err_handler->resume)
		pdrv->err_handler->resume(dev);
	pci_dev_unlock(dev);
	return 0;
}

static void pci_walk_bridge(struct pci_dev *bridge, int (*cb)(struct pci_dev *, void *), void *userdata)
{
	if (bridge->subordinate)
		aer_walk_bus(bridge->subordinate, cb, userdata);
	else
		cb(bridge, userdata);
}

/* aer_root_reset: Root Error Command interrupts off, a Secondary Bus Reset of the link below
 * `dev` (pci_bus_error_reset -> pci_bus_reset: no slot reset here, no state saved), Root Error
 * Status cleared, interrupts back on. */
static pci_ers_result_t aer_root_reset(struct pci_dev *dev)
{
	struct pci_dev *root = pcie_find_root_port(dev);
	int aer = root ? aer_cap(root) : 0;
	u32 reg32;
	int rc;

	if (aer) {
		/* Disable Root's interrupt in response to error messages */
		pci_read_config_dword(root, aer + PCI_ERR_ROOT_COMMAND, &reg32);
		reg32 &= ~ROOT_PORT_INTR_ON_MESG_MASK;
		pci_write_config_dword(root, aer + PCI_ERR_ROOT_COMMAND, reg32);
	}

	rc = dev->subordinate ? pci_bridge_secondary_bus_reset(dev) : -ENOTTY;
	pci_info(dev, "%s Port link has been reset (%d)\n", pci_is_root_bus(dev->bus) ? "Root" : "Downstream", rc);

	if (aer) {
		/* Clear Root Error Status */
		pci_read_config_dword(root, aer + PCI_ERR_ROOT_STATUS, &reg32);
		pci_write_config_dword(root, aer + PCI_ERR_ROOT_STATUS, reg32);

		/* Enable Root Port's interrupt in response to error messages */
		pci_read_config_dword(root, aer + PCI_ERR_ROOT_COMMAND, &reg32);
		reg32 |= ROOT_PORT_INTR_ON_MESG_MASK;
		pci_write_config_dword(root, aer + PCI_ERR_ROOT_COMMAND, reg32);
	}
	return rc ? PCI_ERS_RESULT_DISCONNECT : PCI_ERS_RESULT_RECOVERED;
}

static pci_ers_result_t pcie_do_recovery(struct pci_dev *dev, pci_channel_state_t state,
					 pci_ers_result_t (*reset_subordinates)(struct pci_dev *pdev))
{
	int type = pci_pcie_type(dev);
	struct pci_dev *bridge;
	pci_ers_result_t status = PCI_ERS_RESULT_CAN_RECOVER;

	/*
	 * If the error was detected by a Root Port, Downstream Port, RCEC, or RCiEP, recovery
	 * runs on the device itself (and, for Ports, everything below). Otherwise it runs on
	 * everything under the same Port.
	 */
	if (type == PCI_EXP_TYPE_ROOT_PORT || type == PCI_EXP_TYPE_DOWNSTREAM ||
	    type == PCI_EXP_TYPE_RC_EC || type == PCI_EXP_TYPE_RC_END)
		bridge = dev;
	else
		bridge = pci_upstream_bridge(dev);

	pci_dbg(bridge, "broadcast error_detected message\n");
	if (state == pci_channel_io_frozen) {
		pci_walk_bridge(bridge, report_frozen_detected, &status);
		if (reset_subordinates(bridge) != PCI_ERS_RESULT_RECOVERED) {
			pci_warn(bridge, "subordinate device reset failed\n");
			goto failed;
		}
	} else {
		pci_walk_bridge(bridge, report_normal_detected, &status);
	}

	if (status == PCI_ERS_RESULT_CAN_RECOVER) {
		status = PCI_ERS_RESULT_RECOVERED;
		pci_dbg(bridge, "broadcast mmio_enabled message\n");
		pci_walk_bridge(bridge, report_mmio_enabled, &status);
	}

	if (status == PCI_ERS_RESULT_NEED_RESET) {
		/* 6.1: "TODO: Should call platform-specific functions to reset slot before calling
		 * drivers' slot_reset callbacks?" -- no reset here. */
		status = PCI_ERS_RESULT_RECOVERED;
		pci_dbg(bridge, "broadcast slot_reset message\n");
		pci_walk_bridge(bridge, report_slot_reset, &status);
	}

	if (status != PCI_ERS_RESULT_RECOVERED)
		goto failed;

	pci_dbg(bridge, "broadcast resume message\n");
	pci_walk_bridge(bridge, report_resume, &status);

	/* Native AER: clear the error status of the device that detected the error. */
	pcie_clear_device_status(dev);
	pci_aer_clear_nonfatal_status(dev);
	pci_info(bridge, "device recovery successful\n");
	return status;

failed:
	pci_info(bridge, "device recovery failed\n");
	return status;
}

/* ---- finding and printing the error (aer.c) ---- */

static void __aer_print_error(struct pci_dev *dev, struct aer_err_info *info)
{
	const char **strings;
	unsigned long status = info->status & ~info->mask;
	const char *level, *errmsg;
	int i;

	if (info->severity == AER_CORRECTABLE) {
		strings = aer_correctable_error_string;
		level = KERN_WARNING;
	} else {
		strings = aer_uncorrectable_error_string;
		level = KERN_ERR;
	}

	for (i = 0; i < 32; i++) {
		if (!(status & (1ul << i)))
			continue;
		errmsg = strings[i];
		if (!errmsg)
			errmsg = "Unknown Error Bit";
		dev_printk(level, &dev->dev, "   [%2d] %-22s%s\n", i, errmsg,
			   info->first_error == i ? " (First)" : "");
	}
}

static void aer_print_error(struct pci_dev *dev, struct aer_err_info *info)
{
	int layer, agent;
	int id = ((dev->bus->number << 8) | dev->devfn);
	const char *level;

	if (!info->status) {
		pci_err(dev, "PCIe Bus Error: severity=%s, type=Inaccessible, (Unregistered Agent ID)\n",
			aer_error_severity_string[info->severity]);
		goto out;
	}

	layer = AER_GET_LAYER_ERROR(info->severity, info->status);
	agent = AER_GET_AGENT(info->severity, info->status);

	level = (info->severity == AER_CORRECTABLE) ? KERN_WARNING : KERN_ERR;

	dev_printk(level, &dev->dev, "PCIe Bus Error: severity=%s, type=%s, (%s)\n",
		   aer_error_severity_string[info->severity], aer_error_layer[layer], aer_agent_string[agent]);
	dev_printk(level, &dev->dev, "  device [%04x:%04x] error status/mask=%08x/%08x\n",
		   dev->vendor, dev->device, info->status, info->mask);

	__aer_print_error(dev, info);

	if (info->tlp_header_valid)
		pci_err(dev, "  TLP Header: %08x %08x %08x %08x\n",
			info->tlp.dw0, info->tlp.dw1, info->tlp.dw2, info->tlp.dw3);
out:
	if (info->id && info->error_dev_num > 1 && info->id == id)
		pci_err(dev, "  Error of this Agent is reported first\n");
}

static void aer_print_port_info(struct pci_dev *dev, struct aer_err_info *info)
{
	u8 bus = info->id >> 8;
	u8 devfn = info->id & 0xff;

	pci_info(dev, "%s%s error received: %04x:%02x:%02x.%d\n",
		 info->multi_error_valid ? "Multiple " : "", aer_error_severity_string[info->severity],
		 pci_domain_nr(dev->bus), bus, PCI_SLOT(devfn), PCI_FUNC(devfn));
}

static int add_error_device(struct aer_err_info *e_info, struct pci_dev *dev)
{
	if (e_info->error_dev_num < AER_MAX_MULTI_ERR_DEVICES) {
		e_info->dev[e_info->error_dev_num] = pci_dev_get(dev);
		e_info->error_dev_num++;
		return 0;
	}
	return -ENOSPC;
}

static bool is_error_source(struct pci_dev *dev, struct aer_err_info *e_info)
{
	int aer = aer_cap(dev);
	u32 status, mask;
	u16 reg16;

	/* When bus id is equal to 0, it might be a bad id reported by root port. */
	if (PCI_BUS_NUM(e_info->id) != 0) {
		/* Device ID match? */
		if (e_info->id == ((dev->bus->number << 8) | dev->devfn))
			return true;
		/* Continue id comparing if there is no multiple error */
		if (!e_info->multi_error_valid)
			return false;
	}

	/* Multiple errors, or a lost source id: look for a device with the error recorded. */
	if (!pci_is_enabled(dev))
		return false;
	pcie_capability_read_word(dev, PCI_EXP_DEVCTL, &reg16);
	if (!(reg16 & PCI_EXP_AER_FLAGS))
		return false;
	if (!aer)
		return false;
	if (e_info->severity == AER_CORRECTABLE) {
		pci_read_config_dword(dev, aer + PCI_ERR_COR_STATUS, &status);
		pci_read_config_dword(dev, aer + PCI_ERR_COR_MASK, &mask);
	} else {
		pci_read_config_dword(dev, aer + PCI_ERR_UNCOR_STATUS, &status);
		pci_read_config_dword(dev, aer + PCI_ERR_UNCOR_MASK, &mask);
	}
	return (status & ~mask) != 0;
}

static int find_device_iter(struct pci_dev *dev, void *data)
{
	struct aer_err_info *e_info = (struct aer_err_info *)data;

	if (is_error_source(dev, e_info)) {
		/* List this device; we cannot handle more: stop iteration */
		if (add_error_device(e_info, dev))
			return 1;
		/* If there is only a single error, stop iteration */
		if (!e_info->multi_error_valid)
			return 1;
	}
	return 0;
}

static bool find_source_device(struct pci_dev *parent, struct aer_err_info *e_info)
{
	/* Must reset in this function */
	e_info->error_dev_num = 0;

	/* Is Root Port an agent that sends error message? */
	if (find_device_iter(parent, e_info))
		return true;

	if (parent->subordinate)
		aer_walk_bus(parent->subordinate, find_device_iter, e_info);

	if (!e_info->error_dev_num) {
		pci_info(parent, "can't find device of ID%04x\n", e_info->id);
		return false;
	}
	return true;
}

static int aer_get_device_error_info(struct pci_dev *dev, struct aer_err_info *info)
{
	int type = pci_pcie_type(dev);
	int aer = aer_cap(dev);
	u32 temp;

	/* Must reset in this function */
	info->status = 0;
	info->tlp_header_valid = 0;

	/* The device might not support AER */
	if (!aer)
		return 0;

	if (info->severity == AER_CORRECTABLE) {
		pci_read_config_dword(dev, aer + PCI_ERR_COR_STATUS, &info->status);
		pci_read_config_dword(dev, aer + PCI_ERR_COR_MASK, &info->mask);
		if (!(info->status & ~info->mask))
			return 0;
	} else if (type == PCI_EXP_TYPE_ROOT_PORT || type == PCI_EXP_TYPE_RC_EC ||
		   type == PCI_EXP_TYPE_DOWNSTREAM || info->severity == AER_NONFATAL) {
		/* Link is still healthy for IO reads (a fatal error below a port is not read) */
		pci_read_config_dword(dev, aer + PCI_ERR_UNCOR_STATUS, &info->status);
		pci_read_config_dword(dev, aer + PCI_ERR_UNCOR_MASK, &info->mask);
		if (!(info->status & ~info->mask))
			return 0;

		/* Get First Error Pointer */
		pci_read_config_dword(dev, aer + PCI_ERR_CAP, &temp);
		info->first_error = PCI_ERR_CAP_FEP(temp);

		if (info->status & AER_LOG_TLP_MASKS) {
			info->tlp_header_valid = 1;
			pci_read_config_dword(dev, aer + PCI_ERR_HEADER_LOG, &info->tlp.dw0);
			pci_read_config_dword(dev, aer + PCI_ERR_HEADER_LOG + 4, &info->tlp.dw1);
			pci_read_config_dword(dev, aer + PCI_ERR_HEADER_LOG + 8, &info->tlp.dw2);
			pci_read_config_dword(dev, aer + PCI_ERR_HEADER_LOG + 12, &info->tlp.dw3);
		}
	}
	return 1;
}

static void handle_error_source(struct pci_dev *dev, struct aer_err_info *info)
{
	int aer = aer_cap(dev);

	if (info->severity == AER_CORRECTABLE) {
		/* Correctable error does not need software intervention. */
		if (aer)
			pci_write_config_dword(dev, aer + PCI_ERR_COR_STATUS, info->status);
		if (pcie_aer_is_native(dev))
			pcie_clear_device_status(dev);
	} else if (info->severity == AER_NONFATAL) {
		pcie_do_recovery(dev, pci_channel_io_normal, aer_root_reset);
	} else if (info->severity == AER_FATAL) {
		pcie_do_recovery(dev, pci_channel_io_frozen, aer_root_reset);
	}
	pci_dev_put(dev);
}

static void aer_process_err_devices(struct aer_err_info *e_info)
{
	int i;

	/* Report all before handle them, not to lost records by reset etc. */
	for (i = 0; i < e_info->error_dev_num && e_info->dev[i]; i++) {
		if (aer_get_device_error_info(e_info->dev[i], e_info))
			aer_print_error(e_info->dev[i], e_info);
	}
	for (i = 0; i < e_info->error_dev_num && e_info->dev[i]; i++) {
		if (aer_get_device_error_info(e_info->dev[i], e_info))
			handle_error_source(e_info->dev[i], e_info);
		else
			pci_dev_put(e_info->dev[i]);
	}
}

static void aer_isr_one_error(struct aer_rpc *rpc, struct aer_err_source *e_src)
{
	struct pci_dev *pdev = rpc->rpd;
	struct aer_err_info e_info;

	memset(&e_info, 0, sizeof(e_info));
	/* There is a possibility that both correctable error and uncorrectable error being
	 * logged. Report correctable error first. */
	if (e_src->status & PCI_ERR_ROOT_COR_RCV) {
		e_info.id = ERR_COR_ID(e_src->id);
		e_info.severity = AER_CORRECTABLE;
		e_info.multi_error_valid = (e_src->status & PCI_ERR_ROOT_MULTI_COR_RCV) ? 1 : 0;
		aer_print_port_info(pdev, &e_info);
		if (find_source_device(pdev, &e_info))
			aer_process_err_devices(&e_info);
	}

	if (e_src->status & PCI_ERR_ROOT_UNCOR_RCV) {
		e_info.id = ERR_UNCOR_ID(e_src->id);
		e_info.severity = (e_src->status & PCI_ERR_ROOT_FATAL_RCV) ? AER_FATAL : AER_NONFATAL;
		e_info.multi_error_valid = (e_src->status & PCI_ERR_ROOT_MULTI_UNCOR_RCV) ? 1 : 0;
		aer_print_port_info(pdev, &e_info);
		if (find_source_device(pdev, &e_info))
			aer_process_err_devices(&e_info);
	}
}

/* aer_isr: the threaded half; drains what aer_irq queued. */
static irqreturn_t aer_isr(int irq, void *context)
{
	struct aer_rpc *rpc = context;

	if (rpc->head == rpc->tail)
		return IRQ_NONE;
	while (rpc->head != rpc->tail) {
		struct aer_err_source e_src = rpc->fifo[rpc->tail % AER_ERROR_SOURCES_MAX];

		rpc->tail++;
		aer_isr_one_error(rpc, &e_src);
	}
	return IRQ_HANDLED;
}

/* aer_irq: the hard half; reads and clears Root Error Status, queues it with the source ids. */
static irqreturn_t aer_irq(int irq, void *context)
{
	struct aer_rpc *rpc = context;
	struct pci_dev *rp = rpc->rpd;
	int aer = aer_cap(rp);
	struct aer_err_source e_src = {0};

	pci_read_config_dword(rp, aer + PCI_ERR_ROOT_STATUS, &e_src.status);
	if (!(e_src.status & AER_ERR_STATUS_MASK))
		return IRQ_NONE;

	pci_read_config_dword(rp, aer + PCI_ERR_ROOT_ERR_SRC, &e_src.id);
	pci_write_config_dword(rp, aer + PCI_ERR_ROOT_STATUS, e_src.status);

	if (rpc->head - rpc->tail >= AER_ERROR_SOURCES_MAX) /* kfifo_put on a full fifo */
		return IRQ_HANDLED;
	rpc->fifo[rpc->head % AER_ERROR_SOURCES_MAX] = e_src;
	rpc->head++;
	return IRQ_WAKE_THREAD;
}

static int set_device_error_reporting(struct pci_dev *dev, void *data)
{
	bool enable = *((bool *)data);
	int type = pci_pcie_type(dev);

	if (!pci_is_pcie(dev))
		return 0;
	if (type == PCI_EXP_TYPE_ROOT_PORT || type == PCI_EXP_TYPE_RC_EC ||
	    type == PCI_EXP_TYPE_UPSTREAM || type == PCI_EXP_TYPE_DOWNSTREAM) {
		if (enable)
			pci_enable_pcie_error_reporting(dev);
		else
			pci_disable_pcie_error_reporting(dev);
	}
	return 0;
}

static void set_downstream_devices_error_reporting(struct pci_dev *dev, bool enable)
{
	set_device_error_reporting(dev, &enable);
	if (dev->subordinate)
		aer_walk_bus(dev->subordinate, set_device_error_reporting, &enable);
}

static void aer_enable_rootport(struct aer_rpc *rpc)
{
	struct pci_dev *pdev = rpc->rpd;
	int aer = aer_cap(pdev);
	u16 reg16;
	u32 reg32;

	/* Clear PCIe Capability's Device Status */
	pcie_capability_read_word(pdev, PCI_EXP_DEVSTA, &reg16);
	pcie_capability_write_word(pdev, PCI_EXP_DEVSTA, reg16);

	/* Disable system error generation in response to error messages */
	pcie_capability_clear_and_set_word(pdev, PCI_EXP_RTCTL, SYSTEM_ERROR_INTR_ON_MESG_MASK, 0);

	/* Clear error status */
	pci_read_config_dword(pdev, aer + PCI_ERR_ROOT_STATUS, &reg32);
	pci_write_config_dword(pdev, aer + PCI_ERR_ROOT_STATUS, reg32);
	pci_read_config_dword(pdev, aer + PCI_ERR_COR_STATUS, &reg32);
	pci_write_config_dword(pdev, aer + PCI_ERR_COR_STATUS, reg32);
	pci_read_config_dword(pdev, aer + PCI_ERR_UNCOR_STATUS, &reg32);
	pci_write_config_dword(pdev, aer + PCI_ERR_UNCOR_STATUS, reg32);

	/* Enable error reporting for the root port device and downstream port devices. */
	set_downstream_devices_error_reporting(pdev, true);

	/* Enable Root Port's interrupt in response to error messages */
	pci_read_config_dword(pdev, aer + PCI_ERR_ROOT_COMMAND, &reg32);
	reg32 |= ROOT_PORT_INTR_ON_MESG_MASK;
	pci_write_config_dword(pdev, aer + PCI_ERR_ROOT_COMMAND, reg32);
}

static void aer_disable_rootport(struct aer_rpc *rpc)
{
	struct pci_dev *pdev = rpc->rpd;
	int aer = aer_cap(pdev);
	u32 reg32;

	/* Disable Root's interrupt in response to error messages */
	pci_read_config_dword(pdev, aer + PCI_ERR_ROOT_COMMAND, &reg32);
	reg32 &= ~ROOT_PORT_INTR_ON_MESG_MASK;
	pci_write_config_dword(pdev, aer + PCI_ERR_ROOT_COMMAND, reg32);

	set_downstream_devices_error_reporting(pdev, false);

	/* Clear Root's error status reg */
	pci_read_config_dword(pdev, aer + PCI_ERR_ROOT_STATUS, &reg32);
	pci_write_config_dword(pdev, aer + PCI_ERR_ROOT_STATUS, reg32);
}

/* aer_probe, with the port's vector as portdrv allocates it (pcie_port_enable_irq_vec). */
static int aer_probe(struct pci_dev *port, struct aer_rpc **slot)
{
	struct aer_rpc *rpc;
	int status, nvec;

	/* Limit to Root Ports or Root Complex Event Collectors */
	if (pci_pcie_type(port) != PCI_EXP_TYPE_RC_EC && pci_pcie_type(port) != PCI_EXP_TYPE_ROOT_PORT)
		return -ENODEV;

	nvec = pci_alloc_irq_vectors(port, 1, 1, PCI_IRQ_MSIX | PCI_IRQ_MSI | PCI_IRQ_LEGACY);
	if (nvec < 0)
		return nvec;

	rpc = kzalloc(sizeof(*rpc), GFP_KERNEL);
	if (!rpc) {
		pci_free_irq_vectors(port);
		return -ENOMEM;
	}
	rpc->rpd = port;
	rpc->irq = pci_irq_vector(port, 0);

	status = request_threaded_irq(rpc->irq, aer_irq, aer_isr, IRQF_SHARED, "aerdrv", rpc);
	if (status) {
		pci_err(port, "request AER IRQ %d failed\n", rpc->irq);
		kfree(rpc);
		pci_free_irq_vectors(port);
		return status;
	}

	aer_enable_rootport(rpc);
	*slot = rpc;
	pci_info(port, "enabled with IRQ %d\n", rpc->irq);
	return 0;
}

static void aer_remove(struct aer_rpc *rpc)
{
	free_irq(rpc->irq, rpc);
	aer_disable_rootport(rpc);
	pci_free_irq_vectors(rpc->rpd);
	kfree(rpc);
}

static int __init aer_service_init(void)
{
	struct pci_dev *dev = NULL;
	int n = 0;

	/* What enumeration does in 6.1 (pci_configure_serr, pci_aer_init): in scan order. */
	while ((dev = pci_get_device(PCI_ANY_ID, PCI_ANY_ID, dev)) != NULL) {
		pci_configure_serr(dev);
		if (aer_cap(dev))
			pci_aer_clear_status(dev);
	}
	/* The AER service of every root port pcieport drives (portdrv: AER when native). */
	while ((dev = pci_get_device(PCI_ANY_ID, PCI_ANY_ID, dev)) != NULL) {
		if (!pci_is_pcie(dev) || pci_pcie_type(dev) != PCI_EXP_TYPE_ROOT_PORT || !aer_cap(dev))
			continue;
		if (!dev->driver || strcmp(dev->driver->name, "pcieport") != 0)
			continue;
		if (n == AER_MAX_ROOT_PORTS)
			break;
		if (!aer_probe(dev, &aer_rpcs[n]))
			n++;
	}
	if (dev)
		pci_dev_put(dev);
	return 0;
}

static void __exit aer_service_exit(void)
{
	int i;

	for (i = 0; i < AER_MAX_ROOT_PORTS; i++) {
		if (aer_rpcs[i])
			aer_remove(aer_rpcs[i]);
		aer_rpcs[i] = NULL;
	}
}

module_init(aer_service_init);
module_exit(aer_service_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("PCIe Advanced Error Reporting port service");
