/* tree.c - the store's node map (path-keyed records) and the base/transaction views. */
#include "store/tree.h"

#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct snode *)a)->path, ((const struct snode *)b)->path);
}

struct snode *smap_find(struct smap *m, const char *path)
{
	struct snode key = { .path = (char *)path };
	void **r = tfind(&key, &m->root, cmp_node);

	return r ? *r : NULL;
}

static int smap_insert(struct smap *m, struct snode *n)
{
	void **r = tsearch(n, &m->root, cmp_node);

	if (!r)
		return -ENOMEM;
	if (*r != n)
		return -EEXIST;
	m->count++;
	return 0;
}

static void node_free(struct snode *n)
{
	if (!n)
		return;
	for (uint32_t i = 0; i < n->nkids; i++)
		free(n->kids[i]);
	free(n->kids);
	free(n->value);
	free(n->perms);
	free(n->path);
	free(n);
}

static void smap_delete(struct smap *m, struct snode *n)
{
	if (tdelete(n, &m->root, cmp_node))
		m->count--;
}

int path_depth(const char *path)
{
	int d = 0;

	if (!strcmp(path, "/"))
		return 0;
	for (const char *p = path; *p; p++)
		d += *p == '/';
	return d;
}

/* parent path of path into a malloc'd string ("/a" -> "/"); NULL for "/" */
static char *parent_path(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash || !strcmp(path, "/"))
		return NULL;
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static const char *base_name(const char *path)
{
	return strrchr(path, '/') + 1;
}

/* binary search for name in n's kids: index found (or insertion point) */
static bool kid_find(const struct snode *n, const char *name, uint32_t *idx)
{
	uint32_t lo = 0, hi = n->nkids;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(n->kids[mid], name);

		if (c == 0) {
			*idx = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*idx = lo;
	return false;
}

static int kid_add(struct snode *n, const char *name)
{
	uint32_t idx;
	char *dup;

	if (n->nkids && strcmp(n->kids[n->nkids - 1], name) < 0)
		idx = n->nkids; /* appending in order: the load path */
	else if (kid_find(n, name, &idx))
		return 0;
	if (n->nkids == n->kcap) {
		uint32_t cap = n->kcap ? n->kcap * 2 : 4;
		char **k = realloc(n->kids, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		n->kids = k;
		n->kcap = cap;
	}
	dup = strdup(name);
	if (!dup)
		return -ENOMEM;
	memmove(&n->kids[idx + 1], &n->kids[idx], (n->nkids - idx) * sizeof(char *));
	n->kids[idx] = dup;
	n->nkids++;
	return 0;
}

static void kid_del(struct snode *n, const char *name)
{
	uint32_t idx;

	if (!kid_find(n, name, &idx))
		return;
	free(n->kids[idx]);
	memmove(&n->kids[idx], &n->kids[idx + 1], (n->nkids - idx - 1) * sizeof(char *));
	n->nkids--;
}

static struct snode *node_new(const char *path)
{
	struct snode *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->path = strdup(path);
	n->value = strdup("");
	if (!n->path || !n->value) {
		node_free(n);
		return NULL;
	}
	return n;
}

static int copy_perms(struct snode *n, const struct store_perm *p, uint32_t np)
{
	struct store_perm *c = malloc((np ? np : 1) * sizeof(*c));

	if (!c)
		return -ENOMEM;
	memcpy(c, p, np * sizeof(*c));
	free(n->perms);
	n->perms = c;
	n->nperms = np;
	return 0;
}

static struct snode *node_copy(const struct snode *b)
{
	struct snode *n = node_new(b->path);

	if (!n)
		return NULL;
	free(n->value);
	n->value = malloc(b->vlen + 1);
	n->kids = calloc(b->nkids ? b->nkids : 1, sizeof(char *));
	if (!n->value || !n->kids || copy_perms(n, b->perms, b->nperms))
		goto fail;
	memcpy(n->value, b->value, b->vlen);
	n->value[b->vlen] = '\0';
	n->vlen = b->vlen;
	n->kcap = b->nkids ? b->nkids : 1;
	for (; n->nkids < b->nkids; n->nkids++)
		if (!(n->kids[n->nkids] = strdup(b->kids[n->nkids])))
			goto fail;
	n->gen = b->gen;
	return n;
fail:
	node_free(n);
	return NULL;
}

static void acct(struct sview *v, const struct snode *n, int delta)
{
	if (v->hooks && v->hooks->acct && n->nperms)
		v->hooks->acct(v->hooks->ctx, n->perms[0].dom, delta);
}

static void changed(struct sview *v, struct snode *n, bool persist)
{
	if (v->ovl) {
		n->dirty = true;
		return;
	}
	n->gen = ++*v->gen;
	if (persist && v->hooks && v->hooks->stored)
		v->hooks->stored(v->hooks->ctx, n);
}

/* Put a new node into the committed map with the next generation and
 * charge it to its owner; frees n when the insert fails. 0 or -errno. */
static int insert_new(struct sview *v, struct snode *n)
{
	int rc = smap_insert(v->base, n);

	if (rc) {
		node_free(n);
		return rc;
	}
	n->gen = ++*v->gen;
	acct(v, n, 1);
	return 0;
}

int tree_init_root(struct sview *v)
{
	static const struct store_perm none = { 0, 0 };
	struct snode *n = node_new("/");

	if (!n || copy_perms(n, &none, 1)) {
		node_free(n);
		return -ENOMEM;
	}
	return insert_new(v, n);
}

static int set_value(struct snode *n, const char *val, uint32_t len)
{
	char *c = malloc((size_t)len + 1);

	if (!c)
		return -ENOMEM;
	memcpy(c, val, len);
	c[len] = '\0';
	free(n->value);
	n->value = c;
	n->vlen = len;
	return 0;
}

/* the parent of path from the loader's ancestor chain, or by lookup */
static struct snode *load_parent(struct sview *v, struct tree_loader *ld, const char *path)
{
	size_t plen = (size_t)(strrchr(path, '/') - path);
	struct snode *top;
	char *pp;

	while (ld->depth) {
		size_t tl;

		top = ld->stack[ld->depth - 1];
		tl = strcmp(top->path, "/") ? strlen(top->path) : 0;
		if (!strncmp(path, top->path, tl) && path[tl] == '/') {
			if (tl == plen)
				return top;
			break;
		}
		ld->depth--;
	}
	pp = plen ? strndup(path, plen) : strdup("/");
	top = pp ? smap_find(v->base, pp) : NULL;
	free(pp);
	return top;
}

static int load_push(struct tree_loader *ld, struct snode *n)
{
	if (ld->depth == ld->cap) {
		uint32_t cap = ld->cap ? ld->cap * 2 : 16;
		struct snode **st = realloc(ld->stack, cap * sizeof(*st));

		if (!st)
			return -ENOMEM;
		ld->stack = st;
		ld->cap = cap;
	}
	ld->stack[ld->depth++] = n;
	return 0;
}

int tree_load_node(struct sview *v, struct tree_loader *ld, const char *path,
		   const char *value, uint32_t vlen, const struct store_perm *perms,
		   uint32_t nperms)
{
	struct snode *parent, *n;
	int rc;

	if (!strcmp(path, "/")) {
		n = smap_find(v->base, "/");
		acct(v, n, -1);
		rc = set_value(n, value, vlen) ?: copy_perms(n, perms, nperms);
		acct(v, n, 1);
		return rc;
	}
	parent = load_parent(v, ld, path);
	if (!parent)
		return -ENOENT;
	n = node_new(path);
	if (!n || set_value(n, value, vlen) || copy_perms(n, perms, nperms)) {
		node_free(n);
		return -ENOMEM;
	}
	rc = insert_new(v, n);
	if (rc)
		return rc;
	rc = kid_add(parent, base_name(path));
	if (!rc && ld->depth && ld->stack[ld->depth - 1] != parent)
		ld->depth = 0; /* found by lookup: restart the chain here */
	if (!rc && !ld->depth)
		rc = load_push(ld, parent);
	return rc ?: load_push(ld, n);
}

/* a transaction's record for path, copied from the base on first touch */
static struct snode *ovl_record(struct sview *v, const char *path)
{
	struct snode *o = smap_find(v->ovl, path), *b, *p = NULL;
	char *pp;

	if (o)
		return o;
	b = smap_find(v->base, path);
	pp = parent_path(path);
	if (pp) {
		p = smap_find(v->ovl, pp);
		free(pp);
	}
	o = b ? node_copy(b) : node_new(path);
	if (!o)
		return NULL;
	o->gen = b ? b->gen : 0;
	/* the parent as this transaction sees it decides whether we exist */
	if (!b || (p && (p->deleted || !kid_find(p, base_name(path), &(uint32_t){ 0 }))))
		o->deleted = true;
	if (smap_insert(v->ovl, o)) {
		node_free(o);
		return NULL;
	}
	o->next = v->ovl->list;
	v->ovl->list = o;
	return o;
}

struct snode *sv_get(struct sview *v, const char *path)
{
	struct snode *o;

	if (!v->ovl)
		return smap_find(v->base, path);
	o = ovl_record(v, path);
	return o && !o->deleted ? o : NULL;
}

struct snode *sv_nearest(struct sview *v, const char *path)
{
	char *p = strdup(path);

	while (p) {
		struct snode *n = sv_get(v, p);
		char *up;

		if (n || !strcmp(p, "/")) {
			free(p);
			return n;
		}
		up = parent_path(p);
		free(p);
		p = up;
	}
	return NULL;
}

int sv_create(struct sview *v, const char *path, bool owner_override,
	      uint32_t dom, struct snode **out)
{
	struct snode *parent, *n;
	char *pp;
	int rc;

	n = sv_get(v, path);
	if (n) {
		*out = n;
		return 0;
	}
	pp = parent_path(path);
	if (!pp)
		return -EINVAL;
	rc = sv_create(v, pp, owner_override, dom, &parent);
	free(pp);
	if (rc)
		return rc;
	if (v->ovl) {
		n = ovl_record(v, path);
		if (!n)
			return -ENOMEM;
		n->deleted = false;
		for (uint32_t i = 0; i < n->nkids; i++)
			free(n->kids[i]);
		n->nkids = 0; /* re-created: the old children stay gone */
		if (set_value(n, "", 0))
			return -ENOMEM;
	} else {
		n = node_new(path);
		if (!n)
			return -ENOMEM;
	}
	if (copy_perms(n, parent->perms, parent->nperms) || kid_add(parent, base_name(path))) {
		if (!v->ovl)
			node_free(n);
		return -ENOMEM;
	}
	if (owner_override)
		n->perms[0].dom = dom;
	if (!v->ovl) {
		rc = smap_insert(v->base, n);
		if (rc) {
			node_free(n);
			return rc;
		}
		acct(v, n, 1);
	}
	changed(v, parent, false);
	changed(v, n, true);
	*out = n;
	return 0;
}

int sv_set_value(struct sview *v, struct snode *n, const char *val, uint32_t len)
{
	int rc = set_value(n, val, len);

	if (!rc)
		changed(v, n, true);
	return rc;
}

int sv_set_perms(struct sview *v, struct snode *n, const struct store_perm *p,
		 uint32_t np)
{
	int rc;

	if (!v->ovl)
		acct(v, n, -1);
	rc = copy_perms(n, p, np);
	if (!v->ovl)
		acct(v, n, 1);
	if (!rc)
		changed(v, n, true);
	return rc;
}

static int remove_rec(struct sview *v, struct snode *n, bool top,
		      void (*cb)(void *, const struct snode *, bool), void *arg)
{
	struct snode *parent;
	char *pp;
	int rc;

	while (n->nkids) {
		const char *kid = n->kids[n->nkids - 1];
		size_t len = strlen(n->path) + strlen(kid) + 2;
		char *kp = malloc(len);
		struct snode *k;

		if (!kp)
			return -ENOMEM;
		snprintf(kp, len, "%s%s%s", n->path, strcmp(n->path, "/") ? "/" : "", kid);
		k = sv_get(v, kp);
		free(kp);
		if (k) {
			rc = remove_rec(v, k, false, cb, arg);
			if (rc)
				return rc;
		} else {
			kid_del(n, kid); /* a name without a record: drop it */
		}
	}
	pp = parent_path(n->path);
	parent = pp ? sv_get(v, pp) : NULL;
	free(pp);
	if (parent) {
		kid_del(parent, base_name(n->path));
		changed(v, parent, false);
	}
	if (cb)
		cb(arg, n, top);
	if (v->ovl) {
		/* perms stay: commit checks the watchers' read access with them */
		n->deleted = n->dirty = n->fire = true;
		n->top_rm = top;
		return 0;
	}
	acct(v, n, -1);
	if (v->hooks && v->hooks->removed)
		v->hooks->removed(v->hooks->ctx, n->path);
	smap_delete(v->base, n);
	node_free(n);
	return 0;
}

int sv_remove(struct sview *v, struct snode *n,
	      void (*cb)(void *arg, const struct snode *n, bool top), void *arg)
{
	return remove_rec(v, n, true, cb, arg);
}

int tree_validate_overlay(struct smap *base, struct smap *ovl)
{
	for (struct snode *o = ovl->list; o; o = o->next) {
		struct snode *b = smap_find(base, o->path);

		if ((b ? b->gen : 0) != o->gen)
			return -EAGAIN;
	}
	return 0;
}

#define SWAP(a, b) do { __typeof__(a) t_ = (a); (a) = (b); (b) = t_; } while (0)

int tree_apply_overlay(struct sview *v, struct smap *ovl)
{
	for (struct snode *o = ovl->list; o; o = o->next) {
		struct snode *b = smap_find(v->base, o->path);

		if (!o->dirty)
			continue;
		if (o->deleted) {
			if (b) {
				acct(v, b, -1);
				if (v->hooks && v->hooks->removed)
					v->hooks->removed(v->hooks->ctx, b->path);
				smap_delete(v->base, b);
				node_free(b);
			}
			continue;
		}
		if (!b) {
			b = node_new(o->path);
			if (!b || smap_insert(v->base, b)) {
				node_free(b);
				return -ENOMEM;
			}
		} else {
			acct(v, b, -1);
		}
		SWAP(b->value, o->value);
		SWAP(b->vlen, o->vlen);
		SWAP(b->perms, o->perms);
		SWAP(b->nperms, o->nperms);
		SWAP(b->kids, o->kids);
		SWAP(b->nkids, o->nkids);
		SWAP(b->kcap, o->kcap);
		acct(v, b, 1);
		changed(v, b, true);
	}
	return 0;
}

void smap_free_overlay(struct smap *m)
{
	tdestroy(m->root, (void (*)(void *))node_free);
	m->root = NULL;
	m->list = NULL;
	m->count = 0;
}

void smap_free_base(struct smap *m)
{
	smap_free_overlay(m);
}
