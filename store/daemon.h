/* daemon.h - xvmstored's internal state shared by its files (not a public API).
 *
 * One process, one thread, one epoll loop (server.c). Every request is
 * dispatched through the table in ops.c; changes to the committed tree are
 * written into an open SQLite transaction (persist.c) that is committed once
 * per loop iteration, and replies and watch events are sent only after that
 * commit (group commit: nothing is acknowledged before it is durable). */
#ifndef XVM_STORE_DAEMON_H
#define XVM_STORE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "store/tree.h"
#include "xvm/store_proto.h"

struct persist;
struct store_conn;

struct store_watch {
	struct store_watch *next;
	char *path;       /* canonical (absolute or "@special") */
	char *token;
	bool relative;    /* report event paths relative to the domain */
};

struct store_tx {
	struct store_tx *next;
	uint32_t id;
	struct smap ovl;
	int nodes_added;  /* nodes created minus own nodes removed (quota) */
};

/* per-domain limits for unprivileged connections (Xen's quota names) */
struct store_quota {
	uint32_t nodes;        /* nodes a domain may own: ENOSPC */
	uint32_t node_size;    /* bytes of one value: ENOSPC */
	uint32_t watches;      /* watches per domain: E2BIG */
	uint32_t txs;          /* open transactions per domain: ENOSPC */
	uint32_t outstanding;  /* requests handled per connection per loop turn */
};

enum { STORE_EP_CONN = 1, STORE_EP_DOM, STORE_EP_LISTEN, STORE_EP_SIGNAL };

struct store_dom {
	int kind;              /* STORE_EP_DOM: epoll tag, first member */
	struct store_dom *next;
	uint32_t id;
	uint32_t nodes;        /* nodes owned (perms[0].dom) */
	uint32_t watches;      /* held by its connections */
	uint32_t txs;          /* open on its connections */
	uint32_t target;       /* SET_TARGET: also acts as this domain */
	bool has_target;
	bool introduced;
	int listen_fd;         /* its socket, -1 when none */
	char *sock_path;
};

struct store_conn {
	int kind;              /* STORE_EP_CONN: epoll tag, first member */
	struct store_conn *next;
	int fd;
	uint32_t id;
	uint32_t domid;
	struct store_dom *dom; /* NULL when privileged (no quotas) */
	bool priv;             /* bypasses permissions and quotas */
	bool snoop;            /* receives a record of every operation */
	bool more;             /* complete requests left in the input buffer */
	bool dead;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	bool want_out;         /* registered for EPOLLOUT */
	struct store_watch *watches;
	uint32_t nwatches;
	struct store_tx *txs;
	uint32_t ntxs;
};

struct store {
	struct smap base;
	uint64_t gen;
	struct tree_hooks hooks;
	struct sview view;          /* the committed tree */
	struct persist *db;
	struct store_quota quota;
	struct store_conn *conns;
	uint32_t next_conn_id;
	uint32_t next_tx_id;
	uint32_t nsnoop;
	struct store_dom *doms;
	int listen_kind;            /* STORE_EP_LISTEN, tags listen_fd */
	int sig_kind;               /* STORE_EP_SIGNAL, tags sig_fd */
	int epfd;
	int listen_fd;
	int sig_fd;
	char *sock_path;
	bool stop;
	uint64_t ops;               /* requests handled */
};

/* One request being handled (ops.c). */
struct store_req {
	struct store *s;
	struct store_conn *c;
	struct xsd_sockmsg hdr;
	const char *payload;
	struct store_tx *tx;
	struct sview view;          /* the tree as this request sees it */
	int argc;
	const char *argv[STORE_MAX_ARGS];
	const char *tail;           /* WRITE's value */
	uint32_t tail_len;
	char path[XENSTORE_ABS_PATH_MAX + 64]; /* canonical argv[0] */
	uint32_t reply_len;         /* for snoop */
};

/* ops.c: handle one complete message (h->len <= 4096 bytes of payload):
 * the reply, or an XS_ERROR carrying the errno's name, is queued on c. */
void store_dispatch(struct store *s, struct store_conn *c,
		    const struct xsd_sockmsg *h, const char *payload);

/* server.c: queue a message on a connection (sent after the loop turn's
 * commit). 0; -EPIPE when c is already dead; -ENOMEM or -ENOBUFS (more
 * than 16 MiB unread) mark it dead, with the reason logged. */
int conn_send(struct store_conn *c, uint32_t type, uint32_t req_id,
	      uint32_t tx_id, const void *data, uint32_t len);
/* server.c: the domain record for id, created on demand (NULL: ENOMEM). */
struct store_dom *store_domain(struct store *s, uint32_t id);
/* server.c: open/close a domain's socket (introduce/release). 0 or -errno. */
int store_domain_listen(struct store *s, struct store_dom *d);
void store_domain_unlisten(struct store *s, struct store_dom *d);
/* server.c: drop every connection bound to domain id. */
void store_drop_domain_conns(struct store *s, uint32_t id);

/* control.c: XS_CONTROL (privileged): help, stats, quota, check, print,
 * snoop. Queues the reply; returns 0 or -EINVAL for an unknown command. */
int ctl_dispatch(struct store_req *r);

/* ops.c: the access (STORE_PERM_* bits) connection c has on node n:
 * everything when privileged, else its domain's (or its target's) rights. */
uint32_t conn_access(struct store *s, const struct store_conn *c, const struct snode *n);

/* watch.c */
/* Fire watches for a change at path (canonical). exact: only watches on
 * exactly path (descendants of a removed node). n: the node, for the read
 * permission check (NULL: removed, no check). */
void watch_fire(struct store *s, const char *path, bool exact, const struct snode *n);
/* Add/remove a watch for c. 0, -EEXIST, -ENOENT, -E2BIG or -ENOMEM. */
int watch_add(struct store *s, struct store_conn *c, const char *path,
	      const char *token, bool relative);
int watch_del(struct store_conn *c, const char *path, const char *token);
void watch_free_all(struct store_conn *c);

/* tx.c */
int tx_start(struct store *s, struct store_conn *c, uint32_t *id);
struct store_tx *tx_find(struct store_conn *c, uint32_t id);
/* commit (when commit) or abort transaction t of c; frees it. 0 or
 * -EAGAIN (conflict: aborted) or -ENOMEM. */
int tx_end(struct store *s, struct store_conn *c, struct store_tx *t, bool commit);
void tx_free_all(struct store *s, struct store_conn *c);

/* persist.c */
/* Open (creating) the database at path. Errors are logged as one line and
 * returned (-EIO for a corrupt or foreign file, never a silent reset). */
int persist_open(const char *path, struct persist **out);
void persist_close(struct persist *p);
/* Load every node into s's base tree and the introduced domains. 0 or
 * -EIO (corrupt; logged). */
int persist_load(struct persist *p, struct store *s);
/* Record changes inside the current batch (opened on demand). With p NULL
 * (a store without a data file) these do nothing and commit returns 0. */
void persist_store(struct persist *p, const struct snode *n);
void persist_remove(struct persist *p, const char *path);
void persist_domain(struct persist *p, uint32_t id, bool present);
/* Commit the batch (fsync). 0 or -EIO: the daemon must stop without
 * acknowledging anything from this batch. */
int persist_commit(struct persist *p);

/* server.c: a connection without a socket (unit tests, fuzzing): feed it
 * bytes with store_feed(); its replies accumulate in c->out. NULL: ENOMEM. */
struct store_conn *store_conn_detached(struct store *s, bool priv, uint32_t domid);
/* Append bytes to c's input and handle every complete message. Returns 0,
 * -ENOMEM, or -EPROTO when the input made the daemon drop the connection. */
int store_feed(struct store *s, struct store_conn *c, const void *buf, size_t len);

/* server.c entry points used by xvmstored.c. store_init with db_path NULL
 * keeps the tree in memory only (tests, fuzzing). 0 or -errno (logged). */
int store_init(struct store *s, const char *db_path);
int store_listen(struct store *s, const char *sock_path);
int store_run(struct store *s);
void store_fini(struct store *s);

#endif
