/* trap.S - interrupt/exception/syscall entry stubs: save registers, call trap_dispatch, iretq. */
#include "layout.h"

    .text
    .code64

/* vectors whose exception pushes an error code */
#define HAS_ERR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

.macro STUB vec
    .balign 16
isr_\vec:
    .if HAS_ERR(\vec)
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp trap_common
.endm

    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    STUB \v
    .endr
    .irp v, 64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79
    STUB \v
    .endr
    STUB 255

trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    cld
    call trap_dispatch
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

/* isr_stubs[vec]: stub address, or 0 where no gate is installed */
    .section .rodata
    .balign 8
    .globl isr_stubs
isr_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad isr_\v
    .endr
    .fill 32, 8, 0                  /* 0x20..0x3f */
    .irp v, 64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79
    .quad isr_\v
    .endr
    .fill 175, 8, 0                 /* 0x50..0xfe */
    .quad isr_255
