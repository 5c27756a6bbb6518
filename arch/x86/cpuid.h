/* cpuid.h - the CPUID table each vCPU sees: KVM's supported set with the
 * topology fixed for this VM and, on PVM hosts, the features the PVM
 * emulator cannot run (XSAVE family, CMPXCHG16B, ARCH_CAPABILITIES) hidden. */
#ifndef XVM_ARCH_X86_CPUID_H
#define XVM_ARCH_X86_CPUID_H

#include <stdint.h>

struct kvm_host;
struct kvm_cpuid2;

/* Build the table for vCPU id of ncpus (one core per vCPU, one socket).
 * *out is malloc'd; the caller frees it. Returns 0 or -ENOMEM. */
int cpuid_build(const struct kvm_host *kvm, unsigned id, unsigned ncpus,
		struct kvm_cpuid2 **out);

#endif
