/* console.c - virtio-console with MULTIPORT: hvc0 plus named ports on Unix sockets. */
#include "xvm/virtio_console.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xvm/evloop.h"
#include "xvm/log.h"
#include "xvm/trace.h"
#include "xvm/util.h"
#include "xvm/virtio.h"
#include "xvm/vm.h"

#define QUEUE_SIZE 128
#define NPORTS_MAX (VCON_MAX_PORTS + 1)
#define NQUEUES_MAX (2 * (NPORTS_MAX + 1))
#define Q_CTRL_RX 2
#define Q_CTRL_TX 3
#define CTRL_HDR 8
#define CTRL_PENDING 64          /* control messages waiting for buffers */
#define PEND_BYTES 4096          /* client bytes waiting for receive buffers */

struct vcon_msg { uint32_t id; uint16_t event, value; };

struct vcon_port {
	struct vcon *c;
	unsigned id;
	char name[VCON_NAME_MAX + 1];
	char path[VCON_PATH_MAX + 1];
	int listen_fd, conn_fd;      /* -1 when none */
	bool watching;               /* conn_fd is armed for input */
	bool ready;                  /* the driver sent PORT_READY (since reset) */
	uint8_t pend[PEND_BYTES];    /* read from the client, not yet delivered */
	size_t pend_off, pend_len;
};

struct vcon {
	struct vm *vm;
	struct virtio_pci *vp;
	struct evloop *loop;
	struct virtio_dev_ops ops;
	int epfd;                    /* the sockets; itself on the event loop */
	pthread_mutex_t lock;        /* everything below */
	unsigned nports;
	struct vcon_port port[NPORTS_MAX];
	struct virtqueue *vq[NQUEUES_MAX];  /* known once kicked */
	struct vcon_msg ctrl[CTRL_PENDING];
	unsigned ctrl_head, ctrl_n;
	bool broken;                 /* NEEDS_RESET set: ignore the guest */
	int out_fd;                  /* console port output, -1: dropped */
	uint8_t cfg[12];             /* cols, rows, max_nr_ports, emerg_wr */
	struct vq_elem elem;
};

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > VCON_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
		      ('0' <= *s && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

int vcon_parse(const char *spec, char *buf, struct vcon_opts *o)
{
	struct vcon_port_opts p = { 0 };
	char *save = NULL, *tok;

	if (o->nports == VCON_MAX_PORTS) {
		log_err("--vconsole: at most %d ports", VCON_MAX_PORTS);
		return -EINVAL;
	}
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "socket=", 7) && tok[7] && strlen(tok + 7) <= VCON_PATH_MAX) {
			p.socket = tok + 7;
		} else if (!strncmp(tok, "name=", 5) && name_ok(tok + 5)) {
			p.name = tok + 5;
		} else {
			log_err("--vconsole '%s': bad option '%s' (want socket=PATH (up to %d "
				"bytes), name=NAME (1-63 of A-Za-z0-9._-))", spec, tok,
				VCON_PATH_MAX);
			return -EINVAL;
		}
	}
	if (!p.socket) {
		log_err("--vconsole '%s': needs socket=PATH", spec);
		return -EINVAL;
	}
	for (unsigned i = 0; i < o->nports; i++)
		if (!strcmp(o->port[i].socket, p.socket) ||
		    (p.name && o->port[i].name && !strcmp(o->port[i].name, p.name))) {
			log_err("--vconsole '%s': socket or name used twice", spec);
			return -EINVAL;
		}
	o->port[o->nports++] = p;
	return 0;
}

/* Which port queue q belongs to, and whether it is its receive queue. */
static unsigned queue_port(unsigned q, bool *rx)
{
	*rx = (q & 1) == 0;
	return q < 2 ? 0 : (q - 4) / 2 + 1;
}

static unsigned port_rxq(unsigned p) { return p == 0 ? 0 : 4 + 2 * (p - 1); }

/* Stop serving the guest until it resets the device. Lock held. */
static void vcon_fail(struct vcon *c, const char *why)
{
	c->broken = true;
	virtio_needs_reset(c->vp, why);
}

/* --- control queues ---------------------------------------------------- */

/* Deliver pending control messages into the driver's control receive
 * buffers. Lock held. */
static void ctrl_flush(struct vcon *c)
{
	struct virtqueue *vq = c->vq[Q_CTRL_RX];
	bool pushed = false;

	while (vq && c->ctrl_n && !c->broken) {
		struct vcon_msg *m = &c->ctrl[c->ctrl_head];
		uint8_t b[CTRL_HDR + VCON_NAME_MAX + 1];
		size_t len = CTRL_HDR;
		int rc = vq_pop(vq, &c->elem);

		if (rc < 0) {
			vcon_fail(c, vq->why ? vq->why : "malformed control queue");
			break;
		}
		if (rc == 0)
			break;
		memcpy(b, &m->id, 4);
		memcpy(b + 4, &m->event, 2);
		memcpy(b + 6, &m->value, 2);
		if (m->event == VCON_PORT_NAME) {
			size_t n = strlen(c->port[m->id].name);
			memcpy(b + CTRL_HDR, c->port[m->id].name, n);
			len += n;
		}
		if (c->elem.in_len < len) {
			vcon_fail(c, "control receive buffer too small");
			break;
		}
		vq_elem_write(&c->elem, 0, b, len);
		vq_push(vq, c->elem.head, (uint32_t)len);
		pushed = true;
		c->ctrl_head = (c->ctrl_head + 1) % CTRL_PENDING;
		c->ctrl_n--;
	}
	if (pushed)
		virtio_notify(c->vp, Q_CTRL_RX);
}

/* Queue a control message for the driver. Lock held. */
static void ctrl_send(struct vcon *c, unsigned id, uint16_t event, uint16_t value)
{
	if (c->ctrl_n == CTRL_PENDING) {
		log_warn("virtio-console: driver takes no control messages, dropping one");
		return;
	}
	c->ctrl[(c->ctrl_head + c->ctrl_n) % CTRL_PENDING] =
		(struct vcon_msg){ .id = id, .event = event, .value = value };
	c->ctrl_n++;
}

/* The driver's PORT_READY for port p: say what the port is. Lock held. */
static void ctrl_port_ready(struct vcon *c, unsigned p)
{
	c->port[p].ready = true;
	if (p == 0) {
		ctrl_send(c, 0, VCON_CONSOLE_PORT, 1);
		ctrl_send(c, 0, VCON_PORT_OPEN, 1);
		return;
	}
	ctrl_send(c, p, VCON_PORT_NAME, 1);
	if (c->port[p].conn_fd >= 0)
		ctrl_send(c, p, VCON_PORT_OPEN, 1);
}

/* One message from the driver. 0, or -1 when it is malformed. Lock held. */
static int ctrl_handle(struct vcon *c, const struct vcon_msg *m)
{
	switch (m->event) {
	case VCON_DEVICE_READY:
		if (m->value == 1)
			for (unsigned p = 0; p < c->nports; p++)
				ctrl_send(c, p, VCON_DEVICE_ADD, 0);
		else
			log_warn("virtio-console: the guest driver failed to set up");
		return 0;
	case VCON_PORT_READY:
	case VCON_PORT_OPEN:
		if (m->id >= c->nports)
			return -1;
		if (m->event == VCON_PORT_READY && m->value == 1)
			ctrl_port_ready(c, m->id);
		else if (m->event == VCON_PORT_OPEN)
			log_debug("virtio-console: guest %s port %u", m->value ? "opened" : "closed",
				  m->id);
		return 0;
	default:
		return 0;             /* nothing else is for the device; ignore */
	}
}

static void ctrl_tx(struct vcon *c, struct virtqueue *vq)
{
	bool pushed = false;
	int rc;

	while (!c->broken && (rc = vq_pop(vq, &c->elem)) != 0) {
		struct vcon_msg m;
		uint8_t b[CTRL_HDR];

		if (rc < 0) {
			vcon_fail(c, vq->why ? vq->why : "malformed control queue");
			break;
		}
		if (vq_elem_read(&c->elem, 0, b, CTRL_HDR) < 0) {
			vcon_fail(c, "control message shorter than its header");
			break;
		}
		memcpy(&m.id, b, 4);
		memcpy(&m.event, b + 4, 2);
		memcpy(&m.value, b + 6, 2);
		if (ctrl_handle(c, &m) < 0) {
			vcon_fail(c, "control message for a port that does not exist");
			break;
		}
		vq_push(vq, c->elem.head, 0);
		pushed = true;
	}
	if (pushed)
		virtio_notify(c->vp, Q_CTRL_TX);
	ctrl_flush(c);
}

/* --- ports -------------------------------------------------------------- */

/* Write what the guest sent on port p to its client (or the console).
 * Anything not taken at once is dropped. Lock held. */
static void port_out(struct vcon *c, struct vcon_port *pt, const struct vq_elem *e)
{
	int fd = pt->id == 0 ? c->out_fd : pt->conn_fd;
	uint64_t sent = 0;

	for (unsigned i = 0; i < e->out_num && fd >= 0; i++) {
		ssize_t n = pt->id == 0 ? write(fd, e->iov[i].iov_base, e->iov[i].iov_len)
			: send(fd, e->iov[i].iov_base, e->iov[i].iov_len,
			       MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
			sent += (uint64_t)n;
		if (n != (ssize_t)e->iov[i].iov_len)
			break;
	}
	XVM_PROBE(VCON_IO, c->vm->cfg.domid, (int)pt->id, 1, (unsigned)sent);
	if (sent < e->out_len)
		XVM_PROBE(VCON_DROP, c->vm->cfg.domid, (int)pt->id,
			  (unsigned)(e->out_len - sent));
}

static void port_tx(struct vcon *c, struct vcon_port *pt, struct virtqueue *vq)
{
	unsigned n = 0;
	int rc;

	while (!c->broken && (rc = vq_pop(vq, &c->elem)) != 0) {
		if (rc < 0) {
			vcon_fail(c, vq->why ? vq->why : "malformed transmit queue");
			break;
		}
		port_out(c, pt, &c->elem);
		vq_push(vq, c->elem.head, 0);
		n++;
	}
	if (n)
		virtio_notify(c->vp, port_rxq(pt->id) + 1);
}

/* Watch the client for input or not. Lock held. */
static void port_watch(struct vcon_port *pt, bool on);

/* Move pending client bytes into the guest's receive buffers; stop reading
 * the client while some are left. Lock held. */
static void port_flush(struct vcon *c, struct vcon_port *pt)
{
	unsigned q = port_rxq(pt->id);
	struct virtqueue *vq = c->vq[q];
	bool pushed = false;

	while (vq && pt->pend_len && !c->broken) {
		int rc = vq_pop(vq, &c->elem);
		uint64_t n;

		if (rc < 0) {
			vcon_fail(c, vq->why ? vq->why : "malformed receive queue");
			break;
		}
		if (rc == 0)
			break;
		if (!c->elem.in_num) {
			vcon_fail(c, "receive buffer that is not writable");
			break;
		}
		n = MIN(c->elem.in_len, (uint64_t)pt->pend_len);
		vq_elem_write(&c->elem, 0, pt->pend + pt->pend_off, n);
		vq_push(vq, c->elem.head, (uint32_t)n);
		XVM_PROBE(VCON_IO, c->vm->cfg.domid, (int)pt->id, 0, (unsigned)n);
		pt->pend_off += n;
		pt->pend_len -= n;
		pushed = true;
	}
	if (pushed)
		virtio_notify(c->vp, q);
	if (!pt->pend_len)
		pt->pend_off = 0;
	port_watch(pt, pt->conn_fd >= 0 && !pt->pend_len && !c->broken);
}

/* --- host sockets ------------------------------------------------------- */

static void port_hangup(struct vcon *c, struct vcon_port *pt)
{
	port_watch(pt, false);
	close(pt->conn_fd);
	pt->conn_fd = -1;
	pt->pend_len = pt->pend_off = 0;
	log_info("virtio-console: %s: client left", pt->name);
	if (pt->ready) {
		ctrl_send(c, pt->id, VCON_PORT_OPEN, 0);
		ctrl_flush(c);
	}
}

/* The client sent bytes or left. Lock held. */
static void port_readable(struct vcon *c, struct vcon_port *pt)
{
	ssize_t n;

	if (pt->conn_fd < 0 || pt->pend_len)
		return;
	n = recv(pt->conn_fd, pt->pend, sizeof(pt->pend), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		port_hangup(c, pt);
		return;
	}
	if (n > 0) {
		pt->pend_off = 0;
		pt->pend_len = (size_t)n;
		port_flush(c, pt);
	}
}

static void port_watch(struct vcon_port *pt, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = pt->id * 2 + 1 };

	/* off means out of the set: a hung-up fd reports EPOLLHUP whatever
	 * events it asks for, and would spin the loop */
	if (pt->watching == on || pt->conn_fd < 0)
		return;
	if (epoll_ctl(pt->c->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, pt->conn_fd, &ev) == 0)
		pt->watching = on;
}

/* A client knocks on the listening socket. Lock held. */
static void port_accept(struct vcon *c, struct vcon_port *pt)
{
	int fd = accept4(pt->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (pt->conn_fd >= 0) {
		log_notice("virtio-console: %s: busy, refusing a second client", pt->name);
		close(fd);
		return;
	}
	pt->conn_fd = fd;
	pt->watching = false;
	log_info("virtio-console: %s: client connected", pt->name);
	port_watch(pt, !c->broken);
	if (pt->ready) {             /* else PORT_READY's answer says it */
		ctrl_send(c, pt->id, VCON_PORT_OPEN, 1);
		ctrl_flush(c);
	}
}

/* The event loop: some socket of this device is ready. */
static void vcon_events(void *opaque)
{
	struct vcon *c = opaque;
	struct epoll_event ev[8];
	int n = epoll_wait(c->epfd, ev, 8, 0);

	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < n; i++) {
		unsigned p = ev[i].data.u32 / 2;
		if (p >= c->nports)
			continue;
		if (ev[i].data.u32 & 1)
			port_readable(c, &c->port[p]);
		else
			port_accept(c, &c->port[p]);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Listen on pt->path (util.h unix_listen). 0 or -errno (logged). */
static int port_listen(struct vcon_port *pt)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = pt->id * 2 };
	int fd = unix_listen(pt->path, 1);

	if (fd < 0) {
		log_err("--vconsole: %s: %s", pt->path,
			fd == -EEXIST ? "exists and is not a socket" :
			fd == -EADDRINUSE ? "another process listens there" : strerror(-fd));
		return fd;
	}
	pt->listen_fd = fd;
	if (epoll_ctl(pt->c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_err("--vconsole: %s: cannot watch it: %s", pt->path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* --- transport hooks ---------------------------------------------------- */

static void vcon_queue_notify(void *dev, struct virtqueue *vq, unsigned q)
{
	struct vcon *c = dev;
	bool rx;
	unsigned p = queue_port(q, &rx);

	XVM_PROBE(VIRTIO_NOTIFY, c->vm->cfg.domid, (char *)"virtio-console", (int)q);
	if (q >= NQUEUES_MAX)
		return;
	pthread_mutex_lock(&c->lock);
	c->vq[q] = vq;
	if (c->broken)
		;
	else if (q == Q_CTRL_RX)
		ctrl_flush(c);
	else if (q == Q_CTRL_TX)
		ctrl_tx(c, vq);
	else if (p < c->nports && rx)
		port_flush(c, &c->port[p]);
	else if (p < c->nports)
		port_tx(c, &c->port[p], vq);
	pthread_mutex_unlock(&c->lock);
}

static void vcon_cfg_read(void *dev, unsigned off, uint8_t *data, unsigned len)
{
	struct vcon *c = dev;

	memcpy(data, c->cfg + off, len);
}

/* Device reset (vCPU thread): forget guest state, keep clients. */
static void vcon_reset(void *dev)
{
	struct vcon *c = dev;

	pthread_mutex_lock(&c->lock);
	c->broken = false;
	c->ctrl_head = c->ctrl_n = 0;
	for (unsigned p = 0; p < c->nports; p++) {
		c->port[p].pend_len = c->port[p].pend_off = 0;
		c->port[p].ready = false;
		port_watch(&c->port[p], true);
	}
	pthread_mutex_unlock(&c->lock);
}

int vcon_create(struct vm *vm, struct pci_bus *bus, struct evloop *loop,
		const struct vcon_opts *o, struct vcon **out)
{
	struct vcon *c = calloc(1, sizeof(*c));
	uint32_t maxp;
	int rc = 0;

	if (!c)
		return -ENOMEM;
	c->vm = vm;
	c->loop = loop;
	c->out_fd = -1;
	c->nports = o->nports + 1;
	pthread_mutex_init(&c->lock, NULL);
	for (unsigned p = 0; p < c->nports; p++)
		c->port[p].listen_fd = c->port[p].conn_fd = -1;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0 || evloop_add(loop, c->epfd, vcon_events, c) < 0) {
		log_err("virtio-console: cannot watch its sockets");
		if (c->epfd >= 0)
			close(c->epfd);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return -EIO;
	}
	maxp = c->nports;
	memcpy(c->cfg + 4, &maxp, 4);
	for (unsigned p = 0; p < c->nports; p++) {
		struct vcon_port *pt = &c->port[p];
		pt->c = c;
		pt->id = p;
		if (p == 0) {
			strcpy(pt->name, "console");
			continue;
		}
		snprintf(pt->name, sizeof(pt->name), "%s", o->port[p - 1].name ?
			 o->port[p - 1].name : "");
		if (!pt->name[0])
			snprintf(pt->name, sizeof(pt->name), "xvm.%u", p);
		snprintf(pt->path, sizeof(pt->path), "%s", o->port[p - 1].socket);
		if (rc == 0)
			rc = port_listen(pt);
	}
	c->ops = (struct virtio_dev_ops){
		.name = "virtio-console", .type = VIRTIO_ID_CONSOLE, .class_code = 0x078000,
		.features = 1ULL << VIRTIO_CONSOLE_F_MULTIPORT,
		.nqueues = 2 * (c->nports + 1), .queue_size = QUEUE_SIZE,
		.cfg_size = sizeof(c->cfg), .cfg_read = vcon_cfg_read,
		.queue_notify = vcon_queue_notify, .reset = vcon_reset,
	};
	if (rc == 0)
		rc = virtio_pci_create(vm, bus, loop, &c->ops, c, &c->vp);
	if (rc < 0) {
		vcon_destroy(c);
		return rc;
	}
	for (unsigned p = 1; p < c->nports; p++)
		log_info("virtio-console: port %u '%s' on %s", p, c->port[p].name,
			 c->port[p].path);
	*out = c;
	return 0;
}

void vcon_set_output(struct vcon *c, int fd)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->out_fd = fd;
	pthread_mutex_unlock(&c->lock);
}

void vcon_destroy(struct vcon *c)
{
	if (!c)
		return;
	evloop_del(c->loop, c->epfd);
	for (unsigned p = 0; p < c->nports; p++) {
		struct vcon_port *pt = &c->port[p];
		if (pt->conn_fd >= 0)
			close(pt->conn_fd);
		if (pt->listen_fd >= 0) {
			close(pt->listen_fd);
			unlink(pt->path);
		}
	}
	close(c->epfd);
	virtio_pci_destroy(c->vp);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
