/* smp.c - bring up the APs listed in the MADT: INIT-SIPI-SIPI, real-mode trampoline, long mode, ring 3 check-in. */
#include "guest.h"

extern const uint8_t tramp_start[], tramp_end[];   /* entry.S */
extern uint64_t ap_kstack_top;                     /* entry.S */
extern volatile uint64_t ap_boot_cpu, ap_boot_ustack;  /* cpu.c */

/* AP stacks and check-in slots: written by the APs, read by the BSP. */
static uint8_t ap_kstack[MAX_CPUS][KSTACK_SIZE] __attribute__((aligned(16)));
static uint8_t ap_ustack[MAX_CPUS][USTACK_SIZE] __attribute__((aligned(16)));
static volatile uint32_t ap_online[MAX_CPUS];      /* APIC ID + 1 once up */

#define AP_TIMEOUT_CYCLES 20000000000ull   /* real mode is emulated on PVM: be patient */

/* Ring 3 on an AP: report in, then park (hlt with interrupts off). */
void ap_main(uint64_t cpu)
{
    uint64_t base = guest_state->acpi->lapic_base;

    lapic_init(base);
    ap_online[cpu] = lapic_id(base) + 1;
    sys_call(SYS_HALT, 0);
    for (;;)
        cpu_relax();
}

static int start_one(uint64_t lapic, uint32_t apic_id, int cpu, uint64_t tramp)
{
    uint32_t vec = (uint32_t)(tramp >> 12);
    uint64_t t0;

    ap_boot_cpu = (uint64_t)cpu;
    ap_kstack_top = (uint64_t)(uintptr_t)ap_kstack[cpu] + KSTACK_SIZE;
    ap_boot_ustack = (uint64_t)(uintptr_t)ap_ustack[cpu] + USTACK_SIZE;
    ap_online[cpu] = 0;
    if (lapic_ipi(lapic, apic_id, 0x4500))          /* INIT, assert */
        return -1;
    delay_cycles(10000000);
    for (int i = 0; i < 2 && !ap_online[cpu]; i++) {
        if (lapic_ipi(lapic, apic_id, 0x4600 | vec)) /* STARTUP */
            return -1;
        delay_cycles(1000000);
    }
    t0 = rdtsc();
    while (!ap_online[cpu])
        if (rdtsc() - t0 > AP_TIMEOUT_CYCLES)
            return -1;
    return ap_online[cpu] - 1 == apic_id ? 0 : -1;
}

int smp_start(const struct acpi_info *ai, uint64_t lapic)
{
    uint32_t self = lapic_id(lapic);
    uint64_t tramp = guest_state->tramp_base;
    int online = 1;

    memcpy((void *)(uintptr_t)tramp, tramp_start, (size_t)(tramp_end - tramp_start));
    for (int i = 0; i < ai->ncpus && online < MAX_CPUS; i++) {
        if (ai->apic_ids[i] == self)
            continue;
        if (start_one(lapic, ai->apic_ids[i], online, tramp) == 0)
            online++;
        else
            xt_note(" failed_apic=%u", ai->apic_ids[i]);
    }
    return online;
}

/* smp: every CPU in the MADT comes up to ring 3 and checks in with its APIC ID. */
int test_smp(struct guest *g)
{
    int n;

    if (!g->acpi->madt) {
        xt_note(" reason=no-madt");
        return XT_SKIP;
    }
    n = smp_start(g->acpi, g->acpi->lapic_base);
    xt_note(" cpus=%d madt_cpus=%d tramp=0x%lx", n, g->acpi->ncpus, g->tramp_base);
    return n == g->acpi->ncpus ? XT_PASS : XT_FAIL;
}
