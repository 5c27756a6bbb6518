/* topfmt.c - samples of xvmd's stats and xentop's columns (see xvm/topfmt.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xvm/api_client.h"
#include "xvm/topfmt.h"

/* json-c has no unsigned getter older than 0.14; counters stay below 2^63 */
static uint64_t u64(json_object *o, const char *key)
{
	long long v = api_int(o, key, 0);

	return v > 0 ? (uint64_t)v : 0;
}

/* xl's letters (r b p s c d, any order) or a word, to xentop's "dsbcpr" */
static void state_xentop(const char *s, char out[7])
{
	static const char order[] = "dsbcpr";

	memcpy(out, "------", 7);
	if (!strcmp(s, "running"))
		s = "r";
	else if (!strcmp(s, "paused"))
		s = "p";
	else if (!strcmp(s, "halted") || !strcmp(s, "blocked"))
		s = "b";
	else if (!strcmp(s, "stopping") || !strcmp(s, "shutdown"))
		s = "s";
	for (int i = 0; i < 6; i++)
		if (strchr(s, order[i]))
			out[i] = order[i];
}

static unsigned int count(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_array))
		return (unsigned int)json_object_array_length(v);
	if (json_object_is_type(v, json_type_int))
		return (unsigned int)json_object_get_int(v);
	return 0;
}

static uint64_t sum(json_object *arr, const char *key)
{
	uint64_t t = 0;

	for (size_t i = 0; arr && i < json_object_array_length(arr); i++)
		t += u64(json_object_array_get_idx(arr, i), key);
	return t;
}

/* One domain entry: its own fields, the VMM's stats nested in "stats" or
 * merged into the entry. */
static void parse_dom(json_object *e, struct top_dom *d)
{
	json_object *st = e, *disks, *nics, *v;

	if (json_object_object_get_ex(e, "stats", &v) && json_object_is_type(v, json_type_object))
		st = v;
	d->domid = api_int(e, "domid", -1);
	snprintf(d->name, sizeof(d->name), "%s", api_str(e, "name", "-"));
	state_xentop(api_str(e, "state", api_str(st, "state", "")), d->state);
	d->cpu_ns = u64(st, "cpu_ns");
	d->mem_kib = (json_object_object_get_ex(st, "memory_touched_bytes", NULL)
		      ? u64(st, "memory_touched_bytes") : u64(st, "memory_bytes")) / 1024;
	d->maxmem_kib = json_object_object_get_ex(e, "maxmem_kib", NULL)
			? u64(e, "maxmem_kib") : u64(st, "memory_bytes") / 1024;
	d->vcpus = count(e, "vcpus") ? count(e, "vcpus") : count(st, "vcpus");
	disks = api_array(st, "disks");
	nics = api_array(st, "nics");
	d->vbds = disks ? (unsigned int)json_object_array_length(disks) : 0;
	d->nets = nics ? (unsigned int)json_object_array_length(nics) : 0;
	d->net_tx = sum(nics, "tx_bytes");
	d->net_rx = sum(nics, "rx_bytes");
	d->vbd_oo = sum(disks, "oo_reqs");
	d->vbd_rd = sum(disks, "rd_reqs");
	d->vbd_wr = sum(disks, "wr_reqs");
	d->vbd_rsect = sum(disks, "rd_sectors");
	d->vbd_wsect = sum(disks, "wr_sectors");
	d->exits = json_object_object_get_ex(st, "exits", &v) &&
		   json_object_is_type(v, json_type_object) ? v : NULL;
	d->vcpu_list = api_array(st, "vcpus");
	d->disk_list = disks;
	d->nic_list = nics;
}

static int by_name(const void *a, const void *b)
{
	const struct top_dom *x = a, *y = b;
	int c = strcasecmp(x->name, y->name);

	return c ? c : (x->domid > y->domid) - (x->domid < y->domid);
}

int top_sample_parse(json_object *reply, uint64_t t_ns, uint64_t host_mem_kib,
		     struct top_sample *out)
{
	json_object *doms = api_array(reply, "domains");
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!doms)
		return -EPROTO;
	n = json_object_array_length(doms);
	out->doms = calloc(n ? n : 1, sizeof(*out->doms));
	if (!out->doms)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(doms, i);

		if (json_object_is_type(e, json_type_object))
			parse_dom(e, &out->doms[out->n++]);
	}
	qsort(out->doms, out->n, sizeof(*out->doms), by_name);
	out->t_ns = t_ns;
	out->host_mem_kib = host_mem_kib;
	out->reply = json_object_get(reply);
	return 0;
}

void top_sample_free(struct top_sample *s)
{
	free(s->doms);
	json_object_put(s->reply);
	memset(s, 0, sizeof(*s));
}

static const struct top_dom *find(const struct top_sample *s, long long domid)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (s->doms[i].domid == domid)
			return &s->doms[i];
	return NULL;
}

double top_cpu_pct(const struct top_dom *d, const struct top_sample *cur,
		   const struct top_sample *prev)
{
	const struct top_dom *o = find(prev, d->domid);

	if (!o || cur->t_ns <= prev->t_ns || d->cpu_ns < o->cpu_ns)
		return 0.0;
	return (double)(d->cpu_ns - o->cpu_ns) * 100.0 / (double)(cur->t_ns - prev->t_ns);
}

/* xentop's INT_FIELD_WIDTH(v + 1): the digits of v + 1 */
static int digits(uint64_t v)
{
	int n = 1;

	for (v += 1; v >= 10; v /= 10)
		n++;
	return n;
}

enum { W_TX, W_RX, W_RD, W_WR, W_RS, W_WS, W_N };

static void widths(const struct top_sample *s, int w[W_N])
{
	static const int def[W_N] = { 8, 8, 8, 8, 10, 10 };

	memcpy(w, def, sizeof(def));
	for (size_t i = 0; i < s->n; i++) {
		const struct top_dom *d = &s->doms[i];
		uint64_t v[W_N] = { d->net_tx / 1024, d->net_rx / 1024, d->vbd_rd, d->vbd_wr,
				    d->vbd_rsect, d->vbd_wsect };

		for (int k = 0; k < W_N; k++)
			w[k] = digits(v[k]) > w[k] ? digits(v[k]) : w[k];
	}
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? (double)part * 100.0 / (double)whole : 0.0;
}

static void print_header(FILE *f, const int w[W_N])
{
	fprintf(f, "%10s %6s %10s %6s %10s %6s %10s %9s %5s %4s %*s %*s %4s %8s %*s %*s %*s %*s %4s\n",
		"NAME", "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)", "MAXMEM(k)", "MAXMEM(%)",
		"VCPUS", "NETS", w[W_TX], "NETTX(k)", w[W_RX], "NETRX(k)", "VBDS", "VBD_OO",
		w[W_RD], "VBD_RD", w[W_WR], "VBD_WR", w[W_RS], "VBD_RSECT", w[W_WS], "VBD_WSECT",
		"SSID");
}

static void print_row(FILE *f, const struct top_dom *d, const struct top_sample *cur,
		      const struct top_sample *prev, const int w[W_N], bool full_name)
{
	fprintf(f, full_name ? "%10s" : "%10.10s", d->name);
	fprintf(f, " %6s %10llu %6.1f %10llu %6.1f %10llu %9.1f %5u %4u %*llu %*llu "
		"%4u %8llu %*llu %*llu %*llu %*llu %4u\n",
		d->state, (unsigned long long)(d->cpu_ns / 1000000000),
		top_cpu_pct(d, cur, prev), (unsigned long long)d->mem_kib,
		pct(d->mem_kib, cur->host_mem_kib), (unsigned long long)d->maxmem_kib,
		pct(d->maxmem_kib, cur->host_mem_kib), d->vcpus, d->nets,
		w[W_TX], (unsigned long long)(d->net_tx / 1024),
		w[W_RX], (unsigned long long)(d->net_rx / 1024), d->vbds,
		(unsigned long long)d->vbd_oo, w[W_RD], (unsigned long long)d->vbd_rd,
		w[W_WR], (unsigned long long)d->vbd_wr, w[W_RS],
		(unsigned long long)d->vbd_rsect, w[W_WS],
		(unsigned long long)d->vbd_wsect, 0u);
}

/* xentop -v: each vCPU's CPU seconds, five to a line */
static void print_vcpus(FILE *f, const struct top_dom *d)
{
	size_t n = d->vcpu_list ? json_object_array_length(d->vcpu_list) : 0;

	fputs("VCPUs(sec): ", f);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(d->vcpu_list, i);

		if (i && i % 5 == 0)
			fputs("\n        ", f);
		fprintf(f, " %2lld: %10llus", api_int(v, "id", (long long)i),
			(unsigned long long)(u64(v, "cpu_ns") / 1000000000));
	}
	fputs("\n", f);
}

/* xentop -n: per NIC, the guest's receive and transmit counters */
static void print_nets(FILE *f, const struct top_dom *d)
{
	size_t n = d->nic_list ? json_object_array_length(d->nic_list) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(d->nic_list, i);

		fprintf(f, "Net%zu RX: %8llubytes %8llupkts %8lluerr %8lludrop  "
			"TX: %8llubytes %8llupkts %8lluerr %8lludrop\n", i,
			(unsigned long long)u64(v, "rx_bytes"), (unsigned long long)u64(v, "rx_packets"),
			0ULL, (unsigned long long)u64(v, "rx_drops"),
			(unsigned long long)u64(v, "tx_bytes"), (unsigned long long)u64(v, "tx_packets"),
			0ULL, (unsigned long long)u64(v, "tx_drops"));
	}
}

unsigned int top_vbd_dev(const char *name)
{
	static const struct { const char *pfx; unsigned int major, per; } kinds[] = {
		{ "xvd", 202, 16 }, { "hd", 3, 64 }, { "sd", 8, 16 },
	};

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t l = strlen(kinds[k].pfx);
		const char *p = name + l;
		unsigned int disk, part = 0;

		if (strncmp(name, kinds[k].pfx, l) || *p < 'a' || *p > 'z')
			continue;
		disk = (unsigned int)(*p++ - 'a');
		if (!strcmp(kinds[k].pfx, "hd") && disk > 1) /* hdc, hdd: the second IDE major */
			return 0;
		while (*p >= '0' && *p <= '9' && part < kinds[k].per)
			part = part * 10 + (unsigned int)(*p++ - '0');
		if (*p || part >= kinds[k].per)
			return 0;
		return kinds[k].major << 8 | (disk * kinds[k].per + part);
	}
	return 0;
}

/* xentop -x: per disk, the backend's request and sector counters */
static void print_vbds(FILE *f, const struct top_dom *d)
{
	size_t n = d->disk_list ? json_object_array_length(d->disk_list) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(d->disk_list, i);
		unsigned int dev = top_vbd_dev(api_str(v, "id", ""));

		fprintf(f, "VBD BlkBack %4u [%2x:%2x]  OO: %8llu   RD: %8llu   WR: %8llu   "
			"RSECT: %10llu   WSECT: %10llu\n", dev, dev >> 8, dev & 0xff,
			(unsigned long long)u64(v, "oo_reqs"), (unsigned long long)u64(v, "rd_reqs"),
			(unsigned long long)u64(v, "wr_reqs"), (unsigned long long)u64(v, "rd_sectors"),
			(unsigned long long)u64(v, "wr_sectors"));
	}
}

void top_print_table(FILE *f, const struct top_sample *cur, const struct top_sample *prev,
		     const struct top_view *view)
{
	static const struct top_view none;
	const struct top_view *v = view ? view : &none;
	int w[W_N];

	widths(cur, w);
	for (size_t i = 0; i < cur->n; i++) {
		const struct top_dom *d = &cur->doms[i];

		if (i == 0 || v->repeat_header)
			print_header(f, w);
		print_row(f, d, cur, prev, w, v->full_name);
		if (v->vcpus)
			print_vcpus(f, d);
		if (v->nets)
			print_nets(f, d);
		if (v->vbds)
			print_vbds(f, d);
	}
	if (!cur->n)
		print_header(f, w);
}

struct exit_row {
	const char *reason;
	uint64_t total;
	double rate;
};

static int by_rate(const void *a, const void *b)
{
	const struct exit_row *x = a, *y = b;

	if (x->rate != y->rate)
		return x->rate < y->rate ? 1 : -1;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return strcmp(x->reason, y->reason);
}

static void print_dom_exits(FILE *f, const struct top_dom *d, const struct top_dom *o, double dt)
{
	struct exit_row *rows;
	size_t n = 0;

	if (!d->exits)
		return;
	rows = calloc((size_t)json_object_object_length(d->exits) + 1, sizeof(*rows));
	if (!rows)
		return;
	json_object_object_foreach(d->exits, reason, val) {
		long long now = json_object_get_int64(val), then = 0;
		json_object *ov;

		if (now <= 0)
			continue;
		if (o && o->exits && json_object_object_get_ex(o->exits, reason, &ov))
			then = json_object_get_int64(ov);
		/* KVM's "exits" counter is the sum over all reasons: it heads the list */
		rows[n].reason = strcmp(reason, "exits") ? reason : "(all exits)";
		rows[n].total = (uint64_t)now;
		rows[n].rate = o && dt > 0 && now >= then ? (double)(now - then) / dt : 0.0;
		n++;
	}
	qsort(rows, n, sizeof(*rows), by_rate);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%10.10s %-24.24s %12.1f %14llu\n", i ? "" : d->name, rows[i].reason,
			rows[i].rate, (unsigned long long)rows[i].total);
	free(rows);
}

void top_print_exits(FILE *f, const struct top_sample *cur, const struct top_sample *prev)
{
	double dt = prev && cur->t_ns > prev->t_ns ? (double)(cur->t_ns - prev->t_ns) / 1e9 : 0;

	fprintf(f, "%10s %-24s %12s %14s\n", "NAME", "EXIT REASON", "EXITS/s", "TOTAL");
	for (size_t i = 0; i < cur->n; i++)
		print_dom_exits(f, &cur->doms[i], find(prev, cur->doms[i].domid), dt);
}
