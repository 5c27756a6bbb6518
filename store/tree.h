/* tree.h - the store's node map and the "view" every operation works through.
 *
 * Nodes are records keyed by their full path (a tsearch tree), each holding
 * its value, its permissions and the sorted names of its children. A view is
 * either the committed tree (base) or a transaction: a transaction's view
 * copies each node it touches from the base into its overlay, remembering
 * the base generation it saw, so reads see the transaction's own writes and
 * commit can tell whether anything it touched changed meanwhile (see tx.c). */
#ifndef XVM_STORE_TREE_H
#define XVM_STORE_TREE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/perms.h"

struct snode {
	char *path;
	char *value;
	uint32_t vlen;
	uint32_t nperms;
	struct store_perm *perms;  /* [0] = owner and default access */
	char **kids;               /* sorted child names */
	uint32_t nkids, kcap;
	uint64_t gen;   /* base: last change; overlay: base gen seen (0 = absent) */
	bool deleted;   /* overlay only: the node does not exist in this view */
	bool dirty;     /* overlay only: changed by the transaction */
	bool fire;      /* overlay only: fire watches for it at commit */
	bool top_rm;    /* overlay only: removed as the top of an rm */
	struct snode *next; /* overlay only: every record, for commit */
};

struct smap {
	void *root;
	uint64_t count;
	struct snode *list; /* overlay records (NULL for the base map) */
};

/* Called for every base change: persistence and quota accounting. */
struct tree_hooks {
	void *ctx;
	void (*stored)(void *ctx, const struct snode *n);  /* created/changed */
	void (*removed)(void *ctx, const char *path);
	void (*acct)(void *ctx, uint32_t dom, int delta);   /* owner counts */
};

struct sview {
	struct smap *base;
	struct smap *ovl;          /* NULL: operate on the base directly */
	uint64_t *gen;             /* the store's generation counter */
	const struct tree_hooks *hooks;
};

/* Look a node up in the map only (no copying). NULL if absent. */
struct snode *smap_find(struct smap *m, const char *path);

/* Create the root node "/" (owner 0, no access for others) in an empty
 * base map. Returns 0 or -ENOMEM. */
int tree_init_root(struct sview *v);

/* Loading state: the chain of ancestors of the last node loaded, so that
 * rows arriving in path order find their parent without a lookup. */
struct tree_loader {
	struct snode **stack;
	uint32_t depth, cap;
};

/* Insert a node while loading from disk: the parent must exist. Returns 0,
 * -ENOENT (no parent), -EEXIST or -ENOMEM. Fires no hooks but acct. */
int tree_load_node(struct sview *v, struct tree_loader *ld, const char *path,
		   const char *value, uint32_t vlen, const struct store_perm *perms,
		   uint32_t nperms);

/* The node at path as this view sees it, or NULL when absent (a
 * transaction view records the observation). */
struct snode *sv_get(struct sview *v, const char *path);

/* The deepest existing node at or above path (never NULL: "/" exists). */
struct snode *sv_nearest(struct sview *v, const char *path);

/* Create path and any missing parents, each inheriting its parent's
 * permissions with owner set to dom when owner_override. Returns the node
 * through out. 0 or -ENOMEM. */
int sv_create(struct sview *v, const char *path, bool owner_override,
	      uint32_t dom, struct snode **out);

/* Replace a node's value / permissions. 0 or -ENOMEM. */
int sv_set_value(struct sview *v, struct snode *n, const char *val, uint32_t len);
int sv_set_perms(struct sview *v, struct snode *n, const struct store_perm *p,
		 uint32_t np);

/* Remove n and everything below it; report each node through cb (may be
 * NULL) just before it goes, the top one with top = true. 0 or -ENOMEM. */
int sv_remove(struct sview *v, struct snode *n,
	      void (*cb)(void *arg, const struct snode *n, bool top), void *arg);

/* Free every record of an overlay. */
void smap_free_overlay(struct smap *m);
/* Free every record of the base map. */
void smap_free_base(struct smap *m);

/* Apply a transaction overlay to the base (after validation). Returns 0 or
 * -ENOMEM (the base may then be partially updated). */
int tree_apply_overlay(struct sview *base, struct smap *ovl);

/* 0 when every record of ovl still matches the base generation it saw,
 * -EAGAIN otherwise. */
int tree_validate_overlay(struct smap *base, struct smap *ovl);

/* Number of path components ("/" is 0, "/a/b" is 2). */
int path_depth(const char *path);

#endif
