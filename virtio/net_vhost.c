/* net_vhost.c - virtio-net on the kernel's vhost-net: at DRIVER_OK the rings,
 * the queues' kick eventfds, their interrupts (MSI-X irqfds, or eventfds this
 * file relays) and the tap go to /dev/vhost-net when the guest's features
 * allow; at reset they come back to the userspace path (net.c). */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "xvm/evloop.h"
#include "xvm/log.h"
#include "xvm/trace.h"
#include "xvm/vm.h"

#include "virtio/net_int.h"

/* Say the NIC's path is userspace, and why (log line and probe). */
static void vnet_say_userspace(struct vnet *n, const char *why, const char *detail)
{
	log_info("nic %s: data path userspace (%s%s)", n->name, why, detail);
	XVM_PROBE(NET_BACKEND, n->vm->cfg.domid, (int)n->index, (char *)"userspace");
}

int vnet_data_path(struct vnet *n, const struct vnet_opts *o)
{
	int fd;

	if (o->vhost == VHOST_OFF) {
		vnet_say_userspace(n, "vhost=off", "");
		return 0;
	}
	fd = vhost_net_open(&n->vm->mem, &n->vhost_feat);
	if (fd < 0 && o->vhost == VHOST_ON) {
		log_err("--net vhost=on: /dev/vhost-net: %s", strerror(-fd));
		return fd;
	}
	if (fd < 0) {
		vnet_say_userspace(n, "vhost-net: ", strerror(-fd));
		return 0;
	}
	if (o->fd >= 0) {
		/* a test's socketpair: vhost-net needs a real tap */
		close(fd);
		vnet_say_userspace(n, "not a tap", "");
		return 0;
	}
	n->vhost_fd = fd;
	log_info("nic %s: vhost-net ready (features 0x%llx); the data path follows the "
		 "guest's negotiation", n->name, (unsigned long long)n->vhost_feat);
	return 0;
}

/* From the tap's own counters (tap rx = guest tx). */
void vnet_add_tap_delta(struct vnet *n, struct vnet_stats *s)
{
	unsigned long long c[4];

	if (!n->tap0_ok || tap_counters(&n->tap, c) < 0)
		return;
	s->tx_packets += c[0] - n->tap0[0];
	s->tx_bytes += c[1] - n->tap0[1];
	s->rx_packets += c[2] - n->tap0[2];
	s->rx_bytes += c[3] - n->tap0[3];
}

/* vhost signalled a queue that has no MSI-X irqfd to give it: raise the
 * queue's interrupt the transport's way (event loop thread). */
static void vnet_vhost_call(struct vnet *n, unsigned q)
{
	uint64_t v;

	if (read(n->call_fd[q], &v, sizeof(v)) == sizeof(v) &&
	    __atomic_load_n(&n->vhost_on, __ATOMIC_ACQUIRE))
		virtio_raise(n->vp, q);
}

static void vnet_vhost_call_rx(void *opaque)
{
	vnet_vhost_call(opaque, RXQ);
}

static void vnet_vhost_call_tx(void *opaque)
{
	vnet_vhost_call(opaque, TXQ);
}

int vnet_vhost_relay(struct vnet *n)
{
	static const evloop_fn fn[VHOST_NET_RINGS] = { vnet_vhost_call_rx, vnet_vhost_call_tx };

	for (unsigned q = 0; q < VHOST_NET_RINGS; q++) {
		int rc;

		n->call_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->call_fd[q] < 0)
			rc = -errno;
		else
			rc = evloop_add(n->loop, n->call_fd[q], fn[q], n);
		if (rc < 0) {
			log_err("%s: vhost-net interrupt relay: %s", n->name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Hand back the queues' kicks and stop sharing their vectors. Not under
 * n->lock: the event loop may be in one of our callbacks waiting for it,
 * and watching a kick again takes the loop. */
static void vnet_vhost_release(struct vnet *n)
{
	for (unsigned q = 0; q < VHOST_NET_RINGS; q++) {
		virtio_call_share(n->vp, q, false);
		virtio_kick_handoff(n->vp, q, false);
	}
}

/* The rings for vhost: both queues enabled; interrupts through each queue's
 * MSI-X irqfd, else relayed. NULL, or why not. Called with n->lock held,
 * the kicks already off the loop (n->kick_fd). */
static const char *vnet_vhost_rings(struct vnet *n, struct vhost_ring r[VHOST_NET_RINGS])
{
	for (unsigned q = 0; q < VHOST_NET_RINGS; q++) {
		struct virtqueue *vq = virtio_queue(n->vp, q);
		unsigned held = 0;

		if (!vq || !vq->enabled || vq->broken)
			return "a queue is not enabled";
		if (q == RXQ && n->pending) {
			/* un-pop the buffers a half-placed frame holds: vhost takes them */
			held = n->nbufs + (n->first_held ? 1 : 0);
			vnet_drop(n, "data path switch", false);
			n->pending = n->first_held = false;
			n->nbufs = 0;
		}
		r[q] = (struct vhost_ring){ .size = vq->size, .base = (uint16_t)(vq->last_avail - held),
					    .desc_gpa = vq->desc_gpa, .avail_gpa = vq->avail_gpa,
					    .used_gpa = vq->used_gpa,
					    .kick_fd = n->kick_fd[q],
					    .call_fd = virtio_call_share(n->vp, q, true) };
		if (r[q].call_fd < 0)
			r[q].call_fd = n->call_fd[q];   /* INTx or no vector: relayed */
	}
	return NULL;
}

/* Either way say which path (log line and net-backend probe). */
void vnet_driver_ok(void *dev)
{
	struct vnet *n = dev;
	struct vhost_ring r[VHOST_NET_RINGS];
	const char *why = NULL, *step = NULL;
	uint64_t ack;
	int rc = 0;
	bool on;

	if (n->vhost_fd < 0)
		return;
	for (unsigned q = 0; q < VHOST_NET_RINGS; q++)   /* no n->lock: waits for a kick callback */
		n->kick_fd[q] = virtio_kick_handoff(n->vp, q, true);
	pthread_mutex_lock(&n->lock);
	vnet_configure(n);
	ack = vhost_net_ack(n->vhost_feat, virtio_features(n->vp));
	if (!ack)
		why = "the guest's ring features are not all vhost's";
	else if (!(why = vnet_vhost_rings(n, r))) {
		n->tap0_ok = tap_counters(&n->tap, n->tap0) == 0;
		rc = vhost_net_start(n->vhost_fd, &n->vm->mem, ack, r, n->tap.fd, &step);
	}
	if (!why && rc == 0) {
		__atomic_store_n(&n->vhost_on, true, __ATOMIC_RELEASE);
		vnet_arm(n, false);
		log_info("nic %s: data path vhost-net (features 0x%llx)", n->name,
			 (unsigned long long)ack);
	} else {
		if (rc < 0)
			log_warn("nic %s: vhost-net: %s: %s; data path userspace", n->name, step,
				 strerror(-rc));
		else
			log_info("nic %s: data path userspace (vhost-net: %s)", n->name, why);
		vnet_arm(n, true);
	}
	XVM_PROBE(NET_BACKEND, n->vm->cfg.domid, (int)n->index,
		  (char *)(n->vhost_on ? "vhost-net" : "userspace"));
	on = n->vhost_on;
	pthread_mutex_unlock(&n->lock);
	if (!on)
		vnet_vhost_release(n);
}

void vnet_vhost_stop(struct vnet *n)
{
	int rc;

	pthread_mutex_lock(&n->lock);
	if (!n->vhost_on) {
		pthread_mutex_unlock(&n->lock);
		return;
	}
	if ((rc = vhost_net_stop(n->vhost_fd, NULL)) < 0)
		log_warn("nic %s: vhost-net stop: %s", n->name, strerror(-rc));
	vnet_add_tap_delta(n, &n->st);
	__atomic_store_n(&n->vhost_on, false, __ATOMIC_RELEASE);
	n->tap0_ok = false;
	pthread_mutex_unlock(&n->lock);
	vnet_vhost_release(n);
}

void vnet_vhost_close(struct vnet *n)
{
	if (n->vhost_fd >= 0)
		close(n->vhost_fd);     /* the kernel stops the rings and lets go */
	for (unsigned q = 0; q < VHOST_NET_RINGS; q++)
		if (n->call_fd[q] >= 0) {
			evloop_del(n->loop, n->call_fd[q]);
			close(n->call_fd[q]);
		}
}
