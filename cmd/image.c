/* image.c - `xvm image`: create, info, snapshot, clone and check disk images. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/commands.h"
#include "xvm/block.h"
#include "xvm/log.h"
#include "xvm/util.h"

static void image_usage(FILE *f)
{
	fprintf(f,
		"usage: xvm image COMMAND ARGS...\n"
		"  create [-f raw|qcow2] [-c CLUSTER] [-b BACKING [-F FMT]] PATH [SIZE]\n"
		"                        a new image (qcow2 v3 by default; SIZE like 10G,\n"
		"                        default: the backing file's size)\n"
		"  info [--json] PATH    format, sizes and the whole backing chain\n"
		"  snapshot DISK [BASE]  freeze DISK's content as the read-only BASE\n"
		"                        (default DISK-stem.snap-<UTC time>.ext) and continue\n"
		"                        DISK on a new overlay; constant time\n"
		"  clone SRC DST         DST: a new overlay sharing SRC's content (a writable\n"
		"                        SRC is snapshotted first); constant time\n"
		"  check PATH            verify the metadata and refcounts; exit 0 clean,\n"
		"                        2 corrupt, 3 leaked clusters only\n"
		"See docs/image.md.\n");
}

static int parse_fmt(const char *s, enum blk_format *f)
{
	if (!strcmp(s, "raw"))
		*f = BLK_FMT_RAW;
	else if (!strcmp(s, "qcow2"))
		*f = BLK_FMT_QCOW2;
	else {
		log_err("image: unknown format '%s' (raw or qcow2)", s);
		return -EINVAL;
	}
	return 0;
}

static int im_create(int argc, char **argv)
{
	struct blk_create_opts o = { .format = BLK_FMT_QCOW2 };
	uint64_t v;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt(argc, argv, "+f:c:b:F:")) != -1) {
		switch (c) {
		case 'f':
			if (parse_fmt(optarg, &o.format))
				return 2;
			break;
		case 'F':
			if (parse_fmt(optarg, &o.backing_format))
				return 2;
			break;
		case 'b':
			o.backing = optarg;
			break;
		case 'c':
			if (parse_size(optarg, 1, &v) || v < 512 || v > (2u << 20) || (v & (v - 1))) {
				log_err("image create: cluster size '%s': a power of two from 512 to 2M", optarg);
				return 2;
			}
			o.cluster_bits = (unsigned)__builtin_ctzll(v);
			break;
		default:
			log_err("image create: %s '-%c' (see 'xvm image --help')",
				optopt && strchr("fcbF", optopt) ? "missing value for" : "unknown option",
				optopt);
			return 2;
		}
	}
	if (argc - optind < 1 || argc - optind > 2 || (argc - optind == 1 && !o.backing)) {
		log_err("image create: expected PATH and SIZE (SIZE optional with -b)");
		return 2;
	}
	o.path = argv[optind];
	if (argc - optind == 2) {
		int rc = parse_size(argv[optind + 1], 1, &o.size);

		if (rc || !o.size) {
			log_err("image create: size '%s': %s", argv[optind + 1],
				rc ? strerror(-rc) : "must not be zero");
			return 2;
		}
	}
	return blk_image_create(&o) ? 1 : 0;
}

static void human(uint64_t b, char *out, size_t len)
{
	static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double d = (double)b;
	int i = 0;

	while (d >= 1024 && i < 5) {
		d /= 1024;
		i++;
	}
	snprintf(out, len, i ? "%.3g %s" : "%.0f %s", d, u[i]);
}

static void print_text(const struct blk_info *v, int n)
{
	char a[32], b[32];

	for (int i = 0; i < n; i++) {
		human(v[i].size, a, sizeof(a));
		human(v[i].disk_bytes, b, sizeof(b));
		printf("%simage: %s\n", i ? "\n" : "", v[i].path);
		printf("format: %s", blk_format_name(v[i].format));
		if (v[i].version)
			printf(" (version %u, cluster size %u)", v[i].version, v[i].cluster_size);
		printf("\nvirtual size: %s (%llu bytes)\ndisk size: %s\n", a,
		       (unsigned long long)v[i].size, b);
		printf("read-only file: %s\n", v[i].file_readonly ? "yes" : "no");
		if (v[i].backing)
			printf("backing file: %s (format %s)\n", v[i].backing,
			       v[i].backing_format ? v[i].backing_format : "probed");
	}
	printf("\nbacking chain (%d):\n", n);
	for (int i = 0; i < n; i++)
		printf("  %d  %s  %s%s\n", i, blk_format_name(v[i].format), v[i].path,
		       v[i].file_readonly ? "  (read-only)" : "");
}

/* The chain as a JSON array, top first. 0 or -ENOMEM. */
static int print_json(const struct blk_info *v, int n)
{
	json_object *arr = json_object_new_array();
	int rc = 0;

	for (int i = 0; arr && i < n; i++) {
		json_object *o = json_object_new_object();

		if (!o) {
			rc = -ENOMEM;
			break;
		}
		json_object_object_add(o, "path", json_object_new_string(v[i].path));
		json_object_object_add(o, "format", json_object_new_string(blk_format_name(v[i].format)));
		json_object_object_add(o, "virtual-size", json_object_new_int64((int64_t)v[i].size));
		json_object_object_add(o, "disk-size", json_object_new_int64((int64_t)v[i].disk_bytes));
		json_object_object_add(o, "read-only", json_object_new_boolean(v[i].file_readonly));
		if (v[i].version) {
			json_object_object_add(o, "version", json_object_new_int((int)v[i].version));
			json_object_object_add(o, "cluster-size", json_object_new_int((int)v[i].cluster_size));
		}
		if (v[i].backing)
			json_object_object_add(o, "backing-file", json_object_new_string(v[i].backing));
		if (v[i].backing_format)
			json_object_object_add(o, "backing-format",
					       json_object_new_string(v[i].backing_format));
		json_object_array_add(arr, o);
	}
	if (!arr)
		return -ENOMEM;
	if (!rc)
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	return rc;
}

static int im_info(int argc, char **argv)
{
	bool json = argc == 3 && !strcmp(argv[1], "--json");
	struct blk_info *v;
	int n, rc = 0;

	if (argc != 2 && !json) {
		log_err("image info: expected [--json] PATH");
		return 2;
	}
	if (blk_image_info(argv[argc - 1], &v, &n))
		return 1;
	if (json)
		rc = print_json(v, n);
	else
		print_text(v, n);
	blk_info_free(v, n);
	if (rc)
		log_err("image info: %s", strerror(-rc));
	return rc ? 1 : 0;
}

static int im_snapshot(int argc, char **argv)
{
	char *base = NULL;

	if (argc < 2 || argc > 3) {
		log_err("image snapshot: expected DISK [BASE]");
		return 2;
	}
	if (blk_image_snapshot(argv[1], argc == 3 ? argv[2] : NULL, &base))
		return 1;
	printf("%s: frozen as %s; %s continues on a new overlay\n", argv[1], base, argv[1]);
	free(base);
	return 0;
}

static int im_clone(int argc, char **argv)
{
	char *base = NULL;

	if (argc != 3) {
		log_err("image clone: expected SRC DST");
		return 2;
	}
	if (blk_image_clone(argv[1], argv[2], &base))
		return 1;
	printf("%s: new overlay on %s\n", argv[2], base);
	free(base);
	return 0;
}

static int im_check(int argc, char **argv)
{
	struct blk_check r;

	if (argc != 2) {
		log_err("image check: expected PATH");
		return 2;
	}
	if (blk_image_check(argv[1], &r))
		return 1;
	if (!r.refcounts_checked) {
		printf("%s: raw image, backing chain fine (nothing else to check)\n", argv[1]);
		return 0;
	}
	if (!r.corruptions && !r.leaks) {
		printf("%s: no errors (%llu clusters)\n", argv[1], (unsigned long long)r.clusters);
		return 0;
	}
	log_err("image check %s: %llu errors, %llu leaked clusters", argv[1],
		(unsigned long long)r.corruptions, (unsigned long long)r.leaks);
	return r.corruptions ? 2 : 3;
}

int cmd_image(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} sub[] = {
		{ "create", im_create }, { "info", im_info }, { "snapshot", im_snapshot },
		{ "clone", im_clone }, { "check", im_check },
	};

	if (argc >= 2 && cmd_wants_help(argc, argv)) {
		image_usage(stdout);
		return 0;
	}
	if (argc < 2) {
		log_err("image: expected create, info, snapshot, clone or check (see 'xvm image --help')");
		return 2;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++)
		if (!strcmp(argv[1], sub[i].name))
			return sub[i].fn(argc - 1, argv + 1);
	log_err("image: unknown command '%s' (see 'xvm image --help')", argv[1]);
	return 2;
}
