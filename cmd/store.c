/* store.c - `xvm store`: read, write, ls, rm, mkdir, watch, chmod, perms, snoop, control, introduce. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "xvm/log.h"
#include "xvm/store.h"
#include "xvm/store_proto.h"
#include "xvm/util.h"

static void store_usage(FILE *f)
{
	fprintf(f,
		"usage: xvm store [--socket PATH] COMMAND ARGS...\n"
		"  read [-R] PATH...         print values (escaped as xenstore-read; -R raw)\n"
		"  write [-R] PATH VALUE...  set values, creating parents (escapes expanded\n"
		"                            as xenstore-write; -R raw)\n"
		"  ls [-p] [PATH]            the tree below PATH (default /)\n"
		"  rm [-t] PATH...           remove nodes and everything below (-t: and\n"
		"                            the parents this leaves empty)\n"
		"  exists PATH               exit status 0 if PATH exists, else 1\n"
		"  list PATH                 the names of PATH's children\n"
		"  mkdir PATH...             create empty nodes\n"
		"  watch [-n N] PATH...      print each changed path (N events, then exit)\n"
		"  chmod [-r] PATH PERM...   set permissions (n|r|w|b<domid>, owner first)\n"
		"  perms PATH                print permissions\n"
		"  snoop [-d DOM] [-p PREFIX]  print every operation as it happens\n"
		"  control ARG...            daemon control (help, stats, quota, check)\n"
		"  introduce DOMID           create the domain's socket (SOCKET.DOMID)\n"
		"  release DOMID             remove it and drop the domain's connections\n"
		"The socket is $XVM_STORE_SOCKET, $XENSTORED_PATH or %s.\n",
		STORE_DEFAULT_SOCKET);
}

static int fail(const char *what, int rc)
{
	log_err("%s: %s", what, strerror(-rc));
	return 1;
}

/* Escape a value the way Xen's tools print it: \t \n \r \\, other control
 * bytes in octal, bytes from 0x7f in hex. out needs 4 * len + 1 bytes. */
static char *sanitise(const char *v, uint32_t len, char *out)
{
	char *o = out;

	for (uint32_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch == '\t' || ch == '\n' || ch == '\r' || ch == '\\')
			o += sprintf(o, "\\%c", ch == '\t' ? 't' : ch == '\n' ? 'n' :
						ch == '\r' ? 'r' : '\\');
		else if (ch < 0x20)
			o += sprintf(o, "\\%03o", ch);
		else if (ch >= 0x7f)
			o += sprintf(o, "\\x%02x", ch);
		else
			*o++ = (char)ch;
	}
	*o = '\0';
	return out;
}

/* read [-R] PATH...: escaped like xenstore-read, raw with -R */
static int st_read(struct store_client *c, int argc, char **argv)
{
	bool raw = argc > 0 && !strcmp(argv[0], "-R");
	char esc[4 * STORE_PAYLOAD_MAX + 1];

	for (int i = raw; i < argc; i++) {
		uint32_t len;
		char *v;
		int rc = store_read(c, 0, argv[i], &v, &len);

		if (rc)
			return fail(argv[i], rc);
		if (raw)
			fwrite(v, 1, len, stdout);
		else
			fputs(sanitise(v, len, esc), stdout);
		putchar('\n');
		free(v);
	}
	return 0;
}

/* Undo sanitise(): \t \n \r \\ \xHH \ooo, as xenstore-write does.
 * Returns the length written to out (at most strlen(in) bytes). */
static uint32_t unsanitise(const char *in, char *out)
{
	uint32_t n = 0;

	while (*in) {
		char ch = *in++;
		int k;

		if (ch != '\\') {
			out[n++] = ch;
			continue;
		}
		ch = *in++;
		if (ch == '\0') {
			out[n++] = '\0'; /* a trailing backslash: xenstore-write stores a NUL */
			break;
		}
		if (ch == 't' || ch == 'n' || ch == 'r') {
			out[n++] = ch == 't' ? '\t' : ch == 'n' ? '\n' : '\r';
		} else if (ch == 'x' && isxdigit((unsigned char)in[0])) {
			char hex[3] = { in[0], isxdigit((unsigned char)in[1]) ? in[1] : 0, 0 };

			out[n++] = (char)strtoul(hex, NULL, 16);
			in += strlen(hex);
		} else if (ch >= '0' && ch <= '7') {
			unsigned int v = (unsigned int)(ch - '0');

			for (k = 0; k < 2 && *in >= '0' && *in <= '7'; k++)
				v = v * 8 + (unsigned int)(*in++ - '0');
			out[n++] = (char)v;
		} else {
			out[n++] = ch; /* \\ and any other escaped character */
		}
	}
	return n;
}

/* write [-R] PATH VALUE...: escapes expanded as xenstore-write does, unless -R */
static int st_write(struct store_client *c, int argc, char **argv)
{
	bool raw = argc > 0 && !strcmp(argv[0], "-R");

	argc -= raw;
	argv += raw;
	if (argc == 0 || argc % 2) {
		log_err("store write: expected PATH VALUE pairs");
		return 2;
	}
	for (int i = 0; i < argc; i += 2) {
		size_t l = strlen(argv[i + 1]);
		char *v = malloc(l + 1);
		uint32_t len = (uint32_t)l;
		int rc;

		if (!v)
			return fail("store write", -ENOMEM);
		if (raw)
			memcpy(v, argv[i + 1], l);
		else
			len = unsanitise(argv[i + 1], v);
		rc = store_write(c, 0, argv[i], v, len);
		free(v);
		if (rc)
			return fail(argv[i], rc);
	}
	return 0;
}

static int st_each(struct store_client *c, int argc, char **argv,
		   int (*fn)(struct store_client *, uint32_t, const char *))
{
	if (argc == 0) {
		log_err("store: expected PATH");
		return 2;
	}
	for (int i = 0; i < argc; i++) {
		int rc = fn(c, 0, argv[i]);

		if (rc)
			return fail(argv[i], rc);
	}
	return 0;
}

/* xenstore-ls's layout: 80 columns unless stdout is a terminal */
static int ls_width(void)
{
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col)
		return ws.ws_col;
	return 80;
}

/* the permissions column: dotted padding to column 60, then "  (r0,w5)" */
static int ls_perms(struct store_client *c, const char *path, int col, int width)
{
	unsigned int n;
	char **p;
	int rc = store_get_perms(c, 0, path, &p, &n);

	if (rc)
		return rc;
	if (col < width)
		putchar(' ');
	for (col++; col < MIN(60, width); col++)
		putchar(col & 1 ? '.' : ' ');
	printf("  (");
	for (unsigned int i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", p[i]);
	printf(")");
	free(p);
	return 0;
}

/* one line: NAME = "VALUE", long values cut with \... as xenstore-ls does;
 * returns the column where it ended */
static int ls_line(const char *name, int depth, const char *v, uint32_t len, int width)
{
	static const int tag = 8;
	char esc[4 * STORE_PAYLOAD_MAX + 1];
	int col = depth + (int)strlen(name), vl;

	sanitise(v, len, esc);
	vl = (int)strlen(esc);
	printf("%*s%s = \"", depth, "", name);
	col += 4;
	if (width < col - 4 + vl + tag) {
		vl = MAX(width - tag - (col - 4), 0);
		printf("%.*s\\...\"", vl, esc);
		return col + vl + 5;
	}
	printf("%s\"", esc);
	return col + vl + 1;
}

static int ls_tree(struct store_client *c, const char *path, int depth, bool perms,
		   int width)
{
	unsigned int n;
	char **kids;
	int rc = store_directory(c, 0, path, &kids, &n);

	if (rc)
		return rc;
	for (unsigned int i = 0; i < n && !rc; i++) {
		char sub[XENSTORE_ABS_PATH_MAX + 8];
		uint32_t len = 0;
		char *v = NULL;
		int col;

		snprintf(sub, sizeof(sub), "%s%s%s", path, strcmp(path, "/") ? "/" : "", kids[i]);
		rc = store_read(c, 0, sub, &v, &len);
		if (rc == -EACCES)
			rc = 0; /* listed but unreadable: show it empty */
		col = ls_line(kids[i], depth, v ? v : "", len, width);
		free(v);
		if (!rc && perms)
			rc = ls_perms(c, sub, col, width);
		printf("\n");
		if (!rc)
			rc = ls_tree(c, sub, depth + 1, perms, width);
		if (rc == -EACCES || rc == -ENOENT)
			rc = 0; /* changed or closed under us: skip the subtree */
	}
	free(kids);
	return rc;
}

static int st_ls(struct store_client *c, int argc, char **argv)
{
	bool perms = argc > 0 && !strcmp(argv[0], "-p");
	const char *path;
	int rc;

	if (perms) {
		argc--;
		argv++;
	}
	path = argc ? argv[0] : "/";
	rc = ls_tree(c, path, 0, perms, ls_width());
	return rc ? fail(path, rc) : 0;
}

static int st_watch(struct store_client *c, int argc, char **argv)
{
	uint64_t count = 0;
	int rc;

	if (argc >= 2 && !strcmp(argv[0], "-n")) {
		if (parse_uint(argv[1], 1, UINT32_MAX, &count)) {
			log_err("store watch: -n: expected a positive count");
			return 2;
		}
		argc -= 2;
		argv += 2;
	}
	if (argc == 0) {
		log_err("store watch: expected PATH");
		return 2;
	}
	for (int i = 0; i < argc; i++) {
		rc = store_watch(c, argv[i], argv[i]);
		if (rc)
			return fail(argv[i], rc);
	}
	for (uint64_t seen = 0; !count || seen < count; seen++) {
		char *path, *token;

		rc = store_read_event(c, -1, &path, &token);
		if (rc)
			return fail("store watch", rc);
		printf("%s\n", path);
		fflush(stdout);
		free(path);
		free(token);
	}
	return 0;
}

static int chmod_tree(struct store_client *c, const char *path,
		      const char *const *perms, unsigned int n, bool recurse)
{
	unsigned int nk;
	char **kids;
	int rc = store_set_perms(c, 0, path, perms, n);

	if (rc || !recurse)
		return rc;
	rc = store_directory(c, 0, path, &kids, &nk);
	for (unsigned int i = 0; i < nk && !rc; i++) {
		char sub[XENSTORE_ABS_PATH_MAX + 8];

		snprintf(sub, sizeof(sub), "%s%s%s", path, strcmp(path, "/") ? "/" : "", kids[i]);
		rc = chmod_tree(c, sub, perms, n, true);
	}
	if (!rc || nk)
		free(kids);
	return rc;
}

static int st_chmod(struct store_client *c, int argc, char **argv)
{
	bool recurse = argc > 0 && !strcmp(argv[0], "-r");
	int rc;

	if (recurse) {
		argc--;
		argv++;
	}
	if (argc < 2) {
		log_err("store chmod: expected PATH PERM...");
		return 2;
	}
	rc = chmod_tree(c, argv[0], (const char *const *)argv + 1, (unsigned int)argc - 1,
			recurse);
	return rc ? fail(argv[0], rc) : 0;
}

static int st_perms(struct store_client *c, int argc, char **argv)
{
	unsigned int n;
	char **p;
	int rc;

	if (argc != 1) {
		log_err("store perms: expected PATH");
		return 2;
	}
	rc = store_get_perms(c, 0, argv[0], &p, &n);
	if (rc)
		return fail(argv[0], rc);
	for (unsigned int i = 0; i < n; i++)
		printf("%s%s", i ? " " : "", p[i]);
	printf("\n");
	free(p);
	return 0;
}

/* does a snoop record "time conn dom tx op path size result" pass? */
static bool snoop_match(const char *rec, long dom, const char *prefix)
{
	char path[XENSTORE_ABS_PATH_MAX + 8];
	unsigned int d;

	if (sscanf(rec, "%*s %*u %u %*u %*s %3079s", &d, path) != 2)
		return false;
	if (dom >= 0 && (long)d != dom)
		return false;
	return !prefix || !strncmp(path, prefix, strlen(prefix));
}

static int st_snoop(struct store_client *c, int argc, char **argv)
{
	const char *args[] = { "snoop" }, *prefix = NULL;
	long dom = -1;
	uint64_t v;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-d") && i + 1 < argc &&
		    !parse_uint(argv[i + 1], 0, 0xffff, &v)) {
			dom = (long)v;
			i++;
		} else if (!strcmp(argv[i], "-p") && i + 1 < argc) {
			prefix = argv[++i];
		} else {
			log_err("store snoop: unknown argument '%s'", argv[i]);
			return 2;
		}
	}
	rc = store_control(c, args, 1, NULL);
	if (rc)
		return fail("store snoop", rc);
	printf("%-17s %5s %5s %5s %-20s %-30s %5s %s\n", "TIME", "CONN", "DOM", "TX",
	       "OP", "PATH", "SIZE", "RESULT");
	fflush(stdout);
	for (;;) {
		char *data, t[32], op[32], path[XENSTORE_ABS_PATH_MAX + 8], res[16];
		unsigned int conn, d, tx, size;
		uint32_t type, len;

		rc = store_next_message(c, -1, &type, &data, &len);
		if (rc)
			return fail("store snoop", rc);
		if (type == XS_CONTROL && snoop_match(data, dom, prefix) &&
		    sscanf(data, "%31s %u %u %u %31s %3079s %u %15s", t, &conn, &d, &tx,
			   op, path, &size, res) == 8) {
			printf("%-17s %5u %5u %5u %-20s %-30s %5u %s\n", t, conn, d, tx, op,
			       path, size, res);
			fflush(stdout);
		}
		free(data);
	}
}

static int st_control(struct store_client *c, int argc, char **argv)
{
	char *reply = NULL;
	int rc;

	if (argc == 0) {
		log_err("store control: expected a command (try 'help')");
		return 2;
	}
	rc = store_control(c, (const char *const *)argv, argc, &reply);
	if (rc)
		return fail(argv[0], rc);
	printf("%s%s", reply, reply[0] && reply[strlen(reply) - 1] != '\n' ? "\n" : "");
	free(reply);
	return 0;
}

/* introduce/release DOMID: the domain's socket appears/disappears */
static int st_domain(struct store_client *c, int argc, char **argv, bool introduce)
{
	uint64_t id;
	int rc;

	if (argc != 1 || parse_uint(argv[0], 1, 0x7fef, &id)) {
		log_err("store %s: expected a domain id (1-32751)",
			introduce ? "introduce" : "release");
		return 2;
	}
	rc = introduce ? store_introduce(c, (uint32_t)id) : store_release(c, (uint32_t)id);
	return rc ? fail(argv[0], rc) : 0;
}

static int st_introduce(struct store_client *c, int argc, char **argv)
{
	return st_domain(c, argc, argv, true);
}

static int st_release(struct store_client *c, int argc, char **argv)
{
	return st_domain(c, argc, argv, false);
}

static int st_mkdir(struct store_client *c, int argc, char **argv)
{
	return st_each(c, argc, argv, store_mkdir);
}

/* after removing path, remove its parents while they are empty (rm -t) */
static int rm_empty_parents(struct store_client *c, const char *path)
{
	char p[XENSTORE_ABS_PATH_MAX + 8], *slash;

	snprintf(p, sizeof(p), "%s", path);
	while ((slash = strrchr(p, '/')) && slash != p) {
		unsigned int n;
		uint32_t len;
		char **kids, *v;
		int rc;

		*slash = '\0';
		rc = store_directory(c, 0, p, &kids, &n);
		if (rc)
			return rc == -ENOENT ? 0 : rc;
		free(kids);
		rc = store_read(c, 0, p, &v, &len);
		if (rc)
			return rc == -ENOENT ? 0 : rc;
		free(v);
		if (n || len)
			return 0;
		rc = store_rm(c, 0, p);
		if (rc)
			return rc;
	}
	return 0;
}

/* rm [-t] PATH...: -t also removes parents left empty, as xenstore-rm -t */
static int st_rm(struct store_client *c, int argc, char **argv)
{
	bool tidy = argc > 0 && !strcmp(argv[0], "-t");
	int rc = st_each(c, argc - tidy, argv + tidy, store_rm);

	for (int i = tidy; !rc && tidy && i < argc; i++)
		if ((rc = rm_empty_parents(c, argv[i])))
			return fail(argv[i], rc);
	return rc;
}

/* exists PATH: exit status 0 when it does, 1 when not (xenstore-exists) */
static int st_exists(struct store_client *c, int argc, char **argv)
{
	uint32_t len;
	char *v;
	int rc;

	if (argc != 1) {
		log_err("store exists: expected PATH");
		return 2;
	}
	rc = store_read(c, 0, argv[0], &v, &len);
	if (!rc)
		free(v);
	if (rc && rc != -ENOENT && rc != -EACCES)
		return fail(argv[0], rc);
	return rc ? 1 : 0;
}

/* list PATH: the children's names, one a line (xenstore-list) */
static int st_list(struct store_client *c, int argc, char **argv)
{
	unsigned int n;
	char **kids;
	int rc;

	if (argc != 1) {
		log_err("store list: expected PATH");
		return 2;
	}
	rc = store_directory(c, 0, argv[0], &kids, &n);
	if (rc)
		return fail(argv[0], rc);
	for (unsigned int i = 0; i < n; i++)
		printf("%s\n", kids[i]);
	free(kids);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct store_client *c, int argc, char **argv);
} subs[] = {
	{ "read", st_read }, { "write", st_write }, { "ls", st_ls },
	{ "rm", st_rm }, { "mkdir", st_mkdir }, { "watch", st_watch },
	{ "chmod", st_chmod }, { "perms", st_perms }, { "snoop", st_snoop },
	{ "control", st_control }, { "introduce", st_introduce },
	{ "release", st_release }, { "exists", st_exists }, { "list", st_list },
};

int cmd_store(int argc, char **argv)
{
	const char *sock = NULL;
	struct store_client *c;
	int i = 1, rc;

	if (argc >= 3 && !strcmp(argv[1], "--socket")) {
		sock = argv[2];
		i = 3;
	}
	if (i >= argc || !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
		store_usage(i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	for (size_t k = 0; k < ARRAY_SIZE(subs); k++) {
		if (strcmp(subs[k].name, argv[i]))
			continue;
		rc = store_open(sock, &c);
		if (rc) {
			log_err("store: %s: %s", sock ? sock : store_socket_path(), strerror(-rc));
			return 1;
		}
		rc = subs[k].fn(c, argc - i - 1, argv + i + 1);
		store_close(c);
		return rc;
	}
	log_err("store: unknown command '%s' (see 'xvm store --help')", argv[i]);
	return 2;
}
