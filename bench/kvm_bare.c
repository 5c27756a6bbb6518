/* kvm_bare.c - bench reference: the test guest driven by the barest KVM_RUN
 * loop possible (no device model, no bus dispatch, no probes, no stats), to
 * measure what a PIO exit costs on this host by itself.
 *
 * usage: bench-kvm-bare GUEST.elf CMDLINE
 * The VM is set up by libvmm exactly as `xvm run` does (same memory, irqchip,
 * CPUID, ACPI tables, PVH boot); only the exit loop differs. Guest serial
 * output goes to stdout. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "xvm/acpi.h"
#include "xvm/boot.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/vcpu.h"
#include "xvm/vm.h"

static int bare_loop(struct vcpu *v)
{
	struct kvm_run *r = v->run;

	for (;;) {
		uint8_t *d;

		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r->exit_reason != KVM_EXIT_IO)
			return 0; /* shutdown, or anything else: the run is over */
		d = (uint8_t *)r + r->io.data_offset;
		if (r->io.port == 0x80)
			continue;
		if (r->io.direction == KVM_EXIT_IO_OUT) {
			if (r->io.port == 0x3f8 && write(1, d, 1) < 0)
				return -errno;
			if (r->io.port == ACPI_PM1A_CNT_PORT)
				return 0; /* power-off request */
		} else {
			/* LSR: transmitter empty; everything else reads as 0xff */
			memset(d, r->io.port == 0x3fd ? 0x60 : 0xff, r->io.size);
		}
	}
}

int main(int argc, char **argv)
{
	struct vm_config cfg = { .name = "bare", .mem_bytes = 64 << 20, .vcpus = 1 };
	struct boot_config boot = { 0 };
	struct acpi_config acfg = { .ncpus = 1 };
	struct kvm_host kvm;
	struct vm *vm;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: bench-kvm-bare GUEST.elf CMDLINE\n");
		return 2;
	}
	log_init("bench-kvm-bare", LOG_WARN);
	boot.kernel = argv[1];
	boot.cmdline = argv[2];
	if (kvm_open(&kvm, NULL) < 0 || vm_create(&vm, &kvm, &cfg) < 0)
		return 1;
	rc = acpi_build(gm_ptr(&vm->mem, ACPI_TABLES_GPA, ACPI_TABLES_MAX),
			ACPI_TABLES_MAX, ACPI_TABLES_GPA, &acfg, &boot.rsdp_gpa);
	if (rc == 0)
		rc = boot_load(vm, &boot);
	if (rc == 0)
		rc = bare_loop(vm->vcpu[0]);
	vm_destroy(vm);
	kvm_close(&kvm);
	return rc < 0 ? 1 : 0;
}
