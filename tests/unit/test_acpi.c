/* test_acpi.c - unit tests for the ACPI tables (arch/x86/acpi.c) and the
 * PM1 register logic (hw/acpi_pm_regs.c), plus ACPICA as the peer: every
 * table is disassembled and recompiled to the same bytes by iasl, iasl
 * builds the same RSDP from our field values, and acpiexec evaluates \_S5.
 * Exits 77 (skip) when the ACPICA tools are missing and every other check
 * passed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/acpi_pm_regs.h"
#include "tests/unit/acpica_peer.h"
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
	const uint8_t *rsdp, *xsdt, *fadt, *facs, *dsdt, *madt, *mcfg;
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
		if (!t->mcfg)
			t->mcfg = table_at(buf, size, gpa, a, "MCFG");
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
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x07,
				      0x04, 0x0a, ACPI_S5_SLP_TYP };
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

/* With a PCI host bridge: MCFG in the XSDT, PCI0 in the DSDT. */
static void test_tables_pci(struct tables *out)
{
	static uint8_t buf[ACPI_TABLES_MAX];
	static const uint8_t pci0_hid[] = { 0x5b, 0x82 };
	struct acpi_config cfg = { .ncpus = 2, .pci_mmio_base = 0xc0000000,
				   .pci_mmio_size = 0x20000000,
				   .pci_ecam_base = 0xe0000000,
				   .pci_hotplug = 1, .pci_fixed_slots = 1u << 3 };
	const uint8_t *d, *m;
	uint64_t rsdp = 0;

	CHECK(acpi_build(buf, sizeof(buf), ACPI_TABLES_GPA, &cfg, &rsdp) == 0);
	if (walk_tables(buf, sizeof(buf), ACPI_TABLES_GPA, rsdp, out) < 0)
		return;
	m = out->mcfg;
	CHECK(m != NULL && get32(m + 4) == 60);
	if (m) {
		CHECK(get64(m + 44) == 0xe0000000ULL);
		CHECK(get16(m + 52) == 0 && m[54] == 0 && m[55] == 0);
	}
	d = out->dsdt;
	CHECK(memmem(d + 36, get32(d + 4) - 36, pci0_hid, 2) != NULL);
	CHECK(memmem(d + 36, get32(d + 4) - 36, "PCI0\x08_HID\x0c\x41\xd0\x0a\x08",
		     14) != NULL);
	check_fadt(out->fadt);
	check_madt(out->madt, 2);
	/* bad PCI settings */
	cfg.pci_ecam_base = 0xe0001000;
	CHECK(acpi_build(buf, sizeof(buf), ACPI_TABLES_GPA, &cfg, &rsdp) ==
	      -EINVAL);
	cfg.pci_ecam_base = 0;
	cfg.pci_mmio_base = ~0ULL - 10;
	CHECK(acpi_build(buf, sizeof(buf), ACPI_TABLES_GPA, &cfg, &rsdp) ==
	      -EINVAL);
	/* without ECAM there is no MCFG */
	cfg.pci_mmio_base = 0xc0000000;
	{
		struct tables t2;

		CHECK(acpi_build(buf, sizeof(buf), ACPI_TABLES_GPA, &cfg,
				 &rsdp) == 0);
		CHECK(walk_tables(buf, sizeof(buf), ACPI_TABLES_GPA, rsdp,
				  &t2) == 0 && t2.mcfg == NULL);
	}
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

	peer_roundtrip(dir, "DSDT", d);
	snprintf(dsl, sizeof(dsl), "%s/DSDT.dsl", dir);
	CHECK(read_file(dsl, 1 << 20, &text, &tlen) == 0);
	CHECK(text && memmem(text, tlen, "Name (_S5, Package (0x04)", 25));
	CHECK(text && memmem(text, tlen, "Scope (_SB)", 11));
	free(text);
	/* ACPICA's interpreter evaluates \_S5 from our AML */
	CHECK(run(dir, (const char *[]){ "acpiexec", "-b", "evaluate \\_S5",
				   "DSDT.dat", NULL }, &out) == 0);
	CHECK(has(out, "[Package] Contains 4 Elements"));
	CHECK(has(out, "[Integer] = 0000000000000005"));
	free(out);
}

/* The PCI variant: MCFG and the DSDT with PCI0 round-trip, and ACPICA's
 * resource manager reads PCI0's _CRS. */
static void peer_pci(const char *dir, const struct tables *t)
{
	char *out = NULL;

	if (!t->mcfg)
		return;
	peer_roundtrip(dir, "MCFG", t->mcfg);
	peer_roundtrip(dir, "DSDT-pci", t->dsdt);
	CHECK(run(dir, (const char *[]){ "acpiexec", "-b",
				   "resources \\_SB.PCI0; evaluate \\_S5",
				   "DSDT-pci.dat", NULL }, &out) == 0);
	CHECK(has(out, "Resource Type : Bus Number Range"));
	CHECK(has(out, "Address Minimum : C0000000"));
	CHECK(has(out, "Address Length : 20000000"));
	CHECK(has(out, "[Integer] = 0000000000000005"));
	free(out);
	out = NULL;
	/* hotplug: a slot's _ADR and _SUN; _EJ0 writes the slot's bit to the
	 * eject register (acpiexec keeps SystemIO writes in a buffer); the
	 * GPE handler and PCNT run (PCIU/PCID read 0 there: no Notify) */
	CHECK(run(dir, (const char *[]){ "acpiexec", "-b",
				   "evaluate \\_SB.PCI0.S05._ADR; "
				   "evaluate \\_SB.PCI0.S1F._SUN; "
				   "evaluate \\_SB.PCI0.S05._EJ0 1; "
				   "evaluate \\_SB.PCI0.B0EJ; "
				   "evaluate \\_GPE._E01",
				   "DSDT-pci.dat", NULL }, &out) == 0);
	CHECK(has(out, "[Integer] = 0000000000050000"));
	CHECK(has(out, "[Integer] = 000000000000001F"));
	CHECK(has(out, "[Integer] = 0000000000000020"));
	CHECK(!has(out, "AE_NOT_FOUND"));
	CHECK(!has(out, "Exception"));
	free(out);
	out = NULL;
	/* a boot slot (3 here) has its _ADR but no _EJ0 */
	CHECK(run(dir, (const char *[]){ "acpiexec", "-b",
				   "evaluate \\_SB.PCI0.S03._ADR; "
				   "evaluate \\_SB.PCI0.S03._EJ0 1",
				   "DSDT-pci.dat", NULL }, &out) == 0);
	CHECK(has(out, "[Integer] = 0000000000030000"));
	CHECK(has(out, "AE_NOT_FOUND"));
	free(out);
}

/* Returns 1 when the peer check ran, 0 when the tools are missing. */
static int test_peer(const struct tables *t, const struct tables *tp)
{
	char dir[] = "/tmp/xvm-acpi-XXXXXX";

	if (!find_tool("iasl") || !find_tool("acpiexec"))
		return 0;
	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return 1;
	}
	peer_rsdp(dir, t->rsdp);
	peer_roundtrip(dir, "XSDT", t->xsdt);
	peer_roundtrip(dir, "FACP", t->fadt);
	peer_roundtrip(dir, "FACS", t->facs);
	peer_roundtrip(dir, "APIC", t->madt);
	peer_dsdt(dir, t->dsdt);
	peer_pci(dir, tp);
	if (!check_failures)
		remove_dir(dir);
	else
		fprintf(stderr, "acpi: peer files kept in %s\n", dir);
	return 1;
}

int main(void)
{
	struct tables t, tp;
	int peer;

	test_tables(1, &t);
	test_tables(255, &t);
	test_tables(4, &t);
	test_tables_pci(&tp);
	test_build_errors();
	test_pm1();
	peer = check_failures ? 0 : test_peer(&t, &tp);
	if (check_report("acpi"))
		return 1;
	if (!peer) {
		printf("skip: ACPICA iasl/acpiexec not installed (apt-get "
		       "install acpica-tools); tables checked without the peer\n");
		return 77;
	}
	return 0;
}
