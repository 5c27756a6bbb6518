/* kvm_stats.h - KVM's binary statistics of one vCPU (KVM_GET_STATS_FD):
 * the header and descriptors are parsed once, values are read with one
 * pread per call. Only the counters xvm reports are kept: every cumulative
 * `*_exits` counter and the instant `blocking` flag (1 while the vCPU
 * waits in HLT).
 *
 * Threads: kvm_stats_read() may run on any thread at any time (the stats fd
 * is separate from the vCPU fd and never blocks on KVM_RUN). */
#ifndef XVM_KVM_STATS_H
#define XVM_KVM_STATS_H

#include <stdint.h>

#define KVM_STATS_MAX 48          /* counters kept per vCPU */
#define KVM_STATS_NAME 48

struct kvm_stats;

struct kvm_stat_val {
	const char *name;         /* KVM's name, e.g. "io_exits"; owned by stats */
	uint64_t value;
};

/* Open and parse the stats of vcpu_fd. 0, or -errno (-ENOTTY: no binary
 * stats on this kernel); *out is NULL then and reads return 0 values. */
int kvm_stats_open(int vcpu_fd, struct kvm_stats **out);
/* Current values into out[0..max); returns how many (0 for NULL stats). */
int kvm_stats_read(struct kvm_stats *s, struct kvm_stat_val *out, int max);
void kvm_stats_close(struct kvm_stats *s);

#endif
