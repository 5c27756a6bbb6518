/* kvm.c - open /dev/kvm, check the API and capabilities, detect PVM hosts. */
#include "xvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "xvm/log.h"

#define CPUID_MAX_ENTRIES 256

bool kvm_host_is_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

int kvm_check_cap(const struct kvm_host *kvm, long cap)
{
	return ioctl(kvm->fd, KVM_CHECK_EXTENSION, cap);
}

static int kvm_read_cpuid(struct kvm_host *kvm)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int rc = -errno;
		free(c);
		return rc;
	}
	kvm->cpuid = c;
	return 0;
}

int kvm_open(struct kvm_host *kvm, const char *path)
{
	static const struct { long cap; const char *name; } need[] = {
		{ KVM_CAP_IRQCHIP, "in-kernel irqchip" },
		{ KVM_CAP_USER_MEMORY, "user memory" },
		{ KVM_CAP_PIT2, "in-kernel PIT" },
		{ KVM_CAP_IOEVENTFD, "ioeventfd" },
		{ KVM_CAP_IRQFD, "irqfd" },
		{ KVM_CAP_SET_TSS_ADDR, "TSS address" },
		{ KVM_CAP_EXT_CPUID, "extended CPUID" },
	};
	int rc, n;

	memset(kvm, 0, sizeof(*kvm));
	path = path ? path : "/dev/kvm";
	kvm->fd = open(path, O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			log_err("%s: no such device (is the kvm module loaded? "
				"does this machine support virtualization?)", path);
		else if (rc == -EACCES || rc == -EPERM)
			log_err("%s: permission denied (add yourself to the "
				"'kvm' group or run as root)", path);
		else
			log_err("%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (rc != KVM_API_VERSION) {
		log_err("%s: KVM API version %d, need %d", path, rc, KVM_API_VERSION);
		rc = -ENOTSUP;
		goto fail;
	}
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (kvm_check_cap(kvm, need[i].cap) <= 0) {
			log_err("%s: KVM lacks %s support", path, need[i].name);
			rc = -ENOTSUP;
			goto fail;
		}
	}
	kvm->run_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->run_size <= 0) {
		rc = -errno;
		log_err("%s: KVM_GET_VCPU_MMAP_SIZE: %s", path, strerror(errno));
		goto fail;
	}
	n = kvm_check_cap(kvm, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = kvm_check_cap(kvm, KVM_CAP_NR_VCPUS);
	kvm->max_vcpus = n > 0 ? (unsigned)n : 4;
	rc = kvm_read_cpuid(kvm);
	if (rc < 0) {
		log_err("%s: KVM_GET_SUPPORTED_CPUID: %s", path, strerror(-rc));
		goto fail;
	}
	kvm->pvm = kvm_host_is_pvm();
	return 0;
fail:
	close(kvm->fd);
	kvm->fd = -1;
	return rc;
}

void kvm_close(struct kvm_host *kvm)
{
	if (kvm->fd >= 0)
		close(kvm->fd);
	kvm->fd = -1;
	free(kvm->cpuid);
	kvm->cpuid = NULL;
}
