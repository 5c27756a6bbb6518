/* run.c - `xvm run`: the standalone VMM (boot one guest in this process). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cmd/commands.h"
#include "xvm/control.h"
#include "xvm/control_hotplug.h"
#include "xvm/acpi.h"
#include "xvm/boot.h"
#include "xvm/console.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/machine.h"
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
"  -d, --disk SPEC      a virtio-blk disk (repeatable, up to 8):\n"
"                        PATH[,format=raw|qcow2][,readonly][,id=NAME][,queues=N]\n"
"                        [,poll=US] (ring polling after a batch, default 64)\n"
"      --net SPEC        a virtio-net NIC on a tap (repeatable, up to 8):\n"
"                        tap=NAME|bridge=BR[,mac=XX:XX:XX:XX:XX:XX][,id=NAME]\n"
"                        [,vhost=auto|off] (userspace data path; vhost-net not yet)\n"
"      --rng SPEC        virtio-rng entropy device (default on): on, off,\n"
"                        rate=BYTES[/s] (limit, e.g. rate=64K)\n"
"      --no-rng          no virtio-rng device (same as --rng off)\n"
"      --vconsole SPEC   a virtio-console port on a host Unix socket (repeatable,\n"
"                        up to 4): socket=PATH[,name=NAME] (default name xvm.N);\n"
"                        the guest also gets a console port (hvc0) on the console\n"
"      --no-pvpanic      no pvpanic device (a guest panic then does not end the run)\n"
"      --console KIND    stdio (default; Ctrl-] quits), file:PATH, pty, null\n"
"      --name NAME       domain name for logs, probes and `status`\n"
"      --domid N         domain id for probes and `status` (default 0)\n"
"      --control PATH    listen for control requests (JSON lines) on a Unix\n"
"                        socket at PATH (mode 0600, removed at exit)\n"
"      --exit-file PATH  on exit write {status, stop, reason} as JSON to PATH\n"
"                        (atomically: temp file + rename)\n"
"      --console-log PATH  append a copy of the guest's console output to PATH\n"
"      --paused          build everything but run no vCPU until `unpause`\n"
"  -v, --verbose         more log lines (repeat for debug)\n"
"  -h, --help            this text\n"
"\n"
"Environment: XVM_KVM_DEVICE (default /dev/kvm), XVM_LOG (err|warn|notice|info|debug).\n"
"\n"
"Exit status: 0 guest powered off, 1 VMM error (bad input, KVM failure),\n"
"2 guest rebooted, 3 guest crashed, 4 stopped from outside (signal, Ctrl-],\n"
"control request `quit`).\n";

struct run_opts {
	struct machine_config m;
	const char *control;     /* --control PATH */
	const char *exit_file;   /* --exit-file PATH */
	bool paused;
	char diskbuf[MACHINE_MAX_DISKS][1024];
	char netbuf[MACHINE_MAX_NICS][128];
	char vconbuf[VCON_MAX_PORTS][256];
};

/* --memory and --vcpus */
static int run_parse_size(struct run_opts *o, int c, const char *arg)
{
	uint64_t v;

	if (c == 'm') {
		if (parse_size(arg, 1ULL << 20, &v) < 0 || v < RUN_MIN_MEMORY ||
		    v > RUN_MAX_MEMORY) {
			log_err("--memory '%s': not a size between 16M and 1T", arg);
			return -EINVAL;
		}
		o->m.vm.mem_bytes = ALIGN_UP(v, 2ULL << 20);
		return 0;
	}
	if (parse_uint(arg, 1, 65536, &v) < 0) {
		log_err("--vcpus '%s': not a number of vCPUs", arg);
		return -EINVAL;
	}
	o->m.vm.vcpus = (unsigned)v;
	return 0;
}

/* --disk and --net: repeatable device specs */
static int run_parse_device(struct run_opts *o, int c, const char *arg)
{
	if (c == 'd') {
		if (o->m.ndisks == MACHINE_MAX_DISKS || strlen(arg) >= sizeof(o->diskbuf[0])) {
			log_err("--disk: at most %d disks, paths under 1000 bytes",
				MACHINE_MAX_DISKS);
			return -EINVAL;
		}
		if (vblk_parse(arg, o->diskbuf[o->m.ndisks], &o->m.disk[o->m.ndisks]) < 0)
			return -EINVAL;
		o->m.ndisks++;
		return 0;
	}
	if (o->m.nnics == MACHINE_MAX_NICS || strlen(arg) >= sizeof(o->netbuf[0])) {
		log_err("--net: at most %d NICs, specs under 128 bytes", MACHINE_MAX_NICS);
		return -EINVAL;
	}
	if (vnet_parse(arg, o->netbuf[o->m.nnics], &o->m.nic[o->m.nnics]) < 0)
		return -EINVAL;
	o->m.nnics++;
	return 0;
}

/* One option (c from getopt_long). 0, 1 (--help printed) or -EINVAL. */
static int run_parse_opt(struct run_opts *o, int c, char **argv, int *verbose)
{
	uint64_t v;

	switch (c) {
	case 'k': o->m.boot.kernel = optarg; return 0;
	case 'i': o->m.boot.initrd = optarg; return 0;
	case 'c': o->m.boot.cmdline = optarg; return 0;
	case 'N': o->m.vm.name = optarg; return 0;
	case 'r': o->m.rng.enabled = false; return 0;
	case 'P': o->m.no_pvpanic = true; return 0;
	case 'v': (*verbose)++; return 0;
	case 'S': o->control = optarg; return 0;
	case 'E': o->exit_file = optarg; return 0;
	case 'L': o->m.console_log = optarg; return 0;
	case 'p': o->paused = true; return 0;
	case 'D':
		if (parse_uint(optarg, 0, 0x7fef, &v) < 0) {
			log_err("--domid '%s': not a domain id (0 to 32751)", optarg);
			return -EINVAL;
		}
		o->m.vm.domid = (int)v;
		return 0;
	case 'h': fputs(run_usage, stdout); return 1;
	case 'C':
		if (console_check_spec(optarg) < 0)
			return -EINVAL;
		o->m.console = optarg;
		return 0;
	case 'R':
		return vrng_parse(optarg, &o->m.rng) < 0 ? -EINVAL : 0;
	case 'V':
		if (strlen(optarg) >= sizeof(o->vconbuf[0])) {
			log_err("--vconsole: spec longer than %zu bytes", sizeof(o->vconbuf[0]) - 1);
			return -EINVAL;
		}
		if (vcon_parse(optarg, o->vconbuf[MIN(o->m.vcon.nports, VCON_MAX_PORTS - 1)],
			       &o->m.vcon) < 0)
			return -EINVAL;
		return 0;
	case 'm':
	case 'n':
		return run_parse_size(o, c, optarg);
	case 'd':
	case 'T':
		return run_parse_device(o, c, optarg);
	case ':':
		log_err("option %s needs a value (see 'xvm run --help')", argv[optind - 1]);
		return -EINVAL;
	default:
		log_err("unknown option '%s' (see 'xvm run --help')", argv[optind - 1]);
		return -EINVAL;
	}
}

static int run_parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option lopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'n' },
		{ "console", required_argument, NULL, 'C' },
		{ "disk", required_argument, NULL, 'd' },
		{ "net", required_argument, NULL, 'T' },
		{ "name", required_argument, NULL, 'N' },
		{ "rng", required_argument, NULL, 'R' },
		{ "vconsole", required_argument, NULL, 'V' },
		{ "no-rng", no_argument, NULL, 'r' },
		{ "no-pvpanic", no_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "control", required_argument, NULL, 'S' },
		{ "exit-file", required_argument, NULL, 'E' },
		{ "console-log", required_argument, NULL, 'L' },
		{ "domid", required_argument, NULL, 'D' },
		{ "paused", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, rc, verbose = 0;

	memset(o, 0, sizeof(*o));
	o->m.vm.mem_bytes = 256ULL << 20;
	o->m.vm.vcpus = 1;
	o->m.rng.enabled = true;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":k:i:c:m:n:d:vh", lopts, NULL)) != -1)
		if ((rc = run_parse_opt(o, c, argv, &verbose)) != 0)
			return rc;
	if (optind < argc) {
		log_err("unexpected argument '%s' (see 'xvm run --help')", argv[optind]);
		return -EINVAL;
	}
	if (!o->m.boot.kernel) {
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

static int run_report(struct machine *m, enum vm_stop why)
{
	struct vm *vm = m->vm;

	if (log_get_level() >= LOG_INFO)
		machine_log_stats(m);
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

static const char *const stop_names[] = {
	[VM_STOP_POWEROFF] = "poweroff", [VM_STOP_ERROR] = "error",
	[VM_STOP_REBOOT] = "reboot", [VM_STOP_CRASH] = "crash",
	[VM_STOP_KILLED] = "killed",
};

/* --exit-file: {"status", "stop", "reason"} via a temp file and rename, so
 * a reader sees the whole record or none. Logs one line on failure. */
static void run_exit_file(const char *path, int status, const char *reason)
{
	struct json_object *o = json_object_new_object();
	char tmp[4096];
	const char *text;
	FILE *f;
	int ok;

	json_object_object_add(o, "status", json_object_new_int(status));
	json_object_object_add(o, "stop", json_object_new_string(
		status >= 0 && status <= VM_STOP_KILLED ? stop_names[status] : "error"));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	f = fopen(tmp, "we");
	ok = f && fprintf(f, "%s\n", text) > 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) < 0) {
		log_err("--exit-file %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	json_object_put(o);
}

/* The control socket on a built machine: bound and serving. */
static int run_control(struct run_opts *o, struct machine *m, struct control_vm *cv,
		       struct control **out)
{
	int rc;

	*out = NULL;
	if (!o->control)
		return 0;
	rc = control_create(out, o->control, o->m.vm.domid);
	if (rc < 0)
		return rc;
	cv->ctl = *out;
	cv->m = m;
	cv->console_log = o->m.console_log;
	rc = control_vm_register(cv);
	if (rc == 0)
		rc = control_hotplug_register(*out, m->hotplug);
	if (rc == 0)
		rc = control_start(*out);
	if (rc < 0)
		log_err("--control %s: cannot start: %s", o->control, strerror(-rc));
	return rc;
}

/* Subscribers learn why the VM stopped before the socket goes. */
static void run_control_stop(struct control *ctl, int status, const char *reason)
{
	struct json_object *f;

	if (!ctl)
		return;
	f = json_object_new_object();
	json_object_object_add(f, "status", json_object_new_int(status));
	json_object_object_add(f, "stop", json_object_new_string(
		status >= 0 && status <= VM_STOP_KILLED ? stop_names[status] : "error"));
	json_object_object_add(f, "reason", json_object_new_string(reason));
	control_stop(ctl);        /* the request in hand is answered first */
	control_event(ctl, "stop", f);
	control_destroy(ctl, 1000);
}

/* Build, run and report the machine; returns the exit status, reason in
 * reason[]. */
static int run_machine(struct run_opts *o, struct kvm_host *kvm, struct machine *m,
		       struct control **ctl, struct control_vm *cv, char *reason, size_t rlen)
{
	sigset_t set;
	int sfd, status = 1;

	sfd = run_signals(&set);
	cv->start_ns = now_ns();
	if (sfd >= 0 && machine_create(m, kvm, &o->m) == 0 &&
	    (!o->paused || vm_pause(m->vm, 0) == 0) &&
	    run_control(o, m, cv, ctl) == 0 && machine_start(m) == 0) {
		run_wait(m->vm, sfd);
		status = run_report(m, vm_wait(m->vm));
		snprintf(reason, rlen, "%s", m->vm->stop_reason);
	} else {
		log_last_error(reason, rlen);
	}
	if (sfd >= 0)
		close(sfd);
	return status;
}

int cmd_run(int argc, char **argv)
{
	struct kvm_host kvm = { .fd = -1 };
	struct machine m = { 0 };
	struct control *ctl = NULL;
	struct control_vm cv = { 0 };
	struct run_opts o;
	char reason[256] = "";
	int rc, status = 1;

	rc = run_parse(argc, argv, &o);
	if (rc > 0)
		return 0;
	if (rc == 0 && access(o.m.boot.kernel, R_OK) < 0) {
		log_err("%s: %s", o.m.boot.kernel, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && kvm_open(&kvm, getenv("XVM_KVM_DEVICE")) < 0)
		rc = -1;
	if (rc == 0) {
		if (kvm.pvm)
			log_notice("PVM host (kvm_pvm, no VMX/SVM): hiding XSAVE/AVX, "
				   "CMPXCHG16B and ARCH_CAPABILITIES from the guest");
		status = run_machine(&o, &kvm, &m, &ctl, &cv, reason, sizeof(reason));
	} else {
		log_last_error(reason, sizeof(reason));
	}
	if (o.exit_file)
		run_exit_file(o.exit_file, status, reason);
	control_hotplug_unregister(m.hotplug);   /* its events outlive the socket */
	run_control_stop(ctl, status, reason);
	machine_destroy(&m);
	kvm_close(&kvm);
	return status;
}
