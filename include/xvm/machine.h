/* machine.h - the whole virtual PC one VMM process runs: the VM, the
 * platform devices (ACPI PM, PCI, COM1 console), virtio disks, the device
 * event loop, firmware tables and the loaded kernel.
 *
 * machine_create() checks and opens every input (kernel, initrd, disk
 * images) before it creates anything visible outside the process (the
 * console file or pty comes last), so bad input leaves nothing behind.
 * machine_destroy() stops the vCPUs, then the event loop, then the devices,
 * then the VM. */
#ifndef XVM_MACHINE_H
#define XVM_MACHINE_H

#include "xvm/boot.h"
#include "xvm/console.h"
#include "xvm/virtio_blk.h"
#include "xvm/virtio_console.h"
#include "xvm/virtio_net.h"
#include "xvm/virtio_rng.h"
#include "xvm/vm.h"

#define MACHINE_MAX_DISKS 8
#define MACHINE_MAX_NICS 8

struct machine_config {
	struct vm_config vm;
	struct boot_config boot;
	const char *console;                 /* console spec (console.h) */
	const char *console_log;             /* append console output here too */
	struct vblk_opts disk[MACHINE_MAX_DISKS];
	unsigned ndisks;
	struct vnet_opts nic[MACHINE_MAX_NICS];  /* virtio-net on taps */
	unsigned nnics;
	struct vrng_opts rng;                /* virtio-rng (on by default) */
	struct vcon_opts vcon;               /* virtio-console ports (--vconsole) */
	bool no_pvpanic;                     /* leave the pvpanic device out */
};

struct acpi_pm;
struct pci_bus;
struct evloop;
struct serial;
struct pvpanic;
struct hotplug;

struct machine {
	struct vm *vm;
	struct acpi_pm *pm;
	struct pci_bus *pci;
	struct evloop *loop;
	struct serial *serial;
	struct console con;
	int console_log_fd;                  /* -1: no --console-log */
	struct vblk *disk[MACHINE_MAX_DISKS];
	unsigned ndisks;
	struct vnet *nic[MACHINE_MAX_NICS];
	unsigned nnics;
	struct vrng *rng;
	struct vcon *vcon;
	struct pvpanic *pvpanic;
	struct hotplug *hotplug;             /* runtime disks and NICs (hotplug.h) */
	const char *boot_ids[MACHINE_MAX_DISKS + MACHINE_MAX_NICS];
};

/* Build the machine on an open KVM. 0 or -errno after logging one line. */
int machine_create(struct machine *m, struct kvm_host *kvm,
		   struct machine_config *cfg);
/* Start the vCPUs. 0 or -errno. */
int machine_start(struct machine *m);
/* Log one info line of resource use (exits, RSS, guest RAM resident). */
void machine_log_stats(struct machine *m);
/* Tear everything down in a safe order (a partly built machine too). */
void machine_destroy(struct machine *m);

#endif
