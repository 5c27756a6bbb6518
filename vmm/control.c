/* control.c - the control socket: listener, connections, JSON line framing
 * and command dispatch on one thread (thread model in xvm/control.h). */
#include "xvm/control.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xvm/log.h"
#include "xvm/trace.h"
#include "xvm/util.h"

#define CTL_OUT_MAX (1u << 20)   /* queued output before a client is dropped */

struct ctl_conn {
	int fd;
	bool sub;                /* subscribed to events (under c->lock) */
	bool skipping;           /* discarding an over-long line up to '\n' */
	bool dead;               /* output overflowed: close at next turn */
	size_t in_len;
	char in[CONTROL_MAX_LINE + 1];
	char *out;               /* queued output (under c->lock) */
	size_t out_len, out_cap;
};

struct ctl_cmd {
	char name[32];
	control_fn fn;
	void *opaque;
};

struct control {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd, wake_fd, domid;
	pthread_t thread;
	bool started;
	bool stop;                               /* under lock */
	pthread_mutex_t lock;                    /* conn[] slots, out buffers, sub */
	struct ctl_conn *conn[CONTROL_MAX_CLIENTS];
	struct ctl_cmd cmd[CONTROL_MAX_CMDS];
	unsigned ncmds;
};

static int ctl_listen(struct control *c, const char *path)
{
	int fd = unix_listen(path, 16);

	if (fd < 0)
		return fd;
	c->lfd = fd;
	strcpy(c->path, path);
	return 0;
}

int control_create(struct control **out, const char *path, int domid)
{
	struct control *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->domid = domid;
	c->lfd = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rc = c->wake_fd < 0 ? -errno : ctl_listen(c, path);
	if (rc < 0) {
		log_err("--control %s: %s", path,
			rc == -EEXIST ? "exists and is not a socket" :
			rc == -EADDRINUSE ? "another process listens there" :
			strerror(-rc));
		control_destroy(c, 0);
		return rc;
	}
	*out = c;
	return 0;
}

int control_register(struct control *c, const char *cmd, control_fn fn, void *opaque)
{
	unsigned i;

	if (!cmd || !fn || strlen(cmd) >= sizeof(c->cmd[0].name) || c->started)
		return -EINVAL;
	for (i = 0; i < c->ncmds && strcmp(c->cmd[i].name, cmd); i++)
		;
	if (i == CONTROL_MAX_CMDS)
		return -ENOSPC;
	snprintf(c->cmd[i].name, sizeof(c->cmd[i].name), "%s", cmd);
	c->cmd[i].fn = fn;
	c->cmd[i].opaque = opaque;
	if (i == c->ncmds)
		c->ncmds++;
	return 0;
}

int control_error(struct control_req *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req->error, sizeof(req->error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Queue text + '\n' on conn; call with c->lock held. */
static void ctl_queue_locked(struct ctl_conn *k, const char *text)
{
	size_t n = strlen(text);

	if (k->dead)
		return;
	if (k->out_len + n + 1 > CTL_OUT_MAX) {
		k->dead = true;
		return;
	}
	if (k->out_len + n + 1 > k->out_cap) {
		size_t cap = (k->out_len + n + 1) * 2;
		char *p = realloc(k->out, cap);
		if (!p) {
			k->dead = true;
			return;
		}
		k->out = p;
		k->out_cap = cap;
	}
	memcpy(k->out + k->out_len, text, n);
	k->out[k->out_len + n] = '\n';
	k->out_len += n + 1;
}

static void ctl_wake(struct control *c)
{
	uint64_t one = 1;

	if (write(c->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("control: wake: %s", strerror(errno));
}

void control_event(struct control *c, const char *name, struct json_object *fields)
{
	struct json_object *ev;
	const char *text;

	if (!c) {
		json_object_put(fields);
		return;
	}
	ev = json_object_new_object();
	json_object_object_add(ev, "event", json_object_new_string(name));
	if (fields) {
		json_object_object_foreach(fields, key, val)
			json_object_object_add(ev, key, json_object_get(val));
		json_object_put(fields);
	}
	text = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (c->conn[i] && c->conn[i]->sub)
			ctl_queue_locked(c->conn[i], text);
	pthread_mutex_unlock(&c->lock);
	json_object_put(ev);
	ctl_wake(c);
}

static const struct ctl_cmd *ctl_find(const struct control *c, const char *name)
{
	for (unsigned i = 0; i < c->ncmds; i++)
		if (!strcmp(c->cmd[i].name, name))
			return &c->cmd[i];
	return NULL;
}

/* Run one parsed request; fills reply. */
static void ctl_dispatch(struct control *c, struct ctl_conn *k,
			 struct json_object *obj, struct json_object *reply)
{
	struct control_req req = { .ctl = c, .args = obj, .reply = reply };
	struct json_object *v;
	const struct ctl_cmd *cmd;
	int rc;

	if (!json_object_object_get_ex(obj, "cmd", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		rc = control_error(&req, "request has no \"cmd\" string");
		goto out;
	}
	req.cmd = json_object_get_string(v);
	cmd = ctl_find(c, req.cmd);
	if (!cmd) {
		rc = control_error(&req, "unknown command '%.64s'", req.cmd);
		goto out;
	}
	XVM_PROBE(CONTROL_START, c->domid, (char *)req.cmd);
	rc = cmd->fn(&req, cmd->opaque);
	XVM_PROBE(CONTROL_END, c->domid, (char *)req.cmd, rc);
	if (rc == 0 && req.subscribe) {
		pthread_mutex_lock(&c->lock);
		k->sub = true;
		pthread_mutex_unlock(&c->lock);
	}
out:
	json_object_object_add(reply, "ok", json_object_new_boolean(rc == 0));
	if (rc < 0)
		json_object_object_add(reply, "error",
				       json_object_new_string(req.error[0] ? req.error :
							      strerror(-rc)));
}

/* One request line (without '\n', NUL-terminated): answer it. */
static void ctl_line(struct control *c, struct ctl_conn *k, const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj, *reply = json_object_new_object(), *id;

	obj = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
	if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
	    tok->char_offset != (int)len || !json_object_is_type(obj, json_type_object)) {
		json_object_object_add(reply, "ok", json_object_new_boolean(0));
		json_object_object_add(reply, "error", json_object_new_string(
			obj && json_object_is_type(obj, json_type_object) ?
			"trailing data after the JSON object" :
			obj ? "request is not a JSON object" : "malformed JSON"));
	} else {
		if (json_object_object_get_ex(obj, "id", &id))
			json_object_object_add(reply, "id", json_object_get(id));
		ctl_dispatch(c, k, obj, reply);
	}
	pthread_mutex_lock(&c->lock);
	ctl_queue_locked(k, json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	pthread_mutex_unlock(&c->lock);
	json_object_put(reply);
	json_object_put(obj);
	if (tok)
		json_tokener_free(tok);
}

/* Split the input buffer into lines and answer each complete one. */
static void ctl_lines(struct control *c, struct ctl_conn *k)
{
	size_t start = 0;

	for (size_t i = 0; i < k->in_len; i++) {
		if (k->in[i] != '\n')
			continue;
		k->in[i] = 0;
		if (k->skipping)
			k->skipping = false;
		else if (strspn(k->in + start, " \t\r") != i - start)
			ctl_line(c, k, k->in + start, i - start);
		start = i + 1;
	}
	memmove(k->in, k->in + start, k->in_len - start);
	k->in_len -= start;
	if (k->in_len == CONTROL_MAX_LINE) {
		/* no newline in 64 KiB: answer once, drop the rest of the line */
		if (!k->skipping) {
			pthread_mutex_lock(&c->lock);
			ctl_queue_locked(k, "{\"ok\":false,\"error\":\"request line longer than 64 KiB\"}");
			pthread_mutex_unlock(&c->lock);
		}
		k->skipping = true;
		k->in_len = 0;
	}
}

/* Read what the client sent. false when the connection is finished. */
static bool ctl_read(struct control *c, struct ctl_conn *k)
{
	ssize_t n = read(k->fd, k->in + k->in_len, CONTROL_MAX_LINE - k->in_len);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	k->in_len += (size_t)n;
	ctl_lines(c, k);
	return true;
}

/* Write queued output. false on a write error. */
static bool ctl_flush(struct control *c, struct ctl_conn *k)
{
	bool ok = true;

	pthread_mutex_lock(&c->lock);
	while (k->out_len) {
		ssize_t n = send(k->fd, k->out, k->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			ok = errno == EAGAIN || errno == EINTR;
			break;
		}
		memmove(k->out, k->out + n, k->out_len - (size_t)n);
		k->out_len -= (size_t)n;
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

static void ctl_close(struct control *c, unsigned i)
{
	struct ctl_conn *k;

	pthread_mutex_lock(&c->lock);
	k = c->conn[i];
	c->conn[i] = NULL;
	pthread_mutex_unlock(&c->lock);
	if (!k)
		return;
	close(k->fd);
	free(k->out);
	free(k);
}

static void ctl_accept(struct control *c)
{
	int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	struct ctl_conn *k;
	unsigned i;

	if (fd < 0)
		return;
	for (i = 0; i < CONTROL_MAX_CLIENTS && c->conn[i]; i++)
		;
	k = i < CONTROL_MAX_CLIENTS ? calloc(1, sizeof(*k)) : NULL;
	if (!k) {
		log_warn("control: refusing a client: %s",
			 i < CONTROL_MAX_CLIENTS ? "out of memory" : "too many clients");
		close(fd);
		return;
	}
	k->fd = fd;
	pthread_mutex_lock(&c->lock);
	c->conn[i] = k;
	pthread_mutex_unlock(&c->lock);
}

/* Fill the poll set; slot[j] is the conn index of p[j] (j >= 2). */
static int ctl_pollset(struct control *c, struct pollfd *p, unsigned *slot)
{
	int n = 2;

	p[0] = (struct pollfd){ c->wake_fd, POLLIN, 0 };
	p[1] = (struct pollfd){ c->lfd, POLLIN, 0 };
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct ctl_conn *k = c->conn[i];
		if (!k)
			continue;
		p[n] = (struct pollfd){ k->fd, POLLIN | (k->out_len ? POLLOUT : 0), 0 };
		slot[n++] = i;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

static void *ctl_thread(void *arg)
{
	struct control *c = arg;
	struct pollfd p[CONTROL_MAX_CLIENTS + 2];
	unsigned slot[CONTROL_MAX_CLIENTS + 2];
	uint64_t v;

	pthread_setname_np(pthread_self(), "xvm-ctl");
	for (;;) {
		int n = ctl_pollset(c, p, slot);
		bool stop;

		if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents && read(c->wake_fd, &v, sizeof(v)) < 0)
			v = 0;
		pthread_mutex_lock(&c->lock);
		stop = c->stop;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		if (p[1].revents & POLLIN)
			ctl_accept(c);
		for (int j = 2; j < n; j++) {
			struct ctl_conn *k = c->conn[slot[j]];
			bool ok = true;
			if (p[j].revents & POLLIN)
				ok = ctl_read(c, k);
			else if (p[j].revents & (POLLHUP | POLLERR))
				ok = false;
			if (ok)
				ok = ctl_flush(c, k) && !k->dead;
			if (!ok)
				ctl_close(c, slot[j]);
		}
		/* events queued meanwhile are written on the next turn (wake) */
	}
	return NULL;
}

int control_start(struct control *c)
{
	int rc = pthread_create(&c->thread, NULL, ctl_thread, c);

	if (rc)
		return -rc;
	c->started = true;
	return 0;
}

/* After the thread is gone: give each client up to timeout_ms to take its
 * queued output (the last reply, the stop event). */
static void ctl_drain(struct control *c, int timeout_ms)
{
	for (unsigned i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct ctl_conn *k = c->conn[i];
		int left = timeout_ms;

		while (k && k->out_len && !k->dead && left > 0) {
			struct pollfd p = { k->fd, POLLOUT, 0 };
			if (poll(&p, 1, 10) < 0 || (p.revents & (POLLERR | POLLHUP)) ||
			    !ctl_flush(c, k))
				break;
			left -= 10;
		}
		ctl_close(c, i);
	}
}

void control_stop(struct control *c)
{
	if (!c || !c->started)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_mutex_unlock(&c->lock);
	ctl_wake(c);
	pthread_join(c->thread, NULL);
	c->started = false;
}

void control_destroy(struct control *c, int timeout_ms)
{
	if (!c)
		return;
	control_stop(c);
	ctl_drain(c, timeout_ms);
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->path[0])
		unlink(c->path);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
