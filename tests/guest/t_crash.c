/* t_crash.c - opt-in tests that end the machine on purpose: crash (pvpanic), reset
 * (port 0xCF9) and triplefault (no IDT + int3). Each fails if the VMM lets it go on. */
#include "guest.h"

#define PVPANIC_VENDOR 0x1b36
#define PVPANIC_DEVICE 0x0011
#define PVPANIC_PANICKED 0x1
#define BAR_FALLBACK_BASE 0xe8000000ULL   /* as virtio.c: firmware left the BAR unset */

/* Spin ~2 s (TSC; 6e9 cycles if the frequency is unknown): the VMM should
 * have stopped us by then. */
static void linger(struct guest *g)
{
    uint64_t khz = guest_tsc_khz(g);

    delay_cycles(khz ? khz * 2000 : 6000000000ULL);
}

/* Bus 0 slot of the pvpanic device, or -1. */
static int find_pvpanic(void)
{
    if (!pci_present())
        return -1;
    for (uint32_t dev = 0; dev < 32; dev++) {
        uint32_t id = pci_cfg_read32(dev << 3, 0);
        if ((id & 0xffff) == PVPANIC_VENDOR && (id >> 16) == PVPANIC_DEVICE)
            return (int)(dev << 3);
    }
    return -1;
}

/* crash: find 1b36:0011, check its register offers PANICKED, write it. */
int test_crash(struct guest *g)
{
    int bdf = find_pvpanic();
    uint32_t bar, cls;
    volatile uint8_t *reg;
    uint8_t events;

    if (bdf < 0) {
        xt_note(" reason=no-pvpanic");
        return XT_SKIP;
    }
    cls = pci_cfg_read32((uint32_t)bdf, 8);
    bar = pci_cfg_read32((uint32_t)bdf, 0x10);
    if (bar & 1) {
        xt_note(" reason=io-bar");
        return XT_FAIL;
    }
    if (!(bar & ~0xfu)) {
        bar = (uint32_t)(BAR_FALLBACK_BASE + ((uint64_t)bdf << 20));
        pci_cfg_write32((uint32_t)bdf, 0x10, bar);
    }
    pci_cfg_write32((uint32_t)bdf, 4, pci_cfg_read32((uint32_t)bdf, 4) | 0x2);
    reg = (volatile uint8_t *)(uintptr_t)(bar & ~0xfu);
    events = *reg;
    kprintf("XTEST-CRASH pvpanic bdf=0x%x class=0x%x rev=%u bar=0x%x events=0x%x\n", bdf,
            cls >> 8, cls & 0xff, bar & ~0xfu, events);
    if (!(events & PVPANIC_PANICKED)) {
        xt_note(" reason=panicked-not-offered events=0x%x", events);
        return XT_FAIL;
    }
    *reg = PVPANIC_PANICKED;
    linger(g);
    xt_note(" reason=still-running-after-pvpanic");
    return XT_FAIL;
}

/* reset: the PCI reset control register (0xCF9): full reset. */
int test_reset(struct guest *g)
{
    kprintf("XTEST-CRASH reset cf9=0x06\n");
    outb(0xcf9, 0x06);
    linger(g);
    xt_note(" reason=still-running-after-cf9");
    return XT_FAIL;
}

/* triplefault: no IDT, then a breakpoint: #BP -> #GP -> #DF -> shutdown. */
int test_triplefault(struct guest *g)
{
    kprintf("XTEST-CRASH triplefault\n");
    sys_call(SYS_DROP_IDT, 0);
    __asm__ volatile("int3");
    linger(g);
    xt_note(" reason=still-running-after-triple-fault");
    return XT_FAIL;
}
