/* virtio_net.h - a virtio-net NIC (xVM's xnf/xnb split network driver, done
 * the modern way) on a Linux tap with the virtio-net header.
 *
 * One rx/tx queue pair. Config: the MAC (--net mac=, else a stable locally
 * administered 52:54:00:xx:xx:xx derived from the domain name and NIC
 * index), link status (always up), max_virtqueue_pairs 1. Features:
 * VERSION_1, MAC, STATUS, MRG_RXBUF, CSUM, HOST_TSO4/6 (the tap takes
 * partial checksums and GSO frames we write), and GUEST_CSUM, GUEST_TSO4/6
 * only when the tap accepted those offloads when probed; the tap's offloads
 * are then set to exactly what the guest negotiated.
 *
 * tx: each chain's readable part (12-byte header + frame) is written to the
 * tap in one writev. rx: a frame read from the tap is copied into the
 * guest's receive buffers (several buffers with MRG_RXBUF, num_buffers set
 * in the first). When the guest has no receive buffer the device stops
 * watching the tap until the guest adds some (the tap queues meanwhile);
 * frames that cannot be delivered are counted as drops, never lost silently.
 * A malformed chain (a readable rx buffer, a header that does not fit)
 * sets DEVICE_NEEDS_RESET.
 *
 * Threads: queue handlers and the tap callback run on the device event
 * loop; reset arrives on a vCPU thread; a lock in struct vnet orders them. */
#ifndef XVM_VIRTIO_NET_H
#define XVM_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "xvm/vhost.h"

struct vm;
struct pci_bus;
struct evloop;
struct vnet;

#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

#define VNET_ID_LEN 16

struct vnet_opts {
	const char *tap;         /* tap name (created when missing); NULL with a
				  * bridge: a new "xvmN" tap */
	const char *bridge;      /* add the tap to this bridge */
	const char *id;          /* name in logs and probes (default "net<index>") */
	uint8_t mac[6];
	bool mac_set;            /* else the default MAC */
	enum vhost_mode vhost;   /* vhost=on|off|auto (auto: userspace today) */
	int fd;                  /* >= 0: use this fd as the tap (tests; the
				  * device owns it); -1: open `tap` */
};

struct vnet_stats {
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t drops;          /* frames not delivered (either direction) */
	uint64_t tx_drops, rx_drops; /* the same split by direction */
	uint64_t tap_errors;     /* tap reads or writes that failed */
};

/* Parse "tap=NAME|bridge=BR[,mac=XX:XX:XX:XX:XX:XX][,id=NAME][,vhost=on|off|auto]" (the --net
 * option; tap= and bridge= together: that tap into that bridge); strings
 * point into buf (at least strlen(spec)+1 bytes). 0 or -EINVAL (one line
 * logged). */
int vnet_parse(const char *spec, char *buf, struct vnet_opts *o);
/* Parse a unicast MAC "xx:xx:xx:xx:xx:xx". 0 or -EINVAL (also for a
 * multicast address or all zeroes). */
int vnet_mac_parse(const char *s, uint8_t mac[6]);
/* The default MAC of NIC `index` of domain `name`: 52:54:00 and three bytes
 * of crc32(name, index); the same inputs always give the same address. */
void vnet_mac_default(const char *name, unsigned index, uint8_t mac[6]);
/* Device feature bits offered for a tap that accepts tap_offload (TAP_OFF_*). */
uint64_t vnet_features(unsigned tap_offload);
/* The TAP_OFF_* flags to set for the features the guest accepted. */
unsigned vnet_tap_offload(uint64_t features);

/* Open the tap and plug the device as NIC `index`. 0 or -errno (one line
 * logged; a tap this call created is gone again). */
int vnet_create(struct vm *vm, struct pci_bus *bus, struct evloop *loop,
		const struct vnet_opts *o, unsigned index, struct vnet **out);
/* Counters so far (any thread). */
void vnet_get_stats(struct vnet *n, struct vnet_stats *s);
/* Name, tap and place of a NIC for `devices` (strings belong to the NIC). */
struct vnet_info {
	const char *id, *tap;
	uint8_t mac[6];
	unsigned slot;           /* PCI slot on bus 0 */
};
void vnet_get_info(struct vnet *n, struct vnet_info *info);
/* Unplug and close the tap (event loop stopped first). NULL is fine. */
void vnet_destroy(struct vnet *n);
/* The PCI slot and the id (the id= option, "net<index>" by default). */
unsigned vnet_slot(const struct vnet *n);
const char *vnet_id(const struct vnet *n);

#endif
