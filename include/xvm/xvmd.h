/* xvmd.h - the toolstack daemon's shared state (docs/design/toolstack.md).
 *
 * One thread: an epoll loop over the API listener and clients, a pidfd per
 * VMM process and the store connection. Each domain is one `xvm run`
 * started in its own session with a control socket in RUNDIR/dom/<id>/. */
#ifndef XVM_XVMD_H
#define XVM_XVMD_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "xvm/xlcfg.h"

#define XVMD_MAX_DOMS 1024
#define XVMD_PATH 512

struct store_client;
struct xvmd_client;

enum dom_state { DOM_RUNNING, DOM_PAUSED, DOM_SHUTDOWN, DOM_CRASHED };

/* An API request parked until its domain goes (shutdown/reboot --wait). */
struct xvmd_waiter {
	struct xvmd_client *cl;
	uint64_t deadline_ms;
	struct xvmd_waiter *next;
};

struct xvmd_dom {
	int domid;
	char name[128];
	char uuid[37];
	pid_t pid;          /* 0 when no VMM runs (preserved record) */
	int pidfd;          /* -1 when none */
	enum dom_state state;
	uint64_t start_ms;  /* CLOCK_REALTIME ms */
	char dir[XVMD_PATH];
	char pty[128];
	char *text;         /* the config text as created (overrides appended) */
	char *source;
	char *cwd;          /* the creating client's directory: relative paths resolve there */
	struct xlcfg *cfg;
	unsigned restarts;
	struct xvmd_waiter *waiters;
};

struct xvmd {
	char rundir[XVMD_PATH];
	char sock[XVMD_PATH];
	char store_sock[XVMD_PATH];
	char xvm_bin[XVMD_PATH];
	int epfd, lfd;
	struct store_client *st;
	struct xvmd_dom *doms[XVMD_MAX_DOMS]; /* indexed by domid, 0 unused */
	int ndoms;
	bool stop;
};

extern struct xvmd xvmd;

uint64_t xvmd_now_ms(void);

/* xvmd.c: the loop */
int xvmd_watch_fd(int fd, void *tag);
void xvmd_unwatch_fd(int fd);
void xvmd_client_reply(struct xvmd_client *cl, json_object *reply);

/* xvmd_api.c: one request line -> one reply (NULL: parked) */
json_object *xvmd_api_handle(struct xvmd_client *cl, const char *line);
json_object *xvmd_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_object *xvmd_ok(void);

/* xvmd_api_dev.c: vcpu-list, stats and the block/network ops */
json_object *op_vcpu_list(struct xvmd_client *cl, json_object *q);
json_object *op_stats(struct xvmd_client *cl, json_object *q);
json_object *op_block_attach(struct xvmd_client *cl, json_object *q);
json_object *op_block_detach(struct xvmd_client *cl, json_object *q);
json_object *op_block_list(struct xvmd_client *cl, json_object *q);
json_object *op_network_attach(struct xvmd_client *cl, json_object *q);
json_object *op_network_detach(struct xvmd_client *cl, json_object *q);
json_object *op_network_list(struct xvmd_client *cl, json_object *q);
const char *xvmd_str_arg(json_object *q, const char *k);
/* a watch event under /local/domain/0/backend: hotplug written to the store */
void xvmd_hotplug_event(const char *path);
struct xvmd_dom *xvmd_dom_arg(json_object *q, json_object **err);
/* For the ops whose "domain" is optional: fn adds the entries of one domain
 * to arr, for the named domain or else for every domain. Returns
 * {"ok": true, result: arr}, or the unknown-domain error. */
json_object *xvmd_each_dom(json_object *q, const char *result,
			   void (*fn)(struct xvmd_dom *d, json_object *q, json_object *arr));

/* xvmd_domain.c: lifecycle */
struct xvmd_dom *xvmd_dom_find(const char *name_or_id);
/* cwd: absolute directory relative paths in the config resolve against (or NULL) */
int xvmd_dom_create(const char *text, const char *source, const char *cwd,
		    char *const *ov, size_t nov, bool paused, struct xvmd_dom **out,
		    char *err, size_t errsz);
void xvmd_dom_destroy(struct xvmd_dom *d);
int xvmd_dom_spawn(struct xvmd_dom *d, bool paused, char *err, size_t errsz);
void xvmd_dom_exited(struct xvmd_dom *d);
/* One control request; the reply object or NULL (err set). */
json_object *xvmd_ctl(struct xvmd_dom *d, const char *cmd, json_object *args,
		      char *err, size_t errsz);
void xvmd_meta_write(struct xvmd_dom *d);

/* xvmd_store.c: the store layout */
int xvmd_store_connect(void);
int xvmd_store_add(struct xvmd_dom *d);
void xvmd_store_remove(struct xvmd_dom *d);
void xvmd_store_set(const char *path, const char *value);
/* Write val (NULL: "") at the path printf(fmt, ...) makes. 0 or -errno. */
int xvmd_store_setf(const char *val, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xvmd_store_set_pty(struct xvmd_dom *d);
void *xvmd_dom_tag(int domid);
void xvmd_dom_free(struct xvmd_dom *d);
void xvmd_dom_reply_waiters(struct xvmd_dom *d);

/* xvmd_policy.c: on_* actions when a VMM stops */
void xvmd_policy_apply(struct xvmd_dom *d, const char *stop, int status);

/* xvmd_adopt.c: re-adoption at start */
void xvmd_adopt_all(void);

#endif
