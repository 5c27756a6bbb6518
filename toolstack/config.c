/* config.c - xl.cfg interpretation: settings -> struct xlcfg (keys, defaults, checks). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolstack/config_int.h"
#include "xvm/util.h"

#define CFG_FILE_MAX (1u << 20)
#define MAX_VCPUS 1024
#define MAX_MEMORY_MIB (16ull << 20) /* 16 TiB */

struct interp {
	struct cfg_raw *raw;
	bool *used;
	struct xlcfg *cfg;
	const char *main_source;
	struct xlcfg_error *err;
};

/* An error at a value: "SOURCE:LINE:COL: KEY: what". */
static int val_err(struct interp *in, const struct xlcfg_setting *s,
		   const struct xlcfg_value *v, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int val_err(struct interp *in, const struct xlcfg_setting *s,
		   const struct xlcfg_value *v, const char *fmt, ...)
{
	char what[XLCFG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return cfg_errf(in->err, "%s:%d:%d: %s: %.400s", s->source, v->line, v->col,
			s->name, what);
}

static int warnf(struct xlcfg *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int warnf(struct xlcfg *cfg, const char *fmt, ...)
{
	char **n, *line;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	n = realloc(cfg->warnings, (cfg->nwarnings + 1) * sizeof(*n));
	if (!n) {
		free(line);
		return -ENOMEM;
	}
	cfg->warnings = n;
	cfg->warnings[cfg->nwarnings++] = line;
	return 0;
}

static const struct xlcfg_setting *find(struct interp *in, const char *name)
{
	for (size_t i = 0; i < in->raw->n; i++)
		if (!strcmp(in->raw->v[i].name, name)) {
			in->used[i] = true;
			return &in->raw->v[i];
		}
	return NULL;
}

/* A single (non-list) value; *out NULL when the key is absent. */
static int get_str(struct interp *in, const char *name, const struct xlcfg_setting **sp,
		   const char **out)
{
	const struct xlcfg_setting *s = find(in, name);

	*out = NULL;
	if (sp)
		*sp = s;
	if (!s)
		return 0;
	if (s->value->type != XLCFG_STRING)
		return val_err(in, s, s->value, "expected a single value, got a list");
	*out = s->value->str;
	return 0;
}

static int dup_str(struct interp *in, const char *name, char **dst)
{
	const char *v;
	int r = get_str(in, name, NULL, &v);

	if (r || !v)
		return r;
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

/* A number as xl reads it (strtol base 0: 0x.. hex, leading 0 octal) in
 * [min, max]; *out untouched when the key is absent. */
static int get_num(struct interp *in, const char *name, uint64_t min, uint64_t max,
		   uint64_t *out, bool *present)
{
	const struct xlcfg_setting *s;
	const char *v;
	char *end;
	uint64_t n;
	int r = get_str(in, name, &s, &v);

	if (present)
		*present = v != NULL;
	if (r || !v)
		return r;
	if (s->appended)
		return val_err(in, s, s->value, "'+=' cannot be used with numbers");
	errno = 0;
	n = (v[0] >= '0' && v[0] <= '9') ? strtoull(v, &end, 0) : 0;
	if (!(v[0] >= '0' && v[0] <= '9') || *end)
		return val_err(in, s, s->value, "expected a number, got \"%.60s\"", v);
	if (errno || n < min || n > max)
		return val_err(in, s, s->value, "%.30s is out of range (%llu-%llu)", v,
			       (unsigned long long)min, (unsigned long long)max);
	*out = n;
	return 0;
}

static const char *const action_names[] = {
	[XLCFG_ACT_DESTROY] = "destroy",
	[XLCFG_ACT_RESTART] = "restart",
	[XLCFG_ACT_RENAME_RESTART] = "rename-restart",
	[XLCFG_ACT_PRESERVE] = "preserve",
	[XLCFG_ACT_COREDUMP_DESTROY] = "coredump-destroy",
	[XLCFG_ACT_COREDUMP_RESTART] = "coredump-restart",
	[XLCFG_ACT_SOFT_RESET] = "soft-reset",
};

const char *xlcfg_action_name(enum xlcfg_action a)
{
	return (unsigned)a < ARRAY_SIZE(action_names) ? action_names[a] : "?";
}

static int get_action(struct interp *in, const char *name, enum xlcfg_action def,
		      enum xlcfg_action *out)
{
	const struct xlcfg_setting *s;
	const char *v;
	int r = get_str(in, name, &s, &v);

	*out = def;
	if (r || !v)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(action_names); i++)
		if (!strcmp(v, action_names[i])) {
			*out = (enum xlcfg_action)i;
			return 0;
		}
	return val_err(in, s, s->value, "unknown action \"%.60s\" (destroy, restart, "
		       "rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset)", v);
}

static int hexdig(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int interp_ident(struct interp *in)
{
	struct xlcfg *cfg = in->cfg;
	const struct xlcfg_setting *s;
	const char *v;
	int r;

	if ((r = get_str(in, "name", &s, &v)))
		return r;
	if (!v)
		return cfg_errf(in->err, "%s: name: missing (every domain needs a name)",
				in->main_source);
	if (!*v || strlen(v) > 64)
		return val_err(in, s, s->value, "must be 1 to 64 characters");
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/')
			return val_err(in, s, s->value, "\"%.64s\" contains '/' or a control character", v);
	if (strspn(v, "0123456789") == strlen(v))
		return val_err(in, s, s->value, "\"%.64s\" is a number (it would read as a domain id)", v);
	if (!(cfg->name = strdup(v)))
		return -ENOMEM;
	if ((r = get_str(in, "uuid", &s, &v)) || !v)
		return r;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (!v[i] || (dash ? v[i] != '-' : !hexdig(v[i])))
			return val_err(in, s, s->value, "invalid uuid \"%.60s\" (like "
				       "3f2504e0-4f89-11d3-9a0c-0305e82c3301)", v);
		cfg->uuid[i] = (char)((v[i] >= 'A' && v[i] <= 'F') ? v[i] + 32 : v[i]);
	}
	if (v[36])
		return val_err(in, s, s->value, "invalid uuid \"%.60s\" (like "
			       "3f2504e0-4f89-11d3-9a0c-0305e82c3301)", v);
	cfg->uuid_set = true;
	return 0;
}

static int interp_sizes(struct interp *in)
{
	struct xlcfg *cfg = in->cfg;
	uint64_t n = 0;
	bool mem, maxmem, maxv;
	int r;

	cfg->memory_mib = 32;
	if ((r = get_num(in, "memory", 1, MAX_MEMORY_MIB, &cfg->memory_mib, &mem)) ||
	    (r = get_num(in, "maxmem", 1, MAX_MEMORY_MIB, &cfg->maxmem_mib, &maxmem)))
		return r;
	if (!maxmem)
		cfg->maxmem_mib = cfg->memory_mib;
	else if (!mem)
		cfg->memory_mib = cfg->maxmem_mib; /* libxl: target defaults to max */
	if (cfg->maxmem_mib < cfg->memory_mib) {
		const struct xlcfg_setting *s = find(in, "maxmem");

		return val_err(in, s, s->value, "%llu MiB is less than memory (%llu MiB)",
			       (unsigned long long)cfg->maxmem_mib,
			       (unsigned long long)cfg->memory_mib);
	}
	n = 1;
	if ((r = get_num(in, "vcpus", 1, MAX_VCPUS, &n, NULL)))
		return r;
	cfg->vcpus = (unsigned)n;
	if ((r = get_num(in, "maxvcpus", 1, MAX_VCPUS, &n, &maxv)))
		return r;
	cfg->maxvcpus = (unsigned)n;
	if (maxv && cfg->maxvcpus < cfg->vcpus) {
		const struct xlcfg_setting *s = find(in, "maxvcpus");

		return val_err(in, s, s->value, "%u is less than vcpus (%u)", cfg->maxvcpus,
			       cfg->vcpus);
	}
	return 0;
}

/* cmdline wins; else "root=ROOT EXTRA", "root=ROOT" or "EXTRA" (as xl). */
static int interp_boot(struct interp *in)
{
	struct xlcfg *cfg = in->cfg;
	const struct xlcfg_setting *cs;
	const char *cmd, *root, *extra;
	int r;

	if ((r = dup_str(in, "kernel", &cfg->kernel)) || (r = dup_str(in, "ramdisk", &cfg->ramdisk)) ||
	    (r = get_str(in, "cmdline", &cs, &cmd)) || (r = get_str(in, "root", NULL, &root)) ||
	    (r = get_str(in, "extra", NULL, &extra)))
		return r;
	if (cmd) {
		if ((root || extra) &&
		    warnf(cfg, "%s:%d: ignoring root= and extra= in favour of cmdline=",
			  cs->source, cs->line))
			return -ENOMEM;
		cfg->cmdline = strdup(cmd);
	} else if (root && extra) {
		if (asprintf(&cfg->cmdline, "root=%s %s", root, extra) < 0)
			cfg->cmdline = NULL;
	} else if (root) {
		if (asprintf(&cfg->cmdline, "root=%s", root) < 0)
			cfg->cmdline = NULL;
	} else if (extra) {
		cfg->cmdline = strdup(extra);
	} else {
		return 0;
	}
	return cfg->cmdline ? 0 : -ENOMEM;
}

static int interp_actions(struct interp *in)
{
	struct xlcfg *c = in->cfg;
	int r;

	if ((r = get_action(in, "on_poweroff", XLCFG_ACT_DESTROY, &c->on_poweroff)) ||
	    (r = get_action(in, "on_reboot", XLCFG_ACT_RESTART, &c->on_reboot)) ||
	    (r = get_action(in, "on_crash", XLCFG_ACT_DESTROY, &c->on_crash)) ||
	    (r = get_action(in, "on_watchdog", XLCFG_ACT_DESTROY, &c->on_watchdog)) ||
	    (r = get_action(in, "on_soft_reset", XLCFG_ACT_SOFT_RESET, &c->on_soft_reset)))
		return r;
	return 0;
}

/* The list under `name` (NULL when absent), each item a string. */
static int get_spec_list(struct interp *in, const char *name, const struct xlcfg_setting **sp)
{
	const struct xlcfg_setting *s = find(in, name);

	*sp = s;
	if (!s)
		return 0;
	if (s->value->type != XLCFG_LIST)
		return val_err(in, s, s->value, "expected a list like [ '...', '...' ], got a single value");
	for (size_t i = 0; i < s->value->nitems; i++)
		if (s->value->items[i]->type != XLCFG_STRING)
			return val_err(in, s, s->value->items[i], "%s %zu: expected a string, got a list",
				       name, i + 1);
	return 0;
}

/* A device spec error: point into the string when it was spelled plainly. */
static int spec_err(struct interp *in, const struct xlcfg_setting *s, size_t i, size_t at,
		    const struct xlcfg_error *e)
{
	const struct xlcfg_value *v = s->value->items[i];
	int col = v->verbatim ? v->col + 1 + (int)at : v->col;

	return cfg_errf(in->err, "%s:%d:%d: %s %zu: %.400s", s->source, v->line, col,
			s->name, i + 1, e->msg);
}

static int interp_disks(struct interp *in)
{
	struct xlcfg *cfg = in->cfg;
	const struct xlcfg_setting *s;
	struct xlcfg_error e;
	size_t at;
	int r;

	if ((r = get_spec_list(in, "disk", &s)) || !s || !s->value->nitems)
		return r;
	cfg->disks = calloc(s->value->nitems, sizeof(*cfg->disks));
	if (!cfg->disks)
		return -ENOMEM;
	for (size_t i = 0; i < s->value->nitems; i++) {
		struct xlcfg_disk *d = &cfg->disks[i];

		r = xlcfg_parse_disk(s->value->items[i]->str, d, &at, &e);
		if (r == -EINVAL)
			return spec_err(in, s, i, at, &e);
		if (r)
			return r;
		cfg->ndisks++;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->disks[j].vdev, d->vdev)) {
				snprintf(e.msg, sizeof(e.msg), "vdev '%s' is already used by disk %zu",
					 d->vdev, j + 1);
				return spec_err(in, s, i, 0, &e);
			}
	}
	return 0;
}

static int interp_vifs(struct interp *in)
{
	struct xlcfg *cfg = in->cfg;
	const struct xlcfg_setting *s;
	struct xlcfg_error e;
	size_t at;
	int r;

	if ((r = get_spec_list(in, "vif", &s)) || !s || !s->value->nitems)
		return r;
	cfg->vifs = calloc(s->value->nitems, sizeof(*cfg->vifs));
	if (!cfg->vifs)
		return -ENOMEM;
	for (size_t i = 0; i < s->value->nitems; i++) {
		r = xlcfg_parse_vif(s->value->items[i]->str, &cfg->vifs[i], &at, &e);
		if (r == -EINVAL)
			return spec_err(in, s, i, at, &e);
		if (r)
			return r;
		cfg->nvifs++;
	}
	return 0;
}

/* xl keys xvm knows of but does not act on (warned differently from typos). */
static const char *const xl_ignored[] = {
	"type", "builder", "bootloader", "bootloader_args", "vfb", "vnc", "sdl", "serial",
	"pvh", "cpus", "cpus_soft", "cpu_weight", "cap", "localtime", "acpi", "apic", "pae",
	"hap", "nestedhvm", "vkb", "channel", "usb", "pci", "device_model_version",
	"device_model_override", "boot", "viridian", "videoram", "stdvga", "on_xend_start",
	"on_xend_stop", "seclabel", "pool", "vtpm", "p9", "vnuma", "max_grant_frames",
	"max_maptrack_frames", "tsc_mode", "nomigrate", "driver_domain", "xen_platform_pci",
	"cpuid", "shadow_memory", "rtc_timeoffset", "vga", "vcpu_hard_affinity", "dtdev",
};

/* The keys interpret() reads, for "did you mean" hints. */
static const char *const known_keys[] = {
	"name", "uuid", "memory", "maxmem", "vcpus", "maxvcpus", "kernel", "ramdisk",
	"cmdline", "extra", "root", "disk", "vif", "on_poweroff", "on_reboot", "on_crash",
	"on_watchdog", "on_soft_reset",
};

/* Edit distance (insert, delete, substitute, swap neighbours), capped at 3. */
static int distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int d[3][33];

	if (la > 32 || lb > 32 || (la > lb ? la - lb : lb - la) > 2)
		return 3;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int *cur = d[i % 3], *prev = d[(i - 1) % 3], *prev2 = d[(i + 1) % 3];

		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int c = prev[j - 1] + (a[i - 1] != b[j - 1]);

			c = MIN(c, prev[j] + 1);
			c = MIN(c, cur[j - 1] + 1);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
				c = MIN(c, prev2[j - 2] + 1);
			cur[j] = c;
		}
	}
	return MIN(d[la % 3][lb], 3);
}

/* The known key an unknown one is probably a typo of, or NULL. */
static const char *suggest(const char *name)
{
	int best = strlen(name) > 4 ? 3 : 2; /* accept distance 2, or 1 for short names */
	const char *hint = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(known_keys); i++) {
		int d = distance(name, known_keys[i]);

		if (d < best) {
			best = d;
			hint = known_keys[i];
		}
	}
	return hint;
}

static int warn_unknown(struct xlcfg *cfg, const struct xlcfg_setting *s, bool xl)
{
	const char *hint = suggest(s->name);

	if (xl)
		return warnf(cfg, "%s:%d: '%s' is not supported by xvm (ignored)", s->source,
			     s->line, s->name);
	if (hint)
		return warnf(cfg, "%s:%d: unknown key '%s' (ignored; did you mean '%s'?)",
			     s->source, s->line, s->name, hint);
	return warnf(cfg, "%s:%d: unknown key '%s' (ignored)", s->source, s->line, s->name);
}

/* Settings nobody asked for: warn by name and keep them in cfg->other. */
static int collect_other(struct interp *in)
{
	struct xlcfg *cfg = in->cfg;
	struct cfg_raw *raw = in->raw;
	size_t k = 0;
	int r;

	cfg->other = calloc(raw->n ? raw->n : 1, sizeof(*cfg->other));
	if (!cfg->other)
		return -ENOMEM;
	for (size_t i = 0; i < raw->n; i++) {
		struct xlcfg_setting *s = &raw->v[i];
		bool xl = false;

		if (in->used[i]) {
			raw->v[k++] = *s;
			continue;
		}
		for (size_t j = 0; j < ARRAY_SIZE(xl_ignored); j++)
			xl |= !strcmp(s->name, xl_ignored[j]);
		r = warn_unknown(cfg, s, xl);
		if (r) {
			for (; i < raw->n; i++) /* keep what is left owned by raw */
				raw->v[k++] = raw->v[i];
			raw->n = k;
			return r;
		}
		cfg->other[cfg->nother++] = *s;
	}
	raw->n = k;
	return 0;
}

static int interpret(struct interp *in)
{
	int r;

	if ((r = interp_ident(in)) || (r = interp_sizes(in)) || (r = interp_boot(in)) ||
	    (r = interp_actions(in)) || (r = interp_disks(in)) || (r = interp_vifs(in)))
		return r;
	return collect_other(in);
}

static int add_source(struct xlcfg *cfg, char *name)
{
	char **n;

	if (!name)
		return -ENOMEM;
	n = realloc(cfg->sources, (cfg->nsources + 1) * sizeof(*n));
	if (!n) {
		free(name);
		return -ENOMEM;
	}
	cfg->sources = n;
	cfg->sources[cfg->nsources++] = name;
	return 0;
}

static int parse_all(struct xlcfg *cfg, struct cfg_raw *raw, const char *source,
		     const char *text, size_t len, char *const *ov, size_t nov,
		     struct xlcfg_error *err)
{
	int r;

	if ((r = add_source(cfg, strdup(source))) ||
	    (r = cfg_raw_parse(raw, cfg->sources[0], text, len, err)))
		return r;
	for (size_t i = 0; i < nov; i++) {
		char *name;

		if (asprintf(&name, "override %zu", i + 1) < 0)
			return -ENOMEM;
		if ((r = add_source(cfg, name)) ||
		    (r = cfg_raw_parse(raw, name, ov[i], strlen(ov[i]), err)))
			return r;
	}
	return 0;
}

int xlcfg_parse(const char *source, const char *text, size_t len,
		char *const *overrides, size_t noverrides, struct xlcfg **out,
		struct xlcfg_error *err)
{
	struct cfg_raw raw = { 0 };
	struct interp in = { .raw = &raw, .main_source = source, .err = err };
	struct xlcfg *cfg = calloc(1, sizeof(*cfg));
	int r;

	*out = NULL;
	err->msg[0] = 0;
	if (!cfg)
		return -ENOMEM;
	in.cfg = cfg;
	r = parse_all(cfg, &raw, source, text, len, overrides, noverrides, err);
	if (!r) {
		in.used = calloc(raw.n ? raw.n : 1, sizeof(bool));
		r = in.used ? interpret(&in) : -ENOMEM;
		free(in.used);
	}
	cfg_raw_free(&raw);
	if (r) {
		if (r == -ENOMEM)
			snprintf(err->msg, sizeof(err->msg), "%s: out of memory", source);
		xlcfg_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

int xlcfg_load(const char *path, char *const *overrides, size_t noverrides,
	       struct xlcfg **out, struct xlcfg_error *err)
{
	uint8_t *buf;
	size_t len;
	int r;

	*out = NULL;
	r = read_file(path, CFG_FILE_MAX, &buf, &len);
	if (r == -EFBIG) {
		cfg_errf(err, "%s: too large for a config file (over 1 MiB)", path);
		return r;
	}
	if (r) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(-r));
		return r;
	}
	r = xlcfg_parse(path, (const char *)buf, len, overrides, noverrides, out, err);
	free(buf);
	return r;
}

void xlcfg_free(struct xlcfg *cfg)
{
	if (!cfg)
		return;
	free(cfg->name);
	free(cfg->kernel);
	free(cfg->ramdisk);
	free(cfg->cmdline);
	for (size_t i = 0; i < cfg->ndisks; i++)
		xlcfg_disk_clear(&cfg->disks[i]);
	free(cfg->disks);
	for (size_t i = 0; i < cfg->nvifs; i++)
		xlcfg_vif_clear(&cfg->vifs[i]);
	free(cfg->vifs);
	for (size_t i = 0; i < cfg->nother; i++) {
		free(cfg->other[i].name);
		cfg_value_free(cfg->other[i].value);
	}
	free(cfg->other);
	for (size_t i = 0; i < cfg->nwarnings; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	for (size_t i = 0; i < cfg->nsources; i++)
		free(cfg->sources[i]);
	free(cfg->sources);
	free(cfg);
}

int xlcfg_resolve_path(char **path, const char *dir)
{
	char *abs;

	if (!dir || !*dir || !path || !*path || **path == '/')
		return 0;
	if (*dir != '/')
		return -EINVAL;
	if (asprintf(&abs, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", *path) < 0)
		return -ENOMEM;
	free(*path);
	*path = abs;
	return 0;
}

int xlcfg_resolve_paths(struct xlcfg *cfg, const char *dir)
{
	int r;

	if ((r = xlcfg_resolve_path(&cfg->kernel, dir)) ||
	    (r = xlcfg_resolve_path(&cfg->ramdisk, dir)))
		return r;
	for (size_t i = 0; i < cfg->ndisks; i++)
		if ((r = xlcfg_resolve_path(&cfg->disks[i].target, dir)))
			return r;
	return 0;
}
