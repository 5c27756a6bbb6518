/* xvmd_store.c - the store layout xvmd writes for each domain (docs/design/toolstack.md). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xvm/log.h"
#include "xvm/store.h"
#include "xvm/xvmd.h"

int xvmd_store_setf(const char *val, const char *fmt, ...)
{
	char p[512];
	va_list ap;

	if (!xvmd.st)
		return -ENOTCONN;
	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	return store_write(xvmd.st, 0, p, val ? val : "", (uint32_t)strlen(val ? val : ""));
}

void xvmd_store_set(const char *path, const char *value)
{
	if (xvmd.st)
		store_write(xvmd.st, 0, path, value, (uint32_t)strlen(value));
}

/* start xvmstored (found next to xvm) in its own session; write its pid */
static void start_store(void)
{
	char bin[XVMD_PATH + 32], dir[XVMD_PATH], db[XVMD_PATH + 16], pf[XVMD_PATH + 16];
	pid_t c;

	snprintf(dir, sizeof(dir), "%s", xvmd.xvm_bin);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	snprintf(bin, sizeof(bin), "%s/store/xvmstored", dir);
	if (access(bin, X_OK))
		snprintf(bin, sizeof(bin), "%s/xvmstored", dir);
	snprintf(db, sizeof(db), "%.400s/store.db", xvmd.rundir);
	snprintf(pf, sizeof(pf), "%.400s/xvmstored.pid", xvmd.rundir);
	c = fork();
	if (c == 0) {
		setsid();
		pid_t gc = fork();

		if (gc > 0) {
			FILE *f = fopen(pf, "w");

			if (f) {
				fprintf(f, "%d\n", (int)gc);
				fclose(f);
			}
			_exit(0);
		}
		if (gc == 0)
			execl(bin, bin, "--foreground", "--socket", xvmd.store_sock, "--db", db,
			      (char *)NULL);
		_exit(127);
	}
	if (c > 0)
		waitpid(c, NULL, 0);
}

int xvmd_store_connect(void)
{
	int rc;

	if (!xvmd.store_sock[0])
		snprintf(xvmd.store_sock, sizeof(xvmd.store_sock), "%s", store_socket_path());
	rc = store_open(xvmd.store_sock, &xvmd.st);
	if (rc == 0)
		return store_watch(xvmd.st, "/local/domain/0/backend", "xvmd-hotplug");
	log_info("xvmd: no store at %s, starting xvmstored", xvmd.store_sock);
	start_store();
	for (int i = 0; i < 300 && rc; i++) {
		usleep(10000);
		rc = store_open(xvmd.store_sock, &xvmd.st);
	}
	return rc ? rc : store_watch(xvmd.st, "/local/domain/0/backend", "xvmd-hotplug");
}

static int add_disk(struct xvmd_dom *d, int devid, const struct xlcfg_disk *k)
{
	const char *be = "/local/domain/0/backend/vbd";
	char bp[256], fp[256], id[16];
	int rc = 0;

	snprintf(bp, sizeof(bp), "%s/%d/%d", be, d->domid, devid);
	snprintf(fp, sizeof(fp), "/local/domain/%d/device/vbd/%d", d->domid, devid);
	snprintf(id, sizeof(id), "%d", d->domid);
	rc |= xvmd_store_setf(fp, "%s/frontend", bp);
	rc |= xvmd_store_setf(id, "%s/frontend-id", bp);
	rc |= xvmd_store_setf(k->target, "%s/params", bp);
	rc |= xvmd_store_setf(xlcfg_format_name(k->format), "%s/type", bp);
	rc |= xvmd_store_setf(k->readonly ? "r" : "w", "%s/mode", bp);
	rc |= xvmd_store_setf(k->vdev, "%s/dev", bp);
	rc |= xvmd_store_setf(k->devtype == XLCFG_DEV_CDROM ? "cdrom" : "disk", "%s/device-type", bp);
	rc |= xvmd_store_setf("1", "%s/online", bp);
	rc |= xvmd_store_setf("0", "%s/removable", bp);
	rc |= xvmd_store_setf("4", "%s/state", bp);
	rc |= xvmd_store_setf("connected", "%s/hotplug-status", bp);
	rc |= xvmd_store_setf(bp, "%s/backend", fp);
	rc |= xvmd_store_setf("0", "%s/backend-id", fp);
	rc |= xvmd_store_setf("4", "%s/state", fp);
	rc |= xvmd_store_setf(k->vdev, "%s/virtual-device", fp);
	rc |= xvmd_store_setf(k->devtype == XLCFG_DEV_CDROM ? "cdrom" : "disk", "%s/device-type", fp);
	return rc ? -EIO : 0;
}

static int add_vif(struct xvmd_dom *d, int devid, const struct xlcfg_vif *v)
{
	char bp[256], fp[256], id[16], mac[32] = "", h[16];
	int rc = 0;

	snprintf(bp, sizeof(bp), "/local/domain/0/backend/vif/%d/%d", d->domid, devid);
	snprintf(fp, sizeof(fp), "/local/domain/%d/device/vif/%d", d->domid, devid);
	snprintf(id, sizeof(id), "%d", d->domid);
	snprintf(h, sizeof(h), "%d", devid);
	if (v->mac_set)
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", v->mac[0], v->mac[1],
			 v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
	rc |= xvmd_store_setf(fp, "%s/frontend", bp);
	rc |= xvmd_store_setf(id, "%s/frontend-id", bp);
	rc |= xvmd_store_setf(mac, "%s/mac", bp);
	rc |= xvmd_store_setf(v->bridge ? v->bridge : "xenbr0", "%s/bridge", bp);
	rc |= xvmd_store_setf(v->ip, "%s/ip", bp);
	rc |= xvmd_store_setf(v->script, "%s/script", bp);
	rc |= xvmd_store_setf(v->vifname, "%s/vifname", bp);
	rc |= xvmd_store_setf(v->type == XLCFG_VIF_IOEMU ? "ioemu" : "vif", "%s/type", bp);
	rc |= xvmd_store_setf(h, "%s/handle", bp);
	rc |= xvmd_store_setf("1", "%s/online", bp);
	rc |= xvmd_store_setf("4", "%s/state", bp);
	rc |= xvmd_store_setf("connected", "%s/hotplug-status", bp);
	rc |= xvmd_store_setf(bp, "%s/backend", fp);
	rc |= xvmd_store_setf("0", "%s/backend-id", fp);
	rc |= xvmd_store_setf("4", "%s/state", fp);
	rc |= xvmd_store_setf(h, "%s/handle", fp);
	rc |= xvmd_store_setf(mac, "%s/mac", fp);
	return rc ? -EIO : 0;
}

static const char *act(enum xlcfg_action a)
{
	return xlcfg_action_name(a);
}

int xvmd_store_add(struct xvmd_dom *d)
{
	const struct xlcfg *c = d->cfg;
	char dp[64], vp[64], v[64];
	int rc = 0;

	snprintf(dp, sizeof(dp), "/local/domain/%d", d->domid);
	snprintf(vp, sizeof(vp), "/vm/%s", d->uuid);
	rc |= xvmd_store_setf(d->name, "%s/name", dp);
	snprintf(v, sizeof(v), "%d", d->domid);
	rc |= xvmd_store_setf(v, "%s/domid", dp);
	rc |= xvmd_store_setf(vp, "%s/vm", dp);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)c->memory_mib * 1024);
	rc |= xvmd_store_setf(v, "%s/memory/target", dp);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)c->maxmem_mib * 1024);
	rc |= xvmd_store_setf(v, "%s/memory/static-max", dp);
	for (unsigned i = 0; i < c->vcpus; i++)
		rc |= xvmd_store_setf("online", "%s/cpu/%u/availability", dp, i);
	rc |= xvmd_store_setf("xvm", "%s/console/type", dp);
	rc |= xvmd_store_setf("", "%s/control/shutdown", dp);
	rc |= xvmd_store_setf(d->name, "%s/name", vp);
	rc |= xvmd_store_setf(d->uuid, "%s/uuid", vp);
	snprintf(v, sizeof(v), "%d", d->domid);
	rc |= xvmd_store_setf(v, "%s/domid", vp);
	rc |= xvmd_store_setf(act(c->on_poweroff), "%s/on_poweroff", vp);
	rc |= xvmd_store_setf(act(c->on_reboot), "%s/on_reboot", vp);
	rc |= xvmd_store_setf(act(c->on_crash), "%s/on_crash", vp);
	rc |= xvmd_store_setf("linux", "%s/image/ostype", vp);
	rc |= xvmd_store_setf(c->kernel, "%s/image/kernel", vp);
	rc |= xvmd_store_setf(c->ramdisk, "%s/image/ramdisk", vp);
	rc |= xvmd_store_setf(c->cmdline, "%s/image/cmdline", vp);
	snprintf(v, sizeof(v), "%llu.%03llu", (unsigned long long)(d->start_ms / 1000),
		 (unsigned long long)(d->start_ms % 1000));
	rc |= xvmd_store_setf(v, "%s/start_time", vp);
	for (size_t i = 0; i < c->ndisks && !rc; i++)
		if (c->disks[i].target)
			rc = add_disk(d, 51712 + (int)i * 16, &c->disks[i]);
	for (size_t i = 0; i < c->nvifs && !rc; i++)
		rc = add_vif(d, c->vifs[i].devid >= 0 ? c->vifs[i].devid : (int)i, &c->vifs[i]);
	return rc ? -EIO : 0;
}

void xvmd_store_set_pty(struct xvmd_dom *d)
{
	if (d->pty[0])
		xvmd_store_setf(d->pty, "/local/domain/%d/console/tty", d->domid);
}

void xvmd_store_remove(struct xvmd_dom *d)
{
	char p[128];

	if (!xvmd.st)
		return;
	snprintf(p, sizeof(p), "/local/domain/%d", d->domid);
	store_rm(xvmd.st, 0, p);
	snprintf(p, sizeof(p), "/vm/%s", d->uuid);
	store_rm(xvmd.st, 0, p);
	snprintf(p, sizeof(p), "/local/domain/0/backend/vbd/%d", d->domid);
	store_rm(xvmd.st, 0, p);
	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%d", d->domid);
	store_rm(xvmd.st, 0, p);
}
