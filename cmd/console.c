/* console.c - `xvm console DOMAIN`: relay the terminal to the domain's console pty; Ctrl-] detaches. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "xvm/api_client.h"
#include "xvm/log.h"
#include "xvm/util.h"

#define ESCAPE_CHAR 0x1d /* Ctrl-] */

static volatile sig_atomic_t console_stop;

static void on_signal(int sig)
{
	(void)sig;
	console_stop = 1;
}

/* Copy what is readable on from to to. 0, 1 at end of file / hangup, 2
 * when escape is set and a Ctrl-] was read (what came before it is sent),
 * or -errno. */
static int pump(int from, int to, bool escape)
{
	char buf[4096];
	ssize_t n = read(from, buf, sizeof(buf));
	char *esc;
	int rc;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : (errno == EIO ? 1 : -errno);
	if (n == 0)
		return 1;
	esc = escape ? memchr(buf, ESCAPE_CHAR, (size_t)n) : NULL;
	rc = write_all(to, buf, esc ? (size_t)(esc - buf) : (size_t)n);
	if (rc)
		return rc;
	return esc ? 2 : 0;
}

/* Relay stdin → pty and pty → stdout until Ctrl-], hangup, or a signal.
 * Input stops at end of file (non-tty stdin); output goes on. */
static int relay(int pty)
{
	bool in_open = true;

	while (!console_stop) {
		struct pollfd p[2] = { { .fd = pty, .events = POLLIN },
				       { .fd = in_open ? 0 : -1, .events = POLLIN } };
		int rc;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			rc = pump(pty, 1, false);
			if (rc)
				return rc < 0 ? rc : 0;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			rc = pump(0, pty, true);
			if (rc < 0)
				return rc;
			if (rc == 2 || (rc && isatty(0)))
				return 0;                 /* Ctrl-], or the terminal went */
			if (rc)
				in_open = false;          /* piped input ended: keep printing */
		}
	}
	return 0;
}

static int attach_pty(const char *path)
{
	struct termios saved, raw;
	bool tty = isatty(0);
	struct sigaction sa = { .sa_handler = on_signal };
	int fd, rc;

	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		log_err("console: %s: %s", path, strerror(errno));
		return 1;
	}
	if (!tcgetattr(fd, &raw)) {  /* no echo or line editing on the guest side */
		cfmakeraw(&raw);
		tcsetattr(fd, TCSANOW, &raw);
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (tty && !tcgetattr(0, &saved)) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSAFLUSH, &raw);
		fprintf(stderr, "xvm: connected to %s (Ctrl-] detaches)\r\n", path);
	} else {
		tty = false;
	}
	rc = relay(fd);
	if (tty) {
		tcsetattr(0, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	close(fd);
	if (rc) {
		log_err("console: %s: %s", path, strerror(-rc));
		return 1;
	}
	return 0;
}

int console_attach(const char *domain)
{
	json_object *req = api_request("console"), *rep;
	char path[4096];
	int rc;

	if (req)
		json_object_object_add(req, "domain", json_object_new_string(domain));
	rc = api_run("console", req, &rep);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s", api_str(rep, "pty", ""));
	json_object_put(rep);
	if (!*path) {
		log_err("console: domain %s has no console pty", domain);
		return 1;
	}
	return attach_pty(path);
}

int cmd_console(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	if (cmd_wants_help(argc, argv)) {
		fputs("usage: xvm console DOMAIN\n"
		      "Attach to DOMAIN's console: what the guest writes appears here, what\n"
		      "you type goes to it (the terminal is in raw mode). Ctrl-] detaches\n"
		      "and restores the terminal; the domain keeps running. With stdin not a\n"
		      "terminal, input is sent until its end and output is shown until the\n"
		      "console closes, Ctrl-] is read, or xvm is interrupted.\n", stdout);
		return 0;
	}
	if (cmd_getopt(argc, argv, "", lopts) != -1)
		return 1;
	if (argc - optind != 1 || !*argv[optind])
		return cmd_usage_error(argv[0], "expected one DOMAIN");
	return console_attach(argv[optind]);
}
