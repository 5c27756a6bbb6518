/* cpu.c - ring-0 set-up (GDT, per-CPU TSS with an all-ports I/O bitmap, IDT), trap dispatch, syscall gate. */
#include "guest.h"

/* Ring 0 is emulated on PVM hosts (~1.5 us per instruction), so everything
 * here is short and straight-line; the tests themselves run in ring 3. */

struct tss {
    uint32_t rsv0;
    uint64_t rsp[3];
    uint64_t rsv1;
    uint64_t ist[7];
    uint64_t rsv2;
    uint16_t rsv3;
    uint16_t iomap_base;
    uint8_t iomap[8192];   /* all zero: every port allowed (IOPL alone is not enough on PVM) */
    uint8_t iomap_end;     /* must be 0xff */
} __attribute__((packed, aligned(16)));

struct idt_gate {
    uint16_t off0, sel;
    uint8_t ist, type;
    uint16_t off1;
    uint32_t off2, rsv;
};

/* Hardware tables: the CPU reads them by address, so they are globals.
 * gdt[] is also loaded by entry.S (gdt_desc) and the AP trampoline. */
uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16))) = {
    0,
    0x00af9a000000ffffull,   /* 0x08 kernel code, 64-bit */
    0x00cf92000000ffffull,   /* 0x10 kernel data */
    0x00cf9a000000ffffull,   /* 0x18 kernel code, 32-bit (AP trampoline) */
    0x00cff2000000ffffull,   /* 0x20 user data, DPL 3 */
    0x00affa000000ffffull,   /* 0x28 user code, 64-bit, DPL 3 */
};
static struct tss tss[MAX_CPUS];
static struct idt_gate idt[256] __attribute__((aligned(16)));
static uint8_t bsp_ustack[USTACK_SIZE] __attribute__((aligned(16)));

/* Shared with the interrupt handlers (see guest.h). */
volatile uint64_t irq_count[16];
volatile uint64_t lapic_eoi_base;

extern uint64_t boot_start_info;      /* entry.S */

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static void load_tss(int cpu, uint64_t kstack_top)
{
    struct tss *t = &tss[cpu];
    uint64_t base = (uint64_t)(uintptr_t)t;
    uint64_t limit = sizeof(*t) - 1;
    int slot = SEL_TSS0 / 8 + 2 * cpu;

    t->rsp[0] = kstack_top;
    t->iomap_base = offsetof(struct tss, iomap);
    t->iomap_end = 0xff;
    gdt[slot] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
    gdt[slot + 1] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"(SEL_TSS0 + 16 * cpu));
}

static void load_idt(uint16_t limit)
{
    struct desc_ptr d = { limit, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(d));
}

static void set_gate(int v)
{
    uint64_t a = isr_stubs[v];

    idt[v].off0 = a & 0xffff;
    idt[v].sel = SEL_KCODE64;
    idt[v].type = 0x8e;              /* interrupt gate, DPL 0 */
    idt[v].off1 = a >> 16 & 0xffff;
    idt[v].off2 = a >> 32;
}

/* Only the vectors with stubs (trap.S): every ring-0 instruction costs ~1.5 us on PVM. */
static void build_idt(void)
{
    for (int v = 0; v < 32; v++)
        set_gate(v);
    for (int v = VEC_IRQ_BASE; v < VEC_IRQ_BASE + 16; v++)
        set_gate(v);
    set_gate(VEC_SPURIOUS);
}

static long syscall_dispatch(struct trapframe *tf)
{
    switch (tf->rax) {
    case SYS_HALT:            /* park this CPU for good */
        for (;;)
            __asm__ volatile("cli; hlt");
    case SYS_DROP_IDT:        /* make the next exception a triple fault */
        load_idt(0);
        return 0;
    case SYS_NOP:
        return 0;
    case SYS_IRQ_ENABLE:      /* iretq loads RFLAGS (with IF) from the frame */
        tf->rflags |= 0x200;
        return 0;
    case SYS_IRQ_DISABLE:
        tf->rflags &= ~0x200ull;
        return 0;
    case SYS_IDLE:            /* the interrupt is taken (and counted) inside */
        __asm__ volatile("sti; hlt; cli" ::: "memory");
        return 0;
    default:
        return -1;
    }
}

/* Is this #UD our syscall gate (ud2 + tag, from ring 3)? */
static bool is_syscall(const struct trapframe *tf)
{
    const uint8_t *p = (const uint8_t *)(uintptr_t)tf->rip;
    uint32_t tag;

    if ((tf->cs & 3) != 3 || p[0] != 0x0f || p[1] != 0x0b)
        return false;
    memcpy(&tag, p + 2, 4);
    return tag == SYSCALL_TAG;
}

/* Bootstrap CPU, ring 0: tables, then straight to ring 3. */
void boot_main(void)
{
    extern uint8_t bsp_kstack[];

    build_idt();
    load_idt(sizeof(idt) - 1);
    load_tss(0, (uint64_t)(uintptr_t)bsp_kstack + KSTACK_SIZE);
    enter_user(user_main, (uint64_t)(uintptr_t)bsp_ustack + USTACK_SIZE, boot_start_info);
}

/* Set by smp.c (ring 3) before it sends the SIPI for CPU n. */
volatile uint64_t ap_boot_cpu;
volatile uint64_t ap_boot_ustack;

/* Application processor, ring 0: its own TSS, the shared IDT, then ring 3. */
void ap_boot_main(void)
{
    extern uint64_t ap_kstack_top;
    int cpu = (int)ap_boot_cpu;

    load_idt(sizeof(idt) - 1);
    load_tss(cpu, ap_kstack_top);
    enter_user(ap_main, ap_boot_ustack, (uint64_t)cpu);
}

/* Called by trap.S for every vector with a stub. */
void trap_dispatch(struct trapframe *tf)
{
    if (tf->vec == 6 && is_syscall(tf)) {
        tf->rax = (uint64_t)syscall_dispatch(tf);
        tf->rip += 6;
        return;
    }
    if (tf->vec < 32)
        xt_fault(tf);
    if (tf->vec >= VEC_IRQ_BASE && tf->vec < VEC_IRQ_BASE + 16) {
        irq_count[tf->vec - VEC_IRQ_BASE]++;
        if (lapic_eoi_base)
            mmio_write32(lapic_eoi_base + 0xb0, 0);
    }
    /* VEC_SPURIOUS: no EOI */
}
