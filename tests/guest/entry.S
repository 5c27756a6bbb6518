/* entry.S - PVH note, 32-bit PVH entry, switch to long mode, AP trampoline, drop to ring 3. */
#include <xen/elfnote.h>
#include "layout.h"

/* PVH: the loader enters pvh_start32 in flat 32-bit protected mode, paging
 * off, EBX = struct hvm_start_info. The descriptor is 8 bytes like Linux's. */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4, 8, XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .balign 4
    .quad pvh_start32

    .section .text.boot, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
    /* the boot benchmark measures the time to this first serial byte */
    movw $0x3f8, %dx
    movb $'X', %al
    outb %al, %dx
    rdtsc                           /* guest TSC at entry (XTEST-TIME) */
    movl %eax, boot_entry_tsc
    movl %edx, boot_entry_tsc + 4
    movl %ebx, boot_start_info
    xorl %esi, %esi                 /* ESI = 0: bootstrap CPU */
    jmp common32

    /* APs arrive here from the real-mode trampoline, CS = SEL_KCODE32 */
    .globl ap_start32
ap_start32:
    movw $SEL_KDATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl $1, %esi                   /* ESI = 1: application processor */

common32:
    movl $pml4, %eax                /* static identity map, see paging.S */
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x20, %eax                 /* PAE */
    movl %eax, %cr4
    movl $0xc0000080, %ecx          /* EFER */
    rdmsr
    orl $0x100, %eax                /* LME */
    wrmsr
    movl %cr0, %eax
    orl $0x80010021, %eax           /* PG | WP | NE | PE */
    movl %eax, %cr0
    lgdt gdt_desc
    ljmp $SEL_KCODE64, $start64

    .code64
start64:
    movw $SEL_KDATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    testl %esi, %esi
    jnz 1f
    movq $bsp_kstack + KSTACK_SIZE, %rsp
    call boot_main
1:  movq ap_kstack_top, %rsp
    call ap_boot_main
2:  hlt
    jmp 2b

/* enter_user(fn, stack_top, arg): iretq to ring 3 with IOPL=3, IF=0. */
    .globl enter_user
enter_user:
    pushq $SEL_UDATA
    pushq %rsi
    pushq $RFLAGS_USER
    pushq $SEL_UCODE64
    pushq %rdi
    movq %rdx, %rdi
    movw $SEL_UDATA, %ax
    movw %ax, %ds
    movw %ax, %es
    iretq

/* AP trampoline: copied to a page below 1 MiB (smp.c); the SIPI starts it in
 * real mode with CS = page >> 4, IP = 0. Only offsets within it are used. */
    .code16
    .globl tramp_start, tramp_end
tramp_start:
    cli
    movw %cs, %ax
    movw %ax, %ds
    lgdtl tramp_gdtr - tramp_start
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $SEL_KCODE32, $ap_start32
    .balign 4
tramp_gdtr:
    .word GDT_ENTRIES * 8 - 1
    .long gdt
tramp_end:

    .data
    .balign 8
    .globl boot_start_info, boot_entry_tsc, ap_kstack_top
boot_start_info:
    .quad 0
boot_entry_tsc:
    .quad 0
ap_kstack_top:                      /* set by smp.c before each SIPI */
    .quad 0
    .globl gdt_desc
gdt_desc:
    .word GDT_ENTRIES * 8 - 1
    .quad gdt

    .bss
    .balign 16
    .globl bsp_kstack
bsp_kstack:
    .skip KSTACK_SIZE
