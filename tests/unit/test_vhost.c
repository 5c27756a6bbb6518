/* test_vhost.c - vhost-net groundwork: the memory table for one and two RAM
 * slots, the ring features acked to vhost (and refusal when it lacks one),
 * the probe where there is no /dev/vhost-net, start/stop errors on a device
 * that is not vhost, and --net vhost= parsing. The data path itself runs in
 * linux-net (nestlab: Linux pings over vhost-net). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "xvm/guestmem.h"
#include "xvm/log.h"
#include "xvm/vhost.h"
#include "xvm/virtio_net.h"

#define F_MRG (1ULL << 15)
#define F_CSUM (1ULL << 0)
#define F_IND (1ULL << 28)
#define F_EIDX (1ULL << 29)
#define F_V1 (1ULL << 32)

int main(void)
{
	static uint8_t fake[64];
	struct guestmem gm = { .host = fake, .size = 256 << 20, .low_size = 256 << 20 };
	struct vhost_region r[2];
	struct vnet_opts o;
	char buf[128];
	uint64_t feat = 0;
	int rc;

	log_init("test-vhost", LOG_ERR);
	/* one slot below the hole */
	CHECK(vhost_mem_regions(&gm, r) == 1);
	CHECK(r[0].gpa == 0 && r[0].size == 256 << 20 && r[0].uaddr == (uint64_t)(uintptr_t)fake);
	/* 4 GiB: 3 GiB low, 1 GiB from 4 GiB, host addresses contiguous */
	gm = (struct guestmem){ .host = fake, .size = 4ULL << 30, .low_size = 3ULL << 30,
				.high_size = 1ULL << 30 };
	CHECK(vhost_mem_regions(&gm, r) == 2);
	CHECK(r[0].gpa == 0 && r[0].size == 3ULL << 30);
	CHECK(r[1].gpa == GUESTMEM_4G && r[1].size == 1ULL << 30 &&
	      r[1].uaddr == (uint64_t)(uintptr_t)fake + (3ULL << 30));
	/* features: only ring bits go to vhost; a missing one refuses vhost */
	uint64_t vh = F_IND | F_EIDX | F_V1 | F_MRG;
	CHECK(vhost_net_ack(vh, F_V1 | F_EIDX | F_MRG | F_CSUM) == (F_V1 | F_EIDX | F_MRG));
	CHECK(vhost_net_ack(vh, F_V1) == F_V1);
	CHECK(vhost_net_ack(F_V1 | F_MRG, F_V1 | F_EIDX) == 0);      /* no EVENT_IDX in vhost */
	CHECK(vhost_net_ack(vh, F_MRG | F_EIDX) == 0);               /* legacy guest */
	/* the probe says why it cannot (this host has no /dev/vhost-net) */
	rc = vhost_net_probe(&gm, &feat);
	if (access("/dev/vhost-net", F_OK) < 0)
		CHECK(rc == -ENOENT);
	else
		printf("/dev/vhost-net present: probe rc=%d features=0x%llx\n", rc,
		       (unsigned long long)feat);
	/* start and stop name the failing step and leave nothing half-done on a
	 * device that is not vhost (here /dev/null: every ioctl is ENOTTY) */
	{
		struct vhost_ring rings[VHOST_NET_RINGS] = { { .size = 256, .kick_fd = -1, .call_fd = -1 },
							     { .size = 256, .kick_fd = -1, .call_fd = -1 } };
		uint16_t base[VHOST_NET_RINGS] = { 7, 7 };
		const char *step = NULL;
		int nfd = open("/dev/null", O_RDWR | O_CLOEXEC);

		CHECK(nfd >= 0);
		CHECK(vhost_net_start(nfd, &gm, F_V1, rings, -1, &step) == -ENOTTY);
		CHECK(step && !strcmp(step, "VHOST_SET_FEATURES"));
		CHECK(vhost_net_stop(nfd, base) == -ENOTTY);
		CHECK(base[0] == 0 && base[1] == 0);   /* unknown: not left stale */
		close(nfd);
	}
	/* --net vhost= */
	CHECK(vnet_parse("tap=t0", buf, &o) == 0 && o.vhost == VHOST_AUTO);
	CHECK(vnet_parse("tap=t0,vhost=on", buf, &o) == 0 && o.vhost == VHOST_ON);
	CHECK(vnet_parse("tap=t0,vhost=off", buf, &o) == 0 && o.vhost == VHOST_OFF);
	CHECK(vnet_parse("bridge=b,vhost=auto", buf, &o) == 0 && o.vhost == VHOST_AUTO);
	CHECK(vnet_parse("tap=t0,vhost=maybe", buf, &o) < 0);
	CHECK(vnet_parse("tap=t0,vhost=", buf, &o) < 0);
	return check_report("vhost");
}
