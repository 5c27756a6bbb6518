/* xvmd.c - the toolstack daemon: options, the API socket and the event loop.
 * See docs/xvmd.8.md and docs/design/toolstack.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xvm/log.h"
#include "xvm/rundir.h"
#include "xvm/store.h"
#include "xvm/util.h"
#include "xvm/xvmd.h"

struct xvmd xvmd;

#define CLIENT_BUF 65536

struct xvmd_client {
	int fd;
	size_t len;
	bool parked;
	bool drain_queued;                /* on drain_list */
	struct xvmd_client *drain_next;
	char buf[CLIENT_BUF];
};

/* Clients whose parked reply went out while more requests were already
 * buffered: the loop answers those next (not from inside the waiter walk
 * that sent the reply, which new requests could change under it). */
static struct xvmd_client *drain_list;

static const char usage[] =
"usage: xvmd [options]\n"
"\n"
"The xvm toolstack daemon: creates and supervises domains (one `xvm run`\n"
"per domain) and answers the xvmd API (docs/api.md) on a Unix socket.\n"
"\n"
"  --socket PATH        API socket (default RUNDIR/xvmd.sock)\n"
"  --rundir DIR         run directory (default $XVM_RUNDIR, /run/xvm for root,\n"
"                       else $XDG_RUNTIME_DIR/xvm or /tmp/xvm-$UID)\n"
"  --store-socket PATH  xvmstored socket (default $XVM_STORE_SOCKET or\n"
"                       /run/xvm/xvmstored.sock); started when nothing answers\n"
"  --log FILE           log file (default RUNDIR/xvmd.log)\n"
"  -f, --foreground     stay in the foreground (default)\n"
"  -d, --daemon         detach into the background\n"
"  -v, --verbose        more log lines\n"
"  -h, --help           this text\n"
"\n"
"Environment: XVM_BIN (the xvm binary; default next to xvmd), XVM_LOG.\n";

uint64_t xvmd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int xvmd_watch_fd(int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(xvmd.epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

void xvmd_unwatch_fd(int fd)
{
	epoll_ctl(xvmd.epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* tags: the listener is &xvmd.lfd, a client is a struct xvmd_client (first
 * member fd >= 0 distinguishes nothing, so domains are tagged by a pointer
 * into the doms table). */
static int listener_tag, store_tag;

static void client_free(struct xvmd_client *cl)
{
	xvmd_unwatch_fd(cl->fd);
	close(cl->fd);
	/* a parked client: the domain's waiter list still points at it */
	for (int i = 1; i < XVMD_MAX_DOMS; i++) {
		struct xvmd_dom *d = xvmd.doms[i];

		for (struct xvmd_waiter **w = d ? &d->waiters : NULL; w && *w;) {
			if ((*w)->cl == cl) {
				struct xvmd_waiter *x = *w;

				*w = x->next;
				free(x);
			} else {
				w = &(*w)->next;
			}
		}
	}
	for (struct xvmd_client **p = &drain_list; *p; p = &(*p)->drain_next)
		if (*p == cl) {
			*p = cl->drain_next;
			break;
		}
	free(cl);
}

void xvmd_client_reply(struct xvmd_client *cl, json_object *reply)
{
	const char *s = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s), off = 0;

	while (off < n + 1) {
		ssize_t w = off < n ? write(cl->fd, s + off, n - off) : write(cl->fd, "\n", 1);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	json_object_put(reply);
	if (cl->parked && !cl->drain_queued && memchr(cl->buf, '\n', cl->len)) {
		cl->drain_queued = true;
		cl->drain_next = drain_list;
		drain_list = cl;
	}
	cl->parked = false;
}

/* Answer the complete request lines buffered for cl, in order, until one
 * parks. */
static void client_process(struct xvmd_client *cl)
{
	char *nl;

	while (!cl->parked && (nl = memchr(cl->buf, '\n', cl->len))) {
		json_object *r;

		*nl = '\0';
		r = xvmd_api_handle(cl, cl->buf);
		cl->len -= (size_t)(nl + 1 - cl->buf);
		memmove(cl->buf, nl + 1, cl->len);
		cl->buf[cl->len] = '\0';
		if (r)
			xvmd_client_reply(cl, r);
		else
			cl->parked = true;
	}
}

static void drain_clients(void)
{
	while (drain_list) {
		struct xvmd_client *cl = drain_list;

		drain_list = cl->drain_next;
		cl->drain_queued = false;
		client_process(cl);
	}
}

static void client_input(struct xvmd_client *cl)
{
	ssize_t n = read(cl->fd, cl->buf + cl->len, CLIENT_BUF - 1 - cl->len);

	if (n <= 0) {
		client_free(cl);
		return;
	}
	cl->len += (size_t)n;
	cl->buf[cl->len] = '\0';
	client_process(cl);
	if (cl->len >= CLIENT_BUF - 1) {
		xvmd_client_reply(cl, xvmd_err("request longer than %d bytes", CLIENT_BUF - 1));
		client_free(cl);
	}
}

static void accept_client(void)
{
	int fd = accept4(xvmd.lfd, NULL, NULL, SOCK_CLOEXEC);
	struct xvmd_client *cl;

	if (fd < 0)
		return;
	cl = calloc(1, sizeof(*cl));
	if (!cl || xvmd_watch_fd(fd, cl) < 0) {
		free(cl);
		close(fd);
		return;
	}
	cl->fd = fd;
}

static int listen_api(void)
{
	int fd = unix_listen(xvmd.sock, 64);

	if (fd < 0)
		return fd;
	chmod(xvmd.sock, 0660);
	xvmd.lfd = fd;
	return xvmd_watch_fd(fd, &listener_tag);
}

/* parked waiters past their deadline get their error */
static void expire_waiters(void)
{
	uint64_t now = xvmd_now_ms();

	for (int i = 1; i < XVMD_MAX_DOMS; i++) {
		struct xvmd_dom *d = xvmd.doms[i];

		for (struct xvmd_waiter **w = d ? &d->waiters : NULL; w && *w;) {
			struct xvmd_waiter *x = *w;

			if (x->deadline_ms > now) {
				w = &x->next;
				continue;
			}
			*w = x->next;
			xvmd_client_reply(x->cl, xvmd_err("%s: still running after the timeout",
							  d->name));
			free(x);
		}
	}
}

/* watch events: read ones and those queued while a reply was awaited */
static void drain_store_events(void)
{
	char *p = NULL, *t = NULL;

	for (int i = 0; i < 256 && xvmd.st && store_read_event(xvmd.st, 0, &p, &t) == 0; i++) {
		if (!strcmp(t, "xvmd-hotplug"))
			xvmd_hotplug_event(p);
		free(p);
		free(t);
		p = t = NULL;
	}
}

static void dispatch(void *tag)
{
	if (tag == &listener_tag) {
		accept_client();
	} else if (tag == &store_tag) {
		drain_store_events();
	} else if ((struct xvmd_dom **)tag >= xvmd.doms &&
		   (struct xvmd_dom **)tag < xvmd.doms + XVMD_MAX_DOMS) {
		struct xvmd_dom *d = *(struct xvmd_dom **)tag;

		if (d)
			xvmd_dom_exited(d);
	} else {
		client_input(tag);
	}
}

static int run_loop(void)
{
	struct epoll_event ev[32];

	while (!xvmd.stop) {
		int n = epoll_wait(xvmd.epfd, ev, 32, 500);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++)
			dispatch(ev[i].data.ptr);
		drain_store_events();
		expire_waiters();
		drain_clients();
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	xvmd.stop = true;
}

static int parse_args(int argc, char **argv, const char **logp, bool *daemon)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "rundir", required_argument, NULL, 'r' },
		{ "store-socket", required_argument, NULL, 'S' },
		{ "log", required_argument, NULL, 'l' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fdvh", opts, NULL)) != -1) {
		switch (c) {
		case 's': snprintf(xvmd.sock, sizeof(xvmd.sock), "%s", optarg); break;
		case 'r': snprintf(xvmd.rundir, sizeof(xvmd.rundir), "%s", optarg); break;
		case 'S': snprintf(xvmd.store_sock, sizeof(xvmd.store_sock), "%s", optarg); break;
		case 'l': *logp = optarg; break;
		case 'f': *daemon = false; break;
		case 'd': *daemon = true; break;
		case 'v': log_set_level(LOG_DEBUG); break;
		case 'h': fputs(usage, stdout); return 1;
		case ':':
			log_err("option %s needs a value (see 'xvmd --help')", argv[optind - 1]);
			return -EINVAL;
		default:
			log_err("unknown option '%s' (see 'xvmd --help')", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s' (see 'xvmd --help')", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* The xvm binary: $XVM_BIN, else next to xvmd or one directory up. */
static void find_xvm(void)
{
	char self[XVMD_PATH], *slash;
	const char *env = getenv("XVM_BIN");
	ssize_t n;

	if (env && *env) {
		snprintf(xvmd.xvm_bin, sizeof(xvmd.xvm_bin), "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(xvmd.xvm_bin, sizeof(xvmd.xvm_bin), "%.400s/xvm", self);
	if (access(xvmd.xvm_bin, X_OK))
		snprintf(xvmd.xvm_bin, sizeof(xvmd.xvm_bin), "%.400s/../xvm", self);
}

static int setup(const char *logpath)
{
	char path[XVMD_PATH];
	int fd, rc;

	if (!xvmd.rundir[0] && xvm_rundir(xvmd.rundir, sizeof(xvmd.rundir)) < 0)
		return -ENAMETOOLONG;
	mkdir(xvmd.rundir, 0755);
	snprintf(path, sizeof(path), "%.400s/dom", xvmd.rundir);
	mkdir(path, 0755);
	if (!xvmd.sock[0])
		snprintf(xvmd.sock, sizeof(xvmd.sock), "%.400s/xvmd.sock", xvmd.rundir);
	snprintf(path, sizeof(path), "%.400s/xvmd.log", xvmd.rundir);
	fd = open(logpath ? logpath : path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0)
		log_set_file(fd);
	find_xvm();
	xvmd.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (xvmd.epfd < 0)
		return -errno;
	rc = xvmd_store_connect();
	if (rc < 0) {
		log_err("xvmd: store at %s: %s", xvmd.store_sock, strerror(-rc));
		return rc;
	}
	xvmd_watch_fd(store_client_fd(xvmd.st), &store_tag);
	rc = listen_api();
	if (rc < 0) {
		log_err("xvmd: %s: %s", xvmd.sock,
			rc == -EADDRINUSE ? "another xvmd answers there" : strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%.400s/xvmd.pid", xvmd.rundir);
	FILE *f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *logpath = NULL;
	bool daemon_mode = false;
	int rc;

	log_init("xvm", LOG_NOTICE);
	rc = parse_args(argc, argv, &logpath, &daemon_mode);
	if (rc)
		return rc > 0 ? 0 : 2;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (daemon_mode && daemon(0, 0)) {
		log_err("xvmd: cannot detach: %s", strerror(errno));
		return 1;
	}
	if (setup(logpath) < 0)
		return 1;
	xvmd_adopt_all();
	log_notice("xvmd: listening on %s (%d domains adopted)", xvmd.sock, xvmd.ndoms);
	rc = run_loop();
	unlink(xvmd.sock);
	return rc ? 1 : 0;
}

/* used by xvmd_domain.c to tag a domain's pidfd */
void *xvmd_dom_tag(int domid);
void *xvmd_dom_tag(int domid)
{
	return &xvmd.doms[domid];
}
