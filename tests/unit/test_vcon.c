/* test_vcon.c - virtio/console.c through the real virtio-pci transport on a KVM VM
 * (no vCPU runs; this file plays the driver over the MMIO bus and the toolstack
 * on the Unix socket): option parsing, the MULTIPORT control handshake, data both
 * ways, backpressure, a second client, hang-up, and hostile chains and control
 * messages (each must set DEVICE_NEEDS_RESET). Skips (77) without KVM. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/bar_fixture.h"
#include "tests/unit/check.h"
#include "xvm/evloop.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/pci.h"
#include "xvm/util.h"
#include "xvm/virtio.h"
#include "xvm/virtio_console.h"
#include "xvm/vm.h"

#define QSIZE 16
#define NQ 6                     /* port 0, control, port 1 */
#define F_NEXT 1
#define F_WRITE 2
#define GPA 0x100000ULL
#define RINGS(q) (GPA + 0x4000ULL * (q))
#define BUFS(q) (GPA + 0x40000ULL + 0x10000ULL * (q))   /* QSIZE x 1 KiB per queue */

struct dq { uint16_t avail_idx, used_seen; };

struct drv {
	struct vm *vm;
	uint64_t bar;
	struct dq q[NQ];
};

static void mmio_w(struct drv *d, uint64_t off, unsigned len, uint64_t v)
{
	bar_w(d->vm, d->bar, off, len, v);
}

static uint64_t mmio_r(struct drv *d, uint64_t off, unsigned len)
{
	return bar_r(d->vm, d->bar, off, len);
}

static void *ram(struct drv *d, uint64_t gpa, uint64_t len) { return gm_ptr(&d->vm->mem, gpa, len); }
static uint8_t *buf(struct drv *d, unsigned q, unsigned i) { return ram(d, BUFS(q) + 1024 * i, 1024); }

/* reset, VERSION_1 + MULTIPORT, all queues, DRIVER_OK */
static void drv_init(struct drv *d)
{
	mmio_w(d, 0x14, 1, 0);
	mmio_w(d, 0x14, 1, 1 | 2);
	mmio_w(d, 0x08, 4, 1);
	mmio_w(d, 0x0c, 4, 1);
	mmio_w(d, 0x08, 4, 0);
	mmio_w(d, 0x0c, 4, 1u << VIRTIO_CONSOLE_F_MULTIPORT);
	mmio_w(d, 0x14, 1, 1 | 2 | 8);
	CHECK(mmio_r(d, 0x14, 1) & 8);
	for (unsigned q = 0; q < NQ; q++) {
		memset(ram(d, RINGS(q), 0x3000), 0, 0x3000);
		mmio_w(d, 0x16, 2, q);
		mmio_w(d, 0x18, 2, QSIZE);
		mmio_w(d, 0x20, 8, RINGS(q));
		mmio_w(d, 0x28, 8, RINGS(q) + 0x1000);
		mmio_w(d, 0x30, 8, RINGS(q) + 0x2000);
		mmio_w(d, 0x1c, 2, 1);
		d->q[q] = (struct dq){ 0 };
	}
	mmio_w(d, 0x14, 1, 1 | 2 | 8 | 4);
}

static void set_desc(struct drv *d, unsigned q, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = ram(d, RINGS(q) + 16 * i, 16);

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* publish head on q and kick */
static void submit(struct drv *d, unsigned q, uint16_t head)
{
	uint16_t *ring = ram(d, RINGS(q) + 0x1000 + 4, 2 * QSIZE);

	ring[d->q[q].avail_idx % QSIZE] = head;
	d->q[q].avail_idx++;
	__atomic_store_n((uint16_t *)ram(d, RINGS(q) + 0x1000 + 2, 2), d->q[q].avail_idx,
			 __ATOMIC_RELEASE);
	mmio_w(d, 0x3000 + 4 * q, 2, q);
}

/* a 1 KiB device-writable buffer i on q */
static void post_rx(struct drv *d, unsigned q, uint16_t i)
{
	set_desc(d, q, i, BUFS(q) + 1024 * i, 1024, F_WRITE, 0);
	submit(d, q, i);
}

/* send bytes from the driver on q in buffer i */
static void send_out(struct drv *d, unsigned q, uint16_t i, const void *p, uint32_t n)
{
	memcpy(buf(d, q, i), p, n);
	set_desc(d, q, i, BUFS(q) + 1024 * i, n, 0, 0);
	submit(d, q, i);
}

static void ctrl(struct drv *d, uint16_t i, uint32_t id, uint16_t ev, uint16_t val)
{
	uint8_t m[8];

	memcpy(m, &id, 4);
	memcpy(m + 4, &ev, 2);
	memcpy(m + 6, &val, 2);
	send_out(d, 3, i, m, 8);
}

/* next used element on q within ms: its id (len in *len), or -1 */
static int wait_used(struct drv *d, unsigned q, int ms, uint32_t *len)
{
	for (int i = 0; i < ms; i++) {
		uint16_t idx = __atomic_load_n((uint16_t *)ram(d, RINGS(q) + 0x2002, 2),
					       __ATOMIC_ACQUIRE);
		if (idx != d->q[q].used_seen) {
			uint32_t *e = ram(d, RINGS(q) + 0x2004 + 8 * (d->q[q].used_seen % QSIZE), 8);
			d->q[q].used_seen++;
			*len = e[1];
			return (int)e[0];
		}
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return -1;
}

/* next control message from the device (it used buffer *slot) */
static int next_ctrl(struct drv *d, uint32_t *id, uint16_t *ev, uint16_t *val, char *name)
{
	uint32_t len = 0;
	int b = wait_used(d, 2, 2000, &len);
	uint8_t *p;

	if (b < 0 || b >= QSIZE || len < 8)
		return -1;
	p = buf(d, 2, (unsigned)b);
	memcpy(id, p, 4);
	memcpy(ev, p + 4, 2);
	memcpy(val, p + 6, 2);
	if (name) {
		memcpy(name, p + 8, len - 8);
		name[len - 8] = 0;
	}
	post_rx(d, 2, (uint16_t)b);          /* give it back */
	return 0;
}

static bool expect_ctrl(struct drv *d, uint32_t id, uint16_t ev, uint16_t val, const char *name)
{
	uint32_t gid;
	uint16_t gev, gval;
	char n[64] = "";

	if (next_ctrl(d, &gid, &gev, &gval, n) < 0) {
		fprintf(stderr, "no control message (want %u/%u/%u)\n", id, ev, val);
		return false;
	}
	if (gid != id || gev != ev || gval != val || (name && strcmp(n, name))) {
		fprintf(stderr, "control %u/%u/%u '%s', want %u/%u/%u\n", gid, gev, gval, n,
			id, ev, val);
		return false;
	}
	return true;
}

static bool needs_reset(struct drv *d)
{
	for (int i = 0; i < 2000; i++) {
		if (mmio_r(d, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET)
			return true;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return false;
}

static int client(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* read up to n bytes within 2 s: the count, 0 on EOF, -1 on timeout */
static int read_timed(int fd, char *p, size_t n)
{
	struct pollfd pf = { fd, POLLIN, 0 };

	if (poll(&pf, 1, 2000) != 1)
		return -1;
	return (int)read(fd, p, n);
}

static void test_parse(void)
{
	struct vcon_opts o = { 0 };
	char b[8][256];

	CHECK(vcon_parse("socket=/tmp/a", b[0], &o) == 0 && o.nports == 1 && !o.port[0].name);
	CHECK(vcon_parse("name=org.xvm.agent,socket=/tmp/b", b[1], &o) == 0 &&
	      !strcmp(o.port[1].name, "org.xvm.agent") && !strcmp(o.port[1].socket, "/tmp/b"));
	CHECK(vcon_parse("name=x", b[2], &o) < 0);                    /* no socket */
	CHECK(vcon_parse("socket=/tmp/c,name=bad/name", b[2], &o) < 0);
	CHECK(vcon_parse("socket=/tmp/c,name=", b[2], &o) < 0);
	CHECK(vcon_parse("socket=/tmp/c,speed=9600", b[2], &o) < 0);
	CHECK(vcon_parse("socket=/tmp/a", b[2], &o) < 0);             /* same socket */
	CHECK(vcon_parse("socket=/tmp/c,name=org.xvm.agent", b[2], &o) < 0);
	memset(b[3], 'p', 200);
	memcpy(b[3], "socket=", 7);
	b[3][200] = 0;
	CHECK(vcon_parse(b[3], b[4], &o) < 0);                       /* path too long */
	CHECK(o.nports == 2);
	CHECK(vcon_parse("socket=/tmp/c", b[2], &o) == 0);
	CHECK(vcon_parse("socket=/tmp/d", b[3], &o) == 0);
	CHECK(vcon_parse("socket=/tmp/e", b[4], &o) < 0 && o.nports == VCON_MAX_PORTS);
}

/* handshake up to PORT_NAME, then data both ways */
static void test_flow(struct drv *d, const char *path)
{
	char got[64];
	uint32_t len;
	int fd, fd2;

	CHECK(mmio_r(d, 0x2000 + 4, 4) == 2);                   /* max_nr_ports */
	for (uint16_t i = 0; i < 8; i++)
		post_rx(d, 2, i);
	ctrl(d, 0, 0xffffffffu, VCON_DEVICE_READY, 1);
	CHECK(expect_ctrl(d, 0, VCON_DEVICE_ADD, 0, NULL));
	CHECK(expect_ctrl(d, 1, VCON_DEVICE_ADD, 0, NULL));
	ctrl(d, 1, 0, VCON_PORT_READY, 1);
	CHECK(expect_ctrl(d, 0, VCON_CONSOLE_PORT, 1, NULL));
	CHECK(expect_ctrl(d, 0, VCON_PORT_OPEN, 1, NULL));
	ctrl(d, 2, 1, VCON_PORT_READY, 1);
	CHECK(expect_ctrl(d, 1, VCON_PORT_NAME, 1, "org.xvm.agent"));
	fd = client(path);
	CHECK(fd >= 0);
	CHECK(expect_ctrl(d, 1, VCON_PORT_OPEN, 1, NULL));
	ctrl(d, 3, 1, VCON_PORT_OPEN, 1);
	for (int i = 0; i < 4; i++)
		CHECK(wait_used(d, 3, 2000, &len) == i);         /* control tx answered */
	/* a second client is turned away */
	fd2 = client(path);
	CHECK(fd2 < 0 || read_timed(fd2, got, sizeof(got)) == 0);
	if (fd2 >= 0)
		close(fd2);
	/* host -> guest; then nothing posted: the bytes wait for a buffer */
	post_rx(d, 4, 0);
	CHECK(write(fd, "ping", 4) == 4);
	CHECK(wait_used(d, 4, 2000, &len) == 0 && len == 4 && !memcmp(buf(d, 4, 0), "ping", 4));
	CHECK(write(fd, "later", 5) == 5);
	CHECK(wait_used(d, 4, 100, &len) < 0);
	post_rx(d, 4, 1);
	CHECK(wait_used(d, 4, 2000, &len) == 1 && len == 5 && !memcmp(buf(d, 4, 1), "later", 5));
	/* guest -> host, two buffers in one chain */
	memcpy(buf(d, 5, 0), "po", 2);
	memcpy(buf(d, 5, 1), "ng\n", 3);
	set_desc(d, 5, 0, BUFS(5), 2, F_NEXT, 1);
	set_desc(d, 5, 1, BUFS(5) + 1024, 3, 0, 0);
	submit(d, 5, 0);
	CHECK(wait_used(d, 5, 2000, &len) == 0 && len == 0);
	CHECK(read_timed(fd, got, sizeof(got)) == 5 && !memcmp(got, "pong\n", 5));
	/* the client leaves: the guest hears PORT_OPEN 0; a new one is welcome */
	close(fd);
	CHECK(expect_ctrl(d, 1, VCON_PORT_OPEN, 0, NULL));
	fd = client(path);
	CHECK(fd >= 0 && expect_ctrl(d, 1, VCON_PORT_OPEN, 1, NULL));
	/* hostile: a readable-only receive buffer while bytes wait */
	set_desc(d, 4, 2, BUFS(4), 64, 0, 0);
	submit(d, 4, 2);
	CHECK(write(fd, "x", 1) == 1);
	CHECK(needs_reset(d));
	close(fd);
}

/* the other malformed inputs, each after a fresh reset */
static void test_hostile(struct drv *d)
{
	uint32_t len;
	uint8_t half[4] = { 0 };

	drv_init(d);                                          /* short control message */
	CHECK(!(mmio_r(d, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET));
	send_out(d, 3, 0, half, 4);
	CHECK(needs_reset(d));
	drv_init(d);                                          /* port id out of range */
	ctrl(d, 0, 7, VCON_PORT_READY, 1);
	CHECK(needs_reset(d));
	drv_init(d);                                          /* control rx buffer too small */
	set_desc(d, 2, 0, BUFS(2), 4, F_WRITE, 0);
	submit(d, 2, 0);
	ctrl(d, 0, 0, VCON_DEVICE_READY, 1);
	CHECK(needs_reset(d));
	CHECK(wait_used(d, 2, 50, &len) < 0);
	drv_init(d);                                          /* chain runs off the table */
	set_desc(d, 5, 0, BUFS(5), 4, F_NEXT, 200);
	submit(d, 5, 0);
	CHECK(needs_reset(d));
	drv_init(d);                                          /* buffer outside RAM */
	set_desc(d, 1, 0, 1ULL << 40, 4, 0, 0);
	submit(d, 1, 0);
	CHECK(needs_reset(d));
	drv_init(d);                                          /* and it works again */
	post_rx(d, 2, 0);
	ctrl(d, 0, 0, VCON_DEVICE_READY, 1);
	CHECK(expect_ctrl(d, 0, VCON_DEVICE_ADD, 0, NULL));
}

static struct vcon *make(struct vm *vm, struct pci_bus *bus, struct evloop *loop,
			 const char *path, struct drv *d)
{
	struct vcon_opts o = { .nports = 1, .port = { { .socket = path, .name = "org.xvm.agent" } } };
	struct vcon *c = NULL;
	unsigned slot = 0;

	if (vcon_create(vm, bus, loop, &o, &c) < 0)
		return NULL;
	for (unsigned s = 1; s < PCI_MAX_SLOTS; s++)
		if (pci_cfg_read(bus, s, 0, PCI_DEVICE_ID, 2) == 0x1043)
			slot = s;
	CHECK(slot);
	*d = (struct drv){ .vm = vm, .bar = pci_cfg_read(bus, slot, 0, PCI_BAR0, 4) & ~0xfu };
	pci_cfg_write(bus, slot, 0, PCI_COMMAND, 2, PCI_CMD_MEM | PCI_CMD_MASTER);
	drv_init(d);
	return c;
}

int main(void)
{
	struct kvm_host kvm = { .fd = -1 };
	struct vm_config cfg = { .name = "vcon-test", .mem_bytes = 32 << 20, .vcpus = 1 };
	struct vm *vm = NULL;
	struct pci_bus *bus = NULL;
	struct evloop *loop = NULL;
	struct vcon *c;
	struct stat st;
	char dir[] = "/tmp/xvm-vcon-XXXXXX", path[128], file[128];
	struct drv d;
	int fd;

	log_init("test-vcon", LOG_ERR);
	test_parse();
	if (kvm_open(&kvm, NULL) < 0 || vm_create(&vm, &kvm, &cfg) < 0) {
		printf("skip: no usable /dev/kvm to create a VM on\n");
		return check_failures ? 1 : 77;
	}
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	snprintf(file, sizeof(file), "%s/plain", dir);
	CHECK(pci_bus_create(vm, &bus) == 0);
	CHECK(evloop_create(&loop, "vcon-test") == 0);
	/* a plain file in the way is an error; nothing is created */
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	CHECK(make(vm, bus, loop, file, &d) == NULL && stat(file, &st) == 0 && S_ISREG(st.st_mode));
	c = make(vm, bus, loop, path, &d);
	CHECK(c != NULL);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	{	/* a live socket is not taken over, and stays */
		struct drv d2;
		CHECK(make(vm, bus, loop, path, &d2) == NULL && stat(path, &st) == 0);
	}
	if (c) {
		test_flow(&d, path);
		test_hostile(&d);
	}
	vm_halt(vm);
	evloop_stop(loop);
	vcon_destroy(c);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);       /* the socket is gone */
	unlink(file);
	rmdir(dir);
	evloop_destroy(loop);
	pci_bus_destroy(bus);
	vm_destroy(vm);
	kvm_close(&kvm);
	return check_report("vcon");
}
