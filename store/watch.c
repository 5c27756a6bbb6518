/* watch.c - xenstore watches: registration, matching and event delivery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/daemon.h"
#include "xvm/trace.h"

int watch_add(struct store *s, struct store_conn *c, const char *path,
	      const char *token, bool relative)
{
	struct store_watch *w;

	for (w = c->watches; w; w = w->next)
		if (!strcmp(w->path, path) && !strcmp(w->token, token))
			return -EEXIST;
	if (c->dom && c->dom->watches >= s->quota.watches)
		return -E2BIG;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->token = strdup(token);
	if (!w->path || !w->token) {
		free(w->path);
		free(w->token);
		free(w);
		return -ENOMEM;
	}
	w->relative = relative;
	w->next = c->watches;
	c->watches = w;
	c->nwatches++;
	if (c->dom)
		c->dom->watches++;
	return 0;
}

int watch_del(struct store_conn *c, const char *path, const char *token)
{
	for (struct store_watch **pw = &c->watches; *pw; pw = &(*pw)->next) {
		struct store_watch *w = *pw;

		if (strcmp(w->path, path) || strcmp(w->token, token))
			continue;
		*pw = w->next;
		free(w->path);
		free(w->token);
		free(w);
		c->nwatches--;
		if (c->dom)
			c->dom->watches--;
		return 0;
	}
	return -ENOENT;
}

void watch_free_all(struct store_conn *c)
{
	while (c->watches)
		watch_del(c, c->watches->path, c->watches->token);
}

/* does a change at path concern a watch on wpath? */
static bool watch_matches(const char *wpath, const char *path, bool exact)
{
	size_t wl;

	if (wpath[0] == '@' || path[0] == '@' || exact)
		return !strcmp(wpath, path);
	if (!strcmp(wpath, "/"))
		return true;
	wl = strlen(wpath);
	return !strncmp(wpath, path, wl) && (path[wl] == '\0' || path[wl] == '/');
}

/* the path as the watcher sees it: relative to its domain when it asked so */
static const char *event_path(const struct store_conn *c, const struct store_watch *w,
			      const char *path, char *buf, size_t size)
{
	int n;

	if (!w->relative || path[0] != '/')
		return path;
	n = snprintf(buf, size, "/local/domain/%u/", c->domid);
	if (n > 0 && (size_t)n < size && !strncmp(path, buf, (size_t)n))
		return path + n;
	return path;
}

static void deliver(struct store_conn *c, const struct store_watch *w, const char *path)
{
	char rel[64];
	const char *p = event_path(c, w, path, rel, sizeof(rel));
	size_t pl = strlen(p) + 1, tl = strlen(w->token) + 1;
	char buf[XENSTORE_ABS_PATH_MAX + 64 + STORE_PAYLOAD_MAX];

	if (pl + tl > STORE_PAYLOAD_MAX)
		return; /* the token was checked at WATCH time; path can't be this long */
	memcpy(buf, p, pl);
	memcpy(buf + pl, w->token, tl);
	conn_send(c, XS_WATCH_EVENT, 0, 0, buf, (uint32_t)(pl + tl));
	XVM_PROBE(STORE_WATCH_FIRE, (int)c->id, (char *)p, w->token);
}

void watch_fire(struct store *s, const char *path, bool exact, const struct snode *n)
{
	for (struct store_conn *c = s->conns; c; c = c->next) {
		if (c->dead || !c->watches)
			continue;
		if (n && !(conn_access(s, c, n) & STORE_PERM_READ))
			continue;
		for (struct store_watch *w = c->watches; w; w = w->next)
			if (watch_matches(w->path, path, exact))
				deliver(c, w, path);
	}
}
