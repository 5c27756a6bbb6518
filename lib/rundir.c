/* rundir.c - the toolstack's run directory and the xvmd socket path (see xvm/rundir.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "xvm/rundir.h"

static int put(char *buf, size_t size, int n)
{
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int xvm_rundir(char *buf, size_t size)
{
	const char *env = getenv("XVM_RUNDIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && *env)
		return put(buf, size, snprintf(buf, size, "%s", env));
	if (geteuid() == 0)
		return put(buf, size, snprintf(buf, size, "/run/xvm"));
	if (xdg && *xdg)
		return put(buf, size, snprintf(buf, size, "%s/xvm", xdg));
	return put(buf, size, snprintf(buf, size, "/tmp/xvm-%u", (unsigned)geteuid()));
}

int xvm_rundir_path(const char *name, char *buf, size_t size)
{
	char dir[4096];
	int rc = xvm_rundir(dir, sizeof(dir));

	if (rc)
		return rc;
	return put(buf, size, snprintf(buf, size, "%s/%s", dir, name));
}

int xvmd_socket_path(char *buf, size_t size)
{
	const char *env = getenv("XVMD_SOCKET");

	if (env && *env)
		return put(buf, size, snprintf(buf, size, "%s", env));
	return xvm_rundir_path("xvmd.sock", buf, size);
}
