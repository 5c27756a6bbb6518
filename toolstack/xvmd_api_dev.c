/* xvmd_api_dev.c - API ops that go through the VMM's stats and devices:
 * vcpu-list, stats, block-attach/-detach/-list, network-attach/-detach/-list.
 *
 * Hotplug follows the store protocol of docs/design/toolstack.md: the
 * backend and frontend directories are written with state 1, the VMM is
 * asked to disk-add/nic-add, then state 4 and hotplug-status "connected"
 * (on failure "error" and hotplug-error, and the directories go). Detach:
 * online 0, state 5, the VMM removes the device, both directories go. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <strings.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xvm/store.h"
#include "xvm/trace.h"
#include "xvm/xvmd.h"
#include "xvmd_json.h"

static char *sr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sr(const char *fmt, ...)
{
	char p[512], *v = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	if (store_read(xvmd.st, 0, p, &v, NULL) < 0)
		return strdup("");
	return v;
}

/* detach: the guest is asked to eject (ACPI) and the VMM removes the device
 * when it has, or after 5 s; "force": true removes it at once (a surprise
 * removal for the guest, like xl block-detach -f). */
static bool force_arg(json_object *q)
{
	json_object *v;

	return json_object_object_get_ex(q, "force", &v) && json_object_get_boolean(v);
}

/* one entry per vCPU of a running domain, from its VMM's stats */
static void vcpus_add(struct xvmd_dom *d, json_object *q, json_object *arr)
{
	json_object *s, *vs;
	char err[256];

	(void)q;
	if (d->pid <= 0 || !(s = xvmd_ctl(d, "stats", NULL, err, sizeof(err))))
		return;
	vs = json_object_object_get(s, "vcpus");
	for (size_t k = 0; vs && k < json_object_array_length(vs); k++) {
		json_object *v = json_object_array_get_idx(vs, k), *o = json_object_new_object();

		ADD(o, "domid", JI(d->domid));
		ADD(o, "name", JS(d->name));
		ADD(o, "vcpu", json_object_get(json_object_object_get(v, "id")));
		ADD(o, "tid", json_object_get(json_object_object_get(v, "tid")));
		ADD(o, "cpu_ns", json_object_get(json_object_object_get(v, "cpu_ns")));
		ADD(o, "state", json_object_get(json_object_object_get(v, "state")));
		ADD(o, "affinity", JS("all"));
		json_object_array_add(arr, o);
	}
	json_object_put(s);
}

json_object *op_vcpu_list(struct xvmd_client *cl, json_object *q)
{
	(void)cl;
	return xvmd_each_dom(q, "vcpus", vcpus_add);
}

json_object *op_stats(struct xvmd_client *cl, json_object *q)
{
	json_object *r = xvmd_ok(), *a = json_object_new_array();
	char err[256];

	(void)cl, (void)q;
	for (int i = 1; i < XVMD_MAX_DOMS; i++) {
		struct xvmd_dom *d = xvmd.doms[i];
		json_object *s;

		if (!d)
			continue;
		s = d->pid > 0 ? xvmd_ctl(d, "stats", NULL, err, sizeof(err)) : NULL;
		if (!s)
			s = json_object_new_object();
		json_object_object_del(s, "ok");
		ADD(s, "domid", JI(d->domid));
		ADD(s, "name", JS(d->name));
		ADD(s, "state", JS(d->state == DOM_PAUSED ? "--p---" :
				   d->state == DOM_SHUTDOWN ? "---s--" :
				   d->state == DOM_CRASHED ? "----c-" : "r-----"));
		ADD(s, "maxmem_kib", JI(d->cfg->maxmem_mib * 1024));
		if (!json_object_object_get(s, "vcpus"))
			ADD(s, "vcpus", JI(d->cfg->vcpus));
		json_object_array_add(a, s);
	}
	ADD(r, "domains", a);
	return r;
}

/* xvda -> 51712 + 16*index (Xen's xvd numbering); -1 when not xvd/hd/sd */
static int vdev_devid(const char *v)
{
	if (!strncmp(v, "xvd", 3) && v[3] >= 'a' && v[3] <= 'z' && !v[4])
		return 51712 + (v[3] - 'a') * 16;
	if ((v[0] == 'h' || v[0] == 's') && v[1] == 'd' && v[2] >= 'a' && v[2] <= 'z' && !v[3])
		return (v[0] == 'h' ? 768 : 2048) + (v[2] - 'a') * 16;
	return -1;
}

static void vbd_remove(struct xvmd_dom *d, int devid)
{
	char p[128];

	snprintf(p, sizeof(p), "/local/domain/0/backend/vbd/%d/%d", d->domid, devid);
	store_rm(xvmd.st, 0, p);
	snprintf(p, sizeof(p), "/local/domain/%d/device/vbd/%d", d->domid, devid);
	store_rm(xvmd.st, 0, p);
}

static json_object *vbd_add(struct xvmd_dom *d, const struct xlcfg_disk *k, int devid)
{
	const char *bp = "/local/domain/0/backend/vbd";
	json_object *args = json_object_new_object(), *r;
	char spec[1200], err[512], id[16];
	int fd;

	snprintf(id, sizeof(id), "%d", d->domid);
	xvmd_store_setf(id, "%s/%d/%d/frontend-id", bp, d->domid, devid);
	xvmd_store_setf(k->target, "%s/%d/%d/params", bp, d->domid, devid);
	xvmd_store_setf(xlcfg_format_name(k->format), "%s/%d/%d/type", bp, d->domid, devid);
	xvmd_store_setf(k->readonly ? "r" : "w", "%s/%d/%d/mode", bp, d->domid, devid);
	xvmd_store_setf(k->vdev, "%s/%d/%d/dev", bp, d->domid, devid);
	xvmd_store_setf("disk", "%s/%d/%d/device-type", bp, d->domid, devid);
	xvmd_store_setf("1", "%s/%d/%d/online", bp, d->domid, devid);
	xvmd_store_setf("1", "%s/%d/%d/state", bp, d->domid, devid);
	xvmd_store_setf(k->vdev, "/local/domain/%d/device/vbd/%d/virtual-device", d->domid, devid);
	xvmd_store_setf("1", "/local/domain/%d/device/vbd/%d/state", d->domid, devid);
	fd = open(k->target, k->readonly ? O_RDONLY : O_RDWR);
	if (fd < 0) {
		snprintf(err, sizeof(err), "%s: %s: %s", d->name, k->target, strerror(errno));
		goto fail;
	}
	close(fd);
	snprintf(spec, sizeof(spec), "%s,format=%s,id=%s%s", k->target,
		 k->format == XLCFG_FMT_QCOW2 ? "qcow2" : "raw", k->vdev,
		 k->readonly ? ",readonly" : "");
	ADD(args, "spec", JS(spec));
	r = xvmd_ctl(d, "disk-add", args, err, sizeof(err));
	args = NULL;
	if (!r)
		goto fail;
	json_object_put(r);
	xvmd_store_setf("4", "%s/%d/%d/state", bp, d->domid, devid);
	xvmd_store_setf("connected", "%s/%d/%d/hotplug-status", bp, d->domid, devid);
	xvmd_store_setf("4", "/local/domain/%d/device/vbd/%d/state", d->domid, devid);
	r = xvmd_ok();
	ADD(r, "vdev", JS(k->vdev));
	ADD(r, "devid", JI(devid));
	return r;
fail:
	json_object_put(args);
	xvmd_store_setf("error", "%s/%d/%d/hotplug-status", bp, d->domid, devid);
	xvmd_store_setf(err, "%s/%d/%d/hotplug-error", bp, d->domid, devid);
	vbd_remove(d, devid);
	return xvmd_err("%s", err);
}

json_object *op_block_attach(struct xvmd_client *cl, json_object *q)
{
	json_object *e = NULL, *r;
	struct xvmd_dom *d = xvmd_dom_arg(q, &e);
	const char *spec = xvmd_str_arg(q, "spec"), *cwd;
	struct xlcfg_disk k;
	struct xlcfg_error ce;
	size_t at;
	char *old;
	int devid;

	(void)cl;
	if (!d)
		return e;
	if (!spec)
		return xvmd_err("missing 'spec'");
	if (d->pid <= 0)
		return xvmd_err("%s: not running", d->name);
	if (xlcfg_parse_disk(spec, &k, &at, &ce) < 0)
		return xvmd_err("disk spec '%s': %s", spec, ce.msg);
	if (!(cwd = xvmd_str_arg(q, "cwd")))
		cwd = d->cwd;
	if (xlcfg_resolve_path(&k.target, cwd) < 0) {
		r = xvmd_err("disk spec '%s': cannot resolve its path (cwd must be absolute)", spec);
		goto out;
	}
	devid = vdev_devid(k.vdev);
	if (devid < 0 || !k.target) {
		r = xvmd_err("disk spec '%s': need a target and an xvd/hd/sd vdev", spec);
		goto out;
	}
	old = sr("/local/domain/0/backend/vbd/%d/%d/dev", d->domid, devid);
	if (old && *old) {
		free(old);
		r = xvmd_err("%s: %s is already attached", d->name, k.vdev);
		goto out;
	}
	free(old);
	XVM_PROBE(LIFECYCLE_START, (char *)"block-attach", d->domid);
	r = vbd_add(d, &k, devid);
	XVM_PROBE(LIFECYCLE_END, (char *)"block-attach", d->domid,
		  json_object_get_boolean(json_object_object_get(r, "ok")) ? 0 : -EIO);
out:
	xlcfg_disk_clear(&k);
	return r;
}

json_object *op_block_detach(struct xvmd_client *cl, json_object *q)
{
	json_object *e = NULL, *args, *r;
	struct xvmd_dom *d = xvmd_dom_arg(q, &e);
	const char *vdev = xvmd_str_arg(q, "vdev");
	char err[512], *dev;
	int devid;

	(void)cl;
	if (!d)
		return e;
	devid = vdev ? vdev_devid(vdev) : -1;
	if (devid < 0 && vdev)
		devid = atoi(vdev);
	dev = sr("/local/domain/0/backend/vbd/%d/%d/dev", d->domid, devid);
	if (!dev || !*dev) {
		free(dev);
		return xvmd_err("%s: no disk %s", d->name, vdev ? vdev : "(none given)");
	}
	xvmd_store_setf("0", "/local/domain/0/backend/vbd/%d/%d/online", d->domid, devid);
	xvmd_store_setf("5", "/local/domain/0/backend/vbd/%d/%d/state", d->domid, devid);
	args = json_object_new_object();
	ADD(args, "id", JS(dev));
	ADD(args, "force", json_object_new_boolean(force_arg(q)));
	XVM_PROBE(LIFECYCLE_START, (char *)"block-detach", d->domid);
	r = d->pid > 0 ? xvmd_ctl(d, "disk-remove", args, err, sizeof(err)) : NULL;
	if (d->pid <= 0)
		json_object_put(args);
	XVM_PROBE(LIFECYCLE_END, (char *)"block-detach", d->domid, r ? 0 : -EIO);
	free(dev);
	if (!r && d->pid > 0)
		return xvmd_err("%s", err);
	json_object_put(r);
	vbd_remove(d, devid);
	return xvmd_ok();
}

/* the children of a store directory, as a malloc'd block (NULL: none) */
static char **sdir(unsigned *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char **sdir(unsigned *n, const char *fmt, ...)
{
	char p[512], **names = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	*n = 0;
	if (store_directory(xvmd.st, 0, p, &names, n) < 0)
		return NULL;
	return names;
}

/* The list ops: one object per backend device of kind ("vbd", "vif"), with
 * devid and each keys[k][1] store value under the result name keys[k][0]
 * ("state" as a number). */
static json_object *backend_list(json_object *q, const char *kind,
				 const char *const (*keys)[2], size_t nkeys, const char *result)
{
	json_object *e = NULL, *r, *a;
	struct xvmd_dom *d = xvmd_dom_arg(q, &e);
	const char *bp = "/local/domain/0/backend";
	char **ids;
	unsigned n;

	if (!d)
		return e;
	ids = sdir(&n, "%s/%s/%d", bp, kind, d->domid);
	a = json_object_new_array();
	for (unsigned i = 0; i < n; i++) {
		json_object *o = json_object_new_object();

		ADD(o, "devid", JI(atoi(ids[i])));
		for (size_t k = 0; k < nkeys; k++) {
			char *v = sr("%s/%s/%d/%s/%s", bp, kind, d->domid, ids[i], keys[k][1]);

			if (!strcmp(keys[k][0], "state"))
				ADD(o, "state", JI(atoi(v ? v : "0")));
			else
				ADD(o, keys[k][0], JS(v ? v : ""));
			free(v);
		}
		json_object_array_add(a, o);
	}
	free(ids);
	r = xvmd_ok();
	ADD(r, result, a);
	return r;
}

json_object *op_block_list(struct xvmd_client *cl, json_object *q)
{
	static const char *const keys[][2] = { { "vdev", "dev" }, { "params", "params" },
					       { "type", "type" }, { "mode", "mode" },
					       { "state", "state" } };

	(void)cl;
	return backend_list(q, "vbd", keys, sizeof(keys) / sizeof(keys[0]), "disks");
}

static void vif_remove(struct xvmd_dom *d, int devid)
{
	char p[128];

	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%d/%d", d->domid, devid);
	store_rm(xvmd.st, 0, p);
	snprintf(p, sizeof(p), "/local/domain/%d/device/vif/%d", d->domid, devid);
	store_rm(xvmd.st, 0, p);
}

/* the lowest devid without a backend directory */
static int vif_free_devid(struct xvmd_dom *d)
{
	for (int id = 0; id < 64; id++) {
		char *v = sr("/local/domain/0/backend/vif/%d/%d/handle", d->domid, id);
		bool used = v && *v;

		free(v);
		if (!used)
			return id;
	}
	return -1;
}

static json_object *vif_add(struct xvmd_dom *d, const struct xlcfg_vif *v, int devid)
{
	const char *bp = "/local/domain/0/backend/vif";
	const char *br = v->bridge ? v->bridge : "xenbr0";
	json_object *args = json_object_new_object(), *r, *m;
	char spec[256], err[512], id[16], h[16], mac[32] = "";

	snprintf(id, sizeof(id), "%d", d->domid);
	snprintf(h, sizeof(h), "%d", devid);
	if (v->mac_set)
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", v->mac[0], v->mac[1],
			 v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
	xvmd_store_setf(id, "%s/%d/%d/frontend-id", bp, d->domid, devid);
	xvmd_store_setf(br, "%s/%d/%d/bridge", bp, d->domid, devid);
	xvmd_store_setf(h, "%s/%d/%d/handle", bp, d->domid, devid);
	xvmd_store_setf("1", "%s/%d/%d/online", bp, d->domid, devid);
	xvmd_store_setf("1", "%s/%d/%d/state", bp, d->domid, devid);
	xvmd_store_setf(h, "/local/domain/%d/device/vif/%d/handle", d->domid, devid);
	xvmd_store_setf("1", "/local/domain/%d/device/vif/%d/state", d->domid, devid);
	snprintf(spec, sizeof(spec), "bridge=%s%s%s,id=vif%d", br, *mac ? ",mac=" : "", mac,
		 devid);
	ADD(args, "spec", JS(spec));
	r = xvmd_ctl(d, "nic-add", args, err, sizeof(err));
	if (!r) {
		xvmd_store_setf("error", "%s/%d/%d/hotplug-status", bp, d->domid, devid);
		xvmd_store_setf(err, "%s/%d/%d/hotplug-error", bp, d->domid, devid);
		vif_remove(d, devid);
		return xvmd_err("%s", err);
	}
	m = json_object_object_get(r, "mac");
	if (m && json_object_is_type(m, json_type_string))
		snprintf(mac, sizeof(mac), "%s", json_object_get_string(m));
	json_object_put(r);
	xvmd_store_setf(mac, "%s/%d/%d/mac", bp, d->domid, devid);
	xvmd_store_setf(mac, "/local/domain/%d/device/vif/%d/mac", d->domid, devid);
	xvmd_store_setf("4", "%s/%d/%d/state", bp, d->domid, devid);
	xvmd_store_setf("connected", "%s/%d/%d/hotplug-status", bp, d->domid, devid);
	xvmd_store_setf("4", "/local/domain/%d/device/vif/%d/state", d->domid, devid);
	r = xvmd_ok();
	ADD(r, "devid", JI(devid));
	ADD(r, "mac", JS(mac));
	return r;
}

json_object *op_network_attach(struct xvmd_client *cl, json_object *q)
{
	json_object *e = NULL, *r;
	struct xvmd_dom *d = xvmd_dom_arg(q, &e);
	const char *spec = xvmd_str_arg(q, "spec");
	struct xlcfg_vif v;
	struct xlcfg_error ce;
	size_t at;
	int devid;

	(void)cl;
	if (!d)
		return e;
	if (d->pid <= 0)
		return xvmd_err("%s: not running", d->name);
	if (xlcfg_parse_vif(spec ? spec : "", &v, &at, &ce) < 0)
		return xvmd_err("vif spec '%s': %s", spec ? spec : "", ce.msg);
	devid = v.devid >= 0 ? v.devid : vif_free_devid(d);
	if (!if_nametoindex(v.bridge ? v.bridge : "xenbr0"))
		r = xvmd_err("%s: bridge %s: %s", d->name, v.bridge ? v.bridge : "xenbr0",
			     strerror(errno));
	else if (devid < 0)
		r = xvmd_err("%s: no free vif devid", d->name);
	else {
		XVM_PROBE(LIFECYCLE_START, (char *)"network-attach", d->domid);
		r = vif_add(d, &v, devid);
		XVM_PROBE(LIFECYCLE_END, (char *)"network-attach", d->domid,
			  json_object_get_boolean(json_object_object_get(r, "ok")) ? 0 : -EIO);
	}
	xlcfg_vif_clear(&v);
	return r;
}

/* the devid named by "devid" or "mac"; -1 when none matches */
static int vif_find(struct xvmd_dom *d, json_object *q)
{
	const char *mac = xvmd_str_arg(q, "mac"), *id = xvmd_str_arg(q, "devid");

	for (int i = 0; i < 64; i++) {
		char *h = sr("/local/domain/0/backend/vif/%d/%d/handle", d->domid, i);
		char *m = sr("/local/domain/0/backend/vif/%d/%d/mac", d->domid, i);
		bool hit = h && *h && ((id && atoi(id) == i) || (mac && m && !strcasecmp(m, mac)));

		free(h);
		free(m);
		if (hit)
			return i;
	}
	return -1;
}

json_object *op_network_detach(struct xvmd_client *cl, json_object *q)
{
	json_object *e = NULL, *args, *r;
	struct xvmd_dom *d = xvmd_dom_arg(q, &e);
	char err[512], id[32];
	int devid;

	(void)cl;
	if (!d)
		return e;
	if ((devid = vif_find(d, q)) < 0)
		return xvmd_err("%s: no such network device", d->name);
	xvmd_store_setf("0", "/local/domain/0/backend/vif/%d/%d/online", d->domid, devid);
	xvmd_store_setf("5", "/local/domain/0/backend/vif/%d/%d/state", d->domid, devid);
	snprintf(id, sizeof(id), "vif%d", devid);
	args = json_object_new_object();
	ADD(args, "id", JS(id));
	ADD(args, "force", json_object_new_boolean(force_arg(q)));
	XVM_PROBE(LIFECYCLE_START, (char *)"network-detach", d->domid);
	r = d->pid > 0 ? xvmd_ctl(d, "nic-remove", args, err, sizeof(err)) : NULL;
	if (d->pid <= 0)
		json_object_put(args);
	XVM_PROBE(LIFECYCLE_END, (char *)"network-detach", d->domid, r ? 0 : -EIO);
	if (!r && d->pid > 0)
		return xvmd_err("%s", err);
	json_object_put(r);
	vif_remove(d, devid);
	return xvmd_ok();
}

json_object *op_network_list(struct xvmd_client *cl, json_object *q)
{
	static const char *const keys[][2] = { { "mac", "mac" }, { "bridge", "bridge" },
					       { "vifname", "vifname" }, { "state", "state" } };

	(void)cl;
	return backend_list(q, "vif", keys, sizeof(keys) / sizeof(keys[0]), "nics");
}

/* A backend written by someone else (e.g. `xenstore-write`): state 1 asks
 * for the device to be prepared and added, state 5 with online 0 for it to
 * be removed. Our own ops have finished by the time their events arrive. */
static void hotplug_vbd(struct xvmd_dom *d, int devid, int state)
{
	const char *bp = "/local/domain/0/backend/vbd";
	char *params = sr("%s/%d/%d/params", bp, d->domid, devid);
	char *dev = sr("%s/%d/%d/dev", bp, d->domid, devid);
	char *mode = sr("%s/%d/%d/mode", bp, d->domid, devid);
	char *type = sr("%s/%d/%d/type", bp, d->domid, devid);
	json_object *r = NULL, *args;
	char err[512];

	if (state == 1 && params && *params && dev && *dev) {
		struct xlcfg_disk k = { .target = params, .vdev = dev,
					.readonly = mode && !strcmp(mode, "r"),
					.format = type && !strcmp(type, "qcow2") ? XLCFG_FMT_QCOW2
										 : XLCFG_FMT_RAW };
		r = vbd_add(d, &k, devid);
	} else if (state == 5 && dev && *dev) {
		args = json_object_new_object();
		ADD(args, "id", JS(dev));
		ADD(args, "force", json_object_new_boolean(0));
		r = xvmd_ctl(d, "disk-remove", args, err, sizeof(err));
		vbd_remove(d, devid);
	}
	json_object_put(r);
	free(params), free(dev), free(mode), free(type);
}

static void hotplug_vif(struct xvmd_dom *d, int devid, int state)
{
	const char *bp = "/local/domain/0/backend/vif";
	char *br = sr("%s/%d/%d/bridge", bp, d->domid, devid);
	json_object *r = NULL, *args;
	char err[512], id[32];

	if (state == 1) {
		struct xlcfg_vif v = { .bridge = br && *br ? br : NULL, .devid = devid };

		r = vif_add(d, &v, devid);
	} else if (state == 5) {
		snprintf(id, sizeof(id), "vif%d", devid);
		args = json_object_new_object();
		ADD(args, "id", JS(id));
		ADD(args, "force", json_object_new_boolean(0));
		r = xvmd_ctl(d, "nic-remove", args, err, sizeof(err));
		vif_remove(d, devid);
	}
	json_object_put(r);
	free(br);
}

void xvmd_hotplug_event(const char *path)
{
	char kind[8], *st;
	int domid, devid, n = 0, state;
	struct xvmd_dom *d;

	if (sscanf(path, "/local/domain/0/backend/%7[a-z]/%d/%d/state%n", kind, &domid,
		   &devid, &n) != 3 || path[n] || domid <= 0 || domid >= XVMD_MAX_DOMS ||
	    devid < 0 || !(d = xvmd.doms[domid]) || d->pid <= 0)
		return;
	st = sr("%s", path);
	state = st && *st ? atoi(st) : 0;
	free(st);
	if (state == 5) {
		char *on = sr("/local/domain/0/backend/%s/%d/%d/online", kind, domid, devid);

		if (!on || strcmp(on, "0"))
			state = 0;
		free(on);
	}
	if (state != 1 && state != 5)
		return;
	if (!strcmp(kind, "vbd"))
		hotplug_vbd(d, devid, state);
	else if (!strcmp(kind, "vif"))
		hotplug_vif(d, devid, state);
}
