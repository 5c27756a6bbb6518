/* helper_client.c - run xvm-net-helper over a socketpair and take the tap fd it sends. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xvm/log.h"
#include "xvm/net_helper.h"
#include "xvm/tap.h"

#define HELPER_TIMEOUT_MS 10000

#ifndef NET_HELPER_DIR
#define NET_HELPER_DIR "/usr/local/libexec"
#endif

const char *net_helper_path(char *buf, size_t len)
{
	const char *env = getenv("XVM_NET_HELPER");
	char self[PATH_MAX];
	ssize_t n;

	if (env && env[0]) {
		snprintf(buf, len, "%s", env);
		return buf;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(buf, len, "%s/%s", self, NET_HELPER_NAME);
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	snprintf(buf, len, "%s/%s", NET_HELPER_DIR, NET_HELPER_NAME);
	return buf;
}

/* Receive the reply and the fd (-1 when none). 0 or -errno. */
static int helper_recv(int sock, struct net_helper_reply *r, int *fd)
{
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { r, sizeof(*r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct pollfd p = { sock, POLLIN, 0 };
	ssize_t n;

	*fd = -1;
	if (poll(&p, 1, HELPER_TIMEOUT_MS) != 1)
		return -ETIMEDOUT;
	n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (n != (ssize_t)sizeof(*r) || (m.msg_flags & MSG_CTRUNC)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return n == 0 ? -EPIPE : -EPROTO;
	}
	r->ifname[IFNAMSIZ - 1] = 0;
	return 0;
}

/* Start the helper with the child end of the socketpair as --fd. The pid or
 * -errno. Only async-signal-safe calls between fork and exec. */
static pid_t helper_spawn(const char *path, const char *br, int child_fd)
{
	char fdarg[32], brarg[8 + IFNAMSIZ];
	char *argv[] = { (char *)NET_HELPER_NAME, fdarg, brarg, NULL };
	pid_t pid;

	snprintf(fdarg, sizeof(fdarg), "--fd=%d", child_fd);
	snprintf(brarg, sizeof(brarg), "--br=%s", br);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		fcntl(child_fd, F_SETFD, 0);    /* keep this one across exec */
		execv(path, argv);
		_exit(127);
	}
	return pid;
}

/* One line for a helper failure. */
static void helper_report(const char *br, const char *path, const struct net_helper_reply *r)
{
	switch (r->stage) {
	case NH_ACL:
		log_err("--net bridge=%s: %s", br, r->err == -EACCES ?
			"not allowed by " NET_HELPER_ACL " (add 'allow BR'; docs/net.md)" :
			"the helper cannot use " NET_HELPER_ACL " (see its message above)");
		break;
	case NH_TAP:
		log_err("--net bridge=%s: %s: cannot create a tap: %s", br, path,
			r->err == -EPERM || r->err == -EACCES ?
			"no privilege (install it setuid root or with cap_net_admin; docs/net.md)" :
			tap_strerror(r->err));
		break;
	case NH_BRIDGE:
		log_err("--net bridge=%s: %s", br, r->err == -ENODEV ? "no such bridge" :
			r->err == -EOPNOTSUPP ? "not a bridge" : strerror(-r->err));
		break;
	default:
		log_err("--net bridge=%s: %s refused: %s", br, path, strerror(-r->err));
	}
}

int net_helper_open(const char *br, struct tap *t)
{
	struct net_helper_reply r = { 0 };
	char path[PATH_MAX];
	int sv[2], fd = -1, rc, status = 0;
	pid_t pid;

	net_helper_path(path, sizeof(path));
	if (access(path, X_OK) < 0) {
		log_err("--net bridge=%s: no permission to create a tap (needs CAP_NET_ADMIN) "
			"and no helper at %s: %s", br, path, strerror(errno));
		return -EPERM;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("--net bridge=%s: socketpair: %s", br, strerror(errno));
		return -errno;
	}
	pid = helper_spawn(path, br, sv[1]);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		log_err("--net bridge=%s: cannot run %s: %s", br, path, strerror((int)-pid));
		return (int)pid;
	}
	rc = helper_recv(sv[0], &r, &fd);
	close(sv[0]);
	if (rc == -ETIMEDOUT)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc < 0) {
		log_err("--net bridge=%s: %s gave no answer (%s, exit status %d)", br, path,
			strerror(-rc), WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return rc;
	}
	if (r.stage != NH_OK || r.err || fd < 0) {
		if (fd >= 0)
			close(fd);
		helper_report(br, path, &r);
		return r.err ? r.err : -EPROTO;
	}
	rc = tap_adopt(fd, r.ifname, t);
	if (rc < 0)
		log_err("--net bridge=%s: the helper's fd is not a usable tap: %s", br, strerror(-rc));
	else
		log_info("tap %s from %s in bridge %s", t->name, path, br);
	return rc;
}
