/* topfmt.h - `xvm top`'s model and formatting: samples of the xvmd `stats` op, xentop's columns.
 *
 * A sample holds every domain's cumulative counters at one time; the
 * rates (CPU(%), exits/s) come from two samples of the same domain id, as
 * xentop computes them. Kept apart from the terminal code so that it can be
 * tested with recorded stats (tests/unit/test_topfmt.c). */
#ifndef XVM_TOPFMT_H
#define XVM_TOPFMT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

struct top_dom {
	long long domid;
	char name[128];
	char state[7];           /* xentop's letters: d s b c p r */
	uint64_t cpu_ns;         /* vCPU threads' CPU time */
	uint64_t mem_kib;        /* guest RAM touched (resident) */
	uint64_t maxmem_kib;
	unsigned int vcpus, nets, vbds;
	uint64_t net_tx, net_rx; /* bytes, guest's view */
	uint64_t vbd_oo, vbd_rd, vbd_wr, vbd_rsect, vbd_wsect;
	json_object *exits;      /* {"reason": count} or NULL; owned by the sample */
	json_object *vcpu_list, *disk_list, *nic_list; /* the stats arrays or NULL (same) */
};

/* xentop's optional parts of the table (-v -n -x -r -f and their keys). */
struct top_view {
	bool vcpus;              /* "VCPUs(sec):" line per domain */
	bool nets;               /* "Net<n> RX: ... TX: ..." line per NIC */
	bool vbds;               /* "VBD BlkBack <dev> [maj:min] OO: ..." line per disk */
	bool repeat_header;      /* the column header before every domain */
	bool full_name;          /* NAME not cut at 10 characters */
};

struct top_sample {
	uint64_t t_ns;           /* when it was taken (any monotonic clock) */
	uint64_t host_mem_kib;   /* for MEM(%) and MAXMEM(%) */
	size_t n;
	struct top_dom *doms;    /* sorted by name, case-insensitively */
	json_object *reply;      /* the reply the sample came from */
};

/* Build a sample from a `stats` reply (a reference is taken on it).
 * 0, -EPROTO (no domains array) or -ENOMEM. */
int top_sample_parse(json_object *reply, uint64_t t_ns, uint64_t host_mem_kib,
		     struct top_sample *out);
void top_sample_free(struct top_sample *s);

/* CPU(%) of d between prev (NULL: none yet, 0.0) and cur, as xentop. */
double top_cpu_pct(const struct top_dom *d, const struct top_sample *cur,
		   const struct top_sample *prev);

/* xentop's header line and one row per domain (batch mode's output), with
 * the detail lines view asks for (NULL: none). */
void top_print_table(FILE *f, const struct top_sample *cur, const struct top_sample *prev,
		     const struct top_view *view);

/* The Xen virtual device number of a disk named like xvda, xvdb1, hda or
 * sda (xentop's VBD column), or 0 for other names. */
unsigned int top_vbd_dev(const char *name);

/* The exits view: per domain, each reason's exits/s and total, busiest first. */
void top_print_exits(FILE *f, const struct top_sample *cur, const struct top_sample *prev);

#endif
