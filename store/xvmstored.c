/* xvmstored.c - the xenstore-compatible store daemon: options, start-up, the loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Fork before touching the database (SQLite's locks do not survive a
 * fork); the parent exits once the child reports through a pipe that its
 * socket is listening, so "parent exited 0" means "ready". Returns the
 * pipe's write end in the child, or -errno. */
static int detach(void)
{
	int fds[2], fd;
	char status = 1;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(fds[0]);
	setsid();
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		close(fd);
	}
	return fds[1];
}

/* tell the waiting parent how start-up went */
static void report_ready(int fd, bool ok)
{
	char status = ok ? 0 : 1;

	if (fd < 0)
		return;
	if (write(fd, &status, 1) != 1)
		log_warn("xvmstored: cannot signal readiness: %s", strerror(errno));
	close(fd);
}

/* create the directories above path (mkdir -p of its dirname) */
static void make_parents(const char *path, mode_t mode)
{
	char *dir = strdup(path);

	for (char *p = dir ? dir + 1 : NULL; p && (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(dir, mode) && errno != EEXIST)
			log_warn("xvmstored: %s: cannot create: %s", dir, strerror(errno));
		*p = '/';
	}
	free(dir);
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
	int c, rc, verbose = 0, ready_fd = -1;

	log_init("xvm", LOG_WARN);
	opterr = 0; /* our own one-line message below */
	while ((c = getopt_long(argc, argv, "s:d:fhv", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'd': db = optarg; break;
		case 'f': fg = true; break;
		case 'v': log_set_level(++verbose > 1 ? LOG_DEBUG : LOG_INFO); break;
		case 'h': usage(stdout); return 0;
		default:
			log_err("xvmstored: bad option '%s' (see --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc) {
		log_err("xvmstored: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (!fg && (ready_fd = detach()) < 0) {
		log_err("xvmstored: cannot detach: %s", strerror(-ready_fd));
		return 1;
	}
	t0 = now_ns();
	make_parents(db, 0755);
	make_parents(sock, 0755);
	rc = store_init(&s, db);
	if (!rc)
		rc = store_listen(&s, sock);
	if (rc) {
		if (rc == -ENOMEM)
			log_err("xvmstored: cannot start: %s", strerror(-rc));
		store_fini(&s);
		report_ready(ready_fd, false);
		return 1;
	}
	log_info("xvmstored: %llu nodes loaded from %s in %.1f ms; listening on %s",
		 (unsigned long long)s.base.count, db, (double)(now_ns() - t0) / 1e6, sock);
	report_ready(ready_fd, true);
	rc = store_run(&s);
	store_fini(&s);
	return rc ? 1 : 0;
}
