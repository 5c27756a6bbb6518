/* top.c - `xvm top`: xentop for xvm (batch -b, or a full-screen view; 'e' shows VM exits/s). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "xvm/api_client.h"
#include "xvm/log.h"
#include "xvm/topfmt.h"
#include "xvm/util.h"

struct top_opts {
	bool batch, exits;
	struct top_view view;
	double delay;        /* seconds */
	unsigned long iterations; /* 0: until quit */
};

struct top_host {
	uint64_t total_kib, free_kib;
	long long cpus;
	char version[64];
};

static volatile sig_atomic_t top_stop;

static void on_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

static const char top_usage[] =
	"usage: xvm top [-b] [-d SECS] [-i N] [-e] [-v] [-n] [-x] [-r] [-f]\n"
	"Domains' resource use, as xentop: NAME STATE CPU(sec) CPU(%) MEM(k) MEM(%)\n"
	"MAXMEM(k) MAXMEM(%) VCPUS NETS NETTX(k) NETRX(k) VBDS VBD_OO VBD_RD VBD_WR\n"
	"VBD_RSECT VBD_WSECT SSID. Rates are over the last interval (0.0 at first).\n"
	"  -b, --batch           print a table every interval instead of a full screen\n"
	"  -d, --delay SECS      seconds between updates (default 3; may be fractional)\n"
	"  -i, --iterations N    stop after N updates\n"
	"  -e, --exits           show VM exits per second by reason instead\n"
	"  -v, --vcpus           a line of each vCPU's CPU seconds per domain\n"
	"  -n, --networks        a line per NIC: guest RX and TX bytes, packets, drops\n"
	"  -x, --vbds            a line per disk: OO, RD, WR, RSECT, WSECT\n"
	"  -r, --repeat-header   the column header before every domain\n"
	"  -f, --full-name       do not cut NAME at 10 characters\n"
	"Keys in the full-screen view: v n b r toggle vCPUs, networks, vbds and the\n"
	"repeated header; e the exits view; q or Esc quits.\n";

static int top_parse(int argc, char **argv, struct top_opts *o)
{
	static const struct option lopts[] = {
		{ "batch", no_argument, NULL, 'b' },
		{ "delay", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "exits", no_argument, NULL, 'e' },
		{ "vcpus", no_argument, NULL, 'v' },
		{ "networks", no_argument, NULL, 'n' },
		{ "vbds", no_argument, NULL, 'x' },
		{ "repeat-header", no_argument, NULL, 'r' },
		{ "full-name", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t n;
	char *end;
	int c;

	*o = (struct top_opts){ .delay = 3.0 };
	while ((c = cmd_getopt(argc, argv, "bd:i:evnxrf", lopts)) != -1) {
		switch (c) {
		case 'v':
			o->view.vcpus = true;
			break;
		case 'n':
			o->view.nets = true;
			break;
		case 'x':
			o->view.vbds = true;
			break;
		case 'r':
			o->view.repeat_header = true;
			break;
		case 'f':
			o->view.full_name = true;
			break;
		case 'b':
			o->batch = true;
			break;
		case 'e':
			o->exits = true;
			break;
		case 'd':
			errno = 0;
			o->delay = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->delay >= 0.1 && o->delay <= 3600))
				return cmd_usage_error(argv[0], "--delay '%s': expected seconds (0.1-3600)",
						       optarg);
			break;
		case 'i':
			if (parse_uint(optarg, 1, 1000000000, &n))
				return cmd_usage_error(argv[0], "--iterations '%s': expected a count >= 1",
						       optarg);
			o->iterations = (unsigned long)n;
			break;
		default:
			return 1;
		}
	}
	if (optind < argc)
		return cmd_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Host totals from xvmd's info (MEM(%) and the summary); falls back to
 * this machine's own numbers if xvmd leaves them out. */
static int host_info(struct api_conn *c, struct top_host *h)
{
	json_object *rep;
	int rc = api_run_on(c, "top", api_request("info"), &rep);

	if (rc)
		return rc;
	h->total_kib = (uint64_t)api_int(rep, "total_memory_mib", 0) * 1024;
	h->free_kib = (uint64_t)api_int(rep, "free_memory_mib", 0) * 1024;
	h->cpus = api_int(rep, "nr_cpus", sysconf(_SC_NPROCESSORS_ONLN));
	snprintf(h->version, sizeof(h->version), "%s", api_str(rep, "xvm_version", XVM_VERSION));
	if (!h->total_kib)
		h->total_kib = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
	json_object_put(rep);
	return 0;
}

static int take_sample(struct api_conn *c, const struct top_host *h, struct top_sample *s)
{
	uint64_t t = now_ns();
	json_object *rep;
	int rc = api_run_on(c, "top", api_request("stats"), &rep);

	if (rc)
		return rc;
	rc = top_sample_parse(rep, t, h->total_kib, s);
	json_object_put(rep);
	if (rc) {
		log_err("top: xvmd's stats reply has no domains array");
		return XVM_EXIT_NOXVMD;
	}
	return 0;
}

/* Sleep up to secs; false when interrupted by SIGINT/SIGTERM. */
static bool pause_for(double secs)
{
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };

	while (!top_stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
	return !top_stop;
}

static int top_batch(struct api_conn *c, const struct top_opts *o, const struct top_host *h)
{
	struct top_sample prev = { 0 }, cur;
	bool have_prev = false;
	int rc = 0;

	for (unsigned long i = 0; !o->iterations || i < o->iterations; i++) {
		if (i && !pause_for(o->delay))
			break;
		rc = take_sample(c, h, &cur);
		if (rc)
			break;
		if (o->exits)
			top_print_exits(stdout, &cur, have_prev ? &prev : NULL);
		else
			top_print_table(stdout, &cur, have_prev ? &prev : NULL, &o->view);
		fflush(stdout);
		if (have_prev)
			top_sample_free(&prev);
		prev = cur;
		have_prev = true;
	}
	if (have_prev)
		top_sample_free(&prev);
	return rc;
}

static unsigned long long cpu_mhz(void)
{
	char line[256];
	double mhz = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "cpu MHz : %lf", &mhz) == 1)
			break;
	if (f)
		fclose(f);
	return (unsigned long long)mhz;
}

/* xentop's three summary lines */
static void summary(FILE *f, const struct top_sample *s, const struct top_host *h)
{
	unsigned int run = 0, blk = 0, pau = 0, sd = 0, cr = 0, dy = 0;
	time_t t = time(NULL);
	struct tm tm;
	char now[16];

	strftime(now, sizeof(now), "%H:%M:%S", localtime_r(&t, &tm));
	fprintf(f, "xvm top - %s   xvm %s\n", now, h->version);
	for (size_t i = 0; i < s->n; i++) {
		const char *st = s->doms[i].state; /* d s b c p r */

		if (st[5] == 'r')
			run++;
		else if (st[2] == 'b')
			blk++;
		else if (st[4] == 'p')
			pau++;
		else if (st[1] == 's')
			sd++;
		else if (st[3] == 'c')
			cr++;
		else if (st[0] == 'd')
			dy++;
	}
	fprintf(f, "%zu domains: %u running, %u blocked, %u paused, %u crashed, %u dying, "
		   "%u shutdown \n", s->n, run, blk, pau, cr, dy, sd);
	fprintf(f, "Mem: %lluk total, %lluk used, %lluk free    CPUs: %lld @ %lluMHz\n",
		(unsigned long long)h->total_kib, (unsigned long long)(h->total_kib - h->free_kib),
		(unsigned long long)h->free_kib, h->cpus, cpu_mhz());
}

/* A key of the full-screen view: toggle what it names (xentop's keys). */
static void top_key(int key, bool *exits, struct top_view *v)
{
	switch (key | 0x20) {   /* either case */
	case 'e': *exits = !*exits; break;
	case 'v': v->vcpus = !v->vcpus; break;
	case 'n': v->nets = !v->nets; break;
	case 'b': v->vbds = !v->vbds; break;
	case 'r': v->repeat_header = !v->repeat_header; break;
	default: break;
	}
}

/* Draw one screen: the text clipped to the terminal, a key line at the bottom. */
static void draw(const char *text, bool exits, const struct top_view *v)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	const char *p = text;
	int row = 0;

	ioctl(1, TIOCGWINSZ, &ws);
	if (ws.ws_row < 2)
		ws.ws_row = 24;
	fputs("\033[H\033[2J", stdout);
	while (*p && row < ws.ws_row - 1) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		fwrite(p, 1, len < ws.ws_col ? len : ws.ws_col, stdout);
		fputs("\r\n", stdout);
		row++;
		p += len + (nl ? 1 : 0);
	}
	printf("\033[%d;1H  \033[7mN\033[0metworks%s  v\033[7mB\033[0mds%s  \033[7mV\033[0mCPUs%s  "
	       "\033[7mR\033[0mepeat header%s  \033[7mE\033[0mxits%s  \033[7mQ\033[0muit", ws.ws_row,
	       v->nets ? "*" : "", v->vbds ? "*" : "", v->vcpus ? "*" : "",
	       v->repeat_header ? "*" : "", exits ? "*" : "");
	fflush(stdout);
}

/* Wait for a key up to secs; returns the key, 0 on timeout, -1 on quit. */
static int wait_key(double secs)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	int r = poll(&p, 1, (int)(secs * 1000));
	char ch;

	if (top_stop)
		return -1;
	if (r <= 0)
		return 0;
	if (read(0, &ch, 1) != 1)
		return -1;
	return (unsigned char)ch;
}

static int top_screen_loop(struct api_conn *c, const struct top_opts *o, struct top_host *h)
{
	struct top_sample prev = { 0 }, cur = { 0 }, next;
	bool exits = o->exits;
	struct top_view view = o->view;
	unsigned long i = 0;
	int rc = 0, key = 0;

	while (!o->iterations || i < o->iterations || key) {
		char *text = NULL;
		size_t len = 0;
		FILE *m;

		if (!key) {  /* a key only redraws; the timeout takes a sample */
			host_info(c, h);
			rc = take_sample(c, h, &next);
			if (rc)
				break;
			top_sample_free(&prev);
			prev = cur;
			cur = next;
			i++;
		}
		m = open_memstream(&text, &len);
		if (!m)
			break;
		summary(m, &cur, h);
		if (exits)
			top_print_exits(m, &cur, prev.reply ? &prev : NULL);
		else
			top_print_table(m, &cur, prev.reply ? &prev : NULL, &view);
		fclose(m);
		draw(text, exits, &view);
		free(text);
		if (o->iterations && i >= o->iterations)
			break;
		key = wait_key(o->delay);
		if (key < 0 || key == 'q' || key == 'Q' || key == 27)
			break;
		top_key(key, &exits, &view);
	}
	top_sample_free(&prev);
	top_sample_free(&cur);
	return rc;
}

static int top_screen(struct api_conn *c, const struct top_opts *o, struct top_host *h)
{
	struct termios saved, raw;
	int rc;

	if (!isatty(0) || !isatty(1) || tcgetattr(0, &saved)) {
		log_err("top: the full-screen view needs a terminal (use -b for batch mode)");
		return 1;
	}
	raw = saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(0, TCSANOW, &raw);
	fputs("\033[?1049h\033[?25l", stdout);
	rc = top_screen_loop(c, o, h);
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	tcsetattr(0, TCSANOW, &saved);
	return rc;
}

int cmd_top(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct top_host host = { 0 };
	struct top_opts o;
	struct api_conn *c;
	char path[4096];
	int rc;

	if (cmd_wants_help(argc, argv)) {
		fputs(top_usage, stdout);
		return 0;
	}
	if (top_parse(argc, argv, &o))
		return 1;
	rc = api_open(&c, path, sizeof(path));
	if (rc) {
		log_err("cannot reach xvmd at %s: %s (start it with 'xvmd')", path, strerror(-rc));
		return XVM_EXIT_NOXVMD;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = host_info(c, &host);
	if (!rc)
		rc = o.batch ? top_batch(c, &o, &host) : top_screen(c, &o, &host);
	api_close(c);
	return rc;
}
