/* virtio_console.h - virtio-console (virtio type 3) with MULTIPORT: a console
 * port for the guest's hvc0 and named ports (/dev/vport*, named in
 * /sys/class/virtio-ports/.../name) that the toolstack reaches through a
 * Unix socket on the host, like QEMU's virtserialport + chardev socket.
 *
 * Ports: port 0 is the console port (CONSOLE_PORT); what the guest writes
 * there goes to the VMM's console output (the serial console's fd), input is
 * not wired (use the serial console). Ports 1..n come from `--vconsole
 * socket=PATH[,name=NAME]`: the device listens on PATH (a stale socket
 * there is replaced; any other file is an error) and serves one connection
 * at a time (a second one is closed at once). Bytes the client writes go
 * to the port's receive queue; bytes the guest writes go to the client.
 * The guest sees PORT_OPEN 1 when a client connects and 0 when it leaves.
 *
 * Queues (MULTIPORT layout): 0/1 port 0 rx/tx, 2/3 control rx/tx, then
 * 4+2(p-1) / 5+2(p-1) for port p. Control: the driver's DEVICE_READY makes
 * the device announce every port (DEVICE_ADD); the driver's PORT_READY for a
 * port gets CONSOLE_PORT + PORT_OPEN (port 0) or PORT_NAME (+ PORT_OPEN when
 * a client is connected). Config: cols, rows 0, max_nr_ports.
 *
 * Hostile driver: a control message shorter than its 8-byte header, a port
 * id outside [0, nports), a receive chain without a writable buffer or a
 * control receive buffer too small for the message sets DEVICE_NEEDS_RESET.
 * Backpressure: when the guest has no receive buffer the device stops
 * reading the client (the socket buffers); guest output that the client
 * does not take at once (socket full or no client) is dropped and counted
 * (xpv vcon-drop), never blocks the event loop.
 *
 * Threads: queue handlers and socket callbacks run on the device event
 * loop; reset arrives on a vCPU thread; one lock in struct vcon orders them. */
#ifndef XVM_VIRTIO_CONSOLE_H
#define XVM_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct pci_bus;
struct evloop;
struct vcon;

#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1

/* control events (virtio 1.x, 5.3.6.2) */
#define VCON_DEVICE_READY 0
#define VCON_DEVICE_ADD 1
#define VCON_DEVICE_REMOVE 2
#define VCON_PORT_READY 3
#define VCON_CONSOLE_PORT 4
#define VCON_RESIZE 5
#define VCON_PORT_OPEN 6
#define VCON_PORT_NAME 7

#define VCON_MAX_PORTS 4         /* named ports (plus the console port 0) */
#define VCON_NAME_MAX 63
#define VCON_PATH_MAX 107        /* sun_path minus the NUL */

struct vcon_port_opts {
	const char *socket;      /* listening Unix socket path */
	const char *name;        /* port name; NULL: "xvm.<port>" */
};

struct vcon_opts {
	struct vcon_port_opts port[VCON_MAX_PORTS];
	unsigned nports;         /* 0: no virtio-console device */
};

/* Parse one --vconsole value "socket=PATH[,name=NAME]" into the next port of
 * o (buf: a copy of spec the options point into, >= strlen(spec) + 1
 * bytes). Names: 1..63 of [A-Za-z0-9._-]. 0 or -EINVAL (logged). */
int vcon_parse(const char *spec, char *buf, struct vcon_opts *o);
/* Plug the device and listen on every port's socket. 0 or -errno (logged;
 * nothing left behind). */
int vcon_create(struct vm *vm, struct pci_bus *bus, struct evloop *loop,
		const struct vcon_opts *o, struct vcon **out);
/* Where the console port's output goes (fd not owned; -1: dropped). */
void vcon_set_output(struct vcon *c, int fd);
/* Close the sockets, remove their paths, free the device (event loop
 * stopped first). NULL is fine. */
void vcon_destroy(struct vcon *c);

#endif
