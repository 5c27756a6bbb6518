/* hotplug_drive.c - test driver for hotplug_xvm.sh: boots the test guest
 * as `xvm run` would (same machine_create/machine_start), and once the
 * guest has enabled GPE 1 drives vmm/hotplug.c's API directly (the control
 * socket's path is hotplug_ctl.sh): a bad add, an unknown remove, then a
 * disk and optionally a NIC added and removed, one line per step, with
 * the wait for the guest to see each slot empty between them.
 * With --linux it boots a Linux kernel instead (linux_hotplug.sh: its
 * /init prints the same XTEST-HOTPLUG lines as the test guest).
 * Not installed; a test binary only.
 * usage: hotplug-drive ELF CONSOLE_LOG DISK_SPEC [NIC_SPEC]
 *        hotplug-drive --linux KERNEL INITRD CMDLINE CONSOLE_LOG DISK_SPEC */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xvm/acpi.h"
#include "xvm/hotplug.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/machine.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static char removed_how[32];
static unsigned remove_ms = 10000;   /* how long the guest has to eject (Linux: more) */

static void on_event(void *opaque, bool added, const struct hotplug_info *dev,
		     const char *how)
{
	(void)opaque;
	printf("event device-%s id=%s slot=%u how=%s\n", added ? "added" : "removed",
	       dev->id, dev->slot, how);
	fflush(stdout);
	if (!added) {
		pthread_mutex_lock(&lock);
		snprintf(removed_how, sizeof(removed_how), "%s", how);
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Until the guest wrote GPE0_EN bit 1 (it is ready) or 40 s. */
static bool wait_guest_ready(struct machine *m)
{
	for (int i = 0; i < 4000 && m->vm->stop == VM_RUNNING; i++) {
		uint8_t en;
		if (iobus_dispatch(&m->vm->pio, ACPI_GPE0_PORT + 2, &en, 1, false) == 0 &&
		    (en & (1u << ACPI_GPE_PCIHP)))
			return true;
		sleep_ms(10);
	}
	return false;
}

/* Until the console log holds text n times or 40 s. */
static bool wait_console(const char *path, const char *text, int n)
{
	static char buf[1 << 16];

	for (int i = 0; i < 4000; i++) {
		FILE *f = fopen(path, "re");
		size_t len = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
		if (f)
			fclose(f);
		int seen = 0;

		buf[len] = 0;
		for (const char *p = buf; (p = strstr(p, text)); p++)
			seen++;
		if (seen >= n)
			return true;
		sleep_ms(10);
	}
	return false;
}

/* Add, wait for the guest's line, remove, wait for device-removed. */
static int cycle(struct machine *m, const char *log, enum hotplug_kind kind,
		 const char *spec, int nth)
{
	const char *what = kind == HOTPLUG_DISK ? "disk" : "nic";
	struct hotplug_info info, list[4];
	struct timespec ts;
	char err[300];

	removed_how[0] = 0;
	if (hotplug_add(m->hotplug, kind, spec, &info, err, sizeof(err)) < 0)
		return printf("FAIL %s-add: %s\n", what, err), 1;
	printf("%s-add id=%s slot=%u\n", what, info.id, info.slot);
	fflush(stdout);
	if (!wait_console(log, kind == HOTPLUG_DISK ? "dev=blk" : "dev=net", 1))
		return printf("FAIL the guest did not report the %s\n", what), 1;
	if (hotplug_remove(m->hotplug, kind, info.id, remove_ms, false) < 0)
		return printf("FAIL %s-remove\n", what), 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += remove_ms / 1000 + 5;
	pthread_mutex_lock(&lock);
	while (!removed_how[0] && pthread_cond_timedwait(&cond, &lock, &ts) == 0)
		;
	pthread_mutex_unlock(&lock);
	printf("%s-remove how=%s devices=%u\n", what, removed_how[0] ? removed_how : "none",
	       hotplug_list(m->hotplug, list, 4));
	fflush(stdout);
	/* the guest saw the slot empty before anything else goes in it */
	if (!wait_console(log, "XTEST-HOTPLUG gone", nth))
		return printf("FAIL the guest did not see the %s go\n", what), 1;
	return 0;
}

static int drive(struct machine *m, const char *log, const char *disk, const char *nic)
{
	struct hotplug_info info, list[4];
	char err[300];
	int rc;

	if (!wait_guest_ready(m))
		return printf("FAIL guest never enabled GPE 1\n"), 1;
	rc = hotplug_add(m->hotplug, HOTPLUG_DISK, "/nonexistent/none.img", &info, err,
			 sizeof(err));
	printf("bad-add rc=%d err=%s devices=%u\n", rc, err, hotplug_list(m->hotplug, list, 4));
	rc = hotplug_remove(m->hotplug, HOTPLUG_DISK, "nosuch", 0, false);
	printf("bad-remove rc=%d\n", rc);
	if ((rc = cycle(m, log, HOTPLUG_DISK, disk, 1)) || !nic)
		return rc;
	return cycle(m, log, HOTPLUG_NIC, nic, 2);
}

/* The machine hotplug-drive boots: the test guest, or Linux with --linux.
 * Returns the index of CONSOLE_LOG in argv, or 0 for a bad command line. */
static int setup(int argc, char **argv, struct machine_config *cfg, char *console, size_t len)
{
	int log;

	cfg->vm = (struct vm_config){ .name = "hotplug", .mem_bytes = 64ULL << 20, .vcpus = 1 };
	cfg->rng.enabled = false;
	if (argc == 7 && !strcmp(argv[1], "--linux")) {
		cfg->vm.mem_bytes = 512ULL << 20;
		remove_ms = 60000;   /* acpiphp ejects from a workqueue; slow under TCG */
		cfg->boot.kernel = argv[2];
		cfg->boot.initrd = argv[3];
		cfg->boot.cmdline = argv[4];
		log = 5;
	} else if (argc == 4 || argc == 5) {
		cfg->boot.kernel = argv[1];
		cfg->boot.cmdline = argc == 5 ? "tests=hotplug hotplug.n=2" : "tests=hotplug";
		log = 2;
	} else {
		return 0;
	}
	snprintf(console, len, "file:%s", argv[log]);
	cfg->console = console;
	return log;
}

int main(int argc, char **argv)
{
	struct kvm_host kvm = { .fd = -1 };
	struct machine m;
	struct machine_config cfg = { 0 };
	char console[4200];
	int rc = 1, log = setup(argc, argv, &cfg, console, sizeof(console));

	if (!log) {
		fprintf(stderr, "usage: hotplug-drive ELF CONSOLE_LOG DISK_SPEC [NIC_SPEC]\n"
				"       hotplug-drive --linux KERNEL INITRD CMDLINE CONSOLE_LOG "
				"DISK_SPEC\n");
		return 2;
	}
	log_init("hotplug-drive", LOG_NOTICE);
	alarm(150);
	if (kvm_open(&kvm, NULL) < 0)
		return 77;
	if (machine_create(&m, &kvm, &cfg) == 0 && machine_start(&m) == 0) {
		hotplug_set_event_fn(m.hotplug, on_event, NULL);
		rc = drive(&m, argv[log], argv[log + 1], argc == 5 ? argv[4] : NULL);
		printf("vm stop=%d\n", (int)vm_wait(m.vm));
	}
	machine_destroy(&m);
	kvm_close(&kvm);
	return rc;
}
