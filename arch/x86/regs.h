/* regs.h - initial register state for the boot vCPU: 64-bit long mode
 * (Linux 64-bit boot protocol) or 32-bit flat protected mode (PVH). */
#ifndef XVM_ARCH_X86_REGS_H
#define XVM_ARCH_X86_REGS_H

#include <stdint.h>

struct vm;
struct vcpu;

/* Identity-map the first 4 GiB (2 MiB pages), load the GDT, enter long mode
 * at rip with rsi = boot_params. 0 or -errno (ioctl failure). */
int regs_setup_long_mode(struct vm *vm, struct vcpu *v, uint64_t rip,
			 uint64_t rsi);
/* Flat 32-bit protected mode, paging off, at eip with ebx (PVH). */
int regs_setup_protected32(struct vm *vm, struct vcpu *v, uint32_t eip,
			   uint32_t ebx);

#endif
