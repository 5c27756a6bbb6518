/* test_hotplug.c - vmm/hotplug.c on a real KVM VM (no vCPU running, the
 * test plays the guest through the ports and config space): a disk added
 * at run time appears in a free slot with PCI_UP and GPE 1 set; removal
 * sets PCI_DOWN and the device goes on the guest's eject write, on the
 * timeout, or at once when forced, with every fd closed and the BAR space
 * used again; bad input changes nothing. Skips (77) without /dev/kvm. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hw/acpi_gpe_regs.h"
#include "tests/unit/check.h"
#include "xvm/acpi.h"
#include "xvm/evloop.h"
#include "xvm/hotplug.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/pci.h"
#include "xvm/util.h"
#include "xvm/vm.h"

struct events {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int added, removed;
	char how[32];
	struct hotplug_info last;
};

static void on_event(void *opaque, bool added, const struct hotplug_info *dev,
		     const char *how)
{
	struct events *e = opaque;

	pthread_mutex_lock(&e->lock);
	if (added)
		e->added++;
	else
		e->removed++;
	snprintf(e->how, sizeof(e->how), "%s", how);
	e->last = *dev;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

/* Wait up to ms for the removed count to reach n; returns the count. */
static int wait_removed(struct events *e, int n, unsigned ms)
{
	struct timespec ts;
	int got;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&e->lock);
	while (e->removed < n &&
	       pthread_cond_timedwait(&e->cond, &e->lock, &ts) == 0)
		;
	got = e->removed;
	pthread_mutex_unlock(&e->lock);
	return got;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static uint32_t port32(struct vm *vm, unsigned off, int wr, uint32_t v)
{
	uint8_t d[4];

	io_put(d, 4, v);
	CHECK(iobus_dispatch(&vm->pio, ACPI_PCIHP_PORT + off, d, 4, wr) == 0);
	return (uint32_t)io_get(d, 4);
}

struct rig {
	struct vm *vm;
	struct acpi_pm *pm;
	struct pci_bus *pci;
	struct hotplug *hp;
	struct events ev;
	char spec[300], spec2[300];
};

static void test_add_remove(struct rig *r)
{
	struct hotplug_info info, list[4];
	char err[256] = "";
	int fds0 = count_fds(), fds1;
	unsigned slot;
	uint32_t bar;

	CHECK(hotplug_add(r->hp, HOTPLUG_DISK, r->spec, &info, err, sizeof(err)) == 0);
	slot = info.slot;
	CHECK(slot >= 1 && slot < 32 && strcmp(info.id, "hp1") == 0);
	CHECK(pci_cfg_read(r->pci, slot, 0, PCI_VENDOR_ID, 4) == 0x10421af4);
	bar = pci_cfg_read(r->pci, slot, 0, PCI_BAR0, 4) & ~0xfu;
	CHECK(bar >= PCI_MMIO_BASE && bar < PCI_MMIO_END);
	CHECK(r->ev.added == 1 && strcmp(r->ev.last.id, "hp1") == 0);
	/* the guest's view: GPE 1 status, UP once, removable */
	{
		uint8_t g;
		CHECK(iobus_dispatch(&r->vm->pio, ACPI_GPE0_PORT, &g, 1, false) == 0);
		CHECK(g & (1u << ACPI_GPE_PCIHP));
	}
	CHECK(port32(r->vm, PCIHP_UP, 0, 0) == 1u << slot);
	CHECK(port32(r->vm, PCIHP_UP, 0, 0) == 0);
	CHECK(port32(r->vm, PCIHP_RMV, 0, 0) == 1u << slot);
	CHECK(hotplug_list(r->hp, list, 4) == 1 && list[0].slot == slot);
	fds1 = count_fds();
	CHECK(fds1 > fds0);

	/* hostile and bad input: nothing changes */
	CHECK(hotplug_add(r->hp, HOTPLUG_DISK, "/nonexistent/x.img,id=bad", &info,
			  err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "/nonexistent/x.img") && !strchr(err, '\n'));
	CHECK(hotplug_add(r->hp, HOTPLUG_DISK, r->spec, &info, err, sizeof(err)) == -EEXIST);
	CHECK(hotplug_add(r->hp, HOTPLUG_DISK, ",", &info, err, sizeof(err)) == -EINVAL);
	CHECK(hotplug_add(r->hp, HOTPLUG_NIC, "nonsense=1", &info, err, sizeof(err)) == -EINVAL);
	CHECK(hotplug_add(r->hp, HOTPLUG_DISK, "/x,id=boot0", &info, err, sizeof(err)) == -EEXIST);
	CHECK(hotplug_list(r->hp, list, 4) == 1 && count_fds() == fds1);
	CHECK(hotplug_remove(r->hp, HOTPLUG_DISK, "nope", 0, false) == -ENOENT);
	CHECK(hotplug_remove(r->hp, HOTPLUG_DISK, "boot0", 0, false) == -ENOENT);
	CHECK(hotplug_remove(r->hp, HOTPLUG_NIC, "hp1", 0, false) == -ENOENT);
	/* an eject of a slot never asked for does nothing */
	port32(r->vm, PCIHP_EJ, 1, 0xffffffffu);
	CHECK(wait_removed(&r->ev, 1, 100) == 0);

	/* remove: DOWN set, the guest ejects, the device goes */
	CHECK(hotplug_remove(r->hp, HOTPLUG_DISK, "hp1", 10000, false) == 0);
	CHECK(hotplug_remove(r->hp, HOTPLUG_DISK, "hp1", 10000, false) == -EALREADY);
	CHECK(port32(r->vm, PCIHP_DOWN, 0, 0) == 1u << slot);
	port32(r->vm, PCIHP_EJ, 1, 1u << slot);
	CHECK(wait_removed(&r->ev, 1, 3000) == 1 && strcmp(r->ev.how, "ejected") == 0);
	CHECK(pci_cfg_read(r->pci, slot, 0, PCI_VENDOR_ID, 4) == 0xffffffffu);
	CHECK(port32(r->vm, PCIHP_DOWN, 0, 0) == 0 && port32(r->vm, PCIHP_RMV, 0, 0) == 0);
	CHECK(hotplug_list(r->hp, list, 4) == 0);
	CHECK(count_fds() == fds0);

	/* again: same slot, same BAR (first fit); the guest never ejects */
	CHECK(hotplug_add(r->hp, HOTPLUG_DISK, r->spec, &info, err, sizeof(err)) == 0);
	CHECK(info.slot == slot);
	CHECK((pci_cfg_read(r->pci, slot, 0, PCI_BAR0, 4) & ~0xfu) == bar);
	CHECK(hotplug_remove(r->hp, HOTPLUG_DISK, "hp1", 50, false) == 0);
	CHECK(wait_removed(&r->ev, 2, 3000) == 2 && strcmp(r->ev.how, "timeout") == 0);
	CHECK(count_fds() == fds0);

	/* forced: at once */
	CHECK(hotplug_add(r->hp, HOTPLUG_DISK, r->spec, &info, err, sizeof(err)) == 0);
	CHECK(hotplug_remove(r->hp, HOTPLUG_DISK, "hp1", 0, true) == 0);
	CHECK(wait_removed(&r->ev, 3, 3000) == 3 && strcmp(r->ev.how, "forced") == 0);
	CHECK(count_fds() == fds0);

	/* two at once, then left for hotplug_destroy */
	CHECK(hotplug_add(r->hp, HOTPLUG_DISK, r->spec, &info, err, sizeof(err)) == 0);
	/* (a second image: an image is locked by the disk using it) */
	CHECK(hotplug_add(r->hp, HOTPLUG_DISK, r->spec2, &info, err, sizeof(err)) == 0);
	CHECK(info.slot != slot && strcmp(info.id, "hdisk0") == 0);
	CHECK(hotplug_list(r->hp, list, 4) == 2);
}

int main(void)
{
	struct vm_config cfg = { .name = "hotplug-test", .mem_bytes = 32 << 20, .vcpus = 1 };
	struct kvm_host kvm = { .fd = -1 };
	static const char *const boot_ids[] = { "boot0" };
	struct rig r = { 0 };
	struct evloop *loop = NULL;
	char img[] = "/tmp/xvm-hotplug-XXXXXX", img2[] = "/tmp/xvm-hotplug-XXXXXX";
	int fd, fds0;

	log_init("test-hotplug", LOG_ERR);
	if (kvm_open(&kvm, NULL) < 0 || vm_create(&r.vm, &kvm, &cfg) < 0) {
		printf("skip: no usable /dev/kvm to create a VM on\n");
		return 77;
	}
	fd = mkstemp(img);
	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	fd = mkstemp(img2);
	CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0);
	close(fd);
	snprintf(r.spec, sizeof(r.spec), "%s,format=raw,id=hp1", img);
	snprintf(r.spec2, sizeof(r.spec2), "%s,format=raw", img2);
	pthread_mutex_init(&r.ev.lock, NULL);
	pthread_cond_init(&r.ev.cond, NULL);
	CHECK(acpi_pm_create(r.vm, &r.pm) == 0);
	CHECK(pci_bus_create(r.vm, &r.pci) == 0);
	CHECK(evloop_create(&loop, "hp-test") == 0);
	fds0 = count_fds();
	if (r.pm && r.pci && loop) {
		struct hotplug_env env = { .vm = r.vm, .pci = r.pci, .pm = r.pm,
					   .loop = loop, .boot_ids = boot_ids,
					   .nboot_ids = 1 };
		CHECK(hotplug_create(&env, &r.hp) == 0);
		if (r.hp) {
			hotplug_set_event_fn(r.hp, on_event, &r.ev);
			test_add_remove(&r);
		}
	}
	vm_halt(r.vm);
	evloop_stop(loop);
	hotplug_destroy(r.hp);   /* tears down the two left */
	CHECK(r.ev.removed == 5 && strcmp(r.ev.how, "shutdown") == 0);
	CHECK(count_fds() == fds0);
	evloop_destroy(loop);
	pci_bus_destroy(r.pci);
	acpi_pm_destroy(r.pm);
	vm_destroy(r.vm);
	kvm_close(&kvm);
	unlink(img);
	unlink(img2);
	return check_report("hotplug");
}
