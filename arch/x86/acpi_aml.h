/* acpi_aml.h - a small AML byte emitter for building the DSDT (and SSDTs).
 *
 * The emitter writes into a caller-provided buffer and keeps a sticky error:
 * after the first failure (-ENOSPC, -EINVAL) every call is a no-op and
 * aml_finish() reports it, so callers emit a whole block and check once.
 *
 * Objects with a PkgLength (Scope, Device, Method, Package, Buffer) are opened
 * with aml_*_begin() and closed with aml_end(); the PkgLength is encoded with
 * the fewest bytes the final length needs (ACPI 6, 20.2.4).
 *
 * Example: Name (\_S5, Package (4) { 5, 0, 0, 0 })
 *	aml_name(&a, "\\_S5");
 *	aml_package_begin(&a, 4);
 *	aml_integer(&a, 5); aml_integer(&a, 0); aml_integer(&a, 0);
 *	aml_integer(&a, 0);
 *	aml_end(&a);
 */
#ifndef XVM_ARCH_X86_ACPI_AML_H
#define XVM_ARCH_X86_ACPI_AML_H

#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

struct aml {
	uint8_t *buf;
	size_t len, cap;
	int err;                        /* 0 or the first -errno */
	unsigned depth;
	size_t open[AML_MAX_DEPTH];     /* offset of each open PkgLength */
};

/* Start emitting into buf[0..cap). */
void aml_init(struct aml *a, void *buf, size_t cap);
/* Close check: returns the number of bytes emitted, or the sticky -errno
 * (-EINVAL as well when a begin has no matching aml_end). */
long aml_finish(struct aml *a);

/* Raw bytes (for opcodes this helper set does not cover yet). */
void aml_bytes(struct aml *a, const void *data, size_t n);
/* A NameString: "\\_SB.PCI0", "^FOO", "_S5" (segments shorter than four
 * characters are padded with '_'). Bad characters or segments: -EINVAL. */
void aml_name_string(struct aml *a, const char *path);
/* Integer in its shortest encoding (Zero, One, Ones, Byte..QWord). */
void aml_integer(struct aml *a, uint64_t v);
/* String constant (ASCII 0x01..0x7f). */
void aml_string(struct aml *a, const char *s);
/* EISA id such as "PNP0A03" compressed to its DWord integer. */
void aml_eisaid(struct aml *a, const char *id);
/* NameOp + name: follow with exactly one data object. */
void aml_name(struct aml *a, const char *name);
/* ReturnOp: follow with exactly one term. */
void aml_return(struct aml *a);

/* Openers, each closed by aml_end(). */
void aml_scope_begin(struct aml *a, const char *path);
void aml_device_begin(struct aml *a, const char *path);
/* nargs 0..7; serialized adds the SerializeFlag. */
void aml_method_begin(struct aml *a, const char *path, unsigned nargs,
		      int serialized);
/* nelems 0..255: the caller then emits exactly that many elements. */
void aml_package_begin(struct aml *a, unsigned nelems);
/* Buffer (n) { data } in one call (no aml_end). */
void aml_buffer(struct aml *a, const void *data, size_t n);
void aml_end(struct aml *a);

/* Control flow and operators for method bodies. Operands follow the
 * opcode in AML order; Target operands take AML_NULL_TARGET (discard). */
#define AML_OP_STORE 0x70
#define AML_OP_SHIFT_LEFT 0x79
#define AML_OP_AND 0x7b
#define AML_OP_NOTIFY 0x86
#define AML_LOCAL0 0x60       /* Local0..Local7: 0x60 + n */
#define AML_ARG0 0x68         /* Arg0..Arg6: 0x68 + n */
#define AML_NULL_TARGET 0x00
void aml_op(struct aml *a, uint8_t op);
/* If (predicate) { ... }: emit the predicate after this, then the body,
 * then aml_end(). */
void aml_if_begin(struct aml *a);
/* OperationRegion (name, SystemIO, port, len) */
void aml_opregion_io(struct aml *a, const char *name, uint16_t port,
		     uint16_t len);
/* Field (region, flags) { entries }: add entries with aml_field_unit(),
 * then aml_end(). flags: access type in bits 0-3 (3 DWordAcc), lock rule
 * bit 4, update rule bits 5-6 (0x40 WriteAsZeros). */
#define AML_FIELD_DWORD_WZ 0x43
void aml_field_begin(struct aml *a, const char *region, uint8_t flags);
/* One named field unit of bits bits (1..255 here) in an open Field. */
void aml_field_unit(struct aml *a, const char *name, unsigned bits);

/* Resource templates (the value of _CRS/_PRS; ACPI 6, 6.4): collect the
 * descriptors in a struct aml_res, then aml_resource_template() emits them
 * as a Buffer with the end tag. Overflow is sticky: -ENOSPC on emit.
 * Address-space descriptors are producers with fixed min and max (what a
 * host bridge's windows are); their length is max - min + 1. */
#define AML_RES_MAX 512
struct aml_res {
	uint8_t b[AML_RES_MAX];
	size_t len;
	int err;
};

void aml_res_init(struct aml_res *r);
/* IO (Decode16, min, max, align, len) */
void aml_res_io(struct aml_res *r, uint16_t min, uint16_t max, uint8_t align,
		uint8_t len);
/* IRQNoFlags () { irq }: edge, active high, exclusive; irq 0..15 */
void aml_res_irq(struct aml_res *r, unsigned irq);
/* Interrupt (ResourceConsumer, ...) { gsi }: extended interrupt */
void aml_res_interrupt(struct aml_res *r, uint32_t gsi, int level,
		       int active_low, int shared);
/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, ...) */
void aml_res_word_bus(struct aml_res *r, uint16_t min, uint16_t max);
/* WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange) */
void aml_res_word_io(struct aml_res *r, uint16_t min, uint16_t max);
/* DWordMemory / QWordMemory (ResourceProducer, PosDecode, MinFixed,
 * MaxFixed, Cacheable or NonCacheable, ReadWrite) */
void aml_res_dword_mem(struct aml_res *r, uint32_t min, uint32_t max,
		       int cacheable);
void aml_res_qword_mem(struct aml_res *r, uint64_t min, uint64_t max,
		       int cacheable);
/* Emit Buffer () { descriptors, EndTag }. */
void aml_resource_template(struct aml *a, struct aml_res *r);

#endif
