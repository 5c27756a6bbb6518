/* xvmd_adopt.c - re-adoption: domains whose VMM outlived an earlier xvmd.
 *
 * For each RUNDIR/dom/<id>/meta.json: re-read config.cfg; when the pid is
 * alive and its control socket answers `status` with the same pid, watch it
 * again (pidfd). When it died meanwhile, read exit.json and apply the policy. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "xvm/log.h"
#include "xvm/xvmd.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = NULL;
	size_t n = 0;

	if (!f)
		return NULL;
	if (getdelim(&s, &n, '\0', f) < 0) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static int jint(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int(v) : 0;
}

static void adopt_one(int id)
{
	char p[XVMD_PATH + 64], e[512];
	struct xlcfg_error ce;
	struct xvmd_dom *d = calloc(1, sizeof(*d));
	json_object *m, *r;
	bool alive;

	if (!d)
		return;
	d->pidfd = -1;
	d->domid = id;
	snprintf(d->dir, sizeof(d->dir), "%.400s/dom/%d", xvmd.rundir, id);
	snprintf(p, sizeof(p), "%s/meta.json", d->dir);
	m = json_object_from_file(p);
	snprintf(p, sizeof(p), "%s/config.cfg", d->dir);
	d->text = slurp(p);
	if (!m || !d->text) {
		json_object_put(m);
		xvmd_dom_free(d);
		return;
	}
	snprintf(d->name, sizeof(d->name), "%s", jstr(m, "name"));
	snprintf(d->uuid, sizeof(d->uuid), "%s", jstr(m, "uuid"));
	d->source = strdup(jstr(m, "source"));
	d->cwd = *jstr(m, "cwd") ? strdup(jstr(m, "cwd")) : NULL;
	d->pid = jint(m, "pid");
	d->state = jint(m, "state");
	d->restarts = (unsigned)jint(m, "restarts");
	d->start_ms = (uint64_t)json_object_get_int64(json_object_object_get(m, "start_ms"));
	json_object_put(m);
	if (xlcfg_parse(d->source, d->text, strlen(d->text), NULL, 0, &d->cfg, &ce) < 0 ||
	    xlcfg_resolve_paths(d->cfg, d->cwd) < 0) {
		log_warn("xvmd: domain %d: cannot re-read its config: %s", id, ce.msg);
		xvmd_dom_free(d);
		return;
	}
	xvmd.doms[id] = d;
	xvmd.ndoms++;
	alive = d->pid > 0 && kill(d->pid, 0) == 0;
	if (alive && (r = xvmd_ctl(d, "status", NULL, e, sizeof(e)))) {
		json_object *pty = json_object_object_get(r, "console_pty");
		const char *st = jstr(r, "state");

		if (jint(r, "pid") == d->pid) {
			if (pty && json_object_is_type(pty, json_type_string))
				snprintf(d->pty, sizeof(d->pty), "%s", json_object_get_string(pty));
			d->state = !strcmp(st, "paused") ? DOM_PAUSED : DOM_RUNNING;
			d->pidfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
			if (d->pidfd >= 0)
				xvmd_watch_fd(d->pidfd, xvmd_dom_tag(id));
			json_object_put(r);
			log_notice("xvmd: adopted domain %d (%s, pid %d)", id, d->name, (int)d->pid);
			return;
		}
		json_object_put(r);
	}
	if (d->state == DOM_SHUTDOWN || d->state == DOM_CRASHED) {
		d->pid = 0; /* a preserved record */
		return;
	}
	d->pid = 0;
	log_notice("xvmd: domain %d (%s) stopped while xvmd was away", id, d->name);
	xvmd_dom_exited(d);
}

void xvmd_adopt_all(void)
{
	char p[XVMD_PATH + 8];
	DIR *dir;
	struct dirent *e;

	snprintf(p, sizeof(p), "%.400s/dom", xvmd.rundir);
	dir = opendir(p);
	if (!dir)
		return;
	while ((e = readdir(dir))) {
		char *end;
		long id = strtol(e->d_name, &end, 10);

		if (!*end && id > 0 && id < XVMD_MAX_DOMS && !xvmd.doms[id])
			adopt_one((int)id);
	}
	closedir(dir);
}
