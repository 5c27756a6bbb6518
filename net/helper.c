/* helper.c - xvm-net-helper: the privileged step of `--net bridge=BR` (docs/net.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xvm/net_helper.h"
#include "xvm/tap.h"
#include "xvm/util.h"

static const char usage[] =
"usage: xvm-net-helper --fd=N --br=BRIDGE\n"
"\n"
"Create a new tap (IFF_VNET_HDR), add it to BRIDGE, bring it up and send its\n"
"fd over the Unix socket N (SCM_RIGHTS). Run by `xvm run --net bridge=BR`\n"
"when xvm itself lacks CAP_NET_ADMIN; install it setuid root or with\n"
"`setcap cap_net_admin+ep`. BRIDGE must be allowed in " NET_HELPER_ACL "\n"
"(lines: allow BR | allow all | deny BR | deny all). See docs/net.md.\n";

/* Send the reply (and the tap fd when ok). 0 or -errno. */
static int reply(int sock, const struct net_helper_reply *r, int fd)
{
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { (void *)r, sizeof(*r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)sizeof(*r) ? 0 : -errno;
}

/* The ACL says yes? 0, or the -errno to report (-EACCES: not allowed). */
static int acl_allows(const char *br)
{
	const char *path = secure_getenv("XVM_BRIDGE_CONF");
	uint8_t *text = NULL;
	size_t len = 0;
	unsigned bad = 0;
	int rc;

	if (!path)
		path = NET_HELPER_ACL;
	rc = read_file(path, NET_HELPER_ACL_MAX, &text, &len);
	if (rc == -ENOENT)
		return -EACCES;          /* no file: nothing is allowed */
	if (rc < 0) {
		fprintf(stderr, "xvm-net-helper: %s: %s\n", path, strerror(-rc));
		return rc;
	}
	/* read_file gives bytes, not a string: copy with a NUL */
	char *s = malloc(len + 1);
	if (!s) {
		free(text);
		return -ENOMEM;
	}
	memcpy(s, text, len);
	s[len] = 0;
	free(text);
	rc = memchr(s, 0, len) ? -EINVAL : net_acl_check(s, br, &bad);
	free(s);
	if (rc < 0) {
		fprintf(stderr, "xvm-net-helper: %s:%u: malformed line (want allow|deny BR|all)\n",
			path, bad);
		return -EINVAL;
	}
	return rc ? 0 : -EACCES;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ || !strcmp(s, "all"))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s > '~')
			return false;
	return true;
}

int main(int argc, char **argv)
{
	struct net_helper_reply r = { 0 };
	const char *br = NULL;
	struct tap t = { .fd = -1 };
	struct stat st;
	uint64_t fdnum = 0;
	int sock = -1, rc;

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--fd=", 5) && parse_uint(argv[i] + 5, 0, 65535, &fdnum) == 0)
			sock = (int)fdnum;
		else if (!strncmp(argv[i], "--br=", 5))
			br = argv[i] + 5;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		} else {
			fprintf(stderr, "xvm-net-helper: unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (sock < 0 || fstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "xvm-net-helper: --fd=N must name a Unix socket (see --help)\n");
		return 2;
	}
	r.stage = NH_USAGE;
	r.err = -EINVAL;
	if (!br || !name_ok(br))
		goto out;
	r.stage = NH_ACL;
	if ((r.err = acl_allows(br)) < 0)
		goto out;
	r.stage = NH_TAP;
	if ((r.err = tap_open("xvm%d", &t)) < 0)
		goto out;
	if (!t.created) {            /* never hand out a tap someone else made */
		r.err = -EEXIST;
		goto out;
	}
	r.stage = NH_BRIDGE;
	if ((r.err = tap_add_to_bridge(&t, br)) < 0)
		goto out;
	r.stage = NH_OK;
	memcpy(r.ifname, t.name, sizeof(r.ifname));
out:
	rc = reply(sock, &r, r.stage == NH_OK ? t.fd : -1);
	tap_close(&t);               /* on error the new tap goes away here */
	if (rc < 0)
		fprintf(stderr, "xvm-net-helper: cannot send the reply: %s\n", strerror(-rc));
	return rc < 0 || r.stage != NH_OK ? 1 : 0;
}
