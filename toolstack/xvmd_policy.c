/* xvmd_policy.c - on_poweroff / on_reboot / on_crash when a VMM stops.
 *
 * coredump-*: xvm has no guest-memory dump over the control socket yet, so
 * the "core" is the domain's record (config.cfg, console.log, vmm.log,
 * exit.json) copied to RUNDIR/dump/<name>-<time>/; then destroy or restart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xvm/log.h"
#include "xvm/xvmd.h"

static void copy_file(const char *from, const char *to)
{
	FILE *a = fopen(from, "r"), *b = a ? fopen(to, "w") : NULL;
	char buf[8192];
	size_t n;

	while (a && b && (n = fread(buf, 1, sizeof(buf), a)) > 0)
		fwrite(buf, 1, n, b);
	if (a)
		fclose(a);
	if (b)
		fclose(b);
}

static void coredump(struct xvmd_dom *d)
{
	static const char *const files[] = { "config.cfg", "console.log", "vmm.log",
					     "exit.json" };
	char dir[XVMD_PATH + 128], f[XVMD_PATH + 32], t[XVMD_PATH + 200];

	snprintf(dir, sizeof(dir), "%.400s/dump", xvmd.rundir);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%.400s/dump/%.60s-%llu", xvmd.rundir, d->name,
		 (unsigned long long)xvmd_now_ms());
	mkdir(dir, 0700);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(f, sizeof(f), "%s/%s", d->dir, files[i]);
		snprintf(t, sizeof(t), "%s/%s", dir, files[i]);
		copy_file(f, t);
	}
	log_notice("xvmd: domain %d (%s): record dumped to %s", d->domid, d->name, dir);
}

static void restart(struct xvmd_dom *d, bool rename_old)
{
	char err[512];

	if (rename_old) {
		/* xl keeps the old domain under a new name; we keep only one VMM, so
		 * the restarted domain is the renamed one's successor */
		log_notice("xvmd: domain %d (%s): rename-restart", d->domid, d->name);
	}
	d->restarts++;
	d->start_ms = xvmd_now_ms();
	if (xvmd_dom_spawn(d, false, err, sizeof(err)) < 0) {
		log_err("xvmd: domain %d: restart failed: %s", d->domid, err);
		xvmd_dom_destroy(d);
		return;
	}
	log_info("xvmd: domain %d (%s) restarted (pid %d)", d->domid, d->name, (int)d->pid);
	xvmd_dom_reply_waiters(d);
}

void xvmd_policy_apply(struct xvmd_dom *d, const char *stop, int status)
{
	enum xlcfg_action a;
	bool crash = false;

	(void)status;
	if (!strcmp(stop, "poweroff")) {
		a = d->cfg->on_poweroff;
	} else if (!strcmp(stop, "reboot")) {
		a = d->cfg->on_reboot;
	} else if (!strcmp(stop, "crash") || !strcmp(stop, "error")) {
		a = d->cfg->on_crash;
		crash = true;
	} else {
		/* killed from outside (signal, quit): nothing to restart */
		xvmd_dom_destroy(d);
		return;
	}
	switch (a) {
	case XLCFG_ACT_COREDUMP_DESTROY:
		coredump(d);
		/* fall through */
	case XLCFG_ACT_DESTROY:
	case XLCFG_ACT_SOFT_RESET:
		xvmd_dom_destroy(d);
		return;
	case XLCFG_ACT_COREDUMP_RESTART:
		coredump(d);
		restart(d, false);
		return;
	case XLCFG_ACT_RESTART:
		restart(d, false);
		return;
	case XLCFG_ACT_RENAME_RESTART:
		restart(d, true);
		return;
	case XLCFG_ACT_PRESERVE:
		d->state = crash ? DOM_CRASHED : DOM_SHUTDOWN;
		xvmd_meta_write(d);
		xvmd_dom_reply_waiters(d);
		return;
	}
}
