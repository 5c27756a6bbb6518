/* config_dev.c - xl disk specs (xl-disk-configuration) and vif specs. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toolstack/config_int.h"

/* The counted string (v, n) or (k, kn) equals a literal. */
#define IS(lit) (n == sizeof(lit) - 1 && !strncmp(v, lit, n))
#define KEY(lit) (kn == sizeof(lit) - 1 && !strncmp(k, lit, kn))

struct disk_state {
	const char *spec;
	struct xlcfg_disk *d;
	bool have_target, have_format, have_vdev, have_access;
	bool legacy_prefix; /* an xm prefix (phy:, tap:aio:, ...) took the format's place */
	size_t *at;
	struct xlcfg_error *err;
};

static int disk_err(struct disk_state *s, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int disk_err(struct disk_state *s, const char *where, const char *fmt, ...)
{
	va_list ap;

	*s->at = (size_t)(where - s->spec);
	va_start(ap, fmt);
	vsnprintf(s->err->msg, sizeof(s->err->msg), fmt, ap);
	va_end(ap);
	cfg_msg_clean(s->err->msg, sizeof(s->err->msg));
	return -EINVAL;
}

static const char *const format_names[] = {
	[XLCFG_FMT_RAW] = "raw", [XLCFG_FMT_QCOW] = "qcow",
	[XLCFG_FMT_QCOW2] = "qcow2", [XLCFG_FMT_VHD] = "vhd",
	[XLCFG_FMT_QED] = "qed", [XLCFG_FMT_EMPTY] = "empty",
};

const char *xlcfg_format_name(enum xlcfg_disk_format f)
{
	return (unsigned)f < sizeof(format_names) / sizeof(format_names[0]) ? format_names[f] : "?";
}

static int format_from(const char *s, size_t n)
{
	for (int f = XLCFG_FMT_RAW; f < XLCFG_FMT_EMPTY; f++)
		if (strlen(format_names[f]) == n && !strncmp(s, format_names[f], n))
			return f;
	return -1;
}

/* Set-once bookkeeping: "each parameter may be specified at most once". */
static int once(struct disk_state *s, bool *have, const char *what, const char *where)
{
	if (*have)
		return disk_err(s, where, "%s given more than once", what);
	*have = true;
	return 0;
}

static int set_format(struct disk_state *s, const char *at, const char *v, size_t n)
{
	int f;

	if (once(s, &s->have_format, "format", at))
		return -EINVAL;
	if (!n)
		return 0; /* empty: the default */
	f = format_from(v, n);
	if (f < 0)
		return disk_err(s, v, "unknown format '%.*s' (raw, qcow, qcow2, vhd, qed)", (int)n, v);
	s->d->format = (enum xlcfg_disk_format)f;
	return 0;
}

static int set_access(struct disk_state *s, const char *at, const char *v, size_t n)
{
	if (once(s, &s->have_access, "access", at))
		return -EINVAL;
	if (!n)
		return 0;
	if (IS("r") || IS("ro"))
		s->d->readonly = true;
	else if (IS("w") || IS("rw") || IS("w!"))
		s->d->readonly = false;
	else
		return disk_err(s, v, "unknown access mode '%.*s' (r, ro, w, rw)", (int)n, v);
	return 0;
}

/* xvd/hd/sd + letters + optional partition number, or dNpN. */
static bool vdev_valid(const char *v, size_t n)
{
	size_t i = 0;

	if (n >= 3 && !strncmp(v, "xvd", 3))
		i = 3;
	else if (n >= 2 && (!strncmp(v, "hd", 2) || !strncmp(v, "sd", 2)))
		i = 2;
	else if (n >= 2 && v[0] == 'd') {
		for (i = 1; i < n && v[i] >= '0' && v[i] <= '9'; i++)
			;
		if (i == 1)
			return false;
		if (i == n)
			return true;
		if (v[i++] != 'p' || i == n)
			return false;
		for (; i < n; i++)
			if (v[i] < '0' || v[i] > '9')
				return false;
		return true;
	} else
		return false;
	if (i == n || v[i] < 'a' || v[i] > 'z')
		return false;
	while (i < n && v[i] >= 'a' && v[i] <= 'z')
		i++;
	while (i < n && v[i] >= '0' && v[i] <= '9')
		i++;
	return i == n;
}

static int set_vdev(struct disk_state *s, const char *at, const char *v, size_t n)
{
	if (once(s, &s->have_vdev, "vdev", at))
		return -EINVAL;
	if (n > 6 && !strncmp(v + n - 6, ":cdrom", 6)) { /* legacy hdc:cdrom */
		s->d->devtype = XLCFG_DEV_CDROM;
		n -= 6;
	}
	if (!n)
		return 0;
	if (!vdev_valid(v, n))
		return disk_err(s, v, "invalid vdev '%.*s' (xvdX, hdX, sdX or dNpN)", (int)n, v);
	s->d->vdev = strndup(v, n);
	return s->d->vdev ? 0 : -ENOMEM;
}

/* Strip xm-era prefixes (phy:, file:, tap:aio:, qcow2:, ...) from a
 * positional target. */
static int legacy_prefixes(struct disk_state *s, const char **v, size_t *n, bool *phy)
{
	static const char *const ignored[] = { "phy", "file", "tap", "tap2", "tapdisk", "aio", "ioemu" };
	static const char *const scripts[] = { "iscsi", "nbd", "enbd", "drbd" };

	for (;;) {
		const char *p = *v;
		size_t k = 0;
		bool known = false;
		int next;

		while (k < *n && ((p[k] >= 'a' && p[k] <= 'z') || (k && p[k] >= '0' && p[k] <= '9')))
			k++;
		if (!k || k >= *n || p[k] != ':')
			return 0;
		next = k + 1 < *n ? (unsigned char)p[k + 1] : 0;
		for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
			if (strlen(ignored[i]) == k && !strncmp(p, ignored[i], k)) {
				known = true;
				*phy |= k == 3 && !strncmp(p, "phy", 3);
			}
		if (!known && format_from(p, k) >= 0) {
			s->d->format = (enum xlcfg_disk_format)format_from(p, k);
			known = true;
		}
		for (size_t i = 0; !known && i < sizeof(scripts) / sizeof(scripts[0]); i++)
			if (strlen(scripts[i]) == k && !strncmp(p, scripts[i], k)) {
				free(s->d->script);
				s->d->script = strndup(p, k);
				if (!s->d->script)
					return -ENOMEM;
				known = true;
			}
		if (!known && ((next >= 'a' && next <= 'z') || (next >= '0' && next <= '9')))
			return 0; /* "host:name": a plain target */
		if (!known)
			return disk_err(s, p, "unknown disk prefix '%.*s:'", (int)k, p);
		s->legacy_prefix = true;
		*v += k + 1;
		*n -= k + 1;
	}
}

static int set_target(struct disk_state *s, const char *at, const char *v, size_t n,
		      bool positional)
{
	bool phy = false;
	int r;

	if (s->have_target && s->d->target)
		return disk_err(s, at, "target given more than once");
	s->have_target = true;
	if (positional && (r = legacy_prefixes(s, &v, &n, &phy)))
		return r;
	if (!n)
		return 0;
	free(s->d->target);
	if (phy && v[0] != '/') { /* phy:vg/lv means /dev/vg/lv */
		s->d->target = malloc(n + 6);
		if (s->d->target)
			snprintf(s->d->target, n + 6, "/dev/%.*s", (int)n, v);
	} else {
		s->d->target = strndup(v, n);
	}
	return s->d->target ? 0 : -ENOMEM;
}

static int disk_positional(struct disk_state *s, const char *v, size_t n)
{
	if (!s->have_target)
		return set_target(s, v, v, n, true);
	if (!s->have_format && !s->legacy_prefix)
		return set_format(s, v, v, n);
	if (!s->have_vdev)
		return set_vdev(s, v, v, n);
	if (!s->have_access)
		return set_access(s, v, v, n);
	return disk_err(s, v, "too many positional parameters at '%.*s'", (int)n, v);
}

static int set_str(char **dst, const char *v, size_t n)
{
	free(*dst);
	*dst = strndup(v, n);
	return *dst ? 0 : -ENOMEM;
}

static int disk_keyval(struct disk_state *s, const char *k, size_t kn, const char *v, size_t n)
{
	if (KEY("format") || KEY("fmt"))
		return set_format(s, k, v, n);
	if (KEY("vdev"))
		return set_vdev(s, k, v, n);
	if (KEY("access") || KEY("mode"))
		return set_access(s, k, v, n);
	if (KEY("devtype")) {
		if (n == 5 && !strncmp(v, "cdrom", 5))
			s->d->devtype = XLCFG_DEV_CDROM;
		else if (!(n == 4 && !strncmp(v, "disk", 4)))
			return disk_err(s, v, "unknown devtype '%.*s' (cdrom or disk)", (int)n, v);
		return 0;
	}
	if (KEY("backendtype")) {
		static const char *const bt[] = { "phy", "qdisk", "tap", "standalone" };

		for (size_t i = 0; i < sizeof(bt) / sizeof(bt[0]); i++)
			if (strlen(bt[i]) == n && !strncmp(v, bt[i], n))
				return set_str(&s->d->backendtype, v, n);
		return disk_err(s, v, "unknown backendtype '%.*s' (phy, qdisk, tap, standalone)",
				(int)n, v);
	}
	if (KEY("script"))
		return set_str(&s->d->script, v, n);
	return disk_err(s, k, "unknown key '%.*s'", (int)kn, k);
}

static bool is_flag(const char *v, size_t n, struct xlcfg_disk *d)
{
	static const char *const noop[] = { "direct-io-safe", "discard", "no-discard",
					     "trusted", "untrusted" };

	if (n == 5 && !strncmp(v, "cdrom", 5)) {
		d->devtype = XLCFG_DEV_CDROM;
		return true;
	}
	for (size_t i = 0; i < sizeof(noop) / sizeof(noop[0]); i++)
		if (strlen(noop[i]) == n && !strncmp(v, noop[i], n))
			return true;
	return false;
}

static int disk_finish(struct disk_state *s)
{
	struct xlcfg_disk *d = s->d;

	if (!d->vdev)
		return disk_err(s, s->spec, "missing vdev (e.g. 'xvda')");
	if (d->devtype == XLCFG_DEV_CDROM) {
		d->readonly = true; /* as libxl: a cdrom is always read-only */
		if (!d->target)
			d->format = XLCFG_FMT_EMPTY;
	} else if (!d->target) {
		return disk_err(s, s->spec, "missing target (an image file or device)");
	}
	return 0;
}

int xlcfg_parse_disk(const char *spec, struct xlcfg_disk *d, size_t *at,
		     struct xlcfg_error *err)
{
	struct disk_state s = { .spec = spec, .d = d, .at = at, .err = err };
	const char *p = spec;
	int r = 0;

	memset(d, 0, sizeof(*d));
	*at = 0;
	while (!r) {
		const char *end, *eq;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncmp(p, "target=", 7)) { /* takes the rest, commas and all */
			r = set_target(&s, p, p + 7, strlen(p + 7), false);
			break;
		}
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq)
			r = disk_keyval(&s, p, (size_t)(eq - p), eq + 1, (size_t)(end - eq - 1));
		else if (!is_flag(p, (size_t)(end - p), d))
			r = disk_positional(&s, p, (size_t)(end - p));
		if (!*end)
			break;
		p = end + 1;
	}
	if (!r)
		r = disk_finish(&s);
	if (r)
		xlcfg_disk_clear(d);
	return r;
}

void xlcfg_disk_clear(struct xlcfg_disk *d)
{
	free(d->target);
	free(d->vdev);
	free(d->backendtype);
	free(d->script);
	memset(d, 0, sizeof(*d));
}

/* ---- vif ---- */

static int vif_err(size_t *at, size_t off, struct xlcfg_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int vif_err(size_t *at, size_t off, struct xlcfg_error *err, const char *fmt, ...)
{
	va_list ap;

	*at = off;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	cfg_msg_clean(err->msg, sizeof(err->msg));
	return -EINVAL;
}

/* Six 1-2 digit hex octets separated by ':'; 0 or -EINVAL. */
static int parse_mac(const char *v, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		int n = 0, x = 0;

		for (; n < 2; n++) {
			char c = v[n];
			int h = (c >= '0' && c <= '9') ? c - '0' :
				(c >= 'a' && c <= 'f') ? c - 'a' + 10 :
				(c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;

			if (h < 0)
				break;
			x = x * 16 + h;
		}
		if (!n || v[n] != (i < 5 ? ':' : '\0'))
			return -EINVAL;
		mac[i] = (uint8_t)x;
		v += n + (i < 5);
	}
	return 0;
}

/* Digits (base 10) into *out, at most max; returns chars used or -1. */
static int digits(const char *s, uint64_t max, uint64_t *out)
{
	int n = 0;

	*out = 0;
	while (s[n] >= '0' && s[n] <= '9') {
		*out = *out * 10 + (uint64_t)(s[n++] - '0');
		if (*out > max)
			return -1;
	}
	return n ? n : -1;
}

/* xl's rate: N[K|M|G](B|b)/s[@M[m|u][s]]; decimal units, b = bits. */
static int parse_rate(const char *v, uint64_t *bps, uint32_t *interval_us)
{
	uint64_t n, mult = 1, iv;
	int k = digits(v, UINT32_MAX, &n);

	if (k < 0 || n == 0)
		return -EINVAL;
	v += k;
	if (*v == 'K' || *v == 'M' || *v == 'G')
		mult = *v == 'K' ? 1000 : *v == 'M' ? 1000000 : 1000000000;
	v += mult > 1;
	if ((*v != 'B' && *v != 'b') || strncmp(v + 1, "/s", 2))
		return -EINVAL;
	*bps = n * mult / (*v == 'b' ? 8 : 1);
	v += 3;
	*interval_us = 50000;
	if (!*v)
		return 0;
	if (*v++ != '@' || (k = digits(v, UINT32_MAX, &iv)) < 0 || iv == 0)
		return -EINVAL;
	v += k;
	mult = 1000000;
	if (*v == 'm' || *v == 'u')
		mult = *v++ == 'm' ? 1000 : 1;
	if (*v == 's')
		v++;
	if (*v || iv * mult > UINT32_MAX)
		return -EINVAL;
	*interval_us = (uint32_t)(iv * mult);
	return 0;
}

/* Space-separated addresses, each IPv4 or IPv6 with an optional /prefix. */
static bool ip_valid(const char *v)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned char bin[16];
	int any = 0;

	while (*v) {
		size_t n = strcspn(v, " ");
		char *slash;
		uint64_t plen;

		if (n >= sizeof(buf))
			return false;
		if (n) {
			memcpy(buf, v, n);
			buf[n] = 0;
			slash = strchr(buf, '/');
			if (slash) {
				*slash++ = 0;
				if (digits(slash, 128, &plen) != (int)strlen(slash))
					return false;
			}
			if (inet_pton(AF_INET, buf, bin) != 1 && inet_pton(AF_INET6, buf, bin) != 1)
				return false;
			any = 1;
		}
		v += n + (v[n] == ' ');
	}
	return any;
}

static int vif_keyval(struct xlcfg_vif *vf, const char *tok, const char *val,
		      size_t at0, size_t *at, struct xlcfg_error *err)
{
	size_t kn = (size_t)(val - 1 - tok);
	const char *k = tok;
	uint64_t n;

	if (KEY("mac")) {
		if (parse_mac(val, vf->mac))
			return vif_err(at, at0, err, "invalid mac '%s' (six hex octets like 00:16:3e:12:34:56)", val);
		if (vf->mac[0] & 1)
			return vif_err(at, at0, err, "mac '%s' is a multicast address", val);
		vf->mac_set = true;
		return 0;
	}
	if (KEY("type")) {
		if (!strcmp(val, "vif"))
			vf->type = XLCFG_VIF_VIF;
		else if (!strcmp(val, "ioemu"))
			vf->type = XLCFG_VIF_IOEMU;
		else
			return vif_err(at, at0, err, "unknown type '%s' (vif or ioemu)", val);
		return 0;
	}
	if (KEY("rate")) {
		if (parse_rate(val, &vf->rate_bytes_per_s, &vf->rate_interval_us))
			return vif_err(at, at0, err, "invalid rate '%s' (like 10Mb/s or 1MB/s@20ms)", val);
		return 0;
	}
	if (KEY("ip")) {
		if (!ip_valid(val))
			return vif_err(at, at0, err, "invalid ip '%s' (IPv4/IPv6 addresses, space-separated)", val);
		return set_str(&vf->ip, val, strlen(val));
	}
	if (KEY("vifname")) {
		if (!*val || strlen(val) > 15 || strpbrk(val, "/: \t"))
			return vif_err(at, at0, err, "invalid vifname '%s' (1-15 characters, no '/', ':' or spaces)", val);
		return set_str(&vf->vifname, val, strlen(val));
	}
	if (KEY("devid")) {
		if (digits(val, 65535, &n) != (int)strlen(val))
			return vif_err(at, at0, err, "invalid devid '%s' (0-65535)", val);
		vf->devid = (int)n;
		return 0;
	}
	if (KEY("bridge"))
		return set_str(&vf->bridge, val, strlen(val));
	if (KEY("script"))
		return set_str(&vf->script, val, strlen(val));
	if (KEY("model"))
		return set_str(&vf->model, val, strlen(val));
	return vif_err(at, at0, err, "unknown key '%.*s'", (int)kn, k);
}

int xlcfg_parse_vif(const char *spec, struct xlcfg_vif *v, size_t *at,
		    struct xlcfg_error *err)
{
	char *copy = strdup(spec), *p, *end;
	int r = 0;

	memset(v, 0, sizeof(*v));
	v->devid = -1;
	*at = 0;
	if (!copy)
		return -ENOMEM;
	for (p = copy; !r && p; p = end ? end + 1 : NULL) {
		char *eq;

		end = strchr(p, ',');
		if (end)
			*end = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		for (char *t = p + strlen(p); t > p && (t[-1] == ' ' || t[-1] == '\t'); t--)
			t[-1] = 0; /* so is trailing space: 'mac=.. , bridge=..' */
		if (!*p)
			continue; /* empty items are skipped, as xl does */
		eq = strchr(p, '=');
		if (!eq)
			r = vif_err(at, (size_t)(p - copy), err, "expected key=value, got '%s'", p);
		else
			r = vif_keyval(v, p, eq + 1, (size_t)(p - copy), at, err);
	}
	free(copy);
	if (r)
		xlcfg_vif_clear(v);
	return r;
}

void xlcfg_vif_clear(struct xlcfg_vif *v)
{
	free(v->bridge);
	free(v->ip);
	free(v->script);
	free(v->vifname);
	free(v->model);
	memset(v, 0, sizeof(*v));
	v->devid = -1;
}
