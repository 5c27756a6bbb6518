/* tap.h - a Linux tap device carrying virtio-net frames (IFF_VNET_HDR).
 *
 * tap_open() attaches to the tap NAME, creating it when it does not exist.
 * A tap made here is not persistent: the kernel removes it when the last fd
 * closes, so it disappears when xvm exits, even on a crash. A persistent tap
 * made by the admin (`ip tuntap add`) is attached to and left alone.
 * Every frame read or written starts with a 12-byte virtio_net_hdr (the
 * virtio 1.x layout with num_buffers). The fd is non-blocking.
 *
 * Threads: a struct tap is used by one thread at a time (its owner). */
#ifndef XVM_TAP_H
#define XVM_TAP_H

#include <net/if.h>
#include <stdbool.h>

/* tap offload flags (TUN_F_* of linux/if_tun.h, repeated for users) */
#define TAP_OFF_CSUM 0x01
#define TAP_OFF_TSO4 0x02
#define TAP_OFF_TSO6 0x04

#define TAP_VNET_HDR_LEN 12

struct tap {
	int fd;
	char name[IFNAMSIZ];
	bool created;            /* made by tap_open (goes away with the fd) */
	unsigned offload_ok;     /* TAP_OFF_* the tap accepted when probed */
};

/* Open or create tap `name` (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, header size 12,
 * non-blocking, offloads off). Returns 0 or -errno: -EBUSY tap in use by
 * another process, -EPERM/-EACCES no permission, -EINVAL name is not a tap,
 * -ENAMETOOLONG, -ENOENT no /dev/net/tun. Nothing is left behind on error. */
int tap_open(const char *name, struct tap *t);
/* Add the open tap t to bridge br and bring it up (the tap leaves the bridge
 * by itself when it disappears). 0 or -errno: -ENODEV no such bridge,
 * -EOPNOTSUPP br is not a bridge, -EPERM. */
int tap_add_to_bridge(struct tap *t, const char *br);
/* Take over fd, a tap another process made for us (xvm-net-helper): check
 * it is a tap with IFF_VNET_HDR, set the header size, non-blocking,
 * offloads off, probe offload_ok; created is set (it dies with the fd).
 * 0, or -errno with fd closed. */
int tap_adopt(int fd, const char *name, struct tap *t);
/* Wrap an fd that already speaks the 12-byte header framing (a socketpair in
 * tests); no offloads. Never fails. */
void tap_from_fd(int fd, struct tap *t);
/* Let the tap hand us frames with these TAP_OFF_* offloads (only what the
 * guest negotiated). 0 or -errno (-ENOTTY: not a tap). */
int tap_set_offload(struct tap *t, unsigned flags);
/* Close; a tap tap_open created disappears with it. NULL-safe, idempotent. */
void tap_close(struct tap *t);
/* The tap's kernel counters (/sys/class/net/NAME/statistics): frames and
 * bytes the tap received (what the guest sent) and transmitted (what the
 * guest got): c[] = rx_packets, rx_bytes, tx_packets, tx_bytes. 0 or
 * -errno (a counter that cannot be read). */
int tap_counters(const struct tap *t, unsigned long long c[4]);
/* One-line reason for a tap_open error, for "xvm: --net tap=X: <why>". */
const char *tap_strerror(int rc);

#endif
