/* acpi.c - the guest's ACPI tables: RSDP, XSDT, FADT, FACS, DSDT, MADT and
 * (with PCI ECAM) MCFG.
 *
 * Layout inside the window (offsets from the gpa the caller gives, see
 * docs/design/acpi.md): RSDP first (so a 16-byte scan of 0xE0000..0xFFFFF
 * finds it at once), FACS 64-byte aligned, then DSDT, FADT, MADT, MCFG and
 * XSDT, each 16-byte aligned. Every pointer between tables is a
 * guest-physical address below 4 GiB. Field offsets follow ACPI 6.0 (FADT
 * revision 6). */
#include <errno.h>
#include <string.h>

#include "arch/x86/acpi_aml.h"
#include "arch/x86/acpi_pcihp.h"
#include "xvm/acpi.h"
#include "xvm/iobus.h"  /* io_put/io_get: little-endian fields */

#define ACPI_HDR_LEN 36
#define RSDP_LEN 36
#define FACS_LEN 64
#define FADT_LEN 276           /* FADT revision 6 */
#define FADT_REVISION 6
#define MADT_REVISION 4
#define ACPI_MAX_CPUS 255      /* xAPIC ids 0..254; 0xff is broadcast */
#define ACPI_RESET_PORT 0xcf9
#define ACPI_RESET_VALUE 0x06

/* FADT fixed feature flags (ACPI 6.0, table 5-35) */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_SLP_BUTTON (1u << 5)   /* no fixed sleep button */
#define FADT_F_FIX_RTC (1u << 6)      /* no RTC wake status in PM1 */
#define FADT_F_RESET_REG_SUP (1u << 10)
/* IA-PC boot architecture flags (table 5-36): bit 1 (8042) stays clear */
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

/* Generic Address Structure address spaces and access sizes */
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
#define GAS_ACCESS_WORD 2
#define GAS_ACCESS_DWORD 3

/* MADT entry types and flags (table 5-45ff) */
#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_ISO 2
#define MADT_LAPIC_NMI 4
#define MADT_LAPIC_ENABLED 1u
#define MPS_ACTIVE_HIGH 0x1
#define MPS_LEVEL 0xc

struct acpi_ctx {
	uint8_t *buf;
	size_t size, used;
	uint64_t gpa;
	char oem_id[6];
};

/* Byte that makes the sum of p[0..len) zero once stored in its place
 * (the place must hold 0 while summing). */
static uint8_t acpi_csum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)(0 - sum);
}

/* Reserve len bytes aligned to align; returns the offset or -ENOSPC. */
static long acpi_alloc(struct acpi_ctx *c, size_t len, size_t align)
{
	size_t off = (c->used + align - 1) & ~(align - 1);

	if (off > c->size || len > c->size - off)
		return -ENOSPC;
	c->used = off + len;
	return (long)off;
}

static uint32_t acpi_gpa32(const struct acpi_ctx *c, long off)
{
	return (uint32_t)(c->gpa + (uint64_t)off);
}

/* Fill a standard 36-byte header (checksum left 0 for acpi_seal). */
static void acpi_header(const struct acpi_ctx *c, uint8_t *t, const char *sig,
			uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	io_put(t + 4, 4, len);
	t[8] = rev;
	t[9] = 0;
	memcpy(t + 10, c->oem_id, 6);
	memcpy(t + 16, "XVM ", 4);   /* OEM table id: "XVM " + signature */
	memcpy(t + 20, sig, 4);
	io_put(t + 24, 4, 1);            /* OEM revision */
	memcpy(t + 28, "XVM ", 4);   /* creator id */
	io_put(t + 32, 4, 1);            /* creator revision */
}

static void acpi_seal(uint8_t *t)
{
	uint32_t len = (uint32_t)io_get(t + 4, 4);

	t[9] = 0;
	t[9] = acpi_csum(t, len);
}

static void acpi_gas(uint8_t *p, uint8_t width, uint8_t access, uint64_t addr)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = width;
	p[2] = 0;
	p[3] = access;
	io_put(p + 4, 8, addr);
}

/* FACS: no firmware waking vector, no S4BIOS; the global lock word lives
 * here. Returns the offset or -ENOSPC. */
static long acpi_build_facs(struct acpi_ctx *c)
{
	long off = acpi_alloc(c, FACS_LEN, 64);
	uint8_t *t;

	if (off < 0)
		return off;
	t = c->buf + off;
	memcpy(t, "FACS", 4);
	io_put(t + 4, 4, FACS_LEN);
	t[32] = 2;                   /* version */
	return off;
}

#define PCI_PRT_SLOTS 32

/* \_SB.PCI0: the host bridge and the windows it forwards (see acpi.h). */
static void acpi_aml_pci0(struct aml *a, const struct acpi_config *cfg)
{
	uint64_t end = cfg->pci_mmio_base + cfg->pci_mmio_size - 1;
	struct aml_res r;

	aml_device_begin(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");             /* PCI Express root bridge */
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");             /* PCI root bridge */
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	aml_res_init(&r);
	aml_res_word_bus(&r, 0, cfg->pci_bus_end);
	aml_res_io(&r, 0xcf8, 0xcf8, 1, 8);   /* config mechanism #1 */
	aml_res_word_io(&r, 0x0000, 0x0cf7);
	aml_res_word_io(&r, 0x0d00, 0xffff);
	if (end <= 0xffffffffULL)
		aml_res_dword_mem(&r, (uint32_t)cfg->pci_mmio_base,
				  (uint32_t)end, 0);
	else
		aml_res_qword_mem(&r, cfg->pci_mmio_base, end, 0);
	aml_resource_template(a, &r);
	if (cfg->pci_hotplug)
		acpi_aml_pcihp_slots(a, cfg->pci_fixed_slots);
	/* _PRT: INTx of slot s, pin p (0 = INTA) on GSI 16 + (s + p + 3) % 4, the
	 * swizzle virtio/pci.c raises (IOAPIC pins 16-19, level, active low) */
	aml_name(a, "_PRT");
	aml_package_begin(a, (PCI_PRT_SLOTS - 1) * 4);
	for (unsigned slot = 1; slot < PCI_PRT_SLOTS; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			aml_package_begin(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, 16 + (slot + pin + 3) % 4);
			aml_end(a);
		}
	}
	aml_end(a);
	aml_end(a);
}

/* DSDT: \_SB (with PCI0 when configured) and \_S5. */
static long acpi_build_dsdt(struct acpi_ctx *c, const struct acpi_config *cfg)
{
	long off = acpi_alloc(c, ACPI_HDR_LEN, 16);
	struct aml a;
	long n;

	if (off < 0)
		return off;
	aml_init(&a, c->buf + c->used, c->size - c->used);
	aml_scope_begin(&a, "_SB");
	if (cfg->pci_mmio_size)
		acpi_aml_pci0(&a, cfg);
	aml_end(&a);
	if (cfg->pci_mmio_size && cfg->pci_hotplug)
		acpi_aml_pcihp_gpe(&a);
	/* at the root, relative names are the root's own (and iasl emits the
	 * same bytes); \_S5 = SLP_TYPa, SLP_TYPb, reserved, reserved */
	aml_name(&a, "_S5");
	aml_package_begin(&a, 4);
	aml_integer(&a, ACPI_S5_SLP_TYP);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a);
	n = aml_finish(&a);
	if (n < 0)
		return n;
	c->used += (size_t)n;
	/* revision 2: 64-bit AML integers */
	acpi_header(c, c->buf + off, "DSDT", (uint32_t)(ACPI_HDR_LEN + n), 2);
	acpi_seal(c->buf + off);
	return off;
}

static long acpi_build_fadt(struct acpi_ctx *c, long facs, long dsdt)
{
	long off = acpi_alloc(c, FADT_LEN, 16);
	uint8_t *t;

	if (off < 0)
		return off;
	t = c->buf + off;
	acpi_header(c, t, "FACP", FADT_LEN, FADT_REVISION);
	io_put(t + 36, 4, acpi_gpa32(c, facs));      /* FIRMWARE_CTRL */
	io_put(t + 40, 4, acpi_gpa32(c, dsdt));      /* DSDT */
	io_put(t + 46, 2, ACPI_SCI_IRQ);             /* SCI_INT */
	io_put(t + 48, 4, 0);   /* SMI_CMD 0: always in ACPI mode, no switch */
	io_put(t + 56, 4, ACPI_PM1A_EVT_PORT);       /* PM1a_EVT_BLK */
	io_put(t + 64, 4, ACPI_PM1A_CNT_PORT);       /* PM1a_CNT_BLK */
	io_put(t + 76, 4, ACPI_PM_TMR_PORT);         /* PM_TMR_BLK */
	t[88] = 4;                                   /* PM1_EVT_LEN */
	t[89] = 2;                                   /* PM1_CNT_LEN */
	t[91] = 4;                                   /* PM_TMR_LEN */
	io_put(t + 80, 4, ACPI_GPE0_PORT);           /* GPE0_BLK */
	t[92] = 4;                                   /* GPE0_BLK_LEN */
	io_put(t + 96, 2, 101);   /* P_LVL2_LAT > 100: no C2 */
	io_put(t + 98, 2, 1001);  /* P_LVL3_LAT > 1000: no C3 */
	io_put(t + 109, 2, IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT);
	io_put(t + 112, 4, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON |
				   FADT_F_FIX_RTC | FADT_F_RESET_REG_SUP);
	acpi_gas(t + 116, 8, GAS_ACCESS_BYTE, ACPI_RESET_PORT); /* RESET_REG */
	t[128] = ACPI_RESET_VALUE;
	t[131] = 0;                                  /* FADT minor version */
	io_put(t + 140, 8, c->gpa + (uint64_t)dsdt); /* X_DSDT */
	acpi_gas(t + 148, 32, GAS_ACCESS_WORD, ACPI_PM1A_EVT_PORT);
	acpi_gas(t + 172, 16, GAS_ACCESS_WORD, ACPI_PM1A_CNT_PORT);
	acpi_gas(t + 208, 32, GAS_ACCESS_DWORD, ACPI_PM_TMR_PORT);
	acpi_gas(t + 220, 32, GAS_ACCESS_BYTE, ACPI_GPE0_PORT);  /* X_GPE0_BLK */
	memcpy(t + 268, "XVM     ", 8);            /* hypervisor vendor */
	acpi_seal(t);
	return off;
}

static uint8_t *madt_entry(uint8_t *p, uint8_t type, uint8_t len)
{
	p[0] = type;
	p[1] = len;
	return p + 2;
}

/* MADT entry Interrupt Source Override (ISA bus). */
static void madt_iso(uint8_t *p, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	p = madt_entry(p, MADT_ISO, 10);
	p[0] = 0;                    /* bus: ISA */
	p[1] = irq;
	io_put(p + 2, 4, gsi);
	io_put(p + 6, 2, flags);
}

static long acpi_build_madt(struct acpi_ctx *c, unsigned ncpus)
{
	size_t len = 44 + 8 * (size_t)ncpus + 12 + 2 * 10 + 6;
	long off = acpi_alloc(c, len, 16);
	uint8_t *t, *p;

	if (off < 0)
		return off;
	t = c->buf + off;
	acpi_header(c, t, "APIC", (uint32_t)len, MADT_REVISION);
	io_put(t + 36, 4, (uint32_t)LAPIC_ADDR);
	io_put(t + 40, 4, MADT_PCAT_COMPAT);
	p = t + 44;
	for (unsigned i = 0; i < ncpus; i++, p += 8) {
		uint8_t *e = madt_entry(p, MADT_LAPIC, 8);

		e[0] = (uint8_t)i;           /* ACPI processor UID */
		e[1] = (uint8_t)i;           /* APIC id = vCPU index */
		io_put(e + 2, 4, MADT_LAPIC_ENABLED);
	}
	madt_entry(p, MADT_IOAPIC, 12);
	p[2] = 0;                            /* IOAPIC id */
	io_put(p + 4, 4, (uint32_t)IOAPIC_ADDR);
	io_put(p + 8, 4, 0);                     /* GSI base */
	p += 12;
	madt_iso(p, 0, 2, 0);                /* PIT IRQ0 is wired to pin 2 */
	p += 10;
	/* the SCI is level-triggered, active high (ACPI 6, 5.2.12.5) */
	madt_iso(p, ACPI_SCI_IRQ, ACPI_SCI_IRQ, MPS_LEVEL | MPS_ACTIVE_HIGH);
	p += 10;
	madt_entry(p, MADT_LAPIC_NMI, 6);
	p[2] = 0xff;                         /* all processors */
	io_put(p + 3, 2, 0);
	p[5] = 1;                            /* LINT1 */
	acpi_seal(t);
	return off;
}

/* MCFG: one ECAM allocation, segment 0, buses 0..pci_bus_end. */
static long acpi_build_mcfg(struct acpi_ctx *c, const struct acpi_config *cfg)
{
	size_t len = ACPI_HDR_LEN + 8 + 16;
	long off = acpi_alloc(c, len, 16);
	uint8_t *t, *e;

	if (off < 0)
		return off;
	t = c->buf + off;
	acpi_header(c, t, "MCFG", (uint32_t)len, 1);
	e = t + ACPI_HDR_LEN + 8;            /* after 8 reserved bytes */
	io_put(e, 8, cfg->pci_ecam_base);
	io_put(e + 8, 2, 0);                     /* PCI segment group */
	e[10] = 0;                           /* start bus */
	e[11] = cfg->pci_bus_end;
	acpi_seal(t);
	return off;
}

static long acpi_build_xsdt(struct acpi_ctx *c, const long *tables, unsigned n)
{
	size_t len = ACPI_HDR_LEN + 8 * (size_t)n;
	long off = acpi_alloc(c, len, 16);
	uint8_t *t;

	if (off < 0)
		return off;
	t = c->buf + off;
	acpi_header(c, t, "XSDT", (uint32_t)len, 1);
	for (unsigned i = 0; i < n; i++)
		io_put(t + ACPI_HDR_LEN + 8 * i, 8,
		       c->gpa + (uint64_t)tables[i]);
	acpi_seal(t);
	return off;
}

static void acpi_build_rsdp(struct acpi_ctx *c, long rsdp, long xsdt)
{
	uint8_t *t = c->buf + rsdp;

	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, c->oem_id, 6);
	t[15] = 2;                          /* revision: ACPI 2.0+ */
	io_put(t + 16, 4, 0);                   /* no RSDT: the XSDT is used */
	io_put(t + 20, 4, RSDP_LEN);
	io_put(t + 24, 8, c->gpa + (uint64_t)xsdt);
	t[8] = acpi_csum(t, 20);            /* ACPI 1.0 part */
	t[32] = acpi_csum(t, RSDP_LEN);     /* whole structure */
}

static int acpi_config_ok(const void *buf, size_t buf_size, uint64_t gpa,
			  const struct acpi_config *cfg)
{
	if (!buf || !cfg || buf_size > ACPI_TABLES_MAX || (gpa & 15))
		return 0;
	if (gpa > 0xffffffffULL || buf_size > 0x100000000ULL - gpa)
		return 0;
	if (cfg->ncpus < 1 || cfg->ncpus > ACPI_MAX_CPUS)
		return 0;
	if (cfg->pci_mmio_size &&
	    cfg->pci_mmio_base + cfg->pci_mmio_size - 1 < cfg->pci_mmio_base)
		return 0;
	if (cfg->pci_ecam_base & 0xfffff)
		return 0;
	return !cfg->oem_id || strlen(cfg->oem_id) <= 6;
}

int acpi_build(void *buf, size_t buf_size, uint64_t gpa,
	       const struct acpi_config *cfg, uint64_t *rsdp_gpa)
{
	struct acpi_ctx c = { .buf = buf, .size = buf_size, .gpa = gpa };
	const char *oem;
	long rsdp, facs, dsdt, fadt, madt, xsdt;
	long tables[3];
	unsigned n = 0;

	if (!acpi_config_ok(buf, buf_size, gpa, cfg))
		return -EINVAL;
	oem = cfg->oem_id ? cfg->oem_id : "XVM";
	memset(c.oem_id, ' ', sizeof(c.oem_id));
	memcpy(c.oem_id, oem, strlen(oem));
	memset(buf, 0, buf_size);

	if ((rsdp = acpi_alloc(&c, RSDP_LEN, 16)) < 0 ||
	    (facs = acpi_build_facs(&c)) < 0 ||
	    (dsdt = acpi_build_dsdt(&c, cfg)) < 0 ||
	    (fadt = acpi_build_fadt(&c, facs, dsdt)) < 0 ||
	    (madt = acpi_build_madt(&c, cfg->ncpus)) < 0)
		return -ENOSPC;
	tables[n++] = fadt;
	tables[n++] = madt;
	if (cfg->pci_ecam_base &&
	    (tables[n++] = acpi_build_mcfg(&c, cfg)) < 0)
		return -ENOSPC;
	if ((xsdt = acpi_build_xsdt(&c, tables, n)) < 0)
		return -ENOSPC;
	acpi_build_rsdp(&c, rsdp, xsdt);
	if (rsdp_gpa)
		*rsdp_gpa = gpa + (uint64_t)rsdp;
	return 0;
}
