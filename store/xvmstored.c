/* xvmstored.c - the xenstore-compatible store daemon: options, start-up, the loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/daemon.h"
#include "xvm/log.h"
#include "xvm/store.h"
#include "xvm/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xvmstored [--socket PATH] [--db PATH] [--foreground] [-v]\n"
		"  --socket PATH  privileged socket (default %s); Xen clients find it\n"
		"                 with XENSTORED_PATH=PATH, domains get PATH.<domid>\n"
		"  --db PATH      SQLite data file (default %s)\n"
		"  --foreground   do not detach\n"
		"  -v             log more (repeat for debug)\n",
		STORE_DEFAULT_SOCKET, STORE_DEFAULT_DB);
}

/* detach after the socket exists, so the parent's exit means "ready" */
static int detach(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	setsid();
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = STORE_DEFAULT_SOCKET, *db = STORE_DEFAULT_DB;
	bool fg = false;
	struct store s;
	uint64_t t0;
	int c, rc, verbose = 0;

	log_init("xvm", LOG_WARN);
	while ((c = getopt_long(argc, argv, "s:d:fhv", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'd': db = optarg; break;
		case 'f': fg = true; break;
		case 'v': log_set_level(++verbose > 1 ? LOG_DEBUG : LOG_INFO); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		log_err("xvmstored: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	t0 = now_ns();
	rc = store_init(&s, db);
	if (!rc)
		rc = store_listen(&s, sock);
	if (rc) {
		if (rc == -ENOMEM)
			log_err("xvmstored: cannot start: %s", strerror(-rc));
		store_fini(&s);
		return 1;
	}
	log_info("xvmstored: %llu nodes loaded from %s in %.1f ms; listening on %s",
		 (unsigned long long)s.base.count, db, (double)(now_ns() - t0) / 1e6, sock);
	if (!fg && detach()) {
		log_err("xvmstored: cannot detach: %s", strerror(errno));
		store_fini(&s);
		return 1;
	}
	rc = store_run(&s);
	store_fini(&s);
	return rc ? 1 : 0;
}
