/* domstat.c - `xvm uptime` and `xvm vcpu-list`, in xl's formats. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/commands.h"
#include "xvm/api_client.h"
#include "xvm/log.h"

static const struct option help_only[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* xl's uptime: "[D day(s), ]HH:MM[:SS]" */
static void uptime_string(unsigned long long s, bool shrt, char *buf, size_t size)
{
	unsigned long long day = s / 86400, hour = s % 86400 / 3600, min = s % 3600 / 60;
	char days[32] = "";

	if (day)
		snprintf(days, sizeof(days), "%llu day%s, ", day, day > 1 ? "s" : "");
	if (shrt)
		snprintf(buf, size, "%s%2llu:%02llu", days, hour, min);
	else
		snprintf(buf, size, "%s%2llu:%02llu:%02llu", days, hour, min, s % 60);
}

static void uptime_print(json_object *doms, bool shrt)
{
	char now[16], up[64];
	time_t t = time(NULL);
	struct tm tm;

	strftime(now, sizeof(now), "%H:%M:%S", localtime_r(&t, &tm));
	for (size_t i = 0; i < json_object_array_length(doms); i++) {
		json_object *d = json_object_array_get_idx(doms, i);
		long long ms = api_int(d, "uptime_ms", 0);

		uptime_string(ms > 0 ? (unsigned long long)ms / 1000 : 0, shrt, up, sizeof(up));
		if (shrt)
			printf(" %s up %s, %s (%lld)\n", now, up, api_str(d, "name", "-"),
			       api_int(d, "domid", -1));
		else
			printf("%-33s %4lld %s\n", api_str(d, "name", "-"), api_int(d, "domid", -1), up);
	}
}

/* One request per DOMAIN (or one for all) on one connection; fn prints. */
static int for_each_domain(int argc, char **argv, const char *op, const char *key,
			   const char *header, void (*fn)(json_object *arr, bool flag), bool flag)
{
	struct api_conn *c;
	char path[4096];
	int rc = api_open(&c, path, sizeof(path));

	if (rc) {
		log_err("cannot reach xvmd at %s: %s (start it with 'xvmd')", path, strerror(-rc));
		return XVM_EXIT_NOXVMD;
	}
	for (int i = optind; i < argc || (i == optind && optind == argc); i++) {
		json_object *req = api_request(op), *rep, *arr;

		if (req && i < argc)
			json_object_object_add(req, "domain", json_object_new_string(argv[i]));
		rc = api_run_on(c, argv[0], req, &rep);
		if (rc)
			break;
		arr = api_array(rep, key);
		if (header)
			fputs(header, stdout);
		header = NULL;
		if (arr)
			fn(arr, flag);
		json_object_put(rep);
		if (i >= argc)
			break;
	}
	api_close(c);
	return rc;
}

int cmd_uptime(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "short", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool shrt = false;
	char hdr[64];
	int c;

	if (cmd_wants_help(argc, argv)) {
		fputs("usage: xvm uptime [-s] [DOMAIN...]\n"
		      "How long each domain (or each DOMAIN) has been running.\n"
		      "  -s, --short  uptime(1)-style lines\n", stdout);
		return 0;
	}
	while ((c = cmd_getopt(argc, argv, "s", lopts)) != -1) {
		if (c != 's')
			return 1;
		shrt = true;
	}
	snprintf(hdr, sizeof(hdr), "%-33s %4s %s\n", "Name", "ID", "Uptime");
	return for_each_domain(argc, argv, "uptime", "domains", shrt ? NULL : hdr,
			       uptime_print, shrt);
}

/* The host CPU a thread last ran on (/proc/TID/stat field 39), or -1. */
static int thread_cpu(long long tid)
{
	char path[64], buf[1024], *p;
	int cpu = -1;
	size_t n;
	FILE *f;

	if (tid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%lld/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after "pid (comm)" come fields 3.. ; processor is field 39 */
	for (int field = 2; p && field < 39; field++)
		p = strchr(p + 1, ' ');
	if (p)
		cpu = atoi(p + 1);
	return cpu;
}

static void vcpu_print(json_object *vcpus, bool unused)
{
	(void)unused;
	for (size_t i = 0; i < json_object_array_length(vcpus); i++) {
		json_object *v = json_object_array_get_idx(vcpus, i);
		const char *st = api_str(v, "state", "");
		int cpu = thread_cpu(api_int(v, "tid", -1));

		printf("%-32s %5lld %5lld", api_str(v, "name", "-"), api_int(v, "domid", -1),
		       api_int(v, "vcpu", -1));
		if (cpu < 0 || !strcmp(st, "paused"))
			printf("%5c %3c%cp ", '-', '-', '-');
		else
			printf("%5d %3c%c- ", cpu, !strcmp(st, "running") ? 'r' : '-',
			       !strcmp(st, "halted") ? 'b' : '-');
		printf("%9.1f  %s / all\n", (double)api_int(v, "cpu_ns", 0) / 1e9,
		       api_str(v, "affinity", "all"));
	}
}

int cmd_vcpu_list(int argc, char **argv)
{
	char hdr[128];

	if (cmd_wants_help(argc, argv)) {
		fputs("usage: xvm vcpu-list [DOMAIN...]\n"
		      "The vCPUs of every domain (or of each DOMAIN): Name ID VCPU CPU\n"
		      "(the host CPU its thread last ran on) State (r running, b halted,\n"
		      "p paused) Time(s) (thread CPU time) Affinity (Hard / Soft), as xl.\n",
		      stdout);
		return 0;
	}
	if (cmd_getopt(argc, argv, "", help_only) != -1)
		return 1;
	snprintf(hdr, sizeof(hdr), "%-32s %5s %5s %5s %5s %9s %s\n", "Name", "ID", "VCPU", "CPU",
		 "State", "Time(s)", "Affinity (Hard / Soft)");
	return for_each_domain(argc, argv, "vcpu-list", "vcpus", hdr, vcpu_print, false);
}
