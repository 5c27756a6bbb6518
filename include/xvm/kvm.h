/* kvm.h - the host's /dev/kvm: open it, check the API, read capabilities,
 * and tell a PVM host (kvm_pvm: software virtualization, no VMX/SVM) from a
 * hardware-assisted one. */
#ifndef XVM_KVM_H
#define XVM_KVM_H

#include <stdbool.h>
#include <stdint.h>

struct kvm_cpuid2;

struct kvm_host {
	int fd;                      /* /dev/kvm */
	int run_size;                /* KVM_GET_VCPU_MMAP_SIZE */
	unsigned max_vcpus;          /* KVM_CAP_MAX_VCPUS (or NR_VCPUS) */
	bool pvm;                    /* kvm_pvm module: see DESIGN.md section 5 */
	struct kvm_cpuid2 *cpuid;    /* KVM_GET_SUPPORTED_CPUID */
};

/* Open path (NULL: "/dev/kvm"), check KVM_GET_API_VERSION == 12 and the
 * capabilities xvm needs. Returns 0 or a negative errno after logging one
 * line naming the problem (missing device, no permission, old kernel). */
int kvm_open(struct kvm_host *kvm, const char *path);
void kvm_close(struct kvm_host *kvm);

/* KVM_CHECK_EXTENSION on the system fd; <= 0 means absent. */
int kvm_check_cap(const struct kvm_host *kvm, long cap);

/* true when the kvm_pvm module provides /dev/kvm (sysfs probe). */
bool kvm_host_is_pvm(void);

#endif
