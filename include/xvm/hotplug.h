/* hotplug.h - runtime PCI hotplug of virtio-blk disks and virtio-net NICs
 * (the VMM side of disk-add/disk-remove/nic-add/nic-remove).
 *
 * Add: the device is created (image opened or tap set up), put in a free
 * PCI slot while the vCPUs run, its slot marked removable, and the guest
 * told through ACPI (PCI_UP bit, GPE 1, SCI; acpi.h). Remove: the guest is
 * asked to eject (PCI_DOWN, GPE 1); the device goes when the guest writes
 * the eject register, when timeout_ms passes, or at once with force. The
 * teardown runs on the module's own thread: unplug from PCI (no vCPU or
 * event-loop callback touches it afterwards), wait for in-flight I/O,
 * close every fd, give the MSI GSIs back. Other devices are not touched.
 *
 * Only devices added at run time can be removed: the disks and NICs given
 * on the command line are fixed (their slots read as not removable in
 * PCI_RMV, and an eject of them is ignored), as are virtio-rng and pvpanic.
 *
 * Threads: every function may be called from any thread except a vCPU
 * thread or the device event loop; h->lock (internal) guards the device
 * table. The event callback runs without that lock, on the caller's thread
 * for device-added and on the hotplug thread for device-removed. */
#ifndef XVM_HOTPLUG_H
#define XVM_HOTPLUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct pci_bus;
struct acpi_pm;
struct evloop;
struct hotplug;

#define HOTPLUG_MAX 16
#define HOTPLUG_ID_LEN 24

enum hotplug_kind { HOTPLUG_DISK, HOTPLUG_NIC };

struct hotplug_info {
	enum hotplug_kind kind;
	char id[HOTPLUG_ID_LEN];
	unsigned slot;
	char path[256];          /* disk: image path; nic: tap name */
	bool readonly;           /* disk */
	uint8_t mac[6];          /* nic */
	bool removing;           /* eject requested, not gone yet */
};

struct hotplug_env {
	struct vm *vm;
	struct pci_bus *pci;
	struct acpi_pm *pm;
	struct evloop *loop;
	const char *const *boot_ids;   /* ids of the boot disks and NICs */
	unsigned nboot_ids;
};

/* how: "guest" (added), or for device-removed "ejected", "timeout",
 * "forced", "shutdown". */
typedef void (*hotplug_event_fn)(void *opaque, bool added,
				 const struct hotplug_info *dev, const char *how);

/* Create the module, hook the eject register, start its thread. 0 or -errno. */
int hotplug_create(const struct hotplug_env *env, struct hotplug **out);
/* Set (or clear, fn NULL) the event callback. When it returns the previous
 * callback is not running and will not be called again: clear it before
 * freeing what it uses (the control socket). Not from the callback. */
void hotplug_set_event_fn(struct hotplug *h, hotplug_event_fn fn, void *opaque);
/* Add a device from a --disk or --net spec. On success *out describes it
 * (id, slot, mac). On error returns -errno with a one-line reason in err
 * (no "xvm:" prefix) and nothing changed: -EINVAL bad spec, -EEXIST id in
 * use, -ENOSPC no free slot, or the error opening the image or tap. */
int hotplug_add(struct hotplug *h, enum hotplug_kind kind, const char *spec,
		struct hotplug_info *out, char *err, size_t errlen);
/* Ask the guest to eject the device of that kind and id (timeout_ms 0: the
 * default 5000). Returns at once; the device-removed event follows.
 * -ENOENT unknown id (or a boot device, or the other kind), -EALREADY
 * already being removed (force still works). */
int hotplug_remove(struct hotplug *h, enum hotplug_kind kind, const char *id,
		   unsigned timeout_ms, bool force);
/* Copy up to max hotplugged devices into out; returns how many there are. */
unsigned hotplug_list(struct hotplug *h, struct hotplug_info *out, unsigned max);
/* Call fn for each hot-added device still present (b or n set), under the
 * module's lock: the device stays alive during the call; fn must not call
 * back into this module. For listings and counters (devices, stats). */
struct vblk;
struct vnet;
void hotplug_foreach(struct hotplug *h,
		     void (*fn)(void *opaque, struct vblk *b, struct vnet *n),
		     void *opaque);
/* Stop the thread and destroy the devices still present (after the vCPUs
 * and the event loop stopped). NULL is fine. */
void hotplug_destroy(struct hotplug *h);

#endif
