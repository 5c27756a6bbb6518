/* vm.c - VM lifecycle: KVM_CREATE_VM, guest RAM slots, irqchip and PIT,
 * vCPUs, and the stop protocol every thread uses to end the VM. */
#include "xvm/vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/trace.h"
#include "xvm/vcpu.h"

/* Addresses KVM needs for real-mode emulation on VMX; inside the MMIO hole. */
#define VM_TSS_ADDR 0xfeffd000ULL
#define VM_IDENTITY_MAP_ADDR 0xfeffc000ULL

static int vm_set_slot(struct vm *vm, unsigned slot, uint64_t gpa,
		       uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};
	int rc = 0;

	XVM_PROBE(SET_MEMORY_MAP_START, vm->cfg.domid, (int)slot, gpa, size);
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		rc = -errno;
	XVM_PROBE(SET_MEMORY_MAP_END, vm->cfg.domid, (int)slot, rc);
	return rc;
}

static int vm_setup_memory(struct vm *vm)
{
	int rc;

	XVM_PROBE(POPULATE_PHYSMAP_START, vm->cfg.domid,
		  (unsigned long long)vm->cfg.mem_bytes);
	rc = gm_init(&vm->mem, vm->cfg.mem_bytes);
	XVM_PROBE(POPULATE_PHYSMAP_END, vm->cfg.domid, rc);
	if (rc < 0) {
		log_err("cannot map %llu MiB of guest memory: %s",
			(unsigned long long)(vm->cfg.mem_bytes >> 20), strerror(-rc));
		return rc;
	}
	rc = vm_set_slot(vm, 0, 0, vm->mem.low_size, vm->mem.host);
	if (rc == 0 && vm->mem.high_size)
		rc = vm_set_slot(vm, 1, GUESTMEM_4G, vm->mem.high_size,
				 vm->mem.host + vm->mem.low_size);
	if (rc < 0)
		log_err("KVM_SET_USER_MEMORY_REGION: %s", strerror(-rc));
	return rc;
}

static int vm_setup_platform(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = VM_IDENTITY_MAP_ADDR;

	/* Only VMX needs these (real-mode emulation); harmless elsewhere. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VM_TSS_ADDR) < 0)
		log_debug("KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		log_debug("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_err("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_err("KVM_CREATE_PIT2: %s", strerror(errno));
		return -errno;
	}
	/* KVM's default sends the PIT (GSI 0) to IOAPIC pin 0; the MADT says 2 */
	return irq_routing_init(&vm->irq, vm->vm_fd);
}

static int vm_create_vcpus(struct vm *vm)
{
	vm->vcpu = calloc(vm->cfg.vcpus, sizeof(vm->vcpu[0]));
	if (!vm->vcpu)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->cfg.vcpus; i++) {
		int rc = vcpu_create(vm, i, &vm->vcpu[i]);
		if (rc < 0) {
			log_err("cannot create vcpu %u: %s", i, strerror(-rc));
			return rc;
		}
		vm->nvcpus++;
	}
	return 0;
}

int vm_create(struct vm **out, struct kvm_host *kvm, const struct vm_config *cfg)
{
	pthread_condattr_t ca;
	struct vm *vm;
	int rc;

	if (cfg->vcpus == 0 || cfg->vcpus > kvm->max_vcpus) {
		log_err("--vcpus %u: this host's KVM allows 1 to %u vCPUs",
			cfg->vcpus, kvm->max_vcpus);
		return -EINVAL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->cfg = *cfg;
	vm->kvm = kvm;
	vm->vm_fd = -1;
	vm->stop = VM_RUNNING;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_cond_init(&vm->stop_cond, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);  /* vm_pause's deadline */
	pthread_cond_init(&vm->park_cond, &ca);
	pthread_condattr_destroy(&ca);
	iobus_init(&vm->pio);
	iobus_init(&vm->mmio);
	snprintf(vm->name, sizeof(vm->name), "%s",
		 cfg->name ? cfg->name : "xvm");
	vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	XVM_PROBE(DOM_CREATE_START, cfg->domid, vm->name);
	vm->vm_fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		rc = -errno;
		log_err("KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}
	rc = vm_setup_memory(vm);
	if (rc == 0)
		rc = vm_setup_platform(vm);
	if (rc == 0)
		rc = vm_create_vcpus(vm);
	if (rc < 0 || vm->wake_fd < 0) {
		rc = rc < 0 ? rc : -EMFILE;
		goto fail;
	}
	XVM_PROBE(DOM_CREATE_END, cfg->domid, 0);
	*out = vm;
	return 0;
fail:
	XVM_PROBE(DOM_CREATE_END, cfg->domid, rc);
	vm_destroy(vm);
	return rc;
}

int vm_start(struct vm *vm)
{
	int rc = 0;

	XVM_PROBE(DOM_UNPAUSE_START, vm->cfg.domid);
	for (unsigned i = 0; i < vm->nvcpus && rc == 0; i++)
		rc = vcpu_start(vm->vcpu[i]);
	XVM_PROBE(DOM_UNPAUSE_END, vm->cfg.domid, rc);
	if (rc < 0)
		vm_request_stop(vm, VM_STOP_ERROR, "cannot start vcpu threads: %s",
				strerror(-rc));
	return rc;
}

void vm_request_stop(struct vm *vm, enum vm_stop why, const char *fmt, ...)
{
	uint64_t one = 1;
	va_list ap;

	pthread_mutex_lock(&vm->stop_lock);
	if (vm->stop != VM_RUNNING) {
		pthread_mutex_unlock(&vm->stop_lock);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(vm->stop_reason, sizeof(vm->stop_reason), fmt, ap);
	va_end(ap);
	__atomic_store_n(&vm->stop, why, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->stop_cond);
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->stop_lock);
	if (vm->wake_fd >= 0 && write(vm->wake_fd, &one, sizeof(one)) < 0)
		log_debug("wake_fd: %s", strerror(errno));
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(vm->vcpu[i]);
}

enum vm_stop vm_wait(struct vm *vm)
{
	enum vm_stop s;

	pthread_mutex_lock(&vm->stop_lock);
	while (vm->stop == VM_RUNNING)
		pthread_cond_wait(&vm->stop_cond, &vm->stop_lock);
	s = vm->stop;
	pthread_mutex_unlock(&vm->stop_lock);
	return s;
}

int vm_pause(struct vm *vm, int timeout_ms)
{
	struct timespec dl;
	bool started;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&vm->stop_lock);
	if (vm->stop != VM_RUNNING) {
		pthread_mutex_unlock(&vm->stop_lock);
		return -ESRCH;
	}
	__atomic_store_n(&vm->pause_req, true, __ATOMIC_SEQ_CST);
	started = vm->nvcpus && vm->vcpu[0]->thread_started;
	pthread_mutex_unlock(&vm->stop_lock);
	if (!started)
		return 0;  /* before vm_start(): the threads park at once */
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(vm->vcpu[i]);
	pthread_mutex_lock(&vm->stop_lock);
	while (vm->pause_req && vm->stop == VM_RUNNING &&
	       vm->parked + vm->exited < vm->nvcpus && rc == 0)
		rc = -pthread_cond_timedwait(&vm->park_cond, &vm->stop_lock, &dl);
	if (vm->stop != VM_RUNNING)
		rc = -ESRCH;
	else if (vm->parked + vm->exited >= vm->nvcpus)
		rc = 0;
	pthread_mutex_unlock(&vm->stop_lock);
	return rc;
}

int vm_unpause(struct vm *vm)
{
	int rc = 0;

	pthread_mutex_lock(&vm->stop_lock);
	if (vm->stop != VM_RUNNING)
		rc = -ESRCH;
	__atomic_store_n(&vm->pause_req, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->stop_cond);
	pthread_mutex_unlock(&vm->stop_lock);
	return rc;
}

bool vm_paused(struct vm *vm)
{
	return __atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE);
}

int vm_irq_line(struct vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

void vm_halt(struct vm *vm)
{
	if (!vm)
		return;
	if (__atomic_load_n(&vm->stop, __ATOMIC_ACQUIRE) == VM_RUNNING)
		vm_request_stop(vm, VM_STOP_KILLED, "destroyed");
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_join(vm->vcpu[i]);
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	XVM_PROBE(DOM_DESTROY_START, vm->cfg.domid);
	vm_halt(vm);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_destroy(vm->vcpu[i]);
	free(vm->vcpu);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	gm_free(&vm->mem);
	iobus_free(&vm->pio);
	iobus_free(&vm->mmio);
	if (vm->irq.vm_fd)
		irq_routing_destroy(&vm->irq);
	if (vm->wake_fd >= 0)
		close(vm->wake_fd);
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_cond_destroy(&vm->stop_cond);
	pthread_cond_destroy(&vm->park_cond);
	XVM_PROBE(DOM_DESTROY_END, vm->cfg.domid, 0);
	free(vm);
}
