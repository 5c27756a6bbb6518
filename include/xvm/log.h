/* log.h - one-line diagnostics on stderr (and optionally a log file).
 *
 * User-facing errors are one line: "xvm: <what>: <why>". The program name
 * prefix is set once by main() with log_init(). Debug lines appear only when
 * the level is raised (XVM_LOG=debug or -v); XVM_LOG=err|warn|notice|info|debug. */
#ifndef XVM_LOG_H
#define XVM_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* NOTICE: a one-line fact every user should see (shown by default). */
enum log_level { LOG_ERR = 0, LOG_WARN, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

/* Set the prefix ("xvm") and the level; reads XVM_LOG (err|warn|info|debug). */
void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Also append every line (with a timestamp) to fd; -1 turns that off. */
void log_set_file(int fd);

/* The last error line logged (without the "xvm: " prefix), "" if none. */
void log_last_error(char *buf, size_t size);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_get_level() >= LOG_DEBUG)                              \
			log_msg(LOG_DEBUG, __VA_ARGS__);                       \
	} while (0)

#endif
