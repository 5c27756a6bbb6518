/* tap.c - open or create a Linux tap with the virtio-net header, set its offloads. */
#include "xvm/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Which offloads would the tap give us? Ask, then switch them off. */
static void tap_probe_offloads(struct tap *t)
{
	if (ioctl(t->fd, TUNSETOFFLOAD, TAP_OFF_CSUM) == 0)
		t->offload_ok |= TAP_OFF_CSUM;
	if (ioctl(t->fd, TUNSETOFFLOAD, TAP_OFF_CSUM | TAP_OFF_TSO4 | TAP_OFF_TSO6) == 0)
		t->offload_ok |= TAP_OFF_TSO4 | TAP_OFF_TSO6;
	ioctl(t->fd, TUNSETOFFLOAD, 0);
}

int tap_open(const char *name, struct tap *t)
{
	struct ifreq ifr = { 0 };
	int hdr = TAP_VNET_HDR_LEN, fd, rc;
	bool existed;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (!name || !name[0] || strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	existed = if_nametoindex(name) != 0;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		rc = -errno;
		close(fd);   /* a tap TUNSETIFF made goes away here */
		return rc;
	}
	t->fd = fd;
	t->created = !existed;
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	tap_probe_offloads(t);
	return 0;
}

int tap_adopt(int fd, const char *name, struct tap *t)
{
	struct ifreq ifr = { 0 };
	int hdr = TAP_VNET_HDR_LEN;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (ioctl(fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_TAP) ||
	    !(ifr.ifr_flags & IFF_VNET_HDR) || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		int rc = errno ? -errno : -EINVAL;
		close(fd);
		return rc;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	t->fd = fd;
	t->created = true;
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name[0] ? ifr.ifr_name : name);
	tap_probe_offloads(t);
	return 0;
}

int tap_add_to_bridge(struct tap *t, const char *br)
{
	struct ifreq ifr = { 0 };
	int s, rc = 0;

	if (strlen(br) >= IFNAMSIZ || !if_nametoindex(br))
		return -ENODEV;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memcpy(ifr.ifr_name, br, strlen(br));
	ifr.ifr_ifindex = (int)if_nametoindex(t->name);
	if (ioctl(s, SIOCBRADDIF, &ifr) < 0) {
		rc = errno == EINVAL ? -EOPNOTSUPP : -errno;
		goto out;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, strlen(t->name));
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		rc = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (rc == 0 && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
out:
	close(s);
	return rc;
}

void tap_from_fd(int fd, struct tap *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	snprintf(t->name, sizeof(t->name), "fd%d", fd);
}

int tap_set_offload(struct tap *t, unsigned flags)
{
	if (flags & (TAP_OFF_TSO4 | TAP_OFF_TSO6))
		flags |= TAP_OFF_CSUM;    /* the kernel wants TSO only with CSUM */
	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)flags) < 0)
		return -errno;
	return 0;
}

void tap_close(struct tap *t)
{
	if (!t || t->fd < 0)
		return;
	close(t->fd);
	t->fd = -1;
}

int tap_counters(const struct tap *t, unsigned long long c[4])
{
	static const char *const names[4] = { "rx_packets", "rx_bytes", "tx_packets",
					      "tx_bytes" };
	char path[96];

	for (unsigned i = 0; i < 4; i++) {
		FILE *f;
		int ok;

		snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", t->name, names[i]);
		if (!(f = fopen(path, "re")))
			return -errno;
		ok = fscanf(f, "%llu", &c[i]) == 1;
		fclose(f);
		if (!ok)
			return -EIO;
	}
	return 0;
}

const char *tap_strerror(int rc)
{
	switch (rc) {
	case -EBUSY: return "tap busy (another process has it open)";
	case -EPERM:
	case -EACCES: return "no permission to open or create it (needs CAP_NET_ADMIN)";
	case -EINVAL: return "exists and is not a tap";
	case -ENAMETOOLONG: return "name empty or longer than 15 characters";
	case -ENOENT: return "no /dev/net/tun (tun module not loaded)";
	default: return strerror(-rc);
	}
}
