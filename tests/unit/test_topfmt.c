/* test_topfmt.c - xvm top's columns from two recorded stats samples (tests/unit/topfmt/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xvm/topfmt.h"

static struct top_sample load(const char *dir, const char *name, uint64_t t_ns)
{
	struct top_sample s = { 0 };
	char path[4096];
	json_object *o;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	o = json_object_from_file(path);
	CHECK(o != NULL);
	CHECK(top_sample_parse(o, t_ns, 4194304 /* 4 GiB */, &s) == 0);
	json_object_put(o);
	return s;
}

/* The output of fn as a malloc'd string */
static char *capture(void (*fn)(FILE *, const struct top_sample *, const struct top_sample *),
		     const struct top_sample *cur, const struct top_sample *prev)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	fn(m, cur, prev);
	fclose(m);
	return text;
}

static struct top_view g_view;

static void table(FILE *f, const struct top_sample *cur, const struct top_sample *prev)
{
	top_print_table(f, cur, prev, NULL);
}

static void table_view(FILE *f, const struct top_sample *cur, const struct top_sample *prev)
{
	top_print_table(f, cur, prev, &g_view);
}

static const char *line(const char *text, int n, char *buf, size_t size)
{
	while (n-- > 0 && text && (text = strchr(text, '\n')))
		text++;
	if (!text)
		return "";
	snprintf(buf, size, "%.*s", (int)strcspn(text, "\n"), text);
	return buf;
}

static void check_first(const struct top_sample *s1)
{
	char *t = capture(table, s1, NULL), b[512];

	/* xentop's default widths when every number fits */
	CHECK(!strcmp(line(t, 0, b, sizeof(b)),
		      "      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS "
		      "NETS NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID"));
	/* sorted by name, case-insensitively: Alpha before web-...; names cut at 10 */
	CHECK(!strcmp(line(t, 1, b, sizeof(b)),
		      "     Alpha ----p-          0    0.0       8192    0.2     262144       6.2     1 "
		      "   0        0        0    0        0        0        0          0          0    0"));
	CHECK(!strcmp(line(t, 2, b, sizeof(b)),
		      "web-fronte -----r          4    0.0     131072    3.1    1048576      25.0     2 "
		      "   1       10       20    2        2      101       20        808        160    0"));
	CHECK(!strcmp(line(t, 3, b, sizeof(b)), ""));
	free(t);
}

static void check_second(const struct top_sample *s1, const struct top_sample *s2)
{
	char *t = capture(table, s2, s1), b[512];

	/* NETTX(k) 209715200 needs 9 digits, VBD_RD 123456790 9, VBD_RSECT 987654329 10 (fits) */
	CHECK(!strcmp(line(t, 0, b, sizeof(b)),
		      "      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS "
		      "NETS  NETTX(k) NETRX(k) VBDS   VBD_OO    VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID"));
	/* 1.5 s of CPU over 2 s: 75 %; paused Alpha: 0 */
	CHECK(!strcmp(line(t, 2, b, sizeof(b)),
		      "       new -----r          0    0.0       1024    0.0     131072       3.1     1 "
		      "   0         0        0    0        0         0        0          0          0    0"));
	CHECK(!strcmp(line(t, 3, b, sizeof(b)),
		      "web-fronte -----r          6   75.0     262144    6.2    1048576      25.0     2 "
		      "   1 209715200       40    2        3 123456790       40  987654329        320    0"));
	CHECK(!strncmp(line(t, 1, b, sizeof(b)), "     Alpha ----p-          0    0.0", 35));
	free(t);
	CHECK(s2->n == 3);
	CHECK(top_cpu_pct(&s2->doms[2], s2, s1) == 75.0);
	CHECK(top_cpu_pct(&s2->doms[1], s2, s1) == 0.0); /* "new": not in the first sample */
	CHECK(top_cpu_pct(&s2->doms[2], s2, NULL) == 0.0);
}

/* xentop -v -n -x -r -f: detail lines under each row, the header repeated */
static void check_views(const struct top_sample *s1)
{
	char *t, b[512];

	g_view = (struct top_view){ .vcpus = true, .nets = true, .vbds = true,
				    .repeat_header = true, .full_name = true };
	t = capture(table_view, s1, NULL);
	CHECK(!strncmp(line(t, 0, b, sizeof(b)), "      NAME  STATE", 17));
	CHECK(!strncmp(line(t, 1, b, sizeof(b)), "     Alpha ----p-", 17));
	CHECK(!strcmp(line(t, 2, b, sizeof(b)), "VCPUs(sec): "));   /* none reported */
	CHECK(!strncmp(line(t, 3, b, sizeof(b)), "      NAME  STATE", 17));
	CHECK(!strncmp(line(t, 4, b, sizeof(b)), "web-frontend-01 -----r          4", 33));
	CHECK(!strcmp(line(t, 5, b, sizeof(b)), "VCPUs(sec):   0:          3s  1:          1s"));
	CHECK(!strcmp(line(t, 6, b, sizeof(b)),
		      "Net0 RX:    20480bytes       20pkts        0err        0drop  "
		      "TX:    10240bytes       10pkts        0err        0drop"));
	CHECK(!strcmp(line(t, 7, b, sizeof(b)),
		      "VBD BlkBack 51712 [ca: 0]  OO:        2   RD:      100   WR:       20   "
		      "RSECT:        800   WSECT:        160"));
	CHECK(!strncmp(line(t, 8, b, sizeof(b)), "VBD BlkBack 51728 [ca:10]  OO:        0   RD:        1", 54));
	CHECK(!strcmp(line(t, 9, b, sizeof(b)), ""));
	free(t);
	/* Xen's virtual device numbers */
	CHECK(top_vbd_dev("xvda") == 51712 && top_vbd_dev("xvdb") == 51728);
	CHECK(top_vbd_dev("xvda1") == 51713 && top_vbd_dev("sda") == 2048);
	CHECK(top_vbd_dev("sdb2") == 2066 && top_vbd_dev("hda") == 768 && top_vbd_dev("hdb") == 832);
	CHECK(top_vbd_dev("hdc") == 0 && top_vbd_dev("disk0") == 0 && top_vbd_dev("xvd") == 0);
	CHECK(top_vbd_dev("xvda16") == 0 && top_vbd_dev("xvdA") == 0 && top_vbd_dev("") == 0);
}

static void check_exits(const struct top_sample *s1, const struct top_sample *s2)
{
	char *t = capture(top_print_exits, s2, s1), b[512];

	CHECK(!strcmp(line(t, 0, b, sizeof(b)),
		      "      NAME EXIT REASON                   EXITS/s          TOTAL"));
	CHECK(!strcmp(line(t, 1, b, sizeof(b)),
		      "     Alpha io                                0.0             10"));
	/* io 4000 in 2 s, mmio 200 in 2 s, hlt unchanged; zero counters left out */
	CHECK(!strcmp(line(t, 2, b, sizeof(b)),
		      "web-fronte io                             2000.0           9000"));
	CHECK(!strcmp(line(t, 3, b, sizeof(b)),
		      "           mmio                            100.0            300"));
	CHECK(!strcmp(line(t, 4, b, sizeof(b)),
		      "           hlt                               0.0             40"));
	CHECK(!strcmp(line(t, 5, b, sizeof(b)), ""));
	free(t);
}

int main(int argc, char **argv)
{
	struct top_sample s1, s2, bad;
	json_object *o = json_tokener_parse("{\"ok\": true}");
	const char *dir = argc > 1 ? argv[1] : "topfmt";

	s1 = load(dir, "stats1.json", 1000000000ull);
	s2 = load(dir, "stats2.json", 3000000000ull);
	check_first(&s1);
	check_views(&s1);
	check_second(&s1, &s2);
	check_exits(&s1, &s2);
	CHECK(top_sample_parse(o, 0, 1, &bad) < 0); /* no domains array */
	json_object_put(o);
	top_sample_free(&s1);
	top_sample_free(&s2);
	return check_report("topfmt");
}
