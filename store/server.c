/* server.c - xvmstored's event loop: sockets, connections, group commit and reply flushing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "store/daemon.h"
#include "xvm/log.h"
#include "xvm/store.h"
#include "xvm/util.h"

#define IN_CHUNK (64 * 1024)
#define OUT_BACKLOG_MAX (16u << 20) /* a client this far behind is dropped */
#define PRIV_BATCH 256              /* requests per privileged connection per turn */

static void hook_stored(void *ctx, const struct snode *n)
{
	persist_store(((struct store *)ctx)->db, n);
}

static void hook_removed(void *ctx, const char *path)
{
	persist_remove(((struct store *)ctx)->db, path);
}

static void hook_acct(void *ctx, uint32_t dom, int delta)
{
	struct store_dom *d = store_domain(ctx, dom);

	if (d)
		d->nodes = (uint32_t)((int)d->nodes + delta);
}

struct store_dom *store_domain(struct store *s, uint32_t id)
{
	struct store_dom *d;

	for (d = s->doms; d; d = d->next)
		if (d->id == id)
			return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->kind = STORE_EP_DOM;
	d->id = id;
	d->listen_fd = -1;
	d->next = s->doms;
	s->doms = d;
	return d;
}

/* a listening unix socket at path (stale files replaced), added to epoll */
static int listen_at(struct store *s, const char *path, void *tag, int *fd_out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(fd, 128) || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

int store_domain_listen(struct store *s, struct store_dom *d)
{
	char path[256];
	int rc;

	if (d->listen_fd >= 0 || !s->sock_path)
		return 0; /* listening already, or a store without sockets (tests) */
	if (store_domain_socket(s->sock_path, d->id, path, sizeof(path)))
		return -ENAMETOOLONG;
	rc = listen_at(s, path, d, &d->listen_fd);
	if (rc) {
		log_err("xvmstored: %s: cannot listen: %s", path, strerror(-rc));
		return rc;
	}
	d->sock_path = strdup(path);
	return 0;
}

void store_domain_unlisten(struct store *s, struct store_dom *d)
{
	(void)s;
	if (d->listen_fd < 0)
		return;
	close(d->listen_fd);
	d->listen_fd = -1;
	if (d->sock_path)
		unlink(d->sock_path);
	free(d->sock_path);
	d->sock_path = NULL;
}

static void conn_kill(struct store_conn *c, const char *why)
{
	if (c->dead)
		return;
	if (why)
		log_warn("xvmstored: connection %u (domain %u): closing: %s", c->id,
			 c->domid, why);
	c->dead = true;
}

void store_drop_domain_conns(struct store *s, uint32_t id)
{
	for (struct store_conn *c = s->conns; c; c = c->next)
		if (!c->priv && c->domid == id)
			conn_kill(c, "domain released");
}

int conn_send(struct store_conn *c, uint32_t type, uint32_t req_id,
	      uint32_t tx_id, const void *data, uint32_t len)
{
	struct xsd_sockmsg h = { type, req_id, tx_id, len };
	size_t need = c->out_len + STORE_HDR_LEN + len;

	if (c->dead)
		return -EPIPE;
	if (need - c->out_off > OUT_BACKLOG_MAX) {
		conn_kill(c, "client does not read its replies");
		return -ENOBUFS;
	}
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 8192;
		uint8_t *b;

		while (cap < need)
			cap *= 2;
		b = realloc(c->out, cap);
		if (!b) {
			conn_kill(c, "out of memory");
			return -ENOMEM;
		}
		c->out = b;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, &h, STORE_HDR_LEN);
	memcpy(c->out + c->out_len + STORE_HDR_LEN, data, len);
	c->out_len = need;
	return 0;
}

static void conn_new(struct store *s, int lfd, bool priv, uint32_t domid)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		struct store_conn *c;

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		c->kind = STORE_EP_CONN;
		c->fd = fd;
		c->id = ++s->next_conn_id;
		c->priv = priv;
		c->domid = domid;
		c->dom = priv ? NULL : store_domain(s, domid);
		ev.data.ptr = c;
		if ((!priv && !c->dom) || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		log_debug("xvmstored: connection %u: domain %u%s", c->id, domid,
			  priv ? " (privileged)" : "");
	}
}

/* handle the complete messages buffered on c, up to its per-turn budget */
static void conn_process(struct store *s, struct store_conn *c)
{
	uint32_t budget = c->priv ? PRIV_BATCH : s->quota.outstanding;
	size_t off = 0;

	c->more = false;
	while (!c->dead && c->in_len - off >= STORE_HDR_LEN) {
		struct xsd_sockmsg h;
		char why[80];

		memcpy(&h, c->in + off, STORE_HDR_LEN);
		if (store_hdr_check(&h)) {
			snprintf(why, sizeof(why), "payload length %u exceeds %u", h.len,
				 STORE_PAYLOAD_MAX);
			conn_kill(c, why);
			break;
		}
		if (c->in_len - off < STORE_HDR_LEN + h.len)
			break;
		if (budget-- == 0) {
			c->more = true;
			break;
		}
		store_dispatch(s, c, &h, (const char *)c->in + off + STORE_HDR_LEN);
		off += STORE_HDR_LEN + h.len;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

struct store_conn *store_conn_detached(struct store *s, bool priv, uint32_t domid)
{
	struct store_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->kind = STORE_EP_CONN;
	c->fd = -1;
	c->id = ++s->next_conn_id;
	c->priv = priv;
	c->domid = domid;
	c->dom = priv ? NULL : store_domain(s, domid);
	if (!priv && !c->dom) {
		free(c);
		return NULL;
	}
	c->next = s->conns;
	s->conns = c;
	return c;
}

int store_feed(struct store *s, struct store_conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len && !c->dead) {
		size_t n;

		if (!c->in) {
			c->in = malloc(IN_CHUNK);
			if (!c->in)
				return -ENOMEM;
			c->in_cap = IN_CHUNK;
		}
		n = MIN(len, c->in_cap - c->in_len);
		memcpy(c->in + c->in_len, p, n);
		c->in_len += n;
		p += n;
		len -= n;
		do
			conn_process(s, c);
		while (c->more && !c->dead);
	}
	return c->dead ? -EPROTO : 0;
}

static void conn_read(struct store *s, struct store_conn *c)
{
	if (!c->in) {
		c->in = malloc(IN_CHUNK);
		c->in_cap = IN_CHUNK;
		if (!c->in) {
			conn_kill(c, "out of memory");
			return;
		}
	}
	while (!c->dead && c->in_len < c->in_cap) {
		ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);

		if (n > 0) {
			bool drained = (size_t)n < c->in_cap - c->in_len;

			c->in_len += (size_t)n;
			if (drained)
				break; /* a short read: nothing more queued (epoll is level-triggered) */
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_kill(c, NULL); /* closed by the client */
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	conn_process(s, c);
}

static void conn_flush(struct store *s, struct store_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	while (!c->dead && c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->out_off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			break;
		} else {
			conn_kill(c, NULL);
			return;
		}
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->dead || (c->out_len != 0) == c->want_out)
		return;
	c->want_out = c->out_len != 0;
	if (c->want_out)
		ev.events |= EPOLLOUT;
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_free(struct store *s, struct store_conn *c)
{
	watch_free_all(c);
	tx_free_all(s, c);
	if (c->snoop)
		s->nsnoop--;
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

/* after the batch is durable: send replies and events, reap the dead */
static void flush_and_reap(struct store *s)
{
	for (struct store_conn **pc = &s->conns; *pc;) {
		struct store_conn *c = *pc;

		if (c->out_len)
			conn_flush(s, c);
		if (c->dead) {
			*pc = c->next;
			conn_free(s, c);
		} else {
			pc = &c->next;
		}
	}
}

static void handle_event(struct store *s, struct epoll_event *ev)
{
	int kind = *(int *)ev->data.ptr;

	if (kind == STORE_EP_LISTEN) {
		conn_new(s, s->listen_fd, true, 0);
	} else if (kind == STORE_EP_DOM) {
		struct store_dom *d = ev->data.ptr;

		conn_new(s, d->listen_fd, false, d->id);
	} else if (kind == STORE_EP_SIGNAL) {
		struct signalfd_siginfo si;

		if (read(s->sig_fd, &si, sizeof(si)) == sizeof(si))
			log_info("xvmstored: signal %u: stopping", si.ssi_signo);
		s->stop = true;
	} else {
		struct store_conn *c = ev->data.ptr;

		if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			conn_read(s, c);
	}
}

int store_run(struct store *s)
{
	struct epoll_event evs[64];
	bool more = false;

	while (!s->stop) {
		int n = epoll_wait(s->epfd, evs, 64, more ? 0 : -1);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++)
			handle_event(s, &evs[i]);
		more = false;
		for (struct store_conn *c = s->conns; c; c = c->next) {
			if (c->more && !c->dead)
				conn_process(s, c);
			more |= c->more;
		}
		if (persist_commit(s->db)) {
			log_err("xvmstored: cannot commit to the database: stopping "
				"without acknowledging the last batch");
			return -EIO;
		}
		flush_and_reap(s);
	}
	return 0;
}

int store_init(struct store *s, const char *db_path)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->quota = (struct store_quota){ .nodes = 1000, .node_size = 2048,
					  .watches = 128, .txs = 10, .outstanding = 20 };
	s->hooks = (struct tree_hooks){ s, hook_stored, hook_removed, hook_acct };
	s->view = (struct sview){ &s->base, NULL, &s->gen, &s->hooks };
	s->listen_kind = STORE_EP_LISTEN;
	s->sig_kind = STORE_EP_SIGNAL;
	s->listen_fd = s->sig_fd = s->epfd = -1;
	if (db_path) {
		rc = persist_open(db_path, &s->db);
		if (rc)
			return rc;
	}
	s->hooks.stored = NULL; /* loading: nothing to write back */
	rc = tree_init_root(&s->view) ?: (s->db ? persist_load(s->db, s) : 0);
	s->hooks.stored = hook_stored;
	if (rc)
		return rc;
	persist_store(s->db, smap_find(&s->base, "/"));
	return persist_commit(s->db);
}

static int make_parent_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int rc = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			rc = -errno;
	}
	free(dir);
	return rc;
}

int store_listen(struct store *s, const char *sock_path)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->sig_kind };
	sigset_t mask;
	int rc;

	s->sock_path = strdup(sock_path);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!s->sock_path || s->epfd < 0)
		return -ENOMEM;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sig_fd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sig_fd, &ev))
		return -errno;
	rc = make_parent_dir(sock_path);
	if (!rc)
		rc = listen_at(s, sock_path, &s->listen_kind, &s->listen_fd);
	if (rc) {
		log_err("xvmstored: %s: cannot listen: %s", sock_path, strerror(-rc));
		return rc;
	}
	for (struct store_dom *d = s->doms; d; d = d->next)
		if (d->introduced && (rc = store_domain_listen(s, d)))
			return rc;
	return 0;
}

void store_fini(struct store *s)
{
	while (s->conns) {
		struct store_conn *c = s->conns;

		s->conns = c->next;
		conn_free(s, c);
	}
	while (s->doms) {
		struct store_dom *d = s->doms;

		s->doms = d->next;
		store_domain_unlisten(s, d);
		free(d);
	}
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->sock_path);
	}
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	if (s->epfd >= 0)
		close(s->epfd);
	persist_close(s->db);
	smap_free_base(&s->base);
	free(s->sock_path);
}
