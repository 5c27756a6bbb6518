/* net.c - virtio-net: one rx/tx queue pair between the guest and a tap. */
#include "xvm/virtio_net.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "xvm/evloop.h"
#include "xvm/log.h"
#include "xvm/net_helper.h"
#include "xvm/tap.h"
#include "xvm/trace.h"
#include "xvm/util.h"
#include "xvm/virtio.h"
#include "xvm/vm.h"

#include "virtio/net_int.h"

/* --- pure helpers (unit-tested) ---------------------------------------- */

uint64_t vnet_features(unsigned tap_offload)
{
	uint64_t f = (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) |
		     (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_NET_F_CSUM) |
		     (1ULL << VIRTIO_NET_F_HOST_TSO4) | (1ULL << VIRTIO_NET_F_HOST_TSO6);

	if (tap_offload & TAP_OFF_CSUM)
		f |= 1ULL << VIRTIO_NET_F_GUEST_CSUM;
	if ((tap_offload & TAP_OFF_CSUM) && (tap_offload & TAP_OFF_TSO4))
		f |= 1ULL << VIRTIO_NET_F_GUEST_TSO4;
	if ((tap_offload & TAP_OFF_CSUM) && (tap_offload & TAP_OFF_TSO6))
		f |= 1ULL << VIRTIO_NET_F_GUEST_TSO6;
	return f;
}

unsigned vnet_tap_offload(uint64_t features)
{
	unsigned t = 0;

	/* the guest takes partial checksums, and TSO frames only with them */
	if (!(features & (1ULL << VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	t |= TAP_OFF_CSUM;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
		t |= TAP_OFF_TSO4;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
		t |= TAP_OFF_TSO6;
	return t;
}

void vnet_mac_default(const char *name, unsigned index, uint8_t mac[6])
{
	uint8_t idx[4] = { (uint8_t)index, (uint8_t)(index >> 8), (uint8_t)(index >> 16),
			   (uint8_t)(index >> 24) };
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, (const Bytef *)name, (uInt)strlen(name));
	c = crc32(c, idx, sizeof(idx));
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = (uint8_t)(c >> 16);
	mac[4] = (uint8_t)(c >> 8);
	mac[5] = (uint8_t)c;
}

int vnet_mac_parse(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (s[3 * i] == '+' || s[3 * i] == '-' || s[3 * i] == ' ' ||
		    (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

int vnet_parse(const char *spec, char *buf, struct vnet_opts *o)
{
	char *save = NULL, *tok;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "tap=", 4) && tok[4]) {
			if (strlen(tok + 4) > 15) {
				log_err("--net '%s': tap name longer than 15 characters", spec);
				return -EINVAL;
			}
			o->tap = tok + 4;
		} else if (!strncmp(tok, "bridge=", 7) && tok[7]) {
			if (strlen(tok + 7) > 15) {
				log_err("--net '%s': bridge name longer than 15 characters", spec);
				return -EINVAL;
			}
			o->bridge = tok + 7;
		} else if (!strncmp(tok, "mac=", 4)) {
			if (vnet_mac_parse(tok + 4, o->mac) < 0) {
				log_err("--net '%s': malformed MAC '%s' (want a unicast "
					"xx:xx:xx:xx:xx:xx)", spec, tok + 4);
				return -EINVAL;
			}
			o->mac_set = true;
		} else if (!strcmp(tok, "vhost=on") || !strcmp(tok, "vhost=off") ||
			   !strcmp(tok, "vhost=auto")) {
			o->vhost = tok[6] == 'a' ? VHOST_AUTO : tok[7] == 'n' ? VHOST_ON : VHOST_OFF;
		} else if (!strncmp(tok, "id=", 3) && tok[3] && strlen(tok + 3) <= VNET_ID_LEN) {
			o->id = tok + 3;
		} else {
			log_err("--net '%s': unknown or bad option '%s' (tap=NAME, "
				"mac=xx:xx:xx:xx:xx:xx, id=NAME (16 chars), vhost=on|off|auto)", spec, tok);
			return -EINVAL;
		}
	}
	if (!o->tap && !o->bridge) {
		log_err("--net '%s': needs tap=NAME or bridge=BR", spec);
		return -EINVAL;
	}
	return 0;
}

/* --- rx: tap -> guest -------------------------------------------------- */

/* Watch the tap for input (arm) or not. Called with n->lock held. */
void vnet_arm(struct vnet *n, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.fd = n->tap.fd };

	if (n->armed == on)
		return;
	if (epoll_ctl(n->epfd, EPOLL_CTL_MOD, n->tap.fd, &ev) == 0)
		n->armed = on;
}

/* Apply the guest's negotiated offloads to the tap once per negotiation.
 * Called with n->lock held. */
void vnet_configure(struct vnet *n)
{
	uint64_t f = virtio_features(n->vp);
	unsigned off = vnet_tap_offload(f);
	int rc;

	if (n->configured)
		return;
	n->configured = true;
	n->mrg = f & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	n->guest_csum = f & (1ULL << VIRTIO_NET_F_GUEST_CSUM);
	if (!n->tap.offload_ok)
		return;   /* nothing was offered, nothing to switch (and maybe no tap) */
	rc = tap_set_offload(&n->tap, off);
	if (rc == 0)
		log_info("nic %s: guest features 0x%llx, tap offloads 0x%x", n->name,
			 (unsigned long long)f, off);
	if (rc < 0) {
		n->st.tap_errors++;
		XVM_PROBE(NET_TAP_ERROR, n->vm->cfg.domid, (int)n->index, rc);
		log_warn("%s: cannot set tap offloads 0x%x: %s", n->name, off, strerror(-rc));
	}
}

void vnet_drop(struct vnet *n, const char *why, bool tx)
{
	n->st.drops++;
	if (tx)
		n->st.tx_drops++;
	else
		n->st.rx_drops++;
	XVM_PROBE(NET_DROP, n->vm->cfg.domid, (int)n->index, (char *)why);
}

/* Put the pending frame into rx buffers. 1: delivered (pushed), 0: out of
 * buffers (state kept), -EIO: malformed chain (vq->why or *why set). */
static int vnet_rx_place(struct vnet *n, const char **why)
{
	struct virtqueue *vq = n->rxq;
	uint16_t nb;
	int rc;

	while (n->nbufs == 0 || n->pkt_off < n->pkt_len) {
		struct vq_elem *e = n->nbufs == 0 ? &n->first : &n->elem;
		uint64_t room, copy;

		if (!(n->nbufs == 0 && n->first_held)) {
			if ((rc = vq_pop(vq, e)) == 0 && vq_set_notify(vq, true)) {
				/* buffers came as we looked: back to no kicks, go on */
				vq_set_notify(vq, false);
				continue;
			}
			if (rc <= 0)
				return rc;   /* 0: kicks on, the driver kicks for buffers */
			if (e->out_num || (n->nbufs == 0 && e->in_len < HDR)) {
				*why = e->out_num ? "rx chain with a readable buffer"
						  : "rx buffer shorter than the net header";
				return -EIO;
			}
		}
		n->first_held = false;
		room = e->in_len;
		if (!n->mrg && room < n->pkt_len) {
			vnet_drop(n, "rx buffer too small", false);   /* the chain waits for the next */
			n->first_held = true;
			n->pending = false;
			return 1;
		}
		if (n->nbufs == QUEUE_SIZE) {
			*why = "rx frame spans more buffers than the queue holds";
			return -EIO;
		}
		copy = MIN(room, (uint64_t)(n->pkt_len - n->pkt_off));
		vq_elem_write(e, 0, n->pkt + n->pkt_off, copy);
		n->heads[n->nbufs] = e->head;
		n->lens[n->nbufs] = (uint32_t)copy;
		n->nbufs++;
		n->pkt_off += copy;
	}
	nb = htole16((uint16_t)n->nbufs);
	vq_elem_write(&n->first, 10, &nb, 2);
	for (unsigned i = 0; i < n->nbufs; i++)
		vq_push(vq, n->heads[i], n->lens[i]);
	n->st.rx_packets++;
	n->st.rx_bytes += n->pkt_len - HDR;
	n->pending = false;
	n->nbufs = 0;
	return 1;
}

/* Read one frame from the tap into n->pkt. 1: got one, 0: none now,
 * -1: a tap error (counted). */
static int vnet_rx_read(struct vnet *n)
{
	ssize_t r = read(n->tap.fd, n->pkt, PKT_MAX);

	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		n->st.tap_errors++;
		XVM_PROBE(NET_TAP_ERROR, n->vm->cfg.domid, (int)n->index, -errno);
		return -1;
	}
	if (r <= HDR) {
		vnet_drop(n, "short frame from the tap", false);
		return 1;
	}
	if (!n->guest_csum)
		n->pkt[0] = 0;   /* the tap may say DATA_VALID; the spec wants 0 here */
	n->pkt_len = (size_t)r;
	n->pkt_off = 0;
	n->nbufs = 0;
	n->pending = true;
	return 1;
}

/* Deliver frames until the tap is empty, the guest has no buffer, or a
 * batch is done. Called with n->lock held. */
static void vnet_rx_run(struct vnet *n)
{
	uint64_t bytes0 = n->st.rx_bytes, pk0 = n->st.rx_packets;
	const char *why = NULL;
	int rc = 1;

	if (!n->rxq) {
		vnet_arm(n, false);   /* the guest has not given us buffers yet */
		return;
	}
	vnet_configure(n);
	/* No rx kicks while the guest has buffers for us: posting one then
	 * costs it no VM exit. vnet_rx_place turns them on when it runs out. */
	vq_set_notify(n->rxq, false);
	for (unsigned i = 0; i < RX_BATCH; i++) {
		if (!n->pending && (rc = vnet_rx_read(n)) <= 0)
			break;
		if (!n->pending)
			continue;
		if ((rc = vnet_rx_place(n, &why)) <= 0)
			break;
	}
	if (rc < 0 && n->pending) {
		vnet_arm(n, false);
		n->pending = false;
		vnet_drop(n, "malformed rx chain", false);
		virtio_needs_reset(n->vp, why ? why : n->rxq->why ? n->rxq->why : "malformed rx ring");
	} else if (rc == 0 && n->pending) {
		vnet_arm(n, false);   /* wait for the guest's rx kick */
	}
	if (n->st.rx_packets != pk0) {
		XVM_PROBE(NET_RX, n->vm->cfg.domid, (int)n->index,
			  (unsigned)(n->st.rx_bytes - bytes0), (unsigned)(n->st.rx_packets - pk0));
		virtio_notify(n->vp, RXQ);
	}
}

static void vnet_tap_ready(void *opaque)
{
	struct vnet *n = opaque;
	struct epoll_event ev;

	pthread_mutex_lock(&n->lock);
	epoll_wait(n->epfd, &ev, 1, 0);   /* level-triggered: nothing to consume */
	if (!n->vhost_on)
		vnet_rx_run(n);
	pthread_mutex_unlock(&n->lock);
}

/* --- tx: guest -> tap -------------------------------------------------- */

/* Send one popped chain. 0, or -EIO for a chain the device cannot parse. */
static int vnet_tx_one(struct vnet *n, struct vq_elem *e)
{
	ssize_t w;

	if (e->out_len < HDR || e->out_len > PKT_MAX)
		return -EIO;
	w = writev(n->tap.fd, e->iov, (int)e->out_num);
	if (w < 0) {
		int err = errno;
		if (err == EAGAIN) {
			vnet_drop(n, "tap queue full", true);
		} else {
			n->st.tap_errors++;
			vnet_drop(n, "tap write failed", true);
			XVM_PROBE(NET_TAP_ERROR, n->vm->cfg.domid, (int)n->index, -err);
		}
	} else {
		n->st.tx_packets++;
		n->st.tx_bytes += e->out_len - HDR;
	}
	vq_push(n->txq, e->head, 0);
	return 0;
}

/* Send everything the guest queued. Called with n->lock held. */
static void vnet_tx_run(struct vnet *n)
{
	uint64_t bytes0 = n->st.tx_bytes, pk0 = n->st.tx_packets, sent = 0;
	int rc;

	do {
		while ((rc = vq_pop(n->txq, &n->elem)) > 0) {
			if (vnet_tx_one(n, &n->elem) < 0) {
				virtio_needs_reset(n->vp, "tx chain without a net header or over 64 KiB");
				return;
			}
			if (++sent % 64 == 0)
				virtio_notify(n->vp, TXQ);
		}
		if (rc < 0) {
			virtio_needs_reset(n->vp, n->txq->why ? n->txq->why : "malformed tx ring");
			return;
		}
	} while (vq_set_notify(n->txq, true));
	if (n->st.tx_packets != pk0)
		XVM_PROBE(NET_TX, n->vm->cfg.domid, (int)n->index,
			  (unsigned)(n->st.tx_bytes - bytes0), (unsigned)(n->st.tx_packets - pk0));
	if (sent)
		virtio_notify(n->vp, TXQ);
}

static void vnet_queue_notify(void *dev, struct virtqueue *vq, unsigned q)
{
	struct vnet *n = dev;

	XVM_PROBE(VIRTIO_NOTIFY, n->vm->cfg.domid, n->name, (int)q);
	pthread_mutex_lock(&n->lock);
	vnet_configure(n);
	if (n->vhost_on) {
		/* the loop took this kick just before vhost got the eventfd */
		uint64_t one = 1;
		if (q < VHOST_NET_RINGS && write(n->kick_fd[q], &one, 8) < 0)
			log_debug("%s: kick: %s", n->name, strerror(errno));
	} else if (q == RXQ) {
		n->rxq = vq;
		vnet_arm(n, true);       /* new buffers: take frames again */
		if (n->pending)
			vnet_rx_run(n);
	} else if (q == TXQ) {
		n->txq = vq;
		vnet_tx_run(n);
	}
	pthread_mutex_unlock(&n->lock);
}

static void vnet_cfg_read(void *dev, unsigned off, uint8_t *data, unsigned len)
{
	struct vnet *n = dev;

	memcpy(data, n->cfg + off, len);
}

static void vnet_reset(void *dev)
{
	struct vnet *n = dev;

	vnet_vhost_stop(n);
	pthread_mutex_lock(&n->lock);
	if (n->pending)
		vnet_drop(n, "device reset", false);
	n->pending = n->first_held = false;
	n->nbufs = 0;
	n->rxq = n->txq = NULL;
	n->configured = false;
	vnet_arm(n, false);
	pthread_mutex_unlock(&n->lock);
}

void vnet_get_stats(struct vnet *n, struct vnet_stats *s)
{
	pthread_mutex_lock(&n->lock);
	*s = n->st;
	if (n->vhost_on)
		vnet_add_tap_delta(n, s);
	pthread_mutex_unlock(&n->lock);
}

void vnet_get_info(struct vnet *n, struct vnet_info *i)
{
	*i = (struct vnet_info){ .id = n->name, .tap = n->tap.name,
				 .slot = virtio_pci_slot(n->vp) };
	memcpy(i->mac, n->cfg, 6);
}

/* The tap (or the test's fd) and the private epoll around it. 0 or -errno. */
static int vnet_open_tap(struct vnet *n, const struct vnet_opts *o)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	bool helper = false;

	if (o->fd >= 0) {
		tap_from_fd(o->fd, &n->tap);
	} else if ((rc = tap_open(o->tap ? o->tap : "xvm%d", &n->tap)) < 0) {
		/* no CAP_NET_ADMIN: the helper makes bridge= taps (net_helper.h) */
		if (!o->tap && o->bridge && (rc == -EPERM || rc == -EACCES)) {
			if ((rc = net_helper_open(o->bridge, &n->tap)) < 0)
				return rc;
			helper = true;
		} else {
			log_err("--net tap=%s: %s", o->tap ? o->tap : "xvm%d", tap_strerror(rc));
			return rc;
		}
	}
	if (o->fd < 0 && o->bridge && !helper &&
	    (rc = tap_add_to_bridge(&n->tap, o->bridge)) < 0) {
		log_err("--net bridge=%s: %s", o->bridge,
			rc == -ENODEV ? "no such bridge" :
			rc == -EOPNOTSUPP ? "not a bridge" : strerror(-rc));
		return rc;    /* vnet_destroy closes the tap: a new one vanishes */
	}
	ev.data.fd = n->tap.fd;
	n->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (n->epfd < 0 || epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->tap.fd, &ev) < 0) {
		rc = -errno;
		log_err("%s: cannot watch the tap: %s", n->name, strerror(-rc));
		return rc;
	}
	n->armed = true;
	return 0;
}

int vnet_create(struct vm *vm, struct pci_bus *bus, struct evloop *loop,
		const struct vnet_opts *o, unsigned index, struct vnet **out)
{
	struct vnet *n = calloc(1, sizeof(*n));
	int rc;

	if (!n) {
		if (o->fd >= 0)
			close(o->fd);
		return -ENOMEM;
	}
	n->vm = vm;
	n->loop = loop;
	n->index = index;
	n->epfd = -1;
	n->tap.fd = -1;
	n->vhost_fd = -1;
	n->call_fd[0] = n->call_fd[1] = -1;
	pthread_mutex_init(&n->lock, NULL);
	snprintf(n->name, sizeof(n->name), "%s", o->id ? o->id : "");
	if (!o->id)
		snprintf(n->name, sizeof(n->name), "net%u", index);
	if ((rc = vnet_open_tap(n, o)) < 0 || (rc = vnet_data_path(n, o)) < 0)
		goto fail;
	n->pkt = malloc(PKT_MAX);
	if (!n->pkt) {
		rc = -ENOMEM;
		goto fail;
	}
	if (o->mac_set)
		memcpy(n->cfg, o->mac, 6);
	else
		vnet_mac_default(vm->name, index, n->cfg);
	n->cfg[6] = VIRTIO_NET_S_LINK_UP;
	n->cfg[8] = 1;                                  /* max_virtqueue_pairs */
	n->ops = (struct virtio_dev_ops){
		.name = "virtio-net", .type = VIRTIO_ID_NET, .class_code = 0x020000,
		.features = vnet_features(n->tap.offload_ok),
		.nqueues = 2, .queue_size = QUEUE_SIZE, .cfg_size = CFG_SIZE,
		.cfg_read = vnet_cfg_read, .queue_notify = vnet_queue_notify,
		.reset = vnet_reset, .driver_ok = vnet_driver_ok,
	};
	if ((rc = virtio_pci_create(vm, bus, loop, &n->ops, n, &n->vp)) < 0)
		goto fail;
	if (n->vhost_fd >= 0 && (rc = vnet_vhost_relay(n)) < 0)
		goto fail;
	if ((rc = evloop_add(loop, n->epfd, vnet_tap_ready, n)) < 0) {
		log_err("%s: cannot watch the tap: %s", n->name, strerror(-rc));
		goto fail;
	}
	log_info("nic %s: tap %s%s, mac %02x:%02x:%02x:%02x:%02x:%02x, offloads 0x%x", n->name,
		 n->tap.name, n->tap.created ? " (created)" : "", n->cfg[0], n->cfg[1], n->cfg[2],
		 n->cfg[3], n->cfg[4], n->cfg[5], n->tap.offload_ok);
	*out = n;
	return 0;
fail:
	vnet_destroy(n);
	return rc;
}

unsigned vnet_slot(const struct vnet *n)
{
	return virtio_pci_slot(n->vp);
}

const char *vnet_id(const struct vnet *n)
{
	return n->name;
}

void vnet_destroy(struct vnet *n)
{
	if (!n)
		return;
	virtio_pci_unplug(n->vp);   /* no vCPU or kick reaches us (hot-unplug) */
	vnet_vhost_close(n);
	if (n->epfd >= 0) {
		evloop_del(n->loop, n->epfd);   /* -ENOENT when never added: fine */
		close(n->epfd);
	}
	virtio_pci_destroy(n->vp);
	tap_close(&n->tap);
	pthread_mutex_destroy(&n->lock);
	free(n->pkt);
	free(n);
}
