/* test_xlcfg.c - unit tests for the xl.cfg parser: good files against expected
 * JSON, bad files against their exact error line, overrides, disk/vif specs,
 * and truncation/mutation loops (no crash, clean error or success). */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "xvm/util.h"
#include "xvm/xlcfg.h"

static char *slurp(const char *dir, const char *sub, const char *name, size_t *len)
{
	char path[1024];
	uint8_t *buf;
	size_t n;
	char *s;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	if (read_file(path, 1 << 20, &buf, &n)) {
		fprintf(stderr, "cannot read %s\n", path);
		return NULL;
	}
	if (len)
		*len = n;
	s = malloc(n + 1); /* read_file does not terminate the text */
	if (s) {
		memcpy(s, buf, n);
		s[n] = 0;
	}
	free(buf);
	return s;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* The library's JSON plus the warnings, as a json-c object. */
static json_object *cfg_json(const struct xlcfg *cfg)
{
	char *s = xlcfg_to_json(cfg);
	json_object *o = s ? json_tokener_parse(s) : NULL, *w = json_object_new_array();

	free(s);
	for (size_t i = 0; i < cfg->nwarnings; i++)
		json_object_array_add(w, json_object_new_string(cfg->warnings[i]));
	if (o)
		json_object_object_add(o, "warnings", w);
	else
		json_object_put(w);
	return o;
}

static int check_good(const char *dir, const char *name)
{
	char exp_name[256];
	size_t len;
	char *text = slurp(dir, "good", name, &len), *exp;
	struct xlcfg_error err;
	struct xlcfg *cfg = NULL;
	json_object *got, *want;
	int ok = 0;

	snprintf(exp_name, sizeof(exp_name), "%.*s.json", (int)(strlen(name) - 4), name);
	exp = slurp(dir, "good", exp_name, NULL);
	CHECK(text && exp);
	if (!text || !exp)
		goto out;
	CHECK(xlcfg_parse(name, text, len, NULL, 0, &cfg, &err) == 0);
	if (!cfg) {
		fprintf(stderr, "%s: unexpected error: %s\n", name, err.msg);
		goto out;
	}
	got = cfg_json(cfg);
	want = json_tokener_parse(exp);
	CHECK(got && want);
	ok = got && want && json_object_equal(got, want);
	CHECK(ok);
	if (!ok)
		fprintf(stderr, "%s: got\n%s\n", name,
			json_object_to_json_string_ext(got, JSON_C_TO_STRING_PRETTY));
	json_object_put(got);
	json_object_put(want);
out:
	xlcfg_free(cfg);
	free(text);
	free(exp);
	return ok;
}

static int check_bad(const char *dir, const char *name)
{
	size_t len;
	char *text = slurp(dir, "bad", name, &len), *want, *nl;
	struct xlcfg_error err;
	struct xlcfg *cfg = (struct xlcfg *)&err; /* must be reset to NULL */
	int ok;

	CHECK(text && !strncmp(text, "# expect: ", 10));
	if (!text || strncmp(text, "# expect: ", 10)) {
		free(text);
		return 0;
	}
	want = strndup(text + 10, strcspn(text + 10, "\n"));
	CHECK(xlcfg_parse(name, text, len, NULL, 0, &cfg, &err) == -EINVAL);
	CHECK(cfg == NULL);
	nl = strchr(err.msg, '\n');
	CHECK(nl == NULL);
	ok = !strcmp(err.msg, want);
	CHECK(ok);
	if (!ok)
		fprintf(stderr, "%s:\n  want: %s\n  got:  %s\n", name, want, err.msg);
	free(want);
	free(text);
	return ok;
}

/* Run check on every *.cfg of dir/sub; returns how many files there were. */
static int each_file(const char *dir, const char *sub, int (*check)(const char *, const char *))
{
	char path[1024];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	d = opendir(path);
	CHECK(d != NULL);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (ends_with(e->d_name, ".cfg")) {
			check(dir, e->d_name);
			n++;
		}
	closedir(d);
	return n;
}

/* Overrides parse with the same grammar, after the file, and win. */
static void test_overrides(const char *dir)
{
	size_t len;
	char *text = slurp(dir, "good", "lvm-phy.cfg", &len);
	const char *ov1[] = { "memory=1024", "name=\"db02\"", "disk+=[\"/c.raw,,xvdd\"]",
			"extra+=' x'", "on_crash='restart'; vcpus=4" };
	const char *ov2[] = { "vcpus=2", "vcpus=lots" };
	const char *ov3[] = { "memory=8192" };
	const char *ov4[] = { "disk=[]", "vif=[]", "cmdline=\"\"" };
	struct xlcfg_error err;
	struct xlcfg *cfg;

	CHECK(text != NULL);
	if (!text)
		return;
	CHECK(xlcfg_parse("lvm-phy.cfg", text, len, (char *const *)ov1, 5, &cfg, &err) == 0);
	if (cfg) {
		CHECK(!strcmp(cfg->name, "db02"));
		CHECK(cfg->memory_mib == 1024 && cfg->maxmem_mib == 4096);
		CHECK(cfg->vcpus == 4 && cfg->maxvcpus == 8);
		CHECK(cfg->ndisks == 4 && !strcmp(cfg->disks[3].target, "/c.raw") &&
		      !strcmp(cfg->disks[3].vdev, "xvdd") && !cfg->disks[3].readonly);
		CHECK(cfg->on_crash == XLCFG_ACT_RESTART);
		/* cmdline still wins over root/extra (extra was new: no += base) */
		CHECK(!strcmp(cfg->cmdline, "root=/dev/xvda1 ro console=hvc0 quiet"));
		CHECK(cfg->nwarnings == 1 && strstr(cfg->warnings[0], "lvm-phy.cfg:9:"));
		xlcfg_free(cfg);
	}
	CHECK(xlcfg_parse("lvm-phy.cfg", text, len, (char *const *)ov2, 2, &cfg, &err) == -EINVAL && !cfg);
	CHECK(!strcmp(err.msg, "override 2:1:7: vcpus: expected a value, got 'lots' "
			       "(strings must be quoted)"));
	/* an override can make the file's own maxmem wrong: reported there */
	CHECK(xlcfg_parse("lvm-phy.cfg", text, len, (char *const *)ov3, 1, &cfg, &err) == -EINVAL && !cfg);
	CHECK(!strcmp(err.msg, "lvm-phy.cfg:5:12: maxmem: 4096 MiB is less than memory (8192 MiB)"));
	CHECK(xlcfg_parse("lvm-phy.cfg", text, len, (char *const *)ov4, 3, &cfg, &err) == 0);
	if (cfg) {
		CHECK(cfg->ndisks == 0 && cfg->nvifs == 0 && cfg->disks == NULL);
		CHECK(cfg->cmdline && !strcmp(cfg->cmdline, ""));
		xlcfg_free(cfg);
	}
	free(text);
}

static struct xlcfg *parse_str(const char *text, struct xlcfg_error *err)
{
	struct xlcfg *cfg = NULL;

	if (xlcfg_parse("t.cfg", text, strlen(text), NULL, 0, &cfg, err))
		return NULL;
	return cfg;
}

/* The struct itself, for things JSON flattens (value tree, locations). */
static void test_struct(void)
{
	struct xlcfg_error err;
	struct xlcfg *c = parse_str("name='n'\nx = [ '1', [ \"a\\n\", 0x10 ], [] ]\n"
				    "y = 'p'\ny += 'q'\nroot='/dev/r'", &err);
	const struct xlcfg_value *v;

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(c->nother == 2 && !strcmp(c->other[0].name, "x") && !strcmp(c->other[1].name, "y"));
	CHECK(c->other[0].line == 2 && c->other[0].col == 1 && !strcmp(c->other[0].source, "t.cfg"));
	v = c->other[0].value;
	CHECK(v->type == XLCFG_LIST && v->nitems == 3 && v->line == 2 && v->col == 5);
	CHECK(v->items[0]->type == XLCFG_STRING && !strcmp(v->items[0]->str, "1") &&
	      v->items[0]->verbatim && v->items[0]->col == 7);
	CHECK(v->items[1]->type == XLCFG_LIST && v->items[1]->nitems == 2);
	CHECK(!strcmp(v->items[1]->items[0]->str, "a\n") && !v->items[1]->items[0]->verbatim);
	CHECK(!strcmp(v->items[1]->items[1]->str, "0x10"));
	CHECK(v->items[2]->type == XLCFG_LIST && v->items[2]->nitems == 0);
	CHECK(!strcmp(c->other[1].value->str, "pq") && c->other[1].appended);
	CHECK(!strcmp(c->cmdline, "root=/dev/r"));
	CHECK(c->memory_mib == 32 && c->maxmem_mib == 32 && c->vcpus == 1 && !c->uuid_set);
	CHECK(c->on_poweroff == XLCFG_ACT_DESTROY && c->on_reboot == XLCFG_ACT_RESTART &&
	      c->on_crash == XLCFG_ACT_DESTROY && c->on_soft_reset == XLCFG_ACT_SOFT_RESET);
	CHECK(c->nwarnings == 2 && !strcmp(c->warnings[0], "t.cfg:2: unknown key 'x' (ignored)"));
	xlcfg_free(c);

	/* xl's strtol(.., 0): octal with a leading 0; empty file has no name */
	c = parse_str("name='o'; memory=010", &err);
	CHECK(c && c->memory_mib == 8);
	xlcfg_free(c);
	CHECK(parse_str("", &err) == NULL && !strcmp(err.msg, "t.cfg: name: missing (every domain needs a name)"));
	/* a += with no earlier value is an assignment; re-assigning clears += */
	c = parse_str("name += 'a'; memory += 64; memory = 128", &err);
	CHECK(c && !strcmp(c->name, "a") && c->memory_mib == 128);
	xlcfg_free(c);
	/* typos of known keys get a hint; other unknown keys do not */
	c = parse_str("name='t'\nmemroy=1\nmaxvcpu=2\non_crahs='x'\nvcpu=1\nfoo=1\nvi=[]", &err);
	CHECK(c && c->nwarnings == 6 && c->memory_mib == 32);
	if (c && c->nwarnings == 6) {
		CHECK(!strcmp(c->warnings[0], "t.cfg:2: unknown key 'memroy' (ignored; did you mean 'memory'?)"));
		CHECK(!strcmp(c->warnings[1], "t.cfg:3: unknown key 'maxvcpu' (ignored; did you mean 'maxvcpus'?)"));
		CHECK(!strcmp(c->warnings[2], "t.cfg:4: unknown key 'on_crahs' (ignored; did you mean 'on_crash'?)"));
		CHECK(!strcmp(c->warnings[3], "t.cfg:5: unknown key 'vcpu' (ignored; did you mean 'vcpus'?)"));
		CHECK(!strcmp(c->warnings[4], "t.cfg:6: unknown key 'foo' (ignored)"));
		CHECK(!strcmp(c->warnings[5], "t.cfg:7: unknown key 'vi' (ignored; did you mean 'vif'?)"));
	}
	xlcfg_free(c);
	/* CRLF line ends and a trailing comment without newline */
	c = parse_str("name = 'w'\r\nvcpus = 2\r\n# end", &err);
	CHECK(c && c->vcpus == 2);
	xlcfg_free(c);
}

struct disk_case {
	const char *spec;
	const char *target, *vdev, *backendtype, *script;
	enum xlcfg_disk_format format;
	bool readonly, cdrom;
};

static void test_disk_specs(void)
{
	static const struct disk_case ok[] = {
		{ "/a,,xvda", "/a", "xvda", NULL, NULL, XLCFG_FMT_RAW, false, false },
		{ "  /a , qcow2 ,xvdb", "/a ", NULL, NULL, NULL, 0, 0, 0 }, /* see below */
		{ "phy:sda7,hda1,r", "/dev/sda7", "hda1", NULL, NULL, XLCFG_FMT_RAW, true, false },
		{ "file:img.raw,xvda,w", "img.raw", "xvda", NULL, NULL, XLCFG_FMT_RAW, false, false },
		{ "qcow2:/q,xvda", "/q", "xvda", NULL, NULL, XLCFG_FMT_QCOW2, false, false },
		{ "tap2:tapdisk:aio:/t,xvda", "/t", "xvda", NULL, NULL, XLCFG_FMT_RAW, false, false },
		{ "nbd:host:10809,xvda", "host:10809", "xvda", NULL, "nbd", XLCFG_FMT_RAW, false, false },
		{ "host:path,,xvda", "host:path", "xvda", NULL, NULL, XLCFG_FMT_RAW, false, false },
		{ "vdev=xvda,cdrom,target=", NULL, "xvda", NULL, NULL, XLCFG_FMT_EMPTY, true, true },
		{ ",,xvda,,devtype=cdrom,target=/x.iso", "/x.iso", "xvda", NULL, NULL, XLCFG_FMT_RAW, true, true },
		{ "/a,,xvda,w!", "/a", "xvda", NULL, NULL, XLCFG_FMT_RAW, false, false },
		{ "/a,,sdz9,ro,backendtype=phy,script=block-iscsi", "/a", "sdz9", "phy", "block-iscsi",
		  XLCFG_FMT_RAW, true, false },
	};
	static const struct { const char *spec, *msg; size_t at; } bad[] = {
		{ "/a,,xvda,rw,access=ro", "access given more than once", 12 },
		{ "/a,,xvda,target=/b", "target given more than once", 9 },
		{ "/a,,xvda,bogus=1", "unknown key 'bogus'", 9 },
		{ "/a,,xvda,devtype=floppy", "unknown devtype 'floppy' (cdrom or disk)", 17 },
		{ "/a,,xvda,backendtype=nfs", "unknown backendtype 'nfs' (phy, qdisk, tap, standalone)", 21 },
		{ "/a,,xvd", "invalid vdev 'xvd' (xvdX, hdX, sdX or dNpN)", 4 },
		{ "/a,,d1p", "invalid vdev 'd1p' (xvdX, hdX, sdX or dNpN)", 4 },
		{ "/a,,hda:floppy", "invalid vdev 'hda:floppy' (xvdX, hdX, sdX or dNpN)", 4 },
		{ "", "missing vdev (e.g. 'xvda')", 0 },
		{ "xyz9:/p,xvda", "unknown disk prefix 'xyz9:'", 0 },
	};
	struct xlcfg_error err;
	struct xlcfg_disk d;
	size_t at;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		const struct disk_case *c = &ok[i];
		int r = xlcfg_parse_disk(c->spec, &d, &at, &err);

		if (i == 1) { /* spaces before a parameter go, inside it they stay */
			CHECK(r == -EINVAL && !strcmp(err.msg, "unknown format 'qcow2 ' (raw, qcow, qcow2, vhd, qed)"));
			continue;
		}
		CHECK(r == 0);
		if (r) {
			fprintf(stderr, "disk '%s': %s\n", c->spec, err.msg);
			continue;
		}
		CHECK((c->target ? d.target && !strcmp(d.target, c->target) : !d.target));
		CHECK(!strcmp(d.vdev, c->vdev));
		CHECK(d.format == c->format && d.readonly == c->readonly);
		CHECK((d.devtype == XLCFG_DEV_CDROM) == c->cdrom);
		CHECK((c->backendtype ? d.backendtype && !strcmp(d.backendtype, c->backendtype) : !d.backendtype));
		CHECK((c->script ? d.script && !strcmp(d.script, c->script) : !d.script));
		xlcfg_disk_clear(&d);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK(xlcfg_parse_disk(bad[i].spec, &d, &at, &err) == -EINVAL);
		CHECK(!strcmp(err.msg, bad[i].msg) && at == bad[i].at);
		if (strcmp(err.msg, bad[i].msg) || at != bad[i].at)
			fprintf(stderr, "disk '%s': got '%s' at %zu\n", bad[i].spec, err.msg, at);
		CHECK(d.target == NULL && d.vdev == NULL); /* nothing left behind */
	}
}

static void test_vif_specs(void)
{
	static const struct { const char *spec; uint64_t bps; uint32_t us; } rates[] = {
		{ "rate=10Mb/s", 1250000, 50000 },   { "rate=1MB/s@20ms", 1000000, 20000 },
		{ "rate=8b/s@1", 1, 1000000 },       { "rate=3KB/s@7us", 3000, 7 },
		{ "rate=1GB/s@2s", 1000000000, 2000000 },
		{ "rate=4294967295B/s", 4294967295ull, 50000 },
	};
	static const char *const bad_rates[] = {
		"rate=0B/s", "rate=10Mb", "rate=10MiB/s", "rate=1MB/s@", "rate=1MB/s@0ms",
		"rate=1MB/s@5000s", "rate=4294967296B/s", "rate=", "rate=@20ms", "rate=1MB/s@2ns",
	};
	struct xlcfg_error err;
	struct xlcfg_vif v;
	size_t at;

	for (size_t i = 0; i < ARRAY_SIZE(rates); i++) {
		CHECK(xlcfg_parse_vif(rates[i].spec, &v, &at, &err) == 0);
		CHECK(v.rate_bytes_per_s == rates[i].bps && v.rate_interval_us == rates[i].us);
		xlcfg_vif_clear(&v);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_rates); i++) {
		CHECK(xlcfg_parse_vif(bad_rates[i], &v, &at, &err) == -EINVAL);
		CHECK(!strncmp(err.msg, "invalid rate '", 14));
	}
	CHECK(xlcfg_parse_vif("mac=0:1:2:a:B:cD , bridge=x", &v, &at, &err) == 0);
	CHECK(v.mac_set && v.mac[0] == 0 && v.mac[4] == 0xb && v.mac[5] == 0xcd &&
	      !strcmp(v.bridge, "x") && v.devid == -1);
	xlcfg_vif_clear(&v);
	CHECK(xlcfg_parse_vif("mac=00:16:3e:00:00:001", &v, &at, &err) == -EINVAL);
	CHECK(xlcfg_parse_vif("mac=00:16:3e:00:00", &v, &at, &err) == -EINVAL);
	CHECK(xlcfg_parse_vif("mac=00-16-3e-00-00-01", &v, &at, &err) == -EINVAL);
	CHECK(xlcfg_parse_vif("bridge=b,vifname=0123456789abcdef", &v, &at, &err) == -EINVAL &&
	      at == 9 && v.bridge == NULL);
	CHECK(xlcfg_parse_vif("vifname=0123456789abcde", &v, &at, &err) == 0);
	xlcfg_vif_clear(&v);
	CHECK(xlcfg_parse_vif("ip=10.0.0.300", &v, &at, &err) == -EINVAL);
	CHECK(xlcfg_parse_vif("ip=10.0.0.3/33x", &v, &at, &err) == -EINVAL);
	CHECK(xlcfg_parse_vif("type=vif2", &v, &at, &err) == -EINVAL);
	CHECK(xlcfg_parse_vif("devid=65536", &v, &at, &err) == -EINVAL);
	CHECK(xlcfg_parse_vif("bridge=a,bridge=b", &v, &at, &err) == 0 && !strcmp(v.bridge, "b"));
	xlcfg_vif_clear(&v);
}

/* Invariants of any parse: 0 with a config, or an error with one line. */
static int parse_invariant(const char *text, size_t len)
{
	struct xlcfg_error err;
	struct xlcfg *cfg = NULL;
	int r = xlcfg_parse("f.cfg", text, len, NULL, 0, &cfg, &err);
	int ok = (r == 0 && cfg && cfg->name) ||
		 (r == -EINVAL && !cfg && err.msg[0] && !strchr(err.msg, '\n') &&
		  !strncmp(err.msg, "f.cfg:", 6));

	if (!ok)
		fprintf(stderr, "invariant broken (r=%d): %.*s\n -> %s\n", r, (int)len, text, err.msg);
	xlcfg_free(cfg);
	return ok;
}

static void test_truncations_and_mutations(const char *dir)
{
	static const char *const files[] = { "syntax.cfg", "disks.cfg", "network.cfg", "lvm-phy.cfg" };
	static const char alphabet[] = "[]=,;'\"#\n\\+ax0_:/@";
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int bad = 0, runs = 0;

	for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
		size_t len;
		char *text = slurp(dir, "good", files[f], &len);

		CHECK(text != NULL);
		if (!text)
			continue;
		for (size_t n = 0; n <= len; n++, runs++) {
			char *cut = malloc(n + 1); /* exact size: ASan sees overreads */

			memcpy(cut, text, n);
			bad += !parse_invariant(cut, n);
			free(cut);
		}
		for (int i = 0; i < 3000; i++, runs++) {
			char *m = malloc(len);
			int edits = 1 + (int)(x % 3);

			memcpy(m, text, len);
			while (edits--) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				m[x % len] = alphabet[(x >> 32) % (sizeof(alphabet) - 1)];
			}
			bad += !parse_invariant(m, len);
			free(m);
		}
		free(text);
	}
	CHECK(bad == 0);
	printf("xlcfg: %d truncated/mutated parses, %d invariant failures\n", runs, bad);
}

/* A large config parses, and how long parsing takes (printed, not asserted). */
static void test_large_and_timing(const char *dir)
{
	size_t cap = 1 << 20, len = 0, tlen;
	char *big = malloc(cap), *text = slurp(dir, "good", "disks.cfg", &tlen);
	struct xlcfg_error err;
	struct xlcfg *cfg = NULL;
	uint64_t t0;
	int iters = 2000;

	CHECK(big && text);
	if (!big || !text)
		goto out;
	len += (size_t)snprintf(big + len, cap - len, "name = 'big'\ndisk = [\n");
	for (int i = 0; i < 1000; i++)
		len += (size_t)snprintf(big + len, cap - len, "  '/img/d%d.qcow2,qcow2,xvd%c%c%c',\n",
					i, 'a' + i / 676, 'a' + i / 26 % 26, 'a' + i % 26);
	len += (size_t)snprintf(big + len, cap - len, "]\nvif = [\n");
	for (int i = 0; i < 1000; i++)
		len += (size_t)snprintf(big + len, cap - len,
					"  'mac=00:16:3e:00:%02x:%02x,bridge=br%d,rate=10Mb/s',\n",
					i >> 8, i & 0xff, i % 4);
	len += (size_t)snprintf(big + len, cap - len, "]\n");
	t0 = now_ns();
	CHECK(xlcfg_parse("big.cfg", big, len, NULL, 0, &cfg, &err) == 0);
	if (!cfg)
		fprintf(stderr, "big.cfg: %s\n", err.msg);
	printf("xlcfg: %zu-byte config with 1000 disks and 1000 vifs: %.2f ms\n", len,
	       (double)(now_ns() - t0) / 1e6);
	CHECK(cfg && cfg->ndisks == 1000 && cfg->nvifs == 1000 &&
	      !strcmp(cfg->disks[999].vdev, "xvdbml") && cfg->vifs[999].mac[5] == 0xe7);
	xlcfg_free(cfg);
	t0 = now_ns();
	for (int i = 0; i < iters; i++) {
		CHECK(xlcfg_parse("disks.cfg", text, tlen, NULL, 0, &cfg, &err) == 0);
		xlcfg_free(cfg);
	}
	printf("xlcfg: disks.cfg (%zu bytes, 16 disks): %.1f us per parse\n", tlen,
	       (double)(now_ns() - t0) / 1e3 / iters);
out:
	free(big);
	free(text);
}

/* Relative kernel, ramdisk and disk paths resolve against a directory;
 * absolute ones and empty cdroms stay; a relative directory is refused. */
static void test_resolve_paths(void)
{
	static const char text[] = "name='r'\nkernel='k/vmlinuz'\nramdisk='/boot/initrd'\n"
				   "disk=['a.qcow2,qcow2,xvda,w', '/abs.raw,raw,xvdb,r',"
				   " ',,hdc,cdrom']\n";
	struct xlcfg_error err;
	struct xlcfg *cfg = NULL;
	char *p = strdup("x.raw");

	CHECK(xlcfg_parse("r.cfg", text, sizeof(text) - 1, NULL, 0, &cfg, &err) == 0);
	if (!cfg)
		return;
	CHECK(xlcfg_resolve_paths(cfg, "rel/dir") == -EINVAL);
	CHECK(!strcmp(cfg->kernel, "k/vmlinuz"));
	CHECK(xlcfg_resolve_paths(cfg, NULL) == 0 && !strcmp(cfg->kernel, "k/vmlinuz"));
	CHECK(xlcfg_resolve_paths(cfg, "/home/u/") == 0);
	CHECK(!strcmp(cfg->kernel, "/home/u/k/vmlinuz"));
	CHECK(!strcmp(cfg->ramdisk, "/boot/initrd"));
	CHECK(cfg->ndisks == 3 && !strcmp(cfg->disks[0].target, "/home/u/a.qcow2"));
	CHECK(cfg->ndisks == 3 && !strcmp(cfg->disks[1].target, "/abs.raw"));
	CHECK(cfg->ndisks == 3 && !cfg->disks[2].target);
	CHECK(xlcfg_resolve_path(&p, "/srv") == 0 && !strcmp(p, "/srv/x.raw"));
	free(p);
	xlcfg_free(cfg);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/unit/xlcfg";
	struct xlcfg_error err;
	struct xlcfg *cfg;
	int ngood, nbad;

	ngood = each_file(dir, "good", check_good);
	nbad = each_file(dir, "bad", check_bad);
	CHECK(ngood >= 7 && nbad >= 40);
	printf("xlcfg: %d good files, %d bad files\n", ngood, nbad);
	CHECK(xlcfg_load("/nonexistent/web.cfg", NULL, 0, &cfg, &err) == -ENOENT && !cfg);
	CHECK(!strcmp(err.msg, "/nonexistent/web.cfg: No such file or directory"));
	test_overrides(dir);
	test_struct();
	test_disk_specs();
	test_vif_specs();
	test_truncations_and_mutations(dir);
	test_large_and_timing(dir);
	test_resolve_paths();
	return check_report("test_xlcfg");
}
