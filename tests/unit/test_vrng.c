/* test_vrng.c - virtio/rng.c through the real virtio-pci transport on a KVM VM
 * (no vCPU runs; this file plays the driver over the MMIO bus): random fill,
 * multi-buffer chains, the 64 KiB cap, a batch per kick, the malformed chain,
 * the rate limit and a reset while a request waits. Skips (77) without KVM. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tests/unit/bar_fixture.h"
#include "tests/unit/check.h"
#include "xvm/evloop.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/pci.h"
#include "xvm/util.h"
#include "xvm/virtio.h"
#include "xvm/virtio_rng.h"
#include "xvm/vm.h"

#define QSIZE 16
#define F_NEXT 1
#define F_WRITE 2

/* one device as the driver sees it */
struct drv {
	struct vm *vm;
	uint64_t bar, desc, avail, used, buf;  /* guest-physical */
	uint16_t avail_idx, used_seen;
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

/* reset, negotiate VERSION_1 only, queue 0 of QSIZE, DRIVER_OK */
static void drv_init(struct drv *d)
{
	mmio_w(d, 0x14, 1, 0);
	mmio_w(d, 0x14, 1, 1 | 2);
	mmio_w(d, 0x08, 4, 1);
	mmio_w(d, 0x0c, 4, 1);                   /* bit 32: VERSION_1 */
	mmio_w(d, 0x08, 4, 0);
	mmio_w(d, 0x0c, 4, 0);
	mmio_w(d, 0x14, 1, 1 | 2 | 8);
	CHECK(mmio_r(d, 0x14, 1) & 8);
	memset(ram(d, d->desc, 0x3000), 0, 0x3000);
	mmio_w(d, 0x16, 2, 0);
	mmio_w(d, 0x18, 2, QSIZE);
	mmio_w(d, 0x20, 8, d->desc);
	mmio_w(d, 0x28, 8, d->avail);
	mmio_w(d, 0x30, 8, d->used);
	mmio_w(d, 0x1c, 2, 1);
	mmio_w(d, 0x14, 1, 1 | 2 | 8 | 4);
	d->avail_idx = d->used_seen = 0;
}

static void set_desc(struct drv *d, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *p = ram(d, d->desc + 16 * i, 16);

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* publish head (no kick) */
static void post(struct drv *d, uint16_t head)
{
	uint16_t *ring = ram(d, d->avail + 4, 2 * QSIZE);

	ring[d->avail_idx % QSIZE] = head;
	d->avail_idx++;
	__atomic_store_n((uint16_t *)ram(d, d->avail + 2, 2), d->avail_idx, __ATOMIC_RELEASE);
}

static void kick(struct drv *d)
{
	mmio_w(d, 0x3000, 2, 0);   /* notify_off 0, multiplier 4 */
}

/* Wait up to ms for the next used element; its id and len, or -1. */
static int wait_used(struct drv *d, int ms, uint32_t *len)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < ms; i++) {
		uint16_t idx = __atomic_load_n((uint16_t *)ram(d, d->used + 2, 2), __ATOMIC_ACQUIRE);
		if (idx != d->used_seen) {
			uint32_t *e = ram(d, d->used + 4 + 8 * (d->used_seen % QSIZE), 8);
			d->used_seen++;
			*len = e[1];
			return (int)e[0];
		}
		nanosleep(&ts, NULL);
	}
	return -1;
}

static int nonzero(const uint8_t *p, size_t n)
{
	size_t z = 0;

	for (size_t i = 0; i < n; i++)
		z += p[i] == 0;
	return z < n / 64 + 8;   /* ~n/256 zero bytes expected */
}

static void test_fill(struct drv *d)
{
	uint8_t *b = ram(d, d->buf, 256 << 10), *ro = b + (200 << 10);
	uint32_t len = 0;

	memset(b, 0, 256 << 10);
	/* one 4 KiB buffer */
	set_desc(d, 0, d->buf, 4096, F_WRITE, 0);
	post(d, 0);
	kick(d);
	CHECK(wait_used(d, 2000, &len) == 0 && len == 4096);
	CHECK(nonzero(b, 4096));
	/* readable 16 (untouched), then writable 100 + 200 */
	memset(ro, 0x5a, 16);
	set_desc(d, 1, d->buf + (200 << 10), 16, F_NEXT, 2);
	set_desc(d, 2, d->buf + 8192, 100, F_WRITE | F_NEXT, 3);
	set_desc(d, 3, d->buf + 12288, 200, F_WRITE, 0);
	post(d, 1);
	kick(d);
	CHECK(wait_used(d, 2000, &len) == 1 && len == 300);
	CHECK(ro[0] == 0x5a && ro[15] == 0x5a && b[12288 + 200] == 0 && nonzero(b + 12288, 200));
	/* 128 KiB in two buffers: capped at 64 KiB */
	set_desc(d, 4, d->buf + (64 << 10), 64 << 10, F_WRITE | F_NEXT, 5);
	set_desc(d, 5, d->buf + (128 << 10), 64 << 10, F_WRITE, 0);
	post(d, 4);
	kick(d);
	CHECK(wait_used(d, 2000, &len) == 4 && len == 64 << 10);
	CHECK(b[128 << 10] == 0);
	/* three chains, one kick: all answered, in order */
	for (uint16_t i = 6; i < 9; i++) {
		set_desc(d, i, d->buf + 20480 + 64 * i, 64, F_WRITE, 0);
		post(d, i);
	}
	kick(d);
	for (int i = 6; i < 9; i++)
		CHECK(wait_used(d, 2000, &len) == i && len == 64);
}

static void test_malformed(struct drv *d)
{
	uint32_t len;

	set_desc(d, 0, d->buf, 64, 0, 0);   /* readable only */
	post(d, 0);
	kick(d);
	for (int i = 0; i < 2000 && !(mmio_r(d, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	CHECK(mmio_r(d, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(wait_used(d, 50, &len) < 0);
	drv_init(d);                        /* a reset brings it back */
	CHECK(!(mmio_r(d, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET));
	set_desc(d, 0, d->buf, 64, F_WRITE, 0);
	post(d, 0);
	kick(d);
	CHECK(wait_used(d, 2000, &len) == 0 && len == 64);
}

/* rate 8 KiB/s: the bucket starts full (8 KiB), the next 4 KiB takes ~0.5 s;
 * a reset while a request waits drops it. */
static void test_rate(struct drv *d)
{
	uint32_t len = 0;
	uint64_t t0;

	set_desc(d, 0, d->buf, 8192, F_WRITE, 0);
	post(d, 0);
	t0 = now_ns();
	kick(d);
	CHECK(wait_used(d, 2000, &len) == 0 && len == 8192);
	CHECK(now_ns() - t0 < 200000000ULL);
	set_desc(d, 1, d->buf, 4096, F_WRITE, 0);
	post(d, 1);
	t0 = now_ns();
	kick(d);
	CHECK(wait_used(d, 3000, &len) == 1 && len == 4096);
	t0 = now_ns() - t0;
	printf("rate 8192 B/s: 4 KiB after an empty bucket took %llu ms (want ~500)\n",
	       (unsigned long long)(t0 / 1000000));
	CHECK(t0 > 400000000ULL && t0 < 1500000000ULL);
	/* more than a second's worth: one second's worth comes back */
	set_desc(d, 2, d->buf, 16384, F_WRITE, 0);
	post(d, 2);
	kick(d);
	CHECK(wait_used(d, 3000, &len) == 2 && len == 8192);
	/* bucket empty again: a request waits; reset drops it */
	set_desc(d, 3, d->buf, 4096, F_WRITE, 0);
	post(d, 3);
	kick(d);
	CHECK(wait_used(d, 100, &len) < 0);
	drv_init(d);
	CHECK(wait_used(d, 1200, &len) < 0);   /* the timer fired into a reset device */
}

static int setup(struct vm *vm, struct pci_bus *bus, struct evloop *loop, uint64_t rate,
		 uint64_t gpa, struct vrng **r, struct drv *d)
{
	struct vrng_opts o = { .enabled = true, .rate = rate };
	unsigned slot = 0;

	if (vrng_create(vm, bus, loop, &o, r) < 0)
		return -1;
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
		if (pci_cfg_read(bus, s, 0, PCI_DEVICE_ID, 2) == 0x1044)
			slot = s;       /* the last one: the device just made */
	CHECK(slot && pci_cfg_read(bus, slot, 0, PCI_CLASS_PROG, 4) >> 8 == 0x00ff00 >> 8);
	/* no config: no device-config capability (Linux refuses one of length 0) */
	for (unsigned c = pci_cfg_read(bus, slot, 0, PCI_CAP_PTR, 1), n = 0; c && n < 16; n++) {
		if (pci_cfg_read(bus, slot, 0, c, 1) == 0x09)
			CHECK(pci_cfg_read(bus, slot, 0, c + 3, 1) != 4);
		c = pci_cfg_read(bus, slot, 0, c + 1, 1);
	}
	*d = (struct drv){ .vm = vm, .bar = pci_cfg_read(bus, slot, 0, PCI_BAR0, 4) & ~0xfu,
			   .desc = gpa, .avail = gpa + 0x1000, .used = gpa + 0x2000,
			   .buf = gpa + 0x10000 };
	pci_cfg_write(bus, slot, 0, PCI_COMMAND, 2, PCI_CMD_MEM | PCI_CMD_MASTER);
	drv_init(d);
	return 0;
}

int main(void)
{
	struct vm_config cfg = { .name = "vrng-test", .mem_bytes = 32 << 20, .vcpus = 1 };
	struct kvm_host kvm = { .fd = -1 };
	struct vrng *r1 = NULL, *r2 = NULL;
	struct pci_bus *bus = NULL;
	struct evloop *loop = NULL;
	struct vm *vm = NULL;
	struct drv d1, d2;

	log_init("test-vrng", LOG_ERR);
	if (kvm_open(&kvm, NULL) < 0 || vm_create(&vm, &kvm, &cfg) < 0) {
		printf("skip: no usable /dev/kvm to create a VM on\n");
		return 77;
	}
	CHECK(pci_bus_create(vm, &bus) == 0);
	CHECK(evloop_create(&loop, "vrng-test") == 0);
	if (bus && loop && setup(vm, bus, loop, 0, 0x100000, &r1, &d1) == 0) {
		test_fill(&d1);
		test_malformed(&d1);
	} else {
		CHECK(!"unlimited device");
	}
	if (bus && loop && setup(vm, bus, loop, 8192, 0x800000, &r2, &d2) == 0)
		test_rate(&d2);
	else
		CHECK(!"rate-limited device");
	vm_halt(vm);
	evloop_stop(loop);
	vrng_destroy(r1);
	vrng_destroy(r2);
	evloop_destroy(loop);
	pci_bus_destroy(bus);
	vm_destroy(vm);
	kvm_close(&kvm);
	return check_report("vrng");
}
