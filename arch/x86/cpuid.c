/* cpuid.c - per-vCPU CPUID: topology (APIC ids, core counts) and PVM masking. */
#include "arch/x86/cpuid.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "xvm/kvm.h"

/* leaf 1 */
#define L1_ECX_CX16 (1u << 13)
#define L1_ECX_FMA (1u << 12)
#define L1_ECX_XSAVE (1u << 26)
#define L1_ECX_OSXSAVE (1u << 27)
#define L1_ECX_AVX (1u << 28)
#define L1_ECX_F16C (1u << 29)
#define L1_EDX_HTT (1u << 28)
/* leaf 7.0 */
#define L7_EDX_ARCH_CAP (1u << 29)
/* leaf 0x80000001 */
#define LX1_ECX_XOP (1u << 11)
#define LX1_ECX_FMA4 (1u << 16)
#define LX1_ECX_CMP_LEGACY (1u << 1)

static unsigned order_of(unsigned n)
{
	unsigned o = 0;

	while ((1u << o) < n)
		o++;
	return o;
}

/* Everything that needs XSAVE-managed state, plus what the PVM emulator
 * cannot execute in guest ring 0 (DESIGN.md section 5). */
static void cpuid_mask_pvm(struct kvm_cpuid_entry2 *e)
{
	switch (e->function) {
	case 1:
		e->ecx &= ~(L1_ECX_XSAVE | L1_ECX_OSXSAVE | L1_ECX_AVX |
			    L1_ECX_FMA | L1_ECX_F16C | L1_ECX_CX16);
		break;
	case 7:
		if (e->index == 0) {
			/* AVX2, all AVX-512, and friends */
			e->ebx &= ~((1u << 5) | (1u << 16) | (1u << 17) |
				    (1u << 21) | (1u << 26) | (1u << 27) |
				    (1u << 28) | (1u << 30) | (1u << 31));
			/* AVX512_VBMI.., VAES, VPCLMULQDQ, AVX512 others */
			e->ecx &= ~((1u << 1) | (1u << 6) | (1u << 9) |
				    (1u << 10) | (1u << 11) | (1u << 12) |
				    (1u << 14));
			e->edx &= ~(L7_EDX_ARCH_CAP | (1u << 2) | (1u << 3) |
				    (1u << 8) | (1u << 22) | (1u << 23) |
				    (1u << 24) | (1u << 25));
		} else {
			e->eax = e->ebx = e->ecx = e->edx = 0;
		}
		break;
	case 0xd:
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x80000001:
		e->ecx &= ~(LX1_ECX_XOP | LX1_ECX_FMA4);
		break;
	default:
		break;
	}
}

static void cpuid_fix_topology(struct kvm_cpuid_entry2 *e, unsigned id,
			       unsigned ncpus)
{
	unsigned shift = order_of(ncpus);

	switch (e->function) {
	case 1:
		e->ecx |= 1u << 31; /* hypervisor present (KVM on SVM leaves it clear) */
		e->ebx = (e->ebx & 0x0000ffffu) | (id << 24) |
			 ((ncpus > 255 ? 255 : ncpus) << 16);
		if (ncpus > 1)
			e->edx |= L1_EDX_HTT;
		else
			e->edx &= ~L1_EDX_HTT;
		break;
	case 4: /* Intel deterministic cache: cores per package */
		e->eax = (e->eax & 0x3ffu) | ((ncpus - 1) << 26);
		break;
	case 0xb:
	case 0x1f: /* x2APIC topology: level 0 SMT (1 thread), level 1 core */
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1u << 8) | e->index;
		} else if (e->index == 1) {
			e->eax = shift;
			e->ebx = ncpus;
			e->ecx = (2u << 8) | e->index;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		e->edx = id;
		break;
	case 0x80000001:
		/* CmpLegacy: HTT means cores, not threads (AMD) */
		if (ncpus > 1)
			e->ecx |= LX1_ECX_CMP_LEGACY;
		else
			e->ecx &= ~LX1_ECX_CMP_LEGACY;
		break;
	case 0x80000008: /* AMD: NC and ApicIdCoreIdSize */
		e->ecx = (e->ecx & ~0xf0ffu) | (shift << 12) | (ncpus - 1);
		break;
	case 0x8000001e: /* AMD: extended APIC id, one thread per core */
		e->eax = id;
		e->ebx = id & 0xff;
		e->ecx = 0;
		break;
	default:
		break;
	}
}

int cpuid_build(const struct kvm_host *kvm, unsigned id, unsigned ncpus,
		struct kvm_cpuid2 **out)
{
	const struct kvm_cpuid2 *src = kvm->cpuid;
	size_t sz = sizeof(*src) + src->nent * sizeof(src->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);

	if (!c)
		return -ENOMEM;
	memcpy(c, src, sz);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		cpuid_fix_topology(e, id, ncpus);
		if (kvm->pvm)
			cpuid_mask_pvm(e);
	}
	*out = c;
	return 0;
}
