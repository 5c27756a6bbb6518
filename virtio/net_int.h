/* net_int.h - virtio-net's internals shared by virtio/net.c (the device and
 * its userspace data path) and virtio/net_vhost.c (handing the rings to the
 * kernel's vhost-net). Not a public interface. */
#ifndef XVM_VIRTIO_NET_INT_H
#define XVM_VIRTIO_NET_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "xvm/tap.h"
#include "xvm/vhost.h"
#include "xvm/virtio.h"
#include "xvm/virtio_net.h"

#define CFG_SIZE 10               /* mac[6], status, max_virtqueue_pairs */
#define QUEUE_SIZE 256
#define RXQ 0
#define TXQ 1
#define HDR TAP_VNET_HDR_LEN
#define PKT_MAX (HDR + 65536 + 64) /* a GSO frame of 64 KiB and its header */
#define RX_BATCH 256              /* frames per tap wake-up before yielding */
#define VIRTIO_NET_S_LINK_UP 1

struct vnet {
	struct vm *vm;
	struct virtio_pci *vp;
	struct evloop *loop;
	struct virtio_dev_ops ops;
	struct tap tap;
	unsigned index;
	char name[VNET_ID_LEN + 8];
	uint8_t cfg[CFG_SIZE];
	int epfd;                  /* private epoll holding the tap; the loop
				    * watches it, we arm/disarm the tap inside */
	pthread_mutex_t lock;      /* everything below (event loop vs reset) */
	struct virtqueue *rxq, *txq; /* known once the driver kicked them */
	bool armed;                /* tap in epfd's interest set with EPOLLIN */
	bool configured;           /* tap offloads follow this negotiation */
	bool mrg;                  /* MRG_RXBUF negotiated */
	bool guest_csum;           /* GUEST_CSUM negotiated (else rx flags are 0) */
	/* the frame being delivered (kept while the guest has no buffer) */
	uint8_t *pkt;
	size_t pkt_len, pkt_off;
	bool pending;
	bool first_held;           /* `first` is popped but holds no data yet */
	unsigned nbufs;
	uint16_t heads[QUEUE_SIZE];
	uint32_t lens[QUEUE_SIZE];
	struct vq_elem first, elem;
	struct vnet_stats st;
	/* vhost-net (vhost.h): the device, kept open from start when usable */
	int vhost_fd;
	uint64_t vhost_feat;       /* VHOST_GET_FEATURES */
	bool vhost_on;             /* the kernel has the rings now */
	int kick_fd[VHOST_NET_RINGS]; /* the queues' kick eventfds while it has */
	int call_fd[VHOST_NET_RINGS]; /* vhost's interrupts for queues without an
				       * MSI-X irqfd, relayed by the event loop */
	unsigned long long tap0[4]; /* tap counters when vhost took over */
	bool tap0_ok;
};

/* net.c: watch the tap for input or not; apply the negotiated offloads to
 * the tap once per negotiation; count a dropped frame. n->lock held. */
void vnet_arm(struct vnet *n, bool on);
void vnet_configure(struct vnet *n);
void vnet_drop(struct vnet *n, const char *why, bool tx);

/* net_vhost.c */
/* Which data path the NIC can use: with vhost=auto|on, /dev/vhost-net is
 * opened and kept for driver_ok; vhost=on without it is refused. The path
 * actually used is decided (and said) when the guest sets DRIVER_OK.
 * 0 or -errno (logged). */
int vnet_data_path(struct vnet *n, const struct vnet_opts *o);
/* The eventfds that relay vhost's interrupts for queues without an MSI-X
 * irqfd, watched from start (only with a vhost device). 0 or -errno. */
int vnet_vhost_relay(struct vnet *n);
/* The driver_ok op: give the rings to vhost-net when it can take them. */
void vnet_driver_ok(void *dev);
/* Take the rings back from vhost (device reset; a no-op when not on it). */
void vnet_vhost_stop(struct vnet *n);
/* Add what the kernel moved since vhost took over to s (n->lock held). */
void vnet_add_tap_delta(struct vnet *n, struct vnet_stats *s);
/* Close the vhost device and the relay eventfds (after unplug). */
void vnet_vhost_close(struct vnet *n);

#endif
