/* test_vnet.c - virtio/net.c: feature/offload negotiation, MAC parsing and
 * the default MAC, --net parsing, and the device itself through the real
 * virtio-pci transport on a KVM VM with a SOCK_SEQPACKET socketpair as the
 * "tap" (this file plays the guest driver over the MMIO bus): tx framing,
 * rx with and without mergeable buffers, a frame waiting for buffers, and
 * hostile chains (needs-reset, then a reset makes it work again). The
 * device part skips without KVM; the pure checks always run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/bar_fixture.h"
#include "tests/unit/check.h"
#include "xvm/evloop.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/pci.h"
#include "xvm/tap.h"
#include "xvm/util.h"
#include "xvm/virtio.h"
#include "xvm/virtio_net.h"
#include "xvm/vm.h"

#define QSIZE 16
#define F_NEXT 1
#define F_WRITE 2
#define BIT(n) (1ULL << (n))

struct drv {
	struct vm *vm;
	uint64_t bar, ring, buf;   /* queue q's rings at ring + q * 0x4000 */
	uint16_t avail_idx[2], used_seen[2];
	int sock;                  /* the host end of the "tap" */
};

static void mmio_w(struct drv *d, uint64_t off, unsigned len, uint64_t v)
{
	bar_w(d->vm, d->bar, off, len, v);
}

static uint64_t mmio_r(struct drv *d, uint64_t off, unsigned len)
{
	return bar_r(d->vm, d->bar, off, len);
}

static void *ram(struct drv *d, uint64_t gpa, uint64_t len)
{
	return gm_ptr(&d->vm->mem, gpa, len);
}

static uint64_t qbase(struct drv *d, unsigned q) { return d->ring + q * 0x4000ULL; }

/* reset, negotiate VERSION_1 + feat, both queues, DRIVER_OK; returns the offer */
static uint64_t drv_init(struct drv *d, uint64_t feat)
{
	uint64_t offer;

	mmio_w(d, 0x14, 1, 0);
	mmio_w(d, 0x14, 1, 1 | 2);
	mmio_w(d, 0x00, 4, 0);
	offer = mmio_r(d, 0x04, 4);
	mmio_w(d, 0x00, 4, 1);
	offer |= mmio_r(d, 0x04, 4) << 32;
	feat = (feat & offer) | BIT(32);
	mmio_w(d, 0x08, 4, 0);
	mmio_w(d, 0x0c, 4, (uint32_t)feat);
	mmio_w(d, 0x08, 4, 1);
	mmio_w(d, 0x0c, 4, (uint32_t)(feat >> 32));
	mmio_w(d, 0x14, 1, 1 | 2 | 8);
	CHECK(mmio_r(d, 0x14, 1) & 8);
	for (unsigned q = 0; q < 2; q++) {
		memset(ram(d, qbase(d, q), 0x3000), 0, 0x3000);
		mmio_w(d, 0x16, 2, q);
		mmio_w(d, 0x18, 2, QSIZE);
		mmio_w(d, 0x20, 8, qbase(d, q));
		mmio_w(d, 0x28, 8, qbase(d, q) + 0x1000);
		mmio_w(d, 0x30, 8, qbase(d, q) + 0x2000);
		mmio_w(d, 0x1c, 2, 1);
		d->avail_idx[q] = d->used_seen[q] = 0;
	}
	mmio_w(d, 0x14, 1, 1 | 2 | 8 | 4);
	return offer;
}

static void set_desc(struct drv *d, unsigned q, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = ram(d, qbase(d, q) + 16 * i, 16);

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* publish head on queue q and kick */
static void post(struct drv *d, unsigned q, uint16_t head, bool kick)
{
	uint16_t *ring = ram(d, qbase(d, q) + 0x1004, 2 * QSIZE);

	ring[d->avail_idx[q] % QSIZE] = head;
	d->avail_idx[q]++;
	__atomic_store_n((uint16_t *)ram(d, qbase(d, q) + 0x1002, 2), d->avail_idx[q],
			 __ATOMIC_RELEASE);
	if (kick)
		mmio_w(d, 0x3000 + 4 * q, 2, q);
}

/* Wait up to ms for queue q's next used element: its id (and *len), or -1. */
static int wait_used(struct drv *d, unsigned q, int ms, uint32_t *len)
{
	struct timespec ts = { 0, 1000000 };
	uint64_t used = qbase(d, q) + 0x2000;

	for (int i = 0; i < ms; i++) {
		uint16_t idx = __atomic_load_n((uint16_t *)ram(d, used + 2, 2), __ATOMIC_ACQUIRE);
		if (idx != d->used_seen[q]) {
			uint32_t *e = ram(d, used + 4 + 8 * (d->used_seen[q] % QSIZE), 8);
			d->used_seen[q]++;
			*len = e[1];
			return (int)e[0];
		}
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void test_pure(void)
{
	uint8_t a[6], b[6], m[6];
	struct vnet_opts o;
	char buf[128];
	uint64_t f0 = vnet_features(0), fall = vnet_features(TAP_OFF_CSUM | TAP_OFF_TSO4 |
							     TAP_OFF_TSO6);

	/* guest offloads only when the tap accepts them */
	CHECK(!(f0 & (BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
		      BIT(VIRTIO_NET_F_GUEST_TSO6))));
	CHECK(f0 & BIT(VIRTIO_NET_F_MRG_RXBUF) && f0 & BIT(VIRTIO_NET_F_MAC) &&
	      f0 & BIT(VIRTIO_NET_F_STATUS) && f0 & BIT(VIRTIO_NET_F_CSUM));
	CHECK((fall & (BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
		       BIT(VIRTIO_NET_F_GUEST_TSO6))) ==
	      (BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
	       BIT(VIRTIO_NET_F_GUEST_TSO6)));
	CHECK(!(vnet_features(TAP_OFF_TSO4) & BIT(VIRTIO_NET_F_GUEST_TSO4)));
	/* the tap gets exactly what the guest took; TSO never without CSUM */
	CHECK(vnet_tap_offload(0) == 0);
	CHECK(vnet_tap_offload(BIT(VIRTIO_NET_F_GUEST_TSO4)) == 0);
	CHECK(vnet_tap_offload(BIT(VIRTIO_NET_F_GUEST_CSUM)) == TAP_OFF_CSUM);
	CHECK(vnet_tap_offload(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO6)) ==
	      (TAP_OFF_CSUM | TAP_OFF_TSO6));
	CHECK(vnet_tap_offload(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4)) == 0);
	/* MACs */
	CHECK(vnet_mac_parse("02:00:5e:10:00:a1", m) == 0 && m[0] == 2 && m[5] == 0xa1);
	CHECK(vnet_mac_parse("01:00:5e:10:00:a1", m) == -EINVAL);    /* multicast */
	CHECK(vnet_mac_parse("00:00:00:00:00:00", m) == -EINVAL);
	CHECK(vnet_mac_parse("02:00:5e:10:00", m) == -EINVAL);
	CHECK(vnet_mac_parse("02:00:5e:10:00:a1:", m) == -EINVAL);
	CHECK(vnet_mac_parse("02-00-5e-10-00-a1", m) == -EINVAL);
	CHECK(vnet_mac_parse("0g:00:5e:10:00:a1", m) == -EINVAL);
	CHECK(vnet_mac_parse("+2:00:5e:10:00:a1", m) == -EINVAL);
	vnet_mac_default("web1", 0, a);
	vnet_mac_default("web1", 0, b);
	CHECK(!memcmp(a, b, 6) && a[0] == 0x52 && a[1] == 0x54 && a[2] == 0 && (a[0] & 2) &&
	      !(a[0] & 1));
	vnet_mac_default("web1", 1, b);
	CHECK(memcmp(a, b, 6) != 0);
	vnet_mac_default("web2", 0, b);
	CHECK(memcmp(a, b, 6) != 0);
	/* --net */
	CHECK(vnet_parse("tap=xt0,mac=02:00:00:00:00:01,id=lan", buf, &o) == 0 &&
	      !strcmp(o.tap, "xt0") && o.mac_set && o.mac[5] == 1 && !strcmp(o.id, "lan") &&
	      o.fd == -1);
	CHECK(vnet_parse("tap=xt0", buf, &o) == 0 && !o.mac_set && !o.id);
	CHECK(vnet_parse("bridge=br0", buf, &o) == 0 && !o.tap && !strcmp(o.bridge, "br0"));
	CHECK(vnet_parse("tap=xt1,bridge=br0", buf, &o) == 0 && !strcmp(o.tap, "xt1") &&
	      !strcmp(o.bridge, "br0"));
	CHECK(vnet_parse("bridge=", buf, &o) == -EINVAL);
	CHECK(vnet_parse("bridge=0123456789abcdef", buf, &o) == -EINVAL);
	CHECK(vnet_parse("mac=02:00:00:00:00:01", buf, &o) == -EINVAL);
	CHECK(vnet_parse("tap=xt0,mac=bad", buf, &o) == -EINVAL);
	CHECK(vnet_parse("tap=0123456789abcdef", buf, &o) == -EINVAL);
	CHECK(vnet_parse("tap=xt0,speed=10", buf, &o) == -EINVAL);
	CHECK(vnet_parse("", buf, &o) == -EINVAL);
}

/* config space: the MAC given, link up, one queue pair */
static void test_config(struct drv *d)
{
	CHECK(mmio_r(d, 0x2000, 1) == 0x02 && mmio_r(d, 0x2005, 1) == 0x42);
	CHECK(mmio_r(d, 0x2006, 2) == 1);     /* VIRTIO_NET_S_LINK_UP */
	CHECK(mmio_r(d, 0x2008, 2) == 1);
}

/* tx: a header and a frame in two descriptors reach the tap as one datagram */
static void test_tx(struct drv *d)
{
	uint8_t *hdr = ram(d, d->buf, 12), *frame = ram(d, d->buf + 0x1000, 60), got[256];
	uint32_t len;
	ssize_t n;

	memset(hdr, 0, 12);
	hdr[0] = 0;   /* flags */
	for (int i = 0; i < 60; i++)
		frame[i] = (uint8_t)(0xa0 + i);
	set_desc(d, 1, 0, d->buf, 12, F_NEXT, 1);
	set_desc(d, 1, 1, d->buf + 0x1000, 60, 0, 0);
	post(d, 1, 0, true);
	CHECK(wait_used(d, 1, 2000, &len) == 0 && len == 0);
	n = recv(d->sock, got, sizeof(got), MSG_DONTWAIT);
	CHECK(n == 72 && !memcmp(got, hdr, 12) && !memcmp(got + 12, frame, 60));
}

/* rx without mergeable buffers: one chain per frame, num_buffers 1 */
static void test_rx_plain(struct drv *d)
{
	uint8_t pkt[12 + 100], *b = ram(d, d->buf + 0x2000, 2048);
	uint32_t len;

	memset(pkt, 0, 12);
	for (int i = 12; i < (int)sizeof(pkt); i++)
		pkt[i] = (uint8_t)i;
	memset(b, 0xee, 2048);
	set_desc(d, 0, 0, d->buf + 0x2000, 2048, F_WRITE, 0);
	post(d, 0, 0, true);
	CHECK(send(d->sock, pkt, sizeof(pkt), 0) == (ssize_t)sizeof(pkt));
	CHECK(wait_used(d, 0, 2000, &len) == 0 && len == sizeof(pkt));
	CHECK(b[10] == 1 && b[11] == 0 && !memcmp(b + 12, pkt + 12, 100) && b[112] == 0xee);
}

/* CPU time of this process (all threads) in ns */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* rx with MRG_RXBUF: a 150-byte frame over three 64-byte buffers, sent
 * before any buffer exists (it waits, it is not dropped) */
static void test_rx_mrg(struct drv *d, struct vnet *n)
{
	uint8_t pkt[12 + 150], out[3 * 64];
	uint32_t len[3];
	struct vnet_stats st;
	uint64_t cpu0;
	int id[3];

	memset(pkt, 0, 12);
	for (int i = 12; i < (int)sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 7);
	CHECK(send(d->sock, pkt, sizeof(pkt), 0) == (ssize_t)sizeof(pkt));
	/* no buffer: the device must stop watching the tap, not spin on it */
	cpu0 = cpu_ns();
	usleep(200000);
	CHECK(cpu_ns() - cpu0 < 50000000ULL);
	for (unsigned i = 0; i < 3; i++) {
		set_desc(d, 0, i, d->buf + 0x3000 + 64 * i, 64, F_WRITE, 0);
		post(d, 0, (uint16_t)i, i == 2);
	}
	for (unsigned i = 0; i < 3; i++) {
		id[i] = wait_used(d, 0, 2000, &len[i]);
		CHECK(id[i] == (int)i);
	}
	CHECK(len[0] == 64 && len[1] == 64 && len[2] == 34);
	memcpy(out, ram(d, d->buf + 0x3000, sizeof(out)), sizeof(out));
	CHECK(out[10] == 3 && out[11] == 0);
	CHECK(!memcmp(out + 12, pkt + 12, 150));
	vnet_get_stats(n, &st);
	CHECK(st.drops == 0 && st.rx_packets >= 1 && st.tx_packets >= 1);
}

static bool needs_reset(struct drv *d)
{
	for (int i = 0; i < 2000; i++) {
		if (mmio_r(d, 0x14, 1) & 0x40)
			return true;
		usleep(1000);
	}
	return false;
}

/* hostile chains: a readable rx buffer, a tx chain shorter than the header,
 * a descriptor outside RAM; each sets NEEDS_RESET, a reset recovers */
static void test_hostile(struct drv *d)
{
	uint8_t pkt[12 + 20] = { 0 };

	drv_init(d, 0);
	set_desc(d, 0, 0, d->buf, 2048, 0, 0);        /* rx buffer the device may not write */
	post(d, 0, 0, true);
	CHECK(send(d->sock, pkt, sizeof(pkt), 0) == (ssize_t)sizeof(pkt));
	CHECK(needs_reset(d));
	drv_init(d, 0);
	CHECK(!(mmio_r(d, 0x14, 1) & 0x40));
	set_desc(d, 1, 0, d->buf, 8, 0, 0);          /* 8 bytes: no room for the header */
	post(d, 1, 0, true);
	CHECK(needs_reset(d));
	drv_init(d, 0);
	set_desc(d, 1, 0, 0x7fff0000000ULL, 64, 0, 0); /* outside guest RAM */
	post(d, 1, 0, true);
	CHECK(needs_reset(d));
	drv_init(d, 0);
	test_tx(d);                                   /* works again after the reset */
}

static int setup(struct vm *vm, struct pci_bus *bus, struct evloop *loop, struct vnet **n,
		 struct drv *d)
{
	struct vnet_opts o = { .fd = -1, .mac_set = true,
			       .mac = { 0x02, 0, 0, 0, 0, 0x42 } };
	int sv[2];
	unsigned slot = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	o.fd = sv[0];
	if (vnet_create(vm, bus, loop, &o, 0, n) < 0)
		return -1;
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
		if (pci_cfg_read(bus, s, 0, PCI_DEVICE_ID, 2) == 0x1041)
			slot = s;
	CHECK(slot && pci_cfg_read(bus, slot, 0, PCI_CLASS_PROG, 4) >> 8 == 0x020000 >> 8);
	*d = (struct drv){ .vm = vm, .bar = pci_cfg_read(bus, slot, 0, PCI_BAR0, 4) & ~0xfu,
			   .ring = 0x100000, .buf = 0x200000, .sock = sv[1] };
	pci_cfg_write(bus, slot, 0, PCI_COMMAND, 2, PCI_CMD_MEM | PCI_CMD_MASTER);
	return 0;
}

int main(void)
{
	struct vm_config cfg = { .name = "vnet-test", .mem_bytes = 32 << 20, .vcpus = 1 };
	struct kvm_host kvm = { .fd = -1 };
	struct pci_bus *bus = NULL;
	struct evloop *loop = NULL;
	struct vnet *n = NULL;
	struct vm *vm = NULL;
	struct drv d;
	uint64_t offer;

	log_init("test-vnet", LOG_ERR);
	test_pure();
	if (kvm_open(&kvm, NULL) < 0 || vm_create(&vm, &kvm, &cfg) < 0) {
		check_report("vnet");
		printf("skip: no usable /dev/kvm to create a VM on (pure checks %s)\n",
		       check_failures ? "FAILED" : "passed");
		return check_failures ? 1 : 77;
	}
	CHECK(pci_bus_create(vm, &bus) == 0);
	CHECK(evloop_create(&loop, "vnet-test") == 0);
	if (bus && loop && setup(vm, bus, loop, &n, &d) == 0) {
		offer = drv_init(&d, 0);
		/* a socket is not a tap: no guest offloads offered */
		CHECK(!(offer & BIT(VIRTIO_NET_F_GUEST_CSUM)) && (offer & BIT(VIRTIO_NET_F_MRG_RXBUF)));
		test_config(&d);
		test_tx(&d);
		test_rx_plain(&d);
		drv_init(&d, BIT(VIRTIO_NET_F_MRG_RXBUF));
		test_rx_mrg(&d, n);
		test_hostile(&d);
	} else {
		CHECK(!"device");
	}
	vm_halt(vm);
	evloop_stop(loop);
	vnet_destroy(n);
	if (n)
		close(d.sock);
	evloop_destroy(loop);
	pci_bus_destroy(bus);
	vm_destroy(vm);
	kvm_close(&kvm);
	return check_report("vnet");
}
