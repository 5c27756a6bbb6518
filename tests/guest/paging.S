/* paging.S - static page tables: identity map of 0..4 GiB with 2 MiB user pages (no ring-0 set-up cost). */

#define PTE_P   0x01
#define PTE_RW  0x02
#define PTE_US  0x04
#define PTE_PWT 0x08
#define PTE_PCD 0x10
#define PTE_PS  0x80

    .data
    .balign 4096
    .globl pml4
pml4:
    .quad pdpt + (PTE_P | PTE_RW | PTE_US)
    .fill 511, 8, 0

    .balign 4096
pdpt:
    .quad pd + 0x0000 + (PTE_P | PTE_RW | PTE_US)
    .quad pd + 0x1000 + (PTE_P | PTE_RW | PTE_US)
    .quad pd + 0x2000 + (PTE_P | PTE_RW | PTE_US)
    .quad pd + 0x3000 + (PTE_P | PTE_RW | PTE_US)
    .fill 508, 8, 0

    /* 2048 x 2 MiB. Below 3 GiB write-back RAM; 3..4 GiB is the MMIO hole
     * (IOAPIC 0xfec00000, LAPIC 0xfee00000, the bench's 0xd0000000): uncached. */
    .balign 4096
pd:
    .set addr, 0
    .rept 1536
    .quad addr + (PTE_P | PTE_RW | PTE_US | PTE_PS)
    .set addr, addr + 0x200000
    .endr
    .rept 512
    .quad addr + (PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_PCD | PTE_PWT)
    .set addr, addr + 0x200000
    .endr
