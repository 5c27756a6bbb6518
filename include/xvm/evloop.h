/* evloop.h - the device I/O event loop: one epoll thread that runs a
 * callback when a registered fd becomes readable (ioeventfds, taps, ...).
 *
 * evloop_add/evloop_del may be called from any thread; callbacks run on the
 * loop thread only, one at a time. After evloop_del returns, the callback
 * for that fd is not running and will not run again. */
#ifndef XVM_EVLOOP_H
#define XVM_EVLOOP_H

typedef void (*evloop_fn)(void *opaque);

struct evloop;

/* Create the loop and start its thread (named name). 0 or -errno. */
int evloop_create(struct evloop **out, const char *name);
/* Watch fd for input. 0 or -errno (-EEXIST when already watched). */
int evloop_add(struct evloop *l, int fd, evloop_fn fn, void *opaque);
int evloop_del(struct evloop *l, int fd);
/* Stop the thread (no callback runs after this returns); evloop_del still
 * works afterwards. Idempotent; NULL is fine. */
void evloop_stop(struct evloop *l);
/* Stop the thread and free the loop (NULL is fine). */
void evloop_destroy(struct evloop *l);

#endif
