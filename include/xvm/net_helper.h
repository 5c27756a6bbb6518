/* net_helper.h - xvm-net-helper, the one privileged step of networking, and
 * the VMM side that runs it.
 *
 * An unprivileged VMM cannot create a tap or put one in a bridge (both need
 * CAP_NET_ADMIN). For `--net bridge=BR` it then runs the helper (installed
 * setuid root or with the cap_net_admin file capability) over a socketpair:
 *
 *     xvm-net-helper --fd=N --br=BR
 *
 * The helper checks that BR is allowed by the ACL file (NET_HELPER_ACL,
 * /etc/xvm/bridge.conf unless the build says otherwise), creates a new,
 * non-persistent tap "xvmN" (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR; it never
 * attaches to an existing tap), adds it to BR, sets it up, and sends one
 * struct net_helper_reply over fd N with the tap's fd as SCM_RIGHTS; then
 * it exits. On any error it sends the reply with the stage and errno and
 * closes the tap, which the kernel then removes: nothing is left behind.
 * The tap dies with the VMM's fd, so nothing needs cleaning up at exit.
 *
 * ACL file: one rule a line, '#' starts a comment:
 *     allow BR | allow all | deny BR | deny all
 * A bridge is allowed when an allow rule names it (or all) and no deny
 * rule does; no file or no rule means nothing is allowed. The override
 * XVM_BRIDGE_CONF is honoured only when the helper runs without gained
 * privileges (secure_getenv), i.e. never for a setuid or file-caps helper. */
#ifndef XVM_NET_HELPER_H
#define XVM_NET_HELPER_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

struct tap;

#define NET_HELPER_NAME "xvm-net-helper"
#ifndef NET_HELPER_ACL
#define NET_HELPER_ACL "/etc/xvm/bridge.conf"
#endif
#define NET_HELPER_ACL_MAX (64 * 1024)

/* where a helper failure happened */
enum net_helper_stage {
	NH_OK = 0,
	NH_USAGE = 1,     /* bad arguments or fd */
	NH_ACL = 2,       /* the ACL file cannot be read or does not allow BR */
	NH_TAP = 3,       /* creating the tap failed */
	NH_BRIDGE = 4,    /* adding it to BR or setting it up failed */
};

struct net_helper_reply {
	int32_t err;              /* 0 or -errno */
	uint32_t stage;           /* enum net_helper_stage */
	char ifname[IFNAMSIZ];    /* the tap (NH_OK) */
};

/* Is bridge br allowed by ACL text (NUL-terminated)? 1 yes, 0 no, -EINVAL
 * for a malformed line (its number in *bad_line). */
int net_acl_check(const char *text, const char *br, unsigned *bad_line);

/* The helper to run: $XVM_NET_HELPER, else xvm-net-helper next to this
 * executable, else NET_HELPER_DIR/xvm-net-helper. Writes into buf. */
const char *net_helper_path(char *buf, size_t len);

/* Run the helper for bridge br and adopt the tap it sends into *t (offloads
 * probed as tap_open does). 0 or -errno after logging one line
 * "xvm: --net bridge=BR: why". */
int net_helper_open(const char *br, struct tap *t);

#endif
