/* t_hotplug.c - the opt-in `hotplug` test: ACPI PCI hotplug seen the way an
 * OS's GPE handler sees it, without an AML interpreter. It enables GPE 1,
 * polls GPE0_STS, reads PCI_UP/PCI_DOWN (0xae00/0xae04) as \_GPE._E01's
 * PCNT does, brings an arrived virtio-blk up and reads sector 0, and on an
 * eject request writes the slot to the eject register (what _EJ0 does) and
 * waits for the slot to read empty. Lines for the host:
 *   XTEST-HOTPLUG added slot=N dev=blk sector0=<first 16 bytes as text>
 *   XTEST-HOTPLUG added slot=N dev=net mac=XX:XX:XX:XX:XX:XX
 *   XTEST-HOTPLUG ejected slot=N
 *   XTEST-HOTPLUG gone slot=N
 * Args: hotplug.secs=N (how long to wait for each event, default 30),
 * hotplug.n=N (arrival/removal cycles, default 1). */
#include "virtio.h"

#define GPE0_STS 0xafe0
#define GPE0_EN 0xafe2
#define GPE_PCIHP 0x02
#define PCIHP_UP 0xae00
#define PCIHP_DOWN 0xae04
#define PCIHP_EJ 0xae08
#define HP_MEM 0x1800000ULL           /* 24 MiB: rings (16 KiB), header, data */
#define HP_HDR (HP_MEM + 0x4000)
#define HP_DATA (HP_MEM + 0x5000)

struct hp_req { uint32_t type, reserved; uint64_t sector; };

/* Read sector 0 of the virtio-blk in bdf into HP_DATA. 0 or a negative step. */
static int hp_read0(uint32_t bdf, uint64_t deadline)
{
    static struct vdev d;
    struct hp_req *h = (void *)(uintptr_t)HP_HDR;
    volatile uint8_t *st = (void *)(uintptr_t)(HP_HDR + 16);
    int rc = virtio_init(&d, bdf, 0, HP_MEM);

    if (rc < 0)
        return rc;
    *h = (struct hp_req){ 0, 0, 0 };   /* VIRTIO_BLK_T_IN, sector 0 */
    *st = 0xff;
    d.desc[0] = (struct vring_desc){ (uint64_t)(uintptr_t)h, 16, VRING_DESC_F_NEXT, 1 };
    d.desc[1] = (struct vring_desc){ HP_DATA, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2 };
    d.desc[2] = (struct vring_desc){ (uint64_t)(uintptr_t)st, 1, VRING_DESC_F_WRITE, 0 };
    virtio_submit(&d, 0);
    while (virtio_poll(&d, NULL) < 0) {
        if (rdtsc() > deadline)
            return -20;
        cpu_relax();
    }
    return *st == 0 ? 0 : -21;
}

/* Wait for GPE 1; returns the UP (or DOWN when want_down) bitmap, 0 on timeout. */
static uint32_t hp_wait(uint64_t deadline, bool want_down)
{
    while (rdtsc() < deadline) {
        if (inb(GPE0_STS) & GPE_PCIHP) {
            uint32_t up = inl(PCIHP_UP), down = inl(PCIHP_DOWN);
            outb(GPE0_STS, GPE_PCIHP);      /* acknowledge, then act */
            if (!want_down && up)
                return up;
            if (want_down && down)
                return down;
        }
        cpu_relax();
    }
    return 0;
}

static int first_bit(uint32_t m)
{
    for (int i = 1; i < 32; i++)
        if (m & (1u << i))
            return i;
    return -1;
}

/* Bring the device in slot up and print what it is: a virtio-blk's
 * sector 0 (first 16 bytes as text) or a virtio-net's MAC. */
static int hp_probe(int slot, uint64_t wait)
{
    uint32_t bdf = (uint32_t)slot << 3, id = pci_cfg_read32(bdf, 0);
    char text[17];
    int rc;

    if (id == 0x10411af4u) {
        static struct vdev n;
        uint32_t lo, hi;
        if ((rc = virtio_init(&n, bdf, 0, HP_MEM)) < 0) {
            xt_note(" slot=%d net-init=%d", slot, rc);
            return XT_FAIL;
        }
        lo = virtio_cfg32(&n, 0);
        hi = virtio_cfg32(&n, 4);
        kprintf("XTEST-HOTPLUG added slot=%d dev=net mac=%02x:%02x:%02x:%02x:%02x:%02x\n",
                slot, lo & 0xff, (lo >> 8) & 0xff, (lo >> 16) & 0xff, lo >> 24,
                hi & 0xff, (hi >> 8) & 0xff);
        return XT_PASS;
    }
    if (id != 0x10421af4u) {
        xt_note(" slot=%d id=0x%x", slot, id);
        return XT_FAIL;
    }
    if ((rc = hp_read0(bdf, rdtsc() + wait)) < 0) {
        xt_note(" slot=%d read=%d", slot, rc);
        return XT_FAIL;
    }
    for (int i = 0; i < 16; i++) {
        char c = ((const char *)(uintptr_t)HP_DATA)[i];
        text[i] = c >= 0x20 && c < 0x7f ? c : '.';
    }
    text[16] = 0;
    kprintf("XTEST-HOTPLUG added slot=%d dev=blk sector0=%s\n", slot, text);
    return XT_PASS;
}

/* One arrival and removal. */
static int hp_cycle(uint64_t wait)
{
    int slot = first_bit(hp_wait(rdtsc() + wait, false)), r;

    if (slot < 0) {
        xt_note(" add=timeout");
        return XT_FAIL;
    }
    if ((r = hp_probe(slot, wait)) != XT_PASS)
        return r;
    if (!(hp_wait(rdtsc() + wait, true) & (1u << slot))) {
        xt_note(" slot=%d eject-request=timeout", slot);
        return XT_FAIL;
    }
    outl(PCIHP_EJ, 1u << slot);
    kprintf("XTEST-HOTPLUG ejected slot=%d\n", slot);
    for (uint64_t end = rdtsc() + wait; pci_cfg_read32((uint32_t)slot << 3, 0) != 0xffffffffu;) {
        if (rdtsc() > end) {
            xt_note(" slot=%d still-present", slot);
            return XT_FAIL;
        }
        cpu_relax();
    }
    kprintf("XTEST-HOTPLUG gone slot=%d\n", slot);
    xt_note(" slot=%d", slot);
    return XT_PASS;
}

int test_hotplug(struct guest *g)
{
    uint64_t wait = guest_arg(g, "hotplug.secs=", 30) * guest_tsc_khz(g) * 1000;
    uint64_t n = guest_arg(g, "hotplug.n=", 1);

    if (!pci_present() || g->mem_ram_bytes < 32ULL << 20) {
        xt_note(" reason=%s", pci_present() ? "need-32MiB" : "no-pci");
        return XT_SKIP;
    }
    outb(GPE0_EN, GPE_PCIHP);
    kprintf("XTEST-HOTPLUG ready\n");
    for (uint64_t i = 0; i < n; i++) {
        int r = hp_cycle(wait);
        if (r != XT_PASS)
            return r;
    }
    return XT_PASS;
}
