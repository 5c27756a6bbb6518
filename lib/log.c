/* log.c - one-line diagnostics to stderr and an optional log file. */
#include "xvm/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Process-wide logging settings, written by main() before threads start and
 * read-only afterwards (log_set_level may race benignly with readers). */
static struct {
	const char *prog;
	enum log_level level;
	int fd;
} logcfg = { "xvm", LOG_NOTICE, -1 };

void log_init(const char *prog, enum log_level level)
{
	const char *env = getenv("XVM_LOG");

	logcfg.prog = prog;
	logcfg.level = level;
	if (env) {
		if (!strcmp(env, "debug"))
			logcfg.level = LOG_DEBUG;
		else if (!strcmp(env, "info"))
			logcfg.level = LOG_INFO;
		else if (!strcmp(env, "notice"))
			logcfg.level = LOG_NOTICE;
		else if (!strcmp(env, "warn"))
			logcfg.level = LOG_WARN;
		else if (!strcmp(env, "err"))
			logcfg.level = LOG_ERR;
	}
}

/* The text of the last error line, for exit records (log_last_error). */
static struct {
	pthread_mutex_t lock;
	char text[256];
} last_err = { PTHREAD_MUTEX_INITIALIZER, "" };

void log_last_error(char *buf, size_t size)
{
	pthread_mutex_lock(&last_err.lock);
	snprintf(buf, size, "%s", last_err.text);
	pthread_mutex_unlock(&last_err.lock);
}

void log_set_level(enum log_level level) { logcfg.level = level; }
enum log_level log_get_level(void) { return logcfg.level; }
void log_set_file(int fd) { logcfg.fd = fd; }

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const tag[] = { "", "warning: ", "", "", "debug: " };
	char line[1024];
	int n, m;
	va_list ap;

	if (level > logcfg.level && logcfg.fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s: %s", logcfg.prog, tag[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (m < 0) ? n : n + m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (level == LOG_ERR) {
		size_t pre = strlen(logcfg.prog) + 2;
		pthread_mutex_lock(&last_err.lock);
		snprintf(last_err.text, sizeof(last_err.text), "%.*s", n - (int)pre, line + pre);
		pthread_mutex_unlock(&last_err.lock);
	}
	line[n++] = '\n';
	/* one write() per line so concurrent threads do not interleave */
	if (level <= logcfg.level && write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
	if (logcfg.fd >= 0) {
		char ts[40];
		struct timespec t;
		int k;

		clock_gettime(CLOCK_REALTIME, &t);
		k = snprintf(ts, sizeof(ts), "[%lld.%06ld] ", (long long)t.tv_sec,
			     t.tv_nsec / 1000);
		if (write(logcfg.fd, ts, (size_t)k) < 0 ||
		    write(logcfg.fd, line, (size_t)n) < 0)
			return;
	}
}
