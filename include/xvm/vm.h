/* vm.h - one virtual machine: KVM VM fd, guest memory, buses, vCPU threads.
 *
 * Lifecycle: vm_create() -> devices register on vm->pio / vm->mmio and the
 * loader fills memory -> vm_start() (vCPU threads run) -> vm_wait() returns
 * when the guest powers off, reboots, crashes or the VMM fails -> vm_destroy().
 *
 * Threads: vm_create/vm_start/vm_wait/vm_destroy run on the main thread;
 * vm_irq_line() and vm_request_stop() may be called from any thread. */
#ifndef XVM_VM_H
#define XVM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "xvm/guestmem.h"
#include "xvm/iobus.h"
#include "xvm/irq.h"

/* Why a VM stopped; also the `xvm run` exit status (docs/xvm-run.md). */
enum vm_stop {
	VM_RUNNING = -1,
	VM_STOP_POWEROFF = 0, /* guest powered off (ACPI S5) */
	VM_STOP_ERROR = 1,    /* VMM error: bad input, KVM or host failure */
	VM_STOP_REBOOT = 2,   /* guest asked for a reset */
	VM_STOP_CRASH = 3,    /* triple fault, KVM internal error, pvpanic */
	VM_STOP_KILLED = 4,   /* stopped from outside (signal, control socket) */
};

struct vm_config {
	const char *name;     /* NULL: "xvm-<pid>" */
	int domid;            /* 0 for standalone runs */
	uint64_t mem_bytes;
	unsigned vcpus;
};

struct kvm_host;  /* vmm/kvm.h: /dev/kvm, capabilities, PVM detection */
struct vcpu;

struct vm {
	struct vm_config cfg;
	char name[64];
	struct kvm_host *kvm;
	int vm_fd;
	struct guestmem mem;
	struct iobus pio, mmio;
	struct irq_routing irq;  /* GSI routing, MSI routes, irqfds */
	struct vcpu **vcpu;
	unsigned nvcpus;

	/* stop state: written once under stop_lock by the first stopper */
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	enum vm_stop stop;
	char stop_reason[256];
	int wake_fd;          /* eventfd: becomes readable when the VM stops */

	/* pause state, under stop_lock: vCPU threads park at the top of their
	 * loop while pause_req is set; park_cond is broadcast when `parked`
	 * changes or the VM stops (stop_cond wakes parked vCPUs) */
	bool pause_req;
	unsigned parked;      /* vCPU threads parked */
	unsigned exited;      /* vCPU threads that have left their loop */
	pthread_cond_t park_cond;
};

/* Create the VM (KVM_CREATE_VM, memory, irqchip, PIT). On error returns a
 * negative errno and has logged one line naming the problem. */
int vm_create(struct vm **out, struct kvm_host *kvm, const struct vm_config *cfg);
/* Create vCPU fds and their initial state is set by the loader; start one
 * thread per vCPU. */
int vm_start(struct vm *vm);
/* Block until the VM stops; returns the reason (stop_reason has the text). */
enum vm_stop vm_wait(struct vm *vm);
/* Stop every vCPU and join the threads; memory and fds stay, so devices
 * can be torn down safely before vm_destroy(). NULL is fine. */
void vm_halt(struct vm *vm);
/* vm_halt(), then free everything. NULL is fine. */
void vm_destroy(struct vm *vm);

/* Record why the VM stops (first caller wins) and kick every vCPU out of
 * KVM_RUN. Safe from any thread, including vCPU threads and signal-free
 * contexts (not from signal handlers). */
void vm_request_stop(struct vm *vm, enum vm_stop why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Pause: ask every vCPU to leave KVM_RUN and park; returns once all are
 * parked (0), -ESRCH when the VM is stopping, -ETIMEDOUT when a vCPU did
 * not park within timeout_ms (the request stays: it parks when it can).
 * Called before vm_start() it makes the vCPUs park before their first
 * KVM_RUN (`--paused`) and returns 0 at once. Any thread but a vCPU's. */
int vm_pause(struct vm *vm, int timeout_ms);
/* Let parked vCPUs run again. 0, or -ESRCH when the VM is stopping. */
int vm_unpause(struct vm *vm);
/* Is a pause requested (the state "paused")? Any thread. */
bool vm_paused(struct vm *vm);

/* Set an interrupt line (GSI) of the in-kernel IOAPIC/PIC. 0 or -errno. */
int vm_irq_line(struct vm *vm, unsigned gsi, int level);

#endif
