/* store_proto.h - the xenstore wire protocol as xvmstored and its clients speak it.
 *
 * Message types, the header and the error strings come from Debian's
 * libxen-dev header <xen/io/xs_wire.h>; this file adds the helpers both the
 * daemon and the client library need: op names, errno <-> error string,
 * argument splitting and path rules. */
#ifndef XVM_STORE_PROTO_H
#define XVM_STORE_PROTO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

#define STORE_HDR_LEN ((uint32_t)sizeof(struct xsd_sockmsg))
#define STORE_PAYLOAD_MAX XENSTORE_PAYLOAD_MAX
#define STORE_MAX_ARGS 64
/* where xvmstored listens unless --socket says otherwise; Xen clients find it
 * through XENSTORED_PATH */
#define STORE_DEFAULT_SOCKET "/run/xvm/xvmstored.sock"
#define STORE_DEFAULT_DB "/var/lib/xvm/store.db"

/* The op's name ("READ", "WATCH_EVENT", ...) or "UNKNOWN"; never NULL. */
const char *store_op_name(uint32_t type);

/* The op type for a name as store_op_name() spells it; -EINVAL if none. */
int store_op_from_name(const char *name);

/* Xen's error string for a positive errno ("EACCES"); errnos Xen has no
 * string for map to "EINVAL" as xenstored does. */
const char *store_err_string(int err);

/* The positive errno for an error string from an XS_ERROR payload; EINVAL
 * for strings Xen does not define. */
int store_err_parse(const char *s, size_t len);

/* Check a header as it arrives: 0, or -EMSGSIZE when len exceeds the 4096
 * byte payload limit (the connection must then be dropped). */
int store_hdr_check(const struct xsd_sockmsg *h);

/* Split a payload into NUL-terminated strings. Stores up to max pointers
 * into argv (pointing into payload) and returns how many; bytes after the
 * last NUL are the "tail" (WRITE's value), reported through tail/tail_len
 * when tail is non-NULL. Returns -EINVAL when want_tail is false and the
 * payload does not end with a NUL, -E2BIG when there are more than max. */
int store_split(const char *payload, uint32_t len, const char **argv, int max,
		const char **tail, uint32_t *tail_len);

/* Validate a path as Xen does: characters [A-Za-z0-9_/@-], no "//", no
 * trailing '/' except for "/", absolute length <= 3072 and relative <= 2048;
 * '@' only in watch-only special paths ("@introduceDomain", ...), which are
 * allowed when special is true. Returns 0 or -EINVAL. */
int store_path_check(const char *path, bool special);

/* Canonicalise path for domain domid into out (size bytes): relative paths
 * are prefixed with "/local/domain/<domid>/". Returns 0 or -EINVAL. */
int store_path_canon(const char *path, unsigned int domid, char *out, size_t size);

#endif
