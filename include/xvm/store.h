/* store.h - the client side of xvmstored: a small library speaking the xenstore wire protocol.
 *
 * Used by `xvm store`, the toolstack and the tests; it does not need
 * libxenstore. Calls are synchronous; watch events that arrive while a
 * reply is awaited are queued and returned by store_read_event(). A handle
 * is not thread-safe. All functions return 0 or a negative errno; errors the
 * daemon reports (XS_ERROR) come back as their errno (-ENOENT, -EACCES...). */
#ifndef XVM_STORE_H
#define XVM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_client;

/* The socket clients use: $XVM_STORE_SOCKET, else $XENSTORED_PATH, else
 * the default (/run/xvm/xvmstored.sock). Never NULL. */
const char *store_socket_path(void);

/* The socket of domain domid (created by INTRODUCE), next to the main one:
 * "<main>.<domid>". Returns 0 or -ENAMETOOLONG. */
int store_domain_socket(const char *main_sock, uint32_t domid, char *buf, size_t size);

/* Connect to the daemon at path (NULL: store_socket_path()). 0, or the
 * connect errno (-ENOENT, -ECONNREFUSED, ...). */
int store_open(const char *path, struct store_client **out);
void store_close(struct store_client *c);
/* The socket, for poll(); readable when an event or reply is pending. */
int store_client_fd(const struct store_client *c);

/* Send one request (payload of len bytes) and wait for its reply, which is
 * returned malloc'd and NUL-terminated (the terminator is not counted in
 * *rlen). rlen and reply may be NULL. */
int store_request(struct store_client *c, uint32_t type, uint32_t tx,
		  const void *payload, uint32_t len, char **reply, uint32_t *rlen);

int store_read(struct store_client *c, uint32_t tx, const char *path,
	       char **value, uint32_t *len);
int store_write(struct store_client *c, uint32_t tx, const char *path,
		const void *value, uint32_t len);
int store_mkdir(struct store_client *c, uint32_t tx, const char *path);
int store_rm(struct store_client *c, uint32_t tx, const char *path);
/* Children names of path: *names is one malloc'd block (free it once). */
int store_directory(struct store_client *c, uint32_t tx, const char *path,
		    char ***names, unsigned int *n);
/* Permissions as Xen's strings ("r0", "w5", ...); freed like directory. */
int store_get_perms(struct store_client *c, uint32_t tx, const char *path,
		    char ***perms, unsigned int *n);
int store_set_perms(struct store_client *c, uint32_t tx, const char *path,
		    const char *const *perms, unsigned int n);
int store_watch(struct store_client *c, const char *path, const char *token);
int store_unwatch(struct store_client *c, const char *path, const char *token);
/* Wait up to timeout_ms (-1: forever) for a watch event; -ETIMEDOUT when
 * none came. path/token are malloc'd. */
int store_read_event(struct store_client *c, int timeout_ms, char **path, char **token);
int store_tx_start(struct store_client *c, uint32_t *tx);
/* commit (true) or abort; -EAGAIN when the commit conflicted */
int store_tx_end(struct store_client *c, uint32_t tx, bool commit);
/* Make domid known (creating its socket, see store_domain_socket()) or
 * forget it (closing its connections). Privileged connections only. */
int store_introduce(struct store_client *c, uint32_t domid);
int store_release(struct store_client *c, uint32_t domid);
/* XS_CONTROL with the given arguments; the reply text is malloc'd. */
int store_control(struct store_client *c, const char *const *argv, int argc, char **reply);
/* Wait for the next unsolicited message of any type (snoop records). */
int store_next_message(struct store_client *c, int timeout_ms, uint32_t *type,
		       char **data, uint32_t *len);

#endif
