/* regs.c - boot vCPU register state: GDT, page tables, segments, mode. */
#include "arch/x86/regs.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "xvm/boot.h"
#include "xvm/trace.h"
#include "xvm/vcpu.h"
#include "xvm/vm.h"

#define CR0_PE 0x1ULL
#define CR0_ET 0x10ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA 0x18
#define SEL_TSS 0x20

/* GDT entries: flags/limit/base packed as the CPU wants them */
static const uint64_t boot_gdt[] = {
	0,
	0x00cf9b000000ffffULL, /* 0x08 code32, flat, 4 KiB granularity */
	0x00af9b000000ffffULL, /* 0x10 code64 */
	0x00cf93000000ffffULL, /* 0x18 data, flat */
	0x00008b0000000067ULL, /* 0x20 32-bit TSS (busy), base 0, limit 0x67 */
};

static int regs_write_gdt(struct vm *vm)
{
	return gm_write(&vm->mem, BOOT_GDT_GPA, boot_gdt, sizeof(boot_gdt));
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, int l, int db, int g,
			      uint32_t limit)
{
	return (struct kvm_segment){
		.base = 0, .limit = limit, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = (uint8_t)db, .s = 1, .l = (uint8_t)l,
		.g = (uint8_t)g,
	};
}

static void regs_set_segments(struct kvm_sregs *s, int long_mode)
{
	struct kvm_segment data = seg(SEL_DATA, 3, 0, 1, 1, 0xffffffff);

	s->cs = long_mode ? seg(SEL_CODE64, 11, 1, 0, 1, 0xffffffff)
			  : seg(SEL_CODE32, 11, 0, 1, 1, 0xffffffff);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = seg(SEL_TSS, 11, 0, 0, 0, 0x67);
	s->tr.s = 0;
	s->ldt = (struct kvm_segment){ .type = 2, .present = 1, .unusable = 1 };
	s->gdt.base = BOOT_GDT_GPA;
	s->gdt.limit = sizeof(boot_gdt) - 1;
	s->idt.base = 0;
	s->idt.limit = 0;
}

static int regs_write_pagetables(struct vm *vm)
{
	uint64_t pml4 = BOOT_PGTABLE_GPA, pdpt = pml4 + 0x1000, pd = pdpt + 0x1000;
	uint64_t *p = gm_ptr(&vm->mem, pml4, 6 * 0x1000);

	if (!p)
		return -EFAULT;
	memset(p, 0, 6 * 0x1000);
	p[0] = pdpt | 0x3; /* present, writable */
	for (unsigned i = 0; i < 4; i++)
		p[512 + i] = (pd + i * 0x1000ULL) | 0x3;
	for (unsigned i = 0; i < 4 * 512; i++) /* 2 MiB pages, PS bit */
		p[1024 + i] = ((uint64_t)i << 21) | 0x83;
	return 0;
}

static int regs_commit(struct vm *vm, struct vcpu *v, struct kvm_sregs *s,
		       struct kvm_regs *r)
{
	int rc = 0;

	XVM_PROBE(SETVCPUCONTEXT_START, vm->cfg.domid, (int)v->id);
	if (ioctl(v->fd, KVM_SET_SREGS, s) < 0 || ioctl(v->fd, KVM_SET_REGS, r) < 0)
		rc = -errno;
	XVM_PROBE(SETVCPUCONTEXT_END, vm->cfg.domid, (int)v->id, rc);
	return rc;
}

int regs_setup_long_mode(struct vm *vm, struct vcpu *v, uint64_t rip,
			 uint64_t rsi)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rflags = 2, .rip = rip, .rsi = rsi };
	int rc;

	if ((rc = regs_write_gdt(vm)) < 0 || (rc = regs_write_pagetables(vm)) < 0)
		return rc;
	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	regs_set_segments(&s, 1);
	s.cr0 = CR0_PE | CR0_ET | CR0_PG;
	s.cr3 = BOOT_PGTABLE_GPA;
	s.cr4 = CR4_PAE;
	s.efer = EFER_LME | EFER_LMA;
	return regs_commit(vm, v, &s, &r);
}

int regs_setup_protected32(struct vm *vm, struct vcpu *v, uint32_t eip,
			   uint32_t ebx)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rflags = 2, .rip = eip, .rbx = ebx };
	int rc;

	if ((rc = regs_write_gdt(vm)) < 0)
		return rc;
	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	regs_set_segments(&s, 0);
	s.cr0 = CR0_PE | CR0_ET;
	s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	return regs_commit(vm, v, &s, &r);
}
