/* console.c - console backends (stdio, file, pty, null) and the input thread
 * that feeds the guest's UART. */
#define _XOPEN_SOURCE 700
#include "xvm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "xvm/log.h"
#include "xvm/serial.h"
#include "xvm/vm.h"

static int console_open_pty(struct console *c)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios t;

	if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0 ||
	    ptsname_r(fd, c->pty_path, sizeof(c->pty_path)) != 0) {
		int rc = -errno;
		log_err("--console pty: cannot create a pseudo-terminal: %s",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	/* raw on the slave side so the guest sees exactly what is typed */
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	c->in_fd = c->out_fd = fd;
	c->own_in = true;
	log_notice("console on %s", c->pty_path);
	return 0;
}

static void console_stdio_raw(struct console *c)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &c->saved) < 0)
		return;
	t = c->saved;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR; /* keep our own stderr lines readable */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
		c->raw = true;
}

int console_check_spec(const char *spec)
{
	if (!spec || !strcmp(spec, "stdio") || !strcmp(spec, "pty") ||
	    !strcmp(spec, "null") || (!strncmp(spec, "file:", 5) && spec[5]))
		return 0;
	if (!strcmp(spec, "file:"))
		log_err("--console file: needs a path (file:PATH)");
	else
		log_err("--console: unknown kind '%s' (stdio, file:PATH, pty, null)",
			spec);
	return -EINVAL;
}

int console_open(struct console *c, const char *spec)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = c->out_fd = c->stop_fd = -1;
	if (!spec || !strcmp(spec, "stdio")) {
		c->out_fd = STDOUT_FILENO;
		c->in_fd = STDIN_FILENO;
		console_stdio_raw(c);
	} else if (!strncmp(spec, "file:", 5)) {
		c->out_fd = open(spec + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				 0644);
		if (c->out_fd < 0) {
			log_err("--console: cannot create %s: %s", spec + 5,
				strerror(errno));
			return -errno;
		}
		c->own_out = true;
	} else if (!strcmp(spec, "pty")) {
		int rc = console_open_pty(c);
		if (rc < 0)
			return rc;
	} else if (!strcmp(spec, "null")) {
		c->out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		c->own_out = true;
	} else {
		return console_check_spec(spec);
	}
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	return c->stop_fd < 0 ? -errno : 0;
}

/* Forward one chunk; returns false when the input side is finished. */
static bool console_forward(struct console *c)
{
	uint8_t buf[256];
	ssize_t n = read(c->in_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false; /* EOF (or pty hang-up): no more input */
	if (c->raw) {
		uint8_t *esc = memchr(buf, CONSOLE_ESCAPE, (size_t)n);
		if (esc) {
			serial_input(c->serial, buf, (size_t)(esc - buf));
			vm_request_stop(c->vm, VM_STOP_KILLED,
					"stopped from the console (Ctrl-])");
			return false;
		}
	}
	serial_input(c->serial, buf, (size_t)n);
	return true;
}

static void *console_thread(void *arg)
{
	struct console *c = arg;

	for (;;) {
		struct pollfd p[2] = { { c->stop_fd, POLLIN, 0 },
				       { c->in_fd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		/* a pty with no peer yet reports POLLHUP: wait for one */
		if ((p[1].revents & (POLLHUP | POLLERR)) && !(p[1].revents & POLLIN)) {
			if (c->pty_path[0]) {
				poll(p, 1, 200);
				continue;
			}
			break;
		}
		if ((p[1].revents & POLLIN) && !console_forward(c))
			break;
	}
	return NULL;
}

int console_start(struct console *c, struct vm *vm, struct serial *s)
{
	int rc;

	c->vm = vm;
	c->serial = s;
	if (c->in_fd < 0)
		return 0;
	rc = pthread_create(&c->thread, NULL, console_thread, c);
	if (rc)
		return -rc;
	c->thread_started = true;
	return 0;
}

void console_close(struct console *c)
{
	uint64_t one = 1;

	if (c->thread_started) {
		if (c->serial)
			serial_shutdown(c->serial);
		if (write(c->stop_fd, &one, sizeof(one)) < 0)
			log_debug("console: stop: %s", strerror(errno));
		pthread_join(c->thread, NULL);
		c->thread_started = false;
	}
	if (c->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
	if (c->own_in && c->in_fd >= 0)
		close(c->in_fd);
	if (c->own_out && c->out_fd >= 0 && c->out_fd != c->in_fd)
		close(c->out_fd);
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	c->in_fd = c->out_fd = c->stop_fd = -1;
}
