/* rundir.h - where the toolstack keeps volatile files (XVM_RUNDIR) and the xvmd socket.
 *
 * The rules (docs/design/toolstack.md): $XVM_RUNDIR when set; otherwise
 * /run/xvm for root, $XDG_RUNTIME_DIR/xvm or /tmp/xvm-$UID for others.
 * The xvmd API socket is $XVMD_SOCKET (clients only) or RUNDIR/xvmd.sock. */
#ifndef XVM_RUNDIR_H
#define XVM_RUNDIR_H

#include <stddef.h>

/* The run directory, written to buf. Returns 0 or -ENAMETOOLONG. */
int xvm_rundir(char *buf, size_t size);

/* RUNDIR/name in buf. 0 or -ENAMETOOLONG. */
int xvm_rundir_path(const char *name, char *buf, size_t size);

/* The socket a client connects to: $XVMD_SOCKET, else RUNDIR/xvmd.sock.
 * 0 or -ENAMETOOLONG. */
int xvmd_socket_path(char *buf, size_t size);

#endif
