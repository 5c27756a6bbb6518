/* control.h - the VMM control socket (`xvm run --control PATH`): JSON lines
 * over a Unix stream socket, the protocol in docs/design/toolstack.md.
 *
 * Threads: one control thread ("xvm-ctl") owns the listener and every
 * client connection (poll()). Request handlers run on that thread, one at a
 * time, in the order requests arrive; each request gets exactly one reply
 * line, in order. A handler may block briefly (pause waits for the vCPUs to
 * park) but never on the guest. control_event() may be called from any
 * thread: it queues the event line on every subscribed connection and wakes
 * the control thread, which writes it. Writes never block the thread:
 * output is buffered per connection (a client that lets 1 MiB pile up is
 * disconnected).
 *
 * Adding commands: the core set lives in vmm/control_cmds.c. Another module
 * adds its own with control_register() before control_start() (e.g. the
 * hotplug commands disk-add, nic-add). A handler gets the parsed request
 * and an empty reply object; it adds result fields to the reply and
 * returns 0 (the reply gets "ok": true), or returns a negative errno after
 * (optionally) control_error() set the message; the reply is then
 * {"ok": false, "error": message or strerror}. "id" is echoed by the core. */
#ifndef XVM_CONTROL_H
#define XVM_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

struct json_object;
struct control;

#define CONTROL_MAX_LINE (64 * 1024)  /* longest request line accepted */
#define CONTROL_MAX_CLIENTS 32
#define CONTROL_MAX_CMDS 32

struct control_req {
	struct control *ctl;
	const char *cmd;              /* the "cmd" value */
	struct json_object *args;     /* the whole request object (borrowed) */
	struct json_object *reply;    /* add result fields here (borrowed) */
	bool subscribe;               /* set by a handler: events go to this client */
	char error[256];              /* set through control_error() */
};

typedef int (*control_fn)(struct control_req *req, void *opaque);

/* Bind PATH (mode 0600; an existing socket nobody answers on is replaced,
 * anything else at PATH is refused with -EEXIST). domid tags the probes.
 * Nothing runs until control_start(). 0 or -errno (one line logged). */
int control_create(struct control **out, const char *path, int domid);
/* Add or replace command cmd (copied; at most CONTROL_MAX_CMDS).
 * Before control_start() only. 0, -ENOSPC or -EINVAL. */
int control_register(struct control *c, const char *cmd, control_fn fn, void *opaque);
/* Start the control thread. 0 or -errno. */
int control_start(struct control *c);
/* Set the reply's error text (one line). Returns -EINVAL for convenience. */
int control_error(struct control_req *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Send {"event": name, ...fields} to every subscribed client. fields (may be
 * NULL) is consumed: its keys are copied into the event and it is put.
 * Any thread; never blocks on a client. */
void control_event(struct control *c, const char *name, struct json_object *fields);
/* Stop the control thread: the request being handled finishes and is
 * answered (queued), no handler runs afterwards; connections stay open and
 * control_event() still queues. Idempotent; NULL is fine. */
void control_stop(struct control *c);
/* control_stop(), then flush queued output (bounded wait, up to timeout_ms), stop the thread,
 * close every connection and remove the socket. NULL is fine. */
void control_destroy(struct control *c, int timeout_ms);

/* The core commands (vmm/control_cmds.c) on one machine: status, pause,
 * unpause, power-button, reset, quit, stats, devices, subscribe. v must
 * outlive the control thread. 0 or -errno. */
struct machine;
struct control_vm {
	struct control *ctl;
	struct machine *m;
	uint64_t start_ns;           /* CLOCK_MONOTONIC when the VM was built */
	const char *console_log;     /* --console-log PATH or NULL */
};
int control_vm_register(struct control_vm *v);

#endif
