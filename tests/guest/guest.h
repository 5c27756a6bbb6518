/* guest.h - shared declarations of the freestanding xvm test guest (ring 0 + ring 3). */
#ifndef XVM_TESTGUEST_H
#define XVM_TESTGUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

/* ---- lib.c: the little libc we need (standard semantics; gcc may emit calls) ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
/* Compare at most n bytes; returns <0, 0 or >0 like strncmp. */
int strncmp(const char *a, const char *b, size_t n);
/* Parse a decimal or 0x-hex number from s[0..len); returns 0 or -1 if not a number. */
int parse_u64(const char *s, size_t len, uint64_t *out);

/* ---- console.c: COM1, polled ---- */
/* Program the 8250 (FIFO on); safe to call again. */
void con_init(void);
/* Write n bytes to COM1; never fails (a missing UART just swallows bytes). */
void con_write(const char *s, size_t n);
/* printf subset: %s %c %d %u %x %p with l/ll/z modifiers, width and 0-pad. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Format and write to COM1; returns the number of bytes written. */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- x86 helpers usable from ring 3 (IOPL=3, IOPB allows every port) ---- */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline uint32_t mmio_read32(uint64_t a)
{
    return *(volatile uint32_t *)(uintptr_t)a;
}
static inline void mmio_write32(uint64_t a, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)a = v;
}
/* Spin (in ring 3) for about n TSC cycles. */
void delay_cycles(uint64_t n);

/* ---- syscall gate: the only way ring 3 reaches ring 0 ----
 * On PVM, `int N` from ring 3 raises #UD and `syscall` lands in PVM's own
 * supervisor mode, so the gate is an exception: `ud2` followed by the 4-byte
 * tag "XSYS" (rax = number, rdi = argument, rax = result). The #UD handler
 * checks the tag, so a stray ud2 still reports as a fault. */
enum { SYS_HALT = 1, SYS_DROP_IDT = 2, SYS_NOP = 3, SYS_IRQ_ENABLE = 4, SYS_IRQ_DISABLE = 5,
       SYS_IDLE = 6 /* sleep until the next interrupt (sti; hlt; cli in ring 0) */ };
#define SYSCALL_TAG 0x53595358u   /* "XSYS" little-endian */
static inline long sys_call(long nr, long arg)
{
    long ret;
    __asm__ volatile("ud2; .long 0x53595358" : "=a"(ret) : "a"(nr), "D"(arg) : "memory");
    return ret;
}
static inline uint64_t read_rflags(void)
{
    uint64_t f;
    __asm__ volatile("pushfq; popq %0" : "=r"(f));
    return f;
}
/* cli/sti #GP in ring 3 on PVM even with IOPL=3, and pushf there always shows
 * IF=1, so IF is switched through the gate. */
static inline void irq_enable(void) { sys_call(SYS_IRQ_ENABLE, 0); }
static inline void irq_disable(void) { sys_call(SYS_IRQ_DISABLE, 0); }

/* ---- cpu.c (ring 0 set-up) and trap.S ---- */
struct trapframe {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vec, err, rip, cs, rflags, rsp, ss;
};
/* Per-vector interrupt counts (0x40..0x4f), written by ring-0 handlers. */
extern volatile uint64_t irq_count[16];
/* LAPIC base the IRQ handlers send EOI to (set by ring 3 from the MADT). */
extern volatile uint64_t lapic_eoi_base;
/* Ring-0 C entry of the bootstrap CPU / of an AP (from entry.S); never return. */
void boot_main(void) __attribute__((noreturn));
void ap_boot_main(void) __attribute__((noreturn));
/* Every trap, interrupt and the syscall gate (from trap.S); faults never return. */
void trap_dispatch(struct trapframe *tf);
/* entry.S: iretq to fn(arg) in ring 3 (IOPL=3, IF=0) on stack_top; never returns. */
void enter_user(void (*fn)(uint64_t), uint64_t stack_top, uint64_t arg)
    __attribute__((noreturn));
extern const uint64_t isr_stubs[];  /* trap.S: stub address per vector, 0 if none */

/* Ring-3 entry points (main.c, smp.c); never return. */
void user_main(uint64_t start_info) __attribute__((noreturn));
void ap_main(uint64_t cpu) __attribute__((noreturn));

/* ---- acpi.c ---- */
#define ACPI_MAX_CPUS MAX_CPUS
struct acpi_info {
    uint64_t rsdp, xsdt, fadt, dsdt, madt;  /* physical addresses, 0 = absent */
    int rev;                                 /* RSDP revision */
    int ntables;                             /* entries in RSDT/XSDT */
    int bad_checksums;                       /* tables whose checksum is wrong */
    char bad[64];                            /* signatures of those tables */
    uint64_t lapic_base, ioapic_base;
    int ncpus;                               /* enabled Local APIC entries */
    uint32_t apic_ids[ACPI_MAX_CPUS];
    int irq0_gsi;                            /* PIT IRQ0 after source overrides */
    bool irq0_override;                      /* the MADT had an override for IRQ0 */
    uint16_t irq0_flags;                     /* MPS INTI flags of that override */
    /* power-off */
    bool hw_reduced;
    uint8_t sleep_space;                     /* GAS space id: 0 memory, 1 I/O */
    uint64_t sleep_ctl;                      /* SLEEP_CONTROL_REG address */
    uint32_t pm1a_cnt, pm1b_cnt;             /* I/O ports, 0 = absent */
    int slp_typ;                             /* from \_S5, -1 if not found */
};
/* Find and check the ACPI tables (start_info RSDP first, then the BIOS scan);
 * fills *ai. Returns 0, or -1 if no valid RSDP was found. */
int acpi_probe(uint64_t rsdp_hint, struct acpi_info *ai);
/* Power the machine off through the FADT; returns only if that failed. */
void acpi_poweroff(const struct acpi_info *ai);

/* ---- apic.c (base = MMIO address from the MADT) ---- */
/* Software-enable this CPU's LAPIC (spurious vector 0xff, TPR 0, LINT0 masked). */
void lapic_init(uint64_t base);
/* This CPU's xAPIC ID. */
uint32_t lapic_id(uint64_t base);
void lapic_eoi(uint64_t base);
/* Send an IPI (ICR) and wait for delivery; returns 0 or -1 on timeout. */
int lapic_ipi(uint64_t base, uint32_t apic_id, uint32_t icr_lo);
/* IOAPIC register reg through IOREGSEL/IOWIN (redirection entry n: 0x10 + 2n). */
uint32_t ioapic_read(uint64_t base, uint32_t reg);
void ioapic_write(uint64_t base, uint32_t reg, uint32_t v);

/* ---- pit.c ---- */
/* Measure the TSC against PIT channel 2 (10 ms, ~200 exits); returns kHz or 0. */
uint64_t pit_tsc_khz(void);

/* ---- pci.c: configuration mechanism #1; bdf = bus << 8 | dev << 3 | fn ---- */
/* Is mechanism #1 there (CONFIG_ADDRESS reads back)? */
bool pci_present(void);
/* Config space dword at off (aligned down to 4); all-ones if nothing answers. */
uint32_t pci_cfg_read32(uint32_t bdf, uint32_t off);
/* Write a config space dword; a missing device ignores it. */
void pci_cfg_write32(uint32_t bdf, uint32_t off, uint32_t v);

/* ---- smp.c ---- */
/* Start every AP listed in the MADT; returns the number of CPUs online. */
int smp_start(const struct acpi_info *ai, uint64_t lapic_base);

/* ---- main.c: run state shared with the fault path (documented there) ---- */
struct guest {
    const struct acpi_info *acpi;
    uint64_t start_info;
    uint64_t mem_ram_bytes;
    uint64_t tramp_base;                     /* SIPI trampoline page */
    int nmem;
    struct { uint64_t addr, size; uint32_t type; } mem[32];
    bool quiet;
    uint64_t tsc_khz;                        /* 0 until guest_tsc_khz() */
};
/* TSC frequency in kHz: hypervisor CPUID leaf, else a PIT measurement (done
 * once, on first use). Returns 0 if neither works. */
uint64_t guest_tsc_khz(struct guest *g);
extern struct guest *guest_state;
/* The number after "key=" (key includes the '=') on the kernel command line,
 * decimal or 0x-hex, or def when the word is absent or not a number. */
uint64_t guest_arg(struct guest *g, const char *key, uint64_t def);
/* Test outcome codes. */
enum { XT_PASS = 0, XT_FAIL = 1, XT_SKIP = 2 };
/* Append " key=value" style text to the result line of the running test. */
void xt_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report a CPU exception (ring 0) as a failed run and power off. */
void xt_fault(const struct trapframe *tf) __attribute__((noreturn));

/* ---- tests (one file per group); each returns XT_PASS, XT_FAIL or XT_SKIP ---- */
int test_cpuid(struct guest *g);
int test_acpi(struct guest *g);
int test_memory(struct guest *g);
int test_pio(struct guest *g);
int test_mmio(struct guest *g);
int test_timer(struct guest *g);
int test_irq(struct guest *g);
int test_smp(struct guest *g);
int test_pci(struct guest *g);
int test_fault(struct guest *g);
int test_blk(struct guest *g);       /* t_blk.c */
int test_hotplug(struct guest *g);   /* t_hotplug.c */
int test_blkbench(struct guest *g);
int test_blkhostile(struct guest *g);
int test_rng(struct guest *g);       /* t_rng.c */
int test_net(struct guest *g);       /* t_net.c */
int test_netbench(struct guest *g);
int test_console(struct guest *g);   /* t_console.c */
int test_crash(struct guest *g);     /* t_crash.c (opt-in; they end the run) */
int test_reset(struct guest *g);
int test_triplefault(struct guest *g);
int test_serve(struct guest *g);     /* t_serve.c (opt-in; runs until stopped) */

#endif
