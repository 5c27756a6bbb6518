/* layout.h - constants shared by the test guest's assembly and C (selectors, sizes, vectors). */
#ifndef XVM_TESTGUEST_LAYOUT_H
#define XVM_TESTGUEST_LAYOUT_H

#define MAX_CPUS        16

/* GDT selectors (see cpu.c gdt[]) */
#define SEL_KCODE64     0x08
#define SEL_KDATA       0x10
#define SEL_KCODE32     0x18
#define SEL_UDATA       0x23    /* 0x20 | RPL 3 */
#define SEL_UCODE64     0x2b    /* 0x28 | RPL 3 */
#define SEL_TSS0        0x30    /* one 16-byte TSS descriptor per CPU from here */
#define GDT_ENTRIES     (6 + 2 * MAX_CPUS)

#define KSTACK_SIZE     8192    /* ring-0 stack per CPU (traps, syscalls) */
#define USTACK_SIZE     16384   /* ring-3 stack per CPU */

/* interrupt vectors */
#define VEC_IRQ_BASE    0x40    /* 0x40..0x4f: counted in irq_count[] */
#define VEC_TIMER       0x40    /* LAPIC timer */
#define VEC_IOAPIC      0x41    /* IOAPIC-routed device interrupt (PIT on its GSI) */
#define VEC_IOAPIC_PIN2 0x42    /* PIT on IOAPIC pin 2 when the MADT has no override */
#define VEC_IOAPIC_ALT  0x43    /* irq test diagnosis: pin 0 */
#define VEC_SPURIOUS    0xff

#define TRAMP_DEFAULT   0x8000  /* AP real-mode trampoline page (below 1 MiB) */

#define RFLAGS_USER     0x3002  /* IOPL=3, bit 1, IF=0 */

#endif
