/* pvpanic.h - the pvpanic PCI device (1b36:0011): the guest kernel's way to
 * say it panicked (Linux: CONFIG_PVPANIC_PCI, driver pvpanic-pci).
 *
 * One memory BAR (4 KiB, the smallest BAR our PCI layer places; the
 * register is byte 0, the rest reads 0 and ignores writes). Reading the
 * register gives the events the device supports (PANICKED | CRASH_LOADED);
 * writing it reports an event:
 *  - PVPANIC_PANICKED ends the VM with VM_STOP_CRASH and the reason
 *    "pvpanic: guest kernel panicked" (`xvm run` exits 3 with
 *    "xvm: guest crashed: pvpanic: guest kernel panicked");
 *  - PVPANIC_CRASH_LOADED (Linux sends it instead of PANICKED when a kdump
 *    kernel is loaded) is logged as a warning and the guest keeps running,
 *    so the crash kernel can save its dump; ending the VM would lose it.
 * Unknown bits are ignored. Every write of a known event fires the
 * xpv:::guest-panic probe.
 *
 * Threads: the register is written on vCPU threads; the device keeps no
 * state besides what vm_request_stop() records. */
#ifndef XVM_PVPANIC_H
#define XVM_PVPANIC_H

#include <stdint.h>

struct vm;
struct pci_bus;
struct pvpanic;

#define PVPANIC_PANICKED 0x1
#define PVPANIC_CRASH_LOADED 0x2
#define PVPANIC_EVENTS (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)
#define PVPANIC_VENDOR 0x1b36
#define PVPANIC_DEVICE 0x0011

/* Create the device and plug it into bus (next free slot). 0, -ENOMEM, or
 * the -errno of pci_register (-ENOSPC: no slot or BAR space left). */
int pvpanic_create(struct vm *vm, struct pci_bus *bus, struct pvpanic **out);
/* Free the device (after the vCPUs stopped). NULL is fine. */
void pvpanic_destroy(struct pvpanic *p);
/* The device's PCI slot on bus 0 (for logs and tests). */
unsigned pvpanic_slot(const struct pvpanic *p);

#endif
