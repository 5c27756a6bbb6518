/* control_hotplug.h - the control socket's hotplug commands (disk-add,
 * disk-remove, nic-add, nic-remove; docs/design/toolstack.md) on top of
 * vmm/hotplug.c, and the device-added/device-removed events. */
#ifndef XVM_CONTROL_HOTPLUG_H
#define XVM_CONTROL_HOTPLUG_H

struct control;
struct hotplug;

/* Register the four commands on c (before control_start()) and route h's
 * events to c's subscribers. h must outlive the control thread. 0 or
 * -errno. */
int control_hotplug_register(struct control *c, struct hotplug *h);
/* Stop sending h's events to the control socket (before it is destroyed;
 * hot-added devices torn down at exit must not reach a freed socket).
 * NULL is fine. */
void control_hotplug_unregister(struct hotplug *h);

#endif
