/* xvmd_domain.c - domain lifecycle: validate, spawn `xvm run`, control requests, destroy. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xvm/log.h"
#include "xvm/util.h"
#include "xvm/xvmd.h"

void *xvmd_dom_tag(int domid);

struct xvmd_dom *xvmd_dom_find(const char *s)
{
	char *end;
	long id;

	if (!s || !*s)
		return NULL;
	id = strtol(s, &end, 10);
	if (!*end && id > 0 && id < XVMD_MAX_DOMS && xvmd.doms[id])
		return xvmd.doms[id];
	for (int i = 1; i < XVMD_MAX_DOMS; i++)
		if (xvmd.doms[i] && !strcmp(xvmd.doms[i]->name, s))
			return xvmd.doms[i];
	return NULL;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[XVMD_PATH + 300];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

/* one line to the VMM's control socket, one reply back (5 s at most) */
json_object *xvmd_ctl(struct xvmd_dom *d, const char *cmd, json_object *args,
		      char *err, size_t errsz)
{
	json_object *req = args ? args : json_object_new_object(), *r = NULL;
	char buf[65536], path[XVMD_PATH + 16];
	size_t len = 0;
	const char *s;
	int fd;

	snprintf(path, sizeof(path), "%s/control.sock", d->dir);
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	fd = unix_connect(path);
	if (fd < 0) {
		snprintf(err, errsz, "%s: VMM control socket %s: %s", d->name, path, strerror(-fd));
		goto out;
	}
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s) || write(fd, "\n", 1) != 1) {
		snprintf(err, errsz, "%s: VMM control socket: %s", d->name, strerror(errno));
		goto out;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0) {
			snprintf(err, errsz, "%s: VMM did not answer '%s'", d->name, cmd);
			goto out;
		}
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			snprintf(err, errsz, "%s: VMM closed the control socket", d->name);
			goto out;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf, '\n', len) || len >= sizeof(buf) - 1)
			break;
	}
	r = json_tokener_parse(buf);
	if (!r || !json_object_is_type(r, json_type_object)) {
		json_object_put(r);
		r = NULL;
		snprintf(err, errsz, "%s: bad reply from the VMM", d->name);
	} else if (!json_object_get_boolean(json_object_object_get(r, "ok"))) {
		json_object *e = json_object_object_get(r, "error");

		snprintf(err, errsz, "%s: %s", d->name, e ? json_object_get_string(e) : "failed");
		json_object_put(r);
		r = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	json_object_put(req);
	return r;
}

void xvmd_meta_write(struct xvmd_dom *d)
{
	char p[XVMD_PATH + 32], tmp[XVMD_PATH + 32];
	json_object *m = json_object_new_object();

	json_object_object_add(m, "domid", json_object_new_int(d->domid));
	json_object_object_add(m, "name", json_object_new_string(d->name));
	json_object_object_add(m, "uuid", json_object_new_string(d->uuid));
	json_object_object_add(m, "pid", json_object_new_int(d->pid));
	json_object_object_add(m, "start_ms", json_object_new_int64((int64_t)d->start_ms));
	json_object_object_add(m, "source", json_object_new_string(d->source));
	if (d->cwd)
		json_object_object_add(m, "cwd", json_object_new_string(d->cwd));
	json_object_object_add(m, "restarts", json_object_new_int((int)d->restarts));
	json_object_object_add(m, "state", json_object_new_int(d->state));
	json_object_object_add(m, "on_poweroff", json_object_new_string(
		xlcfg_action_name(d->cfg->on_poweroff)));
	json_object_object_add(m, "on_reboot", json_object_new_string(
		xlcfg_action_name(d->cfg->on_reboot)));
	json_object_object_add(m, "on_crash", json_object_new_string(
		xlcfg_action_name(d->cfg->on_crash)));
	snprintf(p, sizeof(p), "%s/meta.json", d->dir);
	snprintf(tmp, sizeof(tmp), "%s/meta.json.tmp", d->dir);
	if (json_object_to_file_ext(tmp, m, JSON_C_TO_STRING_PRETTY) == 0)
		rename(tmp, p);
	json_object_put(m);
	json_object_put(NULL);
}

/* images exist and open, bridges exist: before anything is created */
static int validate(const struct xlcfg *c, char *err, size_t errsz)
{
	const char *files[2] = { c->kernel, c->ramdisk };

	if (!c->kernel) {
		snprintf(err, errsz, "%s: no kernel given", c->name);
		return -EINVAL;
	}
	for (int i = 0; i < 2; i++)
		if (files[i] && access(files[i], R_OK)) {
			snprintf(err, errsz, "%s: %s: %s", c->name, files[i], strerror(errno));
			return -errno;
		}
	for (size_t i = 0; i < c->ndisks; i++) {
		const struct xlcfg_disk *k = &c->disks[i];
		int fd;

		if (!k->target)
			continue;
		fd = open(k->target, k->readonly ? O_RDONLY : O_RDWR);
		if (fd < 0) {
			snprintf(err, errsz, "%s: disk %s: %s: %s", c->name, k->vdev, k->target,
				 strerror(errno));
			return -errno;
		}
		close(fd);
	}
	for (size_t i = 0; i < c->nvifs; i++) {
		const char *br = c->vifs[i].bridge ? c->vifs[i].bridge : "xenbr0";

		if (!if_nametoindex(br)) {
			snprintf(err, errsz, "%s: vif %zu: bridge %s: %s", c->name, i, br,
				 strerror(errno));
			return -ENODEV;
		}
	}
	return 0;
}

static void gen_uuid(char out[37])
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, b, 16) != 16)
		for (int i = 0; i < 16; i++)
			b[i] = (unsigned char)(rand() ^ (int)xvmd_now_ms());
	if (fd >= 0)
		close(fd);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6],
		 b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int free_domid(void)
{
	for (int i = 1; i < XVMD_MAX_DOMS; i++)
		if (!xvmd.doms[i])
			return i;
	return -ENOSPC;
}

static char *join_text(const char *text, char *const *ov, size_t nov)
{
	size_t n = strlen(text) + 2;
	char *s;

	for (size_t i = 0; i < nov; i++)
		n += strlen(ov[i]) + 1;
	s = malloc(n);
	if (!s)
		return NULL;
	strcpy(s, text);
	if (n > strlen(text) + 2 && *s && s[strlen(s) - 1] != '\n')
		strcat(s, "\n");
	for (size_t i = 0; i < nov; i++) {
		strcat(s, ov[i]);
		strcat(s, "\n");
	}
	return s;
}

void xvmd_dom_free(struct xvmd_dom *d);
void xvmd_dom_free(struct xvmd_dom *d)
{
	if (!d)
		return;
	xlcfg_free(d->cfg);
	free(d->text);
	free(d->source);
	free(d->cwd);
	free(d);
}

int xvmd_dom_create(const char *text, const char *source, const char *cwd,
		    char *const *ov, size_t nov, bool paused, struct xvmd_dom **out,
		    char *err, size_t errsz)
{
	struct xlcfg_error e;
	struct xvmd_dom *d;
	int id, rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->pidfd = -1;
	d->source = strdup(source);
	rc = xlcfg_parse(source, text, strlen(text), ov, nov, &d->cfg, &e);
	if (rc < 0) {
		snprintf(err, errsz, "%s", e.msg);
		goto fail;
	}
	if (cwd && *cwd && (rc = xlcfg_resolve_paths(d->cfg, cwd)) < 0) {
		snprintf(err, errsz, "%s: cannot resolve paths against '%s': %s", source, cwd,
			 rc == -EINVAL ? "not an absolute directory" : strerror(-rc));
		goto fail;
	}
	d->cwd = cwd && *cwd ? strdup(cwd) : NULL;
	rc = -EINVAL;
	if (!d->cfg->name) {
		snprintf(err, errsz, "%s: no name given", source);
		goto fail;
	}
	if (xvmd_dom_find(d->cfg->name)) {
		snprintf(err, errsz, "%s: a domain with that name exists", d->cfg->name);
		rc = -EEXIST;
		goto fail;
	}
	if ((rc = validate(d->cfg, err, errsz)) < 0)
		goto fail;
	if ((id = free_domid()) < 0) {
		snprintf(err, errsz, "%s: no free domain id", d->cfg->name);
		rc = id;
		goto fail;
	}
	d->domid = id;
	snprintf(d->name, sizeof(d->name), "%s", d->cfg->name);
	if (d->cfg->uuid_set)
		memcpy(d->uuid, d->cfg->uuid, 37);
	else
		gen_uuid(d->uuid);
	d->text = join_text(text, ov, nov);
	snprintf(d->dir, sizeof(d->dir), "%.400s/dom/%d", xvmd.rundir, id);
	rm_tree(d->dir);
	if (mkdir(d->dir, 0700) || !d->text) {
		rc = -errno;
		snprintf(err, errsz, "%s: %s: %s", d->name, d->dir, strerror(errno));
		goto fail;
	}
	char p[XVMD_PATH + 32];
	snprintf(p, sizeof(p), "%s/config.cfg", d->dir);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(d->text, f);
		fclose(f);
	}
	xvmd.doms[id] = d;
	d->start_ms = xvmd_now_ms();
	if ((rc = xvmd_store_add(d)) < 0) {
		snprintf(err, errsz, "%s: store: %s", d->name, strerror(-rc));
		goto undo;
	}
	if ((rc = xvmd_dom_spawn(d, paused, err, errsz)) < 0)
		goto undo;
	xvmd.ndoms++;
	*out = d;
	return 0;
undo:
	xvmd_store_remove(d);
	xvmd.doms[id] = NULL;
	rm_tree(d->dir);
fail:
	xvmd_dom_free(d);
	return rc;
}

static void add_arg(char **argv, int *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_arg(char **argv, int *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&argv[*n], fmt, ap) >= 0)
		(*n)++;
	va_end(ap);
}

/* the `xvm run` command line for d */
static int build_argv(struct xvmd_dom *d, bool paused, char **argv)
{
	const struct xlcfg *c = d->cfg;
	int n = 0;

	add_arg(argv, &n, "%s", xvmd.xvm_bin);
	add_arg(argv, &n, "run");
	add_arg(argv, &n, "--kernel=%s", c->kernel);
	if (c->ramdisk)
		add_arg(argv, &n, "--initrd=%s", c->ramdisk);
	if (c->cmdline)
		add_arg(argv, &n, "--cmdline=%s", c->cmdline);
	add_arg(argv, &n, "--memory=%lluM", (unsigned long long)c->memory_mib);
	add_arg(argv, &n, "--vcpus=%u", c->vcpus);
	add_arg(argv, &n, "--name=%s", d->name);
	add_arg(argv, &n, "--domid=%d", d->domid);
	add_arg(argv, &n, "--control=%s/control.sock", d->dir);
	add_arg(argv, &n, "--exit-file=%s/exit.json", d->dir);
	add_arg(argv, &n, "--console-log=%s/console.log", d->dir);
	add_arg(argv, &n, "--console=pty");
	if (paused)
		add_arg(argv, &n, "--paused");
	for (size_t i = 0; i < c->ndisks && i < 8; i++) {
		const struct xlcfg_disk *k = &c->disks[i];

		if (!k->target)
			continue;
		add_arg(argv, &n, "--disk=%s,format=%s,id=%s%s", k->target,
			k->format == XLCFG_FMT_QCOW2 ? "qcow2" : "raw", k->vdev,
			k->readonly ? ",readonly" : "");
	}
	for (size_t i = 0; i < c->nvifs && i < 8; i++) {
		const struct xlcfg_vif *v = &c->vifs[i];
		char mac[32] = "";

		if (v->mac_set)
			snprintf(mac, sizeof(mac), ",mac=%02x:%02x:%02x:%02x:%02x:%02x", v->mac[0],
				 v->mac[1], v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
		add_arg(argv, &n, "--net=bridge=%s%s,id=vif%d",
			v->bridge ? v->bridge : "xenbr0", mac, v->devid >= 0 ? v->devid : (int)i);
	}
	argv[n] = NULL;
	return n;
}

/* double fork + setsid: the VMM is not our child and outlives xvmd */
static pid_t spawn_detached(struct xvmd_dom *d, char **argv)
{
	int p[2], st;
	pid_t c, gc = -1;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	c = fork();
	if (c < 0)
		return -errno;
	if (c == 0) {
		char lp[XVMD_PATH + 32];
		int fd;

		setsid();
		gc = fork();
		if (gc != 0) {
			if (write(p[1], &gc, sizeof(gc)) < 0)
				_exit(1);
			_exit(0);
		}
		snprintf(lp, sizeof(lp), "%s/vmm.log", d->dir);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		fd = open(lp, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 2);
		execv(argv[0], argv);
		dprintf(2, "xvm: xvmd: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], &gc, sizeof(gc)) != sizeof(gc))
		gc = -ECHILD;
	close(p[0]);
	waitpid(c, &st, 0);
	return gc;
}

/* wait (bounded) until the VMM answers `status`; keep its pty */
static int wait_ready(struct xvmd_dom *d, char *err, size_t errsz)
{
	for (int i = 0; i < 2500; i++) {
		char e[256];
		json_object *r, *pty;
		char cs[XVMD_PATH + 32];

		snprintf(cs, sizeof(cs), "%s/control.sock", d->dir);
		if (access(cs, F_OK) == 0 && (r = xvmd_ctl(d, "status", NULL, e, sizeof(e)))) {
			pty = json_object_object_get(r, "console_pty");
			if (pty && json_object_is_type(pty, json_type_string))
				snprintf(d->pty, sizeof(d->pty), "%s", json_object_get_string(pty));
			json_object_put(r);
			return 0;
		}
		if (kill(d->pid, 0) && errno == ESRCH)
			break;
		usleep(2000);
	}
	char lp[XVMD_PATH + 32], line[400] = "no output";
	snprintf(lp, sizeof(lp), "%s/vmm.log", d->dir);
	FILE *f = fopen(lp, "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			;
		fclose(f);
		line[strcspn(line, "\n")] = '\0';
	}
	snprintf(err, errsz, "%s: the VMM did not start: %s", d->name, line);
	return -EIO;
}

int xvmd_dom_spawn(struct xvmd_dom *d, bool paused, char *err, size_t errsz)
{
	char *argv[64];
	char ef[XVMD_PATH + 32];
	int n = build_argv(d, paused, argv), rc;
	pid_t pid;

	snprintf(ef, sizeof(ef), "%s/exit.json", d->dir);
	unlink(ef);
	pid = spawn_detached(d, argv);
	for (int i = 0; i < n; i++)
		free(argv[i]);
	if (pid < 0) {
		snprintf(err, errsz, "%s: cannot start the VMM: %s", d->name, strerror(-pid));
		return pid;
	}
	d->pid = pid;
	d->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if ((rc = wait_ready(d, err, errsz)) < 0 || d->pidfd < 0) {
		kill(pid, SIGKILL);
		if (d->pidfd >= 0)
			close(d->pidfd);
		d->pidfd = -1;
		d->pid = 0;
		return rc < 0 ? rc : -ESRCH;
	}
	xvmd_watch_fd(d->pidfd, xvmd_dom_tag(d->domid));
	d->state = paused ? DOM_PAUSED : DOM_RUNNING;
	xvmd_store_set_pty(d);
	xvmd_meta_write(d);
	return 0;
}

void xvmd_dom_reply_waiters(struct xvmd_dom *d)
{
	while (d->waiters) {
		struct xvmd_waiter *w = d->waiters;

		d->waiters = w->next;
		xvmd_client_reply(w->cl, xvmd_ok());
		free(w);
	}
}

/* stop watching the VMM (it is gone or about to be) */
static void drop_vmm(struct xvmd_dom *d)
{
	if (d->pidfd >= 0) {
		xvmd_unwatch_fd(d->pidfd);
		close(d->pidfd);
	}
	d->pidfd = -1;
	d->pid = 0;
}

void xvmd_dom_destroy(struct xvmd_dom *d)
{
	/* SIGKILL through the pidfd (no pid reuse race); the kernel tears the
	 * VM down, nothing of it is left for xvmd to wait for */
	if (d->pid > 0 && (d->pidfd < 0 || syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL,
						   NULL, 0) < 0))
		kill(d->pid, SIGKILL);
	drop_vmm(d);
	xvmd_store_remove(d);
	xvmd.doms[d->domid] = NULL;
	xvmd.ndoms--;
	rm_tree(d->dir);
	xvmd_dom_reply_waiters(d);
	log_info("xvmd: domain %d (%s) destroyed", d->domid, d->name);
	xvmd_dom_free(d);
}

/* the pidfd is readable: the VMM has exited; read exit.json, apply policy */
void xvmd_dom_exited(struct xvmd_dom *d)
{
	char p[XVMD_PATH + 32];
	json_object *x, *o;
	const char *stop = "killed";
	int status = -1;

	drop_vmm(d);
	snprintf(p, sizeof(p), "%s/exit.json", d->dir);
	x = json_object_from_file(p);
	if (x && json_object_object_get_ex(x, "stop", &o))
		stop = json_object_get_string(o);
	if (x && json_object_object_get_ex(x, "status", &o))
		status = json_object_get_int(o);
	log_info("xvmd: domain %d (%s) stopped: %s (status %d)", d->domid, d->name, stop, status);
	xvmd_policy_apply(d, stop, status);
	json_object_put(x);
}
