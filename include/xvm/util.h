/* util.h - small parsing and I/O helpers shared by every module. */
#ifndef XVM_UTIL_H
#define XVM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Parse a size such as "512", "64M", "2G", "1.5G", "4096K" (binary units;
 * a bare number is in default_unit bytes, e.g. 1<<20 for MiB). Returns 0 or
 * -EINVAL (malformed) / -ERANGE (overflow). */
int parse_size(const char *s, uint64_t default_unit, uint64_t *out);

/* Parse an unsigned decimal integer in [min, max]. 0, -EINVAL or -ERANGE. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Read a whole file into a malloc'd buffer (limit bytes at most).
 * Returns 0 or a negative errno (-EFBIG when larger than limit). */
int read_file(const char *path, size_t limit, uint8_t **buf, size_t *len);

/* write()/read() the whole buffer, retrying on EINTR and short transfers.
 * Return 0 or a negative errno (-EPIPE when read hits end-of-file early). */
int write_all(int fd, const void *buf, size_t len);
int read_all(int fd, void *buf, size_t len);

/* Listen on a Unix stream socket at path: mode 0600, non-blocking,
 * close-on-exec. A socket there that nobody answers on is replaced; any
 * other file gives -EEXIST, a socket someone listens on -EADDRINUSE, a path
 * longer than sun_path -ENAMETOOLONG. Returns the fd or -errno (nothing is
 * left at path on error). */
int unix_listen(const char *path, int backlog);

/* Connect a blocking, close-on-exec Unix stream socket to path. Returns the
 * fd or -errno (-ENAMETOOLONG when path does not fit sun_path). */
int unix_connect(const char *path);

/* Monotonic time in nanoseconds. */
uint64_t now_ns(void);

#endif
