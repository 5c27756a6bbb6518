/* vcpu.h - one virtual CPU: its KVM fd, the shared kvm_run page, its thread,
 * and the exit loop that routes port I/O and MMIO to the VM's buses. */
#ifndef XVM_VCPU_H
#define XVM_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;
struct kvm_run;

/* Exit counters, written only by the vCPU's own thread, read by anyone
 * (relaxed atomics: for statistics only). */
#define VCPU_EXIT_REASONS 64   /* KVM_EXIT_* values counted one by one */
struct vcpu_stats {
	_Atomic uint64_t exits, io, mmio, intr, other;
	_Atomic uint64_t by_reason[VCPU_EXIT_REASONS]; /* KVM_RUN returns by
				  * exit_reason (the last slot: larger values) */
};

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;      /* mmap of the vCPU fd, run_size bytes */
	pthread_t thread;
	bool thread_started;
	_Atomic int tid;          /* the thread's Linux tid, 0 until it runs */
	_Atomic uint64_t final_cpu_ns; /* its CPU time as it left its loop */
	bool parked;              /* under vm->stop_lock */
	struct vcpu_stats stats;
	struct kvm_stats *kstats; /* KVM's binary stats (NULL if unavailable) */
};

/* KVM_CREATE_VCPU + mmap of kvm_run + CPUID for this vCPU. 0 or -errno. */
int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out);
/* Start the vCPU thread (it runs until the VM stops). 0 or -errno. */
int vcpu_start(struct vcpu *v);
/* Make the vCPU leave KVM_RUN promptly (from any thread). */
void vcpu_kick(struct vcpu *v);
/* Name of KVM exit reason r ("io", "mmio", "hlt", ...), or NULL. */
const char *vcpu_exit_name(unsigned r);
/* CPU time the vCPU thread has used, in ns (0 before it runs). */
uint64_t vcpu_cpu_ns(struct vcpu *v);
/* Kick and join the thread if it runs (after a stop was requested). */
void vcpu_join(struct vcpu *v);
/* Join the thread and free everything. */
void vcpu_destroy(struct vcpu *v);

#endif
