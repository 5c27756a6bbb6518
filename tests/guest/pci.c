/* pci.c - PCI configuration mechanism #1 (ports 0xCF8/0xCFC) and the pci test (bus 0 enumeration). */
#include "guest.h"

#define PCI_ADDR 0xcf8
#define PCI_DATA 0xcfc

static uint32_t cfg_addr(uint32_t bdf, uint32_t off)
{
    return 0x80000000u | bdf << 8 | (off & 0xfc);
}

uint32_t pci_cfg_read32(uint32_t bdf, uint32_t off)
{
    outl(PCI_ADDR, cfg_addr(bdf, off));
    return inl(PCI_DATA);
}

void pci_cfg_write32(uint32_t bdf, uint32_t off, uint32_t v)
{
    outl(PCI_ADDR, cfg_addr(bdf, off));
    outl(PCI_DATA, v);
}

bool pci_present(void)
{
    uint32_t old = inl(PCI_ADDR), got;

    outl(PCI_ADDR, 0x80000000u);
    got = inl(PCI_ADDR);
    outl(PCI_ADDR, old);
    return got == 0x80000000u;
}

/* Interrupt Line (0x3c) is a read/write scratch byte in a type-0 header. */
static bool scratch_rw(uint32_t bdf)
{
    uint32_t old = pci_cfg_read32(bdf, 0x3c), got;

    pci_cfg_write32(bdf, 0x3c, (old & ~0xffu) | 0xa5);
    got = pci_cfg_read32(bdf, 0x3c);
    pci_cfg_write32(bdf, 0x3c, old);
    return (got & 0xff) == 0xa5;
}

/* pci: a host bridge at 00:00.0, bus 0 enumerates, one config write reads back. */
int test_pci(struct guest *g)
{
    int ndev = 0, rw = -1;

    if (!pci_present()) {
        xt_note(" reason=no-pci-mechanism1");
        return XT_SKIP;
    }
    for (uint32_t dev = 0; dev < 32; dev++) {
        for (uint32_t fn = 0; fn < 8; fn++) {
            uint32_t bdf = dev << 3 | fn, id = pci_cfg_read32(bdf, 0);
            if ((id & 0xffff) == 0xffff) {
                if (fn == 0)
                    break;
                continue;
            }
            uint32_t cls = pci_cfg_read32(bdf, 8) >> 16;
            uint32_t hdr = pci_cfg_read32(bdf, 0xc) >> 16 & 0xff;
            if (ndev++ < 4)
                xt_note(" %02x.%u=%04x:%04x/%04x", dev, fn, id & 0xffff, id >> 16, cls);
            if (rw < 0 && (hdr & 0x7f) == 0 && cls >> 8 != 0x06)
                rw = scratch_rw(bdf);
            if (fn == 0 && !(hdr & 0x80))
                break;                      /* single-function device */
        }
    }
    uint32_t host_cls = pci_cfg_read32(0, 8) >> 24;
    xt_note(" devices=%d cfg_rw=%s", ndev, rw < 0 ? "untested" : rw ? "ok" : "bad");
    return ndev > 0 && host_cls == 0x06 && rw != 0 ? XT_PASS : XT_FAIL;
}
