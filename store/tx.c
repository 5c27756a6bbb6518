/* tx.c - xenstore transactions: optimistic, validated at commit.
 *
 * Design note. A transaction never locks anything. Its view (tree.h) copies
 * every node it touches into a private overlay together with the base
 * generation it saw there (0 when the node did not exist). Reads inside the
 * transaction see its own writes; nobody else sees them. TRANSACTION_END
 * with "T" validates: if any touched node's generation changed in the base
 * (written, removed, created, or its children changed), the transaction is
 * discarded and the client gets EAGAIN, as with Xen, and retries. Otherwise
 * the dirty records replace their base counterparts in one step of the
 * event loop, which makes the commit atomic for every other client, and
 * they become durable in the same group commit as the reply. Watches fire
 * for the nodes the transaction named (not for parents it created). */
#include <stdlib.h>
#include <string.h>

#include "store/daemon.h"
#include "xvm/trace.h"

int tx_start(struct store *s, struct store_conn *c, uint32_t *id)
{
	struct store_tx *t;

	if (c->dom && c->dom->txs >= s->quota.txs)
		return -ENOSPC;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	do
		t->id = ++s->next_tx_id;
	while (t->id == 0);
	t->next = c->txs;
	c->txs = t;
	c->ntxs++;
	if (c->dom)
		c->dom->txs++;
	*id = t->id;
	return 0;
}

struct store_tx *tx_find(struct store_conn *c, uint32_t id)
{
	for (struct store_tx *t = c->txs; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

static void tx_unlink(struct store_conn *c, struct store_tx *t)
{
	for (struct store_tx **pt = &c->txs; *pt; pt = &(*pt)->next) {
		if (*pt == t) {
			*pt = t->next;
			c->ntxs--;
			if (c->dom)
				c->dom->txs--;
			break;
		}
	}
	smap_free_overlay(&t->ovl);
	free(t);
}

static void fire_overlay(struct store *s, struct smap *ovl)
{
	for (struct snode *o = ovl->list; o; o = o->next) {
		if (!o->fire)
			continue;
		if (o->deleted)
			watch_fire(s, o->path, !o->top_rm, o);
		else
			watch_fire(s, o->path, false, smap_find(&s->base, o->path));
	}
}

int tx_end(struct store *s, struct store_conn *c, struct store_tx *t, bool commit)
{
	int rc = 0;

	if (!commit) {
		XVM_PROBE(STORE_TX_ABORT, (int)c->id, t->id, 0);
		tx_unlink(c, t);
		return 0;
	}
	rc = tree_validate_overlay(&s->base, &t->ovl);
	if (!rc)
		rc = tree_apply_overlay(&s->view, &t->ovl);
	if (rc) {
		XVM_PROBE(STORE_TX_ABORT, (int)c->id, t->id, rc);
	} else {
		XVM_PROBE(STORE_TX_COMMIT, (int)c->id, t->id);
		fire_overlay(s, &t->ovl);
	}
	tx_unlink(c, t);
	return rc;
}

void tx_free_all(struct store *s, struct store_conn *c)
{
	(void)s;
	while (c->txs) {
		XVM_PROBE(STORE_TX_ABORT, (int)c->id, c->txs->id, -ECONNRESET);
		tx_unlink(c, c->txs);
	}
}
