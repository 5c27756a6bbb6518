/* flood.c - send N Ethernet frames of SIZE bytes (ethertype 0x88b6, to the
 * broadcast address) out of interface IF as fast as the kernel takes them:
 * the host side of bench/net.sh's receive benchmark. With a tap, the frames
 * go to whoever reads the tap (the VMM); what its queue cannot hold is
 * dropped by the kernel and counted on the tap (tx_dropped).
 * The frames go in bursts of 256 with a 100 us pause between (FLOOD_PAUSE_US
 * overrides): on a 2-core host the guest's vCPU takes one core, and a sender
 * spinning on the other would starve the VMM's I/O thread of the CPU it
 * needs to read the tap; the pauses leave it that CPU while still offering
 * frames far faster than a VMM takes them (the tap queue holds 1000).
 * usage: bench-flood IF SIZE N [GOFILE]   (waits for GOFILE to exist first)
 * Prints "sent=N secs=S". Needs CAP_NET_RAW. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define ETH_BENCH 0x88b6

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static unsigned char frame[1514];
	struct mmsghdr msg[BATCH];
	struct iovec iov = { frame, 0 };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	long size, n, sent = 0;
	double t0;
	int s;
	const char *pause_env = getenv("FLOOD_PAUSE_US");
	long pause_us = pause_env ? strtol(pause_env, NULL, 10) : 100, burst = 0;

	if (argc < 4 || (size = strtol(argv[2], NULL, 10)) < 60 || size > 1514 ||
	    (n = strtol(argv[3], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: bench-flood IF SIZE(60..1514) N [GOFILE]\n");
		return 2;
	}
	sll.sll_ifindex = (int)if_nametoindex(argv[1]);
	sll.sll_protocol = htons(ETH_BENCH);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "bench-flood: %s: no such interface\n", argv[1]);
		return 1;
	}
	s = socket(AF_PACKET, SOCK_RAW, htons(ETH_BENCH));
	if (s < 0 || bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "bench-flood: packet socket on %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memset(frame, 0xff, 6);                         /* broadcast */
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6); /* locally administered */
	frame[12] = ETH_BENCH >> 8;
	frame[13] = ETH_BENCH & 0xff;
	memcpy(frame + 14, "XVM-BENCH", 9);
	iov.iov_len = (size_t)size;
	for (int i = 0; i < BATCH; i++)
		msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov, .msg_iovlen = 1 } };
	while (argc > 4 && access(argv[4], F_OK) < 0)
		usleep(1000);
	t0 = now();
	while (sent < n) {
		int r = sendmmsg(s, msg, (unsigned)(n - sent < BATCH ? n - sent : BATCH), 0);

		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
				continue;
			fprintf(stderr, "bench-flood: send: %s\n", strerror(errno));
			return 1;
		}
		sent += r;
		if ((burst += r) >= 256 && pause_us > 0) {
			burst = 0;
			usleep((useconds_t)pause_us);
		}
	}
	printf("sent=%ld secs=%.4f\n", sent, now() - t0);
	close(s);
	return 0;
}
