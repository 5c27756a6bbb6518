/* virtio.h - virtio 1.x devices over the modern PCI transport.
 *
 * A device (virtio/blk.c, ...) fills a virtio_dev_ops table and calls
 * virtio_pci_create(); the transport provides the PCI function (vendor
 * 0x1af4, device 0x1040 + type), the common/notify/ISR/device-config
 * capabilities, feature negotiation, status and reset, the queues (struct
 * virtqueue, hardened), queue kicks through ioeventfd onto the VMM's event
 * loop, and interrupts through MSI-X + irqfd (INTx when MSI-X is off).
 *
 * Threads: queue_notify runs on the event loop thread. virtio_notify() may
 * be called from any thread (e.g. block completions). Config-space and
 * register accesses arrive on vCPU threads under the transport's lock. */
#ifndef XVM_VIRTIO_H
#define XVM_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "xvm/virtqueue.h"

struct vm;
struct pci_bus;
struct evloop;
struct virtio_pci;

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

#define VIRTIO_STATUS_ACK 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

struct virtio_dev_ops {
	const char *name;        /* "virtio-blk" */
	uint16_t type;           /* VIRTIO_ID_* */
	uint32_t class_code;     /* PCI class */
	uint64_t features;       /* device-specific feature bits offered */
	unsigned nqueues;
	uint16_t queue_size;     /* maximum (power of two) */
	unsigned cfg_size;       /* device config bytes */
	/* device config access (off + len <= cfg_size, checked) */
	void (*cfg_read)(void *dev, unsigned off, uint8_t *data, unsigned len);
	void (*cfg_write)(void *dev, unsigned off, const uint8_t *data, unsigned len);
	/* the driver kicked queue q (event loop thread) */
	void (*queue_notify)(void *dev, struct virtqueue *vq, unsigned q);
	/* device reset: wait for in-flight work, forget device state */
	void (*reset)(void *dev);
	/* optional: the driver set DRIVER_OK (vCPU thread, transport unlocked);
	 * queues and features are final until the next reset */
	void (*driver_ok)(void *dev);
};

/* Create and plug the device. 0 or -errno (logged). */
int virtio_pci_create(struct vm *vm, struct pci_bus *bus, struct evloop *loop,
		      const struct virtio_dev_ops *ops, void *dev,
		      struct virtio_pci **out);
/* Hot-unplug, first half: take the function off the PCI bus, unbind the
 * queue ioeventfds and take them off the event loop, drop INTx. When it
 * returns no vCPU and no loop callback touches the transport again, so
 * the device can wait for its in-flight work and go. Idempotent. */
void virtio_pci_unplug(struct virtio_pci *vp);
/* virtio_pci_unplug(), then free (closes every fd). NULL is fine. */
void virtio_pci_destroy(struct virtio_pci *vp);
/* The PCI slot (device number on bus 0) the function sits in. */
unsigned virtio_pci_slot(const struct virtio_pci *vp);

/* Features the driver accepted (valid once FEATURES_OK is set). */
uint64_t virtio_features(const struct virtio_pci *vp);
/* Interrupt the driver for queue q if vq_should_notify says so. */
void virtio_notify(struct virtio_pci *vp, unsigned q);
/* A queue or request was malformed: set DEVICE_NEEDS_RESET, log why once,
 * send a config interrupt. The device stops processing until reset. */
void virtio_needs_reset(struct virtio_pci *vp, const char *why);
/* The device config changed: bump config_generation, interrupt. */
void virtio_config_changed(struct virtio_pci *vp);

/* --- handing a queue to an in-kernel backend (vhost) --------------------
 * Between driver_ok and reset the device may give queue q's kick eventfd
 * and its MSI-X vector's irqfd to someone else. */

/* Queue q (NULL when out of range). Its ring fields are final while the
 * queue is enabled. */
struct virtqueue *virtio_queue(struct virtio_pci *vp, unsigned q);
/* Stop (to_device) or resume watching queue q's kick eventfd on the event
 * loop; returns the eventfd (-1 when q is out of range or the device is
 * unplugged). Stopping waits for a running kick callback to end, so call
 * it without locks the device's queue_notify takes. Kicks that arrive
 * while not watched stay counted in the eventfd. */
int virtio_kick_handoff(struct virtio_pci *vp, unsigned q, bool to_device);
/* Share (on) or stop sharing the irqfd of queue q's MSI-X vector (see
 * msix_share). The eventfd, or -1 when MSI-X is off or q has no vector. */
int virtio_call_share(struct virtio_pci *vp, unsigned q, bool on);
/* Interrupt the driver for queue q unconditionally (the caller, e.g. vhost,
 * already applied the ring's suppression rules): its MSI-X vector, or INTx
 * when MSI-X is off. */
void virtio_raise(struct virtio_pci *vp, unsigned q);

#endif
