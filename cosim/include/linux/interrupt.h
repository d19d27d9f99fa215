/* Interrupt handlers (include/linux/interrupt.h). Linux IRQ numbers come from
 * pci_alloc_irq_vectors()/pci_irq_vector(); a device's message reaches its handler only after the
 * remapping unit translated it (or passed it through when interrupt remapping is off). Handlers
 * run in the co-simulated kernel's interrupt context, never inside the device's transaction. */
#ifndef _LINUX_INTERRUPT_H
#define _LINUX_INTERRUPT_H

#include <linux/irqreturn.h>
#include <linux/types.h>

typedef irqreturn_t (*irq_handler_t)(int irq, void *dev_id);

#define IRQF_SHARED 0x00000080
#define IRQF_ONESHOT 0x00002000
#define IRQF_NO_THREAD 0x00010000
#define IRQF_NO_AUTOEN 0x00080000

#ifdef __cplusplus
extern "C" {
#endif
int request_threaded_irq(unsigned int irq, irq_handler_t handler, irq_handler_t thread_fn, unsigned long flags,
			 const char *name, void *dev_id);
const void *free_irq(unsigned int irq, void *dev_id);
void disable_irq(unsigned int irq);
void disable_irq_nosync(unsigned int irq);
void enable_irq(unsigned int irq);
void synchronize_irq(unsigned int irq);
bool in_interrupt(void);
#ifdef __cplusplus
}
#endif

static inline int request_irq(unsigned int irq, irq_handler_t handler, unsigned long flags, const char *name, void *dev)
{
	return request_threaded_irq(irq, handler, NULL, flags, name, dev);
}

#endif /* _LINUX_INTERRUPT_H */
