/* ops.c - xvmstored's request dispatch: a declarative op table and one handler per op. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/daemon.h"
#include "xvm/log.h"
#include "xvm/trace.h"
#include "xvm/util.h"

/* per-op flags, checked once in prepare() */
#define F_PATH 0x01    /* argv[0] is a path: validate and canonicalise */
#define F_TAIL 0x02    /* the value follows the path without a NUL (WRITE) */
#define F_PRIV 0x04    /* privileged connections only (EACCES) */
#define F_SPECIAL 0x08 /* "@introduceDomain"-style paths allowed */

struct op {
	int (*fn)(struct store_req *r);
	uint8_t flags;
	uint8_t min_args;
};

static void reply(struct store_req *r, const void *data, uint32_t len)
{
	conn_send(r->c, r->hdr.type, r->hdr.req_id, r->hdr.tx_id, data, len);
	r->reply_len = len;
}

static void reply_str(struct store_req *r, const char *s)
{
	reply(r, s, (uint32_t)strlen(s) + 1);
}

uint32_t conn_access(struct store *s, const struct store_conn *c, const struct snode *n)
{
	uint32_t a;

	if (c->priv)
		return STORE_PERM_READ | STORE_PERM_WRITE;
	a = perm_access(n->perms, n->nperms, c->domid);
	for (struct store_dom *d = s->doms; d; d = d->next)
		if (d->id == c->domid && d->has_target)
			a |= perm_access(n->perms, n->nperms, d->target);
	return a;
}

static bool can(const struct store_req *r, const struct snode *n, uint32_t mode)
{
	return (conn_access(r->s, r->c, n) & mode) == mode;
}

/* the node at r->path, readable by the caller: 0, -ENOENT or -EACCES */
static int get_readable(struct store_req *r, struct snode **out)
{
	struct snode *n = sv_get(&r->view, r->path);

	if (!n)
		return -ENOENT;
	if (!can(r, n, STORE_PERM_READ))
		return -EACCES;
	*out = n;
	return 0;
}

static void fire(struct store_req *r, struct snode *n)
{
	if (r->tx)
		n->fire = true;
	else
		watch_fire(r->s, r->path, false, n);
}

/* create r->path (and parents) after the permission and quota checks */
static int create_checked(struct store_req *r, struct snode **out)
{
	struct snode *anc = sv_nearest(&r->view, r->path);
	struct store_dom *d;
	int added, rc;

	if (!anc)
		return -ENOMEM;
	if (!can(r, anc, STORE_PERM_WRITE))
		return -EACCES;
	added = path_depth(r->path) - path_depth(anc->path);
	if (!r->c->priv) {
		d = store_domain(r->s, r->c->domid);
		if (!d)
			return -ENOMEM;
		if (d->nodes + (r->tx ? r->tx->nodes_added : 0) + added > r->s->quota.nodes)
			return -ENOSPC;
	}
	rc = sv_create(&r->view, r->path, !r->c->priv, r->c->domid, out);
	if (!rc && r->tx)
		r->tx->nodes_added += added;
	return rc;
}

static int op_read(struct store_req *r)
{
	struct snode *n;
	int rc = get_readable(r, &n);

	if (!rc)
		reply(r, n->value, n->vlen);
	return rc;
}

static int op_write(struct store_req *r)
{
	struct snode *n;
	int rc;

	if (!r->c->priv && r->tail_len > r->s->quota.node_size)
		return -ENOSPC;
	n = sv_get(&r->view, r->path);
	if (n && !can(r, n, STORE_PERM_WRITE))
		return -EACCES;
	if (!n && (rc = create_checked(r, &n)))
		return rc;
	rc = sv_set_value(&r->view, n, r->tail, r->tail_len);
	if (rc)
		return rc;
	fire(r, n);
	reply_str(r, "OK");
	return 0;
}

static int op_mkdir(struct store_req *r)
{
	struct snode *n = sv_get(&r->view, r->path);
	int rc;

	if (!n) {
		rc = create_checked(r, &n);
		if (rc)
			return rc;
		fire(r, n);
	}
	reply_str(r, "OK");
	return 0;
}

/* a removed node: fire its watchers (checked against its permissions), or
 * inside a transaction give its owner's node quota back */
static void rm_fired(void *arg, const struct snode *n, bool top)
{
	struct store_req *r = arg;

	if (!r->tx)
		watch_fire(r->s, n->path, !top, n);
	else if (n->nperms && n->perms[0].dom == r->c->domid)
		r->tx->nodes_added--;
}

static int op_rm(struct store_req *r)
{
	struct snode *n;
	int rc;

	if (!strcmp(r->path, "/"))
		return -EINVAL;
	n = sv_get(&r->view, r->path);
	if (!n) {
		/* removing what is already gone is fine if the parent exists */
		char parent[sizeof(r->path)];
		size_t plen = (size_t)(strrchr(r->path, '/') - r->path);

		memcpy(parent, r->path, plen ? plen : 1);
		parent[plen ? plen : 1] = '\0';
		if (!sv_get(&r->view, parent))
			return -ENOENT;
		reply_str(r, "OK");
		return 0;
	}
	if (!can(r, n, STORE_PERM_WRITE))
		return -EACCES;
	rc = sv_remove(&r->view, n, rm_fired, r);
	if (!rc)
		reply_str(r, "OK");
	return rc;
}

static int op_directory(struct store_req *r)
{
	char buf[STORE_PAYLOAD_MAX];
	uint32_t off = 0;
	struct snode *n;
	int rc = get_readable(r, &n);

	if (rc)
		return rc;
	for (uint32_t i = 0; i < n->nkids; i++) {
		size_t l = strlen(n->kids[i]) + 1;

		if (off + l > sizeof(buf))
			return -E2BIG; /* libxenstore falls back to DIRECTORY_PART */
		memcpy(buf + off, n->kids[i], l);
		off += (uint32_t)l;
	}
	reply(r, buf, off);
	return 0;
}

/* children from byte offset argv[1] of the full list, after a generation
 * string; an empty name marks the end (libxenstore's xs_directory_part) */
static int op_directory_part(struct store_req *r)
{
	char buf[STORE_PAYLOAD_MAX];
	uint64_t want, pos = 0;
	uint32_t off;
	struct snode *n;
	int rc = get_readable(r, &n);

	if (rc)
		return rc;
	if (parse_uint(r->argv[1], 0, UINT32_MAX, &want))
		return -EINVAL;
	off = (uint32_t)snprintf(buf, sizeof(buf), "%llu", (unsigned long long)n->gen) + 1;
	for (uint32_t i = 0; i < n->nkids; i++) {
		size_t l = strlen(n->kids[i]) + 1;

		if (pos >= want) {
			if (off + l + 1 > sizeof(buf)) {
				reply(r, buf, off); /* more to come */
				return 0;
			}
			memcpy(buf + off, n->kids[i], l);
			off += (uint32_t)l;
		}
		pos += l;
	}
	buf[off++] = '\0';
	reply(r, buf, off);
	return 0;
}

static int op_get_perms(struct store_req *r)
{
	char buf[STORE_PAYLOAD_MAX];
	uint32_t off = 0;
	struct snode *n;
	int rc = get_readable(r, &n);

	if (rc)
		return rc;
	for (uint32_t i = 0; i < n->nperms; i++) {
		char one[16];

		perm_format(&n->perms[i], one, sizeof(one));
		if (off + strlen(one) + 1 > sizeof(buf))
			return -E2BIG;
		off += (uint32_t)sprintf(buf + off, "%s", one) + 1;
	}
	reply(r, buf, off);
	return 0;
}

static int op_set_perms(struct store_req *r)
{
	struct store_perm perms[STORE_MAX_ARGS];
	uint32_t np = (uint32_t)r->argc - 1;
	struct snode *n;
	int rc;

	for (uint32_t i = 0; i < np; i++)
		if (perm_parse(r->argv[i + 1], &perms[i]))
			return -EINVAL;
	n = sv_get(&r->view, r->path);
	if (!n)
		return -ENOENT;
	if (!r->c->priv) {
		if (n->perms[0].dom != r->c->domid)
			return -EACCES; /* only the owner changes permissions */
		if (perms[0].dom != r->c->domid)
			return -EPERM;  /* and may not give the node away */
	}
	rc = sv_set_perms(&r->view, n, perms, np);
	if (rc)
		return rc;
	fire(r, n);
	reply_str(r, "OK");
	return 0;
}

static int op_watch(struct store_req *r)
{
	const char *raw = r->argv[0], *token = r->argv[1];
	char ev[STORE_PAYLOAD_MAX];
	size_t pl = strlen(raw) + 1, tl = strlen(token) + 1;
	int rc = watch_add(r->s, r->c, r->path, token, raw[0] != '/' && raw[0] != '@');

	if (rc)
		return rc;
	reply_str(r, "OK");
	memcpy(ev, raw, pl); /* pl + tl <= payload length <= 4096 */
	memcpy(ev + pl, token, tl);
	conn_send(r->c, XS_WATCH_EVENT, 0, 0, ev, (uint32_t)(pl + tl));
	return 0;
}

static int op_unwatch(struct store_req *r)
{
	int rc = watch_del(r->c, r->path, r->argv[1]);

	if (!rc)
		reply_str(r, "OK");
	return rc;
}

static int op_tx_start(struct store_req *r)
{
	char buf[16];
	uint32_t id;
	int rc;

	if (r->hdr.tx_id)
		return -EBUSY; /* no nested transactions */
	rc = tx_start(r->s, r->c, &id);
	if (rc)
		return rc;
	snprintf(buf, sizeof(buf), "%u", id);
	reply_str(r, buf);
	return 0;
}

static int op_tx_end(struct store_req *r)
{
	bool commit = !strcmp(r->argv[0], "T");
	int rc;

	if (!r->tx)
		return -ENOENT;
	if (!commit && strcmp(r->argv[0], "F"))
		return -EINVAL;
	rc = tx_end(r->s, r->c, r->tx, commit);
	r->tx = NULL;
	if (!rc)
		reply_str(r, "OK");
	return rc;
}

static int parse_domid(const char *s, uint32_t *out)
{
	uint64_t v;

	if (parse_uint(s, 0, 0x7fef, &v)) /* DOMID_FIRST_RESERVED - 1 */
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int op_get_domain_path(struct store_req *r)
{
	char buf[40];
	uint32_t id;

	if (parse_domid(r->argv[0], &id))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "/local/domain/%u", id);
	reply_str(r, buf);
	return 0;
}

/* argv[i] as a non-zero domid and that domain's record (created when new).
 * 0, -EINVAL for a bad or zero id, -ENOMEM. */
static int domain_arg(struct store_req *r, int i, uint32_t *id, struct store_dom **d)
{
	if (parse_domid(r->argv[i], id) || *id == 0)
		return -EINVAL;
	*d = store_domain(r->s, *id);
	return *d ? 0 : -ENOMEM;
}

static int op_introduce(struct store_req *r)
{
	struct store_dom *d;
	uint32_t id;
	int rc;

	rc = domain_arg(r, 0, &id, &d);
	if (rc)
		return rc;
	if (!d->introduced) {
		rc = store_domain_listen(r->s, d);
		if (rc)
			return rc;
		d->introduced = true;
		persist_domain(r->s->db, id, true);
		watch_fire(r->s, "@introduceDomain", false, NULL);
	}
	reply_str(r, "OK");
	return 0;
}

static int op_release(struct store_req *r)
{
	struct store_dom *d;
	uint32_t id;

	int rc = domain_arg(r, 0, &id, &d);

	if (rc)
		return rc;
	if (!d->introduced)
		return -ENOENT;
	d->introduced = false;
	store_domain_unlisten(r->s, d);
	store_drop_domain_conns(r->s, id);
	persist_domain(r->s->db, id, false);
	watch_fire(r->s, "@releaseDomain", false, NULL);
	reply_str(r, "OK");
	return 0;
}

static int op_is_introduced(struct store_req *r)
{
	struct store_dom *d;
	uint32_t id;

	if (parse_domid(r->argv[0], &id))
		return -EINVAL;
	d = id ? store_domain(r->s, id) : NULL;
	reply_str(r, id == 0 || (d && d->introduced) ? "T" : "F");
	return 0;
}

/* a device-model domain acting for another: it gets the target's rights */
static int op_set_target(struct store_req *r)
{
	struct store_dom *d;
	uint32_t id, target;

	int rc;

	if (parse_domid(r->argv[1], &target))
		return -EINVAL;
	rc = domain_arg(r, 0, &id, &d);
	if (rc)
		return rc;
	d->target = target;
	d->has_target = true;
	reply_str(r, "OK");
	return 0;
}

/* Xen clears a domain's "shutting down" mark; we only check it exists */
static int op_resume(struct store_req *r)
{
	struct store_dom *d;
	uint32_t id;

	if (parse_domid(r->argv[0], &id))
		return -EINVAL;
	d = id ? store_domain(r->s, id) : NULL;
	if (id && (!d || !d->introduced))
		return -ENOENT;
	reply_str(r, "OK");
	return 0;
}

static int op_reset_watches(struct store_req *r)
{
	watch_free_all(r->c);
	tx_free_all(r->s, r->c);
	r->tx = NULL;
	reply_str(r, "OK");
	return 0;
}

static const struct op ops[XS_TYPE_COUNT] = {
	[XS_CONTROL] = { ctl_dispatch, F_PRIV, 1 },
	[XS_DIRECTORY] = { op_directory, F_PATH, 1 },
	[XS_READ] = { op_read, F_PATH, 1 },
	[XS_GET_PERMS] = { op_get_perms, F_PATH, 1 },
	[XS_WATCH] = { op_watch, F_PATH | F_SPECIAL, 2 },
	[XS_UNWATCH] = { op_unwatch, F_PATH | F_SPECIAL, 2 },
	[XS_TRANSACTION_START] = { op_tx_start, 0, 0 },
	[XS_TRANSACTION_END] = { op_tx_end, 0, 1 },
	[XS_INTRODUCE] = { op_introduce, F_PRIV, 3 },
	[XS_RELEASE] = { op_release, F_PRIV, 1 },
	[XS_GET_DOMAIN_PATH] = { op_get_domain_path, 0, 1 },
	[XS_WRITE] = { op_write, F_PATH | F_TAIL, 1 },
	[XS_MKDIR] = { op_mkdir, F_PATH, 1 },
	[XS_RM] = { op_rm, F_PATH, 1 },
	[XS_SET_PERMS] = { op_set_perms, F_PATH, 2 },
	[XS_IS_DOMAIN_INTRODUCED] = { op_is_introduced, 0, 1 },
	[XS_RESUME] = { op_resume, F_PRIV, 1 },
	[XS_SET_TARGET] = { op_set_target, F_PRIV, 2 },
	[XS_RESET_WATCHES] = { op_reset_watches, 0, 0 },
	[XS_DIRECTORY_PART] = { op_directory_part, F_PATH, 2 },
};

/* split arguments, check flags, find the transaction, canonicalise the path */
static int prepare(struct store_req *r, const struct op *op)
{
	int n;

	if (op->flags & F_TAIL)
		n = store_split(r->payload, r->hdr.len, r->argv, 1, &r->tail, &r->tail_len);
	else
		n = store_split(r->payload, r->hdr.len, r->argv, STORE_MAX_ARGS, NULL, NULL);
	if (n < 0)
		return n == -E2BIG ? -E2BIG : -EINVAL;
	r->argc = n;
	if (n < op->min_args)
		return -EINVAL;
	if ((op->flags & F_PRIV) && !r->c->priv)
		return -EACCES;
	r->view = r->s->view;
	if (r->hdr.tx_id) {
		r->tx = tx_find(r->c, r->hdr.tx_id);
		if (!r->tx)
			return -ENOENT;
		r->view.ovl = &r->tx->ovl;
	}
	if (op->flags & F_PATH) {
		if (store_path_check(r->argv[0], op->flags & F_SPECIAL) ||
		    store_path_canon(r->argv[0], r->c->domid, r->path, sizeof(r->path)) ||
		    store_path_check(r->path, op->flags & F_SPECIAL))
			return -EINVAL;
	}
	return 0;
}

static void snoop_record(struct store_req *r, int rc)
{
	char line[XENSTORE_ABS_PATH_MAX + 160];
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	n = snprintf(line, sizeof(line), "%lld.%06ld %u %u %u %s %s %u %s",
		     (long long)ts.tv_sec, ts.tv_nsec / 1000, r->c->id, r->c->domid,
		     r->hdr.tx_id, store_op_name(r->hdr.type),
		     r->path[0] ? r->path : "-",
		     r->hdr.type == XS_WRITE ? r->tail_len : r->reply_len,
		     rc ? store_err_string(-rc) : "OK");
	if (n < 0)
		return;
	for (struct store_conn *c = r->s->conns; c; c = c->next)
		if (c->snoop && !c->dead && c != r->c)
			conn_send(c, XS_CONTROL, 0, 0, line, (uint32_t)strlen(line) + 1);
}

void store_dispatch(struct store *s, struct store_conn *c,
		    const struct xsd_sockmsg *h, const char *payload)
{
	struct store_req r = { .s = s, .c = c, .hdr = *h, .payload = payload };
	const struct op *op = h->type < XS_TYPE_COUNT ? &ops[h->type] : NULL;
	uint64_t t0 = now_ns();
	int rc;

	if (!op || !op->fn) {
		rc = -ENOSYS;
	} else {
		rc = prepare(&r, op);
		XVM_PROBE(STORE_OP_START, (int)c->id, (int)c->domid,
			  (char *)store_op_name(h->type), r.path, h->tx_id);
		if (!rc)
			rc = op->fn(&r);
	}
	if (rc < 0) {
		const char *e = store_err_string(-rc);

		conn_send(c, XS_ERROR, h->req_id, h->tx_id, e, (uint32_t)strlen(e) + 1);
	}
	XVM_PROBE(STORE_OP_DONE, (int)c->id, (char *)store_op_name(h->type),
		  r.path, h->tx_id, rc, now_ns() - t0);
	if (s->nsnoop)
		snoop_record(&r, rc);
	s->ops++;
}
