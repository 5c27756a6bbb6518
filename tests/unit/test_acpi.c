/* test_acpi.c - unit tests for the ACPI tables (arch/x86/acpi.c), the AML
 * emitter and the PM1 register logic, plus a peer check: every table is
 * disassembled and recompiled by ACPICA's iasl and the DSDT is run in
 * acpiexec. Exits 77 (skip) when the ACPICA tools are missing and every
 * other check passed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/x86/acpi_aml.h"
#include "hw/acpi_pm_regs.h"
#include "tests/unit/check.h"
#include "xvm/acpi.h"
#include "xvm/util.h"

/* ---- an independent reader for the built tables ---- */

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int sums_to_zero(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s == 0;
}

struct tables {
	const uint8_t *rsdp, *xsdt, *fadt, *facs, *dsdt, *madt;
};

/* The table at guest address addr inside buf (which sits at gpa), with its
 * length inside the buffer and a zero checksum; NULL otherwise. */
static const uint8_t *table_at(const uint8_t *buf, size_t size, uint64_t gpa,
			       uint64_t addr, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	if (addr < gpa || addr - gpa + 36 > size)
		return NULL;
	t = buf + (addr - gpa);
	len = get32(t + 4);
	if (memcmp(t, sig, 4) || len < 36 || addr - gpa + len > size)
		return NULL;
	if (strcmp(sig, "FACS") && !sums_to_zero(t, len))
		return NULL;
	return t;
}

/* Walk RSDP -> XSDT -> FADT/MADT -> FACS/DSDT; 0 or -1 (after CHECKs). */
static int walk_tables(const uint8_t *buf, size_t size, uint64_t gpa,
		       uint64_t rsdp_gpa, struct tables *t)
{
	const uint8_t *r;
	uint32_t n;

	memset(t, 0, sizeof(*t));
	CHECK(rsdp_gpa >= gpa && rsdp_gpa + 36 <= gpa + size);
	if (rsdp_gpa < gpa || rsdp_gpa + 36 > gpa + size)
		return -1;
	r = t->rsdp = buf + (rsdp_gpa - gpa);
	CHECK(memcmp(r, "RSD PTR ", 8) == 0);
	CHECK(rsdp_gpa % 16 == 0);
	CHECK(sums_to_zero(r, 20));
	CHECK(r[15] == 2 && get32(r + 20) == 36);
	CHECK(sums_to_zero(r, 36));
	t->xsdt = table_at(buf, size, gpa, get64(r + 24), "XSDT");
	CHECK(t->xsdt != NULL);
	if (!t->xsdt)
		return -1;
	n = (get32(t->xsdt + 4) - 36) / 8;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = get64(t->xsdt + 36 + 8 * i);

		if (!t->fadt)
			t->fadt = table_at(buf, size, gpa, a, "FACP");
		if (!t->madt)
			t->madt = table_at(buf, size, gpa, a, "APIC");
	}
	CHECK(t->fadt != NULL && t->madt != NULL);
	if (!t->fadt || !t->madt)
		return -1;
	t->facs = table_at(buf, size, gpa, get32(t->fadt + 36), "FACS");
	t->dsdt = table_at(buf, size, gpa, get32(t->fadt + 40), "DSDT");
	CHECK(t->facs != NULL && t->dsdt != NULL);
	return t->facs && t->dsdt ? 0 : -1;
}

static void check_fadt(const uint8_t *f)
{
	uint32_t flags = get32(f + 112), boot = get16(f + 109);

	CHECK(f[8] >= 5 && get32(f + 4) >= 268);
	CHECK(memcmp(f + 10, "XVM   ", 6) == 0);
	CHECK(get16(f + 46) == ACPI_SCI_IRQ);
	CHECK(get32(f + 48) == 0);                     /* SMI_CMD */
	CHECK(get32(f + 56) == ACPI_PM1A_EVT_PORT && f[88] == 4);
	CHECK(get32(f + 64) == ACPI_PM1A_CNT_PORT && f[89] == 2);
	CHECK(get32(f + 76) == ACPI_PM_TMR_PORT && f[91] == 4);
	CHECK(get64(f + 140) == get32(f + 40));        /* X_DSDT */
	CHECK(f[148] == 1 && get64(f + 152) == ACPI_PM1A_EVT_PORT);
	CHECK(f[172] == 1 && get64(f + 176) == ACPI_PM1A_CNT_PORT);
	CHECK(f[208] == 1 && get64(f + 212) == ACPI_PM_TMR_PORT);
	CHECK(flags & 1u);                             /* WBINVD */
	CHECK(!(flags & (1u << 4)));                   /* power button fixed */
	CHECK(!(flags & (1u << 20)));                  /* not HW-reduced */
	CHECK(flags & (1u << 10));                     /* RESET_REG_SUP */
	CHECK(f[116] == 1 && get64(f + 120) == 0xcf9 && f[128] == 0x06);
	CHECK(!(boot & 2u));                           /* no 8042 */
	CHECK(boot & 4u);                              /* no VGA */
	CHECK(boot & 32u);                             /* no CMOS RTC */
	CHECK(get32(f + 36) % 64 == 0);                /* FACS alignment */
}

static void check_madt(const uint8_t *m, unsigned ncpus)
{
	uint32_t len = get32(m + 4), off;
	unsigned lapics = 0, ioapics = 0, iso0 = 0, iso9 = 0;

	CHECK(get32(m + 36) == LAPIC_ADDR && (get32(m + 40) & 1));
	for (off = 44; off + 2 <= len && m[off + 1] >= 2; off += m[off + 1]) {
		const uint8_t *e = m + off;

		if (e[0] == 0 && e[1] == 8) {
			CHECK(e[3] == lapics);             /* APIC id */
			CHECK(get32(e + 4) & 1);           /* enabled */
			lapics++;
		} else if (e[0] == 1 && e[1] == 12) {
			CHECK(get32(e + 4) == IOAPIC_ADDR);
			CHECK(get32(e + 8) == 0);
			ioapics++;
		} else if (e[0] == 2 && e[1] == 10 && e[3] == 0) {
			CHECK(e[2] == 0 && get32(e + 4) == 2);
			iso0++;
		} else if (e[0] == 2 && e[1] == 10 && e[3] == ACPI_SCI_IRQ) {
			CHECK(get32(e + 4) == ACPI_SCI_IRQ);
			CHECK(get16(e + 8) == 0xd);  /* level, active high */
			iso9++;
		}
	}
	CHECK(off == len);
	CHECK(lapics == ncpus && ioapics == 1 && iso0 == 1 && iso9 == 1);
}

static void check_dsdt(const uint8_t *d)
{
	static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12,
				      0x07, 0x04, 0x0a, ACPI_S5_SLP_TYP };
	uint32_t len = get32(d + 4);

	CHECK(d[8] == 2);
	CHECK(memmem(d + 36, len - 36, s5, sizeof(s5)) != NULL);
	CHECK(memmem(d + 36, len - 36, "_SB_", 4) != NULL);
}

static void test_tables(unsigned ncpus, struct tables *out)
{
	static uint8_t buf[ACPI_TABLES_MAX];
	struct acpi_config cfg = { .ncpus = ncpus };
	uint64_t rsdp = 0;

	memset(buf, 0xa5, sizeof(buf));
	CHECK(acpi_build(buf, sizeof(buf), ACPI_TABLES_GPA, &cfg, &rsdp) == 0);
	CHECK(rsdp == ACPI_TABLES_GPA);  /* first, found by the BIOS scan */
	if (walk_tables(buf, sizeof(buf), ACPI_TABLES_GPA, rsdp, out) < 0)
		return;
	CHECK(memcmp(out->rsdp + 9, "XVM   ", 6) == 0);
	check_fadt(out->fadt);
	check_madt(out->madt, ncpus);
	check_dsdt(out->dsdt);
	CHECK(get32(out->facs + 4) == 64);
}

static void test_build_errors(void)
{
	static uint8_t buf[4096];
	struct acpi_config cfg = { .ncpus = 2 };
	uint64_t rsdp = 0;
	size_t need = 0;

	CHECK(acpi_build(buf, sizeof(buf), 0xe0000, NULL, &rsdp) == -EINVAL);
	cfg.ncpus = 0;
	CHECK(acpi_build(buf, sizeof(buf), 0xe0000, &cfg, &rsdp) == -EINVAL);
	cfg.ncpus = 256;
	CHECK(acpi_build(buf, sizeof(buf), 0xe0000, &cfg, &rsdp) == -EINVAL);
	cfg.ncpus = 2;
	cfg.oem_id = "TOOLONG";
	CHECK(acpi_build(buf, sizeof(buf), 0xe0000, &cfg, &rsdp) == -EINVAL);
	cfg.oem_id = "ACME";
	CHECK(acpi_build(buf, sizeof(buf), 0xe0008, &cfg, &rsdp) == -EINVAL);
	CHECK(acpi_build(buf, sizeof(buf), 0xfffff800ULL, &cfg, &rsdp) ==
	      -EINVAL);
	CHECK(acpi_build(buf, sizeof(buf), 0xe0000, &cfg, &rsdp) == 0);
	CHECK(memcmp(buf + 9, "ACME  ", 6) == 0);
	/* the tables end where the last one (the XSDT) ends */
	need = (size_t)(get64(buf + 24) - 0xe0000);
	need += get32(buf + need + 4);
	CHECK(need > 300 && need < sizeof(buf));
	/* every shorter buffer: -ENOSPC and no write past its end (ASan) */
	for (size_t size = 0; size < need; size++) {
		uint8_t *b = malloc(size ? size : 1);

		CHECK(b && acpi_build(b, size, 0xe0000, &cfg, &rsdp) == -ENOSPC);
		free(b);
	}
	{
		uint8_t *b = malloc(need);

		CHECK(b && acpi_build(b, need, 0xe0000, &cfg, &rsdp) == 0);
		free(b);
	}
}

/* ---- AML emitter ---- */

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

/* ---- PM1 register logic ---- */

static void test_pm1(void)
{
	const uint64_t t0 = 1000000000ULL, sec = 1000000000ULL;
	struct pm1_regs r;
	unsigned typ = 0;

	pm1_init(&r, t0);
	CHECK(pm1_timer(&r, t0) == 0);
	CHECK(pm1_timer(&r, t0 + sec) == 3579545);
	CHECK(pm1_timer(&r, t0 + 1000) == 3);         /* 1 us = 3.58 ticks */
	/* 2^24 ticks = 4.687 s: the value wraps */
	CHECK(pm1_timer(&r, t0 + 5 * sec) == ((5 * 3579545) & 0xffffff));
	/* TMR_STS appears after 2^23 ticks (2.34 s) and is write-1-clear */
	CHECK(!(pm1_evt_read(&r, t0 + 2 * sec) & PM1_TMR_STS));
	CHECK(pm1_evt_read(&r, t0 + 3 * sec) & PM1_TMR_STS);
	pm1_evt_write(&r, PM1_TMR_STS, 0xffff, t0 + 3 * sec);
	CHECK(!(pm1_evt_read(&r, t0 + 4 * sec) & PM1_TMR_STS));
	CHECK(pm1_evt_read(&r, t0 + 5 * sec) & PM1_TMR_STS);
	pm1_evt_write(&r, PM1_TMR_STS, 0xffff, t0 + 5 * sec);

	/* power button: status without enable raises no SCI */
	CHECK(!pm1_sci_level(&r));
	pm1_power_button(&r);
	CHECK(pm1_evt_read(&r, t0 + 5 * sec) & PM1_PWRBTN_STS);
	CHECK(!pm1_sci_level(&r));
	/* enable through a 16-bit write at offset 2 (mask bytes 2-3) */
	pm1_evt_write(&r, PM1_PWRBTN_EN << 16, 0xffff0000, t0 + 5 * sec);
	CHECK(pm1_sci_level(&r));
	CHECK((pm1_evt_read(&r, t0 + 5 * sec) >> 16) == PM1_PWRBTN_EN);
	/* writing 0 to status or other bits leaves PWRBTN_STS */
	pm1_evt_write(&r, PM1_WAK_STS, 0xffff, t0 + 5 * sec);
	CHECK(pm1_sci_level(&r));
	/* a byte write to the high status byte clears it (bit 8) */
	pm1_evt_write(&r, 0x0100, 0xff00, t0 + 5 * sec);
	CHECK(!pm1_sci_level(&r));
	CHECK(!(pm1_evt_read(&r, t0 + 5 * sec) & PM1_PWRBTN_STS));
	/* reserved enable bits read 0 */
	pm1_evt_write(&r, 0xffffu << 16, 0xffff0000, t0 + 5 * sec);
	CHECK((pm1_evt_read(&r, t0 + 5 * sec) >> 16) == 0x0721);

	/* PM1_CNT: SCI_EN always reads 1 */
	CHECK(pm1_cnt_read(&r) & PM1_CNT_SCI_EN);
	pm1_cnt_write(&r, 0, 0xffff, &typ);
	CHECK(pm1_cnt_read(&r) & PM1_CNT_SCI_EN);
	/* SLP_TYP without SLP_EN is only stored */
	CHECK(pm1_cnt_write(&r, ACPI_S5_SLP_TYP << 10, 0xffff, &typ) ==
	      PM1_ACT_NONE);
	CHECK(((pm1_cnt_read(&r) >> 10) & 7) == ACPI_S5_SLP_TYP);
	/* SLP_EN as a byte write to the high byte, SLP_TYP kept from before */
	CHECK(pm1_cnt_write(&r, (ACPI_S5_SLP_TYP << 10) | PM1_CNT_SLP_EN,
			    0xff00, &typ) == PM1_ACT_POWEROFF);
	CHECK(typ == ACPI_S5_SLP_TYP);
	CHECK(!(pm1_cnt_read(&r) & PM1_CNT_SLP_EN));
	/* another sleep type: refused, woken at once (WAK_STS) */
	CHECK(pm1_cnt_write(&r, (1u << 10) | PM1_CNT_SLP_EN, 0xffff, &typ) ==
	      PM1_ACT_SLEEP);
	CHECK(typ == 1 && (pm1_evt_read(&r, t0 + 5 * sec) & PM1_WAK_STS));
	pm1_evt_write(&r, PM1_WAK_STS, 0xffff, t0 + 5 * sec);
	CHECK(!(pm1_evt_read(&r, t0 + 5 * sec) & PM1_WAK_STS));

	/* reset control register at 0xCF9 */
	CHECK(pm1_reset_write(&r, 0x02) == PM1_ACT_NONE);
	CHECK(pm1_reset_read(&r) == 0x02);
	CHECK(pm1_reset_write(&r, 0x06) == PM1_ACT_RESET);
	CHECK(pm1_reset_write(&r, 0x0e) == PM1_ACT_RESET);
	CHECK(pm1_reset_read(&r) == 0x0a);
}

/* ---- peer check with ACPICA (iasl, acpiexec) ---- */

static int find_tool(const char *name)
{
	const char *path = getenv("PATH");
	char dir[4096], full[4200];

	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
		snprintf(full, sizeof(full), "%s/%s", dir, name);
		if (access(full, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/* Run argv in dir with stdout+stderr to dir/log; returns the exit status
 * (-1 when it did not exit) and leaves the output in *out (NUL-ended). */
static int run(const char *dir, const char *const argv[], char **out)
{
	char log[4200];
	uint8_t *buf = NULL;
	size_t len = 0;
	int status = 0;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/log", dir);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || chdir(dir) < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	*out = NULL;
	if (read_file(log, 1 << 20, &buf, &len) == 0) {
		*out = calloc(1, len + 1);
		if (*out)
			memcpy(*out, buf, len);
	}
	free(buf);
	if (!*out)
		*out = calloc(1, 1);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int save(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4200];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, p, n);
	close(fd);
	return rc;
}

static int has(const char *s, const char *what)
{
	return s && strstr(s, what) != NULL;
}

/* iasl -d must decode the table without a warning (a bad checksum is one),
 * and compiling the disassembly must give our bytes back except for the
 * checksum and creator fields, which iasl replaces with its own. */
static void peer_data_table(const char *dir, const char *sig,
			    const uint8_t *t)
{
	char dat[16], dsl[16], rt[16], *out = NULL, path[4200];
	uint32_t len = get32(t + 4);
	uint8_t *back = NULL;
	size_t blen = 0;

	snprintf(dat, sizeof(dat), "%s.dat", sig);
	snprintf(dsl, sizeof(dsl), "%s.dsl", sig);
	snprintf(rt, sizeof(rt), "rt_%s", sig);
	CHECK(save(dir, dat, t, len) == 0);
	CHECK(run(dir, (const char *[]){ "iasl", "-d", dat, NULL }, &out) == 0);
	if (has(out, "Warning") || has(out, "Error") || has(out, "Incorrect"))
		fprintf(stderr, "iasl -d %s:\n%s\n", dat, out);
	CHECK(!has(out, "Warning") && !has(out, "Error"));
	CHECK(!has(out, "Incorrect"));
	free(out);
	CHECK(run(dir, (const char *[]){ "iasl", "-p", rt, dsl, NULL }, &out) == 0);
	CHECK(has(out, " 0 Errors, 0 Warnings"));
	free(out);
	snprintf(path, sizeof(path), "%s/%s.aml", dir, rt);
	CHECK(read_file(path, 1 << 20, &back, &blen) == 0);
	CHECK(blen == len);
	if (back && blen == len) {
		memset(back + 9, 0, 1);
		memset(back + 28, 0, 8);
		for (uint32_t i = 0; i < len; i++)
			if (i != 9 && (i < 28 || i >= 36) && back[i] != t[i]) {
				fprintf(stderr, "%s: byte %u: iasl %#x, ours %#x\n",
					sig, i, back[i], t[i]);
				CHECK(back[i] == t[i]);
			}
	}
	free(back);
}

/* The RSDP has no disassembler: have iasl compile one from our field
 * values and compare all 36 bytes (iasl computes both checksums). */
static void peer_rsdp(const char *dir, const uint8_t *r)
{
	char src[1024], path[4200], *out = NULL;
	uint8_t *back = NULL;
	size_t blen = 0;

	snprintf(src, sizeof(src),
		 "Signature : \"RSD PTR \"\nChecksum : 00\n"
		 "Oem ID : \"%.6s\"\nRevision : %02X\nRSDT Address : %08X\n"
		 "Length : %08X\nXSDT Address : %016llX\n"
		 "Extended Checksum : 00\nReserved : 000000\n",
		 (const char *)r + 9, r[15], get32(r + 16), get32(r + 20),
		 (unsigned long long)get64(r + 24));
	CHECK(save(dir, "rsdp.asl", src, strlen(src)) == 0);
	CHECK(run(dir, (const char *[]){ "iasl", "rsdp.asl", NULL }, &out) == 0);
	free(out);
	snprintf(path, sizeof(path), "%s/rsdp.aml", dir);
	CHECK(read_file(path, 4096, &back, &blen) == 0);
	CHECK(blen == 36 && back && memcmp(back, r, 36) == 0);
	free(back);
}

static void peer_dsdt(const char *dir, const uint8_t *d)
{
	char *out = NULL, dsl[4200];
	uint8_t *text = NULL;
	size_t tlen = 0;

	CHECK(save(dir, "DSDT.dat", d, get32(d + 4)) == 0);
	CHECK(run(dir, (const char *[]){ "iasl", "-d", "DSDT.dat", NULL }, &out) == 0);
	CHECK(!has(out, "Warning") && !has(out, "Error"));
	free(out);
	snprintf(dsl, sizeof(dsl), "%s/DSDT.dsl", dir);
	CHECK(read_file(dsl, 1 << 20, &text, &tlen) == 0);
	CHECK(text && memmem(text, tlen, "Name (\\_S5, Package (0x04)", 26));
	CHECK(text && memmem(text, tlen, "Scope (\\_SB)", 12));
	free(text);
	CHECK(run(dir, (const char *[]){ "iasl", "-p", "rt_DSDT", "DSDT.dsl", NULL },
		  &out) == 0);
	CHECK(has(out, " 0 Errors, 0 Warnings"));
	free(out);
	/* ACPICA's interpreter evaluates \_S5 from our AML */
	CHECK(run(dir, (const char *[]){ "acpiexec", "-b", "evaluate \\_S5",
				   "DSDT.dat", NULL }, &out) == 0);
	CHECK(has(out, "[Package] Contains 4 Elements"));
	CHECK(has(out, "[Integer] = 0000000000000005"));
	free(out);
}

/* A DSDT built with the emitter's every helper, large enough for 2-, 3-
 * and 4-byte PkgLengths, loaded and evaluated by acpiexec. */
static void peer_aml(const char *dir)
{
	static uint8_t t[(1 << 20) + 16384], blob[(1 << 20) + 16];
	struct aml a;
	char *out = NULL;
	uint8_t sum = 0;
	long n;

	memset(t, 0, 36);
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
	memcpy(t, "DSDT", 4);
	t[4] = (uint8_t)(36 + n);
	t[5] = (uint8_t)((36 + n) >> 8);
	t[6] = (uint8_t)((36 + n) >> 16);
	t[8] = 2;
	memcpy(t + 10, "XVM   XVM TEST", 14);
	for (long i = 0; i < 36 + n; i++)
		sum = (uint8_t)(sum + t[i]);
	t[9] = (uint8_t)(0 - sum);
	CHECK(save(dir, "aml.dat", t, (size_t)(36 + n)) == 0);
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

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

/* Returns 1 when the peer check ran, 0 when the tools are missing. */
static int test_peer(const struct tables *t)
{
	char dir[] = "/tmp/xvm-acpi-XXXXXX";

	if (!find_tool("iasl") || !find_tool("acpiexec"))
		return 0;
	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return 1;
	}
	peer_rsdp(dir, t->rsdp);
	peer_data_table(dir, "XSDT", t->xsdt);
	peer_data_table(dir, "FACP", t->fadt);
	peer_data_table(dir, "FACS", t->facs);
	peer_data_table(dir, "APIC", t->madt);
	peer_dsdt(dir, t->dsdt);
	peer_aml(dir);
	if (!check_failures)
		remove_dir(dir);
	else
		fprintf(stderr, "acpi: peer files kept in %s\n", dir);
	return 1;
}

int main(void)
{
	struct tables t;
	int peer;

	test_tables(1, &t);
	test_tables(255, &t);
	test_tables(4, &t);
	test_build_errors();
	test_aml_names_and_integers();
	test_aml_pkglength();
	test_pm1();
	peer = check_failures ? 0 : test_peer(&t);
	if (check_report("acpi"))
		return 1;
	if (!peer) {
		printf("skip: ACPICA iasl/acpiexec not installed (apt-get "
		       "install acpica-tools); tables checked without the peer\n");
		return 77;
	}
	return 0;
}
