/* vcpu.c - vCPU creation, the per-vCPU thread and its KVM_RUN exit loop. */
#include "xvm/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/cpuid.h"
#include "xvm/kvm.h"
#include "xvm/kvm_stats.h"
#include "xvm/log.h"
#include "xvm/trace.h"
#include "xvm/util.h"
#include "xvm/vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1

int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out)
{
	struct kvm_cpuid2 *cpuid = NULL;
	struct vcpu *v;
	int rc;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		rc = -errno;
		goto fail;
	}
	v->run = mmap(NULL, (size_t)vm->kvm->run_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		rc = -errno;
		goto fail;
	}
	rc = cpuid_build(vm->kvm, id, vm->cfg.vcpus, &cpuid);
	if (rc == 0 && ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0)
		rc = -errno;
	free(cpuid);
	if (rc < 0)
		goto fail;
	if (kvm_stats_open(v->fd, &v->kstats) < 0)
		log_debug("vcpu %u: no KVM binary stats", id);
	XVM_PROBE(VCPU_CREATE, vm->cfg.domid, (int)id);
	*out = v;
	return 0;
fail:
	vcpu_destroy(v);
	return rc;
}

static void vcpu_kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN with EINTR */
}

void vcpu_kick(struct vcpu *v)
{
	if (!v || !v->run)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

static void vcpu_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	bool wr = r->io.direction == KVM_EXIT_IO_OUT;

	XVM_PROBE(EXIT, v->vm->cfg.domid, (int)v->id, KVM_EXIT_IO, r->io.port);
	/* string I/O: count items of size bytes, back to back */
	for (uint32_t i = 0; i < r->io.count; i++)
		iobus_dispatch(&v->vm->pio, r->io.port, data + i * r->io.size,
			       r->io.size, wr);
}

static void vcpu_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;

	XVM_PROBE(EXIT, v->vm->cfg.domid, (int)v->id, KVM_EXIT_MMIO,
		  (unsigned long long)r->mmio.phys_addr);
	if (iobus_dispatch(&v->vm->mmio, r->mmio.phys_addr, r->mmio.data,
			   r->mmio.len, r->mmio.is_write) < 0)
		log_debug("vcpu %u: unhandled MMIO %s at 0x%llx len %u", v->id,
			  r->mmio.is_write ? "write" : "read",
			  (unsigned long long)r->mmio.phys_addr, r->mmio.len);
}

static unsigned long long vcpu_rip(struct vcpu *v)
{
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		return 0;
	return regs.rip;
}

/* Exits that end the VM. Returns true when the loop must stop. */
static bool vcpu_exit_fatal(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	struct vm *vm = v->vm;

	switch (r->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		vm_request_stop(vm, VM_STOP_CRASH,
				"triple fault on vcpu %u at rip=0x%llx", v->id,
				vcpu_rip(v));
		return true;
	case KVM_EXIT_INTERNAL_ERROR:
		vm_request_stop(vm, VM_STOP_CRASH,
				"KVM internal error %u%s on vcpu %u at rip=0x%llx",
				r->internal.suberror,
				r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
					" (instruction emulation failed)" : "",
				v->id, vcpu_rip(v));
		return true;
	case KVM_EXIT_FAIL_ENTRY:
		vm_request_stop(vm, VM_STOP_ERROR,
				"vcpu %u: KVM entry failed (reason 0x%llx)", v->id,
				(unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		if (r->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vm_request_stop(vm, VM_STOP_POWEROFF, "guest powered off");
		else if (r->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_request_stop(vm, VM_STOP_REBOOT, "guest requested a reset");
		else
			vm_request_stop(vm, VM_STOP_CRASH,
					"guest crashed: system event %u on vcpu %u",
					r->system_event.type, v->id);
		return true;
	default:
		vm_request_stop(vm, VM_STOP_ERROR,
				"vcpu %u: unexpected KVM exit %u at rip=0x%llx",
				v->id, r->exit_reason, vcpu_rip(v));
		return true;
	}
}

/* Park while a pause is requested (vm_pause); wakes on unpause or stop. */
static void vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->stop_lock);
	if (vm->pause_req && vm->stop == VM_RUNNING) {
		v->parked = true;
		vm->parked++;
		pthread_cond_broadcast(&vm->park_cond);
		while (vm->pause_req && vm->stop == VM_RUNNING)
			pthread_cond_wait(&vm->stop_cond, &vm->stop_lock);
		vm->parked--;
		v->parked = false;
	}
	pthread_mutex_unlock(&vm->stop_lock);
}

static void vcpu_loop(struct vcpu *v)
{
	struct vm *vm = v->vm;

	while (__atomic_load_n(&vm->stop, __ATOMIC_ACQUIRE) == VM_RUNNING) {
		if (__atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE)) {
			vcpu_park(v);
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				atomic_fetch_add_explicit(&v->stats.intr, 1,
							  memory_order_relaxed);
				v->run->immediate_exit = 0;
				continue;
			}
			vm_request_stop(vm, VM_STOP_ERROR, "vcpu %u: KVM_RUN: %s",
					v->id, strerror(errno));
			break;
		}
		atomic_fetch_add_explicit(&v->stats.exits, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&v->stats.by_reason[MIN(v->run->exit_reason,
								  VCPU_EXIT_REASONS - 1)],
					  1, memory_order_relaxed);
		switch (v->run->exit_reason) {
		case KVM_EXIT_IO:
			atomic_fetch_add_explicit(&v->stats.io, 1, memory_order_relaxed);
			vcpu_io(v);
			break;
		case KVM_EXIT_MMIO:
			atomic_fetch_add_explicit(&v->stats.mmio, 1, memory_order_relaxed);
			vcpu_mmio(v);
			break;
		case KVM_EXIT_INTR:
			atomic_fetch_add_explicit(&v->stats.intr, 1, memory_order_relaxed);
			break;
		default:
			atomic_fetch_add_explicit(&v->stats.other, 1, memory_order_relaxed);
			XVM_PROBE(EXIT, vm->cfg.domid, (int)v->id,
				  (int)v->run->exit_reason, 0ULL);
			if (vcpu_exit_fatal(v))
				return;
		}
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct timespec ts;
	char name[16];

	atomic_store(&v->tid, (int)gettid());
	snprintf(name, sizeof(name), "vcpu %u", v->id);
	pthread_setname_np(pthread_self(), name);
	vcpu_loop(v);
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
		atomic_store(&v->final_cpu_ns,
			     (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
	pthread_mutex_lock(&v->vm->stop_lock);
	v->vm->exited++;
	pthread_cond_broadcast(&v->vm->park_cond);
	pthread_mutex_unlock(&v->vm->stop_lock);
	return NULL;
}

const char *vcpu_exit_name(unsigned r)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] = "exception",
		[KVM_EXIT_IO] = "io", [KVM_EXIT_HYPERCALL] = "hypercall",
		[KVM_EXIT_DEBUG] = "debug", [KVM_EXIT_HLT] = "hlt",
		[KVM_EXIT_MMIO] = "mmio", [KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open",
		[KVM_EXIT_SHUTDOWN] = "shutdown", [KVM_EXIT_FAIL_ENTRY] = "fail_entry",
		[KVM_EXIT_INTR] = "intr", [KVM_EXIT_SET_TPR] = "set_tpr",
		[KVM_EXIT_TPR_ACCESS] = "tpr_access", [KVM_EXIT_NMI] = "nmi",
		[KVM_EXIT_INTERNAL_ERROR] = "internal_error", [KVM_EXIT_OSI] = "osi",
		[KVM_EXIT_SYSTEM_EVENT] = "system_event", [KVM_EXIT_IOAPIC_EOI] = "ioapic_eoi",
		[KVM_EXIT_HYPERV] = "hyperv", [KVM_EXIT_X86_RDMSR] = "x86_rdmsr",
		[KVM_EXIT_X86_WRMSR] = "x86_wrmsr", [KVM_EXIT_X86_BUS_LOCK] = "x86_bus_lock",
	};

	if (r >= VCPU_EXIT_REASONS - 1)
		return "other";
	return r < sizeof(names) / sizeof(names[0]) ? names[r] : NULL;
}

uint64_t vcpu_cpu_ns(struct vcpu *v)
{
	clockid_t cid;
	struct timespec ts;

	uint64_t done = atomic_load(&v->final_cpu_ns);

	/* a thread that has left its loop may be gone: its last reading */
	if (done || !v->thread_started || pthread_getcpuclockid(v->thread, &cid) != 0 ||
	    clock_gettime(cid, &ts) < 0)
		return done;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int vcpu_start(struct vcpu *v)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };
	int rc;

	/* no SA_RESTART: the kick must make KVM_RUN return EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	rc = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (rc)
		return -rc;
	v->thread_started = true;
	return 0;
}

void vcpu_join(struct vcpu *v)
{
	if (v && v->thread_started) {
		vcpu_kick(v);
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	vcpu_join(v);
	kvm_stats_close(v->kstats);
	if (v->run)
		munmap(v->run, (size_t)v->vm->kvm->run_size);
	if (v->fd >= 0)
		close(v->fd);
	free(v);
}
