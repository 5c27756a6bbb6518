/* xlcfg.h - the xl.cfg domain configuration parser (Xen's xl syntax and keys).
 *
 * A config file is a series of `key = value` and `key += value` statements
 * separated by newlines or ';'. A value is a quoted string ('..' or "..",
 * C-like escapes), a number, or a [list] of values (lists nest, may span
 * lines, may end with a trailing comma). '#' starts a comment. A key set twice
 * keeps the last value (as xl); `+=` appends to a list or concatenates to a
 * string. Overrides (`xvm create CFG key=value ...`) are parsed with the same
 * grammar after the file, so they replace or extend what the file says.
 *
 * The result is a struct xlcfg: the keys xvm understands, interpreted and
 * validated, plus the settings it does not know (warned by name, file:line,
 * kept as a generic key/value view). Every error is one line,
 * "FILE:LINE:COL: what is wrong", and nothing is returned on error.
 * See docs/xl.cfg.md. */
#ifndef XVM_XLCFG_H
#define XVM_XLCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XLCFG_ERR_MAX 512

/* One error line, without the "xvm: " prefix. */
struct xlcfg_error {
	char msg[XLCFG_ERR_MAX];
};

/* on_poweroff / on_reboot / on_crash / on_watchdog / on_soft_reset */
enum xlcfg_action {
	XLCFG_ACT_DESTROY,
	XLCFG_ACT_RESTART,
	XLCFG_ACT_RENAME_RESTART,
	XLCFG_ACT_PRESERVE,
	XLCFG_ACT_COREDUMP_DESTROY,
	XLCFG_ACT_COREDUMP_RESTART,
	XLCFG_ACT_SOFT_RESET,
};

enum xlcfg_disk_format {
	XLCFG_FMT_RAW,
	XLCFG_FMT_QCOW,
	XLCFG_FMT_QCOW2,
	XLCFG_FMT_VHD,
	XLCFG_FMT_QED,
	XLCFG_FMT_EMPTY, /* a cdrom drive with no medium */
};

enum xlcfg_devtype { XLCFG_DEV_DISK, XLCFG_DEV_CDROM };

enum xlcfg_vif_type { XLCFG_VIF_VIF, XLCFG_VIF_IOEMU };

/* A generic config value: a string (quoted strings and bare numbers alike,
 * as xl keeps them) or a list of values. */
enum xlcfg_vtype { XLCFG_STRING, XLCFG_LIST };

struct xlcfg_value {
	enum xlcfg_vtype type;
	char *str;                  /* XLCFG_STRING */
	struct xlcfg_value **items; /* XLCFG_LIST */
	size_t nitems;
	int line, col;  /* where the value starts (1-based) */
	bool verbatim;  /* a string spelled without escapes on one line */
};

/* One `key = value` as written (after `+=` merging and last-wins). */
struct xlcfg_setting {
	char *name;
	struct xlcfg_value *value;
	const char *source; /* file name or "override N"; owned by the xlcfg */
	int line, col;      /* of the key */
	bool appended;      /* `+=` was used on this key */
};

struct xlcfg_disk {
	char *target;      /* path; NULL for an empty cdrom */
	enum xlcfg_disk_format format;
	char *vdev;        /* xvda, hdc, sdb, ... (mandatory) */
	bool readonly;
	enum xlcfg_devtype devtype;
	char *backendtype; /* phy, qdisk, tap, standalone or NULL */
	char *script;      /* NULL if none */
};

struct xlcfg_vif {
	bool mac_set;      /* false: the toolstack generates one */
	uint8_t mac[6];
	char *bridge, *ip, *script, *vifname, *model; /* NULL when not given */
	enum xlcfg_vif_type type;
	uint64_t rate_bytes_per_s; /* 0: unlimited */
	uint32_t rate_interval_us; /* replenishment interval (default 50 ms) */
	int devid;                 /* -1: assigned in order */
};

struct xlcfg {
	char *name;
	bool uuid_set;          /* false: the toolstack generates one */
	char uuid[37];          /* lower-case 8-4-4-4-12 form */
	uint64_t memory_mib;    /* default 32 (libxl's default) */
	uint64_t maxmem_mib;    /* default: memory */
	unsigned vcpus;         /* default 1 */
	unsigned maxvcpus;      /* default: vcpus */
	char *kernel, *ramdisk; /* NULL when not given */
	char *cmdline;          /* computed from cmdline or root/extra; NULL if none */
	struct xlcfg_disk *disks;
	size_t ndisks;
	struct xlcfg_vif *vifs;
	size_t nvifs;
	enum xlcfg_action on_poweroff, on_reboot, on_crash, on_watchdog, on_soft_reset;
	struct xlcfg_setting *other; /* keys xvm does not interpret, in file order */
	size_t nother;
	char **warnings;             /* "FILE:LINE: ..." lines, in order */
	size_t nwarnings;
	char **sources;              /* owned source names */
	size_t nsources;
};

/* Parse config text (named `source` in messages) and then each override
 * "key=value" in order (named "override 1", "override 2", ...). On success
 * *out is a new xlcfg (free with xlcfg_free) and 0 is returned. On failure
 * *out is NULL, err->msg holds one line, and -EINVAL (malformed or invalid
 * config) or -ENOMEM is returned. */
int xlcfg_parse(const char *source, const char *text, size_t len,
		char *const *overrides, size_t noverrides, struct xlcfg **out,
		struct xlcfg_error *err);

/* xlcfg_parse() on the contents of a file (at most 1 MiB); the source name
 * is the path as given. Also fails with the read error (e.g. -ENOENT) and a
 * message "PATH: <strerror>". */
int xlcfg_load(const char *path, char *const *overrides, size_t noverrides,
	       struct xlcfg **out, struct xlcfg_error *err);

/* Free a config and everything it owns; NULL is ignored. */
void xlcfg_free(struct xlcfg *cfg);

/* Make the relative file paths of cfg (kernel, ramdisk, disk targets)
 * absolute against dir, an absolute directory (a toolstack daemon runs in
 * another directory than the user who wrote the config). dir NULL or empty:
 * nothing changes. 0, -EINVAL when dir is not absolute, or -ENOMEM (cfg is
 * then partly resolved but still valid). */
int xlcfg_resolve_paths(struct xlcfg *cfg, const char *dir);
/* The same for one path: *path is replaced by a new string when relative. */
int xlcfg_resolve_path(char **path, const char *dir);

/* Parse one disk spec (xl-disk-configuration syntax) into *d (zeroed first;
 * free with xlcfg_disk_clear). Returns 0 or -EINVAL with err->msg set to the
 * problem alone (no location) and *at to the byte offset in spec it concerns,
 * or -ENOMEM. */
int xlcfg_parse_disk(const char *spec, struct xlcfg_disk *d, size_t *at,
		     struct xlcfg_error *err);
void xlcfg_disk_clear(struct xlcfg_disk *d);

/* Parse one vif spec ("mac=..,bridge=..,...") into *v, like
 * xlcfg_parse_disk. */
int xlcfg_parse_vif(const char *spec, struct xlcfg_vif *v, size_t *at,
		    struct xlcfg_error *err);
void xlcfg_vif_clear(struct xlcfg_vif *v);

/* The names xl uses for actions and formats ("rename-restart", "qcow2"). */
const char *xlcfg_action_name(enum xlcfg_action a);
const char *xlcfg_format_name(enum xlcfg_disk_format f);

/* The config as a JSON object string (json-c, pretty-printed), malloc'd;
 * NULL on allocation failure. */
char *xlcfg_to_json(const struct xlcfg *cfg);

#endif
