// MSI / MSI-X / INTx set-up for the PCI core (pci_msi.cpp).
#pragma once

namespace pciesim::cosim {

class Kernel;
struct PciDev;

// pci_alloc_irq_vectors: MSI-X, then MSI, then INTx as `flags` allow. Vectors allocated or -errno.
int alloc_irq_vectors(Kernel& k, PciDev& d, unsigned min_vecs, unsigned max_vecs, unsigned flags);
void free_irq_vectors(Kernel& k, PciDev& d);
// MSI: the function's Multiple Message Capable count; MSI-X: its table size. -EINVAL without the capability.
int msi_capable_count(Kernel& k, PciDev& d, bool msix);
// Writes the device's MSI/MSI-X messages and enable bits again (pci_restore_msi_state).
void msi_write_state(Kernel& k, PciDev& d);
// The Linux IRQ of the device's INTx line (IOAPIC GSI 16-23 after the bridge swizzle).
int intx_irq(Kernel& k, PciDev& d);

}  // namespace pciesim::cosim
