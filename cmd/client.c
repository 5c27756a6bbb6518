/* client.c - the xvmd API client: connect, one request line, one reply line (see xvm/api_client.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xvm/api_client.h"
#include "xvm/log.h"
#include "xvm/rundir.h"
#include "xvm/util.h"

/* A reply may carry a 1 MiB console log, escaped: allow plenty. */
#define API_REPLY_MAX (64u << 20)

struct api_conn {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *buf;       /* bytes received and not yet consumed */
	size_t len, cap;
};

int api_open(struct api_conn **out, char *path, size_t size)
{
	struct api_conn *c;
	char p[4096];
	int rc;

	rc = xvmd_socket_path(p, sizeof(p));
	if (path && size)
		snprintf(path, size, "%s", p);
	if (rc)
		return rc;
	if (strlen(p) >= sizeof(c->path))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memcpy(c->path, p, strlen(p) + 1);
	c->fd = unix_connect(p);
	if (c->fd < 0) {
		rc = c->fd;
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void api_close(struct api_conn *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

const char *api_path(const struct api_conn *c)
{
	return c->path;
}

/* Read until a '\n' is buffered; the line (without it) is NUL-terminated
 * in place and its length returned in *llen. */
static int read_line(struct api_conn *c, size_t *llen)
{
	size_t scanned = 0;

	for (;;) {
		char *nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned)
					    : NULL;
		ssize_t n;

		if (nl) {
			*nl = '\0';
			*llen = (size_t)(nl - c->buf);
			return 0;
		}
		scanned = c->len;
		if (c->len + 1 >= c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 65536;
			char *b;

			if (cap > API_REPLY_MAX)
				return -EMSGSIZE;
			b = realloc(c->buf, cap);
			if (!b)
				return -ENOMEM;
			c->buf = b;
			c->cap = cap;
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		c->len += (size_t)n;
	}
}

int api_call(struct api_conn *c, json_object *req, json_object **reply)
{
	enum json_tokener_error jerr;
	const char *text;
	json_object *r;
	size_t llen = 0;
	int rc;

	json_object_object_add(req, "api", json_object_new_int(XVMD_API_VERSION));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (!text)
		return -ENOMEM;
	rc = write_all(c->fd, text, strlen(text));
	if (!rc)
		rc = write_all(c->fd, "\n", 1);
	if (rc)
		return rc;
	rc = read_line(c, &llen);
	if (rc)
		return rc;
	r = json_tokener_parse_verbose(c->buf, &jerr);
	memmove(c->buf, c->buf + llen + 1, c->len - llen - 1);
	c->len -= llen + 1;
	if (!r || !json_object_is_type(r, json_type_object)) {
		json_object_put(r);
		return -EPROTO;
	}
	*reply = r;
	return 0;
}

json_object *api_request(const char *op)
{
	json_object *o = json_object_new_object();

	if (o)
		json_object_object_add(o, "op", json_object_new_string(op));
	return o;
}

void api_add_cwd(json_object *req)
{
	char *cwd = req ? getcwd(NULL, 0) : NULL;

	if (cwd)
		json_object_object_add(req, "cwd", json_object_new_string(cwd));
	free(cwd);
}

static int unreachable(const char *path, int rc)
{
	log_err("cannot reach xvmd at %s: %s (start it with 'xvmd')", path, strerror(-rc));
	return XVM_EXIT_NOXVMD;
}

int api_run_on(struct api_conn *c, const char *verb, json_object *req, json_object **reply)
{
	json_object *r = NULL;
	int rc;

	if (!req) {
		log_err("%s: %s", verb, strerror(ENOMEM));
		return XVM_EXIT_FAIL;
	}
	rc = api_call(c, req, &r);
	json_object_put(req);
	if (rc == -EPIPE) {
		log_err("%s: xvmd at %s closed the connection", verb, c->path);
		return XVM_EXIT_NOXVMD;
	}
	if (rc == -EPROTO) {
		log_err("%s: xvmd at %s sent a reply that is not a JSON object", verb, c->path);
		return XVM_EXIT_NOXVMD;
	}
	if (rc) {
		log_err("%s: talking to xvmd at %s: %s", verb, c->path, strerror(-rc));
		return XVM_EXIT_NOXVMD;
	}
	if (!api_bool(r, "ok", 0)) {
		log_err("%s: %s", verb, api_str(r, "error", "xvmd refused the request"));
		json_object_put(r);
		return XVM_EXIT_FAIL;
	}
	if (reply)
		*reply = r;
	else
		json_object_put(r);
	return XVM_EXIT_OK;
}

int api_run(const char *verb, json_object *req, json_object **reply)
{
	struct api_conn *c;
	char path[4096];
	int rc = api_open(&c, path, sizeof(path));

	if (rc) {
		json_object_put(req);
		return unreachable(path, rc);
	}
	rc = api_run_on(c, verb, req, reply);
	api_close(c);
	return rc;
}

const char *api_str(json_object *o, const char *key, const char *def)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return def;
	return json_object_get_string(v);
}

long long api_int(json_object *o, const char *key, long long def)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return def;
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
		return (long long)json_object_get_int64(v);
	return def;
}

int api_bool(json_object *o, const char *key, int def)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
		return def;
	return json_object_get_boolean(v);
}

json_object *api_array(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}
