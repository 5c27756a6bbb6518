/* acpi_aml.c - AML byte emitter: names, integers, strings, packages, scopes,
 * devices and methods with minimal PkgLength encoding (ACPI 6, chapter 20),
 * and resource templates for _CRS (ACPI 6, 6.4). */
#include <errno.h>
#include <string.h>

#include "arch/x86/acpi_aml.h"
#include "xvm/iobus.h"  /* io_put: little-endian fields */

/* AML opcodes used here (ACPI 6, 20.3). */
enum {
	AML_ZERO = 0x00, AML_ONE = 0x01, AML_ONES = 0xff,
	AML_NAME_OP = 0x08, AML_BYTE_PREFIX = 0x0a, AML_WORD_PREFIX = 0x0b,
	AML_DWORD_PREFIX = 0x0c, AML_STRING_PREFIX = 0x0d,
	AML_QWORD_PREFIX = 0x0e, AML_SCOPE_OP = 0x10, AML_BUFFER_OP = 0x11,
	AML_PACKAGE_OP = 0x12, AML_METHOD_OP = 0x14, AML_RETURN_OP = 0xa4,
	AML_EXT_PREFIX = 0x5b, AML_DEVICE_OP = 0x82,
	AML_DUAL_NAME = 0x2e, AML_MULTI_NAME = 0x2f, AML_NULL_NAME = 0x00,
	AML_ROOT_CHAR = '\\', AML_PARENT_CHAR = '^',
};

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_init(struct aml *a, void *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

long aml_finish(struct aml *a)
{
	if (!a->err && a->depth)
		aml_fail(a, -EINVAL);
	return a->err ? a->err : (long)a->len;
}

void aml_bytes(struct aml *a, const void *data, size_t n)
{
	if (a->err)
		return;
	if (n > a->cap - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, data, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static int seg_char_ok(char c, int first)
{
	if ((c >= 'A' && c <= 'Z') || c == '_')
		return 1;
	return !first && c >= '0' && c <= '9';
}

/* Emit one 4-byte NameSeg from s[0..n); 0 or -EINVAL. */
static int aml_name_seg(struct aml *a, const char *s, size_t n)
{
	char seg[4] = { '_', '_', '_', '_' };

	if (n == 0 || n > 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!seg_char_ok(s[i], i == 0))
			return -EINVAL;
		seg[i] = s[i];
	}
	aml_bytes(a, seg, 4);
	return 0;
}

void aml_name_string(struct aml *a, const char *path)
{
	const char *p = path;
	unsigned nseg = 0;

	if (a->err)
		return;
	if (*p == AML_ROOT_CHAR)
		aml_byte(a, (uint8_t)*p++);
	else
		while (*p == AML_PARENT_CHAR)
			aml_byte(a, (uint8_t)*p++);
	if (*p)
		for (const char *q = p; q; q = strchr(q, '.'), q = q ? q + 1 : q)
			nseg++;
	if (nseg == 0) {
		aml_byte(a, AML_NULL_NAME);
		return;
	}
	if (nseg > 255) {
		aml_fail(a, -EINVAL);
		return;
	}
	if (nseg == 2)
		aml_byte(a, AML_DUAL_NAME);
	else if (nseg > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t)nseg);
	}
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (aml_name_seg(a, p, n) < 0) {
			aml_fail(a, -EINVAL);
			return;
		}
		p += n;
		if (*p == '.' && !*++p) { /* trailing dot */
			aml_fail(a, -EINVAL);
			return;
		}
	}
}

static void aml_le(struct aml *a, uint8_t prefix, uint64_t v, unsigned n)
{
	uint8_t b[9];

	b[0] = prefix;
	io_put(b + 1, n, v);
	aml_bytes(a, b, 1 + n);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0)
		aml_byte(a, AML_ZERO);
	else if (v == 1)
		aml_byte(a, AML_ONE);
	else if (v == UINT64_MAX)
		aml_byte(a, AML_ONES);
	else if (v <= 0xff)
		aml_le(a, AML_BYTE_PREFIX, v, 1);
	else if (v <= 0xffff)
		aml_le(a, AML_WORD_PREFIX, v, 2);
	else if (v <= 0xffffffffULL)
		aml_le(a, AML_DWORD_PREFIX, v, 4);
	else
		aml_le(a, AML_QWORD_PREFIX, v, 8);
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p > 0x7f) {
			aml_fail(a, -EINVAL);
			return;
		}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;

	if (strlen(id) != 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			aml_fail(a, -EINVAL);
			return;
		}
		v |= (uint32_t)(id[i] - 0x40) << (26 - 5 * i);
	}
	for (int i = 0; i < 4; i++) {
		int h = hexval(id[3 + i]);

		if (h < 0) {
			aml_fail(a, -EINVAL);
			return;
		}
		v |= (uint32_t)h << (12 - 4 * i);
	}
	/* the compressed id is stored big-endian in a DWord */
	aml_le(a, AML_DWORD_PREFIX, __builtin_bswap32(v), 4);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name_string(a, name);
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN_OP);
}

/* Open a PkgLength: reserve one byte, remember where it is. */
static void aml_open(struct aml *a)
{
	if (a->err)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		aml_fail(a, -EINVAL);
		return;
	}
	a->open[a->depth++] = a->len;
	aml_byte(a, 0);
}

void aml_end(struct aml *a)
{
	size_t at, body, total;
	unsigned n;

	if (a->err)
		return;
	if (!a->depth) {
		aml_fail(a, -EINVAL);
		return;
	}
	at = a->open[--a->depth];
	body = a->len - at - 1;
	/* the PkgLength counts its own bytes; 1 byte holds < 64, then 12,
	 * 20 and 28 bits with 1..3 extra bytes */
	for (n = 1; n <= 4; n++) {
		total = body + n;
		if (total < (n == 1 ? 64U : 1UL << (4 + 8 * (n - 1))))
			break;
	}
	if (n > 4) {
		aml_fail(a, -ENOSPC);
		return;
	}
	if (n > 1) {
		if (n - 1 > a->cap - a->len) {
			aml_fail(a, -ENOSPC);
			return;
		}
		memmove(a->buf + at + n, a->buf + at + 1, body);
		a->len += n - 1;
	}
	if (n == 1) {
		a->buf[at] = (uint8_t)total;
		return;
	}
	a->buf[at] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
	for (unsigned i = 1; i < n; i++)
		a->buf[at + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
}

void aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_open(a);
	aml_name_string(a, path);
}

void aml_device_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	aml_open(a);
	aml_name_string(a, path);
}

void aml_method_begin(struct aml *a, const char *path, unsigned nargs,
		      int serialized)
{
	if (nargs > 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, AML_METHOD_OP);
	aml_open(a);
	aml_name_string(a, path);
	aml_byte(a, (uint8_t)(nargs | (serialized ? 0x08 : 0)));
}

void aml_op(struct aml *a, uint8_t op)
{
	aml_byte(a, op);
}

void aml_if_begin(struct aml *a)
{
	aml_byte(a, 0xa0);            /* IfOp */
	aml_open(a);
}

void aml_opregion_io(struct aml *a, const char *name, uint16_t port,
		     uint16_t len)
{
	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, 0x80);            /* OpRegionOp */
	aml_name_string(a, name);
	aml_byte(a, 0x01);            /* RegionSpace: SystemIO */
	aml_integer(a, port);
	aml_integer(a, len);
}

void aml_field_begin(struct aml *a, const char *region, uint8_t flags)
{
	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, 0x81);            /* FieldOp */
	aml_open(a);
	aml_name_string(a, region);
	aml_byte(a, flags);
}

void aml_field_unit(struct aml *a, const char *name, unsigned bits)
{
	/* NamedField := NameSeg PkgLength (the bit count, one byte < 64 or
	 * two bytes up to 4095; 255 is plenty here) */
	if (bits == 0 || bits > 255 || aml_name_seg(a, name, strlen(name)) < 0) {
		aml_fail(a, -EINVAL);
		return;
	}
	if (bits < 64) {
		aml_byte(a, (uint8_t)bits);
	} else {
		aml_byte(a, (uint8_t)(0x40 | (bits & 0xf)));
		aml_byte(a, (uint8_t)(bits >> 4));
	}
}

void aml_package_begin(struct aml *a, unsigned nelems)
{
	if (nelems > 255) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, AML_PACKAGE_OP);
	aml_open(a);
	aml_byte(a, (uint8_t)nelems);
}

void aml_buffer(struct aml *a, const void *data, size_t n)
{
	aml_byte(a, AML_BUFFER_OP);
	aml_open(a);
	aml_integer(a, n);
	aml_bytes(a, data, n);
	aml_end(a);
}

/* ---- resource descriptors (ACPI 6, 6.4) ---- */

enum {
	RES_IRQ = 0x22,                 /* small item 0x4, length 2 */
	RES_IO = 0x47,                  /* small item 0x8, length 7 */
	RES_END = 0x79,                 /* small item 0xf, length 1 */
	RES_DWORD_ADDR = 0x87, RES_WORD_ADDR = 0x88, RES_EXT_IRQ = 0x89,
	RES_QWORD_ADDR = 0x8a,
	RES_SPACE_MEM = 0, RES_SPACE_IO = 1, RES_SPACE_BUS = 2,
	RES_MIN_FIXED = 0x04, RES_MAX_FIXED = 0x08,
	RES_IO_ENTIRE_RANGE = 0x03,
	RES_MEM_RW = 0x01, RES_MEM_CACHEABLE = 0x02,
};

void aml_res_init(struct aml_res *r)
{
	memset(r, 0, sizeof(*r));
}

/* Reserve n bytes of descriptor space (zeroed); NULL after overflow. */
static uint8_t *res_put(struct aml_res *r, size_t n)
{
	uint8_t *p;

	if (r->err || n > sizeof(r->b) - r->len) {
		r->err = -ENOSPC;
		return NULL;
	}
	p = r->b + r->len;
	memset(p, 0, n);
	r->len += n;
	return p;
}

void aml_res_io(struct aml_res *r, uint16_t min, uint16_t max, uint8_t align,
		uint8_t len)
{
	uint8_t *p = res_put(r, 8);

	if (!p)
		return;
	p[0] = RES_IO;
	p[1] = 1;                       /* 16-bit decode */
	io_put(p + 2, 2, min);
	io_put(p + 4, 2, max);
	p[6] = align;
	p[7] = len;
}

void aml_res_irq(struct aml_res *r, unsigned irq)
{
	uint8_t *p;

	if (irq > 15) {
		r->err = -EINVAL;
		return;
	}
	p = res_put(r, 3);
	if (!p)
		return;
	p[0] = RES_IRQ;
	io_put(p + 1, 2, 1u << irq);
}

void aml_res_interrupt(struct aml_res *r, uint32_t gsi, int level,
		       int active_low, int shared)
{
	uint8_t *p = res_put(r, 9);

	if (!p)
		return;
	p[0] = RES_EXT_IRQ;
	io_put(p + 1, 2, 6);
	/* bit 0 consumer, 1 edge, 2 active low, 3 shared */
	p[3] = (uint8_t)(1 | (level ? 0 : 2) | (active_low ? 4 : 0) |
			 (shared ? 8 : 0));
	p[4] = 1;                       /* one interrupt */
	io_put(p + 5, 4, gsi);
}

/* Word, DWord or QWord address space descriptor: w is the field width in
 * bytes (2, 4, 8); fields granularity, min, max, translation, length. */
static void res_addr(struct aml_res *r, unsigned w, uint8_t space,
		     uint8_t type_flags, uint64_t min, uint64_t max)
{
	static const uint8_t tag[9] = { [2] = RES_WORD_ADDR,
					[4] = RES_DWORD_ADDR,
					[8] = RES_QWORD_ADDR };
	uint8_t *p;

	if (max < min) {
		r->err = -EINVAL;
		return;
	}
	p = res_put(r, 6 + 5 * w);
	if (!p)
		return;
	p[0] = tag[w];
	io_put(p + 1, 2, 3 + 5 * w);
	p[3] = space;
	p[4] = RES_MIN_FIXED | RES_MAX_FIXED;  /* producer, positive decode */
	p[5] = type_flags;
	io_put(p + 6 + w, w, min);
	io_put(p + 6 + 2 * w, w, max);
	io_put(p + 6 + 4 * w, w, max - min + 1);
}

void aml_res_word_bus(struct aml_res *r, uint16_t min, uint16_t max)
{
	res_addr(r, 2, RES_SPACE_BUS, 0, min, max);
}

void aml_res_word_io(struct aml_res *r, uint16_t min, uint16_t max)
{
	res_addr(r, 2, RES_SPACE_IO, RES_IO_ENTIRE_RANGE, min, max);
}

void aml_res_dword_mem(struct aml_res *r, uint32_t min, uint32_t max,
		       int cacheable)
{
	res_addr(r, 4, RES_SPACE_MEM,
		 RES_MEM_RW | (cacheable ? RES_MEM_CACHEABLE : 0), min, max);
}

void aml_res_qword_mem(struct aml_res *r, uint64_t min, uint64_t max,
		       int cacheable)
{
	res_addr(r, 8, RES_SPACE_MEM,
		 RES_MEM_RW | (cacheable ? RES_MEM_CACHEABLE : 0), min, max);
}

void aml_resource_template(struct aml *a, struct aml_res *r)
{
	uint8_t *p = res_put(r, 2);

	if (r->err) {
		aml_fail(a, r->err);
		return;
	}
	p[0] = RES_END;
	p[1] = 0;                       /* checksum 0: treated as valid */
	aml_buffer(a, r->b, r->len);
	r->len -= 2;                    /* the template may grow further */
}
