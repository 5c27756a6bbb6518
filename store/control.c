/* control.c - XS_CONTROL commands: help, stats, quota, check, print, snoop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/daemon.h"
#include "xvm/log.h"
#include "xvm/util.h"

static void reply_text(struct store_req *r, const char *s)
{
	conn_send(r->c, r->hdr.type, r->hdr.req_id, r->hdr.tx_id, s, (uint32_t)strlen(s) + 1);
	r->reply_len = (uint32_t)strlen(s) + 1;
}

static const char *const quota_names[] = {
	"nodes", "node-size", "watches", "transactions", "outstanding",
};

/* the limit named quota_names[i] */
static uint32_t *quota_ptr(struct store *s, size_t i)
{
	uint32_t *const p[] = { &s->quota.nodes, &s->quota.node_size, &s->quota.watches,
				&s->quota.txs, &s->quota.outstanding };

	return p[i];
}

/* "quota" lists the limits; "quota NAME VALUE" changes one */
static int ctl_quota(struct store_req *r)
{
	char buf[512];
	size_t off = 0;
	uint64_t v;

	if (r->argc == 3) {
		for (size_t i = 0; i < ARRAY_SIZE(quota_names); i++) {
			if (strcmp(quota_names[i], r->argv[1]))
				continue;
			if (parse_uint(r->argv[2], 1, UINT32_MAX, &v))
				return -EINVAL;
			*quota_ptr(r->s, i) = (uint32_t)v;
			reply_text(r, "OK");
			return 0;
		}
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(quota_names); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s %u\n",
					quota_names[i], *quota_ptr(r->s, i));
	reply_text(r, buf);
	return 0;
}

static int ctl_stats(struct store_req *r)
{
	uint32_t conns = 0, watches = 0, txs = 0;
	char buf[2048];
	size_t off;

	for (struct store_conn *c = r->s->conns; c; c = c->next) {
		conns++;
		watches += c->nwatches;
		txs += c->ntxs;
	}
	off = (size_t)snprintf(buf, sizeof(buf),
		 "nodes %llu\nconnections %u\nwatches %u\ntransactions %u\n"
		 "generation %llu\nrequests %llu\n",
		 (unsigned long long)r->s->base.count, conns, watches, txs,
		 (unsigned long long)r->s->gen, (unsigned long long)r->s->ops);
	for (struct store_dom *d = r->s->doms; d && off < sizeof(buf) - 64; d = d->next)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"domain %u nodes %u watches %u transactions %u%s\n",
					d->id, d->nodes, d->watches, d->txs,
					d->introduced ? " introduced" : "");
	reply_text(r, buf);
	return 0;
}

/* walk the tree from n: every child name has its record; count them */
static int check_walk(struct store *s, const struct snode *n, uint64_t *count)
{
	char path[XENSTORE_ABS_PATH_MAX + 64];

	(*count)++;
	for (uint32_t i = 0; i < n->nkids; i++) {
		const struct snode *k;

		snprintf(path, sizeof(path), "%s%s%s", n->path,
			 strcmp(n->path, "/") ? "/" : "", n->kids[i]);
		k = smap_find(&s->base, path);
		if (!k || check_walk(s, k, count))
			return -1;
	}
	return 0;
}

static int ctl_check(struct store_req *r)
{
	uint64_t count = 0;
	const struct snode *root = smap_find(&r->s->base, "/");

	if (!root || check_walk(r->s, root, &count) || count != r->s->base.count) {
		reply_text(r, "inconsistent");
		return 0;
	}
	reply_text(r, "OK");
	return 0;
}

int ctl_dispatch(struct store_req *r)
{
	const char *cmd = r->argv[0];

	if (!strcmp(cmd, "help")) {
		reply_text(r, "help\nstats\nquota [NAME VALUE]\ncheck\nprint TEXT\nsnoop\n");
		return 0;
	}
	if (!strcmp(cmd, "stats"))
		return ctl_stats(r);
	if (!strcmp(cmd, "quota") && (r->argc == 1 || r->argc == 3))
		return ctl_quota(r);
	if (!strcmp(cmd, "check"))
		return ctl_check(r);
	if (!strcmp(cmd, "print") && r->argc >= 2) {
		log_info("xvmstored: connection %u: %s", r->c->id, r->argv[1]);
		reply_text(r, "OK");
		return 0;
	}
	if (!strcmp(cmd, "snoop")) {
		if (!r->c->snoop)
			r->s->nsnoop++;
		r->c->snoop = true;
		reply_text(r, "OK");
		return 0;
	}
	return -EINVAL;
}
