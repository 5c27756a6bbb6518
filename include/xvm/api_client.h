/* api_client.h - the client side of the xvmd API (JSON lines on a Unix socket).
 *
 * One request line {"api": 1, "op": …} gets one reply line, in order, on
 * one connection (docs/design/toolstack.md, "The xvmd API"). Used by the
 * xvm CLI verbs; a connection is not thread-safe. */
#ifndef XVM_API_CLIENT_H
#define XVM_API_CLIENT_H

#include <json-c/json.h>

#define XVMD_API_VERSION 1

/* Exit statuses of the xvm verbs that talk to xvmd (docs/xvm.1, EXIT STATUS). */
enum {
	XVM_EXIT_OK = 0,
	XVM_EXIT_FAIL = 1,    /* bad arguments, or xvmd refused the request */
	XVM_EXIT_NOXVMD = 2,  /* xvmd not reachable, connection lost, bad reply */
};

struct api_conn;

/* Connect to xvmd_socket_path(). 0 or a negative errno; on error, path
 * (if not NULL, size bytes) names the socket that was tried. */
int api_open(struct api_conn **out, char *path, size_t size);
void api_close(struct api_conn *c);
/* The socket path of an open connection. */
const char *api_path(const struct api_conn *c);

/* Send req (its "api" member is set here) and wait for the reply object,
 * returned in *reply (json_object_put it). 0, -EPIPE (xvmd closed the
 * connection), -EPROTO (not a JSON object), -EMSGSIZE, or an I/O errno.
 * An {"ok": false} reply still returns 0. */
int api_call(struct api_conn *c, json_object *req, json_object **reply);

/* A request object {"op": op}; NULL only when out of memory. */
json_object *api_request(const char *op);
/* Add "cwd" (this process's directory) so xvmd resolves relative paths in
 * configs and disk specs where the user is, as xl does. */
void api_add_cwd(json_object *req);

/* One call for a CLI verb: connect, send req (consumed), check "ok".
 * On success returns XVM_EXIT_OK with the reply in *reply (may be NULL to
 * discard it). Otherwise prints one line "xvm: VERB: why" (or "xvm: cannot
 * reach xvmd at PATH: why (start it with 'xvmd')") and returns
 * XVM_EXIT_FAIL or XVM_EXIT_NOXVMD. */
int api_run(const char *verb, json_object *req, json_object **reply);

/* As api_run on an open connection (the connection stays open). */
int api_run_on(struct api_conn *c, const char *verb, json_object *req,
	       json_object **reply);

/* Small accessors: a member as a string / integer / bool, or the default
 * when missing or of another type. */
const char *api_str(json_object *o, const char *key, const char *def);
long long api_int(json_object *o, const char *key, long long def);
int api_bool(json_object *o, const char *key, int def);
/* A member that is an array, or NULL. */
json_object *api_array(json_object *o, const char *key);

#endif
