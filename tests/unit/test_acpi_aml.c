/* test_acpi_aml.c - unit tests for the AML emitter (arch/x86/acpi_aml.c):
 * exact encodings of names, integers, PkgLengths and resource descriptors,
 * then ACPICA as the peer: iasl disassembles and recompiles an emitted
 * PCI0/COM1 table to the same bytes, acpiexec parses its _CRS and evaluates
 * objects behind 1- to 4-byte PkgLengths. Exits 77 (skip) when the ACPICA
 * tools are missing and every other check passed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi_aml.h"
#include "tests/unit/acpica_peer.h"
#include "tests/unit/check.h"
#include "xvm/util.h"

/* Decode a PkgLength at p; returns its value and sets *n to its size. */
static uint32_t pkglen(const uint8_t *p, unsigned *n)
{
	unsigned extra = p[0] >> 6;
	uint32_t v;

	*n = 1 + extra;
	if (!extra)
		return p[0] & 0x3f;
	v = p[0] & 0x0f;
	for (unsigned i = 0; i < extra; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	return v;
}

static void test_aml_names_and_integers(void)
{
	uint8_t b[64];
	struct aml a;

	aml_init(&a, b, sizeof(b));
	aml_name_string(&a, "\\_SB.PCI0");
	CHECK(aml_finish(&a) == 10 && !memcmp(b, "\\\x2e_SB_PCI0", 10));
	aml_init(&a, b, sizeof(b));
	aml_name_string(&a, "_S5");
	CHECK(aml_finish(&a) == 4 && !memcmp(b, "_S5_", 4));
	aml_init(&a, b, sizeof(b));
	aml_name_string(&a, "^^A.B.C");
	CHECK(aml_finish(&a) == 16 && !memcmp(b, "^^\x2f\x03" "A___B___C___", 16));
	aml_init(&a, b, sizeof(b));
	aml_name_string(&a, "\\");
	CHECK(aml_finish(&a) == 2 && b[0] == '\\' && b[1] == 0);
	for (int i = 0; i < 5; i++) {
		static const char *bad[] = { "_sb", "1ABC", "ABCDE", "A..B",
					     "A." };

		aml_init(&a, b, sizeof(b));
		aml_name_string(&a, bad[i]);
		CHECK(aml_finish(&a) == -EINVAL);
	}

	aml_init(&a, b, sizeof(b));
	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 2);
	aml_integer(&a, 0x1234);
	aml_integer(&a, 0x12345678);
	aml_integer(&a, 0x100000000ULL);
	aml_integer(&a, UINT64_MAX);
	CHECK(aml_finish(&a) == 22);
	CHECK(!memcmp(b, "\x00\x01\x0a\x02\x0b\x34\x12\x0c\x78\x56\x34\x12"
			 "\x0e\x00\x00\x00\x00\x01\x00\x00\x00\xff", 22));
	aml_init(&a, b, sizeof(b));
	aml_eisaid(&a, "PNP0A03");
	aml_string(&a, "ab");
	CHECK(aml_finish(&a) == 9);
	CHECK(!memcmp(b, "\x0c\x41\xd0\x0a\x03\x0d" "ab\0", 9));
	aml_init(&a, b, sizeof(b));
	aml_eisaid(&a, "pnp0a03");
	CHECK(aml_finish(&a) == -EINVAL);
}

/* A package with nelems integers 2 (two bytes each) around the PkgLength
 * size boundaries: 1 byte below 64, 2 below 4096, 3 below 1 MiB. */
static void test_aml_pkglength(void)
{
	static const unsigned sizes[] = { 0, 29, 30, 31, 200, 255 };
	static uint8_t big[(1 << 20) + 64], src[1 << 20];
	uint8_t b[1024];
	struct aml a;
	unsigned n;

	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		unsigned k = sizes[i];
		uint32_t body = 1 + 2 * k, v;

		aml_init(&a, b, sizeof(b));
		aml_package_begin(&a, k);
		for (unsigned j = 0; j < k; j++)
			aml_integer(&a, 2);
		aml_end(&a);
		CHECK(aml_finish(&a) > 0);
		v = pkglen(b + 1, &n);
		CHECK(n == (body + 1 < 64 ? 1u : 2u));
		CHECK(v == body + n && (long)(1 + v) == aml_finish(&a));
		CHECK(b[1 + n] == k);
		CHECK(k == 0 || (b[2 + n] == 0x0a && b[3 + n] == 2));
	}
	/* buffers of 5000 and 1 MiB bytes: 3- and 4-byte PkgLengths */
	for (int i = 0; i < 2; i++) {
		size_t len = i ? (1 << 20) : 5000;
		uint32_t v;

		aml_init(&a, big, sizeof(big));
		aml_buffer(&a, src, len);
		CHECK(aml_finish(&a) > 0);
		v = pkglen(big + 1, &n);
		CHECK(n == (i ? 4u : 3u));
		CHECK((long)(1 + v) == aml_finish(&a));
	}
	/* overflow and unbalanced use are reported once, at the end */
	aml_init(&a, b, 8);
	aml_package_begin(&a, 10);
	for (int j = 0; j < 10; j++)
		aml_integer(&a, 2);
	aml_end(&a);
	CHECK(aml_finish(&a) == -ENOSPC);
	aml_init(&a, b, sizeof(b));
	aml_scope_begin(&a, "\\_SB");
	CHECK(aml_finish(&a) == -EINVAL);
	aml_init(&a, b, sizeof(b));
	aml_end(&a);
	CHECK(aml_finish(&a) == -EINVAL);
}

static void test_aml_resources(void)
{
	uint8_t b[128];
	struct aml_res r;
	struct aml a;

	aml_res_init(&r);
	aml_res_io(&r, 0x3f8, 0x3f8, 1, 8);
	aml_res_irq(&r, 4);
	aml_res_word_bus(&r, 0, 0xff);
	CHECK(r.err == 0 && r.len == 8 + 3 + 16);
	CHECK(!memcmp(r.b, "\x47\x01\xf8\x03\xf8\x03\x01\x08" "\x22\x10\x00", 11));
	/* WordBusNumber: tag, length 13, bus space, MinFixed|MaxFixed, ...,
	 * min 0, max 0xff, length 0x100 */
	CHECK(!memcmp(r.b + 11, "\x88\x0d\x00\x02\x0c\x00\x00\x00\x00\x00"
				 "\xff\x00\x00\x00\x00\x01", 16));
	aml_init(&a, b, sizeof(b));
	aml_resource_template(&a, &r);
	/* Buffer (PkgLength) (BytePrefix 29) { 27 bytes, EndTag 79 00 } */
	CHECK(aml_finish(&a) == 33);
	CHECK(b[0] == 0x11 && b[1] == 32 && b[2] == 0x0a && b[3] == 29);
	CHECK(b[31] == 0x79 && b[32] == 0);
	CHECK(r.len == 27);               /* the end tag is not kept */

	aml_res_init(&r);
	aml_res_interrupt(&r, 9, 1, 0, 1);
	CHECK(!memcmp(r.b, "\x89\x06\x00\x09\x01\x09\x00\x00\x00", 9));
	aml_res_init(&r);
	aml_res_qword_mem(&r, 1ULL << 39, (1ULL << 40) - 1, 1);
	CHECK(r.len == 46 && r.b[0] == 0x8a && r.b[1] == 43 && r.b[5] == 3);
	CHECK(r.b[14 + 4] == 0x80 && r.b[38 + 4] == 0x80);   /* min, len */
	/* errors: irq above 15, max below min, overflow; sticky in emit */
	aml_res_init(&r);
	aml_res_irq(&r, 16);
	CHECK(r.err == -EINVAL);
	aml_res_init(&r);
	aml_res_dword_mem(&r, 2, 1, 0);
	CHECK(r.err == -EINVAL);
	aml_res_init(&r);
	for (int i = 0; i < 40; i++)
		aml_res_qword_mem(&r, 0, 1, 0);
	CHECK(r.err == -ENOSPC);
	aml_init(&a, b, sizeof(b));
	aml_resource_template(&a, &r);
	CHECK(aml_finish(&a) == -ENOSPC);
}

static unsigned count(const char *s, const char *what)
{
	unsigned n = 0;

	for (const char *p = s; p && (p = strstr(p, what)); p++)
		n++;
	return n;
}

/* A host bridge and a serial port as the DSDT will describe them. */
static long emit_pci0_com1(struct aml *a)
{
	struct aml_res r;

	aml_scope_begin(a, "_SB");
	aml_device_begin(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	aml_res_init(&r);
	aml_res_word_bus(&r, 0, 0);
	aml_res_io(&r, 0xcf8, 0xcf8, 1, 8);
	aml_res_word_io(&r, 0, 0xcf7);
	aml_res_word_io(&r, 0xd00, 0xffff);
	aml_res_dword_mem(&r, 0xc0000000, 0xdfffffff, 0);
	aml_res_qword_mem(&r, 1ULL << 39, (1ULL << 40) - 1, 1);
	aml_resource_template(a, &r);
	aml_end(a);
	aml_device_begin(a, "COM1");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_name(a, "_CRS");
	aml_res_init(&r);
	aml_res_io(&r, 0x3f8, 0x3f8, 1, 8);
	aml_res_irq(&r, 4);
	aml_res_interrupt(&r, 9, 1, 0, 1);
	aml_resource_template(a, &r);
	aml_end(a);
	aml_end(a);
	return aml_finish(a);
}

static void peer_resources(const char *dir)
{
	static const char *const want[] = {
		"Name (_HID, EisaId (\"PNP0A08\")",
		"WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,",
		"WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,",
		"DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,",
		"QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,",
		"0xF300,             // Length",
		"IRQNoFlags ()\n                    {4}",
		"Interrupt (ResourceConsumer, Level, ActiveHigh, Shared, ,, )",
	};
	static uint8_t t[4096];
	char path[4200], *out = NULL;
	uint8_t *dsl = NULL;
	size_t dlen = 0;
	struct aml a;
	long n;

	aml_init(&a, t + 36, sizeof(t) - 36);
	n = emit_pci0_com1(&a);
	CHECK(n > 0);
	if (n <= 0)
		return;
	test_dsdt_wrap(t, (size_t)n);
	peer_roundtrip(dir, "res", t);
	snprintf(path, sizeof(path), "%s/res.dsl", dir);
	CHECK(read_file(path, 1 << 20, &dsl, &dlen) == 0);
	for (size_t i = 0; dsl && i < ARRAY_SIZE(want); i++)
		if (!memmem(dsl, dlen, want[i], strlen(want[i]))) {
			fprintf(stderr, "res.dsl lacks: %s\n", want[i]);
			CHECK(!"resource template as expected");
		}
	free(dsl);
	/* ACPICA's resource manager converts each _CRS */
	CHECK(run(dir, (const char *[]){ "acpiexec", "-b",
				   "resources \\_SB.PCI0; resources \\_SB.COM1",
				   "res.dat", NULL }, &out) == 0);
	CHECK(has(out, "Resource Type : Bus Number Range"));
	CHECK(has(out, "Address Length : 0000008000000000"));
	CHECK(has(out, "Address Length : 20000000"));
	CHECK(has(out, "Interrupt Count : 01"));
	/* the only error allowed: acpiexec also tries _SRS, which we lack */
	CHECK(count(out, "AE_") ==
	      count(out, "AcpiSetCurrentResources failed: AE_NOT_FOUND"));
	if (check_failures)
		fprintf(stderr, "acpiexec:\n%.6000s\n", out);
	free(out);
}

/* A DSDT built with the emitter's every helper, large enough for 2-, 3-
 * and 4-byte PkgLengths, loaded and evaluated by acpiexec. */
static void peer_aml(const char *dir)
{
	static uint8_t t[(1 << 20) + 16384], blob[(1 << 20) + 16];
	struct aml a;
	char *out = NULL;
	uint32_t len;
	long n;

	aml_init(&a, t + 36, sizeof(t) - 36);
	aml_scope_begin(&a, "\\_SB");
	aml_device_begin(&a, "TST0");
	aml_name(&a, "_HID");
	aml_eisaid(&a, "PNP0C02");
	aml_name(&a, "STR0");
	aml_string(&a, "xvm");
	aml_name(&a, "PKG1");
	aml_package_begin(&a, 100);
	for (unsigned i = 0; i < 100; i++)
		aml_integer(&a, i * 1000);
	aml_end(&a);
	aml_name(&a, "BUF1");
	aml_buffer(&a, blob, 5000);
	aml_name(&a, "BUF2");
	aml_buffer(&a, blob, 1 << 20);
	aml_method_begin(&a, "MTH0", 1, 1);
	aml_return(&a);
	aml_integer(&a, 0xdeadbeefcafeULL);
	aml_end(&a);
	aml_end(&a);
	aml_end(&a);
	n = aml_finish(&a);
	CHECK(n > (1 << 20));
	if (n < 0)
		return;
	len = test_dsdt_wrap(t, (size_t)n);
	CHECK(save(dir, "aml.dat", t, len) == 0);
	CHECK(run(dir, (const char *[]){ "acpiexec", "-b",
				   "evaluate \\_SB.TST0.PKG1; "
				   "evaluate \\_SB.TST0.BUF1; "
				   "evaluate \\_SB.TST0.MTH0 1; "
				   "evaluate \\_SB.TST0.STR0",
				   "aml.dat", NULL }, &out) == 0);
	CHECK(has(out, "[Package] Contains 100 Elements"));
	CHECK(has(out, "[Integer] = 00000000000182B8"));   /* 99000 */
	CHECK(has(out, "[Buffer] Length 1388"));          /* 5000 */
	/* MTH0 follows the 1 MiB BUF2 inside TST0 and \\_SB, whose PkgLengths
	 * take 4 bytes: found only when all three are encoded right */
	CHECK(has(out, "[Integer] = 0000DEADBEEFCAFE"));
	CHECK(has(out, "[String] Length 03 = \"xvm\""));
	CHECK(!has(out, "AE_"));
	if (check_failures)
		fprintf(stderr, "acpiexec:\n%.4000s\n", out);
	free(out);
}

int main(void)
{
	char dir[] = "/tmp/xvm-acpi-aml-XXXXXX";

	test_aml_names_and_integers();
	test_aml_pkglength();
	test_aml_resources();
	if (check_failures || !find_tool("iasl") || !find_tool("acpiexec")) {
		if (check_report("acpi-aml"))
			return 1;
		printf("skip: ACPICA iasl/acpiexec not installed (apt-get "
		       "install acpica-tools); encodings checked without the "
		       "peer\n");
		return 77;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	peer_resources(dir);
	peer_aml(dir);
	if (check_failures)
		fprintf(stderr, "acpi-aml: peer files kept in %s\n", dir);
	else
		remove_dir(dir);
	return check_report("acpi-aml");
}
