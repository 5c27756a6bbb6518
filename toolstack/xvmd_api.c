/* xvmd_api.c - the xvmd API: one JSON request line, one reply (docs/api.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "xvm/api_client.h"
#include "xvm/log.h"
#include "xvm/trace.h"
#include "xvm/xvmd.h"
#include "xvmd_json.h"

#ifndef XVM_VERSION
#define XVM_VERSION "0"
#endif

json_object *xvmd_err(const char *fmt, ...)
{
	json_object *r = json_object_new_object();
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	msg[strcspn(msg, "\n")] = '\0';
	json_object_object_add(r, "ok", json_object_new_boolean(0));
	json_object_object_add(r, "error", json_object_new_string(msg));
	return r;
}

json_object *xvmd_ok(void)
{
	json_object *r = json_object_new_object();

	json_object_object_add(r, "ok", json_object_new_boolean(1));
	return r;
}

const char *xvmd_str_arg(json_object *q, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(q, k, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

static bool bool_arg(json_object *q, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(q, k, &v) && json_object_get_boolean(v);
}

/* the domain named by "domain", or an error reply in *err */
struct xvmd_dom *xvmd_dom_arg(json_object *q, json_object **err)
{
	const char *s = xvmd_str_arg(q, "domain");
	struct xvmd_dom *d;

	if (!s) {
		*err = xvmd_err("missing 'domain'");
		return NULL;
	}
	d = xvmd_dom_find(s);
	if (!d)
		*err = xvmd_err("%s: no such domain", s);
	return d;
}

static json_object *op_version(struct xvmd_client *cl, json_object *q)
{
	json_object *r = xvmd_ok();

	(void)cl, (void)q;
	ADD(r, "api", JI(XVMD_API_VERSION));
	ADD(r, "version", JS(XVM_VERSION));
	return r;
}

static const char *kvm_kind(void)
{
	char buf[4096] = "";
	int fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		return "pvm";
	return strstr(buf, " svm") ? "svm" : "vmx";
}

static json_object *op_info(struct xvmd_client *cl, json_object *q)
{
	json_object *r = xvmd_ok();
	struct utsname u;
	struct sysinfo si;

	(void)cl, (void)q;
	uname(&u);
	sysinfo(&si);
	ADD(r, "host", JS(u.nodename));
	ADD(r, "release", JS(u.release));
	ADD(r, "machine", JS(u.machine));
	ADD(r, "nr_cpus", JI(sysconf(_SC_NPROCESSORS_ONLN)));
	ADD(r, "total_memory_mib", JI((uint64_t)si.totalram * si.mem_unit >> 20));
	ADD(r, "free_memory_mib", JI((uint64_t)si.freeram * si.mem_unit >> 20));
	ADD(r, "kvm", JS(kvm_kind()));
	ADD(r, "xvm_version", JS(XVM_VERSION));
	ADD(r, "nr_domains", JI(xvmd.ndoms));
	return r;
}

static json_object *op_create(struct xvmd_client *cl, json_object *q)
{
	const char *text = xvmd_str_arg(q, "config"), *src = xvmd_str_arg(q, "source");
	json_object *ov = json_object_object_get(q, "overrides"), *r, *wa;
	char *ovs[64], err[1024];
	size_t nov = 0;
	struct xvmd_dom *d;
	int rc;

	(void)cl;
	if (!text)
		return xvmd_err("missing 'config'");
	if (ov && json_object_is_type(ov, json_type_array))
		for (size_t i = 0; i < json_object_array_length(ov) && nov < 64; i++)
			ovs[nov++] = (char *)json_object_get_string(json_object_array_get_idx(ov, i));
	XVM_PROBE(LIFECYCLE_START, (char *)"create", 0);
	rc = xvmd_dom_create(text, src ? src : "config", xvmd_str_arg(q, "cwd"), ovs, nov,
			     bool_arg(q, "paused"), &d, err, sizeof(err));
	XVM_PROBE(LIFECYCLE_END, (char *)"create", rc ? 0 : d->domid, rc);
	if (rc < 0)
		return xvmd_err("%s", err);
	r = xvmd_ok();
	ADD(r, "domid", JI(d->domid));
	ADD(r, "name", JS(d->name));
	ADD(r, "uuid", JS(d->uuid));
	wa = json_object_new_array();
	for (size_t i = 0; i < d->cfg->nwarnings; i++)
		json_object_array_add(wa, JS(d->cfg->warnings[i]));
	ADD(r, "warnings", wa);
	return r;
}

static const char *state_letters(const struct xvmd_dom *d)
{
	switch (d->state) {
	case DOM_PAUSED: return "--p---";
	case DOM_SHUTDOWN: return "---s--";
	case DOM_CRASHED: return "----c-";
	default: return "r-----";
	}
}

/* the VMM's stats (NULL when it has none: preserved record, no answer) */
static json_object *vmm_stats(struct xvmd_dom *d)
{
	char e[256];

	return d->pid > 0 ? xvmd_ctl(d, "stats", NULL, e, sizeof(e)) : NULL;
}

static json_object *dom_entry(struct xvmd_dom *d, bool lng)
{
	json_object *o = json_object_new_object(), *s = vmm_stats(d), *v;
	int64_t cpu = 0;

	if (s && json_object_object_get_ex(s, "cpu_ns", &v))
		cpu = json_object_get_int64(v);
	ADD(o, "domid", JI(d->domid));
	ADD(o, "name", JS(d->name));
	ADD(o, "uuid", JS(d->uuid));
	ADD(o, "state", JS(state_letters(d)));
	ADD(o, "vcpus", JI(d->cfg->vcpus));
	ADD(o, "memory_kib", JI(d->cfg->memory_mib * 1024));
	ADD(o, "maxmem_kib", JI(d->cfg->maxmem_mib * 1024));
	ADD(o, "cpu_ns", JI(cpu));
	ADD(o, "uptime_ms", JI(d->pid > 0 ? xvmd_now_ms() - d->start_ms : 0));
	ADD(o, "pid", JI(d->pid));
	if (lng)
		ADD(o, "config", JS(d->text));
	json_object_put(s);
	return o;
}

json_object *xvmd_each_dom(json_object *q, const char *result,
			   void (*fn)(struct xvmd_dom *d, json_object *q, json_object *arr))
{
	json_object *r, *a, *e = NULL;
	struct xvmd_dom *one = NULL;

	if (xvmd_str_arg(q, "domain") && !(one = xvmd_dom_arg(q, &e)))
		return e;
	a = json_object_new_array();
	for (int i = 1; i < XVMD_MAX_DOMS; i++)
		if (xvmd.doms[i] && (!one || one == xvmd.doms[i]))
			fn(xvmd.doms[i], q, a);
	r = xvmd_ok();
	ADD(r, result, a);
	return r;
}

static void list_add(struct xvmd_dom *d, json_object *q, json_object *arr)
{
	json_object_array_add(arr, dom_entry(d, bool_arg(q, "long")));
}

static json_object *op_list(struct xvmd_client *cl, json_object *q)
{
	(void)cl;
	return xvmd_each_dom(q, "domains", list_add);
}

static json_object *op_destroy(struct xvmd_client *cl, json_object *q)
{
	json_object *e = NULL;
	struct xvmd_dom *d = xvmd_dom_arg(q, &e);
	int id;

	(void)cl;
	if (!d)
		return e;
	id = d->domid;
	XVM_PROBE(LIFECYCLE_START, (char *)"destroy", id);
	xvmd_dom_destroy(d);
	XVM_PROBE(LIFECYCLE_END, (char *)"destroy", id, 0);
	return xvmd_ok();
}

/* a control command for a running domain, with the probe pair */
static json_object *simple_ctl(json_object *q, const char *op, const char *cmd,
			       struct xvmd_dom **dp)
{
	json_object *e = NULL, *r;
	struct xvmd_dom *d = xvmd_dom_arg(q, &e);
	char err[512];

	if (!d)
		return e;
	if (d->pid <= 0)
		return xvmd_err("%s: not running", d->name);
	XVM_PROBE(LIFECYCLE_START, (char *)op, d->domid);
	r = xvmd_ctl(d, cmd, NULL, err, sizeof(err));
	XVM_PROBE(LIFECYCLE_END, (char *)op, d->domid, r ? 0 : -EIO);
	if (!r)
		return xvmd_err("%s", err);
	json_object_put(r);
	if (dp)
		*dp = d;
	return xvmd_ok();
}

static json_object *op_pause(struct xvmd_client *cl, json_object *q)
{
	struct xvmd_dom *d = NULL;
	json_object *r = simple_ctl(q, "pause", "pause", &d);

	(void)cl;
	if (d)
		d->state = DOM_PAUSED;
	return r;
}

static json_object *op_unpause(struct xvmd_client *cl, json_object *q)
{
	struct xvmd_dom *d = NULL;
	json_object *r = simple_ctl(q, "unpause", "unpause", &d);

	(void)cl;
	if (d)
		d->state = DOM_RUNNING;
	return r;
}

/* shutdown/reboot; with wait the reply is parked until the domain goes */
static json_object *power(struct xvmd_client *cl, json_object *q, const char *op,
			  const char *cmd)
{
	struct xvmd_dom *d = NULL;
	json_object *r = simple_ctl(q, op, cmd, &d), *t;
	struct xvmd_waiter *w;
	char p[64];

	if (!d)
		return r;
	snprintf(p, sizeof(p), "/local/domain/%d/control/shutdown", d->domid);
	xvmd_store_set(p, !strcmp(op, "reboot") ? "reboot" : "poweroff");
	if (!bool_arg(q, "wait") || !(w = calloc(1, sizeof(*w))))
		return r;
	json_object_put(r);
	t = json_object_object_get(q, "timeout_s");
	w->cl = cl;
	w->deadline_ms = xvmd_now_ms() + 1000ULL * (uint64_t)(t ? json_object_get_int(t) : 60);
	w->next = d->waiters;
	d->waiters = w;
	return NULL;
}

static json_object *op_shutdown(struct xvmd_client *cl, json_object *q)
{
	return power(cl, q, "shutdown", "power-button");
}

static json_object *op_reboot(struct xvmd_client *cl, json_object *q)
{
	return power(cl, q, "reboot", "reset");
}

static json_object *op_rename(struct xvmd_client *cl, json_object *q)
{
	json_object *e = NULL;
	struct xvmd_dom *d = xvmd_dom_arg(q, &e);
	const char *n = xvmd_str_arg(q, "name");
	char p[64];

	(void)cl;
	if (!d)
		return e;
	if (!n || !*n || strlen(n) >= sizeof(d->name))
		return xvmd_err("rename: a new name (under %zu bytes) is needed", sizeof(d->name));
	if (xvmd_dom_find(n))
		return xvmd_err("%s: a domain with that name exists", n);
	snprintf(d->name, sizeof(d->name), "%s", n);
	snprintf(p, sizeof(p), "/local/domain/%d/name", d->domid);
	xvmd_store_set(p, n);
	snprintf(p, sizeof(p), "/vm/%s/name", d->uuid);
	xvmd_store_set(p, n);
	xvmd_meta_write(d);
	return xvmd_ok();
}

static void uptime_add(struct xvmd_dom *d, json_object *q, json_object *arr)
{
	json_object *o = json_object_new_object();

	(void)q;
	ADD(o, "domid", JI(d->domid));
	ADD(o, "name", JS(d->name));
	ADD(o, "uptime_ms", JI(d->pid > 0 ? xvmd_now_ms() - d->start_ms : 0));
	json_object_array_add(arr, o);
}

static json_object *op_uptime(struct xvmd_client *cl, json_object *q)
{
	(void)cl;
	return xvmd_each_dom(q, "domains", uptime_add);
}

static json_object *op_console(struct xvmd_client *cl, json_object *q)
{
	json_object *e = NULL, *r;
	struct xvmd_dom *d = xvmd_dom_arg(q, &e);

	(void)cl;
	if (!d)
		return e;
	if (!d->pty[0])
		return xvmd_err("%s: no console pty", d->name);
	r = xvmd_ok();
	ADD(r, "pty", JS(d->pty));
	return r;
}

static json_object *op_dmesg(struct xvmd_client *cl, json_object *q)
{
	json_object *e = NULL, *r;
	struct xvmd_dom *d = xvmd_dom_arg(q, &e);
	char p[XVMD_PATH + 32], *buf;
	const size_t max = 1 << 20;
	ssize_t n = 0;
	off_t sz;
	int fd;

	(void)cl;
	if (!d)
		return e;
	snprintf(p, sizeof(p), "%s/console.log", d->dir);
	fd = open(p, O_RDWR | O_CLOEXEC);
	buf = malloc(max + 1);
	if (fd >= 0 && buf) {
		sz = lseek(fd, 0, SEEK_END);
		n = pread(fd, buf, max, sz > (off_t)max ? sz - (off_t)max : 0);
		if (bool_arg(q, "clear") && ftruncate(fd, 0))
			n = n < 0 ? n : n;
	}
	if (fd >= 0)
		close(fd);
	r = xvmd_ok();
	ADD(r, "log", json_object_new_string_len(buf ? buf : "", n > 0 ? (int)n : 0));
	free(buf);
	return r;
}

typedef json_object *(*op_fn)(struct xvmd_client *, json_object *);

static const struct { const char *op; op_fn fn; } ops[] = {
	{ "version", op_version }, { "info", op_info }, { "create", op_create },
	{ "list", op_list }, { "destroy", op_destroy }, { "shutdown", op_shutdown },
	{ "reboot", op_reboot }, { "pause", op_pause }, { "unpause", op_unpause },
	{ "rename", op_rename }, { "uptime", op_uptime }, { "vcpu-list", op_vcpu_list },
	{ "block-attach", op_block_attach }, { "block-detach", op_block_detach },
	{ "block-list", op_block_list }, { "network-attach", op_network_attach },
	{ "network-detach", op_network_detach }, { "network-list", op_network_list },
	{ "console", op_console }, { "dmesg", op_dmesg }, { "stats", op_stats },
};

json_object *xvmd_api_handle(struct xvmd_client *cl, const char *line)
{
	json_object *q = json_tokener_parse(line), *v, *r;
	const char *op;

	if (!q || !json_object_is_type(q, json_type_object)) {
		json_object_put(q);
		return xvmd_err("request is not a JSON object");
	}
	if (!json_object_object_get_ex(q, "api", &v) || !json_object_is_type(v, json_type_int)) {
		json_object_put(q);
		return xvmd_err("request has no 'api' version (this xvmd speaks %d)",
				XVMD_API_VERSION);
	}
	if (json_object_get_int(v) != XVMD_API_VERSION) {
		r = xvmd_err("API version %d not supported (this xvmd speaks %d)",
			     json_object_get_int(v), XVMD_API_VERSION);
		json_object_put(q);
		return r;
	}
	op = xvmd_str_arg(q, "op");
	r = NULL;
	for (size_t i = 0; op && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].op, op)) {
			r = ops[i].fn(cl, q);
			json_object_put(q);
			return r;
		}
	r = xvmd_err("unknown op '%s'", op ? op : "(none)");
	json_object_put(q);
	return r;
}
