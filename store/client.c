/* client.c - the xenstore wire protocol from the client side (used by xvm store, tests, bench). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xvm/store.h"
#include "xvm/store_proto.h"
#include "xvm/util.h"

struct qmsg {
	struct qmsg *next;
	uint32_t type;
	uint32_t len;
	char *data;
};

struct store_client {
	int fd;
	uint32_t next_req;
	struct qmsg *head, **tail;
};

const char *store_socket_path(void)
{
	const char *p = getenv("XVM_STORE_SOCKET");

	if (!p || !*p)
		p = getenv("XENSTORED_PATH");
	return p && *p ? p : STORE_DEFAULT_SOCKET;
}

int store_domain_socket(const char *main_sock, uint32_t domid, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s.%u", main_sock, domid);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int store_open(const char *path, struct store_client **out)
{
	struct store_client *c;
	int rc;

	if (!path)
		path = store_socket_path();
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tail = &c->head;
	c->next_req = 1;
	c->fd = unix_connect(path);
	if (c->fd < 0) {
		rc = c->fd;
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void store_close(struct store_client *c)
{
	if (!c)
		return;
	while (c->head) {
		struct qmsg *q = c->head;

		c->head = q->next;
		free(q->data);
		free(q);
	}
	close(c->fd);
	free(c);
}

int store_client_fd(const struct store_client *c)
{
	return c->fd;
}

/* receive one message (waiting up to timeout_ms); data is NUL-terminated */
static int recv_msg(struct store_client *c, int timeout_ms, struct xsd_sockmsg *h, char **data)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int rc;

	if (timeout_ms >= 0) {
		rc = poll(&pfd, 1, timeout_ms);
		if (rc == 0)
			return -ETIMEDOUT;
		if (rc < 0)
			return -errno;
	}
	rc = read_all(c->fd, h, sizeof(*h));
	if (rc)
		return rc;
	if (h->len > STORE_PAYLOAD_MAX)
		return -EPROTO;
	*data = malloc(h->len + 1);
	if (!*data)
		return -ENOMEM;
	rc = read_all(c->fd, *data, h->len);
	if (rc) {
		free(*data);
		return rc;
	}
	(*data)[h->len] = '\0';
	return 0;
}

static int queue_msg(struct store_client *c, const struct xsd_sockmsg *h, char *data)
{
	struct qmsg *q = malloc(sizeof(*q));

	if (!q) {
		free(data);
		return -ENOMEM;
	}
	*q = (struct qmsg){ NULL, h->type, h->len, data };
	*c->tail = q;
	c->tail = &q->next;
	return 0;
}

int store_request(struct store_client *c, uint32_t type, uint32_t tx,
		  const void *payload, uint32_t len, char **reply, uint32_t *rlen)
{
	uint8_t buf[STORE_HDR_LEN + STORE_PAYLOAD_MAX];
	struct xsd_sockmsg h = { type, c->next_req++, tx, len };
	char *data;
	int rc;

	if (len > STORE_PAYLOAD_MAX)
		return -E2BIG;
	if (c->next_req == 0)
		c->next_req = 1; /* 0 is for unsolicited messages */
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	rc = write_all(c->fd, buf, sizeof(h) + len);
	if (rc)
		return rc;
	for (;;) {
		struct xsd_sockmsg r;

		rc = recv_msg(c, -1, &r, &data);
		if (rc)
			return rc;
		if (r.type == XS_WATCH_EVENT || r.req_id != h.req_id) {
			rc = queue_msg(c, &r, data);
			if (rc)
				return rc;
			continue;
		}
		if (r.type == XS_ERROR) {
			rc = -store_err_parse(data, r.len);
			free(data);
			return rc;
		}
		if (rlen)
			*rlen = r.len;
		if (reply)
			*reply = data;
		else
			free(data);
		return 0;
	}
}

/* request with the NUL-terminated strings args[0..n) (+ optional raw tail) */
static int request_args(struct store_client *c, uint32_t type, uint32_t tx,
			const char *const *args, int n, const void *tail,
			uint32_t tail_len, char **reply, uint32_t *rlen)
{
	char buf[STORE_PAYLOAD_MAX];
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		size_t l = strlen(args[i]) + 1;

		if (off + l > sizeof(buf))
			return -E2BIG;
		memcpy(buf + off, args[i], l);
		off += l;
	}
	if (off + tail_len > sizeof(buf))
		return -E2BIG;
	if (tail_len)
		memcpy(buf + off, tail, tail_len);
	return store_request(c, type, tx, buf, (uint32_t)(off + tail_len), reply, rlen);
}

int store_read(struct store_client *c, uint32_t tx, const char *path,
	       char **value, uint32_t *len)
{
	return request_args(c, XS_READ, tx, &path, 1, NULL, 0, value, len);
}

int store_write(struct store_client *c, uint32_t tx, const char *path,
		const void *value, uint32_t len)
{
	return request_args(c, XS_WRITE, tx, &path, 1, value, len, NULL, NULL);
}

int store_mkdir(struct store_client *c, uint32_t tx, const char *path)
{
	return request_args(c, XS_MKDIR, tx, &path, 1, NULL, 0, NULL, NULL);
}

int store_rm(struct store_client *c, uint32_t tx, const char *path)
{
	return request_args(c, XS_RM, tx, &path, 1, NULL, 0, NULL, NULL);
}

/* split "a\0b\0" into one block holding the pointer array and the strings */
static int split_list(const char *data, uint32_t len, char ***out, unsigned int *n)
{
	unsigned int count = 0;
	char **v, *s;

	for (uint32_t i = 0; i < len; i++)
		count += data[i] == '\0';
	v = malloc((count + 1) * sizeof(char *) + len + 1);
	if (!v)
		return -ENOMEM;
	s = (char *)(v + count + 1);
	memcpy(s, data, len);
	s[len] = '\0';
	for (unsigned int i = 0; i < count; i++) {
		v[i] = s;
		s += strlen(s) + 1;
	}
	v[count] = NULL;
	*out = v;
	*n = count;
	return 0;
}

static int list_request(struct store_client *c, uint32_t type, uint32_t tx,
			const char *path, char ***out, unsigned int *n)
{
	uint32_t len;
	char *data;
	int rc = request_args(c, type, tx, &path, 1, NULL, 0, &data, &len);

	if (rc)
		return rc;
	rc = split_list(data, len, out, n);
	free(data);
	return rc;
}

int store_directory(struct store_client *c, uint32_t tx, const char *path,
		    char ***names, unsigned int *n)
{
	return list_request(c, XS_DIRECTORY, tx, path, names, n);
}

int store_get_perms(struct store_client *c, uint32_t tx, const char *path,
		    char ***perms, unsigned int *n)
{
	return list_request(c, XS_GET_PERMS, tx, path, perms, n);
}

int store_set_perms(struct store_client *c, uint32_t tx, const char *path,
		    const char *const *perms, unsigned int n)
{
	const char *args[STORE_MAX_ARGS];

	if (n + 1 > STORE_MAX_ARGS)
		return -E2BIG;
	args[0] = path;
	memcpy(args + 1, perms, n * sizeof(char *));
	return request_args(c, XS_SET_PERMS, tx, args, (int)n + 1, NULL, 0, NULL, NULL);
}

int store_watch(struct store_client *c, const char *path, const char *token)
{
	const char *args[] = { path, token };

	return request_args(c, XS_WATCH, 0, args, 2, NULL, 0, NULL, NULL);
}

int store_unwatch(struct store_client *c, const char *path, const char *token)
{
	const char *args[] = { path, token };

	return request_args(c, XS_UNWATCH, 0, args, 2, NULL, 0, NULL, NULL);
}

int store_next_message(struct store_client *c, int timeout_ms, uint32_t *type,
		       char **data, uint32_t *len)
{
	struct xsd_sockmsg h;
	int rc;

	if (c->head) {
		struct qmsg *q = c->head;

		c->head = q->next;
		if (!c->head)
			c->tail = &c->head;
		*type = q->type;
		*data = q->data;
		*len = q->len;
		free(q);
		return 0;
	}
	rc = recv_msg(c, timeout_ms, &h, data);
	if (!rc) {
		*type = h.type;
		*len = h.len;
	}
	return rc;
}

int store_read_event(struct store_client *c, int timeout_ms, char **path, char **token)
{
	uint32_t type, len;
	char *data;
	int rc;

	for (;;) {
		rc = store_next_message(c, timeout_ms, &type, &data, &len);
		if (rc)
			return rc;
		if (type == XS_WATCH_EVENT)
			break;
		free(data);
	}
	*path = strdup(data);
	*token = strlen(data) < len ? strdup(data + strlen(data) + 1) : strdup("");
	free(data);
	if (!*path || !*token) {
		free(*path);
		free(*token);
		return -ENOMEM;
	}
	return 0;
}

int store_tx_start(struct store_client *c, uint32_t *tx)
{
	uint64_t v;
	char *data;
	int rc = store_request(c, XS_TRANSACTION_START, 0, "", 1, &data, NULL);

	if (rc)
		return rc;
	rc = parse_uint(data, 1, UINT32_MAX, &v);
	free(data);
	if (rc)
		return -EPROTO;
	*tx = (uint32_t)v;
	return 0;
}

int store_tx_end(struct store_client *c, uint32_t tx, bool commit)
{
	const char *arg = commit ? "T" : "F";

	return request_args(c, XS_TRANSACTION_END, tx, &arg, 1, NULL, 0, NULL, NULL);
}

int store_control(struct store_client *c, const char *const *argv, int argc, char **reply)
{
	return request_args(c, XS_CONTROL, 0, argv, argc, NULL, 0, reply, NULL);
}

int store_introduce(struct store_client *c, uint32_t domid)
{
	char id[16];
	const char *args[] = { id, "0", "0" }; /* no ring page, no event channel */

	snprintf(id, sizeof(id), "%u", domid);
	return request_args(c, XS_INTRODUCE, 0, args, 3, NULL, 0, NULL, NULL);
}

int store_release(struct store_client *c, uint32_t domid)
{
	char id[16];
	const char *arg = id;

	snprintf(id, sizeof(id), "%u", domid);
	return request_args(c, XS_RELEASE, 0, &arg, 1, NULL, 0, NULL, NULL);
}
