/* run.c - `xvm run`: the standalone VMM (boot one guest in this process). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "xvm/acpi.h"
#include "xvm/boot.h"
#include "xvm/console.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/pci.h"
#include "xvm/serial.h"
#include "xvm/util.h"
#include "xvm/vcpu.h"
#include "xvm/vm.h"

#define RUN_MIN_MEMORY (16ULL << 20)
#define RUN_MAX_MEMORY (1ULL << 40)

static const char run_usage[] =
"usage: xvm run --kernel FILE [options]\n"
"\n"
"Boot a guest in this process (no daemon needed).\n"
"\n"
"  -k, --kernel FILE     Linux bzImage or ELF with a PVH entry note (required)\n"
"  -i, --initrd FILE     initial ramdisk\n"
"  -c, --cmdline STR     kernel command line\n"
"  -m, --memory SIZE     guest RAM, e.g. 512M, 2G (bare number: MiB; default 256M)\n"
"  -n, --vcpus N         virtual CPUs (default 1)\n"
"      --console KIND    stdio (default; Ctrl-] quits), file:PATH, pty, null\n"
"      --name NAME       domain name for logs and probes\n"
"  -v, --verbose         more log lines (repeat for debug)\n"
"  -h, --help            this text\n"
"\n"
"Environment: XVM_KVM_DEVICE (default /dev/kvm), XVM_LOG (err|warn|notice|info|debug).\n"
"\n"
"Exit status: 0 guest powered off, 1 VMM error (bad input, KVM failure),\n"
"2 guest rebooted, 3 guest crashed, 4 stopped from outside (signal, Ctrl-]).\n";

struct run_opts {
	struct vm_config vm;
	struct boot_config boot;
	const char *console;
};

static int run_parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option lopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'n' },
		{ "console", required_argument, NULL, 'C' },
		{ "name", required_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t v;
	int c, verbose = 0;

	memset(o, 0, sizeof(*o));
	o->vm.mem_bytes = 256ULL << 20;
	o->vm.vcpus = 1;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":k:i:c:m:n:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'k': o->boot.kernel = optarg; break;
		case 'i': o->boot.initrd = optarg; break;
		case 'c': o->boot.cmdline = optarg; break;
		case 'C':
			if (console_check_spec(optarg) < 0)
				return -EINVAL;
			o->console = optarg;
			break;
		case 'N': o->vm.name = optarg; break;
		case 'v': verbose++; break;
		case 'h': fputs(run_usage, stdout); return 1;
		case 'm':
			if (parse_size(optarg, 1ULL << 20, &v) < 0 ||
			    v < RUN_MIN_MEMORY || v > RUN_MAX_MEMORY) {
				log_err("--memory '%s': not a size between 16M and 1T",
					optarg);
				return -EINVAL;
			}
			o->vm.mem_bytes = ALIGN_UP(v, 2ULL << 20);
			break;
		case 'n':
			if (parse_uint(optarg, 1, 65536, &v) < 0) {
				log_err("--vcpus '%s': not a number of vCPUs", optarg);
				return -EINVAL;
			}
			o->vm.vcpus = (unsigned)v;
			break;
		case ':':
			log_err("option %s needs a value (see 'xvm run --help')",
				argv[optind - 1]);
			return -EINVAL;
		default:
			log_err("unknown option '%s' (see 'xvm run --help')",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s' (see 'xvm run --help')", argv[optind]);
		return -EINVAL;
	}
	if (!o->boot.kernel) {
		log_err("--kernel FILE is required (see 'xvm run --help')");
		return -EINVAL;
	}
	if (verbose)
		log_set_level(verbose > 1 ? LOG_DEBUG : LOG_INFO);
	return 0;
}

/* Block the signals that stop the VM; the main thread reads them from a
 * signalfd so no handler races with vCPU threads. */
static int run_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0)
		return -errno;
	return signalfd(-1, set, SFD_CLOEXEC);
}

static void run_wait(struct vm *vm, int sfd)
{
	while (__atomic_load_n(&vm->stop, __ATOMIC_ACQUIRE) == VM_RUNNING) {
		struct pollfd p[2] = { { vm->wake_fd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		struct signalfd_siginfo si;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if ((p[1].revents & POLLIN) && read(sfd, &si, sizeof(si)) == sizeof(si))
			vm_request_stop(vm, VM_STOP_KILLED, "stopped by signal %s",
					strsignal((int)si.ssi_signo));
	}
}

/* Peak RSS of this process in KiB (VmHWM), 0 when unknown. */
static unsigned long run_peak_rss_kib(void)
{
	char line[128];
	unsigned long kib = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* One info line of resource use (bench/ reads it with XVM_LOG=info). */
static void run_stats(struct vm *vm)
{
	uint64_t exits = 0, io = 0, mmio = 0;
	unsigned long hwm = run_peak_rss_kib();
	unsigned long guest = (unsigned long)(gm_resident(&vm->mem) >> 10);

	for (unsigned i = 0; i < vm->nvcpus; i++) {
		exits += vm->vcpu[i]->stats.exits;
		io += vm->vcpu[i]->stats.io;
		mmio += vm->vcpu[i]->stats.mmio;
	}
	log_info("stats: exits=%llu pio=%llu mmio=%llu rss_peak_kib=%lu "
		 "guest_resident_kib=%lu vmm_overhead_kib=%lu",
		 (unsigned long long)exits, (unsigned long long)io,
		 (unsigned long long)mmio, hwm, guest, hwm > guest ? hwm - guest : 0);
}

static int run_report(struct vm *vm, enum vm_stop why)
{
	if (log_get_level() >= LOG_INFO)
		run_stats(vm);
	switch (why) {
	case VM_STOP_POWEROFF:
		log_info("%s", vm->stop_reason);
		return 0;
	case VM_STOP_REBOOT:
		log_notice("guest rebooted: %s", vm->stop_reason);
		return 2;
	case VM_STOP_CRASH:
		log_err("guest crashed: %s", vm->stop_reason);
		return 3;
	case VM_STOP_KILLED:
		log_notice("%s", vm->stop_reason);
		return 4;
	default:
		log_err("%s", vm->stop_reason);
		return 1;
	}
}

/* Firmware tables, platform devices and the kernel: everything that can
 * fail on bad input happens here, before the console file is created. */
static int run_setup(struct vm *vm, struct run_opts *o, struct acpi_pm **pm,
		     struct pci_bus **pci)
{
	struct acpi_config acfg = { .ncpus = vm->nvcpus };
	void *tables = gm_ptr(&vm->mem, ACPI_TABLES_GPA, ACPI_TABLES_MAX);
	int rc;

	rc = acpi_pm_create(vm, pm);
	if (rc < 0) {
		log_err("cannot create the ACPI PM device: %s", strerror(-rc));
		return rc;
	}
	rc = pci_bus_create(vm, pci);
	if (rc < 0) {
		log_err("cannot create the PCI bus: %s", strerror(-rc));
		return rc;
	}
	rc = acpi_build(tables, ACPI_TABLES_MAX, ACPI_TABLES_GPA, &acfg,
			&o->boot.rsdp_gpa);
	if (rc < 0) {
		log_err("cannot build ACPI tables: %s", strerror(-rc));
		return rc;
	}
	return boot_load(vm, &o->boot);
}

/* The console last: it may create a file or a pty. */
static int run_console(struct vm *vm, struct run_opts *o, struct console *con,
		       struct serial **serial)
{
	int rc = console_open(con, o->console);

	if (rc < 0)
		return rc;
	rc = serial_create(vm, SERIAL_COM1_PORT, SERIAL_COM1_IRQ, con->out_fd, serial);
	if (rc < 0) {
		log_err("cannot create the serial port: %s", strerror(-rc));
		return rc;
	}
	return console_start(con, vm, *serial);
}

int cmd_run(int argc, char **argv)
{
	struct kvm_host kvm = { .fd = -1 };
	struct console con = { .in_fd = -1, .out_fd = -1, .stop_fd = -1 };
	struct serial *serial = NULL;
	struct acpi_pm *pm = NULL;
	struct pci_bus *pci = NULL;
	struct vm *vm = NULL;
	struct run_opts o;
	sigset_t set;
	int rc, sfd = -1, status = 1;

	rc = run_parse(argc, argv, &o);
	if (rc)
		return rc > 0 ? 0 : 1;
	if (access(o.boot.kernel, R_OK) < 0) {
		log_err("%s: %s", o.boot.kernel, strerror(errno));
		return 1;
	}
	if (kvm_open(&kvm, getenv("XVM_KVM_DEVICE")) < 0)
		return 1;
	if (kvm.pvm)
		log_notice("PVM host (kvm_pvm, no VMX/SVM): hiding XSAVE/AVX, "
			   "CMPXCHG16B and ARCH_CAPABILITIES from the guest");
	sfd = run_signals(&set);
	if (sfd < 0 || vm_create(&vm, &kvm, &o.vm) < 0)
		goto out;
	if (run_setup(vm, &o, &pm, &pci) < 0 || run_console(vm, &o, &con, &serial) < 0 ||
	    vm_start(vm) < 0)
		goto out;
	run_wait(vm, sfd);
	status = run_report(vm, vm_wait(vm));
out:
	console_close(&con);
	vm_halt(vm);     /* no vCPU touches a device after this */
	vm_destroy(vm);
	acpi_pm_destroy(pm);
	pci_bus_destroy(pci);
	serial_destroy(serial);
	kvm_close(&kvm);
	if (sfd >= 0)
		close(sfd);
	return status;
}
